#pragma once
// What the kernels need from the vendor: the math functions (hls_math.h under Vitis, the
// C library in C simulation) and the beat type carried by every 128-bit m_axi port. Vitis
// headers are only included when synthesizing; g++ builds the kernels with these small
// stand-ins.
#include <cstdint>

#include "kernels/hls_config.hpp"

#ifdef __SYNTHESIS__
#include <ap_int.h>
#include <hls_math.h>
#include <hls_stream.h>
#else
#include <cmath>

#include "kernels/vendor/hls_stream_csim.hpp"  // the stand-in for hls_stream.h
#endif

namespace lhk {

// One AXI beat: kFloatsPerBeat consecutive floats. Vitis aggregates a struct of a float
// array into one kPortBits-wide word on an m_axi interface (the default for structs on
// interfaces), so the host sees plain float arrays padded to whole beats.
struct alignas(kBeatBytes) Beat {
    float v[kFloatsPerBeat];
};
static_assert(sizeof(Beat) == kBeatBytes, "a beat is exactly one port word");

// A FIFO between two processes of a DATAFLOW region (depth set by a STREAM pragma).
#ifdef __SYNTHESIS__
template <class T>
using Stream = hls::stream<T>;
#else
template <class T>
using Stream = csim::Fifo<T>;
#endif

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
    int32_t group_size;         // 0: fp32 weights; > 0: int8 (Q8_0) weights in groups of this size
    int32_t kv_bits;            // the KV cache: 32 fp32 rows, 8 int8 rows with a scale a KV head
                                // and position (0 is taken as 32: dims written before the field)
    // 4: 4-bit weights (GGUF Q4_0 / Q4_K, Q6_K as bytes; llama_layout.hpp, matmul_q4.hpp), group_size 0;
    // 32 or 8 (or 0, as group_size says): the fp32 / int8 paths above.
    int32_t weight_bits;
    // 4-bit models: each matrix kind's format (lhk::Q4Format), 2 bits a kind: bits 2m, 2m+1 for
    // layer matrix m (kWq..kW3), bits 14, 15 for the classifier (q4_format_of).
    int32_t q4_formats;
};

// A float's bits and back. Vitis supports unions; so does GCC, for type punning. The int8
// weights travel in the float lanes of a beat, and these are how the kernels see them.
union FloatBits {
    float f;
    uint32_t u;
};
inline uint32_t bits_of(float f) {
    FloatBits b;
    b.f = f;
    return b.u;
}
inline float float_of(uint32_t u) {
    FloatBits b;
    b.u = u;
    return b.f;
}
inline float minus_infinity() { return float_of(0xff800000u); }
// Not NaN or +-Inf: the exponent is not all ones.
inline bool is_finite(float f) { return (bits_of(f) & 0x7f800000u) != 0x7f800000u; }
// Byte k (0..3, little-endian) of a word as a signed int8 value: the cast to int8_t is the
// two's-complement wrap (in g++ and Vitis; C++20 defines it so), which g++ compiles to one
// sign extension where a compare and select cost C simulation several instructions a byte.
inline int int8_at(uint32_t u, int k) { return int(int8_t(uint8_t(u >> (8 * k)))); }

namespace math {
#ifdef __SYNTHESIS__
inline float exp(float x) { return hls::expf(x); }
inline float sqrt(float x) { return hls::sqrtf(x); }
inline float pow(float x, float y) { return hls::powf(x, y); }
inline float cos(float x) { return hls::cosf(x); }
inline float sin(float x) { return hls::sinf(x); }
inline float round(float x) { return hls::roundf(x); }
#else
// The same single-precision functions llama2.c calls, so C simulation follows cpu-ref.
inline float exp(float x) { return ::expf(x); }
inline float sqrt(float x) { return ::sqrtf(x); }
inline float pow(float x, float y) { return ::powf(x, y); }
inline float cos(float x) { return ::cosf(x); }
inline float sin(float x) { return ::sinf(x); }
// Half away from zero, as C's round() that runq.c uses to quantize activations.
inline float round(float x) { return ::roundf(x); }
#endif
}  // namespace math

}  // namespace lhk
