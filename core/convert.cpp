#include "core/convert.hpp"

#include <cstring>
#include <filesystem>
#include <vector>

#include "core/error.hpp"
#include "core/gguf.hpp"
#include "core/gguf_vocab.hpp"
#include "core/model.hpp"
#include "core/model_writer.hpp"
#include "core/quantize.hpp"
#include "core/tokenizer.hpp"

namespace lhb {

namespace {

const WeightMatrix& matrix_of(const ModelWeights& w, const TensorRef& t) {
    if (t.kind == TensorKind::Classifier) return w.wcls;
    const LayerWeights& L = w.layers[size_t(t.layer)];
    switch (t.kind) {
        case TensorKind::Wq: return L.wq;
        case TensorKind::Wk: return L.wk;
        case TensorKind::Wv: return L.wv;
        case TensorKind::Wo: return L.wo;
        case TensorKind::W1: return L.w1;
        case TensorKind::W2: return L.w2;
        default: return L.w3;
    }
}

const float* norm_of(const ModelWeights& w, const TensorRef& t) {
    if (t.kind == TensorKind::FinalNorm) return w.rms_final;
    const LayerWeights& L = w.layers[size_t(t.layer)];
    return t.kind == TensorKind::AttnNorm ? L.rms_att : L.rms_ffn;
}

// Rows of a mapped model: fp32 copied, llama2.c int8 as q * scale (runq.c's dequantization),
// GGUF blocks dequantized as ggml does.
class ModelSource : public WeightSource {
public:
    explicit ModelSource(const Model& m) : w_(m.weights()) {}
    void row(const TensorRef& t, int64_t r, float* out) override {
        if (t.is_norm()) {
            std::memcpy(out, norm_of(w_, t), size_t(t.cols) * 4);
            return;
        }
        if (t.kind == TensorKind::Embedding) {
            w_.embedding_row(int(r), int(t.cols), out);
            return;
        }
        const WeightMatrix& m = matrix_of(w_, t);
        const int64_t at = r * m.cols;
        switch (m.dtype) {
            case DType::F32: std::memcpy(out, m.f32 + at, size_t(m.cols) * 4); break;
            case DType::Q8_0:
                for (int64_t j = 0; j < m.cols; ++j) out[j] = float(m.q[at + j]) * m.scales[(at + j) / m.group_size];
                break;
            case DType::Ggml:
                dequantize_row(m.ggml_type, m.blocks + size_t(r) * row_bytes(m.ggml_type, size_t(m.cols)), out,
                               size_t(m.cols));
                break;
        }
    }

private:
    const ModelWeights& w_;
};

GgmlType type_of(const WeightMatrix& m) {
    return m.dtype == DType::Ggml ? m.ggml_type : m.dtype == DType::F32 ? GgmlType::F32 : GgmlType::Q8_0;
}

// The one type family every matrix of a GGUF model is in: F32 (F32 or F16) or Q8_0. Throws
// naming the first matrix outside it.
GgmlType llama2c_family(const Model& m) {
    const ModelConfig& c = m.config();
    const ModelWeights& w = m.weights();
    GgmlType family = GgmlType::F32;
    std::string first;  // the first matrix's name
    for (const TensorRef& t : llama2c_v0_order(c)) {
        if (t.is_norm()) continue;
        const GgmlType type = t.kind == TensorKind::Embedding
                                  ? (w.token_embedding ? GgmlType::F32 : w.embedding_blocks.ggml_type)
                                  : type_of(matrix_of(w, t));
        const GgmlType fam = type == GgmlType::F16 ? GgmlType::F32 : type;  // widening F16 is exact
        const std::string what = m.path() + ": tensor " + gguf_tensor_name(t) + " is " + ggml_type_name(uint32_t(type));
        if (fam != GgmlType::F32 && fam != GgmlType::Q8_0)
            throw InputError(what + ": llama2.c files hold fp32 (v0, v1: from F32/F16) or int8 groups (v2: from "
                                    "Q8_0), and this type would need a second rounding");
        if (first.empty()) {
            family = fam;
            first = gguf_tensor_name(t);
        } else if (fam != family) {
            throw InputError(what + " but " + first + " is " + ggml_type_name(uint32_t(family)) +
                             ": a llama2.c file holds every matrix in one type");
        }
    }
    return family;
}

// The file's vocabulary as tokenizer.bin bytes (tokenizer.py's layout).
std::string tokenizer_bin(const GgufFile& f) {
    const Tokenizer t = gguf_tokenizer(f);
    std::vector<std::string> pieces;
    uint32_t max_len = 0;
    for (int id = 0; id < t.vocab_size(); ++id) {
        std::string p = t.piece(id);
        // tokenizer.bin spells BOS and EOS as export.py wrote them.
        if (id == 1 && p == "<s>") p = "\n<s>\n";
        if (id == 2 && p == "</s>") p = "\n</s>\n";
        max_len = std::max<uint32_t>(max_len, uint32_t(p.size()));
        pieces.push_back(std::move(p));
    }
    std::string bytes(reinterpret_cast<const char*>(&max_len), 4);
    for (int id = 0; id < t.vocab_size(); ++id) {
        const float score = t.score(id);
        const int32_t len = int32_t(pieces[size_t(id)].size());
        bytes.append(reinterpret_cast<const char*>(&score), 4);
        bytes.append(reinterpret_cast<const char*>(&len), 4);
        bytes += pieces[size_t(id)];
    }
    return bytes;
}

std::string gguf_to_llama2c(const Model& m, const std::string& out, const ConvertOptions& o) {
    if (o.gguf_type != GgmlType::F32 || !o.tokenizer.empty())
        throw InputError(m.path() + ": --type and -z are for a llama2.c input; this converts a GGUF file (with its "
                                    "own vocabulary) to llama2.c (--version, --tokenizer-out)");
    const GgmlType family = llama2c_family(m);
    Llama2cFormat f;
    f.version = o.llama2c_version >= 0 ? o.llama2c_version : family == GgmlType::Q8_0 ? 2 : 0;
    if (family == GgmlType::Q8_0) {
        if (f.version != 2)
            throw InputError(m.path() + ": Q8_0 matrices: expected --version 2 (int8 in groups, as Q8_0 stores them), "
                                        "found --version " + std::to_string(f.version) + " (fp32)");
        if (o.group_size != 0 && o.group_size != kQK8_0)
            throw InputError(m.path() + ": Q8_0 matrices hold groups of 32; expected --group 32 or none, found " +
                             std::to_string(o.group_size) + " (regrouping would round a second time)");
        // Every Q8_0 block has an element of |q| = 127, so export.py's scale max|w| / 127 of its
        // dequantized values is the block's scale again and its rounding returns the same q.
        f.group_size = kQK8_0;
    } else if (f.version == 2) {
        f.group_size = o.group_size ? o.group_size : default_group_size(m.config());
    }
    // The vocabulary is checked before the model is written, and written after it.
    const std::string vocab = o.tokenizer_out.empty() ? "" : tokenizer_bin(*m.gguf());
    if (!o.tokenizer_out.empty()) check_output_target(o.tokenizer_out);
    auto src = model_weight_source(m);
    write_llama2c(m.config(), f, *src, out, o.max_bytes);
    std::string what = out + ": llama2.c version " + std::to_string(f.version) +
                       (f.version == 2 ? " (int8, group size " + std::to_string(f.group_size) + ")" : " (fp32)");
    if (!o.tokenizer_out.empty()) {
        write_file_atomically(o.tokenizer_out, vocab);
        what += ", vocabulary to " + o.tokenizer_out;
    }
    return what;
}

std::string llama2c_to_gguf(const Model& m, const std::string& out, const ConvertOptions& o) {
    if (o.llama2c_version >= 0 || o.group_size || !o.tokenizer_out.empty())
        throw InputError(m.path() + ": --version, --group and --tokenizer-out are for a llama2.c output; this converts "
                                    "a llama2.c checkpoint to GGUF (--type)");
    if (o.tokenizer.empty())
        throw InputError(m.path() + ": a llama2.c checkpoint carries no vocabulary: expected -z TOKENIZER.bin");
    const Tokenizer tok = Tokenizer::load(o.tokenizer, m.config().vocab_size);
    const GgufVocabulary vocab = gguf_vocabulary(tok, std::filesystem::path(o.tokenizer).filename().string());
    GgufModelFormat f;
    f.matrix_type = o.gguf_type;
    f.name = std::filesystem::path(m.path()).stem().string();
    auto src = model_weight_source(m);
    write_gguf(m.config(), f, vocab, *src, out, o.max_bytes);
    return out + ": GGUF, matrices " + gguf_output_type_name(o.gguf_type) + ", norms F32, vocabulary of " +
           o.tokenizer;
}

}  // namespace

std::unique_ptr<WeightSource> model_weight_source(const Model& m) { return std::make_unique<ModelSource>(m); }

std::string convert_model(const std::string& in, const std::string& out, const ConvertOptions& o) {
    const Model m = Model::open(in);
    return m.format() == FileFormat::Gguf ? gguf_to_llama2c(m, out, o) : llama2c_to_gguf(m, out, o);
}

}  // namespace lhb
