#pragma once
// Where everything lives in the device buffers. The host packing (host/packing.*) writes
// the weights by these functions and the kernels read them by the same functions, so the C
// simulation runs on exactly the layout the board sees. Offsets are in beats from the
// start of a port's buffer.
//
// Weights: every matrix is split by rows over the kWeightPorts weight bundles (row r on
// port r % kWeightPorts), so the four engines of a matmul each stream one contiguous
// region of their own port. Each row is zero-padded to row_beats(cols) beats and each
// region starts on a 4 KiB boundary (a burst never crosses a page). Per port, in order:
//   layer 0: wq wk wv wo w1 w2 w3, layer 1: ..., ..., classifier (vocab x dim),
//   embedding (only when not shared with the classifier, or for int8 models),
//   and on port 0 only: the norm weights rms_att[L], rms_ffn[L], rms_final (dim each,
//   padded to whole beats).
// int8 models (dims.group_size > 0): the matrices and the classifier are int8 row pairs
// (loop_bounds.hpp, q8_pair_iters): engine-local rows 2k and 2k+1 of a port share a pair
// of q8_pair_beats(cols, gs) beats. Per chunk of kQ8ChunkGroups groups: one scale beat
// {A g, A g+1, B g, B g+1} (fp32; 0 where a group is missing), then each group's
// ceil(gs / kQ8Cols) weight beats, a beat holding kQ8Cols int8 columns of row A in bytes
// 0..7 and the same columns of row B in bytes 8..15 (columns past the group: 0). Beats
// after the last chunk, and a missing row B, are zero. The embedding table is stored
// separately in fp32 (dequantized by the host, as runq.c does at load), so the embedding
// lookup stays the fp32 one.
// KV cache: position t lives on stripe t % kKvPorts, slot t / kKvPorts. A stripe holds the
// K rows [layer][slot] then the V rows [layer][slot], each kv_row_beats() beats. A row is
// stored natively: the n_kv_heads heads of the position, kv_dim values, so a grouped-query
// model reads 1/kv_mul of what a copy per query head would cost (the attention engines apply
// each KV head to its kv_mul query heads from on chip, primitives/attention.hpp).
//   kv_bits 32: kv_dim fp32 values (kv_dim / kFloatsPerBeat beats).
//   kv_bits 8: first the row's scale beats (one fp32 scale per KV head, kFloatsPerBeat a
//   beat, 0 past the last head), then each KV head's head_size int8 values in bytes
//   (kKv8PerBeat a beat, the head zero-padded to whole beats). Symmetric per head and
//   position, runq.c's quantizer: scale = max|x| / 127, q = round(x / scale) in [-127, 127];
//   x is read back as scale * q.
#include <cstdint>

#include "kernels/hls_support.hpp"
#include "kernels/loop_bounds.hpp"

namespace lhk {

enum LayerMatrix : int { kWq = 0, kWk, kWv, kWo, kW1, kW2, kW3, kMatricesPerLayer };

inline int head_size_of(const ModelDims& d) { return d.dim / d.n_heads; }
inline int kv_dim_of(const ModelDims& d) { return head_size_of(d) * d.n_kv_heads; }
inline int kv_mul_of(const ModelDims& d) { return d.n_heads / d.n_kv_heads; }

inline int matrix_rows(const ModelDims& d, int m) {
    return m == kWk || m == kWv ? kv_dim_of(d) : m == kW1 || m == kW3 ? d.hidden_dim : d.dim;
}
inline int matrix_cols(const ModelDims& d, int m) { return m == kW2 ? d.hidden_dim : d.dim; }

// The order in which the forward pass multiplies by a layer's matrices (llama2.c's): the
// order each port's weight reader streams them, layer after layer, then the classifier.
constexpr int kMatmulOrder[kMatricesPerLayer] = {kWq, kWk, kWv, kWo, kW1, kW3, kW2};

// Beats engine `port` reads for a rows x cols matrix: fp32 rows (group_size 0) or int8 row
// pairs in groups of group_size.
inline int64_t engine_beats(int rows, int cols, int group_size, int port) {
    return group_size > 0 ? q8_engine_trips(rows, cols, group_size, port, kDesign)
                          : matmul_engine_trips(rows, cols, port, kDesign);
}

// Beats in one stored row of a matrix with `cols` columns.
inline int row_beats(int cols) { return row_iters(cols, kDesign) * kLanes / kFloatsPerBeat; }
// Beats of a vector of n floats (padded to a whole beat).
inline int vec_beats(int n) { return ceil_div(n, kFloatsPerBeat); }
inline int64_t align_region(int64_t beats) {
    return ceil_div64(beats, kRegionAlignBeats) * kRegionAlignBeats;
}
// Beats an fp32 rows x cols matrix occupies on one port, region padding included.
inline int64_t region_beats(int rows, int cols, int port) {
    return align_region(int64_t(rows_on_engine(rows, port, kDesign)) * row_beats(cols));
}
// int8: beats of one row pair, and of a rows x cols matrix on one port.
inline bool is_q8(const ModelDims& d) { return d.group_size > 0; }
inline int q8_pair_beats(int cols, int gs) { return q8_pair_iters(cols, gs, kDesign); }
inline int64_t q8_region_beats(int rows, int cols, int gs, int port) {
    return align_region(int64_t(q8_pairs_on_engine(rows, port, kDesign)) * q8_pair_beats(cols, gs));
}
// A matrix of the model (or its classifier) in the model's precision.
inline int64_t matrix_region_beats(const ModelDims& d, int rows, int cols, int port) {
    return is_q8(d) ? q8_region_beats(rows, cols, d.group_size, port) : region_beats(rows, cols, port);
}
inline int64_t layer_beats(const ModelDims& d, int port) {
    int64_t total = 0;
    for (int m = 0; m < kMatricesPerLayer; ++m) {
#pragma HLS UNROLL
        total += matrix_region_beats(d, matrix_rows(d, m), matrix_cols(d, m), port);
    }
    return total;
}
inline int64_t matrix_offset(const ModelDims& d, int port, int layer, int m) {
    int64_t off = int64_t(layer) * layer_beats(d, port);
    for (int k = 0; k < kMatricesPerLayer; ++k) {
#pragma HLS UNROLL
        if (k < m) off += matrix_region_beats(d, matrix_rows(d, k), matrix_cols(d, k), port);
    }
    return off;
}
inline int64_t classifier_offset(const ModelDims& d, int port) {
    return int64_t(d.n_layers) * layer_beats(d, port);
}
// The embedding has its own (fp32) table unless it is the fp32 classifier itself.
inline bool embedding_separate(const ModelDims& d) { return !d.shared_classifier || is_q8(d); }
inline int64_t embedding_offset(const ModelDims& d, int port) {
    const int64_t cls = classifier_offset(d, port);
    return embedding_separate(d) ? cls + matrix_region_beats(d, d.vocab_size, d.dim, port) : cls;
}
// End of the classifier (and of a separate embedding table) on a port.
inline int64_t tables_end(const ModelDims& d, int port) {
    return embedding_offset(d, port) + (embedding_separate(d) ? region_beats(d.vocab_size, d.dim, port)
                                                              : matrix_region_beats(d, d.vocab_size, d.dim, port));
}
// The norm weights, port 0 only, after the tables.
inline int64_t norms_offset(const ModelDims& d) { return tables_end(d, 0); }
inline int64_t rms_att_offset(const ModelDims& d, int layer) {
    return norms_offset(d) + int64_t(layer) * vec_beats(d.dim);
}
inline int64_t rms_ffn_offset(const ModelDims& d, int layer) {
    return norms_offset(d) + int64_t(d.n_layers + layer) * vec_beats(d.dim);
}
inline int64_t rms_final_offset(const ModelDims& d) {
    return norms_offset(d) + int64_t(2 * d.n_layers) * vec_beats(d.dim);
}
// Size of port `port`'s weight buffer.
inline int64_t weight_port_beats(const ModelDims& d, int port) {
    const int64_t end = tables_end(d, port);
    return port == 0 ? end + align_region(int64_t(2 * d.n_layers + 1) * vec_beats(d.dim)) : end;
}

// ---- KV cache --------------------------------------------------------------------------
inline bool is_kv8(const ModelDims& d) { return d.kv_bits == 8; }
inline int kv_bits_of(const ModelDims& d) { return is_kv8(d) ? 8 : 32; }
inline int kv_scale_beats_of(const ModelDims& d) { return kv_scale_beats(d.n_kv_heads, kv_bits_of(d), kDesign); }
// Beats of one KV head's values in a stored row.
inline int kv_head_beats(const ModelDims& d) {
    return is_kv8(d) ? ceil_div(head_size_of(d), kKv8PerBeat) : head_size_of(d) / kFloatsPerBeat;
}
inline int kv_row_beats(const ModelDims& d) {
    return kv_row_beats_of(head_size_of(d), d.n_kv_heads, kv_bits_of(d), kDesign);
}
inline int kv_slots_of(const ModelDims& d) { return kv_slots(d.seq_len, kDesign); }
inline int64_t k_row_offset(const ModelDims& d, int layer, int slot) {
    return (int64_t(layer) * kv_slots_of(d) + slot) * kv_row_beats(d);
}
inline int64_t v_row_offset(const ModelDims& d, int layer, int slot) {
    return (int64_t(d.n_layers + layer) * kv_slots_of(d) + slot) * kv_row_beats(d);
}
inline int64_t kv_port_beats(const ModelDims& d) {
    return int64_t(2 * d.n_layers) * kv_slots_of(d) * kv_row_beats(d);
}
inline int32_t kv_trace_arg(const ModelDims& d) { return kv_trace_arg_of(d.n_kv_heads, kv_bits_of(d)); }

// ---- Logits ----------------------------------------------------------------------------
inline int logits_beats(const ModelDims& d) { return vec_beats(d.vocab_size); }

// ---- Prefill block ---------------------------------------------------------------------
// The block's rows on chip (hls_config.hpp, kBlockLaneFloats): token t is row t / lanes of
// lane t % lanes; rows of the matmul inputs and results (xin, hb, yout, int8 xq) are
// block_row_floats(d) apart, rows of x, q, k, v block_dim_row_floats(d).
inline int block_row_floats(const ModelDims& d) {
    return ceil_div(imax(imax(d.dim, d.hidden_dim), 1), kBlockRowAlign) * kBlockRowAlign;
}
inline int block_dim_row_floats(const ModelDims& d) { return ceil_div(imax(d.dim, 1), kBlockRowAlign) * kBlockRowAlign; }
// Tokens of one prefill block for this shape: as many as the arrays hold, whole token groups
// (every lane the same number of rows), at most kPrefillTokens. The kernel, the host's
// forward_batch and the estimator all take the block size from here.
inline int block_tokens(const ModelDims& d) {
    int groups = kPrefillGroups;
    const int cols_rows = kBlockLaneFloats / block_row_floats(d), dim_rows = kBlockDimLaneFloats / block_dim_row_floats(d);
    if (cols_rows < groups) groups = cols_rows;
    if (dim_rows < groups) groups = dim_rows;
    return (groups < 1 ? 1 : groups) * kPrefillTokenLanes;
}

// Whether a shape fits the compiled maxima and the kernel's structural assumptions;
// `why` gets a static message naming the first violated bound.
inline bool dims_fit(const ModelDims& d, const char** why) {
    const char* w = nullptr;
    if (d.dim <= 0 || d.hidden_dim <= 0 || d.n_layers <= 0 || d.n_heads <= 0 ||
        d.n_kv_heads <= 0 || d.vocab_size <= 0 || d.seq_len <= 0)
        w = "every dimension must be positive";
    else if (d.dim % d.n_heads != 0 || d.n_heads % d.n_kv_heads != 0)
        w = "n_heads must divide dim and n_kv_heads must divide n_heads";
    else if (d.dim > kMaxDim) w = "dim exceeds kMaxDim";
    else if (d.hidden_dim > kMaxHidden) w = "hidden_dim exceeds kMaxHidden";
    else if (d.n_layers > kMaxLayers) w = "n_layers exceeds kMaxLayers";
    else if (d.n_heads > kMaxHeads) w = "n_heads exceeds kMaxHeads";
    else if (head_size_of(d) > kMaxHeadSize) w = "head_size exceeds kMaxHeadSize";
    else if (head_size_of(d) % kFloatsPerBeat != 0) w = "head_size must be a whole number of beats";
    else if (d.seq_len > kMaxSeqLen) w = "seq_len exceeds kMaxSeqLen";
    else if (d.vocab_size > kMaxVocab) w = "vocab_size exceeds kMaxVocab";
    else if (d.group_size < 0 || (d.group_size > 0 && (d.group_size % kMinGroupSize != 0 ||
                                                       d.group_size > kMaxGroupSize)))
        w = "int8 group_size must be 0 (fp32) or a multiple of 4 up to 64";
    else if (d.group_size > 0 && (d.dim % d.group_size != 0 || d.hidden_dim % d.group_size != 0))
        w = "int8 group_size must divide dim and hidden_dim";
    else if (d.group_size > 0 && q8_pair_beats(imax(d.dim, d.hidden_dim), d.group_size) > kMaxQ8PairBeats)
        w = "int8 group_size too small for rows this long (a row pair exceeds kMaxQ8PairBeats)";
    else if (d.kv_bits != 0 && d.kv_bits != 32 && d.kv_bits != 8)
        w = "kv_bits must be 32 (fp32 KV cache) or 8 (int8)";
    if (why) *why = w;
    return w == nullptr;
}

}  // namespace lhk
