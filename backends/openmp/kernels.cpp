#include "backends/openmp/kernels.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
// GCC 12's _mm512_reduce_add_ps passes _mm256_undefined_pd() to a masked builtin and then
// warns that the (deliberately) undefined value is used; the result does not depend on it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace lhb::openmp {

#if defined(__AVX512F__)

const char* kernel_isa() { return "avx512"; }

namespace {

inline __mmask16 tail_mask(int remaining) { return __mmask16((1u << remaining) - 1u); }

// Four rows at a time: each x vector is loaded once for four rows, and four independent
// FMA chains keep the core issuing loads instead of waiting on one chain's latency.
inline void dot_rows4(const float* w, int64_t stride, const float* x, int n, float* out, bool add) {
    const float* r0 = w;
    const float* r1 = w + stride;
    const float* r2 = w + 2 * stride;
    const float* r3 = w + 3 * stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m512 xv = _mm512_loadu_ps(x + j);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + j), xv, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + j), xv, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + j), xv, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + j), xv, a3);
    }
    if (j < n) {
        const __mmask16 m = tail_mask(n - j);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + j);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r0 + j), xv, a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r1 + j), xv, a1);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r2 + j), xv, a2);
        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r3 + j), xv, a3);
    }
    const float s0 = _mm512_reduce_add_ps(a0), s1 = _mm512_reduce_add_ps(a1);
    const float s2 = _mm512_reduce_add_ps(a2), s3 = _mm512_reduce_add_ps(a3);
    if (add) {
        out[0] += s0, out[1] += s1, out[2] += s2, out[3] += s3;
    } else {
        out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
    }
}

}  // namespace

float dot(const float* a, const float* b, int n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 32 <= n; j += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(b + j + 16), a1);
    }
    for (; j < n; j += 16) {
        const __mmask16 m = n - j >= 16 ? __mmask16(0xFFFF) : tail_mask(n - j);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + j), _mm512_maskz_loadu_ps(m, b + j), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

float sum_of_squares(const float* x, int n) { return dot(x, x, n); }

void axpy(float* out, float a, const float* v, int n) {
    const __m512 av = _mm512_set1_ps(a);
    for (int j = 0; j < n; j += 16) {
        const __mmask16 m = n - j >= 16 ? __mmask16(0xFFFF) : tail_mask(n - j);
        const __m512 o = _mm512_maskz_loadu_ps(m, out + j);
        _mm512_mask_storeu_ps(out + j, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, v + j), o));
    }
}

void matvec_rows(float* out, const float* w, const float* x, int cols, int row_begin, int row_end,
                 bool add) {
    const int64_t stride = cols;
    int r = row_begin;
    for (; r + 4 <= row_end; r += 4) dot_rows4(w + r * stride, stride, x, cols, out + (r - row_begin), add);
    for (; r < row_end; ++r) {
        const float s = dot(w + r * stride, x, cols);
        out[r - row_begin] = add ? out[r - row_begin] + s : s;
    }
}

#else  // portable: loops over 16 independent partial sums, which compilers vectorize

const char* kernel_isa() { return "portable"; }

namespace {
constexpr int kLanes = 16;
}

float dot(const float* a, const float* b, int n) {
    float acc[kLanes] = {};
    int j = 0;
    for (; j + kLanes <= n; j += kLanes)
        for (int k = 0; k < kLanes; ++k) acc[k] += a[j + k] * b[j + k];
    for (int k = 0; j + k < n; ++k) acc[k] += a[j + k] * b[j + k];
    float s = 0;
    for (int k = 0; k < kLanes; ++k) s += acc[k];
    return s;
}

float sum_of_squares(const float* x, int n) { return dot(x, x, n); }

void axpy(float* out, float a, const float* v, int n) {
    for (int i = 0; i < n; ++i) out[i] += a * v[i];
}

void matvec_rows(float* out, const float* w, const float* x, int cols, int row_begin, int row_end,
                 bool add) {
    for (int r = row_begin; r < row_end; ++r) {
        const float s = dot(w + int64_t(r) * cols, x, cols);
        out[r - row_begin] = add ? out[r - row_begin] + s : s;
    }
}

#endif

}  // namespace lhb::openmp
