// bench convert: llama2.c -> GGUF tensors and vocabulary equal to llama.cpp's converter's,
// Q8_0/Q4_0 blocks equal to llama-quantize's, round trips back to llama2.c byte for byte,
// converted files with the source's logits, and refusals in one line with nothing written.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/convert.hpp"
#include "core/error.hpp"
#include "core/gguf.hpp"
#include "core/gguf_vocab.hpp"
#include "core/model.hpp"
#include "core/registry.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

namespace fs = std::filesystem;

std::string gguf_path(const std::string& name) { return test::model_path("gguf/" + name); }
std::string quoted(const std::string& s) { return "'" + s + "'"; }

test::CommandResult convert(const std::string& args) { return test::run_bench("convert " + args); }

// A refusal: exit 1, one line on stderr naming `needle`, and no file (nor temporary) in dir.
void expect_refused(const test::CommandResult& r, const std::string& needle, const test::TempDir& dir) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(fs::is_empty(dir.path)) << "something was left in " << dir.path;
}

std::string tensor_bytes(const GgufTensorInfo& t) { return {reinterpret_cast<const char*>(t.data), size_t(t.nbytes)}; }

std::unique_ptr<Backend> cpu_ref(const Model& m) {
    auto b = BackendRegistry::create("cpu-ref", BackendOptions{});
    b->load(m);
    return b;
}

// The largest |difference| of two models' cpu-ref logits over `n` positions (feeding the
// first model's argmax), and whether every position's logits were identical bytes.
struct LogitsDiff {
    double max_abs = 0;
    double largest = 0;  // max |logit| of the second model, for scale
    bool identical = true;
};
LogitsDiff logits_diff(const Model& a, const Model& b, int n) {
    auto ba = cpu_ref(a), bb = cpu_ref(b);
    const int V = a.config().vocab_size;
    LogitsDiff d;
    int token = 1;
    for (int pos = 0; pos < n; ++pos) {
        const float* la = ba->forward(token, pos);
        const float* lb = bb->forward(token, pos);
        d.identical = d.identical && std::memcmp(la, lb, size_t(V) * 4) == 0;
        for (int i = 0; i < V; ++i) {
            d.max_abs = std::max(d.max_abs, double(std::fabs(la[i] - lb[i])));
            d.largest = std::max(d.largest, double(std::fabs(lb[i])));
        }
        token = int(std::max_element(la, la + V) - la);
    }
    return d;
}

TEST(Convert, Synth256ToGgufF32IsLlamaCppsConversion) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    const std::string out = dir.file("synth256-f32.gguf");
    const test::CommandResult r = convert(quoted(gguf_path("synth256.bin")) + " " + quoted(out) + " -z " +
                                          quoted(test::model_path("tok512.bin")));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const GgufFile ours(out), theirs(gguf_path("synth256-f32.gguf"));
    EXPECT_EQ(ours.version(), 3u);
    // llama.cpp's converter writes the shared classifier as a copy (output.weight); ours keeps
    // it tied, as the checkpoint has it. Every other tensor: same type, shape and bytes.
    EXPECT_EQ(ours.find_tensor("output.weight"), nullptr);
    EXPECT_EQ(ours.tensors().size() + 1, theirs.tensors().size());
    for (const GgufTensorInfo& t : theirs.tensors()) {
        const GgufTensorInfo* o = ours.find_tensor(t.name == "output.weight" ? "token_embd.weight" : t.name);
        ASSERT_NE(o, nullptr) << t.name;
        EXPECT_EQ(o->type, t.type) << t.name;
        EXPECT_EQ(o->shape(), t.shape()) << t.name;
        EXPECT_EQ(tensor_bytes(*o), tensor_bytes(t)) << t.name;
    }
    // The vocabulary as llama.cpp copied it from tok512.bin.
    const GgufVocab a = read_llama_vocab(ours), b = read_llama_vocab(theirs);
    EXPECT_EQ(a.pieces, b.pieces);
    EXPECT_EQ(a.scores, b.scores);
    EXPECT_EQ(a.token_types, b.token_types);
    for (const char* key : {"llama.embedding_length", "llama.feed_forward_length", "llama.attention.head_count",
                            "llama.attention.head_count_kv", "llama.block_count", "llama.rope.dimension_count"})
        EXPECT_EQ(ours.get_uint(key, 0, 1u << 20), theirs.get_uint(key, 0, 1u << 20)) << key;
    EXPECT_EQ(ours.get_float("llama.attention.layer_norm_rms_epsilon"),
              theirs.get_float("llama.attention.layer_norm_rms_epsilon"));
    EXPECT_EQ(ours.get_uint("llama.context_length", 0, 1u << 20), 256u);  // the model's seq_len, not 128
    // GGUF v3 layout: the data section and every tensor at multiples of 32, the file padded.
    EXPECT_EQ(ours.alignment(), 32u);
    EXPECT_EQ(ours.data_offset() % 32, 0u);
    for (const GgufTensorInfo& t : ours.tensors()) EXPECT_EQ(t.offset % 32, 0u) << t.name;
    EXPECT_EQ(ours.size() % 32, 0u);
}

// Our Q8_0 / Q4_0 tensors are llama-quantize's blocks, byte for byte, for every tensor
// llama-quantize wrote in that type; its F32 tensors (the norms) are F32 in ours too.
void expect_quantized_like_llama_quantize(const std::string& type, GgmlType ggml_type, int tensors) {
    test::TempDir dir;
    const std::string out = dir.file("q.gguf");
    const test::CommandResult r = convert(quoted(gguf_path("synth256.bin")) + " " + quoted(out) + " -z " +
                                          quoted(test::model_path("tok512.bin")) + " --type " + type);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const GgufFile ours(out), theirs(gguf_path("synth256-" + type + ".gguf"));
    int compared = 0;
    for (const GgufTensorInfo& t : theirs.tensors()) {
        // Tied: our embedding stands for llama.cpp's copy of it.
        const GgufTensorInfo* o = ours.find_tensor(t.name == "output.weight" ? "token_embd.weight" : t.name);
        ASSERT_NE(o, nullptr) << t.name;
        if (t.ggml_type() == GgmlType::F32) {
            EXPECT_EQ(o->ggml_type(), GgmlType::F32) << t.name;
        }
        if (t.ggml_type() != ggml_type) continue;  // Q4_0's output.weight is Q6_K in llama.cpp's
        EXPECT_EQ(o->ggml_type(), ggml_type) << t.name;
        EXPECT_EQ(tensor_bytes(*o), tensor_bytes(t)) << type << " " << t.name;
        ++compared;
    }
    EXPECT_EQ(compared, tensors) << type;
    EXPECT_EQ(ours.get_uint("general.file_type", 0, 100), theirs.get_uint("general.file_type", 0, 100));
}

TEST(Convert, Q8_0AndQ4_0BlocksEqualLlamaQuantizes) {
    LHB_REQUIRE_MODELS();
    expect_quantized_like_llama_quantize("q8_0", GgmlType::Q8_0, 16);  // 14 layer matrices, embedding, classifier
    expect_quantized_like_llama_quantize("q4_0", GgmlType::Q4_0, 15);  // not the classifier: Q6_K
}

TEST(Convert, ConvertedQ8_0HasLlamaQuantizesLogitsAndQ4_0StaysNearTheF32) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    const std::string tok = " -z " + quoted(test::model_path("tok512.bin"));
    ASSERT_EQ(convert(quoted(gguf_path("synth256.bin")) + " " + quoted(dir.file("q8.gguf")) + tok + " --type q8_0").exit_code, 0);
    ASSERT_EQ(convert(quoted(gguf_path("synth256.bin")) + " " + quoted(dir.file("q4.gguf")) + tok + " --type q4_0").exit_code, 0);
    // Every block equal (the classifier too: llama.cpp's Q8_0 copy of the embedding), so the
    // reference computes the same logits from both files.
    EXPECT_TRUE(logits_diff(Model::open(dir.file("q8.gguf")), Model::open(gguf_path("synth256-q8_0.gguf")), 8).identical);
    // Q4_0 with a Q4_0 classifier (llama.cpp's is Q6_K): near the fp32 weights' logits.
    const LogitsDiff q4 = logits_diff(Model::open(dir.file("q4.gguf")), Model::open(gguf_path("synth256.bin")), 8);
    EXPECT_FALSE(q4.identical);
    // Measured: 1.40 of a largest logit of 10.4 over 8 positions.
    EXPECT_LT(q4.max_abs, 0.2 * q4.largest) << q4.max_abs << " of " << q4.largest;
}

TEST(Convert, Llama2cToGgufF32AndBackIsByteIdentical) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    const std::string tok = " -z " + quoted(test::model_path("tok512.bin"));
    // v0 (bench synth's RoPE tables, which the round trip writes again the same way).
    ASSERT_EQ(convert(quoted(gguf_path("synth256.bin")) + " " + quoted(dir.file("s.gguf")) + tok).exit_code, 0);
    const test::CommandResult back = convert(quoted(dir.file("s.gguf")) + " " + quoted(dir.file("s.bin")));
    ASSERT_EQ(back.exit_code, 0) << back.err;
    EXPECT_NE(back.err.find("llama2.c version 0 (fp32)"), std::string::npos) << back.err;
    EXPECT_TRUE(test::read_file(dir.file("s.bin")) == test::read_file(gguf_path("synth256.bin")));
    // v1 (no RoPE tables): stories260K_v1.bin through GGUF and back with --version 1.
    ASSERT_EQ(convert(quoted(test::model_path("stories260K_v1.bin")) + " " + quoted(dir.file("v1.gguf")) + tok).exit_code, 0);
    ASSERT_EQ(convert(quoted(dir.file("v1.gguf")) + " " + quoted(dir.file("v1.bin")) + " --version 1").exit_code, 0);
    EXPECT_TRUE(test::read_file(dir.file("v1.bin")) == test::read_file(test::model_path("stories260K_v1.bin")));
    // The real stories260K.bin: its stored RoPE tables come from torch, ours from double
    // arithmetic, so the bytes differ there only and run.c skips them; the logits are equal.
    ASSERT_EQ(convert(quoted(test::model_path("stories260K.bin")) + " " + quoted(dir.file("260k.gguf")) + tok).exit_code, 0);
    ASSERT_EQ(convert(quoted(dir.file("260k.gguf")) + " " + quoted(dir.file("260k.bin"))).exit_code, 0);
    const Model src = Model::open(test::model_path("stories260K.bin"));
    EXPECT_TRUE(logits_diff(Model::open(dir.file("260k.gguf")), src, 16).identical);
    EXPECT_TRUE(logits_diff(Model::open(dir.file("260k.bin")), src, 16).identical);
    const std::string a = test::read_file(dir.file("260k.bin")), b = test::read_file(test::model_path("stories260K.bin"));
    ASSERT_EQ(a.size(), b.size());
    const size_t rope_start = 28 + 4 * size_t(src.config().n_params());
    EXPECT_EQ(a.substr(0, rope_start), b.substr(0, rope_start));
}

TEST(Convert, GgufVocabularyBackToTokenizerBinIsByteIdentical) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    const test::CommandResult r = convert(quoted(gguf_path("stories260K-f32.gguf")) + " " + quoted(dir.file("m.bin")) +
                                          " --tokenizer-out " + quoted(dir.file("tok.bin")));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(test::read_file(dir.file("tok.bin")) == test::read_file(test::model_path("tok512.bin")));
    // llama.cpp's file has an output.weight (a copy): the checkpoint is written unshared.
    const Model m = Model::open(dir.file("m.bin"));
    EXPECT_FALSE(m.config().shared_classifier);
    EXPECT_TRUE(logits_diff(m, Model::open(gguf_path("stories260K-f32.gguf")), 8).identical);
}

TEST(Convert, GgufQ8_0ToVersion2KeepsTheBlocksInt8ValuesAndScales) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    const test::CommandResult r = convert(quoted(gguf_path("synth256-q8_0.gguf")) + " " + quoted(dir.file("v2.bin")));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("llama2.c version 2 (int8, group size 32)"), std::string::npos) << r.err;
    const Model v2 = Model::open(dir.file("v2.bin"));
    const GgufFile g(gguf_path("synth256-q8_0.gguf"));
    ASSERT_EQ(v2.format(), FileFormat::V2Q8);
    const ModelWeights& w = v2.weights();
    auto same_blocks = [&](const WeightMatrix& m, const std::string& name) {
        const GgufTensorInfo* t = g.find_tensor(name);
        EXPECT_EQ(m.group_size, 32);
        for (int64_t b = 0; b < m.numel() / 32; ++b) {
            BlockQ8_0 blk;
            std::memcpy(&blk, t->data + b * sizeof blk, sizeof blk);
            if (m.scales[b] != fp16_to_fp32(blk.d) || std::memcmp(m.q + b * 32, blk.qs, 32) != 0) return false;
        }
        return true;
    };
    EXPECT_TRUE(same_blocks(w.layers[0].wq, "blk.0.attn_q.weight"));
    EXPECT_TRUE(same_blocks(w.layers[1].w2, "blk.1.ffn_down.weight"));
    EXPECT_TRUE(same_blocks(w.wcls, "output.weight"));
}

TEST(Convert, RefusesWhatItCannotConvertInOneLineWritingNothing) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    const std::string out = quoted(dir.file("out"));
    const std::string tok = " -z " + quoted(test::model_path("tok512.bin"));
    // Q4_0 (and a Q6_K classifier): no llama2.c type holds it without rounding again.
    expect_refused(convert(quoted(gguf_path("synth256-q4_0.gguf")) + " " + out), "token_embd.weight is Q4_0: llama2.c files hold", dir);
    expect_refused(convert(quoted(gguf_path("synth256-q8_0.gguf")) + " " + out + " --version 0"), "expected --version 2", dir);
    expect_refused(convert(quoted(gguf_path("synth256-q8_0.gguf")) + " " + out + " --group 64"), "groups of 32", dir);
    expect_refused(convert(quoted(gguf_path("synth256-f32.gguf")) + " " + out + tok), "-z are for a llama2.c input", dir);
    expect_refused(convert(quoted(test::model_path("stories260K.bin")) + " " + out + tok + " --version 1"),
                   "are for a llama2.c output", dir);
    // stories260K's hidden_dim 172 holds no whole blocks of 32 (llama-quantize refuses it too).
    expect_refused(convert(quoted(test::model_path("stories260K.bin")) + " " + out + tok + " --type q8_0"),
                   "hidden_dim multiples of its block of 32", dir);
    expect_refused(convert(quoted(test::model_path("stories260K.bin")) + " " + out), "expected -z", dir);
    expect_refused(convert(quoted(test::model_path("stories260K.bin")) + " " + out + " -z " +
                           quoted(test::model_path("tokenizer.bin"))),
                   "tokenizer.bin", dir);
    // Rows of 64 hold no Q4_K super-block (llama-quantize's Q5_0 fallback is not written here).
    expect_refused(convert(quoted(test::model_path("stories260K.bin")) + " " + out + tok + " --type q4_k"),
                   "blk.0.attn_q.weight (layer 0 wq): Q4_K: expected rows of a multiple of 256 elements", dir);
    expect_refused(convert(quoted(test::model_path("stories260K.bin")) + " " + out + tok + " --max-size 1M"),
                   "expected at most 1048576 bytes (the size limit", dir);
    // Malformed inputs: a truncated GGUF, a truncated checkpoint.
    test::TempDir in;
    const std::string g = test::read_file(gguf_path("synth256-f32.gguf"));
    test::write_file(in.file("cut.gguf"), g.substr(0, g.size() / 2));
    expect_refused(convert(quoted(in.file("cut.gguf")) + " " + out), "cut.gguf", dir);
    const std::string b = test::read_file(test::model_path("stories260K.bin"));
    test::write_file(in.file("cut.bin"), b.substr(0, 1000));
    expect_refused(convert(quoted(in.file("cut.bin")) + " " + out + tok), "cut.bin", dir);
    // The output may not be the input.
    test::write_file(in.file("same.bin"), b);
    const test::CommandResult self = convert(quoted(in.file("same.bin")) + " " + quoted(in.file("same.bin")) + tok);
    EXPECT_EQ(self.exit_code, 1);
    EXPECT_TRUE(test::read_file(in.file("same.bin")) == b);
}

TEST(Convert, SynthesizedGqaModelsConvertBothWaysWithTheSameLogits) {
    // No real files needed: a GQA, unshared-classifier checkpoint through GGUF F16 and back.
    test::TempDir dir;
    ASSERT_EQ(test::run_bench("synth --shape dim=64,hidden=96,layers=2,heads=4,kv_heads=2,vocab=300,seq=32 --seed 3 "
                              "--format gguf -o " + quoted(dir.file("s.gguf")))
                  .exit_code,
              0);
    ASSERT_EQ(convert(quoted(dir.file("s.gguf")) + " " + quoted(dir.file("s.bin"))).exit_code, 0);
    ASSERT_EQ(test::run_bench("synth --shape dim=64,hidden=96,layers=2,heads=4,kv_heads=2,vocab=300,seq=32 --seed 3 -o " +
                              quoted(dir.file("direct.bin")))
                  .exit_code,
              0);
    EXPECT_TRUE(test::read_file(dir.file("s.bin")) == test::read_file(dir.file("direct.bin")));
    EXPECT_TRUE(logits_diff(Model::open(dir.file("s.gguf")), Model::open(dir.file("s.bin")), 8).identical);
    // A v2 (int8) input: its dequantized values, q * scale as runq.c computes them.
    ASSERT_EQ(test::run_bench("synth --shape dim=64,hidden=96,layers=2,heads=4,kv_heads=2,vocab=300,seq=32 --seed 3 "
                              "--type q8_0 --group 32 -o " + quoted(dir.file("q.bin")))
                  .exit_code,
              0);
    test::write_file(dir.file("tok.bin"), [] {
        std::string t(4, '\0');
        t[0] = 8;
        for (int id = 0; id < 300; ++id) {
            const std::string piece = id == 1 ? "\n<s>\n" : id == 2 ? "\n</s>\n" : "p" + std::to_string(id);
            const float score = -float(id);
            const int32_t len = int32_t(piece.size());
            t.append(reinterpret_cast<const char*>(&score), 4).append(reinterpret_cast<const char*>(&len), 4) += piece;
        }
        return t;
    }());
    const test::CommandResult q = convert(quoted(dir.file("q.bin")) + " " + quoted(dir.file("q.gguf")) + " -z " +
                                          quoted(dir.file("tok.bin")));
    ASSERT_EQ(q.exit_code, 0) << q.err;
    const Model v2 = Model::open(dir.file("q.bin"));
    const GgufFile qg(dir.file("q.gguf"));
    const WeightMatrix& w2 = v2.weights().layers[1].w2;
    const GgufTensorInfo* t = qg.find_tensor("blk.1.ffn_down.weight");
    ASSERT_EQ(t->ggml_type(), GgmlType::F32);
    bool same = true;
    for (int64_t i = 0; i < w2.numel(); ++i) {
        float x;
        std::memcpy(&x, t->data + 4 * i, 4);
        same = same && x == float(w2.q[i]) * w2.scales[i / 32];
    }
    EXPECT_TRUE(same);
    // The placeholder vocabulary is a working tokenizer (it has the dummy-prefix space).
    const test::CommandResult g = test::run_bench("generate " + quoted(dir.file("s.gguf")) + " -i hello -t 0 -n 6");
    EXPECT_EQ(g.exit_code, 0) << g.err;
}

}  // namespace
}  // namespace lhb
