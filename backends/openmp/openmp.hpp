#pragma once
// openmp: the CPU backend built for speed. Matmul rows are split across threads (every
// matrix, the vocab x dim classifier included), attention runs one head per thread, the
// inner loops are vectorized (backends/openmp/kernels.hpp). forward() runs a whole token in
// ONE parallel region (a handful of barriers per layer instead of a fork/join per op) with
// the cheap ops fused into the matmuls that produce their inputs; with op timing attached
// or fused = false it runs op by op through the base class instead.
//
// The weights are held once (docs/openmp.md, Memory). fp32 matrices are read where the
// file is mapped, each thread its own rows of each matrix. set_pack_fp32(true) instead
// copies each thread's rows of every matrix, in the order the pass reads them, into one
// contiguous block per thread (2 MiB aligned, transparent huge pages requested), one
// sequential stream per thread like a STREAM kernel; that costs a second copy of the
// matrices (61 MB for stories15M), so it is not the default.
//
// GGUF weight types (DType::Ggml, backends/openmp/ggml_kernels.hpp): Q8_0 and Q4_0 matrices
// are packed as 16-row tiles of the file's own bytes (the file's pages released as they are
// packed, as for int8), the other types read where the file maps them; the input converted
// as llama.cpp does (per thread in the fused pass), and the fp32 ops in llama2.c's exact
// order as for int8.
//
// int8 (Q8_0, version-2) checkpoints: the same structure, with the matrices packed as int8
// tiles (backends/openmp/q8_kernels.hpp) and the activations quantized per group before
// each matmul, as runq.c does; each thread quantizes its own copy, so this adds no
// barrier. The tiles are always packed (the op-by-op path reads them too, found by the
// matrix's WeightId), and the file's pages of each packed row range are released from
// the resident set as soon as it is packed (Model::release_pages): the tiles replace them. With an int8 model loaded, rmsnorm and attention run in llama2.c's
// exact order (backends/openmp/exact_attention.hpp: the quantizer would turn their
// last-bit differences into whole int8 steps), so int8 logits equal cpu-ref int8's bit for
// bit; the fused pass keeps a transposed copy of the keys for that. RoPE, softmax, SwiGLU
// and the residual add are llama2.c's always (core/exact_ops.hpp, Backend's own ops): they
// are a sliver of a token's time.
#include <cstddef>
#include <memory>
#include <vector>

#include "backends/openmp/ggml_kernels.hpp"
#include "backends/openmp/q8_kernels.hpp"
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
    // The int8 kernel implementation (default: the fastest this CPU supports), which also
    // picks the GGUF types' kernels. Tests pick each supported one; an unsupported one
    // throws std::invalid_argument.
    void set_q8_kernel(openmp::Q8Kernel k);
    openmp::Q8Kernel q8_kernel() const { return q8_kernel_; }

    // Whether load() copies fp32 matrices into per-thread streams for the fused pass (a
    // second copy of the weights, docs/openmp.md) or the pass reads them where the file is
    // mapped (the default). Takes effect at the next load().
    void set_pack_fp32(bool pack) { pack_fp32_ = pack; }
    bool pack_fp32() const { return pack_fp32_; }

    void load(const Model& model) override;
    void rmsnorm(float* out, const float* x, const float* weight, int n) override;
    void matmul(float* out, const float* x, const WeightMatrix& w) override;
    void attention(float* out, const float* q, const float* key_cache, const float* value_cache,
                   float* att, int pos, const AttentionShape& shape) override;
    float* forward(int token, int pos) override;
    float* forward_batch(const int* tokens, int n, int pos, BatchLogits which, float* all_logits = nullptr) override;
    // The prompt path's matrix x block (backends/openmp/batch_kernels.hpp): each thread's
    // rows read once per block of tokens. fp32 within tolerance of matmul() (another
    // summation order); int8 and GGUF types equal to matmul() per token bit for bit.
    void matmul_batch(float* out, const float* x, const WeightMatrix& w, int n) override;
    // attention() for every (token, head) of a block in parallel; each the same arithmetic
    // as attention()'s, so the same values bit for bit.
    void attention_batch(float* out, const float* q, const float* key_cache, const float* value_cache, float* att,
                         int pos, int n, const AttentionShape& shape) override;

private:
    float* forward_fused(int token, int pos);
    void pack_weights();
    void pack_q8_and_release(const WeightMatrix& m, int lo, int hi, unsigned char* dst);
    void pack_ggml_and_release(const WeightMatrix& m, int lo, int hi, unsigned char* dst);
    void embedding_row(int token, float* out) const;
    void matmul_q8(float* out, const float* x, const WeightMatrix& w);
    void matmul_ggml(float* out, const float* x, const WeightMatrix& w);
    struct Q8Part;
    // The tiles of an int8 matrix and their parts: the packed ones of a model matrix, or w
    // packed into op_tiles_ (parts cut for threads_, into *own).
    const std::vector<Q8Part>& q8_tiles(const WeightMatrix& w, std::vector<Q8Part>& own, const unsigned char** base);
    void matmul_block(float* out, const float* x, const WeightMatrix& w, int n);  // n <= kBatchBlock

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

    bool pack_fp32_ = false;
    int row_align_ = 4;  // threads' row shares start at multiples of this (16 for int8 tiles)

    struct FreeDeleter {
        void operator()(unsigned char* p) const;
    };
    std::unique_ptr<unsigned char[], FreeDeleter> packed_;  // all threads' blocks
    std::vector<size_t> packed_begin_;  // thread t's block starts at byte packed_begin_[t]

    // int8: where thread t's tiles of each model matrix are (by WeightId::index(); empty
    // for fp32), for the op-by-op matmul; activations quantized per thread for the fused
    // pass (dim- and hidden-sized), and for the op-by-op matmul; tiles of a matrix that is
    // not the model's.
    struct Q8Part {
        size_t offset;  // bytes into packed_
        int lo, hi;     // rows
    };
    std::vector<std::vector<Q8Part>> q8_parts_;
    bool exact_ = false;          // an int8 model is loaded: fp32 ops in llama2.c's order
    std::vector<float> key_t_;    // [n_layers][kv_dim][seq_len]: the key cache transposed
    int key_t_valid_ = 0;         // positions [0, key_t_valid_) of key_t_ match the cache
    openmp::Q8Kernel q8_kernel_ = openmp::q8_best_kernel();
    std::vector<openmp::Q8Vector> thread_xq_, thread_hq_;
    openmp::Q8Vector op_xq_;
    std::vector<unsigned char> op_tiles_;
    // GGUF types (DType::Ggml, backends/openmp/ggml_kernels.hpp): computed from the file's
    // blocks, no packed copy; the input converted per thread (fused pass) or once (op by op).
    std::vector<openmp::GgmlVector> thread_gx_;
    openmp::GgmlVector op_gx_;
    // The batched path's scratch: a block's activations transposed (fp32), quantized or
    // converted per token (int8, GGUF), a transposed copy of foreign keys, and attention
    // scores per thread.
    std::vector<float> batch_xt_;
    std::vector<openmp::Q8Vector> batch_xq_;
    std::vector<openmp::GgmlVector> batch_gx_;
    std::vector<float> batch_kt_, batch_att_;
    // The block batch_xq_ / batch_gx_ were converted from (a copy) and for what (int8:
    // group size; GGUF: 1000 + vec_dot_type): wq, wk and wv read the same block, as w1 and
    // w3 do, and a byte comparison is far cheaper than converting again.
    std::vector<float> batch_converted_;
    int batch_converted_for_ = -1, batch_converted_cols_ = 0;
    bool batch_input_converted(const float* x, int n, int cols, int kind);
};

}  // namespace lhb
