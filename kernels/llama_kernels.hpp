#pragma once
// The kernels' top functions: what the XRT host calls on the board and what the hls-csim
// backend calls in C simulation. Every pointer is an m_axi port of kPortBits-wide beats
// (host arrays of floats padded to whole beats, 16-byte aligned); every scalar and the
// pointer offsets go over s_axilite ("control"). Bundles:
//   gmem0..gmem3  weights of port p (w_p), streamed by llama_forward's readers and by the
//                 per-op tops  -> HP0..HP3
//   tkv0..tkv3    llama_forward's forward pass: the same weights as tables (t_p: embedding
//                 rows, norms) and KV-cache stripe p (kv_p)  -> HP0..HP3, with gmem_p
//   gmem4         logits, decoded token ids and the per-op vectors (io)
// Buffer sizes and the layout inside them: kernels/llama_layout.hpp; the host packs them
// with host/packing.hpp.
#include "kernels/hls_support.hpp"

extern "C" {

// Decodes at position `pos` onwards: every layer and the classifier, fp32 or int8 weights
// as dims.group_size says (one bitstream for both). w0..w3 and t0..t3 are the same weight
// buffers, read by two processes: each port's reader streams every matrix from w_p; the
// forward pass reads the embedding row and the norms from t_p. Appends k and v of each
// position to the KV stripes and reads positions 0..pos back.
//   prompt <= 0, steps <= 0: one token; writes dims.vocab_size logits (logits_beats(dims)
//               beats) for the host to sample from. `tokens` is not touched.
//   prompt <= 0, steps > 0: greedy decoding on the device: `token` at pos, then each token's
//               argmax (llama2.c's sample_argmax) at the next position, `steps` tokens (no
//               further than seq_len). Writes the decoded ids to tokens[] as int32 bits, four
//               per beat; the host stops at the first BOS (id 1). `logits` is not touched.
//   prompt > 0: prefill: a block of min(prompt, block_tokens(dims), seq_len - pos) prompt tokens,
//               their ids read from tokens[] (int32 bits, four per beat), through the layers
//               at positions pos.. with each weight beat read once for the whole block; the
//               K and V rows of every position written. Logits as prompt_logits says
//               (kPromptLogits*): none, the last token's at logits[0..], or token t's at
//               logits[t * logits_beats(dims)..]. `token` and `steps` are not used.
void llama_forward(int token, int pos, int steps, int prompt, int prompt_logits, lhk::ModelDims dims,
                   const lhk::Beat* w0, const lhk::Beat* w1, const lhk::Beat* w2, const lhk::Beat* w3,
                   const lhk::Beat* t0, const lhk::Beat* t1, const lhk::Beat* t2, const lhk::Beat* t3,
                   lhk::Beat* kv0, lhk::Beat* kv1, lhk::Beat* kv2, lhk::Beat* kv3, lhk::Beat* logits,
                   lhk::Beat* tokens);

// The ops alone, so each can be run and timed by itself on the board.
// out[n] = w * x / rms(x)
void op_rmsnorm(lhk::Beat* out, const lhk::Beat* x, const lhk::Beat* w, int n);
// out[rows] = W x[cols]; w_p points at the matrix's region on port p (llama_layout.hpp:
// row r on port r % 4 at row index r / 4, rows row_beats(cols) beats long). group_size 0:
// fp32 weights; > 0: int8 (Q8_0) row pairs in groups of group_size, x quantized on chip.
void op_matmul(const lhk::Beat* w0, const lhk::Beat* w1, const lhk::Beat* w2, const lhk::Beat* w3,
               const lhk::Beat* x, lhk::Beat* out, int rows, int cols, int group_size);
// Rotates adjacent pairs of q[dim] and, for i < kv_dim, k[kv_dim] in place.
void op_rope(lhk::Beat* q, lhk::Beat* k, int pos, int dim, int kv_dim, int head_size);
// In place over x[n], n <= kMaxSeqLen.
void op_softmax(lhk::Beat* x, int n);
// Attention of layer `layer` at position `pos` over the KV stripes kv0..kv3 (laid out for
// `dims`): out[dim] from q[dim].
void op_attention(lhk::Beat* out, const lhk::Beat* q, const lhk::Beat* kv0, const lhk::Beat* kv1,
                  const lhk::Beat* kv2, const lhk::Beat* kv3, int layer, int pos, lhk::ModelDims dims);
// hb[i] = silu(hb[i]) * hb2[i]
void op_swiglu(lhk::Beat* hb, const lhk::Beat* hb2, int n);

}  // extern "C"
