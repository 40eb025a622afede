#pragma once
// Timing one sweep point on one backend: prefill and decode throughput by wall clock, the
// latency of every decoded position, and the per-op split of a decoded token. The
// methodology (what is timed, what is excluded) is documented in docs/results-schema.md.
#include <array>
#include <atomic>
#include <csignal>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/backend.hpp"
#include "host/device_model.hpp"

namespace lhb::bench {

// Order statistics over repetitions. cv = standard deviation / mean (0 for one sample).
struct Stats {
    int n = 0;
    double min = 0, median = 0, p90 = 0, max = 0, mean = 0, cv = 0;
};
Stats summarize(std::vector<double> samples);
nlohmann::json to_json(const Stats& s);

// Set from a signal handler: every loop here checks it between forward passes.
extern volatile std::sig_atomic_t g_stop_requested;
inline bool stop_requested() { return g_stop_requested != 0; }

// What one pass runs, as llama-bench's tests: `depth` tokens into the KV cache first,
// untimed (llama-bench's -d), then a prompt of `prompt` tokens timed as one batched forward
// pass (prefill), then `generate` greedy tokens, each timed from its forward pass to its
// argmax (decode at depth depth + prompt). With no generated tokens (a prefill-only point)
// one token is still decoded, for the time to first token.
struct PassShape {
    int depth = 0;
    int prompt = 0;
    int generate = 0;
};

struct Pass {
    double prefill_seconds = 0;              // the prompt's forward_batch
    std::vector<double> decode_seconds;      // each decoded position (forward + argmax)
    double decode_seconds_after_first() const;  // sum over all but the first decoded token
    // Time to first token: the prompt plus the first decoded token; nullopt without either.
    std::optional<double> ttft_seconds() const;
    OpTimes ops;                             // decode tokens after the first, when timed
    // A DeviceModel backend's estimates, if asked: the prompt (estimate_prefill(depth,
    // prompt); nullopt when not modelled) and each decoded position.
    std::optional<hls::DeviceEstimate> prefill_estimate;
    std::vector<std::optional<hls::DeviceEstimate>> decode_estimates;
    bool interrupted = false;
};

struct PassOptions {
    bool time_ops = false;         // attach OpTimes to the decode tokens after the first
    bool collect_estimates = false;  // a DeviceModel backend's estimates (untimed)
};
// `tokens`: depth + prompt tokens (the first `depth` fill the cache, the rest are the prompt).
Pass run_pass(Backend& backend, const std::vector<int>& tokens, const PassShape& shape, const PassOptions& options);

// The headline figures of a point, one measured pass at a time (the sweep interleaves the
// passes of its points round-robin, so each point sees the same drift).
struct Throughput {
    std::vector<double> prefill_tok_s;      // per repetition
    std::vector<double> decode_tok_s;       // per repetition, first decoded token excluded
    std::vector<double> decode_ms_per_token;  // per repetition
    std::vector<double> ttft_ms;            // per repetition (prompt + first decoded token)
    std::vector<std::vector<double>> ms_by_position;  // per decoded position, per repetition
    std::optional<hls::DeviceEstimate> prefill_estimate;  // of the last pass that collected them
    std::vector<std::optional<hls::DeviceEstimate>> decode_estimates;
    void add(Pass&& pass, const PassShape& shape);
    std::vector<double> decode_ms_by_position() const;  // median over repetitions
};

// Per-op latency of a decoded token and the cost of the timers, from pairs of untimed and
// timed passes on the same backend (so the same code path: a backend that fuses ops must
// be given here in its op-by-op mode).
struct OpProfile {
    std::array<std::vector<double>, kNumOps> op_ms_per_token;  // per timed repetition
    std::vector<double> other_ms_per_token;  // decode time not inside any op (embedding, argmax, ...)
    std::vector<double> untimed_ms_per_token, timed_ms_per_token;
    bool any_op_time = false;  // false: the backend's forward() did not report ops
    // median(timed) / median(untimed) - 1; negative values are noise.
    double timer_overhead() const;
    void add(const Pass& plain, const Pass& timed, int generate);
};

// The memory roofline of a decoding point from its rounds: each round's decode tok/s
// against the bandwidth measured in that same round (so drift moves both alike).
struct RoundRoofline {
    double bandwidth_bytes_per_s = 0;  // median over rounds
    double tok_s = 0;                  // at that bandwidth
    double fraction = 0;               // median over rounds of the round's decode tok/s / roofline
    bool unstable = false;             // fraction > 1: physically impossible, not a result
};
RoundRoofline round_roofline(double bytes_per_token, const std::vector<double>& bandwidth_by_round,
                             const std::vector<double>& decode_tok_s_by_round);

}  // namespace lhb::bench
