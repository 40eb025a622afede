#pragma once
// RMSNorm: out[j] = w[j] * (inv * x[j]), inv = 1 / sqrt(mean(x^2) + 1e-5), in llama2.c's
// order of operations except that the sum of squares is accumulated in kPartialSums
// rotating partial sums (so the loop runs at II=1 instead of one fadd latency per element).
#include "kernels/primitives/vector.hpp"

namespace lhk {

// One element of the scaling pass: out[j] = w[j] * (inv * x[j]), w[j] streamed from DDR.
struct RmsScaleElement {
    float* out;
    const float* x;
    float inv;
    void operator()(int j, float w) const { out[j] = w * (inv * x[j]); }
};

// x and out are distinct on-chip vectors; the weight streams from DDR (vec_beats(n) beats).
inline void rmsnorm(float* out, const float* x, const Beat* w, int n, int w_port) {
    LHK_TRACE_OP(TraceOp::RmsNorm, n, w_port, 0, 0);
    const int iters = vec_iters(n, kDesign);

    float acc[kPartialSums];
#pragma HLS ARRAY_PARTITION variable=acc complete
    for (int s = 0; s < kPartialSums; ++s) {
#pragma HLS UNROLL
        acc[s] = 0.0f;
    }
    LHK_TRACE_LOOP(LoopId::RmsSumSq, iters, kNoPort, 0);
    int s = 0;
rms_sumsq:
    for (int i = 0; i < iters; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxVecBeats
#pragma HLS DEPENDENCE variable=acc inter distance=kPartialSums true
        float sq[kLanes];
#pragma HLS ARRAY_PARTITION variable=sq complete
        for (int l = 0; l < kLanes; ++l) {
#pragma HLS UNROLL
            const int j = i * kLanes + l;
            const float v = j < n ? x[j] : 0.0f;
            sq[l] = v * v;
        }
        acc[s] = acc[s] + tree_sum<kLanes>(sq);
        s = next_mod(s, kPartialSums);
    }
    float ss = tree_sum<kPartialSums>(acc);
    ss /= n;
    ss += 1e-5f;
    ss = 1.0f / math::sqrt(ss);

    LHK_TRACE_LOOP(LoopId::RmsScale, iters, w_port, int64_t(iters) * kBeatBytes);
    read_beats<kMaxVecBeats>(w, iters, n, RmsScaleElement{out, x, ss});
}

}  // namespace lhk
