// Checkpoint loading: real files in both formats, and every kind of corrupt file.
#include <cstring>
#include <vector>

#include "core/error.hpp"
#include "core/model.hpp"
#include "core/synth.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

using test::TempDir;

TEST(Model, LoadsStories260KV0) {
    LHB_REQUIRE_MODELS();
    Model m = Model::open(test::model_path("stories260K.bin"));
    const ModelConfig& c = m.config();
    EXPECT_EQ(c.dim, 64);
    EXPECT_EQ(c.hidden_dim, 172);
    EXPECT_EQ(c.n_layers, 5);
    EXPECT_EQ(c.n_heads, 8);
    EXPECT_EQ(c.n_kv_heads, 4);
    EXPECT_EQ(c.vocab_size, 512);
    EXPECT_EQ(c.seq_len, 512);
    EXPECT_TRUE(c.shared_classifier);
    EXPECT_EQ(c.n_params(), 260032);
    EXPECT_EQ(m.format(), FileFormat::V0Legacy);
    EXPECT_EQ(m.weights().wcls.f32, m.weights().token_embedding);
}

TEST(Model, V1HasTheSameWeightsAsV0) {
    LHB_REQUIRE_MODELS();
    Model a = Model::open(test::model_path("stories260K.bin"));
    Model b = Model::open(test::model_path("stories260K_v1.bin"));
    EXPECT_EQ(b.format(), FileFormat::V1Fp32);
    const ModelConfig& c = a.config();
    auto same = [](const float* x, const float* y, int64_t n) { return std::memcmp(x, y, size_t(n) * 4) == 0; };
    EXPECT_TRUE(same(a.weights().token_embedding, b.weights().token_embedding, int64_t(c.vocab_size) * c.dim));
    EXPECT_TRUE(same(a.weights().rms_final, b.weights().rms_final, c.dim));
    for (int l = 0; l < c.n_layers; ++l) {
        const LayerWeights& x = a.weights().layers[size_t(l)];
        const LayerWeights& y = b.weights().layers[size_t(l)];
        EXPECT_TRUE(same(x.rms_att, y.rms_att, c.dim));
        EXPECT_TRUE(same(x.rms_ffn, y.rms_ffn, c.dim));
        for (auto [p, q] : {std::pair{&x.wq, &y.wq}, {&x.wk, &y.wk}, {&x.wv, &y.wv}, {&x.wo, &y.wo},
                            {&x.w1, &y.w1}, {&x.w2, &y.w2}, {&x.w3, &y.w3}})
            EXPECT_TRUE(same(p->f32, q->f32, p->numel())) << "layer " << l;
    }
}

// A small valid v0 file to corrupt.
std::string small_v0(const TempDir& dir, bool shared = true) {
    ModelConfig c = parse_shape("dim=16,hidden=24,layers=2,heads=4,kv_heads=2,vocab=32,seq=8");
    std::string path = dir.file("small.bin");
    write_synthetic_model(c, path, 7);
    std::string bytes = test::read_file(path);
    if (!shared) {  // flip the classifier flag and append a classifier
        int32_t v = -32;
        std::memcpy(bytes.data() + 20, &v, 4);
        bytes += std::string(size_t(32 * 16 * 4), '\0');
    }
    return bytes;
}

void expect_refused(const std::string& path, const std::string& needle) {
    try {
        Model::open(path);
        ADD_FAILURE() << "accepted a corrupt file; expected an error mentioning '" << needle << "'";
    } catch (const InputError& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find(path), std::string::npos) << msg;
        EXPECT_NE(msg.find(needle), std::string::npos) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
    }
}

void set_i32(std::string& bytes, size_t off, int32_t v) { std::memcpy(bytes.data() + off, &v, 4); }

TEST(Model, SyntheticFileLoads) {
    TempDir dir;
    {
        std::string bytes = small_v0(dir);
        Model m = Model::open(dir.file("small.bin"));
        EXPECT_EQ(m.config().kv_dim(), 8);
        EXPECT_EQ(int64_t(bytes.size()), v0_file_size(m.config()));
    }  // closed: small_v0 below rewrites small.bin, which an open model's file refuses

    test::write_file(dir.file("unshared.bin"), small_v0(dir, false));
    Model u = Model::open(dir.file("unshared.bin"));
    EXPECT_FALSE(u.config().shared_classifier);
    EXPECT_NE(u.weights().wcls.f32, u.weights().token_embedding);
}

TEST(Model, RefusesTruncatedFiles) {
    TempDir dir;
    std::string bytes = small_v0(dir);
    for (size_t cut : {size_t(0), size_t(3), size_t(27), size_t(28), size_t(100), bytes.size() / 2, bytes.size() - 1}) {
        std::string p = dir.file("cut" + std::to_string(cut) + ".bin");
        test::write_file(p, bytes.substr(0, cut));
        expect_refused(p, cut < 28 ? "header" : "file size");
    }
    std::string p = dir.file("long.bin");
    test::write_file(p, bytes + "xxxx");
    expect_refused(p, "file size");
}

TEST(Model, RefusesBadHeaders) {
    TempDir dir;
    const std::string good = small_v0(dir);
    struct Case {
        size_t off;
        int32_t value;
        const char* field;
    } cases[] = {
        {0, 0, "dim"},         {0, -16, "dim"},        {4, 0, "hidden_dim"}, {8, -1, "n_layers"},
        {12, 0, "n_heads"},    {12, 5, "n_heads"},     {16, 3, "n_kv_heads"}, {16, 0, "n_kv_heads"},
        {24, 0, "seq_len"},    {20, 0, "vocab_size"},  {0, 1 << 30, "dim"},   {12, 16, "head_size"},
        {20, INT32_MIN, "vocab_size"},
    };
    for (const Case& c : cases) {
        std::string bytes = good;
        set_i32(bytes, c.off, c.value);
        std::string p = dir.file(std::string(c.field) + std::to_string(c.value) + ".bin");
        test::write_file(p, bytes);
        expect_refused(p, c.field);
    }
}

TEST(Model, RefusesBadV1Headers) {
    LHB_REQUIRE_MODELS();
    TempDir dir;
    const std::string good = test::read_file(test::model_path("stories260K_v1.bin"));
    auto check = [&](const char* name, std::string bytes, const char* needle) {
        std::string p = dir.file(name);
        test::write_file(p, bytes);
        expect_refused(p, needle);
    };
    std::string b = good;
    set_i32(b, 4, 7);
    check("version.bin", b, "version");
    b = good;
    b[36] = 3;
    check("shared.bin", b, "shared_classifier");
    b = good;
    set_i32(b, 8 + 12, 7);  // n_heads 7 does not divide 64
    check("heads.bin", b, "n_heads");
    check("short.bin", good.substr(0, 200), "header");
    check("trunc.bin", good.substr(0, good.size() - 4), "file size");
    // The byte-reversed magic of an old converter is not a v1 file; read as v0 its header
    // is nonsense and must be refused.
    b = good;
    std::memcpy(b.data(), "ak42", 4);
    check("reversed.bin", b, "");
}

TEST(Model, MissingFileIsAnInputError) {
    EXPECT_THROW(Model::open("/nonexistent/model.bin"), InputError);
    TempDir dir;
    EXPECT_THROW(Model::open(dir.path), InputError);  // a directory
}

TEST(Shapes, NamedAndCustom) {
    EXPECT_EQ(parse_shape("stories15M").n_params(), 15191712);
    ModelConfig c = parse_shape("dim=64,hidden=172,layers=5,heads=8,kv_heads=4,vocab=512,seq=512");
    EXPECT_EQ(c.n_params(), 260032);
    EXPECT_EQ(parse_shape("dim=8,hidden=8,layers=1,heads=2,vocab=4,seq=4").n_kv_heads, 2);
    EXPECT_THROW(parse_shape("stories1B"), InputError);
    EXPECT_THROW(parse_shape("dim=8,hidden=8,layers=1,heads=3,vocab=4,seq=4"), InputError);
    EXPECT_THROW(parse_shape("dim=8,hidden=x,layers=1,heads=2,vocab=4,seq=4"), InputError);
    EXPECT_THROW(parse_shape("dim=8,layers=1,heads=2,vocab=4,seq=4"), InputError);
    EXPECT_THROW(parse_shape("dim=8,hidden=8,layers=1,heads=2,vocab=4,seq=4,bogus=1"), InputError);
}

}  // namespace
}  // namespace lhb
