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
// The float part of the engine also serves the 4-bit matmuls (quant_engine, matmul_q4.hpp).
// What a beat needs from the activations is the same for every row pair of a matrix (same
// columns, same groups), so it is laid out once per matmul (q8_steps) and copied to every
// engine, like the fp32 engines' copies of x.
#include "kernels/llama_layout.hpp"
#include "kernels/primitives/matmul.hpp"
#include "kernels/primitives/vector.hpp"

namespace lhk {

// What beat b of every row pair (int8) or row (4-bit, matmul_q4.hpp) needs from the
// activations: one type, so that one engine (quant_engine below) serves both precisions.
struct QuantStep {
    int8_t xq[kQ4PerBeat];  // int8: the activations of the beat's kQ8Cols columns; 4-bit: each code's;
                            // 0 on scale and padding beats
    float xs;               // scale of the activations of the group this beat ends
    int32_t zx;             // 4-bit: the codes' zero point times the group's activation sum; int8: 0
    int32_t xsum;           // 4-bit: the group's activation sum, for its min; int8: 0
    uint8_t scales;         // 1: a scale beat
    uint8_t ends;           // 1: the last beat of a group: its sums are scaled and accumulated
    uint8_t slot;           // the group's place in its chunk: selects its weight scales
    uint8_t bytes;          // 4-bit: 8-bit codes (a byte is two of the beat's codes)
};
using Q8Step = QuantStep;

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
                     Q8Step steps[kWeightPorts][kMaxQuantBeats], int pb) {
    LHK_TRACE_LOOP(LoopId::MatQ8Steps, pb, kNoPort, 0);
    Q8BeatWalk walk(cols, gs);
q8_steps:
    for (int b = 0; b < pb; ++b) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=kPartialSums max=kMaxQ8PairBeats
        const Q8Beat at = walk.next();
        Q8Step st;
        for (int l = 0; l < kQ4PerBeat; ++l) {
#pragma HLS UNROLL
            st.xq[l] = l < kQ8Cols && l < at.width ? xq[at.col + l] : int8_t(0);
        }
        st.xs = at.width > 0 ? xs[at.group] : 0.0f;
        st.zx = st.xsum = 0;
        st.bytes = 0;
        st.scales = at.scales;
        st.ends = at.ends;
        st.slot = at.slot;
        for (int e = 0; e < kWeightPorts; ++e) {
#pragma HLS UNROLL
            steps[e][b] = st;
        }
    }
}

// One engine over its `rows` rows, `pb` beats a row pair (int8) or a row (q4: 4-bit, from
// matmul_q4.hpp), read from its port's FIFO w; row k's result to y[k]. One datapath for both
// precisions (they never run at once), so the float operators are built once:
//  * int8: kQ8Cols packed multipliers give both rows' products (mul2_shared), two integer
//    trees their beat sums, added to the groups' int32 sums; on a group's last beat row A's
//    sum becomes float(sum) * w_scale * x_scale (runq.c's order) in float chain A, row B's
//    in chain B;
//  * 4-bit: kQ4PerBeat code multipliers (4 x 8 bits, a byte's high nibble shifted by 4), one
//    integer tree, less the zero point: chain A computes (float(isum) * scale) * dx, chain B
//    (float(xsum) * min) * dx, and the row's result is chain A's sum less chain B's;
//  * each chain adds its term into accumulator i % kPartialSums (revisited every kPartialSums
//    clocks, > the fadd latency), and a row's (or pair's) result is the tree of the last
//    kPartialSums accumulator values.
template <int Depth>
inline void quant_engine(Stream<Beat>& w, const QuantStep steps[kMaxQuantBeats], float y[Depth], int rows, int pb,
                         bool q4, int port, EngineMax& top) {
    const int64_t trips = int64_t(q4 ? rows : ceil_div(rows, kQ8RowsPerBeat)) * pb;
    // The beats come through the port's FIFO (weight_stream.hpp): no memory traffic here.
    LHK_TRACE_LOOP(q4 ? LoopId::MatQ4Engine : LoopId::MatQ8Engine, trips, port, 0);
    float acc_a[kPartialSums], acc_b[kPartialSums], tail_a[kPartialSums], tail_b[kPartialSums];
#pragma HLS ARRAY_PARTITION variable=acc_a complete
#pragma HLS ARRAY_PARTITION variable=acc_b complete
#pragma HLS ARRAY_PARTITION variable=tail_a complete
#pragma HLS ARRAY_PARTITION variable=tail_b complete
    // The current chunk's scale beat. int8: A g, A g+1, B g, B g+1; 4-bit: scale g, min g,
    // scale g+1, min g+1.
    float wscale[kQ8ScalesPerBeat];
#pragma HLS ARRAY_PARTITION variable=wscale complete
    for (int k = 0; k < kPartialSums; ++k) {
#pragma HLS UNROLL
        acc_a[k] = acc_b[k] = tail_a[k] = tail_b[k] = 0.0f;
    }
    for (int k = 0; k < kQ8ScalesPerBeat; ++k) {
#pragma HLS UNROLL
        wscale[k] = 0.0f;
    }
    int32_t gsum_a = 0, gsum_b = 0;  // int8: int32 sums of the current group
    int b = 0;                       // beat within the row pair (row)
    int r = 0;                       // row pair (row) of this engine
    int s = 0;                       // accumulator in turn
    // int8: row B's result is written one clock after row A's (one write port on y).
    bool pending = false;
    int pending_row = 0;
    float pending_val = 0.0f;
    EngineMax m;
    engine_max_init(m);
mat_q8_engine:
    for (int64_t i = 0; i < trips; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=Depth*kMaxQuantBeats
#pragma HLS DEPENDENCE variable=acc_a inter distance=kPartialSums true
#pragma HLS DEPENDENCE variable=acc_b inter distance=kPartialSums true
        const Beat wb = w.read();
        const QuantStep& st = steps[b];
        // int8: row A's weights are in the beat's floats 0..1, row B's in 2..3.
        int32_t pa[kQ8Cols], pb_[kQ8Cols], pc[kQ4PerBeat];
#pragma HLS ARRAY_PARTITION variable=pa complete
#pragma HLS ARRAY_PARTITION variable=pb_ complete
#pragma HLS ARRAY_PARTITION variable=pc complete
        // Only the mode's own products are formed (the other mode's are 0): in hardware both
        // multiplier sets exist and the mode selects; C simulation skips the other's work.
        if (!q4) {
            for (int l = 0; l < kQ8Cols; ++l) {
#pragma HLS UNROLL
                const int wa = int8_at(bits_of(wb.v[l / 4]), l % 4);
                const int wbv = int8_at(bits_of(wb.v[kQ8Cols / 4 + l / 4]), l % 4);
                mul2_shared(wa, wbv, st.xq[l], &pa[l], &pb_[l]);
            }
        } else {
            // 4-bit: code l is bits 4l..4l+3 of the beat; in the byte format codes 2k and 2k+1
            // are byte k and meet the same activation, the high one 16 times over.
            for (int l = 0; l < kQ4PerBeat; ++l) {
#pragma HLS UNROLL
                const int code = int((bits_of(wb.v[l / 8]) >> (4 * (l % 8))) & 15u);
                const int32_t p = code * int(st.xq[l]);
                pc[l] = st.bytes && l % 2 == 1 ? p * 16 : p;
            }
        }
        // Scale and padding beats carry zero activations: their products are 0. Each mode's
        // trees sum only its own products (the other mode's sums are not used).
        const int32_t sum_a = q4 ? 0 : gsum_a + tree_sum_i<kQ8Cols>(pa);
        const int32_t sum_b = q4 ? 0 : gsum_b + tree_sum_i<kQ8Cols>(pb_);
        const int32_t isum = q4 ? tree_sum_i<kQ4PerBeat>(pc) - st.zx : 0;
        gsum_a = st.ends ? 0 : sum_a;
        gsum_b = st.ends ? 0 : sum_b;
        // The two float chains: runq.c's val += ((float) ival) * w_scale * x_scale for int8,
        // (float(isum) * scale) * dx and (float(xsum) * min) * dx for 4-bit.
        const int32_t ia = q4 ? isum : sum_a, ib = q4 ? st.xsum : sum_b;
        const float sa = q4 ? wscale[2 * st.slot] : wscale[st.slot];
        const float sb = q4 ? wscale[2 * st.slot + 1] : wscale[kQ8ChunkGroups + st.slot];
        const float term_a = st.ends ? float(ia) * sa * st.xs : 0.0f;
        const float term_b = st.ends ? float(ib) * sb * st.xs : 0.0f;
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
        if (last && q4) {
            write = true;
            row = r;
            val = tree_sum<kPartialSums>(tail_a) - tree_sum<kPartialSums>(tail_b);
        } else if (last) {
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

// The four engines of the quantized matmuls (int8 and 4-bit) as concurrent processes, engine
// e on weight port e: steps[e] its copy of the steps, r_e its rows of `beats` beats per row
// pair (row when q4). One call site for both precisions: one copy of the hardware.
inline void quant_engines(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3,
                          const QuantStep steps[kWeightPorts][kMaxQuantBeats], float yb[kWeightPorts][kMaxRowsPerPort],
                          int rows, int beats, bool q4, EngineMax& m0, EngineMax& m1, EngineMax& m2, EngineMax& m3) {
#pragma HLS DATAFLOW
    LHK_TRACE_DATAFLOW(1);
    quant_engine<kMaxRowsPerPort>(w0, steps[0], yb[0], rows_on_engine(rows, 0, kDesign), beats, q4, 0, m0);
    quant_engine<kMaxRowsPerPort>(w1, steps[1], yb[1], rows_on_engine(rows, 1, kDesign), beats, q4, 1, m1);
    quant_engine<kMaxRowsPerPort>(w2, steps[2], yb[2], rows_on_engine(rows, 2, kDesign), beats, q4, 2, m2);
    quant_engine<kMaxRowsPerPort>(w3, steps[3], yb[3], rows_on_engine(rows, 3, kDesign), beats, q4, 3, m3);
    LHK_TRACE_DATAFLOW(0);
}

// The rows computed into banks yb, for the int8 matrix streamed through w0..w3 and quantized x; returns
// the row with the largest result (argmax_of_engines).
inline int matmul_q8_rows(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3, const int8_t* xq,
                           const float* xs, float yb[kWeightPorts][kMaxRowsPerPort], int rows, int cols,
                           int gs) {
    Q8Step steps[kWeightPorts][kMaxQuantBeats];
#pragma HLS ARRAY_PARTITION variable=steps dim=1 complete
#pragma HLS BIND_STORAGE variable=steps type=ram_2p impl=uram
    const int pb = q8_pair_beats(cols, gs);
    q8_steps(xq, xs, cols, gs, steps, pb);
    EngineMax m0, m1, m2, m3;
    quant_engines(w0, w1, w2, w3, steps, yb, rows, pb, false, m0, m1, m2, m3);
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
