#pragma once
// openmp's matrix x block-of-tokens kernels for the batched prompt path
// (OpenMpBackend::matmul_batch, Backend::forward_batch): out[t][r] = W[r] . x[t] for the n
// tokens of a block (up to Backend::kBatchBlock = 32). Decode reads every weight once per
// token; here a thread reads each of its rows (or tiles) once per BLOCK and uses it for
// every token while it is in registers or L1, so a prompt costs the weights' bytes once per
// 32 tokens instead of once per token. Threading is the caller's: each function computes
// one slice of rows for all n tokens. `out` points at token 0's output for the slice's
// first row; token t's is out + t * out_stride.
//
// Results against the decode kernels (kernels.hpp, q8_kernels.hpp, ggml_kernels.hpp):
// - fp32 (batch_f32.cpp, built like kernels.cpp: FMA, -march=native): each (token, row)
//   is ONE multiply-add chain over the columns in order, where decode sums 16 partial
//   sums; so the values differ in the last bits (tolerances, as for decode vs cpu-ref).
// - int8 tiles (batch_q8.cpp, -ffp-contract=off): the same integers and the same float
//   operations in the same order as matvec_q8, so every token's output equals its bit for
//   bit. (The GGUF types' block kernel is matmul_ggml_block in ggml_kernels.hpp, beside the
//   row kernels it reuses.)
#include <cstdint>

#include "backends/openmp/ggml_kernels.hpp"
#include "backends/openmp/q8_kernels.hpp"

namespace lhb::openmp {

// ---- fp32 -------------------------------------------------------------------------------
// The block's activations transposed, x_t[k * width + t] = x[t][k] (zeros for t >= n), so
// that one vector load gives column k of `width` tokens: the kernel then broadcasts each
// weight and multiplies it into all tokens at once (an outer product per column), with
// no horizontal sums. width = f32_block_width(n): 16 or 32.
int f32_block_width(int n);
void transpose_block(float* x_t, const float* x, int n, int cols, int width);

// Rows [row_begin, row_end) of the row-major [.][cols] fp32 matrix w against the n tokens
// of x_t (as transpose_block wrote it).
void matmul_f32_block(float* out, int64_t out_stride, const float* w, const float* x_t, int n, int width, int cols,
                      int row_begin, int row_end);

// ---- int8 tiles -------------------------------------------------------------------------
// `rows` rows from their tiles (pack_q8_rows' layout, starting at `tiles`) against n
// activation vectors, each quantized by quantize_q8: token t's output rows equal
// matvec_q8(tiles, x[t]) bit for bit on every kernel.
void matmul_q8_block(float* out, int64_t out_stride, const unsigned char* tiles, const Q8Vector* x, int n, int rows,
                     Q8Kernel k);

// ---- GGUF Q8_0 / Q4_0 under AVX-512 VNNI --------------------------------------------------
// Rows [row_begin, row_end) of a DType::Ggml Q8_0 or Q4_0 matrix against n vectors converted
// for it: each 16 rows' blocks are first rearranged, in a scratch tile per call, into the
// int8 tiles' chunk layout (q8_kernels.hpp: 4 columns of 16 rows per 64 bytes; Q8_0 as
// q ^ 0x80, Q4_0 as its nibbles 0..15) with the 16 rows' fp16 scales as floats, so one
// vpdpbusd gives 16 rows' partial block sums with no horizontal reduction; then every token
// adds each row's block term with the reference's float operations in its order (Q8_0:
// isum * (d_w * d_x), Q4_0: (isum * d_w) * d_x, block after block), so each token's rows
// equal matvec_ggml's bit for bit. Call only when q8_kernel_supported(Avx512Vnni).
void matmul_ggml_q4q8_vnni(float* out, int64_t out_stride, const WeightMatrix& m, const GgmlVector* x, int n,
                           int row_begin, int row_end);

}  // namespace lhb::openmp
