#include "host/shape_trace.hpp"

#include "core/error.hpp"
#include "host/packing.hpp"
#include "kernels/hls_config.hpp"
#include "kernels/loop_bounds.hpp"

namespace lhb::hls {

Trace shape_trace(const ModelConfig& c, int pos, int group_size, DecodeMode mode) {
    if (pos < 0 || pos >= c.seq_len)
        throw InputError("estimate: position " + std::to_string(pos) + " is outside 0.." +
                         std::to_string(c.seq_len - 1));
    if (c.dim <= 0 || c.n_heads <= 0 || c.dim % c.n_heads != 0 || c.n_kv_heads <= 0 || c.n_heads % c.n_kv_heads != 0 ||
        c.hidden_dim <= 0 || c.n_layers <= 0 || c.vocab_size <= 0)
        throw InputError("estimate: the shape needs dim, hidden_dim, n_layers, vocab_size > 0 and heads dividing dim, "
                         "kv_heads dividing heads");
    using lhk::TraceOp;
    Trace t;
    auto op = [&](TraceOp o, int a0, int a1, int a2, int a3) {
        TraceOpRun r;
        r.op = o;
        r.args = {a0, a1, a2, a3};
        t.ops.push_back(std::move(r));
    };
    const int dim = c.dim, hidden = c.hidden_dim, hs = c.dim / c.n_heads, kv_dim = hs * c.n_kv_heads;
    const int gs = group_size;
    auto quantize = [&](int n) {
        if (gs > 0) op(TraceOp::Quantize, n, gs, 0, 0);
    };
    // 4-bit (gs < 0): each matmul quantizes its input itself, in its kind's format. The kinds
    // in the kernels' order: wq wk wv wo w1 w3 w2, then the classifier.
    const lhk::ModelDims q4 = dims_of(c, gs);
    int next_kind = 0;
    auto q4_matmul = [&](int rows, int cols, int kind, int where) {
        const int format = lhk::q4_format_of(q4, kind);
        op(TraceOp::Quantize, cols, lhk::q4_act_block(format), 1, 0);
        op(TraceOp::MatMul, rows, cols, where, lhk::q4_matmul_code(format));
    };
    auto matmul = [&](int rows, int cols) {
        if (gs >= 0) return op(TraceOp::MatMul, rows, cols, 0, gs);
        q4_matmul(rows, cols, lhk::kMatmulOrder[next_kind], 0);
        next_kind = (next_kind + 1) % lhk::kMatricesPerLayer;
    };
    const int token = 1;
    op(TraceOp::Embedding, dim, token % lhk::kWeightPorts, 0, 0);
    op(TraceOp::Rope, dim, kv_dim, hs, 2);
    for (int l = 0; l < c.n_layers; ++l) {
        op(TraceOp::RmsNorm, dim, 0, 0, 0);
        quantize(dim);
        matmul(dim, dim);
        matmul(kv_dim, dim);
        matmul(kv_dim, dim);
        op(TraceOp::Rope, dim, kv_dim, hs, 0);
        // The KV shape as the kernels trace it (lhk::kv_trace_arg), rows of the design's bits.
        const int kv_arg = lhk::kv_trace_arg_of(c.n_kv_heads, 32);
        op(TraceOp::KvStore, hs, pos, l, kv_arg);
        op(TraceOp::Attention, pos, dim, c.n_heads, kv_arg);
        quantize(dim);
        matmul(dim, dim);
        op(TraceOp::Residual, dim, 0, 0, 0);
        op(TraceOp::RmsNorm, dim, 0, 0, 0);
        quantize(dim);
        matmul(hidden, dim);
        matmul(hidden, dim);
        op(TraceOp::SwiGLU, hidden, 0, 0, 0);
        quantize(hidden);
        matmul(dim, hidden);
        op(TraceOp::Residual, dim, 0, 0, 0);
    }
    op(TraceOp::RmsNorm, dim, 0, 0, 0);
    quantize(dim);
    const int where = mode == DecodeMode::DeviceGreedy ? 2 : 1;
    if (gs < 0) q4_matmul(c.vocab_size, dim, lhk::kQ4Classifier, where);
    else op(TraceOp::MatMul, c.vocab_size, dim, where, gs);
    return t;
}

}  // namespace lhb::hls
