#include "host/trace.hpp"

#include <stdexcept>

#include "core/error.hpp"
#include "host/packing.hpp"
#include "kernels/llama_kernels.hpp"

namespace lhb::hls {

static_assert(LHK_TRACE_ENABLED, "the host build must see the kernels' trace hooks");

int64_t Trace::loop_runs() const {
    int64_t n = 0;
    for (const TraceOpRun& o : ops)
        for (const TraceStep& s : o.steps) n += int64_t(s.loops.size());
    return n;
}

const char* trace_op_name(lhk::TraceOp op) {
    switch (op) {
        case lhk::TraceOp::Embedding: return "embedding";
        case lhk::TraceOp::RmsNorm: return "rmsnorm";
        case lhk::TraceOp::MatMul: return "matmul";
        case lhk::TraceOp::Rope: return "rope";
        case lhk::TraceOp::KvStore: return "kv-store";
        case lhk::TraceOp::Attention: return "attention";
        case lhk::TraceOp::Softmax: return "softmax";
        case lhk::TraceOp::SwiGLU: return "swiglu";
        case lhk::TraceOp::Residual: return "residual";
        case lhk::TraceOp::Quantize: return "quantize";
        case lhk::TraceOp::WeightStream: return "weight-stream";
        case lhk::TraceOp::Count: break;
    }
    return "io";
}

const char* loop_name(lhk::LoopId id) {
    switch (id) {
        case lhk::LoopId::EmbedRead: return "embed_read";
        case lhk::LoopId::RmsSumSq: return "rms_sumsq";
        case lhk::LoopId::RmsScale: return "rms_scale";
        case lhk::LoopId::MatLoadX: return "mat_load_x";
        case lhk::LoopId::MatEngine: return "mat_engine";
        case lhk::LoopId::MatStoreVec: return "mat_store_vec";
        case lhk::LoopId::MatStoreDdr: return "mat_store_ddr";
        case lhk::LoopId::RopeTable: return "rope_table";
        case lhk::LoopId::RopeRotate: return "rope_rotate";
        case lhk::LoopId::KvWrite: return "kv_write_row";
        case lhk::LoopId::AttnLoadQ: return "attn_load_q";
        case lhk::LoopId::AttnScores: return "attn_scores";
        case lhk::LoopId::SoftmaxMax: return "softmax_max";
        case lhk::LoopId::SoftmaxExp: return "softmax_exp";
        case lhk::LoopId::SoftmaxNorm: return "softmax_norm";
        case lhk::LoopId::AttnValues: return "attn_values";
        case lhk::LoopId::AttnCombine: return "attn_combine";
        case lhk::LoopId::VecLoad: return "load_vector";
        case lhk::LoopId::VecStore: return "store_vector";
        case lhk::LoopId::SwiGLU: return "swiglu";
        case lhk::LoopId::Residual: return "residual";
        case lhk::LoopId::QuantMax: return "quant_max";
        case lhk::LoopId::QuantScale: return "quant_scale";
        case lhk::LoopId::MatQ8Steps: return "q8_steps";
        case lhk::LoopId::MatQ8Engine: return "mat_q8_engine";
        case lhk::LoopId::WeightRead: return "weight_read";
        case lhk::LoopId::Count: break;
    }
    return "?";
}

TraceRecorder::TraceRecorder() {
    if (lhk::g_trace_sink) throw std::logic_error("TraceRecorder: another recorder is active");
    sink_.ctx = this;
    sink_.op = &TraceRecorder::on_op;
    sink_.dataflow = &TraceRecorder::on_dataflow;
    sink_.loop = &TraceRecorder::on_loop;
    lhk::g_trace_sink = &sink_;
}

TraceRecorder::~TraceRecorder() {
    if (lhk::g_trace_sink == &sink_) lhk::g_trace_sink = nullptr;
}

Trace TraceRecorder::take() { return std::move(trace_); }

TraceOpRun& TraceRecorder::current() {
    if (trace_.ops.empty()) trace_.ops.push_back(TraceOpRun{});
    return trace_.ops.back();
}

void TraceRecorder::on_op(void* ctx, lhk::TraceOp op, int32_t a0, int32_t a1, int32_t a2, int32_t a3) {
    auto* self = static_cast<TraceRecorder*>(ctx);
    TraceOpRun run;
    run.op = op;
    run.args = {a0, a1, a2, a3};
    self->trace_.ops.push_back(std::move(run));
}

void TraceRecorder::on_dataflow(void* ctx, int begin) {
    auto* self = static_cast<TraceRecorder*>(ctx);
    if (begin) {
        TraceStep step;
        step.dataflow = true;
        self->current().steps.push_back(std::move(step));
    }
    self->in_dataflow_ = begin != 0;
}

void TraceRecorder::on_loop(void* ctx, lhk::LoopId id, int64_t trips, int port, int64_t bytes) {
    auto* self = static_cast<TraceRecorder*>(ctx);
    TraceLoop loop{id, trips, 1, port, bytes};
    TraceOpRun& run = self->current();
    if (self->in_dataflow_) {
        run.steps.back().loops.push_back(loop);
    } else {
        TraceStep step;
        step.loops.push_back(loop);
        run.steps.push_back(std::move(step));
    }
}

const char* decode_mode_name(DecodeMode m) {
    return m == DecodeMode::DeviceGreedy ? "device-greedy" : "host-sampled";
}

Trace trace_forward(const ModelConfig& c, int pos, int group_size, DecodeMode mode) {
    const DeviceLayout layout = DeviceLayout::of(c, "trace", group_size);
    if (pos < 0 || pos >= c.seq_len)
        throw InputError("trace: position " + std::to_string(pos) + " is outside 0.." +
                         std::to_string(c.seq_len - 1));
    std::array<BeatBuffer, kPorts> w;
    for (int p = 0; p < kPorts; ++p) w[size_t(p)] = BeatBuffer(layout.weight_beats[size_t(p)]);
    auto kv = make_kv_stripes(layout);
    BeatBuffer logits(layout.logits_beats);
    BeatBuffer tokens(token_beats(1));
    TraceRecorder rec;
    llama_forward(1 % c.vocab_size, pos, mode == DecodeMode::DeviceGreedy ? 1 : 0, layout.dims, w[0].data(),
                  w[1].data(), w[2].data(), w[3].data(), w[0].data(), w[1].data(), w[2].data(), w[3].data(),
                  kv[0].data(), kv[1].data(), kv[2].data(), kv[3].data(), logits.data(), tokens.data());
    return rec.take();
}

}  // namespace lhb::hls
