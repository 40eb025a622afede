#pragma once
// bench convert: llama2.c checkpoints to GGUF and back. llama2.c (v0, v1, v2) -> GGUF with
// llama.cpp's llama metadata and tensor names, the vocabulary of a tokenizer.bin, matrices
// in F32, F16, Q8_0, Q4_0, Q6_K or the Q4_K_M mix (blocks byte-identical to llama-quantize's),
// norms F32. GGUF ->
// llama2.c where the types allow it without a second rounding: F32/F16 matrices to fp32 (v0,
// v1) or export.py's int8 (v2), Q8_0 matrices to v2 with group size 32 (the same int8
// values and scales); anything else is refused in one line saying why.
#include <cstdint>
#include <memory>
#include <string>

#include "core/atomic_file.hpp"
#include "core/quant_types.hpp"

namespace lhb {

class Model;
class WeightSource;

struct ConvertOptions {
    // llama2.c -> GGUF
    GgmlType gguf_type = GgmlType::F32;  // GgufModelFormat::matrix_type (Q4_K: the Q4_K_M mix)
    std::string tokenizer;  // tokenizer.bin of the model (llama2.c checkpoints carry none)
    // GGUF -> llama2.c
    int llama2c_version = -1;   // -1: 0 for F32/F16 matrices, 2 for Q8_0
    int group_size = 0;         // version 2; 0: 32 for Q8_0, the default group size otherwise
    std::string tokenizer_out;  // when given, the GGUF's vocabulary written as a tokenizer.bin
    uint64_t max_bytes = kMaxOutputBytes;
};

// Converts `in` (a GGUF file, or a llama2.c checkpoint) to the other family at `out`.
// Returns a one-line description of what was written. Throws InputError naming the file
// and the reason for anything it cannot convert; nothing is left at `out` then.
std::string convert_model(const std::string& in, const std::string& out, const ConvertOptions& o);

// The rows of an opened model's tensors, dequantized to fp32 (for the writers of
// core/model_writer.hpp).
std::unique_ptr<WeightSource> model_weight_source(const Model& m);

}  // namespace lhb
