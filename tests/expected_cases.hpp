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

// llama2.c's greedy story of stories260K (the file's first run, "-z tok512.bin -t 0 -n 200")
// in *text, and in *args the `bench generate` arguments that redo it, for the caller to
// append its --backend to. A fatal failure of the calling test if the file does not start
// with that run (call it through ASSERT_NO_FATAL_FAILURE).
void stories260K_greedy_run(std::string* args, std::string* text);

}  // namespace lhb::test
