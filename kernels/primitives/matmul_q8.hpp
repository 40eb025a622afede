#pragma once
// int8 (Q8_0) matrix-vector product y = W x in runq.c's arithmetic: per group of gs columns
// an int32 sum of int8 x int8 products, then val += float(isum) * w_scale * x_scale. The
// activations come quantized (quantize.hpp); the weights are int8 row pairs with their
// fp32 scales inline (llama_layout.hpp), one port per engine, as the fp32 matmul.
//
// Datapath of an engine, one beat per clock (II=1), rows flattened like the fp32 engine:
//  * a beat holds kQ8Cols columns of two rows (A, B) of the engine: both rows' weights in a
//    column meet the same activation, so each of the kQ8Cols multipliers computes two int8
//    products (mul2_shared: one DSP48E2 for two MACs) -> 16 MACs per clock per engine;
//  * the kQ8Cols products of each row go through an integer adder tree into the group's
//    int32 sum (an integer add: a loop-carried path of one cycle);
//  * on a group's last beat the sum becomes float(isum) * w_scale * x_scale for each row,
//    added into that row's accumulator i % kPartialSums (as the fp32 engine: revisited only
//    every kPartialSums clocks), and the row pair's result is the tree of the last
//    kPartialSums accumulator values;
//  * a scale beat loads the chunk's four weight scales into a register.
// What a beat needs from the activations is the same for every row pair of a matrix (same
// columns, same groups), so it is laid out once per matmul (q8_steps) and copied to every
// engine, like the fp32 engines' copies of x.
#include "kernels/llama_layout.hpp"
#include "kernels/primitives/matmul.hpp"
#include "kernels/primitives/vector.hpp"

namespace lhk {

// What beat b of every row pair needs from the activations.
struct Q8Step {
    int8_t xq[kQ8Cols];  // activations of the beat's columns; 0 on scale and padding beats
    float xs;            // scale of the activations of the group this beat ends
    uint8_t scales;      // 1: a scale beat
    uint8_t ends;        // 1: the last beat of a group: its sums are scaled and accumulated
    uint8_t slot;        // the group's place in its chunk: selects its weight scales
};

// a*x and b*x from one multiplier: (a * 2^18 + b) * x = a*x * 2^18 + b*x with |b*x| <=
// 127 * 128 < 2^17, so the low 18 bits, sign-extended, are b*x and the rest is a*x. The
// packed operand needs 26 bits and x 8: one DSP48E2 27 x 18 multiplier (the INT8 packing
// of AMD's WP487), where separate products would take two. mul2_packed is that product in
// plain integers; tests/test_hls_int8.cpp checks that it gives a*x and b*x for every int8
// a, b and x.
inline void mul2_packed(int a, int b, int x, int* ax, int* bx) {
    const int32_t packed = a * 262144 + b;
    const int64_t p = int64_t(packed) * x;
    const int32_t lo = int32_t(((p & 0x3ffff) ^ 0x20000) - 0x20000);
    *bx = lo;
    *ax = int32_t((p - lo) / 262144);  // exact: p - lo is a multiple of 2^18
}
inline void mul2_shared(int a, int b, int x, int* ax, int* bx) {
#pragma HLS INLINE
#ifdef __SYNTHESIS__
    // Explicit widths, so that the product is one 27 x 8 multiplier (one DSP48E2) rather than
    // whatever int arithmetic would infer.
    const ap_int<27> packed = (ap_int<27>(a) << 18) + ap_int<27>(b);
    const ap_int<35> p = packed * ap_int<8>(x);
#pragma HLS BIND_OP variable=p op=mul impl=dsp
    const ap_int<18> lo = p.range(17, 0);
    *bx = int(lo);
    *ax = int((p - lo) >> 18);
#else
    // The packed product's values (mul2_packed, checked for every input), multiplied
    // directly: emulated, the packing was half of C simulation's time in the int8 engines.
    *ax = a * x;
    *bx = b * x;
#endif
}

// Where beat b of a row pair is in the layout (llama_layout.hpp), whatever the activations:
// a scale beat, a slice of a group's weights (its first column, how many of its kQ8Cols
// columns are real, the group and its place in the chunk, whether it ends the group), or
// padding after the last chunk (all zero).
struct Q8Beat {
    int col;         // first column of the slice
    uint8_t width;   // real columns in the slice (0 on scale and padding beats)
    uint8_t scales;  // 1: a scale beat
    uint8_t ends;    // 1: the last beat of a group
    uint8_t slot;    // the group's place in its chunk
    int group;
};

// A row pair's beats in order: per chunk a scale beat, then each group's slices.
struct Q8BeatWalk {
    int groups, slices, gs;
    int g = 0, k = 0, slot = 0, col = 0;  // group, slice in the group, group in the chunk, group's first column
    bool scale_next = true;
    Q8BeatWalk(int cols, int group_size) : groups(cols / group_size), slices(ceil_div(group_size, kQ8Cols)), gs(group_size) {}
    Q8Beat next() {
#pragma HLS INLINE
        Q8Beat at{0, 0, 0, 0, 0, 0};
        if (g >= groups) return at;
        if (scale_next) {
            at.scales = 1;
            scale_next = false;
            return at;
        }
        const int left = gs - k * kQ8Cols;
        at.col = col + k * kQ8Cols;
        at.width = uint8_t(left < kQ8Cols ? left : kQ8Cols);
        at.group = g;
        at.slot = uint8_t(slot);
        if (k == slices - 1) {
            at.ends = 1;
            k = 0;
            col += gs;
            ++g;
            if (slot == kQ8ChunkGroups - 1) {
                slot = 0;
                scale_next = true;
            } else {
                ++slot;
            }
        } else {
            ++k;
        }
        return at;
    }
};

// The steps of a row pair of `cols` columns in groups of gs, from the quantized activations,
// into every engine's copy: per chunk a scale beat, then each group's weight beats.
inline void q8_steps(const int8_t* xq, const float* xs, int cols, int gs,
                     Q8Step steps[kWeightPorts][kMaxQ8PairBeats], int pb) {
    LHK_TRACE_LOOP(LoopId::MatQ8Steps, pb, kNoPort, 0);
    Q8BeatWalk walk(cols, gs);
q8_steps:
    for (int b = 0; b < pb; ++b) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=kPartialSums max=kMaxQ8PairBeats
        const Q8Beat at = walk.next();
        Q8Step st;
        for (int l = 0; l < kQ8Cols; ++l) {
#pragma HLS UNROLL
            st.xq[l] = l < at.width ? xq[at.col + l] : int8_t(0);
        }
        st.xs = at.width > 0 ? xs[at.group] : 0.0f;
        st.scales = at.scales;
        st.ends = at.ends;
        st.slot = at.slot;
        for (int e = 0; e < kWeightPorts; ++e) {
#pragma HLS UNROLL
            steps[e][b] = st;
        }
    }
}

// One engine over the row pairs of its `rows` rows (pb beats each), read from its port's
// FIFO w; row k's result to y[k]. The int8 overload of matmul.hpp's matmul_engine, so that
// matmul_engines runs four of these for int8 steps.
template <int Depth>
inline void matmul_engine(Stream<Beat>& w, const Q8Step steps[kMaxQ8PairBeats], float y[Depth], int rows,
                             int pb, int port, EngineMax& top) {
    const int64_t trips = int64_t(ceil_div(rows, kQ8RowsPerBeat)) * pb;
    // The beats come through the port's FIFO (weight_stream.hpp): no memory traffic here.
    LHK_TRACE_LOOP(LoopId::MatQ8Engine, trips, port, 0);
    float acc_a[kPartialSums], acc_b[kPartialSums], tail_a[kPartialSums], tail_b[kPartialSums];
#pragma HLS ARRAY_PARTITION variable=acc_a complete
#pragma HLS ARRAY_PARTITION variable=acc_b complete
#pragma HLS ARRAY_PARTITION variable=tail_a complete
#pragma HLS ARRAY_PARTITION variable=tail_b complete
    float wscale[kQ8ScalesPerBeat];  // the current chunk's weight scales: A g, A g+1, B g, B g+1
#pragma HLS ARRAY_PARTITION variable=wscale complete
    for (int k = 0; k < kPartialSums; ++k) {
#pragma HLS UNROLL
        acc_a[k] = acc_b[k] = tail_a[k] = tail_b[k] = 0.0f;
    }
    for (int k = 0; k < kQ8ScalesPerBeat; ++k) {
#pragma HLS UNROLL
        wscale[k] = 0.0f;
    }
    int32_t gsum_a = 0, gsum_b = 0;  // int32 sums of the current group
    int b = 0;                       // beat within the row pair
    int r = 0;                       // row pair (of this engine)
    int s = 0;                       // accumulator in turn
    // Row B's result is written one clock after row A's (one write port on y).
    bool pending = false;
    int pending_row = 0;
    float pending_val = 0.0f;
    EngineMax m;
    engine_max_init(m);
mat_q8_engine:
    for (int64_t i = 0; i < trips; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=Depth/2*kMaxQ8PairBeats
#pragma HLS DEPENDENCE variable=acc_a inter distance=kPartialSums true
#pragma HLS DEPENDENCE variable=acc_b inter distance=kPartialSums true
        const Beat wb = w.read();
        const Q8Step st = steps[b];
        // Row A's int8 weights are in the beat's floats 0..1, row B's in 2..3.
        int32_t pa[kQ8Cols], pb_[kQ8Cols];
#pragma HLS ARRAY_PARTITION variable=pa complete
#pragma HLS ARRAY_PARTITION variable=pb_ complete
        for (int l = 0; l < kQ8Cols; ++l) {
#pragma HLS UNROLL
            const int wa = int8_at(bits_of(wb.v[l / 4]), l % 4);
            const int wbv = int8_at(bits_of(wb.v[kQ8Cols / 4 + l / 4]), l % 4);
            int ax = 0, bx = 0;
            mul2_shared(wa, wbv, st.xq[l], &ax, &bx);
            pa[l] = ax;
            pb_[l] = bx;
        }
        // Scale and padding beats carry zero activations: their products are 0.
        const int32_t sum_a = gsum_a + tree_sum_i<kQ8Cols>(pa);
        const int32_t sum_b = gsum_b + tree_sum_i<kQ8Cols>(pb_);
        gsum_a = st.ends ? 0 : sum_a;
        gsum_b = st.ends ? 0 : sum_b;
        // runq.c: val += ((float) ival) * w_scale * x_scale, in that order.
        const float term_a = st.ends ? float(sum_a) * wscale[st.slot] * st.xs : 0.0f;
        const float term_b = st.ends ? float(sum_b) * wscale[kQ8ChunkGroups + st.slot] * st.xs : 0.0f;
        if (st.scales) {
            for (int k = 0; k < kQ8ScalesPerBeat; ++k) {
#pragma HLS UNROLL
                wscale[k] = wb.v[k];
            }
        }
        // The first kPartialSums beats of a pair restart their accumulator.
        const float a = (b < kPartialSums ? 0.0f : acc_a[s]) + term_a;
        const float c = (b < kPartialSums ? 0.0f : acc_b[s]) + term_b;
        acc_a[s] = a;
        acc_b[s] = c;
        for (int k = 0; k + 1 < kPartialSums; ++k) {
#pragma HLS UNROLL
            tail_a[k] = tail_a[k + 1];
            tail_b[k] = tail_b[k + 1];
        }
        tail_a[kPartialSums - 1] = a;
        tail_b[kPartialSums - 1] = c;
        const bool last = b == pb - 1;
        bool write = false;
        int row = 0;
        float val = 0.0f;
        if (last) {
            write = true;
            row = 2 * r;
            val = tree_sum<kPartialSums>(tail_a);
            pending = 2 * r + 1 < rows;  // an odd last row has no partner
            pending_row = 2 * r + 1;
            pending_val = tree_sum<kPartialSums>(tail_b);
        } else if (pending) {
            write = true;
            row = pending_row;
            val = pending_val;
            pending = false;
        }
        if (write) {
            y[row] = val;
            engine_max_note(m, row, val);
        }
        if (last) {
            ++r;
            b = 0;
        } else {
            ++b;
        }
        s = next_mod(s, kPartialSums);
    }
    if (pending) {
        y[pending_row] = pending_val;
        engine_max_note(m, pending_row, pending_val);
    }
    top = m;
}

// The rows computed into banks yb, for the int8 matrix streamed through w0..w3 and quantized x; returns
// the row with the largest result (argmax_of_engines).
inline int matmul_q8_rows(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3, const int8_t* xq,
                           const float* xs, float yb[kWeightPorts][kMaxRowsPerPort], int rows, int cols,
                           int gs) {
    Q8Step steps[kWeightPorts][kMaxQ8PairBeats];
#pragma HLS ARRAY_PARTITION variable=steps dim=1 complete
    const int pb = q8_pair_beats(cols, gs);
    q8_steps(xq, xs, cols, gs, steps, pb);
    EngineMax m0, m1, m2, m3;
    matmul_engines<kMaxRowsPerPort>(w0, w1, w2, w3, steps, yb, rows_on_engine(rows, 0, kDesign),
                                    rows_on_engine(rows, 1, kDesign), rows_on_engine(rows, 2, kDesign),
                                    rows_on_engine(rows, 3, kDesign), pb, m0, m1, m2, m3);
    return argmax_of_engines<kMaxRowsPerPort>(yb, m0, m1, m2, m3);
}

// y = W x with y on chip (rows <= kMaxCols).
inline void matmul_q8(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3, const int8_t* xq,
                      const float* xs, float* y, int rows, int cols, int gs,
                      float yb[kWeightPorts][kMaxRowsPerPort]) {
    LHK_TRACE_OP(TraceOp::MatMul, rows, cols, 0, gs);
    matmul_q8_rows(w0, w1, w2, w3, xq, xs, yb, rows, cols, gs);
    matmul_store_vec(yb, y, rows);
}

// y = W x with y written to DDR as beats (the logits; op_matmul's output).
inline void matmul_q8_to_ddr(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3, const int8_t* xq,
                             const float* xs, Beat* y, int rows, int cols, int gs, int y_port,
                             float yb[kWeightPorts][kMaxRowsPerPort]) {
    LHK_TRACE_OP(TraceOp::MatMul, rows, cols, 1, gs);
    matmul_q8_rows(w0, w1, w2, w3, xq, xs, yb, rows, cols, gs);
    matmul_store_ddr(yb, y, rows, y_port);
}

// The classifier with int8 weights, as matmul_classify.
inline int matmul_q8_classify(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3, const int8_t* xq,
                              const float* xs, Beat* y, int rows, int cols, int gs, bool store, int y_port,
                              float yb[kWeightPorts][kMaxRowsPerPort]) {
    LHK_TRACE_OP(TraceOp::MatMul, rows, cols, store ? 1 : 2, gs);
    const int top = matmul_q8_rows(w0, w1, w2, w3, xq, xs, yb, rows, cols, gs);
    if (store) matmul_store_ddr(yb, y, rows, y_port);
    return top;
}

}  // namespace lhk
