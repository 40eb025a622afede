#include "backends/hls_csim/hls_csim.hpp"

#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "host/estimator.hpp"
#include "kernels/llama_kernels.hpp"

namespace lhb {

namespace {
// Enough beats for any vector a per-op top reads or writes (the classifier's rows).
constexpr int64_t kIoBeats = (lhk::kMaxRows + lhk::kFloatsPerBeat - 1) / lhk::kFloatsPerBeat;
}  // namespace

HlsCsimBackend::HlsCsimBackend(const BackendOptions& options)
    : fused_(options.fused), board_path_(options.board), io_a_(kIoBeats), io_b_(kIoBeats), io_c_(kIoBeats) {}

namespace {
// The key of a model matrix in packed_matrix_: its values, fp32 or int8.
const void* matrix_key(const WeightMatrix& w) {
    return w.dtype == DType::F32 ? static_cast<const void*>(w.f32) : static_cast<const void*>(w.q);
}
}  // namespace

void HlsCsimBackend::load(const Model& model) {
    hls::check_fits(model.config(), model.path(), hls::group_size_of(model));
    Backend::load(model);
    packed_ = hls::pack_model(model);
    kv_ = hls::make_kv_stripes(packed_.layout);
    logits_ = hls::BeatBuffer(packed_.layout.logits_beats);
    tokens_ = hls::BeatBuffer(hls::token_beats(lhk::kMaxSeqLen));
    packed_matrix_.clear();
    const ModelWeights& w = model.weights();
    for (int l = 0; l < model.config().n_layers; ++l) {
        const LayerWeights& L = w.layers[size_t(l)];
        const WeightMatrix* mats[lhk::kMatricesPerLayer] = {&L.wq, &L.wk, &L.wv, &L.wo, &L.w1, &L.w2, &L.w3};
        for (int m = 0; m < lhk::kMatricesPerLayer; ++m)
            packed_matrix_[matrix_key(*mats[m])] = hls::matrix_ports(packed_, l, m);
    }
    packed_matrix_[matrix_key(w.wcls)] = hls::classifier_ports(packed_);
}

void HlsCsimBackend::rmsnorm(float* out, const float* x, const float* weight, int n) {
    if (n > lhk::kMaxCols) throw InputError("hls-csim: rmsnorm of " + std::to_string(n) + " exceeds kMaxCols");
    hls::to_beats(x, n, io_a_.data());
    hls::to_beats(weight, n, io_b_.data());
    op_rmsnorm(io_c_.data(), io_a_.data(), io_b_.data(), n);
    hls::from_beats(io_c_.data(), n, out);
}

void HlsCsimBackend::matmul(float* out, const float* x, const WeightMatrix& w) {
    if (w.cols > lhk::kMaxCols || w.rows > lhk::kMaxRows)
        throw InputError("hls-csim: a " + std::to_string(w.rows) + "x" + std::to_string(w.cols) +
                         " matmul exceeds the kernels' maxima");
    hls::to_beats(x, w.cols, io_a_.data());
    // A model matrix is found by its values (and its precision must be the packed one).
    auto it = packed_matrix_.find(matrix_key(w));
    const int gs = w.dtype == DType::Q8_0 ? w.group_size : 0;
    if (it != packed_matrix_.end() && gs != packed_.layout.dims.group_size) it = packed_matrix_.end();
    hls::PackedMatrix own;
    std::array<const lhk::Beat*, hls::kPorts> ports{};
    if (it != packed_matrix_.end()) {
        ports = it->second;
    } else {
        own = hls::pack_matrix(w);  // not a model matrix (per-op checks on random data)
        ports = own.ports();
    }
    op_matmul(ports[0], ports[1], ports[2], ports[3], io_a_.data(), io_b_.data(), w.rows, w.cols, gs);
    hls::from_beats(io_b_.data(), w.rows, out);
}

void HlsCsimBackend::rope(float* q, float* k, int pos, int dim, int kv_dim, int head_size) {
    if (dim > lhk::kMaxDim || kv_dim > dim || head_size > lhk::kMaxHeadSize)
        throw InputError("hls-csim: rope shape exceeds the kernels' maxima");
    hls::to_beats(q, dim, io_a_.data());
    hls::to_beats(k, kv_dim, io_b_.data());
    op_rope(io_a_.data(), io_b_.data(), pos, dim, kv_dim, head_size);
    hls::from_beats(io_a_.data(), dim, q);
    hls::from_beats(io_b_.data(), kv_dim, k);
}

void HlsCsimBackend::softmax(float* x, int n) {
    if (n > lhk::kKvPorts * lhk::kMaxSlots)
        throw InputError("hls-csim: softmax over " + std::to_string(n) + " values exceeds kMaxSeqLen");
    hls::to_beats(x, n, io_a_.data());
    op_softmax(io_a_.data(), n);
    hls::from_beats(io_a_.data(), n, x);
}

void HlsCsimBackend::attention(float* out, const float* q, const float* key_cache, const float* value_cache,
                               float* att, int pos, const AttentionShape& s) {
    (void)att;  // the kernel keeps its scores on chip
    // The cache of this one layer, striped as the kernel reads it (one layer, kMaxSeqLen).
    const lhk::ModelDims d = hls::single_layer_attention_dims(s, pos, "hls-csim");
    if (std::memcmp(&d, &attn_dims_, sizeof d) != 0) {
        attn_dims_ = d;
        for (auto& b : attn_kv_) b = hls::BeatBuffer(lhk::kv_port_beats(d));
    }
    hls::stripe_kv_layer(d, 0, pos, key_cache, value_cache, attn_kv_);
    hls::to_beats(q, d.dim, io_a_.data());
    op_attention(io_b_.data(), io_a_.data(), attn_kv_[0].data(), attn_kv_[1].data(), attn_kv_[2].data(),
                 attn_kv_[3].data(), 0, pos, d);
    hls::from_beats(io_b_.data(), d.dim, out);
}

void HlsCsimBackend::swiglu(float* hb, const float* hb2, int n) {
    if (n > lhk::kMaxCols) throw InputError("hls-csim: swiglu of " + std::to_string(n) + " exceeds kMaxCols");
    hls::to_beats(hb, n, io_a_.data());
    hls::to_beats(hb2, n, io_b_.data());
    op_swiglu(io_a_.data(), io_b_.data(), n);
    hls::from_beats(io_a_.data(), n, hb);
}

namespace {
void check_token_pos(const ModelConfig& c, int token, int pos) {
    if (token < 0 || token >= c.vocab_size || pos < 0 || pos >= c.seq_len)
        throw InputError("hls-csim: token " + std::to_string(token) + " at position " + std::to_string(pos) +
                         " is outside the model (vocab " + std::to_string(c.vocab_size) + ", seq_len " +
                         std::to_string(c.seq_len) + ")");
}
}  // namespace

float* HlsCsimBackend::forward(int token, int pos) {
    if (!fused_) return Backend::forward(token, pos);
    const ModelConfig& c = model_->config();
    check_token_pos(c, token, pos);
    run_forward(token, pos, 0);
    hls::from_beats(logits_.data(), c.vocab_size, state_->logits.data());
    return state_->logits.data();
}

int HlsCsimBackend::decode_greedy(int token, int pos, int steps, std::vector<int>& out) {
    if (!fused_) return Backend::decode_greedy(token, pos, steps, out);
    const ModelConfig& c = model_->config();
    check_token_pos(c, token, pos);
    const int n = std::min(steps, c.seq_len - pos);
    int done = 0;
    while (done < n) {
        const int run = std::min(kCsimGreedyRun, n - done);
        run_forward(token, pos + done, run);
        done += hls::read_token_ids(tokens_.data(), run, c.vocab_size, "hls-csim", out);
        if (out.back() == lhk::kBosToken) break;  // read_token_ids stops at the first BOS
        token = out.back();
    }
    return done;
}

void HlsCsimBackend::run_forward(int token, int pos, int steps) {
    // The weight buffers are both the readers' (w_p) and the tables (t_p).
    const auto& w = packed_.weights;
    llama_forward(token, pos, steps, packed_.layout.dims, w[0].data(), w[1].data(), w[2].data(), w[3].data(),
                  w[0].data(), w[1].data(), w[2].data(), w[3].data(), kv_[0].data(), kv_[1].data(), kv_[2].data(),
                  kv_[3].data(), logits_.data(), tokens_.data());
}

std::optional<hls::DeviceEstimate> HlsCsimBackend::estimate(int pos) const {
    if (!model_) return std::nullopt;
    const hls::BoardSpec board =
        hls::load_board(board_path_.empty() ? hls::default_board_path() : board_path_);
    const int gs = packed_.layout.dims.group_size;
    const hls::TokenEstimate sampled = hls::estimate_token(model_->config(), pos, hls::compiled_design(), board, gs);
    const hls::TokenEstimate greedy = hls::estimate_token(model_->config(), pos, hls::compiled_design(), board, gs,
                                                          hls::DecodeMode::DeviceGreedy);
    return hls::to_device_estimate(sampled, &greedy);
}

LHB_REGISTER_BACKEND(hls_csim, BackendFactory{
    "hls-csim", "the HLS kernels in C simulation (g++) on the packed device layout; estimates the board", 20,
    [](const BackendOptions&) { return Availability{}; },
    [](const BackendOptions& o) -> std::unique_ptr<Backend> { return std::make_unique<HlsCsimBackend>(o); }})

}  // namespace lhb
