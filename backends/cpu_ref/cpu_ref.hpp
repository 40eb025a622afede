#pragma once
// cpu-ref: the golden reference. Every op is Backend's own, llama2.c's run.c arithmetic
// order (core/exact_ops.hpp), so its tokens and logits match llama2.c bit for bit.
#include "core/backend.hpp"
#include "core/llama_cpp_ops.hpp"

namespace lhb {

class CpuRefBackend : public Backend {
public:
    std::string name() const override { return "cpu-ref"; }
};

// cpu-ref with kv_type "f16": llama.cpp's attention numerics (an fp16 KV cache, q and the
// softmax weights in fp16) and, because one rounding flip there persists in the cache,
// ggml's float order in every op around them (core/llama_cpp_ops.hpp). Its logits equal
// llama.cpp's CPU build's, not llama2.c's. Matrices of the quantized GGUF types and
// llama2.c's int8 keep cpu-ref's arithmetic.
class CpuRefLlamaCppBackend final : public CpuRefBackend {
public:
    void rmsnorm(float* out, const float* x, const float* weight, int n) override {
        llama_cpp::rmsnorm(out, x, weight, n, norm_eps());
    }
    void matmul(float* out, const float* x, const WeightMatrix& w) override {
        if (!llama_cpp::matmul(out, x, w)) CpuRefBackend::matmul(out, x, w);
    }
    void rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size) override {
        llama_cpp::rope(q, k, pos, dim, kv_dim, head_size, rope_theta());
    }
    void attention(float* out, const float* q, const float* key_cache, const float* value_cache, float* att,
                   int pos, const AttentionShape& shape) override {
        llama_cpp::attention(out, q, key_cache, value_cache, att, pos, shape);
    }
    void swiglu(float* hb, const float* hb2, int n) override { llama_cpp::swiglu(hb, hb2, n); }
};

}  // namespace lhb
