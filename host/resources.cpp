#include "host/resources.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "kernels/loop_bounds.hpp"

namespace lhb::hls {

using nlohmann::json;

namespace {

// The compute units of the link config (kernels/vitis/zcu106.cfg, u250.cfg, u280.cfg).
enum Unit : unsigned {
    kForward = 1u << 0, kOpRmsnorm = 1u << 1, kOpMatmul = 1u << 2, kOpRope = 1u << 3,
    kOpSoftmax = 1u << 4, kOpAttention = 1u << 5, kOpSwiglu = 1u << 6,
};
constexpr int kUnits = 7;

// Fabric that is not an operator core, per pipelined loop (its state machine, trip counter
// and enables) and per m_axi adapter (its address generator, burst FIFOs' control and
// width converters). Assumptions, not measured: they scale the control with the structure,
// so a design with more loops or bundles pays more; check them against a csynth report.
constexpr double kLoopLut = 150, kLoopFf = 200;
double adapter_lut(int bits) { return 1200 + 8.0 * bits; }
double adapter_ff(int bits) { return 1800 + 12.0 * bits; }

struct Tally {
    json parts = json::array();
    std::array<ResourceTotals, kUnits> unit{};
    void add(unsigned units, double dsp, double bram18, double uram, double lut, double ff) {
        for (int u = 0; u < kUnits; ++u)
            if (units & (1u << u)) {
                unit[size_t(u)].dsp += dsp;
                unit[size_t(u)].bram36 += bram18 / 2;
                unit[size_t(u)].uram += uram;
                unit[size_t(u)].lut += lut;
                unit[size_t(u)].ff += ff;
            }
    }
};

json units_json(unsigned units) {
    json j = json::array();
    for (int u = 0; u < kUnits; ++u)
        if (units & (1u << u)) j.push_back(compute_units()[size_t(u)]);
    return j;
}

// An m_axi adapter's buffer of `depth` beats of `bits`: BRAM18s in their 1K x 18 shape
// (UG573), as many side by side as the width needs (the seed's report: 512 bits x 64 beats
// x 16 outstanding = 29 BRAM_18K a direction).
double maxi_buffer_bram18(int bits, double depth) { return std::ceil(bits / 18.0) * std::ceil(depth / 1024.0); }

// A bank of `words` 32-bit words: registers below 64 words, else 512-deep BRAM18s (or
// 4096-deep URAMs).
double bram18_of(int64_t words) { return words <= 64 ? 0.0 : std::ceil(double(words) / 512.0); }
double uram_of(int64_t words) { return words <= 64 ? 0.0 : std::ceil(double(words) / 4096.0); }

}  // namespace

const std::vector<std::string>& compute_units() {
    static const std::vector<std::string> names = {"llama_forward", "op_rmsnorm",   "op_matmul", "op_rope",
                                                   "op_softmax",    "op_attention", "op_swiglu"};
    return names;
}

// Long because it is the one list of every part of every compute unit; each part is a line.
ResourceEstimate estimate_resources(const lhk::Design& d, const BoardSpec& b) {
    Tally t;
    auto dsp = [&](const char* op) { return b.operators.at(op).dsp; };
    auto lut = [&](const char* op) { return b.operators.at(op).lut; };
    auto ff = [&](const char* op) { return b.operators.at(op).ff; };
    const double F = std::max(1, d.port_bits / 32), L = d.lanes, P = d.partial_sums, E = d.weight_ports,
                 K = d.kv_ports, H = lhk::kMaxHeads, HB = std::max(1, lhk::kMaxHeadSize / int(F));
    // One part: `instances` copies of a datapath with these operator counts and `loops`
    // pipelined loops, in the compute units `units`.
    auto unit = [&](const char* name, unsigned units, double instances, double loops, double fadd, double fmul,
                    double fdiv, double fsqrt, double fexp, double fpow, double fsincos, double fcmp) {
        const double n[] = {fadd, fmul, fdiv, fsqrt, fexp, fpow, fsincos, fcmp};
        static constexpr const char* kOps[] = {"fadd", "fmul", "fdiv", "fsqrt", "fexp", "fpow", "fsincos", "fcmp"};
        double per_dsp = 0, per_lut = loops * kLoopLut, per_ff = loops * kLoopFf;
        for (int i = 0; i < 8; ++i) {
            per_dsp += n[i] * dsp(kOps[i]);
            per_lut += n[i] * lut(kOps[i]);
            per_ff += n[i] * ff(kOps[i]);
        }
        t.add(units, instances * per_dsp, 0, 0, instances * per_lut, instances * per_ff);
        t.parts.push_back({{"part", name}, {"units", units_json(units)}, {"instances", instances},
                           {"dsp", instances * per_dsp}, {"lut", instances * per_lut}, {"ff", instances * per_ff},
                           {"operators", {{"fadd", fadd}, {"fmul", fmul}, {"fdiv", fdiv}, {"fsqrt", fsqrt},
                                          {"fexp", fexp}, {"fpow", fpow}, {"fsincos", fsincos}, {"fcmp", fcmp}}}});
    };
    const unsigned kMat = kForward | kOpMatmul, kAttn = kForward | kOpAttention;
    // Arithmetic: one instance per function (Vitis shares a sub-function's hardware between
    // its calls), operators counted without sharing between loops (an upper bound).
    unit("matmul engine", kMat, E, 1, (L - 1) + 1 + (P - 1), L, 0, 0, 0, 0, 0, 0);
    unit("rmsnorm", kForward | kOpRmsnorm, 1, 2, (L - 1) + 1 + (P - 1) + 1, 3 * L, 2, 1, 0, 0, 0, 0);
    unit("rope table", kForward | kOpRope, 1, 1, 0, 1, 2, 0, 0, 1, 2, 0);
    unit("rope rotate", kForward | kOpRope, 1, 1, 4, 8, 0, 0, 0, 0, 0, 0);
    // The attention engines: a beat's products (and the head's scale: 1 for fp32 rows), a
    // KV head's values kept for its kv_mul query heads in a head buffer (memories below).
    unit("attention score engine", kAttn, K, 1, (F - 1) + (HB - 1), F + 1, 1, 0, 0, 0, 0, 0);
    unit("softmax (per head of a group)", kAttn, lhk::kSoftmaxHeads, 3, 2 + (P - 1), 0, 1, 0, 1, 0, 0, 1 + (P - 1));
    unit("softmax (op_softmax's one vector)", kOpSoftmax, 1, 3, 2 + (P - 1), 0, 1, 0, 1, 0, 0, 1 + (P - 1));
    unit("attention value engine", kAttn, K, 1, F, F + 1, 0, 0, 0, 0, 0, 0);
    unit("attention combine", kAttn, 1, 1, F * K, 0, 0, 0, 0, 0, 0, 0);
    unit("swiglu", kForward | kOpSwiglu, 1, 1, L, 2 * L, L, 0, L, 0, 0, 0);
    unit("residual", kForward, 1, 1, L, 0, 0, 0, 0, 0, 0, 0);
    // int8 (the same bitstream): per engine, both rows' scaling (2 fmul each), accumulator and
    // tail tree; int -> float conversions are fabric (no DSP). The quantizer: a divider per
    // lane and one for the scale, comparators (fabric: no DSP by the board file).
    unit("int8 matmul engine (scaling, accumulation)", kMat, E, 1, 2 * (1 + (P - 1)), 4, 0, 0, 0, 0, 0, 0);
    unit("int8 activation quantizer", kMat, 1, 2, L, 0, L + 1, 0, 0, 0, 0, L);
    // The 8-bit KV cache (the same bitstream): kv_store quantizes k and v per KV head with the
    // activation quantizer's loops, inlined at its two calls.
    unit("8-bit KV-cache quantizer (k and v)", kForward, 2, 2, L, 0, L + 1, 0, 0, 0, 0, L);
    // The int8 multiplies: a beat's port_bytes/2 columns of two rows share their activation,
    // so each column's two products are one DSP48E2 (packed operand, WP487): port_bytes/2
    // DSPs per engine for port_bytes int8 MACs per clock.
    {
        const double macs = d.port_bits / 8.0, per_engine = std::ceil(macs / 2);
        // the integer adder tree over a beat's columns: about one LUT a bit of a 32-bit sum
        const double tree_lut = E * macs * 32, tree_ff = E * macs * 32;
        t.add(kMat, E * per_engine, 0, 0, tree_lut, tree_ff);
        t.parts.push_back({{"part", "int8 matmul engine multipliers (two int8 MACs per DSP48E2)"},
                           {"units", units_json(kMat)},
                           {"instances", E}, {"lut", tree_lut}, {"ff", tree_ff},
                           {"int8_macs_per_clock", macs},
                           {"dsp", E * per_engine}});
    }

    // 4-bit (the same bitstream, kernels/primitives/matmul_q4.hpp): the int8 engines' float
    // chains (above) take the scale and the min terms; per engine one more adder, the row's
    // difference of the two. The quantizer (llama.cpp's Q8_0 / Q8_K): a multiply and a rounding
    // adder per lane, the block scale's division and reciprocal, comparators. The port_bits / 4
    // code x activation multiplies (4 x 8 bits) and their integer tree are fabric: about 32 LUT
    // a multiplier and one LUT a bit of a 20-bit sum per tree input (assumptions), no DSP.
    unit("4-bit rows' difference of the engine's two float chains", kMat, E, 0, 1, 0, 0, 0, 0, 0, 0, 0);
    unit("4-bit activation quantizer", kMat, 1, 2, L, L, 2, 0, 0, 0, 0, L + 1);
    {
        const double codes = d.port_bits / 4.0;
        const double lut = E * codes * (32 + 20), ff = E * codes * (12 + 20);
        t.add(kMat, 0, 0, 0, lut, ff);
        t.parts.push_back({{"part", "4-bit matmul engine multipliers (fabric)"}, {"units", units_json(kMat)},
                           {"instances", E}, {"lut", lut}, {"ff", ff}, {"q4_macs_per_clock", codes}, {"dsp", 0}});
    }

    // On-chip memories of llama_forward (sizes from the compiled maxima).
    // A bank below 64 words is registers: a LUT and an FF a bit.
    auto mem = [&](const char* name, unsigned units, double banks, int64_t words_per_bank, bool uram) {
        const double b18 = uram ? 0 : banks * bram18_of(words_per_bank);
        const double u = uram ? banks * uram_of(words_per_bank) : 0;
        const double regs = words_per_bank <= 64 ? banks * double(words_per_bank) * 32 : 0;
        t.add(units, 0, b18, u, regs, regs);
        t.parts.push_back({{"part", name}, {"units", units_json(units)}, {"banks", banks},
                           {"words_per_bank", words_per_bank}, {"bram36", b18 / 2}, {"uram", u},
                           {"lut", regs}, {"ff", regs}});
    };
    const int64_t lanes = d.lanes;
    mem("activations x, xb, xb2, q, k, v", kForward, 6 * lanes, lhk::ceil_div64(lhk::kMaxDim, lanes), false);
    mem("activations hb, hb2", kForward, 2 * lanes, lhk::ceil_div64(lhk::kMaxHidden, lanes), false);
    mem("per-op vectors (in and out)", kOpRmsnorm | kOpRope | kOpSwiglu, 2 * lanes,
        lhk::ceil_div64(lhk::kMaxHidden, lanes), false);
    mem("op_softmax's vector", kOpSoftmax, lanes, lhk::ceil_div64(lhk::kMaxSeqLen, lanes), false);
    mem("matmul inputs (one copy per engine)", kMat, E * lanes, lhk::ceil_div64(lhk::kMaxCols, lanes), false);
    mem("matmul row results", kMat, E, lhk::ceil_div64(lhk::kMaxRows, int64_t(E)), true);
    mem("attention q copies", kAttn, K * F, lhk::ceil_div64(lhk::kMaxDim, int64_t(F)), false);
    mem("attention scores", kAttn, K * H, lhk::ceil_div64(lhk::kMaxSeqLen, int64_t(K)), false);
    mem("attention value accumulators", kAttn, K * F, lhk::ceil_div64(lhk::kMaxDim, int64_t(F)), false);
    // Score and value engines: each a FIFO from its KV reader (shift registers) and a head
    // buffer (one read and one write a clock at the iteration's index: distributed RAM), a
    // LUT a bit per 32 words.
    auto lutram = [&](const char* name, unsigned units, double banks, int64_t words_per_bank) {
        const double luts = banks * 32 * double(lhk::ceil_div64(words_per_bank, 32));
        t.add(units, 0, 0, 0, luts, 0);
        t.parts.push_back({{"part", name}, {"units", units_json(units)}, {"banks", banks},
                           {"words_per_bank", words_per_bank}, {"lut", luts}});
    };
    lutram("attention KV FIFOs", kAttn, 2 * K * F, lhk::kKvFifoBeats);
    lutram("attention head buffers", kAttn, 2 * K * F, int64_t(HB));
    // kv_store's int8 k and v rows (kKv8PerBeat bytes a clock: four 32-bit banks each).
    mem("8-bit KV rows (k and v)", kForward, 2 * (lhk::kKv8PerBeat / 4), lhk::ceil_div64(lhk::kMaxDim, lhk::kKv8PerBeat), false);
    // int8: the quantized input (int8, kQ8Cols banks), its scales, and every engine's copy of
    // the steps of a row pair or (4-bit) a row: kQ4PerBeat int8 + scale, zero point, sum and
    // flags, 12 words a beat (matmul_q8.hpp's QuantStep), bound to URAM (q8_steps' and
    // q4_steps' callers: 12 x 1056 words an engine at kMaxCols would be 25 BRAM18).
    mem("int8 activations", kMat, lhk::kQ8Cols, lhk::ceil_div64(lhk::kMaxCols, 4 * lhk::kQ8Cols), false);
    mem("int8 activation scales", kMat, 1, lhk::kMaxQ8Groups, false);
    mem("int8 and 4-bit matmul steps (one copy per engine)", kMat, E, 12 * int64_t(lhk::kMaxQuantBeats), true);
    // 4-bit: the quantized input, reshaped into words of kQ4PerBeat int8 (one block RAM as wide
    // as kQ4PerBeat / 4 banks of 32-bit words), and the blocks' scales and reciprocals.
    mem("4-bit activations", kMat, lhk::kQ4PerBeat / 4, lhk::ceil_div64(lhk::kMaxCols, lhk::kQ4PerBeat), false);
    mem("4-bit activation scales", kMat, 2, lhk::kMaxQ4ActBlocks, false);
    // Prefill (this project's kernels, the designs with weight readers: llama_forward's prompt
    // mode, kernels/primitives/matmul_block.hpp): the lockstep engines apply a held beat to
    // kPrefillTokenLanes tokens a clock, and the block's rows (up to kPrefillTokens tokens) stay on
    // chip. The published designs (no readers) have no such mode.
    if (d.weight_fifo_beats > 0) {
        const double TL = lhk::kPrefillTokenLanes;
        const int64_t q8c = lhk::kQ8Cols;
        // One datapath for both precisions: per engine and token lane, L multipliers (fp32
        // products, or the int8 sums' scaling) and L + 1 adders (the lane tree and the
        // accumulator, or the two rows' accumulators).
        unit("prefill block engines (per token lane, fp32 and int8 scaling)", kForward, E * TL, 1, L + 1, L, 0, 0, 0,
             0, 0, 0);
        const double macs = d.port_bits / 8.0, dsps = E * TL * std::ceil(macs / 2), tree = E * TL * macs * 32;
        t.add(kForward, dsps, 0, 0, tree, tree);
        t.parts.push_back({{"part", "prefill int8 multipliers (two int8 MACs per DSP48E2)"},
                           {"units", units_json(kForward)}, {"instances", E * TL}, {"dsp", dsps},
                           {"lut", tree}, {"ff", tree}});
        // The block's arrays have a fixed capacity a token lane (hls_config.hpp); the tokens a
        // block holds follow from the shape (llama_layout.hpp, block_tokens).
        const int64_t lane = lhk::kBlockLaneFloats, dim_lane = lhk::kBlockDimLaneFloats;
        mem("prefill block rows x, q, k, v", kForward, 4 * lanes, int64_t(TL) * dim_lane / lanes, true);
        mem("prefill block matmul input and hb", kForward, 2 * TL * lanes, lane / lanes, true);
        mem("prefill block row results", kForward, TL * 8, lane / 8, false);
        mem("prefill block int8 activations", kForward, TL * q8c, lane / q8c / 4, false);
        mem("prefill block int8 scales", kForward, TL, lane / lhk::kMinGroupSize, true);
        mem("prefill int8 steps", kForward, 1, 3 * int64_t(lhk::kMaxQ8PairBeats), false);
    }
    // The weight readers' FIFOs: kWeightFifoBeats x port_bits each (BRAM36 is at most 72 bits
    // wide and 512 deep at that width).
    if (d.weight_fifo_beats > 0) {
        const double per = std::ceil(d.port_bits / 72.0) * std::ceil(d.weight_fifo_beats / 512.0);
        t.add(kMat, 0, 2 * per * d.weight_ports, 0, d.weight_ports * kLoopLut, d.weight_ports * kLoopFf);
        t.parts.push_back({{"part", "weight reader FIFOs"}, {"units", units_json(kMat)}, {"instances", d.weight_ports},
                           {"beats", d.weight_fifo_beats}, {"bram36", per * d.weight_ports}});
    }
    // m_axi adapters: a read FIFO of outstanding x burst beats per bundle, and a write FIFO
    // on the bundles that write (KV stripes, io).
    // (With weight readers, the forward pass's tables and KV stripes have bundles of their own.)
    // The per-op kernels: op_matmul its weight bundles and io, op_attention its KV stripes
    // and io, the others their io bundle.
    const double burst = std::min(d.burst_beats, b.max_burst_beats);
    const double fifo_bram36 = maxi_buffer_bram18(d.port_bits, d.outstanding * burst) / 2;
    auto adapters = [&](const char* name, unsigned units, int bundles) {
        const double bram36 = bundles * 2 * fifo_bram36;
        t.add(units, 0, 2 * bram36, 0, bundles * adapter_lut(d.port_bits), bundles * adapter_ff(d.port_bits));
        t.parts.push_back({{"part", name}, {"units", units_json(units)}, {"bundles", bundles}, {"bram36", bram36},
                           {"lut", bundles * adapter_lut(d.port_bits)}, {"ff", bundles * adapter_ff(d.port_bits)}});
    };
    const int bundles = (d.weight_fifo_beats > 0 ? d.weight_ports + d.kv_ports : std::max(d.weight_ports, d.kv_ports)) + 1;
    adapters("m_axi adapters (read + write FIFOs)", kForward, bundles);
    adapters("op_matmul's m_axi adapters", kOpMatmul, d.weight_ports + 1);
    adapters("op_attention's m_axi adapters", kOpAttention, d.kv_ports + 1);
    adapters("per-op kernels' io adapters", kOpRmsnorm | kOpRope | kOpSoftmax | kOpSwiglu, 1);

    ResourceEstimate r;
    for (int u = 0; u < kUnits; ++u) {
        ResourceTotals tu = t.unit[size_t(u)];
        tu.unit = compute_units()[size_t(u)];
        tu.bram36 = std::ceil(tu.bram36);
        r.units.push_back(tu);
        r.xclbin.dsp += tu.dsp;
        r.xclbin.bram36 += tu.bram36;
        r.xclbin.uram += tu.uram;
        r.xclbin.lut += tu.lut;
        r.xclbin.ff += tu.ff;
    }
    r.xclbin.unit = "xclbin (every compute unit)";
    const ResourceTotals& f = r.units.front();
    r.dsp = f.dsp;
    r.bram36 = f.bram36;
    r.uram = f.uram;
    r.lut = f.lut;
    r.ff = f.ff;
    r.dsp_avail = b.dsp;
    r.bram36_avail = b.bram36;
    r.uram_avail = b.uram;
    r.lut_avail = b.lut;
    r.ff_avail = b.ff;
    auto fits = [&](const ResourceTotals& x) {
        return x.dsp <= b.dsp && x.bram36 <= b.bram36 && x.uram <= b.uram && (b.lut <= 0 || x.lut <= b.lut) &&
               (b.ff <= 0 || x.ff <= b.ff);
    };
    r.fits = fits(f);
    r.xclbin_fits = fits(r.xclbin);
    r.detail = t.parts;
    return r;
}

}  // namespace lhb::hls

namespace lhb::hls {

namespace {

// Operator instances of one part.
struct OperatorCount {
    double fadd = 0, fmul = 0, fdiv = 0, fsqrt = 0, fexp = 0, fcmp = 0;
};

// A bank of a partitioned vector: above 1024 bits Vitis's automatic storage takes block RAM,
// two BRAM18 per 32-bit bank (a two-port RAM: 18-bit ports, UG573); at or below it, LUT RAM
// (RAM64X1D: two LUTs a bit per 64 words, UG574). The seed's report: 48-word banks in
// BRAM_18K (2 each), 9- and 24-word banks in none.
constexpr double kAutoBramBits = 1024;

}  // namespace

// Long because it is the one list of the seed-structured kernel's parts; each part is a line
// or two, in the order its code runs them.
ResourceEstimate estimate_sequential_resources(const DesignSpec& design, const ModelConfig& c, const BoardSpec& b) {
    const lhk::Design& d = design.d;
    const DesignTraits& t = design.traits;
    json parts = json::array();
    ResourceTotals k;
    k.unit = design.name;
    auto add = [&](const json& part, double dsp, double bram18, double lut, double ff) {
        k.dsp += dsp;
        k.bram36 += bram18 / 2;
        k.lut += lut;
        k.ff += ff;
        json p = part;
        p["dsp"] = dsp;
        p["bram18"] = bram18;
        p["lut"] = lut;
        p["ff"] = ff;
        parts.push_back(p);
    };
    // Arithmetic: each part's operators, from its loops' bodies times their unroll factors;
    // scalar code between a function's loops shares their operators (its operations never
    // run at the same time), functions do not share with one another (an upper bound: Vitis
    // may share more between functions that never overlap).
    // A part's operators: its loop bodies times their unroll factors, unless the design file
    // says how its synthesis bound them (resource_structure.bound_operators, from its report).
    auto operators = [&](const char* key, const char* name, OperatorCount n, double instances = 1) {
        std::pair<const char*, double*> ops[] = {{"fadd", &n.fadd}, {"fmul", &n.fmul}, {"fdiv", &n.fdiv},
                                                 {"fsqrt", &n.fsqrt}, {"fexp", &n.fexp}, {"fcmp", &n.fcmp}};
        const auto bound = t.bound_operators.find(key);
        double dsp = 0, lut = 0, ff = 0;
        json counts = json::object();
        for (auto& [op, count] : ops) {
            if (bound != t.bound_operators.end() && bound->second.count(op)) *count = bound->second.at(op);
            const OperatorSpec& o = b.operators.at(op);
            dsp += instances * *count * o.dsp;
            lut += instances * *count * o.lut;
            ff += instances * *count * o.ff;
            if (*count > 0) counts[op] = *count;
        }
        add({{"part", name}, {"operators", counts}, {"instances", instances},
             {"bound", bound != t.bound_operators.end() ? "the design's synthesis report" : "loop bodies x unroll"}},
            dsp, 0, lut, ff);
    };
    const double L = d.lanes, hs = c.head_size();
    const double sumsq = t.unroll_of("rms_sumsq"), scale = t.unroll_of("rms_scale"), rope = t.rope_unroll,
                 norm = t.unroll_of("softmax_norm"), res = t.unroll_of("residual"), glu = t.unroll_of("swiglu");
    const double rms_instances = t.instances_of("rmsnorm");
    operators("matmul", "matmul engine (L multiply-adds a clock; every call uses it)", {L, L, 0, 0, 0, 0});
    operators("rmsnorm", "rmsnorm (sum of squares, 1/sqrt, scaling: two products an element)",
              {sumsq, sumsq + 2 * scale, 1, 1, 0, 0}, rms_instances);
    if (t.rope_unrolled)
        operators("rope", "RoPE rotation of q and k (rope_unroll pairs: 4 products and 2 sums each, twice)",
                  {4 * rope, 8 * rope, 0, 0, 0, 0});
    operators("scores", "attention scores (a dot product at a time)", {1, 1, 0, 0, 0, 0});
    operators("softmax", "softmax (max, exp and sum, 1/sum, the unrolled scaling)", {2, norm, 1, 0, 1, 1});
    operators("weighted_sum", "attention weighted sum", {1, 1, 0, 0, 0, 0});
    operators("residual", "residual (unrolled)", {res, 0, 0, 0, 0, 0});
    operators("swiglu", "SwiGLU (unrolled: exp, 1 + e, divide, two products)", {glu, 2 * glu, glu, 0, glu, 0});

    // Pipelined loops: each has its state machine, counters and enables. A matmul function is
    // inlined at every call site (the seed's are small), so each call site has its row loop.
    const double matmul_sites = 8;  // wq, wk, wv, wo, w1, w3, w2 in the layer loop, and the classifier
    const double loops = 2 /* embedding, RoPE table */ + 3 * rms_instances /* rmsnorm */ + (t.rope_unrolled ? 3 : 2) +
                         7 /* attention: dot, max, exp, scale, init, sum, write */ + 1 + 1 + matmul_sites;
    add({{"part", "pipelined loops' control"}, {"loops", loops}}, 0, 0, loops * kLoopLut, loops * kLoopFf);

    // On-chip vectors, each partitioned into `p` banks.
    const int p = std::max(1, t.array_partition);
    auto vectors = [&](const char* name, double count, int64_t words) {
        const double bank_words = std::ceil(double(words) / p), banks = count * p;
        const bool bram = bank_words * 32 > kAutoBramBits;
        const double bram18 = bram ? banks * 2 * std::ceil(bank_words / 512) : 0;
        const double lut = bram ? 0 : banks * 32 * 2 * std::ceil(bank_words / 64);
        add({{"part", name}, {"vectors", count}, {"banks", banks}, {"words_per_bank", bank_words},
             {"storage", bram ? "bram" : "lutram"}},
            0, bram18, lut, 0);
    };
    vectors("dim vectors (x, xb, xb2, q, RoPE table, RoPE's k copy, each rmsnorm's weights)", 6 + rms_instances, c.dim);
    vectors("hidden vectors (hb, hb2)", 2, c.hidden_dim);
    vectors("attention scores (heads x seq_len)", 1, int64_t(c.n_heads) * c.seq_len);
    vectors("attention accumulator (head_size)", 1, int64_t(hs));
    // A loop that reads a partitioned vector one element a clock at a running index selects
    // among the banks: a p:1 multiplexer of 32 bits, p/4 LUT6 a bit (a LUT6 is a 4:1
    // multiplexer; the CLB's MUXF7/F8/F9 combine them, UG574). The matmuls' x at every call
    // site, rmsnorm's sum of squares, the scores' q, softmax's max and exp, the weighted sum's
    // accumulator.
    const double muxed_reads = matmul_sites + rms_instances + 1 + 2 + 1;
    add({{"part", "bank multiplexers of element-by-element reads"}, {"reads", muxed_reads}, {"banks", p}}, 0, 0,
        p > 1 ? muxed_reads * 32 * std::ceil(p / 4.0) : 0, 0);
    // An unrolled loop over a pointer into a partitioned vector at an offset the tool cannot
    // align (the seed's softmax(att, pos + 1), att = S_att + h * P_SEQ_LEN: its report binds a
    // 32:1 sparsemux to each lane of calculate_norm): any lane may reach any bank. Reads: a p:1
    // multiplexer per lane; writes: a U:1 multiplexer of data and word address per bank (p/4 and
    // U/4 LUT6 a bit, as above). Each (lane, bank) path of either direction holds its word in a
    // pipeline register (the loop is pipelined at II 1), and each lane adds its index and
    // compares it with the variable trip count (32-bit: one LUT a bit each, a CARRY8 chain).
    if (t.unaligned("softmax_norm") && p > 1) {
        const double U = norm, address_bits = std::ceil(std::log2(std::max(2.0, std::ceil(double(c.n_heads) * c.seq_len / p))));
        const double read_lut = U * 32 * std::ceil(p / 4.0), write_lut = p * (32 + address_bits + 1) * std::ceil(U / 4.0);
        const double index_lut = U * 2 * 32, regs = 2 * U * p * 32;
        add({{"part", "softmax scaling's bank crossbar (unaligned unroll)"}, {"lanes", U}, {"banks", p},
             {"read_lut", read_lut}, {"write_lut", write_lut}, {"index_lut", index_lut}, {"path_registers", regs}},
            0, 0, read_lut + write_lut + index_lut, regs);
    }

    // m_axi adapters as the design declares them: a read buffer of burst x outstanding beats
    // on every bundle, a write buffer as well on the read-write ones.
    const int ro = t.axi_read_bundles + t.axi_read_write_bundles > 0 ? t.axi_read_bundles : d.weight_ports;
    const int rw = t.axi_read_bundles + t.axi_read_write_bundles > 0 ? t.axi_read_write_bundles : d.kv_ports;
    const double buffer = maxi_buffer_bram18(d.port_bits, double(d.burst_beats) * d.outstanding);
    add({{"part", "m_axi adapters"}, {"read_only", ro}, {"read_write", rw}, {"bits", d.port_bits},
         {"buffer_beats", d.burst_beats * d.outstanding}},
        0, (ro + 2 * rw) * buffer, (ro + rw) * adapter_lut(d.port_bits), (ro + rw) * adapter_ff(d.port_bits));

    ResourceEstimate r;
    k.bram36 = std::ceil(k.bram36 * 2) / 2;  // whole BRAM18s
    r.units.push_back(k);
    r.xclbin = k;
    r.xclbin.unit = "xclbin (one compute unit)";
    r.dsp = k.dsp;
    r.bram36 = k.bram36;
    r.uram = 0;
    r.lut = k.lut;
    r.ff = k.ff;
    r.dsp_avail = b.dsp;
    r.bram36_avail = b.bram36;
    r.uram_avail = b.uram;
    r.lut_avail = b.lut;
    r.ff_avail = b.ff;
    r.fits = k.dsp <= b.dsp && k.bram36 <= b.bram36 && (b.lut <= 0 || k.lut <= b.lut) && (b.ff <= 0 || k.ff <= b.ff);
    r.xclbin_fits = r.fits;
    r.detail = parts;
    return r;
}

ResourceEstimate estimate_resources(const DesignSpec& design, const ModelConfig& c, const BoardSpec& b) {
    return design.traits.attention_per_head ? estimate_sequential_resources(design, c, b)
                                            : estimate_resources(design.d, b);
}

}  // namespace lhb::hls
