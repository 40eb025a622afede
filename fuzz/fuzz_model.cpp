// Fuzz target: the checkpoint loader (Model::open) over every format it reads (v0, v1, v2).
//
// The input is the whole file. A malformed file must end in lhb::InputError; anything else
// (a crash, another exception, a sanitizer report) is a finding. A file that loads must
// yield weight views that lie entirely inside the file (or inside memory the Model owns):
// the mapping is not instrumented by ASan, so that is checked here against the mapping's
// bounds from /proc/self/maps. Small models then run one forward pass on cpu-ref, which
// reads every weight through the views exactly as a benchmark would.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "core/error.hpp"
#include "core/model.hpp"
#include "fuzz/fuzz_support.hpp"

namespace {

constexpr const char* kName = "lhb-fuzz-model";

struct Range {
    uintptr_t lo = 0, hi = 0;
};

// Where the memfd is mapped (the Model maps it once per open).
Range find_mapping() {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        if (line.find(std::string("/memfd:") + kName) == std::string::npos) continue;
        Range r;
        std::sscanf(line.c_str(), "%lx-%lx", &r.lo, &r.hi);
        return r;
    }
    return {};
}

struct ViewChecker {
    Range map;
    size_t file_size;
    // `bytes` starting at `p` must be inside the file's bytes, or else heap memory that ASan
    // checks when the first and last byte are read.
    void check(const void* p, int64_t bytes, const char* what) {
        if (bytes <= 0) return;
        if (!p) {
            std::fprintf(stderr, "loader left %s null (%lld bytes)\n", what, (long long)bytes);
            std::abort();
        }
        const auto a = reinterpret_cast<uintptr_t>(p);
        if (map.lo && a >= map.lo && a < map.hi) {
            if (a + uint64_t(bytes) > map.lo + file_size) {
                std::fprintf(stderr, "%s: %lld bytes at file offset %llu run past the end of the %zu-byte file\n",
                             what, (long long)bytes, (unsigned long long)(a - map.lo), file_size);
                std::abort();
            }
        }
        const volatile unsigned char* c = static_cast<const unsigned char*>(p);
        (void)c[0];
        (void)c[bytes - 1];
    }
    void matrix(const lhb::WeightMatrix& w, const char* what) {
        if (w.dtype == lhb::DType::F32) {
            check(w.f32, w.numel() * 4, what);
        } else if (w.dtype == lhb::DType::Ggml) {  // a GGUF file's blocks
            check(w.blocks, int64_t(w.rows) * int64_t(lhb::row_bytes(w.ggml_type, size_t(w.cols))), what);
        } else {
            if (w.group_size <= 0 || w.numel() % w.group_size != 0) {
                std::fprintf(stderr, "%s: group size %d does not divide %lld values\n", what,
                             w.group_size, (long long)w.numel());
                std::abort();
            }
            check(w.q, w.numel(), what);
            check(w.scales, w.numel() / w.group_size * 4, what);
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static lhb::fuzz::MemFile file(kName);
    file.assign(data, size);
    try {
        lhb::Model m = lhb::Model::open(file.path(), lhb::NonFiniteWeights::Allow);
        const lhb::ModelConfig& c = m.config();
        const lhb::ModelWeights& w = m.weights();
        ViewChecker v{find_mapping(), size};
        const int64_t d = c.dim;
        if (w.token_embedding) v.check(w.token_embedding, int64_t(c.vocab_size) * d * 4, "token_embedding");
        else v.matrix(w.embedding_blocks, "token_embedding");
        v.check(w.rms_final, d * 4, "rms_final");
        if (w.layers.size() != size_t(c.n_layers)) std::abort();
        for (const lhb::LayerWeights& L : w.layers) {
            v.check(L.rms_att, d * 4, "rms_att");
            v.check(L.rms_ffn, d * 4, "rms_ffn");
            v.matrix(L.wq, "wq");
            v.matrix(L.wk, "wk");
            v.matrix(L.wv, "wv");
            v.matrix(L.wo, "wo");
            v.matrix(L.w1, "w1");
            v.matrix(L.w2, "w2");
            v.matrix(L.w3, "w3");
        }
        v.matrix(w.wcls, "wcls");
        (void)m.weight_bytes_per_token();

        // One token through cpu-ref when the model is small enough to keep the fuzzer fast.
        const int64_t cache = int64_t(c.n_layers) * c.seq_len * c.kv_dim();
        if (c.n_params() <= (1 << 18) && cache <= (1 << 18)) {
            lhb::CpuRefBackend ref;
            ref.load(m);
            ref.forward(0, 0);
            if (c.seq_len > 1) ref.forward(c.vocab_size - 1, 1);
        }
    } catch (const lhb::InputError&) {
        // The expected outcome for a malformed file.
    }
    return 0;
}
