#include "bench/measure.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "core/sampler.hpp"

namespace lhb::bench {

volatile std::sig_atomic_t g_stop_requested = 0;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Linear interpolation between order statistics (the "type 7" quantile of R and numpy).
double quantile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return 0;
    double h = (double(sorted.size()) - 1) * q;
    size_t lo = size_t(std::floor(h));
    size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (h - double(lo)) * (sorted[hi] - sorted[lo]);
}

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return quantile(v, 0.5);
}

}  // namespace

Stats summarize(std::vector<double> v) {
    Stats s;
    s.n = int(v.size());
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.min = v.front();
    s.max = v.back();
    s.median = quantile(v, 0.5);
    s.p90 = quantile(v, 0.9);
    s.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    if (v.size() > 1 && s.mean != 0) {
        double ss = 0;
        for (double x : v) ss += (x - s.mean) * (x - s.mean);
        s.cv = std::sqrt(ss / double(v.size() - 1)) / std::fabs(s.mean);  // sample standard deviation
    }
    return s;
}

nlohmann::json to_json(const Stats& s) {
    return {{"n", s.n}, {"min", s.min}, {"median", s.median}, {"p90", s.p90},
            {"max", s.max}, {"mean", s.mean}, {"cv", s.cv}};
}

double Pass::decode_seconds_after_first() const {
    double t = 0;
    for (size_t i = 1; i < decode_seconds.size(); ++i) t += decode_seconds[i];
    return t;
}

Pass run_pass(Backend& backend, const std::vector<int>& prompt, int generate, const PassOptions& options) {
    Pass pass;
    const int vocab = backend.model()->config().vocab_size;
    const int P = int(prompt.size());
    const auto* device = dynamic_cast<const hls::DeviceModel*>(&backend);  // backends that model a device
    auto estimate_at = [&](int pos) {
        if (options.collect_estimates) pass.estimates.push_back(device ? device->estimate(pos) : std::nullopt);
    };
    backend.set_op_times(nullptr);

    // Prefill: the Backend interface runs one position at a time, so prefill is P forward
    // passes timed together; the estimates are gathered in between, outside the clock.
    const float* logits = nullptr;
    for (int pos = 0; pos < P; ++pos) {
        if (stop_requested()) {
            pass.interrupted = true;
            return pass;
        }
        auto t0 = Clock::now();
        logits = backend.forward(prompt[size_t(pos)], pos);
        pass.prefill_seconds += since(t0);
        estimate_at(pos);
    }

    // Decode: greedy, each token timed from its forward pass to its argmax (as llama2.c's
    // loop, which samples inside the timed region). The first decoded token is timed but
    // left out of tok/s, as llama2.c leaves out its first iteration.
    int token = sample_argmax(logits, vocab);
    pass.decode_seconds.reserve(size_t(generate));
    for (int i = 0; i < generate; ++i) {
        if (stop_requested()) {
            pass.interrupted = true;
            break;
        }
        const int pos = P + i;
        if (options.time_ops && i == 1) backend.set_op_times(&pass.ops);
        auto t0 = Clock::now();
        logits = backend.forward(token, pos);
        token = sample_argmax(logits, vocab);
        pass.decode_seconds.push_back(since(t0));
        estimate_at(pos);
    }
    backend.set_op_times(nullptr);
    return pass;
}

Throughput measure_throughput(Backend& backend, const std::vector<int>& prompt, int generate, int warmup,
                              int repetitions) {
    Throughput t;
    const int P = int(prompt.size());
    for (int w = 0; w < warmup; ++w) {
        if (run_pass(backend, prompt, generate, {}).interrupted) return t.interrupted = true, t;
    }
    std::vector<std::vector<double>> by_position(static_cast<size_t>(generate));
    for (int r = 0; r < repetitions; ++r) {
        PassOptions o;
        o.collect_estimates = (r == repetitions - 1);
        Pass p = run_pass(backend, prompt, generate, o);
        if (p.interrupted) return t.interrupted = true, t;
        const double decode = p.decode_seconds_after_first();
        t.prefill_tok_s.push_back(p.prefill_seconds > 0 ? P / p.prefill_seconds : 0);
        t.decode_tok_s.push_back(decode > 0 ? (generate - 1) / decode : 0);
        t.decode_ms_per_token.push_back(1e3 * decode / (generate - 1));
        for (int i = 0; i < generate; ++i) by_position[size_t(i)].push_back(1e3 * p.decode_seconds[size_t(i)]);
        if (o.collect_estimates) t.estimates = std::move(p.estimates);
    }
    for (auto& v : by_position) t.decode_ms_by_position.push_back(median_of(v));
    return t;
}

double OpProfile::timer_overhead() const {
    if (untimed_ms_per_token.empty() || timed_ms_per_token.empty()) return 0;
    double u = median_of(untimed_ms_per_token);
    return u > 0 ? median_of(timed_ms_per_token) / u - 1 : 0;
}

OpProfile measure_ops(Backend& backend, const std::vector<int>& prompt, int generate, int warmup,
                      int repetitions) {
    OpProfile prof;
    const double tokens = generate - 1;
    if (warmup > 0 && run_pass(backend, prompt, generate, {}).interrupted) return prof.interrupted = true, prof;
    // Interleaved, so slow drifts (frequency, other load) hit both sides alike.
    for (int r = 0; r < repetitions; ++r) {
        Pass plain = run_pass(backend, prompt, generate, {});
        if (plain.interrupted) return prof.interrupted = true, prof;
        PassOptions o;
        o.time_ops = true;
        Pass timed = run_pass(backend, prompt, generate, o);
        if (timed.interrupted) return prof.interrupted = true, prof;
        prof.untimed_ms_per_token.push_back(1e3 * plain.decode_seconds_after_first() / tokens);
        const double total = 1e3 * timed.decode_seconds_after_first() / tokens;
        prof.timed_ms_per_token.push_back(total);
        double in_ops = 0;
        for (int op = 0; op < kNumOps; ++op) {
            double ms = 1e3 * timed.ops.seconds[size_t(op)] / tokens;
            prof.op_ms_per_token[size_t(op)].push_back(ms);
            in_ops += ms;
            if (timed.ops.calls[size_t(op)] > 0) prof.any_op_time = true;
        }
        prof.other_ms_per_token.push_back(std::max(0.0, total - in_ops));
    }
    return prof;
}

}  // namespace lhb::bench
