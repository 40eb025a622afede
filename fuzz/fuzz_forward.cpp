// One forward pass of a small fuzzed model through cpu-ref, openmp and hls-csim (each fused
// and per op). The first bytes choose a shape (dim <= 32, hidden <= 48, 1-2 layers, vocab <=
// 32, seq <= 8, grouped-query heads, shared or own classifier), the rest become weights:
// each byte a float in [-4, 4), so every model is finite (NaN weights are refused at load,
// fuzz_model covers those) and, at these sizes, no activation can overflow. A finding is a
// sanitizer report, an exception other than InputError, or non-finite logits.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "backends/hls_csim/hls_csim.hpp"
#include "backends/openmp/openmp.hpp"
#include "core/error.hpp"
#include "core/model.hpp"
#include "fuzz/fuzz_support.hpp"

namespace {

// The shape the input's first 8 bytes choose (missing bytes read as 0).
lhb::ModelConfig shape_of(lhb::fuzz::Bytes& in) {
    const std::string b = in.take(8) + std::string(8, '\0');
    auto at = [&](int i) { return int(static_cast<unsigned char>(b[size_t(i)])); };
    lhb::ModelConfig c;
    c.n_heads = 1 + at(0) % 4;
    std::vector<int> divisors;
    for (int k = 1; k <= c.n_heads; ++k)
        if (c.n_heads % k == 0) divisors.push_back(k);
    c.n_kv_heads = divisors[size_t(at(1)) % divisors.size()];
    c.dim = c.n_heads * 2 * (1 + at(2) % 4);  // RoPE rotates pairs: an even head size
    c.hidden_dim = 1 + at(3) % 48;
    c.n_layers = 1 + at(4) % 2;
    c.vocab_size = 1 + at(5) % 32;
    c.seq_len = 1 + at(6) % 8;
    c.shared_classifier = (at(7) & 1) == 0;
    return c;
}

// A v0 checkpoint of shape c whose floats come from `weights`, cycled (zeros if empty).
std::string checkpoint(const lhb::ModelConfig& c, const std::string& weights) {
    const int32_t header[7] = {c.dim,     c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
                               c.shared_classifier ? c.vocab_size : -c.vocab_size, c.seq_len};
    std::string file(reinterpret_cast<const char*>(header), sizeof header);
    const int64_t floats = (lhb::v0_file_size(c) - int64_t(sizeof header)) / 4;
    file.reserve(size_t(lhb::v0_file_size(c)));
    for (int64_t k = 0; k < floats; ++k) {
        const int8_t byte = weights.empty() ? 0 : int8_t(weights[size_t(k) % weights.size()]);
        const float w = float(byte) / 32.0f;
        file.append(reinterpret_cast<const char*>(&w), 4);
    }
    return file;
}

void forward_once(lhb::Backend& b, const lhb::Model& m, int token, const char* name) {
    try {
        b.load(m);
    } catch (const lhb::InputError&) {
        return;  // a shape this backend states it does not take
    }
    const float* logits = b.forward(token, 0);
    for (int i = 0; i < m.config().vocab_size; ++i)
        if (!std::isfinite(logits[i])) {
            std::fprintf(stderr, "%s: logit %d is %g for finite weights in [-4, 4)\n", name, i, double(logits[i]));
            std::abort();
        }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static lhb::fuzz::MemFile file("fuzz_forward.bin");
    lhb::fuzz::Bytes in{data, size};
    const lhb::ModelConfig c = shape_of(in);
    const int token = int(in.u32() % uint32_t(c.vocab_size));
    const std::string bytes = checkpoint(c, in.rest());
    file.assign(bytes.data(), bytes.size());
    const lhb::Model m = lhb::Model::open(file.path());  // finite by construction: must load
    lhb::CpuRefBackend ref;
    forward_once(ref, m, token, "cpu-ref");
    lhb::OpenMpBackend fused(1, true), per_op(1, false);
    forward_once(fused, m, token, "openmp (fused)");
    forward_once(per_op, m, token, "openmp (per op)");
    for (bool fused_csim : {true, false}) {
        lhb::BackendOptions options;
        options.fused = fused_csim;
        const auto csim = lhb::make_hls_csim_backend(options);
        forward_once(*csim, m, token, fused_csim ? "hls-csim (fused)" : "hls-csim (per op)");
    }
    return 0;
}
