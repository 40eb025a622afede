#pragma once
// The tokenizer stored in a GGUF file (llama SentencePiece: tokenizer.ggml.model "llama"):
// its pieces, scores, token types and special ids, and the Tokenizer built from them, so a
// GGUF model needs no tokenizer.bin.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tokenizer.hpp"

namespace lhb {

class GgufFile;

// tokenizer.ggml.token_type values (llama.cpp's llama_token_attr order).
enum class GgufTokenType : int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct GgufVocab {
    // tokenizer.ggml.tokens with SentencePiece's U+2581 replaced by ' ', as llama2.c's
    // tokenizer.bin spells them. BOS and EOS keep the file's "<s>" and "</s>" (tokenizer.bin
    // has "\n<s>\n" and "\n</s>\n"; docs/gguf.md says what that changes: nothing for encode).
    std::vector<std::string> pieces;
    std::vector<float> scores;          // tokenizer.ggml.scores
    std::vector<int32_t> token_types;   // tokenizer.ggml.token_type (all Normal if absent)
    int bos_id = 1;                     // tokenizer.ggml.bos_token_id
    int eos_id = 2;                     // tokenizer.ggml.eos_token_id
    int unk_id = 0;                     // tokenizer.ggml.unknown_token_id
};

// Throws InputError naming the file and the key: another tokenizer model (e.g. "gpt2", the
// BPE of Llama 3), arrays of the wrong type or length, ids outside the vocabulary, or
// pieces 3..258 that are not the byte-fallback pieces <0x00>..<0xFF>.
GgufVocab read_llama_vocab(const GgufFile& f);

// The run.c-compatible Tokenizer over the file's vocabulary. Its BOS and EOS are the fixed
// ids 1 and 2 (as in llama2.c), so a file with other ids is refused.
Tokenizer gguf_tokenizer(const GgufFile& f);

}  // namespace lhb
