// Non-finite logits are a correctness failure that names the op and layer where the NaN
// first appears.
#include <cmath>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "core/correctness.hpp"
#include "core/synth.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

// cpu-ref whose swiglu of layer 1 (its second call in every forward pass) yields a NaN.
class NanInLayer1Swiglu : public CpuRefBackend {
public:
    void swiglu(float* hb, const float* hb2, int n) override {
        CpuRefBackend::swiglu(hb, hb2, n);
        if (calls_++ % model()->config().n_layers == 1) hb[n / 2] = NAN;
    }

private:
    int calls_ = 0;
};

TEST(CorrectnessNonFinite, NamesTheOpAndLayerWhereNaNFirstAppears) {
    test::TempDir dir;
    write_synthetic_model(parse_shape("dim=32,hidden=48,layers=3,heads=4,kv_heads=2,vocab=64,seq=16"),
                          dir.file("m.bin"), 3);
    Model model = Model::open(dir.file("m.bin"));
    NanInLayer1Swiglu cand;
    CpuRefBackend ref;
    cand.load(model);
    ref.load(model);
    EndToEndCheck e = check_end_to_end(cand, ref, 4);
    EXPECT_FALSE(e.pass);
    EXPECT_GT(e.non_finite, 0);
    EXPECT_EQ(e.first_bad_position, 0);
    EXPECT_NE(e.note.find("swiglu"), std::string::npos) << e.note;
    EXPECT_NE(e.note.find("layer 1"), std::string::npos) << e.note;
}

}  // namespace
}  // namespace lhb
