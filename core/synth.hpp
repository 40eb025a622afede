#pragma once
// Synthetic checkpoints: deterministic random weights with the shape of a real model.
// The shape, not the values, decides speed, so benchmarks use these when the real
// stories15M/42M/110M files are not at hand, and label the results "synthetic weights".
#include <cstdint>
#include <string>

#include "core/model.hpp"

namespace lhb {

// "stories260K", "stories15M", "stories42M", "stories110M", or
// "dim=..,hidden=..,layers=..,heads=..,kv_heads=..,vocab=..,seq=.." (kv_heads defaults to
// heads). Throws InputError naming the shape and the bad field.
ModelConfig parse_shape(const std::string& spec);
// Known shape names, for help texts.
const char* shape_names();

// Writes a v0 checkpoint (shared classifier) of `config` with weights drawn from `seed`.
// Matrices are scaled by 1/sqrt(fan_in) so activations stay near unit variance and
// attention scores spread over a few units: softmax is neither flat nor one-hot.
void write_synthetic_model(const ModelConfig& config, const std::string& path, uint64_t seed);

}  // namespace lhb
