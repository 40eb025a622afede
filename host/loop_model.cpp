#include "host/loop_model.hpp"

#include <algorithm>
#include <cmath>

#include "host/board.hpp"
#include "kernels/llama_layout.hpp"
#include "kernels/loop_bounds.hpp"

namespace lhb::hls {

namespace {

TraceStep single(lhk::LoopId id, int64_t trips, int port = lhk::kNoPort, int64_t bytes = 0, int64_t repeats = 1) {
    TraceStep s;
    s.loops.push_back(TraceLoop{id, trips, repeats, port, bytes});
    return s;
}

// The KV cache's bits in a run: what the kernels traced (lhk::kv_trace_arg) when they ran
// a narrower cache, else the design's (a design file's kv_cache.bits; 32 for ours).
int kv_bits_of_run(int32_t kv_arg, const DesignTraits& t) {
    const int traced = lhk::kv_trace_bits(kv_arg);
    return traced > 0 && traced < 32 ? traced : t.kv_bits;
}

}  // namespace

int64_t engine_trips_per_beat(lhk::LoopId engine) {
    return engine == lhk::LoopId::BlockEngine || engine == lhk::LoopId::BlockQ8Engine ? lhk::kPrefillGroups : 1;
}

int io_port(const lhk::Design& d) { return std::max(lhk::kIoPort, std::max(d.weight_ports, d.kv_ports)); }

int64_t engine_weight_bytes(lhk::LoopId engine, const lhk::Design& d, const DesignTraits& t) {
    if (engine == lhk::LoopId::MatQ8Engine || engine == lhk::LoopId::MatQ4Engine) return d.port_bits / 8;
    if (engine == lhk::LoopId::BlockEngine || engine == lhk::LoopId::BlockQ8Engine) return d.port_bits / 8;
    return std::max<int64_t>(1, std::llround(t.weight_bytes(d.lanes)));
}

// Long (about 150 lines) on purpose: one case per traced op, each listing the loops that
// op's kernel code runs in the order it runs them, so the function reads beside
// kernels/primitives/ op by op; the loops themselves are defined once in the loop table.
std::vector<TraceStep> model_op(const TraceOpRun& op, const lhk::Design& d, const DesignTraits& t) {
    using lhk::LoopId;
    const auto& a = op.args;
    const int pf = lhk::port_floats(d);
    const int64_t port_bytes = d.port_bits / 8;
    auto beats = [&](int n) { return int64_t(lhk::ceil_div(n, pf)); };
    // Elements an iteration of an element-wise loop takes: its unroll factor in the design's
    // loop_structure, else the lanes.
    auto elements = [&](LoopId id) {
        const auto it = t.unroll.find(loop_name(id));
        return it != t.unroll.end() ? int64_t(it->second) : int64_t(d.lanes);
    };
    auto vec_iters = [&](LoopId id, int n) { return lhk::ceil_div64(n, elements(id)); };
    auto port_of = [&](int traced, int ports) { return traced == lhk::kIoPort ? io_port(d) : traced % ports; };
    // Where a matmul's row results go: 0 an on-chip vector, 1 DDR (the logits), 2 nowhere
    // (greedy decoding: the engines keep only their largest, no loop of its own).
    auto store_rows = [&](int where, int rows, std::vector<TraceStep>& out) {
        if (where == 0) out.push_back(single(LoopId::MatStoreVec, lhk::vec_iters(rows, d)));
        if (where == 1) out.push_back(single(LoopId::MatStoreDdr, beats(rows), io_port(d), beats(rows) * port_bytes));
    };
    std::vector<TraceStep> steps;
    switch (op.op) {
        case lhk::TraceOp::Embedding:
            if (a[3] == 1)  // a prompt block's a[0] token ids from the io port
                steps.push_back(single(LoopId::PromptIds, beats(a[0]), io_port(d), beats(a[0]) * port_bytes));
            else
                steps.push_back(single(LoopId::EmbedRead, beats(a[0]), a[1] % d.weight_ports, beats(a[0]) * port_bytes));
            break;
        case lhk::TraceOp::BlockMatMul: {
            // Prefill (the compiled kernels' block engines): the int8 steps of a row pair, the
            // four engines in lockstep, kPrefillGroups trips a beat over engine 0's rows (or
            // row pairs), their weights from the readers' FIFOs; then a[2] tokens' rows copied.
            const int rows = a[0], cols = a[1], gs = a[3];
            const bool q8 = gs > 0;
            const int per = q8 ? lhk::q8_pair_iters(cols, gs, d) : lhk::row_iters(cols, d);
            const int64_t units = q8 ? lhk::q8_pairs_on_engine(rows, 0, d) : lhk::rows_on_engine(rows, 0, d);
            if (q8) steps.push_back(single(LoopId::BlockQ8Steps, per));
            steps.push_back(single(q8 ? LoopId::BlockQ8Engine : LoopId::BlockEngine, units * per * lhk::kPrefillGroups));
            if (a[2] > 0) steps.push_back(single(LoopId::BlockCopy, int64_t(a[2]) * lhk::vec_iters(rows, d)));
            break;
        }
        case lhk::TraceOp::RmsNorm: {
            const int64_t it = vec_iters(LoopId::RmsScale, a[0]);
            steps.push_back(single(LoopId::RmsSumSq, vec_iters(LoopId::RmsSumSq, a[0])));
            steps.push_back(single(LoopId::RmsScale, it, port_of(a[1], d.weight_ports),
                                   it * elements(LoopId::RmsScale) * 4));
            break;
        }
        case lhk::TraceOp::MatMul: {
            // The activations laid out for the engines (int8: the steps of a row pair; fp32:
            // x copied to every engine), the engines over their rows as concurrent processes
            // (each `per` iterations per row or row pair, one beat per iteration), the row
            // results stored.
            // 4-bit (gs < 0, lhk::q4_matmul_code): its quantizer ran as its own op before; the
            // steps of a row, the engines a row at a time, one beat per iteration.
            const int rows = a[0], cols = a[1], gs = a[3];
            const bool q8 = gs > 0, q4 = gs < 0;
            const bool bytes = q4 && lhk::q4_bytes(lhk::q4_format_of_code(gs));
            const int per = q8 ? lhk::q8_pair_iters(cols, gs, d)
                            : q4 ? lhk::q4_row_iters(cols, bytes, d)
                                 : lhk::row_iters(cols, d);
            // With weight readers the engines read their FIFOs: the bytes are the readers'.
            const LoopId engine = q8 ? LoopId::MatQ8Engine : q4 ? LoopId::MatQ4Engine : LoopId::MatEngine;
            const bool readers = d.weight_fifo_beats > 0;
            steps.push_back(single(q8 ? LoopId::MatQ8Steps : q4 ? LoopId::MatQ4Steps : LoopId::MatLoadX, per));
            TraceStep df;
            df.dataflow = true;
            for (int e = 0; e < d.weight_ports; ++e) {
                const int64_t units = q8 ? lhk::q8_pairs_on_engine(rows, e, d) : lhk::rows_on_engine(rows, e, d);
                // A row's weights in the design's data type (fp32: `per` iterations of `lanes`
                // floats; 16/8/4 bits: the row's weights and its groups' scales).
                const int64_t bytes =
                    readers    ? 0
                    : q8 || q4 ? units * per * engine_weight_bytes(engine, d)
                    : t.weight_bits == 32 ? units * per * int64_t(d.lanes) * 4
                                          : std::llround(t.weight_bytes(units * int64_t(per) * d.lanes));
                if (d.flatten_rows)
                    df.loops.push_back(TraceLoop{engine, units * per, 1, e, bytes});
                else
                    df.loops.push_back(TraceLoop{engine, units > 0 ? per : 0, std::max<int64_t>(units, 1), e, bytes});
            }
            steps.push_back(std::move(df));
            store_rows(a[2], rows, steps);
            break;
        }
        case lhk::TraceOp::WeightStream:
            // A port's reader: a[1] beats a token for a[2] tokens (counted for the compiled
            // layout; another design's readers are accounted from its engines' reads).
            if (d.weight_fifo_beats > 0 && same_design(d, lhk::kDesign))
                steps.push_back(single(LoopId::WeightRead, int64_t(a[1]) * a[2], a[0] % d.weight_ports,
                                       int64_t(a[1]) * a[2] * port_bytes));
            break;
        case lhk::TraceOp::Rope:
            if (t.rope_unrolled) {
                // The seed's: the angles come from the host (no table loop); the rotation of
                // q and k is unrolled over the pairs: rope_unroll pairs an iteration, pipelined.
                if (a[3] != 2) steps.push_back(single(LoopId::RopeRotate, lhk::ceil_div(lhk::rope_pairs(a[0]), t.rope_unroll)));
                break;
            }
            if (a[3] != 0) steps.push_back(single(LoopId::RopeTable, lhk::rope_table_iters(a[2])));
            if (a[3] != 2) steps.push_back(single(LoopId::RopeRotate, lhk::rope_pairs(a[0])));
            break;
        case lhk::TraceOp::KvStore: {
            // a[0] head_size, a[3] the KV shape (lhk::kv_trace_arg). Integer rows: each row
            // quantized per KV head first (the activation quantizer's loops), then the rows
            // written, kv_bits an element after their scale beats.
            const int hs = a[0], kv_heads = lhk::kv_trace_heads(a[3]);
            const int bits = kv_bits_of_run(a[3], t);
            if (bits < 16)
                for (int r = 0; r < 2; ++r) {
                    steps.push_back(single(LoopId::QuantMax, lhk::vec_iters(hs * kv_heads, d)));
                    steps.push_back(single(LoopId::QuantScale, lhk::vec_iters(hs * kv_heads, d)));
                }
            const int64_t row = lhk::kv_row_beats_of(hs, kv_heads, bits, d);
            const int port = a[1] % d.kv_ports;
            steps.push_back(single(LoopId::KvWrite, row, port, row * port_bytes));
            steps.push_back(single(LoopId::KvWrite, row, port, row * port_bytes));
            break;
        }
        case lhk::TraceOp::Attention: {
            const int pos = a[0], dim = a[1];
            const int bits = kv_bits_of_run(a[3], t);
            if (t.attention_per_head) {
                // The seed's: head after head; per position a pipelined dot over head_size
                // (a fill each), the softmax, then the weighted sum flattened over positions
                // and the head's elements, K and V read element by element from their bundle.
                const int heads = std::max(1, a[2]), hs = dim / heads;
                const int64_t n = pos + 1, kv_bytes = lhk::ceil_div64(int64_t(hs) * bits, 8);
                for (int h = 0; h < heads; ++h) {
                    steps.push_back(single(LoopId::AttnScores, hs, 0, n * kv_bytes, n));
                    steps.push_back(single(LoopId::SoftmaxMax, n));
                    steps.push_back(single(LoopId::SoftmaxExp, n));
                    steps.push_back(single(LoopId::SoftmaxNorm, lhk::ceil_div64(n, t.unroll_of("softmax_norm"))));
                    steps.push_back(single(LoopId::AttnValues, n * hs, 0, n * kv_bytes));
                }
                break;
            }
            // Ours: per stripe a reader streams the native rows (kv_dim elements and, for
            // integer rows, their scale beats) into its engine's FIFO; the engine walks every
            // query head of a position, `lanes` elements an iteration, so its trips do not
            // depend on kv_mul while the bytes are 1/kv_mul of a row per query head.
            const int heads = std::max(1, a[2]), kv_heads = std::max(1, lhk::kv_trace_heads(a[3]));
            const int hs = dim / heads;
            const int row = lhk::kv_row_beats_of(hs, kv_heads, bits, d);
            const int per_slot = lhk::kv_slot_iters(dim, lhk::kv_scale_beats(kv_heads, bits, d), d);
            auto engines = [&](LoopId id) {
                TraceStep df;
                df.dataflow = true;
                for (int e = 0; e < d.kv_ports; ++e) {
                    const int64_t beats = int64_t(lhk::slots_on_port(pos, e, d)) * row;
                    df.loops.push_back(TraceLoop{LoopId::KvRead, beats, 1, e, beats * port_bytes});
                }
                for (int e = 0; e < d.kv_ports; ++e)
                    df.loops.push_back(TraceLoop{id, int64_t(lhk::slots_on_port(pos, e, d)) * per_slot, 1, e, 0});
                return df;
            };
            steps.push_back(single(LoopId::AttnLoadQ, lhk::vec_iters(dim, d)));
            steps.push_back(engines(LoopId::AttnScores));
            for (int first = 0; first < heads; first += lhk::kSoftmaxHeads) {  // softmax in groups of heads
                steps.push_back(single(LoopId::SoftmaxMax, pos + 1));
                steps.push_back(single(LoopId::SoftmaxExp, pos + 1));
                steps.push_back(single(LoopId::SoftmaxNorm, pos + 1));
            }
            steps.push_back(engines(LoopId::AttnValues));
            steps.push_back(single(LoopId::AttnCombine, lhk::vec_iters(dim, d)));
            break;
        }
        case lhk::TraceOp::Softmax:
            steps.push_back(single(LoopId::VecLoad, beats(a[0]), io_port(d), beats(a[0]) * port_bytes));
            steps.push_back(single(LoopId::SoftmaxMax, a[0]));
            steps.push_back(single(LoopId::SoftmaxExp, a[0]));
            steps.push_back(single(LoopId::SoftmaxNorm, a[0]));
            steps.push_back(single(LoopId::VecStore, beats(a[0]), io_port(d), beats(a[0]) * port_bytes));
            break;
        case lhk::TraceOp::SwiGLU:
            steps.push_back(single(LoopId::SwiGLU, vec_iters(LoopId::SwiGLU, a[0])));
            break;
        case lhk::TraceOp::Residual:
            steps.push_back(single(LoopId::Residual, vec_iters(LoopId::Residual, a[0])));
            break;
        case lhk::TraceOp::Quantize: {
            // a[2] == 1: the 4-bit matmuls' quantizer (llama.cpp's Q8_0 / Q8_K blocks of a[1]).
            const bool q4 = a[2] == 1;
            steps.push_back(single(q4 ? LoopId::Q4QuantMax : LoopId::QuantMax, lhk::vec_iters(a[0], d)));
            steps.push_back(single(q4 ? LoopId::Q4QuantScale : LoopId::QuantScale, lhk::vec_iters(a[0], d)));
            break;
        }
        case lhk::TraceOp::Count:
            steps = op.steps;  // vector I/O of a per-op top: kept as traced
            break;
    }
    return steps;
}

}  // namespace lhb::hls
