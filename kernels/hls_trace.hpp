#pragma once
// Loop instrumentation for C simulation. Every pipelined loop of the kernels reports, each
// time it runs, its trip count and the bytes it moves on its AXI port; op invocations and
// dataflow regions are bracketed. The estimator (host/estimator.*) turns this record of
// what actually ran into cycles. Under __SYNTHESIS__ (or with LHK_NO_TRACE) every hook
// expands to nothing, so the synthesized kernel carries no trace logic.
#include <cstdint>

namespace lhk {

// What an op invocation was: the estimator splits the token's cycles by these.
enum class TraceOp : int {
    Embedding,  // x = one row of the embedding table
    RmsNorm,
    MatMul,
    Rope,
    KvStore,    // k, v of the new position written to the KV cache
    Attention,  // scores, softmax and weighted sum over the cache
    Softmax,    // op_softmax alone
    SwiGLU,
    Residual,
    Quantize,   // an activation vector quantized to int8 for Q8_0 matmuls
    WeightStream,  // a weight port's reader: every matrix of the call, into its engine's FIFO
    Count
};

// Every instrumented loop. Names: host/trace.cpp; IIs and datapaths: host/estimator.cpp.
enum class LoopId : int {
    EmbedRead,     // one embedding row from one weight port
    RmsSumSq,      // sum of squares
    RmsScale,      // normalize and scale by the weight streamed from DDR
    MatLoadX,      // input vector copied to every engine
    MatEngine,     // one engine: all beats of its rows (one per weight port, concurrent)
    MatStoreVec,   // row results gathered into an on-chip vector
    MatStoreDdr,   // row results written to DDR (the logits)
    RopeTable,     // cos/sin of pos * freq for one head's pairs
    RopeRotate,    // rotate q (and k) pairs
    KvWrite,       // one K or V row to its stripe
    AttnLoadQ,     // q copied to every attention engine
    AttnScores,    // one engine: q . k_t for its positions (one per KV port, concurrent)
    SoftmaxMax,    // all heads in parallel, over positions
    SoftmaxExp,
    SoftmaxNorm,
    AttnValues,    // one engine: sum_t a_t v_t over its positions (concurrent)
    AttnCombine,   // the engines' partial sums added into the output
    VecLoad,       // a vector read from the io port (per-op tops)
    VecStore,      // a vector written to the io port (per-op tops)
    SwiGLU,
    Residual,
    QuantMax,      // int8: max |x| of every group, and its scale
    QuantScale,    // int8: x / scale rounded to int8
    MatQ8Steps,    // int8: the activations of every beat of a row pair, copied to every engine
    MatQ8Engine,   // int8: one engine: all beats of its row pairs (concurrent)
    WeightRead,    // a weight reader: its port's matrices, streamed into its engine's FIFO
    Count
};

// Port numbers in trace records: 0..kWeightPorts-1 are gmem0..gmem3 (weights and the KV
// stripes), kIoPort is gmem4 (logits and per-op vectors), kNoPort: on-chip only.
constexpr int kIoPort = 4;
constexpr int kNoPort = -1;

#if !defined(__SYNTHESIS__) && !defined(LHK_NO_TRACE)
#define LHK_TRACE_ENABLED 1
// Receives the records. Plain function pointers (no virtual calls in kernel code); the
// host side (host/trace.*) installs one around a traced call.
struct TraceSink {
    void* ctx;
    void (*op)(void* ctx, TraceOp op, int32_t a0, int32_t a1, int32_t a2, int32_t a3);
    void (*dataflow)(void* ctx, int begin);  // 1: region begins, 0: it ends
    void (*loop)(void* ctx, LoopId id, int64_t trips, int port, int64_t bytes);
};
inline TraceSink* g_trace_sink = nullptr;  // C simulation only; nullptr: tracing off

inline void trace_op(TraceOp op, int32_t a0, int32_t a1, int32_t a2, int32_t a3) {
    if (g_trace_sink) g_trace_sink->op(g_trace_sink->ctx, op, a0, a1, a2, a3);
}
inline void trace_dataflow(int begin) {
    if (g_trace_sink) g_trace_sink->dataflow(g_trace_sink->ctx, begin);
}
inline void trace_loop(LoopId id, int64_t trips, int port, int64_t bytes) {
    if (g_trace_sink) g_trace_sink->loop(g_trace_sink->ctx, id, trips, port, bytes);
}
#define LHK_TRACE_OP(op, a0, a1, a2, a3) ::lhk::trace_op(op, a0, a1, a2, a3)
#define LHK_TRACE_DATAFLOW(begin) ::lhk::trace_dataflow(begin)
#define LHK_TRACE_LOOP(id, trips, port, bytes) ::lhk::trace_loop(id, trips, port, bytes)
#else
#define LHK_TRACE_ENABLED 0
#define LHK_TRACE_OP(op, a0, a1, a2, a3) ((void)0)
#define LHK_TRACE_DATAFLOW(begin) ((void)0)
#define LHK_TRACE_LOOP(id, trips, port, bytes) ((void)0)
#endif

}  // namespace lhk
