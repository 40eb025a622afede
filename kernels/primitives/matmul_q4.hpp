#pragma once
// 4-bit matrix-vector product y = W x for GGUF's Q4_0 and Q4_K weights (and Q6_K, stored as
// 8-bit codes), in llama.cpp's arithmetic: the activations are quantized on chip to int8 as
// llama.cpp's vec_dot_type (Q8_0 blocks of 32 for Q4_0, Q8_K blocks of 256 for the K-quants),
// each group's products are summed as integers, and a row's result is
//     sum over groups of (float(isum - zero * xsum) * scale) * dx
//   - sum over groups of (float(xsum) * min) * dx
// for the weights' codes u (element = scale * (u - zero) - min, llama_layout.hpp's 4-bit
// section), the group's activation sum xsum and the activation block's scale dx. For Q4_0
// (zero 8, min 0) each group's term is ggml's (float(isum) * d_w) * d_x, bit for bit.
//
// The engines are the int8 ones (matmul_q8.hpp's quant_engine: one datapath for both
// precisions, which never run at once), one beat per clock (II=1), rows flattened:
//  * a weight beat is one group of one row: kQ4PerBeat (32) 4-bit codes, each multiplied by
//    the activation the step gives it (4 x 8-bit multipliers, fabric), the 32 products summed
//    by an integer tree. The byte format (8-bit codes, 16 a beat) uses the same multipliers:
//    byte k = nibble 2k + 16 * nibble 2k+1, so both nibbles meet x_k and the high one's product
//    is shifted by 4;
//  * every weight beat ends its group: the int8 engine's two float chains take the scale term
//    and the min term, each into its rotating partial sums;
//  * a scale beat loads the chunk's (scale, min) pairs into the engine's scale register.
// What a beat needs from the activations is the same for every row of a matrix, so it is laid
// out once per matmul (q4_steps) and copied to every engine, like the fp32 engines' copies of x.
#include "kernels/llama_layout.hpp"
#include "kernels/primitives/matmul.hpp"
#include "kernels/primitives/matmul_q8.hpp"
#include "kernels/primitives/quantize.hpp"
#include "kernels/primitives/vector.hpp"

namespace lhk {

// f rounded to IEEE half precision and back (round to nearest, ties to even; overflow to
// infinity from 65520; gradual underflow), as ggml stores a Q8_0 block's scale. Integer
// operations and exact power-of-two scalings only.
inline float half_rounded(float f) {
#pragma HLS INLINE
    const uint32_t u = bits_of(f);
    const uint32_t sign = u & 0x80000000u, a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return f;                        // infinity, NaN
    if (a >= 0x477ff000u) return float_of(sign | 0x7f800000u);  // >= 65520: infinity
    if (a >= 0x38800000u) {                                // a normal half: 10 mantissa bits
        const uint32_t lsb = (a >> 13) & 1u;
        return float_of(sign | ((a + 0xfffu + lsb) & ~0x1fffu));
    }
    // A subnormal half: a multiple of 2^-24, the nearest (ties to even) by the float magic
    // below (exact: |f| * 2^24 < 2^10).
    const float scaled = float_of(a) * 16777216.0f;
    const float k = (scaled + 8388608.0f) - 8388608.0f;
    return float_of(sign | bits_of(k * 5.9604644775390625e-8f));
}

// ggml's nearest_int (round to nearest, ties to even, for |v| < 2^22) as int; 0 for a
// non-finite v, as cpu-ref's conversion gives.
inline int nearest_even(float v) {
#pragma HLS INLINE
    if (!is_finite(v)) return 0;
    const float r = (v + 12582912.0f) - 12582912.0f;
    return int(r);
}

// The activation that quantize_q4 keeps for its block: the largest |x| so far and the first
// element of that magnitude (its sign kept, for Q8_K's scale).
struct Q4Extreme {
    float mag;
    float value;
};
struct Q4ExtremeOp {  // the right one only if strictly larger: the first on ties, a NaN never wins
    Q4Extreme operator()(Q4Extreme a, Q4Extreme b) const { return b.mag > a.mag ? b : a; }
};

// x[n] quantized per activation block of `format` (q4_act_block) into xq[n] and the blocks'
// scales xs, as cpu-ref's quantize_activations does for the weight type:
//   Q8_0 (Q4_0 weights), per 32: amax = max |x|, d = amax / 127, id = d ? 1 / d : 0,
//        q = round(x * id) (half away from zero), scale = d rounded to fp16;
//   Q8_K (Q4_K, Q6_K), per 256: max = the first element of largest |x|, amax = 0: all zero;
//        else iscale = -127 / max, q = min(127, nearest_even(iscale * x)), scale = 1 / iscale.
// NaNs are skipped by the maximum and quantize to 0, as in cpu-ref. Two pipelined loops of
// kLanes values a clock (a block is a whole number of iterations).
inline void quantize_q4(const float* x, int n, int format, int8_t* xq, float* xs) {
    const int block = q4_act_block(format);
    const bool q8k = block == kQ4Q8_KBlock;
    LHK_TRACE_OP(TraceOp::Quantize, n, block, 1, 0);
    const int iters = vec_iters(n, kDesign);
    const int per_block = block / kLanes;
    float xid[kMaxQ4ActBlocks];  // each block's multiplier: 1 / d (Q8_0) or iscale (Q8_K)

    LHK_TRACE_LOOP(LoopId::Q4QuantMax, iters, kNoPort, 0);
    Q4Extreme run{0.0f, 0.0f};
    int k = 0, g = 0;
q4_quant_max:
    for (int i = 0; i < iters; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxVecBeats
        Q4Extreme lane[kLanes];
#pragma HLS ARRAY_PARTITION variable=lane complete
        for (int l = 0; l < kLanes; ++l) {
#pragma HLS UNROLL
            const float v = x[i * kLanes + l];
            lane[l] = Q4Extreme{float_of(bits_of(v) & 0x7fffffffu), v};
        }
        const Q4Extreme here = tree_reduce<kLanes, Q4Extreme>(lane, Q4ExtremeOp{});
        const Q4Extreme before = k == 0 ? Q4Extreme{0.0f, 0.0f} : run;
        const Q4Extreme m = Q4ExtremeOp{}(before, here);
        if (k == per_block - 1) {
            if (q8k) {
                const float iscale = m.mag == 0.0f ? 0.0f : -127.0f / m.value;
                xid[g] = iscale;
                xs[g] = m.mag == 0.0f ? 0.0f : 1.0f / iscale;
            } else {
                const float d = m.mag / 127.0f;
                xid[g] = d != 0.0f ? 1.0f / d : 0.0f;
                xs[g] = half_rounded(d);
            }
            ++g;
            k = 0;
        } else {
            ++k;
        }
        run = m;
    }

    LHK_TRACE_LOOP(LoopId::Q4QuantScale, iters, kNoPort, 0);
    k = 0;
    g = 0;
q4_quant_scale:
    for (int i = 0; i < iters; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxVecBeats
        const float id = xid[g];
        for (int l = 0; l < kLanes; ++l) {
#pragma HLS UNROLL
            const int j = i * kLanes + l;
            int q = 0;
            if (q8k) {
                q = nearest_even(id * x[j]);
                q = q > 127 ? 127 : q;
            } else {
                const float r = math::round(x[j] * id);
                q = is_finite(r) ? int(r) : 0;
            }
            xq[j] = int8_t(q);
        }
        if (k == per_block - 1) {
            ++g;
            k = 0;
        } else {
            ++k;
        }
    }
}

// The steps of a row of `cols` columns in `format`, from the quantized activations, into
// every engine's copy: per chunk a scale beat, then one beat per group; rb beats in all.
inline void q4_steps(const int8_t* xq, const float* xs, int cols, int format,
                     QuantStep steps[kWeightPorts][kMaxQuantBeats], int rb) {
    LHK_TRACE_LOOP(LoopId::MatQ4Steps, rb, kNoPort, 0);
    const bool bytes = q4_bytes(format);
    const int gcols = q4_group_cols_of(format), groups = cols / gcols;
    const int block = q4_act_block(format), zero = q4_zero(format);
    int g = 0, slot = 0;
    bool scale_next = true;
q4_steps:
    for (int b = 0; b < rb; ++b) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=kPartialSums max=kMaxQ4RowBeats
        QuantStep st;
        for (int l = 0; l < kQ4PerBeat; ++l) {
#pragma HLS UNROLL
            st.xq[l] = 0;
        }
        st.xs = 0.0f;
        st.zx = st.xsum = 0;
        st.scales = st.ends = st.slot = 0;
        st.bytes = uint8_t(bytes);
        if (g < groups && scale_next) {
            st.scales = 1;
            scale_next = false;
        } else if (g < groups) {
            const int col = g * gcols;
            int32_t vals[kQ4PerBeat];
#pragma HLS ARRAY_PARTITION variable=vals complete
            for (int l = 0; l < kQ4PerBeat; ++l) {
#pragma HLS UNROLL
                // Nibble mode: code l meets column l. Byte mode: codes 2k and 2k+1 are byte k.
                const int c = bytes ? l / 2 : l;
                const int v = c < gcols ? int(xq[col + c]) : 0;
                st.xq[l] = int8_t(v);
                vals[l] = bytes && l % 2 == 1 ? 0 : v;
            }
            st.xsum = tree_sum_i<kQ4PerBeat>(vals);
            st.zx = zero * st.xsum;
            st.xs = xs[col / block];
            st.ends = 1;
            st.slot = uint8_t(slot);
            ++g;
            if (slot == kQ4ChunkGroups - 1) {
                slot = 0;
                scale_next = true;
            } else {
                ++slot;
            }
        }
        for (int e = 0; e < kWeightPorts; ++e) {
#pragma HLS UNROLL
            steps[e][b] = st;
        }
    }
}

// The rows of the 4-bit matrix streamed through w0..w3 (format `format`) times x, into banks
// yb; returns the row with the largest result (argmax_of_engines). x is quantized here, since
// the activation blocks depend on the matrix's format. `where` is the trace's: 0 an on-chip
// vector, 1 DDR, 2 only the argmax.
inline int matmul_q4_rows(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3, const float* x,
                          float yb[kWeightPorts][kMaxRowsPerPort], int rows, int cols, int format, int where) {
    // A step reads a group's kQ4PerBeat activations at once: reshaped into words of
    // kQ4PerBeat bytes (one memory kQ4PerBeat bytes wide, block RAM), not partitioned into
    // kQ4PerBeat banks (each too small for a block RAM: registers, some 45k LUT at kMaxCols).
    int8_t xq[kMaxCols];
    float xs[kMaxQ4ActBlocks];
#pragma HLS ARRAY_RESHAPE variable=xq cyclic factor=kQ4PerBeat
    quantize_q4(x, cols, format, xq, xs);
    LHK_TRACE_OP(TraceOp::MatMul, rows, cols, where, q4_matmul_code(format));
    QuantStep steps[kWeightPorts][kMaxQuantBeats];
#pragma HLS ARRAY_PARTITION variable=steps dim=1 complete
#pragma HLS BIND_STORAGE variable=steps type=ram_2p impl=uram
    const int rb = q4_row_beats(cols, format);
    q4_steps(xq, xs, cols, format, steps, rb);
    EngineMax m0, m1, m2, m3;
    quant_engines(w0, w1, w2, w3, steps, yb, rows, rb, true, m0, m1, m2, m3);
    return argmax_of_engines<kMaxRowsPerPort>(yb, m0, m1, m2, m3);
}

// y = W x with y on chip (rows <= kMaxCols).
inline void matmul_q4(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3, const float* x,
                      float* y, int rows, int cols, int format, float yb[kWeightPorts][kMaxRowsPerPort]) {
    matmul_q4_rows(w0, w1, w2, w3, x, yb, rows, cols, format, 0);
    matmul_store_vec(yb, y, rows);
}

// y = W x with y written to DDR as beats (op_matmul's output).
inline void matmul_q4_to_ddr(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3, const float* x,
                             Beat* y, int rows, int cols, int format, int y_port,
                             float yb[kWeightPorts][kMaxRowsPerPort]) {
    matmul_q4_rows(w0, w1, w2, w3, x, yb, rows, cols, format, 1);
    matmul_store_ddr(yb, y, rows, y_port);
}

// The classifier with 4-bit weights, as matmul_classify: the logits to DDR when `store`, and
// the index of the largest (device-greedy decoding needs only that).
inline int matmul_q4_classify(Stream<Beat>& w0, Stream<Beat>& w1, Stream<Beat>& w2, Stream<Beat>& w3, const float* x,
                              Beat* y, int rows, int cols, int format, bool store, int y_port,
                              float yb[kWeightPorts][kMaxRowsPerPort]) {
    const int top = matmul_q4_rows(w0, w1, w2, w3, x, yb, rows, cols, format, store ? 1 : 2);
    if (store) matmul_store_ddr(yb, y, rows, y_port);
    return top;
}

}  // namespace lhk
