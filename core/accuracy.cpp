#include "core/accuracy.hpp"

#include <algorithm>
#include <cmath>

#include "core/sampler.hpp"

namespace lhb {

const char* const kAccuracyText =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "park. One day, she saw a big, red ball. She wanted to play with it, but it was too high. "
    "Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do.";

namespace {

// Log-probabilities in double: the KL of two nearly equal distributions is a small
// difference of large terms.
std::vector<double> log_softmax(const float* logits, int n) {
    double mx = logits[0];
    for (int i = 1; i < n; ++i) mx = std::max(mx, double(logits[i]));
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - mx);
    const double lse = mx + std::log(sum);
    std::vector<double> out(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) out[size_t(i)] = double(logits[i]) - lse;
    return out;
}

}  // namespace

AccuracyReport compare_models(Backend& reference, Backend& candidate, const Tokenizer& tokenizer,
                              int greedy_steps, const std::string& text) {
    AccuracyReport r;
    const int vocab = reference.model()->config().vocab_size;
    const int seq_len = std::min(reference.model()->config().seq_len, candidate.model()->config().seq_len);

    // Greedy: both fed the reference's sequence; compare their choices at each position.
    greedy_steps = std::min(greedy_steps, seq_len);
    int token = 1;
    bool diverged = false;
    for (int pos = 0; pos < greedy_steps; ++pos) {
        int a = sample_argmax(reference.forward(token, pos), vocab);
        int b = sample_argmax(candidate.forward(token, pos), vocab);
        r.greedy_steps++;
        if (a == b) {
            r.greedy_agreeing++;
            if (!diverged) r.greedy_common_prefix++;
        } else {
            diverged = true;
        }
        token = a;
    }

    // The fixed text, teacher-forced: KL per position and the likelihood of the next token.
    std::vector<int> tokens = tokenizer.encode(text, true, false);
    if (int(tokens.size()) > seq_len) tokens.resize(size_t(seq_len));
    double kl_sum = 0, nll_ref = 0, nll_cand = 0;
    for (size_t pos = 0; pos + 1 < tokens.size(); ++pos) {
        auto lp = log_softmax(reference.forward(tokens[pos], int(pos)), vocab);
        auto lq = log_softmax(candidate.forward(tokens[pos], int(pos)), vocab);
        double kl = 0;
        for (int i = 0; i < vocab; ++i) kl += std::exp(lp[size_t(i)]) * (lp[size_t(i)] - lq[size_t(i)]);
        kl_sum += kl;
        nll_ref -= lp[size_t(tokens[pos + 1])];
        nll_cand -= lq[size_t(tokens[pos + 1])];
        r.text_tokens++;
    }
    if (r.text_tokens > 0) {
        r.mean_kl = kl_sum / r.text_tokens;
        r.ppl_reference = std::exp(nll_ref / r.text_tokens);
        r.ppl_candidate = std::exp(nll_cand / r.text_tokens);
    }
    return r;
}

}  // namespace lhb
