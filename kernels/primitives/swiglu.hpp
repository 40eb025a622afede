#pragma once
// SwiGLU: hb[i] = hb[i] * (1 / (1 + exp(-hb[i]))) * hb2[i], llama2.c's expression, kLanes
// elements per clock.
#include "kernels/primitives/vector.hpp"

namespace lhk {

// One element: hb[j] = silu(hb[j]) * hb2[j].
struct SwigluElement {
    float* hb;
    const float* hb2;
    void operator()(int j) const {
        float val = hb[j];
        val *= (1.0f / (1.0f + math::exp(-val)));
        val *= hb2[j];
        hb[j] = val;
    }
};

inline void swiglu(float* hb, const float* hb2, int n) {
    LHK_TRACE_OP(TraceOp::SwiGLU, n, 0, 0, 0);
    const int iters = vec_iters(n, kDesign);
    LHK_TRACE_LOOP(LoopId::SwiGLU, iters, kNoPort, 0);
    for_lanes<kMaxHidden / kLanes>(iters, n, SwigluElement{hb, hb2});
}

}  // namespace lhk
