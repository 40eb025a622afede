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

// Tokens of a prompt block (llama_forward's `prompt`): at most the shape's block_tokens
// (llama_layout.hpp), no further than seq_len; 0 when prompt <= 0 (decoding), and for 4-bit
// models, which have no prefill engines (the host decodes their prompts token by token).
inline int prompt_block_tokens(int prompt, int pos, const ModelDims& d) {
    if (is_q4(d)) return 0;
    const int left = d.seq_len - pos, most = block_tokens(d);
    const int n = prompt < left ? prompt : left;
    return n < 1 ? 0 : n > most ? most : n;
}
// Classifier runs of a prompt block of n tokens whose logits `prompt_logits` asks for.
inline int prompt_classifier_runs(int n, int prompt_logits) {
    return prompt_logits == kPromptLogitsEvery ? n : prompt_logits == kPromptLogitsLast && n > 0 ? 1 : 0;
}

// Beats one pass through the layers' matmuls reads from weight port `port`, and the
// classifier's.
inline int64_t layers_weight_beats(const ModelDims& d, int port) {
    int64_t layer = 0;
    for (int k = 0; k < kMatricesPerLayer; ++k) {
#pragma HLS UNROLL
        layer += kind_engine_beats(d, k, matrix_rows(d, k), matrix_cols(d, k), port);
    }
    return layer * d.n_layers;
}
inline int64_t classifier_weight_beats(const ModelDims& d, int port) {
    return kind_engine_beats(d, kQ4Classifier, d.vocab_size, d.dim, port);
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

// Every matrix of one pass through the layers, in the order the forward pass uses them.
inline void stream_layers(const Beat* w, int port, const ModelDims& d, Stream<Beat>& s) {
reader_layers:
    for (int l = 0; l < d.n_layers; ++l) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxLayers
    reader_matrices:
        for (int k = 0; k < kMatricesPerLayer; ++k) {
            const int m = kMatmulOrder[k];
            stream_region(w, matrix_offset(d, port, l, m),
                          kind_engine_beats(d, m, matrix_rows(d, m), matrix_cols(d, m), port), s);
        }
    }
}

// Everything engine `port` reads in one llama_forward call (its readers). Decoding: the
// layers and the classifier of every token. A prompt block: the layers once (every weight
// beat serves the whole block), then the classifier once for each token that gets logits.
inline void weight_reader(const Beat* w, int port, ModelDims d, int steps, int pos, int prompt, int prompt_logits,
                          Stream<Beat>& s) {
    const bool prefill = prompt > 0;
    const int block = prompt_block_tokens(prompt, pos, d);
    const int passes = prefill ? (block > 0 ? 1 : 0) : decode_tokens(steps, pos, d);
    const int classifiers = prefill ? prompt_classifier_runs(block, prompt_logits) : 0;
    const int64_t layers = layers_weight_beats(d, port), cls = classifier_weight_beats(d, port);
    const int64_t per_pass = prefill ? layers + cls * classifiers : layers + cls;
    LHK_TRACE_OP(TraceOp::WeightStream, port, int32_t(per_pass), passes, 0);
    LHK_TRACE_LOOP(LoopId::WeightRead, per_pass * passes, port, per_pass * passes * kBeatBytes);
reader_tokens:
    for (int t = 0; t < passes; ++t) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxSeqLen
        stream_layers(w, port, d, s);
        if (!prefill) stream_region(w, classifier_offset(d, port), cls, s);
    }
reader_prompt_logits:
    for (int c = 0; c < classifiers; ++c) {
#pragma HLS LOOP_TRIPCOUNT min=0 max=kPrefillTokens
        stream_region(w, classifier_offset(d, port), cls, s);
    }
}

}  // namespace lhk
