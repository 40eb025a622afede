#include "host/packing.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include <sys/mman.h>

#include "core/error.hpp"
#include "core/quantize.hpp"
#include "core/quant_types.hpp"

namespace lhb::hls {

namespace {
// From this size on a buffer is fresh anonymous pages: zero without being written, so the
// zeroed weights of a trace (which only reads them) cost no memory (TinyLlama's are 4.4 GB).
// Not under AddressSanitizer, which guards heap blocks only: there a read past a buffer's
// end must still be caught.
#ifdef __SANITIZE_ADDRESS__
constexpr size_t kMappedBytes = SIZE_MAX;
#else
constexpr size_t kMappedBytes = size_t(1) << 20;
#endif
}  // namespace

void BeatBuffer::Free::operator()(lhk::Beat* p) const {
    if (bytes >= kMappedBytes) munmap(p, bytes);
    else std::free(p);
}

BeatBuffer::BeatBuffer(int64_t beats) : beats_(beats) {
    if (beats <= 0) {
        beats_ = 0;
        return;
    }
    // Page aligned like an XRT buffer object; zeroed so that padding reads as 0.
    const size_t bytes = (size_t(beats) * lhk::kBeatBytes + 4095) / 4096 * 4096;
    void* p = nullptr;
    if (bytes >= kMappedBytes) {
        p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) p = nullptr;
    } else if ((p = std::aligned_alloc(4096, bytes))) {
        std::memset(p, 0, bytes);
    }
    if (!p)
        throw InputError("hls packing: cannot allocate a device buffer of " + std::to_string(bytes) +
                         " bytes");
    data_ = std::unique_ptr<lhk::Beat[], Free>(static_cast<lhk::Beat*>(p), Free{bytes});
}

lhk::ModelDims dims_of(const ModelConfig& c, int group_size, int kv_bits) {
    lhk::ModelDims d{};
    d.group_size = is_q4_precision(group_size) ? 0 : group_size;
    d.weight_bits = is_q4_precision(group_size) ? 4 : group_size > 0 ? 8 : 32;
    d.q4_formats = is_q4_precision(group_size) ? q4_formats_of_precision(group_size) : 0;
    d.kv_bits = kv_bits;
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

int group_size_of(const Model& model) {
    if (holds_4bit_matrices(model)) return q4_precision(q4_formats_of(model));
    return model.dtype() == DType::Q8_0 ? model.weights().wcls.group_size : 0;
}

int kv_bits_of_type(const std::string& kv_type, const std::string& who) {
    if (kv_type == "f32") return 32;
    if (kv_type == "q8") return 8;
    throw InputError(who + ": kv_type '" + kv_type + "' is not one of f32, q8");
}

void check_fits(const ModelConfig& c, const std::string& where, int group_size, int kv_bits) {
    // The kernels compute with llama2.c's constants (kernels/primitives/rmsnorm.hpp, rope.hpp).
    const ModelConfig llama2c;
    if (c.norm_eps != llama2c.norm_eps || c.rope_theta != llama2c.rope_theta) {
        char found[96];
        std::snprintf(found, sizeof found, "epsilon %g and RoPE base %g", double(c.norm_eps), double(c.rope_theta));
        throw InputError(where + ": does not fit the HLS kernels: they compute with llama2.c's RMSNorm epsilon 1e-5 "
                         "and RoPE base 10000, this model has " + found);
    }
    const char* why = nullptr;
    if (!lhk::dims_fit(dims_of(c, group_size, kv_bits), &why))
        throw InputError(where + ": does not fit the HLS kernels: " + why +
                         (group_size > 0 ? " (group size " + std::to_string(group_size) + ")"
                          : is_q4_precision(group_size) ? std::string(" (4-bit weights)") : std::string()) +
                         " (maxima in kernels/hls_config.hpp)");
}

int64_t DeviceLayout::total_bytes() const {
    int64_t beats = logits_beats + kv_beats * lhk::kKvPorts;
    for (int64_t b : weight_beats) beats += b;
    return beats * lhk::kBeatBytes;
}

DeviceLayout DeviceLayout::of(const Model& model, int kv_bits) {
    return of(model.config(), model.path(), group_size_of(model), kv_bits);
}

DeviceLayout DeviceLayout::of(const ModelConfig& c, const std::string& where, int group_size, int kv_bits) {
    check_fits(c, where, group_size, kv_bits);
    DeviceLayout l;
    l.dims = dims_of(c, group_size, kv_bits);
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

// A model matrix in the precision of the layout.
void require_precision(const WeightMatrix& w, const lhk::ModelDims& d, const std::string& where) {
    if (d.group_size == 0 && (w.dtype != DType::F32 || !w.f32))
        throw InputError(where + ": an fp32 device layout needs fp32 weights, found " + dtype_name(w.dtype));
    if (d.group_size > 0 && (w.dtype != DType::Q8_0 || !w.q || !w.scales || w.group_size != d.group_size))
        throw InputError(where + ": an int8 device layout in groups of " + std::to_string(d.group_size) +
                         " needs Q8_0 weights in those groups, found " + dtype_name(w.dtype) +
                         (w.dtype == DType::Q8_0 ? " in groups of " + std::to_string(w.group_size) : std::string()));
}

// A model matrix of kind `kind` (lhk::kWq..kW3, kQ4Classifier) into its region on every port,
// in the layout's precision.
void pack_matrix_region(const WeightMatrix& w, int kind, const lhk::ModelDims& d,
                        const std::array<lhk::Beat*, kPorts>& dst, const std::array<int64_t, kPorts>& offset,
                        const std::string& where) {
    if (lhk::is_q4(d)) return pack_q4_rows(w, lhk::q4_format_of(d, kind), dst, offset);
    require_precision(w, d, where);
    if (d.group_size > 0) pack_q8_rows(w, dst, offset);
    else pack_region(w.f32, w.rows, w.cols, dst, offset);
}

}  // namespace

void pack_q8_rows(const WeightMatrix& w, const std::array<lhk::Beat*, kPorts>& dst,
                  const std::array<int64_t, kPorts>& offset) {
    const int gs = w.group_size, cols = w.cols;
    const int groups = cols / gs;
    const int slices = lhk::ceil_div(gs, lhk::kQ8Cols);  // weight beats per group
    const int pb = lhk::q8_pair_beats(cols, gs);
    for (int r = 0; r < w.rows; ++r) {
        const int p = r % kPorts, local = r / kPorts;
        const int half = local % lhk::kQ8RowsPerBeat;  // row A (0) or B (1) of its pair
        auto* pair = reinterpret_cast<unsigned char*>(dst[size_t(p)] + offset[size_t(p)] +
                                                     int64_t(local / lhk::kQ8RowsPerBeat) * pb);
        const int8_t* q = w.q + int64_t(r) * cols;
        const float* s = w.scales + int64_t(r) * groups;
        int beat = 0;
        for (int g0 = 0; g0 < groups; g0 += lhk::kQ8ChunkGroups) {
            // The chunk's scale beat: kQ8ChunkGroups scales of row A, then of row B.
            float* scales = reinterpret_cast<float*>(pair + int64_t(beat) * lhk::kBeatBytes);
            for (int k = 0; k < lhk::kQ8ChunkGroups && g0 + k < groups; ++k)
                scales[half * lhk::kQ8ChunkGroups + k] = s[g0 + k];
            ++beat;
            for (int g = g0; g < g0 + lhk::kQ8ChunkGroups && g < groups; ++g)
                for (int k = 0; k < slices; ++k, ++beat) {
                    unsigned char* out = pair + int64_t(beat) * lhk::kBeatBytes + half * lhk::kQ8Cols;
                    const int n = std::min(lhk::kQ8Cols, gs - k * lhk::kQ8Cols);
                    std::memcpy(out, q + int64_t(g) * gs + k * lhk::kQ8Cols, size_t(n));
                }
        }
    }
}

void pack_weights(const Model& model, const DeviceLayout& layout,
                  const std::array<lhk::Beat*, kPorts>& dst) {
    const lhk::ModelDims& d = layout.dims;
    const ModelWeights& w = model.weights();
    const std::string where = model.path();
    for (int l = 0; l < d.n_layers; ++l) {
        const LayerWeights& L = w.layers[size_t(l)];
        for (int m = 0; m < lhk::kMatricesPerLayer; ++m) {  // a role is its kernel index (lhk::kWq..kW3)
            std::array<int64_t, kPorts> off{};
            for (int p = 0; p < kPorts; ++p) off[size_t(p)] = lhk::matrix_offset(d, p, l, m);
            pack_matrix_region(*L.matrix(WeightRole(m)), m, d, dst, off, where);
        }
        pack_vector(L.rms_att, d.dim, dst[0] + lhk::rms_att_offset(d, l));
        pack_vector(L.rms_ffn, d.dim, dst[0] + lhk::rms_ffn_offset(d, l));
    }
    pack_vector(w.rms_final, d.dim, dst[0] + lhk::rms_final_offset(d));

    std::array<int64_t, kPorts> cls{}, emb{};
    for (int p = 0; p < kPorts; ++p) {
        cls[size_t(p)] = lhk::classifier_offset(d, p);
        emb[size_t(p)] = lhk::embedding_offset(d, p);
    }
    pack_matrix_region(w.wcls, lhk::kQ4Classifier, d, dst, cls, where);
    // int8 and 4-bit models keep an fp32 table for lookups (runq.c's dequantized embedding), made here
    // a row at a time by the model's own dequantization.
    if (lhk::embedding_separate(d)) {
        std::vector<float> table;
        const float* fp32 = w.token_embedding;
        if (!fp32) {
            table.resize(size_t(d.vocab_size) * size_t(d.dim));
            for (int t = 0; t < d.vocab_size; ++t) w.embedding_row(t, d.dim, table.data() + size_t(t) * size_t(d.dim));
            fp32 = table.data();
        }
        pack_region(fp32, d.vocab_size, d.dim, dst, emb);
    }
}

PackedModel pack_model(const Model& model) {
    PackedModel pm;
    pm.layout = DeviceLayout::of(model);
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
    if (w.rows <= 0 || w.cols <= 0 || w.rows > lhk::kMaxRows || w.cols > lhk::kMaxCols)
        throw InputError("hls packing: a " + std::to_string(w.rows) + "x" + std::to_string(w.cols) +
                         " matrix exceeds the kernels' maxima (" + std::to_string(lhk::kMaxRows) + "x" +
                         std::to_string(lhk::kMaxCols) + ")");
    const bool q8 = w.dtype == DType::Q8_0;
    if (q8 && (w.group_size < lhk::kMinGroupSize || w.group_size > lhk::kMaxGroupSize ||
               w.group_size % lhk::kMinGroupSize != 0 || w.cols % w.group_size != 0))
        throw InputError("hls packing: int8 group size " + std::to_string(w.group_size) + " for rows of " +
                         std::to_string(w.cols) + ": the kernels take a multiple of 4 up to 64 that divides the row");
    if (q8 && lhk::q8_pair_beats(w.cols, w.group_size) > lhk::kMaxQ8PairBeats)
        throw InputError("hls packing: int8 group size " + std::to_string(w.group_size) + " for rows of " +
                         std::to_string(w.cols) + ": a row pair exceeds kMaxQ8PairBeats (" +
                         std::to_string(lhk::kMaxQ8PairBeats) + " beats; take a larger group)");
    const int q4 = w.dtype == DType::Ggml ? q4_format_of_type(w.ggml_type) : -1;
    if (w.dtype == DType::Ggml && (q4 < 0 || !lhk::q4_cols_fit(w.cols, q4)))
        throw InputError(std::string("hls packing: a ") + ggml_type_name(uint32_t(w.ggml_type)) + " matrix of " +
                         std::to_string(w.cols) + " columns: the kernels take Q4_0 (rows of 32s), Q4_K and Q6_K "
                         "(rows of 256s)");
    PackedMatrix pm;
    pm.rows = w.rows;
    pm.cols = w.cols;
    pm.group_size = q8 ? w.group_size : q4 >= 0 ? lhk::q4_matmul_code(q4) : 0;
    lhk::ModelDims d{};
    d.group_size = q8 ? w.group_size : 0;
    if (q4 >= 0) {
        d.weight_bits = 4;
        d.q4_formats = q4_uniform_formats(q4);
    }
    std::array<lhk::Beat*, kPorts> dst{};
    for (int p = 0; p < kPorts; ++p) {
        pm.port[size_t(p)] = BeatBuffer(lhk::kind_region_beats(d, lhk::kWq, w.rows, w.cols, p));
        dst[size_t(p)] = pm.port[size_t(p)].data();
    }
    pack_matrix_region(w, lhk::kWq, d, dst, {}, "hls packing");
    return pm;
}

std::array<BeatBuffer, lhk::kKvPorts> make_kv_stripes(const DeviceLayout& layout) {
    std::array<BeatBuffer, lhk::kKvPorts> s;
    for (auto& b : s) b = BeatBuffer(layout.kv_beats);
    return s;
}

lhk::ModelDims single_layer_attention_dims(const AttentionShape& s, int pos, const std::string& who, int kv_bits) {
    lhk::ModelDims d{};
    d.dim = s.n_heads * s.head_size;
    d.hidden_dim = d.dim;
    d.n_layers = 1;
    d.n_heads = s.n_heads;
    d.n_kv_heads = s.n_kv_heads;
    d.vocab_size = 1;
    d.seq_len = lhk::kMaxSeqLen;
    d.shared_classifier = 1;
    d.kv_bits = kv_bits;
    const char* why = nullptr;
    if (!lhk::dims_fit(d, &why) || pos < 0 || pos >= lhk::kMaxSeqLen)
        throw InputError(who + ": attention shape does not fit the kernels: " + (why ? why : "pos exceeds kMaxSeqLen"));
    return d;
}

void pack_kv_row(const lhk::ModelDims& d, const float* row, lhk::Beat* dst) {
    const int kv_dim = lhk::kv_dim_of(d), hs = lhk::head_size_of(d);
    if (!lhk::is_kv8(d)) {
        std::memcpy(dst, row, size_t(kv_dim) * sizeof(float));
        return;
    }
    const int sb = lhk::kv_scale_beats_of(d), hb = lhk::kv_head_beats(d);
    std::memset(dst, 0, size_t(lhk::kv_row_beats(d)) * lhk::kBeatBytes);
    float* scales = reinterpret_cast<float*>(dst);
    for (int g = 0; g < d.n_kv_heads; ++g) {
        // runq.c's quantizer (the kernels' kv_store runs the same arithmetic on chip).
        int8_t* q = reinterpret_cast<int8_t*>(dst + sb + int64_t(g) * hb);
        quantize_activations_q8(row + int64_t(g) * hs, hs, hs, q, scales + g);
    }
}

void unpack_kv_row(const lhk::ModelDims& d, const lhk::Beat* src, float* row) {
    const int kv_dim = lhk::kv_dim_of(d), hs = lhk::head_size_of(d);
    if (!lhk::is_kv8(d)) {
        std::memcpy(row, src, size_t(kv_dim) * sizeof(float));
        return;
    }
    const int sb = lhk::kv_scale_beats_of(d), hb = lhk::kv_head_beats(d);
    const float* scales = reinterpret_cast<const float*>(src);
    for (int g = 0; g < d.n_kv_heads; ++g) {
        const int8_t* q = reinterpret_cast<const int8_t*>(src + sb + int64_t(g) * hb);
        for (int i = 0; i < hs; ++i) row[g * hs + i] = scales[g] * float(q[i]);
    }
}

void stripe_kv_layer(const lhk::ModelDims& d, int layer, int pos, const float* key_cache,
                     const float* value_cache, std::array<BeatBuffer, lhk::kKvPorts>& stripes) {
    std::array<lhk::Beat*, lhk::kKvPorts> dst{};
    for (int p = 0; p < lhk::kKvPorts; ++p) dst[size_t(p)] = stripes[size_t(p)].data();
    stripe_kv_layer(d, layer, pos, key_cache, value_cache, dst);
}

void stripe_kv_layer(const lhk::ModelDims& d, int layer, int pos, const float* key_cache,
                     const float* value_cache, const std::array<lhk::Beat*, lhk::kKvPorts>& stripes) {
    const int kv_dim = lhk::kv_dim_of(d);
    for (int t = 0; t <= pos; ++t) {
        lhk::Beat* s = stripes[size_t(t % lhk::kKvPorts)];
        const int slot = t / lhk::kKvPorts;
        pack_kv_row(d, key_cache + int64_t(t) * kv_dim, s + lhk::k_row_offset(d, layer, slot));
        pack_kv_row(d, value_cache + int64_t(t) * kv_dim, s + lhk::v_row_offset(d, layer, slot));
    }
}

void to_beats(const float* src, int n, lhk::Beat* dst) {
    const int nb = lhk::vec_beats(n);
    std::memset(dst, 0, size_t(nb) * lhk::kBeatBytes);
    std::memcpy(dst, src, size_t(n) * sizeof(float));
}

void from_beats(const lhk::Beat* src, int n, float* dst) { std::memcpy(dst, src, size_t(n) * sizeof(float)); }

int64_t token_beats(int steps) { return lhk::ceil_div64(std::max(steps, 1), lhk::kFloatsPerBeat); }

int read_token_ids(const lhk::Beat* src, int steps, int vocab_size, const char* who, std::vector<int>& out) {
    int n = 0;
    while (n < steps) {
        const int32_t id = int32_t(lhk::bits_of(src[n / lhk::kFloatsPerBeat].v[n % lhk::kFloatsPerBeat]));
        if (id < 0 || id >= vocab_size)
            throw InputError(std::string(who) + ": the device decoded token id " + std::to_string(id) +
                             " at step " + std::to_string(n) + ", outside the vocabulary of " +
                             std::to_string(vocab_size));
        out.push_back(id);
        ++n;
        if (id == lhk::kBosToken) break;
    }
    return n;
}

}  // namespace lhb::hls
