#pragma once
// Synthetic checkpoints: deterministic random weights with the shape of a real model.
// The shape, not the values, decides speed, so benchmarks use these when the real
// stories15M/42M/110M (or TinyLlama, Llama 2 7B, Llama 3.2 1B) files are not at hand, and
// label the results "synthetic weights". Written as llama2.c (v0 fp32, v2 int8) or GGUF (F32,
// F16, Q8_0, Q4_0, Q6_K, Q4_K_M), streamed row by row: a 7B model is never held in memory.
#include <cstdint>
#include <string>

#include "core/model.hpp"
#include "core/quant_types.hpp"

namespace lhb {

// "stories260K", "stories15M", "stories42M", "stories110M", "tinyllama-1.1b", "llama2-7b",
// "llama3.2-1b", or "dim=..,hidden=..,layers=..,heads=..,kv_heads=..,vocab=..,seq=.."
// (kv_heads defaults to heads). Throws InputError naming the shape and the bad field.
ModelConfig parse_shape(const std::string& spec);
// Known shape names, for help texts.
const char* shape_names();

// Writes a v0 checkpoint of `config` with weights drawn from `seed` (shared classifier
// unless config says otherwise).
// Matrices are scaled by 1/sqrt(fan_in) so activations stay near unit variance and
// attention scores spread over a few units: softmax is neither flat nor one-hot.
void write_synthetic_model(const ModelConfig& config, const std::string& path, uint64_t seed);

enum class SynthFormat { Llama2c, Gguf };

// bench synth's default --max-size: a 7B model in F16 (13.5 GB) fits, in F32 (27 GB) not.
constexpr uint64_t kDefaultSynthMaxBytes = 16ull << 30;

struct SynthOptions {
    SynthFormat format = SynthFormat::Llama2c;
    GgmlType type = GgmlType::F32;  // llama2.c: F32 (v0) or Q8_0 (v2 int8); GGUF: GgufModelFormat::matrix_type
    uint64_t seed = 1;
    int group_size = 0;         // llama2.c Q8_0: 0 for the default group size
    std::string tokenizer;      // GGUF: the vocabulary (tokenizer.bin); "" for placeholder pieces
    std::string name;           // GGUF general.name
    uint64_t max_bytes = kDefaultSynthMaxBytes;
};

// The same weights, whatever the format and type (row r of a tensor is the same draw): a
// GGUF F32 file holds the v0 file's values. Refuses (InputError, nothing written) a type the
// format has no encoding for, a file above max_bytes or above the folder's free space.
// Returns what was written, for the one-line report.
std::string write_synthetic(const ModelConfig& config, const std::string& path, const SynthOptions& o);

}  // namespace lhb
