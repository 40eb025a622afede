#pragma once
// The host's memory roofline: how fast this machine can stream bytes in (a STREAM-like,
// multi-threaded read kernel), how many bytes one decoded token has to read, and so the
// most tokens per second any backend could decode on this host.
//
// Which bandwidth to use: decode re-reads the same weights every token, so the bytes come
// from whichever level of the memory hierarchy holds the model's working set. Measure with
// buffer_bytes = bytes_per_token(model, pos) for the roofline of that model on this host
// (on a machine whose last-level cache holds the model, that is the cache's bandwidth, not
// DRAM's), and with kDramBufferBytes for the DRAM figure. Every figure is measured, never
// assumed, and is labeled so.
#include <cstdint>

#include "core/model.hpp"

namespace lhb {

// Large enough to miss any last-level cache we know of (this VM reports 480 MiB of L3).
constexpr int64_t kDramBufferBytes = int64_t(1) << 30;

struct Bandwidth {
    double bytes_per_second = 0;  // best sustained pass (all threads together)
    double median_bytes_per_second = 0;
    int threads = 0;
    int64_t buffer_bytes = 0;
    int passes = 0;       // timed passes over the whole buffer
    double seconds = 0;   // spent timing them
};

// Reads a buffer of `buffer_bytes` (rounded up to 4 KiB) again and again with `threads`
// threads (0: all cores) for about `seconds` (at least 3 timed passes, after one untimed
// warm-up pass), each thread summing its own contiguous slice. Throws InputError when the
// buffer cannot be allocated.
Bandwidth measure_read_bandwidth(int threads, int64_t buffer_bytes, double seconds = 0.5);

// Bytes the KV cache gives attention at position `pos`: keys and values of positions
// 0..pos for every layer, fp32: 2 * n_layers * (pos + 1) * kv_dim * 4.
int64_t kv_bytes_at(const ModelConfig& config, int pos);
// Weights (Model::weight_bytes_per_token) plus the KV cache read at `pos`.
int64_t bytes_per_token(const Model& model, int pos);
// Mean of bytes_per_token over positions [first, last] (a decode run's average).
double mean_bytes_per_token(const Model& model, int first, int last);

// The memory roofline: tokens per second if every byte came at `bytes_per_second`.
inline double roofline_tok_per_s(double bytes_per_token, double bytes_per_second) {
    return bytes_per_token > 0 ? bytes_per_second / bytes_per_token : 0;
}

}  // namespace lhb
