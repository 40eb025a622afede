#pragma once
// llama2.c checkpoints and GGUF files (llama architecture): the header (ModelConfig), views
// of the weights (WeightMatrix, LayerWeights) and a memory-mapped, validated file (Model).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/quant_types.hpp"

namespace lhb {

struct ModelConfig {
    int dim = 0;         // transformer width
    int hidden_dim = 0;  // FFN width
    int n_layers = 0;
    int n_heads = 0;
    int n_kv_heads = 0;
    int vocab_size = 0;  // always positive here; the v0 sign flag is in shared_classifier
    int seq_len = 0;
    bool shared_classifier = true;
    // llama2.c's constants; GGUF files carry their own (Llama 3: RoPE base 500000).
    float rope_theta = 10000.0f;  // RoPE base frequency
    float norm_eps = 1e-5f;       // RMSNorm epsilon

    int head_size() const { return dim / n_heads; }
    int kv_dim() const { return dim / n_heads * n_kv_heads; }
    int kv_mul() const { return n_heads / n_kv_heads; }
    // Every weight the forward pass reads once per token (the shared classifier counted once).
    int64_t n_params() const;
    bool operator==(const ModelConfig&) const = default;
};

// Throws InputError naming `where` and the first field that breaks llama2.c's assumptions.
void validate_config(const ModelConfig& c, const std::string& where);

// F32: fp32 values. Q8_0: llama2.c's version-2 int8 (int8 values, fp32 scales per
// group_size). Ggml: a GGUF tensor's blocks as the file stores them, in the layout that
// WeightMatrix::ggml_type names (core/quant_types.hpp).
enum class DType { F32, Q8_0, Ggml };
const char* dtype_name(DType t);

// What a model matrix is: its role in the layer (in the kernels' order, wq..w3, so a role is
// also lhk::LayerMatrix) or the classifier.
enum class WeightRole : int8_t { None = -1, Wq, Wk, Wv, Wo, W1, W2, W3, Classifier };
constexpr int kLayerWeightRoles = 7;  // wq..w3

// A model matrix's identity, so that a backend can hold its own copies of the weights (packed,
// on a device) in a plain vector by index() instead of looking them up by address. Matrices
// made outside a Model (per-op checks on random data) have none.
struct WeightId {
    int layer = -1;  // -1 for the classifier
    WeightRole role = WeightRole::None;

    bool valid() const { return role != WeightRole::None; }
    // 0 for the classifier, 1 + layer * kLayerWeightRoles + role for a layer's; -1 for none.
    int index() const {
        if (role == WeightRole::Classifier) return 0;
        return valid() ? 1 + layer * kLayerWeightRoles + int(role) : -1;
    }
    // How many indices a model of n_layers has.
    static int count(int n_layers) { return 1 + n_layers * kLayerWeightRoles; }
    bool operator==(const WeightId&) const = default;
};

// A [rows][cols] row-major weight matrix, either fp32 or Q8_0 (int8 values with one fp32
// scale per `group_size` consecutive values of the flattened matrix). Views never own.
struct WeightMatrix {
    WeightId id;  // set by Model for its matrices
    DType dtype = DType::F32;
    int rows = 0;  // out features
    int cols = 0;  // in features
    const float* f32 = nullptr;
    const int8_t* q = nullptr;
    const float* scales = nullptr;
    int group_size = 0;
    GgmlType ggml_type = GgmlType::F32;     // DType::Ggml: the block layout
    const unsigned char* blocks = nullptr;  // DType::Ggml: rows * row_bytes(ggml_type, cols) bytes

    int64_t numel() const { return int64_t(rows) * cols; }
    int64_t bytes() const;  // bytes read from memory by one matmul with this matrix
    bool operator==(const WeightMatrix&) const = default;
};

struct LayerWeights {
    const float* rms_att = nullptr;  // [dim]
    const float* rms_ffn = nullptr;  // [dim]
    WeightMatrix wq, wk, wv, wo;     // [dim][dim], [kv_dim][dim] x2, [dim][dim]
    WeightMatrix w1, w2, w3;         // [hidden][dim], [dim][hidden], [hidden][dim]

    // The matrix of a layer role (wq..w3), nullptr for any other.
    const WeightMatrix* matrix(WeightRole role) const;
};

struct ModelWeights {
    // [vocab][dim] fp32; nullptr for an embedding of another type (llama2.c's Q8_0, a GGUF
    // block type), which stays as the file has it (embedding_blocks) and is dequantized a
    // row at a time by embedding_row.
    const float* token_embedding = nullptr;
    WeightMatrix embedding_blocks;  // DType::Q8_0 or DType::Ggml when token_embedding is nullptr
    std::vector<LayerWeights> layers;
    const float* rms_final = nullptr;  // [dim]
    WeightMatrix wcls;                 // [vocab][dim]

    // out[dim] = the embedding of `token` (a copy of the fp32 row, or that row dequantized).
    void embedding_row(int token, int dim, float* out) const;
    // The matrix with this id; nullptr for none or one this model does not have.
    const WeightMatrix* matrix(WeightId id) const;
    // Whether w is this model's matrix of its id, the same view (a backend's copy of that
    // matrix stands for w only then: a view of other data with a borrowed id does not).
    bool holds(const WeightMatrix& w) const {
        const WeightMatrix* m = matrix(w.id);
        return m && *m == w;
    }
};

enum class FileFormat { V0Legacy = 0, V1Fp32 = 1, V2Q8 = 2, Gguf = 3 };

// Whether Model::open refuses a file whose weights hold NaN or Inf. Refuse is the only
// choice for anything that samples or measures; Allow is for tools and tests that study
// how non-finite values travel (core/nonfinite.hpp).
enum class NonFiniteWeights { Refuse, Allow };

// Where the first NaN/Inf of a tensor sits.
struct NonFiniteWeight {
    std::string tensor;  // "token_embedding", "layer 3 wq", "layer 0 w2 scales", "rms_final"; "" if none
    int64_t index = -1;  // element (or scale) index within the tensor
    float value = 0;
};

class MappedFile;
class GgufFile;

// A checkpoint opened read-only. The weights point into the mapping, which lives as long
// as the Model.
class Model {
public:
    // A llama2.c checkpoint (v0, v1, v2) or a GGUF file (magic "GGUF", docs/gguf.md: the
    // weights stay in the mapping, F32 tensors as DType::F32, the others as DType::Ggml).
    // Throws InputError with one line naming the file and what is wrong, including (unless
    // allowed) the first tensor that holds NaN or Inf: a scan of every fp32 weight, Q8_0
    // scale, GGUF F16 value and block scale at load, about as cheap as reading the file once.
    static Model open(const std::string& path, NonFiniteWeights non_finite = NonFiniteWeights::Refuse);

    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;
    ~Model();

    const ModelConfig& config() const { return config_; }
    const ModelWeights& weights() const { return weights_; }
    FileFormat format() const { return format_; }
    DType dtype() const { return weights_.wcls.dtype; }
    const std::string& path() const { return path_; }
    // The parsed GGUF container (its tokenizer, metadata) for a GGUF model; nullptr otherwise.
    const GgufFile* gguf() const { return gguf_.get(); }
    // Positions the model was trained for: llama.context_length of a GGUF file (which starts
    // as config().seq_len), seq_len for llama2.c files.
    int context_length() const { return context_length_; }
    // GGUF only: as llama.cpp, a run may ask for more positions than the file's context
    // length. Raises seq_len to `positions` (call before a backend loads the model) and
    // returns llama.cpp's warning line; "" when nothing changed. llama2.c files keep their
    // seq_len (run.c clamps the steps to it), so this returns "" for them.
    std::string extend_context(int positions);
    // Bytes read per decoded token for weights (embedding row + every matrix + norms).
    int64_t weight_bytes_per_token() const;
    // For a backend that has copied weights [p, p + n) into its own layout and reads only
    // that copy: the file's pages of that range leave the resident set (MappedFile::
    // release_pages), so the weights are not held twice. Owned storage (dequantized or
    // realigned data) is left alone. The views stay valid: a later read maps the pages back.
    size_t release_pages(const void* p, size_t n) const;

private:
    Model();
    static Model load(const std::string& path);
    void load_v2(const unsigned char* base, size_t size);
    void load_gguf(const unsigned char* base, size_t size);
    std::string path_;
    ModelConfig config_;
    ModelWeights weights_;
    FileFormat format_ = FileFormat::V0Legacy;
    std::unique_ptr<MappedFile> file_;
    std::vector<float> owned_;  // Q8_0 files: realigned scales
    std::unique_ptr<GgufFile> gguf_;  // over file_'s bytes (declared after it: destroyed first)
    int context_length_ = 0;
};

// The first of these weights that only the reference computes with: a matrix or embedding
// held as GGUF blocks (DType::Ggml), e.g. "layer 0 wq (Q4_K)"; "" if there is none. For
// backends that compute llama2.c's types only, to refuse such a model at load.
std::string first_ggml_weight(const ModelWeights& w);

// Size in bytes a v0 file with this config must have (including the stored RoPE tables
// and, when not shared, the classifier).
int64_t v0_file_size(const ModelConfig& c);
int64_t v1_file_size(const ModelConfig& c);
int64_t v2_file_size(const ModelConfig& c, int group_size);

// The first tensor of `w` (in the order embedding, layers, final norm, classifier) that
// holds a NaN or Inf; for Q8_0 matrices the scales are what can be non-finite, for GGUF
// blocks the fp16 scales (d, and dmin for Q4_K) and, for F16, every value.
NonFiniteWeight first_non_finite_weight(const ModelWeights& w, const ModelConfig& c);

}  // namespace lhb
