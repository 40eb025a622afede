#include "core/llama_cpp_ops.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/backend.hpp"
#include "core/quant_types.hpp"

namespace lhb::llama_cpp {

namespace {

constexpr int kLanes = 16;            // floats in an AVX-512 register
constexpr int kStep = 4 * kLanes;     // GGML_F32_STEP / GGML_F16_STEP: 4 registers per step
constexpr int kCachePadding = 32;     // llama_kv_cache_get_padding without flash attention

float to_f16(float v) { return fp16_to_fp32(fp32_to_fp16(v)); }

// _mm512_reduce_add_ps as GCC 12 writes it: upper half onto lower half, 8 -> 4 -> 2 -> 1.
float reduce_lanes(const float v[kLanes]) {
    float h8[8], h4[4];
    for (int i = 0; i < 8; ++i) h8[i] = v[8 + i] + v[i];
    for (int i = 0; i < 4; ++i) h4[i] = h8[4 + i] + h8[i];
    return (h4[0] + h4[2]) + (h4[1] + h4[3]);
}

// The SIMD part of ggml_vec_dot_f32/f16 over a(i) * b(i) for i < n - n % 64: one fused
// multiply-add per lane and step into 4 registers, then GGML_F32x16_REDUCE (registers 0+2
// and 1+3, then those two) and the lane reduction.
template <class A, class B>
float simd_dot(int np, A a, B b) {
    if (np == 0) return 0.0f;
    float acc[4][kLanes] = {};
    for (int i = 0; i < np; i += kStep)
        for (int r = 0; r < 4; ++r)
            for (int l = 0; l < kLanes; ++l) {
                const int j = i + r * kLanes + l;
                acc[r][l] = std::fma(a(j), b(j), acc[r][l]);
            }
    for (int l = 0; l < kLanes; ++l) {
        acc[0][l] += acc[2][l];
        acc[1][l] += acc[3][l];
        acc[0][l] += acc[1][l];
    }
    return reduce_lanes(acc[0]);
}

// ggml_vec_dot_f16 over values already in fp16 (a(i), b(i) exact halves as floats): the SIMD
// part, then each leftover product in float added in double.
template <class A, class B>
float dot_f16(int n, A a, B b) {
    const int np = n & ~(kStep - 1);
    double sum = simd_dot(np, a, b);
    for (int i = np; i < n; ++i) sum += double(a(i) * b(i));
    return float(sum);
}

}  // namespace

float simd_expf(float x) {
    const float shift = 0x1.8p23f;
    const float z = std::fma(x, 0x1.715476p+0f, shift);
    const float n = z - shift;  // x / ln 2, rounded to an integer
    if (std::isnan(n)) return n;
    if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
    const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));  // x - n ln 2
    const float u = b * b;
    const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                      std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                             u, std::fma(0x1.ffffecp-1f, b, 1.0f));
    return std::ldexp(j, int(n));  // one rounding, as scalef, also for subnormal results
}

float dot_f32(const float* x, const float* y, int n) {
    const int np = n & ~(kStep - 1);
    float sum = simd_dot(np, [x](int i) { return x[i]; }, [y](int i) { return y[i]; });
    int i = np;
    for (; n - i >= 16; i += 16)
        for (int l = 0; l < 16; ++l) sum += x[i + l] * y[i + l];
    if (n - i >= 8) {
        for (int l = 0; l < 8; ++l) sum += x[i + l] * y[i + l];
        i += 8;
    }
    for (; i < n; ++i) sum = std::fma(x[i], y[i], sum);
    return sum;
}

bool matmul(float* out, const float* x, const WeightMatrix& w) {
    const size_t cols = size_t(w.cols);
    if (w.dtype == DType::F32) {
        for (int r = 0; r < w.rows; ++r) out[r] = dot_f32(w.f32 + size_t(r) * cols, x, w.cols);
        return true;
    }
    if (w.dtype != DType::Ggml || w.ggml_type != GgmlType::F16) return false;
    std::vector<float> xh(cols);
    for (size_t i = 0; i < cols; ++i) xh[i] = to_f16(x[i]);
    const unsigned char* rows = w.blocks;
    for (int r = 0; r < w.rows; ++r) {
        const unsigned char* row = rows + size_t(r) * cols * 2;
        out[r] = dot_f16(
            w.cols,
            [row](int i) { return fp16_to_fp32(uint16_t(row[2 * i] | (row[2 * i + 1] << 8))); },
            [&xh](int i) { return xh[size_t(i)]; });
    }
    return true;
}

void rmsnorm(float* out, const float* x, const float* weight, int n, float eps) {
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += double(x[i] * x[i]);
    const float mean = float(sum / n);
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int i = 0; i < n; ++i) out[i] = (x[i] * scale) * weight[i];
}

void rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size, float theta) {
    const float theta_scale = std::pow(theta, -2.0f / float(head_size));
    // ggml_rope_cache_init: the angles for one token, shared by every head.
    std::vector<float> cs(size_t(head_size / 2)), sn(cs.size());
    float angle = float(pos);
    for (size_t f = 0; f < cs.size(); ++f) {
        cs[f] = std::cos(angle);
        sn[f] = std::sin(angle);
        angle *= theta_scale;
    }
    auto rotate = [&](float* v, int n) {
        for (int i = 0; i < n; i += 2) {
            const size_t f = size_t(i % head_size) / 2;
            const float x0 = v[i], x1 = v[i + 1];
            v[i] = std::fma(x0, cs[f], -(x1 * sn[f]));
            v[i + 1] = std::fma(x0, sn[f], x1 * cs[f]);
        }
    };
    rotate(q, dim);
    rotate(k, kv_dim);
}

void attention(float* out, const float* q, const float* key_cache, const float* value_cache, float* att, int pos,
               const AttentionShape& s) {
    const int hs = s.head_size, kv_mul = s.n_heads / s.n_kv_heads, n_valid = pos + 1;
    // llama.cpp's view of the cache covers n_kv cells, padded to 32; the cells past pos
    // are masked (-inf, so exp gives 0) and hold zeros, so they add nothing, but they decide
    // where ggml's dot product of the weights and V switches to its SIMD part.
    const int n_kv = (n_valid + kCachePadding - 1) / kCachePadding * kCachePadding;
    const float scale = 1.0f / std::sqrt(float(hs));
    for (int h = 0; h < s.n_heads; ++h) {
        const float* qh = q + size_t(h) * size_t(hs);
        const size_t kv_off = size_t(h / kv_mul) * size_t(hs);
        float max = -INFINITY;
        for (int t = 0; t < n_valid; ++t) {
            const float* kt = key_cache + size_t(t) * size_t(s.kv_dim) + kv_off;
            const float score = dot_f16(hs, [qh](int i) { return to_f16(qh[i]); }, [kt](int i) { return to_f16(kt[i]); });
            att[t] = score * scale;
            max = std::max(max, att[t]);
        }
        // ggml_vec_soft_max_f32: 16 lanes of exp at a time, each group summed in float, the
        // groups in double; then every weight times (float)(1 / sum), rounded to fp16.
        double sum = 0;
        for (int t0 = 0; t0 < n_valid; t0 += kLanes) {
            float lanes[kLanes];
            for (int l = 0; l < kLanes; ++l) {
                const int t = t0 + l;
                lanes[l] = t < n_valid ? simd_expf(att[t] - max) : 0.0f;
                if (t < n_valid) att[t] = lanes[l];
            }
            sum += double(reduce_lanes(lanes));
        }
        const float inv = float(1.0 / sum);
        for (int t = 0; t < n_valid; ++t) att[t] = to_f16(att[t] * inv);
        for (int i = 0; i < hs; ++i) {
            const float* vi = value_cache + kv_off + size_t(i);
            out[size_t(h) * size_t(hs) + size_t(i)] = dot_f16(
                n_kv, [att, n_valid](int t) { return t < n_valid ? att[t] : 0.0f; },
                [vi, n_valid, &s](int t) { return t < n_valid ? to_f16(vi[size_t(t) * size_t(s.kv_dim)]) : 0.0f; });
        }
    }
}

void swiglu(float* hb, const float* hb2, int n) {
    const int n_simd = n & ~(kLanes - 1);
    for (int i = 0; i < n; ++i) {
        const float x = hb[i];
        const float silu = i < n_simd ? x / (1.0f + simd_expf(0.0f - x)) : x / (1.0f + std::exp(-x));
        hb[i] = silu * hb2[i];
    }
}

}  // namespace lhb::llama_cpp
