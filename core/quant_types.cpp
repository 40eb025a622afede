// Scalar reference for ggml's weight types. Written from the layouts and the arithmetic of
// ggml's reference code (ggml-quants.c, ggml-cpu-quants.c without SIMD, at llama.cpp
// c392e509) as docs/gguf.md describes them; the float operations are the same ones in the
// same order, which is what makes the quantizers byte-identical to llama-quantize.
#include "core/quant_types.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace lhb {

namespace {

struct TypeRow {
    uint32_t id;
    const char* name;
    uint32_t block_elems;  // 0: layout unknown to us (the id is only named)
    uint32_t block_bytes;
};

// Every id ggml has assigned (ids 4, 5 and 31-33, 36-38 were removed types: named only).
constexpr TypeRow kTypes[] = {
    {0, "F32", 1, 4},        {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},
    {3, "Q4_1", 32, 20},     {4, "Q4_2", 0, 0},        {5, "Q4_3", 0, 0},
    {6, "Q5_0", 32, 22},     {7, "Q5_1", 32, 24},      {8, "Q8_0", 32, 34},
    {9, "Q8_1", 32, 36},     {10, "Q2_K", 256, 84},    {11, "Q3_K", 256, 110},
    {12, "Q4_K", 256, 144},  {13, "Q5_K", 256, 176},   {14, "Q6_K", 256, 210},
    {15, "Q8_K", 256, 292},  {16, "IQ2_XXS", 0, 0},    {17, "IQ2_XS", 0, 0},
    {18, "IQ3_XXS", 0, 0},   {19, "IQ1_S", 0, 0},      {20, "IQ4_NL", 0, 0},
    {21, "IQ3_S", 0, 0},     {22, "IQ2_S", 0, 0},      {23, "IQ4_XS", 0, 0},
    {24, "I8", 1, 1},        {25, "I16", 1, 2},        {26, "I32", 1, 4},
    {27, "I64", 1, 8},       {28, "F64", 1, 8},        {29, "IQ1_M", 0, 0},
    {30, "BF16", 1, 2},      {31, "Q4_0_4_4", 0, 0},   {32, "Q4_0_4_8", 0, 0},
    {33, "Q4_0_8_8", 0, 0},  {34, "TQ1_0", 0, 0},      {35, "TQ2_0", 0, 0},
    {36, "IQ4_NL_4_4", 0, 0}, {37, "IQ4_NL_4_8", 0, 0}, {38, "IQ4_NL_8_8", 0, 0},
};

const TypeRow* type_row(uint32_t id) {
    for (const TypeRow& r : kTypes)
        if (r.id == id) return &r;
    return nullptr;
}

static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_K) == 144 &&
                  sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292,
              "block structs must have ggml's sizes (they are memcpy'd from file bytes)");

template <class Block>
Block load_block(const unsigned char* p) {
    Block b;
    std::memcpy(&b, p, sizeof b);
    return b;
}

uint16_t load_u16(const unsigned char* p) {
    return uint16_t(p[0] | (uint16_t(p[1]) << 8));
}

// float -> int as C's implicit conversion does for in-range values; a NaN or an
// out-of-range value (only non-finite input produces one) becomes 0 instead of undefined
// behaviour.
int to_int(float v) {
    if (!(v > -2147483648.0f && v < 2147483648.0f)) return 0;
    return int(v);
}

// ggml's nearest_int: the float-magic trick rounds to nearest, ties to even, for |v| <
// 2^22; nearbyint in the default rounding mode (never changed here) is the same.
int nearest_int(float v) { return to_int(std::nearbyint(v)); }

// ggml's GROUP_MAX_EPS: a group whose largest |x| is below it quantizes to zeros.
constexpr float kGroupMaxEps = 1e-15f;

void require_blocks(GgmlType t, size_t n, const char* what) {
    const auto layout = block_layout(uint32_t(t));
    if (!layout || n % layout->block_elems != 0)
        throw std::invalid_argument(std::string(what) + ": " + std::to_string(n) +
                                    " elements is not a whole number of " +
                                    ggml_type_name(uint32_t(t)) + " blocks");
}

}  // namespace

const char* ggml_type_name(uint32_t type) {
    if (const TypeRow* r = type_row(type)) return r->name;
    return "an unknown type";
}

std::optional<BlockLayout> block_layout(uint32_t type) {
    const TypeRow* r = type_row(type);
    if (!r || r->block_elems == 0) return std::nullopt;
    return BlockLayout{r->block_elems, r->block_bytes};
}

bool weight_type_supported(GgmlType t) {
    switch (t) {
        case GgmlType::F32:
        case GgmlType::F16:
        case GgmlType::Q8_0:
        case GgmlType::Q4_0:
        case GgmlType::Q4_K:
        case GgmlType::Q6_K:
            return true;
        default:
            return false;
    }
}

const char* supported_weight_types() { return "F32, F16, Q8_0, Q4_0, Q4_K, Q6_K"; }

float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    const uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        // Zero or subnormal: mant * 2^-24, exact in binary32.
        const float mag = float(mant) * 0x1p-24f;
        std::memcpy(&bits, &mag, 4);
        bits |= sign;
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);  // infinity or NaN (payload kept)
    } else {
        bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t fp32_to_fp16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    const uint16_t sign = uint16_t((bits >> 16) & 0x8000);
    const uint32_t mag = bits & 0x7fffffffu;
    if (mag > 0x7f800000u) return uint16_t(sign | 0x7e00 | ((mag >> 13) & 0x3ff));  // quiet NaN
    if (mag >= 0x477ff000u) return uint16_t(sign | 0x7c00);  // >= 65520 rounds to infinity
    if (mag < 0x38800000u) {
        // Below 2^-14: a half subnormal, in units of 2^-24. Scaling by 2^24 is exact; the
        // conversion to an integer rounds to nearest even (1024 becomes the smallest normal).
        float abs_f;
        std::memcpy(&abs_f, &mag, 4);
        return uint16_t(sign | uint16_t(std::nearbyint(abs_f * 0x1p24f)));
    }
    // Normal: rebias the exponent, keep 10 mantissa bits, round the 13 dropped bits to
    // nearest even (a carry out of the mantissa correctly bumps the exponent).
    uint32_t h = ((mag >> 23) - 112) << 10 | ((mag >> 13) & 0x3ff);
    const uint32_t dropped = mag & 0x1fff;
    if (dropped > 0x1000 || (dropped == 0x1000 && (h & 1))) ++h;
    return uint16_t(sign | h);
}

void q4_k_scale_min(const uint8_t scales[12], int j, uint8_t* scale, uint8_t* min) {
    // Bytes 0-3: scales 0-3 in the low 6 bits; bytes 4-7: mins 0-3 likewise; bytes 8-11:
    // the low 4 bits of scales 4-7 (low nibble) and mins 4-7 (high nibble), whose top 2
    // bits are the top 2 bits of bytes 0-3 (scales) and 4-7 (mins).
    if (j < 4) {
        *scale = scales[j] & 63;
        *min = scales[j + 4] & 63;
    } else {
        *scale = uint8_t((scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4));
        *min = uint8_t((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

size_t row_bytes(GgmlType t, size_t n) {
    require_blocks(t, n, "row_bytes");
    const BlockLayout l = *block_layout(uint32_t(t));
    return n / l.block_elems * l.block_bytes;
}

// ---- dequantize ----------------------------------------------------------------------

namespace {

void dequantize_q8_0(const unsigned char* src, float* y, size_t n) {
    for (size_t b = 0; b < n / kQK8_0; ++b) {
        const auto blk = load_block<BlockQ8_0>(src + b * sizeof(BlockQ8_0));
        const float d = fp16_to_fp32(blk.d);
        for (int j = 0; j < kQK8_0; ++j) y[b * kQK8_0 + j] = float(blk.qs[j]) * d;
    }
}

void dequantize_q4_0(const unsigned char* src, float* y, size_t n) {
    for (size_t b = 0; b < n / kQK8_0; ++b) {
        const auto blk = load_block<BlockQ4_0>(src + b * sizeof(BlockQ4_0));
        const float d = fp16_to_fp32(blk.d);
        for (int j = 0; j < kQK8_0 / 2; ++j) {
            const int lo = (blk.qs[j] & 0x0f) - 8;
            const int hi = (blk.qs[j] >> 4) - 8;
            y[b * kQK8_0 + j] = float(lo) * d;
            y[b * kQK8_0 + j + kQK8_0 / 2] = float(hi) * d;
        }
    }
}

void dequantize_q4_k(const unsigned char* src, float* y, size_t n) {
    for (size_t b = 0; b < n / kQK_K; ++b) {
        const auto blk = load_block<BlockQ4_K>(src + b * sizeof(BlockQ4_K));
        const float d = fp16_to_fp32(blk.d);
        const float dmin = fp16_to_fp32(blk.dmin);
        const uint8_t* q = blk.qs;
        // Per 64 elements: sub-block 2k from the low nibbles of 32 bytes, 2k+1 from the
        // high nibbles of the same bytes. value = (d * scale) * q - (dmin * min).
        for (int k = 0; k < kQK_K / 64; ++k) {
            uint8_t sc, m;
            q4_k_scale_min(blk.scales, 2 * k, &sc, &m);
            const float d1 = d * float(sc), m1 = dmin * float(m);
            q4_k_scale_min(blk.scales, 2 * k + 1, &sc, &m);
            const float d2 = d * float(sc), m2 = dmin * float(m);
            for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0x0f) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
            q += 32;
        }
    }
}

// Q6_K's 6-bit value, signed: 4 bits from ql (low or high nibble), 2 from qh, minus 32.
int q6_k_value(uint8_t ql_nibble, uint8_t qh_byte, int shift) {
    return int(ql_nibble | (((qh_byte >> shift) & 3) << 4)) - 32;
}

// The 256 signed values of one Q6_K block in element order. Per 128 elements (half h):
// element l (0..31) takes ql[l] low nibble and qh[l] bits 0-1; l+32: ql[l+32] low, bits
// 2-3; l+64: ql[l] high, bits 4-5; l+96: ql[l+32] high, bits 6-7.
void q6_k_values(const BlockQ6_K& blk, int8_t out[kQK_K]) {
    for (int h = 0; h < 2; ++h) {
        const uint8_t* ql = blk.ql + 64 * h;
        const uint8_t* qh = blk.qh + 32 * h;
        int8_t* a = out + 128 * h;
        for (int l = 0; l < 32; ++l) {
            a[l + 0] = int8_t(q6_k_value(ql[l] & 0x0f, qh[l], 0));
            a[l + 32] = int8_t(q6_k_value(ql[l + 32] & 0x0f, qh[l], 2));
            a[l + 64] = int8_t(q6_k_value(ql[l] >> 4, qh[l], 4));
            a[l + 96] = int8_t(q6_k_value(ql[l + 32] >> 4, qh[l], 6));
        }
    }
}

void dequantize_q6_k(const unsigned char* src, float* y, size_t n) {
    int8_t q[kQK_K];
    for (size_t b = 0; b < n / kQK_K; ++b) {
        const auto blk = load_block<BlockQ6_K>(src + b * sizeof(BlockQ6_K));
        const float d = fp16_to_fp32(blk.d);
        q6_k_values(blk, q);
        // Sub-block s (16 elements) has scale scales[s]; value = (d * scale) * q.
        for (int j = 0; j < kQK_K; ++j)
            y[b * kQK_K + j] = d * float(blk.scales[j / 16]) * float(q[j]);
    }
}

}  // namespace

void dequantize_row(GgmlType t, const unsigned char* src, float* dst, size_t n) {
    require_blocks(t, n, "dequantize_row");
    switch (t) {
        case GgmlType::F32:
            std::memcpy(dst, src, n * 4);
            return;
        case GgmlType::F16:
            for (size_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(load_u16(src + 2 * i));
            return;
        case GgmlType::Q8_0: return dequantize_q8_0(src, dst, n);
        case GgmlType::Q4_0: return dequantize_q4_0(src, dst, n);
        case GgmlType::Q4_K: return dequantize_q4_k(src, dst, n);
        case GgmlType::Q6_K: return dequantize_q6_k(src, dst, n);
        default:
            throw std::invalid_argument(std::string("dequantize_row: type ") +
                                        ggml_type_name(uint32_t(t)) + " is not supported");
    }
}

// ---- quantize ------------------------------------------------------------------------

void quantize_row_q8_0(const float* x, unsigned char* dst, size_t n) {
    require_blocks(GgmlType::Q8_0, n, "quantize_row_q8_0");
    for (size_t b = 0; b < n / kQK8_0; ++b) {
        const float* xb = x + b * kQK8_0;
        float amax = 0.0f;
        for (int j = 0; j < kQK8_0; ++j) amax = std::fabs(xb[j]) > amax ? std::fabs(xb[j]) : amax;
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        BlockQ8_0 blk;
        blk.d = fp32_to_fp16(d);
        for (int j = 0; j < kQK8_0; ++j) blk.qs[j] = int8_t(to_int(std::round(xb[j] * id)));
        std::memcpy(dst + b * sizeof blk, &blk, sizeof blk);
    }
}

void quantize_row_q4_0(const float* x, unsigned char* dst, size_t n) {
    require_blocks(GgmlType::Q4_0, n, "quantize_row_q4_0");
    for (size_t b = 0; b < n / kQK8_0; ++b) {
        const float* xb = x + b * kQK8_0;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < kQK8_0; ++j) {
            if (amax < std::fabs(xb[j])) {
                amax = std::fabs(xb[j]);
                max = xb[j];
            }
        }
        // The signed extreme maps to -8, the one level the symmetric range [-7, 7] lacks.
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        BlockQ4_0 blk;
        blk.d = fp32_to_fp16(d);
        for (int j = 0; j < kQK8_0 / 2; ++j) {
            // (int8)(v + 8.5f) truncates: round half up of v + 8, then 15 at most.
            const int lo = std::min(15, int(int8_t(to_int(xb[j] * id + 8.5f))));
            const int hi = std::min(15, int(int8_t(to_int(xb[j + kQK8_0 / 2] * id + 8.5f))));
            blk.qs[j] = uint8_t(uint8_t(lo) | uint8_t(hi << 4));
        }
        std::memcpy(dst + b * sizeof blk, &blk, sizeof blk);
    }
}

void quantize_row_q8_K(const float* x, BlockQ8_K* dst, size_t n) {
    require_blocks(GgmlType::Q8_K, n, "quantize_row_q8_K");
    for (size_t b = 0; b < n / kQK_K; ++b) {
        const float* xb = x + b * kQK_K;
        BlockQ8_K& y = dst[b];
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < kQK_K; ++j) {
            if (std::fabs(xb[j]) > amax) {
                amax = std::fabs(xb[j]);
                max = xb[j];
            }
        }
        if (amax == 0.0f) {
            std::memset(&y, 0, sizeof y);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < kQK_K; ++j) y.qs[j] = int8_t(std::min(127, nearest_int(iscale * xb[j])));
        for (int s = 0; s < kQK_K / 16; ++s) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) sum += y.qs[16 * s + j];
            y.bsums[s] = int16_t(sum);
        }
        y.d = 1.0f / iscale;
    }
}

// ---- K-quant weights ---------------------------------------------------------------------
// ggml's quantize_row_q4_K_ref and quantize_row_q6_K_ref (what llama-quantize writes without
// an importance matrix). Both first search each sub-block for its best scale (make_qkx2_quants,
// make_qx_quants: a few candidate scales, the one of least weighted squared error kept), then
// round the sub-block scales to 6 or 8 bits against one fp16 super-block scale and quantize
// the values again with the rounded scales. Every float operation below is ggml's, in ggml's
// order and association (a*b*c is (a*b)*c, sums left to right), and ints meet floats where
// ggml converts them: a reordered sum would pick another candidate now and then.

namespace {

// make_qkx2_quants for Q4_K: n values x with weights w -> levels L in [0, nmax] and
// x ~ scale * L - the_min (the_min >= 0). Candidates: the min-max scale, then nstep + 1
// scales (rmin + rdelta * is + nmax) / (max - min), each with the least-squares scale and
// offset for its levels (offset clamped to <= 0); the smallest weighted squared error wins,
// the first one on ties.
float best_scale_and_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* the_min, float rmin,
                         float rdelta, int nstep) {
    float min = x[0], max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        std::fill(L, L + n, uint8_t(0));
        *the_min = -min;
        return 0.0f;
    }
    float iscale = float(nmax) / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        L[i] = uint8_t(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
        const float diff = scale * float(L[i]) + min - x[i];
        best_error += w[i] * (diff * diff);
    }
    uint8_t trial[kQK_K];
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * float(is) + float(nmax)) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
            trial[i] = uint8_t(l);
            const float fl = float(l);
            sum_l += w[i] * fl;
            sum_l2 += w[i] * fl * fl;
            sum_xl += w[i] * fl * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float error = 0;
        for (int i = 0; i < n; ++i) {
            const float diff = this_scale * float(trial[i]) + this_min - x[i];
            error += w[i] * (diff * diff);
        }
        if (error < best_error) {
            std::copy(trial, trial + n, L);
            best_error = error;
            scale = this_scale;
            min = this_min;
        }
    }
    *the_min = -min;
    return scale;
}

// make_qx_quants with rmse_type 1 (weights x^2) for Q6_K: n values -> levels L in
// [0, 2 nmax) standing for L - nmax, and the scale. Candidates: -(nmax + 0.1 is) / max for
// is = 0 (first), -9..-1, 1..9, where max is the value of largest |x|; a candidate replaces
// the best when its weighted sumlx^2 / suml2 is strictly larger.
float best_symmetric_scale(int n, int nmax, const float* x, int8_t* L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        std::fill(L, L + n, int8_t(0));
        return 0.0f;
    }
    auto level = [nmax](float v) { return std::clamp(nearest_int(v), -nmax, nmax - 1); };
    float iscale = float(-nmax) / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = level(iscale * x[i]);
        L[i] = int8_t(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * float(l);
        suml2 += w * float(l) * float(l);
    }
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(float(nmax) + 0.1f * float(is)) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = level(iscale * x[i]);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * float(l);
            suml2 += w * float(l) * float(l);
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) L[i] = int8_t(level(iscale * x[i]) + nmax);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

void quantize_block_q4_k(const float* x, BlockQ4_K& y) {
    uint8_t L[kQK_K];
    float weights[32], mins[8], scales[8];
    float max_scale = 0, max_min = 0;  // the mins are subtracted, so scales are >= 0
    for (int j = 0; j < 8; ++j) {
        const float* xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
        const float av_x = std::sqrt(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
        scales[j] = best_scale_and_min(32, 15, xs, weights, L + 32 * j, &mins[j], -1.0f, 0.1f, 20);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    std::memset(y.scales, 0, sizeof y.scales);
    for (int j = 0; j < 8; ++j) {
        // ggml stores nearest_int into a uint8_t before taking min(63, .).
        const uint8_t ls = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
        const uint8_t lm = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
        if (j < 4) {  // the packing q4_k_scale_min reads
            y.scales[j] = ls;
            y.scales[j + 4] = lm;
        } else {
            y.scales[j + 4] = uint8_t((ls & 0x0f) | ((lm & 0x0f) << 4));
            y.scales[j - 4] |= uint8_t((ls >> 4) << 6);
            y.scales[j] |= uint8_t((lm >> 4) << 6);
        }
    }
    y.d = fp32_to_fp16(max_scale / 63.0f);
    y.dmin = fp32_to_fp16(max_min / 63.0f);
    // The values again, against the scales as stored; a sub-block whose scale rounded to 0
    // keeps the levels of the search.
    for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        q4_k_scale_min(y.scales, j, &sc, &m);
        const float d = fp16_to_fp32(y.d) * float(sc);
        if (d == 0) continue;
        const float dm = fp16_to_fp32(y.dmin) * float(m);
        for (int i = 0; i < 32; ++i) L[32 * j + i] = uint8_t(std::clamp(nearest_int((x[32 * j + i] + dm) / d), 0, 15));
    }
    for (int k = 0; k < kQK_K / 64; ++k)
        for (int l = 0; l < 32; ++l) y.qs[32 * k + l] = uint8_t(L[64 * k + l] | (L[64 * k + l + 32] << 4));
}

void quantize_block_q6_k(const float* x, BlockQ6_K& y) {
    int8_t L[kQK_K];
    float scales[kQK_K / 16];
    float max_scale = 0, max_abs_scale = 0;
    for (int s = 0; s < kQK_K / 16; ++s) {
        scales[s] = best_symmetric_scale(16, 32, x + 16 * s, L + 16 * s);
        if (std::fabs(scales[s]) > max_abs_scale) {
            max_abs_scale = std::fabs(scales[s]);
            max_scale = scales[s];
        }
    }
    std::memset(&y, 0, sizeof y);
    if (max_abs_scale < kGroupMaxEps) return;  // all zero, d = +0
    const float iscale = -128.0f / max_scale;
    y.d = fp32_to_fp16(1 / iscale);
    for (int s = 0; s < kQK_K / 16; ++s) y.scales[s] = int8_t(std::min(127, nearest_int(iscale * scales[s])));
    for (int s = 0; s < kQK_K / 16; ++s) {
        const float d = fp16_to_fp32(y.d) * float(y.scales[s]);
        if (d == 0) continue;
        for (int i = 0; i < 16; ++i) L[16 * s + i] = int8_t(std::clamp(nearest_int(x[16 * s + i] / d), -32, 31) + 32);
    }
    // The inverse of q6_k_values: per 128 elements, ql holds the low nibbles (l and l+64 in
    // ql[l], l+32 and l+96 in ql[l+32]), qh the top 2 bits of l, l+32, l+64, l+96.
    for (int h = 0; h < 2; ++h) {
        const int8_t* a = L + 128 * h;
        uint8_t* ql = y.ql + 64 * h;
        uint8_t* qh = y.qh + 32 * h;
        for (int l = 0; l < 32; ++l) {
            ql[l] = uint8_t((a[l] & 0x0f) | ((a[l + 64] & 0x0f) << 4));
            ql[l + 32] = uint8_t((a[l + 32] & 0x0f) | ((a[l + 96] & 0x0f) << 4));
            qh[l] = uint8_t((a[l] >> 4) | ((a[l + 32] >> 4) << 2) | ((a[l + 64] >> 4) << 4) | ((a[l + 96] >> 4) << 6));
        }
    }
}

template <class Block, void (*quantize_block)(const float*, Block&)>
void quantize_super_blocks(GgmlType t, const char* what, const float* x, unsigned char* dst, size_t n) {
    require_blocks(t, n, what);
    for (size_t b = 0; b < n / kQK_K; ++b) {
        Block blk;
        quantize_block(x + b * kQK_K, blk);
        std::memcpy(dst + b * sizeof blk, &blk, sizeof blk);
    }
}

}  // namespace

void quantize_row_q4_k(const float* x, unsigned char* dst, size_t n) {
    quantize_super_blocks<BlockQ4_K, quantize_block_q4_k>(GgmlType::Q4_K, "quantize_row_q4_k", x, dst, n);
}

void quantize_row(GgmlType t, const float* x, unsigned char* dst, size_t n) {
    switch (t) {
        case GgmlType::F32: std::memcpy(dst, x, n * 4); break;
        case GgmlType::F16:
            for (size_t j = 0; j < n; ++j) {
                const uint16_t h = fp32_to_fp16(x[j]);
                std::memcpy(dst + 2 * j, &h, 2);
            }
            break;
        case GgmlType::Q8_0: quantize_row_q8_0(x, dst, n); break;
        case GgmlType::Q4_0: quantize_row_q4_0(x, dst, n); break;
        case GgmlType::Q4_K: quantize_row_q4_k(x, dst, n); break;
        case GgmlType::Q6_K: quantize_row_q6_k(x, dst, n); break;
        default: throw std::invalid_argument(std::string("quantize_row: no encoder for ") + ggml_type_name(uint32_t(t)));
    }
}

void quantize_row_q6_k(const float* x, unsigned char* dst, size_t n) {
    quantize_super_blocks<BlockQ6_K, quantize_block_q6_k>(GgmlType::Q6_K, "quantize_row_q6_k", x, dst, n);
}

// ---- dot products --------------------------------------------------------------------

VecDotType vec_dot_type(GgmlType weight_type) {
    switch (weight_type) {
        case GgmlType::F32: return VecDotType::F32;
        // ggml's portable path would round the activations to fp16 (vec_dot_type F16), but
        // llama.cpp's default x86 build hands F16 x F32 products to llamafile's sgemm, which
        // widens the weights and keeps the activations in fp32; the logits of
        // synth256-f16.gguf agree with that 10x better (docs/gguf.md), so that is what we do.
        case GgmlType::F16: return VecDotType::F32;
        case GgmlType::Q8_0:
        case GgmlType::Q4_0: return VecDotType::Q8_0;
        case GgmlType::Q4_K:
        case GgmlType::Q6_K: return VecDotType::Q8_K;
        default:
            throw std::invalid_argument(std::string("vec_dot_type: type ") +
                                        ggml_type_name(uint32_t(weight_type)) + " is not supported");
    }
}

QuantizedActivations quantize_activations(GgmlType weight_type, const float* x, size_t n) {
    require_blocks(weight_type, n, "quantize_activations");
    QuantizedActivations a;
    a.type = vec_dot_type(weight_type);
    a.n = n;
    switch (a.type) {
        case VecDotType::F32:
            a.f32.assign(x, x + n);
            break;
        case VecDotType::Q8_0:
            a.q8_0.resize(n / kQK8_0 * sizeof(BlockQ8_0));
            quantize_row_q8_0(x, a.q8_0.data(), n);
            break;
        case VecDotType::Q8_K:
            a.q8_k.resize(n / kQK_K);
            quantize_row_q8_K(x, a.q8_k.data(), n);
            break;
    }
    return a;
}

namespace {

// ggml_vec_dot_f32 without SIMD: each product in float, summed in double in index order.
float dot_f32(const unsigned char* row, const float* x, size_t n) {
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) {
        float w;
        std::memcpy(&w, row + 4 * i, 4);
        sum += double(w * x[i]);
    }
    return float(sum);
}

// F16 weights x fp32 activations: the weight widened from fp16 (exact), the product in
// float, summed in double in index order (as dot_f32).
float dot_f16(const unsigned char* row, const float* x, size_t n) {
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += double(fp16_to_fp32(load_u16(row + 2 * i)) * x[i]);
    return float(sum);
}

// ggml_vec_dot_q8_0_q8_0: per block an exact int sum, then in block order
// sum += float(isum) * (d_w * d_x), all in float.
float dot_q8_0(const unsigned char* row, const unsigned char* xq, size_t n) {
    float sum = 0.0f;
    for (size_t b = 0; b < n / kQK8_0; ++b) {
        const auto w = load_block<BlockQ8_0>(row + b * sizeof(BlockQ8_0));
        const auto x = load_block<BlockQ8_0>(xq + b * sizeof(BlockQ8_0));
        int isum = 0;
        for (int j = 0; j < kQK8_0; ++j) isum += int(w.qs[j]) * int(x.qs[j]);
        sum += float(isum) * (fp16_to_fp32(w.d) * fp16_to_fp32(x.d));
    }
    return sum;
}

// ggml_vec_dot_q4_0_q8_0: per block an exact int sum (low nibbles with the first 16
// activations, high nibbles with the last 16), then in block order
// sum += (float(isum) * d_w) * d_x in float (note: not d_w * d_x first, unlike Q8_0).
float dot_q4_0(const unsigned char* row, const unsigned char* xq, size_t n) {
    float sum = 0.0f;
    for (size_t b = 0; b < n / kQK8_0; ++b) {
        const auto w = load_block<BlockQ4_0>(row + b * sizeof(BlockQ4_0));
        const auto x = load_block<BlockQ8_0>(xq + b * sizeof(BlockQ8_0));
        int isum_lo = 0, isum_hi = 0;
        for (int j = 0; j < kQK8_0 / 2; ++j) {
            isum_lo += ((w.qs[j] & 0x0f) - 8) * int(x.qs[j]);
            isum_hi += ((w.qs[j] >> 4) - 8) * int(x.qs[j + kQK8_0 / 2]);
        }
        sum += float(isum_lo + isum_hi) * fp16_to_fp32(w.d) * fp16_to_fp32(x.d);
    }
    return sum;
}

// ggml_vec_dot_q4_K_q8_K: integers per super-block, floats in 8 lanes.
//   lane[l] (l = 0..7) = sum over the 8 sub-blocks s of scale_s * sum over the 4 groups
//   g of 8 of q8[32s + 8g + l] * q4[32s + 8g + l]   (exact ints)
//   mins = sum over the 16 bsums of bsum[k] * min_{k/2}   (exact int)
// then per super-block, in block order: sums[l] += (d_w * d_x) * float(lane[l]) and
// total -= (dmin_w * d_x) * float(mins); after the last block total += sums[0] + ... + sums[7]
// added one lane at a time.
float dot_q4_k(const unsigned char* row, const BlockQ8_K* x, size_t n) {
    float sums[8] = {};
    float total = 0.0f;
    for (size_t b = 0; b < n / kQK_K; ++b) {
        const auto w = load_block<BlockQ4_K>(row + b * sizeof(BlockQ4_K));
        const BlockQ8_K& a = x[b];
        int8_t q4[kQK_K];
        for (int k = 0; k < kQK_K / 64; ++k)
            for (int l = 0; l < 32; ++l) {
                q4[64 * k + l] = int8_t(w.qs[32 * k + l] & 0x0f);
                q4[64 * k + 32 + l] = int8_t(w.qs[32 * k + l] >> 4);
            }
        uint8_t scale[8], min[8];
        for (int s = 0; s < 8; ++s) q4_k_scale_min(w.scales, s, &scale[s], &min[s]);
        int32_t mins = 0;
        for (int k = 0; k < kQK_K / 16; ++k) mins += int32_t(a.bsums[k]) * min[k / 2];
        int32_t lane[8] = {};
        for (int s = 0; s < 8; ++s)
            for (int g = 0; g < 4; ++g)
                for (int l = 0; l < 8; ++l) {
                    const int i = 32 * s + 8 * g + l;
                    lane[l] += int32_t(scale[s]) * int16_t(a.qs[i] * q4[i]);
                }
        const float d = fp16_to_fp32(w.d) * a.d;
        for (int l = 0; l < 8; ++l) sums[l] += d * float(lane[l]);
        const float dmin = fp16_to_fp32(w.dmin) * a.d;
        total -= dmin * float(mins);
    }
    for (int l = 0; l < 8; ++l) total += sums[l];
    return total;
}

// ggml_vec_dot_q6_K_q8_K: as Q4_K but 16 sub-blocks of 16 with signed int8 scales and no
// mins: lane[l] = sum over s of scale_s * sum over the 2 groups g of 8 of
// q8[16s + 8g + l] * q6[16s + 8g + l]; per block sums[l] += (d_w * d_x) * float(lane[l]);
// the result is sums[0] + ... + sums[7] added one lane at a time.
float dot_q6_k(const unsigned char* row, const BlockQ8_K* x, size_t n) {
    float sums[8] = {};
    for (size_t b = 0; b < n / kQK_K; ++b) {
        const auto w = load_block<BlockQ6_K>(row + b * sizeof(BlockQ6_K));
        const BlockQ8_K& a = x[b];
        int8_t q6[kQK_K];
        q6_k_values(w, q6);
        int32_t lane[8] = {};
        for (int s = 0; s < 16; ++s)
            for (int g = 0; g < 2; ++g)
                for (int l = 0; l < 8; ++l) {
                    const int i = 16 * s + 8 * g + l;
                    lane[l] += int32_t(w.scales[s]) * int16_t(a.qs[i] * q6[i]);
                }
        const float d = fp16_to_fp32(w.d) * a.d;
        for (int l = 0; l < 8; ++l) sums[l] += d * float(lane[l]);
    }
    float total = 0.0f;
    for (int l = 0; l < 8; ++l) total += sums[l];
    return total;
}

}  // namespace

float dot_row(GgmlType t, const unsigned char* row, const QuantizedActivations& x) {
    if (x.type != vec_dot_type(t))
        throw std::invalid_argument(std::string("dot_row: activations not quantized for ") +
                                    ggml_type_name(uint32_t(t)));
    switch (t) {
        case GgmlType::F32: return dot_f32(row, x.f32.data(), x.n);
        case GgmlType::F16: return dot_f16(row, x.f32.data(), x.n);
        case GgmlType::Q8_0: return dot_q8_0(row, x.q8_0.data(), x.n);
        case GgmlType::Q4_0: return dot_q4_0(row, x.q8_0.data(), x.n);
        case GgmlType::Q4_K: return dot_q4_k(row, x.q8_k.data(), x.n);
        case GgmlType::Q6_K: return dot_q6_k(row, x.q8_k.data(), x.n);
        default: break;
    }
    throw std::invalid_argument("dot_row: unsupported type");
}

void matvec(GgmlType t, const unsigned char* w, size_t rows, size_t n, const float* x, float* out) {
    const QuantizedActivations a = quantize_activations(t, x, n);
    const size_t stride = row_bytes(t, n);
    for (size_t r = 0; r < rows; ++r) out[r] = dot_row(t, w + r * stride, a);
}

}  // namespace lhb
