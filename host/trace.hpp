#pragma once
// The record of what the kernels actually ran in C simulation: op invocations, the loops
// inside them with their trip counts and the bytes each moved on its AXI port, and which
// loops ran concurrently in a DATAFLOW region. Collected through the hooks in
// kernels/hls_trace.hpp; the estimator turns it into cycles.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "kernels/hls_trace.hpp"

namespace lhb::hls {

struct TraceLoop {
    lhk::LoopId id{};
    int64_t trips = 0;    // pipelined iterations
    int64_t repeats = 1;  // times the pipeline is filled (1 for the kernels as compiled)
    int port = lhk::kNoPort;
    int64_t bytes = 0;
    bool operator==(const TraceLoop& o) const {
        return id == o.id && trips == o.trips && repeats == o.repeats && port == o.port && bytes == o.bytes;
    }
};

// One loop on its own, or the loops of a DATAFLOW region running concurrently.
struct TraceStep {
    bool dataflow = false;
    std::vector<TraceLoop> loops;
    bool operator==(const TraceStep& o) const { return dataflow == o.dataflow && loops == o.loops; }
};

struct TraceOpRun {
    lhk::TraceOp op = lhk::TraceOp::Count;  // Count: loops that ran outside any op (vector I/O)
    std::array<int32_t, 4> args{};
    std::vector<TraceStep> steps;
};

struct Trace {
    std::vector<TraceOpRun> ops;
    int64_t loop_runs() const;
};

const char* trace_op_name(lhk::TraceOp op);
const char* loop_name(lhk::LoopId id);

// Installs itself as the kernels' trace sink for its lifetime (not thread-safe: one at a
// time, which the constructor checks).
class TraceRecorder {
public:
    TraceRecorder();
    ~TraceRecorder();
    TraceRecorder(const TraceRecorder&) = delete;
    TraceRecorder& operator=(const TraceRecorder&) = delete;
    Trace take();

private:
    static void on_op(void* ctx, lhk::TraceOp op, int32_t a0, int32_t a1, int32_t a2, int32_t a3);
    static void on_dataflow(void* ctx, int begin);
    static void on_loop(void* ctx, lhk::LoopId id, int64_t trips, int port, int64_t bytes);
    TraceOpRun& current();
    Trace trace_;
    bool in_dataflow_ = false;
    lhk::TraceSink sink_{};
};

// How each decoded token reaches the host: the kernel writes the logits and the host
// samples (one kernel run per token), or the kernel decodes greedily and keeps the logits
// on chip (llama_forward's `steps` > 0: one run for many tokens).
enum class DecodeMode { HostSampled, DeviceGreedy };
const char* decode_mode_name(DecodeMode m);  // "host-sampled", "device-greedy"

// Runs llama_forward once, traced, for a model of shape `c` at position `pos` (token 1) on
// zeroed device buffers: loop trip counts depend on the shape, the position, the precision
// (group_size 0: fp32 weights; > 0: int8 in groups of that size) and the decode mode only.
// A model of more than two layers is traced as models of its first one and two layers, the
// layer's ops repeated (every layer runs the same loops; the weight readers' beats are
// extrapolated): TinyLlama's 22 layers take 2 layers' memory and time (docs/hls-design.md).
// kv_bits: the KV cache's (32 or 8).
Trace trace_forward(const ModelConfig& c, int pos, int group_size = 0, DecodeMode mode = DecodeMode::HostSampled,
                    int kv_bits = 32);
// The same, every layer run (what trace_forward's repetition must equal; tests only).
Trace trace_forward_every_layer(const ModelConfig& c, int pos, int group_size = 0,
                                DecodeMode mode = DecodeMode::HostSampled, int kv_bits = 32);
// Runs llama_forward's prefill mode once, traced: a prompt block of n tokens (1..block_tokens)
// at pos..pos+n-1, logits as prompt_logits (lhk::kPromptLogits*) says.
// Deep models as trace_forward traces them.
Trace trace_prefill(const ModelConfig& c, int pos, int n, int group_size = 0, int prompt_logits = 1, int kv_bits = 32);
Trace trace_prefill_every_layer(const ModelConfig& c, int pos, int n, int group_size = 0, int prompt_logits = 1,
                                int kv_bits = 32);

}  // namespace lhb::hls
