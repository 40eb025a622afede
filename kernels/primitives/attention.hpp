#pragma once
// Multi-head (and grouped-query) attention over the KV cache in DDR, for one layer at
// position pos.
//
// Placement: the KV cache stays in DDR. stories42M needs 8 x 1024 x 512 x 2 x 4 B = 33.5 MB
// and TinyLlama-1.1B 22 x 2048 x 256 x 2 x 4 B = 92 MB (23 MB with 8-bit rows), while the
// XCZU7EV has 3.4 MB of URAM and 1.4 MB of BRAM in all. To read it at the bandwidth of the
// four HP ports it is striped: position t lives on stripe t % kKvPorts (the stripes share
// the weight bundles, which are idle while attention runs). Rows are stored natively,
// kv_dim values of a position (fp32, or int8 with a scale per KV head: llama_layout.hpp).
//
// Steps: (1) kKvPorts score engines run concurrently (DATAFLOW), each fed by a reader that
// streams its stripe's K rows into a FIFO, one beat per clock. An engine walks a position's
// query heads in order, kLanes elements a clock: the first query head of a KV group takes
// the group's values from the FIFO (an 8-bit beat serves four iterations) and keeps them
// in a head buffer; the other kv_mul - 1 query heads of the group take them from that
// buffer, so each KV row crosses the port once however many query heads share it. The
// products with q go through an adder tree into a shift register; on a head's last
// iteration a second tree over the register gives q.k, times the head's scale (1 for fp32
// rows), divided by sqrt(head_size). No adder is on a loop-carried path. (2) softmax over
// positions 0..pos for all heads at once. (3) kKvPorts value engines, fed the same way
// from the V rows: acc[i] += (a_t * scale_t) * v_t[i]; an accumulator is revisited once per
// position (>= kPartialSums iterations), beyond the fadd latency. (4) the engines' partial
// sums are added.
#include "kernels/llama_layout.hpp"
#include "kernels/primitives/quantize.hpp"
#include "kernels/primitives/softmax.hpp"
#include "kernels/primitives/vector.hpp"

namespace lhk {

// What every attention engine needs to know about the shape.
struct AttnShape {
    int head_size;
    int hpb;          // iterations per query head (head_size / kLanes)
    int kv_mul;       // query heads per KV head
    int scale_beats;  // 8-bit rows: the scale beats that begin a row; fp32: 0
    int work;         // iterations of a position that read or use the row: scale_beats + dim / kLanes
    int steps;        // iterations per position: work, padded to at least kPartialSums
    int row_beats;    // stored beats per row
    bool kv8;         // int8 rows
};

inline AttnShape attn_shape_of(const ModelDims& d) {
    AttnShape s;
    s.head_size = head_size_of(d);
    s.hpb = s.head_size / kLanes;
    s.kv_mul = kv_mul_of(d);
    s.scale_beats = kv_scale_beats_of(d);
    s.work = s.scale_beats + d.dim / kLanes;
    s.steps = kv_slot_iters(d.dim, s.scale_beats, kDesign);
    s.row_beats = kv_row_beats(d);
    s.kv8 = is_kv8(d);
    return s;
}

// Where an engine is in its positions: iteration i of the position (slot), and for the
// iterations that use the row, the query head h (the m-th of KV head g's group), its
// iteration jj, and c = h * hpb + jj (which kLanes elements of q and of the output).
struct KvCursor {
    int i = 0, jj = 0, m = 0, g = 0, h = 0, c = 0, slot = 0;
    bool scale_step(const AttnShape& a) const { return i < a.scale_beats; }
    bool work_step(const AttnShape& a) const { return i >= a.scale_beats && i < a.work; }
    // This iteration takes a beat from the FIFO (the first query head of a group: every
    // iteration for fp32 rows, every kKv8PerBeat / kLanes-th for int8 ones).
    bool pops(const AttnShape& a) const {
        return scale_step(a) || (work_step(a) && m == 0 && (!a.kv8 || jj % (kKv8PerBeat / kLanes) == 0));
    }
    void advance(const AttnShape& a) {
#pragma HLS INLINE
        const bool worked = work_step(a);
        if (i == a.steps - 1) {
            i = jj = m = g = h = c = 0;
            ++slot;
            return;
        }
        ++i;
        if (!worked) return;
        ++c;
        if (jj == a.hpb - 1) {
            jj = 0;
            ++h;
            if (m == a.kv_mul - 1) {
                m = 0;
                ++g;
            } else {
                ++m;
            }
        } else {
            ++jj;
        }
    }
};

// An engine's view of its row stream: the FIFO's beats turned into the iteration's kLanes
// values of the current KV head (int8 ones converted to float; the scale is applied per
// head) and the row's scales. The first query head of a group fills the head buffer hb the
// others reuse; `held` is the last beat popped (an int8 beat serves several iterations).
inline void kv_row_step(Stream<Beat>& s, const KvCursor& c, const AttnShape& a, float hb[kMaxHeadBeats][kLanes],
                        float scale[kMaxHeads], Beat& held, float out[kLanes]) {
#pragma HLS INLINE
    if (c.pops(a)) held = s.read();
    if (c.scale_step(a)) {
        for (int l = 0; l < kFloatsPerBeat; ++l) {
#pragma HLS UNROLL
            const int g = c.i * kFloatsPerBeat + l;
            if (g < kMaxHeads) scale[g] = held.v[l];
        }
    }
    const int word = c.jj % (kKv8PerBeat / kLanes);  // int8: the 32-bit word of the beat
    for (int l = 0; l < kLanes; ++l) {
#pragma HLS UNROLL
        const float fresh = a.kv8 ? float(int8_at(bits_of(held.v[word]), l)) : held.v[l];
        out[l] = c.m == 0 ? fresh : hb[c.jj][l];
        if (c.m == 0 && c.work_step(a)) hb[c.jj][l] = fresh;
    }
}
inline float kv_head_scale(const float scale[kMaxHeads], const KvCursor& c, const AttnShape& a) {
    return a.kv8 ? scale[c.g] : 1.0f;
}
static_assert(kKv8PerBeat % kLanes == 0 && kLanes == 4, "an int8 beat is whole 32-bit words of kLanes values");

// Quantizes one row to int8 per KV head (head_size values a group) into kq and its scales
// into ks: the activation quantizer's loops (runq.c's arithmetic).
inline void kv_quantize_row(const float* src, const ModelDims& d, int8_t kq[kMaxDim], float ks[kMaxHeads]) {
    quantize_groups_q8(src, kv_dim_of(d), head_size_of(d), kq, ks);
}

// Appends one row (src: kv_dim floats) to a stripe in the cache's format.
inline void kv_write_row(Beat* kv, int64_t off, const float* src, const int8_t kq[kMaxDim],
                         const float ks[kMaxHeads], const ModelDims& d, int port) {
    const int rb = kv_row_beats(d);
    LHK_TRACE_LOOP(LoopId::KvWrite, rb, port, int64_t(rb) * kBeatBytes);
    const bool kv8 = is_kv8(d);
    const int sb = kv_scale_beats_of(d), hb = kv_head_beats(d), hs = head_size_of(d);
    int j = 0, g = 0;  // int8: beat in head, KV head
kv_write_row:
    for (int i = 0; i < rb; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxKvRowBeats
        Beat b;
        for (int l = 0; l < kFloatsPerBeat; ++l) {
#pragma HLS UNROLL
            uint32_t word = 0;
            if (kv8) {
                for (int k = 0; k < 4; ++k) {
#pragma HLS UNROLL
                    const int e = j * kKv8PerBeat + l * 4 + k;  // element of head g
                    const uint32_t byte = e < hs ? uint32_t(uint8_t(kq[g * hs + e])) : 0u;
                    word |= byte << (8 * k);
                }
            }
            const int sg = i * kFloatsPerBeat + l;  // a scale beat: KV head sg's scale
            b.v[l] = !kv8 ? src[i * kFloatsPerBeat + l]
                     : i < sb ? (sg < d.n_kv_heads ? ks[sg < kMaxHeads ? sg : 0] : 0.0f)
                              : float_of(word);
        }
        kv[off + i] = b;
        if (kv8 && i >= sb) {
            if (j == hb - 1) {
                j = 0;
                ++g;
            } else {
                ++j;
            }
        }
    }
}

// k and v of position pos (after RoPE) into the cache of `layer`.
inline void kv_store(Beat* kv0, Beat* kv1, Beat* kv2, Beat* kv3, const float* k, const float* v,
                     int layer, int pos, const ModelDims& d) {
    LHK_TRACE_OP(TraceOp::KvStore, head_size_of(d), pos, layer, kv_trace_arg(d));
    int8_t kq[kMaxDim], vq[kMaxDim];
    float ks[kMaxHeads], vs[kMaxHeads];
#pragma HLS ARRAY_PARTITION variable=kq cyclic factor=kKv8PerBeat
#pragma HLS ARRAY_PARTITION variable=vq cyclic factor=kKv8PerBeat
#pragma HLS ARRAY_PARTITION variable=ks complete
#pragma HLS ARRAY_PARTITION variable=vs complete
    if (is_kv8(d)) {
        kv_quantize_row(k, d, kq, ks);
        kv_quantize_row(v, d, vq, vs);
    }
    const int stripe = pos % kKvPorts;
    const int slot = pos / kKvPorts;
    const int64_t koff = k_row_offset(d, layer, slot);
    const int64_t voff = v_row_offset(d, layer, slot);
    switch (stripe) {
        case 0:
            kv_write_row(kv0, koff, k, kq, ks, d, 0);
            kv_write_row(kv0, voff, v, vq, vs, d, 0);
            break;
        case 1:
            kv_write_row(kv1, koff, k, kq, ks, d, 1);
            kv_write_row(kv1, voff, v, vq, vs, d, 1);
            break;
        case 2:
            kv_write_row(kv2, koff, k, kq, ks, d, 2);
            kv_write_row(kv2, voff, v, vq, vs, d, 2);
            break;
        default:
            kv_write_row(kv3, koff, k, kq, ks, d, 3);
            kv_write_row(kv3, voff, v, vq, vs, d, 3);
            break;
    }
}

// A stripe's rows of n_slots positions from base into an engine's FIFO: one pipelined loop,
// so the m_axi adapter issues back-to-back bursts while the engine works at its own pace.
inline void kv_read(const Beat* kv, int64_t base, int n_slots, AttnShape a, Stream<Beat>& s, int port) {
    const int64_t beats = int64_t(n_slots) * a.row_beats;
    LHK_TRACE_LOOP(LoopId::KvRead, beats, port, beats * kBeatBytes);
attn_kv_read:
    for (int64_t i = 0; i < beats; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxSlots*kMaxKvRowBeats
        s.write(kv[base + i]);
    }
}

// (1) One score engine: the K rows of n_slots positions of one stripe, from its FIFO.
inline void attn_scores_engine(Stream<Beat>& s, const float q[kMaxDim], float sc[kMaxHeads][kMaxSlots],
                               int n_slots, AttnShape a, float sqrt_hs, int port) {
    const int64_t trips = int64_t(n_slots) * a.steps;
    LHK_TRACE_LOOP(LoopId::AttnScores, trips, port, 0);
    float sr[kMaxHeadBeats];
#pragma HLS ARRAY_PARTITION variable=sr complete
    for (int k = 0; k < kMaxHeadBeats; ++k) {
#pragma HLS UNROLL
        sr[k] = 0.0f;
    }
    float hb[kMaxHeadBeats][kLanes] = {};
    float scale[kMaxHeads] = {};
#pragma HLS ARRAY_PARTITION variable=hb complete dim=2
#pragma HLS ARRAY_PARTITION variable=scale complete
    Beat held = {};
    KvCursor c;
attn_scores:
    for (int64_t i = 0; i < trips; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxSlots*kMaxKvRowBeats
        float kx[kLanes];
#pragma HLS ARRAY_PARTITION variable=kx complete
        kv_row_step(s, c, a, hb, scale, held, kx);
        const bool work = c.work_step(a);
        const int qi = work ? c.c * kLanes : 0;
        float prod[kLanes];
#pragma HLS ARRAY_PARTITION variable=prod complete
        for (int l = 0; l < kLanes; ++l) {
#pragma HLS UNROLL
            prod[l] = kx[l] * q[qi + l];
        }
        for (int k = 0; k + 1 < kMaxHeadBeats; ++k) {
#pragma HLS UNROLL
            sr[k] = sr[k + 1];
        }
        sr[kMaxHeadBeats - 1] = tree_sum<kLanes>(prod);
        if (work && c.jj == a.hpb - 1) {
            float head[kMaxHeadBeats];
#pragma HLS ARRAY_PARTITION variable=head complete
            for (int k = 0; k < kMaxHeadBeats; ++k) {
#pragma HLS UNROLL
                head[k] = k >= kMaxHeadBeats - a.hpb ? sr[k] : 0.0f;
            }
            sc[c.h][c.slot] = tree_sum<kMaxHeadBeats>(head) * kv_head_scale(scale, c, a) / sqrt_hs;
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
    Stream<Beat> s0, s1, s2, s3;
#pragma HLS STREAM variable=s0 depth=kKvFifoBeats
#pragma HLS STREAM variable=s1 depth=kKvFifoBeats
#pragma HLS STREAM variable=s2 depth=kKvFifoBeats
#pragma HLS STREAM variable=s3 depth=kKvFifoBeats
    kv_read(kv0, k_base, n0, a, s0, 0);
    kv_read(kv1, k_base, n1, a, s1, 1);
    kv_read(kv2, k_base, n2, a, s2, 2);
    kv_read(kv3, k_base, n3, a, s3, 3);
    attn_scores_engine(s0, qc[0], sc[0], n0, a, sqrt_hs, 0);
    attn_scores_engine(s1, qc[1], sc[1], n1, a, sqrt_hs, 1);
    attn_scores_engine(s2, qc[2], sc[2], n2, a, sqrt_hs, 2);
    attn_scores_engine(s3, qc[3], sc[3], n3, a, sqrt_hs, 3);
    LHK_TRACE_DATAFLOW(0);
}

// (3) One value engine: acc[i] = sum over its positions t of a_t[head of i] * v_t[i], the V
// rows from its FIFO. Its first position initialises the accumulators.
inline void attn_values_engine(Stream<Beat>& s, const float sc[kMaxHeads][kMaxSlots], float acc[kMaxDim],
                               int n_slots, AttnShape a, int port) {
    const int64_t trips = int64_t(n_slots) * a.steps;
    LHK_TRACE_LOOP(LoopId::AttnValues, trips, port, 0);
    float hb[kMaxHeadBeats][kLanes] = {};
    float scale[kMaxHeads] = {};
#pragma HLS ARRAY_PARTITION variable=hb complete dim=2
#pragma HLS ARRAY_PARTITION variable=scale complete
    Beat held = {};
    KvCursor c;
attn_values:
    for (int64_t i = 0; i < trips; ++i) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=1 max=kMaxSlots*kMaxKvRowBeats
#pragma HLS DEPENDENCE variable=acc inter false
        float vx[kLanes];
#pragma HLS ARRAY_PARTITION variable=vx complete
        kv_row_step(s, c, a, hb, scale, held, vx);
        if (c.work_step(a)) {
            const float w = sc[c.h][c.slot] * kv_head_scale(scale, c, a);
            for (int l = 0; l < kLanes; ++l) {
#pragma HLS UNROLL
                const int idx = c.c * kLanes + l;
                acc[idx] = (c.slot == 0 ? 0.0f : acc[idx]) + w * vx[l];
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
    Stream<Beat> s0, s1, s2, s3;
#pragma HLS STREAM variable=s0 depth=kKvFifoBeats
#pragma HLS STREAM variable=s1 depth=kKvFifoBeats
#pragma HLS STREAM variable=s2 depth=kKvFifoBeats
#pragma HLS STREAM variable=s3 depth=kKvFifoBeats
    kv_read(kv0, v_base, n0, a, s0, 0);
    kv_read(kv1, v_base, n1, a, s1, 1);
    kv_read(kv2, v_base, n2, a, s2, 2);
    kv_read(kv3, v_base, n3, a, s3, 3);
    attn_values_engine(s0, sc[0], acc[0], n0, a, 0);
    attn_values_engine(s1, sc[1], acc[1], n1, a, 1);
    attn_values_engine(s2, sc[2], acc[2], n2, a, 2);
    attn_values_engine(s3, sc[3], acc[3], n3, a, 3);
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
    LHK_TRACE_OP(TraceOp::Attention, pos, d.dim, d.n_heads, kv_trace_arg(d));
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
