// Sampler: xorshift64* RNG, argmax, multinomial, top-p, softmax — run.c's exact behaviour.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "core/sampler.hpp"

using lhb::Rng;
using lhb::Sampler;

namespace {

// xorshift64* written out differently from the implementation: each shift in its own
// variable, and the 64-bit wrap-around product assembled from 32-bit halves.
uint32_t reference_u32(uint64_t& s) {
    const uint64_t a = s ^ (s >> 12);
    const uint64_t b = a ^ (a << 25);
    const uint64_t c = b ^ (b >> 27);
    s = c;
    const uint64_t m = 0x2545F4914F6CDD1DULL;
    const uint64_t c_lo = c & 0xFFFFFFFFu, c_hi = c >> 32;
    const uint64_t m_lo = m & 0xFFFFFFFFu, m_hi = m >> 32;
    // bits 32..63 of c*m: carry of the low product plus the low halves of the cross terms
    // (c_hi*m_hi only affects bits >= 64).
    const uint64_t mid = (c_lo * m_lo >> 32) + ((c_lo * m_hi) & 0xFFFFFFFFu) +
                         ((c_hi * m_lo) & 0xFFFFFFFFu);
    return uint32_t(mid & 0xFFFFFFFFu);
}

float reference_f32(uint64_t& s) { return float(reference_u32(s) >> 8) * (1.0f / 16777216.0f); }

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// log-probabilities whose softmax is (close to) p.
std::vector<float> logits_for(const std::vector<float>& p) {
    std::vector<float> l;
    for (float x : p) l.push_back(std::log(x));
    return l;
}

}  // namespace

TEST(SamplerRng, KnownSequences) {
    // Values computed independently (Python big integers).
    Rng r{42};
    EXPECT_EQ(r.next_u32(), 0x56ce4ab7u);
    EXPECT_EQ(r.next_u32(), 0xc841eb53u);
    EXPECT_EQ(r.next_u32(), 0xca466be0u);
    EXPECT_EQ(r.next_u32(), 0xf1acc733u);
    Rng r1{1};
    EXPECT_EQ(r1.next_u32(), 0x47e4ce4bu);
    EXPECT_EQ(r1.next_u32(), 0xabcfa6a8u);
    Rng r2{0xDEADBEEFCAFEBABEull};
    EXPECT_EQ(r2.next_u32(), 0x7d2957bfu);
    EXPECT_EQ(r2.next_u32(), 0x25fca66bu);
    EXPECT_EQ(r2.next_u32(), 0x6fb20db4u);
}

TEST(SamplerRng, MatchesStepByStepReference) {
    for (uint64_t seed : {uint64_t(1), uint64_t(42), uint64_t(1234567890123ull), ~uint64_t(0)}) {
        Rng r{seed};
        uint64_t s = seed;
        for (int i = 0; i < 1000; ++i) {
            ASSERT_EQ(r.next_u32(), reference_u32(s)) << "seed " << seed << " draw " << i;
            ASSERT_EQ(r.state, s);
        }
        Rng f{seed};
        uint64_t sf = seed;
        for (int i = 0; i < 1000; ++i) {
            const float got = f.next_f32();
            ASSERT_TRUE(same_bits(got, reference_f32(sf))) << "seed " << seed << " draw " << i;
            ASSERT_GE(got, 0.0f);
            ASSERT_LT(got, 1.0f);
        }
    }
    // Zero is a fixed point of xorshift: the generator does not reseed it.
    Rng z{0};
    EXPECT_EQ(z.next_u32(), 0u);
    EXPECT_EQ(z.next_f32(), 0.0f);
    EXPECT_EQ(z.state, 0u);
}

TEST(SamplerParts, ArgmaxFirstMaximumWins) {
    const float a[] = {1.0f, 3.0f, 3.0f, 2.0f};
    EXPECT_EQ(lhb::sample_argmax(a, 4), 1);
    const float b[] = {-5.0f, -1.0f, -1.0f, -7.0f};
    EXPECT_EQ(lhb::sample_argmax(b, 4), 1);
    const float c[] = {2.0f, 2.0f, 2.0f};
    EXPECT_EQ(lhb::sample_argmax(c, 3), 0);
    const float d[] = {0.0f, -0.0f, 0.0f, 1e-45f};
    EXPECT_EQ(lhb::sample_argmax(d, 4), 3);
    EXPECT_EQ(lhb::sample_argmax(d, 3), 0);  // -0 == 0: not strictly greater
    EXPECT_EQ(lhb::sample_argmax(a, 1), 0);
}

TEST(SamplerParts, MultinomialBoundaries) {
    const float p[] = {0.25f, 0.25f, 0.5f};
    EXPECT_EQ(lhb::sample_mult(p, 3, 0.0f), 0);
    EXPECT_EQ(lhb::sample_mult(p, 3, 0.2499999f), 0);
    EXPECT_EQ(lhb::sample_mult(p, 3, 0.25f), 1);  // coin < cdf is strict
    EXPECT_EQ(lhb::sample_mult(p, 3, 0.4999999f), 1);
    EXPECT_EQ(lhb::sample_mult(p, 3, 0.5f), 2);
    EXPECT_EQ(lhb::sample_mult(p, 3, 0.99999994f), 2);
    // Zero-probability entries are never chosen, even with coin 0.
    const float z[] = {0.0f, 0.0f, 1.0f, 0.0f};
    EXPECT_EQ(lhb::sample_mult(z, 4, 0.0f), 2);
    // cdf that never exceeds the coin: fallback to the last index.
    const float s[] = {0.1f, 0.1f, 0.1f};
    EXPECT_EQ(lhb::sample_mult(s, 3, 0.5f), 2);
    EXPECT_EQ(lhb::sample_mult(s, 3, 0.05f), 0);
}

TEST(SamplerParts, SoftmaxExactOrder) {
    std::vector<float> x = {1.0f, 3.0f, 2.0f, -1.0f};
    // By hand, in run.c's order: max 3, expf of the differences, float sum left to right,
    // then one division each.
    const float e0 = std::exp(1.0f - 3.0f), e1 = std::exp(0.0f), e2 = std::exp(2.0f - 3.0f),
                e3 = std::exp(-1.0f - 3.0f);
    float sum = 0.0f;
    sum += e0;
    sum += e1;
    sum += e2;
    sum += e3;
    lhb::softmax_ref(x.data(), 4);
    EXPECT_TRUE(same_bits(x[0], e0 / sum));
    EXPECT_TRUE(same_bits(x[1], e1 / sum));
    EXPECT_TRUE(same_bits(x[2], e2 / sum));
    EXPECT_TRUE(same_bits(x[3], e3 / sum));

    std::vector<float> big = {1000.0f, 1000.0f};  // no overflow: max is subtracted first
    lhb::softmax_ref(big.data(), 2);
    EXPECT_EQ(big[0], 0.5f);
    EXPECT_EQ(big[1], 0.5f);

    float one = -123.0f;
    lhb::softmax_ref(&one, 1);
    EXPECT_EQ(one, 1.0f);
}

TEST(SamplerSample, GreedyPicksLowestIndexAndLeavesLogits) {
    Sampler s(5, 0.0f, 0.9f, 7);
    std::vector<float> l = {0.5f, 4.0f, -1.0f, 4.0f, 3.9f};
    const std::vector<float> copy = l;
    EXPECT_EQ(s.sample(l.data()), 1);
    EXPECT_EQ(l, copy);
    EXPECT_EQ(s.temperature(), 0.0f);
    EXPECT_FLOAT_EQ(s.topp(), 0.9f);
}

TEST(SamplerSample, TemperatureDividesThenSoftmaxes) {
    const std::vector<float> orig = {0.3f, -1.7f, 2.9f, 0.0f, 1.1f};
    for (float temp : {0.7f, 1.0f, 1.3f}) {
        std::vector<float> expected = orig;
        for (float& v : expected) v = v / temp;
        lhb::softmax_ref(expected.data(), int(expected.size()));
        for (float topp : {0.0f, 0.9f}) {
            Sampler s(5, temp, topp, 99);
            std::vector<float> l = orig;
            (void)s.sample(l.data());
            for (size_t i = 0; i < l.size(); ++i)
                EXPECT_TRUE(same_bits(l[i], expected[i])) << "temp " << temp << " i " << i;
        }
    }
}

TEST(SamplerSample, MultinomialUsesOneDrawPerSample) {
    // Uniform over 256: the chosen index reveals the coin; a sampler that drew twice (or
    // never) per token would drift away from the reference sequence.
    const int n = 256;
    for (float topp : {0.0f, 1.0f, -0.5f, 1.5f}) {
        Sampler s(n, 1.0f, topp, 2024);
        uint64_t ref = 2024;
        for (int k = 0; k < 500; ++k) {
            std::vector<float> l(size_t(n), 0.25f);
            const int got = s.sample(l.data());
            std::vector<float> p(size_t(n), 0.25f);
            lhb::softmax_ref(p.data(), n);
            const int want = lhb::sample_mult(p.data(), n, reference_f32(ref));
            ASSERT_EQ(got, want) << "topp " << topp << " sample " << k;
        }
    }
}

TEST(SamplerSample, SeedIsStoredAsGiven) {
    // Seed 0 is not replaced by the clock here (that is the CLI's job): the coin stays 0,
    // so multinomial sampling always returns the first index with non-zero probability.
    Sampler s(3, 1.0f, 0.0f, 0);
    for (int k = 0; k < 10; ++k) {
        std::vector<float> l = {-std::numeric_limits<float>::infinity(), 0.0f, 0.0f};
        EXPECT_EQ(s.sample(l.data()), 1);
    }
}

TEST(SamplerSample, TopPHandComputed) {
    // Probabilities (index: p) 0: 0.30, 1: 0.05, 2: 0.50, 3: 0.15.
    const std::vector<float> p = {0.30f, 0.05f, 0.50f, 0.15f};
    // topp 0.7: cutoff (1-0.7)/3 = 0.1 drops index 1; sorted 2 (0.5), 0 (0.3), 3 (0.15);
    // cumulative 0.5, 0.8 > 0.7 -> nucleus {2, 0}, total 0.8; r = coin*0.8:
    // index 2 if r < 0.5 (coin < 0.625), else index 0.
    {
        Sampler s(4, 1.0f, 0.7f, 12345);
        uint64_t ref = 12345;
        int seen2 = 0, seen0 = 0;
        for (int k = 0; k < 400; ++k) {
            std::vector<float> l = logits_for(p);
            const int got = s.sample(l.data());
            const float coin = reference_f32(ref);
            if (std::fabs(coin - 0.625f) < 1e-4f) continue;
            const int want = coin < 0.625f ? 2 : 0;
            ASSERT_EQ(got, want) << "sample " << k << " coin " << coin;
            (want == 2 ? seen2 : seen0)++;
        }
        EXPECT_GT(seen2, 0);
        EXPECT_GT(seen0, 0);
    }
    // topp 0.9: cutoff 0.1/3 = 0.033 keeps all four (0.05 included); sorted
    // 2, 0, 3, 1; cumulative 0.5, 0.8, 0.95 > 0.9 -> nucleus {2, 0, 3}, total 0.95;
    // r = coin*0.95: 2 if r < 0.5, 0 if r < 0.8, else 3. Index 1 is never chosen.
    {
        Sampler s(4, 1.0f, 0.9f, 777);
        uint64_t ref = 777;
        int seen[4] = {0, 0, 0, 0};
        for (int k = 0; k < 600; ++k) {
            std::vector<float> l = logits_for(p);
            const int got = s.sample(l.data());
            const float r = reference_f32(ref) * 0.95f;
            if (std::fabs(r - 0.5f) < 1e-4f || std::fabs(r - 0.8f) < 1e-4f) continue;
            const int want = r < 0.5f ? 2 : (r < 0.8f ? 0 : 3);
            ASSERT_EQ(got, want) << "sample " << k << " r " << r;
            seen[want]++;
        }
        EXPECT_GT(seen[2], 0);
        EXPECT_GT(seen[0], 0);
        EXPECT_GT(seen[3], 0);
    }
    // topp 0.45: the top token alone already exceeds it -> always index 2.
    {
        Sampler s(4, 1.0f, 0.45f, 5);
        for (int k = 0; k < 50; ++k) {
            std::vector<float> l = logits_for(p);
            ASSERT_EQ(s.sample(l.data()), 2);
        }
    }
}

TEST(SamplerSample, TopPOneDrawPerSampleAgainstMultReference) {
    // With topp close to 1 and nothing below the cutoff, top-p is multinomial over the
    // probabilities sorted by descending value; check against that with an independent
    // coin sequence.
    const std::vector<float> p = {0.1f, 0.4f, 0.2f, 0.3f};
    const int order[] = {1, 3, 2, 0};  // descending probability
    Sampler s(4, 1.0f, 0.999f, 31337);
    uint64_t ref = 31337;
    for (int k = 0; k < 300; ++k) {
        std::vector<float> l = logits_for(p);
        const int got = s.sample(l.data());  // l now holds the softmax
        float sorted[4];
        for (int i = 0; i < 4; ++i) sorted[i] = l[size_t(order[i])];
        float total = 0.0f;
        for (float v : sorted) total += v;
        const float coin = reference_f32(ref);
        // r = coin * cumulative; first sorted entry whose running cdf exceeds r.
        const int pos = lhb::sample_mult(sorted, 4, coin * total);
        ASSERT_EQ(got, order[pos]) << "sample " << k;
    }
}

TEST(SamplerSample, DegenerateTopPDoesNotReadOutOfBounds) {
    // n == 1: the cutoff is (1-topp)/0 = inf and nothing survives it (run.c would read
    // probindex[-1]).
    Sampler one(1, 1.0f, 0.9f, 3);
    float l1 = 2.0f;
    EXPECT_EQ(one.sample(&l1), 0);
    // Uniform pair with topp 0.1: cutoff 0.9 > 0.5 drops both entries.
    Sampler two(2, 1.0f, 0.1f, 3);
    float l2[] = {1.0f, 1.0f};
    EXPECT_EQ(two.sample(l2), 0);
}

TEST(SamplerParts, RejectsEmptyInputs) {
    float x = 1.0f;
    EXPECT_THROW((void)lhb::sample_argmax(&x, 0), std::invalid_argument);
    EXPECT_THROW((void)lhb::sample_mult(&x, 0, 0.5f), std::invalid_argument);
    EXPECT_THROW(Sampler(0, 1.0f, 0.9f, 1), std::invalid_argument);
}
