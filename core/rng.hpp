#pragma once
// The project's one seeded random generator: splitmix64, the same sequence on every
// platform and compiler. It writes the synthetic checkpoints (core/synth.cpp: `bench synth
// --seed N` writes the same bytes as before it lived here) and the correctness checks'
// inputs (core/correctness.cpp).
// The exception is llama2.c's sampler generator (xorshift64*, core/sampler.cpp), which must
// reproduce llama2.c's sampled text, token for token, and so stays llama2.c's.
#include <cstdint>
#include <vector>

namespace lhb {

struct Rng {
    uint64_t state;
    explicit Rng(uint64_t seed) : state(seed) {}
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [-1, 1), in steps of 2^-23.
    float uniform() { return float(int64_t(next() >> 40) - (int64_t(1) << 23)) / float(1 << 23); }
    // n values uniform in [-scale, scale).
    std::vector<float> vec(size_t n, float scale = 1.f) {
        std::vector<float> v(n);
        for (float& x : v) x = scale * uniform();
        return v;
    }
};

}  // namespace lhb
