#include "core/exact_ops.hpp"

#include <cmath>
#include <cstring>

#include "core/backend.hpp"
#include "core/quantize.hpp"

namespace lhb::exact {

void rmsnorm(float* out, const float* x, const float* weight, int n, float eps) {
    float ss = 0.0f;
    for (int j = 0; j < n; j++) ss += x[j] * x[j];
    ss /= n;
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < n; j++) out[j] = weight[j] * (ss * x[j]);
}

void matmul(float* out, const float* x, const WeightMatrix& w, Q8Activations& xq) {
    const int n = w.cols;
    if (w.dtype == DType::F32) {
        for (int i = 0; i < w.rows; i++) {
            const float* row = w.f32 + int64_t(i) * n;
            float val = 0.0f;
            for (int j = 0; j < n; j++) val += row[j] * x[j];
            out[i] = val;
        }
        return;
    }
    if (w.dtype == DType::Ggml) {
        matvec(w.ggml_type, w.blocks, size_t(w.rows), size_t(n), x, out);
        return;
    }
    const int gs = w.group_size;
    xq.q.resize(size_t(n));
    xq.scales.resize(size_t(n / gs));
    quantize_activations_q8(x, n, gs, xq.q.data(), xq.scales.data());
    for (int i = 0; i < w.rows; i++) {
        float val = 0.0f;
        const int64_t in = int64_t(i) * n;
        for (int j = 0; j <= n - gs; j += gs) {
            int32_t ival = 0;
            for (int k = 0; k < gs; k++) ival += int32_t(xq.q[size_t(j + k)]) * int32_t(w.q[in + j + k]);
            val += float(ival) * w.scales[(in + j) / gs] * xq.scales[size_t(j / gs)];
        }
        out[i] = val;
    }
}

void rope_angles(float* cos_out, float* sin_out, int pos, int head_size, float theta) {
    for (int i = 0; i < head_size; i += 2) {
        float freq = 1.0f / powf(theta, i / (float)head_size);
        float val = pos * freq;
        cos_out[i / 2] = cosf(val);
        sin_out[i / 2] = sinf(val);
    }
}

void rotate_pairs(float* vec, int lo, int hi, int head_size, const float* c, const float* s) {
    for (int i = lo; i < hi; i += 2) {
        const int f = (i % head_size) / 2;
        const float v0 = vec[i], v1 = vec[i + 1];
        vec[i] = v0 * c[f] - v1 * s[f];
        vec[i + 1] = v0 * s[f] + v1 * c[f];
    }
}

// llama2.c computes the angle of pair i from i % head_size inside the loop; the same
// angles, computed once per frequency, give the same floats.
void rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size, float theta) {
    std::vector<float> c(size_t(head_size / 2)), s(size_t(head_size / 2));
    rope_angles(c.data(), s.data(), pos, head_size, theta);
    rotate_pairs(q, 0, dim, head_size, c.data(), s.data());
    rotate_pairs(k, 0, kv_dim, head_size, c.data(), s.data());
}

void softmax(float* x, int n) {
    float max_val = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max_val) max_val = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max_val);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

void attention(float* out, const float* q, const float* key_cache, const float* value_cache, float* att,
               int pos, const AttentionShape& s) {
    const int kv_mul = s.n_heads / s.n_kv_heads;
    for (int h = 0; h < s.n_heads; h++) {
        const float* qh = q + h * s.head_size;
        float* atth = att + int64_t(h) * (pos + 1);
        const int kv_off = (h / kv_mul) * s.head_size;
        for (int t = 0; t <= pos; t++) {
            const float* kt = key_cache + int64_t(t) * s.kv_dim + kv_off;
            float score = 0.0f;
            for (int i = 0; i < s.head_size; i++) score += qh[i] * kt[i];
            score /= sqrtf(s.head_size);
            atth[t] = score;
        }
        softmax(atth, pos + 1);
        float* xb = out + h * s.head_size;
        std::memset(xb, 0, size_t(s.head_size) * sizeof(float));
        for (int t = 0; t <= pos; t++) {
            const float* vt = value_cache + int64_t(t) * s.kv_dim + kv_off;
            float a = atth[t];
            for (int i = 0; i < s.head_size; i++) xb[i] += a * vt[i];
        }
    }
}

void swiglu(float* hb, const float* hb2, int n) {
    for (int i = 0; i < n; i++) {
        float val = hb[i];
        val *= (1.0f / (1.0f + expf(-val)));
        val *= hb2[i];
        hb[i] = val;
    }
}

void residual_add(float* x, const float* y, int n) {
    for (int i = 0; i < n; i++) x[i] += y[i];
}

}  // namespace lhb::exact
