#include "core/gguf_vocab.hpp"

#include <cstdio>
#include <limits>

#include "core/error.hpp"
#include "core/gguf.hpp"

namespace lhb {

namespace {

// SentencePiece marks a word start with U+2581 (LOWER ONE EIGHTH BLOCK); tokenizer.bin and
// run.c use a plain space.
std::string spaces_for_sentencepiece(std::string_view piece) {
    static constexpr std::string_view kMark = "\xe2\x96\x81";
    std::string out;
    out.reserve(piece.size());
    for (size_t i = 0; i < piece.size();) {
        if (piece.compare(i, kMark.size(), kMark) == 0) {
            out += ' ';
            i += kMark.size();
        } else {
            out += piece[i++];
        }
    }
    return out;
}

}  // namespace

GgufVocab read_llama_vocab(const GgufFile& f) {
    const std::string_view model = f.get_string("tokenizer.ggml.model");
    if (model != "llama")
        fail_input(f.path(), "tokenizer.ggml.model", "'llama' (SentencePiece, the tokenizer of llama2.c)",
                   "'" + std::string(model.substr(0, 64)) + "'");
    const GgufValue& tokens = f.get_array("tokenizer.ggml.tokens", GgufType::STRING);
    if (tokens.count < 3 || tokens.count > uint64_t(std::numeric_limits<int32_t>::max()))
        fail_input(f.path(), "tokenizer.ggml.tokens", "at least 3 pieces (unknown, BOS, EOS)",
                   std::to_string(tokens.count));
    const size_t n = size_t(tokens.count);
    const GgufValue& scores = f.get_array("tokenizer.ggml.scores", GgufType::FLOAT32);
    if (scores.count != n)
        fail_input(f.path(), "tokenizer.ggml.scores", std::to_string(n) + " scores (one per token)",
                   std::to_string(scores.count));

    GgufVocab v;
    v.pieces.reserve(n);
    v.scores.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        v.pieces.push_back(spaces_for_sentencepiece(tokens.strings[i]));
        v.scores.push_back(float(scores.float_at(i)));
    }
    v.token_types.assign(n, int32_t(GgufTokenType::Normal));
    if (f.find("tokenizer.ggml.token_type")) {
        const GgufValue& types = f.get_array("tokenizer.ggml.token_type", GgufType::INT32);
        if (types.count != n)
            fail_input(f.path(), "tokenizer.ggml.token_type", std::to_string(n) + " types (one per token)",
                       std::to_string(types.count));
        for (size_t i = 0; i < n; ++i) v.token_types[i] = int32_t(types.int_at(i));
    }
    v.unk_id = int(f.get_uint_or("tokenizer.ggml.unknown_token_id", 0, n - 1, 0));
    v.bos_id = int(f.get_uint_or("tokenizer.ggml.bos_token_id", 0, n - 1, 1));
    v.eos_id = int(f.get_uint_or("tokenizer.ggml.eos_token_id", 0, n - 1, 2));

    // run.c's byte fallback emits byte b as id b + 3: those ids must hold the byte pieces.
    for (size_t b = 0; b < 256 && b + 3 < n; ++b) {
        char want[8];
        std::snprintf(want, sizeof want, "<0x%02X>", unsigned(b));
        if (v.pieces[b + 3] != want)
            fail_input(f.path(), "tokenizer.ggml.tokens element " + std::to_string(b + 3),
                       std::string("the byte piece ") + want + " (ids 3..258 are the byte fallback)",
                       "'" + v.pieces[b + 3].substr(0, 32) + "'");
    }
    return v;
}

Tokenizer gguf_tokenizer(const GgufFile& f) {
    GgufVocab v = read_llama_vocab(f);
    if (v.bos_id != 1)
        fail_input(f.path(), "tokenizer.ggml.bos_token_id", "1 (the tokenizer's fixed BOS id)", std::to_string(v.bos_id));
    if (v.eos_id != 2)
        fail_input(f.path(), "tokenizer.ggml.eos_token_id", "2 (the tokenizer's fixed EOS id)", std::to_string(v.eos_id));
    return Tokenizer::from_pieces(std::move(v.pieces), std::move(v.scores));
}

}  // namespace lhb
