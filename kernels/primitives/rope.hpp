#pragma once
// RoPE over adjacent pairs (i, i+1), as llama2.c: freq = 1 / 10000^(i % head_size / head_size),
// angle = pos * freq; q is rotated always, k only for i < kv_dim. The angles depend on the
// pair's place inside a head only, so cos/sin are computed once per token for
// head_size / 2 pairs (the table) instead of once per pair per layer.
#include "kernels/primitives/vector.hpp"

namespace lhk {

constexpr int kMaxRopePairs = kMaxHeadSize / 2;

inline void rope_table(int pos, int head_size, float fcr[kMaxRopePairs], float fci[kMaxRopePairs]) {
    const int n = rope_table_iters(head_size);
    LHK_TRACE_LOOP(LoopId::RopeTable, n, kNoPort, 0);
rope_table:
    for (int p = 0; p < n; ++p) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxRopePairs
        const int head_dim = 2 * p;
        const float freq = 1.0f / math::pow(10000.0f, head_dim / (float)head_size);
        const float val = pos * freq;
        fcr[p] = math::cos(val);
        fci[p] = math::sin(val);
    }
}

inline void rope_rotate(float* q, float* k, int dim, int kv_dim, int head_size,
                        const float fcr[kMaxRopePairs], const float fci[kMaxRopePairs]) {
    const int n = rope_pairs(dim);
    const int pairs_per_head = head_size / 2;
    LHK_TRACE_LOOP(LoopId::RopeRotate, n, kNoPort, 0);
    int hp = 0;  // pair index inside the head
rope_rotate:
    for (int p = 0; p < n; ++p) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxDim/2
        const int i = 2 * p;
        const float c = fcr[hp];
        const float s = fci[hp];
        const float q0 = q[i];
        const float q1 = q[i + 1];
        q[i] = q0 * c - q1 * s;
        q[i + 1] = q0 * s + q1 * c;
        if (i < kv_dim) {
            const float k0 = k[i];
            const float k1 = k[i + 1];
            k[i] = k0 * c - k1 * s;
            k[i + 1] = k0 * s + k1 * c;
        }
        hp = next_mod(hp, pairs_per_head);
    }
}

// Both steps, for one position.
inline void rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size) {
    LHK_TRACE_OP(TraceOp::Rope, dim, kv_dim, head_size, 1);
    float fcr[kMaxRopePairs];
    float fci[kMaxRopePairs];
    rope_table(pos, head_size, fcr, fci);
    rope_rotate(q, k, dim, kv_dim, head_size, fcr, fci);
}

}  // namespace lhk
