#include "bench/peer_command.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace lhb::bench {

const char* parser_name(PeerParser p) {
    switch (p) {
        case PeerParser::Llama2c: return "llama2c";
        case PeerParser::LlamaBench: return "llama-bench";
        case PeerParser::Regex: return "regex";
    }
    return "?";
}

// ---------------------------------------------------------------- commands

std::vector<std::string> split_command_line(const std::string& line) {
    std::vector<std::string> args;
    std::string cur;
    bool in_arg = false;
    for (size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (in_arg) args.push_back(cur), cur.clear(), in_arg = false;
            continue;
        }
        in_arg = true;
        if (c == '\'') {
            const size_t end = line.find('\'', i + 1);
            if (end == std::string::npos) throw std::invalid_argument("a ' opened at character " + std::to_string(i + 1) + " is never closed");
            cur += line.substr(i + 1, end - i - 1);
            i = end;
        } else if (c == '"') {
            size_t j = i + 1;
            for (; j < line.size() && line[j] != '"'; ++j) {
                if (line[j] == '\\' && j + 1 < line.size() && (line[j + 1] == '"' || line[j + 1] == '\\')) ++j;
                cur += line[j];
            }
            if (j >= line.size()) throw std::invalid_argument("a \" opened at character " + std::to_string(i + 1) + " is never closed");
            i = j;
        } else if (c == '\\') {
            if (i + 1 >= line.size()) throw std::invalid_argument("a \\ at the end of the line escapes nothing");
            cur += line[++i];
        } else {
            cur += c;
        }
    }
    if (in_arg) args.push_back(cur);
    if (args.empty()) throw std::invalid_argument("no program named (the command line is empty)");
    return args;
}

const std::vector<std::string>& peer_placeholders() {
    static const std::vector<std::string> names = {"model", "tokenizer", "threads", "n_prompt", "n_gen", "tokens"};
    return names;
}

namespace {

// Walks a template: calls literal(text) and placeholder(name) in order; returns the first
// problem instead when there is one.
template <typename Literal, typename Placeholder>
std::optional<std::string> walk_template(const std::string& t, Literal literal, Placeholder placeholder) {
    for (size_t i = 0; i < t.size(); ++i) {
        if ((t[i] == '{' || t[i] == '}') && i + 1 < t.size() && t[i + 1] == t[i]) {
            literal(std::string(1, t[i]));
            ++i;
        } else if (t[i] == '{') {
            const size_t end = t.find('}', i);
            if (end == std::string::npos) return "a { at character " + std::to_string(i + 1) + " is never closed (write {{ for a literal brace)";
            const std::string name = t.substr(i + 1, end - i - 1);
            const auto& known = peer_placeholders();
            if (std::find(known.begin(), known.end(), name) == known.end()) {
                std::string list;
                for (const auto& k : known) list += (list.empty() ? "{" : ", {") + k + "}";
                return "unknown placeholder {" + name + "} (expected one of " + list + "; {{ and }} for literal braces)";
            }
            placeholder(name);
            i = end;
        } else if (t[i] == '}') {
            return "a } at character " + std::to_string(i + 1) + " closes nothing (write }} for a literal brace)";
        } else {
            literal(std::string(1, t[i]));
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> template_problem(const std::string& text) {
    return walk_template(text, [](const std::string&) {}, [](const std::string&) {});
}

bool uses_placeholder(const std::string& text, const std::string& name) {
    bool used = false;
    walk_template(text, [](const std::string&) {}, [&](const std::string& n) { used = used || n == name; });
    return used;
}

std::string expand_template(const std::string& text, const PeerPoint& p) {
    std::string out;
    walk_template(
        text, [&](const std::string& s) { out += s; },
        [&](const std::string& n) {
            if (n == "model") out += p.model_file;
            else if (n == "tokenizer") out += p.tokenizer;
            else if (n == "threads") out += std::to_string(p.threads);
            else if (n == "n_prompt") out += std::to_string(p.n_prompt);
            else if (n == "n_gen") out += std::to_string(p.n_gen);
            else if (n == "tokens") out += std::to_string(p.n_prompt + p.n_gen);
        });
    return out;
}

std::string resolve_executable(const std::string& program, const std::string& dir) {
    auto executable = [](const std::string& path) {
        struct stat st {};
        return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
    };
    if (program.empty()) return "";
    if (program.find('/') != std::string::npos) {
        const std::string path =
            fs::path(program).is_absolute() ? program : (fs::path(dir) / program).lexically_normal().string();
        return executable(path) ? path : "";
    }
    const char* env = std::getenv("PATH");
    std::stringstream path_list(env ? env : "/usr/local/bin:/usr/bin:/bin");
    for (std::string d; std::getline(path_list, d, ':');) {
        const std::string path = (fs::path(d.empty() ? "." : d) / program).string();
        if (executable(path)) return path;
    }
    return "";
}

}  // namespace lhb::bench
