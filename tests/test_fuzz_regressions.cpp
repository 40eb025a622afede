// Regression tests for what the fuzz targets (fuzz/) found: each test rebuilds the input
// that crashed or hung a target, in a readable form, and checks the fixed behaviour.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "bench/config.hpp"
#include "bench/results.hpp"
#include "core/error.hpp"
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
    write_q8_model(Model::open(dir.file("nan.bin"), NonFiniteWeights::Allow), dir.file("nan-q8.bin"), 4);

    Model m = Model::open(dir.file("nan-q8.bin"), NonFiniteWeights::Allow);
    ASSERT_EQ(m.format(), FileFormat::V2Q8);
    CpuRefBackend ref;
    ref.load(m);
    const float* logits = ref.forward(3, 0);
    int non_finite = 0;
    for (int i = 0; i < c.vocab_size; ++i) non_finite += !std::isfinite(logits[i]);
    EXPECT_EQ(non_finite, c.vocab_size);
}


// --- fuzz_config -----------------------------------------------------------------------

const char* kConfigHead =
    R"({"name": "f", "models": [{"name": "m", "path": "missing.bin", "shape": "stories260K"}], "backends": ["cpu-ref"])";

void expect_config_error(const std::string& text, const std::string& needle) {
    try {
        bench::parse_config(text, "/tmp/lhb-fuzz/config.json");
        ADD_FAILURE() << "accepted: " << text;
    } catch (const InputError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("/tmp/lhb-fuzz/config.json"), std::string::npos) << msg;
        EXPECT_NE(msg.find(needle), std::string::npos) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
}

// UBSan: "1e+300 is outside the range of representable values of type 'long'" (a float in
// an integer field was converted to int64 to see whether it is whole).
TEST(FuzzRegressions, ConfigHugeFloatInAnIntegerField) {
    expect_config_error(std::string(kConfigHead) + R"(, "warmup": 1e300})", "/warmup");
    expect_config_error(std::string(kConfigHead) + R"(, "threads": [-1e300]})", "/threads/0");
    bench::RunConfig c = bench::parse_config(std::string(kConfigHead) + R"(, "warmup": 2.0})", "/tmp/c.json");
    EXPECT_EQ(c.warmup, 2);
}

// std::filesystem_error ("File name too long") escaped from the model-file check.
TEST(FuzzRegressions, ConfigPathTooLongForTheOS) {
    const std::string long_name(5000, 'x');
    const std::string text = R"({"name": "f", "models": [{"name": "m", "path": ")" + long_name +
                             R"(", "tokenizer": ")" + long_name + R"(", "shape": "stories260K"}], "backends": ["cpu-ref"], "board": ")" +
                             long_name + R"("})";
    expect_config_error(text, "/board");  // not a file: refused with the usual message
}

// nlohmann's out_of_range.406 ("number overflow") is not a parse_error and escaped.
TEST(FuzzRegressions, ConfigNumberTooLargeForADouble) {
    expect_config_error(std::string(kConfigHead) + R"(, "warmup": 1e400})", "invalid JSON");
}

// --- fuzz_results ----------------------------------------------------------------------

const char* kResultsHead = R"({"schema": "llama-hls-bench/results", "schema_version": 1, )";

std::string results_file(const test::TempDir& dir, const std::string& body) {
    const std::string path = dir.file("results.json");
    test::write_file(path, kResultsHead + body + "}");
    return path;
}

void expect_results_error(const std::string& path, const std::string& needle) {
    try {
        bench::load_results(path);
        ADD_FAILURE() << "accepted " << test::read_file(path);
    } catch (const InputError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(path), std::string::npos) << msg;
        EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
}

// nlohmann's type_error.302 ("type must be string") from a row whose status was a number,
// and its assertion on const operator[] of a key that is absent (rows or the document
// without "published", "environment", "model", ...).
TEST(FuzzRegressions, ResultsWithFieldsMissingOrOfTheWrongType) {
    test::TempDir dir;
    // Minimal rows: everything optional is absent. Readable, and shown with "-".
    const std::string minimal = results_file(dir, R"("rows": [{"id": "a", "kind": "measured", "status": "ok"},
                                                               {"id": "b", "kind": "measured", "status": "skipped"}])");
    nlohmann::json r = bench::load_results(minimal);
    const std::string md = bench::results_markdown(r);
    EXPECT_NE(md.find("| measured |"), std::string::npos) << md;
    const std::string csv = bench::results_csv(r);
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;

    expect_results_error(results_file(dir, R"("rows": [{"id": "a", "kind": "measured", "status": 7}])"), "/rows/0/status");
    expect_results_error(results_file(dir, R"("rows": [{"id": "a", "status": "ok"}])"), "/rows/0/kind");
    expect_results_error(results_file(dir, R"("rows": [5])"), "/rows/0");
    expect_results_error(results_file(dir, R"("rows": [], "published": [{"backend": 1, "tok_s": 2}])"),
                         "/published/0/backend");
    expect_results_error(results_file(dir, R"("rows": [], "published": [{"backend": "x"}])"), "/published/0/tok_s");
    expect_results_error(results_file(dir, R"("rows": [], "environment": [])"), "/environment");

    const std::string bad_schema = dir.file("schema.json");
    test::write_file(bad_schema, R"({"schema": 5, "rows": []})");
    expect_results_error(bad_schema, "/schema");
    // schema_version 2^32 + 1 used to wrap to 1 through get<int>().
    test::write_file(bad_schema, R"({"schema": "llama-hls-bench/results", "schema_version": 4294967297, "rows": []})");
    expect_results_error(bad_schema, "/schema_version");
}

TEST(FuzzRegressions, ResultsNumberTooLargeForADouble) {
    test::TempDir dir;
    expect_results_error(results_file(dir, R"("rows": [], "x": 1e400)"), "invalid JSON");
}

}  // namespace
}  // namespace lhb
