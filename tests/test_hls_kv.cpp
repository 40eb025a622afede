// The device KV cache: rows stored natively (kv_dim values a position, so a grouped-query
// model reads 1/kv_mul of what a copy per query head costs) and the 8-bit option (int8 with
// a scale per KV head and position). Attention of the kernels against cpu-ref's at
// stories260K (8 heads on 4 KV heads) and at TinyLlama's attention shape (32 heads on 4, head
// size 64) past the first stripe round; the 8-bit cache against fp32 attention over its own
// dequantized rows; the layout; the bytes the trace counts; the accuracy of a whole model
// with the 8-bit cache against fp32 (greedy agreement, mean KL, perplexity).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "backends/hls_csim/hls_csim.hpp"
#include "core/accuracy.hpp"
#include "core/correctness.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "core/synth.hpp"
#include "host/estimator.hpp"
#include "host/packing.hpp"
#include "host/trace.hpp"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-label"
#include "kernels/primitives/attention.hpp"
#pragma GCC diagnostic pop
#include "tests/test_support.hpp"

namespace lhb {
namespace {

std::unique_ptr<HlsDeviceBackend> csim(bool fused, const std::string& kv_type) {
    BackendOptions o;
    o.fused = fused;
    o.kv_type = kv_type;
    return make_hls_csim_backend(o);
}

AttentionShape shape_of(int heads, int kv_heads, int head_size) {
    return {heads, kv_heads, head_size, kv_heads * head_size};
}

// Seeded random q and caches of pos + 1 positions.
struct AttentionInputs {
    std::vector<float> q, k, v;
    AttentionInputs(const AttentionShape& s, int pos, uint64_t seed) {
        std::mt19937 rng(static_cast<uint32_t>(seed));
        std::normal_distribution<float> nd(0.0f, 1.0f);
        q.resize(size_t(s.n_heads) * size_t(s.head_size));
        k.resize(size_t(pos + 1) * size_t(s.kv_dim));
        v.resize(k.size());
        for (float& x : q) x = nd(rng);
        for (float& x : k) x = nd(rng);
        for (float& x : v) x = nd(rng);
    }
};

// max |a - b| / max(1, max |b|).
double max_rel(const std::vector<float>& a, const std::vector<float>& b) {
    double err = 0, scale = 1;
    for (size_t i = 0; i < b.size(); ++i) {
        err = std::max(err, double(std::fabs(a[i] - b[i])));
        scale = std::max(scale, double(std::fabs(b[i])));
    }
    return err / scale;
}

// The kernels' attention (op_attention through hls-csim's per-op path) beside cpu-ref's on
// the same caches; expects agreement within cpu-ref's attention tolerance.
void expect_attention_matches_cpu_ref(const AttentionShape& s, std::initializer_list<int> positions) {
    auto hls = csim(false, "f32");
    CpuRefBackend ref;
    const Tolerance tol = op_tolerance(Op::Attention, DType::F32);
    for (int pos : positions) {
        SCOPED_TRACE("pos " + std::to_string(pos));
        const AttentionInputs in(s, pos, uint64_t(pos) + 11);
        std::vector<float> got(in.q.size()), want(in.q.size()), att(size_t(s.n_heads) * size_t(pos + 1));
        hls->attention(got.data(), in.q.data(), in.k.data(), in.v.data(), att.data(), pos, s);
        ref.attention(want.data(), in.q.data(), in.k.data(), in.v.data(), att.data(), pos, s);
        for (size_t i = 0; i < want.size(); ++i)
            ASSERT_LE(std::fabs(got[i] - want[i]), tol.abs + tol.rel * std::max(1.0f, std::fabs(want[i])))
                << "element " << i << " (query head " << i / size_t(s.head_size) << ")";
    }
}

TEST(HlsKv, GroupedQueryAttentionEqualsCpuRefAtStories260K) {
    expect_attention_matches_cpu_ref(shape_of(8, 4, 8), {0, 3, 4, 5, 63, 200});
}

// TinyLlama-1.1B's attention: 32 query heads on 4 KV heads (kv_mul 8), head size 64; every
// position past the first round of the four stripes.
TEST(HlsKv, GroupedQueryAttentionEqualsCpuRefAtTinyLlamaShape) {
    expect_attention_matches_cpu_ref(shape_of(32, 4, 64), {4, 9, 130, 1001});
}

// One layer of a TinyLlama-like model (dim 2048, 32 heads, 4 KV heads) through
// llama_forward, teacher-forced against cpu-ref: the kernels' own kv_store and attention.
TEST(HlsKv, FusedForwardAtATinyLlamaLikeLayerEqualsCpuRef) {
    test::TempDir tmp;
    const ModelConfig c = parse_shape("dim=2048,hidden=64,layers=1,heads=32,kv_heads=4,vocab=64,seq=12");
    write_synthetic_model(c, tmp.file("m.bin"), 3);
    Model model = Model::open(tmp.file("m.bin"));
    auto hls = csim(true, "f32");
    CpuRefBackend ref;
    hls->load(model);
    ref.load(model);
    const Tolerance tol = logits_tolerance(DType::F32);
    for (int pos = 0; pos < c.seq_len; ++pos) {
        SCOPED_TRACE("pos " + std::to_string(pos));
        const int token = (pos * 7 + 1) % c.vocab_size;
        const float* a = hls->forward(token, pos);
        std::vector<float> got(a, a + c.vocab_size);
        const float* b = ref.forward(token, pos);
        for (int i = 0; i < c.vocab_size; ++i)
            ASSERT_LE(std::fabs(got[size_t(i)] - b[i]), tol.abs + tol.rel * std::max(1.0f, std::fabs(b[i])));
    }
}

// The 8-bit cache against fp32 attention over the values it stores (its rows dequantized):
// the only difference is where the head's scale is applied (once to a dot product and to a
// weight, instead of to every element), so the outputs agree to a few fp32 roundings:
// max |diff| <= 1e-5 x max(1, max |out|).
TEST(HlsKv, EightBitAttentionEqualsFp32OnItsDequantizedRows) {
    constexpr double kTolerance = 1e-5;
    for (const AttentionShape& s : {shape_of(8, 4, 8), shape_of(6, 6, 48), shape_of(32, 4, 64)}) {
        SCOPED_TRACE("heads " + std::to_string(s.n_heads) + " on " + std::to_string(s.n_kv_heads));
        auto hls = csim(false, "q8");
        CpuRefBackend ref;
        for (int pos : {0, 5, 77}) {
            SCOPED_TRACE("pos " + std::to_string(pos));
            const AttentionInputs in(s, pos, uint64_t(pos) + 5);
            // The rows as the cache reads them back.
            const lhk::ModelDims d = hls::single_layer_attention_dims(s, pos, "test", 8);
            std::vector<lhk::Beat> row(size_t(lhk::kv_row_beats(d)));
            std::vector<float> kd(in.k.size()), vd(in.v.size());
            for (int t = 0; t <= pos; ++t) {
                const size_t at = size_t(t) * size_t(s.kv_dim);
                hls::pack_kv_row(d, in.k.data() + at, row.data());
                hls::unpack_kv_row(d, row.data(), kd.data() + at);
                hls::pack_kv_row(d, in.v.data() + at, row.data());
                hls::unpack_kv_row(d, row.data(), vd.data() + at);
            }
            // Dequantized values are within half a step of the originals, and not equal.
            for (size_t i = 0; i < kd.size(); ++i) {
                const size_t head = i / size_t(s.head_size) * size_t(s.head_size);
                float mx = 0;
                for (int j = 0; j < s.head_size; ++j) mx = std::max(mx, std::fabs(in.k[head + size_t(j)]));
                ASSERT_LE(std::fabs(kd[i] - in.k[i]), 0.5f * mx / 127.0f * 1.0001f) << "element " << i;
            }
            EXPECT_NE(kd, in.k);
            std::vector<float> got(in.q.size()), want(in.q.size()), exact(in.q.size());
            std::vector<float> att(size_t(s.n_heads) * size_t(pos + 1));
            hls->attention(got.data(), in.q.data(), in.k.data(), in.v.data(), att.data(), pos, s);
            ref.attention(want.data(), in.q.data(), kd.data(), vd.data(), att.data(), pos, s);
            ref.attention(exact.data(), in.q.data(), in.k.data(), in.v.data(), att.data(), pos, s);
            EXPECT_LE(max_rel(got, want), kTolerance);
            EXPECT_GT(max_rel(got, exact), 10 * kTolerance);  // it does run on int8 rows
        }
    }
}

// The kernels' kv_store writes exactly the bytes the host's pack_kv_row does, and the row
// layout of llama_layout.hpp: scale beats, then each KV head's int8 values from a new beat.
TEST(HlsKv, EightBitRowsAreLaidOutAsTheLayoutSays) {
    const AttentionShape tiny = shape_of(32, 4, 64), s260 = shape_of(8, 4, 8), s15 = shape_of(6, 6, 48);
    const lhk::ModelDims dt = hls::single_layer_attention_dims(tiny, 0, "test", 8);
    const lhk::ModelDims d2 = hls::single_layer_attention_dims(s260, 0, "test", 8);
    const lhk::ModelDims d15 = hls::single_layer_attention_dims(s15, 0, "test", 8);
    EXPECT_EQ(lhk::kv_row_beats(dt), 1 + 4 * 4);   // 4 scales; 4 heads of 64 bytes
    EXPECT_EQ(lhk::kv_row_beats(d2), 1 + 4 * 1);   // heads of 8 bytes, each padded to a beat
    EXPECT_EQ(lhk::kv_row_beats(d15), 2 + 6 * 3);  // 6 scales in 2 beats; heads of 48 bytes
    const lhk::ModelDims ft = hls::single_layer_attention_dims(tiny, 0, "test", 32);
    EXPECT_EQ(lhk::kv_row_beats(ft), 256 / 4);  // fp32: kv_dim floats, natively
    EXPECT_EQ(lhk::kv_port_beats(dt), 2 * lhk::kv_slots_of(dt) * 17);
    EXPECT_EQ(lhk::v_row_offset(dt, 0, 0), lhk::kv_slots_of(dt) * 17);

    for (const lhk::ModelDims& d : {dt, d2, d15}) {
        SCOPED_TRACE("kv_dim " + std::to_string(lhk::kv_dim_of(d)));
        const int kv_dim = lhk::kv_dim_of(d), hs = lhk::head_size_of(d);
        std::vector<float> k(static_cast<size_t>(kv_dim)), v(k.size());
        for (int i = 0; i < kv_dim; ++i) {
            k[size_t(i)] = std::sin(0.37f * float(i)) * float(1 + i % 5);
            v[size_t(i)] = std::cos(0.11f * float(i));
        }
        std::array<hls::BeatBuffer, lhk::kKvPorts> stripes;
        for (auto& b : stripes) b = hls::BeatBuffer(lhk::kv_port_beats(d));
        const int pos = 6;  // stripe 2, slot 1
        lhk::kv_store(stripes[0].data(), stripes[1].data(), stripes[2].data(), stripes[3].data(), k.data(), v.data(),
                      0, pos, d);
        std::vector<lhk::Beat> want(size_t(lhk::kv_row_beats(d)));
        hls::pack_kv_row(d, k.data(), want.data());
        EXPECT_EQ(std::memcmp(stripes[2].data() + lhk::k_row_offset(d, 0, 1), want.data(), want.size() * 16), 0);
        hls::pack_kv_row(d, v.data(), want.data());
        EXPECT_EQ(std::memcmp(stripes[2].data() + lhk::v_row_offset(d, 0, 1), want.data(), want.size() * 16), 0);
        // The layout by hand: head g's scale is float g; its value i is byte i of beat sb + g * hb.
        const int sb = lhk::kv_scale_beats_of(d), hb = lhk::kv_head_beats(d);
        const lhk::Beat* row = stripes[2].data() + lhk::k_row_offset(d, 0, 1);
        const float* scales = reinterpret_cast<const float*>(row);
        for (int g = 0; g < d.n_kv_heads; ++g) {
            const int8_t* q = reinterpret_cast<const int8_t*>(row + sb + g * hb);
            for (int i = 0; i < hs; ++i)
                EXPECT_NEAR(scales[g] * q[i], k[size_t(g * hs + i)], scales[g] * 0.5f + 1e-6f);
        }
        for (int g = d.n_kv_heads; g < sb * lhk::kFloatsPerBeat; ++g) EXPECT_EQ(scales[g], 0.0f);
    }
}

// What attention reads per token: the readers stream the native rows (1/kv_mul of an
// expanded row per query head; a quarter of that and the scales with 8 bits), while the
// engines' iterations, which bound the cycles, are the same as for a copy per query head.
TEST(HlsKv, TracedKvBytesAreTheNativeRows) {
    const ModelConfig c = parse_shape("dim=2048,hidden=64,layers=1,heads=32,kv_heads=4,vocab=64,seq=64");
    const int pos = 37;
    for (int bits : {32, 8}) {
        SCOPED_TRACE("kv_bits " + std::to_string(bits));
        const hls::Trace t = hls::trace_forward(c, pos, 0, hls::DecodeMode::HostSampled, bits);
        int64_t read = 0, written = 0, engine_trips = 0;
        for (const auto& op : t.ops)
            for (const auto& st : op.steps)
                for (const auto& l : st.loops) {
                    if (l.id == lhk::LoopId::KvRead) read += l.bytes;
                    if (l.id == lhk::LoopId::KvWrite) written += l.bytes;
                    if (l.id == lhk::LoopId::AttnScores) engine_trips += l.trips;
                }
        const int64_t row_bytes = bits == 32 ? 256 * 4 : (1 + 4 * 4) * 16;
        EXPECT_EQ(read, 2 * int64_t(pos + 1) * row_bytes);  // K and V of every position, once
        EXPECT_EQ(written, 2 * row_bytes);
        EXPECT_EQ(engine_trips, int64_t(pos + 1) * (2048 / 4 + (bits == 32 ? 0 : 1)));
    }
    // The estimator counts them: the 8-bit cache moves fewer bytes for the same token.
    const hls::BoardSpec board = hls::load_board(test::source_dir() + "/configs/boards/zcu106.json");
    const auto f32 = hls::estimate_token(c, 60, hls::compiled_design(32), board);
    const auto q8 = hls::estimate_token(c, 60, hls::compiled_design(8), board);
    EXPECT_EQ(f32.total_bytes - q8.total_bytes, 2 * 61 * int64_t(256 * 4 - 17 * 16) + 2 * (256 * 4 - 17 * 16));
    EXPECT_NE(q8.precision.find("KV cache 8-bit"), std::string::npos);
}

TEST(HlsKv, UnknownKvTypesAreRefusedInOneLine) {
    BackendOptions o;
    o.kv_type = "f16";
    try {
        BackendRegistry::create("hls-csim", o);
        ADD_FAILURE() << "kv_type f16 accepted";
    } catch (const InputError& e) {
        EXPECT_STREQ(e.what(), "hls-csim: kv_type 'f16' is not one of f32, q8");
    }
    o.kv_type = "q8";
    EXPECT_NO_THROW(BackendRegistry::create("hls-csim", o));
    lhk::ModelDims d = hls::dims_of(parse_shape("stories15M"), 0, 16);
    const char* why = nullptr;
    EXPECT_FALSE(lhk::dims_fit(d, &why));
    EXPECT_STREQ(why, "kv_bits must be 32 (fp32 KV cache) or 8 (int8)");
}

// The 8-bit cache's accuracy against the fp32 one, as int8 weights are measured
// (core/accuracy.hpp): the same kernels (hls-csim) with kv_type q8 and f32. The figures go to
// stdout for docs/hls-design.md; the bounds are what they must not fall below.
void report_kv8_accuracy(const Model& model, const Tokenizer& tok, const char* label, double min_agreement,
                         double max_kl) {
    auto f32 = csim(true, "f32");
    auto q8 = csim(true, "q8");
    f32->load(model);
    q8->load(model);
    const AccuracyReport r = compare_models(*f32, *q8, tok, 64);
    std::printf("[kv8 accuracy, measured] %s: greedy %d/%d agree (common prefix %d), mean KL %.3g nats over %d "
                "tokens, perplexity %.4f (fp32 KV) vs %.4f (8-bit KV)\n",
                label, r.greedy_agreeing, r.greedy_steps, r.greedy_common_prefix, r.mean_kl, r.text_tokens,
                r.ppl_reference, r.ppl_candidate);
    EXPECT_GE(double(r.greedy_agreeing), min_agreement * r.greedy_steps);
    EXPECT_LE(r.mean_kl, max_kl);
    EXPECT_GT(r.mean_kl, 0.0);  // the caches do differ
    EXPECT_LE(std::fabs(r.ppl_delta()), 0.02 * r.ppl_reference);
}

TEST(HlsKv, EightBitCacheAccuracyOnStories260K) {
    LHB_REQUIRE_MODELS();
    Model model = Model::open(test::model_path("stories260K.bin"));
    Tokenizer tok = Tokenizer::load(test::model_path("tok512.bin"), 512);
    report_kv8_accuracy(model, tok, "stories260K", 0.95, 1e-3);
}

TEST(HlsKv, EightBitCacheAccuracyOnASyntheticStories15M) {
    LHB_REQUIRE_MODELS();
    test::TempDir tmp;
    const ModelConfig c = parse_shape("stories15M");
    write_synthetic_model(c, tmp.file("m.bin"), 7);
    Model model = Model::open(tmp.file("m.bin"));
    Tokenizer tok = Tokenizer::load(test::model_path("tokenizer.bin"), c.vocab_size);
    report_kv8_accuracy(model, tok, "synthetic stories15M", 0.95, 1e-3);
}

}  // namespace
}  // namespace lhb
