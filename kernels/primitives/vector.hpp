#pragma once
// Building blocks shared by the op primitives: adder trees, on-chip vectors <-> AXI beats,
// and the residual add. On-chip vectors are float arrays partitioned cyclically by
// kLanes, so a loop iteration can touch kLanes consecutive elements in one clock.
#include <cstdint>

#include "kernels/hls_support.hpp"
#include "kernels/hls_trace.hpp"
#include "kernels/loop_bounds.hpp"

namespace lhk {

// log2 of a power of two n (at compile time: a tree's levels).
constexpr int tree_levels(int n) {
    int levels = 0;
    for (int l = 0; l < 30; ++l) {
        if ((1 << l) < n) levels = l + 1;
    }
    return levels;
}

// N values reduced by a balanced tree (log2 N levels, no loop-carried dependency): pairs
// (0,1), (2,3), ... first, each pair as combine(left, right). Both loops count up to a
// compile-time constant in steps of one, so that g++ unrolls the tree in C simulation as
// HLS does: a doubling stride is a loop g++ cannot count, and C simulation then spent a
// third of its time in these loops' control.
template <int N, class T, class Combine>
inline T tree_reduce(const T in[N], Combine combine) {
#pragma HLS INLINE
    static_assert(N >= 1 && (N & (N - 1)) == 0, "tree_reduce: N must be a power of two");
    T t[N];
#pragma HLS ARRAY_PARTITION variable=t complete
    for (int i = 0; i < N; ++i) {
#pragma HLS UNROLL
        t[i] = in[i];
    }
    constexpr int kLevels = tree_levels(N);
    for (int level = 0; level < kLevels; ++level) {
#pragma HLS UNROLL
        const int stride = 1 << level;
        for (int p = 0; p < N / 2; ++p) {
#pragma HLS UNROLL
            const int i = 2 * stride * p;  // the level's pair p: (i, i + stride)
            if (i + stride < N) t[i] = combine(t[i], t[i + stride]);
        }
    }
    return t[0];
}

struct AddOp {
    template <class T>
    T operator()(T a, T b) const {
        return a + b;
    }
};
struct MaxOp {  // the right one only if it is greater: a NaN on the right never wins
    template <class T>
    T operator()(T a, T b) const {
        return b > a ? b : a;
    }
};

// Sum of N floats (or int32 values) by a tree of adders.
template <int N>
inline float tree_sum(const float in[N]) {
#pragma HLS INLINE
    return tree_reduce<N, float>(in, AddOp{});
}
template <int N>
inline int32_t tree_sum_i(const int32_t in[N]) {
#pragma HLS INLINE
    return tree_reduce<N, int32_t>(in, AddOp{});
}

// The loop shapes every vector op is made of, INLINEd into the op so that the loop is
// pipelined (II=1) where the op calls it. What an op does per element is a small function
// object (lambda-free, as the adder trees' AddOp), its member pointers bound to the op's
// arrays. MaxIters / MaxBeats bound the trip count for the schedule (LOOP_TRIPCOUNT); the
// op reports the loop to the trace (LHK_TRACE_LOOP) before it calls one.

// op(j) for every element j < n, kLanes elements per clock over `iters` iterations.
template <int MaxIters, int MinIters = 1, class Op>
inline void for_lanes(int iters, int n, const Op& op) {
#pragma HLS INLINE
lanes:
    for (int i = 0; i < iters; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=MinIters max=MaxIters
        for (int l = 0; l < kLanes; ++l) {
#pragma HLS UNROLL
            const int j = i * kLanes + l;
            if (j < n) op(j);
        }
    }
}

// sink(j, v) for the n floats v in beats src[0..nb-1] (element j in lane j % kFloatsPerBeat
// of beat j / kFloatsPerBeat), one beat per clock.
template <int MaxBeats, class Sink>
inline void read_beats(const Beat* src, int nb, int n, const Sink& sink) {
#pragma HLS INLINE
read_beats:
    for (int i = 0; i < nb; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=MaxBeats
        const Beat b = src[i];
        for (int l = 0; l < kFloatsPerBeat; ++l) {
#pragma HLS UNROLL
            const int j = i * kFloatsPerBeat + l;
            if (j < n) sink(j, b.v[l]);
        }
    }
}

// dst[0..nb-1] = the beats of source(j) for the elements j < n (the tail of the last beat
// zero), one beat per clock.
template <int MaxBeats, class Source>
inline void write_beats(const Source& source, Beat* dst, int nb, int n) {
#pragma HLS INLINE
write_beats:
    for (int i = 0; i < nb; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=MaxBeats
        Beat b;
        for (int l = 0; l < kFloatsPerBeat; ++l) {
#pragma HLS UNROLL
            const int j = i * kFloatsPerBeat + l;
            b.v[l] = j < n ? source(j) : 0.0f;
        }
        dst[i] = b;
    }
}

// Element j of an on-chip vector, as the sink or the source of a beat loop.
struct VectorSink {
    float* v;
    void operator()(int j, float x) const { v[j] = x; }
};
struct VectorSource {
    const float* v;
    float operator()(int j) const { return v[j]; }
};

// n floats from beats in DDR into an on-chip vector (`id` names the loop in the trace).
inline void load_vector(const Beat* src, float* dst, int n, int port, LoopId id = LoopId::VecLoad) {
    const int nb = vec_beats(n);
    LHK_TRACE_LOOP(id, nb, port, int64_t(nb) * kBeatBytes);
    (void)id;
    read_beats<kMaxVecBeats>(src, nb, n, VectorSink{dst});
}

// An on-chip vector of n floats out to beats in DDR (the tail of the last beat is zero).
inline void store_vector(const float* src, Beat* dst, int n, int port) {
    const int nb = vec_beats(n);
    LHK_TRACE_LOOP(LoopId::VecStore, nb, port, int64_t(nb) * kBeatBytes);
    write_beats<kMaxVecBeats>(VectorSource{src}, dst, nb, n);
}

// x[j] += y[j]
struct ResidualElement {
    float* x;
    const float* y;
    void operator()(int j) const { x[j] = x[j] + y[j]; }
};
inline void residual_add(float* x, const float* y, int n) {
    LHK_TRACE_OP(TraceOp::Residual, n, 0, 0, 0);
    const int iters = vec_iters(n, kDesign);
    LHK_TRACE_LOOP(LoopId::Residual, iters, kNoPort, 0);
    for_lanes<kMaxVecBeats>(iters, n, ResidualElement{x, y});
}

// Index helpers for loops that walk i = 0.. in steps: wraps a counter at `n` without a
// divider in hardware.
inline int next_mod(int c, int n) { return c + 1 == n ? 0 : c + 1; }

}  // namespace lhk
