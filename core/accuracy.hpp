#pragma once
// How much int8 weights change what a model says: agreement of greedy tokens with the fp32
// model, mean KL divergence of the next-token distributions, and perplexity on a fixed text.
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "core/tokenizer.hpp"

namespace lhb {

// A short TinyStories-style text for the perplexity comparison (fits in stories260K's
// vocabulary and context).
extern const char* const kAccuracyText;

struct AccuracyReport {
    int greedy_steps = 0;          // positions generated greedily by both, from BOS
    int greedy_agreeing = 0;       // positions where both chose the same token (same prefix fed)
    int greedy_common_prefix = 0;  // tokens identical before the first divergence
    int text_tokens = 0;           // tokens of the fixed text scored
    double mean_kl = 0;            // mean over the text of KL(p_reference || p_candidate), nats
    double ppl_reference = 0;      // perplexity of the text under each model
    double ppl_candidate = 0;
    double ppl_delta() const { return ppl_candidate - ppl_reference; }
};

// `reference` is usually the fp32 model and `candidate` the int8 one; both loaded. Greedy
// agreement is scored teacher-forced on the reference's own greedy sequence, so one early
// divergence does not hide later agreement.
AccuracyReport compare_models(Backend& reference, Backend& candidate, const Tokenizer& tokenizer,
                              int greedy_steps, const std::string& text = kAccuracyText);

}  // namespace lhb
