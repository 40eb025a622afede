#pragma once
// hls-csim: the HLS kernels run as C simulation. The weights (fp32, or int8 Q8_0 in the
// same bitstream) are packed once into the device layout (host/packing.hpp) and every call
// goes through a kernel top function:
// forward() calls llama_forward (one call per token, as on the board; decode_greedy one call
// for a run of tokens), or, with
// BackendOptions::fused = false, the base forward composes the per-op tops (op_matmul,
// op_attention, ...). As a DeviceModel it estimates the design on a board (host/estimator.hpp).
#include <array>
#include <string>
#include <unordered_map>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "core/registry.hpp"
#include "host/device_model.hpp"
#include "host/packing.hpp"

namespace lhb {

class HlsCsimBackend : public CpuRefBackend, public hls::DeviceModel {
public:
    explicit HlsCsimBackend(const BackendOptions& options);
    std::string name() const override { return "hls-csim"; }
    void load(const Model& model) override;

    void rmsnorm(float* out, const float* x, const float* weight, int n) override;
    void matmul(float* out, const float* x, const WeightMatrix& w) override;
    void rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size) override;
    void softmax(float* x, int n) override;
    void attention(float* out, const float* q, const float* key_cache, const float* value_cache,
                   float* att, int pos, const AttentionShape& shape) override;
    void swiglu(float* hb, const float* hb2, int n) override;
    // residual_add: cpu-ref's (llama_forward does its own; it is not one of the kernel ops).

    float* forward(int token, int pos) override;
    // llama_forward's greedy mode: the whole run of tokens in one call, as on the board.
    int decode_greedy(int token, int pos, int steps, std::vector<int>& out) override;
    std::optional<hls::DeviceEstimate> estimate(int pos) const override;

private:
    // llama_forward with the packed model's buffers.
    void run_forward(int token, int pos, int steps);
    // Greedy tokens per llama_forward call. C simulation runs the weight readers before the
    // forward pass, so their FIFOs hold every weight of the call (61 MB a token for the
    // stories15M shape in fp32): a few tokens at a time keep that small.
    static constexpr int kCsimGreedyRun = 4;

    bool fused_ = true;
    std::string board_path_;
    hls::PackedModel packed_;
    std::array<hls::BeatBuffer, lhk::kKvPorts> kv_;  // llama_forward's KV stripes
    hls::BeatBuffer logits_;
    hls::BeatBuffer tokens_;  // llama_forward's decoded ids (greedy mode)
    // Model matrices by their data (fp32 values or int8 values), so per-op matmuls read the
    // packed copy.
    std::unordered_map<const void*, std::array<const lhk::Beat*, hls::kPorts>> packed_matrix_;
    // Scratch device buffers for the per-op tops.
    hls::BeatBuffer io_a_, io_b_, io_c_;
    std::array<hls::BeatBuffer, lhk::kKvPorts> attn_kv_;
    lhk::ModelDims attn_dims_{};
};

}  // namespace lhb
