#pragma once
// What a run config says about a peer (bench/config.cpp reads it): the entry, its command
// line split into argument templates, the placeholders. No process is run here: that is
// bench/peers.hpp, which the sweep uses and the config reader does not need.
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lhb::bench {


// How a peer's output is read.
enum class PeerParser {
    Llama2c,     // "achieved tok/s: X" (llama2.c's run, runomp, runq; on stderr)
    LlamaBench,  // llama-bench -o jsonl | json | csv: avg_ts of its pp (prefill) and tg (decode) tests
    Regex,       // the first group of the last match of decode_regex / prefill_regex
};
const char* parser_name(PeerParser p);

// A peer of the config's "peers" section, checked at load (bench/config.cpp).
struct PeerEntry {
    std::string name;                        // row label, [A-Za-z0-9._+-]{1,64}
    std::vector<std::string> command;        // argument templates; command[0] is the program as written
    std::string executable;                  // command[0] resolved (config folder or PATH)
    std::map<std::string, std::string> env;  // set for the peer (values are templates too)
    PeerParser parser = PeerParser::Llama2c;
    std::string decode_regex, prefill_regex;  // Regex: either may be empty, not both
    std::vector<int> threads;                 // empty: every thread count of the sweep
    std::map<std::string, std::string> models;  // config model name -> the file the peer reads; empty: the checkpoint
    std::string precision = "fp32";
    double timeout_s = 600;
    std::string pointer;  // "/peers/0"
};

// ---------------------------------------------------------------- commands
// Splits a command line into arguments. Whitespace separates; '...' is literal; "..." keeps
// spaces, with \" and \\ inside; a backslash outside quotes takes the next character as is.
// Throws std::invalid_argument (with the reason) on an unterminated quote or an empty line.
std::vector<std::string> split_command_line(const std::string& line);

// The values of the placeholders for one peer point.
struct PeerPoint {
    std::string model;       // config model name
    std::string model_file;  // {model}
    std::string tokenizer;   // {tokenizer}; empty: none
    bool synthetic = false;
    int threads = 1;   // {threads}
    int n_prompt = 0;  // {n_prompt}
    int n_gen = 0;     // {n_gen}; {tokens} = n_prompt + n_gen
};
// The placeholders a template may use, and the first problem with `text` as a template
// (an unknown {name}, an unmatched brace), if any. "{{" and "}}" are literal braces.
const std::vector<std::string>& peer_placeholders();
std::optional<std::string> template_problem(const std::string& text);
bool uses_placeholder(const std::string& text, const std::string& name);  // name without braces
std::string expand_template(const std::string& text, const PeerPoint& point);

// The program a command[0] names: a path with a '/' resolves against `dir` (the config's
// folder), a bare name is searched on PATH. Empty when there is no executable file there.
std::string resolve_executable(const std::string& program, const std::string& dir);

}  // namespace lhb::bench
