// zcu106-xrt: the HLS kernels of kernels/ on a board, through XRT's native C++ API.
//
// Weights are packed once with host/packing (the layout hls-csim simulates) straight into
// the mapped device buffers and synced once: fp32 rows, or for int8 (Q8_0, version-2)
// checkpoints int8 row pairs with their scales inline; the same bitstream runs both
// (ModelDims::group_size, op_matmul's group_size argument). Per token: one run of
// llama_forward and one sync of the logits; greedy decoding (decode_greedy) runs
// llama_forward once per chunk of tokens and syncs only their ids. Per-op mode (fused = false) runs the op_* kernels one by one; each
// op's time then includes the syncs of its inputs and outputs, which is what the board
// really pays for an op run alone.
#include <xrt/xrt_bo.h>
#include <xrt/xrt_device.h>
#include <xrt/xrt_kernel.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "backends/xrt/xclbin_check.hpp"
#include "backends/xrt/xrt_names.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "host/packing.hpp"
#include "kernels/llama_kernels.hpp"

namespace lhb {
namespace {

constexpr int kPorts = hls::kPorts;
constexpr size_t kBeat = lhk::kBeatBytes;
// Argument positions of llama_forward (kernels/llama_kernels.hpp).
enum ForwardArg {
    kToken = 0,
    kPos,
    kSteps,
    kDims,
    kW0,
    kT0 = kW0 + kPorts,  // the same buffers again: the tables the forward pass reads
    kKv0 = kT0 + kPorts,
    kLogits = kKv0 + lhk::kKvPorts,
    kTokens
};
// Enough beats for any vector a per-op kernel reads or writes (the classifier's rows).
constexpr int64_t kIoBeats = (lhk::kMaxRows + lhk::kFloatsPerBeat - 1) / lhk::kFloatsPerBeat;

class XrtBackend : public Backend {
public:
    explicit XrtBackend(const BackendOptions& options) : options_(options) {}

    std::string name() const override { return xrt_backend::kBackendName; }

    void load(const Model& model) override {
        hls::check_fits(model.config(), model.path(), hls::group_size_of(model));
        Backend::load(model);
        const std::string path = xrt_backend::xclbin_path(options_);
        xrt_backend::inspect_xclbin(path, !options_.fused);
        try {
            device_ = xrt::device(0u);
            uuid_ = device_.load_xclbin(path);
            forward_kernel_ = xrt::kernel(device_, uuid_, xrt_backend::kForwardKernel);
            if (!options_.fused) {
                rmsnorm_kernel_ = xrt::kernel(device_, uuid_, "op_rmsnorm");
                matmul_kernel_ = xrt::kernel(device_, uuid_, "op_matmul");
                rope_kernel_ = xrt::kernel(device_, uuid_, "op_rope");
                softmax_kernel_ = xrt::kernel(device_, uuid_, "op_softmax");
                attention_kernel_ = xrt::kernel(device_, uuid_, "op_attention");
                swiglu_kernel_ = xrt::kernel(device_, uuid_, "op_swiglu");
            }
            layout_ = hls::DeviceLayout::of(model);
            upload_weights(model);
            for (int p = 0; p < lhk::kKvPorts; ++p) {
                kv_[size_t(p)] = xrt::bo(device_, size_t(layout_.kv_beats) * kBeat, forward_kernel_.group_id(kKv0 + p));
                std::memset(kv_[size_t(p)].map(), 0, kv_[size_t(p)].size());
                kv_[size_t(p)].sync(XCL_BO_SYNC_BO_TO_DEVICE);
            }
            logits_ = xrt::bo(device_, size_t(layout_.logits_beats) * kBeat, forward_kernel_.group_id(kLogits));
            tokens_ = xrt::bo(device_, size_t(hls::token_beats(lhk::kMaxSeqLen)) * kBeat, forward_kernel_.group_id(kTokens));
            if (!options_.fused) {
                for (auto* io : {&io_a_, &io_b_, &io_c_})
                    *io = xrt::bo(device_, size_t(kIoBeats) * kBeat, matmul_kernel_.group_id(4));
            }
        } catch (const InputError&) {
            throw;
        } catch (const std::exception& e) {
            throw InputError(std::string("zcu106-xrt: ") + e.what());
        }
    }

    float* forward(int token, int pos) override {
        if (!options_.fused) return Backend::forward(token, pos);
        const ModelConfig& c = model_->config();
        if (token < 0 || token >= c.vocab_size || pos < 0 || pos >= c.seq_len)
            throw InputError("zcu106-xrt: token or position outside the model");
        auto run = forward_kernel_(token, pos, 0, layout_.dims, w_[0], w_[1], w_[2], w_[3], w_[0], w_[1], w_[2],
                                   w_[3], kv_[0], kv_[1], kv_[2], kv_[3], logits_, tokens_);
        run.wait();
        logits_.sync(XCL_BO_SYNC_BO_FROM_DEVICE, size_t(layout_.logits_beats) * kBeat, 0);
        hls::from_beats(logits_.map<const lhk::Beat*>(), c.vocab_size, state_->logits.data());
        return state_->logits.data();
    }

    // One run of llama_forward decodes the whole chunk; only the ids come back.
    int decode_greedy(int token, int pos, int steps, std::vector<int>& out) override {
        if (!options_.fused) return Backend::decode_greedy(token, pos, steps, out);
        const ModelConfig& c = model_->config();
        if (token < 0 || token >= c.vocab_size || pos < 0 || pos >= c.seq_len)
            throw InputError("zcu106-xrt: token or position outside the model");
        const int n = std::min(steps, c.seq_len - pos);
        if (n <= 0) return 0;
        auto run = forward_kernel_(token, pos, n, layout_.dims, w_[0], w_[1], w_[2], w_[3], w_[0], w_[1], w_[2],
                                   w_[3], kv_[0], kv_[1], kv_[2], kv_[3], logits_, tokens_);
        run.wait();
        tokens_.sync(XCL_BO_SYNC_BO_FROM_DEVICE, size_t(hls::token_beats(n)) * kBeat, 0);
        return hls::read_token_ids(tokens_.map<const lhk::Beat*>(), n, c.vocab_size, "zcu106-xrt", out);
    }

    // ---- per-op mode ----------------------------------------------------------------
    void rmsnorm(float* out, const float* x, const float* weight, int n) override {
        put(io_a_, x, n);
        put(io_b_, weight, n);
        rmsnorm_kernel_(io_c_, io_a_, io_b_, n).wait();
        get(io_c_, out, n);
    }

    void matmul(float* out, const float* x, const WeightMatrix& w) override {
        put(io_a_, x, w.cols);
        std::array<xrt::bo, kPorts> ports = matrix_buffers(w);
        const int group_size = w.dtype == DType::Q8_0 ? w.group_size : 0;
        matmul_kernel_(ports[0], ports[1], ports[2], ports[3], io_a_, io_b_, w.rows, w.cols, group_size).wait();
        get(io_b_, out, w.rows);
    }

    void rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size) override {
        put(io_a_, q, dim);
        put(io_b_, k, kv_dim);
        rope_kernel_(io_a_, io_b_, pos, dim, kv_dim, head_size).wait();
        get(io_a_, q, dim);
        get(io_b_, k, kv_dim);
    }

    void softmax(float* x, int n) override {
        put(io_a_, x, n);
        softmax_kernel_(io_a_, n).wait();
        get(io_a_, x, n);
    }

    void attention(float* out, const float* q, const float* key_cache, const float* value_cache, float* att,
                   int pos, const AttentionShape& s) override {
        (void)att;  // the kernel keeps its scores on chip
        // One layer's cache, striped as the kernel reads it (as hls-csim does).
        const lhk::ModelDims d = hls::single_layer_attention_dims(s, pos, xrt_backend::kBackendName);
        if (std::memcmp(&d, &attn_dims_, sizeof d) != 0) {
            attn_dims_ = d;
            for (int p = 0; p < lhk::kKvPorts; ++p) {
                attn_host_[size_t(p)] = hls::BeatBuffer(lhk::kv_port_beats(d));
                attn_kv_[size_t(p)] = xrt::bo(device_, attn_host_[size_t(p)].bytes(), attention_kernel_.group_id(2 + p));
            }
        }
        hls::stripe_kv_layer(d, 0, pos, key_cache, value_cache, attn_host_);
        for (int p = 0; p < lhk::kKvPorts; ++p) {
            std::memcpy(attn_kv_[size_t(p)].map(), attn_host_[size_t(p)].data(), attn_host_[size_t(p)].bytes());
            attn_kv_[size_t(p)].sync(XCL_BO_SYNC_BO_TO_DEVICE);
        }
        put(io_a_, q, d.dim);
        attention_kernel_(io_b_, io_a_, attn_kv_[0], attn_kv_[1], attn_kv_[2], attn_kv_[3], 0, pos, d).wait();
        get(io_b_, out, d.dim);
    }

    void swiglu(float* hb, const float* hb2, int n) override {
        put(io_a_, hb, n);
        put(io_b_, hb2, n);
        swiglu_kernel_(io_a_, io_b_, n).wait();
        get(io_a_, hb, n);
    }

    // The residual add has no kernel of its own: it runs on the host, as the fused kernel
    // keeps it on chip.
    void residual_add(float* x, const float* y, int n) override {
        for (int i = 0; i < n; i++) x[i] += y[i];
    }

private:
    void upload_weights(const Model& model) {
        std::array<lhk::Beat*, kPorts> dst{};
        for (int p = 0; p < kPorts; ++p) {
            w_[size_t(p)] = xrt::bo(device_, size_t(layout_.weight_beats[size_t(p)]) * kBeat,
                                    forward_kernel_.group_id(kW0 + p));
            dst[size_t(p)] = w_[size_t(p)].map<lhk::Beat*>();
            std::memset(dst[size_t(p)], 0, w_[size_t(p)].size());
        }
        hls::pack_weights(model, layout_, dst);
        for (auto& bo : w_) bo.sync(XCL_BO_SYNC_BO_TO_DEVICE);

        // Where each of the model's matrices starts on every port, for per-op matmuls.
        matrix_offsets_.clear();
        const ModelWeights& w = model.weights();
        for (int l = 0; l < model.config().n_layers; ++l) {
            const LayerWeights& L = w.layers[size_t(l)];
            const WeightMatrix* mats[lhk::kMatricesPerLayer] = {&L.wq, &L.wk, &L.wv, &L.wo, &L.w1, &L.w2, &L.w3};
            for (int m = 0; m < lhk::kMatricesPerLayer; ++m) {
                std::array<int64_t, kPorts> off{};
                for (int p = 0; p < kPorts; ++p) off[size_t(p)] = lhk::matrix_offset(layout_.dims, p, l, m);
                matrix_offsets_[matrix_key(*mats[m])] = off;
            }
        }
        std::array<int64_t, kPorts> cls{};
        for (int p = 0; p < kPorts; ++p) cls[size_t(p)] = lhk::classifier_offset(layout_.dims, p);
        matrix_offsets_[matrix_key(w.wcls)] = cls;
    }

    // A model matrix by its values: fp32 or int8.
    static const void* matrix_key(const WeightMatrix& w) {
        return w.dtype == DType::F32 ? static_cast<const void*>(w.f32) : static_cast<const void*>(w.q);
    }

    // Sub-buffers of the uploaded weights for a model matrix; a freshly packed and uploaded
    // copy for any other matrix (per-op checks on random data).
    std::array<xrt::bo, kPorts> matrix_buffers(const WeightMatrix& w) {
        std::array<xrt::bo, kPorts> out;
        auto it = matrix_offsets_.find(matrix_key(w));
        const int group_size = w.dtype == DType::Q8_0 ? w.group_size : 0;
        if (it != matrix_offsets_.end() && group_size == layout_.dims.group_size) {
            for (int p = 0; p < kPorts; ++p) {
                const size_t off = size_t(it->second[size_t(p)]) * kBeat;
                out[size_t(p)] = xrt::bo(w_[size_t(p)], w_[size_t(p)].size() - off, off);
            }
            return out;
        }
        hls::PackedMatrix packed = hls::pack_matrix(w);
        for (int p = 0; p < kPorts; ++p) {
            const hls::BeatBuffer& src = packed.port[size_t(p)];
            out[size_t(p)] = xrt::bo(device_, std::max<size_t>(src.bytes(), kBeat), matmul_kernel_.group_id(p));
            if (src.bytes()) std::memcpy(out[size_t(p)].map(), src.data(), src.bytes());
            out[size_t(p)].sync(XCL_BO_SYNC_BO_TO_DEVICE);
        }
        return out;
    }

    static void put(xrt::bo& bo, const float* src, int n) {
        hls::to_beats(src, n, bo.map<lhk::Beat*>());
        bo.sync(XCL_BO_SYNC_BO_TO_DEVICE, size_t(lhk::ceil_div(n, lhk::kFloatsPerBeat)) * kBeat, 0);
    }
    static void get(xrt::bo& bo, float* dst, int n) {
        bo.sync(XCL_BO_SYNC_BO_FROM_DEVICE, size_t(lhk::ceil_div(n, lhk::kFloatsPerBeat)) * kBeat, 0);
        hls::from_beats(bo.map<const lhk::Beat*>(), n, dst);
    }

    BackendOptions options_;
    xrt::device device_;
    xrt::uuid uuid_;
    xrt::kernel forward_kernel_, rmsnorm_kernel_, matmul_kernel_, rope_kernel_, softmax_kernel_,
        attention_kernel_, swiglu_kernel_;
    hls::DeviceLayout layout_;
    std::array<xrt::bo, kPorts> w_;
    std::array<xrt::bo, lhk::kKvPorts> kv_;
    xrt::bo logits_, tokens_, io_a_, io_b_, io_c_;
    std::unordered_map<const void*, std::array<int64_t, kPorts>> matrix_offsets_;
    lhk::ModelDims attn_dims_{};
    std::array<hls::BeatBuffer, lhk::kKvPorts> attn_host_;
    std::array<xrt::bo, lhk::kKvPorts> attn_kv_;
};

}  // namespace

LHB_REGISTER_BACKEND(xrt, BackendFactory{
    xrt_backend::kBackendName, "the HLS kernels on a ZCU106 (or Alveo) board through XRT", 30,
    [](const BackendOptions& o) { return xrt_backend::availability(o); },
    [](const BackendOptions& o) -> std::unique_ptr<Backend> { return std::make_unique<XrtBackend>(o); }})

}  // namespace lhb
