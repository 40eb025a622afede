#pragma once
// The board estimate: cycles per op per token, latency, tok/s and resources of an HLS design
// on a board, from the loops the kernels actually ran in C simulation (host/trace.hpp).
// Every figure it produces is an estimate and is labeled so wherever it is shown.
//
// Inputs:
//  * a board description (configs/boards/*.json, schema in docs/hls-design.md): kernel
//    clock, AXI ports, DDR bandwidth and efficiency, operator latencies and DSP costs,
//    DSP/BRAM/URAM counts, per-token host overhead, each number with its source;
//  * a design description: the compiled kernels' (kernels/hls_config.hpp) or a file
//    (configs/designs/*.json) with lanes, port width, burst length, partial sums, clock.
//
// Method (docs/hls-design.md): a pipelined loop takes (trips - 1) * II + depth cycles per
// fill; II comes from the pragma and the loop's recurrence (an accumulator revisited every
// d iterations needs d >= fadd latency), depth from the operators on its datapath. A loop
// that reads or writes DDR also takes at least bytes / (port width x burst efficiency) on
// its port and bytes / (usable DDR bandwidth) in total, plus the read latency once.
// Loops of a DATAFLOW region run concurrently: the slowest stage wins, and the region's
// bytes share the DDR. Ops run one after another.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/backend.hpp"
#include "core/generate.hpp"
#include "host/trace.hpp"
#include "kernels/hls_config.hpp"

namespace lhb::hls {

// ---- Board and design descriptions -------------------------------------------------------

struct OperatorSpec {
    double latency = 1;  // cycles at the board's operator reference clock
    double dsp = 0;      // DSP48 slices per instance
};

struct BoardSpec {
    std::string path, name, device;
    double max_clock_mhz = 0;        // fastest kernel clock the platform offers
    int hp_ports = 0;                // PL ports into the DDR
    int port_max_bits = 0;           // widest port
    int max_burst_beats = 0;         // longest burst a port accepts
    double burst_overhead_cycles = 0;  // idle cycles between back-to-back bursts
    double ddr_peak_gb_per_s = 0;
    double ddr_efficiency = 0;       // usable fraction for long sequential reads
    double read_latency_ns = 0;      // first beat after a request
    double host_launch_us = 0, host_sync_us = 0, host_sampling_us = 0;
    double host_tokens_sync_us = 0, host_piece_us = 0;  // greedy decoding on the device
    double dsp = 0, bram36 = 0, uram = 0;
    double op_ref_clock_mhz = 0;
    std::map<std::string, OperatorSpec> operators;  // fadd, fmul, fdiv, fsqrt, fexp, fpow, fsincos, fcmp
    nlohmann::json sources;                         // field -> where the number comes from

    // Host time per decoded token. Host-sampled: a run, a logits sync and the sampling for
    // each token. Device-greedy: a run and a sync of the ids per `chunk` tokens, and each
    // token's text piece.
    double host_overhead_us(DecodeMode mode = DecodeMode::HostSampled, int chunk = 1) const {
        if (mode == DecodeMode::HostSampled) return host_launch_us + host_sync_us + host_sampling_us;
        return (host_launch_us + host_tokens_sync_us) / std::max(1, chunk) + host_piece_us;
    }
};

// Throws InputError naming the file and the field when it is missing or out of range.
BoardSpec load_board(const std::string& path);
BoardSpec parse_board(const nlohmann::json& j, const std::string& where);

struct DesignSpec {
    std::string name, path, source;
    lhk::Design d{};
    bool compiled = false;  // the kernels as built here: trip counts come from the trace
};
DesignSpec compiled_design();
DesignSpec load_design(const std::string& path);
DesignSpec parse_design(const nlohmann::json& j, const std::string& where);

// ---- The cycle model -----------------------------------------------------------------------

// The memory system as a design sees it at its clock on a board.
struct MemoryModel {
    double port_bytes_per_cycle = 0;  // one port, bursts back to back
    double burst_efficiency = 1;      // L / (L + overhead)
    double port_rate = 1;             // fraction of beats the outstanding requests sustain
    double ddr_bytes_per_cycle = 0;   // usable DDR bandwidth per kernel cycle, all ports together
    double latency_cycles = 0;        // first beat of a read
    static MemoryModel of(const lhk::Design& d, const BoardSpec& b, double clock_mhz);
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
    static OperatorLatencies of(const BoardSpec& b, double clock_mhz);
};
// II and depth of one of the kernels' loops under a design.
void loop_timing(lhk::LoopId id, const lhk::Design& d, const OperatorLatencies& lat, double* ii,
                 double* depth);

// The kernels' loop structure for one traced op invocation, re-derived for design d from the
// op's arguments with the kernels' own bound functions (kernels/loop_bounds.hpp). For the
// compiled design it must reproduce the trace exactly (checked by estimate_token).
std::vector<TraceStep> model_op(const TraceOpRun& op, const lhk::Design& d);

// ---- Estimates -----------------------------------------------------------------------------

struct ResourceEstimate {
    double dsp = 0, bram36 = 0, uram = 0;
    double dsp_avail = 0, bram36_avail = 0, uram_avail = 0;
    bool fits = false;
    nlohmann::json detail;  // per component
};
ResourceEstimate estimate_resources(const lhk::Design& d, const BoardSpec& b);

struct LoopSummary {
    std::string name, op;
    int64_t runs = 0, trips = 0, fills = 0;
    double ii = 1, depth = 1;
    int64_t bytes = 0;
    double cycles = 0;  // as alone; concurrency is applied per region in op_cycles
};

struct TokenEstimate {
    std::string shape, board, board_path, design, design_path;
    std::string precision = "fp32";  // "fp32" or "int8 (Q8_0, group size N)"
    int group_size = 0;              // 0: fp32 weights
    int pos = 0;
    DecodeMode mode = DecodeMode::HostSampled;
    int greedy_chunk = 0;  // device-greedy: tokens per kernel run
    double clock_mhz = 0;
    bool clock_clamped = false;                  // the design asked for more than the board offers
    std::array<double, kNumOps> op_cycles{};      // by lhb::Op
    std::map<std::string, double> kernel_op_cycles;  // by kernel op (embedding, kv-store, ...)
    std::map<std::string, int64_t> bound_cycles;     // cycles spent compute / port / ddr bound
    double kernel_cycles = 0;
    double kernel_seconds = 0, host_seconds = 0, token_seconds = 0, tok_per_s = 0;
    std::vector<int64_t> port_bytes;  // weight/KV bundles gmem0.., then the io bundle last
    int64_t total_bytes = 0;
    double ddr_roofline_tok_per_s = 0;  // usable DDR bandwidth / bytes per token
    std::vector<LoopSummary> loops;
    ResourceEstimate resources;
    bool trace_checked = false;  // compiled design: modelled loops == traced loops
    nlohmann::json to_json() const;
};

// The estimate of one token at `pos` from a trace of llama_forward at that position
// (weights in fp32 for group_size 0, else int8 in groups of group_size: the trace's).
// Throws std::logic_error if the design is the compiled one and the modelled loops differ
// from the traced ones (the model no longer mirrors the kernels).
// `mode` must be the trace's; device-greedy spreads the per-run host costs over
// `greedy_chunk` tokens.
TokenEstimate estimate_token(const Trace& trace, const ModelConfig& c, int pos, const DesignSpec& design,
                             const BoardSpec& board, int group_size = 0, DecodeMode mode = DecodeMode::HostSampled,
                             int greedy_chunk = kGreedyChunk);
// Traces llama_forward at `pos` and estimates it.
TokenEstimate estimate_token(const ModelConfig& c, int pos, const DesignSpec& design,
                             const BoardSpec& board, int group_size = 0, DecodeMode mode = DecodeMode::HostSampled,
                             int greedy_chunk = kGreedyChunk);
std::string precision_label(int group_size);

// For Backend::estimate: `e` host-sampled; `greedy`, if given, the same token decoded
// greedily on the device.
DeviceEstimate to_device_estimate(const TokenEstimate& e, const TokenEstimate* greedy = nullptr);

// The default board file, configs/boards/zcu106.json, found at run time (core/data_files.hpp);
// an InputError naming every place looked when it is nowhere.
std::string default_board_path();

}  // namespace lhb::hls
