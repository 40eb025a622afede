#pragma once
// Q8_0 quantization: weights as export.py --version 2 writes them, activations as runq.c
// quantizes them on the fly, and the writer of version-2 checkpoints.
#include <cstdint>
#include <string>

#include "core/model.hpp"

namespace lhb {

constexpr int kMaxGroupSize = 64;

// The largest group size <= 64 dividing both dim and hidden_dim (every row of every
// matrix then holds whole groups). stories260K (hidden_dim 172) gets 4.
int default_group_size(const ModelConfig& c);

// Weights (export.py): per group scale = max|w| / 127, q = round-half-to-even(w / scale),
// as torch.round does. An all-zero group gets scale 0 and q = 0.
void quantize_weights_q8(const float* w, int64_t n, int group_size, int8_t* q, float* scales);

// Activations (runq.c): the same scale, but C round(): half away from zero.
void quantize_activations_q8(const float* x, int n, int group_size, int8_t* q, float* scales);

// Converts an fp32 model (v0 or v1) to a version-2 file. Throws InputError if group_size
// does not divide dim and hidden_dim.
void write_q8_model(const Model& fp32, const std::string& out_path, int group_size);

}  // namespace lhb
