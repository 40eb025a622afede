#pragma once
// openmp: the CPU backend built for speed. Matmul rows are split across threads (every
// matrix, the vocab x dim classifier included), attention runs one head per thread, the
// inner loops are vectorized (backends/openmp/kernels.hpp). forward() runs a whole token in
// ONE parallel region (a handful of barriers per layer instead of a fork/join per op) with
// the cheap ops fused into the matmuls that produce their inputs; with op timing attached
// or fused = false it runs op by op through the base class instead.
//
// For the fused pass, load() copies each thread's rows of every matrix, in the order the
// pass reads them, into one contiguous block per thread (2 MiB aligned, transparent huge
// pages requested): a token then reads each thread's weights as one sequential stream, as
// a STREAM kernel does, which is what lets decode approach the read bandwidth. That costs
// a second copy of the matrices in memory (61 MB for stories15M).
#include <cstddef>
#include <memory>
#include <vector>

#include "core/backend.hpp"

namespace lhb {

class OpenMpBackend : public Backend {
public:
    // Below this many weight bytes per thread, a token's work between two barriers is
    // smaller than what a barrier costs when the cores are shared (a descheduled partner
    // thread stalls everyone for a time slice), so the fused pass uses fewer threads.
    static constexpr int64_t kMinWeightBytesPerThread = int64_t(4) << 20;

    // threads <= 0: omp_get_max_threads() (OMP_NUM_THREADS, or all cores). The fused pass
    // runs on min(threads, weight bytes / min_bytes_per_thread) threads, at least one
    // (stories15M: 61 MB, so all threads; stories260K: 1 MB, so one).
    OpenMpBackend(int threads, bool fused, int64_t min_bytes_per_thread = kMinWeightBytesPerThread);

    std::string name() const override { return "openmp"; }
    int threads() const { return threads_; }
    // Threads of the fused forward pass for the loaded model (0 before load()).
    int forward_threads() const { return forward_threads_; }

    void load(const Model& model) override;
    void rmsnorm(float* out, const float* x, const float* weight, int n) override;
    void matmul(float* out, const float* x, const WeightMatrix& w) override;
    void rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size) override;
    void softmax(float* x, int n) override;
    void attention(float* out, const float* q, const float* key_cache, const float* value_cache,
                   float* att, int pos, const AttentionShape& shape) override;
    void swiglu(float* hb, const float* hb2, int n) override;
    void residual_add(float* x, const float* y, int n) override;
    float* forward(int token, int pos) override;

private:
    float* forward_fused(int token, int pos);
    void pack_weights();

    int threads_ = 1;
    bool fused_ = true;
    int64_t min_bytes_per_thread_ = 0;
    int forward_threads_ = 0;
    // Per-thread copies of the normalized activations (each thread normalizes x itself, so
    // no barrier is needed between rmsnorm and the matmul that reads it); padded to whole
    // cache lines so threads never share one.
    std::vector<float> local_xb_;
    int local_stride_ = 0;
    std::vector<float> rope_cos_, rope_sin_;  // per token: head_size / 2 angles

    struct FreeDeleter {
        void operator()(float* p) const;
    };
    std::unique_ptr<float[], FreeDeleter> packed_;  // all threads' blocks
    std::vector<size_t> packed_begin_;              // thread t's block starts at packed_[begin[t]]
};

}  // namespace lhb
