#pragma once
// Softmax over positions 0..n-1 of up to kMaxHeads rows, kSoftmaxHeads rows at once (a
// layer's heads in groups: exp units for all 32 heads of TinyLlama would cost ~800 DSPs, and
// the passes are short beside the engines' over the same positions), in llama2.c's steps:
// subtract the max, exp, divide by the sum. The scores of
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

// One pass over positions 0..n-1 of rows first..first+kSoftmaxHeads-1 (those below rows),
// one position of every row per clock: step(score, partial, j) with row first + j's score
// and partial for the position, the one in turn of acc[j] (each revisited only every
// kPartialSums clocks).
template <class Step>
inline void softmax_pass(float sc[kKvPorts][kMaxHeads][kMaxSlots], int first, int rows, int n,
                         float acc[kSoftmaxHeads][kPartialSums], const Step& step) {
#pragma HLS INLINE
    ScoreCursor c;
softmax_pass:
    for (int t = 0; t < n; ++t) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxSeqLen
#pragma HLS DEPENDENCE variable=acc inter distance=kPartialSums true
        for (int j = 0; j < kSoftmaxHeads; ++j) {
#pragma HLS UNROLL
            const int h = first + j;
            if (h < rows) step(sc[c.bank][h < kMaxHeads ? h : 0][c.slot], acc[j][c.partial], j);
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
    void operator()(float& score, float& sum, int j) const {
        const float e = math::exp(score - m[j]);
        score = e;
        sum = sum + e;
    }
};

// Rows first..first+kSoftmaxHeads-1 (those below rows).
inline void softmax_group(float sc[kKvPorts][kMaxHeads][kMaxSlots], int first, int rows, int n) {
    float mx[kSoftmaxHeads][kPartialSums];
    float sum[kSoftmaxHeads][kPartialSums];
#pragma HLS ARRAY_PARTITION variable=mx complete dim=0
#pragma HLS ARRAY_PARTITION variable=sum complete dim=0
    for (int j = 0; j < kSoftmaxHeads; ++j) {
#pragma HLS UNROLL
        const int h = first + j < kMaxHeads ? first + j : 0;
        for (int s = 0; s < kPartialSums; ++s) {
#pragma HLS UNROLL
            mx[j][s] = sc[0][h][0];
            sum[j][s] = 0.0f;
        }
    }

    LHK_TRACE_LOOP(LoopId::SoftmaxMax, n, kNoPort, 0);
    softmax_pass(sc, first, rows, n, mx, RunningMax{});
    float m[kSoftmaxHeads];
#pragma HLS ARRAY_PARTITION variable=m complete
    for (int j = 0; j < kSoftmaxHeads; ++j) {
#pragma HLS UNROLL
        m[j] = mx[j][0];
        for (int k = 1; k < kPartialSums; ++k) {
#pragma HLS UNROLL
            if (mx[j][k] > m[j]) m[j] = mx[j][k];
        }
    }

    LHK_TRACE_LOOP(LoopId::SoftmaxExp, n, kNoPort, 0);
    softmax_pass(sc, first, rows, n, sum, ExpAndSum{m});
    float total[kSoftmaxHeads];
#pragma HLS ARRAY_PARTITION variable=total complete
    for (int j = 0; j < kSoftmaxHeads; ++j) {
#pragma HLS UNROLL
        total[j] = tree_sum<kPartialSums>(sum[j]);
    }

    LHK_TRACE_LOOP(LoopId::SoftmaxNorm, n, kNoPort, 0);
    ScoreCursor c;
softmax_norm:
    for (int t = 0; t < n; ++t) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxSeqLen
        for (int j = 0; j < kSoftmaxHeads; ++j) {
#pragma HLS UNROLL
            const int h = first + j;
            if (h < rows) sc[c.bank][h < kMaxHeads ? h : 0][c.slot] = sc[c.bank][h < kMaxHeads ? h : 0][c.slot] / total[j];
        }
        c.advance();
    }
}

inline void softmax_rows(float sc[kKvPorts][kMaxHeads][kMaxSlots], int rows, int n) {
softmax_groups:
    for (int first = 0; first < rows; first += kSoftmaxHeads) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxHeads/kSoftmaxHeads
        softmax_group(sc, first, rows, n);
    }
}

}  // namespace lhk
