#include "bench/config.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/json_scan.hpp"
#include "core/synth.hpp"
#include "core/thread_limit.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lhb::bench {

const std::vector<std::string>& known_precisions() {
    // llama2.c's fp32 and int8 (version 2), then GGUF block types as llama.cpp names them.
    static const std::vector<std::string> p = {"fp32", "int8", "f16", "q8_0", "q4_0", "q6_k", "q4_k_m"};
    return p;
}

std::optional<std::string> precision_unsupported_reason(const std::string& precision) {
    // Every known precision runs now (int8: version-2 files or fp32 weights quantized once by
    // the sweep; GGUF types: files of that type or fp32 weights written as it); a file that
    // cannot serve a precision, or a backend that cannot run it, skips with its own reason.
    (void)precision;
    return std::nullopt;
}

TextPosition position_of_byte(const std::string& text, size_t byte) {
    // nlohmann counts bytes from 1 and reports the last character it read, so the error
    // sits at index byte-1; past the end means the end of the text.
    size_t at = std::min(byte == 0 ? 0 : byte - 1, text.size());
    TextPosition p;
    size_t line_start = 0;
    for (size_t i = 0; i < at; ++i)
        if (text[i] == '\n') ++p.line, line_start = i + 1;
    p.column = int(at - line_start) + 1;
    return p;
}

namespace {

std::string escape_pointer_token(const std::string& key) {
    std::string s;
    for (char c : key) {
        if (c == '~') s += "~0";
        else if (c == '/') s += "~1";
        else s += c;
    }
    return s;
}

// How a value looks in a message: its JSON type and a short rendering of it.
std::string describe(const json& v) {
    std::string text = v.dump();
    if (text.size() > 40) text = text.substr(0, 37) + "...";
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return "boolean " + text;
        case json::value_t::string: return "string " + text;
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "integer " + text;
        case json::value_t::number_float: return "number " + text;
        case json::value_t::array: return "array " + text;
        case json::value_t::object: return "object " + text;
        default: return text;
    }
}

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ") {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
    return s;
}

// Field checks that know which file they are reading, so every message names it.
class Checker {
public:
    explicit Checker(std::string file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const std::string& ptr, const std::string& expected, const json& found) const {
        fail_input(file_, ptr.empty() ? "/" : ptr, expected, describe(found));
    }
    [[noreturn]] void fail_text(const std::string& ptr, const std::string& message) const {
        throw InputError(file_ + ": " + (ptr.empty() ? "/" : ptr) + ": " + message);
    }

    // An object whose keys must all be in `allowed`; `required` ones must be present.
    void object(const json& v, const std::string& ptr, const std::vector<std::string>& allowed,
                const std::vector<std::string>& required = {}) const {
        if (!v.is_object()) fail(ptr, "an object", v);
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
            std::string near = nearest_name(it.key(), allowed);
            fail_text(ptr + "/" + escape_pointer_token(it.key()),
                      "unknown key \"" + it.key() + "\"" +
                          (near.empty() ? "" : "; did you mean \"" + near + "\"?") +
                          " (expected one of: " + join(allowed) + ")");
        }
        for (const auto& k : required)
            if (!v.contains(k)) fail_text(ptr + "/" + k, "missing; expected it to be set");
    }

    std::string string(const json& v, const std::string& ptr, bool allow_empty = false) const {
        if (!v.is_string()) fail(ptr, "a string", v);
        if (!allow_empty && v.get<std::string>().empty()) fail(ptr, "a non-empty string", v);
        return v.get<std::string>();
    }

    int integer(const json& v, const std::string& ptr, int lo, int hi) const {
        std::string range = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
        if (!v.is_number_integer()) {
            // 2.0 is a float in JSON terms, but clearly meant as 2.
            if (v.is_number_float() && std::isfinite(v.get<double>()) && v.get<double>() == std::trunc(v.get<double>()))
                ;
            else
                fail(ptr, range, v);
        }
        double d = v.get<double>();
        if (d < lo || d > hi) fail(ptr, range, v);
        return int(d);
    }

    double number(const json& v, const std::string& ptr, double exclusive_lo) const {
        if (!v.is_number()) fail(ptr, "a number > " + fmt(exclusive_lo), v);
        double d = v.get<double>();
        if (!(d > exclusive_lo)) fail(ptr, "a number > " + fmt(exclusive_lo), v);
        return d;
    }

    bool boolean(const json& v, const std::string& ptr) const {
        if (!v.is_boolean()) fail(ptr, "true or false", v);
        return v.get<bool>();
    }

    // A non-empty array of distinct integers in [lo, hi]; a bare integer is a list of one.
    std::vector<int> int_list(const json& v, const std::string& ptr, int lo, int hi) const {
        if (v.is_number()) return {integer(v, ptr, lo, hi)};
        if (!v.is_array() || v.empty())
            fail(ptr, "a non-empty array of integers in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v);
        std::vector<int> out;
        for (size_t i = 0; i < v.size(); ++i) {
            int x = integer(v[i], ptr + "/" + std::to_string(i), lo, hi);
            if (std::find(out.begin(), out.end(), x) != out.end())
                fail(ptr + "/" + std::to_string(i), "a value not already listed", v[i]);
            out.push_back(x);
        }
        return out;
    }

    // Thread counts: the project's range first (the message of any integer list), then what
    // this machine lets a process create, so that a count it cannot give is named here and
    // not by the threading runtime's abort in the middle of a sweep.
    std::vector<int> thread_list(const json& v, const std::string& ptr) const {
        std::vector<int> threads = int_list(v, ptr, 1, kMaxThreads);
        const int machine = max_thread_count();
        for (size_t i = 0; i < threads.size(); ++i)
            if (threads[i] > machine)
                fail(v.is_array() ? ptr + "/" + std::to_string(i) : ptr,
                     "at most " + std::to_string(machine) +
                         " threads (what this machine lets a process create: RLIMIT_NPROC, kernel.threads-max)",
                     v.is_array() ? v[i] : v);
        return threads;
    }

    const std::string& file() const { return file_; }

private:
    static std::string fmt(double d) {
        std::ostringstream s;
        s << d;
        return s.str();
    }
    std::string file_;
};

// Without throwing: a path the OS refuses (too long, not a folder on the way) is not a file.
bool is_file(const std::string& path) {
    std::error_code ec;
    return fs::is_regular_file(path, ec);
}

std::string resolve(const std::string& dir, const std::string& path) {
    if (path.empty() || fs::path(path).is_absolute()) return path;
    return (fs::path(dir) / path).lexically_normal().string();
}

const std::vector<std::string> kTopKeys = {
    "$schema",     "name",          "description",     "models",  "backends",
    "precisions",  "threads",       "prompt_tokens",   "prompt",  "generate_tokens",
    "n_prompt",    "n_gen",         "n_depth",         "depth",
    "warmup",      "repetitions",   "correctness_steps", "board", "xclbin",
    "published",   "out",           "peers"};
const std::vector<std::string> kModelKeys = {"name", "path", "tokenizer", "shape", "seed"};
const std::vector<std::string> kBackendKeys = {"name", "threads", "xclbin", "fused"};
const std::vector<std::string> kPublishedKeys = {"name",  "backend", "model",   "precision",
                                                 "tok_s", "tokens",  "seconds", "source"};

constexpr int kMaxTokens = 1 << 20;

// ---------------------------------------------------------------- peers
const std::vector<std::string> kPeerKeys = {"name",    "command", "env",       "parser", "threads",
                                            "models", "precision", "timeout_s"};
const std::vector<std::string> kPeerParsers = {"llama2c", "llama-bench"};

// A peer's "command": a command line (split as bench/peers.hpp says) or an array of
// arguments; each (pointer, argument template) is checked for its placeholders.
std::vector<std::pair<std::string, std::string>> peer_command(const Checker& c, const json& cmd, const std::string& ptr) {
    std::vector<std::pair<std::string, std::string>> args;
    if (cmd.is_string()) {
        try {
            for (const std::string& a : split_command_line(cmd.get<std::string>())) args.emplace_back(ptr, a);
        } catch (const std::invalid_argument& e) {
            c.fail_text(ptr, std::string("cannot split the command line: ") + e.what());
        }
    } else if (cmd.is_array() && !cmd.empty()) {
        for (size_t j = 0; j < cmd.size(); ++j)
            args.emplace_back(ptr + "/" + std::to_string(j), c.string(cmd[j], ptr + "/" + std::to_string(j), j > 0));
    } else {
        c.fail(ptr, "a command line (string) or a non-empty array of arguments", cmd);
    }
    for (const auto& [p, a] : args)
        if (auto why = template_problem(a)) c.fail_text(p, *why);
    return args;
}

PeerEntry parse_peer(const Checker& c, const json& p, const std::string& ptr, const RunConfig& cfg) {
    c.object(p, ptr, kPeerKeys, {"name", "command", "parser"});
    PeerEntry e;
    e.pointer = ptr;
    e.name = c.string(p["name"], ptr + "/name");
    if (!std::regex_match(e.name, std::regex("[A-Za-z0-9._+-]{1,64}")))
        c.fail(ptr + "/name", "1 to 64 characters from A-Z a-z 0-9 . _ + - (it names the peer's rows)", p["name"]);
    const auto args = peer_command(c, p["command"], ptr + "/command");
    const std::string& program = args.front().second;
    if (program.find('{') != std::string::npos)
        c.fail_text(args.front().first, "expected the program as a path or a name on PATH, without placeholders");
    e.executable = resolve_executable(program, cfg.dir);
    if (e.executable.empty())
        c.fail_text(args.front().first,
                    "peer \"" + e.name + "\": expected an executable file, found none at \"" + program + "\"" +
                        (program.find('/') != std::string::npos ? " (relative paths resolve against " + cfg.dir + ")"
                                                                : " on PATH") +
                        " (../shared/docs/peers.md says how llama2.c and llama.cpp are built)");
    for (const auto& a : args) e.command.push_back(a.second);
    std::vector<std::pair<std::string, std::string>> templates = args;
    if (p.contains("env")) {
        const json& env = p["env"];
        if (!env.is_object()) c.fail(ptr + "/env", "an object of environment variables (name: value)", env);
        for (auto it = env.begin(); it != env.end(); ++it) {
            const std::string vp = ptr + "/env/" + escape_pointer_token(it.key());
            if (it.key().empty() || it.key().find('=') != std::string::npos)
                c.fail_text(vp, "expected a variable name without '='");
            e.env[it.key()] = c.string(it.value(), vp, true);
            if (auto why = template_problem(e.env[it.key()])) c.fail_text(vp, *why);
            templates.emplace_back(vp, e.env[it.key()]);
        }
    }
    const json& parser = p["parser"];
    if (parser.is_string()) {
        const std::string name = parser.get<std::string>();
        if (name == "llama2c") e.parser = PeerParser::Llama2c;
        else if (name == "llama-bench") e.parser = PeerParser::LlamaBench;
        else {
            const std::string near = nearest_name(name, kPeerParsers);
            c.fail(ptr + "/parser",
                   "\"llama2c\", \"llama-bench\" or an object {\"decode\": REGEX, \"prefill\": REGEX}" +
                       (near.empty() ? "" : " (did you mean \"" + near + "\"?)"),
                   parser);
        }
    } else if (parser.is_object()) {
        c.object(parser, ptr + "/parser", {"decode", "prefill"});
        if (parser.empty()) c.fail_text(ptr + "/parser", "expected a \"decode\" or a \"prefill\" regex, found neither");
        e.parser = PeerParser::Regex;
        for (const char* k : {"decode", "prefill"}) {
            if (!parser.contains(k)) continue;
            const std::string rp = ptr + "/parser/" + k;
            const std::string re = c.string(parser[k], rp);
            try {
                if (std::regex(re).mark_count() < 1) c.fail_text(rp, "expected a regex with a group capturing the number, found none");
            } catch (const std::regex_error& err) {
                c.fail_text(rp, std::string("expected an ECMAScript regular expression: ") + err.what());
            }
            (std::string(k) == "decode" ? e.decode_regex : e.prefill_regex) = re;
        }
    } else {
        c.fail(ptr + "/parser", "\"llama2c\", \"llama-bench\" or an object {\"decode\": REGEX, \"prefill\": REGEX}", parser);
    }
    if (p.contains("threads")) e.threads = c.thread_list(p["threads"], ptr + "/threads");
    if (p.contains("models")) {
        const json& models = p["models"];
        if (!models.is_object() || models.empty())
            c.fail(ptr + "/models", "an object naming a file for some of the config's models (model name: path)", models);
        std::vector<std::string> names;
        for (const ModelEntry& m : cfg.models) names.push_back(m.name);
        for (auto it = models.begin(); it != models.end(); ++it) {
            const std::string mp = ptr + "/models/" + escape_pointer_token(it.key());
            if (std::find(names.begin(), names.end(), it.key()) == names.end()) {
                const std::string near = nearest_name(it.key(), names);
                c.fail_text(mp, "expected the name of one of the config's models (" + join(names) + ")" +
                                    (near.empty() ? "" : "; did you mean \"" + near + "\"?"));
            }
            const std::string file = resolve(cfg.dir, c.string(it.value(), mp));
            if (!is_file(file)) c.fail_text(mp, "peer model file " + file + " not found");
            e.models[it.key()] = file;
        }
    }
    if (p.contains("precision")) e.precision = c.string(p["precision"], ptr + "/precision");
    if (p.contains("timeout_s")) {
        e.timeout_s = c.number(p["timeout_s"], ptr + "/timeout_s", 0);
        if (e.timeout_s > 7 * 86400) c.fail(ptr + "/timeout_s", "a number of seconds in (0, 604800]", p["timeout_s"]);
    }
    for (const auto& [tp, t] : templates)
        if (uses_placeholder(t, "tokenizer"))
            for (const ModelEntry& m : cfg.models)
                if (m.tokenizer.empty() && (e.models.empty() || e.models.count(m.name)))
                    c.fail_text(tp, "uses {tokenizer}, but model \"" + m.name + "\" (" + m.pointer +
                                        ") has none; expected a \"tokenizer\" for it");
    return e;
}

}  // namespace

// Long (about 150 lines) on purpose: it reads the config's fields top to bottom in the order
// docs/config.md documents them, one check per field, so the two can be read side by side.
RunConfig parse_config(const std::string& text, const std::string& file) {
    Checker c(file);
    json root;
    scan_json(text, file, {kMaxNestingDepth, kMaxConfigBytes});
    try {
        root = json::parse(text);
    } catch (const json::parse_error& e) {
        TextPosition p = position_of_byte(text, e.byte);
        // nlohmann's what() is "[json.exception.parse_error.101] parse error at line L,
        // column C: <reason>"; keep only the reason, in our own format.
        std::string reason = e.what();
        if (size_t colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
        throw InputError(file + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) +
                         ": invalid JSON at line " + std::to_string(p.line) + ", column " +
                         std::to_string(p.column) + ": " + reason);
    } catch (const json::exception& e) {  // e.g. out_of_range.406: a number too large for a double
        std::string reason = e.what();
        if (size_t bracket = reason.find("] "); bracket != std::string::npos) reason = reason.substr(bracket + 2);
        throw InputError(file + ": invalid JSON: " + reason);
    }

    RunConfig cfg;
    cfg.file = file;
    cfg.dir = fs::path(file).parent_path().string();
    if (cfg.dir.empty()) cfg.dir = ".";
    cfg.source = root;
    cfg.text = text;
    c.object(root, "", kTopKeys, {"name", "models", "backends"});

    cfg.name = c.string(root["name"], "/name");
    if (!std::regex_match(cfg.name, std::regex("[A-Za-z0-9._-]{1,64}")))
        c.fail("/name", "1 to 64 characters from A-Z a-z 0-9 . _ - (it names the output folder)", root["name"]);
    if (root.contains("description")) cfg.description = c.string(root["description"], "/description", true);

    // models
    const json& models = root["models"];
    if (!models.is_array() || models.empty()) c.fail("/models", "a non-empty array of model objects", models);
    std::set<std::string> model_names;
    for (size_t i = 0; i < models.size(); ++i) {
        const std::string ptr = "/models/" + std::to_string(i);
        const json& m = models[i];
        c.object(m, ptr, kModelKeys, {"name", "path"});
        ModelEntry e;
        e.pointer = ptr;
        e.name = c.string(m["name"], ptr + "/name");
        if (!model_names.insert(e.name).second) c.fail(ptr + "/name", "a name not used by another model", m["name"]);
        e.path = resolve(cfg.dir, c.string(m["path"], ptr + "/path"));
        if (m.contains("tokenizer")) e.tokenizer = resolve(cfg.dir, c.string(m["tokenizer"], ptr + "/tokenizer"));
        if (m.contains("shape")) {
            e.shape = c.string(m["shape"], ptr + "/shape");
            try {
                parse_shape(e.shape);
            } catch (const InputError& err) {
                c.fail_text(ptr + "/shape", err.what());
            }
        }
        if (m.contains("seed")) e.seed = uint64_t(c.integer(m["seed"], ptr + "/seed", 1, 1 << 30));
        const bool have_file = is_file(e.path);
        if (!have_file && e.shape.empty())
            c.fail_text(ptr + "/path", "model file " + e.path + " not found and no " + ptr +
                                           "/shape to synthesize it from; expected an existing checkpoint or a \"shape\" "
                                           "(" + shape_names() + ")");
        if (have_file && !e.tokenizer.empty() && !is_file(e.tokenizer))
            c.fail_text(ptr + "/tokenizer", "tokenizer file " + e.tokenizer + " not found");
        cfg.models.push_back(std::move(e));
    }

    // the top-level axes
    cfg.threads = root.contains("threads") ? c.thread_list(root["threads"], "/threads")
                                           : std::vector<int>{1};
    // The length axes (docs/config.md): combined points, llama-bench's prefill-only and
    // decode-only tests, and the depth of all of them.
    auto axis = [&](const char* key, int lo) {
        return root.contains(key) ? c.int_list(root[key], std::string("/") + key, lo, kMaxTokens) : std::vector<int>{};
    };
    cfg.prompt_tokens = axis("prompt_tokens", 1);
    // The first generated token is left out of decode tok/s, so at least 2.
    cfg.generate_tokens = axis("generate_tokens", 2);
    cfg.pp_tokens = axis("n_prompt", 1);
    cfg.tg_tokens = axis("n_gen", 2);
    const bool llama_bench_axes = !cfg.pp_tokens.empty() || !cfg.tg_tokens.empty();
    if (cfg.prompt_tokens.empty() && (!cfg.generate_tokens.empty() || !llama_bench_axes)) cfg.prompt_tokens = {32};
    if (cfg.generate_tokens.empty() && !cfg.prompt_tokens.empty()) cfg.generate_tokens = {64};
    if (root.contains("n_depth") && root.contains("depth"))
        c.fail_text("/depth", "the same axis as /n_depth; expected one of them");
    if (root.contains("depth")) cfg.depth_key = "depth";
    cfg.depth_tokens = root.contains(cfg.depth_key) ? c.int_list(root[cfg.depth_key], "/" + cfg.depth_key, 0, kMaxTokens)
                                                    : std::vector<int>{0};
    if (root.contains("prompt")) cfg.prompt = c.string(root["prompt"], "/prompt");
    else cfg.prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun.";
    if (root.contains("warmup")) cfg.warmup = c.integer(root["warmup"], "/warmup", 0, 100);
    if (root.contains("repetitions")) cfg.repetitions = c.integer(root["repetitions"], "/repetitions", 1, 1000);
    if (root.contains("correctness_steps"))
        cfg.correctness_steps = c.integer(root["correctness_steps"], "/correctness_steps", 1, kMaxTokens);

    if (root.contains("precisions")) {
        const json& p = root["precisions"];
        std::string expected = "a non-empty array of distinct precisions (" + join(known_precisions()) + ")";
        if (!p.is_array() || p.empty()) c.fail("/precisions", expected, p);
        for (size_t i = 0; i < p.size(); ++i) {
            const std::string ptr = "/precisions/" + std::to_string(i);
            std::string name = c.string(p[i], ptr);
            const auto& known = known_precisions();
            if (std::find(known.begin(), known.end(), name) == known.end()) {
                std::string near = nearest_name(name, known);
                c.fail(ptr, "one of " + join(known) + (near.empty() ? "" : " (did you mean \"" + near + "\"?)"), p[i]);
            }
            if (std::find(cfg.precisions.begin(), cfg.precisions.end(), name) != cfg.precisions.end())
                c.fail(ptr, "a precision not already listed", p[i]);
            cfg.precisions.push_back(name);
        }
    } else {
        cfg.precisions = {"fp32"};
    }

    if (root.contains("xclbin")) cfg.xclbin = resolve(cfg.dir, c.string(root["xclbin"], "/xclbin"));
    if (root.contains("board")) {
        cfg.board = resolve(cfg.dir, c.string(root["board"], "/board"));
        if (!is_file(cfg.board)) c.fail_text("/board", "board file " + cfg.board + " not found");
    }

    // backends: "name" or {"name": ..., "threads": [...], "xclbin": ..., "fused": ...}
    const json& backends = root["backends"];
    if (!backends.is_array() || backends.empty())
        c.fail("/backends", "a non-empty array of backend names or objects", backends);
    for (size_t i = 0; i < backends.size(); ++i) {
        const std::string ptr = "/backends/" + std::to_string(i);
        const json& b = backends[i];
        BackendEntry e;
        e.pointer = ptr;
        if (b.is_string()) {
            e.name = c.string(b, ptr);
        } else if (b.is_object()) {
            c.object(b, ptr, kBackendKeys, {"name"});
            e.name = c.string(b["name"], ptr + "/name");
            if (b.contains("threads")) e.threads = c.thread_list(b["threads"], ptr + "/threads");
            if (b.contains("xclbin")) e.xclbin = resolve(cfg.dir, c.string(b["xclbin"], ptr + "/xclbin"));
            if (b.contains("fused")) e.fused = c.boolean(b["fused"], ptr + "/fused");
        } else {
            c.fail(ptr, "a backend name or an object {\"name\": ..., \"threads\": [...]}", b);
        }
        for (const auto& prev : cfg.backends)
            if (prev.name == e.name && prev.fused == e.fused) c.fail(ptr, "a backend not already listed", b);
        cfg.backends.push_back(std::move(e));
    }

    if (root.contains("published")) {
        const json& p = root["published"];
        if (!p.is_array()) c.fail("/published", "an array of published figures", p);
        for (size_t i = 0; i < p.size(); ++i) {
            const std::string ptr = "/published/" + std::to_string(i);
            c.object(p[i], ptr, kPublishedKeys, {"name", "backend", "model", "tok_s", "source"});
            PublishedEntry e;
            e.name = c.string(p[i]["name"], ptr + "/name");
            e.backend = c.string(p[i]["backend"], ptr + "/backend");
            e.model = c.string(p[i]["model"], ptr + "/model");
            e.precision = p[i].contains("precision") ? c.string(p[i]["precision"], ptr + "/precision") : "fp32";
            e.tok_s = c.number(p[i]["tok_s"], ptr + "/tok_s", 0);
            if (p[i].contains("tokens")) e.tokens = c.integer(p[i]["tokens"], ptr + "/tokens", 1, kMaxTokens);
            if (p[i].contains("seconds")) e.seconds = c.number(p[i]["seconds"], ptr + "/seconds", 0);
            e.source = c.string(p[i]["source"], ptr + "/source");
            cfg.published.push_back(std::move(e));
        }
    }

    if (root.contains("peers")) {
        if (!root["peers"].is_array()) c.fail("/peers", "an array of peer objects", root["peers"]);
        for (size_t i = 0; i < root["peers"].size(); ++i) {
            const std::string ptr = "/peers/" + std::to_string(i);
            PeerEntry e = parse_peer(c, root["peers"][i], ptr, cfg);
            for (const PeerEntry& prev : cfg.peers)
                if (prev.name == e.name) c.fail(ptr + "/name", "a name not used by another peer", root["peers"][i]["name"]);
            cfg.peers.push_back(std::move(e));
        }
    }

    cfg.out = root.contains("out") ? resolve(cfg.dir, c.string(root["out"], "/out")) : "reports/" + cfg.name;
    return cfg;
}

RunConfig load_config(const std::string& file) {
    return parse_config(read_input_file(file, kMaxConfigBytes, "config file"), file);
}

}  // namespace lhb::bench
