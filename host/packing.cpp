#include "host/packing.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.hpp"

namespace lhb::hls {

void BeatBuffer::Free::operator()(lhk::Beat* p) const { std::free(p); }

BeatBuffer::BeatBuffer(int64_t beats) : beats_(beats) {
    if (beats <= 0) {
        beats_ = 0;
        return;
    }
    // Page aligned like an XRT buffer object; zeroed so that padding reads as 0.
    const size_t bytes = (size_t(beats) * lhk::kBeatBytes + 4095) / 4096 * 4096;
    void* p = std::aligned_alloc(4096, bytes);
    if (!p)
        throw InputError("hls packing: cannot allocate a device buffer of " + std::to_string(bytes) +
                         " bytes");
    std::memset(p, 0, bytes);
    data_.reset(static_cast<lhk::Beat*>(p));
}

lhk::ModelDims dims_of(const ModelConfig& c) {
    lhk::ModelDims d{};
    d.dim = c.dim;
    d.hidden_dim = c.hidden_dim;
    d.n_layers = c.n_layers;
    d.n_heads = c.n_heads;
    d.n_kv_heads = c.n_kv_heads;
    d.vocab_size = c.vocab_size;
    d.seq_len = c.seq_len;
    d.shared_classifier = c.shared_classifier ? 1 : 0;
    return d;
}

void check_fits(const ModelConfig& c, const std::string& where) {
    const char* why = nullptr;
    if (!lhk::dims_fit(dims_of(c), &why))
        throw InputError(where + ": does not fit the HLS kernels: " + why +
                         " (maxima in kernels/hls_config.hpp)");
}

int64_t DeviceLayout::total_bytes() const {
    int64_t beats = logits_beats + kv_beats * lhk::kKvPorts;
    for (int64_t b : weight_beats) beats += b;
    return beats * lhk::kBeatBytes;
}

DeviceLayout DeviceLayout::of(const ModelConfig& c, const std::string& where) {
    check_fits(c, where);
    DeviceLayout l;
    l.dims = dims_of(c);
    for (int p = 0; p < kPorts; ++p) l.weight_beats[size_t(p)] = lhk::weight_port_beats(l.dims, p);
    l.kv_beats = lhk::kv_port_beats(l.dims);
    l.logits_beats = lhk::logits_beats(l.dims);
    return l;
}

namespace {

// Rows of a [rows][cols] fp32 matrix into the region at dst[p] + offset[p] of every port.
void pack_region(const float* m, int rows, int cols, const std::array<lhk::Beat*, kPorts>& dst,
                 const std::array<int64_t, kPorts>& offset) {
    const int rb = lhk::row_beats(cols);
    for (int r = 0; r < rows; ++r) {
        const int p = r % kPorts;
        float* row = reinterpret_cast<float*>(dst[size_t(p)] + offset[size_t(p)] + int64_t(r / kPorts) * rb);
        std::memcpy(row, m + int64_t(r) * cols, size_t(cols) * sizeof(float));
    }
}

void pack_vector(const float* v, int n, lhk::Beat* dst) { std::memcpy(dst, v, size_t(n) * sizeof(float)); }

void require_f32(const WeightMatrix& w, const std::string& where) {
    if (w.dtype != DType::F32 || !w.f32)
        throw InputError(where + ": the HLS kernels take fp32 weights, found " + dtype_name(w.dtype));
}

}  // namespace

void pack_weights(const Model& model, const DeviceLayout& layout,
                  const std::array<lhk::Beat*, kPorts>& dst) {
    const lhk::ModelDims& d = layout.dims;
    const ModelWeights& w = model.weights();
    const std::string where = model.path();
    for (int l = 0; l < d.n_layers; ++l) {
        const LayerWeights& L = w.layers[size_t(l)];
        const WeightMatrix* mats[lhk::kMatricesPerLayer] = {&L.wq, &L.wk, &L.wv, &L.wo, &L.w1, &L.w2, &L.w3};
        for (int m = 0; m < lhk::kMatricesPerLayer; ++m) {
            require_f32(*mats[m], where);
            std::array<int64_t, kPorts> off{};
            for (int p = 0; p < kPorts; ++p) off[size_t(p)] = lhk::matrix_offset(d, p, l, m);
            pack_region(mats[m]->f32, lhk::matrix_rows(d, m), lhk::matrix_cols(d, m), dst, off);
        }
        pack_vector(L.rms_att, d.dim, dst[0] + lhk::rms_att_offset(d, l));
        pack_vector(L.rms_ffn, d.dim, dst[0] + lhk::rms_ffn_offset(d, l));
    }
    pack_vector(w.rms_final, d.dim, dst[0] + lhk::rms_final_offset(d));

    require_f32(w.wcls, where);
    std::array<int64_t, kPorts> cls{}, emb{};
    for (int p = 0; p < kPorts; ++p) {
        cls[size_t(p)] = lhk::classifier_offset(d, p);
        emb[size_t(p)] = lhk::embedding_offset(d, p);
    }
    pack_region(w.wcls.f32, d.vocab_size, d.dim, dst, cls);
    if (!d.shared_classifier) pack_region(w.token_embedding, d.vocab_size, d.dim, dst, emb);
}

PackedModel pack_model(const Model& model) {
    PackedModel pm;
    pm.layout = DeviceLayout::of(model.config(), model.path());
    std::array<lhk::Beat*, kPorts> dst{};
    for (int p = 0; p < kPorts; ++p) {
        pm.weights[size_t(p)] = BeatBuffer(pm.layout.weight_beats[size_t(p)]);
        dst[size_t(p)] = pm.weights[size_t(p)].data();
    }
    pack_weights(model, pm.layout, dst);
    return pm;
}

std::array<const lhk::Beat*, kPorts> matrix_ports(const PackedModel& packed, int layer, int which) {
    std::array<const lhk::Beat*, kPorts> r{};
    for (int p = 0; p < kPorts; ++p)
        r[size_t(p)] = packed.weights[size_t(p)].data() + lhk::matrix_offset(packed.layout.dims, p, layer, which);
    return r;
}

std::array<const lhk::Beat*, kPorts> classifier_ports(const PackedModel& packed) {
    std::array<const lhk::Beat*, kPorts> r{};
    for (int p = 0; p < kPorts; ++p)
        r[size_t(p)] = packed.weights[size_t(p)].data() + lhk::classifier_offset(packed.layout.dims, p);
    return r;
}

std::array<const lhk::Beat*, kPorts> PackedMatrix::ports() const {
    std::array<const lhk::Beat*, kPorts> r{};
    for (int p = 0; p < kPorts; ++p) r[size_t(p)] = port[size_t(p)].data();
    return r;
}

PackedMatrix pack_matrix(const WeightMatrix& w) {
    require_f32(w, "hls packing");
    if (w.rows <= 0 || w.cols <= 0 || w.rows > lhk::kMaxRows || w.cols > lhk::kMaxCols)
        throw InputError("hls packing: a " + std::to_string(w.rows) + "x" + std::to_string(w.cols) +
                         " matrix exceeds the kernels' maxima (" + std::to_string(lhk::kMaxRows) + "x" +
                         std::to_string(lhk::kMaxCols) + ")");
    PackedMatrix pm;
    pm.rows = w.rows;
    pm.cols = w.cols;
    std::array<lhk::Beat*, kPorts> dst{};
    for (int p = 0; p < kPorts; ++p) {
        pm.port[size_t(p)] = BeatBuffer(lhk::region_beats(w.rows, w.cols, p));
        dst[size_t(p)] = pm.port[size_t(p)].data();
    }
    pack_region(w.f32, w.rows, w.cols, dst, {});
    return pm;
}

std::array<BeatBuffer, lhk::kKvPorts> make_kv_stripes(const DeviceLayout& layout) {
    std::array<BeatBuffer, lhk::kKvPorts> s;
    for (auto& b : s) b = BeatBuffer(layout.kv_beats);
    return s;
}

void stripe_kv_layer(const lhk::ModelDims& d, int layer, int pos, const float* key_cache,
                     const float* value_cache, std::array<BeatBuffer, lhk::kKvPorts>& stripes) {
    // Rows are stored expanded: query head h's copy of KV head h / kv_mul (llama_layout.hpp).
    const int kv_dim = lhk::kv_dim_of(d), hs = lhk::head_size_of(d), kv_mul = lhk::kv_mul_of(d);
    for (int t = 0; t <= pos; ++t) {
        BeatBuffer& s = stripes[size_t(t % lhk::kKvPorts)];
        const int slot = t / lhk::kKvPorts;
        float* k = reinterpret_cast<float*>(s.data() + lhk::k_row_offset(d, layer, slot));
        float* v = reinterpret_cast<float*>(s.data() + lhk::v_row_offset(d, layer, slot));
        for (int h = 0; h < d.n_heads; ++h) {
            const int64_t src = int64_t(t) * kv_dim + int64_t(h / kv_mul) * hs;
            std::memcpy(k + h * hs, key_cache + src, size_t(hs) * sizeof(float));
            std::memcpy(v + h * hs, value_cache + src, size_t(hs) * sizeof(float));
        }
    }
}

void to_beats(const float* src, int n, lhk::Beat* dst) {
    const int nb = lhk::vec_beats(n);
    std::memset(dst, 0, size_t(nb) * lhk::kBeatBytes);
    std::memcpy(dst, src, size_t(n) * sizeof(float));
}

void from_beats(const lhk::Beat* src, int n, float* dst) { std::memcpy(dst, src, size_t(n) * sizeof(float)); }

}  // namespace lhb::hls
