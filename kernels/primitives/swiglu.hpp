#pragma once
// SwiGLU: hb[i] = hb[i] * (1 / (1 + exp(-hb[i]))) * hb2[i], llama2.c's expression, kLanes
// elements per clock.
#include "kernels/primitives/vector.hpp"

namespace lhk {

inline void swiglu(float* hb, const float* hb2, int n) {
    LHK_TRACE_OP(TraceOp::SwiGLU, n, 0, 0, 0);
    const int iters = vec_iters(n, kDesign);
    LHK_TRACE_LOOP(LoopId::SwiGLU, iters, kNoPort, 0);
swiglu:
    for (int i = 0; i < iters; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxHidden/kLanes
        for (int l = 0; l < kLanes; ++l) {
#pragma HLS UNROLL
            const int j = i * kLanes + l;
            if (j < n) {
                float val = hb[j];
                val *= (1.0f / (1.0f + math::exp(-val)));
                val *= hb2[j];
                hb[j] = val;
            }
        }
    }
}

}  // namespace lhk
