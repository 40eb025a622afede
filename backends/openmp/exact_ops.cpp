#include "backends/openmp/exact_ops.hpp"

#include <cmath>
#include <cstring>

// Compiled with -ffp-contract=off (backends/openmp/CMakeLists.txt): every a * b + c below
// rounds twice, as in llama2.c.

namespace lhb::openmp::exact {

void rmsnorm(float* out, const float* x, const float* weight, int n) {
    float ss = 0.0f;
    for (int j = 0; j < n; j++) ss += x[j] * x[j];
    ss /= n;
    ss += 1e-5f;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < n; j++) out[j] = weight[j] * (ss * x[j]);
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

void rotate_pairs(float* vec, int lo, int hi, int head_size, const float* c, const float* s) {
    for (int i = lo; i < hi; i += 2) {
        const int f = (i % head_size) / 2;
        const float v0 = vec[i], v1 = vec[i + 1];
        vec[i] = v0 * c[f] - v1 * s[f];
        vec[i + 1] = v0 * s[f] + v1 * c[f];
    }
}

namespace {
constexpr int kBlock = 16;  // positions scored together (one AVX-512 vector)
}

void attend_head(float* out, const float* q, const float* key_t, int64_t stride, const float* values, int kv_dim,
                 float* att, int pos, int head_size) {
    const float scale = sqrtf(head_size);
    const int n = pos + 1;
    int t0 = 0;
    // Each lane is one position's score, summed over i in order: llama2.c's sum, 16 at a time.
    for (; t0 + kBlock <= n; t0 += kBlock) {
        float acc[kBlock] = {};
        for (int i = 0; i < head_size; i++) {
            const float qi = q[i];
            const float* k = key_t + i * stride + t0;
            for (int l = 0; l < kBlock; l++) acc[l] += qi * k[l];
        }
        for (int l = 0; l < kBlock; l++) att[t0 + l] = acc[l] / scale;
    }
    if (t0 < n) {
        float acc[kBlock] = {};
        for (int i = 0; i < head_size; i++) {
            const float qi = q[i];
            const float* k = key_t + i * stride + t0;
            for (int l = 0; l < n - t0; l++) acc[l] += qi * k[l];
        }
        for (int l = 0; l < n - t0; l++) att[t0 + l] = acc[l] / scale;
    }
    softmax(att, n);
    std::memset(out, 0, size_t(head_size) * sizeof(float));
    for (int t = 0; t < n; t++) {
        const float a = att[t];
        const float* v = values + int64_t(t) * kv_dim;
        for (int i = 0; i < head_size; i++) out[i] += a * v[i];
    }
}

}  // namespace lhb::openmp::exact
