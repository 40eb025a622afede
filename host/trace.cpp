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
    const int i = int(op);
    return i >= 0 && i < lhk::kNumTraceOps ? lhk::kTraceOpNames[i] : "io";
}

const char* loop_name(lhk::LoopId id) {
    const int i = int(id);
    return i >= 0 && i < lhk::kNumLoops ? lhk::kLoops[i].name : "?";
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

Trace trace_forward(const ModelConfig& c, int pos, int group_size, DecodeMode mode, int kv_bits) {
    const DeviceLayout layout = DeviceLayout::of(c, "trace", group_size, kv_bits);
    if (pos < 0 || pos >= c.seq_len)
        throw InputError("trace: position " + std::to_string(pos) + " is outside 0.." +
                         std::to_string(c.seq_len - 1));
    std::array<BeatBuffer, kPorts> w;
    for (int p = 0; p < kPorts; ++p) w[size_t(p)] = BeatBuffer(layout.weight_beats[size_t(p)]);
    auto kv = make_kv_stripes(layout);
    BeatBuffer logits(layout.logits_beats);
    BeatBuffer tokens(token_beats(1));
    TraceRecorder rec;
    llama_forward(1 % c.vocab_size, pos, mode == DecodeMode::DeviceGreedy ? 1 : 0, 0, lhk::kPromptLogitsNone,
                  layout.dims, w[0].data(),
                  w[1].data(), w[2].data(), w[3].data(), w[0].data(), w[1].data(), w[2].data(), w[3].data(),
                  kv[0].data(), kv[1].data(), kv[2].data(), kv[3].data(), logits.data(), tokens.data());
    return rec.take();
}

}  // namespace lhb::hls

namespace lhb::hls {

Trace trace_prefill(const ModelConfig& c, int pos, int n, int group_size, int prompt_logits, int kv_bits) {
    const DeviceLayout layout = DeviceLayout::of(c, "trace", group_size, kv_bits);
    if (pos < 0 || n < 1 || n > lhk::kPrefillTokens || pos + n > c.seq_len)
        throw InputError("trace: a prompt block of " + std::to_string(n) + " tokens at position " +
                         std::to_string(pos) + " is outside 1.." + std::to_string(lhk::kPrefillTokens) +
                         " tokens within 0.." + std::to_string(c.seq_len - 1));
    std::array<BeatBuffer, kPorts> w;
    for (int p = 0; p < kPorts; ++p) w[size_t(p)] = BeatBuffer(layout.weight_beats[size_t(p)]);
    auto kv = make_kv_stripes(layout);
    BeatBuffer logits(int64_t(layout.logits_beats) * lhk::kPrefillTokens);
    BeatBuffer tokens(token_beats(lhk::kPrefillTokens));  // zeroed: every id 0
    TraceRecorder rec;
    llama_forward(0, pos, 0, n, prompt_logits, layout.dims, w[0].data(), w[1].data(), w[2].data(), w[3].data(),
                  w[0].data(), w[1].data(), w[2].data(), w[3].data(), kv[0].data(), kv[1].data(), kv[2].data(),
                  kv[3].data(), logits.data(), tokens.data());
    return rec.take();
}

}  // namespace lhb::hls
