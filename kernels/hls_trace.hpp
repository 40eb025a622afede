#pragma once
// Loop instrumentation for C simulation. Every pipelined loop of the kernels reports, each
// time it runs, its trip count and the bytes it moves on its AXI port; op invocations and
// dataflow regions are bracketed. The estimator (host/estimator.*) turns this record of
// what actually ran into cycles. Under __SYNTHESIS__ (or with LHK_NO_TRACE) every hook
// expands to nothing, so the synthesized kernel carries no trace logic.
#include <cstdint>

namespace lhk {

// ---- The table of what is traced ----------------------------------------------------------
// Each op and each loop the kernels trace is one line here; the ids below, the trace reader's
// names (host/trace.cpp) and the estimator's rules (host/cycle_model.cpp) all come from it.
// Adding a loop: its line in LHK_TRACE_LOOPS, its LHK_TRACE_LOOP(LoopId::X, ...) where the
// kernel runs it, and, for a Datapath or Engine rule, its datapath in host/cycle_model.cpp
// (the host build fails without one; tests/test_loop_table.cpp checks the rest).

// Every op invocation the kernels bracket: X(id, name). The estimator splits a token's
// cycles by these.
#define LHK_TRACE_OPS(X)                                                                          \
    X(Embedding, "embedding")        /* x = one row of the embedding table */                     \
    X(RmsNorm, "rmsnorm")                                                                         \
    X(MatMul, "matmul")                                                                           \
    X(Rope, "rope")                                                                               \
    X(KvStore, "kv-store")           /* k, v of this position written to the KV cache */          \
    X(Attention, "attention")        /* scores, softmax and weighted sum over the cache */        \
    X(Softmax, "softmax")            /* op_softmax alone */                                       \
    X(SwiGLU, "swiglu")                                                                           \
    X(Residual, "residual")                                                                       \
    X(Quantize, "quantize")          /* an activation vector quantized to int8 for Q8_0 matmuls */ \
    X(WeightStream, "weight-stream") /* a weight port's reader: every matrix of the call */       \
    X(BlockMatMul, "matmul-block")   /* prefill: one matrix applied to a block of tokens */

// How the estimator counts a loop's cycles (host/cycle_model.cpp). Every loop is pipelined;
// one that moves bytes on a port is also bounded by the port and the DDR.
enum class LoopRule : int {
    PortCopy,   // beats between an AXI port and on-chip memory: II 1, a memory read and two register stages
    LocalCopy,  // on-chip memory to on-chip memory: II 1, a memory read and a register stage
    Datapath,   // II and depth from the loop's own operators and recurrence
    Engine,     // a matmul engine: a Datapath whose weights, with weight readers, come from their FIFOs
};

// Every instrumented loop: X(id, name, op, rule). name: how outputs and tests call it; op:
// the op that runs it in llama_forward (Count: only the per-op tops run it, for their
// vectors on the io port); rule: how its cycles are counted.
#define LHK_TRACE_LOOPS(X)                                                                                  \
    X(EmbedRead, "embed_read", Embedding, PortCopy)        /* one embedding row from one weight port */     \
    X(PromptIds, "prompt_ids", Embedding, PortCopy)        /* prefill: the block's token ids from the io port */ \
    X(RmsSumSq, "rms_sumsq", RmsNorm, Datapath)            /* sum of squares */                             \
    X(RmsScale, "rms_scale", RmsNorm, Datapath)            /* normalize, scale by the weight from DDR */    \
    X(MatLoadX, "mat_load_x", MatMul, LocalCopy)           /* input vector copied to every engine */        \
    X(MatEngine, "mat_engine", MatMul, Engine)             /* one engine: all beats of its rows */          \
    X(MatStoreVec, "mat_store_vec", MatMul, LocalCopy)     /* row results gathered into an on-chip vector */ \
    X(MatStoreDdr, "mat_store_ddr", MatMul, PortCopy)      /* row results written to DDR (the logits) */    \
    X(RopeTable, "rope_table", Rope, Datapath)             /* cos/sin of pos * freq for one head's pairs */ \
    X(RopeRotate, "rope_rotate", Rope, Datapath)           /* rotate q (and k) pairs */                     \
    X(KvWrite, "kv_write_row", KvStore, PortCopy)          /* one K or V row to its stripe */               \
    X(AttnLoadQ, "attn_load_q", Attention, LocalCopy)      /* q copied to every attention engine */         \
    X(KvRead, "attn_kv_read", Attention, PortCopy)         /* one stripe's K (or V) rows into its engine's FIFO */ \
    X(AttnScores, "attn_scores", Attention, Datapath)      /* one engine: q . k_t for its positions */      \
    X(SoftmaxMax, "softmax_max", Attention, Datapath)      /* all heads in parallel, over positions */      \
    X(SoftmaxExp, "softmax_exp", Attention, Datapath)                                                       \
    X(SoftmaxNorm, "softmax_norm", Attention, Datapath)                                                     \
    X(AttnValues, "attn_values", Attention, Datapath)      /* one engine: sum_t a_t v_t over its positions */ \
    X(AttnCombine, "attn_combine", Attention, Datapath)    /* the engines' partial sums added */            \
    X(VecLoad, "load_vector", Count, PortCopy)             /* a vector read from the io port */             \
    X(VecStore, "store_vector", Count, PortCopy)           /* a vector written to the io port */            \
    X(SwiGLU, "swiglu", SwiGLU, Datapath)                                                                   \
    X(Residual, "residual", Residual, Datapath)                                                             \
    X(QuantMax, "quant_max", Quantize, Datapath)           /* int8: max |x| of every group, and its scale */ \
    X(QuantScale, "quant_scale", Quantize, Datapath)       /* int8: x / scale rounded to int8 */            \
    X(MatQ8Steps, "q8_steps", MatMul, LocalCopy)           /* int8: a row pair's activations, to every engine */ \
    X(MatQ8Engine, "mat_q8_engine", MatMul, Engine)        /* int8: one engine: all beats of its row pairs */ \
    X(WeightRead, "weight_read", WeightStream, PortCopy)   /* a reader: its port's matrices, into its FIFO */ \
    X(BlockEngine, "mat_block_engine", BlockMatMul, Engine) /* prefill: the four engines, a beat to every token */ \
    X(BlockQ8Steps, "block_q8_steps", BlockMatMul, LocalCopy) /* prefill int8: what each beat of a row pair needs */ \
    X(BlockQ8Engine, "mat_block_q8_engine", BlockMatMul, Engine) /* prefill int8: the four engines */ \
    X(BlockCopy, "block_copy", BlockMatMul, LocalCopy)     /* prefill: the block's row results to their vectors */ \
    X(Q4QuantMax, "q4_quant_max", Quantize, Datapath)      /* 4-bit: each activation block's largest |x|, its scale */ \
    X(Q4QuantScale, "q4_quant_scale", Quantize, Datapath)  /* 4-bit: x * (1 / scale) rounded to int8 */ \
    X(MatQ4Steps, "q4_steps", MatMul, LocalCopy)           /* 4-bit: what each beat of a row needs, to every engine */ \
    X(MatQ4Engine, "mat_q4_engine", MatMul, Engine)        /* 4-bit: one engine: all beats of its rows */

#define LHK_TRACE_ID(id, ...) id,
enum class TraceOp : int { LHK_TRACE_OPS(LHK_TRACE_ID) Count };
enum class LoopId : int { LHK_TRACE_LOOPS(LHK_TRACE_ID) Count };
#undef LHK_TRACE_ID
constexpr int kNumTraceOps = int(TraceOp::Count);
constexpr int kNumLoops = int(LoopId::Count);

#ifndef __SYNTHESIS__
// A loop's line of the table, for the host (the kernels need only the ids).
struct LoopInfo {
    LoopId id;
    const char* name;
    TraceOp op;
    LoopRule rule;
};
#define LHK_TRACE_LOOP_INFO(id, name, op, rule) {LoopId::id, name, TraceOp::op, LoopRule::rule},
constexpr LoopInfo kLoops[kNumLoops] = {LHK_TRACE_LOOPS(LHK_TRACE_LOOP_INFO)};
#undef LHK_TRACE_LOOP_INFO
constexpr const LoopInfo& loop_info(LoopId id) { return kLoops[int(id)]; }  // id < Count
#define LHK_TRACE_OP_NAME(id, name) name,
constexpr const char* kTraceOpNames[kNumTraceOps] = {LHK_TRACE_OPS(LHK_TRACE_OP_NAME)};
#undef LHK_TRACE_OP_NAME
#endif  // __SYNTHESIS__

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
