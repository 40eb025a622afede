#pragma once
// Host-side packing: a model's weights laid out in device buffers exactly as the kernels
// read them (kernels/llama_layout.hpp): one buffer per weight bundle gmem0..gmem3, rows
// spread over the bundles, every row padded to whole beats, every region 4 KiB aligned.
// The hls-csim backend runs the kernels on these buffers; the XRT backend copies the same
// bytes into its buffer objects (or packs straight into mapped ones with pack_weights).
#include <array>
#include <cstdint>
#include <memory>
#include <string>

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
        void operator()(lhk::Beat* p) const;
    };
    std::unique_ptr<lhk::Beat[], Free> data_;
    int64_t beats_ = 0;
};

lhk::ModelDims dims_of(const ModelConfig& c);

// Throws InputError ("WHERE: does not fit the HLS kernels: ...") when the shape exceeds the
// compiled maxima (kernels/hls_config.hpp) or breaks a structural assumption.
void check_fits(const ModelConfig& c, const std::string& where);

// The size of every device buffer for a model.
struct DeviceLayout {
    lhk::ModelDims dims{};
    std::array<int64_t, kPorts> weight_beats{};  // gmem0..gmem3 weight buffers
    int64_t kv_beats = 0;                        // each of the kKvPorts KV stripes
    int64_t logits_beats = 0;                    // gmem4
    int64_t total_bytes() const;
    // check_fits(c, where), then the sizes.
    static DeviceLayout of(const ModelConfig& c, const std::string& where);
};

// Writes the fp32 weights of `model` into dst[p], which must hold layout.weight_beats[p]
// beats and be zeroed (padding is not written). Throws InputError for non-fp32 models.
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

// One fp32 matrix laid out as a single region (what op_matmul reads), for matrices that are
// not part of a packed model (tests, per-op checks on random data).
struct PackedMatrix {
    int rows = 0, cols = 0;
    std::array<BeatBuffer, kPorts> port;
    std::array<const lhk::Beat*, kPorts> ports() const;
};
PackedMatrix pack_matrix(const WeightMatrix& w);

// Zeroed KV stripes for a layout.
std::array<BeatBuffer, lhk::kKvPorts> make_kv_stripes(const DeviceLayout& layout);
// Copies rows 0..pos of one layer's caches ([t][kv_dim], as in RunState) into the stripes
// of `layer` (stripe layout of `dims`).
void stripe_kv_layer(const lhk::ModelDims& dims, int layer, int pos, const float* key_cache,
                     const float* value_cache, std::array<BeatBuffer, lhk::kKvPorts>& stripes);

// Vectors to and from beats; the tail of the last beat is zero-filled.
void to_beats(const float* src, int n, lhk::Beat* dst);
void from_beats(const lhk::Beat* src, int n, float* dst);

}  // namespace lhb::hls
