#pragma once
// The ops of a LLaMA2 layer in llama2.c's run.c (and, for int8 weights, runq.c's) exact
// arithmetic order and rounding: what cpu-ref runs, what every backend's ops default to
// (core/backend.hpp), and what openmp's int8 pass runs around its int8 matmul. Compiled,
// like the whole project, with -ffp-contract=off: every a * b + c rounds twice, as in
// llama2.c, so results match llama2.c bit for bit.
#include <cstdint>
#include <vector>

#include "core/model.hpp"

namespace lhb {

struct AttentionShape;

namespace exact {

// out[n] = weight * (x / rms(x)), the sum of squares summed in index order, then `eps`
// added (out may alias x). llama2.c's eps is 1e-5f (ModelConfig::norm_eps's default).
void rmsnorm(float* out, const float* x, const float* weight, int n, float eps);

// runq.c's activations quantized for an int8 matmul (reused across calls).
struct Q8Activations {
    std::vector<int8_t> q;
    std::vector<float> scales;
};

// out[w.rows] = W x[w.cols]. fp32: each row summed in order. Q8_0 (runq.c): x quantized per
// group into `xq`, int8 x int8 summed in int32 per group, then scaled by the weight's and
// the activation's group scales, groups in order. Ggml (GGUF blocks): llama.cpp's scalar
// arithmetic, core/quant_types.hpp's matvec (activations converted to the type's
// vec_dot_type, e.g. Q8_0 per 32, then integer dot products; docs/gguf.md).
void matmul(float* out, const float* x, const WeightMatrix& w, Q8Activations& xq);

// cos and sin of pos * freq for each of the head_size / 2 frequencies, freq = 1 /
// theta^(i / head_size) for even i (the angles are the same for every head and every layer
// of a token). llama2.c's theta is 10000.0f (ModelConfig::rope_theta's default).
void rope_angles(float* cos_out, float* sin_out, int pos, int head_size, float theta);
// Rotates the adjacent pairs of vec[lo, hi) (lo even) by those angles: c[f], s[f] for
// f = (i % head_size) / 2.
void rotate_pairs(float* vec, int lo, int hi, int head_size, const float* c, const float* s);
// llama2.c's RoPE: q[dim] always, k only inside kv_dim, in place.
void rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size, float theta);

// In place over x[n], x[0] first.
void softmax(float* x, int n);

// Per query head: scores against key_cache rows 0..pos (scratch att, n_heads * (pos + 1)
// floats), softmax, weighted sum of value_cache rows into out[n_heads * head_size].
void attention(float* out, const float* q, const float* key_cache, const float* value_cache, float* att,
               int pos, const AttentionShape& shape);

// hb[i] = silu(hb[i]) * hb2[i]
void swiglu(float* hb, const float* hb2, int n);

// x[i] += y[i]
void residual_add(float* x, const float* y, int n);

}  // namespace exact
}  // namespace lhb
