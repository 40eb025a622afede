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

// One pass: prompt tokens at positions 0..P-1, then `generate` greedy tokens.
struct Pass {
    double prefill_seconds = 0;              // all P prompt positions
    std::vector<double> decode_seconds;      // each decoded position (forward + argmax)
    double decode_seconds_after_first() const;  // sum over all but the first decoded token
    OpTimes ops;                             // decode tokens after the first, when timed
    std::vector<std::optional<hls::DeviceEstimate>> estimates;  // per position 0..P+G-1, if asked
    bool interrupted = false;
};

struct PassOptions {
    bool time_ops = false;         // attach OpTimes to the decode tokens after the first
    bool collect_estimates = false;  // a DeviceModel backend's estimate(pos) after each forward (untimed)
};
Pass run_pass(Backend& backend, const std::vector<int>& prompt, int generate, const PassOptions& options);

// The headline figures of a point: `warmup` untimed passes, then `repetitions` measured
// ones (the last also collects device estimates when the backend makes them).
struct Throughput {
    std::vector<double> prefill_tok_s;      // per repetition
    std::vector<double> decode_tok_s;       // per repetition, first decoded token excluded
    std::vector<double> decode_ms_per_token;  // per repetition
    std::vector<double> decode_ms_by_position;  // median over repetitions, positions P..P+G-1
    std::vector<std::optional<hls::DeviceEstimate>> estimates;
    bool interrupted = false;
};
Throughput measure_throughput(Backend& backend, const std::vector<int>& prompt, int generate, int warmup,
                              int repetitions);

// Per-op latency of a decoded token and the cost of the timers, from interleaved untimed
// and timed passes on the same backend (so the same code path: a backend that fuses ops
// must be given here in its op-by-op mode).
struct OpProfile {
    std::array<std::vector<double>, kNumOps> op_ms_per_token;  // per timed repetition
    std::vector<double> other_ms_per_token;  // decode time not inside any op (embedding, argmax, ...)
    std::vector<double> untimed_ms_per_token, timed_ms_per_token;
    bool any_op_time = false;  // false: the backend's forward() did not report ops
    bool interrupted = false;
    // median(timed) / median(untimed) - 1; negative values are noise.
    double timer_overhead() const;
};
OpProfile measure_ops(Backend& backend, const std::vector<int>& prompt, int generate, int warmup,
                      int repetitions);

}  // namespace lhb::bench
