#pragma once
// The two descriptions an estimate starts from (schemas in docs/hls-design.md):
//  * a board (configs/boards/*.json): kernel clock, AXI ports, DDR bandwidth and efficiency,
//    operator latencies and DSP costs, DSP/BRAM/URAM counts, per-token host overhead, each
//    number with its source;
//  * a design: the compiled kernels' (kernels/hls_config.hpp) or a file
//    (configs/designs/*.json) with lanes, port width, burst length, partial sums, clock.
#include <algorithm>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "host/trace.hpp"
#include "kernels/hls_config.hpp"

namespace lhb::hls {

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
// Every parameter equal (a design file can describe the compiled kernels).
bool same_design(const lhk::Design& a, const lhk::Design& b);

// Where the default board file is (configs/boards/zcu106.json in the source tree).
std::string default_board_path();

}  // namespace lhb::hls
