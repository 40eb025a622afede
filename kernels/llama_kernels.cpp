// The kernels' top functions (declared in llama_kernels.hpp): interfaces and the order of
// the ops. The ops themselves are the primitives in kernels/primitives/.
#include "kernels/llama_kernels.hpp"

#include "kernels/llama_layout.hpp"
#include "kernels/primitives/attention.hpp"
#include "kernels/primitives/matmul.hpp"
#include "kernels/primitives/matmul_block.hpp"
#include "kernels/primitives/matmul_q4.hpp"
#include "kernels/primitives/matmul_q8.hpp"
#include "kernels/primitives/quantize.hpp"
#include "kernels/primitives/rmsnorm.hpp"
#include "kernels/primitives/rope.hpp"
#include "kernels/primitives/softmax.hpp"
#include "kernels/primitives/swiglu.hpp"
#include "kernels/primitives/vector.hpp"
#include "kernels/primitives/weight_stream.hpp"

namespace lhk {
namespace {

// x = embedding row `token`: it lives on port token % 4 at row token / 4 of the embedding
// region (the classifier region when they are shared).
inline void embed(const Beat* w0, const Beat* w1, const Beat* w2, const Beat* w3, const ModelDims& d,
                  int token, float* x) {
    const int port = token % kWeightPorts;
    LHK_TRACE_OP(TraceOp::Embedding, d.dim, port, 0, 0);
    const int64_t row = int64_t(token / kWeightPorts) * row_beats(d.dim);
    switch (port) {
        case 0: load_vector(w0 + embedding_offset(d, 0) + row, x, d.dim, 0, LoopId::EmbedRead); break;
        case 1: load_vector(w1 + embedding_offset(d, 1) + row, x, d.dim, 1, LoopId::EmbedRead); break;
        case 2: load_vector(w2 + embedding_offset(d, 2) + row, x, d.dim, 2, LoopId::EmbedRead); break;
        default: load_vector(w3 + embedding_offset(d, 3) + row, x, d.dim, 3, LoopId::EmbedRead); break;
    }
}

// For int8 models, quantizes a matmul input x (n values) into xq, xs, once for every matmul
// that reads it; fp32 models read x itself.
inline void quantize_input(const float* x, int n, const ModelDims& d, int8_t* xq, float* xs) {
    if (is_q8(d)) quantize_q8(x, n, d.group_size, xq, xs);
}

// y = W x for layer matrix m, its weights streamed by the readers (in kMatmulOrder), in the
// model's precision: W x for fp32 weights, W (xq, xs) for int8 ones, 4-bit ones in the matrix
// kind's format (x quantized by the 4-bit matmul itself).
inline void layer_matmul(Stream<Beat>& s0, Stream<Beat>& s1, Stream<Beat>& s2, Stream<Beat>& s3,
                         const ModelDims& d, int m, const float* x, const int8_t* xq, const float* xs, float* y,
                         RowBanks& yb) {
    if (is_q4(d))
        matmul_q4(s0, s1, s2, s3, x, y, matrix_rows(d, m), matrix_cols(d, m), q4_format_of(d, m), yb);
    else if (is_q8(d))
        matmul_q8(s0, s1, s2, s3, xq, xs, y, matrix_rows(d, m), matrix_cols(d, m), d.group_size, yb);
    else
        matmul(s0, s1, s2, s3, x, y, matrix_rows(d, m), matrix_cols(d, m), yb);
}

inline int clamp_to(int n, int max) { return n < 0 ? 0 : n > max ? max : n; }

// Every layer of `token` at `pos` and the final norm: leaves the classifier's input in xb (and,
// for int8 models, quantized in xq, xs). The embedding row and the norms' weights come from
// the tables t0..t3; the matrices from the readers' FIFOs s0..s3.
inline void forward_layers(int token, int pos, const ModelDims& d, const Beat* t0, const Beat* t1,
                           const Beat* t2, const Beat* t3, Beat* kv0, Beat* kv1, Beat* kv2, Beat* kv3,
                           Stream<Beat>& s0, Stream<Beat>& s1, Stream<Beat>& s2, Stream<Beat>& s3,
                           float* x, float* xb, float* xb2, float* q, float* k, float* v, float* hb, float* hb2,
                           int8_t* xq, float* xs, RowBanks& yb) {
#pragma HLS INLINE
    const int dim = d.dim, hidden = d.hidden_dim, kv_dim = kv_dim_of(d), hs = head_size_of(d);
    embed(t0, t1, t2, t3, d, token, x);

    // The RoPE angles depend on pos and the place inside a head only: once per token.
    float fcr[kMaxRopePairs], fci[kMaxRopePairs];
    LHK_TRACE_OP(TraceOp::Rope, dim, kv_dim, hs, 2);
    rope_table(pos, hs, fcr, fci);

layers:
    for (int l = 0; l < d.n_layers; ++l) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxLayers
        rmsnorm(xb, x, t0 + rms_att_offset(d, l), dim, 0);
        quantize_input(xb, dim, d, xq, xs);
        layer_matmul(s0, s1, s2, s3, d, kWq, xb, xq, xs, q, yb);
        layer_matmul(s0, s1, s2, s3, d, kWk, xb, xq, xs, k, yb);
        layer_matmul(s0, s1, s2, s3, d, kWv, xb, xq, xs, v, yb);
        LHK_TRACE_OP(TraceOp::Rope, dim, kv_dim, hs, 0);
        rope_rotate(q, k, dim, kv_dim, hs, fcr, fci);
        kv_store(kv0, kv1, kv2, kv3, k, v, l, pos, d);
        attention(kv0, kv1, kv2, kv3, q, xb, l, pos, d);
        quantize_input(xb, dim, d, xq, xs);
        layer_matmul(s0, s1, s2, s3, d, kWo, xb, xq, xs, xb2, yb);
        residual_add(x, xb2, dim);

        rmsnorm(xb, x, t0 + rms_ffn_offset(d, l), dim, 0);
        quantize_input(xb, dim, d, xq, xs);
        layer_matmul(s0, s1, s2, s3, d, kW1, xb, xq, xs, hb, yb);
        layer_matmul(s0, s1, s2, s3, d, kW3, xb, xq, xs, hb2, yb);
        swiglu(hb, hb2, hidden);
        quantize_input(hb, hidden, d, xq, xs);
        layer_matmul(s0, s1, s2, s3, d, kW2, hb, xq, xs, xb, yb);
        residual_add(x, xb, dim);
    }

    rmsnorm(xb, x, t0 + rms_final_offset(d), dim, 0);
    quantize_input(xb, dim, d, xq, xs);
}

// ---- Prefill: a prompt block through the layers at once ---------------------------------

// The block's token ids from tokens[] (int32 bits, four per beat), each clamped into the
// vocabulary so that a bad id cannot address outside the embedding table.
inline void read_prompt_ids(const Beat* tokens, int n, const ModelDims& d, int ids[kPrefillTokens]) {
    const int nb = vec_beats(n);
    LHK_TRACE_OP(TraceOp::Embedding, n, kIoPort, 0, 1);
    LHK_TRACE_LOOP(LoopId::PromptIds, nb, kIoPort, int64_t(nb) * kBeatBytes);
prompt_ids:
    for (int i = 0; i < nb; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=(kPrefillTokens+kFloatsPerBeat-1)/kFloatsPerBeat
        const Beat b = tokens[i];
        for (int l = 0; l < kFloatsPerBeat; ++l) {
#pragma HLS UNROLL
            const int t = i * kFloatsPerBeat + l;
            const int id = int(bits_of(b.v[l]));
            if (t < n) ids[t] = id < 0 || id >= d.vocab_size ? 0 : id;
        }
    }
}

// For int8 models, the block's matmul input rows (n tokens, cols values each) quantized.
inline void block_quantize(const BlockVectors& x, int n, int cols, const ModelDims& d, BlockQ8& xq,
                           BlockQ8Scales& xs) {
    if (!is_q8(d)) return;
    const int row = block_row_floats(d);
block_quantize:
    for (int t = 0; t < n; ++t) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kPrefillTokens
        quantize_q8(block_row(x, t, row), cols, d.group_size, block_row(xq, t, row),
                    block_row(xs, t, row / kMinGroupSize));
    }
}

// yout = W x for the block (every token's row) for layer matrix m, its weights streamed by
// the readers once, in the model's precision; with `to`, the first n tokens' rows copied
// there (rows to_row apart).
template <int N>
inline void block_layer_matmul(Stream<Beat>& s0, Stream<Beat>& s1, Stream<Beat>& s2, Stream<Beat>& s3,
                               const ModelDims& d, int m, const BlockVectors& x, const BlockQ8& xq,
                               const BlockQ8Scales& xs, BlockVectors& yout, float (*to)[N], int to_row, int n) {
    const int rows = matrix_rows(d, m), cols = matrix_cols(d, m), row = block_row_floats(d);
    LHK_TRACE_OP(TraceOp::BlockMatMul, rows, cols, to ? n : 0, d.group_size);
    block_engines(s0, s1, s2, s3, x, xq, xs, yout, rows, cols, d.group_size, n, row);
    if (to) block_copy<N>(yout, row, to, to_row, n, rows);
}

// The n prompt tokens ids[] at pos..pos+n-1 through every layer, the K and V rows of every
// position written to the cache: leaves each token's residual stream in x. Each weight beat
// is read once for the block (block_layer_matmul); the ops between the matmuls run token
// after token on the block's rows with the decode primitives. Attention of token t reads
// positions 0..pos+t: every K and V row of the block is stored before any token attends.
// Long because it is the layer, op after op, as forward_layers is.
inline void prefill_layers(const int ids[kPrefillTokens], int n, int pos, const ModelDims& d, const Beat* t0,
                           const Beat* t1, const Beat* t2, const Beat* t3, Beat* kv0, Beat* kv1, Beat* kv2,
                           Beat* kv3, Stream<Beat>& s0, Stream<Beat>& s1, Stream<Beat>& s2, Stream<Beat>& s3,
                           BlockDimVectors& x, BlockDimVectors& q, BlockDimVectors& k, BlockDimVectors& v,
                           BlockVectors& hb, BlockVectors& xin, BlockVectors& yout, BlockQ8& xq, BlockQ8Scales& xs) {
    const int dim = d.dim, hidden = d.hidden_dim, kv_dim = kv_dim_of(d), hs = head_size_of(d);
    const int row = block_row_floats(d), drow = block_dim_row_floats(d);  // rows apart in the block arrays
    float (*no_copy)[kBlockLaneFloats] = nullptr;
prefill_embed:
    for (int t = 0; t < n; ++t) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kPrefillTokens
        embed(t0, t1, t2, t3, d, ids[t], block_row(x, t, drow));
    }
prefill_layers:
    for (int l = 0; l < d.n_layers; ++l) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxLayers
    prefill_att_norm:
        for (int t = 0; t < n; ++t) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kPrefillTokens
            rmsnorm(block_row(xin, t, row), block_row(x, t, drow), t0 + rms_att_offset(d, l), dim, 0);
        }
        block_quantize(xin, n, dim, d, xq, xs);
        block_layer_matmul(s0, s1, s2, s3, d, kWq, xin, xq, xs, yout, q, drow, n);
        block_layer_matmul(s0, s1, s2, s3, d, kWk, xin, xq, xs, yout, k, drow, n);
        block_layer_matmul(s0, s1, s2, s3, d, kWv, xin, xq, xs, yout, v, drow, n);
    prefill_rope_kv:
        for (int t = 0; t < n; ++t) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kPrefillTokens
            float* const kt = block_row(k, t, drow);
            rope(block_row(q, t, drow), kt, pos + t, dim, kv_dim, hs);
            kv_store(kv0, kv1, kv2, kv3, kt, block_row(v, t, drow), l, pos + t, d);
        }
    prefill_attention:
        for (int t = 0; t < n; ++t) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kPrefillTokens
            attention(kv0, kv1, kv2, kv3, block_row(q, t, drow), block_row(xin, t, row), l, pos + t, d);
        }
        block_quantize(xin, n, dim, d, xq, xs);
        block_layer_matmul(s0, s1, s2, s3, d, kWo, xin, xq, xs, yout, no_copy, row, n);
    prefill_att_residual:
        for (int t = 0; t < n; ++t) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kPrefillTokens
            residual_add(block_row(x, t, drow), block_row(yout, t, row), dim);
            rmsnorm(block_row(xin, t, row), block_row(x, t, drow), t0 + rms_ffn_offset(d, l), dim, 0);
        }
        block_quantize(xin, n, dim, d, xq, xs);
        block_layer_matmul(s0, s1, s2, s3, d, kW1, xin, xq, xs, yout, hb, row, n);
        block_layer_matmul(s0, s1, s2, s3, d, kW3, xin, xq, xs, yout, no_copy, row, n);
    prefill_swiglu:
        for (int t = 0; t < n; ++t) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kPrefillTokens
            swiglu(block_row(hb, t, row), block_row(yout, t, row), hidden);
        }
        block_quantize(hb, n, hidden, d, xq, xs);
        block_layer_matmul(s0, s1, s2, s3, d, kW2, hb, xq, xs, yout, no_copy, row, n);
    prefill_ffn_residual:
        for (int t = 0; t < n; ++t) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kPrefillTokens
            residual_add(block_row(x, t, drow), block_row(yout, t, row), dim);
        }
    }
}

// llama_forward's compute process. Decoding (prompt <= 0): decode_tokens(steps, pos, d) tokens
// from `token` at `pos`. steps <= 0: one token, and the host samples the next from the logits.
// steps > 0: greedy decoding on the device: each token's argmax (found by the classifier's
// engines as they write their rows) is the next token, so the logits stay on chip and the
// host pays one launch per `steps` tokens. Token ids go to tokens[], kFloatsPerBeat per beat
// as int32 bits. The host stops at the first BOS (id 1), where llama2.c ends a story; the
// kernel decodes every token it was asked for, because its readers stream the weights of all
// of them. A prompt block (prompt > 0): prompt_block_tokens ids from tokens[] through the
// layers at once (prefill_layers), then the classifier for the tokens prompt_logits names.
// One call site each for the decode layers, the prefill layers and the classifier: one copy
// of their hardware.
void decode(int token, int pos, int steps, int prompt, int prompt_logits, const ModelDims& d, const Beat* t0,
            const Beat* t1, const Beat* t2, const Beat* t3, Beat* kv0, Beat* kv1, Beat* kv2, Beat* kv3,
            Beat* logits, Beat* tokens, Stream<Beat>& s0, Stream<Beat>& s1, Stream<Beat>& s2, Stream<Beat>& s3) {
    float x[kMaxDim], xb[kMaxDim], xb2[kMaxDim], q[kMaxDim], k[kMaxDim], v[kMaxDim];
    float hb[kMaxHidden], hb2[kMaxHidden];
    // int8 models: a matmul input quantized (4 values written per clock, 8 read).
    int8_t xq[kMaxCols];
    float xs[kMaxQ8Groups];
#pragma HLS ARRAY_PARTITION variable=xq cyclic factor=kQ8Cols
#pragma HLS ARRAY_PARTITION variable=x cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=xb cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=xb2 cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=q cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=k cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=v cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=hb cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=hb2 cyclic factor=kLanes

    // The one matmul unit's row results (the classifier's 32000 rows: URAM).
    RowBanks yb;
#pragma HLS ARRAY_PARTITION variable=yb dim=1 complete
#pragma HLS BIND_STORAGE variable=yb type=ram_2p impl=uram

    // Prefill: the block's rows (block_tokens(d) tokens, matmul_block.hpp). The block engines
    // read kPrefillTokenLanes tokens' beats a clock, one from each lane, from the matmul input
    // (xin, hb; int8: xq, xs) and write two rows of each engine for those tokens into yout
    // (BRAM: 32 banks of 1536 words fill URAMs badly; xs's 3072 words a lane fill one URAM
    // each); the ops between the matmuls take a token's row kLanes values a clock.
    BlockDimVectors bx, bq, bk, bv;
    BlockVectors bhb, xin, yout;
    BlockQ8 bxq;
    BlockQ8Scales bxs;
#pragma HLS ARRAY_PARTITION variable=bx dim=2 cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=bq dim=2 cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=bk dim=2 cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=bv dim=2 cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=bhb dim=1 complete
#pragma HLS ARRAY_PARTITION variable=bhb dim=2 cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=xin dim=1 complete
#pragma HLS ARRAY_PARTITION variable=xin dim=2 cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=yout dim=1 complete
#pragma HLS ARRAY_PARTITION variable=yout dim=2 cyclic factor=8
#pragma HLS ARRAY_PARTITION variable=bxq dim=1 complete
#pragma HLS ARRAY_PARTITION variable=bxq dim=2 cyclic factor=kQ8Cols
#pragma HLS ARRAY_PARTITION variable=bxs dim=1 complete
#pragma HLS BIND_STORAGE variable=bx type=ram_2p impl=uram
#pragma HLS BIND_STORAGE variable=bq type=ram_2p impl=uram
#pragma HLS BIND_STORAGE variable=bk type=ram_2p impl=uram
#pragma HLS BIND_STORAGE variable=bv type=ram_2p impl=uram
#pragma HLS BIND_STORAGE variable=bhb type=ram_2p impl=uram
#pragma HLS BIND_STORAGE variable=xin type=ram_2p impl=uram
#pragma HLS BIND_STORAGE variable=bxs type=ram_2p impl=uram

    const bool prefill = prompt > 0;
    const int block = prompt_block_tokens(prompt, pos, d);
    if (block > 0) {
        int ids[kPrefillTokens];
        read_prompt_ids(tokens, block, d, ids);
        prefill_layers(ids, block, pos, d, t0, t1, t2, t3, kv0, kv1, kv2, kv3, s0, s1, s2, s3, bx, bq, bk, bv, bhb,
                       xin, yout, bxq, bxs);
    }
    const bool greedy = !prefill && steps > 0;
    const int n = prefill ? prompt_classifier_runs(block, prompt_logits) : decode_tokens(steps, pos, d);
    Beat out;
    for (int l = 0; l < kFloatsPerBeat; ++l) out.v[l] = float_of(0u);
decode_steps:
    for (int s = 0; s < n; ++s) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxSeqLen
        if (prefill) {
            // The classifier's input: the final norm of the block's token s, or its last.
            const int t = prompt_logits == kPromptLogitsEvery ? s : block - 1;
            rmsnorm(xb, block_row(bx, t, block_dim_row_floats(d)), t0 + rms_final_offset(d), d.dim, 0);
            quantize_input(xb, d.dim, d, xq, xs);
        } else {
            forward_layers(token, pos + s, d, t0, t1, t2, t3, kv0, kv1, kv2, kv3, s0, s1, s2, s3, x, xb, xb2, q, k,
                           v, hb, hb2, xq, xs, yb);
        }
        Beat* const row_logits = logits + (prefill ? int64_t(s) * logits_beats(d) : 0);
        const int next = is_q4(d)   ? matmul_q4_classify(s0, s1, s2, s3, xb, row_logits, d.vocab_size, d.dim,
                                                         q4_format_of(d, kQ4Classifier), !greedy, kIoPort, yb)
                         : is_q8(d) ? matmul_q8_classify(s0, s1, s2, s3, xq, xs, row_logits, d.vocab_size, d.dim,
                                                       d.group_size, !greedy, kIoPort, yb)
                                  : matmul_classify(s0, s1, s2, s3, xb, row_logits, d.vocab_size, d.dim, !greedy,
                                                    kIoPort, yb);
        if (greedy) {
            out.v[s % kFloatsPerBeat] = float_of(uint32_t(next));
            tokens[s / kFloatsPerBeat] = out;
        }
        token = next;
    }
}

// op_matmul's operands, clamped to the kernels' maxima; false when the group size is not
// one the kernels take (the host checks it; the kernel then does nothing). A negative group
// size is a 4-bit format (q4_matmul_code).
inline bool op_matmul_shape(int* rows, int* cols, int group_size) {
    *rows = clamp_to(*rows, kMaxRows);
    *cols = clamp_to(*cols, kMaxCols);
    if (group_size < 0) return q4_cols_fit(*cols, q4_format_of_code(group_size));
    return !(group_size > 0 && (group_size % kMinGroupSize != 0 || group_size > kMaxGroupSize ||
                                *cols % group_size != 0 || q8_pair_beats(*cols, group_size) > kMaxQ8PairBeats));
}

// op_matmul's reader for one port: the matrix's beats of that engine.
void op_matmul_reader(const Beat* w, int port, int rows, int cols, int group_size, Stream<Beat>& s) {
    const bool ok = op_matmul_shape(&rows, &cols, group_size);
    const int64_t beats = !ok               ? 0
                          : group_size < 0 ? q4_engine_trips(rows, cols, q4_bytes(q4_format_of_code(group_size)), port, kDesign)
                                           : engine_beats(rows, cols, group_size, port);
    LHK_TRACE_OP(TraceOp::WeightStream, port, int32_t(beats), 1, 0);
    LHK_TRACE_LOOP(LoopId::WeightRead, beats, port, beats * kBeatBytes);
    stream_region(w, 0, beats, s);
}

// op_matmul's compute process.
void op_matmul_compute(Stream<Beat>& s0, Stream<Beat>& s1, Stream<Beat>& s2, Stream<Beat>& s3, const Beat* x,
                       Beat* out, int rows, int cols, int group_size) {
    if (!op_matmul_shape(&rows, &cols, group_size)) return;
    float xl[kMaxCols];
#pragma HLS ARRAY_PARTITION variable=xl cyclic factor=kLanes
    int8_t xq[kMaxCols];
    float xs[kMaxQ8Groups];
#pragma HLS ARRAY_PARTITION variable=xq cyclic factor=kQ8Cols
    RowBanks yb;
#pragma HLS ARRAY_PARTITION variable=yb dim=1 complete
#pragma HLS BIND_STORAGE variable=yb type=ram_2p impl=uram
    load_vector(x, xl, cols, kIoPort);
    if (group_size < 0) {
        matmul_q4_to_ddr(s0, s1, s2, s3, xl, out, rows, cols, q4_format_of_code(group_size), kIoPort, yb);
    } else if (group_size > 0) {
        quantize_q8(xl, cols, group_size, xq, xs);
        matmul_q8_to_ddr(s0, s1, s2, s3, xq, xs, out, rows, cols, group_size, kIoPort, yb);
    } else {
        matmul_to_ddr(s0, s1, s2, s3, xl, out, rows, cols, kIoPort, yb);
    }
}

}  // namespace
}  // namespace lhk

using lhk::Beat;

extern "C" void llama_forward(int token, int pos, int steps, int prompt, int prompt_logits, lhk::ModelDims dims,
                              const Beat* w0,
                              const Beat* w1, const Beat* w2, const Beat* w3, const Beat* t0, const Beat* t1,
                              const Beat* t2, const Beat* t3, Beat* kv0, Beat* kv1, Beat* kv2, Beat* kv3,
                              Beat* logits, Beat* tokens) {
#pragma HLS INTERFACE mode=m_axi port=w0 bundle=gmem0 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=w1 bundle=gmem1 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=w2 bundle=gmem2 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=w3 bundle=gmem3 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=t0 bundle=tkv0 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=t1 bundle=tkv1 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=t2 bundle=tkv2 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=t3 bundle=tkv3 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=kv0 bundle=tkv0 offset=slave depth=LHK_DEPTH_WEIGHTS max_write_burst_length=LHK_BURST_BEATS
#pragma HLS INTERFACE mode=m_axi port=kv1 bundle=tkv1 offset=slave depth=LHK_DEPTH_WEIGHTS max_write_burst_length=LHK_BURST_BEATS
#pragma HLS INTERFACE mode=m_axi port=kv2 bundle=tkv2 offset=slave depth=LHK_DEPTH_WEIGHTS max_write_burst_length=LHK_BURST_BEATS
#pragma HLS INTERFACE mode=m_axi port=kv3 bundle=tkv3 offset=slave depth=LHK_DEPTH_WEIGHTS max_write_burst_length=LHK_BURST_BEATS
#pragma HLS INTERFACE mode=m_axi port=logits bundle=gmem4 offset=slave depth=LHK_DEPTH_LOGITS max_write_burst_length=LHK_BURST_BEATS
#pragma HLS INTERFACE mode=m_axi port=tokens bundle=gmem4 offset=slave depth=LHK_DEPTH_TOKENS
#pragma HLS INTERFACE mode=s_axilite port=token
#pragma HLS INTERFACE mode=s_axilite port=pos
#pragma HLS INTERFACE mode=s_axilite port=steps
#pragma HLS INTERFACE mode=s_axilite port=prompt
#pragma HLS INTERFACE mode=s_axilite port=prompt_logits
#pragma HLS INTERFACE mode=s_axilite port=dims
#pragma HLS INTERFACE mode=s_axilite port=return
    // Five processes: a reader per weight port (w_p on bundle gmem_p: every matrix of every
    // token, in order, into its FIFO) and the forward pass itself (on bundle tkv_p: the
    // tables t_p, the same buffers as w_p, for the embedding row and the norms, and KV
    // stripe p; logits and token ids on gmem4). Each m_axi adapter serves one process; the
    // link puts gmem_p and tkv_p on the same HP port.
#pragma HLS DATAFLOW
    using namespace lhk;
    Stream<Beat> s0, s1, s2, s3;
#pragma HLS STREAM variable=s0 depth=LHK_WEIGHT_FIFO_BEATS
#pragma HLS STREAM variable=s1 depth=LHK_WEIGHT_FIFO_BEATS
#pragma HLS STREAM variable=s2 depth=LHK_WEIGHT_FIFO_BEATS
#pragma HLS STREAM variable=s3 depth=LHK_WEIGHT_FIFO_BEATS
    weight_reader(w0, 0, dims, steps, pos, prompt, prompt_logits, s0);
    weight_reader(w1, 1, dims, steps, pos, prompt, prompt_logits, s1);
    weight_reader(w2, 2, dims, steps, pos, prompt, prompt_logits, s2);
    weight_reader(w3, 3, dims, steps, pos, prompt, prompt_logits, s3);
    decode(token, pos, steps, prompt, prompt_logits, dims, t0, t1, t2, t3, kv0, kv1, kv2, kv3, logits, tokens, s0, s1, s2, s3);
}

extern "C" void op_rmsnorm(Beat* out, const Beat* x, const Beat* w, int n) {
#pragma HLS INTERFACE mode=m_axi port=out bundle=gmem4 offset=slave depth=LHK_DEPTH_VECTOR
#pragma HLS INTERFACE mode=m_axi port=x bundle=gmem4 offset=slave depth=LHK_DEPTH_VECTOR
#pragma HLS INTERFACE mode=m_axi port=w bundle=gmem4 offset=slave depth=LHK_DEPTH_VECTOR
#pragma HLS INTERFACE mode=s_axilite port=n
#pragma HLS INTERFACE mode=s_axilite port=return
    using namespace lhk;
    n = clamp_to(n, kMaxCols);
    float xl[kMaxCols], ol[kMaxCols];
#pragma HLS ARRAY_PARTITION variable=xl cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=ol cyclic factor=kLanes
    load_vector(x, xl, n, kIoPort);
    rmsnorm(ol, xl, w, n, kIoPort);
    store_vector(ol, out, n, kIoPort);
}

extern "C" void op_matmul(const Beat* w0, const Beat* w1, const Beat* w2, const Beat* w3,
                          const Beat* x, Beat* out, int rows, int cols, int group_size) {
#pragma HLS INTERFACE mode=m_axi port=w0 bundle=gmem0 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=w1 bundle=gmem1 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=w2 bundle=gmem2 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=w3 bundle=gmem3 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=x bundle=gmem4 offset=slave depth=LHK_DEPTH_VECTOR
#pragma HLS INTERFACE mode=m_axi port=out bundle=gmem4 offset=slave depth=LHK_DEPTH_VECTOR
#pragma HLS INTERFACE mode=s_axilite port=rows
#pragma HLS INTERFACE mode=s_axilite port=cols
#pragma HLS INTERFACE mode=s_axilite port=group_size
#pragma HLS INTERFACE mode=s_axilite port=return
#pragma HLS DATAFLOW
    using namespace lhk;
    Stream<Beat> s0, s1, s2, s3;
#pragma HLS STREAM variable=s0 depth=LHK_WEIGHT_FIFO_BEATS
#pragma HLS STREAM variable=s1 depth=LHK_WEIGHT_FIFO_BEATS
#pragma HLS STREAM variable=s2 depth=LHK_WEIGHT_FIFO_BEATS
#pragma HLS STREAM variable=s3 depth=LHK_WEIGHT_FIFO_BEATS
    op_matmul_reader(w0, 0, rows, cols, group_size, s0);
    op_matmul_reader(w1, 1, rows, cols, group_size, s1);
    op_matmul_reader(w2, 2, rows, cols, group_size, s2);
    op_matmul_reader(w3, 3, rows, cols, group_size, s3);
    op_matmul_compute(s0, s1, s2, s3, x, out, rows, cols, group_size);
}

extern "C" void op_rope(Beat* q, Beat* k, int pos, int dim, int kv_dim, int head_size) {
#pragma HLS INTERFACE mode=m_axi port=q bundle=gmem4 offset=slave depth=LHK_DEPTH_VECTOR
#pragma HLS INTERFACE mode=m_axi port=k bundle=gmem4 offset=slave depth=LHK_DEPTH_VECTOR
#pragma HLS INTERFACE mode=s_axilite port=pos
#pragma HLS INTERFACE mode=s_axilite port=dim
#pragma HLS INTERFACE mode=s_axilite port=kv_dim
#pragma HLS INTERFACE mode=s_axilite port=head_size
#pragma HLS INTERFACE mode=s_axilite port=return
    using namespace lhk;
    dim = clamp_to(dim, kMaxDim) & ~1;
    kv_dim = clamp_to(kv_dim, dim);
    head_size = clamp_to(head_size, kMaxHeadSize);
    if (head_size < 2) head_size = 2;
    float ql[kMaxDim], kl[kMaxDim];
#pragma HLS ARRAY_PARTITION variable=ql cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=kl cyclic factor=kLanes
    load_vector(q, ql, dim, kIoPort);
    load_vector(k, kl, kv_dim, kIoPort);
    rope(ql, kl, pos, dim, kv_dim, head_size);
    store_vector(ql, q, dim, kIoPort);
    store_vector(kl, k, kv_dim, kIoPort);
}

extern "C" void op_softmax(Beat* x, int n) {
#pragma HLS INTERFACE mode=m_axi port=x bundle=gmem4 offset=slave depth=LHK_DEPTH_VECTOR
#pragma HLS INTERFACE mode=s_axilite port=n
#pragma HLS INTERFACE mode=s_axilite port=return
    using namespace lhk;
    n = clamp_to(n, kKvPorts * kMaxSlots);
    if (n < 1) return;
    LHK_TRACE_OP(TraceOp::Softmax, n, 0, 0, 0);
    // Position t goes to bank t % kKvPorts, slot t / kKvPorts, as the attention engines
    // leave their scores.
    float sc[kKvPorts][kMaxHeads][kMaxSlots];
#pragma HLS ARRAY_PARTITION variable=sc dim=1 complete
#pragma HLS ARRAY_PARTITION variable=sc dim=2 complete
    const int nb = vec_beats(n);
    LHK_TRACE_LOOP(LoopId::VecLoad, nb, kIoPort, int64_t(nb) * kBeatBytes);
    read_beats<kMaxSlots>(x, nb, n, ScoreRowAt{sc, 0});
    softmax_rows(sc, 1, n);
    LHK_TRACE_LOOP(LoopId::VecStore, nb, kIoPort, int64_t(nb) * kBeatBytes);
    write_beats<kMaxSlots>(ScoreRowAt{sc, 0}, x, nb, n);
}

extern "C" void op_attention(Beat* out, const Beat* q, const Beat* kv0, const Beat* kv1,
                             const Beat* kv2, const Beat* kv3, int layer, int pos,
                             lhk::ModelDims dims) {
#pragma HLS INTERFACE mode=m_axi port=out bundle=gmem4 offset=slave depth=LHK_DEPTH_VECTOR
#pragma HLS INTERFACE mode=m_axi port=q bundle=gmem4 offset=slave depth=LHK_DEPTH_VECTOR
#pragma HLS INTERFACE mode=m_axi port=kv0 bundle=gmem0 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=kv1 bundle=gmem1 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=kv2 bundle=gmem2 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=m_axi port=kv3 bundle=gmem3 offset=slave depth=LHK_DEPTH_WEIGHTS max_read_burst_length=LHK_BURST_BEATS num_read_outstanding=LHK_OUTSTANDING
#pragma HLS INTERFACE mode=s_axilite port=layer
#pragma HLS INTERFACE mode=s_axilite port=pos
#pragma HLS INTERFACE mode=s_axilite port=dims
#pragma HLS INTERFACE mode=s_axilite port=return
    using namespace lhk;
    if (!dims_fit(dims, nullptr) || pos < 0 || pos >= dims.seq_len) return;
    float ql[kMaxDim], ol[kMaxDim];
#pragma HLS ARRAY_PARTITION variable=ql cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=ol cyclic factor=kLanes
    load_vector(q, ql, dims.dim, kIoPort);
    attention(kv0, kv1, kv2, kv3, ql, ol, layer, pos, dims);
    store_vector(ol, out, dims.dim, kIoPort);
}

extern "C" void op_swiglu(Beat* hb, const Beat* hb2, int n) {
#pragma HLS INTERFACE mode=m_axi port=hb bundle=gmem4 offset=slave depth=LHK_DEPTH_VECTOR
#pragma HLS INTERFACE mode=m_axi port=hb2 bundle=gmem4 offset=slave depth=LHK_DEPTH_VECTOR
#pragma HLS INTERFACE mode=s_axilite port=n
#pragma HLS INTERFACE mode=s_axilite port=return
    using namespace lhk;
    n = clamp_to(n, kMaxCols);
    float a[kMaxCols], b[kMaxCols];
#pragma HLS ARRAY_PARTITION variable=a cyclic factor=kLanes
#pragma HLS ARRAY_PARTITION variable=b cyclic factor=kLanes
    load_vector(hb, a, n, kIoPort);
    load_vector(hb2, b, n, kIoPort);
    swiglu(a, b, n);
    store_vector(a, hb, n, kIoPort);
}
