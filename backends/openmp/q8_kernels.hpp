#pragma once
// openmp's int8 (Q8_0) matmul: runq.c's arithmetic (activations quantized per group, int8 x
// int8 products summed exactly in int32 per group, then val += ival * w_scale * x_scale in
// group order), on weights repacked at load time into tiles that a vector unit can stream.
//
// Tile layout (what pack_q8_rows writes, what matvec_q8 reads). A tile is 16 consecutive
// rows; it holds, for each group g of the row (cols / group_size groups), one block of
//   ceil(group_size / 4) chunks of 64 bytes: chunk c holds, for row r = 0..15, the 4 bytes
//     w[r][g*gs + 4c .. 4c+3] stored as (uint8) q ^ 0x80, i.e. q + 128 (columns past the
//     group's end, and rows past the matrix's end, hold q = 0);
//   then 16 fp32 weight scales, row r's scale of group g (0 for rows past the end).
// So one 64-byte load gives 4 columns of 16 rows, which is exactly the operand of one
// AVX-512 VNNI vpdpbusd: each 32-bit lane (one row) accumulates 4 unsigned x signed byte
// products. vpdpbusd multiplies UNSIGNED by SIGNED bytes; the weights are the unsigned side
// (q + 128, in 1..255) and the activations the signed one, so every lane sums
// (q + 128) * xq = q * xq + 128 * xq; the extra 128 * sum(xq over the group) is the same for
// every row, and is subtracted once per group by starting the accumulator at
// Q8Vector::bias[g] = -128 * sum(xq). Nothing saturates (|sum| <= 64 * 255 * 127 < 2^31).
//
// Every block is a multiple of 64 bytes, so a 64-byte aligned stream stays aligned. A
// group size that is not a multiple of 4 is padded to one (zeros on both sides), which
// costs bytes but not correctness.
#include <cstdint>
#include <vector>

#include "core/model.hpp"

namespace lhb::openmp {

constexpr int kQ8TileRows = 16;

// Which implementation runs the int8 kernels. All that the CPU supports are compiled in and
// chosen at run time, so tests can run each one on this host.
enum class Q8Kernel {
    Portable,    // plain C++ (any CPU)
    Avx2,        // 256-bit: |w| (unsigned) x sign-adjusted x (signed) with vpmaddubsw, vpmaddwd
    Avx512Vnni,  // 512-bit vpdpbusd, and an AVX-512 activation quantizer
};
const char* q8_kernel_name(Q8Kernel k);  // "portable", "avx2", "avx512-vnni"
bool q8_kernel_supported(Q8Kernel k);    // by this CPU (and this compiler)
Q8Kernel q8_best_kernel();               // the fastest supported one
std::vector<Q8Kernel> q8_supported_kernels();  // every one this CPU runs, portable first

// One activation vector quantized as runq.c does (core/quantize.hpp,
// quantize_activations_q8: scale = max|x| / 127 per group, q = round half away from zero),
// laid out for the tiles: each group's q padded to padded_group bytes with zeros.
struct Q8Vector {
    int n = 0;
    int group_size = 0;
    int padded_group = 0;  // group_size rounded up to a multiple of 4
    int groups = 0;
    std::vector<int8_t> q;       // groups * padded_group
    std::vector<float> scale;    // groups (NaN for a group holding a NaN or Inf, as runq's)
    std::vector<int32_t> bias;   // groups: -128 * sum of q over the group (see above)
    std::vector<int8_t> scratch;  // the portable quantizer's unpadded output

    // Sizes for n values in groups of group_size (which must divide n); keeps the
    // allocation when the shape is unchanged.
    void reset(int n, int group_size);
};

// Quantizes x[v.n] into v. Bit-identical to quantize_activations_q8 for every kernel.
void quantize_q8(const float* x, Q8Vector& v, Q8Kernel k);

// Bytes of one 16-row tile of a [.][cols] matrix, and of `rows` rows (whole tiles).
int64_t q8_tile_bytes(int cols, int group_size);
int64_t q8_packed_bytes(int rows, int cols, int group_size);

// Writes rows [row_begin, row_end) of the Q8_0 matrix m as q8_packed_bytes(row_end -
// row_begin, ...) bytes of tiles to dst.
void pack_q8_rows(const WeightMatrix& m, int row_begin, int row_end, unsigned char* dst);

// Row `row` (0-based from the first tile) of the tiles at `tiles` of a [.][cols] matrix,
// dequantized as runq.c does (float(q) * scale, the values Model::embedding_row gives).
void unpack_q8_row(const unsigned char* tiles, int row, int cols, int group_size, float* out);

// out[r] = sum over groups g of float(ival) * w_scale * x_scale (runq.c's order and
// rounding, so the result equals cpu-ref's bit for bit) for the `rows` rows whose tiles
// start at `tiles`; when `add` is set, out[r] += that instead (a fused residual add).
void matvec_q8(float* out, const unsigned char* tiles, const Q8Vector& x, int rows, bool add, Q8Kernel k);

}  // namespace lhb::openmp
