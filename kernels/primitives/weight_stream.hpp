#pragma once
// The weight readers. Which weights a token's matmuls read, and in what order, does not
// depend on any value the kernel computes: so a reader process per weight port streams
// every matrix region of its port, in the order the engines use them (kMatmulOrder, layer
// after layer, then the classifier), into a FIFO of kWeightFifoBeats beats that its
// engine reads. While the ops between two matmuls run (norms, quantizer, RoPE,
// attention's softmax, ...), the reader keeps its port busy filling the FIFO, instead of
// the port idling until the next matmul asks for its first burst.
#include "kernels/llama_layout.hpp"
#include "kernels/primitives/vector.hpp"

namespace lhk {

// Tokens one llama_forward call decodes (`steps` as llama_forward takes it).
inline int decode_tokens(int steps, int pos, const ModelDims& d) {
    if (steps <= 0) return 1;
    const int left = d.seq_len - pos;
    const int n = steps < left ? steps : left;
    return n < 1 ? 0 : n > kMaxSeqLen ? kMaxSeqLen : n;
}

// Beats one token's matmuls read from weight port `port`.
inline int64_t token_weight_beats(const ModelDims& d, int port) {
    int64_t layer = 0;
    for (int k = 0; k < kMatricesPerLayer; ++k) {
#pragma HLS UNROLL
        layer += engine_beats(matrix_rows(d, k), matrix_cols(d, k), d.group_size, port);
    }
    return layer * d.n_layers + engine_beats(d.vocab_size, d.dim, d.group_size, port);
}

// `beats` beats from w + offset into s: one pipelined loop, so the m_axi adapter issues
// back-to-back bursts.
inline void stream_region(const Beat* w, int64_t offset, int64_t beats, Stream<Beat>& s) {
stream_region:
    for (int64_t i = 0; i < beats; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxRowsPerPort*kMaxRowBeats
        s.write(w[offset + i]);
    }
}

// Everything engine `port` reads for `tokens` tokens (llama_forward's readers).
inline void weight_reader(const Beat* w, int port, ModelDims d, int steps, int pos, Stream<Beat>& s) {
    const int tokens = decode_tokens(steps, pos, d);
    const int64_t per_token = token_weight_beats(d, port);
    LHK_TRACE_OP(TraceOp::WeightStream, port, int32_t(per_token), tokens, 0);
    LHK_TRACE_LOOP(LoopId::WeightRead, per_token * tokens, port, per_token * tokens * kBeatBytes);
reader_tokens:
    for (int t = 0; t < tokens; ++t) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxSeqLen
    reader_layers:
        for (int l = 0; l < d.n_layers; ++l) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxLayers
        reader_matrices:
            for (int k = 0; k < kMatricesPerLayer; ++k) {
                const int m = kMatmulOrder[k];
                stream_region(w, matrix_offset(d, port, l, m),
                              engine_beats(matrix_rows(d, m), matrix_cols(d, m), d.group_size, port), s);
            }
        }
        stream_region(w, classifier_offset(d, port), engine_beats(d.vocab_size, d.dim, d.group_size, port), s);
    }
}

}  // namespace lhk
