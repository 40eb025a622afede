#pragma once
// llama2.c's two loops: `generate` (echo the prompt, then sample) and `chat` (Llama 2 chat
// template, turns read from a stream). Text goes to `out`; nothing else is printed.
#include <cstdio>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "core/sampler.hpp"
#include "core/tokenizer.hpp"

namespace lhb {

struct GenerateResult {
    std::vector<int> tokens;  // every token fed to or produced by the model, BOS first
    int positions = 0;        // positions run through the model
    // Wall clock from the end of the first forward call (the whole prompt when it is
    // batched, else position 0) to the end, and the positions run in that time.
    double seconds = 0;
    int timed_positions = 0;
    double tok_per_s() const { return timed_positions > 0 && seconds > 0 ? timed_positions / seconds : 0; }
};

// Tokens per decode_greedy call when generate() samples greedily: a device backend
// launches once per chunk, and the text appears a chunk at a time.
constexpr int kGreedyChunk = 16;

// `steps` already clamped as the CLI does (1..seq_len).
GenerateResult generate(Backend& backend, const Tokenizer& tokenizer, Sampler& sampler,
                        const std::string& prompt, int steps, std::FILE* out);

struct ChatIO {
    std::FILE* in;   // turns typed by the user (when not given on the command line)
    std::FILE* out;  // prompts ("User: ", "Assistant: ") and the model's text
};

// cli_system / cli_user: nullptr when not given (then read from io.in at position 0).
GenerateResult chat(Backend& backend, const Tokenizer& tokenizer, Sampler& sampler,
                    const char* cli_user, const char* cli_system, int steps, ChatIO io);

}  // namespace lhb
