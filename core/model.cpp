#include "core/model.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <tuple>

#include "core/error.hpp"
#include "core/gguf.hpp"
#include "core/mapped_file.hpp"

namespace lhb {

int64_t ModelConfig::n_params() const {
    const int64_t d = dim, h = hidden_dim, kv = kv_dim(), L = n_layers, V = vocab_size;
    int64_t per_layer = 2 * d + d * d * 2 + kv * d * 2 + 3 * d * h;
    return V * d * (shared_classifier ? 1 : 2) + L * per_layer + d;
}

void validate_config(const ModelConfig& c, const std::string& where) {
    auto positive = [&](const char* field, int v) {
        if (v <= 0) fail_input(where, field, "a positive integer", std::to_string(v));
    };
    positive("dim", c.dim);
    positive("hidden_dim", c.hidden_dim);
    positive("n_layers", c.n_layers);
    positive("n_heads", c.n_heads);
    positive("n_kv_heads", c.n_kv_heads);
    positive("vocab_size", c.vocab_size);
    positive("seq_len", c.seq_len);
    if (c.dim % c.n_heads != 0)
        fail_input(where, "n_heads", "a divisor of dim " + std::to_string(c.dim),
                   std::to_string(c.n_heads));
    if (c.n_heads % c.n_kv_heads != 0)
        fail_input(where, "n_kv_heads", "a divisor of n_heads " + std::to_string(c.n_heads),
                   std::to_string(c.n_kv_heads));
    if (c.head_size() % 2 != 0)
        fail_input(where, "head_size (dim / n_heads)", "an even number (RoPE rotates pairs)",
                   std::to_string(c.head_size()));
    // Caps well above any published LLaMA shape; they keep every size product (file size,
    // KV cache) inside int64 so a hostile header cannot wrap the size check.
    auto at_most = [&](const char* field, int v, int cap) {
        if (v > cap) fail_input(where, field, "at most " + std::to_string(cap), std::to_string(v));
    };
    at_most("dim", c.dim, 1 << 16);
    at_most("hidden_dim", c.hidden_dim, 1 << 18);
    at_most("n_layers", c.n_layers, 1 << 12);
    at_most("vocab_size", c.vocab_size, 1 << 21);
    at_most("seq_len", c.seq_len, 1 << 20);
}

const char* dtype_name(DType t) {
    switch (t) {
        case DType::F32: return "fp32";
        case DType::Q8_0: return "int8";
        case DType::Ggml: return "ggml";
    }
    return "?";
}

const WeightMatrix* LayerWeights::matrix(WeightRole role) const {
    switch (role) {
        case WeightRole::Wq: return &wq;
        case WeightRole::Wk: return &wk;
        case WeightRole::Wv: return &wv;
        case WeightRole::Wo: return &wo;
        case WeightRole::W1: return &w1;
        case WeightRole::W2: return &w2;
        case WeightRole::W3: return &w3;
        default: return nullptr;
    }
}

void ModelWeights::embedding_row(int token, int dim, float* out) const {
    if (token_embedding) {
        std::memcpy(out, token_embedding + int64_t(token) * dim, size_t(dim) * sizeof(float));
        return;
    }
    const WeightMatrix& e = embedding_blocks;
    if (e.dtype == DType::Q8_0) {  // runq.c's dequantization, one row at a time
        const int64_t first = int64_t(token) * dim;
        for (int64_t i = first; i < first + dim; ++i) out[i - first] = float(e.q[i]) * e.scales[i / e.group_size];
        return;
    }
    const size_t stride = row_bytes(e.ggml_type, size_t(e.cols));
    dequantize_row(e.ggml_type, e.blocks + size_t(token) * stride, out, size_t(dim));
}

const WeightMatrix* ModelWeights::matrix(WeightId id) const {
    if (id.role == WeightRole::Classifier) return &wcls;
    if (id.layer < 0 || id.layer >= int(layers.size())) return nullptr;
    return layers[size_t(id.layer)].matrix(id.role);
}

int64_t WeightMatrix::bytes() const {
    if (dtype == DType::F32) return numel() * 4;
    if (dtype == DType::Ggml) return int64_t(rows) * int64_t(row_bytes(ggml_type, size_t(cols)));
    return numel() + numel() / group_size * 4;
}

int64_t v0_file_size(const ModelConfig& c) {
    int64_t floats = c.n_params() - int64_t(c.vocab_size) * c.dim * (c.shared_classifier ? 0 : 1);
    floats += int64_t(c.seq_len) * c.head_size();  // freq_cis_real + freq_cis_imag
    if (!c.shared_classifier) floats += int64_t(c.vocab_size) * c.dim;
    return 28 + 4 * floats;
}

int64_t v1_file_size(const ModelConfig& c) { return 256 + 4 * c.n_params(); }

int64_t v2_file_size(const ModelConfig& c, int group_size) {
    const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers, V = c.vocab_size;
    auto q8 = [&](int64_t numel) { return numel + numel / group_size * 4; };
    int64_t bytes = 256 + 4 * (2 * L * d + d) + q8(V * d);
    bytes += L * (2 * q8(d * d) + 2 * q8(kv * d) + 3 * q8(h * d));
    if (!c.shared_classifier) bytes += q8(V * d);
    return bytes;
}

// ---------------------------------------------------------------------------------------

namespace {

constexpr uint32_t kMagic = 0x616b3432;  // "ak42"

int32_t read_i32(const unsigned char* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

ModelConfig config_from_ints(const unsigned char* p) {
    ModelConfig c;
    c.dim = read_i32(p + 0);
    c.hidden_dim = read_i32(p + 4);
    c.n_layers = read_i32(p + 8);
    c.n_heads = read_i32(p + 12);
    c.n_kv_heads = read_i32(p + 16);
    c.vocab_size = read_i32(p + 20);
    c.seq_len = read_i32(p + 24);
    return c;
}

// Hands out consecutive tensors of a mapped payload; never past `end`.
struct Cursor {
    const unsigned char* p;
    const unsigned char* end;
    const float* floats(int64_t n) {
        const float* f = reinterpret_cast<const float*>(p);
        p += n * 4;
        return f;
    }
};

WeightMatrix f32_matrix(const float* data, int rows, int cols) {
    WeightMatrix m;
    m.dtype = DType::F32;
    m.rows = rows;
    m.cols = cols;
    m.f32 = data;
    return m;
}

// Layer-major tensors stored as one block "all layers of X": the view of layer l.
void fill_layers_f32(ModelWeights& w, const ModelConfig& c, const float* wq, const float* wk,
                     const float* wv, const float* wo, const float* w1, const float* w2,
                     const float* w3, const float* rms_att, const float* rms_ffn) {
    const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim();
    w.layers.resize(size_t(c.n_layers));
    for (int64_t l = 0; l < c.n_layers; ++l) {
        LayerWeights& L = w.layers[size_t(l)];
        L.rms_att = rms_att + l * d;
        L.rms_ffn = rms_ffn + l * d;
        L.wq = f32_matrix(wq + l * d * d, c.dim, c.dim);
        L.wk = f32_matrix(wk + l * kv * d, c.kv_dim(), c.dim);
        L.wv = f32_matrix(wv + l * kv * d, c.kv_dim(), c.dim);
        L.wo = f32_matrix(wo + l * d * d, c.dim, c.dim);
        L.w1 = f32_matrix(w1 + l * h * d, c.hidden_dim, c.dim);
        L.w2 = f32_matrix(w2 + l * d * h, c.dim, c.hidden_dim);
        L.w3 = f32_matrix(w3 + l * h * d, c.hidden_dim, c.dim);
    }
}

// Every matrix of the model gets its id (WeightId), whichever file format laid it out.
void name_matrices(ModelWeights& w) {
    for (size_t l = 0; l < w.layers.size(); ++l) {
        LayerWeights& L = w.layers[l];
        WeightMatrix* in_role_order[kLayerWeightRoles] = {&L.wq, &L.wk, &L.wv, &L.wo, &L.w1, &L.w2, &L.w3};
        for (int r = 0; r < kLayerWeightRoles; ++r) in_role_order[r]->id = WeightId{int(l), WeightRole(r)};
    }
    w.wcls.id = WeightId{-1, WeightRole::Classifier};
}

void check_size(const std::string& path, size_t actual, int64_t expected, const char* what) {
    if (int64_t(actual) != expected)
        fail_input(path, "file size",
                   std::to_string(expected) + " bytes (what the " + what + " header implies)",
                   std::to_string(actual) + " bytes");
}

}  // namespace

Model::Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::open(const std::string& path, NonFiniteWeights non_finite) {
    Model m = load(path);
    m.context_length_ = m.config_.seq_len;
    if (non_finite == NonFiniteWeights::Allow) return m;
    const NonFiniteWeight bad = first_non_finite_weight(m.weights_, m.config_);
    if (!bad.tensor.empty())
        fail_input(path, bad.tensor, "finite weights (a corrupt or overflowed file?)",
                   std::string(std::isnan(bad.value) ? "NaN" : bad.value > 0 ? "+Inf" : "-Inf") + " at element " +
                       std::to_string(bad.index));
    return m;
}

namespace {

int64_t first_non_finite_in(const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(x[i])) return i;
    return -1;
}

bool fp16_non_finite(const unsigned char* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return (h & 0x7c00) == 0x7c00;  // all-ones exponent: Inf or NaN
}

// GGUF blocks: the first non-finite fp16 of a matrix, as (index, value). For F16 the index
// is the element's; for the block types it is the block's, the fp16 fields being the block
// scales (the integer quants are finite by construction). Q4_K has two (d, dmin): a
// non-finite dmin reports the same block index.
std::pair<int64_t, float> first_non_finite_ggml(const WeightMatrix& m) {
    std::vector<size_t> half_fields;  // byte offsets of the fp16 fields within a block
    switch (m.ggml_type) {
        case GgmlType::F16: half_fields = {0}; break;
        case GgmlType::Q8_0: half_fields = {offsetof(BlockQ8_0, d)}; break;
        case GgmlType::Q4_0: half_fields = {offsetof(BlockQ4_0, d)}; break;
        case GgmlType::Q4_K: half_fields = {offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)}; break;
        case GgmlType::Q6_K: half_fields = {offsetof(BlockQ6_K, d)}; break;
        default: return {-1, 0.f};
    }
    const BlockLayout b = *block_layout(uint32_t(m.ggml_type));
    const int64_t blocks = m.numel() / b.block_elems;
    for (int64_t i = 0; i < blocks; ++i)
        for (size_t off : half_fields) {
            const unsigned char* p = m.blocks + size_t(i) * b.block_bytes + off;
            if (fp16_non_finite(p)) {
                uint16_t h;
                std::memcpy(&h, p, 2);
                return {i, fp16_to_fp32(h)};
            }
        }
    return {-1, 0.f};
}

}  // namespace

NonFiniteWeight first_non_finite_weight(const ModelWeights& w, const ModelConfig& c) {
    NonFiniteWeight found;
    auto scan = [&](const float* x, int64_t n, const std::string& name) {
        if (!found.tensor.empty() || !x) return;
        const int64_t i = first_non_finite_in(x, n);
        if (i >= 0) found = {name, i, x[i]};
    };
    auto scan_matrix = [&](const WeightMatrix& m, const std::string& name) {
        if (m.dtype == DType::F32) {
            scan(m.f32, m.numel(), name);
        } else if (m.dtype == DType::Ggml) {
            if (!found.tensor.empty() || !m.blocks) return;
            auto [i, v] = first_non_finite_ggml(m);
            if (i >= 0) found = {m.ggml_type == GgmlType::F16 ? name : name + " scales", i, v};
        } else if (m.group_size > 0) {
            scan(m.scales, m.numel() / m.group_size, name + " scales");  // int8 values are finite
        }
    };
    if (w.token_embedding) scan(w.token_embedding, int64_t(c.vocab_size) * c.dim, "token_embedding");
    else scan_matrix(w.embedding_blocks, "token_embedding");
    for (size_t l = 0; l < w.layers.size(); ++l) {
        const LayerWeights& L = w.layers[l];
        const std::string layer = "layer " + std::to_string(l) + " ";
        scan(L.rms_att, c.dim, layer + "rms_att");
        for (auto [m, name] : {std::pair{&L.wq, "wq"}, {&L.wk, "wk"}, {&L.wv, "wv"}, {&L.wo, "wo"}})
            scan_matrix(*m, layer + name);
        scan(L.rms_ffn, c.dim, layer + "rms_ffn");
        for (auto [m, name] : {std::pair{&L.w1, "w1"}, {&L.w2, "w2"}, {&L.w3, "w3"}}) scan_matrix(*m, layer + name);
    }
    scan(w.rms_final, c.dim, "rms_final");
    // A shared classifier is the embedding, already scanned (for Q8_0 its scales; a tied
    // GGUF output is the embedding's own blocks).
    if (!c.shared_classifier) scan_matrix(w.wcls, "wcls");
    return found;
}

Model Model::load(const std::string& path) {
    Model m;
    m.path_ = path;
    m.file_ = std::make_unique<MappedFile>(path);
    const unsigned char* base = m.file_->data();
    const size_t size = m.file_->size();
    if (size >= 4 && std::memcmp(base, "GGUF", 4) == 0) {
        m.load_gguf(base, size);
        name_matrices(m.weights_);
        return m;
    }
    if (size < 28)
        fail_input(path, "header", "at least 28 bytes (llama2.c checkpoint)",
                   std::to_string(size) + " bytes");

    uint32_t magic;
    std::memcpy(&magic, base, 4);
    ModelConfig& c = m.config_;
    ModelWeights& w = m.weights_;

    if (magic == kMagic) {
        if (size < 256)
            fail_input(path, "header", "256 bytes (version 1/2 header)", std::to_string(size) + " bytes");
        int32_t version = read_i32(base + 4);
        if (version == 2) {
            m.load_v2(base, size);
            name_matrices(w);
            return m;
        }
        if (version != 1) fail_input(path, "version", "1 or 2", std::to_string(version));
        m.format_ = FileFormat::V1Fp32;
        c = config_from_ints(base + 8);
        uint8_t shared = base[36];
        if (shared > 1) fail_input(path, "shared_classifier", "0 or 1", std::to_string(shared));
        c.shared_classifier = shared == 1;
        validate_config(c, path);
        check_size(path, size, v1_file_size(c), "version-1");

        const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers, V = c.vocab_size;
        Cursor cur{base + 256, base + size};
        const float* rms_att = cur.floats(L * d);
        const float* rms_ffn = cur.floats(L * d);
        w.rms_final = cur.floats(d);
        w.token_embedding = cur.floats(V * d);
        const float* wq = cur.floats(L * d * d);
        const float* wk = cur.floats(L * kv * d);
        const float* wv = cur.floats(L * kv * d);
        const float* wo = cur.floats(L * d * d);
        const float* w1 = cur.floats(L * h * d);
        const float* w2 = cur.floats(L * d * h);
        const float* w3 = cur.floats(L * h * d);
        const float* wcls = c.shared_classifier ? w.token_embedding : cur.floats(V * d);
        fill_layers_f32(w, c, wq, wk, wv, wo, w1, w2, w3, rms_att, rms_ffn);
        w.wcls = f32_matrix(wcls, c.vocab_size, c.dim);
        name_matrices(w);
        return m;
    }

    // Legacy v0: 7 int32, sign of vocab_size flags the unshared classifier.
    m.format_ = FileFormat::V0Legacy;
    c = config_from_ints(base);
    c.shared_classifier = c.vocab_size > 0;
    if (c.vocab_size == INT32_MIN)
        fail_input(path, "vocab_size", "a non-zero integer", std::to_string(c.vocab_size));
    c.vocab_size = c.vocab_size < 0 ? -c.vocab_size : c.vocab_size;
    validate_config(c, path);
    check_size(path, size, v0_file_size(c), "v0 (legacy llama2.c)");

    const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers, V = c.vocab_size;
    Cursor cur{base + 28, base + size};
    w.token_embedding = cur.floats(V * d);
    const float* rms_att = cur.floats(L * d);
    const float* wq = cur.floats(L * d * d);
    const float* wk = cur.floats(L * kv * d);
    const float* wv = cur.floats(L * kv * d);
    const float* wo = cur.floats(L * d * d);
    const float* rms_ffn = cur.floats(L * d);
    const float* w1 = cur.floats(L * h * d);
    const float* w2 = cur.floats(L * d * h);
    const float* w3 = cur.floats(L * h * d);
    w.rms_final = cur.floats(d);
    cur.floats(int64_t(c.seq_len) * c.head_size());  // stored RoPE tables, recomputed instead
    const float* wcls = c.shared_classifier ? w.token_embedding : cur.floats(V * d);
    fill_layers_f32(w, c, wq, wk, wv, wo, w1, w2, w3, rms_att, rms_ffn);
    w.wcls = f32_matrix(wcls, c.vocab_size, c.dim);
    name_matrices(w);
    return m;
}

// Version 2 (export.py --version 2, runq.c): fp32 norms, then every matrix as int8 values
// followed by one fp32 scale per group_size values, one (q, s) pair per tensor per layer.
void Model::load_v2(const unsigned char* base, size_t size) {
    const std::string& path = path_;
    format_ = FileFormat::V2Q8;
    ModelConfig& c = config_;
    c = config_from_ints(base + 8);
    uint8_t shared = base[36];
    if (shared > 1) fail_input(path, "shared_classifier", "0 or 1", std::to_string(shared));
    c.shared_classifier = shared == 1;
    validate_config(c, path);
    const int32_t gs = read_i32(base + 37);
    if (gs <= 0) fail_input(path, "group_size", "a positive integer", std::to_string(gs));
    // runq.c groups each row of length dim or hidden_dim; a group that straddles two rows
    // silently corrupts the matmul, so such a file (export.py writes them when only dim is
    // divisible) is refused.
    if (c.dim % gs != 0 || c.hidden_dim % gs != 0)
        fail_input(path, "group_size",
                   "a divisor of dim " + std::to_string(c.dim) + " and hidden_dim " +
                       std::to_string(c.hidden_dim) + " (re-quantize with bench quantize)",
                   std::to_string(gs));
    check_size(path, size, v2_file_size(c, gs), "version-2 (int8)");

    const int64_t d = c.dim, L = c.n_layers;
    ModelWeights& w = weights_;
    Cursor cur{base + 256, base + size};
    const float* rms_att = cur.floats(L * d);
    const float* rms_ffn = cur.floats(L * d);
    w.rms_final = cur.floats(d);

    // Scales follow int8 arrays, so they are 4-byte aligned only when numel is; misaligned
    // ones are copied (reading a float through a misaligned pointer is undefined).
    std::vector<std::pair<const unsigned char*, int64_t>> misaligned;
    auto q8 = [&](int rows, int cols) {
        WeightMatrix m;
        m.dtype = DType::Q8_0;
        m.rows = rows;
        m.cols = cols;
        m.group_size = gs;
        m.q = reinterpret_cast<const int8_t*>(cur.p);
        cur.p += m.numel();
        if (reinterpret_cast<uintptr_t>(cur.p) % alignof(float) == 0) {
            m.scales = reinterpret_cast<const float*>(cur.p);
        } else {
            misaligned.push_back({cur.p, m.numel() / gs});
            m.scales = nullptr;  // filled below, once owned storage stops growing
        }
        cur.p += m.numel() / gs * 4;
        return m;
    };
    WeightMatrix embedding = q8(c.vocab_size, c.dim);
    w.layers.resize(size_t(L));
    for (auto [field, rows, cols] : {std::tuple{&LayerWeights::wq, c.dim, c.dim},
                                     {&LayerWeights::wk, c.kv_dim(), c.dim},
                                     {&LayerWeights::wv, c.kv_dim(), c.dim},
                                     {&LayerWeights::wo, c.dim, c.dim},
                                     {&LayerWeights::w1, c.hidden_dim, c.dim},
                                     {&LayerWeights::w2, c.dim, c.hidden_dim},
                                     {&LayerWeights::w3, c.hidden_dim, c.dim}})
        for (int64_t l = 0; l < L; ++l) w.layers[size_t(l)].*field = q8(rows, cols);
    w.wcls = c.shared_classifier ? embedding : q8(c.vocab_size, c.dim);
    for (int64_t l = 0; l < L; ++l) {
        w.layers[size_t(l)].rms_att = rms_att + l * d;
        w.layers[size_t(l)].rms_ffn = rms_ffn + l * d;
    }

    // The embedding stays in the file's int8 (runq.c dequantizes the whole table at load,
    // a second copy 4x the size of the int8 one); embedding_row dequantizes the row it is
    // asked for, with runq.c's arithmetic. Owned storage holds only misaligned scales.
    int64_t extra = 0;
    for (auto& [p, n] : misaligned) extra += n;
    owned_.resize(size_t(extra));
    w.token_embedding = nullptr;
    if (!misaligned.empty()) {
        float* dst = owned_.data();
        auto fix = [&](WeightMatrix& m) {
            if (m.scales) return;
            const unsigned char* src = reinterpret_cast<const unsigned char*>(m.q) + m.numel();
            std::memcpy(dst, src, size_t(m.numel() / gs) * 4);
            m.scales = dst;
            dst += m.numel() / gs;
        };
        for (LayerWeights& lw : w.layers)
            for (WeightMatrix* m : {&lw.wq, &lw.wk, &lw.wv, &lw.wo, &lw.w1, &lw.w2, &lw.w3}) fix(*m);
        const bool cls_is_embedding = c.shared_classifier;
        fix(embedding);
        if (cls_is_embedding) w.wcls = embedding;
        else fix(w.wcls);
    }
    w.embedding_blocks = embedding;
}

// GGUF, llama architecture (core/gguf.hpp validates the container and the llama view; the
// rules are in docs/gguf.md): every tensor stays where the file has it.
void Model::load_gguf(const unsigned char* base, size_t size) {
    const std::string& path = path_;
    format_ = FileFormat::Gguf;
    gguf_ = std::make_unique<GgufFile>(path, base, size);
    const GgufLlama g = read_llama(*gguf_);
    ModelConfig& c = config_;
    c.dim = g.config.dim;
    c.hidden_dim = g.config.hidden_dim;
    c.n_layers = g.config.n_layers;
    c.n_heads = g.config.n_heads;
    c.n_kv_heads = g.config.n_kv_heads;
    c.vocab_size = g.config.vocab_size;
    c.seq_len = g.config.context_length;
    c.shared_classifier = g.tied_output;
    c.rope_theta = g.config.rope_freq_base;
    c.norm_eps = g.config.rms_eps;
    validate_config(c, path);

    // F32 data is read as floats in place: a tensor at an offset that is no multiple of 4
    // (possible only with general.alignment 1 or 2) would be a misaligned float pointer.
    auto floats = [&](const GgufTensorInfo* t) {
        if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0)
            fail_input(path, "tensor '" + std::string(t->name) + "' data",
                       "F32 data at a multiple of 4 bytes (general.alignment >= 4)",
                       "offset " + std::to_string(t->data - base));
        return reinterpret_cast<const float*>(t->data);
    };
    auto matrix = [&](const GgufTensorInfo* t) {
        WeightMatrix m;
        m.rows = int(t->ne[1]);
        m.cols = int(t->ne[0]);
        if (t->ggml_type() == GgmlType::F32) {
            m.dtype = DType::F32;
            m.f32 = floats(t);
        } else {
            m.dtype = DType::Ggml;
            m.ggml_type = t->ggml_type();
            m.blocks = t->data;
        }
        return m;
    };
    ModelWeights& w = weights_;
    const WeightMatrix embedding = matrix(g.token_embd);
    if (embedding.dtype == DType::F32) w.token_embedding = embedding.f32;
    else w.embedding_blocks = embedding;
    w.layers.resize(g.layers.size());
    for (size_t l = 0; l < g.layers.size(); ++l) {
        const GgufLlamaLayer& G = g.layers[l];
        LayerWeights& L = w.layers[l];
        L.rms_att = floats(G.attn_norm);
        L.rms_ffn = floats(G.ffn_norm);
        L.wq = matrix(G.wq);
        L.wk = matrix(G.wk);
        L.wv = matrix(G.wv);
        L.wo = matrix(G.wo);
        L.w1 = matrix(G.w1);
        L.w2 = matrix(G.w2);
        L.w3 = matrix(G.w3);
    }
    w.rms_final = floats(g.output_norm);
    w.wcls = matrix(g.output);  // read_llama's output is token_embd when tied
}

std::string Model::extend_context(int positions) {
    if (format_ != FileFormat::Gguf || positions <= config_.seq_len) return "";
    ModelConfig wider = config_;
    wider.seq_len = positions;
    validate_config(wider, path_);  // the same cap on seq_len as a file's
    config_ = wider;
    GgufLlamaConfig trained;
    trained.context_length = context_length_;
    return context_length_warning(trained, positions, path_);
}

std::string first_ggml_weight(const ModelWeights& w) {
    auto named = [](const WeightMatrix& m, const std::string& name) {
        return name + " (" + ggml_type_name(uint32_t(m.ggml_type)) + ")";
    };
    if (!w.token_embedding && w.embedding_blocks.dtype == DType::Ggml) return named(w.embedding_blocks, "token_embedding");
    static const char* role_names[kLayerWeightRoles] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};
    for (size_t l = 0; l < w.layers.size(); ++l)
        for (int r = 0; r < kLayerWeightRoles; ++r) {
            const WeightMatrix& m = *w.layers[l].matrix(WeightRole(r));
            if (m.dtype == DType::Ggml) return named(m, "layer " + std::to_string(l) + " " + role_names[r]);
        }
    if (w.wcls.dtype == DType::Ggml) return named(w.wcls, "wcls");
    return "";
}

size_t Model::release_pages(const void* p, size_t n) const { return file_ ? file_->release_pages(p, n) : 0; }

int64_t Model::weight_bytes_per_token() const {
    const ModelConfig& c = config_;
    // The embedding row as stored (fp32, or one row of its blocks), the fp32 norms.
    const WeightMatrix& e = weights_.embedding_blocks;
    int64_t bytes = weights_.token_embedding ? int64_t(c.dim) * 4 : e.bytes() / e.rows;
    bytes += int64_t(c.dim) * 4 * (2 * c.n_layers + 1);
    for (const LayerWeights& L : weights_.layers)
        bytes += L.wq.bytes() + L.wk.bytes() + L.wv.bytes() + L.wo.bytes() + L.w1.bytes() +
                 L.w2.bytes() + L.w3.bytes();
    return bytes + weights_.wcls.bytes();
}

}  // namespace lhb
