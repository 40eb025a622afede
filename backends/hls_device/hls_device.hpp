#pragma once
// The HLS design as a backend, whatever runs its kernels (backends/hls_device/
// kernel_runner.hpp: C simulation for hls-csim, XRT for zcu106-xrt). The weights (fp32, int8
// Q8_0, or GGUF 4-bit in the same bitstream) are packed once into the device layout
// (host/packing.hpp) straight into the runner's weight buffers; the per-op matmul finds a
// model matrix's region there by its WeightId and packs any other matrix on the fly.
//
// forward() runs llama_forward once per token and copies back the logits; decode_greedy()
// runs it once per chunk of tokens (the runner's greedy_tokens_per_run) and copies back only
// their ids. With fused = false the base forward composes the per-op kernels (op_matmul,
// op_attention, ...), each call copying its inputs in and its outputs back, which is what
// the board pays for an op run alone; the residual add has no kernel and is Backend's own.
#include <array>
#include <memory>
#include <string>

#include "backends/hls_device/kernel_runner.hpp"
#include "core/backend.hpp"
#include "core/registry.hpp"
#include "host/device_model.hpp"

namespace lhb {

struct HlsDeviceOptions {
    std::string name;           // the backend's name, and the first word of its messages
    bool fused = true;          // BackendOptions::fused
    bool models_board = false;  // estimate() models the design on a board (hls-csim)
    std::string board;          // that board's spec (empty: hls::default_board_path())
    int kv_bits = 32;           // the KV cache: 32 fp32, 8 int8 (BackendOptions::kv_type "q8")
};

// HlsDeviceOptions::kv_bits for BackendOptions::kv_type; throws InputError in one line naming
// the backend for a type its kernels do not store.
int hls_kv_bits(const BackendOptions& options, const std::string& backend);

// It is an hls::DeviceModel too; only hls-csim (models_board) gives estimates.
class HlsDeviceBackend : public Backend, public hls::DeviceModel {
public:
    HlsDeviceBackend(std::unique_ptr<hls::KernelRunner> runner, HlsDeviceOptions options);
    ~HlsDeviceBackend() override;

    std::string name() const override { return options_.name; }
    void load(const Model& model) override;

    void rmsnorm(float* out, const float* x, const float* weight, int n) override;
    void matmul(float* out, const float* x, const WeightMatrix& w) override;
    void rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size) override;
    void softmax(float* x, int n) override;
    void attention(float* out, const float* q, const float* key_cache, const float* value_cache,
                   float* att, int pos, const AttentionShape& shape) override;
    void swiglu(float* hb, const float* hb2, int n) override;

    float* forward(int token, int pos) override;
    // llama_forward's prefill mode, lhk::block_tokens prompt tokens a run: each block's weights
    // streamed once, its K and V rows written on the device, logits computed only where asked.
    float* forward_batch(const int* tokens, int n, int pos, BatchLogits which, float* all_logits = nullptr) override;
    // llama_forward's greedy mode: a run of tokens per kernel call, as on the board.
    int decode_greedy(int token, int pos, int steps, std::vector<int>& out) override;
    // The board estimate when options.models_board (else none).
    std::optional<hls::DeviceEstimate> estimate(int pos) const override;
    // The prompt through the prefill mode, block by block (hls::estimate_prefill).
    std::optional<hls::DeviceEstimate> estimate_prefill(int pos, int n) const override;

private:
    using BufferPtr = std::unique_ptr<hls::DeviceBuffer>;

    void upload_weights(const Model& model);
    void check_token_pos(int token, int pos) const;
    // llama_forward on the loaded model's buffers (prompt > 0: a prompt block, its ids in tokens_).
    void run_forward(int token, int pos, int steps, int prompt, int prompt_logits);
    // Where a matmul's weights are: the model's region in the weight buffers, or `own`
    // filled with w packed on its own; group_size gets op_matmul's argument for them.
    hls::MatrixRegions matrix_regions(const WeightMatrix& w, std::array<BufferPtr, hls::kPorts>& own, int& group_size);
    // Per-op scratch vector i (0..2), made on first use.
    hls::DeviceBuffer& io(int i);
    // A vector into a buffer and onto the device; back from the device into a vector.
    static void put(hls::DeviceBuffer& b, const float* src, int n);
    static void get(hls::DeviceBuffer& b, float* dst, int n);
    [[noreturn]] void too_large(const std::string& what) const;

    std::unique_ptr<hls::KernelRunner> runner_;  // first: its buffers below go before it
    HlsDeviceOptions options_;
    hls::DeviceLayout layout_;
    std::array<BufferPtr, hls::kPorts> weights_;  // the model's packed weights
    std::array<BufferPtr, lhk::kKvPorts> kv_;     // llama_forward's KV stripes
    BufferPtr logits_;
    BufferPtr tokens_;  // llama_forward's decoded ids (greedy mode)
    std::array<BufferPtr, 3> io_;
    std::array<BufferPtr, lhk::kKvPorts> attn_kv_;  // one layer's cache for op_attention
    lhk::ModelDims attn_dims_{};
};

}  // namespace lhb
