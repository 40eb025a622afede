#include "core/quantize.hpp"

#include <cfenv>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace lhb {

int default_group_size(const ModelConfig& c) {
    for (int gs = kMaxGroupSize; gs > 1; --gs)
        if (c.dim % gs == 0 && c.hidden_dim % gs == 0) return gs;
    return 1;
}

namespace {
template <class Round>
void quantize_groups(const float* x, int64_t n, int gs, int8_t* q, float* scales, Round round_fn) {
    for (int64_t g = 0; g < n / gs; ++g) {
        const float* xg = x + g * gs;
        float wmax = 0.0f;
        bool finite = true;
        for (int i = 0; i < gs; ++i) {
            float v = std::fabs(xg[i]);
            if (!std::isfinite(v)) finite = false;
            else if (v > wmax) wmax = v;
        }
        // A NaN/Inf in the group makes its scale NaN, so the non-finite value shows up in the
        // matmul's output instead of vanishing into an int8 (converting NaN, or anything
        // outside [-128, 127], to int8 is undefined; a subnormal scale can push |w/scale|
        // past 127, hence the clamp). Finite groups with normal scales are unaffected.
        float scale = finite ? wmax / 127.0f : std::nanf("");
        scales[g] = scale;
        for (int i = 0; i < gs; ++i) {
            float r = !finite || scale == 0.0f ? 0.0f : round_fn(xg[i] / scale);
            q[g * gs + i] = int8_t(std::fmin(std::fmax(r, -127.0f), 127.0f));
        }
    }
}
}  // namespace

void quantize_weights_q8(const float* w, int64_t n, int gs, int8_t* q, float* scales) {
    // nearbyint rounds half to even in the default rounding mode, like torch.round.
    quantize_groups(w, n, gs, q, scales, [](float v) { return std::nearbyint(v); });
}

void quantize_activations_q8(const float* x, int n, int gs, int8_t* q, float* scales) {
    quantize_groups(x, n, gs, q, scales, [](float v) { return std::round(v); });
}

void write_q8_model(const Model& model, const std::string& out_path, int gs) {
    const ModelConfig& c = model.config();
    // A GGUF file may mix fp32 and block types, and carries a RoPE base and epsilon that a
    // version-2 file cannot store.
    if (model.format() == FileFormat::Gguf)
        throw InputError(model.path() + ": a GGUF file; expected an fp32 llama2.c (v0 or v1) checkpoint");
    if (model.dtype() != DType::F32)
        throw InputError(model.path() + ": already quantized; expected an fp32 (v0 or v1) checkpoint");
    if (gs <= 0 || c.dim % gs != 0 || c.hidden_dim % gs != 0)
        fail_input(out_path, "--group", "a divisor of dim " + std::to_string(c.dim) + " and hidden_dim " +
                                            std::to_string(c.hidden_dim), std::to_string(gs));
    std::fesetround(FE_TONEAREST);
    AtomicFile f(out_path, uint64_t(v2_file_size(c, gs)));
    unsigned char header[256] = {};
    const uint32_t magic = 0x616b3432;
    const int32_t version = 2;
    const int32_t fields[7] = {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len};
    std::memcpy(header, &magic, 4);
    std::memcpy(header + 4, &version, 4);
    std::memcpy(header + 8, fields, sizeof fields);
    header[36] = c.shared_classifier ? 1 : 0;
    std::memcpy(header + 37, &gs, 4);  // unaligned, right after the flag byte
    f.write(header, sizeof header);

    const ModelWeights& w = model.weights();
    for (const LayerWeights& L : w.layers) f.write(L.rms_att, size_t(c.dim) * 4);
    for (const LayerWeights& L : w.layers) f.write(L.rms_ffn, size_t(c.dim) * 4);
    f.write(w.rms_final, size_t(c.dim) * 4);

    std::vector<int8_t> q;
    std::vector<float> s;
    auto put = [&](const float* data, int64_t n) {
        q.resize(size_t(n));
        s.resize(size_t(n / gs));
        quantize_weights_q8(data, n, gs, q.data(), s.data());
        f.write(q.data(), q.size());
        f.write(s.data(), s.size() * 4);
    };
    put(w.token_embedding, int64_t(c.vocab_size) * c.dim);
    for (auto field : {&LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::wo,
                       &LayerWeights::w1, &LayerWeights::w2, &LayerWeights::w3})
        for (const LayerWeights& L : w.layers) put((L.*field).f32, (L.*field).numel());
    if (!c.shared_classifier) put(w.wcls.f32, w.wcls.numel());
    f.commit();
}

}  // namespace lhb
