#include "backends/openmp/ggml_kernels.hpp"

#include "backends/openmp/batch_kernels.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <stdexcept>
#include <string>

// Built with -ffp-contract=off (backends/openmp/CMakeLists.txt, the q8 sources): each float
// operation below must round on its own, as quant_types' scalar reference does.

namespace lhb::openmp {

namespace {

using RowDot = float (*)(const unsigned char* row, const GgmlVector& x);
using Rows8Dot = void (*)(const unsigned char* const rows[8], const GgmlVector& x, float out[8]);
// Eight rows against n <= kTokensPerCall tokens' vectors: out[t][i] = row i . x[t].
using Rows8Tokens = void (*)(const unsigned char* const rows[8], const GgmlVector* const x[], int n, float out[][8]);
constexpr int kTokensPerCall = 4;
struct Kernels {
    RowDot row = nullptr;      // one row
    Rows8Dot rows8 = nullptr;  // eight rows (taken when present)
    Rows8Tokens rows8_tokens = nullptr;  // eight rows, several tokens (the batched path, when present)
};

// Portable: the reference itself.
template <GgmlType T>
float dot_reference(const unsigned char* row, const GgmlVector& x) {
    return dot_row(T, row, x.a);
}

Kernels reference_kernels(GgmlType t) {
    switch (t) {
        case GgmlType::F32: return {&dot_reference<GgmlType::F32>};
        case GgmlType::F16: return {&dot_reference<GgmlType::F16>};
        case GgmlType::Q8_0: return {&dot_reference<GgmlType::Q8_0>};
        case GgmlType::Q4_0: return {&dot_reference<GgmlType::Q4_0>};
        case GgmlType::Q4_K: return {&dot_reference<GgmlType::Q4_K>};
        case GgmlType::Q6_K: return {&dot_reference<GgmlType::Q6_K>};
        default: break;
    }
    throw std::logic_error(std::string("openmp ggml matvec: no kernel for ") + ggml_type_name(uint32_t(t)));
}

}  // namespace

}  // namespace lhb::openmp

// The SIMD kernels are GCC's (its target pragmas around a shared .inc); a clang build (the
// fuzz targets) takes the portable kernels, which are the reference's own arithmetic.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LHB_GGML_X86 1
#include <immintrin.h>
// GCC 12's masked-intrinsic wrappers (vpermb's among them) pass a deliberately undefined
// vector and then warn about it; the results do not depend on it (as in q8_kernels.cpp).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#pragma GCC push_options
#pragma GCC target("avx2,f16c")
namespace lhb::openmp::ggml_avx2 {
#define LHB_GGML_VNNI 0
#include "backends/openmp/ggml_simd.inc"
#undef LHB_GGML_VNNI
}  // namespace lhb::openmp::ggml_avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")
namespace lhb::openmp::ggml_avx512 {
#define LHB_GGML_VNNI 1
#include "backends/openmp/ggml_simd.inc"
#undef LHB_GGML_VNNI
}  // namespace lhb::openmp::ggml_avx512
#pragma GCC pop_options
#else
#define LHB_GGML_X86 0
#endif

namespace lhb::openmp {

namespace {
Q8Kernel usable(Q8Kernel k);  // below: the kernel k if this CPU runs it, else the next one down
}  // namespace

void GgmlVector::quantize(GgmlType t, const float* x, int n) {
    type = t;
    a.type = vec_dot_type(t);  // throws for a type without a dot product
    a.n = size_t(n);
    switch (a.type) {
        case VecDotType::F32:
            a.f32.assign(x, x + n);
            return;
        case VecDotType::Q8_0: {
            const size_t nb = size_t(n) / kQK8_0;
            a.q8_0.resize(nb * sizeof(BlockQ8_0));
            block_scale.resize(nb);
            block_sum.resize(nb);
#if LHB_GGML_X86
            // (a tenth of a stories15M Q4_0 token went to the scalar quantizer's round() calls)
            if (usable(Q8Kernel::Avx512Vnni) == Q8Kernel::Avx512Vnni)
                return ggml_avx512::quantize_q8_0_blocks(x, nb, a.q8_0.data(), block_scale.data(), block_sum.data());
#endif
            quantize_row_q8_0(x, a.q8_0.data(), size_t(n));
            for (size_t b = 0; b < nb; ++b) {
                BlockQ8_0 blk;
                std::memcpy(&blk, a.q8_0.data() + b * sizeof blk, sizeof blk);
                block_scale[b] = fp16_to_fp32(blk.d);
                int32_t s = 0;
                for (int8_t q : blk.qs) s += q;
                block_sum[b] = s;
            }
            return;
        }
        case VecDotType::Q8_K:
            a.q8_k.resize(size_t(n) / kQK_K);
            quantize_row_q8_K(x, a.q8_k.data(), size_t(n));
            // Per 32: for each lane l (element index mod 8), its elements l, l+8, l+16, l+24.
            q8_k_by_lane.resize(size_t(n));
            for (size_t b = 0; b < a.q8_k.size(); ++b)
                for (int s = 0; s < kQK_K; s += 32)
                    for (int l = 0; l < 8; ++l)
                        for (int g = 0; g < 4; ++g)
                            q8_k_by_lane[b * kQK_K + size_t(s + 4 * l + g)] = a.q8_k[b].qs[s + l + 8 * g];
            // Per 16: elements l and l+8 side by side, and 32 * their sum (Q6_K).
            q8_k_pairs.resize(size_t(n));
            q8_k_pair_sums32.resize(size_t(n) / 2);
            for (size_t b = 0; b < a.q8_k.size(); ++b)
                for (int s = 0; s < kQK_K; s += 16)
                    for (int l = 0; l < 8; ++l) {
                        const int8_t lo = a.q8_k[b].qs[s + l], hi = a.q8_k[b].qs[s + l + 8];
                        q8_k_pairs[b * kQK_K + size_t(s + 2 * l)] = lo;
                        q8_k_pairs[b * kQK_K + size_t(s + 2 * l + 1)] = hi;
                        q8_k_pair_sums32[(b * kQK_K + size_t(s)) / 2 + size_t(l)] = int16_t(32 * (lo + hi));
                    }
            return;
    }
}

namespace {

// The kernel k if this CPU runs it, else the next one down. The 256-bit vpdpbusd needs
// AVX512-VL beside VNNI, Q4_K's vpermb AVX512-VBMI, and every SIMD kernel F16C.
#if LHB_GGML_X86
// CPUID leaf 1, ECX bit 29. Not __builtin_cpu_supports("f16c"): clang 14 (the fuzz build)
// does not know that name.
bool cpu_has_f16c() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
#endif

Q8Kernel usable(Q8Kernel k) {
#if LHB_GGML_X86
    // Once: CPUID traps to the hypervisor in a VM (microseconds), and the batched path asks
    // per slice of rows.
    static const bool f16c = cpu_has_f16c();
    if (k == Q8Kernel::Avx512Vnni && q8_kernel_supported(k) && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512vbmi") && f16c)
        return k;
    if (k != Q8Kernel::Portable && q8_kernel_supported(Q8Kernel::Avx2) && f16c) return Q8Kernel::Avx2;
#endif
    (void)k;
    return Q8Kernel::Portable;
}

Kernels kernels_for(GgmlType t, Q8Kernel k) {
    Kernels f;
#if LHB_GGML_X86
    if (k == Q8Kernel::Avx512Vnni) f = ggml_avx512::kernels(t);
    if (k == Q8Kernel::Avx2) f = ggml_avx2::kernels(t);
#endif
    (void)k;
    return f.row || f.rows8 ? f : reference_kernels(t);
}

void check_activations(const WeightMatrix& m, const GgmlVector& x) {
    if (m.dtype != DType::Ggml || vec_dot_type(x.type) != vec_dot_type(m.ggml_type) || x.a.n != size_t(m.cols))
        throw std::logic_error(std::string("openmp ggml matvec: activations converted for ") +
                               ggml_type_name(uint32_t(x.type)) + " x " + std::to_string(x.a.n) + ", matrix is " +
                               ggml_type_name(uint32_t(m.ggml_type)) + " x " + std::to_string(m.cols));
}

// Rows [row_begin, row_end) of m against x with the kernels f; out[0] is row_begin's.
void rows_with(const Kernels& f, float* out, const WeightMatrix& m, const GgmlVector& x, int row_begin, int row_end,
               bool add) {
    const size_t stride = row_bytes(m.ggml_type, size_t(m.cols));
    auto put = [&](int r, float v) {
        float& o = out[r - row_begin];
        o = add ? o + v : v;
    };
    if (f.rows8) {
        // Eight rows per call; a last partial group repeats its last row in the spare lanes.
        for (int r0 = row_begin; r0 < row_end; r0 += 8) {
            const int n = row_end - r0 < 8 ? row_end - r0 : 8;
            const unsigned char* rows[8];
            for (int i = 0; i < 8; ++i) rows[i] = m.blocks + size_t(r0 + (i < n ? i : n - 1)) * stride;
            float v[8];
            f.rows8(rows, x, v);
            for (int i = 0; i < n; ++i) put(r0 + i, v[i]);
        }
        return;
    }
    const unsigned char* row = m.blocks + size_t(row_begin) * stride;
    for (int r = row_begin; r < row_end; ++r, row += stride) put(r, f.row(row, x));
}

}  // namespace

void matvec_ggml(float* out, const WeightMatrix& m, const GgmlVector& x, int row_begin, int row_end, bool add,
                 Q8Kernel k) {
    check_activations(m, x);
    rows_with(kernels_for(m.ggml_type, usable(k)), out, m, x, row_begin, row_end, add);
}

void matmul_ggml_block(float* out, int64_t out_stride, const WeightMatrix& m, const GgmlVector* x, int n,
                       int row_begin, int row_end, Q8Kernel k) {
    for (int t = 0; t < n; ++t) check_activations(m, x[t]);
    if ((m.ggml_type == GgmlType::Q8_0 || m.ggml_type == GgmlType::Q4_0) && k == Q8Kernel::Avx512Vnni &&
        q8_kernel_supported(k))
        return matmul_ggml_q4q8_vnni(out, out_stride, m, x, n, row_begin, row_end);
    const Kernels f = kernels_for(m.ggml_type, usable(k));
    // Slices of about kSliceBytes (whole groups of 8 rows): small enough to stay in L1/L2
    // while every token reads them, so memory sees each block once per call.
    constexpr size_t kSliceBytes = size_t(32) << 10;
    const size_t stride = row_bytes(m.ggml_type, size_t(m.cols));
    const int slice = int(std::max<size_t>(1, kSliceBytes / stride / 8)) * 8;
    for (int r0 = row_begin; r0 < row_end; r0 += slice) {
        const int r1 = std::min(row_end, r0 + slice);
        if (!f.rows8_tokens) {
            for (int t = 0; t < n; ++t) rows_with(f, out + t * out_stride + (r0 - row_begin), m, x[t], r0, r1, false);
            continue;
        }
        // Eight rows' blocks prepared once for kTokensPerCall tokens (a last partial group of
        // rows repeats its last row, as rows_with does).
        for (int g = r0; g < r1; g += 8) {
            const int nr = std::min(8, r1 - g);
            const unsigned char* rows[8];
            for (int i = 0; i < 8; ++i) rows[i] = m.blocks + size_t(g + (i < nr ? i : nr - 1)) * stride;
            for (int t = 0; t < n; t += kTokensPerCall) {
                const int nt = std::min(kTokensPerCall, n - t);
                const GgmlVector* xs[kTokensPerCall];
                for (int j = 0; j < nt; ++j) xs[j] = &x[t + j];
                float v[kTokensPerCall][8];
                f.rows8_tokens(rows, xs, nt, v);
                for (int j = 0; j < nt; ++j)
                    for (int i = 0; i < nr; ++i) out[(t + j) * out_stride + (g + i - row_begin)] = v[j][i];
            }
        }
    }
}

}  // namespace lhb::openmp

namespace lhb::openmp {

namespace {

constexpr int kTileRows = kQ8TileRows;  // as the int8 tiles (the backend cuts shares at multiples of it)

int tile_quant_bytes(GgmlType t) { return t == GgmlType::Q4_0 ? 256 : 512; }  // per block

// The portable tile kernel: the reference's arithmetic, lane by lane.
void tiles_portable(float* out, const unsigned char* p, GgmlType t, const GgmlVector& x, int64_t tile_bytes, int rows,
                    bool add) {
    const bool q4 = t == GgmlType::Q4_0;
    const int nb = int(x.a.n / kQK8_0), qb = tile_quant_bytes(t);
    for (int r0 = 0; r0 < rows; r0 += kTileRows, p += tile_bytes) {
        float sum[kTileRows] = {};
        for (int b = 0; b < nb; ++b) {
            const int8_t* xb = reinterpret_cast<const int8_t*>(x.a.q8_0.data() + size_t(b) * sizeof(BlockQ8_0) + 2);
            const unsigned char* q = p + int64_t(b) * qb;
            for (int r = 0; r < kTileRows; ++r) {
                int isum = 0;
                for (int c = 0; c < qb / 64; ++c)
                    for (int j = 0; j < 4; ++j) {
                        const unsigned char v = q[64 * c + 4 * r + j];
                        if (q4)
                            isum += ((v & 0x0f) - 8) * xb[4 * c + j] + ((v >> 4) - 8) * xb[16 + 4 * c + j];
                        else
                            isum += int(int8_t(v ^ 0x80)) * xb[4 * c + j];
                    }
                uint16_t h;
                std::memcpy(&h, p + int64_t(nb) * qb + 32 * b + 2 * r, 2);
                const float wd = fp16_to_fp32(h), xd = x.block_scale[size_t(b)];
                sum[r] += q4 ? float(isum) * wd * xd : float(isum) * (wd * xd);
            }
        }
        const int n = rows - r0 < kTileRows ? rows - r0 : kTileRows;
        for (int r = 0; r < n; ++r) out[r0 + r] = add ? out[r0 + r] + sum[r] : sum[r];
    }
}

}  // namespace

bool ggml_tiled(GgmlType t) { return t == GgmlType::Q8_0 || t == GgmlType::Q4_0; }

int64_t ggml_tile_bytes(GgmlType t, int cols) {
    const int64_t bytes = int64_t(cols / kQK8_0) * (tile_quant_bytes(t) + 2 * kTileRows);
    return (bytes + 63) / 64 * 64;
}

int64_t ggml_packed_bytes(GgmlType t, int rows, int cols) {
    return int64_t((rows + kTileRows - 1) / kTileRows) * ggml_tile_bytes(t, cols);
}

void pack_ggml_rows(const WeightMatrix& m, int row_begin, int row_end, unsigned char* dst) {
    const GgmlType t = m.ggml_type;
    const bool q4 = t == GgmlType::Q4_0;
    const int nb = m.cols / kQK8_0, qb = tile_quant_bytes(t);
    const size_t block = q4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
    const size_t stride = row_bytes(t, size_t(m.cols));
    const int64_t tile = ggml_tile_bytes(t, m.cols);
    for (int r0 = row_begin; r0 < row_end; r0 += kTileRows, dst += tile) {
        std::memset(dst, 0, size_t(tile));
        for (int b = 0; b < nb; ++b)
            for (int r = 0; r < kTileRows; ++r) {
                unsigned char* q = dst + int64_t(b) * qb + 4 * r;
                unsigned char* d = dst + int64_t(nb) * qb + 32 * b + 2 * r;
                if (r0 + r >= row_end) {  // zero quants, scale 0
                    for (int c = 0; c < qb / 64; ++c) std::memset(q + 64 * c, q4 ? 0x88 : 0x80, 4);
                    continue;
                }
                const unsigned char* src = m.blocks + size_t(r0 + r) * stride + size_t(b) * block;
                std::memcpy(d, src, 2);  // the fp16 d, as the file has it
                for (int c = 0; c < qb / 64; ++c)
                    for (int j = 0; j < 4; ++j) q[64 * c + j] = q4 ? src[2 + 4 * c + j] : src[2 + 4 * c + j] ^ 0x80;
            }
    }
}

void unpack_ggml_row(const unsigned char* tiles, GgmlType t, int row, int cols, float* out) {
    const bool q4 = t == GgmlType::Q4_0;
    const int nb = cols / kQK8_0, qb = tile_quant_bytes(t), r = row % kTileRows;
    const unsigned char* p = tiles + int64_t(row / kTileRows) * ggml_tile_bytes(t, cols);
    for (int b = 0; b < nb; ++b) {
        uint16_t h;
        std::memcpy(&h, p + int64_t(nb) * qb + 32 * b + 2 * r, 2);
        const float d = fp16_to_fp32(h);
        float* o = out + b * kQK8_0;
        for (int c = 0; c < qb / 64; ++c)
            for (int j = 0; j < 4; ++j) {
                const unsigned char v = p[int64_t(b) * qb + 64 * c + 4 * r + j];
                if (q4) {
                    o[4 * c + j] = float((v & 0x0f) - 8) * d;
                    o[16 + 4 * c + j] = float((v >> 4) - 8) * d;
                } else {
                    o[4 * c + j] = float(int8_t(v ^ 0x80)) * d;
                }
            }
    }
}

void matvec_ggml_tiles(float* out, const unsigned char* tiles, GgmlType t, const GgmlVector& x, int rows, bool add,
                       Q8Kernel k) {
    if (!ggml_tiled(t) || vec_dot_type(x.type) != VecDotType::Q8_0)
        throw std::logic_error(std::string("openmp ggml tiles: ") + ggml_type_name(uint32_t(t)) + " with activations for " +
                               ggml_type_name(uint32_t(x.type)));
    if (rows <= 0) return;
    const int64_t tile = ggml_tile_bytes(t, int(x.a.n));
#if LHB_GGML_X86
    const Q8Kernel u = usable(k);
    if (u == Q8Kernel::Avx512Vnni) return ggml_avx512::tiles_kernel(t)(out, tiles, x, tile, rows, add);
    if (u == Q8Kernel::Avx2) return ggml_avx2::tiles_kernel(t)(out, tiles, x, tile, rows, add);
#endif
    (void)k;
    tiles_portable(out, tiles, t, x, tile, rows, add);
}

}  // namespace lhb::openmp
