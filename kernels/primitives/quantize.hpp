#pragma once
// Activation quantization for the int8 (Q8_0) matmul, on chip, in runq.c's arithmetic: per
// group of gs consecutive values, scale = max|x| / 127 and q = round(x / scale) with C's
// round() (half away from zero), in [-127, 127]. A group holding a NaN or an infinity gets
// a NaN scale and zero values, as core/quantize.cpp does, so a non-finite input shows up in
// the matmul's output instead of vanishing into an int8.
//
// Two pipelined loops of kLanes values per clock (gs is a multiple of kLanes, so an
// iteration never straddles two groups): the group maxima (a running max through one
// comparator: a loop-carried path of one fcmp, II=1) with the scale divided out at each
// group's last iteration, then the kLanes divisions, roundings and clamps per clock.
#include "kernels/primitives/vector.hpp"

namespace lhk {

// Largest of N non-negative values by a tree of comparators.
template <int N>
inline float tree_max(const float in[N]) {
#pragma HLS INLINE
    return tree_reduce<N, float>(in, MaxOp{});
}

// x[n] (n a multiple of gs, gs a multiple of kLanes) -> xq[n] int8 and xs[n / gs] scales:
// the loops, traced under whichever op runs them (the activation quantizer's own, or the
// 8-bit KV cache's store).
inline void quantize_groups_q8(const float* x, int n, int gs, int8_t* xq, float* xs) {
    const int iters = vec_iters(n, kDesign);
    const int per_group = gs / kLanes;  // iterations per group
    const float nan = float_of(0x7fc00000u);

    LHK_TRACE_LOOP(LoopId::QuantMax, iters, kNoPort, 0);
    float run_max = 0.0f;  // of the current group so far
    bool run_finite = true;
    int k = 0, g = 0;  // iteration in group, group
quant_max:
    for (int i = 0; i < iters; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxVecBeats
        float mag[kLanes];
#pragma HLS ARRAY_PARTITION variable=mag complete
        bool finite = true;
        for (int l = 0; l < kLanes; ++l) {
#pragma HLS UNROLL
            const float v = x[i * kLanes + l];
            const bool f = is_finite(v);
            finite = finite && f;
            mag[l] = f ? float_of(bits_of(v) & 0x7fffffffu) : 0.0f;  // |v|: the sign bit cleared
        }
        const float lane_max = tree_max<kLanes>(mag);
        const float before = k == 0 ? 0.0f : run_max;
        const float m = lane_max > before ? lane_max : before;
        const bool fin = (k == 0 || run_finite) && finite;
        if (k == per_group - 1) {
            xs[g] = fin ? m / 127.0f : nan;
            ++g;
            k = 0;
        } else {
            ++k;
        }
        run_max = m;
        run_finite = fin;
    }

    LHK_TRACE_LOOP(LoopId::QuantScale, iters, kNoPort, 0);
    k = 0;
    g = 0;
quant_scale:
    for (int i = 0; i < iters; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxVecBeats
        const float s = xs[g];
        const bool zero = !is_finite(s) || s == 0.0f;
        for (int l = 0; l < kLanes; ++l) {
#pragma HLS UNROLL
            const int j = i * kLanes + l;
            float r = zero ? 0.0f : math::round(x[j] / s);
            r = r < -127.0f ? -127.0f : r > 127.0f ? 127.0f : r;
            xq[j] = int8_t(int(r));
        }
        if (k == per_group - 1) {
            ++g;
            k = 0;
        } else {
            ++k;
        }
    }
}

// An activation vector for the int8 matmuls: its own traced op.
inline void quantize_q8(const float* x, int n, int gs, int8_t* xq, float* xs) {
    LHK_TRACE_OP(TraceOp::Quantize, n, gs, 0, 0);
    quantize_groups_q8(x, n, gs, xq, xs);
}

}  // namespace lhk
