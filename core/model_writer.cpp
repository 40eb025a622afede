#include "core/model_writer.hpp"

#include <cctype>
#include <cfenv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/gguf_writer.hpp"
#include "core/quantize.hpp"
#include "core/tokenizer.hpp"

namespace lhb {

bool TensorRef::is_norm() const {
    return kind == TensorKind::AttnNorm || kind == TensorKind::FfnNorm || kind == TensorKind::FinalNorm;
}

namespace {

TensorRef tensor(const ModelConfig& c, TensorKind kind, int layer) {
    const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), V = c.vocab_size;
    switch (kind) {
        case TensorKind::Embedding:
        case TensorKind::Classifier: return {kind, -1, V, d};
        case TensorKind::FinalNorm: return {kind, -1, 1, d};
        case TensorKind::AttnNorm:
        case TensorKind::FfnNorm: return {kind, layer, 1, d};
        case TensorKind::Wq:
        case TensorKind::Wo: return {kind, layer, d, d};
        case TensorKind::Wk:
        case TensorKind::Wv: return {kind, layer, kv, d};
        case TensorKind::W1:
        case TensorKind::W3: return {kind, layer, h, d};
        case TensorKind::W2: return {kind, layer, d, h};
    }
    return {};
}

constexpr TensorKind kLayerKindsV0[] = {TensorKind::AttnNorm, TensorKind::Wq, TensorKind::Wk, TensorKind::Wv,
                                        TensorKind::Wo, TensorKind::FfnNorm, TensorKind::W1, TensorKind::W2,
                                        TensorKind::W3};
constexpr TensorKind kLayerMatrices[] = {TensorKind::Wq, TensorKind::Wk, TensorKind::Wv, TensorKind::Wo,
                                         TensorKind::W1, TensorKind::W2, TensorKind::W3};

// The file in order, each tensor's rows encoded by `put` into a buffer that is written in
// pieces of about a megabyte.
class RowWriter {
public:
    explicit RowWriter(AtomicFile& f) : f_(f) {}
    void bytes(const void* p, size_t n) {
        const auto* c = static_cast<const char*>(p);
        buf_.insert(buf_.end(), c, c + n);
        if (buf_.size() >= kChunk) flush();
    }
    void zeros(size_t n) { buf_.resize(buf_.size() + n, '\0'); }
    void flush() {
        if (!buf_.empty()) f_.write(buf_.data(), buf_.size());
        buf_.clear();
    }

private:
    static constexpr size_t kChunk = 1 << 20;
    AtomicFile& f_;
    std::vector<char> buf_;
};

void check_limit(const std::string& path, uint64_t bytes, uint64_t max_bytes) {
    if (bytes > max_bytes)
        throw InputError(path + ": not written: the file would take " + std::to_string(bytes) +
                         " bytes, expected at most " + std::to_string(max_bytes) + " bytes (the size limit, --max-size)");
}

void check_llama2c_constants(const ModelConfig& c, const std::string& where) {
    if (c.rope_theta != 10000.0f)
        fail_input(where, "RoPE base", "10000 (llama2.c's fixed value; its files cannot store another)",
                   std::to_string(c.rope_theta));
    if (c.norm_eps != 1e-5f)
        fail_input(where, "RMSNorm epsilon", "1e-5 (llama2.c's fixed value; its files cannot store another)",
                   std::to_string(c.norm_eps));
}

}  // namespace

std::vector<TensorRef> llama2c_v0_order(const ModelConfig& c) {
    std::vector<TensorRef> order{tensor(c, TensorKind::Embedding, -1)};
    for (TensorKind k : kLayerKindsV0)
        for (int l = 0; l < c.n_layers; ++l) order.push_back(tensor(c, k, l));
    order.push_back(tensor(c, TensorKind::FinalNorm, -1));
    if (!c.shared_classifier) order.push_back(tensor(c, TensorKind::Classifier, -1));
    return order;
}

std::string gguf_tensor_name(const TensorRef& t) {
    const char* layer_name = "";
    switch (t.kind) {
        case TensorKind::Embedding: return "token_embd.weight";
        case TensorKind::FinalNorm: return "output_norm.weight";
        case TensorKind::Classifier: return "output.weight";
        case TensorKind::AttnNorm: layer_name = "attn_norm"; break;
        case TensorKind::Wq: layer_name = "attn_q"; break;
        case TensorKind::Wk: layer_name = "attn_k"; break;
        case TensorKind::Wv: layer_name = "attn_v"; break;
        case TensorKind::Wo: layer_name = "attn_output"; break;
        case TensorKind::FfnNorm: layer_name = "ffn_norm"; break;
        case TensorKind::W1: layer_name = "ffn_gate"; break;
        case TensorKind::W2: layer_name = "ffn_down"; break;
        case TensorKind::W3: layer_name = "ffn_up"; break;
    }
    return "blk." + std::to_string(t.layer) + "." + layer_name + ".weight";
}

std::string llama2c_tensor_name(const TensorRef& t) {
    static const char* const names[] = {"token_embedding", "rms_att", "wq", "wk", "wv", "wo",
                                        "rms_ffn",         "w1",      "w2", "w3", "rms_final", "wcls"};
    const std::string n = names[int(t.kind)];
    return t.layer >= 0 ? "layer " + std::to_string(t.layer) + " " + n : n;
}

// ---- llama2.c ----------------------------------------------------------------------------

uint64_t llama2c_file_size(const ModelConfig& c, const Llama2cFormat& f, const std::string& where) {
    validate_config(c, where);
    check_llama2c_constants(c, where);
    switch (f.version) {
        case 0: return uint64_t(v0_file_size(c));
        case 1: return uint64_t(v1_file_size(c));
        case 2:
            if (f.group_size <= 0 || c.dim % f.group_size != 0 || c.hidden_dim % f.group_size != 0)
                fail_input(where, "group size",
                           "a divisor of dim " + std::to_string(c.dim) + " and hidden_dim " + std::to_string(c.hidden_dim),
                           std::to_string(f.group_size));
            return uint64_t(v2_file_size(c, f.group_size));
    }
    fail_input(where, "llama2.c version", "0, 1 or 2", std::to_string(f.version));
}

std::vector<float> v0_rope_tables(const ModelConfig& c) {
    const int half = c.head_size() / 2;
    std::vector<float> t;
    t.reserve(size_t(c.seq_len) * size_t(half) * 2);
    for (int part = 0; part < 2; ++part)
        for (int pos = 0; pos < c.seq_len; ++pos)
            for (int i = 0; i < half; ++i) {
                const double freq = 1.0 / std::pow(10000.0, (2.0 * i) / c.head_size());
                t.push_back(float(part == 0 ? std::cos(pos * freq) : std::sin(pos * freq)));
            }
    return t;
}

namespace {

std::string llama2c_header(const ModelConfig& c, const Llama2cFormat& f) {
    if (f.version == 0) {
        const int32_t h[7] = {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
                              c.shared_classifier ? c.vocab_size : -c.vocab_size, c.seq_len};
        return std::string(reinterpret_cast<const char*>(h), sizeof h);
    }
    std::string h(256, '\0');
    const uint32_t magic = 0x616b3432;
    const int32_t version = f.version;
    const int32_t fields[7] = {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len};
    std::memcpy(h.data(), &magic, 4);
    std::memcpy(h.data() + 4, &version, 4);
    std::memcpy(h.data() + 8, fields, sizeof fields);
    h[36] = c.shared_classifier ? 1 : 0;
    if (f.version == 2) std::memcpy(h.data() + 37, &f.group_size, 4);  // unaligned, after the flag
    return h;
}

// v1 and v2: the norms first, then the embedding, the matrices kind by kind, the classifier.
std::vector<TensorRef> llama2c_v1_order(const ModelConfig& c) {
    std::vector<TensorRef> order;
    for (TensorKind k : {TensorKind::AttnNorm, TensorKind::FfnNorm})
        for (int l = 0; l < c.n_layers; ++l) order.push_back(tensor(c, k, l));
    order.push_back(tensor(c, TensorKind::FinalNorm, -1));
    order.push_back(tensor(c, TensorKind::Embedding, -1));
    for (TensorKind k : kLayerMatrices)
        for (int l = 0; l < c.n_layers; ++l) order.push_back(tensor(c, k, l));
    if (!c.shared_classifier) order.push_back(tensor(c, TensorKind::Classifier, -1));
    return order;
}

}  // namespace

void write_llama2c(const ModelConfig& c, const Llama2cFormat& f, WeightSource& src, const std::string& path,
                   uint64_t max_bytes) {
    const uint64_t size = llama2c_file_size(c, f, path);
    check_limit(path, size, max_bytes);
    AtomicFile file(path, size);
    RowWriter out(file);
    const std::string header = llama2c_header(c, f);
    out.bytes(header.data(), header.size());
    std::vector<float> row;
    if (f.version != 2) {
        for (const TensorRef& t : f.version == 0 ? llama2c_v0_order(c) : llama2c_v1_order(c)) {
            row.resize(size_t(t.cols));
            for (int64_t r = 0; r < t.rows; ++r) {
                src.row(t, r, row.data());
                out.bytes(row.data(), row.size() * 4);
            }
            if (f.version == 0 && t.kind == TensorKind::FinalNorm) {  // before an unshared wcls
                const std::vector<float> rope = v0_rope_tables(c);
                out.bytes(rope.data(), rope.size() * 4);
            }
        }
    } else {
        // export.py's rounding (half to even) needs the default rounding mode.
        std::fesetround(FE_TONEAREST);
        const int gs = f.group_size;
        std::vector<int8_t> q;
        std::vector<float> scales, all_scales;
        for (const TensorRef& t : llama2c_v1_order(c)) {
            row.resize(size_t(t.cols));
            if (t.is_norm()) {
                src.row(t, 0, row.data());
                out.bytes(row.data(), row.size() * 4);
                continue;
            }
            // Rows hold whole groups (gs divides dim and hidden_dim): quantized row by row,
            // the int8 values streamed, the scales (1/gs of them) kept until the tensor ends.
            q.resize(size_t(t.cols));
            scales.resize(size_t(t.cols / gs));
            all_scales.clear();
            for (int64_t r = 0; r < t.rows; ++r) {
                src.row(t, r, row.data());
                quantize_weights_q8(row.data(), t.cols, gs, q.data(), scales.data());
                out.bytes(q.data(), q.size());
                all_scales.insert(all_scales.end(), scales.begin(), scales.end());
            }
            out.bytes(all_scales.data(), all_scales.size() * 4);
        }
    }
    out.flush();
    file.commit();
}

// ---- GGUF --------------------------------------------------------------------------------

namespace {

constexpr int32_t kTypeNormal = 1, kTypeUnknown = 2, kTypeControl = 3, kTypeByte = 6;

bool is_byte_piece(const std::string& p) {
    auto hex = [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F'); };
    return p.size() == 6 && p.compare(0, 3, "<0x") == 0 && hex(p[3]) && hex(p[4]) && p[5] == '>';
}

std::string spm_piece(const std::string& piece) {
    std::string out;
    for (char ch : piece) out += ch == ' ' ? std::string("\xe2\x96\x81") : std::string(1, ch);
    return out;
}

void add_piece(GgufVocabulary& v, const std::string& piece, float score) {
    const int id = int(v.tokens.size());
    v.tokens.push_back(id == 1 ? "<s>" : id == 2 ? "</s>" : spm_piece(piece));
    v.scores.push_back(score);
    v.types.push_back(id == 0 ? kTypeUnknown : id <= 2 ? kTypeControl : is_byte_piece(piece) ? kTypeByte : kTypeNormal);
}

}  // namespace

GgufVocabulary gguf_vocabulary(const Tokenizer& t, const std::string& origin) {
    GgufVocabulary v;
    v.origin = origin;
    for (int id = 0; id < t.vocab_size(); ++id) add_piece(v, t.piece(id), t.score(id));
    return v;
}

GgufVocabulary synthetic_vocabulary(int n) {
    GgufVocabulary v;
    v.origin = "synthetic vocabulary";
    char buf[32];
    for (int id = 0; id < n; ++id) {
        // id 259 is the space run.c's encode puts in front of every text (its dummy prefix).
        if (id == 0) std::snprintf(buf, sizeof buf, "<unk>");
        else if (id < 3) buf[0] = '\0';  // "<s>", "</s>": add_piece names them
        else if (id < 259) std::snprintf(buf, sizeof buf, "<0x%02X>", unsigned(id - 3));
        else if (id == 259) std::snprintf(buf, sizeof buf, " ");
        else std::snprintf(buf, sizeof buf, " tok%d", id);
        add_piece(v, buf, id < 259 ? 0.0f : -float(id - 259));
    }
    return v;
}

GgmlType parse_output_type(const std::string& flag, const std::string& text) {
    std::string t;
    for (char ch : text) t += char(std::tolower(static_cast<unsigned char>(ch)));
    if (t == "f32") return GgmlType::F32;
    if (t == "f16") return GgmlType::F16;
    if (t == "q8_0") return GgmlType::Q8_0;
    if (t == "q4_0") return GgmlType::Q4_0;
    if (t == "q4_k_m" || t == "q4_k") return GgmlType::Q4_K;  // llama-quantize's Q4_K is Q4_K_M too
    if (t == "q6_k") return GgmlType::Q6_K;
    throw InputError(flag + ": expected f32, f16, q8_0, q4_0, q4_k_m or q6_k, found '" + text + "'");
}

const char* gguf_output_type_name(GgmlType t) { return t == GgmlType::Q4_K ? "Q4_K_M" : ggml_type_name(uint32_t(t)); }

uint32_t gguf_file_type(GgmlType t) {
    switch (t) {
        case GgmlType::F32: return 0;   // LLAMA_FTYPE_ALL_F32
        case GgmlType::F16: return 1;   // MOSTLY_F16
        case GgmlType::Q4_0: return 2;  // MOSTLY_Q4_0
        case GgmlType::Q8_0: return 7;  // MOSTLY_Q8_0
        case GgmlType::Q4_K: return 15; // MOSTLY_Q4_K_M
        case GgmlType::Q6_K: return 18; // MOSTLY_Q6_K
        default: throw InputError(std::string("GGUF output type ") + ggml_type_name(uint32_t(t)) +
                                  ": expected F32, F16, Q8_0, Q4_0, Q4_K_M or Q6_K");
    }
}

namespace {

// llama.cpp's converter order: embedding, final norm, classifier, then layer by layer.
std::vector<TensorRef> gguf_order(const ModelConfig& c) {
    std::vector<TensorRef> order{tensor(c, TensorKind::Embedding, -1), tensor(c, TensorKind::FinalNorm, -1)};
    if (!c.shared_classifier) order.push_back(tensor(c, TensorKind::Classifier, -1));
    for (int l = 0; l < c.n_layers; ++l)
        for (TensorKind k : {TensorKind::Wq, TensorKind::Wk, TensorKind::Wv, TensorKind::Wo, TensorKind::AttnNorm,
                             TensorKind::W1, TensorKind::W2, TensorKind::W3, TensorKind::FfnNorm})
            order.push_back(tensor(c, k, l));
    return order;
}

bool is_k_quant(GgmlType t) { return t == GgmlType::Q4_K || t == GgmlType::Q6_K; }

// llama-quantize's use_more_bits: the first and last eighth of the layers and every third
// one between them.
bool use_more_bits(int layer, int n_layers) {
    return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

// The type of tensor t in a file of `matrix_type`. Norms stay F32 (llama-quantize keeps 1-D
// tensors F32); F32, F16, Q8_0 and Q4_0 put every matrix in that type (Q4_0's classifier
// too, where llama-quantize's is Q6_K). The K types follow llama_tensor_get_type (llama.cpp
// src/llama-quant.cpp) for a llama model without experts or importance matrix:
//   * the classifier, or the embedding when the classifier is tied to it: Q6_K (Q8_0 when
//     its rows are not a multiple of 256);
//   * Q4_K_M: attn_v and ffn_down of the layers use_more_bits picks: Q6_K; the rest Q4_K;
//   * a row that is not a multiple of 256 (a K-quant super-block): Q6_K falls back to Q8_0,
//     or to F16 when the row is not a multiple of 32 either, as llama-quantize does; Q4_K's
//     fallback is Q5_0, which this project has no encoder for, so such a tensor is refused
//     in one line naming it (so is a Q8_0 classifier of such rows: llama-quantize stops too).
GgmlType gguf_tensor_type(const ModelConfig& c, const TensorRef& t, GgmlType matrix_type, const std::string& where) {
    if (t.is_norm()) return GgmlType::F32;
    if (!is_k_quant(matrix_type)) return matrix_type;
    const bool is_classifier = t.kind == TensorKind::Classifier || (t.kind == TensorKind::Embedding && c.shared_classifier);
    GgmlType type = matrix_type;
    if (is_classifier) {
        type = t.cols % kQK_K != 0 ? GgmlType::Q8_0 : GgmlType::Q6_K;
    } else if (matrix_type == GgmlType::Q4_K && (t.kind == TensorKind::Wv || t.kind == TensorKind::W2) &&
               use_more_bits(t.layer, c.n_layers)) {
        type = GgmlType::Q6_K;
    }
    const std::string tensor = gguf_tensor_name(t) + " (" + llama2c_tensor_name(t) + ")";
    // llama.cpp calls a llama of 80 layers with grouped KV heads a 70B and gives its Q4_K
    // attn_v Q5_K, another type we have no encoder for.
    if (type == GgmlType::Q4_K && t.kind == TensorKind::Wv && c.n_layers == 80 && c.n_kv_heads != c.n_heads)
        fail_input(where, tensor + ": Q4_K_M", "a model llama.cpp does not call 70B (its attn_v is Q5_K there, not written here)",
                   "80 layers with grouped KV heads");
    if (t.cols % kQK_K != 0 && type == GgmlType::Q6_K) type = t.cols % kQK8_0 != 0 ? GgmlType::F16 : GgmlType::Q8_0;
    if (type == GgmlType::Q4_K && t.cols % kQK_K != 0)
        fail_input(where, tensor + ": Q4_K", "rows of a multiple of 256 elements (K-quants need 256-element super-blocks; "
                   "llama-quantize writes this tensor Q5_0, which is not written here: use q6_k, q8_0 or q4_0)",
                   std::to_string(t.cols) + " elements");
    if (type == GgmlType::Q8_0 && t.cols % kQK8_0 != 0)
        fail_input(where, tensor + ": Q8_0 (the classifier of a K-quant file)",
                   "rows of a multiple of 32 elements (llama-quantize refuses this too)", std::to_string(t.cols) + " elements");
    return type;
}

// The metadata and tensor infos (the data section streamed after it).
GgufWriter gguf_layout(const ModelConfig& c, const GgufModelFormat& f, const GgufVocabulary& v,
                       const std::string& where) {
    validate_config(c, where);
    const uint32_t file_type = gguf_file_type(f.matrix_type);
    const auto layout = block_layout(uint32_t(f.matrix_type));
    if (!is_k_quant(f.matrix_type) && (c.dim % int(layout->block_elems) != 0 || c.hidden_dim % int(layout->block_elems) != 0))
        fail_input(where, std::string("type ") + ggml_type_name(uint32_t(f.matrix_type)),
                   "dim and hidden_dim multiples of its block of " + std::to_string(layout->block_elems),
                   "dim " + std::to_string(c.dim) + ", hidden_dim " + std::to_string(c.hidden_dim));
    if (int(v.tokens.size()) != c.vocab_size)
        fail_input(where, "vocabulary (" + v.origin + ")", std::to_string(c.vocab_size) + " pieces (the model's vocab_size)",
                   std::to_string(v.tokens.size()));
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_string("general.name", f.name);
    w.add_u32("general.file_type", file_type);
    if (f.matrix_type != GgmlType::F32 && f.matrix_type != GgmlType::F16)
        w.add_u32("general.quantization_version", 2);
    GgufLlamaConfig hp;
    hp.dim = c.dim;
    hp.hidden_dim = c.hidden_dim;
    hp.n_layers = c.n_layers;
    hp.n_heads = c.n_heads;
    hp.n_kv_heads = c.n_kv_heads;
    hp.vocab_size = c.vocab_size;
    hp.context_length = c.seq_len;
    hp.rope_freq_base = c.rope_theta;
    hp.rms_eps = c.norm_eps;
    w.add_llama_hyperparameters(hp);
    w.add_string("tokenizer.ggml.model", "llama");
    w.add_strings("tokenizer.ggml.tokens", v.tokens);
    w.add_f32s("tokenizer.ggml.scores", v.scores);
    w.add_i32s("tokenizer.ggml.token_type", v.types);
    w.add_u32("tokenizer.ggml.unknown_token_id", 0);
    w.add_u32("tokenizer.ggml.bos_token_id", 1);
    w.add_u32("tokenizer.ggml.eos_token_id", 2);
    for (const TensorRef& t : gguf_order(c)) {
        std::vector<uint64_t> ne{uint64_t(t.cols)};
        if (!t.is_norm()) ne.push_back(uint64_t(t.rows));
        w.add_tensor_info(gguf_tensor_name(t), ne, gguf_tensor_type(c, t, f.matrix_type, where));
    }
    return w;
}

constexpr uint64_t kAlignment = 32;  // GGUF's default (general.alignment absent)

}  // namespace

uint64_t gguf_file_size(const ModelConfig& c, const GgufModelFormat& f, const GgufVocabulary& v,
                        const std::string& where) {
    const GgufWriter w = gguf_layout(c, f, v, where);
    return w.header(3, kAlignment).size() + w.data_bytes(kAlignment);
}

void write_gguf(const ModelConfig& c, const GgufModelFormat& f, const GgufVocabulary& v, WeightSource& src,
                const std::string& path, uint64_t max_bytes) {
    const GgufWriter w = gguf_layout(c, f, v, path);
    const std::string header = w.header(3, kAlignment);
    const uint64_t size = header.size() + w.data_bytes(kAlignment);
    check_limit(path, size, max_bytes);
    AtomicFile file(path, size);
    RowWriter out(file);
    out.bytes(header.data(), header.size());
    std::vector<float> row;
    std::vector<unsigned char> encoded;
    for (const TensorRef& t : gguf_order(c)) {
        const GgmlType type = gguf_tensor_type(c, t, f.matrix_type, path);
        row.resize(size_t(t.cols));
        encoded.resize(row_bytes(type, size_t(t.cols)));
        for (int64_t r = 0; r < t.rows; ++r) {
            src.row(t, r, row.data());
            quantize_row(type, row.data(), encoded.data(), row.size());
            out.bytes(encoded.data(), encoded.size());
        }
        const uint64_t bytes = uint64_t(t.rows) * encoded.size();
        out.zeros(size_t((bytes + kAlignment - 1) / kAlignment * kAlignment - bytes));
    }
    out.flush();
    file.commit();
}

}  // namespace lhb
