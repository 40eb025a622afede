#include "backends/openmp/openmp.hpp"

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "backends/openmp/kernels.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"

namespace lhb {

using openmp::axpy;
using openmp::dot;
using openmp::matvec_rows;
using openmp::sum_of_squares;

namespace {

// Below this many weights (256 KiB of fp32) a matmul is faster on one thread than the
// fork/join costs (a few microseconds on an idle machine, far more on a busy one).
constexpr int64_t kParallelMatmulMin = 1 << 16;
// Below this much attention work (positions x query dims) one thread does all heads.
constexpr int64_t kParallelAttentionMin = 1 << 13;

// Thread `part` of `parts` gets rows [lo, hi): equal shares with boundaries on multiples
// of `align` (4: the matvec kernel's row group, which is also even, as RoPE's pairs need).
struct Range {
    int lo, hi;
    int size() const { return hi - lo; }
};
Range share(int n, int parts, int part, int align) {
    auto edge = [&](int p) { return p >= parts ? n : int(int64_t(n) * p / parts) / align * align; };
    return {edge(part), edge(part + 1)};
}

void rmsnorm_into(float* out, const float* x, const float* weight, int n) {
    float ss = sum_of_squares(x, n);
    ss /= n;
    ss += 1e-5f;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < n; j++) out[j] = weight[j] * (ss * x[j]);
}

void softmax_in_place(float* x, int n) {
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

// cos/sin of pos * freq for each of the head_size / 2 frequencies, in llama2.c's float
// arithmetic (the angle is the same for every head and every layer of a token).
void rope_angles(float* cos_out, float* sin_out, int pos, int head_size) {
    for (int i = 0; i < head_size; i += 2) {
        float freq = 1.0f / powf(10000.0f, i / (float)head_size);
        float val = pos * freq;
        cos_out[i / 2] = cosf(val);
        sin_out[i / 2] = sinf(val);
    }
}

// Rotates the adjacent pairs of vec[lo, hi) (lo even).
void rotate_pairs(float* vec, int lo, int hi, int head_size, const float* c, const float* s) {
    for (int i = lo; i < hi; i += 2) {
        const int f = (i % head_size) / 2;
        const float v0 = vec[i], v1 = vec[i + 1];
        vec[i] = v0 * c[f] - v1 * s[f];
        vec[i + 1] = v0 * s[f] + v1 * c[f];
    }
}

// One query head of attention: scores over positions 0..pos, softmax, weighted sum of values.
void attend_head(int h, float* out, const float* q, const float* key_cache, const float* value_cache,
                 float* att, int pos, const AttentionShape& s) {
    const int kv_off = (h / (s.n_heads / s.n_kv_heads)) * s.head_size;
    const float* qh = q + h * s.head_size;
    const float scale = sqrtf(float(s.head_size));
    for (int t = 0; t <= pos; t++)
        att[t] = dot(qh, key_cache + int64_t(t) * s.kv_dim + kv_off, s.head_size) / scale;
    softmax_in_place(att, pos + 1);
    float* xb = out + h * s.head_size;
    std::memset(xb, 0, size_t(s.head_size) * sizeof(float));
    for (int t = 0; t <= pos; t++) axpy(xb, att[t], value_cache + int64_t(t) * s.kv_dim + kv_off, s.head_size);
}

void check_f32(const WeightMatrix& w) {
    if (w.dtype != DType::F32) throw std::logic_error("openmp: int8 matmul is not implemented yet");
}

}  // namespace

OpenMpBackend::OpenMpBackend(int threads, bool fused, int64_t min_bytes_per_thread)
    : threads_(threads > 0 ? threads : omp_get_max_threads()),
      fused_(fused),
      min_bytes_per_thread_(min_bytes_per_thread) {}

void OpenMpBackend::load(const Model& model) {
    if (model.dtype() != DType::F32)
        throw InputError(model.path() + ": openmp runs fp32 checkpoints only; int8 is not implemented yet");
    Backend::load(model);
    const ModelConfig& c = model.config();
    local_stride_ = (c.dim + 15) / 16 * 16;
    const int64_t per_thread = std::max<int64_t>(1, min_bytes_per_thread_);
    forward_threads_ = int(std::clamp<int64_t>(model.weight_bytes_per_token() / per_thread, 1, threads_));
    local_xb_.assign(size_t(forward_threads_) * size_t(local_stride_), 0.f);
    rope_cos_.assign(size_t(c.head_size() / 2), 0.f);
    rope_sin_.assign(size_t(c.head_size() / 2), 0.f);
    if (fused_) pack_weights();
}

void OpenMpBackend::FreeDeleter::operator()(float* p) const { std::free(p); }

// Thread t's block: for each layer wq, wk, wv, wo, w1, w3, w2 (its rows of each), then its
// rows of the classifier. forward_fused() walks it in exactly this order.
void OpenMpBackend::pack_weights() {
    const ModelConfig& c = model_->config();
    const ModelWeights& w = model_->weights();
    const int nt = forward_threads_;
    const size_t align = size_t(2) << 20;  // a huge page
    packed_begin_.assign(size_t(nt) + 1, 0);
    for (int t = 0; t < nt; ++t) {
        const int64_t rd = share(c.dim, nt, t, 4).size(), rkv = share(c.kv_dim(), nt, t, 4).size();
        const int64_t rh = share(c.hidden_dim, nt, t, 4).size(), rv = share(c.vocab_size, nt, t, 4).size();
        const int64_t floats = c.n_layers * (2 * rd * c.dim + 2 * rkv * c.dim + 2 * rh * c.dim + rd * c.hidden_dim) +
                               rv * c.dim;
        const size_t bytes = (size_t(floats) * sizeof(float) + align - 1) / align * align;
        packed_begin_[size_t(t) + 1] = packed_begin_[size_t(t)] + bytes / sizeof(float);
    }
    const size_t total = packed_begin_[size_t(nt)] * sizeof(float);
    packed_.reset(static_cast<float*>(std::aligned_alloc(align, std::max<size_t>(total, align))));
    if (!packed_)
        throw InputError(model_->path() + ": openmp: not enough memory for the packed weights (" +
                         std::to_string(total >> 20) + " MiB)");
    madvise(packed_.get(), total, MADV_HUGEPAGE);  // a hint; without it, 4 KiB pages

    // Each thread copies (and so first touches) its own block.
#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num();
        float* dst = packed_.get() + packed_begin_[size_t(t)];
        auto rows = [&](const WeightMatrix& m, Range r) {
            const size_t n = size_t(r.size()) * size_t(m.cols);
            std::memcpy(dst, m.f32 + int64_t(r.lo) * m.cols, n * sizeof(float));
            dst += n;
        };
        const Range rd = share(c.dim, nt, t, 4), rkv = share(c.kv_dim(), nt, t, 4);
        const Range rh = share(c.hidden_dim, nt, t, 4);
        for (const LayerWeights& L : w.layers) {
            rows(L.wq, rd);
            rows(L.wk, rkv);
            rows(L.wv, rkv);
            rows(L.wo, rd);
            rows(L.w1, rh);
            rows(L.w3, rh);
            rows(L.w2, rd);
        }
        rows(w.wcls, share(c.vocab_size, nt, t, 4));
    }
}

void OpenMpBackend::rmsnorm(float* out, const float* x, const float* weight, int n) {
    rmsnorm_into(out, x, weight, n);
}

void OpenMpBackend::matmul(float* out, const float* x, const WeightMatrix& w) {
    check_f32(w);
    const bool parallel = w.numel() >= kParallelMatmulMin && threads_ > 1;
#pragma omp parallel num_threads(threads_) if (parallel)
    {
        const Range r = share(w.rows, omp_get_num_threads(), omp_get_thread_num(), 4);
        matvec_rows(out + r.lo, w.f32, x, w.cols, r.lo, r.hi, false);
    }
}

void OpenMpBackend::rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size) {
    std::vector<float> c(size_t(head_size / 2)), s(size_t(head_size / 2));
    rope_angles(c.data(), s.data(), pos, head_size);
    rotate_pairs(q, 0, dim, head_size, c.data(), s.data());
    rotate_pairs(k, 0, kv_dim, head_size, c.data(), s.data());
}

void OpenMpBackend::softmax(float* x, int n) { softmax_in_place(x, n); }

void OpenMpBackend::attention(float* out, const float* q, const float* key_cache,
                              const float* value_cache, float* att, int pos,
                              const AttentionShape& s) {
    const bool parallel =
        int64_t(pos + 1) * s.n_heads * s.head_size >= kParallelAttentionMin && threads_ > 1;
#pragma omp parallel for num_threads(threads_) schedule(static) if (parallel)
    for (int h = 0; h < s.n_heads; h++)
        attend_head(h, out, q, key_cache, value_cache, att + int64_t(h) * (pos + 1), pos, s);
}

void OpenMpBackend::swiglu(float* hb, const float* hb2, int n) {
    for (int i = 0; i < n; i++) {
        float val = hb[i];
        val *= (1.0f / (1.0f + expf(-val)));
        val *= hb2[i];
        hb[i] = val;
    }
}

void OpenMpBackend::residual_add(float* x, const float* y, int n) {
    for (int i = 0; i < n; i++) x[i] += y[i];
}

float* OpenMpBackend::forward(int token, int pos) {
    // Per-op timing needs op boundaries, so a timed run goes op by op.
    if (!fused_ || op_times_) return Backend::forward(token, pos);
    return forward_fused(token, pos);
}

// llama2.c's forward() in one parallel region. Each thread owns equal shares of the rows
// of every matrix; the elementwise ops ride along with the matmul rows that produce their
// inputs (RoPE after q/k, the residual add into x after wo and w2, SwiGLU after w1/w3), and
// each thread normalizes x into its own buffer, so a layer needs four barriers.
float* OpenMpBackend::forward_fused(int token, int pos) {
    const ModelConfig& p = model_->config();
    const ModelWeights& w = model_->weights();
    RunState& s = *state_;
    const int dim = p.dim, kv_dim = p.kv_dim(), hidden = p.hidden_dim, head_size = p.head_size();
    const AttentionShape shape = AttentionShape::of(p);

    std::memcpy(s.x.data(), w.token_embedding + int64_t(token) * dim, size_t(dim) * sizeof(float));
    rope_angles(rope_cos_.data(), rope_sin_.data(), pos, head_size);
    const float* rc = rope_cos_.data();
    const float* rs = rope_sin_.data();

    bool short_team = false;
#pragma omp parallel num_threads(forward_threads_)
    {
        // The packed blocks were cut for exactly forward_threads_ threads. OpenMP may give fewer
        // (OMP_DYNAMIC=true, thread limits); then this pass is skipped and the op-by-op
        // path below runs instead.
        const int nt = forward_threads_, tid = omp_get_thread_num();
        if (omp_get_num_threads() != nt) {
#pragma omp single nowait
            short_team = true;
        } else {
        float* xb = local_xb_.data() + size_t(tid) * size_t(local_stride_);
        const float* wp = packed_.get() + packed_begin_[size_t(tid)];  // this thread's weights, in order
        const Range rd = share(dim, nt, tid, 4);
        const Range rkv = share(kv_dim, nt, tid, 4);
        const Range rh = share(hidden, nt, tid, 4);
        // Rows [r.lo, r.hi) of a [.][cols] matrix, the next ones in this thread's block.
        auto next_rows = [&](float* out, const float* x, int cols, Range r, bool add) {
            matvec_rows(out + r.lo, wp, x, cols, 0, r.size(), add);
            wp += int64_t(r.size()) * cols;
        };

        for (int l = 0; l < p.n_layers; ++l) {
            const LayerWeights& L = w.layers[size_t(l)];
            const size_t loff = size_t(l) * size_t(p.seq_len) * size_t(kv_dim);
            float* kc = s.key_cache.data() + loff;
            float* vc = s.value_cache.data() + loff;
            float* k = kc + size_t(pos) * size_t(kv_dim);
            float* v = vc + size_t(pos) * size_t(kv_dim);

            rmsnorm_into(xb, s.x.data(), L.rms_att, dim);
            next_rows(s.q.data(), xb, dim, rd, false);
            rotate_pairs(s.q.data(), rd.lo, rd.hi, head_size, rc, rs);
            next_rows(k, xb, dim, rkv, false);
            rotate_pairs(k, rkv.lo, rkv.hi, head_size, rc, rs);
            next_rows(v, xb, dim, rkv, false);
#pragma omp barrier

#pragma omp for schedule(static)
            for (int h = 0; h < p.n_heads; h++)
                attend_head(h, s.xb.data(), s.q.data(), kc, vc, s.att.data() + int64_t(h) * p.seq_len, pos, shape);
            // (the for's implied barrier: all heads are in s.xb)

            next_rows(s.x.data(), s.xb.data(), dim, rd, true);  // x += wo xb
#pragma omp barrier

            rmsnorm_into(xb, s.x.data(), L.rms_ffn, dim);
            next_rows(s.hb.data(), xb, dim, rh, false);
            next_rows(s.hb2.data(), xb, dim, rh, false);
            for (int i = rh.lo; i < rh.hi; i++) {
                float val = s.hb[size_t(i)];
                val *= (1.0f / (1.0f + expf(-val)));
                s.hb[size_t(i)] = val * s.hb2[size_t(i)];
            }
#pragma omp barrier

            next_rows(s.x.data(), s.hb.data(), hidden, rd, true);  // x += w2 hb
#pragma omp barrier
        }

        rmsnorm_into(xb, s.x.data(), w.rms_final, dim);
        next_rows(s.logits.data(), xb, dim, share(p.vocab_size, nt, tid, 4), false);
        }
    }
    if (short_team) return Backend::forward(token, pos);
    return s.logits.data();
}

LHB_REGISTER_BACKEND(openmp, BackendFactory{
    "openmp",
    std::string("OpenMP threads over matmul rows and attention heads, ") + openmp::kernel_isa() +
        " kernels, one parallel region per token",
    10,
    [](const BackendOptions&) { return Availability{}; },
    [](const BackendOptions& o) -> std::unique_ptr<Backend> {
        return std::make_unique<OpenMpBackend>(o.threads, o.fused);
    }})

}  // namespace lhb
