#pragma once
// The Backend interface: the six ops of a LLaMA2 layer plus the residual add, and a
// whole-token forward pass that composes them in llama2.c's order. Every op defaults to
// llama2.c's exact arithmetic (core/exact_ops.hpp), which is all cpu-ref is; a backend
// overrides the ops it accelerates, and one with a fused kernel overrides forward().
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/exact_ops.hpp"
#include "core/model.hpp"

namespace lhb {

enum class Op { RmsNorm, MatMul, Rope, Softmax, Attention, SwiGLU, Residual };
constexpr int kNumOps = 7;
const char* op_name(Op op);  // "rmsnorm", "matmul", "rope", "softmax", "attention", "swiglu", "residual"

// Time spent per op class, accumulated by forward() while a backend has one attached.
struct OpTimes {
    std::array<double, kNumOps> seconds{};
    std::array<int64_t, kNumOps> calls{};
    void add(Op op, double s) {
        seconds[size_t(op)] += s;
        calls[size_t(op)] += 1;
    }
    void clear() { *this = OpTimes{}; }
};

struct AttentionShape {
    int n_heads = 0;
    int n_kv_heads = 0;
    int head_size = 0;
    int kv_dim = 0;  // row stride of the KV cache: n_kv_heads * head_size
    static AttentionShape of(const ModelConfig& c) {
        return {c.n_heads, c.n_kv_heads, c.head_size(), c.kv_dim()};
    }
};

// Which positions of a batched forward pass get logits: the last one (a prompt before
// generation) or every one (a correctness check, perplexity).
enum class BatchLogits { Last, All };

// Activations and KV cache of one sequence, as in llama2.c's RunState.
struct RunState {
    explicit RunState(const ModelConfig& c);
    std::vector<float> x, xb, xb2, hb, hb2, q, att, logits;
    std::vector<float> key_cache, value_cache;  // [n_layers][seq_len][kv_dim]
};

// Activations of one block of up to `block` tokens in the batched forward pass: row i of
// each buffer is the block's token i (x, xb, xb2, q: [block][dim]; hb, hb2: [block][hidden]).
struct BatchState {
    BatchState(const ModelConfig& c, int block);
    int block = 0;
    std::vector<float> x, xb, xb2, q, hb, hb2;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;

    // Prepares for `model` (which must outlive the backend's use of it): allocates the run
    // state and lets a backend copy or pack weights. Throws InputError if it cannot.
    virtual void load(const Model& model);

    // out[n] = weight * x / rms(x)  (out may alias x), with the loaded model's norm_eps
    virtual void rmsnorm(float* out, const float* x, const float* weight, int n) {
        exact::rmsnorm(out, x, weight, n, norm_eps());
    }
    // out[w.rows] = W x[w.cols]
    virtual void matmul(float* out, const float* x, const WeightMatrix& w) { exact::matmul(out, x, w, xq_); }
    // Rotates adjacent pairs of q[dim] and (for i < kv_dim) k[kv_dim] in place, with the
    // loaded model's rope_theta.
    virtual void rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size) {
        exact::rope(q, k, pos, dim, kv_dim, head_size, rope_theta());
    }
    // In place over x[n].
    virtual void softmax(float* x, int n) { exact::softmax(x, n); }
    // Per query head: scores against key_cache rows 0..pos, softmax, weighted sum of
    // value_cache rows. out[n_heads*head_size]; att is scratch of n_heads * (pos+1) floats
    // at least. Caches are [pos+1][kv_dim] for one layer.
    virtual void attention(float* out, const float* q, const float* key_cache,
                           const float* value_cache, float* att, int pos,
                           const AttentionShape& shape) {
        exact::attention(out, q, key_cache, value_cache, att, pos, shape);
    }
    // hb[i] = silu(hb[i]) * hb2[i]
    virtual void swiglu(float* hb, const float* hb2, int n) { exact::swiglu(hb, hb2, n); }
    // x[i] += y[i]
    virtual void residual_add(float* x, const float* y, int n) { exact::residual_add(x, y, n); }

    // out[n][w.rows] = W x[n][w.cols]: one matrix against a block of n activation rows. The
    // default runs matmul() per row; a backend with a matrix-matrix kernel reads each weight
    // once per block instead.
    virtual void matmul_batch(float* out, const float* x, const WeightMatrix& w, int n) {
        for (int i = 0; i < n; ++i)
            matmul(out + size_t(i) * size_t(w.rows), x + size_t(i) * size_t(w.cols), w);
    }
    // attention() for each token i of a block at positions pos..pos+n-1, causally: token i
    // sees cache rows 0..pos+i (all rows of the block are in the cache already). out and q
    // are [n][n_heads*head_size]; att is scratch of n_heads * (pos+n) floats at least.
    virtual void attention_batch(float* out, const float* q, const float* key_cache,
                                 const float* value_cache, float* att, int pos, int n,
                                 const AttentionShape& shape) {
        const size_t qd = size_t(shape.n_heads) * size_t(shape.head_size);
        for (int i = 0; i < n; ++i)
            attention(out + size_t(i) * qd, q + size_t(i) * qd, key_cache, value_cache, att, pos + i, shape);
    }

    // Logits (vocab_size floats, owned by the backend) for `token` at position `pos`.
    virtual float* forward(int token, int pos);

    // The forward pass of a prompt: tokens[0..n) at positions pos..pos+n-1, the KV cache
    // written for all of them, the classifier run only where logits are asked for. Returns
    // the last token's logits (vocab_size floats, owned by the backend, as forward()); with
    // BatchLogits::All, row i of all_logits[n][vocab_size] (the caller's) gets token i's.
    // Throws InputError for n < 1, a token outside the vocabulary, or positions outside
    // [0, seq_len). The default runs the layers a block of kBatchBlock tokens at a time,
    // layer by layer, through matmul_batch and attention_batch (each op the same as in
    // forward(), so cpu-ref's batched logits equal its token-by-token ones bit for bit). A
    // backend whose forward() runs on a device overrides this; one that does not still gets
    // a correct (if unbatched) prompt from its ops.
    virtual float* forward_batch(const int* tokens, int n, int pos, BatchLogits which,
                                 float* all_logits = nullptr);
    static constexpr int kBatchBlock = 32;

    // Greedy decoding from `token` at `pos`: up to `steps` tokens (and no further than
    // seq_len), each the argmax of the previous one's logits as llama2.c's sample_argmax,
    // stopping after a BOS (1). Appends the ids to `out`; returns how many. The default runs
    // forward() and the argmax here; a backend that decodes on its device overrides it (one
    // launch for many tokens, the logits never leave the device).
    virtual int decode_greedy(int token, int pos, int steps, std::vector<int>& out);

    // While set, forward() adds the time of each op class to *times (nullptr: off).
    void set_op_times(OpTimes* times) { op_times_ = times; }
    const Model* model() const { return model_; }
    RunState& state() { return *state_; }

protected:
    // The loaded model's RMSNorm epsilon and RoPE base; llama2.c's (ModelConfig's defaults)
    // before any model is loaded (ops run on random data).
    float norm_eps() const { return model_ ? model_->config().norm_eps : ModelConfig{}.norm_eps; }
    float rope_theta() const { return model_ ? model_->config().rope_theta : ModelConfig{}.rope_theta; }

    template <class F>
    void timed(Op op, F&& f) {
        if (!op_times_) {
            f();
            return;
        }
        auto t0 = std::chrono::steady_clock::now();
        f();
        op_times_->add(op, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }

    // Checks forward_batch's arguments (the message names the backend); throws InputError.
    void check_batch(const int* tokens, int n, int pos, BatchLogits which, const float* all_logits) const;
    // The layers of tokens[0..n) (n <= kBatchBlock) at pos..pos+n-1 into batch_->x.
    void forward_block(const int* tokens, int n, int pos);

    const Model* model_ = nullptr;
    std::unique_ptr<RunState> state_;
    std::unique_ptr<BatchState> batch_;  // allocated by the first forward_batch()
    OpTimes* op_times_ = nullptr;

private:
    exact::Q8Activations xq_;  // the default int8 matmul's quantized activations
};

}  // namespace lhb
