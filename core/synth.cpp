#include "core/synth.hpp"

#include <cmath>
#include <map>
#include <sstream>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/model_writer.hpp"
#include "core/quantize.hpp"
#include "core/rng.hpp"
#include "core/tokenizer.hpp"

namespace lhb {

namespace {

ModelConfig make(int dim, int hidden, int layers, int heads, int kv_heads, int vocab, int seq, bool tied = true,
                 float rope_theta = 10000.0f) {
    ModelConfig c;
    c.dim = dim;
    c.hidden_dim = hidden;
    c.n_layers = layers;
    c.n_heads = heads;
    c.n_kv_heads = kv_heads;
    c.vocab_size = vocab;
    c.seq_len = seq;
    c.shared_classifier = tied;
    c.rope_theta = rope_theta;
    return c;
}

const std::map<std::string, ModelConfig>& named_shapes() {
    static const std::map<std::string, ModelConfig> shapes = {
        {"stories260K", make(64, 172, 5, 8, 4, 512, 512)},
        {"stories15M", make(288, 768, 6, 6, 6, 32000, 256)},
        {"stories42M", make(512, 1376, 8, 8, 8, 32000, 1024)},
        {"stories110M", make(768, 2048, 12, 12, 12, 32000, 1024)},
        // Published configs (their config.json); TinyLlama and Llama 2 have an output
        // matrix of their own. Llama 3.2's tokenizer is a 128256-piece BPE and its RoPE is
        // scaled ("llama3"): the synthetic file has the shape and base 500000, not those.
        {"tinyllama-1.1b", make(2048, 5632, 22, 32, 4, 32000, 2048, false)},
        {"llama2-7b", make(4096, 11008, 32, 32, 32, 32000, 4096, false)},
        {"llama3.2-1b", make(2048, 8192, 16, 32, 8, 128256, 2048, true, 500000.0f)},
    };
    return shapes;
}

// Weights drawn from one splitmix64 stream in llama2.c's v0 order (what bench synth always
// wrote). splitmix64 advances its state by a constant per draw, so any row's draws start at
// a known state: rows can be asked for in any order and come out the same.
class SyntheticSource : public WeightSource {
public:
    SyntheticSource(const ModelConfig& c, uint64_t seed) : seed_state_(seed * 0x2545F4914F6CDD1Dull + 1) {
        const float in_d = 1.0f / std::sqrt(float(c.dim)), in_h = 1.0f / std::sqrt(float(c.hidden_dim));
        uint64_t at = 0;
        for (const TensorRef& t : llama2c_v0_order(c)) {
            Draw d;
            d.first = at;
            at += uint64_t(t.numel());
            switch (t.kind) {
                // The embedding doubles as the classifier: std 2/sqrt(dim) gives logits of a few units.
                case TensorKind::Embedding:
                case TensorKind::Classifier: d.stddev = 2.0f * in_d; break;
                case TensorKind::AttnNorm:
                case TensorKind::FfnNorm:
                case TensorKind::FinalNorm: d.stddev = 0.1f, d.mean = 1.0f; break;
                case TensorKind::W2: d.stddev = in_h; break;
                default: d.stddev = in_d; break;
            }
            draws_[key(t)] = d;
        }
    }
    void row(const TensorRef& t, int64_t r, float* out) override {
        const Draw& d = draws_.at(key(t));
        Rng rng{seed_state_ + (d.first + uint64_t(r * t.cols)) * 0x9E3779B97F4A7C15ull};
        const float a = d.stddev * std::sqrt(3.0f);  // uniform(-a, a) has std a/sqrt(3)
        for (int64_t j = 0; j < t.cols; ++j) out[j] = d.mean + a * rng.uniform();
    }

private:
    struct Draw {
        uint64_t first = 0;  // index in the stream of the tensor's first value
        float stddev = 0, mean = 0;
    };
    static std::pair<int, int> key(const TensorRef& t) { return {int(t.kind), t.layer}; }
    uint64_t seed_state_;
    std::map<std::pair<int, int>, Draw> draws_;
};

}  // namespace

const char* shape_names() {
    return "stories260K, stories15M, stories42M, stories110M, tinyllama-1.1b, llama2-7b, llama3.2-1b";
}

ModelConfig parse_shape(const std::string& spec) {
    auto it = named_shapes().find(spec);
    if (it != named_shapes().end()) return it->second;
    if (spec.find('=') == std::string::npos)
        throw InputError("shape '" + spec + "': expected one of " + shape_names() +
                         " or dim=..,hidden=..,layers=..,heads=..,kv_heads=..,vocab=..,seq=..");
    std::map<std::string, int*> fields;
    ModelConfig c;
    c.n_kv_heads = -1;
    fields = {{"dim", &c.dim},          {"hidden", &c.hidden_dim}, {"layers", &c.n_layers},
              {"heads", &c.n_heads},    {"kv_heads", &c.n_kv_heads}, {"vocab", &c.vocab_size},
              {"seq", &c.seq_len}};
    std::stringstream ss(spec);
    std::string item;
    while (std::getline(ss, item, ',')) {
        auto eq = item.find('=');
        std::string key = item.substr(0, eq);
        auto f = fields.find(key);
        if (eq == std::string::npos || f == fields.end())
            throw InputError("shape '" + spec + "': field '" + key +
                             "': expected one of dim, hidden, layers, heads, kv_heads, vocab, seq");
        std::string value = item.substr(eq + 1);
        size_t used = 0;
        long v = 0;
        try {
            v = std::stol(value, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != value.size() || value.empty() || v < INT32_MIN || v > INT32_MAX)
            throw InputError("shape '" + spec + "': field '" + key + "': expected an integer, found '" + value + "'");
        *f->second = int(v);
    }
    for (const auto& [key, ptr] : fields)
        if (*ptr == 0 && key != "kv_heads")
            throw InputError("shape '" + spec + "': field '" + key + "': missing");
    if (c.n_kv_heads == -1) c.n_kv_heads = c.n_heads;
    validate_config(c, "shape '" + spec + "'");
    return c;
}

void write_synthetic_model(const ModelConfig& c, const std::string& path, uint64_t seed) {
    SynthOptions o;
    o.seed = seed;
    o.max_bytes = kMaxOutputBytes;
    write_synthetic(c, path, o);
}

std::string write_synthetic(const ModelConfig& c, const std::string& path, const SynthOptions& o) {
    validate_config(c, path);
    SyntheticSource src(c, o.seed);
    const std::string type = gguf_output_type_name(o.type);
    if (o.format == SynthFormat::Llama2c) {
        if (o.type != GgmlType::F32 && o.type != GgmlType::Q8_0)
            throw InputError(path + ": --type " + type + ": llama2.c files are fp32 (v0) or int8 (v2); expected f32 or "
                                    "q8_0, or --format gguf");
        Llama2cFormat f;
        f.version = o.type == GgmlType::F32 ? 0 : 2;
        f.group_size = o.group_size ? o.group_size : default_group_size(c);
        write_llama2c(c, f, src, path, o.max_bytes);
        return f.version == 0 ? "llama2.c v0, fp32" : "llama2.c v2, int8 in groups of " + std::to_string(f.group_size);
    }
    GgufVocabulary vocab;
    if (!o.tokenizer.empty()) {
        vocab = gguf_vocabulary(Tokenizer::load(o.tokenizer, c.vocab_size), o.tokenizer);
    } else {
        if (c.vocab_size < 260)
            fail_input(path, "vocab", "at least 260 for placeholder pieces (or a tokenizer with -z)",
                       std::to_string(c.vocab_size));
        vocab = synthetic_vocabulary(c.vocab_size);
    }
    GgufModelFormat f;
    f.matrix_type = o.type;
    f.name = o.name.empty() ? "synthetic" : o.name;
    write_gguf(c, f, vocab, src, path, o.max_bytes);
    return "GGUF, matrices " + type + ", norms F32, vocabulary " + vocab.origin;
}

}  // namespace lhb
