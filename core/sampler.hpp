#pragma once
// llama2.c's sampler: greedy argmax, temperature, multinomial and top-p, driven by the same
// xorshift64* generator so a seeded run reproduces llama2.c token for token.
#include <cstdint>
#include <vector>

namespace lhb {

struct Rng {
    uint64_t state;
    uint32_t next_u32();  // xorshift64*, upper 32 bits
    float next_f32();     // (u32 >> 8) / 2^24, in [0, 1)
};

class Sampler {
public:
    Sampler(int vocab_size, float temperature, float topp, uint64_t seed);

    // May modify `logits` in place (divided by temperature, softmaxed), exactly as run.c.
    int sample(float* logits);

    float temperature() const { return temperature_; }
    float topp() const { return topp_; }

private:
    struct ProbIndex {
        float prob;
        int index;
    };
    int vocab_size_;
    float temperature_;
    float topp_;
    Rng rng_;
    std::vector<ProbIndex> probindex_;
};

// Building blocks, exposed for tests.
int sample_argmax(const float* probabilities, int n);
int sample_mult(const float* probabilities, int n, float coin);
// run.c's softmax in its exact arithmetic order (max, expf, sum, divide).
void softmax_ref(float* x, int n);

}  // namespace lhb
