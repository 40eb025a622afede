#include "backends/cpu_ref/cpu_ref.hpp"

#include <cmath>
#include <cstring>

#include "core/quantize.hpp"
#include "core/registry.hpp"

namespace lhb {

void CpuRefBackend::rmsnorm(float* out, const float* x, const float* weight, int n) {
    float ss = 0.0f;
    for (int j = 0; j < n; j++) ss += x[j] * x[j];
    ss /= n;
    ss += 1e-5f;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < n; j++) out[j] = weight[j] * (ss * x[j]);
}

void CpuRefBackend::matmul(float* out, const float* x, const WeightMatrix& w) {
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
    // Q8_0, runq.c's arithmetic: activations quantized per group, int8 x int8 summed in
    // int32 per group, then scaled by the weight's and the activation's group scales.
    const int gs = w.group_size;
    xq_.resize(size_t(n));
    xs_.resize(size_t(n / gs));
    quantize_activations_q8(x, n, gs, xq_.data(), xs_.data());
    for (int i = 0; i < w.rows; i++) {
        float val = 0.0f;
        const int64_t in = int64_t(i) * n;
        for (int j = 0; j <= n - gs; j += gs) {
            int32_t ival = 0;
            for (int k = 0; k < gs; k++) ival += int32_t(xq_[size_t(j + k)]) * int32_t(w.q[in + j + k]);
            val += float(ival) * w.scales[(in + j) / gs] * xs_[size_t(j / gs)];
        }
        out[i] = val;
    }
}

void CpuRefBackend::rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size) {
    for (int i = 0; i < dim; i += 2) {
        int head_dim = i % head_size;
        float freq = 1.0f / powf(10000.0f, head_dim / (float)head_size);
        float val = pos * freq;
        float fcr = cosf(val);
        float fci = sinf(val);
        int rotn = i < kv_dim ? 2 : 1;  // q always, k only inside kv_dim
        for (int v = 0; v < rotn; v++) {
            float* vec = v == 0 ? q : k;
            float v0 = vec[i];
            float v1 = vec[i + 1];
            vec[i] = v0 * fcr - v1 * fci;
            vec[i + 1] = v0 * fci + v1 * fcr;
        }
    }
}

void CpuRefBackend::softmax(float* x, int n) {
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

void CpuRefBackend::attention(float* out, const float* q, const float* key_cache,
                              const float* value_cache, float* att, int pos,
                              const AttentionShape& s) {
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

void CpuRefBackend::swiglu(float* hb, const float* hb2, int n) {
    for (int i = 0; i < n; i++) {
        float val = hb[i];
        val *= (1.0f / (1.0f + expf(-val)));
        val *= hb2[i];
        hb[i] = val;
    }
}

void CpuRefBackend::residual_add(float* x, const float* y, int n) {
    for (int i = 0; i < n; i++) x[i] += y[i];
}

LHB_REGISTER_BACKEND(cpu_ref, BackendFactory{
    "cpu-ref", "scalar C++ in llama2.c's arithmetic order; the golden reference", 0,
    [](const BackendOptions&) { return Availability{}; },
    [](const BackendOptions&) -> std::unique_ptr<Backend> { return std::make_unique<CpuRefBackend>(); }, true})

}  // namespace lhb
