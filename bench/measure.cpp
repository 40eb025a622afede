#include "bench/measure.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "core/roofline.hpp"
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

std::optional<double> Pass::ttft_seconds() const {
    if (prefill_seconds <= 0 || decode_seconds.empty()) return std::nullopt;
    return prefill_seconds + decode_seconds.front();
}

Pass run_pass(Backend& backend, const std::vector<int>& tokens, const PassShape& shape, const PassOptions& options) {
    Pass pass;
    const int vocab = backend.model()->config().vocab_size;
    const int D = shape.depth, P = shape.prompt;
    const auto* device = dynamic_cast<const hls::DeviceModel*>(&backend);  // backends that model a device
    backend.set_op_times(nullptr);
    if (stop_requested()) return pass.interrupted = true, pass;

    // The depth, untimed, then the prompt: each one batched forward pass (logits of its last
    // token only). Without either, decoding starts from BOS at position 0.
    const float* logits = nullptr;
    if (D > 0) logits = backend.forward_batch(tokens.data(), D, 0, BatchLogits::Last);
    if (P > 0) {
        if (stop_requested()) return pass.interrupted = true, pass;
        auto t0 = Clock::now();
        logits = backend.forward_batch(tokens.data() + D, P, D, BatchLogits::Last);
        pass.prefill_seconds = since(t0);
        if (options.collect_estimates && device) pass.prefill_estimate = device->estimate_prefill(D, P);
    }

    // Decode: greedy, each token timed from its forward pass to its argmax (as llama2.c's
    // loop, which samples inside the timed region). The first decoded token is timed but
    // left out of tok/s, as llama2.c leaves out its first iteration; it ends the TTFT.
    int token = logits ? sample_argmax(logits, vocab) : 1;
    // A prefill-only point (llama-bench's pp test) still decodes one token: its TTFT.
    const int decode = shape.generate > 0 ? shape.generate : (P > 0 ? 1 : 0);
    pass.decode_seconds.reserve(size_t(decode));
    for (int i = 0; i < decode; ++i) {
        if (stop_requested()) {
            pass.interrupted = true;
            break;
        }
        const int pos = D + P + i;
        if (options.time_ops && i == 1) backend.set_op_times(&pass.ops);
        auto t0 = Clock::now();
        logits = backend.forward(token, pos);
        token = sample_argmax(logits, vocab);
        pass.decode_seconds.push_back(since(t0));
        if (options.collect_estimates) pass.decode_estimates.push_back(device ? device->estimate(pos) : std::nullopt);
    }
    backend.set_op_times(nullptr);
    return pass;
}

void Throughput::add(Pass&& p, const PassShape& shape) {
    const int G = shape.generate;
    const double decode = p.decode_seconds_after_first();
    prefill_tok_s.push_back(p.prefill_seconds > 0 ? shape.prompt / p.prefill_seconds : 0);
    decode_tok_s.push_back(decode > 0 ? (G - 1) / decode : 0);
    decode_ms_per_token.push_back(G > 1 ? 1e3 * decode / (G - 1) : 0);
    if (auto ttft = p.ttft_seconds()) ttft_ms.push_back(1e3 * *ttft);
    ms_by_position.resize(p.decode_seconds.size());
    for (size_t i = 0; i < p.decode_seconds.size(); ++i) ms_by_position[i].push_back(1e3 * p.decode_seconds[i]);
    if (!p.decode_estimates.empty()) {
        prefill_estimate = std::move(p.prefill_estimate);
        decode_estimates = std::move(p.decode_estimates);
    }
}

std::vector<double> Throughput::decode_ms_by_position() const {
    std::vector<double> out;
    for (const auto& v : ms_by_position) out.push_back(median_of(v));
    return out;
}

double OpProfile::timer_overhead() const {
    if (untimed_ms_per_token.empty() || timed_ms_per_token.empty()) return 0;
    double u = median_of(untimed_ms_per_token);
    return u > 0 ? median_of(timed_ms_per_token) / u - 1 : 0;
}

void OpProfile::add(const Pass& plain, const Pass& timed, int generate) {
    const double tokens = generate - 1;
    untimed_ms_per_token.push_back(1e3 * plain.decode_seconds_after_first() / tokens);
    const double total = 1e3 * timed.decode_seconds_after_first() / tokens;
    timed_ms_per_token.push_back(total);
    double in_ops = 0;
    for (int op = 0; op < kNumOps; ++op) {
        double ms = 1e3 * timed.ops.seconds[size_t(op)] / tokens;
        op_ms_per_token[size_t(op)].push_back(ms);
        in_ops += ms;
        if (timed.ops.calls[size_t(op)] > 0) any_op_time = true;
    }
    other_ms_per_token.push_back(std::max(0.0, total - in_ops));
}

RoundRoofline round_roofline(double bytes_per_token, const std::vector<double>& bandwidth_by_round,
                             const std::vector<double>& decode_tok_s_by_round) {
    RoundRoofline r;
    std::vector<double> fractions;
    for (size_t i = 0; i < bandwidth_by_round.size() && i < decode_tok_s_by_round.size(); ++i) {
        const double roof = roofline_tok_per_s(bytes_per_token, bandwidth_by_round[i]);
        fractions.push_back(roof > 0 ? decode_tok_s_by_round[i] / roof : 0.0);
    }
    r.bandwidth_bytes_per_s = median_of(bandwidth_by_round);
    r.tok_s = roofline_tok_per_s(bytes_per_token, r.bandwidth_bytes_per_s);
    r.fraction = median_of(fractions);
    r.unstable = r.fraction > 1;
    return r;
}

}  // namespace lhb::bench
