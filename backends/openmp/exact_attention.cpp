#include "backends/openmp/exact_attention.hpp"

#include <cmath>
#include <cstring>

#include "core/exact_ops.hpp"

// Compiled with -ffp-contract=off (backends/openmp/CMakeLists.txt): every a * b + c below
// rounds twice, as in llama2.c.

namespace lhb::openmp {

namespace {

// 16 floats as one value (GCC/Clang vector extension: one AVX-512 register where the target
// has them, narrower registers otherwise). Element-wise arithmetic, so each lane rounds
// exactly as the scalar code would.
typedef float F16 __attribute__((vector_size(64)));
constexpr int kLanes = 16;

inline F16 load16(const float* p) {
    F16 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

}  // namespace

void exact_attend_head(float* out, const float* q, const float* key_t, int64_t stride, const float* values,
                       int kv_dim, float* att, int pos, int head_size) {
    const float scale = sqrtf(head_size);
    const int n = pos + 1;
    int t0 = 0;
    // Each lane is one position's score, summed over i in order: llama2.c's sum, 16 at a time.
    for (; t0 + kLanes <= n; t0 += kLanes) {
        F16 acc = {};
        for (int i = 0; i < head_size; i++) acc += q[i] * load16(key_t + i * stride + t0);
        acc /= scale;
        std::memcpy(att + t0, &acc, sizeof acc);
    }
    if (t0 < n) {
        float acc[kLanes] = {};
        for (int i = 0; i < head_size; i++) {
            const float qi = q[i];
            const float* k = key_t + i * stride + t0;
            for (int l = 0; l < n - t0; l++) acc[l] += qi * k[l];
        }
        for (int l = 0; l < n - t0; l++) att[t0 + l] = acc[l] / scale;
    }
    lhb::exact::softmax(att, n);
    // out[i] = sum over t in order of att[t] * v[t][i]: 16 elements at a time, each summed
    // over t in order, kept in a register across t.
    int i0 = 0;
    for (; i0 + kLanes <= head_size; i0 += kLanes) {
        F16 acc = {};
        for (int t = 0; t < n; t++) acc += att[t] * load16(values + int64_t(t) * kv_dim + i0);
        std::memcpy(out + i0, &acc, sizeof acc);
    }
    for (int i = i0; i < head_size; i++) {
        float acc = 0.0f;
        for (int t = 0; t < n; t++) acc += att[t] * values[int64_t(t) * kv_dim + i];
        out[i] = acc;
    }
}

}  // namespace lhb::openmp
