#include "backends/hls_csim/hls_csim.hpp"

#include <algorithm>

#include "kernels/llama_kernels.hpp"
#include "kernels/primitives/weight_stream.hpp"

namespace lhb {
namespace {

// In C simulation the host image is the device memory: nothing to copy.
class CsimBuffer final : public hls::DeviceBuffer {
public:
    explicit CsimBuffer(int64_t beats) : image_(std::max<int64_t>(beats, 1)) {}
    lhk::Beat* host() override { return image_.data(); }
    int64_t beats() const override { return image_.beats(); }
    void to_device(int64_t) override {}
    void from_device(int64_t) override {}

private:
    hls::BeatBuffer image_;
};

lhk::Beat* at(hls::DeviceBuffer& b) { return b.host(); }
const lhk::Beat* at(const hls::BufferRegion& r) { return r.buffer->host() + r.offset; }

// A buffer as memory the kernel call only reads (kernels/vendor/hls_stream_csim.hpp): its
// weight readers' FIFOs then hold where the beats are instead of copies.
lhk::csim::ReadOnlySpan read_only(hls::DeviceBuffer& b) { return {b.host(), b.host() + b.beats()}; }

class CsimRunner final : public hls::KernelRunner {
public:
    void open(bool) override {}
    std::unique_ptr<hls::DeviceBuffer> alloc(hls::BufferUse, int, int64_t beats) override {
        return std::make_unique<CsimBuffer>(beats);
    }
    // C simulation runs the weight readers before the forward pass, so their FIFOs hold
    // every weight of the call: a few tokens at a time keep that small where the FIFOs copy
    // (the calls below declare the weights read-only, and the FIFOs hold only where they are).
    int greedy_tokens_per_run() const override { return 4; }
    // For the same reason, a prompt block's classifier passes within about 256 MB of FIFO
    // (stories15M fp32: 7 of its 37 MB passes; stories260K: all 35).
    int prompt_logits_per_run(const lhk::ModelDims& dims) const override {
        int64_t bytes = 0;
        for (int p = 0; p < lhk::kWeightPorts; ++p) bytes += lhk::classifier_weight_beats(dims, p) * lhk::kBeatBytes;
        return int(std::clamp<int64_t>((int64_t(256) << 20) / std::max<int64_t>(bytes, 1), 1, lhk::kPrefillTokens));
    }

    void run_forward(int token, int pos, int steps, int prompt, int prompt_logits, const lhk::ModelDims& dims,
                     const hls::WeightBuffers& w, const hls::KvBuffers& kv, hls::DeviceBuffer& logits,
                     hls::DeviceBuffer& tokens) override {
        // The weight buffers are both the readers' (w_p) and the tables (t_p), and only read.
        const lhk::csim::ReadOnlyScope weights{read_only(*w[0]), read_only(*w[1]), read_only(*w[2]), read_only(*w[3])};
        llama_forward(token, pos, steps, prompt, prompt_logits, dims, at(*w[0]), at(*w[1]), at(*w[2]), at(*w[3]), at(*w[0]), at(*w[1]),
                      at(*w[2]), at(*w[3]), at(*kv[0]), at(*kv[1]), at(*kv[2]), at(*kv[3]), at(logits), at(tokens));
    }
    void run_rmsnorm(hls::DeviceBuffer& out, hls::DeviceBuffer& x, hls::DeviceBuffer& w, int n) override {
        op_rmsnorm(at(out), at(x), at(w), n);
    }
    void run_matmul(const hls::MatrixRegions& w, hls::DeviceBuffer& x, hls::DeviceBuffer& out, int rows, int cols,
                    int group_size) override {
        const lhk::csim::ReadOnlyScope weights{read_only(*w[0].buffer), read_only(*w[1].buffer), read_only(*w[2].buffer),
                                               read_only(*w[3].buffer)};
        op_matmul(at(w[0]), at(w[1]), at(w[2]), at(w[3]), at(x), at(out), rows, cols, group_size);
    }
    void run_rope(hls::DeviceBuffer& q, hls::DeviceBuffer& k, int pos, int dim, int kv_dim, int head_size) override {
        op_rope(at(q), at(k), pos, dim, kv_dim, head_size);
    }
    void run_softmax(hls::DeviceBuffer& x, int n) override { op_softmax(at(x), n); }
    void run_attention(hls::DeviceBuffer& out, hls::DeviceBuffer& q, const hls::KvBuffers& kv, int layer, int pos,
                       const lhk::ModelDims& dims) override {
        op_attention(at(out), at(q), at(*kv[0]), at(*kv[1]), at(*kv[2]), at(*kv[3]), layer, pos, dims);
    }
    void run_swiglu(hls::DeviceBuffer& hb, hls::DeviceBuffer& hb2, int n) override { op_swiglu(at(hb), at(hb2), n); }
};

}  // namespace

std::unique_ptr<HlsDeviceBackend> make_hls_csim_backend(const BackendOptions& options) {
    return std::make_unique<HlsDeviceBackend>(std::make_unique<CsimRunner>(),
                                              HlsDeviceOptions{.name = "hls-csim",
                                                               .fused = options.fused,
                                                               .models_board = true,
                                                               .board = options.board,
                                                               .kv_bits = hls_kv_bits(options, "hls-csim")});
}

LHB_REGISTER_BACKEND(hls_csim, BackendFactory{
    "hls-csim", "the HLS kernels in C simulation (g++) on the packed device layout; estimates the board", 20,
    [](const BackendOptions&) { return Availability{}; },
    [](const BackendOptions& o) -> std::unique_ptr<Backend> { return make_hls_csim_backend(o); }})

}  // namespace lhb
