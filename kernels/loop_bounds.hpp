#pragma once
// The kernels' loop bounds as functions of the model's shape and of the Design. The
// kernels call them with kDesign (so they fold to the compiled configuration); the
// estimator calls the same functions with any other Design to model that design's loops.
#include <cstdint>

#include "kernels/hls_config.hpp"

namespace lhk {

inline int ceil_div(int a, int b) { return (a + b - 1) / b; }
inline int64_t ceil_div64(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int imax(int a, int b) { return a > b ? a : b; }

// Floats per beat of a port of this design.
inline int port_floats(const Design& d) { return d.port_bits / 32; }

// Iterations a vector loop of n elements takes (lanes elements per iteration).
inline int vec_iters(int n, const Design& d) { return ceil_div(n, d.lanes); }

// Matmul: iterations per row. A row is padded to whole iterations and to at least
// partial_sums iterations, so every rotating accumulator is written in every row.
inline int row_iters(int cols, const Design& d) {
    return imax(ceil_div(cols, d.lanes), d.partial_sums);
}
// Rows handled by engine e: rows e, e + ports, e + 2 ports, ...
inline int rows_on_engine(int rows, int e, const Design& d) {
    return e < rows ? (rows - 1 - e) / d.weight_ports + 1 : 0;
}
inline int64_t matmul_engine_trips(int rows, int cols, int e, const Design& d) {
    return int64_t(rows_on_engine(rows, e, d)) * row_iters(cols, d);
}

// int8 (Q8_0) matmul. A beat holds two rows side by side (port_bytes / 2 columns of each);
// rows e, e + ports, ... of engine e are taken in pairs. A row pair is stored as chunks: the
// scale beat(s) of the chunk's groups (both rows), then each group's weight beats, the group
// zero-padded to whole beats. The pair is padded to at least partial_sums beats, as fp32
// rows are.
inline int q8_cols_per_beat(const Design& d) { return imax(1, d.port_bits / 8 / 2); }
inline int q8_scales_per_beat(const Design& d) { return imax(1, d.port_bits / 32); }
inline int q8_chunk_groups(const Design& d) { return imax(1, q8_scales_per_beat(d) / 2); }
inline int q8_chunk_scale_beats(const Design& d) { return ceil_div(2 * q8_chunk_groups(d), q8_scales_per_beat(d)); }
inline int q8_group_beats(int gs, const Design& d) { return ceil_div(gs, q8_cols_per_beat(d)); }
inline int q8_pair_iters(int cols, int gs, const Design& d) {
    const int groups = cols / gs;
    const int beats = ceil_div(groups, q8_chunk_groups(d)) * q8_chunk_scale_beats(d) + groups * q8_group_beats(gs, d);
    return imax(beats, d.partial_sums);
}
inline int q8_pairs_on_engine(int rows, int e, const Design& d) { return ceil_div(rows_on_engine(rows, e, d), 2); }
inline int64_t q8_engine_trips(int rows, int cols, int gs, int e, const Design& d) {
    return int64_t(q8_pairs_on_engine(rows, e, d)) * q8_pair_iters(cols, gs, d);
}

// 4-bit matmul (llama_layout.hpp's 4-bit section). One row at a time per engine; a row is
// chunks of a scale beat ((scale, min) of port_floats / 2 groups) and one weight beat per
// group: port_bits / 4 columns of 4-bit codes, or port_bits / 8 of 8-bit codes (`bytes`).
// Padded to at least partial_sums beats, as fp32 rows are.
inline int q4_group_cols(bool bytes, const Design& d) { return imax(1, bytes ? d.port_bits / 8 : d.port_bits / 4); }
inline int q4_chunk_groups(const Design& d) { return imax(1, port_floats(d) / 2); }
inline int q4_row_iters(int cols, bool bytes, const Design& d) {
    const int groups = cols / q4_group_cols(bytes, d);
    return imax(ceil_div(groups, q4_chunk_groups(d)) + groups, d.partial_sums);
}
inline int64_t q4_engine_trips(int rows, int cols, bool bytes, int e, const Design& d) {
    return int64_t(rows_on_engine(rows, e, d)) * q4_row_iters(cols, bytes, d);
}

// Attention. A stored K or V row holds one position's n_kv_heads heads natively: fp32 or
// fp16 elements (kv_bits 32, 16), or integers of kv_bits bits (8, 4) after one fp32 scale
// per KV head (the row's scale beats), every head's integers starting a beat.
inline int kv_scale_beats(int n_kv_heads, int kv_bits, const Design& d) {
    return kv_bits < 16 ? ceil_div(n_kv_heads * 4, d.port_bits / 8) : 0;
}
inline int kv_row_beats_of(int head_size, int n_kv_heads, int kv_bits, const Design& d) {
    const int port_bytes = d.port_bits / 8;
    if (kv_bits < 16)
        return kv_scale_beats(n_kv_heads, kv_bits, d) + n_kv_heads * ceil_div(head_size * kv_bits, 8 * port_bytes);
    return ceil_div(head_size * n_kv_heads * kv_bits, 8 * port_bytes);
}
// An attention engine's iterations per position: the row's scale beats, then every query
// head's dim / n_heads elements, lanes an iteration (a KV head's values are applied to its
// kv_mul query heads in turn, from one read of the row); at least partial_sums of them (the
// value loop revisits an accumulator once per position).
inline int kv_slot_iters(int dim, int scale_beats, const Design& d) {
    return imax(scale_beats + ceil_div(dim, d.lanes), d.partial_sums);
}
// The KV shape in one traced argument (TraceOp KvStore and Attention): n_kv_heads in the low
// byte, kv_bits above it, so the estimator's loop model sees what the engines ran.
inline int32_t kv_trace_arg_of(int n_kv_heads, int kv_bits) { return n_kv_heads | (kv_bits << 8); }
inline int kv_trace_heads(int32_t arg) { return arg & 0xff; }
inline int kv_trace_bits(int32_t arg) { return arg >> 8; }
// Positions 0..pos whose KV rows live on stripe q (t % kv_ports == q).
inline int slots_on_port(int pos, int q, const Design& d) {
    return q <= pos ? (pos - q) / d.kv_ports + 1 : 0;
}
// KV rows per stripe and layer for a context of seq_len positions.
inline int kv_slots(int seq_len, const Design& d) { return ceil_div(seq_len, d.kv_ports); }

// RoPE: pairs rotated (one per iteration) and the per-head table of angles.
inline int rope_pairs(int dim) { return dim / 2; }
inline int rope_table_iters(int head_size) { return head_size / 2; }

}  // namespace lhk
