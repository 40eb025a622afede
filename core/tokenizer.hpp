#pragma once
// tokenizer.bin (llama2.c format): loading with validation, BPE encode and decode that
// reproduce llama2.c's run.c byte for byte.
#include <string>
#include <vector>

namespace lhb {

class Tokenizer {
public:
    // vocab_size comes from the model header (the file does not store it). Throws
    // InputError naming the file, the entry and what was expected on any malformed input:
    // short file, negative or over-long piece length, trailing bytes after vocab_size pieces.
    static Tokenizer load(const std::string& path, int vocab_size);
    // A vocabulary already in memory (a GGUF file's, core/gguf_vocab.hpp): pieces as
    // tokenizer.bin spells them, one score each. max_token_length is the longest piece.
    static Tokenizer from_pieces(std::vector<std::string> pieces, std::vector<float> scores);

    // run.c `encode`: optional BOS (1), dummy-prefix " " for non-empty text, UTF-8 code
    // points with byte fallback, greedy highest-score pair merges, optional EOS (2).
    // O(n log n) in the text's length (run.c's loop is quadratic), same output.
    std::vector<int> encode(const std::string& text, bool bos, bool eos) const;

    // run.c `decode(prev, token)`: strips one leading space after BOS, maps "<0xHH>" to the
    // raw byte. The result is what run.c hands to safe_printf.
    std::string decode(int prev_token, int token) const;

    // run.c `safe_printf`: false for empty pieces and single bytes that are neither
    // printable nor whitespace.
    static bool printable(const std::string& piece);

    int vocab_size() const { return int(pieces_.size()); }
    unsigned max_token_length() const { return max_token_length_; }
    const std::string& piece(int id) const { return pieces_.at(size_t(id)); }
    float score(int id) const { return scores_.at(size_t(id)); }

private:
    int lookup(const char* s) const;  // exact match, -1 if absent
    void sort_vocabulary();           // builds sorted_ids_ from pieces_
    void merge_pairs(std::vector<int>& tokens) const;  // run.c's BPE merges, in place
    std::vector<std::string> pieces_;
    std::vector<float> scores_;
    unsigned max_token_length_ = 0;
    // Piece ids sorted by strcmp of the piece, as run.c sorts them (for binary search).
    std::vector<int> sorted_ids_;
};

}  // namespace lhb
