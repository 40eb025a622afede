#pragma once
// The board estimate: cycles per op per token, latency, tok/s and resources of an HLS design
// on a board, from the loops the kernels actually ran in C simulation (host/trace.hpp).
// Every figure it produces is an estimate and is labeled so wherever it is shown.
//
// Its parts, each in its own file: the board and design descriptions (host/board.hpp), the
// cycle model of loops and DATAFLOW regions (host/cycle_model.hpp), the kernels' loop
// structure under another design (host/loop_model.hpp), the resources (host/resources.hpp);
// here the token estimate that puts them together, and its JSON. Including this header
// includes them all.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/backend.hpp"
#include "core/generate.hpp"
#include "host/board.hpp"
#include "host/cycle_model.hpp"
#include "host/device_model.hpp"
#include "host/loop_model.hpp"
#include "host/resources.hpp"
#include "host/trace.hpp"

namespace lhb::hls {

struct LoopSummary {
    std::string name, op;
    int64_t runs = 0, trips = 0, fills = 0;
    double ii = 1, depth = 1;
    int64_t bytes = 0;
    double cycles = 0;  // as alone; concurrency is applied per region in op_cycles
};

// One op invocation's cycles (for per-module comparisons with a synthesis report).
struct OpRunCycles {
    lhk::TraceOp op = lhk::TraceOp::Count;
    std::array<int32_t, 4> args{};
    double cycles = 0;
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
    bool schedule_only = false;  // cycles as HLS schedules them (no memory stalls): estimate_schedule
    bool dataflow_ops = false;   // the design overlaps all its ops with the weight stream
    double compute_cycles = 0;   // the steps' cycles without memory bounds
    std::vector<OpRunCycles> op_runs;
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
// The label of a design's weights (and KV cache) when its file gives their bits.
std::string precision_label(int group_size, const DesignTraits& t);

// The cycles HLS's scheduler would report for the token (a csynth report's view: operators at
// the design's synthesis clock, loops as scheduled, no memory stalls, no host), from the
// shape alone (host/shape_trace.hpp). Trip counts as at `pos`; a csynth report takes the
// LOOP_TRIPCOUNT maxima (pos = seq_len - 1 of a shape whose seq_len is that maximum).
TokenEstimate estimate_schedule(const ModelConfig& c, int pos, const DesignSpec& design, const BoardSpec& board,
                                int group_size = 0);

// The mean token time over a run of `tokens` tokens from position `first`: token time is
// piecewise linear in the position (attention reads pos + 1 rows), so up to 17 evenly spaced
// positions are estimated and interpolated. `positions` (optional) gets the ones estimated.
double mean_token_seconds(const ModelConfig& c, int first, int tokens, const DesignSpec& design,
                          const BoardSpec& board, int group_size = 0, DecodeMode mode = DecodeMode::HostSampled,
                          int greedy_chunk = kGreedyChunk, std::vector<int>* positions = nullptr);

// A prompt of n tokens at positions pos..pos+n-1 through llama_forward's prefill mode, as
// HlsDeviceBackend::forward_batch runs it (the compiled kernels only): one kernel run per
// block of the shape's lhk::block_tokens tokens, each traced in C simulation and estimated as a token is
// (every weight beat read once for its block, the engines' multiply-adds against the DDR
// per matmul, attention of every token over the cache so far), the classifier once for the
// last token. `seconds` ends when the host has sampled the token after the prompt: the time
// to first token.
struct PrefillEstimate {
    int pos = 0, tokens = 0, blocks = 0, group_size = 0;
    int block_tokens = 0;  // tokens per kernel run (lhk::block_tokens of the shape)
    std::string precision, board;
    double clock_mhz = 0;
    double kernel_cycles = 0, kernel_seconds = 0, host_seconds = 0, seconds = 0, tok_per_s = 0;
    std::array<double, kNumOps> op_cycles{};         // by lhb::Op, the whole prompt
    std::map<std::string, double> kernel_op_cycles;  // by kernel op
    std::map<std::string, int64_t> bound_cycles;     // compute / port / ddr
    std::vector<double> block_cycles;                // each kernel run's
    int64_t total_bytes = 0;
    ResourceEstimate resources;
    nlohmann::json to_json() const;
};
PrefillEstimate estimate_prefill(const ModelConfig& c, int pos, int n, const BoardSpec& board, int group_size = 0,
                                 int kv_bits = 32);
DeviceEstimate to_device_estimate(const PrefillEstimate& e);

// For DeviceModel::estimate: `e` host-sampled; `greedy`, if given, the same token decoded
// greedily on the device.
DeviceEstimate to_device_estimate(const TokenEstimate& e, const TokenEstimate* greedy = nullptr);

}  // namespace lhb::hls
