// Regression tests for what the fuzz targets (fuzz/) found: each test rebuilds the input
// that crashed or hung a target, in a readable form, and checks the fixed behaviour.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "core/model.hpp"
#include "core/quantize.hpp"
#include "core/synth.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// fuzz_model, crash 1 (UBSan: "nan is outside the range of representable values of type
// 'signed char'" in quantize.cpp): a v2 file whose weights put a NaN into the activations
// of a Q8_0 matmul. Non-finite activations and subnormal scales must not reach the int8
// conversion, and the NaN must not silently turn into 0.
TEST(FuzzRegressions, ActivationQuantizationOfNonFiniteAndSubnormalGroups) {
    const int gs = 4;
    const float x[] = {
        1.0f, kNaN, -2.0f, 0.5f,               // NaN group
        kInf, 1.0f, 2.0f, 3.0f,                // Inf group
        2.5e-43f, -2.5e-43f, 1e-45f, 0.0f,     // subnormal max: scale rounds to a few ulps
        127.0f, -63.5f, 0.25f, -127.0f,        // ordinary group
    };
    int8_t q[16];
    float s[4];
    quantize_activations_q8(x, 16, gs, q, s);
    EXPECT_TRUE(std::isnan(s[0]));
    EXPECT_TRUE(std::isnan(s[1]));
    for (int i = 0; i < 8; ++i) EXPECT_EQ(q[i], 0) << i;
    for (int i = 8; i < 12; ++i) EXPECT_LE(std::abs(int(q[i])), 127) << i;
    EXPECT_GT(q[8], 0);
    EXPECT_LT(q[9], 0);
    EXPECT_FLOAT_EQ(s[3], 1.0f);
    EXPECT_EQ(q[12], 127);
    EXPECT_EQ(q[13], -64);  // C round(): half away from zero
    EXPECT_EQ(q[14], 0);
    EXPECT_EQ(q[15], -127);

    // The weights' quantizer shares the code path.
    quantize_weights_q8(x, 16, gs, q, s);
    EXPECT_TRUE(std::isnan(s[0]));
    EXPECT_EQ(q[13], -64);  // half to even: -63.5 -> -64
}

TEST(FuzzRegressions, NaNInAnInt8ModelReachesTheLogits) {
    test::TempDir dir;
    const ModelConfig c = parse_shape("dim=8,hidden=12,layers=1,heads=2,kv_heads=1,vocab=16,seq=4");
    write_synthetic_model(c, dir.file("v0.bin"), 7);
    std::string bytes = test::read_file(dir.file("v0.bin"));
    // rms_att of layer 0 follows the header and the embedding table.
    std::memcpy(bytes.data() + 28 + size_t(c.vocab_size) * size_t(c.dim) * 4, &kNaN, 4);
    test::write_file(dir.file("nan.bin"), bytes);
    write_q8_model(Model::open(dir.file("nan.bin")), dir.file("nan-q8.bin"), 4);

    Model m = Model::open(dir.file("nan-q8.bin"));
    ASSERT_EQ(m.format(), FileFormat::V2Q8);
    CpuRefBackend ref;
    ref.load(m);
    const float* logits = ref.forward(3, 0);
    int non_finite = 0;
    for (int i = 0; i < c.vocab_size; ++i) non_finite += !std::isfinite(logits[i]);
    EXPECT_EQ(non_finite, c.vocab_size);
}

}  // namespace
}  // namespace lhb
