// zcu106-xrt: the HLS device backend (backends/hls_device/) with the kernels of kernels/ run
// on a board through XRT's native C++ API.
//
// Every device buffer is an XRT buffer object in the memory bank of the kernel argument it
// is made for; the backend packs the weights straight into the mapped weight buffers and
// syncs them once: fp32 rows, or for int8 (Q8_0, version-2) checkpoints int8 row pairs with
// their scales inline; the same bitstream runs both (ModelDims::group_size, op_matmul's
// group_size argument). Per token: one run of llama_forward and one sync of the logits;
// greedy decoding runs llama_forward once for the whole run of tokens and syncs only their
// ids; a prompt goes through llama_forward's prefill mode a block at a time (its ids synced
// in, the logits it asks for out). Per-op mode (fused = false) runs the op_* kernels one by
// one; each op's time then includes the syncs of its inputs and outputs, which is what the
// board really pays for an op run alone.
#include <xrt/xrt_bo.h>
#include <xrt/xrt_device.h>
#include <xrt/xrt_kernel.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "backends/hls_device/hls_device.hpp"
#include "backends/xrt/xclbin_check.hpp"
#include "backends/xrt/xrt_names.hpp"
#include "core/registry.hpp"

namespace lhb {
namespace {

constexpr int kPorts = hls::kPorts;
constexpr size_t kBeat = lhk::kBeatBytes;
// Argument positions of llama_forward (kernels/llama_kernels.hpp).
enum ForwardArg {
    kToken = 0,
    kPos,
    kSteps,
    kPrompt,
    kPromptLogits,
    kDims,
    kW0,
    kT0 = kW0 + kPorts,  // the same buffers again: the tables the forward pass reads
    kKv0 = kT0 + kPorts,
    kLogits = kKv0 + lhk::kKvPorts,
    kTokens
};
// Argument positions of the per-op kernels' buffers that XrtRunner::alloc places.
constexpr int kMatmulW0 = 0, kMatmulX = 4, kAttentionKv0 = 2;

class XrtBuffer final : public hls::DeviceBuffer {
public:
    XrtBuffer(xrt::bo bo, int64_t beats) : bo_(std::move(bo)), beats_(beats) {
        std::memset(bo_.map(), 0, bo_.size());
    }
    lhk::Beat* host() override { return bo_.map<lhk::Beat*>(); }
    int64_t beats() const override { return beats_; }
    void to_device(int64_t beats) override { bo_.sync(XCL_BO_SYNC_BO_TO_DEVICE, size_t(beats) * kBeat, 0); }
    void from_device(int64_t beats) override { bo_.sync(XCL_BO_SYNC_BO_FROM_DEVICE, size_t(beats) * kBeat, 0); }
    xrt::bo& bo() { return bo_; }

private:
    xrt::bo bo_;
    int64_t beats_;
};

xrt::bo& bo(hls::DeviceBuffer& b) { return static_cast<XrtBuffer&>(b).bo(); }

// A region as a kernel argument: a sub-buffer from its offset on.
xrt::bo bo(const hls::BufferRegion& r) {
    xrt::bo& whole = bo(*r.buffer);
    if (r.offset == 0) return whole;
    const size_t off = size_t(r.offset) * kBeat;
    return xrt::bo(whole, whole.size() - off, off);
}

class XrtRunner final : public hls::KernelRunner {
public:
    explicit XrtRunner(const BackendOptions& options) : options_(options) {}

    void open(bool per_op) override {
        const std::string path = xrt_backend::xclbin_path(options_);
        xrt_backend::inspect_xclbin(path, per_op);
        device_ = xrt::device(0u);
        uuid_ = device_.load_xclbin(path);
        per_op_ = per_op;
        if (!per_op) forward_ = xrt::kernel(device_, uuid_, xrt_backend::kForwardKernel);
        if (per_op) {
            rmsnorm_ = xrt::kernel(device_, uuid_, "op_rmsnorm");
            matmul_ = xrt::kernel(device_, uuid_, "op_matmul");
            rope_ = xrt::kernel(device_, uuid_, "op_rope");
            softmax_ = xrt::kernel(device_, uuid_, "op_softmax");
            attention_ = xrt::kernel(device_, uuid_, "op_attention");
            swiglu_ = xrt::kernel(device_, uuid_, "op_swiglu");
        }
    }

    std::unique_ptr<hls::DeviceBuffer> alloc(hls::BufferUse use, int port, int64_t beats) override {
        beats = std::max<int64_t>(beats, 1);
        return std::make_unique<XrtBuffer>(xrt::bo(device_, size_t(beats) * kBeat, group_of(use, port)), beats);
    }

    // One run decodes the whole sequence: the ids buffer holds kMaxSeqLen of them.
    int greedy_tokens_per_run() const override { return lhk::kMaxSeqLen; }
    // The logits buffer holds a whole block's.
    int prompt_logits_per_run(const lhk::ModelDims&) const override { return lhk::kPrefillTokens; }

    void run_forward(int token, int pos, int steps, int prompt, int prompt_logits, const lhk::ModelDims& dims,
                     const hls::WeightBuffers& w, const hls::KvBuffers& kv, hls::DeviceBuffer& logits,
                     hls::DeviceBuffer& tokens) override {
        forward_(token, pos, steps, prompt, prompt_logits, dims, bo(*w[0]), bo(*w[1]), bo(*w[2]), bo(*w[3]),
                 bo(*w[0]), bo(*w[1]), bo(*w[2]), bo(*w[3]), bo(*kv[0]), bo(*kv[1]), bo(*kv[2]), bo(*kv[3]),
                 bo(logits), bo(tokens))
            .wait();
    }
    void run_rmsnorm(hls::DeviceBuffer& out, hls::DeviceBuffer& x, hls::DeviceBuffer& w, int n) override {
        rmsnorm_(bo(out), bo(x), bo(w), n).wait();
    }
    void run_matmul(const hls::MatrixRegions& w, hls::DeviceBuffer& x, hls::DeviceBuffer& out, int rows, int cols,
                    int group_size) override {
        matmul_(bo(w[0]), bo(w[1]), bo(w[2]), bo(w[3]), bo(x), bo(out), rows, cols, group_size).wait();
    }
    void run_rope(hls::DeviceBuffer& q, hls::DeviceBuffer& k, int pos, int dim, int kv_dim, int head_size) override {
        rope_(bo(q), bo(k), pos, dim, kv_dim, head_size).wait();
    }
    void run_softmax(hls::DeviceBuffer& x, int n) override { softmax_(bo(x), n).wait(); }
    void run_attention(hls::DeviceBuffer& out, hls::DeviceBuffer& q, const hls::KvBuffers& kv, int layer, int pos,
                       const lhk::ModelDims& dims) override {
        attention_(bo(out), bo(q), bo(*kv[0]), bo(*kv[1]), bo(*kv[2]), bo(*kv[3]), layer, pos, dims).wait();
    }
    void run_swiglu(hls::DeviceBuffer& hb, hls::DeviceBuffer& hb2, int n) override {
        swiglu_(bo(hb), bo(hb2), n).wait();
    }

private:
    // The memory bank of the kernel argument a buffer is for.
    xrtMemoryGroup group_of(hls::BufferUse use, int port) {
        // A per-op xclbin has no llama_forward: its buffers live where the op kernels read.
        if (per_op_) {
            switch (use) {
                case hls::BufferUse::Weights: return matmul_.group_id(kMatmulW0 + port);
                case hls::BufferUse::Kv: return attention_.group_id(kAttentionKv0 + port);
                default: return matmul_.group_id(kMatmulX);
            }
        }
        switch (use) {
            case hls::BufferUse::Weights: return forward_.group_id(kW0 + port);
            case hls::BufferUse::Kv: return forward_.group_id(kKv0 + port);
            case hls::BufferUse::Logits: return forward_.group_id(kLogits);
            case hls::BufferUse::Tokens: return forward_.group_id(kTokens);
            case hls::BufferUse::OpVector: return matmul_.group_id(kMatmulX);
            case hls::BufferUse::OpMatrix: return matmul_.group_id(kMatmulW0 + port);
            case hls::BufferUse::OpKv: return attention_.group_id(kAttentionKv0 + port);
        }
        return forward_.group_id(kLogits);
    }

    BackendOptions options_;
    xrt::device device_;
    xrt::uuid uuid_;
    bool per_op_ = false;  // the xclbin holds the op kernels, not llama_forward
    xrt::kernel forward_, rmsnorm_, matmul_, rope_, softmax_, attention_, swiglu_;
};

}  // namespace

LHB_REGISTER_BACKEND(xrt, BackendFactory{
    xrt_backend::kBackendName, "the HLS kernels on a ZCU106 (or Alveo) board through XRT", 30,
    [](const BackendOptions& o) { return xrt_backend::availability(o); },
    [](const BackendOptions& o) -> std::unique_ptr<Backend> {
        return std::make_unique<HlsDeviceBackend>(std::make_unique<XrtRunner>(o),
                                                  HlsDeviceOptions{.name = xrt_backend::kBackendName, .fused = o.fused,
                                                                   .models_board = false, .board = {},
                                                                   .kv_bits = hls_kv_bits(o, xrt_backend::kBackendName)});
    }})

}  // namespace lhb
