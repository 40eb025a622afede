#pragma once
// Writes a LLaMA model as a llama2.c checkpoint (v0, v1 fp32; v2 int8) or as a GGUF file
// (llama architecture; matrices F32, F16, Q8_0, Q4_0, Q6_K or llama-quantize's Q4_K_M mix,
// norms F32), streaming: the writer
// asks a WeightSource for one row at a time, encodes it and appends it, so a 7B model never
// sits in memory as fp32 (bench convert reads a mapped file, bench synth draws the rows).
// Sizes are known before the first byte: the output's folder must have room for them and
// they must stay under the caller's limit, or nothing is written (core/atomic_file.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "core/quant_types.hpp"

namespace lhb {

class Tokenizer;

// What a tensor of a LLaMA model is, whatever a format calls it.
enum class TensorKind { Embedding, AttnNorm, Wq, Wk, Wv, Wo, FfnNorm, W1, W2, W3, FinalNorm, Classifier };

struct TensorRef {
    TensorKind kind = TensorKind::Embedding;
    int layer = -1;    // -1 for the embedding, the final norm and the classifier
    int64_t rows = 1;  // out features (1 for a norm)
    int64_t cols = 0;  // in features (the row length)

    bool is_norm() const;
    int64_t numel() const { return rows * cols; }
};

// The tensors of `c` in llama2.c's v0 order: embedding, rms_att of every layer, wq of every
// layer, ..., w3, rms_final, and the classifier when not shared.
std::vector<TensorRef> llama2c_v0_order(const ModelConfig& c);
// llama.cpp's name for it: "token_embd.weight", "blk.3.attn_q.weight", "output.weight", ...
std::string gguf_tensor_name(const TensorRef& t);
// A name for messages: "layer 3 wq", "token_embedding", "rms_final", "wcls".
std::string llama2c_tensor_name(const TensorRef& t);

// Where the weights come from. Rows may be asked for in any order.
class WeightSource {
public:
    virtual ~WeightSource() = default;
    // out[t.cols] = row `row` of tensor t.
    virtual void row(const TensorRef& t, int64_t row, float* out) = 0;
};

// ---- llama2.c ----------------------------------------------------------------------------

// version 0 or 1 (fp32), or 2 (int8 in groups of group_size, export.py's rounding).
struct Llama2cFormat {
    int version = 0;
    int group_size = 0;  // version 2 only
};

// Bytes the file takes; throws InputError naming `where` when the config cannot be stored
// in that version (a RoPE base or epsilon other than llama2.c's, a group size that does not
// divide dim and hidden_dim).
uint64_t llama2c_file_size(const ModelConfig& c, const Llama2cFormat& f, const std::string& where);

// The stored RoPE tables of a v0 file (export.py's freq_cis_real then freq_cis_imag), which
// run.c skips: what bench synth always wrote, so its files stay byte for byte the same.
std::vector<float> v0_rope_tables(const ModelConfig& c);

void write_llama2c(const ModelConfig& c, const Llama2cFormat& f, WeightSource& src, const std::string& path,
                   uint64_t max_bytes);

// ---- GGUF --------------------------------------------------------------------------------

// tokenizer.ggml.* of a llama (SentencePiece) vocabulary, as llama.cpp's llama2.c converter
// writes it: pieces with ' ' spelled U+2581, BOS and EOS as "<s>" and "</s>", token types
// unknown (id 0), control (1, 2), byte (<0xHH>) or normal.
struct GgufVocabulary {
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    std::string origin;  // general.name suffix / messages: "tokenizer.bin", "synthetic"
};
GgufVocabulary gguf_vocabulary(const Tokenizer& t, const std::string& origin);
// n placeholder pieces (<unk>, <s>, </s>, the 256 byte pieces, "▁", then "▁tokN") for a model
// with no tokenizer at hand; n must be at least 260.
GgufVocabulary synthetic_vocabulary(int n);

struct GgufModelFormat {
    // F32, F16, Q8_0, Q4_0 or Q6_K: every matrix (Q6_K: as llama-quantize, Q8_0 for a
    // classifier whose rows are not whole super-blocks); Q4_K: llama-quantize's Q4_K_M mix
    // (Q4_K, Q6_K for the classifier and some layers' attn_v and ffn_down). Norms stay F32.
    GgmlType matrix_type = GgmlType::F32;
    std::string name;                      // general.name
};

// "f32", "f16", "q8_0", "q4_0", "q6_k", "q4_k_m" (or "q4_k", llama-quantize's alias of it)
// (any case) -> the matrix_type; throws InputError naming `flag`.
GgmlType parse_output_type(const std::string& flag, const std::string& text);
// "F32", ..., "Q6_K", "Q4_K_M" (for Q4_K: the mix), for messages.
const char* gguf_output_type_name(GgmlType t);

// llama.cpp's general.file_type for a file whose matrices are `t` (LLAMA_FTYPE_*).
uint32_t gguf_file_type(GgmlType t);

// Bytes the file takes (header, metadata, tensors each padded to 32); throws InputError
// naming `where` (and, for a K type, the tensor) when the type cannot hold the config (rows
// not a multiple of its block).
uint64_t gguf_file_size(const ModelConfig& c, const GgufModelFormat& f, const GgufVocabulary& v,
                        const std::string& where);

void write_gguf(const ModelConfig& c, const GgufModelFormat& f, const GgufVocabulary& v, WeightSource& src,
                const std::string& path, uint64_t max_bytes);

}  // namespace lhb
