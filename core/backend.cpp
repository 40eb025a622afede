#include "core/backend.hpp"

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

void Backend::load(const Model& model) {
    model_ = &model;
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
