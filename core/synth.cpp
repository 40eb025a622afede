#include "core/synth.hpp"

#include <cmath>
#include <map>
#include <sstream>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/rng.hpp"

namespace lhb {

namespace {

ModelConfig make(int dim, int hidden, int layers, int heads, int kv_heads, int vocab, int seq) {
    ModelConfig c;
    c.dim = dim;
    c.hidden_dim = hidden;
    c.n_layers = layers;
    c.n_heads = heads;
    c.n_kv_heads = kv_heads;
    c.vocab_size = vocab;
    c.seq_len = seq;
    c.shared_classifier = true;
    return c;
}

const std::map<std::string, ModelConfig>& named_shapes() {
    static const std::map<std::string, ModelConfig> shapes = {
        {"stories260K", make(64, 172, 5, 8, 4, 512, 512)},
        {"stories15M", make(288, 768, 6, 6, 6, 32000, 256)},
        {"stories42M", make(512, 1376, 8, 8, 8, 32000, 1024)},
        {"stories110M", make(768, 2048, 12, 12, 12, 32000, 1024)},
    };
    return shapes;
}

class TensorWriter {
public:
    TensorWriter(AtomicFile& f, Rng& rng) : f_(f), rng_(rng) {}
    // n values uniform with standard deviation `stddev`, around `mean`.
    void random(int64_t n, float stddev, float mean = 0.f) {
        const float a = stddev * std::sqrt(3.0f);  // uniform(-a, a) has std a/sqrt(3)
        for (int64_t i = 0; i < n; ++i) push(mean + a * rng_.uniform());
    }
    void push(float v) {
        buf_.push_back(v);
        if (buf_.size() == kChunk) flush();
    }
    void flush() {
        f_.write(buf_.data(), buf_.size() * sizeof(float));
        buf_.clear();
    }

private:
    static constexpr size_t kChunk = 1 << 16;
    AtomicFile& f_;
    Rng& rng_;
    std::vector<float> buf_;
};

}  // namespace

const char* shape_names() { return "stories260K, stories15M, stories42M, stories110M"; }

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
    validate_config(c, path);
    AtomicFile f(path, uint64_t(v0_file_size(c)));
    const int32_t header[7] = {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
                               c.vocab_size /* positive: shared classifier */, c.seq_len};
    f.write(header, sizeof header);

    Rng rng{seed * 0x2545F4914F6CDD1Dull + 1};
    TensorWriter w(f, rng);
    const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers, V = c.vocab_size;
    const float in_d = 1.0f / std::sqrt(float(d)), in_h = 1.0f / std::sqrt(float(h));
    // The embedding doubles as the classifier: std 2/sqrt(dim) gives logits of a few units.
    w.random(V * d, 2.0f * in_d);
    w.random(L * d, 0.1f, 1.0f);  // rms_att
    w.random(L * d * d, in_d);    // wq
    w.random(L * kv * d, in_d);   // wk
    w.random(L * kv * d, in_d);   // wv
    w.random(L * d * d, in_d);    // wo
    w.random(L * d, 0.1f, 1.0f);  // rms_ffn
    w.random(L * h * d, in_d);    // w1
    w.random(L * d * h, in_h);    // w2
    w.random(L * h * d, in_d);    // w3
    w.random(d, 0.1f, 1.0f);      // rms_final
    // The stored RoPE tables, as export.py writes them (llama2.c ignores them).
    const int half = c.head_size() / 2;
    for (int part = 0; part < 2; ++part)
        for (int t = 0; t < c.seq_len; ++t)
            for (int i = 0; i < half; ++i) {
                double freq = 1.0 / std::pow(10000.0, (2.0 * i) / c.head_size());
                w.push(float(part == 0 ? std::cos(t * freq) : std::sin(t * freq)));
            }
    w.flush();
    f.commit();
}

}  // namespace lhb
