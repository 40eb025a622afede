// int8 (Q8_0): the quantizer, version-2 files, cpu-ref's int8 matmul and the accuracy report.
#include <cmath>
#include <cstring>
#include <fstream>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "core/accuracy.hpp"
#include "core/error.hpp"
#include "core/quantize.hpp"
#include "core/sampler.hpp"
#include "core/synth.hpp"
#include "tests/backend_fixtures.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

TEST(Int8, DefaultGroupSizeDividesDimAndHidden) {
    EXPECT_EQ(default_group_size(parse_shape("stories260K")), 4);
    EXPECT_EQ(default_group_size(parse_shape("stories15M")), 48);  // gcd(288, 768) = 96
    EXPECT_EQ(default_group_size(parse_shape("stories42M")), 32);  // 1376 = 43 * 32
    EXPECT_EQ(default_group_size(parse_shape("stories110M")), 64);
}

TEST(Int8, RoundingRules) {
    // Weights: half to even (torch.round). Activations: half away from zero (C round).
    const float x[4] = {127.0f, 0.5f, 1.5f, -2.5f};  // scale 1
    int8_t q[4];
    float s;
    quantize_weights_q8(x, 4, 4, q, &s);
    EXPECT_EQ(s, 1.0f);
    EXPECT_EQ(q[1], 0);
    EXPECT_EQ(q[2], 2);
    EXPECT_EQ(q[3], -2);
    quantize_activations_q8(x, 4, 4, q, &s);
    EXPECT_EQ(q[1], 1);
    EXPECT_EQ(q[2], 2);
    EXPECT_EQ(q[3], -3);
    const float zeros[2] = {0.f, -0.f};
    quantize_activations_q8(zeros, 2, 2, q, &s);
    EXPECT_EQ(s, 0.0f);
    EXPECT_EQ(q[0], 0);
    EXPECT_EQ(q[1], 0);
}

TEST(Int8, QuantizedStories260KReloadsWithinHalfAStep) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    Model fp = Model::open(test::model_path("stories260K.bin"));
    auto r = test::run_bench("quantize '" + test::model_path("stories260K.bin") + "' '" + dir.file("q.bin") + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Model q = Model::open(dir.file("q.bin"));
    EXPECT_EQ(q.format(), FileFormat::V2Q8);
    EXPECT_EQ(q.dtype(), DType::Q8_0);
    const ModelConfig &a = fp.config(), &b = q.config();
    EXPECT_TRUE(a == b) << "header changed";
    EXPECT_EQ(q.weights().wcls.group_size, 4);

    auto within_half_step = [](const float* w, const WeightMatrix& m) {
        for (int64_t i = 0; i < m.numel(); ++i) {
            float scale = m.scales[i / m.group_size];
            float deq = float(m.q[i]) * scale;
            if (std::fabs(deq - w[i]) > 0.5f * scale * (1 + 1e-6f) + 1e-30f) return i;
        }
        return int64_t(-1);
    };
    for (int l = 0; l < a.n_layers; ++l) {
        const LayerWeights& x = fp.weights().layers[size_t(l)];
        const LayerWeights& y = q.weights().layers[size_t(l)];
        for (auto [p, m] : {std::pair{&x.wq, &y.wq}, {&x.wk, &y.wk}, {&x.wv, &y.wv}, {&x.wo, &y.wo},
                            {&x.w1, &y.w1}, {&x.w2, &y.w2}, {&x.w3, &y.w3}})
            EXPECT_EQ(within_half_step(p->f32, *m), -1) << "layer " << l;
        EXPECT_EQ(std::memcmp(x.rms_att, y.rms_att, size_t(a.dim) * 4), 0);
    }
    EXPECT_EQ(within_half_step(fp.weights().wcls.f32, q.weights().wcls), -1);
}

TEST(Int8, RefusesBadVersion2Files) {
    test::TempDir dir;
    ModelConfig c = parse_shape("dim=16,hidden=24,layers=2,heads=4,kv_heads=2,vocab=32,seq=8");
    write_synthetic_model(c, dir.file("fp.bin"), 3);
    Model fp = Model::open(dir.file("fp.bin"));
    write_q8_model(fp, dir.file("q.bin"), 8);
    const std::string good = test::read_file(dir.file("q.bin"));
    ASSERT_EQ(int64_t(good.size()), v2_file_size(c, 8));
    EXPECT_NO_THROW(Model::open(dir.file("q.bin")));

    auto refused = [&](const std::string& bytes, const std::string& needle) {
        std::string p = dir.file("bad.bin");
        test::write_file(p, bytes);
        try {
            Model::open(p);
            ADD_FAILURE() << "accepted; expected an error about " << needle;
        } catch (const InputError& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    auto with_gs = [&](int32_t gs) {
        std::string b = good;
        std::memcpy(b.data() + 37, &gs, 4);
        return b;
    };
    refused(with_gs(0), "group_size");
    refused(with_gs(-8), "group_size");
    refused(with_gs(5), "group_size");    // divides neither
    refused(with_gs(16), "group_size");   // divides dim 16 but not hidden_dim 24
    refused(with_gs(4), "file size");     // valid group size, but the scales don't add up
    refused(good.substr(0, good.size() - 4), "file size");  // truncated scales
    // The quantizer refuses an explicit group size that does not divide.
    EXPECT_THROW(write_q8_model(fp, dir.file("x.bin"), 16), InputError);
    EXPECT_FALSE(std::ifstream(dir.file("x.bin")).good());
}

TEST(Int8, MisalignedScalesAreHandled) {
    // group size 1 and odd-length tensors put scales at odd addresses.
    test::TempDir dir;
    ModelConfig c = parse_shape("dim=6,hidden=10,layers=1,heads=3,kv_heads=3,vocab=7,seq=4");
    write_synthetic_model(c, dir.file("fp.bin"), 3);
    Model fp = Model::open(dir.file("fp.bin"));
    write_q8_model(fp, dir.file("q.bin"), 1);
    Model q = Model::open(dir.file("q.bin"));
    CpuRefBackend a, b;
    a.load(fp);
    b.load(q);
    const float* la = a.forward(2, 0);
    std::vector<float> ref(la, la + c.vocab_size);
    const float* lb = b.forward(2, 0);
    for (int i = 0; i < c.vocab_size; ++i) EXPECT_NEAR(lb[i], ref[size_t(i)], 0.1f + 0.05f * std::fabs(ref[size_t(i)]));
}

TEST(Int8, CpuRefMatmulFollowsRunqArithmetic) {
    // A hand-checkable case: one row, two groups of 2.
    const int8_t wq[4] = {1, -2, 3, 4};
    const float ws[2] = {0.5f, 0.25f};
    const WeightMatrix w = test::q8_view(1, 4, wq, ws, 2);
    const float x[4] = {127.f, -63.5f, 0.f, 10.f};  // groups: scale 1 -> q {127,-64}; scale 10/127 -> {0,127}
    float out = 0;
    CpuRefBackend b;
    b.matmul(&out, x, w);
    float expect = 0.0f;
    expect += float(1 * 127 + (-2) * (-64)) * 0.5f * 1.0f;
    expect += float(3 * 0 + 4 * 127) * 0.25f * (10.f / 127.f);
    EXPECT_EQ(out, expect);
}

TEST(Int8, AccuracyOfStories260K) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    Model fp = Model::open(test::model_path("stories260K.bin"));
    write_q8_model(fp, dir.file("q.bin"), default_group_size(fp.config()));
    Model q = Model::open(dir.file("q.bin"));
    Tokenizer tok = Tokenizer::load(test::model_path("tok512.bin"), 512);
    CpuRefBackend a, b, c;
    a.load(fp);
    b.load(q);
    c.load(fp);
    AccuracyReport same = compare_models(a, c, tok, 64);
    EXPECT_EQ(same.greedy_agreeing, 64);
    EXPECT_NEAR(same.mean_kl, 0.0, 1e-12);
    EXPECT_EQ(same.ppl_reference, same.ppl_candidate);

    AccuracyReport r = compare_models(a, b, tok, 64);
    EXPECT_EQ(r.greedy_steps, 64);
    EXPECT_GT(r.text_tokens, 40);
    EXPECT_GT(r.mean_kl, 0.0);   // int8 is not bit-identical...
    EXPECT_LT(r.mean_kl, 0.05);  // ...but close: a broken int8 path gives KL of several nats
    EXPECT_GE(r.greedy_agreeing, 56);
    EXPECT_LT(std::fabs(r.ppl_delta()), 0.1 * r.ppl_reference);
}

}  // namespace
}  // namespace lhb
