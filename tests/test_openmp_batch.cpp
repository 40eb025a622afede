// openmp's batched prompt path (forward_batch through its matmul_batch and attention_batch)
// against cpu-ref's token-by-token forward(), at every position of prompts longer than a
// block (Backend::kBatchBlock = 32), prompts that continue an existing cache, a one-token
// prompt and one that fills the context, for every weight type openmp computes: fp32
// (packed and read from the mapping), int8 (version-2) and the GGUF types, at stories260K
// (grouped-query attention: 8 heads, 4 KV heads), stories15M (synthetic weights, a short
// prompt: cpu-ref is slow there) and another grouped-query shape, on 1 and 2 threads.
//
// Tolerances, and why:
// - fp32 and GGUF F32/F16: logits_tolerance(F32) (2e-4 + 1e-4 * |logit|, core/correctness).
//   The block kernel sums each (token, row) in one multiply-add chain in column order where
//   cpu-ref sums without FMA (and F16/F32 blocks sum in double lanes), so the logits differ
//   in the last bits, as openmp's decode does.
// - int8 and GGUF Q8_0, Q4_0, Q4_K, Q6_K: bit for bit. The block kernels form the same
//   integers and do the same float operations in the same order as the decode kernels,
//   which equal cpu-ref's (runq.c's, quant_types'), and with such a model openmp runs the
//   fp32 ops (rmsnorm, attention) in llama2.c's order, so any difference is a defect.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "backends/openmp/openmp.hpp"
#include "core/correctness.hpp"
#include "core/gguf.hpp"
#include "core/gguf_writer.hpp"
#include "core/model.hpp"
#include "core/quantize.hpp"
#include "core/synth.hpp"
#include "tests/backend_fixtures.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

using test::prompt_of;
using test::token_by_token;

enum class Match { Bits, Fp32Tolerance };

// Row i - first of got against row i of want for i in [first, last); reports the first
// three positions that differ.
void expect_rows(const float* got, const std::vector<float>& want, int vocab, int first, int last, Match match,
                 const std::string& what) {
    const Tolerance tol = logits_tolerance(DType::F32);
    int reported = 0;
    for (int i = first; i < last && reported < 3; ++i) {
        const float* g = got + size_t(i - first) * size_t(vocab);
        const float* w = want.data() + size_t(i) * size_t(vocab);
        if (match == Match::Bits) {
            if (std::memcmp(g, w, size_t(vocab) * sizeof(float)) != 0) {
                int j = 0;
                while (std::memcmp(g + j, w + j, sizeof(float)) == 0) ++j;
                ADD_FAILURE() << what << ": position " << i << " differs in its bits, logit " << j << ": " << g[j]
                              << " vs " << w[j];
                ++reported;
            }
            continue;
        }
        for (int j = 0; j < vocab; ++j)
            if (!(std::fabs(double(g[j]) - w[j]) <= tol.abs + tol.rel * std::fabs(double(w[j])))) {
                ADD_FAILURE() << what << ": position " << i << ", logit " << j << ": " << g[j] << " vs " << w[j]
                              << " (tolerance " << tol.abs << " + " << tol.rel << " * |logit|)";
                ++reported;
                break;
            }
    }
}

// forward_batch(All) of tokens in prompts of `split` tokens (the last one shorter), each
// continuing the cache the previous ones wrote, against want at every position; the
// returned last logits must be the last row's.
void expect_batched(OpenMpBackend& b, const std::vector<int>& tokens, const std::vector<float>& want, int split,
                    Match match, const std::string& what) {
    const int n = int(tokens.size()), vocab = b.model()->config().vocab_size;
    std::vector<float> got(size_t(std::min(split, n)) * size_t(vocab));
    for (int first = 0; first < n; first += split) {
        const int len = std::min(split, n - first);
        const float* last = b.forward_batch(tokens.data() + first, len, first, BatchLogits::All, got.data());
        ASSERT_EQ(std::memcmp(last, got.data() + size_t(len - 1) * size_t(vocab), size_t(vocab) * sizeof(float)), 0)
            << what;
        expect_rows(got.data(), want, vocab, first, first + len, match,
                    what + " in prompts of " + std::to_string(split));
    }
}

// Every check of one model on 1 and 2 threads: one call over the whole prompt, prompts of
// 17 (each continuing the cache, across block boundaries), a one-token prompt, and (exact
// types) a prompt followed by forward() at the next positions and a prompt after forward():
// the batched pass and the fused decode pass must hand the KV cache (and int8's transposed
// keys) to each other intact.
void expect_model(const Model& m, int n, Match match, const std::string& what, bool pack_fp32 = true) {
    const std::vector<int> tokens = prompt_of(n, m.config().vocab_size, n);
    const std::vector<float> want = token_by_token(m, tokens);
    const int vocab = m.config().vocab_size;
    for (int threads : {1, 2}) {
        const std::string at = what + ", " + std::to_string(threads) + " thread(s)";
        OpenMpBackend b(threads, true, 0);  // every thread runs, however small the model
        b.set_pack_fp32(pack_fp32);
        b.load(m);
        expect_batched(b, tokens, want, n, match, at);
        expect_batched(b, tokens, want, 17, match, at);
        expect_batched(b, {tokens[0]}, want, 1, match, at + ", one token");

        // A prompt, then decode; then decode, then a prompt.
        const int head = std::min(n - 4, Backend::kBatchBlock + 3);
        std::vector<float> got(size_t(head) * size_t(vocab));
        b.forward_batch(tokens.data(), head, 0, BatchLogits::All, got.data());
        for (int pos = head; pos < head + 2; ++pos)
            expect_rows(b.forward(tokens[size_t(pos)], pos), want, vocab, pos, pos + 1, match, at + ", decode after a prompt");
        const float* last = b.forward_batch(tokens.data() + head + 2, n - head - 2, head + 2, BatchLogits::Last);
        expect_rows(last, want, vocab, n - 1, n, match, at + ", a prompt after decode (last logits)");
    }
}

std::string synthetic(const test::TempDir& tmp, const std::string& shape, const std::string& name, uint64_t seed) {
    const std::string path = tmp.file(name);
    write_synthetic_model(parse_shape(shape), path, seed);
    return path;
}

// A GGUF of `shape` with every matrix in type t (core/gguf_writer's synthetic_llama_gguf).
std::string synthetic_gguf(const test::TempDir& tmp, const std::string& shape, GgmlType t, uint32_t seed) {
    const ModelConfig c = parse_shape(shape);
    GgufLlamaConfig g;
    g.dim = c.dim;
    g.hidden_dim = c.hidden_dim;
    g.n_layers = c.n_layers;
    g.n_heads = c.n_heads;
    g.n_kv_heads = c.n_kv_heads;
    g.vocab_size = c.vocab_size;
    g.context_length = c.seq_len;
    const std::string path = tmp.file(std::string(ggml_type_name(uint32_t(t))) + ".gguf");
    std::ofstream(path, std::ios::binary) << synthetic_llama_gguf(g, t, false, seed);
    return path;
}

bool exact(GgmlType t) { return t != GgmlType::F32 && t != GgmlType::F16; }

constexpr const char* kGqaShape = "dim=256,hidden=512,layers=2,heads=8,kv_heads=2,vocab=300,seq=70";

TEST(OpenMpBatch, Fp32Stories260KPackedAndMapped) {
    LHB_REQUIRE_MODELS();
    const Model m = Model::open(test::model_path("stories260K.bin"));
    expect_model(m, 70, Match::Fp32Tolerance, "stories260K fp32 packed");
    expect_model(m, 70, Match::Fp32Tolerance, "stories260K fp32 mapped", false);
}

TEST(OpenMpBatch, Fp32Stories15MShapeAndGqaFillingTheContext) {
    test::TempDir tmp;
    expect_model(Model::open(synthetic(tmp, "stories15M", "15m.bin", 3)), 38, Match::Fp32Tolerance,
                 "stories15M shape fp32");
    expect_model(Model::open(synthetic(tmp, kGqaShape, "gqa.bin", 5)), 70, Match::Fp32Tolerance, "GQA fp32, seq 70",
                 false);
}

TEST(OpenMpBatch, Int8BitForBit) {
    LHB_REQUIRE_MODELS();
    test::TempDir tmp;
    const std::string q260 = tmp.file("260k.q8.bin");
    write_q8_model(Model::open(test::model_path("stories260K.bin")), q260, 4);
    expect_model(Model::open(q260), 70, Match::Bits, "stories260K int8 gs 4");
    expect_model(Model::open(test::q8_model(tmp, "stories15M", 48, "15m", 3)), 36, Match::Bits,
                 "stories15M shape int8 gs 48");
    // Group size 64 (16 chunks of 4) and a context filled exactly.
    expect_model(Model::open(test::q8_model(tmp, kGqaShape, 64, "gqa", 5)), 70, Match::Bits, "GQA int8 gs 64, seq 70");
}

// llama.cpp's files: synth256 (8 heads, 4 KV heads) in each quantized type (Q4_K_M mixes
// Q4_K and Q6_K) and F16, stories260K in F16. (Their F32 files load as fp32 views, the
// fp32 path tested above.) Two blocks' worth of prompt: the suite's time.
TEST(OpenMpBatch, LlamaCppGgufFiles) {
    LHB_REQUIRE_MODELS();
    for (const char* name : {"synth256-q8_0.gguf", "synth256-q4_0.gguf", "synth256-q4_k_m.gguf", "synth256-q6_k.gguf",
                             "synth256-f16.gguf", "stories260K-f16.gguf"}) {
        const Model m = Model::open(test::model_path(std::string("gguf/") + name));
        const std::string n(name);
        expect_model(m, 40, n.find("f16") == n.npos ? Match::Bits : Match::Fp32Tolerance, name);
    }
}

// Each GGUF type openmp computes from blocks, in a file of that type: the grouped-query
// shape (256 wide: the K-quants' super-blocks) filling its context, and Q4_0 at the
// stories15M shape (288 wide: no K-quants; a short prompt, cpu-ref's scalar blocks are slow). A GGUF of F32 matrices loads as fp32 views.
TEST(OpenMpBatch, EveryGgufType) {
    test::TempDir tmp;
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::F16}) {
        const std::string name = ggml_type_name(uint32_t(t));
        expect_model(Model::open(synthetic_gguf(tmp, kGqaShape, t, 9)), 70, exact(t) ? Match::Bits : Match::Fp32Tolerance,
                     "GQA " + name + ", seq 70");
    }
    expect_model(Model::open(synthetic_gguf(tmp, "stories15M", GgmlType::Q4_0, 11)), 34, Match::Bits,
                 "stories15M shape Q4_0");
}

// Quantized weights to the bits, on every kernel this CPU runs (the model tests above use
// the best one): matmul_batch against matmul() token by token, for the classifier (300 rows:
// a partial int8 tile of 16 and a partial GGUF group of 8) and w2 (512 wide) of an int8
// model and of a GGUF model of each type, a block with a partial group of 4 tokens and a
// whole one, 1 and 2 threads.
TEST(OpenMpBatch, QuantizedBlockKernelsEqualMatmulOnEveryKernel) {
    test::TempDir tmp;
    std::vector<std::string> paths = {test::q8_model(tmp, kGqaShape, 32, "gqa", 5)};
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::F16})
        paths.push_back(synthetic_gguf(tmp, kGqaShape, t, 13));
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (const std::string& path : paths) {
        const Model m = Model::open(path);
        for (int threads : {1, 2})
            for (openmp::Q8Kernel k : openmp::q8_supported_kernels()) {
                OpenMpBackend b(threads, true, 0);
                b.set_q8_kernel(k);
                b.load(m);
                for (const WeightMatrix* w : {&m.weights().wcls, &m.weights().layers[1].w2})
                    for (int n : {7, 32}) {
                        SCOPED_TRACE(path + " " + openmp::q8_kernel_name(k) + " " + std::to_string(w->rows) + "x" +
                                     std::to_string(w->cols) + " n " + std::to_string(n) + " threads " +
                                     std::to_string(threads));
                        const int rows = w->rows, cols = w->cols;
                        std::vector<float> x(size_t(n) * cols), got(size_t(n) * rows, -1.f),
                            one(static_cast<size_t>(rows));
                        for (float& v : x) v = u(rng);
                        b.matmul_batch(got.data(), x.data(), *w, n);
                        for (int t = 0; t < n; ++t) {
                            b.matmul(one.data(), x.data() + size_t(t) * cols, *w);
                            if (std::memcmp(one.data(), got.data() + size_t(t) * rows, sizeof(float) * rows) != 0) {
                                ADD_FAILURE() << "token " << t << " differs";  // (the next kernel still runs)
                                break;
                            }
                        }
                    }
            }
    }
}

// The ops on their own, away from a model's caches: matmul_batch of a matrix the model does
// not hold (int8 packs it here), and attention_batch on caches of its own (the exact path
// transposes their keys itself), against the token-by-token ops.
TEST(OpenMpBatch, OpsOnForeignMatricesAndCaches) {
    test::TempDir tmp;
    const Model m = Model::open(test::q8_model(tmp, kGqaShape, 32, "gqa", 5));
    OpenMpBackend b(2, true, 0);
    b.load(m);
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    const int n = 21, rows = 80, cols = 256;
    test::Q8Matrix w(rows, cols, 32, rng);
    std::vector<float> x(size_t(n) * cols), got(size_t(n) * rows), one(static_cast<size_t>(rows));
    for (float& v : x) v = u(rng);
    b.matmul_batch(got.data(), x.data(), w.view, n);
    for (int t = 0; t < n; ++t) {
        b.matmul(one.data(), x.data() + size_t(t) * cols, w.view);
        ASSERT_EQ(std::memcmp(one.data(), got.data() + size_t(t) * rows, sizeof(float) * rows), 0) << "token " << t;
    }

    const AttentionShape s = AttentionShape::of(m.config());
    const int pos = 9, end = pos + n;
    std::vector<float> keys(size_t(end) * s.kv_dim), values(keys.size()), q(size_t(n) * s.n_heads * s.head_size);
    for (auto* v : {&keys, &values, &q})
        for (float& f : *v) f = u(rng);
    std::vector<float> att(size_t(s.n_heads) * end), out(q.size()), ref(size_t(s.n_heads) * s.head_size);
    b.attention_batch(out.data(), q.data(), keys.data(), values.data(), att.data(), pos, n, s);
    const size_t qd = size_t(s.n_heads) * s.head_size;
    for (int i = 0; i < n; ++i) {
        b.attention(ref.data(), q.data() + i * qd, keys.data(), values.data(), att.data(), pos + i, s);
        ASSERT_EQ(std::memcmp(ref.data(), out.data() + i * qd, qd * sizeof(float)), 0) << "token " << i;
    }
}

}  // namespace
}  // namespace lhb
