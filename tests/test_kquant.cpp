// K-quant output: the Q4_K and Q6_K quantizers (error within what 4 and 6 bits can hold, the
// blocks of llama-quantize byte for byte), the Q4_K_M mix (which tensor gets which type, as
// llama-quantize decides it), the fallbacks for rows that are not whole super-blocks of 256,
// (the refusals: test_synth_shapes.cpp, test_convert.cpp). llama.cpp's files: ../shared/models/gguf (llama-quantize at c392e509).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/gguf.hpp"
#include "core/model.hpp"
#include "core/quant_types.hpp"
#include "core/registry.hpp"
#include "core/rng.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

std::string gguf_path(const std::string& name) { return test::model_path("gguf/" + name); }
std::string quoted(const std::string& s) { return "'" + s + "'"; }
std::string tok512() { return " -z " + quoted(test::model_path("tok512.bin")); }
std::string_view bytes_of(const GgufTensorInfo& t) { return {reinterpret_cast<const char*>(t.data), size_t(t.nbytes)}; }

// Rows of 256 that a quantizer meets: Gaussian-like weights, one outlier, all of one sign,
// a constant, zeros, values too small to scale (below ggml's 1e-15), wide dynamic range.
std::vector<std::vector<float>> test_blocks() {
    Rng rng(11);
    std::vector<std::vector<float>> blocks;
    for (int i = 0; i < 8; ++i) {
        std::vector<float> b(kQK_K);
        for (float& x : b) x = 0.05f * (rng.uniform() + rng.uniform() + rng.uniform());
        blocks.push_back(b);
    }
    std::vector<float> outlier = rng.vec(kQK_K, 0.02f);
    outlier[77] = 3.0f;
    blocks.push_back(outlier);
    std::vector<float> positive = rng.vec(kQK_K, 1.0f);
    for (float& x : positive) x = 2.0f + std::fabs(x);
    blocks.push_back(positive);
    std::vector<float> negative = positive;
    for (float& x : negative) x = -x;
    blocks.push_back(negative);
    blocks.push_back(std::vector<float>(kQK_K, 0.375f));
    blocks.push_back(std::vector<float>(kQK_K, 0.0f));
    blocks.push_back(rng.vec(kQK_K, 1e-17f));
    std::vector<float> range = rng.vec(kQK_K, 1.0f);
    for (int j = 0; j < kQK_K; ++j) range[size_t(j)] *= std::pow(10.0f, float(j % 32) / 8 - 2);
    blocks.push_back(range);
    return blocks;
}

std::vector<float> round_trip(GgmlType t, const std::vector<float>& x) {
    std::vector<unsigned char> q(row_bytes(t, x.size()));
    if (t == GgmlType::Q4_K) quantize_row_q4_k(x.data(), q.data(), x.size());
    else quantize_row_q6_k(x.data(), q.data(), x.size());
    std::vector<float> y(x.size());
    dequantize_row(t, q.data(), y.data(), y.size());
    return y;
}

// Per sub-block (32 for Q4_K, 16 for Q6_K) the error stays within one quantization step of
// that sub-block's range ((max - min(0, min)) / 15 for Q4_K's 16 levels above an offset,
// max |x| / 31 for Q6_K's 64 symmetric levels) plus what rounding the sub-block's scale
// (and Q4_K's offset) to the block's 6-bit (Q4_K) or 8-bit (Q6_K) grid can cost: half a grid
// step times the largest level, 15 / 2 of (largest scale / 63) for Q4_K, 32 / 2 of (largest
// scale / 128) for Q6_K, where the largest scale is about the widest sub-block's step.
// fp16 rounding adds a little (the factor 1.5); values so small that the fp16 scale
// underflows come back as zeros (1e-12). Zeros and values too small to scale are exact zeros.
TEST(KQuant, DequantizedErrorIsWithinAStepOfEachSubBlock) {
    for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q6_K}) {
        const int sub = t == GgmlType::Q4_K ? 32 : 16;
        for (const std::vector<float>& x : test_blocks()) {
            const std::vector<float> y = round_trip(t, x);
            for (int s = 0; s < kQK_K / sub; ++s) {
                float lo = 0, hi = 0, amax = 0, err = 0;
                for (int j = s * sub; j < (s + 1) * sub; ++j) {
                    lo = std::min(lo, x[size_t(j)]);
                    hi = std::max(hi, x[size_t(j)]);
                    amax = std::max(amax, std::fabs(x[size_t(j)]));
                    err = std::max(err, std::fabs(x[size_t(j)] - y[size_t(j)]));
                }
                float widest = 0, largest_min = 0;  // over the block's sub-blocks
                for (int r = 0; r < kQK_K / sub; ++r) {
                    float rl = 0, rh = 0, ra = 0;
                    for (int j = r * sub; j < (r + 1) * sub; ++j) {
                        rl = std::min(rl, x[size_t(j)]);
                        rh = std::max(rh, x[size_t(j)]);
                        ra = std::max(ra, std::fabs(x[size_t(j)]));
                    }
                    widest = std::max(widest, t == GgmlType::Q4_K ? (rh - rl) / 15 : ra / 31);
                    largest_min = std::max(largest_min, -rl);
                }
                const float grid = t == GgmlType::Q4_K ? 7.5f * widest / 63 + 0.5f * largest_min / 63 : 16 * widest / 128;
                const float step = (t == GgmlType::Q4_K ? (hi - lo) / 15 : amax / 31) + grid;
                EXPECT_LE(err, 1.5f * step + 1e-12f) << ggml_type_name(uint32_t(t)) << " sub-block " << s;
            }
            if (std::all_of(x.begin(), x.end(), [](float v) { return std::fabs(v) < 1e-15f; })) {
                EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](float v) { return v == 0; }))
                    << ggml_type_name(uint32_t(t));
            }
        }
    }
}

// Over many Gaussian-like blocks the RMS error is a small fraction of the RMS weight (Q6_K's
// 64 levels about 4x finer than Q4_K's 16). Measured here: 0.068 (Q4_K), 0.017 (Q6_K); the
// largest sub-block error of the test above is 0.51 (Q4_K) and 0.80 (Q6_K) of its bound/1.5.
TEST(KQuant, RmsErrorOfWeightLikeRows) {
    Rng rng(5);
    std::vector<float> x(64 * kQK_K);
    for (float& v : x) v = rng.uniform() + rng.uniform() + rng.uniform();
    double sx = 0;
    for (float v : x) sx += double(v) * v;
    for (auto [t, bound] : {std::pair{GgmlType::Q4_K, 0.09}, std::pair{GgmlType::Q6_K, 0.025}}) {
        const std::vector<float> y = round_trip(t, x);
        double se = 0;
        for (size_t i = 0; i < x.size(); ++i) se += double(x[i] - y[i]) * (x[i] - y[i]);
        const double rel = std::sqrt(se / sx);
        EXPECT_LT(rel, bound) << ggml_type_name(uint32_t(t));
        EXPECT_GT(rel, bound / 4) << ggml_type_name(uint32_t(t));  // not a lossless path by mistake
    }
}

TEST(KQuant, RowsOfPartialSuperBlocksAreRefused) {
    std::vector<float> x(2 * kQK_K);
    std::vector<unsigned char> q(2 * sizeof(BlockQ6_K));
    EXPECT_THROW(quantize_row_q4_k(x.data(), q.data(), kQK_K + 32), std::invalid_argument);
    EXPECT_THROW(quantize_row_q6_k(x.data(), q.data(), 255), std::invalid_argument);
}

// Our file and llama-quantize's: every tensor llama.cpp wrote has our tensor of the same
// name (our tied embedding stands for its copy, output.weight) with the same type and the
// same bytes, except `skip`. Returns the number of K-quant blocks compared.
size_t expect_same_tensors(const GgufFile& ours, const GgufFile& theirs, const std::set<std::string, std::less<>>& skip) {
    size_t blocks = 0;
    for (const GgufTensorInfo& t : theirs.tensors()) {
        if (skip.count(t.name)) continue;
        const GgufTensorInfo* o = ours.find_tensor(t.name);
        if (!o && t.name == "output.weight") o = ours.find_tensor("token_embd.weight");
        if (o == nullptr) {
            ADD_FAILURE() << t.name << " missing";
            continue;
        }
        EXPECT_EQ(ggml_type_name(o->type), std::string(ggml_type_name(t.type))) << t.name;
        EXPECT_EQ(o->shape(), t.shape()) << t.name;
        EXPECT_TRUE(bytes_of(*o) == bytes_of(t)) << t.name;
        if (t.ggml_type() == GgmlType::Q4_K || t.ggml_type() == GgmlType::Q6_K)
            blocks += size_t(t.nbytes) / block_layout(t.type)->block_bytes;
    }
    EXPECT_EQ(ours.get_uint("general.file_type", 0, 100), theirs.get_uint("general.file_type", 0, 100));
    EXPECT_EQ(ours.get_uint("general.quantization_version", 0, 100), 2u);
    return blocks;
}

TEST(KQuant, Synth256Q6_KAndQ4_K_MEqualLlamaQuantizesBlockForBlock) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    for (const std::string type : {"q6_k", "q4_k_m"}) {
        const std::string out = dir.file(type + ".gguf");
        const test::CommandResult r =
            test::run_bench("convert " + quoted(gguf_path("synth256.bin")) + " " + quoted(out) + tok512() + " --type " + type);
        ASSERT_EQ(r.exit_code, 0) << r.err;
        // Tied, our embedding takes the classifier's type (Q6_K), as llama-quantize gives it to
        // a file without output.weight; llama.cpp's file has both, its embedding Q4_K (below).
        const std::set<std::string, std::less<>> skip = type == "q4_k_m" ? std::set<std::string, std::less<>>{"token_embd.weight"}
                                                            : std::set<std::string, std::less<>>{};
        const size_t blocks = expect_same_tensors(GgufFile(out), GgufFile(gguf_path("synth256-" + type + ".gguf")), skip);
        EXPECT_EQ(blocks, type == "q6_k" ? 7168u : 6656u) << type;  // all of them, byte-identical
    }
}

// An untied model (llama.cpp's F32 file, which has output.weight, through llama2.c v0): our
// Q4_K_M file is llama-quantize's tensor for tensor, the Q4_K embedding included.
TEST(KQuant, UntiedQ4_K_MHasLlamaQuantizesTypesTensorForTensor) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    ASSERT_EQ(test::run_bench("convert " + quoted(gguf_path("synth256-f32.gguf")) + " " + quoted(dir.file("u.bin"))).exit_code, 0);
    const test::CommandResult r =
        test::run_bench("convert " + quoted(dir.file("u.bin")) + " " + quoted(dir.file("u.gguf")) + tok512() + " --type q4_k_m");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("matrices Q4_K_M"), std::string::npos) << r.err;
    const GgufFile ours(dir.file("u.gguf")), theirs(gguf_path("synth256-q4_k_m.gguf"));
    EXPECT_EQ(ours.tensors().size(), theirs.tensors().size());
    EXPECT_EQ(expect_same_tensors(ours, theirs, {}), 7168u);
    EXPECT_EQ(ours.find_tensor("token_embd.weight")->ggml_type(), GgmlType::Q4_K);
    EXPECT_EQ(ours.find_tensor("blk.1.attn_v.weight")->ggml_type(), GgmlType::Q6_K);
}

// The same blocks give cpu-ref the same logits on our file as on llama.cpp's (Q4_K_M
// untied, as llama.cpp's file is: its embedding is Q4_K, a tied one would be Q6_K).
TEST(KQuant, CpuRefLogitsOnOurFilesEqualThoseOnLlamaQuantizes) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    ASSERT_EQ(test::run_bench("convert " + quoted(gguf_path("synth256.bin")) + " " + quoted(dir.file("q6_k.gguf")) +
                              tok512() + " --type q6_k").exit_code, 0);
    ASSERT_EQ(test::run_bench("convert " + quoted(gguf_path("synth256-f32.gguf")) + " " + quoted(dir.file("u.bin"))).exit_code, 0);
    ASSERT_EQ(test::run_bench("convert " + quoted(dir.file("u.bin")) + " " + quoted(dir.file("q4_k_m.gguf")) + tok512() +
                              " --type q4_k_m").exit_code, 0);
    for (const std::string type : {"q6_k", "q4_k_m"}) {
        const Model a = Model::open(dir.file(type + ".gguf")), b = Model::open(gguf_path("synth256-" + type + ".gguf"));
        auto ba = BackendRegistry::create("cpu-ref", BackendOptions{}), bb = BackendRegistry::create("cpu-ref", BackendOptions{});
        ba->load(a);
        bb->load(b);
        const int V = a.config().vocab_size;
        int token = 1;
        for (int pos = 0; pos < 6; ++pos) {
            const float* la = ba->forward(token, pos);
            const float* lb = bb->forward(token, pos);
            EXPECT_EQ(std::memcmp(la, lb, size_t(V) * 4), 0) << type << " position " << pos;
            token = int(std::max_element(la, la + V) - la);
        }
    }
}

// 22 layers (TinyLlama's count): attn_v and ffn_down are Q6_K in layers 0, 1 (the first
// eighth), 19-21 (the last), and every third between (4, 7, ..., 16); the tied embedding
// is Q6_K; every other matrix Q4_K. llama-quantize Q4_K_M of this shape's F32 file gave the
// same types and bytes (run by hand at c392e509).
TEST(KQuant, Q4_K_MGivesQ6_KToTheLayersLlamaQuantizePicks) {
    test::TempDir dir;
    const test::CommandResult r = test::run_bench(
        "synth --shape dim=256,hidden=512,layers=22,heads=4,kv_heads=2,vocab=300,seq=8 --seed 3 --format gguf "
        "--type q4_k_m -o " + quoted(dir.file("m.gguf")));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const GgufFile f(dir.file("m.gguf"));
    const std::set<int> more_bits = {0, 1, 4, 7, 10, 13, 16, 19, 20, 21};
    int q6 = 0;
    for (const GgufTensorInfo& t : f.tensors()) {
        GgmlType expected = GgmlType::Q4_K;
        if (t.n_dims == 1) expected = GgmlType::F32;
        else if (t.name == "token_embd.weight") expected = GgmlType::Q6_K;
        else if (t.name.find("attn_v") != std::string::npos || t.name.find("ffn_down") != std::string::npos)
            expected = more_bits.count(std::stoi(std::string(t.name.substr(4)))) ? GgmlType::Q6_K : GgmlType::Q4_K;
        EXPECT_EQ(ggml_type_name(t.type), std::string(ggml_type_name(uint32_t(expected)))) << t.name;
        q6 += t.ggml_type() == GgmlType::Q6_K;
    }
    EXPECT_EQ(q6, 21);
    EXPECT_EQ(f.get_uint("general.file_type", 0, 100), 15u);  // LLAMA_FTYPE_MOSTLY_Q4_K_M
}

// Rows that are not whole super-blocks: Q6_K falls back to Q8_0, and to F16 for stories260K's
// ffn_down (rows of 172, no whole blocks of 32 either), as llama-quantize does (its Q6_K of
// stories260K-f32.gguf had these types and, tensor for tensor, these bytes: run by hand).
TEST(KQuant, Q6_KFallsBackLikeLlamaQuantizeForShortRows) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    const test::CommandResult r = test::run_bench("convert " + quoted(test::model_path("stories260K.bin")) + " " +
                                                  quoted(dir.file("q6.gguf")) + tok512() + " --type q6_k");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const GgufFile f(dir.file("q6.gguf"));
    for (const GgufTensorInfo& t : f.tensors()) {
        const GgmlType expected = t.n_dims == 1                      ? GgmlType::F32
                                  : t.name.find("ffn_down") != std::string::npos ? GgmlType::F16
                                                                                 : GgmlType::Q8_0;
        EXPECT_EQ(ggml_type_name(t.type), std::string(ggml_type_name(uint32_t(expected)))) << t.name;
    }
    EXPECT_EQ(f.get_uint("general.file_type", 0, 100), 18u);  // LLAMA_FTYPE_MOSTLY_Q6_K
}

}  // namespace
}  // namespace lhb
