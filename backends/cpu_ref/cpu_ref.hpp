#pragma once
// cpu-ref: the golden reference. Every op in llama2.c's run.c arithmetic order, so its
// tokens and logits match llama2.c bit for bit. Other backends may derive from it to
// reuse ops they do not accelerate.
#include <vector>

#include "core/backend.hpp"

namespace lhb {

class CpuRefBackend : public Backend {
public:
    std::string name() const override { return "cpu-ref"; }
    void rmsnorm(float* out, const float* x, const float* weight, int n) override;
    void matmul(float* out, const float* x, const WeightMatrix& w) override;
    void rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size) override;
    void softmax(float* x, int n) override;
    void attention(float* out, const float* q, const float* key_cache, const float* value_cache,
                   float* att, int pos, const AttentionShape& shape) override;
    void swiglu(float* hb, const float* hb2, int n) override;
    void residual_add(float* x, const float* y, int n) override;

private:
    std::vector<int8_t> xq_;  // activations quantized for an int8 matmul
    std::vector<float> xs_;
};

}  // namespace lhb
