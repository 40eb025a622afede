// llama2.c's sampler, reproduced operation for operation (all float arithmetic, same order,
// same qsort comparator) so that a seeded run picks the same tokens as run.c.
#include "core/sampler.hpp"

#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace lhb {

uint32_t Rng::next_u32() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return static_cast<uint32_t>((state * 0x2545F4914F6CDD1DULL) >> 32);
}

float Rng::next_f32() { return static_cast<float>(next_u32() >> 8) / 16777216.0f; }

namespace {

void require_positive(int n, const char* who) {
    if (n <= 0)
        throw std::invalid_argument(std::string(who) + ": need at least one probability, got n = " +
                                    std::to_string(n));
}

// run.c's top-p ("nucleus") sampling. PI is Sampler's private {prob, index} record.
template <class PI>
int sample_topp(const float* probabilities, int n, float topp, PI* probindex, float coin) {
    // Entries below the cutoff cannot be part of the nucleus; dropping them keeps the sort
    // short. Same expression as run.c: float numerator, int denominator.
    const float cutoff = (1.0f - topp) / (n - 1);
    int n0 = 0;
    for (int i = 0; i < n; i++) {
        if (probabilities[i] >= cutoff) {
            probindex[n0].index = i;
            probindex[n0].prob = probabilities[i];
            n0++;
        }
    }
    // run.c would read probindex[-1] here (possible for n == 1, tiny topp, or NaN
    // probabilities); the nucleus is then best described by the single most likely token.
    if (n0 == 0) return sample_argmax(probabilities, n);

    auto by_prob_desc = [](const void* a, const void* b) -> int {
        const PI* x = static_cast<const PI*>(a);
        const PI* y = static_cast<const PI*>(b);
        if (x->prob > y->prob) return -1;
        if (x->prob < y->prob) return 1;
        return 0;
    };
    std::qsort(probindex, size_t(n0), sizeof(PI), by_prob_desc);

    float cumulative_prob = 0.0f;
    int last_idx = n0 - 1;
    for (int i = 0; i < n0; i++) {
        cumulative_prob += probindex[i].prob;
        if (cumulative_prob > topp) {
            last_idx = i;
            break;
        }
    }

    const float r = coin * cumulative_prob;
    float cdf = 0.0f;
    for (int i = 0; i <= last_idx; i++) {
        cdf += probindex[i].prob;
        if (r < cdf) return probindex[i].index;
    }
    return probindex[last_idx].index;
}

}  // namespace

int sample_argmax(const float* probabilities, int n) {
    require_positive(n, "sample_argmax");
    int max_i = 0;
    float max_p = probabilities[0];
    for (int i = 1; i < n; i++) {
        if (probabilities[i] > max_p) {
            max_i = i;
            max_p = probabilities[i];
        }
    }
    return max_i;
}

int sample_mult(const float* probabilities, int n, float coin) {
    require_positive(n, "sample_mult");
    float cdf = 0.0f;
    for (int i = 0; i < n; i++) {
        cdf += probabilities[i];
        if (coin < cdf) return i;
    }
    return n - 1;
}

void softmax_ref(float* x, int n) {
    if (n <= 0) return;
    float max_val = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max_val) max_val = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = std::exp(x[i] - max_val);  // float overload: expf
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

Sampler::Sampler(int vocab_size, float temperature, float topp, uint64_t seed)
    : vocab_size_(vocab_size), temperature_(temperature), topp_(topp), rng_{seed} {
    require_positive(vocab_size, "Sampler");
    probindex_.resize(size_t(vocab_size));
}

int Sampler::sample(float* logits) {
    if (temperature_ == 0.0f) return sample_argmax(logits, vocab_size_);

    for (int q = 0; q < vocab_size_; q++) logits[q] /= temperature_;
    softmax_ref(logits, vocab_size_);
    const float coin = rng_.next_f32();
    if (topp_ <= 0 || topp_ >= 1) return sample_mult(logits, vocab_size_, coin);
    return sample_topp(logits, vocab_size_, topp_, probindex_.data(), coin);
}

}  // namespace lhb
