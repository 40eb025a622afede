// Fuzz target: the GGUF reader (GgufFile over the input bytes), the llama view, the
// vocabulary and tokenizer built from it, and the reference arithmetic over the tensor data
// it hands out. A malformed file must end in lhb::InputError; a file that loads must hand
// out only tensors inside the input, which the dequantization and dot products below read
// (ASan reports any byte outside).
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/error.hpp"
#include "core/gguf.hpp"
#include "core/gguf_vocab.hpp"
#include "core/quant_types.hpp"

namespace {

// Reads the first row of every tensor of a type we compute with (at most 4096 elements, so
// a run stays short whatever the shapes).
void touch_tensors(const lhb::GgufFile& f) {
    std::vector<float> row, x;
    for (const lhb::GgufTensorInfo& t : f.tensors()) {
        if (!lhb::weight_type_supported(t.ggml_type()) || t.ne[0] == 0 || t.ne[0] > 4096) continue;
        if (t.rows() == 0) continue;
        const size_t n = size_t(t.ne[0]);
        row.resize(n);
        x.assign(n, 0.5f);
        lhb::dequantize_row(t.ggml_type(), t.data, row.data(), n);
        const lhb::QuantizedActivations a = lhb::quantize_activations(t.ggml_type(), x.data(), n);
        (void)lhb::dot_row(t.ggml_type(), t.data + (t.rows() - 1) * lhb::row_bytes(t.ggml_type(), n), a);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        lhb::GgufFile f("fuzz.gguf", data, size);
        for (const lhb::GgufTensorInfo& t : f.tensors())
            if (t.data < data || t.data + t.nbytes > data + size) std::abort();
        touch_tensors(f);
        try {
            const lhb::GgufLlama m = lhb::read_llama(f);
            if (m.layers.size() != size_t(m.config.n_layers) || !m.output || !m.token_embd) std::abort();
        } catch (const lhb::InputError&) {
        }
        const lhb::Tokenizer t = lhb::gguf_tokenizer(f);
        try {
            for (int id : t.encode("Once upon a time", true, false))
                if (id < 0 || id >= t.vocab_size()) std::abort();
        } catch (const lhb::InputError&) {
        }
    } catch (const lhb::InputError&) {
    }
    return 0;
}
