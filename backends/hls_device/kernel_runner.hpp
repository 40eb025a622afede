#pragma once
// What the HLS device backend needs from a device: buffers that own device memory (as
// ggml's backend buffers do) and the kernels of kernels/llama_kernels.hpp run on them.
// Two runners: C simulation (backends/hls_csim/: the top functions compiled by g++, the
// buffers plain host memory) and XRT (backends/xrt/: the same kernels on a board, the
// buffers XRT buffer objects). Everything else (packing, weight lookup, the per-op glue,
// checks, greedy chunking) is the backend's, once (backends/hls_device/hls_device.hpp).
#include <array>
#include <cstdint>
#include <memory>

#include "host/packing.hpp"
#include "kernels/llama_layout.hpp"

namespace lhb::hls {

// Memory the device reads and writes: a host image the host fills or reads, and the copies
// between it and the device (nothing to copy in C simulation, where the image is the memory).
class DeviceBuffer {
public:
    virtual ~DeviceBuffer() = default;
    virtual lhk::Beat* host() = 0;
    virtual int64_t beats() const = 0;
    // The first `beats` beats, host image to device and back.
    virtual void to_device(int64_t beats) = 0;
    virtual void from_device(int64_t beats) = 0;
};

// Which kernel argument a buffer is made for (XRT places it in that argument's memory bank).
enum class BufferUse {
    Weights,    // llama_forward's w_p / t_p, port p
    Kv,         // llama_forward's KV stripe p
    Logits,     // llama_forward's logits
    Tokens,     // llama_forward's decoded ids
    OpVector,   // a per-op kernel's vector in or out
    OpMatrix,   // op_matmul's w_p, for a matrix that is not the model's
    OpKv,       // op_attention's KV stripe p
};

// A region of a buffer: beats from `offset` on (a matrix inside the weight buffers).
struct BufferRegion {
    DeviceBuffer* buffer = nullptr;
    int64_t offset = 0;
};
using WeightBuffers = std::array<DeviceBuffer*, kPorts>;
using MatrixRegions = std::array<BufferRegion, kPorts>;
using KvBuffers = std::array<DeviceBuffer*, lhk::kKvPorts>;

// Each run_* call runs one kernel to completion on buffers made by this runner's alloc();
// it moves no data between host and device (the backend does, with to_device/from_device).
class KernelRunner {
public:
    virtual ~KernelRunner() = default;

    // Gets the device ready for a model (XRT: checks the xclbin, opens the device, finds the
    // kernels; per_op: the op_* kernels too). Throws InputError, or std::exception.
    virtual void open(bool per_op) = 0;
    // A zeroed buffer of `beats` beats (at least one is allocated) for argument `use`, port
    // `port` (0 where the argument has one).
    virtual std::unique_ptr<DeviceBuffer> alloc(BufferUse use, int port, int64_t beats) = 0;
    // Greedy tokens one llama_forward run may decode.
    virtual int greedy_tokens_per_run() const = 0;
    // Tokens of a prompt block whose logits one llama_forward run may compute (1..kPrefillTokens):
    // each is a classifier pass through the weight readers.
    virtual int prompt_logits_per_run(const lhk::ModelDims& dims) const = 0;

    // llama_forward (prompt > 0: a prompt block, its ids in `tokens`; kernels/llama_kernels.hpp).
    virtual void run_forward(int token, int pos, int steps, int prompt, int prompt_logits, const lhk::ModelDims& dims,
                             const WeightBuffers& weights, const KvBuffers& kv, DeviceBuffer& logits,
                             DeviceBuffer& tokens) = 0;
    virtual void run_rmsnorm(DeviceBuffer& out, DeviceBuffer& x, DeviceBuffer& w, int n) = 0;
    virtual void run_matmul(const MatrixRegions& w, DeviceBuffer& x, DeviceBuffer& out, int rows, int cols,
                            int group_size) = 0;
    virtual void run_rope(DeviceBuffer& q, DeviceBuffer& k, int pos, int dim, int kv_dim, int head_size) = 0;
    virtual void run_softmax(DeviceBuffer& x, int n) = 0;
    virtual void run_attention(DeviceBuffer& out, DeviceBuffer& q, const KvBuffers& kv, int layer, int pos,
                               const lhk::ModelDims& dims) = 0;
    virtual void run_swiglu(DeviceBuffer& hb, DeviceBuffer& hb2, int n) = 0;
};

}  // namespace lhb::hls
