#pragma once
// Reads ../shared/models/expected-stories260K.txt: llama2.c's exact stdout for a few runs,
// its greedy token ids and position-0 logits.
#include <string>
#include <vector>

namespace lhb::test {

struct ExpectedCase {
    std::string name;
    std::string args;    // the flags after the checkpoint, e.g. -z tok512.bin -t 0 -n 200
    std::string stdout_text;
};

struct ExpectedRuns {
    std::vector<ExpectedCase> cases;
    std::vector<int> greedy_tokens;
    int pos0_argmax = -1;
    std::vector<float> pos0_logits_head;  // logits[0..4]
    float pos0_max_logit = 0;
};

ExpectedRuns load_expected_runs(const std::string& path);

}  // namespace lhb::test
