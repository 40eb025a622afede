#include "core/gguf_writer.hpp"

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace lhb {

std::string GgufWriter::encode_u32(uint32_t v) {
    std::string s(4, '\0');
    for (int k = 0; k < 4; ++k) s[size_t(k)] = char((v >> (8 * k)) & 0xff);
    return s;
}

std::string GgufWriter::encode_u64(uint64_t v) {
    std::string s(8, '\0');
    for (int k = 0; k < 8; ++k) s[size_t(k)] = char((v >> (8 * k)) & 0xff);
    return s;
}

std::string GgufWriter::encode_string(const std::string& s) { return encode_u64(s.size()) + s; }

namespace {

std::string encode_f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    return GgufWriter::encode_u32(bits);
}

}  // namespace

void GgufWriter::add_raw(const std::string& key, GgufType type, const std::string& encoded_value) {
    kvs_.push_back(encode_string(key) + encode_u32(uint32_t(type)) + encoded_value);
}

void GgufWriter::add_u32(const std::string& key, uint32_t v) { add_raw(key, GgufType::UINT32, encode_u32(v)); }
void GgufWriter::add_i32(const std::string& key, int32_t v) { add_raw(key, GgufType::INT32, encode_u32(uint32_t(v))); }
void GgufWriter::add_u64(const std::string& key, uint64_t v) { add_raw(key, GgufType::UINT64, encode_u64(v)); }
void GgufWriter::add_f32(const std::string& key, float v) { add_raw(key, GgufType::FLOAT32, encode_f32(v)); }
void GgufWriter::add_bool(const std::string& key, bool v) { add_raw(key, GgufType::BOOL, std::string(1, char(v))); }
void GgufWriter::add_string(const std::string& key, const std::string& v) { add_raw(key, GgufType::STRING, encode_string(v)); }

void GgufWriter::add_llama_hyperparameters(const GgufLlamaConfig& c) {
    add_u32("llama.context_length", uint32_t(c.context_length));
    add_u32("llama.embedding_length", uint32_t(c.dim));
    add_u32("llama.feed_forward_length", uint32_t(c.hidden_dim));
    add_u32("llama.attention.head_count", uint32_t(c.n_heads));
    add_u32("llama.attention.head_count_kv", uint32_t(c.n_kv_heads));
    add_u32("llama.block_count", uint32_t(c.n_layers));
    add_u32("llama.rope.dimension_count", uint32_t(c.head_size()));
    add_f32("llama.rope.freq_base", c.rope_freq_base);
    add_f32("llama.attention.layer_norm_rms_epsilon", c.rms_eps);
}

void GgufWriter::add_strings(const std::string& key, const std::vector<std::string>& v) {
    std::string e = encode_u32(uint32_t(GgufType::STRING)) + encode_u64(v.size());
    for (const std::string& s : v) e += encode_string(s);
    add_raw(key, GgufType::ARRAY, e);
}

void GgufWriter::add_f32s(const std::string& key, const std::vector<float>& v) {
    std::string e = encode_u32(uint32_t(GgufType::FLOAT32)) + encode_u64(v.size());
    for (float x : v) e += encode_f32(x);
    add_raw(key, GgufType::ARRAY, e);
}

void GgufWriter::add_i32s(const std::string& key, const std::vector<int32_t>& v) {
    std::string e = encode_u32(uint32_t(GgufType::INT32)) + encode_u64(v.size());
    for (int32_t x : v) e += encode_u32(uint32_t(x));
    add_raw(key, GgufType::ARRAY, e);
}

namespace {

uint64_t tensor_bytes(const std::string& name, const std::vector<uint64_t>& ne, GgmlType type) {
    uint64_t elements = 1;
    for (uint64_t d : ne) elements *= d;
    const auto layout = block_layout(uint32_t(type));
    if (ne.empty() || !layout || ne[0] % layout->block_elems != 0)
        throw std::invalid_argument("GgufWriter: " + name + ": shape does not hold whole blocks of its type");
    return elements / layout->block_elems * layout->block_bytes;
}

}  // namespace

void GgufWriter::add_tensor(const std::string& name, const std::vector<uint64_t>& ne, GgmlType type, std::string data) {
    const uint64_t nbytes = tensor_bytes(name, ne, type);
    if (data.size() != nbytes)
        throw std::invalid_argument("GgufWriter::add_tensor: " + name + ": data does not match its shape and type");
    tensors_.push_back({name, ne, type, std::move(data), nbytes, false});
}

void GgufWriter::add_tensor_info(const std::string& name, const std::vector<uint64_t>& ne, GgmlType type) {
    tensors_.push_back({name, ne, type, std::string(), tensor_bytes(name, ne, type), true});
}

std::string GgufWriter::header(uint32_t version, uint64_t alignment) const {
    auto pad = [&](uint64_t n) { return (n + alignment - 1) / alignment * alignment; };
    std::string out = "GGUF" + encode_u32(version) + encode_u64(tensors_.size()) + encode_u64(kvs_.size());
    for (const std::string& kv : kvs_) out += kv;
    uint64_t offset = 0;
    for (const Tensor& t : tensors_) {
        out += encode_string(t.name) + encode_u32(uint32_t(t.ne.size()));
        for (uint64_t d : t.ne) out += encode_u64(d);
        out += encode_u32(uint32_t(t.type)) + encode_u64(offset);
        offset = pad(offset + t.nbytes);
    }
    out.resize(size_t(pad(out.size())), '\0');
    return out;
}

uint64_t GgufWriter::data_bytes(uint64_t alignment) const {
    uint64_t n = 0;
    for (const Tensor& t : tensors_) n += (t.nbytes + alignment - 1) / alignment * alignment;
    return n;
}

std::string GgufWriter::bytes(uint32_t version, uint64_t alignment) const {
    std::string out = header(version, alignment);
    for (const Tensor& t : tensors_) {
        if (t.streamed) throw std::invalid_argument("GgufWriter::bytes: " + t.name + " has no data (add_tensor_info)");
        out += t.data;
        out.resize(size_t((out.size() + alignment - 1) / alignment * alignment), '\0');
    }
    return out;
}

namespace {

// Deterministic xorshift32 values in [-0.5, 0.5).
struct Random {
    uint32_t s;
    uint32_t next() {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        return s;
    }
    float uniform() { return float(next() >> 8) / 16777216.0f - 0.5f; }
};

std::string matrix_bytes(GgmlType type, uint64_t rows, uint64_t cols, Random& rnd) {
    std::vector<float> w(size_t(rows * cols));
    for (float& x : w) x = rnd.uniform();
    const size_t row = row_bytes(type, size_t(cols));
    std::string out(size_t(rows) * row, '\0');
    auto* dst = reinterpret_cast<unsigned char*>(out.data());
    for (uint64_t r = 0; r < rows; ++r) {
        const float* x = w.data() + r * cols;
        unsigned char* d = dst + r * row;
        switch (type) {
            case GgmlType::F32: std::memcpy(d, x, size_t(cols) * 4); break;
            case GgmlType::F16:
                for (uint64_t j = 0; j < cols; ++j) {
                    const uint16_t h = fp32_to_fp16(x[j]);
                    std::memcpy(d + 2 * j, &h, 2);
                }
                break;
            case GgmlType::Q8_0: quantize_row_q8_0(x, d, size_t(cols)); break;
            case GgmlType::Q4_0: quantize_row_q4_0(x, d, size_t(cols)); break;
            case GgmlType::Q4_K:
            case GgmlType::Q6_K: {
                for (size_t k = 0; k < row; ++k) d[k] = uint8_t(rnd.next());
                const uint16_t scale = fp32_to_fp16(0.001f);
                const size_t block = type == GgmlType::Q4_K ? sizeof(BlockQ4_K) : sizeof(BlockQ6_K);
                const size_t at = type == GgmlType::Q4_K ? 0 : offsetof(BlockQ6_K, d);
                for (size_t b = 0; b < row / block; ++b) {
                    std::memcpy(d + b * block + at, &scale, 2);
                    if (type == GgmlType::Q4_K) std::memcpy(d + b * block + 2, &scale, 2);
                }
                break;
            }
            default: throw std::invalid_argument("synthetic_llama_gguf: no random weights of this type");
        }
    }
    return out;
}

}  // namespace

std::string synthetic_llama_gguf(const GgufLlamaConfig& c, GgmlType matrix_type, bool tied, uint32_t seed) {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_string("general.name", "synthetic");
    w.add_llama_hyperparameters(c);
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    for (int i = 0; i < c.vocab_size; ++i) {
        char buf[32];
        if (i == 0) std::snprintf(buf, sizeof buf, "<unk>");
        else if (i == 1) std::snprintf(buf, sizeof buf, "<s>");
        else if (i == 2) std::snprintf(buf, sizeof buf, "</s>");
        else if (i < 259) std::snprintf(buf, sizeof buf, "<0x%02X>", unsigned(i - 3));
        else std::snprintf(buf, sizeof buf, "\xe2\x96\x81tok%d", i);
        tokens.push_back(buf);
        scores.push_back(i < 259 ? 0.0f : -float(i - 259));
        types.push_back(i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1);
    }
    w.add_string("tokenizer.ggml.model", "llama");
    w.add_strings("tokenizer.ggml.tokens", tokens);
    w.add_f32s("tokenizer.ggml.scores", scores);
    w.add_i32s("tokenizer.ggml.token_type", types);
    w.add_u32("tokenizer.ggml.bos_token_id", 1);
    w.add_u32("tokenizer.ggml.eos_token_id", 2);

    Random rnd{seed | 1u};
    const uint64_t dim = uint64_t(c.dim), hidden = uint64_t(c.hidden_dim), kv = uint64_t(c.kv_dim());
    const uint64_t vocab = uint64_t(c.vocab_size);
    auto matrix = [&](const std::string& name, uint64_t rows, uint64_t cols) {
        w.add_tensor(name, {cols, rows}, matrix_type, matrix_bytes(matrix_type, rows, cols, rnd));
    };
    auto norm = [&](const std::string& name) {
        std::string d(size_t(dim) * 4, '\0');
        for (uint64_t j = 0; j < dim; ++j) {
            const float one = 1.0f + 0.1f * rnd.uniform();
            std::memcpy(d.data() + 4 * j, &one, 4);
        }
        w.add_tensor(name, {dim}, GgmlType::F32, d);
    };
    matrix("token_embd.weight", vocab, dim);
    norm("output_norm.weight");
    if (!tied) matrix("output.weight", vocab, dim);
    for (int l = 0; l < c.n_layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        norm(p + "attn_norm.weight");
        matrix(p + "attn_q.weight", dim, dim);
        matrix(p + "attn_k.weight", kv, dim);
        matrix(p + "attn_v.weight", kv, dim);
        matrix(p + "attn_output.weight", dim, dim);
        norm(p + "ffn_norm.weight");
        matrix(p + "ffn_gate.weight", hidden, dim);
        matrix(p + "ffn_down.weight", dim, hidden);
        matrix(p + "ffn_up.weight", hidden, dim);
    }
    return w.bytes();
}

}  // namespace lhb
