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
#include <vector>

#include <nlohmann/json.hpp>

#include "host/trace.hpp"
#include "kernels/hls_config.hpp"

namespace lhb::hls {

struct OperatorSpec {
    double latency = 1;  // cycles at the board's operator reference clock
    double dsp = 0;      // DSP48 slices per instance
    double lut = 0, ff = 0;  // fabric per instance (0: not given)
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
    double lut = 0, ff = 0;          // 0: not given (older board files)
    // Independent memory channels behind the ports (DDR banks, HBM pseudo-channels), each
    // peak / channels; a design that spreads over fewer of them gets that share of the peak.
    int memory_channels = 1;
    std::string memory_kind = "ddr";  // "ps-ddr", "pl-ddr", "ddr", "hbm"
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

// What a design file can say beyond the kernels' parameters (lhk::Design), so that it can
// describe the field's designs, not only ours (docs/hls-design.md, "Describing other
// designs"). The defaults are this project's kernels; every field a file sets is that
// design's property and carries its source in the file.
struct DesignTraits {
    int weight_bits = 32;      // 32 fp32, 16 fp16, 8 or 4: integers in groups with a scale each
    int group_size = 0;        // weights per scale (8 and 4 bits); 0: per the run (our int8)
    int scale_bits = 32;       // bits of one group's scale
    int kv_bits = 32;          // one KV-cache element
    int memory_channels = 0;   // memory channels the weights are spread over; 0: one per weight port
    bool dataflow_ops = false; // every op of the token in one fused dataflow pipeline: compute
                               // and the weight stream overlap across ops, not only inside one
    bool bare_metal = false;   // the host runs without an OS: its per-token cost is host_per_token_us
    double host_per_token_us = -1;  // < 0: the board's XRT costs
    int synthesis_clock_mhz = 0;    // clock HLS scheduled the operators for; 0: clock_mhz
    int maxi_latency_cycles = 0;    // m_axi read latency the schedule puts inside the KV loops
                                    // (reads not hoisted into bursts); 0: none
    // The seed's loop structure (published-zcu106.json), where it differs from ours:
    bool attention_per_head = false;  // heads one after another; scores a loop of head_size
                                      // per position (a fill per position), values flattened
    bool serial_reduction = false;    // partial sums added one after another (p0 + p1 + p2 + p3
                                      // as written), not as a tree
    std::map<std::string, double> operator_latencies;  // cycles at the synthesis clock, from the
                                                        // design's own synthesis report
    bool rope_unrolled = false;       // RoPE: the host's angles; the rotation unrolled,
    int rope_unroll = 1;              // this many pairs an iteration (pipelined)
    std::map<std::string, int> unroll;  // element-wise loops (by loop name: rms_sumsq, rms_scale, swiglu,
                                        // residual, softmax_norm): elements an iteration; else `lanes`
    int array_partition = 0;  // the seed's on-chip vectors: cyclic partitions (banks) each; 0: ours
    // m_axi bundles as the design declares them (0: the kernels' own, from the ports): each
    // has a read buffer of burst x outstanding beats, the read-write ones a write buffer too.
    int axi_read_bundles = 0, axi_read_write_bundles = 0;
    // How the design's synthesis bound its parts (resource_structure, from its own report), where
    // that differs from each loop body times its unroll factor:
    // part -> operator -> instances (parts: rmsnorm, rope, softmax, swiglu, residual);
    std::map<std::string, std::map<std::string, double>> bound_operators;
    std::map<std::string, int> instances;       // function -> instances (default 1): rmsnorm
    std::vector<std::string> unaligned_unroll;  // unrolled loops over a pointer into a partitioned
                                                // vector at an offset the tool cannot align:
                                                // every lane reaches every bank (softmax_norm)
    int instances_of(const std::string& f) const {
        const auto it = instances.find(f);
        return it != instances.end() ? it->second : 1;
    }
    bool unaligned(const std::string& loop) const {
        return std::find(unaligned_unroll.begin(), unaligned_unroll.end(), loop) != unaligned_unroll.end();
    }
    int unroll_of(const std::string& loop) const {
        const auto it = unroll.find(loop);
        return it != unroll.end() ? it->second : 1;
    }
    bool quantized() const { return weight_bits < 32 && weight_bits != 16; }
    // Bytes of weights for `n` weights (scales included).
    double weight_bytes(int64_t n) const {
        double b = double(n) * weight_bits / 8.0;
        if (quantized() && group_size > 0) b += double(n) / group_size * scale_bits / 8.0;
        return b;
    }
};

struct DesignSpec {
    std::string name, path, source;
    lhk::Design d{};
    DesignTraits traits{};
    bool compiled = false;  // the kernels as built here: trip counts come from the trace
};
// kv_bits: the KV cache the kernels run with (ModelDims::kv_bits: 32 or 8).
DesignSpec compiled_design(int kv_bits = 32);
DesignSpec load_design(const std::string& path);
DesignSpec parse_design(const nlohmann::json& j, const std::string& where);
// Whether the design's traits are all the defaults (the kernels' own data types and loops).
bool default_traits(const DesignTraits& t);
// Every parameter equal (a design file can describe the compiled kernels).
bool same_design(const lhk::Design& a, const lhk::Design& b);

// The default board file, configs/boards/zcu106.json, found at run time (core/data_files.hpp);
// an InputError naming every place looked when it is nowhere.
std::string default_board_path();

}  // namespace lhb::hls
