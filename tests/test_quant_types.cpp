// ggml weight types: fp16 conversion, block decoding from hand-built blocks, the rounding
// rules of the Q8_0 / Q4_0 quantizers, and the dot products against a double-precision sum.
// (Byte identity with llama-quantize is in test_gguf.cpp, on llama.cpp's own files.)
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/quant_types.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

uint32_t bits_of(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

TEST(Fp16, EveryHalfRoundTripsExactly) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = fp16_to_fp32(uint16_t(h));
        if (std::isnan(f)) {
            EXPECT_EQ(fp32_to_fp16(f) & 0x7e00, 0x7e00) << h;  // stays a (quiet) NaN
            continue;
        }
        EXPECT_EQ(fp32_to_fp16(f), h) << h;
    }
    EXPECT_EQ(fp16_to_fp32(0x3c00), 1.0f);
    EXPECT_EQ(fp16_to_fp32(0x0001), 0x1p-24f);
    EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
    EXPECT_EQ(bits_of(fp16_to_fp32(0x8000)), 0x80000000u);
}

// The nearest half by brute force over all finite halves, ties to the even one.
uint16_t nearest_half(float f) {
    const double x = std::fabs(double(f));
    uint16_t best = 0;
    double best_err = INFINITY;
    for (uint16_t h = 0; h < 0x7c00; ++h) {
        const double err = std::fabs(double(fp16_to_fp32(h)) - x);
        if (err < best_err || (err == best_err && (h & 1) == 0)) {
            best = h;
            best_err = err;
        }
    }
    // Beyond 65504 + half an ulp (65520) the result is infinity.
    if (x >= 65520.0) best = 0x7c00;
    return uint16_t(best | (std::signbit(f) ? 0x8000 : 0));
}

TEST(Fp16, RoundsToNearestEven) {
    EXPECT_EQ(fp32_to_fp16(65519.99f), 0x7bff);
    EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);
    EXPECT_EQ(fp32_to_fp16(1e10f), 0x7c00);
    EXPECT_EQ(fp32_to_fp16(-INFINITY), 0xfc00);
    EXPECT_EQ(fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);        // tie, to even
    EXPECT_EQ(fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02);    // tie, to even (up)
    EXPECT_EQ(fp32_to_fp16(0x1p-25f), 0x0000);               // subnormal tie, to even (0)
    EXPECT_EQ(fp32_to_fp16(3 * 0x1p-25f), 0x0002);           // subnormal tie, to even (2)
    EXPECT_EQ(fp32_to_fp16(0x1p-14f - 0x1p-30f), 0x0400);    // rounds up into the normals
    EXPECT_EQ(fp32_to_fp16(1e-10f), 0x0000);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> mant(1.0f, 2.0f);
    std::uniform_int_distribution<int> expo(-27, 16);
    for (int i = 0; i < 300; ++i) {
        const float f = std::ldexp(mant(rng), expo(rng)) * (i % 2 ? -1.0f : 1.0f);
        EXPECT_EQ(fp32_to_fp16(f), nearest_half(f)) << f;
    }
}

TEST(QuantTypes, LayoutsAndNames) {
    EXPECT_EQ(block_layout(uint32_t(GgmlType::Q8_0))->block_bytes, 34u);
    EXPECT_EQ(block_layout(uint32_t(GgmlType::Q4_0))->block_bytes, 18u);
    EXPECT_EQ(block_layout(uint32_t(GgmlType::Q4_K))->block_elems, 256u);
    EXPECT_EQ(block_layout(uint32_t(GgmlType::Q6_K))->block_bytes, 210u);
    EXPECT_FALSE(block_layout(16).has_value());  // IQ2_XXS: named, not laid out
    EXPECT_FALSE(block_layout(1000).has_value());
    EXPECT_STREQ(ggml_type_name(16), "IQ2_XXS");
    EXPECT_STREQ(ggml_type_name(14), "Q6_K");
    EXPECT_EQ(row_bytes(GgmlType::Q4_K, 512), 288u);
    EXPECT_THROW(row_bytes(GgmlType::Q8_0, 33), std::invalid_argument);
    EXPECT_TRUE(weight_type_supported(GgmlType::Q4_0));
    EXPECT_FALSE(weight_type_supported(GgmlType::Q5_K));
}

std::vector<unsigned char> bytes_of_q8_0(uint16_t d, const int8_t (&qs)[32]) {
    std::vector<unsigned char> b(34);
    std::memcpy(b.data(), &d, 2);
    std::memcpy(b.data() + 2, qs, 32);
    return b;
}

TEST(QuantTypes, Q8_0RoundsHalfAwayFromZero) {
    float x[32] = {};
    x[0] = 127.0f;   // amax 127: d = 1, id = 1
    x[1] = -63.5f;   // -> -64 (away from zero; round-half-even would give -64 too)
    x[2] = 62.5f;    // -> 63 (half-even would give 62)
    x[3] = -0.5f;    // -> -1
    x[4] = 0.49f;    // -> 0
    unsigned char out[34];
    quantize_row_q8_0(x, out, 32);
    uint16_t d;
    std::memcpy(&d, out, 2);
    EXPECT_EQ(d, fp32_to_fp16(1.0f));
    EXPECT_EQ(int8_t(out[2]), 127);
    EXPECT_EQ(int8_t(out[3]), -64);
    EXPECT_EQ(int8_t(out[4]), 63);
    EXPECT_EQ(int8_t(out[5]), -1);
    EXPECT_EQ(int8_t(out[6]), 0);
    // All zero: d = 0, q = 0.
    const float zeros[32] = {};
    quantize_row_q8_0(zeros, out, 32);
    for (unsigned char c : out) EXPECT_EQ(c, 0);
}

TEST(QuantTypes, Q4_0MapsTheSignedExtremeToMinus8) {
    float x[32];
    for (int j = 0; j < 32; ++j) x[j] = float(j - 16);  // extreme -16 at j = 0: d = 2, id = 0.5
    unsigned char out[18];
    quantize_row_q4_0(x, out, 32);
    uint16_t d;
    std::memcpy(&d, out, 2);
    EXPECT_EQ(fp16_to_fp32(d), 2.0f);
    auto q = [&](int j) { return j < 16 ? out[2 + j] & 0x0f : out[2 + j - 16] >> 4; };
    EXPECT_EQ(q(0), 0);    // -16 * 0.5 + 8.5 = 0.5 -> 0, i.e. -8
    EXPECT_EQ(q(1), 1);    // -15 * 0.5 + 8.5 = 1.0 -> 1
    EXPECT_EQ(q(2), 1);    // -14 * 0.5 + 8.5 = 1.5 -> 1 (truncation: half rounds up only via +8.5)
    EXPECT_EQ(q(16), 8);   // 0
    EXPECT_EQ(q(31), 15);  // 15 * 0.5 + 8.5 = 16 -> clamped to 15
    std::vector<float> back(32);
    dequantize_row(GgmlType::Q4_0, out, back.data(), 32);
    EXPECT_EQ(back[0], -16.0f);
    EXPECT_EQ(back[31], 14.0f);
    // Positive extreme: d negative, so the largest value gets -8 * d.
    for (int j = 0; j < 32; ++j) x[j] = float(j);
    quantize_row_q4_0(x, out, 32);
    dequantize_row(GgmlType::Q4_0, out, back.data(), 32);
    EXPECT_EQ(back[31], 31.0f);
}

TEST(QuantTypes, Q8_0Dequantizes) {
    int8_t qs[32];
    for (int j = 0; j < 32; ++j) qs[j] = int8_t(j * 8 - 128);
    const auto b = bytes_of_q8_0(fp32_to_fp16(0.5f), qs);
    float y[32];
    dequantize_row(GgmlType::Q8_0, b.data(), y, 32);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.5f * float(qs[j]));
}

// Packs 8 six-bit scales and mins as docs/gguf.md describes Q4_K's 12 bytes.
void pack_q4_k_scales(const uint8_t sc[8], const uint8_t mn[8], uint8_t out[12]) {
    for (int j = 0; j < 4; ++j) {
        out[j] = uint8_t((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        out[j + 4] = uint8_t((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
        out[j + 8] = uint8_t((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
}

TEST(QuantTypes, Q4_KDequantizesSubBlocksWithScalesAndMins) {
    const uint8_t sc[8] = {1, 5, 63, 17, 33, 48, 2, 63};
    const uint8_t mn[8] = {0, 7, 62, 31, 16, 63, 9, 40};
    BlockQ4_K b{};
    b.d = fp32_to_fp16(0.25f);
    b.dmin = fp32_to_fp16(0.125f);
    pack_q4_k_scales(sc, mn, b.scales);
    for (int s = 0; s < 8; ++s) {
        uint8_t a, m;
        q4_k_scale_min(b.scales, s, &a, &m);
        EXPECT_EQ(a, sc[s]) << s;
        EXPECT_EQ(m, mn[s]) << s;
    }
    for (int i = 0; i < 128; ++i) b.qs[i] = uint8_t((i * 7) & 0xff);
    float y[256];
    dequantize_row(GgmlType::Q4_K, reinterpret_cast<const unsigned char*>(&b), y, 256);
    for (int e = 0; e < 256; ++e) {
        const int s = e / 32;                 // sub-block
        const int byte = (e / 64) * 32 + e % 32;
        const int q = (s % 2 == 0) ? (b.qs[byte] & 15) : (b.qs[byte] >> 4);
        EXPECT_EQ(y[e], 0.25f * float(sc[s]) * float(q) - 0.125f * float(mn[s])) << e;
    }
}

TEST(QuantTypes, Q6_KDequantizesSixBitValues) {
    BlockQ6_K b{};
    b.d = fp32_to_fp16(0.5f);
    for (int s = 0; s < 16; ++s) b.scales[s] = int8_t(s * 9 - 70);
    // Element e gets the 6-bit value (e * 5) % 64; pack it as the layout says.
    for (int e = 0; e < 256; ++e) {
        const int v = (e * 5) % 64;
        const int h = e / 128, r = e % 128, l = r % 32, quarter = r / 32;
        uint8_t& ql = b.ql[64 * h + l + (quarter % 2) * 32];
        ql = uint8_t(quarter < 2 ? (ql & 0xf0) | (v & 15) : (ql & 0x0f) | ((v & 15) << 4));
        b.qh[32 * h + l] = uint8_t(b.qh[32 * h + l] | ((v >> 4) << (2 * quarter)));
    }
    float y[256];
    dequantize_row(GgmlType::Q6_K, reinterpret_cast<const unsigned char*>(&b), y, 256);
    for (int e = 0; e < 256; ++e)
        EXPECT_EQ(y[e], 0.5f * float(b.scales[e / 16]) * float((e * 5) % 64 - 32)) << e;
}

TEST(QuantTypes, Q8_KActivations) {
    std::vector<float> x(512);
    std::mt19937 rng(3);
    std::normal_distribution<float> n;
    for (float& v : x) v = n(rng);
    std::vector<BlockQ8_K> q(2);
    quantize_row_q8_K(x.data(), q.data(), 512);
    for (int b = 0; b < 2; ++b) {
        float amax = 0;
        for (int j = 0; j < 256; ++j) amax = std::max(amax, std::fabs(x[size_t(256 * b + j)]));
        EXPECT_NEAR(std::fabs(q[size_t(b)].d), amax / 127, 1e-7);
        for (int s = 0; s < 16; ++s) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) sum += q[size_t(b)].qs[16 * s + j];
            EXPECT_EQ(q[size_t(b)].bsums[s], sum);
        }
        for (int j = 0; j < 256; ++j)
            EXPECT_NEAR(q[size_t(b)].d * q[size_t(b)].qs[j], x[size_t(256 * b + j)], std::fabs(q[size_t(b)].d) * 0.5001);
    }
}

// Random blocks of every type, dotted with random activations: dot_row equals the double sum
// of (dequantized weight x dequantized activation), up to float rounding of the block sums.
TEST(QuantTypes, DotProductsEqualTheSumOfDequantizedProducts) {
    std::mt19937 rng(11);
    std::normal_distribution<float> n;
    const size_t len = 512;
    for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K}) {
        SCOPED_TRACE(ggml_type_name(uint32_t(t)));
        std::vector<unsigned char> row(row_bytes(t, len));
        std::vector<float> w(len), x(len);
        for (float& v : w) v = n(rng);
        for (float& v : x) v = n(rng);
        if (t == GgmlType::F32) std::memcpy(row.data(), w.data(), len * 4);
        if (t == GgmlType::F16)
            for (size_t i = 0; i < len; ++i) {
                const uint16_t h = fp32_to_fp16(w[i]);
                std::memcpy(row.data() + 2 * i, &h, 2);
            }
        if (t == GgmlType::Q8_0) quantize_row_q8_0(w.data(), row.data(), len);
        if (t == GgmlType::Q4_0) quantize_row_q4_0(w.data(), row.data(), len);
        if (t == GgmlType::Q4_K || t == GgmlType::Q6_K) {
            for (unsigned char& c : row) c = uint8_t(rng());
            const size_t block = t == GgmlType::Q4_K ? 144 : 210;
            for (size_t b = 0; b < row.size() / block; ++b) {
                const uint16_t d = fp32_to_fp16(0.01f), dmin = fp32_to_fp16(0.02f);
                if (t == GgmlType::Q4_K) {
                    std::memcpy(&row[b * block], &d, 2);
                    std::memcpy(&row[b * block + 2], &dmin, 2);
                } else {
                    std::memcpy(&row[b * block + 208], &d, 2);
                }
            }
        }
        std::vector<float> wd(len);
        dequantize_row(t, row.data(), wd.data(), len);
        const QuantizedActivations a = quantize_activations(t, x.data(), len);
        // The activations as the dot product sees them.
        std::vector<float> xd(len);
        switch (a.type) {
            case VecDotType::F32: xd = x; break;
            case VecDotType::Q8_0: dequantize_row(GgmlType::Q8_0, a.q8_0.data(), xd.data(), len); break;
            case VecDotType::Q8_K:
                for (size_t i = 0; i < len; ++i) xd[i] = a.q8_k[i / 256].d * float(a.q8_k[i / 256].qs[i % 256]);
                break;
        }
        double ref = 0, mag = 0;
        for (size_t i = 0; i < len; ++i) {
            ref += double(wd[i]) * double(xd[i]);
            mag += std::fabs(double(wd[i]) * double(xd[i]));
        }
        const float got = dot_row(t, row.data(), a);
        EXPECT_NEAR(got, ref, 1e-5 * mag) << "ref " << ref;
        // And the activation quantization is the stated one, not a no-op: Q8 activations differ.
        if (a.type == VecDotType::Q8_0 || a.type == VecDotType::Q8_K) {
            EXPECT_NE(xd, x);
        }
        // matvec is dot_row per row.
        std::vector<unsigned char> two(row.size() * 2);
        std::memcpy(two.data(), row.data(), row.size());
        std::memcpy(two.data() + row.size(), row.data(), row.size());
        float out[2];
        matvec(t, two.data(), 2, len, x.data(), out);
        EXPECT_EQ(out[0], got);
        EXPECT_EQ(out[1], got);
    }
}

TEST(QuantTypes, WrongActivationsOrUnsupportedTypesThrow) {
    std::vector<float> x(32, 1.0f);
    const QuantizedActivations a = quantize_activations(GgmlType::F32, x.data(), 32);
    std::vector<unsigned char> row(34);
    EXPECT_THROW(dot_row(GgmlType::Q8_0, row.data(), a), std::invalid_argument);
    EXPECT_THROW(quantize_activations(GgmlType::Q5_0, x.data(), 32), std::invalid_argument);
    std::vector<float> y(32);
    EXPECT_THROW(dequantize_row(GgmlType::Q4_1, row.data(), y.data(), 32), std::invalid_argument);
}

}  // namespace
}  // namespace lhb
