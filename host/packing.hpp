#pragma once
// Host-side packing: a model's weights laid out in device buffers exactly as the kernels
// read them (kernels/llama_layout.hpp): one buffer per weight bundle gmem0..gmem3, rows
// spread over the bundles, every row padded to whole beats, every region 4 KiB aligned.
// fp32 models: fp32 rows. int8 (Q8_0) models: int8 row pairs with their scales inline
// (pack_q8_rows), and the embedding table in fp32 as the model dequantized it.
// The HLS device backend (backends/hls_device/) packs straight into its kernel runner's
// buffers with pack_weights (host memory in C simulation, mapped XRT buffer objects on a
// board); pack_model and the port helpers give the same bytes in owning buffers.
#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "core/backend.hpp"
#include "core/model.hpp"
#include "kernels/llama_layout.hpp"

namespace lhb::hls {

constexpr int kPorts = lhk::kWeightPorts;

// An owning, page-aligned, zero-initialised array of beats: the host image of one device
// buffer.
class BeatBuffer {
public:
    BeatBuffer() = default;
    explicit BeatBuffer(int64_t beats);  // throws InputError when memory runs out
    lhk::Beat* data() { return data_.get(); }
    const lhk::Beat* data() const { return data_.get(); }
    float* floats() { return reinterpret_cast<float*>(data_.get()); }
    const float* floats() const { return reinterpret_cast<const float*>(data_.get()); }
    int64_t beats() const { return beats_; }
    size_t bytes() const { return size_t(beats_) * lhk::kBeatBytes; }

private:
    struct Free {
        Free() : bytes(0) {}
        explicit Free(size_t n) : bytes(n) {}
        size_t bytes;  // as allocated: large buffers are mapped pages
        void operator()(lhk::Beat* p) const;
    };
    std::unique_ptr<lhk::Beat[], Free> data_;
    int64_t beats_ = 0;
};

// The precision of the weights on the device, as every `group_size` argument of the host's
// layout, trace and estimate functions takes it: 0 for fp32 weights, the Q8_0 group size for
// int8 ones, and q4_precision(formats) (< 0) for 4-bit ones, formats being ModelDims::q4_formats.
// kv_bits: the KV cache's (32 fp32, 8 int8 with a scale per KV head and position).
lhk::ModelDims dims_of(const ModelConfig& c, int group_size = 0, int kv_bits = 32);
// The kv_bits of a KV cache type as BackendOptions::kv_type names it ("f32", "q8"); throws
// InputError naming `who` and the accepted values for any other.
int kv_bits_of_type(const std::string& kv_type, const std::string& who);
// The precision a model's weights take on the device: 0 fp32, the int8 group size, or for a
// GGUF model with block-quantized matrices its 4-bit precision (q4_formats_of).
int group_size_of(const Model& model);

// ---- 4-bit models (host/packing_q4.cpp) ---------------------------------------------------
int q4_precision(int formats);
bool is_q4_precision(int precision);
int q4_formats_of_precision(int precision);
// The lhk::Q4Format a GGUF type takes alone (Q4_0, Q4_K, Q6_K: bytes); -1 for another type.
int q4_format_of_type(GgmlType t);
// Every matrix kind in one lhk::Q4Format (an estimate's --precision).
int q4_uniform_formats(int format);
// Whether any matrix of the model (a layer's or the classifier) is GGUF blocks (DType::Ggml).
bool holds_4bit_matrices(const Model& model);
// The format of each matrix kind of a GGUF model (ModelDims::q4_formats): a kind all Q4_0 is
// kQ4FormatQ4_0, all Q4_K kQ4FormatQ4_K, Q4_K and Q6_K (or Q6_K alone) kQ4FormatBytes. Any
// other type or mixture is refused: InputError "PATH: GGUF weight type of layer L wq (TYPE) is
// not supported (...)".
// `who` (a backend's name), when given, follows the path in the message.
int q4_formats_of(const Model& model, const std::string& who = "");
// The precision of a layout's dims (the inverse of dims_of's).
int precision_of(const lhk::ModelDims& d);
// The rows of a GGUF Q4_0 / Q4_K / Q6_K matrix, in `format`, into the region at dst[p] +
// offset[p] of every port (llama_layout.hpp's 4-bit section). The region must be zeroed.
void pack_q4_rows(const WeightMatrix& w, int format, const std::array<lhk::Beat*, kPorts>& dst,
                  const std::array<int64_t, kPorts>& offset);

// Throws InputError ("WHERE: does not fit the HLS kernels: ...") when the shape (or the int8
// group size) exceeds the compiled maxima (kernels/hls_config.hpp) or breaks a structural
// assumption.
void check_fits(const ModelConfig& c, const std::string& where, int group_size = 0, int kv_bits = 32);

// The size of every device buffer for a model.
struct DeviceLayout {
    lhk::ModelDims dims{};
    std::array<int64_t, kPorts> weight_beats{};  // gmem0..gmem3 weight buffers
    int64_t kv_beats = 0;                        // each of the kKvPorts KV stripes
    int64_t logits_beats = 0;                    // gmem4
    int64_t total_bytes() const;
    // check_fits(c, where, group_size, kv_bits), then the sizes.
    static DeviceLayout of(const ModelConfig& c, const std::string& where, int group_size = 0, int kv_bits = 32);
    // The layout of a model in its own precision, its KV cache in kv_bits.
    static DeviceLayout of(const Model& model, int kv_bits = 32);
};

// Writes the weights of `model` into dst[p], which must hold layout.weight_beats[p] beats
// and be zeroed (padding is not written). The layout must be of the model's precision.
void pack_weights(const Model& model, const DeviceLayout& layout,
                  const std::array<lhk::Beat*, kPorts>& dst);

// A model's weights in their own buffers.
struct PackedModel {
    DeviceLayout layout;
    std::array<BeatBuffer, kPorts> weights;
};
PackedModel pack_model(const Model& model);

// Start of a layer matrix (lhk::kWq ... lhk::kW3) on each port, as op_matmul takes it.
std::array<const lhk::Beat*, kPorts> matrix_ports(const PackedModel& packed, int layer, int which);
std::array<const lhk::Beat*, kPorts> classifier_ports(const PackedModel& packed);

// One matrix (fp32, Q8_0, or GGUF Q4_0 / Q4_K / Q6_K in their 4-bit format) laid out as a
// single region (what op_matmul reads), for
// matrices that are not part of a packed model (tests, per-op checks on random data).
// Throws InputError for a shape or group size the kernels do not take.
struct PackedMatrix {
    int rows = 0, cols = 0;
    int group_size = 0;  // 0: fp32; op_matmul's group_size argument (4-bit: lhk::q4_matmul_code)
    std::array<BeatBuffer, kPorts> port;
    std::array<const lhk::Beat*, kPorts> ports() const;
};
PackedMatrix pack_matrix(const WeightMatrix& w);

// The int8 rows of a Q8_0 matrix into the region at dst[p] + offset[p] of every port, as
// row pairs (llama_layout.hpp). The region must be zeroed.
void pack_q8_rows(const WeightMatrix& w, const std::array<lhk::Beat*, kPorts>& dst,
                  const std::array<int64_t, kPorts>& offset);

// Zeroed KV stripes for a layout.
std::array<BeatBuffer, lhk::kKvPorts> make_kv_stripes(const DeviceLayout& layout);
// The dims of one layer's KV cache given on its own (a per-op attention call): one layer of
// kMaxSeqLen positions, rows in kv_bits. Throws InputError, naming `who`, when the shape or
// `pos` does not fit the kernels.
lhk::ModelDims single_layer_attention_dims(const AttentionShape& shape, int pos, const std::string& who,
                                           int kv_bits = 32);
// One stored KV row (kv_dim floats of a position) in the cache's format at dst (kv_row_beats
// beats): fp32, or int8 with a scale per KV head quantized exactly as the kernels' kv_store
// does (llama_layout.hpp).
void pack_kv_row(const lhk::ModelDims& dims, const float* row, lhk::Beat* dst);
// The values a stored row reads back as (kv_dim floats): int8 rows dequantized, scale * q.
void unpack_kv_row(const lhk::ModelDims& dims, const lhk::Beat* src, float* row);
// Copies rows 0..pos of one layer's caches ([t][kv_dim], as in RunState) into the stripes
// of `layer` (stripe layout of `dims`).

void stripe_kv_layer(const lhk::ModelDims& dims, int layer, int pos, const float* key_cache,
                     const float* value_cache, const std::array<lhk::Beat*, lhk::kKvPorts>& stripes);
void stripe_kv_layer(const lhk::ModelDims& dims, int layer, int pos, const float* key_cache,
                     const float* value_cache, std::array<BeatBuffer, lhk::kKvPorts>& stripes);

// Vectors to and from beats; the tail of the last beat is zero-filled.
void to_beats(const float* src, int n, lhk::Beat* dst);
void from_beats(const lhk::Beat* src, int n, float* dst);

// llama_forward's greedy output: beats for up to `steps` token ids, and the ids it wrote
// (at most `steps`, ending at the first BOS) appended to `out`. An id outside the
// vocabulary means the device misbehaved: InputError naming `who`.
int64_t token_beats(int steps);
int read_token_ids(const lhk::Beat* src, int steps, int vocab_size, const char* who, std::vector<int>& out);

}  // namespace lhb::hls
