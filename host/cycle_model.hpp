#pragma once
// The cycle model (docs/hls-design.md): a pipelined loop takes (trips - 1) * II + depth
// cycles per fill; II comes from the pragma and the loop's recurrence (an accumulator
// revisited every d iterations needs d >= fadd latency), depth from the operators on its
// datapath. A loop that reads or writes DDR also takes at least bytes / (port width x burst
// efficiency) on its port and bytes / (usable DDR bandwidth) in total, plus the read latency
// once. Loops of a DATAFLOW region run concurrently: the slowest stage wins, and the region's
// bytes share the DDR.
#include <cstdint>
#include <string>
#include <vector>

#include "host/board.hpp"
#include "kernels/hls_config.hpp"
#include "kernels/hls_trace.hpp"

namespace lhb::hls {

// The memory system as a design sees it at its clock on a board.
struct MemoryModel {
    double port_bytes_per_cycle = 0;  // one port, bursts back to back
    double burst_efficiency = 1;      // L / (L + overhead)
    double port_rate = 1;             // fraction of beats the outstanding requests sustain
    double ddr_bytes_per_cycle = 0;   // usable DDR bandwidth per kernel cycle, all ports together
    double latency_cycles = 0;        // first beat of a read
    static MemoryModel of(const lhk::Design& d, const BoardSpec& b, double clock_mhz, const DesignTraits& t = {});
    // What HLS's scheduler sees (a csynth report): no bandwidth limit, no read latency
    // beyond what the schedule itself carries.
    static MemoryModel schedule();
};

// One loop as the model sees it.
struct LoopCost {
    std::string name;
    int64_t trips = 0;
    int64_t repeats = 1;  // pipeline fills (1 when flattened)
    double ii = 1;
    double depth = 1;
    int port = lhk::kNoPort;
    int64_t bytes = 0;
    double latency_in_depth = 0;  // m_axi read latency the schedule put inside `depth`
};

// What bounds a loop or region: its pipeline, its AXI port, or the DDR.
enum class Bound { Compute, Port, Ddr };
const char* bound_name(Bound b);

struct Cycles {
    double cycles = 0;
    Bound bound = Bound::Compute;
};

// (trips - 1) * II + depth, per fill; 0 for no trips.
double pipeline_cycles(int64_t trips, double ii, double depth);
// A loop alone.
Cycles loop_cycles(const LoopCost& loop, const MemoryModel& mem);
// Loops running concurrently in a DATAFLOW region.
Cycles dataflow_cycles(const std::vector<LoopCost>& stages, const MemoryModel& mem);

// Operator latencies (cycles at the design's clock) and the loops' II / depth / operators.
struct OperatorLatencies {
    double fadd = 1, fmul = 1, fdiv = 1, fsqrt = 1, fexp = 1, fpow = 1, fsincos = 1, fcmp = 1;
    double bram = 2;  // on-chip memory read
    // `t.operator_latencies`, when the design's synthesis report gives them, win.
    static OperatorLatencies of(const BoardSpec& b, double clock_mhz, const DesignTraits& t = {});
};
// II and depth of one of the kernels' loops under a design, by the loop's rule in the
// kernels' table (kernels/hls_trace.hpp): the copies' by their kind, the others' from their
// datapaths (host/cycle_model.cpp, one for every such loop or the build fails).
// `t`: the seed's loop structure has datapaths of its own (attention per head, RoPE unrolled).
void loop_timing(lhk::LoopId id, const lhk::Design& d, const OperatorLatencies& lat, double* ii,
                 double* depth, const DesignTraits& t = {});
// The m_axi read latency loop_timing put in the loop's depth under `t` (0 for our loops).
double latency_in_depth(lhk::LoopId id, const DesignTraits& t);

}  // namespace lhb::hls
