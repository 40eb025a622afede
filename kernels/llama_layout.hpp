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
// 4-bit models (dims.weight_bits == 4; the section "4-bit weights" below): each matrix kind
// in its Q4Format, rows one at a time per engine as in fp32, the embedding in fp32 as int8's.
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

// ---- 4-bit weights ---------------------------------------------------------------------
// A 4-bit model (dims.weight_bits == 4, group_size 0) stores each matrix kind (kWq..kW3, and
// kQ4Classifier) in one of these formats (dims.q4_formats, 2 bits a kind). A matrix's element
// is scale * (u - zero) - min for its 4- or 8-bit code u and its group's fp32 scale and min:
// Q4_0 (d, q): scale d, zero 8, min 0; Q4_K sub-block s: scale d*sc_s, zero 0, min dmin*m_s;
// Q6_K sub-block s (bytes): scale d*sc_s, zero 0, min 32*d*sc_s. Each product and the
// difference are exact in fp32 or ggml's own dequantization's rounding (docs/hls-design.md).
// Row r on port r % 4 at row index r / 4, q4_row_beats(cols, format) beats a row: per chunk of
// kQ4ChunkGroups groups a scale beat {scale g, min g, scale g+1, min g+1} (0 where a group is
// missing), then one beat per group: code c of the group in bits 4c..4c+3 of the beat (the 4-bit
// formats, 32 columns), or byte c (the byte format, 16 columns). Beats after the last chunk: 0.
enum Q4Format : int {
    kQ4FormatQ4_0 = 0,   // 4-bit codes, zero 8: Q4_0; activations as Q8_0 (blocks of 32)
    kQ4FormatQ4_K = 1,   // 4-bit codes with a min: Q4_K; activations as Q8_K (blocks of 256)
    kQ4FormatBytes = 2,  // 8-bit codes with a min in groups of 16: Q6_K (and Q4_K beside it); Q8_K
    kQ4FormatCount = 3
};
constexpr int kQ4Classifier = kMatricesPerLayer;  // the classifier's kind in dims.q4_formats
inline bool is_q4(const ModelDims& d) { return d.weight_bits == 4; }
inline int q4_format_of(const ModelDims& d, int kind) { return (d.q4_formats >> (2 * kind)) & 3; }
inline bool q4_bytes(int format) { return format == kQ4FormatBytes; }
inline int q4_zero(int format) { return format == kQ4FormatQ4_0 ? 8 : 0; }
inline int q4_act_block(int format) { return format == kQ4FormatQ4_0 ? kQ4Q8_0Block : kQ4Q8_KBlock; }
inline int q4_group_cols_of(int format) { return q4_group_cols(q4_bytes(format), kDesign); }
inline int q4_row_beats(int cols, int format) { return q4_row_iters(cols, q4_bytes(format), kDesign); }
inline int64_t q4_region_beats(int rows, int cols, int format, int port) {
    return align_region(int64_t(rows_on_engine(rows, port, kDesign)) * q4_row_beats(cols, format));
}
// Whether rows of `cols` columns can be held in a format: whole groups and activation blocks.
inline bool q4_cols_fit(int cols, int format) {
    return format >= 0 && format < kQ4FormatCount && cols > 0 && cols % q4_act_block(format) == 0 &&
           cols % q4_group_cols_of(format) == 0;
}
// op_matmul's and the trace's group_size argument for a 4-bit format: -(1 + format).
inline int q4_matmul_code(int format) { return -1 - format; }
inline int q4_format_of_code(int group_size) { return -1 - group_size; }

// Matrix kind `kind` (a layer matrix, or kQ4Classifier) in the model's precision: its region
// on a port, and the beats its engine reads.
inline int64_t kind_region_beats(const ModelDims& d, int kind, int rows, int cols, int port) {
    return is_q4(d) ? q4_region_beats(rows, cols, q4_format_of(d, kind), port) : matrix_region_beats(d, rows, cols, port);
}
inline int64_t kind_engine_beats(const ModelDims& d, int kind, int rows, int cols, int port) {
    return is_q4(d) ? q4_engine_trips(rows, cols, q4_bytes(q4_format_of(d, kind)), port, kDesign)
                    : engine_beats(rows, cols, d.group_size, port);
}

inline int64_t layer_beats(const ModelDims& d, int port) {
    int64_t total = 0;
    for (int m = 0; m < kMatricesPerLayer; ++m) {
#pragma HLS UNROLL
        total += kind_region_beats(d, m, matrix_rows(d, m), matrix_cols(d, m), port);
    }
    return total;
}
inline int64_t matrix_offset(const ModelDims& d, int port, int layer, int m) {
    int64_t off = int64_t(layer) * layer_beats(d, port);
    for (int k = 0; k < kMatricesPerLayer; ++k) {
#pragma HLS UNROLL
        if (k < m) off += kind_region_beats(d, k, matrix_rows(d, k), matrix_cols(d, k), port);
    }
    return off;
}
inline int64_t classifier_offset(const ModelDims& d, int port) {
    return int64_t(d.n_layers) * layer_beats(d, port);
}
inline int64_t classifier_region_beats(const ModelDims& d, int port) {
    return kind_region_beats(d, kQ4Classifier, d.vocab_size, d.dim, port);
}
// The embedding has its own (fp32) table unless it is the fp32 classifier itself.
inline bool embedding_separate(const ModelDims& d) { return !d.shared_classifier || is_q8(d) || is_q4(d); }
inline int64_t embedding_offset(const ModelDims& d, int port) {
    const int64_t cls = classifier_offset(d, port);
    return embedding_separate(d) ? cls + classifier_region_beats(d, port) : cls;
}
// End of the classifier (and of a separate embedding table) on a port.
inline int64_t tables_end(const ModelDims& d, int port) {
    return embedding_offset(d, port) + (embedding_separate(d) ? region_beats(d.vocab_size, d.dim, port)
                                                              : classifier_region_beats(d, port));
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
    else if (d.weight_bits != 0 && d.weight_bits != 32 && d.weight_bits != 8 && d.weight_bits != 4)
        w = "weight_bits must be 32, 8 or 4";
    else if ((d.weight_bits == 8) != (d.group_size > 0) && d.weight_bits != 0)
        w = "weight_bits 8 needs an int8 group_size, 32 and 4 none";
    for (int m = 0; m <= kQ4Classifier; ++m) {
#pragma HLS UNROLL
        const int cols = m == kQ4Classifier ? d.dim : matrix_cols(d, m);
        if (!w && is_q4(d) && !q4_cols_fit(cols, q4_format_of(d, m)))
            w = "4-bit rows must be whole groups and activation blocks (32 for Q4_0, 256 for Q4_K and Q6_K)";
    }
    if (why) *why = w;
    return w == nullptr;
}

}  // namespace lhk
