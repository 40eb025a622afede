#pragma once
// What the kernels need from the vendor: the math functions (hls_math.h under Vitis, the
// C library in C simulation) and the beat type carried by every 128-bit m_axi port. Vitis
// headers are only included when synthesizing; g++ builds the kernels with these small
// stand-ins.
#include <cstdint>

#include "kernels/hls_config.hpp"

#ifdef __SYNTHESIS__
#include <hls_math.h>
#else
#include <cmath>
#endif

namespace lhk {

// One AXI beat: kFloatsPerBeat consecutive floats. Vitis aggregates a struct of a float
// array into one kPortBits-wide word on an m_axi interface (the default for structs on
// interfaces), so the host sees plain float arrays padded to whole beats.
struct alignas(kBeatBytes) Beat {
    float v[kFloatsPerBeat];
};
static_assert(sizeof(Beat) == kBeatBytes, "a beat is exactly one port word");

// The model's shape, passed by value over s_axilite. All runtime loop bounds derive from
// it; every one is bounded by the maxima in hls_config.hpp (the host checks the fit).
struct ModelDims {
    int32_t dim;
    int32_t hidden_dim;
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t vocab_size;
    int32_t seq_len;
    int32_t shared_classifier;  // 1: the classifier is the embedding table
};

namespace math {
#ifdef __SYNTHESIS__
inline float exp(float x) { return hls::expf(x); }
inline float sqrt(float x) { return hls::sqrtf(x); }
inline float pow(float x, float y) { return hls::powf(x, y); }
inline float cos(float x) { return hls::cosf(x); }
inline float sin(float x) { return hls::sinf(x); }
#else
// The same single-precision functions llama2.c calls, so C simulation follows cpu-ref.
inline float exp(float x) { return ::expf(x); }
inline float sqrt(float x) { return ::sqrtf(x); }
inline float pow(float x, float y) { return ::powf(x, y); }
inline float cos(float x) { return ::cosf(x); }
inline float sin(float x) { return ::sinf(x); }
#endif
}  // namespace math

}  // namespace lhk
