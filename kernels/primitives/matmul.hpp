#pragma once
// Matrix-vector product y = W x for a matrix laid out by llama_layout.hpp: row r on weight
// port r % kWeightPorts. Four engines, one per port, run concurrently in a DATAFLOW
// region; each streams its port's region in bursts (one kPortBits beat = kLanes floats per
// clock) while it computes, so reading and computing overlap and the four HP ports are
// busy together.
//
// Inside an engine the whole region is one pipelined loop (II=1, rows flattened, so the
// pipeline fills once per matrix, not once per row). The kLanes products of a beat go
// through an adder tree; the sum goes into accumulator (i % kPartialSums), so any one
// accumulator is updated only every kPartialSums clocks, more than the fadd latency. The
// last kPartialSums accumulator values of a row pass through a shift register and a
// second adder tree gives the row's dot product: no adder sits on a loop-carried path
// shorter than kPartialSums iterations.
#include "kernels/llama_layout.hpp"
#include "kernels/primitives/vector.hpp"

namespace lhk {

// Rows per engine of a matrix whose result stays on chip (at most kMaxCols rows), and of
// the classifier (kMaxVocab rows, written to DDR).
constexpr int kVecRowsPerPort = ceil_div_c(kMaxCols, kWeightPorts);

// The largest row result an engine has written so far: the first of equal ones (its rows
// come in increasing order), never a NaN. row -1: none above -inf yet. Updated as each row
// result is written, so greedy decoding needs no pass over the logits of its own.
struct EngineMax {
    float value;
    int row;  // the engine's own row index
};
inline void engine_max_init(EngineMax& m) {
#pragma HLS INLINE
    m.value = minus_infinity();
    m.row = -1;
}
inline void engine_max_note(EngineMax& m, int row, float v) {
#pragma HLS INLINE
    if (v > m.value) {
        m.value = v;
        m.row = row;
    }
}

// One engine over `rows` rows of `rb` beats each, read from its port's FIFO w; row k's
// result to y[k].
template <int Depth>
inline void matmul_engine(Stream<Beat>& w, const float x[kMaxRowBeats * kLanes], float y[Depth],
                          int rows, int rb, int port, EngineMax& top) {
    const int64_t trips = int64_t(rows) * rb;
    // The beats come through the port's FIFO (weight_stream.hpp): no memory traffic here.
    LHK_TRACE_LOOP(LoopId::MatEngine, trips, port, 0);
    float acc[kPartialSums];
    float tail[kPartialSums];
#pragma HLS ARRAY_PARTITION variable=acc complete
#pragma HLS ARRAY_PARTITION variable=tail complete
    for (int k = 0; k < kPartialSums; ++k) {
#pragma HLS UNROLL
        acc[k] = 0.0f;
        tail[k] = 0.0f;
    }
    int b = 0;  // beat within the row
    int r = 0;  // row (of this engine)
    int s = 0;  // accumulator in turn
    EngineMax m;
    engine_max_init(m);
mat_engine:
    for (int64_t i = 0; i < trips; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=Depth*kMaxRowBeats
#pragma HLS DEPENDENCE variable=acc inter distance=kPartialSums true
        const Beat wb = w.read();
        float prod[kLanes];
#pragma HLS ARRAY_PARTITION variable=prod complete
        for (int l = 0; l < kLanes; ++l) {
#pragma HLS UNROLL
            prod[l] = wb.v[l] * x[b * kLanes + l];
        }
        // The first kPartialSums beats of a row restart their accumulator.
        const float a = (b < kPartialSums ? 0.0f : acc[s]) + tree_sum<kLanes>(prod);
        acc[s] = a;
        for (int k = 0; k + 1 < kPartialSums; ++k) {
#pragma HLS UNROLL
            tail[k] = tail[k + 1];
        }
        tail[kPartialSums - 1] = a;
        if (b == rb - 1) {
            const float yr = tree_sum<kPartialSums>(tail);
            y[r] = yr;
            engine_max_note(m, r, yr);
            ++r;
            b = 0;
        } else {
            ++b;
        }
        s = next_mod(s, kPartialSums);
    }
    top = m;
}

// The four engines of the matmul unit as concurrent processes, engine e on weight port e:
// in[e] is its copy of the input (the fp32 engine's x, or matmul_q8.hpp's int8 steps: the
// overload of matmul_engine for that input type runs), r_e its rows of `beats` beats each.
template <int Depth, class Input>
inline void matmul_engines(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3,
                           const Input in[kWeightPorts], float yb[kWeightPorts][Depth], int r0, int r1, int r2,
                           int r3, int beats, EngineMax& m0, EngineMax& m1, EngineMax& m2, EngineMax& m3) {
#pragma HLS DATAFLOW
    LHK_TRACE_DATAFLOW(1);
    matmul_engine<Depth>(w0, in[0], yb[0], r0, beats, 0, m0);
    matmul_engine<Depth>(w1, in[1], yb[1], r1, beats, 1, m1);
    matmul_engine<Depth>(w2, in[2], yb[2], r2, beats, 2, m2);
    matmul_engine<Depth>(w3, in[3], yb[3], r3, beats, 3, m3);
    LHK_TRACE_DATAFLOW(0);
}

// Copies x (cols floats, on chip) to every engine, zero-padded to rb beats.
struct XCopyElement {
    const float* x;
    float (*xc)[kMaxRowBeats * kLanes];
    int cols;
    void operator()(int j) const {
        const float v = j < cols ? x[j] : 0.0f;
        for (int e = 0; e < kWeightPorts; ++e) {
#pragma HLS UNROLL
            xc[e][j] = v;
        }
    }
};
inline void matmul_load_x(const float* x, float xc[kWeightPorts][kMaxRowBeats * kLanes], int cols,
                          int rb) {
    LHK_TRACE_LOOP(LoopId::MatLoadX, rb, kNoPort, 0);
    for_lanes<kMaxRowBeats, kPartialSums>(rb, rb * kLanes, XCopyElement{x, xc, cols});
}

// Row r's result is in yb[r % kWeightPorts][r / kWeightPorts].
template <int Depth>
inline float row_result(const float yb[kWeightPorts][Depth], int r) {
#pragma HLS INLINE
    return yb[r % kWeightPorts][r / kWeightPorts];
}

// The row with the largest result, from the engines' maxima, as llama2.c's sample_argmax
// (a running maximum from row 0, replaced only by a strictly greater value): the first of
// equal ones, never a NaN, and row 0 if row 0 is a NaN or nothing exceeds -inf. Engine e's
// row k is row k * kWeightPorts + e.
template <int Depth>
inline int argmax_of_engines(const float yb[kWeightPorts][Depth], const EngineMax& m0, const EngineMax& m1,
                             const EngineMax& m2, const EngineMax& m3) {
#pragma HLS INLINE
    const float first = row_result<Depth>(yb, 0);
    if (!(first == first)) return 0;  // a NaN at row 0 is never exceeded
    const EngineMax m[kWeightPorts] = {m0, m1, m2, m3};
    float best = minus_infinity();
    int best_row = 0;
    for (int e = 0; e < kWeightPorts; ++e) {
#pragma HLS UNROLL
        if (m[e].row < 0) continue;
        const int row = m[e].row * kWeightPorts + e;
        if (m[e].value > best || (m[e].value == best && row < best_row)) {
            best = m[e].value;
            best_row = row;
        }
    }
    return best_row;
}

// The rows computed into banks yb, for the matrix streamed through w0..w3; returns the row
// with the largest result (argmax_of_engines).
template <int Depth>
inline int matmul_rows(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3,
                       const float* x, float yb[kWeightPorts][Depth], int rows, int cols) {
    float xc[kWeightPorts][kMaxRowBeats * kLanes];
#pragma HLS ARRAY_PARTITION variable=xc dim=1 complete
#pragma HLS ARRAY_PARTITION variable=xc dim=2 cyclic factor=kLanes
    const int rb = row_beats(cols);
    matmul_load_x(x, xc, cols, rb);
    EngineMax m0, m1, m2, m3;
    matmul_engines<Depth>(w0, w1, w2, w3, xc, yb, rows_on_engine(rows, 0, kDesign),
                   rows_on_engine(rows, 1, kDesign), rows_on_engine(rows, 2, kDesign),
                   rows_on_engine(rows, 3, kDesign), rb, m0, m1, m2, m3);
    return argmax_of_engines<Depth>(yb, m0, m1, m2, m3);
}

// Row results of the matmul unit: one bank per engine. The caller owns it, so that every
// matmul of the forward pass (all layers and the classifier) shares one matmul unit.
using RowBanks = float[kWeightPorts][kMaxRowsPerPort];

// Row r of the row results in yb: as the source of a beat loop, and copied to y[r].
struct RowResultsFrom {
    const float (*yb)[kMaxRowsPerPort];
    float operator()(int r) const { return row_result<kMaxRowsPerPort>(yb, r); }
};
struct RowResultsTo {
    const float (*yb)[kMaxRowsPerPort];
    float* y;
    void operator()(int r) const { y[r] = row_result<kMaxRowsPerPort>(yb, r); }
};

// The row results in yb out to an on-chip vector y (rows <= kMaxCols).
inline void matmul_store_vec(const float yb[kWeightPorts][kMaxRowsPerPort], float* y, int rows) {
    const int iters = vec_iters(rows, kDesign);
    LHK_TRACE_LOOP(LoopId::MatStoreVec, iters, kNoPort, 0);
    for_lanes<kVecRowsPerPort>(iters, rows, RowResultsTo{yb, y});
}

// The row results in yb out to DDR as beats (the logits; op_matmul's output).
inline void matmul_store_ddr(const float yb[kWeightPorts][kMaxRowsPerPort], Beat* y, int rows, int y_port) {
    const int nb = vec_beats(rows);
    LHK_TRACE_LOOP(LoopId::MatStoreDdr, nb, y_port, int64_t(nb) * kBeatBytes);
    write_beats<kMaxRowsPerPort>(RowResultsFrom{yb}, y, nb, rows);
}

// y = W x with y on chip (rows <= kMaxCols).
inline void matmul(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3, const float* x,
                   float* y, int rows, int cols, float yb[kWeightPorts][kMaxRowsPerPort]) {
    LHK_TRACE_OP(TraceOp::MatMul, rows, cols, 0, 0);
    matmul_rows<kMaxRowsPerPort>(w0, w1, w2, w3, x, yb, rows, cols);
    matmul_store_vec(yb, y, rows);
}

// y = W x with y written to DDR as beats (the logits; op_matmul's output).
inline void matmul_to_ddr(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3,
                          const float* x, Beat* y, int rows, int cols, int y_port,
                          float yb[kWeightPorts][kMaxRowsPerPort]) {
    LHK_TRACE_OP(TraceOp::MatMul, rows, cols, 1, 0);
    matmul_rows<kMaxRowsPerPort>(w0, w1, w2, w3, x, yb, rows, cols);
    matmul_store_ddr(yb, y, rows, y_port);
}

// The classifier: y = W x, and the index of its largest element (argmax_of_engines). The
// host samples from y written to DDR as beats when `store`; greedy decoding on the device
// needs the index only, and y stays on chip.
inline int matmul_classify(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3, const float* x,
                           Beat* y, int rows, int cols, bool store, int y_port,
                           float yb[kWeightPorts][kMaxRowsPerPort]) {
    LHK_TRACE_OP(TraceOp::MatMul, rows, cols, store ? 1 : 2, 0);
    const int top = matmul_rows<kMaxRowsPerPort>(w0, w1, w2, w3, x, yb, rows, cols);
    if (store) matmul_store_ddr(yb, y, rows, y_port);
    return top;
}

}  // namespace lhk
