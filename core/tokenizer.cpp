// tokenizer.bin loading and run.c-compatible BPE encode / decode.
//
// Everything that touches piece text deliberately uses C-string semantics (strcmp, a
// NUL-terminated view of each piece), because that is what llama2.c's run.c does: a piece
// with an embedded NUL behaves as if it ended there. The sorted vocabulary is built with the
// C library's qsort and searched with its bsearch so that even the order of duplicate pieces
// (if a file had any) resolves exactly as in run.c on the same libc.
#include "core/tokenizer.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <stdexcept>

#include "core/error.hpp"
#include "core/input_file.hpp"

namespace lhb {

namespace {

constexpr int kBosId = 1;
constexpr int kEosId = 2;
constexpr int kByteFallbackOffset = 3;  // piece id of raw byte b is b + 3

uint32_t read_u32_le(const std::string& b, size_t off) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | uint32_t(static_cast<unsigned char>(b[off + size_t(i)]));
    return v;
}

// Element type of the sort array, as run.c's TokenIndex.
struct TokenIndex {
    const char* str;
    int id;
};

int compare_token_index(const void* a, const void* b) {
    return std::strcmp(static_cast<const TokenIndex*>(a)->str,
                       static_cast<const TokenIndex*>(b)->str);
}

// bsearch key: the string looked for plus the vocabulary the int elements index into.
struct LookupKey {
    const char* str;
    const std::vector<std::string>* pieces;
};

int compare_key_to_id(const void* key, const void* elem) {
    const auto* k = static_cast<const LookupKey*>(key);
    const int id = *static_cast<const int*>(elem);
    return std::strcmp(k->str, (*k->pieces)[size_t(id)].c_str());
}

std::string field_bytes_found(size_t have) {
    return std::to_string(have) + (have == 1 ? " byte" : " bytes") + " (end of file)";
}

}  // namespace

Tokenizer Tokenizer::load(const std::string& path, int vocab_size) {
    if (vocab_size <= 0)
        fail_input(path, "vocab_size (from the model header)", "a positive piece count",
                   std::to_string(vocab_size));

    const std::string bytes = read_input_file(path, kMaxTokenizerBytes, "tokenizer file");
    const size_t size = bytes.size();
    size_t off = 0;

    // Need `n` bytes at `off` for `field`, or fail saying how many there are.
    auto need = [&](size_t n, const std::string& field) {
        if (size - off < n)
            fail_input(path, field,
                       std::to_string(n) + " bytes at offset " + std::to_string(off),
                       field_bytes_found(size - off));
    };

    Tokenizer t;
    need(4, "max_token_length");
    t.max_token_length_ = read_u32_le(bytes, off);
    off += 4;

    // Each piece takes at least 8 bytes; do not trust vocab_size for the reservation.
    const size_t reserve = std::min<size_t>(size_t(vocab_size), size / 8 + 1);
    t.pieces_.reserve(reserve);
    t.scores_.reserve(reserve);

    for (int i = 0; i < vocab_size; ++i) {
        const std::string entry = "piece " + std::to_string(i);
        need(4, entry + " score");
        const uint32_t score_bits = read_u32_le(bytes, off);
        float score;
        std::memcpy(&score, &score_bits, sizeof score);
        off += 4;

        need(4, entry + " length");
        const int32_t len = static_cast<int32_t>(read_u32_le(bytes, off));
        if (len < 0 || uint32_t(len) > t.max_token_length_)
            fail_input(path, entry + " length",
                       "0.." + std::to_string(t.max_token_length_) + " (max_token_length)",
                       std::to_string(len));
        off += 4;

        need(size_t(len), entry + " bytes");
        t.pieces_.emplace_back(bytes, off, size_t(len));
        t.scores_.push_back(score);
        off += size_t(len);
    }
    if (off != size)
        fail_input(path, "end of file after piece " + std::to_string(vocab_size - 1),
                   "end of file at offset " + std::to_string(off) + " (vocab_size " +
                       std::to_string(vocab_size) + ")",
                   std::to_string(size - off) + " trailing bytes");

    t.sort_vocabulary();
    return t;
}

Tokenizer Tokenizer::from_pieces(std::vector<std::string> pieces, std::vector<float> scores) {
    if (pieces.size() != scores.size())
        throw std::invalid_argument("Tokenizer::from_pieces: " + std::to_string(pieces.size()) +
                                    " pieces but " + std::to_string(scores.size()) + " scores");
    Tokenizer t;
    t.pieces_ = std::move(pieces);
    t.scores_ = std::move(scores);
    for (const std::string& p : t.pieces_) t.max_token_length_ = std::max(t.max_token_length_, unsigned(p.size()));
    t.sort_vocabulary();
    return t;
}

void Tokenizer::sort_vocabulary() {
    // run.c's sorted vocabulary: qsort with strcmp over {str, id}, keep the id order.
    std::vector<TokenIndex> sorted(pieces_.size());
    for (size_t i = 0; i < sorted.size(); ++i) sorted[i] = {pieces_[i].c_str(), int(i)};
    std::qsort(sorted.data(), sorted.size(), sizeof(TokenIndex), compare_token_index);
    sorted_ids_.resize(sorted.size());
    for (size_t i = 0; i < sorted.size(); ++i) sorted_ids_[i] = sorted[i].id;
}

int Tokenizer::lookup(const char* s) const {
    if (sorted_ids_.empty()) return -1;  // default-constructed: bsearch wants a non-null base
    const LookupKey key{s, &pieces_};
    const void* hit = std::bsearch(&key, sorted_ids_.data(), sorted_ids_.size(), sizeof(int),
                                   compare_key_to_id);
    return hit ? *static_cast<const int*>(hit) : -1;
}

std::vector<int> Tokenizer::encode(const std::string& text_in, bool bos, bool eos) const {
    // run.c sees a C string: anything after an embedded NUL does not exist.
    const char* text = text_in.c_str();
    const int n_vocab = vocab_size();

    // BOS and EOS are the fixed ids 1 and 2: a vocabulary too small to hold them cannot
    // encode with them (run.c would index past its arrays).
    if ((bos && kBosId >= n_vocab) || (eos && kEosId >= n_vocab))
        throw InputError("tokenizer: vocab_size: expected at least " +
                         std::to_string((eos ? kEosId : kBosId) + 1) + " pieces for " +
                         (eos ? "EOS (id 2)" : "BOS (id 1)") + ", found " +
                         std::to_string(n_vocab));

    std::vector<int> tokens;
    tokens.reserve(std::strlen(text) + 3);
    if (bos) tokens.push_back(kBosId);

    if (text[0] != '\0') {
        const int space = lookup(" ");
        if (space < 0)
            throw InputError(
                "tokenizer: piece \" \" (dummy prefix): expected present in the vocabulary, "
                "found absent");
        tokens.push_back(space);
    }

    // UTF-8 walk: a code point is a non-continuation byte plus up to 3 continuation bytes.
    std::string buf;
    buf.reserve(8);
    for (const char* c = text; *c != '\0'; ++c) {
        if ((static_cast<unsigned char>(*c) & 0xC0) != 0x80) buf.clear();
        buf.push_back(*c);
        if ((static_cast<unsigned char>(c[1]) & 0xC0) == 0x80 && buf.size() < 4) continue;

        const int id = lookup(buf.c_str());
        if (id != -1) {
            tokens.push_back(id);
        } else {
            for (char b : buf) {
                const int bid = int(static_cast<unsigned char>(b)) + kByteFallbackOffset;
                if (bid >= n_vocab)
                    throw InputError("tokenizer: byte-fallback piece for byte " +
                                     std::to_string(int(static_cast<unsigned char>(b))) +
                                     ": expected an id below vocab_size " +
                                     std::to_string(n_vocab) + ", found id " +
                                     std::to_string(bid));
                tokens.push_back(bid);
            }
        }
        buf.clear();
    }

    merge_pairs(tokens);
    if (eos) tokens.push_back(kEosId);
    return tokens;
}

// run.c's merge loop, without its quadratic cost: run.c rescans every adjacent pair after
// each merge and takes the pair whose merged piece has the strictly highest score (the
// leftmost on ties; only scores above -1e10, so never NaN). Here every adjacent pair is a
// candidate in a max-heap ordered by (score, then leftmost), over a doubly linked list of
// symbols. A merge writes the merged id into the left symbol and unlinks the right one;
// the candidates it invalidates stay in the heap and are skipped when they surface (each
// symbol carries a version that a merge bumps). A symbol keeps its initial index, so
// "leftmost" is the smaller left index. Each merge pushes at most two candidates: O(n log n).
void Tokenizer::merge_pairs(std::vector<int>& tokens) const {
    const int n = int(tokens.size());
    if (n < 2) return;
    std::vector<int> prev(static_cast<size_t>(n)), next(static_cast<size_t>(n));
    std::vector<uint32_t> version(size_t(n), 0);
    for (int i = 0; i < n; ++i) prev[size_t(i)] = i - 1, next[size_t(i)] = i + 1 < n ? i + 1 : -1;

    struct Candidate {
        float score;
        int left, right, id;
        uint32_t left_version, right_version;
    };
    auto lower = [](const Candidate& a, const Candidate& b) {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<Candidate, std::vector<Candidate>, decltype(lower)> heap(lower);
    std::string merged;
    auto consider = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        merged.assign(pieces_[size_t(tokens[size_t(left)])].c_str());
        merged.append(pieces_[size_t(tokens[size_t(right)])].c_str());
        const int id = lookup(merged.c_str());
        if (id == -1) return;
        const float score = scores_[size_t(id)];
        if (!(score > -1e10f)) return;  // run.c's initial best: such a pair never wins
        heap.push({score, left, right, id, version[size_t(left)], version[size_t(right)]});
    };
    for (int i = 0; i + 1 < n; ++i) consider(i, i + 1);

    while (!heap.empty()) {
        const Candidate c = heap.top();
        heap.pop();
        const size_t l = size_t(c.left), r = size_t(c.right);
        if (next[l] != c.right || version[l] != c.left_version || version[r] != c.right_version) continue;
        tokens[l] = c.id;
        ++version[l];
        ++version[r];
        next[l] = next[r];
        if (next[r] >= 0) prev[size_t(next[r])] = c.left;
        next[r] = -1;
        consider(prev[l], c.left);
        consider(c.left, next[l]);
    }
    std::vector<int> out;
    out.reserve(size_t(n));
    for (int i = 0; i >= 0; i = next[size_t(i)]) out.push_back(tokens[size_t(i)]);
    tokens.swap(out);
}

std::string Tokenizer::decode(int prev_token, int token) const {
    if (token < 0 || token >= vocab_size())
        throw std::out_of_range("Tokenizer::decode: token id " + std::to_string(token) +
                                " outside 0.." + std::to_string(vocab_size() - 1));
    const char* piece = pieces_[size_t(token)].c_str();
    if (prev_token == kBosId && piece[0] == ' ') ++piece;
    unsigned char byte_val = 0;
    if (std::sscanf(piece, "<0x%02hhX>", &byte_val) == 1) {
        // run.c points at a {byte, NUL} pair: as a C string, byte 0 is the empty string.
        if (byte_val == 0) return std::string();
        return std::string(1, static_cast<char>(byte_val));
    }
    return std::string(piece);
}

bool Tokenizer::printable(const std::string& piece) {
    // run.c's safe_printf works on C strings: NUL-first is empty.
    if (piece.empty() || piece[0] == '\0') return false;
    if (piece.size() == 1 || piece[1] == '\0') {
        const unsigned char b = static_cast<unsigned char>(piece[0]);
        if (!(std::isprint(b) || std::isspace(b))) return false;
    }
    return true;
}

}  // namespace lhb
