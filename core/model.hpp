#pragma once
// llama2.c checkpoints: the header (ModelConfig), views of the weights (WeightMatrix,
// LayerWeights) and a memory-mapped, validated file (Model).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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

    int head_size() const { return dim / n_heads; }
    int kv_dim() const { return dim / n_heads * n_kv_heads; }
    int kv_mul() const { return n_heads / n_kv_heads; }
    // Every weight the forward pass reads once per token (the shared classifier counted once).
    int64_t n_params() const;
    bool operator==(const ModelConfig&) const = default;
};

// Throws InputError naming `where` and the first field that breaks llama2.c's assumptions.
void validate_config(const ModelConfig& c, const std::string& where);

enum class DType { F32, Q8_0 };
const char* dtype_name(DType t);

// A [rows][cols] row-major weight matrix, either fp32 or Q8_0 (int8 values with one fp32
// scale per `group_size` consecutive values of the flattened matrix). Views never own.
struct WeightMatrix {
    DType dtype = DType::F32;
    int rows = 0;  // out features
    int cols = 0;  // in features
    const float* f32 = nullptr;
    const int8_t* q = nullptr;
    const float* scales = nullptr;
    int group_size = 0;

    int64_t numel() const { return int64_t(rows) * cols; }
    int64_t bytes() const;  // bytes read from memory by one matmul with this matrix
};

struct LayerWeights {
    const float* rms_att = nullptr;  // [dim]
    const float* rms_ffn = nullptr;  // [dim]
    WeightMatrix wq, wk, wv, wo;     // [dim][dim], [kv_dim][dim] x2, [dim][dim]
    WeightMatrix w1, w2, w3;         // [hidden][dim], [dim][hidden], [hidden][dim]
};

struct ModelWeights {
    const float* token_embedding = nullptr;  // [vocab][dim], fp32 (dequantized for Q8_0)
    std::vector<LayerWeights> layers;
    const float* rms_final = nullptr;  // [dim]
    WeightMatrix wcls;                 // [vocab][dim]
};

enum class FileFormat { V0Legacy = 0, V1Fp32 = 1, V2Q8 = 2 };

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

// A checkpoint opened read-only. The weights point into the mapping, which lives as long
// as the Model.
class Model {
public:
    // Throws InputError with one line naming the file and what is wrong, including (unless
    // allowed) the first tensor that holds NaN or Inf: a scan of every weight and Q8_0
    // scale at load, about as cheap as reading the file once.
    static Model open(const std::string& path, NonFiniteWeights non_finite = NonFiniteWeights::Refuse);

    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;
    ~Model();

    const ModelConfig& config() const { return config_; }
    const ModelWeights& weights() const { return weights_; }
    FileFormat format() const { return format_; }
    DType dtype() const { return weights_.wcls.dtype; }
    const std::string& path() const { return path_; }
    // Bytes read per decoded token for weights (embedding row + every matrix + norms).
    int64_t weight_bytes_per_token() const;

private:
    Model();
    static Model load(const std::string& path);
    void load_v2(const unsigned char* base, size_t size);
    std::string path_;
    ModelConfig config_;
    ModelWeights weights_;
    FileFormat format_ = FileFormat::V0Legacy;
    std::unique_ptr<MappedFile> file_;
    std::vector<float> owned_;  // Q8_0 files: dequantized embedding, realigned scales
};

// Size in bytes a v0 file with this config must have (including the stored RoPE tables
// and, when not shared, the classifier).
int64_t v0_file_size(const ModelConfig& c);
int64_t v1_file_size(const ModelConfig& c);
int64_t v2_file_size(const ModelConfig& c, int group_size);

// The first tensor of `w` (in the order embedding, layers, final norm, classifier) that
// holds a NaN or Inf; for Q8_0 matrices the scales are what can be non-finite.
NonFiniteWeight first_non_finite_weight(const ModelWeights& w, const ModelConfig& c);

}  // namespace lhb
