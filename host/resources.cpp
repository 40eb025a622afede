#include "host/resources.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/loop_bounds.hpp"

namespace lhb::hls {

using nlohmann::json;

namespace {

struct Tally {
    json parts = json::array();
    double dsp = 0, bram18 = 0, uram = 0;
};

// A bank of `words` 32-bit words: registers below 64 words, else 512-deep BRAM18s (or
// 4096-deep URAMs).
double bram18_of(int64_t words) { return words <= 64 ? 0.0 : std::ceil(double(words) / 512.0); }
double uram_of(int64_t words) { return words <= 64 ? 0.0 : std::ceil(double(words) / 4096.0); }

}  // namespace

ResourceEstimate estimate_resources(const lhk::Design& d, const BoardSpec& b) {
    Tally t;
    auto dsp = [&](const char* op) { return b.operators.at(op).dsp; };
    const double F = std::max(1, d.port_bits / 32), L = d.lanes, P = d.partial_sums, E = d.weight_ports,
                 K = d.kv_ports, H = lhk::kMaxHeads, HB = std::max(1, lhk::kMaxHeadSize / int(F));
    auto unit = [&](const char* name, double instances, double fadd, double fmul, double fdiv, double fsqrt,
                    double fexp, double fpow, double fsincos, double fcmp) {
        const double per = fadd * dsp("fadd") + fmul * dsp("fmul") + fdiv * dsp("fdiv") + fsqrt * dsp("fsqrt") +
                           fexp * dsp("fexp") + fpow * dsp("fpow") + fsincos * dsp("fsincos") + fcmp * dsp("fcmp");
        t.dsp += instances * per;
        t.parts.push_back({{"part", name}, {"instances", instances}, {"dsp", instances * per},
                           {"operators", {{"fadd", fadd}, {"fmul", fmul}, {"fdiv", fdiv}, {"fsqrt", fsqrt},
                                          {"fexp", fexp}, {"fpow", fpow}, {"fsincos", fsincos}, {"fcmp", fcmp}}}});
    };
    // Arithmetic: one instance per function (Vitis shares a sub-function's hardware between
    // its calls), operators counted without sharing between loops (an upper bound).
    unit("matmul engine", E, (L - 1) + 1 + (P - 1), L, 0, 0, 0, 0, 0, 0);
    unit("rmsnorm", 1, (L - 1) + 1 + (P - 1) + 1, 3 * L, 2, 1, 0, 0, 0, 0);
    unit("rope table", 1, 0, 1, 2, 0, 0, 1, 2, 0);
    unit("rope rotate", 1, 4, 8, 0, 0, 0, 0, 0, 0);
    unit("attention score engine", K, (F - 1) + (HB - 1), F, 1, 0, 0, 0, 0, 0);
    unit("softmax (per head)", H, 2 + (P - 1), 0, 1, 0, 1, 0, 0, 1 + (P - 1));
    unit("attention value engine", K, F, F, 0, 0, 0, 0, 0, 0);
    unit("attention combine", 1, F * K, 0, 0, 0, 0, 0, 0, 0);
    unit("swiglu", 1, L, 2 * L, L, 0, L, 0, 0, 0);
    unit("residual", 1, L, 0, 0, 0, 0, 0, 0, 0);
    // int8 (the same bitstream): per engine, both rows' scaling (2 fmul each), accumulator and
    // tail tree; int -> float conversions are fabric (no DSP). The quantizer: a divider per
    // lane and one for the scale, comparators (fabric: no DSP by the board file).
    unit("int8 matmul engine (scaling, accumulation)", E, 2 * (1 + (P - 1)), 4, 0, 0, 0, 0, 0, 0);
    unit("int8 activation quantizer", 1, L, 0, L + 1, 0, 0, 0, 0, L);
    // The int8 multiplies: a beat's port_bytes/2 columns of two rows share their activation,
    // so each column's two products are one DSP48E2 (packed operand, WP487): port_bytes/2
    // DSPs per engine for port_bytes int8 MACs per clock.
    {
        const double macs = d.port_bits / 8.0, per_engine = std::ceil(macs / 2);
        t.dsp += E * per_engine;
        t.parts.push_back({{"part", "int8 matmul engine multipliers (two int8 MACs per DSP48E2)"},
                           {"instances", E},
                           {"int8_macs_per_clock", macs},
                           {"dsp", E * per_engine}});
    }

    // On-chip memories of llama_forward (sizes from the compiled maxima).
    auto mem = [&](const char* name, double banks, int64_t words_per_bank, bool uram) {
        const double b18 = uram ? 0 : banks * bram18_of(words_per_bank);
        const double u = uram ? banks * uram_of(words_per_bank) : 0;
        t.bram18 += b18;
        t.uram += u;
        t.parts.push_back({{"part", name}, {"banks", banks}, {"words_per_bank", words_per_bank},
                           {"bram36", b18 / 2}, {"uram", u}});
    };
    const int64_t lanes = d.lanes;
    mem("activations x, xb, xb2, q, k, v", 6 * lanes, lhk::ceil_div64(lhk::kMaxDim, lanes), false);
    mem("activations hb, hb2", 2 * lanes, lhk::ceil_div64(lhk::kMaxHidden, lanes), false);
    mem("matmul inputs (one copy per engine)", E * lanes, lhk::ceil_div64(lhk::kMaxCols, lanes), false);
    mem("matmul row results", E, lhk::ceil_div64(lhk::kMaxRows, int64_t(E)), true);
    mem("attention q copies", K * F, lhk::ceil_div64(lhk::kMaxDim, int64_t(F)), false);
    mem("attention scores", K * H, lhk::ceil_div64(lhk::kMaxSeqLen, int64_t(K)), false);
    mem("attention value accumulators", K * F, lhk::ceil_div64(lhk::kMaxDim, int64_t(F)), false);
    // int8: the quantized input (int8, kQ8Cols banks), its scales, and every engine's copy of
    // a row pair's steps (kQ8Cols int8 + scale + flags: 4 words a beat).
    mem("int8 activations", lhk::kQ8Cols, lhk::ceil_div64(lhk::kMaxCols, 4 * lhk::kQ8Cols), false);
    mem("int8 activation scales", 1, lhk::kMaxQ8Groups, false);
    mem("int8 matmul steps (one copy per engine)", E, 4 * int64_t(lhk::kMaxQ8PairBeats), false);
    // The weight readers' FIFOs: kWeightFifoBeats x port_bits each (BRAM36 is at most 72 bits
    // wide and 512 deep at that width).
    if (d.weight_fifo_beats > 0) {
        const double per = std::ceil(d.port_bits / 72.0) * std::ceil(d.weight_fifo_beats / 512.0);
        t.bram18 += 2 * per * d.weight_ports;
        t.parts.push_back({{"part", "weight reader FIFOs"}, {"instances", d.weight_ports},
                           {"beats", d.weight_fifo_beats}, {"bram36", per * d.weight_ports}});
    }
    // m_axi adapters: a read FIFO of outstanding x burst beats per bundle, and a write FIFO
    // on the bundles that write (KV stripes, io).
    // (With weight readers, the forward pass's tables and KV stripes have bundles of their own.)
    const int bundles = (d.weight_fifo_beats > 0 ? d.weight_ports + d.kv_ports : std::max(d.weight_ports, d.kv_ports)) + 1;
    const double burst = std::min(d.burst_beats, b.max_burst_beats);
    const double fifo_bram36 = std::ceil(d.outstanding * burst / 512.0) * std::ceil(d.port_bits / 72.0);
    const double adapters = bundles * 2 * fifo_bram36;
    t.bram18 += 2 * adapters;
    t.parts.push_back({{"part", "m_axi adapters (read + write FIFOs)"}, {"bundles", bundles}, {"bram36", adapters}});

    ResourceEstimate r;
    r.dsp = t.dsp;
    r.bram36 = std::ceil(t.bram18 / 2);
    r.uram = t.uram;
    r.dsp_avail = b.dsp;
    r.bram36_avail = b.bram36;
    r.uram_avail = b.uram;
    r.fits = r.dsp <= b.dsp && r.bram36 <= b.bram36 && r.uram <= b.uram;
    r.detail = t.parts;
    return r;
}

}  // namespace lhb::hls
