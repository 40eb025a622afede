#pragma once
// ggml's weight types as GGUF files store them: the type ids, the block layouts, and a
// readable scalar reference for the types we read (F32, F16, Q8_0, Q4_0, Q4_K, Q6_K):
// dequantize a row, the dot product of a weight row with activations in llama.cpp's
// arithmetic, and the F32 -> Q8_0 / Q4_0 / Q4_K / Q6_K quantizers whose blocks are
// byte-identical to llama-quantize's. docs/gguf.md writes the arithmetic down; every function here says in
// which order it sums.
//
// Blocks are read from and written to plain bytes (memcpy), never through a cast pointer:
// a GGUF tensor is only as aligned as its offset, and a block of 34 or 18 bytes is not.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace lhb {

// ggml_type ids as they appear in a GGUF tensor info (ggml.h). Only the ones with a known
// block layout are listed; other ids are named by ggml_type_name but cannot be read.
enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
};

// "Q4_K", "IQ2_XXS", ... for any id ggml has used; "type 99" for one it never had.
const char* ggml_type_name(uint32_t type);

// Elements per block and bytes per block. Present for every id in GgmlType (so a file's
// sizes can be checked even for a type we do not compute with), absent otherwise.
struct BlockLayout {
    uint32_t block_elems = 0;
    uint32_t block_bytes = 0;
};
std::optional<BlockLayout> block_layout(uint32_t type);

// The weight types the reference below reads (a tensor of another type is refused).
bool weight_type_supported(GgmlType t);
// "F32, F16, Q8_0, Q4_0, Q4_K, Q6_K", for messages.
const char* supported_weight_types();

// IEEE binary16 <-> binary32. To float is exact. To half rounds to nearest, ties to even,
// with overflow to infinity, gradual underflow and NaN kept NaN: what F16C's vcvtps2ph
// (imm 0) and ggml's software fallback do, so our F16 and block scales equal llama.cpp's.
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);

// ---- block layouts (ggml-common.h) -------------------------------------------------------
constexpr int kQK8_0 = 32;   // Q8_0 and Q4_0: blocks of 32
constexpr int kQK_K = 256;   // K-quants: super-blocks of 256

struct BlockQ8_0 {           // 34 bytes
    uint16_t d;              // fp16 scale
    int8_t qs[kQK8_0];       // value = d * qs[j]
};
struct BlockQ4_0 {           // 18 bytes
    uint16_t d;              // fp16 scale
    uint8_t qs[kQK8_0 / 2];  // low nibble of qs[j] is element j, high nibble element j+16
};
struct BlockQ4_K {           // 144 bytes: 8 sub-blocks of 32, each with a 6-bit scale and min
    uint16_t d;              // fp16 scale of the sub-block scales
    uint16_t dmin;           // fp16 scale of the sub-block mins
    uint8_t scales[12];      // 8 scales + 8 mins, 6 bits each (see q4_k_scale_min)
    uint8_t qs[kQK_K / 2];   // 4-bit values: per 64 elements, 32 low nibbles then 32 high
};
struct BlockQ6_K {           // 210 bytes: 16 sub-blocks of 16, each with an int8 scale
    uint8_t ql[kQK_K / 2];   // low 4 bits
    uint8_t qh[kQK_K / 4];   // high 2 bits
    int8_t scales[kQK_K / 16];
    uint16_t d;              // fp16 super-block scale
};
struct BlockQ8_K {           // activations for the K-quant dot products (never in a file)
    float d;                 // fp32 scale
    int8_t qs[kQK_K];
    int16_t bsums[kQK_K / 16];  // sums of qs per 16, used for the Q4_K mins
};

// Q4_K's packed 6-bit scale and min of sub-block j (0..7), as ggml's get_scale_min_k4.
void q4_k_scale_min(const uint8_t scales[12], int j, uint8_t* scale, uint8_t* min);

// Bytes one row of n elements takes. n must be a multiple of the block size.
size_t row_bytes(GgmlType t, size_t n);

// ---- dequantize ----------------------------------------------------------------------
// n elements of type t at src -> floats. n must be a multiple of t's block size. Each value
// is computed as ggml's dequantize_row_* computes it (the same float operations in the
// same order), so the floats are ggml's bit for bit.
void dequantize_row(GgmlType t, const unsigned char* src, float* dst, size_t n);

// ---- quantize (what llama-quantize writes, no importance matrix) ------------------------
// ggml's quantize_row_q8_0_ref: per 32, amax = max |x|, d = amax / 127, id = 1/d (0 if d
// is 0), q = roundf(x * id) (half away from zero), d stored as fp16 (rounded to even).
void quantize_row_q8_0(const float* x, unsigned char* dst, size_t n);
// ggml's quantize_row_q4_0_ref: per 32, max = the element of largest |x| (the first one on
// ties), d = max / -8, id = 1/d (0 if d is 0), q = min(15, (int8)(x * id + 8.5f)) (the
// cast truncates toward zero), two per byte (element j low, j+16 high), d as fp16.
void quantize_row_q4_0(const float* x, unsigned char* dst, size_t n);
// ggml's quantize_row_q4_K_ref: per 256, each sub-block of 32 gets a scale and a min from
// a weighted least-squares search (weights sqrt(mean x^2) + |x|, 21 candidate scales), the
// 8 scales and 8 mins rounded to 6 bits against fp16 d = max scale / 63 and dmin = max min /
// 63, then the values rounded to 4 bits with the stored scales. ggml's float operations in
// ggml's order: the blocks equal llama-quantize's (tests/test_kquant.cpp).
void quantize_row_q4_k(const float* x, unsigned char* dst, size_t n);
// ggml's quantize_row_q6_K_ref: per 256, each sub-block of 16 gets a symmetric scale from a
// search weighted by x^2 (19 candidates around -32 / the largest-magnitude value), the 16
// scales rounded to int8 against fp16 d = -(the largest-magnitude scale) / 128, then the
// values rounded to 6 bits (-32..31) with the stored scales.
void quantize_row_q6_k(const float* x, unsigned char* dst, size_t n);
// A row of n values in any weight type above (F32 copied, F16 rounded to even, the block
// types by their quantize_row_*): row_bytes(t, n) bytes at dst.
void quantize_row(GgmlType t, const float* x, unsigned char* dst, size_t n);
// ggml's quantize_row_q8_K_ref, for activations: per 256, max = the element of largest
// |x|, iscale = -127 / max, q = min(127, nearest_int(iscale * x)) (ties to even), d = 1 /
// iscale in fp32, bsums = sums of q per 16. An all-zero block is all zero.
void quantize_row_q8_K(const float* x, BlockQ8_K* dst, size_t n);

// ---- dot products in llama.cpp's arithmetic ----------------------------------------------
// llama.cpp never multiplies a quantized weight row with fp32 activations: it first
// converts the activations to the weight type's "vec_dot_type" (ggml-cpu.c type traits)
// and then takes an integer (or fp16) dot product. These are the portable scalar versions
// of those dot products (ggml-cpu-quants.c, the branch without SIMD); llama.cpp's AVX2 /
// NEON versions compute the same integer sums but add the per-block floats in another
// order, so their results differ from these in the last bits. One exception, F16: see
// vec_dot_type in quant_types.cpp.
// F32 and F16 weights take fp32 activations; Q8_0 and Q4_0 take Q8_0; Q4_K and Q6_K Q8_K.
enum class VecDotType { F32, Q8_0, Q8_K };
VecDotType vec_dot_type(GgmlType weight_type);

// Activations converted once per matrix-vector product, reused for every row.
struct QuantizedActivations {
    VecDotType type = VecDotType::F32;
    size_t n = 0;
    std::vector<float> f32;           // F32: the values as given
    std::vector<unsigned char> q8_0;  // Q8_0: quantize_row_q8_0 blocks
    std::vector<BlockQ8_K> q8_k;      // Q8_K: quantize_row_q8_K blocks
};
// n must be a multiple of the weight type's block size.
QuantizedActivations quantize_activations(GgmlType weight_type, const float* x, size_t n);

// One weight row (n elements of type t at `row`) times the activations, as llama.cpp's
// scalar ggml_vec_dot_<t>_<vec_dot_type> sums it (see quant_types.cpp for each order).
float dot_row(GgmlType t, const unsigned char* row, const QuantizedActivations& x);

// out[r] = dot_row(row r) for the `rows` rows of a [rows][n] matrix at w.
void matvec(GgmlType t, const unsigned char* w, size_t rows, size_t n, const float* x, float* out);

}  // namespace lhb
