// The device layout (kernels/llama_layout.hpp) and the host packing (host/packing.hpp):
// regions are disjoint, inside their buffers and page aligned; every weight lands where the
// kernels read it; padding is zero; the KV stripes do not overlap.
#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "core/synth.hpp"
#include "host/packing.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

struct Region {
    int64_t begin, end;
    std::string name;
};

// Every region of every port for dims d, as the layout functions place them.
std::vector<std::vector<Region>> regions_of(const lhk::ModelDims& d) {
    std::vector<std::vector<Region>> ports(hls::kPorts);
    for (int p = 0; p < hls::kPorts; ++p) {
        auto& r = ports[size_t(p)];
        for (int l = 0; l < d.n_layers; ++l)
            for (int m = 0; m < lhk::kMatricesPerLayer; ++m) {
                const int64_t off = lhk::matrix_offset(d, p, l, m);
                const int64_t used = int64_t(lhk::rows_on_engine(lhk::matrix_rows(d, m), p, lhk::kDesign)) *
                                     lhk::row_beats(lhk::matrix_cols(d, m));
                r.push_back({off, off + used, "layer " + std::to_string(l) + " matrix " + std::to_string(m)});
            }
        const int64_t table = int64_t(lhk::rows_on_engine(d.vocab_size, p, lhk::kDesign)) * lhk::row_beats(d.dim);
        r.push_back({lhk::classifier_offset(d, p), lhk::classifier_offset(d, p) + table, "classifier"});
        if (!d.shared_classifier)
            r.push_back({lhk::embedding_offset(d, p), lhk::embedding_offset(d, p) + table, "embedding"});
        if (p == 0)
            r.push_back({lhk::norms_offset(d), lhk::rms_final_offset(d) + lhk::vec_beats(d.dim), "norms"});
    }
    return ports;
}

lhk::ModelDims dims(const char* shape, bool shared = true) {
    ModelConfig c = parse_shape(shape);
    c.shared_classifier = shared;
    return hls::dims_of(c);
}

TEST(HlsPacking, RegionsAreDisjointAlignedAndInsideTheirBuffers) {
    for (const char* shape : {"stories260K", "stories15M", "stories42M",
                              "dim=40,hidden=70,layers=2,heads=5,kv_heads=1,vocab=37,seq=19"}) {
        for (bool shared : {true, false}) {
            SCOPED_TRACE(std::string(shape) + (shared ? " shared" : " unshared"));
            const lhk::ModelDims d = dims(shape, shared);
            ASSERT_TRUE(lhk::dims_fit(d, nullptr));
            auto ports = regions_of(d);
            for (int p = 0; p < hls::kPorts; ++p) {
                auto r = ports[size_t(p)];
                std::sort(r.begin(), r.end(), [](const Region& a, const Region& b) { return a.begin < b.begin; });
                for (size_t i = 0; i < r.size(); ++i) {
                    EXPECT_EQ(r[i].begin % lhk::kRegionAlignBeats, 0) << r[i].name << " on port " << p;
                    EXPECT_LE(r[i].end, lhk::weight_port_beats(d, p)) << r[i].name << " on port " << p;
                    if (i > 0) {
                        EXPECT_LE(r[i - 1].end, r[i].begin) << r[i - 1].name << " overlaps " << r[i].name;
                    }
                }
            }
        }
    }
}

TEST(HlsPacking, KvRowsAreDisjointAndInsideTheStripe) {
    const lhk::ModelDims d = dims("stories260K");
    std::vector<Region> rows;
    for (int l = 0; l < d.n_layers; ++l)
        for (int s = 0; s < lhk::kv_slots_of(d); ++s) {
            rows.push_back({lhk::k_row_offset(d, l, s), lhk::k_row_offset(d, l, s) + lhk::kv_row_beats(d), "k"});
            rows.push_back({lhk::v_row_offset(d, l, s), lhk::v_row_offset(d, l, s) + lhk::kv_row_beats(d), "v"});
        }
    std::sort(rows.begin(), rows.end(), [](const Region& a, const Region& b) { return a.begin < b.begin; });
    for (size_t i = 1; i < rows.size(); ++i) EXPECT_EQ(rows[i - 1].end, rows[i].begin);
    EXPECT_EQ(rows.back().end, lhk::kv_port_beats(d));
    // Rows are native: kv_dim floats (stories260K: 4 KV heads of 8, half of dim 64).
    EXPECT_EQ(lhk::kv_row_beats(d), lhk::kv_dim_of(d) / lhk::kFloatsPerBeat);
    EXPECT_EQ(lhk::kv_row_beats(d) * 2, d.dim / lhk::kFloatsPerBeat);
}

TEST(HlsPacking, EveryWeightLandsWhereTheKernelReadsItAndPaddingIsZero) {
    test::TempDir tmp;
    const ModelConfig c = parse_shape("dim=40,hidden=70,layers=2,heads=5,kv_heads=1,vocab=37,seq=19");
    write_synthetic_model(c, tmp.file("m.bin"), 2);
    Model model = Model::open(tmp.file("m.bin"));
    const hls::PackedModel pm = hls::pack_model(model);
    const lhk::ModelDims& d = pm.layout.dims;
    for (int p = 0; p < hls::kPorts; ++p)
        EXPECT_EQ(pm.weights[size_t(p)].beats(), lhk::weight_port_beats(d, p));

    auto check_matrix = [&](const WeightMatrix& w, const std::array<const lhk::Beat*, hls::kPorts>& ports,
                            const std::string& name) {
        const int rb = lhk::row_beats(w.cols);
        for (int r = 0; r < w.rows; ++r) {
            const float* row = reinterpret_cast<const float*>(ports[size_t(r % hls::kPorts)] + int64_t(r / hls::kPorts) * rb);
            ASSERT_EQ(std::memcmp(row, w.f32 + int64_t(r) * w.cols, size_t(w.cols) * 4), 0) << name << " row " << r;
            for (int j = w.cols; j < rb * lhk::kFloatsPerBeat; ++j) ASSERT_EQ(row[j], 0.0f) << name << " padding";
        }
    };
    const ModelWeights& w = model.weights();
    for (int l = 0; l < c.n_layers; ++l) {
        const LayerWeights& L = w.layers[size_t(l)];
        const WeightMatrix* mats[] = {&L.wq, &L.wk, &L.wv, &L.wo, &L.w1, &L.w2, &L.w3};
        for (int m = 0; m < lhk::kMatricesPerLayer; ++m)
            check_matrix(*mats[m], hls::matrix_ports(pm, l, m), "layer " + std::to_string(l) + "/" + std::to_string(m));
        EXPECT_EQ(std::memcmp(pm.weights[0].data() + lhk::rms_att_offset(d, l), L.rms_att, size_t(c.dim) * 4), 0);
        EXPECT_EQ(std::memcmp(pm.weights[0].data() + lhk::rms_ffn_offset(d, l), L.rms_ffn, size_t(c.dim) * 4), 0);
    }
    check_matrix(w.wcls, hls::classifier_ports(pm), "classifier");
    EXPECT_EQ(std::memcmp(pm.weights[0].data() + lhk::rms_final_offset(d), w.rms_final, size_t(c.dim) * 4), 0);
    // Buffers are page aligned, as XRT buffer objects are.
    for (const auto& b : pm.weights) EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 4096, 0u);
}

TEST(HlsPacking, PackedMatrixMatchesTheModelLayout) {
    std::vector<float> m(size_t(13 * 9));
    for (size_t i = 0; i < m.size(); ++i) m[i] = float(i) + 0.5f;
    WeightMatrix w;
    w.rows = 13;
    w.cols = 9;
    w.f32 = m.data();
    const hls::PackedMatrix pm = hls::pack_matrix(w);
    const int rb = lhk::row_beats(9);
    EXPECT_EQ(rb, lhk::kPartialSums);  // short rows are padded to kPartialSums beats
    for (int r = 0; r < 13; ++r) {
        const float* row = pm.port[size_t(r % 4)].floats() + int64_t(r / 4) * rb * lhk::kFloatsPerBeat;
        for (int j = 0; j < 9; ++j) EXPECT_EQ(row[j], m[size_t(r * 9 + j)]);
    }
}

TEST(HlsPacking, StripedKvHoldsNativeGroupedQueryRows) {
    const lhk::ModelDims d = dims("stories260K");  // 8 heads on 4 KV heads, head_size 8
    const int kv_dim = lhk::kv_dim_of(d), hs = lhk::head_size_of(d);
    const int pos = 5;
    std::vector<float> k(size_t((pos + 1) * kv_dim)), v(k.size());
    for (size_t i = 0; i < k.size(); ++i) {
        k[i] = float(i);
        v[i] = -float(i);
    }
    std::array<hls::BeatBuffer, lhk::kKvPorts> s;
    for (auto& b : s) b = hls::BeatBuffer(lhk::kv_port_beats(d));
    hls::stripe_kv_layer(d, 1, pos, k.data(), v.data(), s);
    for (int t = 0; t <= pos; ++t) {
        const float* kr = s[size_t(t % 4)].floats() + lhk::k_row_offset(d, 1, t / 4) * lhk::kFloatsPerBeat;
        const float* vr = s[size_t(t % 4)].floats() + lhk::v_row_offset(d, 1, t / 4) * lhk::kFloatsPerBeat;
        for (int g = 0; g < d.n_kv_heads; ++g)
            for (int i = 0; i < hs; ++i) {
                EXPECT_EQ(kr[g * hs + i], k[size_t(t * kv_dim + g * hs + i)]);
                EXPECT_EQ(vr[g * hs + i], v[size_t(t * kv_dim + g * hs + i)]);
            }
    }
}

TEST(HlsPacking, ShapesBeyondTheMaximaAreRefusedWithOneLine) {
    ModelConfig c = parse_shape("tinyllama-1.1b");
    EXPECT_NO_THROW(hls::check_fits(c, "x"));
    c.dim = 4096;  // Llama 2 7B's
    c.n_heads = 32;
    c.n_kv_heads = 32;
    try {
        hls::check_fits(c, "m.bin");
        FAIL() << "dim 4096 accepted";
    } catch (const InputError& e) {
        EXPECT_EQ(std::string(e.what()), "m.bin: does not fit the HLS kernels: dim exceeds kMaxDim "
                                         "(maxima in kernels/hls_config.hpp)");
    }
}

TEST(HlsPacking, VectorsToAndFromBeatsZeroTheTail) {
    float src[5] = {1, 2, 3, 4, 5};
    lhk::Beat b[2];
    std::memset(b, 0xff, sizeof b);
    hls::to_beats(src, 5, b);
    EXPECT_EQ(b[1].v[0], 5.0f);
    EXPECT_EQ(b[1].v[1], 0.0f);
    EXPECT_EQ(b[1].v[3], 0.0f);
    float out[5] = {};
    hls::from_beats(b, 5, out);
    EXPECT_EQ(std::memcmp(out, src, sizeof src), 0);
}

}  // namespace
}  // namespace lhb
