#pragma once
// llama.cpp's logits as ../shared/models/gguf/*.logits store them (models README): int32
// n_vocab, int32 n_positions, then per position an int32 input token and n_vocab floats.
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/test_support.hpp"

namespace lhb::test {

struct LlamaCppLogits {
    int n_vocab = 0;
    std::vector<int> tokens;
    std::vector<std::vector<float>> logits;
};

inline LlamaCppLogits read_logits(const std::string& path) {
    const std::string b = read_file(path);
    LlamaCppLogits r;
    int32_t n_pos = 0;
    if (b.size() < 8) throw std::runtime_error(path + ": not a logits file");
    std::memcpy(&r.n_vocab, b.data(), 4);
    std::memcpy(&n_pos, b.data() + 4, 4);
    if (r.n_vocab <= 0 || n_pos <= 0 || b.size() != 8 + size_t(n_pos) * (4 + 4 * size_t(r.n_vocab)))
        throw std::runtime_error(path + ": not a logits file");
    size_t off = 8;
    for (int p = 0; p < n_pos; ++p) {
        int32_t tok;
        std::memcpy(&tok, b.data() + off, 4);
        r.tokens.push_back(tok);
        r.logits.emplace_back(size_t(r.n_vocab));
        std::memcpy(r.logits.back().data(), b.data() + off + 4, 4 * size_t(r.n_vocab));
        off += 4 + 4 * size_t(r.n_vocab);
    }
    return r;
}

}  // namespace lhb::test
