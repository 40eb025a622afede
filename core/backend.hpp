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

// Activations and KV cache of one sequence, as in llama2.c's RunState.
struct RunState {
    explicit RunState(const ModelConfig& c);
    std::vector<float> x, xb, xb2, hb, hb2, q, att, logits;
    std::vector<float> key_cache, value_cache;  // [n_layers][seq_len][kv_dim]
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

    // Logits (vocab_size floats, owned by the backend) for `token` at position `pos`.
    virtual float* forward(int token, int pos);

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

    const Model* model_ = nullptr;
    std::unique_ptr<RunState> state_;
    OpTimes* op_times_ = nullptr;

private:
    exact::Q8Activations xq_;  // the default int8 matmul's quantized activations
};

}  // namespace lhb
