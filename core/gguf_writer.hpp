#pragma once
// Builds GGUF files in memory: the metadata and tensors given, laid out as llama.cpp lays
// them out (tensors in the order added, each padded to the alignment). For tests, fuzz
// seeds and conversions; the reader (core/gguf.hpp) is what checks files.
#include <cstdint>
#include <string>
#include <vector>

#include "core/gguf.hpp"

namespace lhb {

class GgufWriter {
public:
    void add_u32(const std::string& key, uint32_t v);
    void add_i32(const std::string& key, int32_t v);
    void add_u64(const std::string& key, uint64_t v);
    void add_f32(const std::string& key, float v);
    void add_bool(const std::string& key, bool v);
    void add_string(const std::string& key, const std::string& v);
    void add_strings(const std::string& key, const std::vector<std::string>& v);
    void add_f32s(const std::string& key, const std::vector<float>& v);
    void add_i32s(const std::string& key, const std::vector<int32_t>& v);
    // llama.context_length .. llama.attention.layer_norm_rms_epsilon of c, as llama.cpp's
    // converter writes them (rope.dimension_count is the head size).
    void add_llama_hyperparameters(const GgufLlamaConfig& c);
    // A value already encoded (type + bytes after the type), for values the typed adders
    // do not cover (nested arrays) and for malformed test files.
    void add_raw(const std::string& key, GgufType type, const std::string& encoded_value);

    // ne in GGUF order (row length first); data must hold the tensor's bytes exactly.
    void add_tensor(const std::string& name, const std::vector<uint64_t>& ne, GgmlType type, std::string data);
    // For files too big to build in memory: only the tensor's info; the caller writes its
    // bytes after header(), in the order added, each padded with zeros to the alignment.
    void add_tensor_info(const std::string& name, const std::vector<uint64_t>& ne, GgmlType type);

    // The whole file (every tensor added with its data).
    std::string bytes(uint32_t version = 3, uint64_t alignment = 32) const;
    // Everything before the data section: header, metadata, tensor infos, padding.
    std::string header(uint32_t version = 3, uint64_t alignment = 32) const;
    // Bytes of the data section (each tensor padded to the alignment).
    uint64_t data_bytes(uint64_t alignment = 32) const;

    // Encoders for add_raw.
    static std::string encode_string(const std::string& s);
    static std::string encode_u32(uint32_t v);
    static std::string encode_u64(uint64_t v);

private:
    struct Tensor {
        std::string name;
        std::vector<uint64_t> ne;
        GgmlType type;
        std::string data;
        uint64_t nbytes = 0;
        bool streamed = false;  // added by add_tensor_info: data stays empty
    };
    std::vector<std::string> kvs_;  // each: key, type, value, encoded
    std::vector<Tensor> tensors_;
};

// A complete llama GGUF of random weights (tests and fuzz seeds): the metadata llama.cpp's
// converter writes, a vocabulary of vocab_size pieces (<unk>, <s>, </s>, byte pieces, then
// "tokN"), F32 norms, and every matrix in `matrix_type` (F32, F16, Q8_0 and Q4_0 quantized
// from the random floats; K-quant blocks of random bits with a small scale). dim and
// hidden_dim must be multiples of the type's block size. output.weight is omitted if tied.
std::string synthetic_llama_gguf(const GgufLlamaConfig& c, GgmlType matrix_type, bool tied, uint32_t seed);

}  // namespace lhb
