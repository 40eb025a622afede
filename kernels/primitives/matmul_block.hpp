#pragma once
// Prefill: Y = W X for a block of up to kPrefillTokens activation vectors (llama_forward's
// prompt mode), each weight beat read once and applied to every token of the block. Decode
// streams the weights once per token and is bound by the DDR; here a block costs one stream
// and the multiply-adds bound the time instead.
//
// The four engines run in lockstep in one pipelined loop (II=1) over (row of each engine,
// beat, token group): on a group's first clock each engine takes its next beat from its
// port's FIFO and holds it for kPrefillGroups clocks; every clock it multiplies the held beat
// with kPrefillTokenLanes tokens' activations (an adder tree per token), so the block's
// kPrefillTokens tokens take kPrefillGroups clocks a beat. Lockstep lets the engines share
// one copy of the block's activations (they read the same columns of the same tokens), where
// the decode engines, free-running processes, each need their own. A token's accumulator is
// revisited once per beat, every kPrefillGroups clocks (>= the fadd latency, hls_config.hpp):
// one accumulator per token and row, no rotating partial sums. The loop always runs all
// kPrefillGroups groups: a block of fewer tokens (a shorter prompt, or a wide shape whose
// block holds fewer: llama_layout.hpp's block_tokens) computes tokens it then ignores, on
// its first group's rows and without writing their results.
#include "kernels/primitives/matmul_q8.hpp"

namespace lhk {

// A block's vectors, one row per token, in the fixed capacity of hls_config.hpp: token t's
// row is row t / kPrefillTokenLanes of lane t % kPrefillTokenLanes, rows block_row_floats(d)
// apart (llama_layout.hpp; x, q, k, v: block_dim_row_floats(d)). A matmul's input (fp32) and
// its row results; int8: the quantized input and its scales (a row's scales are
// block_row_floats(d) / kMinGroupSize apart). Partitioned by token lane (the engines read
// kPrefillTokenLanes tokens a clock, one from each lane) and by column (a beat's lanes; int8:
// a beat's kQ8Cols columns; results: the two rows of a row pair of each of the four engines,
// rows 8k + e and 8k + 4 + e).
using BlockVectors = float[kPrefillTokenLanes][kBlockLaneFloats];
using BlockDimVectors = float[kPrefillTokenLanes][kBlockDimLaneFloats];
using BlockQ8 = int8_t[kPrefillTokenLanes][kBlockLaneFloats];
using BlockQ8Scales = float[kPrefillTokenLanes][kBlockLaneFloats / kMinGroupSize];

// Token t's row of a block array whose rows are `row` elements apart.
template <class T, int N>
inline T* block_row(T (&a)[kPrefillTokenLanes][N], int t, int row) {
#pragma HLS INLINE
    return &a[t % kPrefillTokenLanes][(t / kPrefillTokenLanes) * row];
}
template <class T, int N>
inline const T* block_row(const T (&a)[kPrefillTokenLanes][N], int t, int row) {
#pragma HLS INLINE
    return &a[t % kPrefillTokenLanes][(t / kPrefillTokenLanes) * row];
}

constexpr int64_t kMaxBlockTrips = int64_t(kVecRowsPerPort) * kMaxRowBeats * kPrefillGroups;

// Where the lockstep loop is: token group g of beat b of engine row (fp32) or row pair r.
struct BlockCursor {
    int g = 0, b = 0, r = 0;
    void advance(int beats) {
#pragma HLS INLINE
        if (g == kPrefillGroups - 1) {
            g = 0;
            if (b == beats - 1) {
                b = 0;
                ++r;
            } else {
                ++b;
            }
        } else {
            ++g;
        }
    }
};

// Each engine's next beat, on a group's first clock, if the engine has row (pair) r.
inline void block_read_beats(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3,
                             const int units[kWeightPorts], int r, Beat wr[kWeightPorts]) {
#pragma HLS INLINE
    if (r < units[0]) wr[0] = w0.read();
    if (r < units[1]) wr[1] = w1.read();
    if (r < units[2]) wr[2] = w2.read();
    if (r < units[3]) wr[3] = w3.read();
}

// int8: what beat b of every row pair needs, whatever the token (matmul_q8.hpp's walk).
inline void block_q8_steps(int cols, int gs, Q8Beat steps[kMaxQ8PairBeats], int pb) {
    LHK_TRACE_LOOP(LoopId::BlockQ8Steps, pb, kNoPort, 0);
    Q8BeatWalk walk(cols, gs);
block_q8_steps:
    for (int b = 0; b < pb; ++b) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=kPartialSums max=kMaxQ8PairBeats
        steps[b] = walk.next();
    }
}

// y[t][row] = W x[t] for the n tokens of the block (rows row_floats apart, block_row) and
// the rows x cols matrix streamed through w0..w3: fp32 weights
// (gs 0) times x, or int8 row pairs (gs > 0) times the quantized xq, xs in runq.c's
// arithmetic (per group an int32 sum, then val += float(isum) * w_scale * x_scale). One
// datapath for both, so that one set of floating-point operators serves both precisions (the
// DSPs are what bounds kPrefillTokenLanes): per engine and token lane four multipliers take
// either the beat's four products with the token's lanes, or, on an int8 group's last beat,
// the two rows' sums times their weight scales and then times the token's activation
// scale; the adders either sum the four products into the token's accumulator or add each
// row's term into its own. The int8 products themselves are kQ8Cols packed multipliers per
// engine and token lane (two int8 MACs each, matmul_q8.hpp's mul2_shared).
// Long because it is the one loop body of both precisions; its parts are commented in turn.
inline void block_engines(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3,
                          const BlockVectors& x, const BlockQ8& xq, const BlockQ8Scales& xs, BlockVectors& y,
                          int rows, int cols, int gs, int n, int row_floats) {
    static_assert(kLanes == 4 && kQ8ScalesPerBeat == 4, "the shared datapath has four multipliers a token lane");
    const bool q8 = gs > 0;
    const int per = q8 ? q8_pair_beats(cols, gs) : row_beats(cols);  // beats of a row (pair)
    Q8Beat steps[kMaxQ8PairBeats];
    if (q8) block_q8_steps(cols, gs, steps, per);
    int units[kWeightPorts], rows_e[kWeightPorts];
#pragma HLS ARRAY_PARTITION variable=units complete
#pragma HLS ARRAY_PARTITION variable=rows_e complete
    for (int e = 0; e < kWeightPorts; ++e) {
#pragma HLS UNROLL
        rows_e[e] = rows_on_engine(rows, e, kDesign);
        units[e] = q8 ? q8_pairs_on_engine(rows, e, kDesign) : rows_e[e];
    }
    const int64_t trips = int64_t(units[0]) * per * kPrefillGroups;
    // The beats come through the ports' FIFOs (weight_stream.hpp): no memory traffic here.
    LHK_TRACE_LOOP(q8 ? LoopId::BlockQ8Engine : LoopId::BlockEngine, trips, kNoPort, 0);
    // Per engine and token: the row's accumulator (int8: row A's), row B's, the group sums.
    float acc_a[kWeightPorts][kPrefillTokens], acc_b[kWeightPorts][kPrefillTokens];
    int32_t gsum_a[kWeightPorts][kPrefillTokens], gsum_b[kWeightPorts][kPrefillTokens];
#pragma HLS ARRAY_PARTITION variable=acc_a dim=1 complete
#pragma HLS ARRAY_PARTITION variable=acc_a dim=2 cyclic factor=kPrefillTokenLanes
#pragma HLS ARRAY_PARTITION variable=acc_b dim=1 complete
#pragma HLS ARRAY_PARTITION variable=acc_b dim=2 cyclic factor=kPrefillTokenLanes
#pragma HLS ARRAY_PARTITION variable=gsum_a dim=1 complete
#pragma HLS ARRAY_PARTITION variable=gsum_a dim=2 cyclic factor=kPrefillTokenLanes
#pragma HLS ARRAY_PARTITION variable=gsum_b dim=1 complete
#pragma HLS ARRAY_PARTITION variable=gsum_b dim=2 cyclic factor=kPrefillTokenLanes
    float wscale[kWeightPorts][kQ8ScalesPerBeat];  // each engine's chunk scales: A g, A g+1, B g, B g+1
#pragma HLS ARRAY_PARTITION variable=wscale complete dim=0
    Beat wr[kWeightPorts];
#pragma HLS ARRAY_PARTITION variable=wr complete
    for (int e = 0; e < kWeightPorts; ++e) {
#pragma HLS UNROLL
        for (int k = 0; k < kQ8ScalesPerBeat; ++k) {
#pragma HLS UNROLL
            wscale[e][k] = 0.0f;
        }
    }
    const Q8Beat none{0, 0, 0, 0, 0, 0};
    BlockCursor c;
mat_block_engine:
    for (int64_t i = 0; i < trips; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxBlockTrips
#pragma HLS DEPENDENCE variable=acc_a inter distance=kPrefillGroups true
#pragma HLS DEPENDENCE variable=acc_b inter distance=kPrefillGroups true
#pragma HLS DEPENDENCE variable=gsum_a inter distance=kPrefillGroups true
#pragma HLS DEPENDENCE variable=gsum_b inter distance=kPrefillGroups true
        const Q8Beat st = q8 ? steps[c.b] : none;
        if (c.g == 0) {
            block_read_beats(w0, w1, w2, w3, units, c.r, wr);
            if (st.scales) {
                for (int e = 0; e < kWeightPorts; ++e) {
#pragma HLS UNROLL
                    for (int k = 0; k < kQ8ScalesPerBeat; ++k) {
#pragma HLS UNROLL
                        wscale[e][k] = wr[e].v[k];
                    }
                }
            }
        }
        const bool last = c.b == per - 1;
        const bool term = q8 && st.ends;  // int8: the group's sums are scaled and accumulated
        for (int tl = 0; tl < kPrefillTokenLanes; ++tl) {
#pragma HLS UNROLL
            const int t = c.g * kPrefillTokenLanes + tl;
            // Token t is row c.g of lane tl; a token past the block reads the lane's first
            // row (inside the array) and writes nothing.
            const bool live = t < n;
            const int base = (live ? c.g : 0) * row_floats;
            // The token's inputs to this beat: fp32 lanes (a row's padding meets zeros, not
            // stale values), int8 columns of the slice, the group's activation scale.
            float xl[kLanes];
            int xv[kQ8Cols];
#pragma HLS ARRAY_PARTITION variable=xl complete
#pragma HLS ARRAY_PARTITION variable=xv complete
            for (int l = 0; l < kLanes; ++l) {
#pragma HLS UNROLL
                const int j = c.b * kLanes + l;
                xl[l] = !q8 && j < cols ? x[tl][base + j] : 0.0f;
            }
            for (int l = 0; l < kQ8Cols; ++l) {
#pragma HLS UNROLL
                xv[l] = l < st.width ? int(xq[tl][base + st.col + l]) : 0;
            }
            const float x_scale = q8 ? xs[tl][base / kMinGroupSize + st.group] : 0.0f;
            for (int e = 0; e < kWeightPorts; ++e) {
#pragma HLS UNROLL
                // int8: the slice's products, into the rows' group sums (a pair's first beat,
                // a scale beat, starts them from zero).
                int32_t pa[kQ8Cols], pbv[kQ8Cols];
#pragma HLS ARRAY_PARTITION variable=pa complete
#pragma HLS ARRAY_PARTITION variable=pbv complete
                for (int l = 0; l < kQ8Cols; ++l) {
#pragma HLS UNROLL
                    const int wa = int8_at(bits_of(wr[e].v[l / 4]), l % 4);
                    const int wb = int8_at(bits_of(wr[e].v[kQ8Cols / 4 + l / 4]), l % 4);
                    int ax = 0, bx = 0;
                    mul2_shared(wa, wb, xv[l], &ax, &bx);
                    pa[l] = ax;
                    pbv[l] = bx;
                }
                const int32_t sum_a = (c.b == 0 ? 0 : gsum_a[e][t]) + tree_sum_i<kQ8Cols>(pa);
                const int32_t sum_b = (c.b == 0 ? 0 : gsum_b[e][t]) + tree_sum_i<kQ8Cols>(pbv);
                gsum_a[e][t] = st.ends ? 0 : sum_a;
                gsum_b[e][t] = st.ends ? 0 : sum_b;
                // The four shared multipliers: fp32 w_l * x_l; int8 (float(isum) * w_scale) *
                // x_scale for rows A and B, runq.c's order.
                const Beat& wb = wr[e];
                const float p0 = (q8 ? float(sum_a) : wb.v[0]) * (q8 ? wscale[e][st.slot] : xl[0]);
                const float p1 = (q8 ? float(sum_b) : wb.v[1]) * (q8 ? wscale[e][kQ8ChunkGroups + st.slot] : xl[1]);
                const float p2 = (q8 ? p0 : wb.v[2]) * (q8 ? x_scale : xl[2]);
                const float p3 = (q8 ? p1 : wb.v[3]) * (q8 ? x_scale : xl[3]);
                // fp32: the lane tree (tree_sum's pairs) into the row's accumulator; int8: each
                // row's term (0 but on a group's last beat) into its own.
                const float add_a = q8 ? (term ? p2 : 0.0f) : (p0 + p1) + (p2 + p3);
                const float add_b = term ? p3 : 0.0f;
                const float a = (c.b == 0 ? 0.0f : acc_a[e][t]) + add_a;
                const float b = (c.b == 0 ? 0.0f : acc_b[e][t]) + add_b;
                acc_a[e][t] = a;
                acc_b[e][t] = b;
                // Row results on the last beat: fp32 engine-local row r is row 4r + e; int8
                // rows 2r, 2r + 1 are rows 8r + e and 8r + 4 + e.
                const int row = q8 ? 2 * c.r : c.r;
                if (live && last && row < rows_e[e]) y[tl][base + row * kWeightPorts + e] = a;
                if (live && last && q8 && row + 1 < rows_e[e]) y[tl][base + (row + 1) * kWeightPorts + e] = b;
            }
        }
        c.advance(per);
    }
}

// Rows 0..rows-1 of the first n tokens' results in `from` (rows from_row apart) into `to`
// (rows to_row apart).
template <int N>
inline void block_copy(const BlockVectors& from, int from_row, float to[kPrefillTokenLanes][N], int to_row, int n,
                       int rows) {
    const int per = vec_iters(rows, kDesign);
    const int trips = n * per;
    LHK_TRACE_LOOP(LoopId::BlockCopy, trips, kNoPort, 0);
    int lane = 0, g = 0, k = 0;  // token g * kPrefillTokenLanes + lane, its beat k
block_copy:
    for (int i = 0; i < trips; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kPrefillTokenLanes*kBlockLaneFloats/kLanes
        for (int l = 0; l < kLanes; ++l) {
#pragma HLS UNROLL
            const int j = k * kLanes + l;
            if (j < rows) to[lane][g * to_row + j] = from[lane][g * from_row + j];
        }
        if (k == per - 1) {
            k = 0;
            if (lane == kPrefillTokenLanes - 1) {
                lane = 0;
                ++g;
            } else {
                ++lane;
            }
        } else {
            ++k;
        }
    }
}

}  // namespace lhk
