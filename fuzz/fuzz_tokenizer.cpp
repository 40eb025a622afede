// Fuzz target: the tokenizer loader (Tokenizer::load) and the encoder/decoder.
//
// Input layout (make_seeds writes seeds in it):
//   uint32 vocab_size (as the model header would give it; reduced modulo 2^17)
//   uint32 n = length of the tokenizer file that follows
//   n bytes: tokenizer.bin
//   the rest: text to encode
// A malformed tokenizer must end in lhb::InputError. A loaded one must encode any text
// (or refuse it with InputError, e.g. a vocabulary too small for byte fallback) into ids
// inside the vocabulary, and decode every id it produced.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "core/tokenizer.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static lhb::fuzz::MemFile file("lhb-fuzz-tokenizer");
    lhb::fuzz::Bytes in{data, size};
    const int vocab_size = int(in.u32() % (1u << 17));
    const std::string tok = in.take(in.u32());
    // Encoding is quadratic in the text length (as in llama2.c); 2 KB keeps each run short.
    const std::string text = in.take(2048);
    file.assign(tok.data(), tok.size());

    lhb::Tokenizer t;
    try {
        t = lhb::Tokenizer::load(file.path(), vocab_size);
    } catch (const lhb::InputError&) {
        return 0;
    }
    if (t.vocab_size() != vocab_size) std::abort();

    for (bool bos : {true, false}) {
        std::vector<int> ids;
        try {
            ids = t.encode(text, bos, !bos);
        } catch (const lhb::InputError&) {
            continue;
        }
        int prev = bos ? 1 : 0;
        for (int id : ids) {
            if (id < 0 || id >= vocab_size) {
                // BOS/EOS are fixed ids 1 and 2; a smaller vocabulary cannot hold them.
                std::fprintf(stderr, "encode produced id %d outside vocab_size %d\n", id, vocab_size);
                std::abort();
            }
            std::string piece = t.decode(prev, id);
            (void)lhb::Tokenizer::printable(piece);
            prev = id;
        }
    }
    return 0;
}
