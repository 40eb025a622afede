#include "core/backend.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include "core/error.hpp"
#include "core/sampler.hpp"

namespace lhb {

const char* op_name(Op op) {
    static const char* names[kNumOps] = {"rmsnorm", "matmul", "rope",    "softmax",
                                         "attention", "swiglu", "residual"};
    return names[int(op)];
}

RunState::RunState(const ModelConfig& c) {
    const size_t d = size_t(c.dim), h = size_t(c.hidden_dim);
    x.assign(d, 0.f);
    xb.assign(d, 0.f);
    xb2.assign(d, 0.f);
    hb.assign(h, 0.f);
    hb2.assign(h, 0.f);
    q.assign(d, 0.f);
    att.assign(size_t(c.n_heads) * size_t(c.seq_len), 0.f);
    logits.assign(size_t(c.vocab_size), 0.f);
    const size_t cache = size_t(c.n_layers) * size_t(c.seq_len) * size_t(c.kv_dim());
    key_cache.assign(cache, 0.f);
    value_cache.assign(cache, 0.f);
}

BatchState::BatchState(const ModelConfig& c, int block_) : block(block_) {
    const size_t b = size_t(block_), d = size_t(c.dim), h = size_t(c.hidden_dim);
    x.assign(b * d, 0.f);
    xb.assign(b * d, 0.f);
    xb2.assign(b * d, 0.f);
    q.assign(b * d, 0.f);
    hb.assign(b * h, 0.f);
    hb2.assign(b * h, 0.f);
}

void Backend::load(const Model& model) {
    model_ = &model;
    batch_.reset();
    try {
        state_ = std::make_unique<RunState>(model.config());
    } catch (const std::bad_alloc&) {
        throw InputError(model.path() + ": not enough memory for the run state (KV cache of " +
                         std::to_string(model.config().n_layers) + " layers x seq_len " +
                         std::to_string(model.config().seq_len) + ")");
    }
}

// llama2.c's forward(), op by op, top to bottom.
float* Backend::forward(int token, int pos) {
    const ModelConfig& p = model_->config();
    const ModelWeights& w = model_->weights();
    RunState& s = *state_;
    const int dim = p.dim, kv_dim = p.kv_dim(), hidden_dim = p.hidden_dim;
    const AttentionShape shape = AttentionShape::of(p);

    w.embedding_row(token, dim, s.x.data());

    for (int l = 0; l < p.n_layers; ++l) {
        const LayerWeights& L = w.layers[size_t(l)];
        const size_t loff = size_t(l) * size_t(p.seq_len) * size_t(kv_dim);
        float* k = s.key_cache.data() + loff + size_t(pos) * size_t(kv_dim);
        float* v = s.value_cache.data() + loff + size_t(pos) * size_t(kv_dim);

        timed(Op::RmsNorm, [&] { rmsnorm(s.xb.data(), s.x.data(), L.rms_att, dim); });
        timed(Op::MatMul, [&] {
            matmul(s.q.data(), s.xb.data(), L.wq);
            matmul(k, s.xb.data(), L.wk);
            matmul(v, s.xb.data(), L.wv);
        });
        timed(Op::Rope, [&] { rope(s.q.data(), k, pos, dim, kv_dim, p.head_size()); });
        timed(Op::Attention, [&] {
            attention(s.xb.data(), s.q.data(), s.key_cache.data() + loff,
                      s.value_cache.data() + loff, s.att.data(), pos, shape);
        });
        timed(Op::MatMul, [&] { matmul(s.xb2.data(), s.xb.data(), L.wo); });
        timed(Op::Residual, [&] { residual_add(s.x.data(), s.xb2.data(), dim); });

        timed(Op::RmsNorm, [&] { rmsnorm(s.xb.data(), s.x.data(), L.rms_ffn, dim); });
        timed(Op::MatMul, [&] {
            matmul(s.hb.data(), s.xb.data(), L.w1);
            matmul(s.hb2.data(), s.xb.data(), L.w3);
        });
        timed(Op::SwiGLU, [&] { swiglu(s.hb.data(), s.hb2.data(), hidden_dim); });
        timed(Op::MatMul, [&] { matmul(s.xb.data(), s.hb.data(), L.w2); });
        timed(Op::Residual, [&] { residual_add(s.x.data(), s.xb.data(), dim); });
    }

    timed(Op::RmsNorm, [&] { rmsnorm(s.x.data(), s.x.data(), w.rms_final, dim); });
    timed(Op::MatMul, [&] { matmul(s.logits.data(), s.x.data(), w.wcls); });
    return s.logits.data();
}

void Backend::check_batch(const int* tokens, int n, int pos, BatchLogits which, const float* all_logits) const {
    if (!model_) throw InputError(name() + ": forward_batch before a model is loaded");
    const ModelConfig& c = model_->config();
    if (n < 1 || !tokens) throw InputError(name() + ": a prompt needs at least one token (got " + std::to_string(n) + ")");
    if (pos < 0 || int64_t(pos) + n > c.seq_len)
        throw InputError(name() + ": a prompt of " + std::to_string(n) + " tokens at position " + std::to_string(pos) +
                         " does not fit the context (seq_len " + std::to_string(c.seq_len) + ")");
    for (int i = 0; i < n; ++i)
        if (tokens[i] < 0 || tokens[i] >= c.vocab_size)
            throw InputError(name() + ": prompt token " + std::to_string(i) + " is " + std::to_string(tokens[i]) +
                             ", outside the vocabulary (0.." + std::to_string(c.vocab_size - 1) + ")");
    if (which == BatchLogits::All && !all_logits)
        throw InputError(name() + ": forward_batch asked for every position's logits without a buffer for them");
}

// forward()'s layers for a block of tokens, layer by layer: every matrix is applied to the
// whole block at once (matmul_batch), the per-token ops run row by row. The elementwise ops
// too: each call has forward()'s length, which a device op may be sized for (hls-device's
// kernels refuse more than kMaxCols).
void Backend::forward_block(const int* tokens, int n, int pos) {
    const ModelConfig& p = model_->config();
    const ModelWeights& w = model_->weights();
    RunState& s = *state_;
    BatchState& b = *batch_;
    const int dim = p.dim, kv_dim = p.kv_dim(), hidden_dim = p.hidden_dim;
    const size_t d = size_t(dim), h = size_t(hidden_dim);
    const AttentionShape shape = AttentionShape::of(p);

    for (int i = 0; i < n; ++i) w.embedding_row(tokens[i], dim, b.x.data() + size_t(i) * d);

    for (int l = 0; l < p.n_layers; ++l) {
        const LayerWeights& L = w.layers[size_t(l)];
        const size_t loff = size_t(l) * size_t(p.seq_len) * size_t(kv_dim);
        float* k = s.key_cache.data() + loff + size_t(pos) * size_t(kv_dim);  // [n][kv_dim]
        float* v = s.value_cache.data() + loff + size_t(pos) * size_t(kv_dim);

        timed(Op::RmsNorm, [&] {
            for (int i = 0; i < n; ++i) rmsnorm(b.xb.data() + size_t(i) * d, b.x.data() + size_t(i) * d, L.rms_att, dim);
        });
        timed(Op::MatMul, [&] {
            matmul_batch(b.q.data(), b.xb.data(), L.wq, n);
            matmul_batch(k, b.xb.data(), L.wk, n);
            matmul_batch(v, b.xb.data(), L.wv, n);
        });
        timed(Op::Rope, [&] {
            for (int i = 0; i < n; ++i)
                rope(b.q.data() + size_t(i) * d, k + size_t(i) * size_t(kv_dim), pos + i, dim, kv_dim, p.head_size());
        });
        timed(Op::Attention, [&] {
            attention_batch(b.xb.data(), b.q.data(), s.key_cache.data() + loff, s.value_cache.data() + loff,
                            s.att.data(), pos, n, shape);
        });
        timed(Op::MatMul, [&] { matmul_batch(b.xb2.data(), b.xb.data(), L.wo, n); });
        timed(Op::Residual, [&] {
            for (int i = 0; i < n; ++i) residual_add(b.x.data() + size_t(i) * d, b.xb2.data() + size_t(i) * d, dim);
        });

        timed(Op::RmsNorm, [&] {
            for (int i = 0; i < n; ++i) rmsnorm(b.xb.data() + size_t(i) * d, b.x.data() + size_t(i) * d, L.rms_ffn, dim);
        });
        timed(Op::MatMul, [&] {
            matmul_batch(b.hb.data(), b.xb.data(), L.w1, n);
            matmul_batch(b.hb2.data(), b.xb.data(), L.w3, n);
        });
        timed(Op::SwiGLU, [&] {
            for (int i = 0; i < n; ++i) swiglu(b.hb.data() + size_t(i) * h, b.hb2.data() + size_t(i) * h, hidden_dim);
        });
        timed(Op::MatMul, [&] { matmul_batch(b.xb.data(), b.hb.data(), L.w2, n); });
        timed(Op::Residual, [&] {
            for (int i = 0; i < n; ++i) residual_add(b.x.data() + size_t(i) * d, b.xb.data() + size_t(i) * d, dim);
        });
    }
}

float* Backend::forward_batch(const int* tokens, int n, int pos, BatchLogits which, float* all_logits) {
    check_batch(tokens, n, pos, which, all_logits);
    const ModelConfig& p = model_->config();
    const ModelWeights& w = model_->weights();
    RunState& s = *state_;
    if (!batch_) {
        try {
            batch_ = std::make_unique<BatchState>(p, kBatchBlock);
        } catch (const std::bad_alloc&) {
            throw InputError(model_->path() + ": not enough memory for a block of " + std::to_string(kBatchBlock) +
                             " prompt tokens' activations");
        }
    }
    BatchState& b = *batch_;
    const int dim = p.dim, vocab = p.vocab_size;
    const size_t d = size_t(dim);
    for (int first = 0; first < n; first += kBatchBlock) {
        const int m = std::min(kBatchBlock, n - first);
        forward_block(tokens + first, m, pos + first);
        const bool last_block = first + m == n;
        if (which == BatchLogits::All) {
            timed(Op::RmsNorm, [&] {
                for (int i = 0; i < m; ++i)
                    rmsnorm(b.x.data() + size_t(i) * d, b.x.data() + size_t(i) * d, w.rms_final, dim);
            });
            float* rows = all_logits + size_t(first) * size_t(vocab);
            timed(Op::MatMul, [&] { matmul_batch(rows, b.x.data(), w.wcls, m); });
            if (last_block) std::memcpy(s.logits.data(), rows + size_t(m - 1) * size_t(vocab), size_t(vocab) * sizeof(float));
        } else if (last_block) {
            float* last = b.x.data() + size_t(m - 1) * d;
            timed(Op::RmsNorm, [&] { rmsnorm(last, last, w.rms_final, dim); });
            timed(Op::MatMul, [&] { matmul(s.logits.data(), last, w.wcls); });
        }
    }
    // As after forward(), x holds the last token's final-normed activations.
    std::memcpy(s.x.data(), b.x.data() + size_t((n - 1) % kBatchBlock) * d, d * sizeof(float));
    return s.logits.data();
}

int Backend::decode_greedy(int token, int pos, int steps, std::vector<int>& out) {
    const ModelConfig& c = model_->config();
    const size_t first = out.size();
    for (int s = 0; s < steps && pos + s < c.seq_len; ++s) {
        const int next = sample_argmax(forward(token, pos + s), c.vocab_size);
        out.push_back(next);
        if (next == 1) break;
        token = next;
    }
    return int(out.size() - first);
}

}  // namespace lhb
