#pragma once
// llama.cpp's attention numerics, and the float arithmetic around them, in scalar C++: what
// cpu-ref computes with kv_type "f16" (BackendOptions, `bench generate --kv-type f16`), so
// that its logits are llama.cpp's, not llama2.c's (docs/gguf.md, "llama.cpp's attention
// numerics").
//
// llama.cpp (c392e509, CPU, tokens fed one at a time, no flash attention) keeps K and V in an
// fp16 cache and rounds q and the softmax weights to fp16 for the two attention products. A
// value that lands on the other side of one of those roundings stays in the cache for every
// later position, so a one-ulp difference anywhere upstream can move the logits by ~1e-3
// (measured, docs/gguf.md: with the fp16 cache but llama2.c's float order elsewhere,
// stories260K-f32 is 4.1e-3 from llama.cpp over 25 positions; leaving out any one of ggml's
// F32 dot order, SiLU, RMS norm or RoPE costs up to 4.2e-3 on one of the files; with all of
// them every logit equals llama.cpp's). So every op here follows ggml's CPU code as
// llama.cpp's GGML_NATIVE build compiles it on x86 with AVX-512 (GCC 12): its order of float
// sums, the multiply-adds GCC fused, its polynomial expf. "As built" in a comment means the
// order comes from that build's machine code, not from its C source. Compiled like the rest
// of core with -ffp-contract=off: every fused multiply-add here is an explicit std::fma.
//
// Not followed: llama.cpp's batched prompt (two or more tokens per call go through
// llamafile's sgemm, another order), flash attention, other ISAs (AVX2, NEON sum in other
// lane counts), and the SIMD dot products of the quantized types (core/quant_types.hpp's
// scalar ones stay: docs/gguf.md).
#include <cstdint>

#include "core/model.hpp"

namespace lhb {

struct AttentionShape;

namespace llama_cpp {

// ggml_v_expf (AVX-512), one lane: ggml's range reduction and polynomial (within about 1.5
// ulp of exp, not libm's expf), scaled by 2^n as _mm512_scalef_ps; 0 or infinity once
// n = round(x / ln 2) is beyond -192 or 192.
float simd_expf(float x);

// ggml_vec_dot_f32 as built: 64 elements at a time in 4 x 16 lanes of fused multiply-adds,
// the lanes added as GGML_F32x16_REDUCE and _mm512_reduce_add_ps do; the n % 64 leftovers
// added one by one in index order, their products rounded in blocks of 16 and then 8 (GCC
// vectorized the products), the last < 8 fused.
float dot_f32(const float* x, const float* y, int n);

// out[w.rows] = W x for fp32 weights (dot_f32 per row) and GGUF F16 weights (x rounded to
// fp16, ggml's vec_dot_type, then ggml_vec_dot_f16 per row); false for any other type, which
// the caller computes itself.
bool matmul(float* out, const float* x, const WeightMatrix& w);

// ggml_rms_norm then ggml_mul: the squares (each rounded to float) summed in double, mean
// rounded to float, scale = 1 / sqrtf(mean + eps), out = (x * scale) * weight. out may alias x.
void rmsnorm(float* out, const float* x, const float* weight, int n, float eps);

// ggml_rope_ext, LLAMA_ROPE_TYPE_NORM (adjacent pairs), no YaRN: the angle of pair i is pos
// times theta^(-2/head_size) multiplied i times, cosf and sinf of it; rotated as built:
// x0' = fma(x0, cos, -(x1 * sin)), x1' = fma(x0, sin, x1 * cos). q[dim], k[kv_dim], in place.
void rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size, float theta);

// llama.cpp's attention for one token at `pos` (the KV cache rows 0..pos, fp32 storage):
// K, V and q rounded to fp16; scores by ggml_vec_dot_f16; ggml_soft_max_ext (scale 1 /
// sqrtf(head_size), the masked cells of llama.cpp's cache padded to 32 count as 0, exp by
// simd_expf in lanes of 16, each lane group summed as _mm512_reduce_add_ps and the groups in
// double); the weights rounded to fp16; out by ggml_vec_dot_f16 over the padded cells.
// att: scratch of pos + 1 floats at least.
void attention(float* out, const float* q, const float* key_cache, const float* value_cache, float* att,
               int pos, const AttentionShape& shape);

// ggml_vec_silu_f32 then ggml_mul: silu(x) = x / (1 + simd_expf(-x)) in lanes of 16, the
// n % 16 tail with libm's expf (ggml_silu_f32); hb[i] = silu(hb[i]) * hb2[i].
void swiglu(float* hb, const float* hb2, int n);

}  // namespace llama_cpp
}  // namespace lhb
