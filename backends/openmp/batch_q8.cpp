#include <algorithm>
#include <cstring>

#include "backends/openmp/batch_kernels.hpp"

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

#endif  // LHB_BATCH_X86

}  // namespace

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
