#include "backends/hls_device/hls_device.hpp"

#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "host/estimator.hpp"

namespace lhb {

// A role is the kernels' index of a layer matrix (lhk::kWq ... lhk::kW3).
static_assert(int(WeightRole::Wq) == lhk::kWq && int(WeightRole::Wk) == lhk::kWk &&
              int(WeightRole::Wv) == lhk::kWv && int(WeightRole::Wo) == lhk::kWo &&
              int(WeightRole::W1) == lhk::kW1 && int(WeightRole::W2) == lhk::kW2 &&
              int(WeightRole::W3) == lhk::kW3 && kLayerWeightRoles == lhk::kMatricesPerLayer);

namespace {
// Enough beats for any vector a per-op kernel reads or writes (the classifier's rows).
constexpr int64_t kIoBeats = (lhk::kMaxRows + lhk::kFloatsPerBeat - 1) / lhk::kFloatsPerBeat;
}  // namespace

int hls_kv_bits(const BackendOptions& options, const std::string& backend) {
    return hls::kv_bits_of_type(options.kv_type, backend);
}

HlsDeviceBackend::HlsDeviceBackend(std::unique_ptr<hls::KernelRunner> runner, HlsDeviceOptions options)
    : runner_(std::move(runner)), options_(std::move(options)) {}

HlsDeviceBackend::~HlsDeviceBackend() = default;

void HlsDeviceBackend::load(const Model& model) {
    // GGUF block-quantized matrices take the 4-bit layout (hls::q4_formats_of refuses what it
    // cannot place); otherwise no GGUF block weight may be left (an embedding alone).
    if (hls::holds_4bit_matrices(model)) {
        hls::q4_formats_of(model, name());
    } else if (const std::string g = first_ggml_weight(model.weights()); !g.empty()) {
        throw InputError(model.path() + ": " + name() + ": GGUF weight type of " + g +
                         " is not supported (the HLS kernels read fp32, llama2.c int8 and GGUF 4-bit matrices; "
                         "cpu-ref runs it)");
    }
    hls::check_fits(model.config(), model.path(), hls::group_size_of(model), options_.kv_bits);
    Backend::load(model);
    weights_ = {};  // a failed load leaves no weights of another model behind
    try {
        runner_->open(!options_.fused);
        layout_ = hls::DeviceLayout::of(model, options_.kv_bits);
        upload_weights(model);
        for (int p = 0; p < lhk::kKvPorts; ++p) {
            kv_[size_t(p)] = runner_->alloc(hls::BufferUse::Kv, p, layout_.kv_beats);
            kv_[size_t(p)]->to_device(layout_.kv_beats);
        }
        // A prompt block may ask for every token's logits (llama_forward's prompt_logits).
        logits_ = runner_->alloc(hls::BufferUse::Logits, 0, layout_.logits_beats * lhk::kPrefillTokens);
        tokens_ = runner_->alloc(hls::BufferUse::Tokens, 0, hls::token_beats(lhk::kMaxSeqLen));
    } catch (const InputError&) {
        weights_ = {};
        throw;
    } catch (const std::exception& e) {
        weights_ = {};
        throw InputError(options_.name + ": " + e.what());
    }
}

void HlsDeviceBackend::upload_weights(const Model& model) {
    std::array<lhk::Beat*, hls::kPorts> dst{};
    for (int p = 0; p < hls::kPorts; ++p) {
        weights_[size_t(p)] = runner_->alloc(hls::BufferUse::Weights, p, layout_.weight_beats[size_t(p)]);
        dst[size_t(p)] = weights_[size_t(p)]->host();
    }
    hls::pack_weights(model, layout_, dst);
    for (auto& b : weights_) b->to_device(b->beats());
}

hls::DeviceBuffer& HlsDeviceBackend::io(int i) {
    BufferPtr& b = io_[size_t(i)];
    if (!b) b = runner_->alloc(hls::BufferUse::OpVector, 0, kIoBeats);
    return *b;
}

void HlsDeviceBackend::put(hls::DeviceBuffer& b, const float* src, int n) {
    hls::to_beats(src, n, b.host());
    b.to_device(lhk::vec_beats(n));
}

void HlsDeviceBackend::get(hls::DeviceBuffer& b, float* dst, int n) {
    b.from_device(lhk::vec_beats(n));
    hls::from_beats(b.host(), n, dst);
}

void HlsDeviceBackend::too_large(const std::string& what) const {
    throw InputError(options_.name + ": " + what);
}

// ---- per-op mode ------------------------------------------------------------------------

void HlsDeviceBackend::rmsnorm(float* out, const float* x, const float* weight, int n) {
    if (n > lhk::kMaxCols) too_large("rmsnorm of " + std::to_string(n) + " exceeds kMaxCols");
    put(io(0), x, n);
    put(io(1), weight, n);
    runner_->run_rmsnorm(io(2), io(0), io(1), n);
    get(io(2), out, n);
}

hls::MatrixRegions HlsDeviceBackend::matrix_regions(const WeightMatrix& w, std::array<BufferPtr, hls::kPorts>& own,
                                                     int& group_size) {
    hls::MatrixRegions r{};
    group_size = w.dtype == DType::Q8_0 ? w.group_size : 0;
    if (weights_[0] && model_->weights().holds(w)) {
        if (lhk::is_q4(layout_.dims)) {
            const int kind = w.id.role == WeightRole::Classifier ? lhk::kQ4Classifier : int(w.id.role);
            group_size = lhk::q4_matmul_code(lhk::q4_format_of(layout_.dims, kind));
        }
        for (int p = 0; p < hls::kPorts; ++p) {
            const int64_t off = w.id.role == WeightRole::Classifier
                                    ? lhk::classifier_offset(layout_.dims, p)
                                    : lhk::matrix_offset(layout_.dims, p, w.id.layer, int(w.id.role));
            r[size_t(p)] = {weights_[size_t(p)].get(), off};
        }
        return r;
    }
    const hls::PackedMatrix packed = hls::pack_matrix(w);  // not the model's (per-op checks on random data)
    group_size = packed.group_size;
    for (int p = 0; p < hls::kPorts; ++p) {
        const hls::BeatBuffer& src = packed.port[size_t(p)];
        own[size_t(p)] = runner_->alloc(hls::BufferUse::OpMatrix, p, src.beats());
        if (src.bytes()) std::memcpy(own[size_t(p)]->host(), src.data(), src.bytes());
        own[size_t(p)]->to_device(src.beats());
        r[size_t(p)] = {own[size_t(p)].get(), 0};
    }
    return r;
}

void HlsDeviceBackend::matmul(float* out, const float* x, const WeightMatrix& w) {
    if (w.cols > lhk::kMaxCols || w.rows > lhk::kMaxRows)
        too_large("a " + std::to_string(w.rows) + "x" + std::to_string(w.cols) + " matmul exceeds the kernels' maxima");
    put(io(0), x, w.cols);
    std::array<BufferPtr, hls::kPorts> own;
    int group_size = 0;
    const hls::MatrixRegions regions = matrix_regions(w, own, group_size);
    runner_->run_matmul(regions, io(0), io(1), w.rows, w.cols, group_size);
    get(io(1), out, w.rows);
}

void HlsDeviceBackend::rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size) {
    if (dim > lhk::kMaxDim || kv_dim > dim || head_size > lhk::kMaxHeadSize)
        too_large("rope shape exceeds the kernels' maxima");
    put(io(0), q, dim);
    put(io(1), k, kv_dim);
    runner_->run_rope(io(0), io(1), pos, dim, kv_dim, head_size);
    get(io(0), q, dim);
    get(io(1), k, kv_dim);
}

void HlsDeviceBackend::softmax(float* x, int n) {
    if (n > lhk::kKvPorts * lhk::kMaxSlots)
        too_large("softmax over " + std::to_string(n) + " values exceeds kMaxSeqLen");
    put(io(0), x, n);
    runner_->run_softmax(io(0), n);
    get(io(0), x, n);
}

void HlsDeviceBackend::attention(float* out, const float* q, const float* key_cache, const float* value_cache,
                                 float* att, int pos, const AttentionShape& s) {
    (void)att;  // the kernel keeps its scores on chip
    // The cache of this one layer, striped as the kernel reads it (one layer, kMaxSeqLen).
    const lhk::ModelDims d = hls::single_layer_attention_dims(s, pos, options_.name, options_.kv_bits);
    if (std::memcmp(&d, &attn_dims_, sizeof d) != 0) {
        attn_dims_ = {};
        for (int p = 0; p < lhk::kKvPorts; ++p)
            attn_kv_[size_t(p)] = runner_->alloc(hls::BufferUse::OpKv, p, lhk::kv_port_beats(d));
        attn_dims_ = d;
    }
    hls::KvBuffers kv{};
    std::array<lhk::Beat*, lhk::kKvPorts> stripes{};
    for (int p = 0; p < lhk::kKvPorts; ++p) {
        kv[size_t(p)] = attn_kv_[size_t(p)].get();
        stripes[size_t(p)] = kv[size_t(p)]->host();
    }
    hls::stripe_kv_layer(d, 0, pos, key_cache, value_cache, stripes);
    for (hls::DeviceBuffer* b : kv) b->to_device(b->beats());
    put(io(0), q, d.dim);
    runner_->run_attention(io(1), io(0), kv, 0, pos, d);
    get(io(1), out, d.dim);
}

void HlsDeviceBackend::swiglu(float* hb, const float* hb2, int n) {
    if (n > lhk::kMaxCols) too_large("swiglu of " + std::to_string(n) + " exceeds kMaxCols");
    put(io(0), hb, n);
    put(io(1), hb2, n);
    runner_->run_swiglu(io(0), io(1), n);
    get(io(0), hb, n);
}

// ---- the fused forward pass -------------------------------------------------------------

void HlsDeviceBackend::check_token_pos(int token, int pos) const {
    const ModelConfig& c = model_->config();
    if (token < 0 || token >= c.vocab_size || pos < 0 || pos >= c.seq_len)
        throw InputError(options_.name + ": token " + std::to_string(token) + " at position " + std::to_string(pos) +
                         " is outside the model (vocab " + std::to_string(c.vocab_size) + ", seq_len " +
                         std::to_string(c.seq_len) + ")");
}

void HlsDeviceBackend::run_forward(int token, int pos, int steps, int prompt, int prompt_logits) {
    hls::WeightBuffers w{};
    hls::KvBuffers kv{};
    for (int p = 0; p < hls::kPorts; ++p) w[size_t(p)] = weights_[size_t(p)].get();
    for (int p = 0; p < lhk::kKvPorts; ++p) kv[size_t(p)] = kv_[size_t(p)].get();
    runner_->run_forward(token, pos, steps, prompt, prompt_logits, layout_.dims, w, kv, *logits_, *tokens_);
}

float* HlsDeviceBackend::forward(int token, int pos) {
    if (!options_.fused) return Backend::forward(token, pos);
    check_token_pos(token, pos);
    run_forward(token, pos, 0, 0, lhk::kPromptLogitsNone);
    logits_->from_device(layout_.logits_beats);
    hls::from_beats(logits_->host(), model_->config().vocab_size, state_->logits.data());
    return state_->logits.data();
}

float* HlsDeviceBackend::forward_batch(const int* tokens, int n, int pos, BatchLogits which, float* all_logits) {
    if (!options_.fused) return Backend::forward_batch(tokens, n, pos, which, all_logits);
    check_batch(tokens, n, pos, which, all_logits);
    const int vocab = model_->config().vocab_size;
    if (lhk::is_q4(layout_.dims)) {
        // No prefill engines for 4-bit weights (the kernel's prefill mode does nothing for
        // them): the prompt goes through llama_forward token by token.
        for (int i = 0; i < n; ++i) {
            const float* l = forward(tokens[i], pos + i);
            if (which == BatchLogits::All) std::memcpy(all_logits + size_t(i) * size_t(vocab), l, size_t(vocab) * 4);
        }
        return state_->logits.data();
    }
    // llama_forward's prefill mode, a block of the shape's block_tokens at a time (every
    // token's logits: no more than the runner takes a run): each block's ids to the device,
    // its layers with one weight stream, logits only where they are wanted.
    const int most = lhk::block_tokens(layout_.dims);
    const int block = which == BatchLogits::All ? std::min(most, runner_->prompt_logits_per_run(layout_.dims)) : most;
    for (int first = 0; first < n; first += block) {
        const int m = std::min(block, n - first);
        const bool last = first + m == n;
        const int wanted = which == BatchLogits::All ? lhk::kPromptLogitsEvery
                           : last                    ? lhk::kPromptLogitsLast
                                                     : lhk::kPromptLogitsNone;
        lhk::Beat* ids = tokens_->host();
        for (int i = 0; i < m; ++i) ids[i / lhk::kFloatsPerBeat].v[i % lhk::kFloatsPerBeat] = lhk::float_of(uint32_t(tokens[first + i]));
        tokens_->to_device(hls::token_beats(m));
        run_forward(0, pos + first, 0, m, wanted);
        const int rows = wanted == lhk::kPromptLogitsEvery ? m : wanted == lhk::kPromptLogitsLast ? 1 : 0;
        if (rows == 0) continue;
        logits_->from_device(layout_.logits_beats * rows);
        for (int r = 0; r < rows; ++r) {
            const lhk::Beat* src = logits_->host() + int64_t(r) * layout_.logits_beats;
            if (which == BatchLogits::All) hls::from_beats(src, vocab, all_logits + size_t(first + r) * size_t(vocab));
            if (last && r == rows - 1) hls::from_beats(src, vocab, state_->logits.data());
        }
    }
    return state_->logits.data();
}

int HlsDeviceBackend::decode_greedy(int token, int pos, int steps, std::vector<int>& out) {
    if (!options_.fused) return Backend::decode_greedy(token, pos, steps, out);
    const ModelConfig& c = model_->config();
    check_token_pos(token, pos);
    const int n = std::min(steps, c.seq_len - pos);
    int done = 0;
    while (done < n) {
        const int run = std::min(runner_->greedy_tokens_per_run(), n - done);
        run_forward(token, pos + done, run, 0, lhk::kPromptLogitsNone);
        tokens_->from_device(hls::token_beats(run));
        done += hls::read_token_ids(tokens_->host(), run, c.vocab_size, options_.name.c_str(), out);
        if (out.back() == lhk::kBosToken) break;  // read_token_ids stops at the first BOS
        token = out.back();
    }
    return done;
}

std::optional<hls::DeviceEstimate> HlsDeviceBackend::estimate(int pos) const {
    if (!options_.models_board || !model_) return std::nullopt;
    const hls::BoardSpec board =
        hls::load_board(options_.board.empty() ? hls::default_board_path() : options_.board);
    const int gs = hls::precision_of(layout_.dims);
    const hls::DesignSpec design = hls::compiled_design(options_.kv_bits);
    const hls::TokenEstimate sampled = hls::estimate_token(model_->config(), pos, design, board, gs);
    const hls::TokenEstimate greedy = hls::estimate_token(model_->config(), pos, design, board, gs,
                                                          hls::DecodeMode::DeviceGreedy);
    return hls::to_device_estimate(sampled, &greedy);
}

std::optional<hls::DeviceEstimate> HlsDeviceBackend::estimate_prefill(int pos, int n) const {
    // 4-bit models have no prefill mode: their prompts are decoded token by token.
    if (!options_.models_board || !model_ || lhk::is_q4(layout_.dims)) return std::nullopt;
    const hls::BoardSpec board =
        hls::load_board(options_.board.empty() ? hls::default_board_path() : options_.board);
    return hls::to_device_estimate(
        hls::estimate_prefill(model_->config(), pos, n, board, layout_.dims.group_size, options_.kv_bits));
}

}  // namespace lhb
