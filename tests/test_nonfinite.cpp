// Fault: non-finite values in the logits. The tracer (core/nonfinite.hpp) must name the op,
// layer and tensor where they first appear, whether they come from a corrupt file (fp32 or
// int8), from arithmetic overflow, or from a faulty backend op.
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "core/error.hpp"
#include "core/model.hpp"
#include "core/nonfinite.hpp"
#include "core/quantize.hpp"
#include "core/registry.hpp"
#include "core/synth.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
const char* kShape = "dim=8,hidden=12,layers=2,heads=2,kv_heads=1,vocab=16,seq=4";

// Float offset of (tensor, layer) in a v0 file's payload (after the 28-byte header).
int64_t v0_offset(const ModelConfig& c, const std::string& tensor, int layer) {
    const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers, V = c.vocab_size;
    const std::pair<const char*, int64_t> order[] = {
        {"token_embedding", V * d}, {"rms_att", d}, {"wq", d * d}, {"wk", kv * d}, {"wv", kv * d},
        {"wo", d * d}, {"rms_ffn", d}, {"w1", h * d}, {"w2", d * h}, {"w3", h * d}};
    int64_t off = 0;
    for (auto [name, per_layer] : order) {
        const bool layered = std::string(name) != "token_embedding";
        if (tensor == name) return off + (layered ? layer * per_layer : 0);
        off += layered ? L * per_layer : per_layer;
    }
    ADD_FAILURE() << "unknown tensor " << tensor;
    return 0;
}

// A small synthetic model with `count` floats of `tensor` (layer `layer`, from element
// `first`) set to `value`; returns its path.
std::string corrupted_model(const test::TempDir& dir, const std::string& tensor, int layer, int64_t first,
                            int64_t count, float value) {
    const ModelConfig c = parse_shape(kShape);
    const std::string clean = dir.file("clean.bin");
    write_synthetic_model(c, clean, 3);
    std::string bytes = test::read_file(clean);
    const int64_t off = 28 + 4 * (v0_offset(c, tensor, layer) + first);
    for (int64_t i = 0; i < count; ++i) std::memcpy(bytes.data() + off + 4 * i, &value, 4);
    const std::string path = dir.file(tensor + "-" + std::to_string(layer) + ".bin");
    test::write_file(path, bytes);
    return path;
}

// The tracer found the first non-finite value at `op` of `layer` (-1: outside the layers),
// reading `tensor` ("": none).
void expect_found_at(const NonFiniteSite& s, const std::string& op, int layer, const std::string& tensor) {
    ASSERT_TRUE(s.found);
    EXPECT_EQ(s.op, op);
    EXPECT_EQ(s.layer, layer);
    EXPECT_EQ(s.tensor, tensor);
}

NonFiniteSite trace_greedy(const std::string& path, int steps = 4) {
    Model m = Model::open(path, NonFiniteWeights::Allow);
    CpuRefBackend ref;
    ref.load(m);
    return find_first_nonfinite_greedy(ref, m, steps);
}

TEST(NonFinite, HealthyModelHasNone) {
    test::TempDir dir;
    const std::string path = corrupted_model(dir, "wq", 0, 0, 0, 0.f);
    NonFiniteSite s = trace_greedy(path);
    EXPECT_FALSE(s.found);
    EXPECT_EQ(s.positions_checked, 4);
    EXPECT_NE(s.describe().find("no non-finite value"), std::string::npos) << s.describe();
}

TEST(NonFinite, NaNWeightNamesMatmulLayerAndTensor) {
    test::TempDir dir;
    NonFiniteSite s = trace_greedy(corrupted_model(dir, "wv", 1, 9, 1, kNaN));
    ASSERT_NO_FATAL_FAILURE(expect_found_at(s, "matmul", 1, "wv"));
    EXPECT_EQ(s.position, 0);
    EXPECT_EQ(s.token, 1);
    EXPECT_EQ(s.index, 1);  // element 9 of wv is in row 1 (rows of dim 8)
    EXPECT_TRUE(std::isnan(s.value));
    EXPECT_TRUE(s.weights_non_finite);
    const std::string d = s.describe();
    EXPECT_NE(d.find("layer 1"), std::string::npos) << d;
    EXPECT_NE(d.find("matmul with wv"), std::string::npos) << d;
    EXPECT_NE(d.find("itself holds non-finite"), std::string::npos) << d;
    EXPECT_EQ(d.find('\n'), std::string::npos) << d;
}

TEST(NonFinite, NaNNormWeightNamesRmsnorm) {
    test::TempDir dir;
    NonFiniteSite s = trace_greedy(corrupted_model(dir, "rms_ffn", 0, 2, 1, kNaN));
    ASSERT_NO_FATAL_FAILURE(expect_found_at(s, "rmsnorm", 0, "rms_ffn"));
    EXPECT_EQ(s.index, 2);
    EXPECT_TRUE(s.weights_non_finite);
}

TEST(NonFinite, OverflowOfFiniteWeightsIsTheArithmetic) {
    // Every w1 weight of layer 1 at FLT_MAX: the file is finite, the matmul overflows.
    test::TempDir dir;
    const ModelConfig c = parse_shape(kShape);
    NonFiniteSite s = trace_greedy(corrupted_model(dir, "w1", 1, 0, int64_t(c.hidden_dim) * c.dim, FLT_MAX));
    ASSERT_NO_FATAL_FAILURE(expect_found_at(s, "matmul", 1, "w1"));
    EXPECT_FALSE(s.weights_non_finite);
    EXPECT_EQ(s.describe().find("itself holds"), std::string::npos) << s.describe();
}

TEST(NonFinite, NaNEmbeddingRowIsTheLookup) {
    // Row of token 2: position 0 (BOS, token 1) is clean, position 1 feeds token 2.
    test::TempDir dir;
    const ModelConfig c = parse_shape(kShape);
    Model m = Model::open(corrupted_model(dir, "token_embedding", 0, 2 * c.dim + 3, 1, kNaN), NonFiniteWeights::Allow);
    CpuRefBackend ref;
    ref.load(m);
    NonFiniteSite s = find_first_nonfinite(ref, m, {2, 5});
    ASSERT_NO_FATAL_FAILURE(expect_found_at(s, "embedding", -1, "token_embedding"));
    EXPECT_EQ(s.position, 0);
    EXPECT_EQ(s.token, 2);
    EXPECT_EQ(s.index, 3);
    EXPECT_EQ(s.positions_checked, 1);
    EXPECT_NE(s.describe().find("outside the layers, embedding of token_embedding"), std::string::npos)
        << s.describe();

    // Fed BOS first, the same row is first met as a row of the shared classifier.
    s = find_first_nonfinite(ref, m, {1, 2});
    ASSERT_NO_FATAL_FAILURE(expect_found_at(s, "matmul", -1, "wcls"));
    EXPECT_EQ(s.position, 0);
    EXPECT_EQ(s.index, 2);
    EXPECT_TRUE(s.weights_non_finite);

    EXPECT_THROW(find_first_nonfinite(ref, m, {1, 16}), InputError);
    EXPECT_THROW(find_first_nonfinite(ref, m, {-1}), InputError);
}

// A backend whose SwiGLU goes wrong in layer 1 (its second call per token).
class FaultySwiglu : public CpuRefBackend {
public:
    void swiglu(float* hb, const float* hb2, int n) override {
        CpuRefBackend::swiglu(hb, hb2, n);
        if (++calls_ % 2 == 0) hb[5] = std::numeric_limits<float>::infinity();
    }

private:
    int calls_ = 0;
};

TEST(NonFinite, FaultyBackendOpIsNamed) {
    test::TempDir dir;
    Model m = Model::open(corrupted_model(dir, "wq", 0, 0, 0, 0.f));
    FaultySwiglu faulty;
    faulty.load(m);
    NonFiniteSite s = find_first_nonfinite_greedy(faulty, m, 4);
    ASSERT_NO_FATAL_FAILURE(expect_found_at(s, "swiglu", 1, ""));
    EXPECT_EQ(s.index, 5);
    EXPECT_TRUE(std::isinf(s.value));
    EXPECT_FALSE(s.weights_non_finite);
}

TEST(NonFinite, NaNInAnInt8ModelIsFoundInItsScales) {
    test::TempDir dir;
    Model fp32 = Model::open(corrupted_model(dir, "w2", 0, 30, 1, kNaN), NonFiniteWeights::Allow);
    write_q8_model(fp32, dir.file("q8.bin"), 4);
    NonFiniteSite s = trace_greedy(dir.file("q8.bin"));
    ASSERT_NO_FATAL_FAILURE(expect_found_at(s, "matmul", 0, "w2"));
    EXPECT_TRUE(s.weights_non_finite);
}

// The tracer drives any backend's ops: every backend available here finds nothing in a
// healthy model and the same site as cpu-ref in a corrupt one.
TEST(NonFinite, WorksOnEveryAvailableBackend) {
    test::TempDir dir;
    const std::string healthy = corrupted_model(dir, "wq", 0, 0, 0, 0.f);
    const std::string corrupt = corrupted_model(dir, "wv", 1, 9, 1, kNaN);
    int traced = 0;
    for (const BackendFactory* f : BackendRegistry::all()) {
        BackendOptions opts;
        opts.threads = 2;
        if (!f->available(opts).available) continue;
        for (const std::string& path : {healthy, corrupt}) {
            Model m = Model::open(path, NonFiniteWeights::Allow);
            std::unique_ptr<Backend> b = f->create(opts);
            try {
                b->load(m);
            } catch (const InputError& e) {
                std::printf("%s cannot load the tiny model (%s): not traced\n", f->name.c_str(), e.what());
                break;
            }
            NonFiniteSite s = find_first_nonfinite_greedy(*b, m, 3);
            if (path == healthy) {
                EXPECT_FALSE(s.found) << f->name << ": " << s.describe();
            } else {
                EXPECT_TRUE(s.found && s.op == "matmul" && s.layer == 1 && s.tensor == "wv")
                    << f->name << ": " << s.describe();
                ++traced;
            }
        }
    }
    EXPECT_GE(traced, 1);  // cpu-ref at least
}

}  // namespace
}  // namespace lhb
