#include "core/generate.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/error.hpp"

namespace lhb {

namespace {

using Clock = std::chrono::steady_clock;

void print_piece(const std::string& piece, std::FILE* out) {
    if (!Tokenizer::printable(piece)) return;
    // Pieces are C strings in llama2.c: a decoded "<0x00>" prints nothing.
    std::fputs(piece.c_str(), out);
    std::fflush(out);
}

// Reads one line (at most `cap` - 1 bytes, as fgets into a cap-byte buffer), without its
// newline. False at end of input.
bool read_line(std::FILE* in, std::FILE* out, const char* guide, std::string& line, size_t cap) {
    std::fputs(guide, out);
    std::fflush(out);
    std::vector<char> buf(cap);
    if (!std::fgets(buf.data(), int(cap), in)) return false;
    line = buf.data();
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return true;
}

}  // namespace

GenerateResult generate(Backend& backend, const Tokenizer& tokenizer, Sampler& sampler,
                        const std::string& prompt, int steps, std::FILE* out) {
    GenerateResult r;
    std::vector<int> prompt_tokens = tokenizer.encode(prompt, true, false);
    const int n_prompt = int(prompt_tokens.size());
    Clock::time_point start{};
    bool started = false;
    int timed_from = 0;  // positions already run when the clock started
    auto start_clock = [&](int pos) {
        if (started) return;
        start = Clock::now();
        started = true;
        timed_from = pos;
    };
    int token = prompt_tokens[0];
    r.tokens.push_back(token);
    int pos = 0;
    bool ended = false;  // a BOS came: the sequence is over
    // The token that follows position pos: echoed and fed on, or the end at a BOS.
    auto advance = [&](int next) {
        pos++;
        if (next == 1) return !(ended = true);
        print_piece(tokenizer.decode(token, next), out);
        r.tokens.push_back(next);
        token = next;
        return true;
    };
    // A prompt of more than one token runs as one batched forward pass (positions
    // 0..n_prompt-1, fewer when steps ends inside it) and is echoed as llama2.c echoes it
    // while forcing it. Forced positions draw nothing from the sampler's RNG, in llama2.c as
    // here, so the first sample from the batch's logits is the draw llama2.c makes at the
    // same position, and the text is the same. The clock starts after this first forward
    // call, as llama2.c's starts after its first iteration.
    if (n_prompt > 1) {
        const int n = std::min(n_prompt, steps);
        float* logits = backend.forward_batch(prompt_tokens.data(), n, 0, BatchLogits::Last);
        for (int i = 0; i < n && !ended; ++i)
            advance(i + 1 < n_prompt ? prompt_tokens[size_t(i) + 1] : sampler.sample(logits));
        start_clock(pos);
    }
    // Past the prompt (or after a one-token prompt, from position 0). Greedy sampling goes
    // through the backend's decode_greedy, so that a device backend decodes on the device.
    // Chunks keep the text streaming; without a batched prompt the first token is a chunk
    // of its own, so the clock starts where llama2.c's does.
    const bool greedy = sampler.temperature() == 0.0f;
    std::vector<int> chunk;
    while (!ended && pos < steps) {
        if (greedy) {
            chunk.clear();
            backend.decode_greedy(token, pos, started ? std::min(kGreedyChunk, steps - pos) : 1, chunk);
            if (chunk.empty()) break;
            for (int next : chunk)
                if (!advance(next)) break;
            start_clock(pos);
            continue;
        }
        if (advance(sampler.sample(backend.forward(token, pos)))) start_clock(pos);
    }
    std::fputc('\n', out);
    std::fflush(out);
    r.positions = pos;
    if (started) {
        r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        r.timed_positions = pos - timed_from;
    }
    return r;
}

GenerateResult chat(Backend& backend, const Tokenizer& tokenizer, Sampler& sampler,
                    const char* cli_user, const char* cli_system, int steps, ChatIO io) {
    // llama2.c's buffer sizes: 512-byte prompts (longer input is cut, never overflowed).
    constexpr size_t kPromptCap = 512;
    GenerateResult r;
    std::string system_prompt, user_prompt;
    std::vector<int> prompt_tokens;
    size_t user_idx = 0;
    bool user_turn = true;
    int next = 0, token = 0, pos = 0;
    Clock::time_point start = Clock::now();
    while (pos < steps) {
        if (user_turn) {
            if (pos == 0) {
                if (cli_system) {
                    system_prompt = std::string(cli_system).substr(0, kPromptCap - 1);
                } else if (!read_line(io.in, io.out, "Enter system prompt (optional): ",
                                      system_prompt, kPromptCap)) {
                    system_prompt.clear();
                }
            }
            if (pos == 0 && cli_user) {
                user_prompt = std::string(cli_user).substr(0, kPromptCap - 1);
            } else if (!read_line(io.in, io.out, "User: ", user_prompt, kPromptCap)) {
                break;  // end of input: llama2.c would spin on a stale buffer; we stop
            }
            std::string rendered;
            if (pos == 0 && !system_prompt.empty())
                rendered = "[INST] <<SYS>>\n" + system_prompt + "\n<</SYS>>\n\n" + user_prompt + " [/INST]";
            else
                rendered = "[INST] " + user_prompt + " [/INST]";
            prompt_tokens = tokenizer.encode(rendered, true, false);
            user_idx = 0;
            user_turn = false;
            std::fputs("Assistant: ", io.out);
        }
        if (user_idx < prompt_tokens.size())
            token = prompt_tokens[user_idx++];
        else
            token = next;
        if (token == 2) user_turn = true;  // EOS hands the turn back to the user

        float* logits = backend.forward(token, pos);
        next = sampler.sample(logits);  // chat samples at every position, prompt included
        pos++;
        r.tokens.push_back(token);
        if (user_idx >= prompt_tokens.size() && next != 2)
            print_piece(tokenizer.decode(token, next), io.out);
        if (next == 2) std::fputc('\n', io.out);
    }
    std::fputc('\n', io.out);
    std::fflush(io.out);
    r.positions = pos;
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return r;
}

}  // namespace lhb
