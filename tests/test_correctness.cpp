// The correctness check itself: it passes a correct backend, and fails a backend whose op is
// a little off, or that produces a NaN, op by op and end to end.
#include <cmath>
#include <limits>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "core/correctness.hpp"
#include "core/synth.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

// cpu-ref with one op spoiled, as a buggy backend would be.
class PerturbedBackend : public CpuRefBackend {
public:
    enum class Fault { None, MatMulOffset, MatMulNaN, AttentionOffset, AttentionNaN, SoftmaxInf, ResidualUlp };
    explicit PerturbedBackend(Fault f, double amount = 0) : fault_(f), amount_(amount) {}
    std::string name() const override { return "perturbed"; }

    void matmul(float* out, const float* x, const WeightMatrix& w) override {
        CpuRefBackend::matmul(out, x, w);
        if (fault_ == Fault::MatMulOffset) out[w.rows / 2] += float(amount_);
        if (fault_ == Fault::MatMulNaN) out[w.rows - 1] = std::numeric_limits<float>::quiet_NaN();
    }
    void attention(float* out, const float* q, const float* kc, const float* vc, float* att, int pos,
                   const AttentionShape& s) override {
        CpuRefBackend::attention(out, q, kc, vc, att, pos, s);
        if (fault_ == Fault::AttentionOffset) out[s.head_size + 1] += float(amount_);
        if (fault_ == Fault::AttentionNaN) out[0] = std::numeric_limits<float>::quiet_NaN();
    }
    void softmax(float* x, int n) override {
        CpuRefBackend::softmax(x, n);
        if (fault_ == Fault::SoftmaxInf) x[n - 1] = std::numeric_limits<float>::infinity();
    }
    void residual_add(float* x, const float* y, int n) override {
        CpuRefBackend::residual_add(x, y, n);
        if (fault_ == Fault::ResidualUlp) x[n / 2] = std::nextafter(x[n / 2], 1e30f);
    }

private:
    Fault fault_;
    double amount_;
};
using Fault = PerturbedBackend::Fault;

const ModelConfig kShape = parse_shape("stories260K");

// The checks of one op class, and whether every other op class passed.
std::vector<OpCheck> failures(Backend& candidate, bool& others_pass, const std::string& op) {
    CpuRefBackend ref;
    std::vector<OpCheck> bad;
    others_pass = true;
    for (const OpCheck& o : check_ops(candidate, ref, kShape, 3)) {
        if (o.op == op) {
            if (!o.pass) bad.push_back(o);
        } else if (!o.pass) {
            others_pass = false;
        }
    }
    return bad;
}

TEST(Correctness, ReferenceAgainstItselfIsExact) {
    CpuRefBackend a, b;
    for (const OpCheck& o : check_ops(a, b, kShape, 1)) {
        EXPECT_TRUE(o.pass) << o.op << " " << o.shape;
        EXPECT_EQ(o.max_abs_err, 0) << o.op << " " << o.shape;
        EXPECT_TRUE(o.note.empty());
    }
}

TEST(Correctness, EveryToleranceHasAReason) {
    for (int i = 0; i < kNumOps; ++i) {
        Tolerance t = op_tolerance(Op(i), DType::F32);
        EXPECT_GT(std::string(t.why).size(), 20u) << op_name(Op(i));
        EXPECT_GE(t.abs, 0);
        EXPECT_LT(t.rel, 1e-4) << op_name(Op(i)) << ": too loose to catch a bf16-sized error";
    }
    EXPECT_EQ(op_tolerance(Op::Residual, DType::F32).rel, 0);
    EXPECT_GT(std::string(logits_tolerance(DType::F32).why).size(), 20u);
}

TEST(Correctness, MatmulOneRowOffBy1e4IsAFailureAtEveryShape) {
    PerturbedBackend bad(Fault::MatMulOffset, 1e-4);
    bool others = false;
    auto f = failures(bad, others, "matmul");
    EXPECT_EQ(f.size(), 5u);  // every matmul shape of stories260K
    EXPECT_TRUE(others);
    for (const OpCheck& o : f) {
        EXPECT_GT(o.max_rel_err, o.tolerance.rel);
        EXPECT_NE(o.note.find("out of tolerance"), std::string::npos) << o.note;
    }
}

TEST(Correctness, AttentionOffsetIsAFailure) {
    PerturbedBackend bad(Fault::AttentionOffset, 1e-4);
    bool others = false;
    auto f = failures(bad, others, "attention");
    EXPECT_EQ(f.size(), 5u);  // positions 0, 1, 63, 64, 511
    EXPECT_TRUE(others);
}

TEST(Correctness, NaNAndInfAreFailures) {
    for (Fault fault : {Fault::MatMulNaN, Fault::AttentionNaN, Fault::SoftmaxInf}) {
        PerturbedBackend bad(fault);
        CpuRefBackend ref;
        int failed = 0;
        for (const OpCheck& o : check_ops(bad, ref, kShape, 3)) {
            if (o.pass) continue;
            ++failed;
            EXPECT_GT(o.non_finite, 0) << o.op << " " << o.shape;
            EXPECT_NE(o.note.find("NaN/Inf"), std::string::npos) << o.note;
        }
        EXPECT_GE(failed, 5) << int(fault);
    }
}

TEST(Correctness, ResidualMustBeExact) {
    PerturbedBackend bad(Fault::ResidualUlp);
    bool others = false;
    EXPECT_EQ(failures(bad, others, "residual").size(), 1u);
    EXPECT_TRUE(others);
}

class CorrectnessEndToEnd : public ::testing::Test {
protected:
    void SetUp() override {
        path_ = tmp_.file("small.bin");
        write_synthetic_model(parse_shape("dim=64,hidden=160,layers=2,heads=4,kv_heads=2,vocab=256,seq=40"), path_, 9);
        model_ = std::make_unique<Model>(Model::open(path_));
    }
    CorrectnessReport run(Backend& candidate) {
        CpuRefBackend ref;
        return check_backend(candidate, ref, *model_, 40);
    }
    test::TempDir tmp_;
    std::string path_;
    std::unique_ptr<Model> model_;
};

TEST_F(CorrectnessEndToEnd, CorrectBackendPasses) {
    PerturbedBackend same(Fault::None);
    CorrectnessReport r = run(same);
    EXPECT_TRUE(r.pass) << r.summary();
    EXPECT_EQ(r.end_to_end.positions, 40);
    EXPECT_EQ(r.end_to_end.tokens_agreeing, 40);
    EXPECT_EQ(r.end_to_end.first_bad_position, -1);
    EXPECT_NE(r.summary().find("perturbed: pass"), std::string::npos) << r.summary();
}

TEST_F(CorrectnessEndToEnd, PerturbedMatmulFailsTheLogits) {
    PerturbedBackend bad(Fault::MatMulOffset, 1e-3);
    CorrectnessReport r = run(bad);
    EXPECT_FALSE(r.pass);
    EXPECT_FALSE(r.end_to_end.pass);
    EXPECT_EQ(r.end_to_end.first_bad_position, 0);
    EXPECT_NE(r.summary().find("FAIL"), std::string::npos) << r.summary();
    EXPECT_NE(r.summary().find("matmul"), std::string::npos) << r.summary();
}

TEST_F(CorrectnessEndToEnd, NaNLogitsFail) {
    PerturbedBackend bad(Fault::MatMulNaN);
    CorrectnessReport r = run(bad);
    EXPECT_FALSE(r.end_to_end.pass);
    EXPECT_GT(r.end_to_end.non_finite, 0);
    EXPECT_FALSE(r.pass);
}

TEST_F(CorrectnessEndToEnd, RefusesBackendsWithoutAModel) {
    CpuRefBackend a, b;
    EXPECT_THROW(check_end_to_end(a, b, 4), std::logic_error);
}

}  // namespace
}  // namespace lhb
