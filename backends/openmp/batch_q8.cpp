#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/openmp/batch_kernels.hpp"
#include "core/quant_types.hpp"

// Built with -ffp-contract=off (the q8 sources' flags): every token's per-group
// `acc += (float(isum) * w_scale) * x_scale` rounds exactly as matvec_q8's (runq.c's) does.
// Each SIMD function carries its own target (as in q8_kernels.cpp), so one build holds every
// kernel and the caller's Q8Kernel picks one.

#if defined(__x86_64__) && defined(__GNUC__)
#define LHB_BATCH_X86 1
#include <immintrin.h>
#define LHB_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define LHB_TARGET_AVX2 __attribute__((target("avx2")))
// GCC 12's AVX-512 intrinsic wrappers pass a deliberately undefined vector and then warn
// about it; the results do not depend on it (as in q8_kernels.cpp).
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#else
#define LHB_BATCH_X86 0
#endif

namespace lhb::openmp {

namespace {

// Tokens whose float sums of one tile are kept at once (16 rows x 32 tokens = 2 KiB).
constexpr int kTokens = 32;

int32_t load_i32(const void* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// Portable: the signed weights (q ^ 0x80 undoes the tiles' bias). Each group's chunks are
// read from L1 once per token; memory sees each tile once per block.
void block_portable(float* out, int64_t os, const unsigned char* p, const Q8Vector* x, int n, int rows) {
    const int ch = x[0].padded_group / 4, G = x[0].groups;
    const int64_t block = 64 * int64_t(ch) + 64;
    for (int r0 = 0; r0 < rows; r0 += kQ8TileRows, p += block * G) {
        const int nr = std::min(kQ8TileRows, rows - r0);
        for (int t = 0; t < n; ++t) {
            float acc[kQ8TileRows] = {};
            const unsigned char* pg = p;
            for (int g = 0; g < G; ++g, pg += block) {
                const int8_t* xq = x[t].q.data() + int64_t(g) * x[t].padded_group;
                int32_t isum[kQ8TileRows] = {};
                for (int c = 0; c < ch; ++c)
                    for (int r = 0; r < kQ8TileRows; ++r)
                        for (int b = 0; b < 4; ++b)
                            isum[r] += int32_t(int8_t(pg[64 * c + 4 * r + b] ^ 0x80)) * int32_t(xq[4 * c + b]);
                float ws[kQ8TileRows];
                std::memcpy(ws, pg + 64 * ch, sizeof ws);
                const float xs = x[t].scale[size_t(g)];
                for (int r = 0; r < kQ8TileRows; ++r) acc[r] += float(isum[r]) * ws[r] * xs;
            }
            for (int r = 0; r < nr; ++r) out[t * os + r0 + r] = acc[r];
        }
    }
}

#if LHB_BATCH_X86

// ---- AVX2: rows 0-7 and 8-15 of a tile in two halves; |w| and x with w's sign, as
// matvec_q8's AVX2 kernel (biased weights would saturate vpmaddubsw's int16 pairs). Each
// chunk's |w| and sign are formed once and used for T tokens.

template <int T>
LHB_TARGET_AVX2 void group_avx2(float* facc, const unsigned char* pg, const Q8Vector* x, int g, int ch) {
    __m256i lo[T], hi[T];
    for (int i = 0; i < T; ++i) lo[i] = hi[i] = _mm256_setzero_si256();
    const __m256i flip = _mm256_set1_epi8(char(0x80)), ones = _mm256_set1_epi16(1);
    for (int c = 0; c < ch; ++c) {
        const __m256i wl = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pg + 64 * c)), flip);
        const __m256i wh = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pg + 64 * c + 32)), flip);
        const __m256i al = _mm256_abs_epi8(wl), ah = _mm256_abs_epi8(wh);
        for (int i = 0; i < T; ++i) {
            const __m256i x4 = _mm256_set1_epi32(load_i32(x[i].q.data() + int64_t(g) * x[i].padded_group + 4 * c));
            lo[i] = _mm256_add_epi32(lo[i], _mm256_madd_epi16(_mm256_maddubs_epi16(al, _mm256_sign_epi8(x4, wl)), ones));
            hi[i] = _mm256_add_epi32(hi[i], _mm256_madd_epi16(_mm256_maddubs_epi16(ah, _mm256_sign_epi8(x4, wh)), ones));
        }
    }
    const float* ws = reinterpret_cast<const float*>(pg + 64 * ch);
    const __m256 wlo = _mm256_loadu_ps(ws), whi = _mm256_loadu_ps(ws + 8);
    for (int i = 0; i < T; ++i) {
        const __m256 xs = _mm256_set1_ps(x[i].scale[size_t(g)]);
        float* f = facc + kQ8TileRows * i;
        _mm256_storeu_ps(f, _mm256_add_ps(_mm256_loadu_ps(f), _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(lo[i]), wlo), xs)));
        _mm256_storeu_ps(f + 8,
                         _mm256_add_ps(_mm256_loadu_ps(f + 8), _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(hi[i]), whi), xs)));
    }
}

// ---- AVX-512 VNNI: one vpdpbusd per chunk per token (16 rows' lanes), each group's
// accumulator starting at the token's -128 * sum(q) as in matvec_q8's kernel.

LHB_TARGET_AVX512 inline __m512i load64(const unsigned char* p) { return _mm512_loadu_si512(p); }

template <int T>
LHB_TARGET_AVX512 void group_vnni(float* facc, const unsigned char* pg, const Q8Vector* x, int g, int ch) {
    __m512i a[T];
    for (int i = 0; i < T; ++i) a[i] = _mm512_set1_epi32(x[i].bias[size_t(g)]);
    for (int c = 0; c < ch; ++c) {
        const __m512i w = load64(pg + 64 * c);
        for (int i = 0; i < T; ++i)
            a[i] = _mm512_dpbusd_epi32(
                a[i], w, _mm512_set1_epi32(load_i32(x[i].q.data() + int64_t(g) * x[i].padded_group + 4 * c)));
    }
    const __m512 ws = _mm512_loadu_ps(pg + 64 * ch);
    for (int i = 0; i < T; ++i) {
        const __m512 xs = _mm512_set1_ps(x[i].scale[size_t(g)]);
        float* f = facc + kQ8TileRows * i;
        _mm512_storeu_ps(f, _mm512_add_ps(_mm512_loadu_ps(f), _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a[i]), ws), xs)));
    }
}

using GroupFn = void (*)(float*, const unsigned char*, const Q8Vector*, int, int);

// Tiles one after another; for each, up to kTokens tokens' sums kept in facc while the
// groups are walked in order (each (token, row) adds its group terms in group order), four
// tokens per pass over a group's chunks.
template <GroupFn Four, GroupFn One>
void block_simd(float* out, int64_t os, const unsigned char* p, const Q8Vector* x, int n, int rows) {
    const int ch = x[0].padded_group / 4, G = x[0].groups;
    const int64_t block = 64 * int64_t(ch) + 64;
    alignas(64) float facc[kTokens * kQ8TileRows];
    for (int r0 = 0; r0 < rows; r0 += kQ8TileRows, p += block * G) {
        const int nr = std::min(kQ8TileRows, rows - r0);
        for (int t0 = 0; t0 < n; t0 += kTokens) {
            const int m = std::min(kTokens, n - t0);
            std::memset(facc, 0, sizeof facc);
            const unsigned char* pg = p;
            for (int g = 0; g < G; ++g, pg += block) {
                int t = 0;
                for (; t + 4 <= m; t += 4) Four(facc + kQ8TileRows * t, pg, x + t0 + t, g, ch);
                for (; t < m; ++t) One(facc + kQ8TileRows * t, pg, x + t0 + t, g, ch);
            }
            for (int t = 0; t < m; ++t) std::memcpy(out + (t0 + t) * os + r0, facc + kQ8TileRows * t, size_t(nr) * sizeof(float));
        }
    }
}

// GGUF Q8_0 / Q4_0: one 16-row tile of nb blocks, rearranged (see batch_kernels.hpp):
// block b is 8 chunks of 64 bytes, then 16 float scales.
constexpr int kQ40Chunks = 8, kGgmlTileBlock = 64 * kQ40Chunks + 64;

// Row by row: each row's block copied as 4-byte pieces into its lane of every chunk, then
// the chunks fixed up in place as whole vectors (Q8_0: ^ 0x80; Q4_0: the nibbles).
template <bool Q4>
LHB_TARGET_AVX512 void rearrange_tile(unsigned char* dst, const WeightMatrix& m, int r0, int nr, int nb) {
    constexpr int kBlock = Q4 ? int(sizeof(BlockQ4_0)) : int(sizeof(BlockQ8_0));
    constexpr int kPieces = Q4 ? 4 : 8;  // 4-byte pieces of a block's quants
    const size_t stride = row_bytes(m.ggml_type, size_t(m.cols));
    for (int r = 0; r < kQ8TileRows; ++r) {
        const unsigned char* row = m.blocks + size_t(r0 + std::min(r, nr - 1)) * stride;  // spare rows repeat the last
        for (int b = 0; b < nb; ++b) {
            const unsigned char* blk = row + size_t(b) * kBlock;
            unsigned char* tb = dst + size_t(b) * kGgmlTileBlock;
            for (int c = 0; c < kPieces; ++c) std::memcpy(tb + 64 * c + 4 * r, blk + 2 + 4 * c, 4);
            uint16_t h;
            std::memcpy(&h, blk, 2);
            std::memcpy(tb + 64 * kQ40Chunks + 2 * r, &h, 2);  // fp16 for now, converted below
        }
    }
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    for (int b = 0; b < nb; ++b) {
        unsigned char* tb = dst + size_t(b) * kGgmlTileBlock;
        if constexpr (Q4) {
            for (int c = 0; c < 4; ++c) {  // bytes 4c..4c+3: elements 4c.. (low nibbles), 16 + 4c.. (high)
                const __m512i q = _mm512_loadu_si512(tb + 64 * c);
                _mm512_storeu_si512(tb + 64 * c, _mm512_and_si512(q, low4));
                _mm512_storeu_si512(tb + 64 * (c + 4), _mm512_and_si512(_mm512_srli_epi16(q, 4), low4));
            }
        } else {
            for (int c = 0; c < kQ40Chunks; ++c)
                _mm512_storeu_si512(tb + 64 * c, _mm512_xor_si512(_mm512_loadu_si512(tb + 64 * c), _mm512_set1_epi8(char(0x80))));
        }
        const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tb + 64 * kQ40Chunks));
        _mm512_storeu_ps(tb + 64 * kQ40Chunks, _mm512_cvtph_ps(d));
    }
}

template <bool Q4, int T>
LHB_TARGET_AVX512 void ggml_tile_tokens(float* out, int64_t os, const unsigned char* tile, const GgmlVector* x, int nb,
                                        int nr) {
    __m512 sum[T];
    for (int i = 0; i < T; ++i) sum[i] = _mm512_setzero_ps();
    for (int b = 0; b < nb; ++b) {
        const unsigned char* tb = tile + size_t(b) * kGgmlTileBlock;
        __m512i a[T];
        for (int i = 0; i < T; ++i)
            a[i] = Q4 ? _mm512_setzero_si512() : _mm512_set1_epi32(-128 * x[i].block_sum[size_t(b)]);
        for (int c = 0; c < kQ40Chunks; ++c) {
            const __m512i w = load64(tb + 64 * c);
            for (int i = 0; i < T; ++i)
                a[i] = _mm512_dpbusd_epi32(
                    a[i], w, _mm512_set1_epi32(load_i32(x[i].a.q8_0.data() + size_t(b) * sizeof(BlockQ8_0) + 2 + 4 * c)));
        }
        const __m512 wd = _mm512_loadu_ps(tb + 64 * kQ40Chunks);
        for (int i = 0; i < T; ++i) {
            if constexpr (Q4) a[i] = _mm512_sub_epi32(a[i], _mm512_set1_epi32(8 * x[i].block_sum[size_t(b)]));
            const __m512 fi = _mm512_cvtepi32_ps(a[i]);
            const __m512 xd = _mm512_set1_ps(x[i].block_scale[size_t(b)]);
            sum[i] = _mm512_add_ps(sum[i], Q4 ? _mm512_mul_ps(_mm512_mul_ps(fi, wd), xd) : _mm512_mul_ps(fi, _mm512_mul_ps(wd, xd)));
        }
    }
    for (int i = 0; i < T; ++i) _mm512_mask_storeu_ps(out + i * os, __mmask16((1u << nr) - 1u), sum[i]);
}

template <bool Q4>
void ggml_q4q8_vnni(float* out, int64_t os, const WeightMatrix& m, const GgmlVector* x, int n, int lo, int hi) {
    const int nb = m.cols / 32;
    std::vector<unsigned char> tile(size_t(nb) * kGgmlTileBlock);
    for (int r0 = lo; r0 < hi; r0 += kQ8TileRows) {
        const int nr = std::min(kQ8TileRows, hi - r0);
        rearrange_tile<Q4>(tile.data(), m, r0, nr, nb);
        float* o = out + (r0 - lo);
        int t = 0;
        for (; t + 4 <= n; t += 4) ggml_tile_tokens<Q4, 4>(o + t * os, os, tile.data(), x + t, nb, nr);
        for (; t < n; ++t) ggml_tile_tokens<Q4, 1>(o + t * os, os, tile.data(), x + t, nb, nr);
    }
}

#endif  // LHB_BATCH_X86

}  // namespace

void matmul_ggml_q4q8_vnni(float* out, int64_t out_stride, const WeightMatrix& m, const GgmlVector* x, int n,
                           int row_begin, int row_end) {
#if LHB_BATCH_X86
    if (m.ggml_type == GgmlType::Q4_0) return ggml_q4q8_vnni<true>(out, out_stride, m, x, n, row_begin, row_end);
    return ggml_q4q8_vnni<false>(out, out_stride, m, x, n, row_begin, row_end);
#else
    (void)out, (void)out_stride, (void)m, (void)x, (void)n, (void)row_begin, (void)row_end;
#endif
}

void matmul_q8_block(float* out, int64_t out_stride, const unsigned char* tiles, const Q8Vector* x, int n, int rows,
                     Q8Kernel k) {
    if (rows <= 0 || n <= 0) return;
#if LHB_BATCH_X86
    if (k == Q8Kernel::Avx512Vnni) return block_simd<&group_vnni<4>, &group_vnni<1>>(out, out_stride, tiles, x, n, rows);
    if (k == Q8Kernel::Avx2) return block_simd<&group_avx2<4>, &group_avx2<1>>(out, out_stride, tiles, x, n, rows);
#endif
    (void)k;
    block_portable(out, out_stride, tiles, x, n, rows);
}

}  // namespace lhb::openmp
