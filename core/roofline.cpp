#include "core/roofline.hpp"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "core/error.hpp"

namespace lhb {

namespace {

// Sums [p, p + n) (n a multiple of 64) into 64 independent lanes, which the compiler turns
// into several vector accumulators, so the loop is bound by loads rather than by the latency
// of one add chain. Cloned per ISA (chosen at load time), so the widest loads this CPU has
// are measured: the roofline is the best this host can do, whatever the rest was built for.
#if defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif  // elsewhere (the board's aarch64 build) one ISA: NEON is the baseline
float read_slice(const float* p, size_t n) {
    float acc[64] = {};
    for (size_t i = 0; i < n; i += 64)
        for (int k = 0; k < 64; ++k) acc[k] += p[i + size_t(k)];
    float r = 0;
    for (float a : acc) r += a;
    return r;
}

int default_threads() {
    if (const char* env = std::getenv("OMP_NUM_THREADS"); env && std::atoi(env) > 0) return std::atoi(env);
    unsigned n = std::thread::hardware_concurrency();
    return n ? int(n) : 1;
}

}  // namespace

Bandwidth measure_read_bandwidth(int threads, int64_t buffer_bytes, double seconds) {
    if (threads <= 0) threads = default_threads();
    const int64_t page = 4096;
    buffer_bytes = std::max<int64_t>(page * threads, (buffer_bytes + page - 1) / page * page);
    const size_t n = size_t(buffer_bytes) / sizeof(float);
    float* buf = static_cast<float*>(std::aligned_alloc(size_t(page), size_t(buffer_bytes)));
    if (!buf)
        throw InputError("read bandwidth: cannot allocate a buffer of " + std::to_string(buffer_bytes) +
                         " bytes");

    // Each thread owns one contiguous slice (a multiple of 64 floats), touches it first and
    // re-reads it; small buffers are read several times per pass so one pass is long enough
    // (tens of ms) to hide the barrier between passes.
    std::vector<size_t> begin(size_t(threads) + 1);
    for (int t = 0; t <= threads; ++t) begin[size_t(t)] = n * size_t(t) / size_t(threads) / 64 * 64;
    begin[size_t(threads)] = n / 64 * 64;
    const int reps = int(std::max<int64_t>(1, (int64_t(64) << 20) / buffer_bytes));

    std::barrier sync(threads + 1);
    std::atomic<bool> stop{false};
    std::atomic<uint32_t> sink{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            float* p = buf + begin[size_t(t)];
            const size_t len = begin[size_t(t) + 1] - begin[size_t(t)];
            for (size_t i = 0; i < len; ++i) p[i] = float(i & 7);
            float acc = 0;
            for (;;) {
                sync.arrive_and_wait();  // start of a pass
                if (stop.load()) break;
                for (int r = 0; r < reps; ++r) acc += read_slice(p, len);
                sync.arrive_and_wait();  // end of the pass
            }
            uint32_t bits;
            std::memcpy(&bits, &acc, 4);
            sink.fetch_xor(bits);  // the sums are used, so the reads cannot be dropped
        });
    }

    using clock = std::chrono::steady_clock;
    std::vector<double> rates;
    const auto deadline = clock::now() + std::chrono::duration<double>(seconds);
    double timed = 0;
    bool warm = false;
    for (;;) {
        auto t0 = clock::now();
        sync.arrive_and_wait();
        sync.arrive_and_wait();
        const double dt = std::chrono::duration<double>(clock::now() - t0).count();
        if (warm) {
            rates.push_back(double(begin[size_t(threads)]) * sizeof(float) * reps / dt);
            timed += dt;
        }
        warm = true;
        if (rates.size() >= 3 && clock::now() >= deadline) break;
    }
    stop.store(true);
    sync.arrive_and_wait();
    for (auto& th : pool) th.join();
    std::free(buf);

    Bandwidth b;
    std::sort(rates.begin(), rates.end());
    b.bytes_per_second = rates.back();
    b.median_bytes_per_second = rates[rates.size() / 2];
    b.threads = threads;
    b.buffer_bytes = buffer_bytes;
    b.passes = int(rates.size());
    b.seconds = timed;
    return b;
}

int64_t kv_bytes_at(const ModelConfig& c, int pos) {
    return 2 * int64_t(c.n_layers) * (int64_t(pos) + 1) * c.kv_dim() * int64_t(sizeof(float));
}

int64_t bytes_per_token(const Model& model, int pos) {
    return model.weight_bytes_per_token() + kv_bytes_at(model.config(), pos);
}

double mean_bytes_per_token(const Model& model, int first, int last) {
    if (last < first) std::swap(first, last);
    // The KV term is linear in pos, so its mean is its value at the mean position.
    const ModelConfig& c = model.config();
    const double mean_pos = 0.5 * (double(first) + double(last));
    return double(model.weight_bytes_per_token()) +
           2.0 * c.n_layers * (mean_pos + 1) * c.kv_dim() * double(sizeof(float));
}

}  // namespace lhb
