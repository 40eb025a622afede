#include "backends/openmp/q8_kernels.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/quantize.hpp"

// Built with -ffp-contract=off (backends/openmp/CMakeLists.txt): the per-group scaling
// below must round exactly as runq.c's `val += ival * ws * xs` does, with no FMA, which is
// what makes this matmul equal to cpu-ref's bit for bit.

#if defined(__x86_64__) && defined(__GNUC__)
#define LHB_Q8_X86 1
#include <immintrin.h>
// Each SIMD function carries its own target, so one build holds every kernel and picks one
// at run time by what the CPU supports.
#define LHB_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define LHB_TARGET_AVX2 __attribute__((target("avx2")))
// GCC 12's _mm512_reduce_* pass a deliberately undefined vector to masked builtins and then
// warn about it; the results do not depend on it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#else
#define LHB_Q8_X86 0
#endif

namespace lhb::openmp {

namespace {

int round_up4(int v) { return (v + 3) / 4 * 4; }

int32_t load_i32(const void* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// ---- portable ---------------------------------------------------------------------------

void quantize_portable(const float* x, Q8Vector& v) {
    const int gs = v.group_size, gp = v.padded_group;
    int8_t* dst = gp == gs ? v.q.data() : v.scratch.data();
    quantize_activations_q8(x, v.n, gs, dst, v.scale.data());
    for (int g = 0; g < v.groups; ++g) {
        int8_t* qg = v.q.data() + int64_t(g) * gp;
        if (gp != gs) {
            std::memcpy(qg, dst + int64_t(g) * gs, size_t(gs));
            std::memset(qg + gs, 0, size_t(gp - gs));
        }
        int32_t sum = 0;
        for (int i = 0; i < gs; ++i) sum += qg[i];
        v.bias[size_t(g)] = -128 * sum;
    }
}

// Computes with the signed weights (q ^ 0x80 undoes the bias), so no correction is needed.
void matvec_portable(float* out, const unsigned char* p, const Q8Vector& x, int rows, bool add) {
    const int ch = x.padded_group / 4;
    for (int r0 = 0; r0 < rows; r0 += kQ8TileRows) {
        float acc[kQ8TileRows] = {};
        for (int g = 0; g < x.groups; ++g) {
            const int8_t* xq = x.q.data() + int64_t(g) * x.padded_group;
            int32_t isum[kQ8TileRows] = {};
            for (int c = 0; c < ch; ++c, p += 64)
                for (int r = 0; r < kQ8TileRows; ++r)
                    for (int b = 0; b < 4; ++b)
                        isum[r] += int32_t(int8_t(p[4 * r + b] ^ 0x80)) * int32_t(xq[4 * c + b]);
            float ws[kQ8TileRows];
            std::memcpy(ws, p, sizeof ws);
            p += sizeof ws;
            const float xs = x.scale[size_t(g)];
            for (int r = 0; r < kQ8TileRows; ++r) acc[r] += float(isum[r]) * ws[r] * xs;
        }
        const int n = rows - r0 < kQ8TileRows ? rows - r0 : kQ8TileRows;
        for (int r = 0; r < n; ++r) out[r0 + r] = add ? out[r0 + r] + acc[r] : acc[r];
    }
}

#if LHB_Q8_X86

// ---- AVX2 -------------------------------------------------------------------------------
// vpmaddubsw multiplies unsigned by signed bytes and adds pairs into SATURATING int16, so
// the biased weights (up to 255) cannot go in directly (2 * 255 * 127 > 32767). Instead:
// |w| (<= 128) as the unsigned side and x with w's sign as the signed side (|x| <= 127):
// pairs stay within 2 * 128 * 127 = 32512, and vpmaddwd with ones widens them to int32.

LHB_TARGET_AVX2 inline __m256i dot4_avx2(__m256i biased_w, __m256i x4) {
    const __m256i w = _mm256_xor_si256(biased_w, _mm256_set1_epi8(char(0x80)));
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x4, w));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

LHB_TARGET_AVX2 void store8_avx2(float* out, __m256 v, int n, bool add) {
    if (n >= 8) {
        if (add) v = _mm256_add_ps(_mm256_loadu_ps(out), v);
        _mm256_storeu_ps(out, v);
        return;
    }
    float tmp[8];
    _mm256_storeu_ps(tmp, v);
    for (int i = 0; i < n; ++i) out[i] = add ? out[i] + tmp[i] : tmp[i];
}

LHB_TARGET_AVX2 void matvec_avx2(float* out, const unsigned char* p, const Q8Vector& x, int rows, bool add) {
    const int ch = x.padded_group / 4;
    for (int r0 = 0; r0 < rows; r0 += kQ8TileRows) {
        __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();  // rows 0-7, 8-15
        for (int g = 0; g < x.groups; ++g) {
            const int8_t* xq = x.q.data() + int64_t(g) * x.padded_group;
            __m256i ilo = _mm256_setzero_si256(), ihi = _mm256_setzero_si256();
            for (int c = 0; c < ch; ++c, p += 64) {
                const __m256i x4 = _mm256_set1_epi32(load_i32(xq + 4 * c));
                ilo = _mm256_add_epi32(ilo, dot4_avx2(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), x4));
                ihi = _mm256_add_epi32(ihi, dot4_avx2(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32)), x4));
            }
            const __m256 xs = _mm256_set1_ps(x.scale[size_t(g)]);
            const float* ws = reinterpret_cast<const float*>(p);
            lo = _mm256_add_ps(lo, _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(ilo), _mm256_loadu_ps(ws)), xs));
            hi = _mm256_add_ps(hi, _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(ihi), _mm256_loadu_ps(ws + 8)), xs));
            p += 64;
        }
        const int n = rows - r0;
        store8_avx2(out + r0, lo, n, add);
        if (n > 8) store8_avx2(out + r0 + 8, hi, n - 8, add);
    }
}

// ---- AVX-512 VNNI -----------------------------------------------------------------------

LHB_TARGET_AVX512 inline __mmask16 first_lanes(int n) {
    return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u);
}

// runq.c's quantizer, 16 values at a time: the same max, the same division, and C round()
// (half away from zero) done exactly: t = trunc(v); v - t is exact; step away from zero
// when |v - t| >= 0.5.
LHB_TARGET_AVX512 void quantize_avx512(const float* x, Q8Vector& v) {
    const int gs = v.group_size, gp = v.padded_group;
    const __m512 finite_max = _mm512_set1_ps(3.40282347e38f);
    const __m512i sign_bit = _mm512_set1_epi32(int32_t(0x80000000u));
    const __m512i one_bits = _mm512_set1_epi32(0x3f800000);  // 1.0f
    for (int g = 0; g < v.groups; ++g) {
        const float* xg = x + int64_t(g) * gs;
        int8_t* qg = v.q.data() + int64_t(g) * gp;
        if (gp != gs) std::memset(qg + gs, 0, size_t(gp - gs));  // padding: q = 0
        __m512 amax = _mm512_setzero_ps();
        __mmask16 non_finite = 0;
        for (int j = 0; j < gs; j += 16) {
            const __mmask16 m = first_lanes(gs - j);
            const __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(m, xg + j));
            non_finite |= __mmask16(m & ~_mm512_cmp_ps_mask(a, finite_max, _CMP_LE_OQ));
            amax = _mm512_max_ps(amax, a);
        }
        if (non_finite) {  // as quantize_activations_q8: NaN scale, q = 0
            v.scale[size_t(g)] = std::nanf("");
            std::memset(qg, 0, size_t(gs));
            v.bias[size_t(g)] = 0;
            continue;
        }
        const float scale = _mm512_reduce_max_ps(amax) / 127.0f;
        v.scale[size_t(g)] = scale;
        if (scale == 0.0f) {
            std::memset(qg, 0, size_t(gs));
            v.bias[size_t(g)] = 0;
            continue;
        }
        const __m512 sv = _mm512_set1_ps(scale);
        __m512i sum = _mm512_setzero_si512();
        for (int j = 0; j < gs; j += 16) {
            const __mmask16 m = first_lanes(gs - j);
            const __m512 d = _mm512_div_ps(_mm512_maskz_loadu_ps(m, xg + j), sv);
            const __m512 t = _mm512_roundscale_ps(d, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __mmask16 away =
                _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(d, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
            const __m512 unit = _mm512_castsi512_ps(
                _mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(d), sign_bit), one_bits));  // copysign(1, d)
            __m512 r = _mm512_mask_add_ps(t, away, t, unit);
            r = _mm512_min_ps(_mm512_max_ps(r, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
            const __m512i q = _mm512_cvtps_epi32(r);  // whole numbers: exact
            sum = _mm512_add_epi32(sum, q);           // masked-off lanes are 0
            _mm512_mask_cvtepi32_storeu_epi8(qg + j, m, q);
        }
        v.bias[size_t(g)] = -128 * _mm512_reduce_add_epi32(sum);
    }
}

LHB_TARGET_AVX512 inline void store16(float* out, __m512 v, int n, bool add) {
    const __mmask16 m = first_lanes(n);
    if (add) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, out), v);
    _mm512_mask_storeu_ps(out, m, v);
}

LHB_TARGET_AVX512 inline __m512i load64(const unsigned char* p) { return _mm512_loadu_si512(p); }

// Two tiles at a time (two independent chains per step), each group's chunks split over
// two integer accumulators (integer sums are exact in any order). CH = chunks per group
// when known at compile time (the loop then unrolls), 0 for any.
template <int CH>
LHB_TARGET_AVX512 void matvec_vnni(float* out, const unsigned char* p, const Q8Vector& x, int rows, bool add) {
    const int ch = CH ? CH : x.padded_group / 4;
    const int G = x.groups;
    const int64_t block = 64 * int64_t(ch) + 64;
    const int64_t tile = block * G;
    const int tiles = (rows + kQ8TileRows - 1) / kQ8TileRows;
    const int8_t* xq0 = x.q.data();
    int t = 0;
    for (; t + 2 <= tiles; t += 2) {
        const unsigned char* p0 = p + tile * t;
        const unsigned char* p1 = p0 + tile;
        __m512 f0 = _mm512_setzero_ps(), f1 = _mm512_setzero_ps();
        for (int g = 0; g < G; ++g, p0 += block, p1 += block) {
            const int8_t* xq = xq0 + int64_t(g) * x.padded_group;
            __m512i a0 = _mm512_set1_epi32(x.bias[size_t(g)]), a1 = a0;
            __m512i b0 = _mm512_setzero_si512(), b1 = b0;
            int c = 0;
            for (; c + 2 <= ch; c += 2) {
                const __m512i xa = _mm512_set1_epi32(load_i32(xq + 4 * c));
                const __m512i xb = _mm512_set1_epi32(load_i32(xq + 4 * c + 4));
                a0 = _mm512_dpbusd_epi32(a0, load64(p0 + 64 * c), xa);
                a1 = _mm512_dpbusd_epi32(a1, load64(p1 + 64 * c), xa);
                b0 = _mm512_dpbusd_epi32(b0, load64(p0 + 64 * c + 64), xb);
                b1 = _mm512_dpbusd_epi32(b1, load64(p1 + 64 * c + 64), xb);
            }
            if (c < ch) {
                const __m512i xa = _mm512_set1_epi32(load_i32(xq + 4 * c));
                a0 = _mm512_dpbusd_epi32(a0, load64(p0 + 64 * c), xa);
                a1 = _mm512_dpbusd_epi32(a1, load64(p1 + 64 * c), xa);
            }
            const __m512 xs = _mm512_set1_ps(x.scale[size_t(g)]);
            const __m512 w0 = _mm512_loadu_ps(p0 + 64 * ch), w1 = _mm512_loadu_ps(p1 + 64 * ch);
            f0 = _mm512_add_ps(f0, _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(a0, b0)), w0), xs));
            f1 = _mm512_add_ps(f1, _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(a1, b1)), w1), xs));
        }
        store16(out + kQ8TileRows * t, f0, rows - kQ8TileRows * t, add);
        store16(out + kQ8TileRows * (t + 1), f1, rows - kQ8TileRows * (t + 1), add);
    }
    if (t < tiles) {
        const unsigned char* p0 = p + tile * t;
        __m512 f0 = _mm512_setzero_ps();
        for (int g = 0; g < G; ++g, p0 += block) {
            const int8_t* xq = xq0 + int64_t(g) * x.padded_group;
            __m512i a0 = _mm512_set1_epi32(x.bias[size_t(g)]);
            __m512i b0 = _mm512_setzero_si512();
            int c = 0;
            for (; c + 2 <= ch; c += 2) {
                a0 = _mm512_dpbusd_epi32(a0, load64(p0 + 64 * c), _mm512_set1_epi32(load_i32(xq + 4 * c)));
                b0 = _mm512_dpbusd_epi32(b0, load64(p0 + 64 * c + 64), _mm512_set1_epi32(load_i32(xq + 4 * c + 4)));
            }
            if (c < ch) a0 = _mm512_dpbusd_epi32(a0, load64(p0 + 64 * c), _mm512_set1_epi32(load_i32(xq + 4 * c)));
            const __m512 xs = _mm512_set1_ps(x.scale[size_t(g)]);
            f0 = _mm512_add_ps(
                f0, _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(a0, b0)), _mm512_loadu_ps(p0 + 64 * ch)), xs));
        }
        store16(out + kQ8TileRows * t, f0, rows - kQ8TileRows * t, add);
    }
}

using MatvecFn = void (*)(float*, const unsigned char*, const Q8Vector&, int, bool);

// The unrolled instantiations for 1..16 chunks (group sizes up to 64), the loop beyond.
template <int... I>
constexpr MatvecFn vnni_for(int ch, std::integer_sequence<int, I...>) {
    MatvecFn fns[] = {&matvec_vnni<I + 1>...};
    return ch >= 1 && ch <= int(sizeof...(I)) ? fns[ch - 1] : &matvec_vnni<0>;
}

#endif  // LHB_Q8_X86

}  // namespace

const char* q8_kernel_name(Q8Kernel k) {
    switch (k) {
        case Q8Kernel::Portable: return "portable";
        case Q8Kernel::Avx2: return "avx2";
        case Q8Kernel::Avx512Vnni: return "avx512-vnni";
    }
    return "?";
}

bool q8_kernel_supported(Q8Kernel k) {
#if LHB_Q8_X86
    __builtin_cpu_init();  // may run from a static initializer (the backend's registration)
#endif
    switch (k) {
        case Q8Kernel::Portable: return true;
#if LHB_Q8_X86
        case Q8Kernel::Avx2: return __builtin_cpu_supports("avx2");
        case Q8Kernel::Avx512Vnni:
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vnni");
#else
        default: return false;
#endif
    }
    return false;
}

Q8Kernel q8_best_kernel() {
    static const Q8Kernel best = [] {
        for (Q8Kernel k : {Q8Kernel::Avx512Vnni, Q8Kernel::Avx2})
            if (q8_kernel_supported(k)) return k;
        return Q8Kernel::Portable;
    }();
    return best;
}

std::vector<Q8Kernel> q8_supported_kernels() {
    std::vector<Q8Kernel> ks;
    for (Q8Kernel k : {Q8Kernel::Portable, Q8Kernel::Avx2, Q8Kernel::Avx512Vnni})
        if (q8_kernel_supported(k)) ks.push_back(k);
    return ks;
}

void Q8Vector::reset(int n_values, int gs) {
    if (gs <= 0 || n_values % gs != 0)
        throw std::logic_error("openmp int8: group size " + std::to_string(gs) + " does not divide " +
                               std::to_string(n_values));
    if (n_values == n && gs == group_size) return;
    n = n_values;
    group_size = gs;
    padded_group = round_up4(gs);
    groups = n / gs;
    q.assign(size_t(groups) * size_t(padded_group), 0);
    scale.assign(size_t(groups), 0.f);
    bias.assign(size_t(groups), 0);
    scratch.assign(padded_group == gs ? 0 : size_t(n), 0);
}

void quantize_q8(const float* x, Q8Vector& v, Q8Kernel k) {
#if LHB_Q8_X86
    if (k == Q8Kernel::Avx512Vnni) return quantize_avx512(x, v);
#endif
    (void)k;
    quantize_portable(x, v);
}

int64_t q8_tile_bytes(int cols, int gs) {
    return int64_t(cols / gs) * (int64_t(kQ8TileRows) * round_up4(gs) + int64_t(kQ8TileRows) * 4);
}

int64_t q8_packed_bytes(int rows, int cols, int gs) {
    return int64_t((rows + kQ8TileRows - 1) / kQ8TileRows) * q8_tile_bytes(cols, gs);
}

void pack_q8_rows(const WeightMatrix& m, int row_begin, int row_end, unsigned char* dst) {
    const int gs = m.group_size, ch = round_up4(gs) / 4, groups = m.cols / gs;
    for (int r0 = row_begin; r0 < row_end; r0 += kQ8TileRows)
        for (int g = 0; g < groups; ++g) {
            for (int c = 0; c < ch; ++c)
                for (int r = 0; r < kQ8TileRows; ++r)
                    for (int b = 0; b < 4; ++b) {
                        const int row = r0 + r, col = 4 * c + b;
                        const bool real = row < row_end && col < gs;
                        *dst++ = real ? uint8_t(m.q[int64_t(row) * m.cols + int64_t(g) * gs + col]) ^ 0x80 : 0x80;
                    }
            for (int r = 0; r < kQ8TileRows; ++r) {
                const int row = r0 + r;
                const float s = row < row_end ? m.scales[int64_t(row) * groups + g] : 0.0f;
                std::memcpy(dst, &s, 4);
                dst += 4;
            }
        }
}

void unpack_q8_row(const unsigned char* tiles, int row, int cols, int gs, float* out) {
    const int ch = round_up4(gs) / 4, groups = cols / gs, r = row % kQ8TileRows;
    const unsigned char* block = tiles + int64_t(row / kQ8TileRows) * q8_tile_bytes(cols, gs);
    for (int g = 0; g < groups; ++g) {
        float s;
        std::memcpy(&s, block + ch * 64 + r * 4, 4);
        for (int col = 0; col < gs; ++col)
            out[g * gs + col] = float(int8_t(block[(col / 4) * 64 + r * 4 + col % 4] ^ 0x80)) * s;
        block += ch * 64 + kQ8TileRows * 4;
    }
}

void matvec_q8(float* out, const unsigned char* tiles, const Q8Vector& x, int rows, bool add, Q8Kernel k) {
    if (rows <= 0) return;
#if LHB_Q8_X86
    if (k == Q8Kernel::Avx512Vnni)
        return vnni_for(x.padded_group / 4, std::make_integer_sequence<int, 16>{})(out, tiles, x, rows, add);
    if (k == Q8Kernel::Avx2) return matvec_avx2(out, tiles, x, rows, add);
#endif
    (void)k;
    matvec_portable(out, tiles, x, rows, add);
}

}  // namespace lhb::openmp
