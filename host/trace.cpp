#include "host/trace.hpp"

#include <climits>
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

namespace {

// llama_forward on zeroed buffers of shape c, traced.
Trace run_forward(const ModelConfig& c, int pos, int group_size, DecodeMode mode, int kv_bits) {
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

// ---- A trace of many layers from traces of one and two ----------------------------------
// Every layer runs the same loops with the same trip counts and bytes (nothing in a layer's
// loops depends on its index), so the trace of a deep model is the trace of a one-layer model
// with its layer repeated. What lies outside the layers is the same in both, but for the
// weight readers: their beats grow by one layer's per layer, extrapolated from one layer to
// two. The layer's ops are found by comparing the one- and two-layer traces; a kernel change
// that breaks this structure stops with a logic_error (and tests/test_hls_tinyllama.cpp
// checks the result against a full trace of stories15M's six layers).

// Ops a (in the one-layer trace) and b the same but for numbers that grow with the layers
// (weight readers only) and KvStore's layer argument, b's = a's + layer_shift.
bool same_op(const TraceOpRun& a, const TraceOpRun& b, int layer_shift) {
    if (a.op != b.op || a.steps.size() != b.steps.size()) return false;
    const bool grows = a.op == lhk::TraceOp::WeightStream;
    for (size_t i = 0; i < a.args.size(); ++i) {
        const bool layer_arg = a.op == lhk::TraceOp::KvStore && i == 2;
        if (layer_arg ? b.args[i] != a.args[i] + layer_shift : !grows && a.args[i] != b.args[i]) return false;
    }
    for (size_t k = 0; k < a.steps.size(); ++k) {
        const TraceStep &sa = a.steps[k], &sb = b.steps[k];
        if (sa.dataflow != sb.dataflow || sa.loops.size() != sb.loops.size()) return false;
        for (size_t j = 0; j < sa.loops.size(); ++j) {
            const TraceLoop &la = sa.loops[j], &lb = sb.loops[j];
            if (la.id != lb.id || la.port != lb.port || la.repeats != lb.repeats) return false;
            if (!grows && (la.trips != lb.trips || la.bytes != lb.bytes)) return false;
        }
    }
    return true;
}

// An op outside the layers at `layers` layers, from its one-layer (a) and two-layer (b) runs.
TraceOpRun outside_layers(const TraceOpRun& a, const TraceOpRun& b, int layers) {
    auto grow = [&](int64_t x1, int64_t x2) { return x1 + int64_t(layers - 1) * (x2 - x1); };
    TraceOpRun r = a;
    for (size_t i = 0; i < r.args.size(); ++i) {
        const int64_t v = grow(a.args[i], b.args[i]);
        if (v < INT32_MIN || v > INT32_MAX) throw InputError("trace: the weight stream of " + std::to_string(layers) +
                                                             " layers exceeds the trace's 32-bit op arguments");
        r.args[i] = int32_t(v);
    }
    for (size_t k = 0; k < r.steps.size(); ++k)
        for (size_t j = 0; j < r.steps[k].loops.size(); ++j) {
            TraceLoop& l = r.steps[k].loops[j];
            l.trips = grow(a.steps[k].loops[j].trips, b.steps[k].loops[j].trips);
            l.bytes = grow(a.steps[k].loops[j].bytes, b.steps[k].loops[j].bytes);
        }
    return r;
}

// one = prefix P, layer A, suffix S; two = P' A A' S (A' is A of layer 1): P A^layers S.
Trace repeat_layers(const Trace& one, const Trace& two, int layers) {
    const std::vector<TraceOpRun>& o1 = one.ops;
    const std::vector<TraceOpRun>& o2 = two.ops;
    const size_t n1 = o1.size(), n2 = o2.size();
    if (n2 <= n1) throw std::logic_error("trace: a second layer added no ops");
    const size_t k = n2 - n1;
    // Any start s of the layer that explains `two` gives the same result (a later one only
    // rotates the layer's ops by ones the suffix begins with).
    for (size_t s = 0; s + k <= n1; ++s) {
        bool fits = true;
        for (size_t i = 0; fits && i < s + k; ++i) fits = same_op(o1[i], o2[i], 0);
        for (size_t j = 0; fits && s + j < n1; ++j) fits = same_op(o1[s + j], o2[s + k + j], j < k ? 1 : 0);
        if (!fits) continue;
        Trace t;
        for (size_t i = 0; i < s; ++i) t.ops.push_back(outside_layers(o1[i], o2[i], layers));
        for (int l = 0; l < layers; ++l)
            for (size_t i = s; i < s + k; ++i) {
                t.ops.push_back(o1[i]);
                if (o1[i].op == lhk::TraceOp::KvStore) t.ops.back().args[2] += l;
            }
        for (size_t i = s + k; i < n1; ++i) t.ops.push_back(outside_layers(o1[i], o2[i + k], layers));
        return t;
    }
    throw std::logic_error("trace: the kernels' ops are not one layer repeated: a deep model cannot be traced by its "
                           "first layers");
}

ModelConfig first_layers(ModelConfig c, int layers) {
    c.n_layers = layers;
    return c;
}

}  // namespace

Trace trace_forward_every_layer(const ModelConfig& c, int pos, int group_size, DecodeMode mode, int kv_bits) {
    return run_forward(c, pos, group_size, mode, kv_bits);
}

Trace trace_forward(const ModelConfig& c, int pos, int group_size, DecodeMode mode, int kv_bits) {
    check_fits(c, "trace", group_size, kv_bits);
    if (c.n_layers <= 2) return run_forward(c, pos, group_size, mode, kv_bits);
    return repeat_layers(run_forward(first_layers(c, 1), pos, group_size, mode, kv_bits),
                         run_forward(first_layers(c, 2), pos, group_size, mode, kv_bits), c.n_layers);
}

}  // namespace lhb::hls

namespace lhb::hls {

namespace {

Trace run_prefill(const ModelConfig& c, int pos, int n, int group_size, int prompt_logits, int kv_bits) {
    const DeviceLayout layout = DeviceLayout::of(c, "trace", group_size, kv_bits);
    const int most = lhk::block_tokens(layout.dims);
    if (pos < 0 || n < 1 || n > most || pos + n > c.seq_len)
        throw InputError("trace: a prompt block of " + std::to_string(n) + " tokens at position " +
                         std::to_string(pos) + " is outside 1.." + std::to_string(most) +
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

}  // namespace

Trace trace_prefill_every_layer(const ModelConfig& c, int pos, int n, int group_size, int prompt_logits,
                                int kv_bits) {
    return run_prefill(c, pos, n, group_size, prompt_logits, kv_bits);
}

Trace trace_prefill(const ModelConfig& c, int pos, int n, int group_size, int prompt_logits, int kv_bits) {
    check_fits(c, "trace", group_size, kv_bits);
    if (c.n_layers <= 2) return run_prefill(c, pos, n, group_size, prompt_logits, kv_bits);
    return repeat_layers(run_prefill(first_layers(c, 1), pos, n, group_size, prompt_logits, kv_bits),
                         run_prefill(first_layers(c, 2), pos, n, group_size, prompt_logits, kv_bits), c.n_layers);
}

}  // namespace lhb::hls
