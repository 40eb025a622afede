#include "core/nonfinite.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/error.hpp"

namespace lhb {

int first_non_finite(const float* x, int n) {
    for (int i = 0; i < n; ++i)
        if (!std::isfinite(x[i])) return i;
    return -1;
}

namespace {

bool any_non_finite(const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(x[i])) return true;
    return false;
}

bool matrix_non_finite(const WeightMatrix& w) {
    if (w.dtype == DType::F32) return any_non_finite(w.f32, w.numel());
    return w.group_size > 0 && any_non_finite(w.scales, w.numel() / w.group_size);  // int8 values are always finite
}

struct TensorName {
    int layer = -1;
    const char* name = "";
};

// A Backend whose ops are `inner`'s, each followed by a check of its output. The forward
// pass is Backend::forward, so the op order is llama2.c's whatever `inner` overrides.
class Tracer : public Backend {
public:
    Tracer(Backend& inner, const Model& model) : inner_(inner) {
        const ModelWeights& w = model.weights();
        for (size_t l = 0; l < w.layers.size(); ++l) {
            const LayerWeights& L = w.layers[l];
            const int layer = int(l);
            norms_[L.rms_att] = {layer, "rms_att"};
            norms_[L.rms_ffn] = {layer, "rms_ffn"};
            for (auto [m, name] : {std::pair{&L.wq, "wq"}, {&L.wk, "wk"}, {&L.wv, "wv"}, {&L.wo, "wo"},
                                   {&L.w1, "w1"}, {&L.w2, "w2"}, {&L.w3, "w3"}})
                matrices_[m] = {layer, name};
        }
        norms_[w.rms_final] = {-1, "rms_final"};
        matrices_[&w.wcls] = {-1, "wcls"};
        first_norm_ = w.layers.empty() ? nullptr : w.layers[0].rms_att;
    }

    std::string name() const override { return "trace(" + inner_.name() + ")"; }

    void rmsnorm(float* out, const float* x, const float* weight, int n) override {
        const TensorName t = lookup(norms_, weight);
        if (weight == first_norm_ && !site.found) {  // x is the embedding row of the token
            int bad = first_non_finite(x, n);
            if (bad >= 0) {
                record("embedding", -1, "token_embedding", x, bad);
                site.weights_non_finite = true;
            }
        }
        inner_.rmsnorm(out, x, weight, n);
        if (check(out, n, Op::RmsNorm, t) && any_non_finite(weight, n)) site.weights_non_finite = true;
    }
    void matmul(float* out, const float* x, const WeightMatrix& w) override {
        const TensorName t = lookup(matrices_, &w);
        inner_.matmul(out, x, w);
        if (check(out, w.rows, Op::MatMul, t) && matrix_non_finite(w)) site.weights_non_finite = true;
    }
    void rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size) override {
        inner_.rope(q, k, pos, dim, kv_dim, head_size);
        if (!check(q, dim, Op::Rope, {layer_, "q"})) check(k, kv_dim, Op::Rope, {layer_, "k"});
    }
    void softmax(float* x, int n) override {
        inner_.softmax(x, n);
        check(x, n, Op::Softmax, {layer_, ""});
    }
    void attention(float* out, const float* q, const float* key_cache, const float* value_cache,
                   float* att, int pos, const AttentionShape& shape) override {
        inner_.attention(out, q, key_cache, value_cache, att, pos, shape);
        check(out, shape.n_heads * shape.head_size, Op::Attention, {layer_, ""});
    }
    void swiglu(float* hb, const float* hb2, int n) override {
        inner_.swiglu(hb, hb2, n);
        check(hb, n, Op::SwiGLU, {layer_, ""});
    }
    void residual_add(float* x, const float* y, int n) override {
        inner_.residual_add(x, y, n);
        check(x, n, Op::Residual, {layer_, ""});
    }

    NonFiniteSite site;

private:
    template <class K>
    TensorName lookup(const std::map<K, TensorName>& names, K key) {
        auto it = names.find(key);
        if (it == names.end()) return {layer_, ""};
        layer_ = it->second.layer;
        return it->second;
    }
    // True when this op is the first whose output is not finite.
    bool check(const float* out, int n, Op op, TensorName t) {
        if (site.found) return false;
        int bad = first_non_finite(out, n);
        if (bad < 0) return false;
        record(op_name(op), t.layer, t.name, out, bad);
        return true;
    }
    void record(const char* op, int layer, const char* tensor, const float* data, int index) {
        site.found = true;
        site.op = op;
        site.layer = layer;
        site.tensor = tensor;
        site.index = index;
        site.value = data[index];
    }

    Backend& inner_;
    std::map<const float*, TensorName> norms_;
    std::map<const WeightMatrix*, TensorName> matrices_;
    const float* first_norm_ = nullptr;
    int layer_ = -1;  // layer of the last op that named one (rope, attention, ... follow it)
};

int clamp_positions(const Model& model, size_t wanted) {
    return int(std::min<size_t>(wanted, size_t(model.config().seq_len)));
}

void check_token(const Model& model, int token, int pos) {
    if (token < 0 || token >= model.config().vocab_size)
        throw InputError("non-finite trace: token at position " + std::to_string(pos) +
                         ": expected an id in 0.." + std::to_string(model.config().vocab_size - 1) +
                         ", found " + std::to_string(token));
}

}  // namespace

std::string NonFiniteSite::describe() const {
    if (!found)
        return "no non-finite value in the output of any op over " + std::to_string(positions_checked) +
               " position(s) traced op by op (a fused forward() is not traced)";
    char value_text[32];
    std::snprintf(value_text, sizeof value_text, "%g", double(value));
    std::string s = "non-finite output (" + std::string(value_text) + ") first at position " +
                    std::to_string(position) + " (token " + std::to_string(token) + "), " +
                    (layer >= 0 ? "layer " + std::to_string(layer) : std::string("outside the layers")) +
                    ", " + op;
    if (!tensor.empty()) s += (op == "embedding" ? " of " : " with ") + tensor;
    s += ", element " + std::to_string(index);
    if (weights_non_finite)
        s += "; " + (tensor.empty() ? std::string("its weights") : tensor) +
             (layer >= 0 ? " of layer " + std::to_string(layer) : std::string()) +
             " itself holds non-finite values";
    return s;
}

NonFiniteSite find_first_nonfinite(Backend& backend, const Model& model, const std::vector<int>& tokens) {
    Tracer t(backend, model);
    t.load(model);
    const int n = clamp_positions(model, tokens.size());
    for (int pos = 0; pos < n; ++pos) check_token(model, tokens[size_t(pos)], pos);
    for (int pos = 0; pos < n; ++pos) {
        t.site.position = pos;
        t.site.token = tokens[size_t(pos)];
        t.forward(tokens[size_t(pos)], pos);
        t.site.positions_checked = pos + 1;
        if (t.site.found) break;
    }
    if (!t.site.found) t.site.position = t.site.token = -1;
    return t.site;
}

NonFiniteSite find_first_nonfinite_greedy(Backend& backend, const Model& model, int steps) {
    Tracer t(backend, model);
    t.load(model);
    const int vocab = model.config().vocab_size;
    const int n = clamp_positions(model, size_t(std::max(steps, 0)));
    int token = std::min(1, vocab - 1);  // BOS
    for (int pos = 0; pos < n; ++pos) {
        t.site.position = pos;
        t.site.token = token;
        const float* logits = t.forward(token, pos);
        t.site.positions_checked = pos + 1;
        if (t.site.found) return t.site;
        int best = 0;
        for (int i = 1; i < vocab; ++i)
            if (logits[i] > logits[best]) best = i;
        token = best;
    }
    t.site.position = t.site.token = -1;
    return t.site;
}

}  // namespace lhb
