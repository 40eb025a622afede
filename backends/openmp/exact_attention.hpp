#pragma once
// openmp's int8 pass runs its fp32 ops in llama2.c's exact order and rounding.
//
// Why: with int8 weights every matmul input is quantized (round(x / scale)), which turns
// the last-bit differences of a reordered or FMA-fused fp32 op into a whole int8 step
// wherever a value sits within an ulp of a rounding tie; measured on stories260K, enough of
// those to change the greedy text after ~190 tokens. So around the int8 matmul (which
// itself is runq.c's arithmetic, backends/openmp/q8_kernels.hpp) the int8 pass uses
// llama2.c's rmsnorm, RoPE and softmax (core/exact_ops.hpp) and the attention below, and
// its logits equal cpu-ref int8's bit for bit.
//
// The attention is openmp's own: built with -ffp-contract=off like core, but vectorized
// (and with -march=native) where that keeps every value's own order of operations: across
// positions for the attention scores, across elements for the weighted sum of values.
#include <cstdint>

namespace lhb::openmp {

// One query head: scores against positions 0..pos, softmax, weighted sum of values.
// Keys are read TRANSPOSED: key_t[i * key_t_stride + t] is element i of this head's key at
// position t, so the score of 16 positions is summed at once, each over i in order.
// values: this head's value at position t is values[t * kv_dim .. + head_size).
// att: pos + 1 floats of scratch; out: head_size floats.
void exact_attend_head(float* out, const float* q, const float* key_t, int64_t key_t_stride, const float* values,
                       int kv_dim, float* att, int pos, int head_size);

}  // namespace lhb::openmp
