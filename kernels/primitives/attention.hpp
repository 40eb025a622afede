#pragma once
// Multi-head attention over the KV cache in DDR, for one layer at position pos.
//
// Placement: the KV cache stays in DDR. stories15M needs 6 x 256 x 288 x 2 x 4 B = 3.5 MB
// and stories42M 8 x 1024 x 512 x 2 x 4 B = 33.5 MB, while the XCZU7EV has 3.4 MB of URAM
// and 1.4 MB of BRAM in all, so one bitstream serving all three shapes cannot keep it on
// chip. To read it at the bandwidth of the four HP ports it is striped: position t lives
// on stripe t % kKvPorts (the stripes share the weight bundles gmem0..gmem3, which are idle
// while attention runs). Rows are stored expanded to one copy per query head, so grouped-
// query models need no special datapath (llama_layout.hpp).
//
// Steps: (1) kKvPorts score engines run concurrently (DATAFLOW), each streaming the K rows
// of its positions, one beat per clock: the beat's kFloatsPerBeat products with q go
// through an adder tree into a shift register; on a head's last beat a second tree over the
// register gives q.k, divided by sqrt(head_size). No adder is on a loop-carried path.
// (2) softmax over positions 0..pos for all heads at once. (3) kKvPorts value engines
// stream the V rows: acc[i] += a_t * v_t[i]; an accumulator is revisited once per row
// (>= kPartialSums beats), beyond the fadd latency. (4) the engines' partial sums are added.
#include "kernels/llama_layout.hpp"
#include "kernels/primitives/softmax.hpp"
#include "kernels/primitives/vector.hpp"

namespace lhk {

// What every attention engine needs to know about the shape.
struct AttnShape {
    int head_size;
    int hpb;         // beats per head
    int rb;          // beats per stored KV row (padded)
    int real_beats;  // beats of a stored row that hold data (dim / kFloatsPerBeat)
};

// Where a KV engine is in its stream of stored rows: beat b of the row (a.rb beats), beat jj
// of head h, and the row's slot.
struct KvCursor {
    int b = 0, jj = 0, h = 0, slot = 0;
    void advance(const AttnShape& a) {
#pragma HLS INLINE
        if (b == a.rb - 1) {
            b = 0;
            jj = 0;
            h = 0;
            ++slot;
        } else {
            ++b;
            if (jj == a.hpb - 1) {
                jj = 0;
                ++h;
            } else {
                ++jj;
            }
        }
    }
};

inline AttnShape attn_shape_of(const ModelDims& d) {
    AttnShape s;
    s.head_size = head_size_of(d);
    s.hpb = s.head_size / kFloatsPerBeat;
    s.rb = kv_row_beats(d);
    s.real_beats = d.dim / kFloatsPerBeat;
    return s;
}

// Appends one row to a stripe, expanded: beat i holds query head h = i / hpb's copy of
// KV head h / kv_mul (src has kv_dim floats); beats past the data are zero.
inline void kv_write_row(Beat* kv, int64_t off, const float* src, AttnShape a, int kv_mul, int port) {
    LHK_TRACE_LOOP(LoopId::KvWrite, a.rb, port, int64_t(a.rb) * kBeatBytes);
    int jj = 0, m = 0, g = 0;  // beat in head, head in KV group, KV group
kv_write_row:
    for (int i = 0; i < a.rb; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=kPartialSums max=kMaxKvRowBeats
        const bool real = i < a.real_beats;
        Beat b;
        for (int l = 0; l < kFloatsPerBeat; ++l) {
#pragma HLS UNROLL
            b.v[l] = real ? src[g * a.head_size + jj * kFloatsPerBeat + l] : 0.0f;
        }
        kv[off + i] = b;
        if (jj == a.hpb - 1) {
            jj = 0;
            if (m == kv_mul - 1) {
                m = 0;
                ++g;
            } else {
                ++m;
            }
        } else {
            ++jj;
        }
    }
}

// k and v of position pos (after RoPE) into the cache of `layer`.
inline void kv_store(Beat* kv0, Beat* kv1, Beat* kv2, Beat* kv3, const float* k, const float* v,
                     int layer, int pos, const ModelDims& d) {
    LHK_TRACE_OP(TraceOp::KvStore, d.dim, pos, layer, 0);
    const AttnShape a = attn_shape_of(d);
    const int kv_mul = kv_mul_of(d);
    const int stripe = pos % kKvPorts;
    const int slot = pos / kKvPorts;
    const int64_t koff = k_row_offset(d, layer, slot);
    const int64_t voff = v_row_offset(d, layer, slot);
    switch (stripe) {
        case 0:
            kv_write_row(kv0, koff, k, a, kv_mul, 0);
            kv_write_row(kv0, voff, v, a, kv_mul, 0);
            break;
        case 1:
            kv_write_row(kv1, koff, k, a, kv_mul, 1);
            kv_write_row(kv1, voff, v, a, kv_mul, 1);
            break;
        case 2:
            kv_write_row(kv2, koff, k, a, kv_mul, 2);
            kv_write_row(kv2, voff, v, a, kv_mul, 2);
            break;
        default:
            kv_write_row(kv3, koff, k, a, kv_mul, 3);
            kv_write_row(kv3, voff, v, a, kv_mul, 3);
            break;
    }
}

// (1) One score engine: the K rows of n_slots positions of one stripe, from k_base.
inline void attn_scores_engine(const Beat* kv, int64_t k_base, const float q[kMaxDim],
                               float sc[kMaxHeads][kMaxSlots], int n_slots, AttnShape a,
                               float sqrt_hs, int port) {
    const int64_t trips = int64_t(n_slots) * a.rb;
    LHK_TRACE_LOOP(LoopId::AttnScores, trips, port, trips * kBeatBytes);
    float sr[kMaxHeadBeats];
#pragma HLS ARRAY_PARTITION variable=sr complete
    for (int k = 0; k < kMaxHeadBeats; ++k) {
#pragma HLS UNROLL
        sr[k] = 0.0f;
    }
    KvCursor c;
attn_scores:
    for (int64_t i = 0; i < trips; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxSlots*kMaxKvRowBeats
        const Beat kb = kv[k_base + i];
        const bool real = c.b < a.real_beats;
        const int qi = real ? c.b * kFloatsPerBeat : 0;
        float prod[kFloatsPerBeat];
#pragma HLS ARRAY_PARTITION variable=prod complete
        for (int l = 0; l < kFloatsPerBeat; ++l) {
#pragma HLS UNROLL
            prod[l] = kb.v[l] * q[qi + l];
        }
        for (int k = 0; k + 1 < kMaxHeadBeats; ++k) {
#pragma HLS UNROLL
            sr[k] = sr[k + 1];
        }
        sr[kMaxHeadBeats - 1] = tree_sum<kFloatsPerBeat>(prod);
        if (real && c.jj == a.hpb - 1) {
            float head[kMaxHeadBeats];
#pragma HLS ARRAY_PARTITION variable=head complete
            for (int k = 0; k < kMaxHeadBeats; ++k) {
#pragma HLS UNROLL
                head[k] = k >= kMaxHeadBeats - a.hpb ? sr[k] : 0.0f;
            }
            sc[c.h][c.slot] = tree_sum<kMaxHeadBeats>(head) / sqrt_hs;
        }
        c.advance(a);
    }
}

inline void attn_scores_all(const Beat* kv0, const Beat* kv1, const Beat* kv2, const Beat* kv3,
                            int64_t k_base, float qc[kKvPorts][kMaxDim],
                            float sc[kKvPorts][kMaxHeads][kMaxSlots], int n0, int n1, int n2,
                            int n3, AttnShape a, float sqrt_hs) {
#pragma HLS DATAFLOW
    LHK_TRACE_DATAFLOW(1);
    attn_scores_engine(kv0, k_base, qc[0], sc[0], n0, a, sqrt_hs, 0);
    attn_scores_engine(kv1, k_base, qc[1], sc[1], n1, a, sqrt_hs, 1);
    attn_scores_engine(kv2, k_base, qc[2], sc[2], n2, a, sqrt_hs, 2);
    attn_scores_engine(kv3, k_base, qc[3], sc[3], n3, a, sqrt_hs, 3);
    LHK_TRACE_DATAFLOW(0);
}

// (3) One value engine: acc[i] = sum over its positions t of a_t[head of i] * v_t[i]. Its
// first position initialises the accumulators.
inline void attn_values_engine(const Beat* kv, int64_t v_base, const float sc[kMaxHeads][kMaxSlots],
                               float acc[kMaxDim], int n_slots, AttnShape a, int port) {
    const int64_t trips = int64_t(n_slots) * a.rb;
    LHK_TRACE_LOOP(LoopId::AttnValues, trips, port, trips * kBeatBytes);
    KvCursor c;
attn_values:
    for (int64_t i = 0; i < trips; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxSlots*kMaxKvRowBeats
#pragma HLS DEPENDENCE variable=acc inter false
        const Beat vb = kv[v_base + i];
        if (c.b < a.real_beats) {
            const float w = sc[c.h][c.slot];
            for (int l = 0; l < kFloatsPerBeat; ++l) {
#pragma HLS UNROLL
                const int idx = c.b * kFloatsPerBeat + l;
                acc[idx] = (c.slot == 0 ? 0.0f : acc[idx]) + w * vb.v[l];
            }
        }
        c.advance(a);
    }
}

inline void attn_values_all(const Beat* kv0, const Beat* kv1, const Beat* kv2, const Beat* kv3,
                            int64_t v_base, float sc[kKvPorts][kMaxHeads][kMaxSlots],
                            float acc[kKvPorts][kMaxDim], int n0, int n1, int n2, int n3, AttnShape a) {
#pragma HLS DATAFLOW
    LHK_TRACE_DATAFLOW(1);
    attn_values_engine(kv0, v_base, sc[0], acc[0], n0, a, 0);
    attn_values_engine(kv1, v_base, sc[1], acc[1], n1, a, 1);
    attn_values_engine(kv2, v_base, sc[2], acc[2], n2, a, 2);
    attn_values_engine(kv3, v_base, sc[3], acc[3], n3, a, 3);
    LHK_TRACE_DATAFLOW(0);
}

// q (dim floats, on chip) copied to every score engine.
struct QCopyElement {
    const float* q;
    float (*qc)[kMaxDim];
    void operator()(int j) const {
        for (int e = 0; e < kKvPorts; ++e) {
#pragma HLS UNROLL
            qc[e][j] = q[j];
        }
    }
};
inline void attn_load_q(const float* q, float qc[kKvPorts][kMaxDim], int dim) {
    const int iters = vec_iters(dim, kDesign);
    LHK_TRACE_LOOP(LoopId::AttnLoadQ, iters, kNoPort, 0);
    for_lanes<kMaxDim / kLanes>(iters, dim, QCopyElement{q, qc});
}

// (4) out[i] = sum over the engines that had positions of acc_e[i].
struct CombineElement {
    const float (*acc)[kMaxDim];
    const int* n_slots;
    float* out;
    void operator()(int j) const {
        float s = 0.0f;
        for (int e = 0; e < kKvPorts; ++e) {
#pragma HLS UNROLL
            if (n_slots[e] > 0) s = s + acc[e][j];
        }
        out[j] = s;
    }
};
inline void attn_combine(const float acc[kKvPorts][kMaxDim], const int n_slots[kKvPorts], float* out,
                         int dim) {
    const int iters = vec_iters(dim, kDesign);
    LHK_TRACE_LOOP(LoopId::AttnCombine, iters, kNoPort, 0);
    for_lanes<kMaxDim / kLanes>(iters, dim, CombineElement{acc, n_slots, out});
}

// out[dim] = attention of q over positions 0..pos of `layer` (k, v of pos already stored).
inline void attention(const Beat* kv0, const Beat* kv1, const Beat* kv2, const Beat* kv3,
                      const float* q, float* out, int layer, int pos, const ModelDims& d) {
    LHK_TRACE_OP(TraceOp::Attention, pos, d.dim, d.n_heads, 0);
    const AttnShape a = attn_shape_of(d);
    const float sqrt_hs = math::sqrt(float(a.head_size));
    int n_slots[kKvPorts];
#pragma HLS ARRAY_PARTITION variable=n_slots complete
    for (int e = 0; e < kKvPorts; ++e) {
#pragma HLS UNROLL
        n_slots[e] = slots_on_port(pos, e, kDesign);
    }

    float qc[kKvPorts][kMaxDim];
#pragma HLS ARRAY_PARTITION variable=qc dim=1 complete
#pragma HLS ARRAY_PARTITION variable=qc dim=2 cyclic factor=kFloatsPerBeat
    attn_load_q(q, qc, d.dim);

    float sc[kKvPorts][kMaxHeads][kMaxSlots];
#pragma HLS ARRAY_PARTITION variable=sc dim=1 complete
#pragma HLS ARRAY_PARTITION variable=sc dim=2 complete
    attn_scores_all(kv0, kv1, kv2, kv3, k_row_offset(d, layer, 0), qc, sc, n_slots[0], n_slots[1],
                    n_slots[2], n_slots[3], a, sqrt_hs);

    softmax_rows(sc, d.n_heads, pos + 1);

    float acc[kKvPorts][kMaxDim];
#pragma HLS ARRAY_PARTITION variable=acc dim=1 complete
#pragma HLS ARRAY_PARTITION variable=acc dim=2 cyclic factor=kFloatsPerBeat
    attn_values_all(kv0, kv1, kv2, kv3, v_row_offset(d, layer, 0), sc, acc, n_slots[0], n_slots[1],
                    n_slots[2], n_slots[3], a);

    attn_combine(acc, n_slots, out, d.dim);
}

}  // namespace lhk
