// Weight ids: every matrix a Model builds names its layer and role, the index is dense, and
// a backend's own copy of a model matrix (hls-csim's packed regions, openmp's int8 tiles)
// stands for a matrix only when it is the model's own view: a view of other data that
// carries a borrowed id is packed on the fly like any matrix made outside a Model.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "backends/hls_csim/hls_csim.hpp"
#include "backends/openmp/openmp.hpp"
#include "core/synth.hpp"
#include "tests/backend_fixtures.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

void expect_every_matrix_named(const Model& model) {
    const ModelWeights& w = model.weights();
    const int n_layers = model.config().n_layers;
    std::set<int> seen;
    for (int l = 0; l < n_layers; ++l)
        for (int r = 0; r < kLayerWeightRoles; ++r) {
            const WeightMatrix* m = w.layers[size_t(l)].matrix(WeightRole(r));
            ASSERT_NE(m, nullptr);
            EXPECT_EQ(m->id, (WeightId{l, WeightRole(r)}));
            EXPECT_EQ(w.matrix(m->id), m);
            EXPECT_TRUE(w.holds(*m));
            seen.insert(m->id.index());
        }
    EXPECT_EQ(w.wcls.id.role, WeightRole::Classifier);
    EXPECT_EQ(w.matrix(w.wcls.id), &w.wcls);
    seen.insert(w.wcls.id.index());
    // Dense: exactly 0 .. count - 1.
    EXPECT_EQ(int(seen.size()), WeightId::count(n_layers));
    EXPECT_EQ(*seen.begin(), 0);
    EXPECT_EQ(*seen.rbegin(), WeightId::count(n_layers) - 1);
    // No id, an id the model does not have, the model's id on other data.
    WeightMatrix none = w.layers[0].wq;
    none.id = WeightId{};
    EXPECT_EQ(none.id.index(), -1);
    EXPECT_FALSE(w.holds(none));
    WeightMatrix past = w.layers[0].wq;
    past.id.layer = n_layers;
    EXPECT_EQ(w.matrix(past.id), nullptr);
    EXPECT_FALSE(w.holds(past));
    WeightMatrix borrowed = w.layers[0].wk;
    borrowed.id = w.layers[0].wv.id;
    EXPECT_FALSE(w.holds(borrowed));
}

TEST(WeightIds, EveryMatrixOfAModelHasItsLayerAndRole) {
    test::TempDir tmp;
    const std::string fp = tmp.file("m.bin");
    write_synthetic_model(parse_shape("stories260K"), fp, 31);
    expect_every_matrix_named(Model::open(fp));
    expect_every_matrix_named(Model::open(test::q8_model(tmp, "stories260K", 4, "q", 31)));
}

// wk's values under wv's id: a backend that trusted the id would multiply by wv.
void expect_borrowed_id_is_not_trusted(Backend& b, const Model& model) {
    CpuRefBackend ref;
    b.load(model);
    ref.load(model);
    const LayerWeights& L = model.weights().layers[0];
    WeightMatrix borrowed = L.wk;
    borrowed.id = L.wv.id;
    std::vector<float> x(size_t(L.wk.cols));
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i % 7) - 3) * 0.25f;
    std::vector<float> got(size_t(L.wk.rows)), want(got.size()), as_wv(got.size());
    b.matmul(got.data(), x.data(), borrowed);
    ref.matmul(want.data(), x.data(), L.wk);
    ref.matmul(as_wv.data(), x.data(), L.wv);
    ASSERT_NE(want, as_wv);  // the check can tell them apart
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4f) << b.name() << " row " << i;
}

TEST(WeightIds, BackendsUseTheirCopyOnlyForTheModelsOwnMatrix) {
    test::TempDir tmp;
    const std::string fp = tmp.file("m.bin");
    write_synthetic_model(parse_shape("stories260K"), fp, 32);
    const Model fp32 = Model::open(fp);
    const Model q8 = Model::open(test::q8_model(tmp, "stories260K", 4, "q", 32));
    BackendOptions per_op;
    per_op.fused = false;
    expect_borrowed_id_is_not_trusted(*make_hls_csim_backend(per_op), fp32);
    expect_borrowed_id_is_not_trusted(*make_hls_csim_backend(per_op), q8);
    OpenMpBackend openmp(2, true);
    expect_borrowed_id_is_not_trusted(openmp, q8);
}

}  // namespace
}  // namespace lhb
