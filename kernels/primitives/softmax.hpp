#pragma once
// Softmax over positions 0..n-1 for up to kMaxHeads rows at once (all heads of a layer in
// parallel), in llama2.c's steps: subtract the max, exp, divide by the sum. The scores of
// position t are in bank t % kKvPorts, slot t / kKvPorts: the attention engine that
// reads KV stripe t % kKvPorts wrote them there. The max and the sum are kept in
// kPartialSums rotating partials so the loops run at II=1; max is exact in any order, the
// sum's order differs from llama2.c's (within the tolerance of check_ops).
#include "kernels/primitives/vector.hpp"

namespace lhk {

using ScoreBanks = float[kKvPorts][kMaxHeads][kMaxSlots];

// Position t of score row `row` in the banks, as the sink or the source of a beat loop
// (op_softmax's one row in from DDR and out again).
struct ScoreRowAt {
    float (*sc)[kMaxHeads][kMaxSlots];
    int row;
    void operator()(int t, float v) const { sc[t % kKvPorts][row][t / kKvPorts] = v; }
    float operator()(int t) const { return sc[t % kKvPorts][row][t / kKvPorts]; }
};

// Where the loops over positions are: position t in bank t % kKvPorts, slot t / kKvPorts,
// and its partial t % kPartialSums (counters, not dividers).
struct ScoreCursor {
    int bank = 0, slot = 0, partial = 0;
    void advance() {
#pragma HLS INLINE
        partial = next_mod(partial, kPartialSums);
        bank = next_mod(bank, kKvPorts);
        if (bank == 0) ++slot;
    }
};

// One pass over positions 0..n-1 of rows 0..rows-1, one position of every row per clock:
// step(score, partial, h) with the score and the row's partial for the position, the one in
// turn of acc[h] (each revisited only every kPartialSums clocks).
template <class Step>
inline void softmax_pass(float sc[kKvPorts][kMaxHeads][kMaxSlots], int rows, int n, float acc[kMaxHeads][kPartialSums],
                         const Step& step) {
#pragma HLS INLINE
    ScoreCursor c;
softmax_pass:
    for (int t = 0; t < n; ++t) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxSeqLen
#pragma HLS DEPENDENCE variable=acc inter distance=kPartialSums true
        for (int h = 0; h < kMaxHeads; ++h) {
#pragma HLS UNROLL
            if (h < rows) step(sc[c.bank][h][c.slot], acc[h][c.partial], h);
        }
        c.advance();
    }
}

// The steps of the first two passes: the running maximum; exp(score - max) in place of the
// score, added into the running sum.
struct RunningMax {
    void operator()(float& score, float& max, int) const {
        if (score > max) max = score;
    }
};
struct ExpAndSum {
    const float* m;  // each row's maximum
    void operator()(float& score, float& sum, int h) const {
        const float e = math::exp(score - m[h]);
        score = e;
        sum = sum + e;
    }
};

inline void softmax_rows(float sc[kKvPorts][kMaxHeads][kMaxSlots], int rows, int n) {
    float mx[kMaxHeads][kPartialSums];
    float sum[kMaxHeads][kPartialSums];
#pragma HLS ARRAY_PARTITION variable=mx complete dim=0
#pragma HLS ARRAY_PARTITION variable=sum complete dim=0
    for (int h = 0; h < kMaxHeads; ++h) {
#pragma HLS UNROLL
        for (int s = 0; s < kPartialSums; ++s) {
#pragma HLS UNROLL
            mx[h][s] = sc[0][h][0];
            sum[h][s] = 0.0f;
        }
    }

    LHK_TRACE_LOOP(LoopId::SoftmaxMax, n, kNoPort, 0);
    softmax_pass(sc, rows, n, mx, RunningMax{});
    float m[kMaxHeads];
#pragma HLS ARRAY_PARTITION variable=m complete
    for (int h = 0; h < kMaxHeads; ++h) {
#pragma HLS UNROLL
        m[h] = mx[h][0];
        for (int k = 1; k < kPartialSums; ++k) {
#pragma HLS UNROLL
            if (mx[h][k] > m[h]) m[h] = mx[h][k];
        }
    }

    LHK_TRACE_LOOP(LoopId::SoftmaxExp, n, kNoPort, 0);
    softmax_pass(sc, rows, n, sum, ExpAndSum{m});
    float total[kMaxHeads];
#pragma HLS ARRAY_PARTITION variable=total complete
    for (int h = 0; h < kMaxHeads; ++h) {
#pragma HLS UNROLL
        total[h] = tree_sum<kPartialSums>(sum[h]);
    }

    LHK_TRACE_LOOP(LoopId::SoftmaxNorm, n, kNoPort, 0);
    ScoreCursor c;
softmax_norm:
    for (int t = 0; t < n; ++t) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxSeqLen
        for (int h = 0; h < kMaxHeads; ++h) {
#pragma HLS UNROLL
            if (h < rows) sc[c.bank][h][c.slot] = sc[c.bank][h][c.slot] / total[h];
        }
        c.advance();
    }
}

}  // namespace lhk
