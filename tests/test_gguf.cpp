// The GGUF reader against files llama.cpp wrote (../shared/models/gguf), and against every
// kind of malformed file, built by mutating a valid one.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/gguf.hpp"
#include "core/gguf_vocab.hpp"
#include "core/gguf_writer.hpp"
#include "core/model.hpp"
#include "core/quant_types.hpp"
#include "core/tokenizer.hpp"
#include "tests/llama_cpp_logits.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

std::string gguf_path(const std::string& name) { return test::model_path("gguf/" + name); }

// ---- files llama.cpp wrote -----------------------------------------------------------------

struct RealFile {
    const char* name;
    int dim, hidden, layers, heads, kv_heads;
    // How many tensors of each type (llama-quantize picks some itself).
    std::vector<std::pair<GgmlType, int>> types;
};

const std::vector<RealFile>& real_files() {
    static const std::vector<RealFile> files = {
        {"stories260K-f32.gguf", 64, 172, 5, 8, 4, {{GgmlType::F32, 48}}},
        {"stories260K-f16.gguf", 64, 172, 5, 8, 4, {{GgmlType::F32, 11}, {GgmlType::F16, 37}}},
        {"synth256-f32.gguf", 256, 768, 2, 8, 4, {{GgmlType::F32, 21}}},
        {"synth256-f16.gguf", 256, 768, 2, 8, 4, {{GgmlType::F32, 5}, {GgmlType::F16, 16}}},
        {"synth256-q8_0.gguf", 256, 768, 2, 8, 4, {{GgmlType::F32, 5}, {GgmlType::Q8_0, 16}}},
        {"synth256-q4_0.gguf", 256, 768, 2, 8, 4,
         {{GgmlType::F32, 5}, {GgmlType::Q4_0, 15}, {GgmlType::Q6_K, 1}}},
        {"synth256-q4_k_m.gguf", 256, 768, 2, 8, 4,
         {{GgmlType::F32, 5}, {GgmlType::Q4_K, 13}, {GgmlType::Q6_K, 3}}},
        {"synth256-q6_k.gguf", 256, 768, 2, 8, 4, {{GgmlType::F32, 5}, {GgmlType::Q6_K, 16}}},
    };
    return files;
}

TEST(GgufReal, EveryFileLoadsWithItsShape) {
    LHB_REQUIRE_MODELS();
    for (const RealFile& r : real_files()) {
        SCOPED_TRACE(r.name);
        GgufFile f(gguf_path(r.name));
        EXPECT_EQ(f.version(), 3u);
        EXPECT_EQ(f.alignment(), 32u);
        const GgufLlama m = read_llama(f);
        const GgufLlamaConfig& c = m.config;
        EXPECT_EQ(c.dim, r.dim);
        EXPECT_EQ(c.hidden_dim, r.hidden);
        EXPECT_EQ(c.n_layers, r.layers);
        EXPECT_EQ(c.n_heads, r.heads);
        EXPECT_EQ(c.n_kv_heads, r.kv_heads);
        EXPECT_EQ(c.vocab_size, 512);
        EXPECT_EQ(c.context_length, 128);  // the converter's default, not the model's
        EXPECT_EQ(c.rope_dim, c.head_size());
        EXPECT_EQ(c.rope_freq_base, 10000.0f);
        EXPECT_EQ(c.rms_eps, 1e-5f);
        EXPECT_FALSE(m.tied_output);  // the converter writes output.weight as a copy
        EXPECT_NE(m.output, m.token_embd);
        ASSERT_EQ(m.layers.size(), size_t(r.layers));
        for (auto [type, count] : r.types) {
            int n = 0;
            for (const GgufTensorInfo& t : f.tensors()) n += t.ggml_type() == type;
            EXPECT_EQ(n, count) << ggml_type_name(uint32_t(type));
        }
        EXPECT_EQ(f.tensors().size(), size_t(2 + 9 * r.layers + 1));
        EXPECT_NE(context_length_warning(c, 512, f.path()).find("warning: llama.context_length is 128"),
                  std::string::npos);
        EXPECT_EQ(context_length_warning(c, 128, f.path()), "");
    }
}

TEST(GgufReal, TokenizerFromTheFileEncodesLikeTok512) {
    LHB_REQUIRE_MODELS();
    GgufFile f(gguf_path("stories260K-f32.gguf"));
    const GgufVocab v = read_llama_vocab(f);
    EXPECT_EQ(v.bos_id, 1);
    EXPECT_EQ(v.eos_id, 2);
    EXPECT_EQ(v.unk_id, 0);
    EXPECT_EQ(v.token_types[0], int32_t(GgufTokenType::Unknown));
    EXPECT_EQ(v.token_types[1], int32_t(GgufTokenType::Control));
    EXPECT_EQ(v.token_types[3], int32_t(GgufTokenType::Byte));
    EXPECT_EQ(v.token_types[300], int32_t(GgufTokenType::Normal));

    const Tokenizer ref = Tokenizer::load(test::model_path("tok512.bin"), 512);
    const Tokenizer t = gguf_tokenizer(f);
    ASSERT_EQ(t.vocab_size(), 512);
    // Identical pieces and scores except the spelling of BOS and EOS.
    for (int i = 0; i < 512; ++i) {
        EXPECT_EQ(t.score(i), ref.score(i)) << i;
        if (i == 1 || i == 2) continue;
        EXPECT_EQ(t.piece(i), ref.piece(i)) << i;
    }
    EXPECT_EQ(t.piece(1), "<s>");
    EXPECT_EQ(ref.piece(1), "\n<s>\n");
    for (const char* text : {"Once upon a time", "Tom had a big dog", "The caf\xc3\xa9 was", "", "<s>"})
        EXPECT_EQ(t.encode(text, true, false), ref.encode(text, true, false)) << text;
    EXPECT_EQ(t.encode("Once upon a time", true, false), (std::vector<int>{1, 403, 407, 261, 378}));
}

// The bytes of a float view, for memcmp against tensor data.
bool same_floats(const unsigned char* data, const float* w, int64_t n) {
    return std::memcmp(data, w, size_t(n) * 4) == 0;
}

// F16 tensor data equals our rounding of the llama2.c floats, value by value.
bool same_as_f16(const unsigned char* data, const float* w, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, data + 2 * i, 2);
        if (h != fp32_to_fp16(w[i])) return false;
    }
    return true;
}

// llama.cpp's HF converter permutation for NEOX-style RoPE (rows of each head reordered so
// pairs (i, i + head_size/2) become adjacent): what a file would hold if the llama2.c
// converter had permuted. Used only to prove the comparison below can tell.
std::vector<float> hf_permuted(const float* w, int rows, int cols, int n_head) {
    std::vector<float> out(size_t(rows) * size_t(cols));
    const int hs = rows / n_head;
    for (int h = 0; h < n_head; ++h)
        for (int i = 0; i < hs / 2; ++i)
            for (int half = 0; half < 2; ++half) {
                const int src = h * hs + 2 * i + half;       // adjacent pair (2i, 2i+1)
                const int dst = h * hs + half * hs / 2 + i;  // split halves
                std::memcpy(&out[size_t(dst) * size_t(cols)], w + size_t(src) * size_t(cols), size_t(cols) * 4);
            }
    return out;
}

// Compares every tensor of a GGUF file with the llama2.c checkpoint it was converted from,
// exactly (F32), or as our fp16 rounding (F16).
void expect_same_weights(const std::string& gguf, const std::string& bin) {
    GgufFile f(gguf_path(gguf));
    const GgufLlama g = read_llama(f);
    const Model m = Model::open(test::model_path(bin));
    const ModelConfig& c = m.config();
    const ModelWeights& w = m.weights();
    auto same = [](const GgufTensorInfo* t, const float* x, int64_t n) {
        if (t->ggml_type() == GgmlType::F32) return same_floats(t->data, x, n);
        if (t->ggml_type() == GgmlType::F16) return same_as_f16(t->data, x, n);
        return false;
    };
    EXPECT_TRUE(same(g.token_embd, w.token_embedding, int64_t(c.vocab_size) * c.dim));
    EXPECT_TRUE(same(g.output, w.wcls.f32, int64_t(c.vocab_size) * c.dim));
    EXPECT_TRUE(same(g.output_norm, w.rms_final, c.dim));
    for (int l = 0; l < c.n_layers; ++l) {
        SCOPED_TRACE("layer " + std::to_string(l));
        const GgufLlamaLayer& a = g.layers[size_t(l)];
        const LayerWeights& b = w.layers[size_t(l)];
        EXPECT_TRUE(same(a.attn_norm, b.rms_att, c.dim));
        EXPECT_TRUE(same(a.ffn_norm, b.rms_ffn, c.dim));
        // Q and K: row for row as llama2.c has them. llama.cpp's llama RoPE (LLAMA_ROPE_TYPE_NORM)
        // rotates adjacent pairs like run.c, so its llama2.c converter writes them unpermuted.
        EXPECT_TRUE(same(a.wq, b.wq.f32, b.wq.numel()));
        EXPECT_TRUE(same(a.wk, b.wk.f32, b.wk.numel()));
        for (auto [t, x] : {std::pair{a.wv, &b.wv}, {a.wo, &b.wo}, {a.w1, &b.w1}, {a.w2, &b.w2}, {a.w3, &b.w3}})
            EXPECT_TRUE(same(t, x->f32, x->numel())) << t->name;
        if (a.wq->ggml_type() == GgmlType::F32) {
            // The comparison would see a permutation: the NEOX-permuted rows differ.
            EXPECT_FALSE(same_floats(a.wq->data, hf_permuted(b.wq.f32, c.dim, c.dim, c.n_heads).data(), b.wq.numel()));
            EXPECT_FALSE(same_floats(a.wk->data, hf_permuted(b.wk.f32, c.kv_dim(), c.dim, c.n_kv_heads).data(),
                                     b.wk.numel()));
        }
    }
}

TEST(GgufReal, Stories260KTensorsEqualTheLlama2cWeights) {
    LHB_REQUIRE_MODELS();
    expect_same_weights("stories260K-f32.gguf", "stories260K.bin");
    expect_same_weights("stories260K-f16.gguf", "stories260K.bin");  // our fp16 rounding = llama.cpp's
}

TEST(GgufReal, Synth256TensorsEqualTheLlama2cWeights) {
    LHB_REQUIRE_MODELS();
    expect_same_weights("synth256-f32.gguf", "gguf/synth256.bin");
    expect_same_weights("synth256-f16.gguf", "gguf/synth256.bin");
}

// Our quantizer over the F32 tensor reproduces llama-quantize's blocks byte for byte.
void expect_quantized_like_llama_quantize(const std::string& quantized, GgmlType type) {
    GgufFile f32(gguf_path("synth256-f32.gguf"));
    GgufFile q(gguf_path(quantized));
    int compared = 0;
    for (const GgufTensorInfo& t : q.tensors()) {
        if (t.ggml_type() != type) continue;
        const GgufTensorInfo* src = f32.find_tensor(t.name);
        ASSERT_NE(src, nullptr) << t.name;
        ASSERT_EQ(src->ggml_type(), GgmlType::F32);
        std::vector<float> x(size_t(src->elements()));
        std::memcpy(x.data(), src->data, x.size() * 4);
        std::string ours(size_t(t.nbytes), '\0');
        auto* dst = reinterpret_cast<unsigned char*>(ours.data());
        if (type == GgmlType::Q8_0) quantize_row_q8_0(x.data(), dst, x.size());
        else quantize_row_q4_0(x.data(), dst, x.size());
        EXPECT_EQ(std::memcmp(ours.data(), t.data, size_t(t.nbytes)), 0) << quantized << " " << t.name;
        ++compared;
    }
    EXPECT_GE(compared, 15) << quantized;
}

TEST(GgufReal, OurQ8_0AndQ4_0BlocksEqualLlamaQuantizes) {
    LHB_REQUIRE_MODELS();
    expect_quantized_like_llama_quantize("synth256-q8_0.gguf", GgmlType::Q8_0);
    expect_quantized_like_llama_quantize("synth256-q4_0.gguf", GgmlType::Q4_0);
}

// Dequantized K-quant tensors approximate the F32 originals as 6 and 4 bits can: the
// relative RMS error over each tensor. A layout mistake (a swapped nibble, a misread scale)
// gives errors of order 1.
TEST(GgufReal, DequantizedTensorsApproximateTheF32Weights) {
    LHB_REQUIRE_MODELS();
    GgufFile f32(gguf_path("synth256-f32.gguf"));
    const struct {
        const char* file;
        GgmlType type;
        double max_rel_rms;
    } cases[] = {
        {"synth256-q8_0.gguf", GgmlType::Q8_0, 0.01}, {"synth256-q4_0.gguf", GgmlType::Q4_0, 0.12},
        {"synth256-q4_0.gguf", GgmlType::Q6_K, 0.03}, {"synth256-q6_k.gguf", GgmlType::Q6_K, 0.03},
        {"synth256-q4_k_m.gguf", GgmlType::Q4_K, 0.12}, {"synth256-q4_k_m.gguf", GgmlType::Q6_K, 0.03},
        {"synth256-f16.gguf", GgmlType::F16, 0.001},
    };
    for (const auto& cs : cases) {
        GgufFile q(gguf_path(cs.file));
        int seen = 0;
        for (const GgufTensorInfo& t : q.tensors()) {
            if (t.ggml_type() != cs.type) continue;
            const GgufTensorInfo* src = f32.find_tensor(t.name);
            std::vector<float> ref(size_t(src->elements())), got(ref.size());
            std::memcpy(ref.data(), src->data, ref.size() * 4);
            dequantize_row(cs.type, t.data, got.data(), got.size());
            double err = 0, norm = 0;
            for (size_t i = 0; i < ref.size(); ++i) {
                err += (double(got[i]) - ref[i]) * (double(got[i]) - ref[i]);
                norm += double(ref[i]) * ref[i];
            }
            EXPECT_LT(std::sqrt(err / norm), cs.max_rel_rms) << cs.file << " " << t.name;
            EXPECT_GT(std::sqrt(err / norm), 0.0) << cs.file << " " << t.name;
            ++seen;
        }
        EXPECT_GT(seen, 0) << cs.file;
    }
}

// ---- a scalar forward against llama.cpp's logits ------------------------------------------

using test::LlamaCppLogits;
using test::read_logits;

// A plain scalar LLaMA forward over a GGUF file, with llama.cpp's choices where they change
// numbers: rms norm summed in double, RoPE angles by repeated multiplication with
// base^(-2/head_size), an F16 KV cache (q and the softmax weights rounded to fp16 for the
// two attention products). Matrix-vector products either in llama.cpp's type arithmetic
// (quant_types' matvec: Q8_0 / Q8_K activations) or over the dequantized weights in fp32.
// Only for this test: the backends get their own forward when GGUF is integrated.
class ScalarForward {
public:
    ScalarForward(const GgufLlama& m, bool llama_arithmetic, int max_pos)
        : m_(m), c_(m.config), llama_(llama_arithmetic), max_pos_(max_pos) {
        kcache_.assign(size_t(c_.n_layers) * size_t(max_pos) * size_t(c_.kv_dim()), 0.0f);
        vcache_ = kcache_;
    }

    std::vector<float> step(int token, int pos) {
        const int dim = c_.dim, hs = c_.head_size(), kv_dim = c_.kv_dim();
        const size_t n_dim = size_t(dim), n_kv = size_t(kv_dim), n_hidden = size_t(c_.hidden_dim);
        std::vector<float> x(n_dim), xb(n_dim), q(n_dim), k(n_kv), v(n_kv), att_out(n_dim), h1(n_hidden), h3(n_hidden);
        const GgufTensorInfo* emb = m_.token_embd;
        dequantize_row(emb->ggml_type(), emb->data + size_t(token) * row_bytes(emb->ggml_type(), size_t(dim)), x.data(),
                       size_t(dim));
        for (int l = 0; l < c_.n_layers; ++l) {
            const GgufLlamaLayer& L = m_.layers[size_t(l)];
            rmsnorm(x, L.attn_norm, xb);
            mat(L.wq, xb, q);
            mat(L.wk, xb, k);
            mat(L.wv, xb, v);
            rope(q, pos);
            rope(k, pos);
            float* kc = &kcache_[(size_t(l) * size_t(max_pos_) + size_t(pos)) * size_t(kv_dim)];
            float* vc = &vcache_[(size_t(l) * size_t(max_pos_) + size_t(pos)) * size_t(kv_dim)];
            for (int i = 0; i < kv_dim; ++i) {
                kc[i] = f16(k[size_t(i)]);
                vc[i] = f16(v[size_t(i)]);
            }
            const int kv_mul = c_.n_heads / c_.n_kv_heads;
            for (int h = 0; h < c_.n_heads; ++h) {
                const int kvh = h / kv_mul;
                std::vector<float> att(size_t(pos) + 1);
                float max = -INFINITY;
                for (int t = 0; t <= pos; ++t) {
                    const float* kt = &kcache_[(size_t(l) * size_t(max_pos_) + size_t(t)) * size_t(kv_dim) + size_t(kvh * hs)];
                    double dot = 0;
                    for (int i = 0; i < hs; ++i) dot += double(f16(q[size_t(h * hs + i)]) * kt[i]);
                    att[size_t(t)] = float(dot) * (1.0f / std::sqrt(float(hs)));
                    max = std::max(max, att[size_t(t)]);
                }
                double sum = 0;
                for (float& a : att) {
                    a = std::exp(a - max);
                    sum += a;
                }
                for (float& a : att) a = f16(a * float(1.0 / sum));
                for (int i = 0; i < hs; ++i) {
                    double acc = 0;
                    for (int t = 0; t <= pos; ++t)
                        acc += double(att[size_t(t)] *
                                      vcache_[(size_t(l) * size_t(max_pos_) + size_t(t)) * size_t(kv_dim) + size_t(kvh * hs + i)]);
                    att_out[size_t(h * hs + i)] = float(acc);
                }
            }
            mat(L.wo, att_out, xb);
            for (int i = 0; i < dim; ++i) x[size_t(i)] += xb[size_t(i)];
            rmsnorm(x, L.ffn_norm, xb);
            mat(L.w1, xb, h1);
            mat(L.w3, xb, h3);
            for (size_t i = 0; i < h1.size(); ++i) h1[i] = h1[i] / (1.0f + std::exp(-h1[i])) * h3[i];
            mat(L.w2, h1, xb);
            for (int i = 0; i < dim; ++i) x[size_t(i)] += xb[size_t(i)];
        }
        rmsnorm(x, m_.output_norm, xb);
        std::vector<float> logits(size_t(c_.vocab_size));
        mat(m_.output, xb, logits);
        return logits;
    }

private:
    static float f16(float v) { return fp16_to_fp32(fp32_to_fp16(v)); }

    void rmsnorm(const std::vector<float>& x, const GgufTensorInfo* w, std::vector<float>& out) const {
        double ss = 0;
        for (float v : x) ss += double(v * v);
        const float scale = 1.0f / std::sqrt(float(ss / double(x.size())) + c_.rms_eps);
        for (size_t i = 0; i < x.size(); ++i) {
            float wi;
            std::memcpy(&wi, w->data + 4 * i, 4);
            out[i] = x[i] * scale * wi;
        }
    }

    void rope(std::vector<float>& v, int pos) const {
        const int hs = c_.head_size();
        const float theta_scale = std::pow(c_.rope_freq_base, -2.0f / float(hs));
        for (size_t h = 0; h < v.size() / size_t(hs); ++h) {
            float theta = float(pos);
            for (int i = 0; i < hs; i += 2) {
                float* p = &v[h * size_t(hs) + size_t(i)];
                const float c = std::cos(theta), s = std::sin(theta);
                const float x0 = p[0], x1 = p[1];
                p[0] = x0 * c - x1 * s;
                p[1] = x0 * s + x1 * c;
                theta *= theta_scale;
            }
        }
    }

    void mat(const GgufTensorInfo* w, const std::vector<float>& x, std::vector<float>& out) const {
        const GgmlType t = w->ggml_type();
        const size_t n = size_t(w->ne[0]), rows = size_t(w->ne[1]);
        if (llama_) return matvec(t, w->data, rows, n, x.data(), out.data());
        std::vector<float> row(n);
        for (size_t r = 0; r < rows; ++r) {
            dequantize_row(t, w->data + r * row_bytes(t, n), row.data(), n);
            float acc = 0;
            for (size_t j = 0; j < n; ++j) acc += row[j] * x[j];
            out[r] = acc;
        }
    }

    const GgufLlama& m_;
    const GgufLlamaConfig& c_;
    bool llama_;
    int max_pos_;
    std::vector<float> kcache_, vcache_;
};

struct LogitsDiff {
    double max_abs = 0;   // largest |ours - llama.cpp| over all positions and tokens
    double pos0_abs = 0;  // the same at position 0 (no attention history)
    int leading = 0;      // positions from 0 on that agree within 1e-5
    int argmax_agree = 0;
};

LogitsDiff compare_with_llama_cpp(const std::string& stem, bool llama_arithmetic) {
    GgufFile f(gguf_path(stem + ".gguf"));
    const GgufLlama m = read_llama(f);
    const LlamaCppLogits ref = read_logits(gguf_path(stem + ".logits"));
    ScalarForward fwd(m, llama_arithmetic, int(ref.tokens.size()));
    LogitsDiff d;
    for (size_t p = 0; p < ref.tokens.size(); ++p) {
        const std::vector<float> ours = fwd.step(ref.tokens[p], int(p));
        size_t a = 0, b = 0;
        double here = 0;
        for (size_t i = 0; i < ours.size(); ++i) {
            here = std::max(here, std::fabs(double(ours[i]) - ref.logits[p][i]));
            if (ours[i] > ours[a]) a = i;
            if (ref.logits[p][i] > ref.logits[p][b]) b = i;
        }
        d.max_abs = std::max(d.max_abs, here);
        if (p == 0) d.pos0_abs = here;
        if (here < 1e-5 && d.leading == int(p)) ++d.leading;
        d.argmax_agree += a == b;
    }
    return d;
}

// The strongest check of the type arithmetic: a whole forward pass over llama.cpp's files,
// fed llama.cpp's tokens, against llama.cpp's logits (one CPU thread, a SIMD build).
// Measured (docs/gguf.md): at position 0 every file agrees within 5e-6, so each type's
// arithmetic is llama.cpp's up to the order of float sums. Later positions agree to ~1e-6 until
// one rounding lands on the other side in one run (an fp16 KV or softmax value, an 8-bit
// activation), after which the KV cache carries a difference of up to 0.07. With 8-bit
// activations our arithmetic must stay closer to llama.cpp than the dequantized fp32 forward.
TEST(GgufReal, ScalarForwardMatchesLlamaCppLogits) {
    LHB_REQUIRE_MODELS();
    const struct {
        const char* stem;
        bool eight_bit_activations;
    } cases[] = {
        {"stories260K-f32", false}, {"synth256-f32", false}, {"synth256-f16", false}, {"synth256-q8_0", true},
        {"synth256-q4_0", true},    {"synth256-q6_k", true}, {"synth256-q4_k_m", true},
    };
    for (const auto& c : cases) {
        const LogitsDiff ours = compare_with_llama_cpp(c.stem, true);
        const LogitsDiff plain = compare_with_llama_cpp(c.stem, false);
        const size_t n = read_logits(gguf_path(std::string(c.stem) + ".logits")).tokens.size();
        std::printf("[ logits   ] %-16s ours: pos 0 %.2g, all %.2g, first %d/%zu within 1e-5, argmax %d/%zu; "
                    "dequantized fp32: pos 0 %.2g, all %.2g\n",
                    c.stem, ours.pos0_abs, ours.max_abs, ours.leading, n, ours.argmax_agree, n, plain.pos0_abs,
                    plain.max_abs);
        EXPECT_LT(ours.pos0_abs, 1e-5) << c.stem;
        EXPECT_LT(ours.max_abs, 0.15) << c.stem;
        EXPECT_EQ(ours.argmax_agree, int(n)) << c.stem;
        if (c.eight_bit_activations) {
            EXPECT_LT(ours.max_abs, plain.max_abs) << c.stem;
            EXPECT_GT(plain.pos0_abs, 100 * ours.pos0_abs) << c.stem;  // the activation rounding is visible
        }
    }
}

// ---- synthetic files ---------------------------------------------------------------------

GgufLlamaConfig tiny_config() {
    GgufLlamaConfig c;
    c.dim = 32;
    c.hidden_dim = 64;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.vocab_size = 264;
    c.context_length = 16;
    return c;
}

TEST(GgufSynthetic, WriterOutputReadsBackInEveryType) {
    for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0}) {
        for (bool tied : {false, true}) {
            const std::string bytes = synthetic_llama_gguf(tiny_config(), type, tied, 3);
            GgufFile f("tiny.gguf", reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
            const GgufLlama m = read_llama(f);
            EXPECT_EQ(m.config.dim, 32);
            EXPECT_EQ(m.config.n_kv_heads, 2);
            EXPECT_EQ(m.tied_output, tied);
            EXPECT_EQ(m.output == m.token_embd, tied);
            EXPECT_EQ(m.layers[1].w2->ggml_type(), type);
            EXPECT_EQ(m.layers[1].w2->ne[0], 64u);
            EXPECT_EQ(m.layers[1].w2->ne[1], 32u);
            EXPECT_EQ(gguf_tokenizer(f).vocab_size(), 264);
        }
    }
    // K-quants need rows of 256.
    GgufLlamaConfig c = tiny_config();
    c.dim = 256;
    c.hidden_dim = 512;
    c.n_heads = 8;
    c.n_kv_heads = 8;
    for (GgmlType type : {GgmlType::Q4_K, GgmlType::Q6_K}) {
        const std::string bytes = synthetic_llama_gguf(c, type, true, 3);
        GgufFile f("k.gguf", reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
        EXPECT_EQ(read_llama(f).layers[0].wq->ggml_type(), type);
    }
}

TEST(GgufSynthetic, MetadataOfEveryValueTypeAndNestedArrays) {
    GgufWriter w;
    w.add_raw("u8", GgufType::UINT8, std::string(1, char(200)));
    w.add_raw("i8", GgufType::INT8, std::string(1, char(-5)));
    w.add_raw("u16", GgufType::UINT16, std::string("\x34\x12", 2));
    w.add_raw("i16", GgufType::INT16, std::string("\xfe\xff", 2));
    w.add_u32("u32", 4000000000u);
    w.add_i32("i32", -7);
    w.add_f32("f32", 0.25f);
    w.add_bool("bool", true);
    w.add_string("str", "h\xc3\xa9llo");
    w.add_u64("u64", 1ull << 60);
    w.add_raw("i64", GgufType::INT64, GgufWriter::encode_u64(uint64_t(-9)));
    double d = -1.5;
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    w.add_raw("f64", GgufType::FLOAT64, GgufWriter::encode_u64(bits));
    w.add_i32s("ints", {1, -2, 3});
    // [[1, 2], []] as an array of uint8 arrays, and an array of string arrays.
    const std::string inner = GgufWriter::encode_u32(uint32_t(GgufType::UINT8)) + GgufWriter::encode_u64(2) + "\x01\x02" +
                              GgufWriter::encode_u32(uint32_t(GgufType::UINT8)) + GgufWriter::encode_u64(0);
    w.add_raw("nested", GgufType::ARRAY, GgufWriter::encode_u32(uint32_t(GgufType::ARRAY)) + GgufWriter::encode_u64(2) + inner);
    w.add_raw("nested_str", GgufType::ARRAY,
              GgufWriter::encode_u32(uint32_t(GgufType::ARRAY)) + GgufWriter::encode_u64(1) +
                  GgufWriter::encode_u32(uint32_t(GgufType::STRING)) + GgufWriter::encode_u64(1) +
                  GgufWriter::encode_string("x"));
    const std::string bytes = w.bytes(2);
    GgufFile f("meta.gguf", reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    EXPECT_EQ(f.version(), 2u);
    EXPECT_TRUE(f.tensors().empty());
    EXPECT_EQ(f.find("u8")->u, 200u);
    EXPECT_EQ(f.find("i8")->i, -5);
    EXPECT_EQ(f.find("u16")->u, 0x1234u);
    EXPECT_EQ(f.find("i16")->i, -2);
    EXPECT_EQ(f.get_uint("u32", 0, 4000000000u), 4000000000u);
    EXPECT_EQ(f.find("i32")->i, -7);
    EXPECT_EQ(f.get_float("f32"), 0.25);
    EXPECT_EQ(f.find("bool")->u, 1u);
    EXPECT_EQ(f.get_string("str"), "h\xc3\xa9llo");
    EXPECT_EQ(f.find("u64")->u, 1ull << 60);
    EXPECT_EQ(f.find("i64")->i, -9);
    EXPECT_EQ(f.get_float("f64"), -1.5);
    const GgufValue& ints = f.get_array("ints", GgufType::INT32);
    ASSERT_EQ(ints.count, 3u);
    EXPECT_EQ(ints.int_at(1), -2);
    const GgufValue& nested = f.get_array("nested", GgufType::ARRAY);
    ASSERT_EQ(nested.items.size(), 2u);
    EXPECT_EQ(nested.items[0].count, 2u);
    EXPECT_EQ(nested.items[0].int_at(1), 2);
    EXPECT_EQ(nested.items[1].count, 0u);
    EXPECT_EQ(f.get_array("nested_str", GgufType::ARRAY).items[0].strings[0], "x");
    EXPECT_EQ(f.find("absent"), nullptr);
}

// ---- malformed files ---------------------------------------------------------------------

const std::string kName = "bad.gguf";

// The reader's verdict on `bytes` (over memory, and, for the first case of each kind, through
// a real file): "" if it loads (file and llama view), else the one-line message.
std::string verdict(const std::string& bytes) {
    try {
        GgufFile f(kName, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
        (void)read_llama(f);
        (void)gguf_tokenizer(f);
        return "";
    } catch (const InputError& e) {
        return e.what();
    }
}

// Expects an InputError whose single line starts with the file name and names `field`.
void expect_refused(const std::string& bytes, const std::string& field, const std::string& why) {
    const std::string msg = verdict(bytes);
    ASSERT_FALSE(msg.empty()) << why << ": loaded";
    EXPECT_EQ(msg.rfind(kName + ": ", 0), 0u) << why << ": " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << why << ": " << msg;
    EXPECT_NE(msg.find(field), std::string::npos) << why << ": expected '" << field << "' in: " << msg;
}

std::string valid_file() { return synthetic_llama_gguf(tiny_config(), GgmlType::Q8_0, false, 5); }

size_t find_or_die(const std::string& bytes, const std::string& what, size_t from = 0) {
    const size_t at = bytes.find(what, from);
    if (at == std::string::npos) throw std::runtime_error("test file has no " + what);
    return at;
}

void put_u64(std::string& bytes, size_t at, uint64_t v) { bytes.replace(at, 8, GgufWriter::encode_u64(v)); }
void put_u32(std::string& bytes, size_t at, uint32_t v) { bytes.replace(at, 4, GgufWriter::encode_u32(v)); }

// Offset of a tensor info's field after its name: n_dims, then dims, type, offset.
struct TensorInfoAt {
    size_t n_dims, type, offset;
};
TensorInfoAt tensor_info_at(const std::string& bytes, const std::string& name, int n_dims) {
    // The name is preceded by its 8-byte length; search the info section (after the metadata).
    const size_t after_meta = find_or_die(bytes, "tokenizer.ggml.eos_token_id");
    const size_t at = bytes.find(GgufWriter::encode_string(name), after_meta);
    if (at == std::string::npos) throw std::runtime_error("no tensor info " + name);
    TensorInfoAt t;
    t.n_dims = at + 8 + name.size();
    t.type = t.n_dims + 4 + 8 * size_t(n_dims);
    t.offset = t.type + 4;
    return t;
}

TEST(GgufMalformed, ValidFileLoads) { EXPECT_EQ(verdict(valid_file()), ""); }

TEST(GgufMalformed, TruncatedAtManyOffsets) {
    const std::string good = valid_file();
    GgufFile probe(kName, reinterpret_cast<const unsigned char*>(good.data()), good.size());
    const size_t header_end = size_t(probe.data_offset());
    std::vector<size_t> cuts;
    for (size_t k = 0; k < header_end; k += 1 + k / 64) cuts.push_back(k);  // dense in the header
    for (size_t k = header_end; k < good.size(); k += 997) cuts.push_back(k);
    cuts.push_back(good.size() - 1);
    for (size_t cut : cuts) {
        const std::string msg = verdict(good.substr(0, cut));
        ASSERT_FALSE(msg.empty()) << "truncated at " << cut << " loaded";
        EXPECT_EQ(msg.rfind(kName + ": ", 0), 0u) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
    EXPECT_GT(cuts.size(), 200u);
}

TEST(GgufMalformed, HeaderFields) {
    std::string b = valid_file();
    b[0] = 'X';
    expect_refused(b, "magic", "bad magic");
    b = valid_file();
    put_u32(b, 4, 1);
    expect_refused(b, "version", "version 1");
    put_u32(b, 4, 0x03000000u);
    expect_refused(b, "big-endian", "big-endian");
    b = valid_file();
    put_u64(b, 8, 1ull << 40);
    expect_refused(b, "tensor_count", "tensor count 2^40");
    b = valid_file();
    put_u64(b, 16, 1ull << 40);
    expect_refused(b, "metadata_kv_count", "kv count 2^40");
    b = valid_file();
    put_u64(b, 16, 1000);  // fewer than 1000 key/values: the reader runs into the tensor infos
    expect_refused(b, "metadata", "kv count past the metadata");
}

TEST(GgufMalformed, HugeStringAndArrayLengths) {
    std::string b = valid_file();
    const size_t key = find_or_die(b, "general.architecture");
    put_u64(b, key - 8, 1ull << 63);
    expect_refused(b, "metadata 0 key", "key length 2^63");

    b = valid_file();
    const size_t value = find_or_die(b, "llama") - 8;  // the architecture's value string
    put_u64(b, value, 1ull << 63);
    expect_refused(b, "('general.architecture') string", "string length 2^63");

    b = valid_file();
    const size_t tokens = find_or_die(b, "tokenizer.ggml.tokens") + std::string("tokenizer.ggml.tokens").size();
    put_u64(b, tokens + 4 + 4, 1ull << 40);  // after the value type and the element type
    expect_refused(b, "('tokenizer.ggml.tokens') array count", "array of 2^40 strings");

    b = valid_file();
    const size_t scores = find_or_die(b, "tokenizer.ggml.scores") + std::string("tokenizer.ggml.scores").size();
    put_u64(b, scores + 8, 1ull << 40);
    expect_refused(b, "('tokenizer.ggml.scores') array count", "array of 2^40 floats");
    put_u64(b, scores + 8, 1ull << 20);  // under the stated maximum, over the file
    expect_refused(b, "bytes left in the file", "array longer than the file");

    b = valid_file();
    const size_t piece = find_or_die(b, "<unk>") - 8;  // tokens element 0
    put_u64(b, piece, 1ull << 63);
    expect_refused(b, "element 0 string", "token string length 2^63");
}

TEST(GgufMalformed, TensorOffsetsTypesAndNames) {
    const std::string good = valid_file();
    std::string b = good;
    TensorInfoAt t = tensor_info_at(b, "blk.1.ffn_up.weight", 2);
    put_u64(b, t.offset, 1ull << 62);
    expect_refused(b, "tensor 20 ('blk.1.ffn_up.weight') offset", "offset past the end");
    put_u64(b, t.offset, uint64_t(-32));
    expect_refused(b, "('blk.1.ffn_up.weight') offset", "offset near 2^64");

    b = good;
    put_u64(b, t.offset, 40);
    expect_refused(b, "multiple of the alignment 32", "misaligned offset");

    b = good;
    put_u64(b, t.offset, 0);  // on top of token_embd.weight
    expect_refused(b, "the end of tensor 'token_embd.weight'", "overlapping tensors");

    b = good;
    put_u32(b, t.type, 99);
    expect_refused(b, "('blk.1.ffn_up.weight') type", "unknown type 99");
    put_u32(b, t.type, 16);
    expect_refused(b, "16 (IQ2_XXS)", "type without a layout");

    // A type with a layout we do not compute with: the llama view names tensor and type.
    // BF16 has F16's size, so only the type is wrong.
    b = synthetic_llama_gguf(tiny_config(), GgmlType::F16, false, 5);
    t = tensor_info_at(b, "blk.0.attn_q.weight", 2);
    put_u32(b, t.type, uint32_t(GgmlType::BF16));
    expect_refused(b, "tensor blk.0.attn_q.weight: type: expected one of F32, F16, Q8_0, Q4_0, Q4_K, Q6_K, found BF16",
                   "BF16 matrix");

    b = good;
    t = tensor_info_at(b, "blk.0.attn_norm.weight", 1);
    put_u32(b, t.type, uint32_t(GgmlType::I32));  // 4 bytes per element like F32
    expect_refused(b, "tensor blk.0.attn_norm.weight: type: expected F32 (norm weights), found I32", "I32 norm");

    b = good;
    const size_t k_name = find_or_die(b, GgufWriter::encode_string("blk.0.attn_k.weight"));
    b[k_name + 8 + std::string("blk.0.attn_").size()] = 'q';  // a second blk.0.attn_q.weight
    expect_refused(b, "a second 'blk.0.attn_q.weight'", "duplicate tensor name");

    b = good;
    t = tensor_info_at(b, "blk.0.attn_k.weight", 2);
    put_u32(b, t.n_dims, 5);
    expect_refused(b, "n_dims", "5 dimensions");
    b = good;
    put_u64(b, t.n_dims + 12, 0);
    expect_refused(b, "('blk.0.attn_k.weight') dimension: expected at least 1, found 0", "empty dimension");

    b = good;
    t = tensor_info_at(b, "blk.0.attn_k.weight", 2);
    put_u64(b, t.n_dims + 4, 33);  // row length not a multiple of the Q8_0 block
    expect_refused(b, "dimension 0", "partial block");
    put_u64(b, t.n_dims + 4, 1ull << 40);
    put_u64(b, t.n_dims + 12, 1ull << 40);
    expect_refused(b, "dimensions", "2^80 elements");
}

TEST(GgufMalformed, MetadataKeysAndTypes) {
    const std::string good = valid_file();
    std::string b;
    GgufWriter w;
    w.add_u32("a.key", 1);
    w.add_u32("a.key", 2);
    std::string dup = w.bytes();
    const std::string msg = verdict(dup);
    EXPECT_NE(msg.find("a second 'a.key'"), std::string::npos) << msg;

    b = good;
    const size_t type_at = find_or_die(b, "llama.block_count") + std::string("llama.block_count").size();
    put_u32(b, type_at, 13);
    expect_refused(b, "('llama.block_count') value type", "value type 13");

    // general.alignment: power of two, uint32.
    GgufWriter a;
    a.add_u32("general.alignment", 48);
    expect_refused(a.bytes(), "general.alignment: expected a power of two, found 48", "alignment 48");
    GgufWriter a2;
    a2.add_u64("general.alignment", 64);
    expect_refused(a2.bytes(), "general.alignment: expected a uint32", "alignment as uint64");

    // Arrays nested three deep.
    const std::string leaf = GgufWriter::encode_u32(uint32_t(GgufType::UINT8)) + GgufWriter::encode_u64(0);
    const std::string two = GgufWriter::encode_u32(uint32_t(GgufType::ARRAY)) + GgufWriter::encode_u64(1) + leaf;
    GgufWriter n;
    n.add_raw("deep", GgufType::ARRAY, GgufWriter::encode_u32(uint32_t(GgufType::ARRAY)) + GgufWriter::encode_u64(1) + two);
    expect_refused(n.bytes(), "arrays nested at most 2 deep", "three-deep array");
    GgufWriter many;
    many.add_raw("many", GgufType::ARRAY,
                 GgufWriter::encode_u32(uint32_t(GgufType::ARRAY)) + GgufWriter::encode_u64(GgufLimits::kMaxNestedArrays + 1));
    expect_refused(many.bytes(), "array count: expected at most 65536", "too many inner arrays");

    GgufWriter bl;
    bl.add_raw("flag", GgufType::BOOL, std::string(1, '\x02'));
    expect_refused(bl.bytes(), "bool value: expected 0 or 1", "bool 2");
}

TEST(GgufMalformed, LlamaHyperparametersAndArchitecture) {
    std::string b = valid_file();
    const size_t arch = find_or_die(b, "llama");  // the value of general.architecture
    b.replace(arch, 5, "gpt2x");
    expect_refused(b, "general.architecture: expected 'llama' (the only architecture read), found 'gpt2x'",
                   "another architecture");

    auto set_u32 = [](std::string bytes, const std::string& key, uint32_t v) {
        // The key with its length prefix is unique; the value follows its 4-byte type.
        const size_t at = find_or_die(bytes, GgufWriter::encode_string(key)) + 8 + key.size() + 4;
        put_u32(bytes, at, v);
        return bytes;
    };
    expect_refused(set_u32(valid_file(), "llama.attention.head_count_kv", 3), "llama.attention.head_count_kv",
                   "kv heads not dividing heads");
    expect_refused(set_u32(valid_file(), "llama.attention.head_count", 5), "llama.attention.head_count",
                   "heads not dividing dim");
    expect_refused(set_u32(valid_file(), "llama.block_count", 3), "tensor blk.2.attn_norm.weight", "missing layer");
    expect_refused(set_u32(valid_file(), "llama.block_count", 1), "'blk.1.attn_norm.weight'", "extra layer");
    expect_refused(set_u32(valid_file(), "llama.block_count", 0), "llama.block_count: expected an integer in [1, 1024]",
                   "zero layers");
    expect_refused(set_u32(valid_file(), "llama.feed_forward_length", 128),
                   "tensor blk.0.ffn_gate.weight: shape: expected [32, 128] (GGUF order, row length first), found [32, 64]",
                   "hidden 128");
    expect_refused(set_u32(valid_file(), "llama.rope.dimension_count", 4), "llama.rope.dimension_count",
                   "partial rotary");
    expect_refused(set_u32(valid_file(), "tokenizer.ggml.bos_token_id", 5), "tokenizer.ggml.bos_token_id",
                   "BOS id 5");
    expect_refused(set_u32(valid_file(), "tokenizer.ggml.eos_token_id", 264), "tokenizer.ggml.eos_token_id",
                   "EOS id past the vocabulary");

    b = valid_file();
    const size_t model = find_or_die(b, "llama", find_or_die(b, "tokenizer.ggml.model"));
    b.replace(model, 5, "gpt2x");
    expect_refused(b, "tokenizer.ggml.model", "BPE tokenizer");

    b = valid_file();
    b.replace(find_or_die(b, "<0x41>"), 6, "<0x4X>");
    expect_refused(b, "tokenizer.ggml.tokens element 68", "byte piece misspelt");
}

TEST(GgufMalformed, RealFileMessageNamesThePath) {
    test::TempDir dir;
    const std::string path = dir.file("cut.gguf");
    test::write_file(path, valid_file().substr(0, 100));
    try {
        GgufFile f(path);
        FAIL() << "loaded";
    } catch (const InputError& e) {
        EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
    }
    EXPECT_THROW(GgufFile(dir.file("absent.gguf")), InputError);
}

}  // namespace
}  // namespace lhb
