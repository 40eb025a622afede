#include "host/cycle_model.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/loop_bounds.hpp"

namespace lhb::hls {

MemoryModel MemoryModel::of(const lhk::Design& d, const BoardSpec& b, double clock_mhz, const DesignTraits& t) {
    MemoryModel m;
    // A port wider than the board's ports is narrowed by the interconnect; bundles beyond the
    // board's ports share them.
    const int bits = std::min(d.port_bits, b.port_max_bits);
    const int bundles = std::max(d.weight_ports, d.kv_ports);
    const double share = bundles > b.hp_ports ? double(b.hp_ports) / bundles : 1.0;
    m.port_bytes_per_cycle = bits / 8.0 * share;
    const double burst = std::min(d.burst_beats, b.max_burst_beats);
    m.burst_efficiency = burst / (burst + b.burst_overhead_cycles);
    m.latency_cycles = b.read_latency_ns * clock_mhz / 1000.0;
    // Little's law: `outstanding` bursts in flight must cover the latency.
    m.port_rate = std::min(1.0, d.outstanding * burst / (m.latency_cycles + burst));
    // Channels (DDR banks, HBM pseudo-channels) each have peak / channels; the design reaches
    // those its weights are spread over.
    const int used = t.memory_channels > 0 ? t.memory_channels : bundles;
    const double reach = std::min(1.0, double(used) / std::max(1, b.memory_channels));
    m.ddr_bytes_per_cycle = b.ddr_peak_gb_per_s * reach * 1e9 * b.ddr_efficiency / (clock_mhz * 1e6);
    return m;
}

MemoryModel MemoryModel::schedule() {
    MemoryModel m;
    m.port_bytes_per_cycle = 1e30;
    m.ddr_bytes_per_cycle = 1e30;
    m.latency_cycles = 0;
    return m;
}

const char* bound_name(Bound b) {
    static constexpr const char* kNames[] = {"compute", "port", "ddr"};
    return kNames[int(b)];
}

double pipeline_cycles(int64_t trips, double ii, double depth) {
    return trips > 0 ? double(trips - 1) * ii + depth : 0.0;
}

// Entry and exit of a pipelined loop in the enclosing state machine: paid by every fill (a
// loop nest that is not flattened pays it once per outer iteration, as csynth reports show).
constexpr double kLoopOverheadCycles = 2;

Cycles loop_cycles(const LoopCost& loop, const MemoryModel& mem) {
    Cycles c;
    const bool memory = loop.port != lhk::kNoPort && loop.bytes > 0;
    // A read latency the schedule already carries in the depth is not paid again.
    const double fill_latency = memory ? std::max(0.0, mem.latency_cycles - loop.latency_in_depth) : 0.0;
    c.cycles = loop.trips > 0 ? double(loop.repeats) *
                                    (pipeline_cycles(loop.trips, loop.ii, loop.depth) + fill_latency + kLoopOverheadCycles)
                              : 0.0;
    if (memory) {
        const double port = double(loop.bytes) /
                                (mem.port_bytes_per_cycle * mem.burst_efficiency * mem.port_rate) +
                            mem.latency_cycles;
        const double ddr = double(loop.bytes) / mem.ddr_bytes_per_cycle + mem.latency_cycles;
        if (port > c.cycles) c = {port, Bound::Port};
        if (ddr > c.cycles) c = {ddr, Bound::Ddr};
    }
    return c;
}

Cycles dataflow_cycles(const std::vector<LoopCost>& stages, const MemoryModel& mem) {
    Cycles c;
    int64_t bytes = 0;
    for (const LoopCost& s : stages) {
        const Cycles sc = loop_cycles(s, mem);
        if (sc.cycles > c.cycles) c = sc;
        if (s.port != lhk::kNoPort) bytes += s.bytes;
    }
    // The stages share the DDR.
    if (bytes > 0) {
        const double ddr = double(bytes) / mem.ddr_bytes_per_cycle + mem.latency_cycles;
        if (ddr > c.cycles) c = {ddr, Bound::Ddr};
    }
    return c;
}

OperatorLatencies OperatorLatencies::of(const BoardSpec& b, double clock_mhz, const DesignTraits& t) {
    // A core pipelined for the reference clock needs proportionally fewer stages at a slower
    // clock (and more at a faster one).
    auto at = [&](const char* name) {
        if (auto it = t.operator_latencies.find(name); it != t.operator_latencies.end()) return it->second;
        const double ref = b.operators.at(name).latency;
        return std::max(1.0, std::ceil(ref * clock_mhz / b.op_ref_clock_mhz - 1e-9));
    };
    OperatorLatencies l;
    l.fadd = at("fadd");
    l.fmul = at("fmul");
    l.fdiv = at("fdiv");
    l.fsqrt = at("fsqrt");
    l.fexp = at("fexp");
    l.fpow = at("fpow");
    l.fsincos = at("fsincos");
    l.fcmp = at("fcmp");
    return l;
}

// ---- The loops' II and depth ----------------------------------------------------------------

namespace {

double log2_ceil(int n) {
    int levels = 0;
    while ((1 << levels) < n) ++levels;
    return levels;
}
// Integer operators are not in the board file: a DSP48E2 multiplier pipelined with its input,
// M and P registers (3 cycles) and one cycle per fabric adder level. Assumptions; they only
// set pipeline depths (paid once per matrix), not the II.
constexpr double kIntMulCycles = 3;
constexpr double kIntAddCycles = 1;
// An accumulator revisited every `distance` iterations through an operator of latency `lat`.
double recurrence_ii(double lat, int distance) { return std::max(1.0, std::ceil(lat / std::max(1, distance))); }

// What the datapaths are built from: the design, the operators at its clock, and the adder
// trees every reduction shares.
struct Ops {
    const lhk::Design& d;
    const OperatorLatencies& L;
    double lanes_tree;  // over the lanes
    double beat_tree;   // over a beat's floats
    double io = 1;      // register stage at either end
    double tail;        // the partial sums added up: a tree, or one after another
};
struct Timing {
    double ii, depth;
};

// The datapath of every loop whose rule is Datapath or Engine: its II (1, or its
// accumulator's recurrence) and the operators along it.
struct Datapath {
    lhk::LoopId id;
    Timing (*timing)(const Ops&);
};
using lhk::LoopId;
constexpr Datapath kDatapaths[] = {
    {LoopId::RmsSumSq,
     [](const Ops& o) -> Timing {
         return {recurrence_ii(o.L.fadd, o.d.partial_sums), o.L.bram + o.L.fmul + o.lanes_tree + o.L.fadd + o.io};
     }},
    {LoopId::RmsScale, [](const Ops& o) -> Timing { return {1, o.L.bram + 2 * o.L.fmul + o.io}; }},
    // product, lane tree, accumulator, tail tree over the partial sums, row write (the
    // engine's running maximum, for greedy decoding, is one compare after the write)
    {LoopId::MatEngine,
     [](const Ops& o) -> Timing {
         return {recurrence_ii(o.L.fadd, o.d.partial_sums), o.io + o.L.bram + o.L.fmul + o.lanes_tree + o.L.fadd +
                                                                o.tail + o.L.fcmp + o.io};
     }},
    // int -> float and divide, powf, reciprocal, pos * freq, cosf/sinf
    {LoopId::RopeTable,
     [](const Ops& o) -> Timing { return {1, o.L.fdiv + o.L.fpow + o.L.fdiv + o.L.fmul + o.L.fsincos + o.io}; }},
    {LoopId::RopeRotate, [](const Ops& o) -> Timing { return {1, o.L.bram + o.L.fmul + o.L.fadd + o.io}; }},
    // the FIFO's beat (int8 -> float: an adder's latency), product, beat tree, head tree over
    // kMaxHeadBeats, times the head's scale, divide by sqrt(head_size)
    {LoopId::AttnScores,
     [](const Ops& o) -> Timing {
         return {1, o.io + o.L.fadd + o.L.fmul + o.beat_tree + log2_ceil(lhk::kMaxHeadBeats) * o.L.fadd + o.L.fmul +
                        o.L.fdiv + o.io};
     }},
    {LoopId::SoftmaxMax,
     [](const Ops& o) -> Timing { return {recurrence_ii(o.L.fcmp, o.d.partial_sums), o.L.bram + o.L.fcmp + o.io}; }},
    {LoopId::SoftmaxExp,
     [](const Ops& o) -> Timing {
         return {recurrence_ii(o.L.fadd, o.d.partial_sums), o.L.bram + o.L.fadd + o.L.fexp + o.L.fadd + o.io};
     }},
    {LoopId::SoftmaxNorm, [](const Ops& o) -> Timing { return {1, o.L.bram + o.L.fdiv + o.io}; }},
    // the FIFO's beat (int8 -> float), the weight times the head's scale, product,
    // accumulator: revisited once per position (>= partial_sums iterations)
    {LoopId::AttnValues,
     [](const Ops& o) -> Timing {
         return {recurrence_ii(o.L.fadd, o.d.partial_sums),
                 o.io + o.L.fadd + o.L.bram + o.L.fmul + o.L.fmul + o.L.fadd + o.io};
     }},
    {LoopId::AttnCombine, [](const Ops& o) -> Timing { return {1, o.L.bram + o.d.kv_ports * o.L.fadd + o.io}; }},
    {LoopId::SwiGLU,
     [](const Ops& o) -> Timing { return {1, o.L.bram + o.L.fexp + o.L.fadd + o.L.fdiv + 2 * o.L.fmul + o.io}; }},
    {LoopId::Residual, [](const Ops& o) -> Timing { return {1, o.L.bram + o.L.fadd + o.io}; }},
    // |x|, comparator tree over the lanes, running max (a one-fcmp recurrence), the scale's
    // division on a group's last iteration
    {LoopId::QuantMax,
     [](const Ops& o) -> Timing {
         return {recurrence_ii(o.L.fcmp, 1), o.L.bram + log2_ceil(o.d.lanes) * o.L.fcmp + o.L.fcmp + o.L.fdiv + o.io};
     }},
    // x / scale, round (an adder's latency), clamp and store
    {LoopId::QuantScale, [](const Ops& o) -> Timing { return {1, o.L.bram + o.L.fdiv + o.L.fadd + o.io}; }},
    // packed int8 multiply, integer tree over a row's columns of the beat, the group's int32
    // sum, int -> float, two multiplies by the scales, accumulator, tail tree
    {LoopId::MatQ8Engine,
     [](const Ops& o) -> Timing {
         return {recurrence_ii(o.L.fadd, o.d.partial_sums),
                 o.io + o.L.bram + kIntMulCycles + log2_ceil(lhk::q8_cols_per_beat(o.d)) * kIntAddCycles +
                     kIntAddCycles + o.L.fadd + 2 * o.L.fmul + o.L.fadd + log2_ceil(o.d.partial_sums) * o.L.fadd +
                     o.L.fcmp + o.io};
     }},
    // 4-bit quantizer (llama.cpp's Q8_0 / Q8_K): |x|, a comparator tree over the lanes, the
    // running extreme (a one-fcmp recurrence), on a block's last iteration the division for its
    // scale and the reciprocal
    {LoopId::Q4QuantMax,
     [](const Ops& o) -> Timing {
         return {recurrence_ii(o.L.fcmp, 1),
                 o.L.bram + log2_ceil(o.d.lanes) * o.L.fcmp + o.L.fcmp + 2 * o.L.fdiv + o.io};
     }},
    // x times the block's reciprocal, rounded (an adder's latency), clamped and stored
    {LoopId::Q4QuantScale, [](const Ops& o) -> Timing { return {1, o.L.bram + o.L.fmul + o.L.fadd + o.io}; }},
    // The int8 engine's loop run for 4-bit rows: code multiplies (fabric), integer tree over
    // the beat's codes, the zero point, int -> float, two multiplies by the scale (or min) and
    // dx, accumulator, tail tree, the two chains' difference, the row write's compare
    {LoopId::MatQ4Engine,
     [](const Ops& o) -> Timing {
         return {recurrence_ii(o.L.fadd, o.d.partial_sums),
                 o.io + o.L.bram + kIntMulCycles + log2_ceil(lhk::q4_group_cols(false, o.d)) * kIntAddCycles +
                     kIntAddCycles + o.L.fadd + 2 * o.L.fmul + o.L.fadd + log2_ceil(o.d.partial_sums) * o.L.fadd +
                     o.L.fadd + o.L.fcmp + o.io};
     }},
    // Prefill, the four engines in lockstep: a held beat times a token's lanes, lane tree, the
    // token's accumulator (revisited every kPrefillGroups trips), the row result's write
    {LoopId::BlockEngine,
     [](const Ops& o) -> Timing {
         return {recurrence_ii(o.L.fadd, lhk::kPrefillGroups),
                 o.io + o.L.bram + o.L.fmul + o.lanes_tree + o.L.fadd + o.io};
     }},
    // Prefill int8: packed multiply, integer tree, the group's int32 sum, int -> float, two
    // multiplies by the scales, the token's accumulator, the write
    {LoopId::BlockQ8Engine,
     [](const Ops& o) -> Timing {
         return {recurrence_ii(o.L.fadd, lhk::kPrefillGroups),
                 o.io + o.L.bram + kIntMulCycles + log2_ceil(lhk::q8_cols_per_beat(o.d)) * kIntAddCycles +
                     kIntAddCycles + o.L.fadd + 2 * o.L.fmul + o.L.fadd + o.io};
     }},
};

constexpr bool needs_datapath(lhk::LoopRule r) { return r == lhk::LoopRule::Datapath || r == lhk::LoopRule::Engine; }

// The first loop of the kernels' table without exactly the datapaths its rule asks for (one
// for Datapath and Engine, none for the copies), or -1.
constexpr int first_loop_without_its_datapath() {
    for (const lhk::LoopInfo& l : lhk::kLoops) {
        int n = 0;
        for (const Datapath& p : kDatapaths) n += p.id == l.id;
        if (n != (needs_datapath(l.rule) ? 1 : 0)) return int(l.id);
    }
    return -1;
}
static_assert(first_loop_without_its_datapath() == -1,
              "a loop of LHK_TRACE_LOOPS (kernels/hls_trace.hpp) has no datapath in kDatapaths, or two, "
              "or one it does not need (the number is its LoopId)");

// An m_axi read inside a pipeline: the request, the latency the schedule assumes, the data.
double maxi_read_cycles(const DesignTraits& t) { return t.maxi_latency_cycles + 2; }

// The seed's loops where its structure differs (published-zcu106.json, loop_structure), or
// false: element-by-element K and V reads carry the m_axi latency the schedule assumes in
// their depth; the score's tail (partial sums, the scaling multiply) is paid per position.
bool seed_timing(lhk::LoopId id, const Ops& o, const DesignTraits& t, Timing* out) {
    const double maxi_read = maxi_read_cycles(t);
    if (t.attention_per_head && id == LoopId::AttnScores) {
        *out = {recurrence_ii(o.L.fadd, o.d.partial_sums),
                maxi_read + o.io + o.L.fmul + o.L.fadd + o.tail + o.L.fmul + o.io};
        return true;
    }
    if (t.attention_per_head && id == LoopId::AttnValues) {
        *out = {1, maxi_read + o.io + o.L.fmul + o.L.fadd + o.io};  // acc[i]: revisited every head_size
        return true;
    }
    if (t.rope_unrolled && id == LoopId::RopeRotate) {
        *out = {1, o.L.bram + o.L.fmul + o.L.fadd + o.io};  // rope_unroll pairs an iteration
        return true;
    }
    return false;
}

}  // namespace

double latency_in_depth(lhk::LoopId id, const DesignTraits& t) {
    return t.attention_per_head && (id == LoopId::AttnScores || id == LoopId::AttnValues) ? maxi_read_cycles(t) : 0;
}

void loop_timing(lhk::LoopId id, const lhk::Design& d, const OperatorLatencies& L, double* ii, double* depth,
                 const DesignTraits& t) {
    const double tail = (t.serial_reduction ? d.partial_sums - 1 : log2_ceil(d.partial_sums)) * L.fadd;
    const Ops ops{d, L, log2_ceil(d.lanes) * L.fadd, log2_ceil(std::max(1, d.port_bits / 32)) * L.fadd, 1, tail};
    *ii = 1;
    *depth = 1;
    if (id < LoopId(0) || id >= LoopId::Count) return;
    if (Timing st; seed_timing(id, ops, t, &st)) {
        *ii = st.ii;
        *depth = st.depth;
        return;
    }
    switch (lhk::loop_info(id).rule) {
        case lhk::LoopRule::PortCopy: *depth = L.bram + 2 * ops.io; return;
        case lhk::LoopRule::LocalCopy: *depth = L.bram + ops.io; return;
        case lhk::LoopRule::Datapath:
        case lhk::LoopRule::Engine:
            for (const Datapath& p : kDatapaths)
                if (p.id == id) {
                    const Timing t = p.timing(ops);
                    *ii = t.ii;
                    *depth = t.depth;
                }
            return;
    }
}

}  // namespace lhb::hls
