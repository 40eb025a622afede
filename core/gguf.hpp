#pragma once
// GGUF files (versions 2 and 3, little-endian), as llama.cpp writes them: the header, the
// metadata key/values, the tensor infos and the data section, memory-mapped and validated
// (docs/gguf.md lists every rule). Then the llama view: the llama.* hyperparameters and the
// tensors of a LLaMA model under llama.cpp's names, each checked for shape and type.
//
// Everything returned points into the mapping (string_views, tensor data); it lives as long
// as the GgufFile.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/quant_types.hpp"

namespace lhb {

class MappedFile;

// GGUF metadata value types (gguf.h).
enum class GgufType : uint32_t {
    UINT8 = 0,
    INT8 = 1,
    UINT16 = 2,
    INT16 = 3,
    UINT32 = 4,
    INT32 = 5,
    FLOAT32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    UINT64 = 10,
    INT64 = 11,
    FLOAT64 = 12,
};
const char* gguf_type_name(GgufType t);  // "uint32", "string", "array", ...

// Stated maxima (on top of "bounded by the file"): docs/gguf.md says why each is enough.
struct GgufLimits {
    static constexpr uint64_t kMaxTensors = 1u << 20;
    static constexpr uint64_t kMaxKeyValues = 1u << 20;
    static constexpr uint64_t kMaxKeyBytes = 65535;          // the GGUF spec's limit for a key
    static constexpr uint64_t kMaxStringBytes = 1u << 24;    // 16 MiB (chat templates are KB)
    static constexpr uint64_t kMaxArrayElements = 1u << 24;  // 16 M (vocabularies: 32 K-256 K)
    static constexpr uint64_t kMaxNestedArrays = 1u << 16;   // inner arrays of one array
    static constexpr uint64_t kMaxTensorName = 63;           // ggml's GGML_MAX_NAME - 1
    static constexpr uint32_t kMaxDims = 4;                  // GGML_MAX_DIMS
    static constexpr int kMaxArrayDepth = 2;                 // an array of arrays, no deeper
};

// One metadata value. Scalars are decoded; a string is a view of its bytes; an array keeps
// its element type and count, a pointer to its first element for fixed-size elements,
// views of its strings, or (depth 2) its inner arrays.
struct GgufValue {
    GgufType type = GgufType::UINT8;
    uint64_t u = 0;  // unsigned integers and BOOL
    int64_t i = 0;   // signed integers
    double f = 0;    // FLOAT32 (widened exactly) and FLOAT64
    std::string_view str;

    GgufType elem_type = GgufType::UINT8;  // ARRAY only
    uint64_t count = 0;
    const unsigned char* elems = nullptr;  // fixed-size elements, little-endian
    std::vector<std::string_view> strings;  // STRING elements
    std::vector<GgufValue> items;           // ARRAY elements (each a flat array)

    bool is_integer() const;
    // Element k of a fixed-size numeric array, converted (k < count, numeric elem_type).
    int64_t int_at(uint64_t k) const;  // integer and BOOL elements (uint64 above INT64_MAX: -1)
    double float_at(uint64_t k) const;  // FLOAT32 / FLOAT64 elements
};

struct GgufKeyValue {
    std::string_view key;
    GgufValue value;
};

struct GgufTensorInfo {
    std::string_view name;
    uint32_t n_dims = 0;
    uint64_t ne[GgufLimits::kMaxDims] = {1, 1, 1, 1};  // ne[0] is the row length (innermost)
    uint32_t type = 0;                                  // ggml type id (GgmlType when known)
    uint64_t offset = 0;                                // in the data section
    uint64_t nbytes = 0;
    const unsigned char* data = nullptr;

    GgmlType ggml_type() const { return GgmlType(type); }
    uint64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
    uint64_t rows() const { return ne[1] * ne[2] * ne[3]; }
    std::string shape() const;  // "[64, 512]" in GGUF order (ne[0] first)
};

class GgufFile {
public:
    // Maps `path` and validates it. Throws InputError "PATH: FIELD: expected ..., found ..."
    // on the first problem.
    explicit GgufFile(const std::string& path);
    // The same over bytes the caller keeps alive (tests, fuzzing); `name` is the file name
    // used in messages.
    GgufFile(std::string name, const unsigned char* data, size_t size);
    ~GgufFile();
    GgufFile(GgufFile&&) noexcept;
    GgufFile& operator=(GgufFile&&) noexcept;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }  // start of the data section
    size_t size() const { return size_; }

    const std::vector<GgufKeyValue>& metadata() const { return kvs_; }
    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufValue* find(std::string_view key) const;                 // nullptr if absent
    const GgufTensorInfo* find_tensor(std::string_view name) const;    // nullptr if absent

    // Typed reads for the llama view; each throws InputError naming the file and the key.
    // Integers: any integer type whose value lies in [lo, hi].
    uint64_t get_uint(std::string_view key, uint64_t lo, uint64_t hi) const;
    uint64_t get_uint_or(std::string_view key, uint64_t lo, uint64_t hi, uint64_t fallback) const;
    // FLOAT32 or FLOAT64.
    double get_float(std::string_view key) const;
    double get_float_or(std::string_view key, double fallback) const;
    std::string_view get_string(std::string_view key) const;
    // An ARRAY of `elem` elements.
    const GgufValue& get_array(std::string_view key, GgufType elem) const;

private:
    void parse(const unsigned char* data, size_t size);
    std::string path_;
    std::unique_ptr<MappedFile> map_;
    size_t size_ = 0;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<GgufKeyValue> kvs_;
    std::vector<GgufTensorInfo> tensors_;
    std::unordered_map<std::string_view, size_t> kv_index_;
    std::unordered_map<std::string_view, size_t> tensor_index_;
};

// ---- the llama architecture ------------------------------------------------------------

struct GgufLlamaConfig {
    int dim = 0;             // llama.embedding_length
    int hidden_dim = 0;      // llama.feed_forward_length
    int n_layers = 0;        // llama.block_count
    int n_heads = 0;         // llama.attention.head_count
    int n_kv_heads = 0;      // llama.attention.head_count_kv (default: n_heads)
    int vocab_size = 0;      // token_embd.weight rows (= tokenizer.ggml.tokens count)
    int context_length = 0;  // llama.context_length (what the model was trained for)
    int rope_dim = 0;        // llama.rope.dimension_count (default: head size; must equal it)
    float rope_freq_base = 10000.0f;  // llama.rope.freq_base (default 10000)
    float rms_eps = 1e-5f;            // llama.attention.layer_norm_rms_epsilon

    int head_size() const { return dim / n_heads; }
    int kv_dim() const { return head_size() * n_kv_heads; }
};

struct GgufLlamaLayer {
    const GgufTensorInfo* attn_norm = nullptr;  // blk.N.attn_norm.weight   [dim] F32
    const GgufTensorInfo* wq = nullptr;         // blk.N.attn_q.weight      [dim][dim]
    const GgufTensorInfo* wk = nullptr;         // blk.N.attn_k.weight      [kv_dim][dim]
    const GgufTensorInfo* wv = nullptr;         // blk.N.attn_v.weight      [kv_dim][dim]
    const GgufTensorInfo* wo = nullptr;         // blk.N.attn_output.weight [dim][dim]
    const GgufTensorInfo* ffn_norm = nullptr;   // blk.N.ffn_norm.weight    [dim] F32
    const GgufTensorInfo* w1 = nullptr;         // blk.N.ffn_gate.weight    [hidden][dim]
    const GgufTensorInfo* w2 = nullptr;         // blk.N.ffn_down.weight    [dim][hidden]
    const GgufTensorInfo* w3 = nullptr;         // blk.N.ffn_up.weight      [hidden][dim]
};

// Shapes are given as llama2.c's [out][in]; in GGUF order that is ne = {in, out}. Matrices
// may be any supported weight type; norms must be F32.
struct GgufLlama {
    GgufLlamaConfig config;
    const GgufTensorInfo* token_embd = nullptr;   // token_embd.weight [vocab][dim]
    std::vector<GgufLlamaLayer> layers;
    const GgufTensorInfo* output_norm = nullptr;  // output_norm.weight [dim] F32
    const GgufTensorInfo* output = nullptr;       // output.weight [vocab][dim], or token_embd
    bool tied_output = false;                     // output.weight absent: token_embd reused
};

// Reads the llama view. Throws InputError naming the file and the key or tensor for another
// architecture, a missing or out-of-range hyperparameter, a missing tensor, a wrong shape
// or an unsupported type ("tensor blk.0.attn_q.weight: type Q5_K ...").
GgufLlama read_llama(const GgufFile& f);

// llama.cpp warns, and goes on, when more positions are asked for than the model was
// trained for (converters often write a small default, e.g. 128 for llama2.c models). The
// warning line naming the file, or "" when requested <= context_length.
std::string context_length_warning(const GgufLlamaConfig& c, int requested, const std::string& path);

}  // namespace lhb
