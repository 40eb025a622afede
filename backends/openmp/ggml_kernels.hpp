#pragma once
// openmp's matvec for GGUF weight types (DType::Ggml: F32, F16, Q8_0, Q4_0, Q4_K, Q6_K),
// computed straight from the file's blocks (no repacked copy), with the activations converted
// to the weight type's vec_dot_type exactly as core/quant_types.hpp does (quantize_row_q8_0 /
// quantize_row_q8_K themselves, once per matvec per thread).
//
// Results against quant_types' dot_row (the reference, llama.cpp's scalar arithmetic):
// - Q8_0, Q4_0, Q4_K, Q6_K: bit-equal on every kernel. The integer parts are exact in any
//   order; the SIMD kernels compute the very integers the reference sums (per block for
//   Q8_0/Q4_0, per lane l = element index mod 8 for the K-quants) and then do the reference's
//   float operations in the reference's order (a sequential per-block float sum for
//   Q8_0/Q4_0, eight float lanes for the K-quants, which is what ggml's scalar code does).
// - F32, F16 (products in float, summed in double): the SIMD kernels sum in 4 x 4 double
//   lanes instead of one sequential double, so the double sums differ by at most about
//   n * 2^-53 * sum |w_i x_i|, and the float results are equal or, rarely, one float step
//   apart (tests: within 1 ulp + n * 2^-52 * sum |w_i x_i|).
// Built with -ffp-contract=off (the q8 sources' flags) so no multiply-add is fused.
#include <cstdint>
#include <vector>

#include "backends/openmp/q8_kernels.hpp"
#include "core/model.hpp"
#include "core/quant_types.hpp"

namespace lhb::openmp {

// The kernels per instruction set reuse the int8 path's choice (Q8Kernel): Portable is
// quant_types' scalar dot_row itself; Avx2 uses vpmaddubsw/vpmaddwd (+F16C); Avx512Vnni
// the same code with vpdpbusd (AVX512-VL; Q8_0/Q4_0 two rows per 512-bit one) and vpermb
// (AVX512-VBMI, Q4_K), compiled for AVX-512.
// Q8_0/Q4_0 run eight rows at a time (one float lane per row), the others row by row.

// One activation vector converted for one weight type, reusable across calls (no
// allocation when the type and length repeat).
struct GgmlVector {
    GgmlType type = GgmlType::F32;       // the weight type it was converted for
    QuantizedActivations a;              // quant_types' layout and values
    std::vector<float> block_scale;      // Q8_0 blocks: the fp16 scale as float
    std::vector<int32_t> block_sum;      // Q8_0 blocks: sum of the 32 q (Q4_0's -8 offset)
    std::vector<int8_t> q8_k_by_lane;    // Q8_K: each 32's q reordered, lane by lane (Q4_K)
    std::vector<int8_t> q8_k_pairs;      // Q8_K: each 16's q as (l, l+8) pairs (Q6_K)
    std::vector<int16_t> q8_k_pair_sums32;  // Q8_K: 32 * (q_l + q_{l+8}) per 16 (Q6_K)

    // x[n] converted as quantize_activations(t, x, n) converts it. n must be a multiple of t's
    // block size.
    void quantize(GgmlType t, const float* x, int n);
};

// out[i] = dot_row(row row_begin + i of m, x) for rows [row_begin, row_end) of the DType::Ggml
// matrix m (x converted for a type with m.ggml_type's vec_dot_type: Q4_0 and Q8_0 share one,
// as Q4_K and Q6_K, F32 and F16 do); out[i] += that when `add` is set. A kernel this CPU
// lacks falls back to the next one down.
void matvec_ggml(float* out, const WeightMatrix& m, const GgmlVector& x, int row_begin, int row_end, bool add,
                 Q8Kernel k);

// The batched prompt path's matrix x block of tokens (batch_kernels.hpp says why): rows
// [row_begin, row_end) of m against n vectors, each converted for m's type; token t's rows
// go to out + t * out_stride and equal matvec_ggml(m, x[t]) bit for bit: slices of rows
// small enough to stay in cache while every token reads them (the blocks come from memory
// once per call, not once per token); Q8_0 and Q4_0 prepare each group of 8 rows' blocks
// once for 4 tokens, the other types run the row kernels per token.
void matmul_ggml_block(float* out, int64_t out_stride, const WeightMatrix& m, const GgmlVector* x, int n,
                       int row_begin, int row_end, Q8Kernel k);

// ---- Q8_0 and Q4_0 as tiles (what load() makes of a model's matrices of these types) ----
// In place, each (row, block) needs its own horizontal reduction before its float term (the
// reference's order), which cost 2.5x the int8 tiles' time at stories15M. Regrouped 16 rows
// at a time, one 512-bit vpdpbusd forms 4 columns of a block for 16 rows in its 16 int32
// lanes, and the 16 rows' float terms are one vector operation, in the same order as before
// (per lane, the reference's sequential sum over blocks): still bit-equal to dot_row. The
// tiles hold the file's bytes regrouped (fp16 scales kept, widened exactly when used), so
// packing them while releasing the file's pages keeps the weights held once.
//
// One tile = 16 rows, nb = cols / 32 blocks, padded to a multiple of 64 bytes:
//   for each block b, its quants, in 64-byte chunks holding 4 bytes of each row r at 4r:
//     Q8_0: 8 chunks, chunk c = q[r][32b + 4c .. 4c + 3] ^ 0x80 (q + 128, unsigned);
//     Q4_0: 4 chunks, chunk c = the block's own bytes qs[4c .. 4c + 3] (low nibbles:
//           elements 4c.., high nibbles: elements 16 + 4c..);
//   then for each block b the 16 rows' fp16 scales (32 bytes).
// Rows past the matrix's end hold zero quants (0x80; 0x88) and scale 0; their outputs are
// not stored.
bool ggml_tiled(GgmlType t);  // Q8_0, Q4_0
int64_t ggml_tile_bytes(GgmlType t, int cols);
int64_t ggml_packed_bytes(GgmlType t, int rows, int cols);  // whole tiles
// Writes rows [row_begin, row_end) of m (a tiled type) as ggml_packed_bytes(...) bytes to dst.
void pack_ggml_rows(const WeightMatrix& m, int row_begin, int row_end, unsigned char* dst);
// Row `row` (from the first tile at `tiles`) dequantized as dequantize_row does.
void unpack_ggml_row(const unsigned char* tiles, GgmlType t, int row, int cols, float* out);
// matvec_ggml for the `rows` rows whose tiles start at `tiles` (x converted for t).
void matvec_ggml_tiles(float* out, const unsigned char* tiles, GgmlType t, const GgmlVector& x, int rows, bool add,
                       Q8Kernel k);

}  // namespace lhb::openmp
