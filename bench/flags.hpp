#pragma once
// One flag parser for every `bench` subcommand. A command lists its flags, each with where
// its value goes, then parse() walks argv. Every subcommand therefore treats a command line
// the same way: --help/-h prints the usage on stdout (exit 0); an unknown flag, a flag
// missing its value or an argument too many prints that problem in one line, then the
// usage, on stderr (exit 1); a value that is not a number, not a finite one, or out of
// range throws InputError naming the flag (main prints its one line, exit 1).
// A flag that takes a value always takes the next argument, whatever it looks like
// (llama2.c's `run` reads its options in pairs: `-i -x` is the prompt "-x").
#include <climits>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lhb::bench {

// Strict number parsing for flags: the whole text must be a number, a finite one in range.
int parse_int(const std::string& flag, const std::string& text, int min = INT_MIN, int max = INT_MAX);
double parse_double(const std::string& flag, const std::string& text);
float parse_float(const std::string& flag, const std::string& text);  // also finite as a float
// A byte count: digits with an optional K, M, G or T (powers of 1024), e.g. "16G".
uint64_t parse_byte_size(const std::string& flag, const std::string& text);
// A KV cache type (BackendOptions::kv_type): one of kKvTypes; which ones a backend runs is
// its own check, when it is created.
inline constexpr const char* kKvTypes[] = {"f32", "f16", "q8"};
std::string parse_kv_type(const std::string& flag, const std::string& text);

class FlagParser {
public:
    explicit FlagParser(std::string usage) : usage_(std::move(usage)) {}

    // A switch: no value.
    FlagParser& flag(std::vector<std::string> names, bool& set);
    // A flag with a value, handed to `set` with the flag's name as typed.
    FlagParser& value(std::vector<std::string> names,
                      std::function<void(const std::string& flag, const std::string& value)> set);
    FlagParser& text(std::vector<std::string> names, std::string& to);
    FlagParser& integer(std::vector<std::string> names, int& to, int min = INT_MIN, int max = INT_MAX);
    FlagParser& number(std::vector<std::string> names, double& to);
    // Arguments that are not flags, at most `max`; `too_many` starts the message for one more.
    FlagParser& positionals(std::vector<std::string>& to, size_t max, std::string too_many = "unexpected argument ");
    // Arguments starting with `prefix` are collected as they are (Google Benchmark's flags).
    FlagParser& pass_through(std::string prefix, std::vector<char*>& to);

    // Parses argv[first..argc). nullopt: parsed, go on. Otherwise the exit status to return
    // at once (0 after --help, 1 after a usage error, both already printed).
    std::optional<int> parse(int argc, char** argv, int first = 1);
    // Prints `problem` and the usage on stderr; returns 1, the usage-error exit status.
    int usage_error(const std::string& problem = "") const;

private:
    struct Flag {
        std::vector<std::string> names;
        bool takes_value = false;
        std::function<void(const std::string&, const std::string&)> set;
    };
    const Flag* find(const std::string& name) const;

    std::string usage_;
    std::vector<Flag> flags_;
    std::vector<std::string>* positionals_ = nullptr;
    size_t max_positionals_ = 0;
    std::string too_many_;
    std::string pass_prefix_;
    std::vector<char*>* passed_ = nullptr;
};

}  // namespace lhb::bench
