#include "bench/peers.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "bench/config.hpp"
#include "bench/measure.hpp"
#include "bench/progress.hpp"

extern char** environ;

using nlohmann::json;

namespace lhb::bench {

// ---------------------------------------------------------------- parsing output

namespace {

std::optional<double> positive_number(const std::string& text) {
    const char* s = text.c_str();
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end == s) return std::nullopt;
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '"') ++end;
    if (*end != '\0' || !std::isfinite(v) || v <= 0) return std::nullopt;
    return v;
}

std::string last_line(const std::string& text) {
    size_t end = text.find_last_not_of(" \t\r\n");
    if (end == std::string::npos) return "";
    size_t begin = text.rfind('\n', end);
    std::string line = text.substr(begin == std::string::npos ? 0 : begin + 1, end + 1 - (begin == std::string::npos ? 0 : begin + 1));
    if (line.size() > 160) line = line.substr(0, 157) + "...";
    return line;
}

std::string found_text(const std::string& out, const std::string& err) {
    if (out.find_first_not_of(" \t\r\n") == std::string::npos && err.find_first_not_of(" \t\r\n") == std::string::npos)
        return "found no output";
    std::string s = "found";
    if (!last_line(out).empty()) s += " stdout ending \"" + last_line(out) + "\"";
    if (!last_line(err).empty()) s += std::string(s.size() > 5 ? "," : "") + " stderr ending \"" + last_line(err) + "\"";
    return s;
}

// One test of llama-bench's output.
struct BenchTest {
    double n_prompt = 0, n_gen = 0;
    std::optional<double> n_threads, avg_ts;
};

std::vector<std::string> csv_split(const std::string& line) {
    std::vector<std::string> cells(1);
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') cells.back() += '"', ++i;
        else if (c == '"') quoted = !quoted;
        else if (c == ',' && !quoted) cells.emplace_back();
        else if (c != '\r') cells.back() += c;
    }
    return cells;
}

std::optional<double> json_number(const json& o, const char* key) {
    if (!o.is_object() || !o.contains(key)) return std::nullopt;
    const json& v = o[key];
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
        const std::string text = v.get<std::string>();  // strtod's end points into it
        char* end = nullptr;
        const double d = std::strtod(text.c_str(), &end);
        if (end && *end == '\0' && !text.empty()) return d;
    }
    return std::nullopt;
}

// llama-bench's -o json (an array), jsonl (an object a line) or csv (a header line).
std::vector<BenchTest> bench_tests(const std::string& out) {
    std::vector<json> records;
    const size_t first = out.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    if (out[first] == '[') {
        try {
            for (const json& r : json::parse(out.substr(first))) records.push_back(r);
        } catch (const json::exception&) {
            return {};
        }
    } else if (out[first] == '{') {
        std::istringstream lines(out);
        for (std::string line; std::getline(lines, line);) {
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            try {
                records.push_back(json::parse(line));
            } catch (const json::exception&) {
                // not a record (a stray log line on stdout)
            }
        }
    } else {
        std::istringstream lines(out.substr(first));
        std::string header_line;
        std::getline(lines, header_line);
        const std::vector<std::string> header = csv_split(header_line);
        for (std::string line; std::getline(lines, line);) {
            const std::vector<std::string> cells = csv_split(line);
            if (cells.size() != header.size()) continue;
            json r = json::object();
            for (size_t i = 0; i < cells.size(); ++i) r[header[i]] = cells[i];
            records.push_back(r);
        }
    }
    std::vector<BenchTest> tests;
    for (const json& r : records) {
        const auto p = json_number(r, "n_prompt"), g = json_number(r, "n_gen");
        if (!p || !g) continue;
        BenchTest t;
        t.n_prompt = *p;
        t.n_gen = *g;
        t.n_threads = json_number(r, "n_threads");
        t.avg_ts = json_number(r, "avg_ts");
        tests.push_back(t);
    }
    return tests;
}

// The avg_ts of the test of one kind (pp: prefill, tg: decode) meant for this point: the one
// with the point's length (and threads, when the output says), else the only one there is.
std::optional<double> pick_test(const std::vector<BenchTest>& tests, bool prefill, const PeerPoint& point,
                                std::string& error) {
    std::vector<const BenchTest*> kind, matching;
    for (const BenchTest& t : tests) {
        const bool is_kind = prefill ? (t.n_prompt > 0 && t.n_gen == 0) : (t.n_prompt == 0 && t.n_gen > 0);
        if (!is_kind) continue;
        kind.push_back(&t);
        const bool length = prefill ? t.n_prompt == point.n_prompt : t.n_gen == point.n_gen;
        if (length && (!t.n_threads || *t.n_threads == point.threads)) matching.push_back(&t);
    }
    const BenchTest* t = !matching.empty() ? matching.front() : kind.size() == 1 ? kind.front() : nullptr;
    if (!t && kind.size() > 1)
        error = std::string("several ") + (prefill ? "pp" : "tg") + " tests and none with " +
                (prefill ? "n_prompt " + std::to_string(point.n_prompt) : "n_gen " + std::to_string(point.n_gen)) +
                " and n_threads " + std::to_string(point.threads);
    if (!t) return std::nullopt;
    if (!t->avg_ts || *t->avg_ts <= 0 || !std::isfinite(*t->avg_ts)) {
        error = std::string("its ") + (prefill ? "pp" : "tg") + " test has no avg_ts > 0";
        return std::nullopt;
    }
    return t->avg_ts;
}

// The first group of the last match of `pattern` in `text`, as a number.
std::optional<double> last_match(const std::string& pattern, const std::string& text) {
    const std::regex re(pattern);
    std::optional<std::string> group;
    for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) group = (*it)[1].str();
    return group ? positive_number(*group) : std::nullopt;
}

}  // namespace

ParsedPeerOutput parse_peer_output(const PeerEntry& peer, const PeerPoint& point, const std::string& out,
                                   const std::string& err) {
    ParsedPeerOutput r;
    switch (peer.parser) {
        case PeerParser::Llama2c: {
            const std::string both = out + "\n" + err;
            const std::string key = "achieved tok/s:";
            const size_t at = both.rfind(key);
            if (at != std::string::npos) {
                const size_t eol = both.find('\n', at);
                r.decode_tok_s = positive_number(both.substr(at + key.size(), eol == std::string::npos ? std::string::npos : eol - at - key.size()));
            }
            if (!r.decode_tok_s)
                r.error = "expected a line \"achieved tok/s: <number > 0>\" (llama2.c's run/runomp/runq print it on stderr), " +
                          found_text(out, err);
            break;
        }
        case PeerParser::LlamaBench: {
            const std::vector<BenchTest> tests = bench_tests(out);
            std::string why;
            r.prefill_tok_s = pick_test(tests, true, point, why);
            r.decode_tok_s = pick_test(tests, false, point, why);
            if (!r.prefill_tok_s && !r.decode_tok_s)
                r.error = "expected llama-bench results on stdout (-o jsonl, json or csv) with a tg test (n_prompt 0, "
                          "n_gen > 0) or a pp test (n_gen 0) and its avg_ts; " +
                          (why.empty() ? std::to_string(tests.size()) + " tests read, " + found_text(out, err) : why);
            break;
        }
        case PeerParser::Regex: {
            const std::string both = out + "\n" + err;
            if (!peer.decode_regex.empty()) r.decode_tok_s = last_match(peer.decode_regex, both);
            if (!peer.prefill_regex.empty()) r.prefill_tok_s = last_match(peer.prefill_regex, both);
            std::string missing;
            if (!peer.decode_regex.empty() && !r.decode_tok_s) missing = "decode regex /" + peer.decode_regex + "/";
            if (!peer.prefill_regex.empty() && !r.prefill_tok_s)
                missing += (missing.empty() ? "" : " and ") + ("prefill regex /" + peer.prefill_regex + "/");
            if (!missing.empty())
                r.error = "expected output matching the " + missing + " (its first group a number > 0), " + found_text(out, err);
            break;
        }
    }
    return r;
}

// ---------------------------------------------------------------- one run

namespace {

constexpr size_t kMaxOutputBytes = 16u << 20;

struct Pipe {
    int fd[2] = {-1, -1};
    bool open() { return ::pipe2(fd, O_CLOEXEC) == 0; }
    void close_end(int i) {
        if (fd[i] >= 0) ::close(fd[i]), fd[i] = -1;
    }
    ~Pipe() { close_end(0), close_end(1); }
};

std::string signal_text(int sig) {
    const char* name = ::strsignal(sig);
    return "signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
}

}  // namespace

// Long (about 120 lines) because a child process has one life cycle: prepared, started,
// drained while watched for a deadline and a stop, reaped, then judged.
PeerRunResult PeerRunner::run_once(const PeerEntry& peer, const PeerPoint& point, EnergyMeter* meter) {
    PeerRunResult r;
    for (size_t i = 0; i < peer.command.size(); ++i)
        r.argv.push_back(i == 0 ? peer.executable : expand_template(peer.command[i], point));
    for (const auto& [k, v] : peer.env) r.env[k] = expand_template(v, point);
    // Everything the child needs is built before fork: after it, only async-signal-safe calls.
    std::vector<char*> argv;
    for (std::string& a : r.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; e && *e; ++e) {
        const std::string entry = *e;
        if (!r.env.count(entry.substr(0, entry.find('=')))) env_strings.push_back(entry);
    }
    for (const auto& [k, v] : r.env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (std::string& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    Pipe out, err, status;
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!out.open() || !err.open() || !status.open() || devnull < 0) {
        if (devnull >= 0) ::close(devnull);
        r.error = std::string("cannot create pipes to run it: ") + std::strerror(errno);
        return r;
    }
    if (meter) meter->start();
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setpgid(0, 0);  // its own group: a timeout kills whatever it started too
        ::dup2(devnull, 0), ::dup2(out.fd[1], 1), ::dup2(err.fd[1], 2);
        ::execve(argv[0], argv.data(), envp.data());
        const int e = errno;
        [[maybe_unused]] ssize_t n = ::write(status.fd[1], &e, sizeof e);
        ::_exit(127);
    }
    ::close(devnull);
    if (pid < 0) {
        if (meter) meter->stop();
        r.error = std::string("cannot start a process: ") + std::strerror(errno);
        return r;
    }
    ::setpgid(pid, pid);
    out.close_end(1), err.close_end(1), status.close_end(1);
    int exec_errno = 0;
    ssize_t n;
    do n = ::read(status.fd[0], &exec_errno, sizeof exec_errno);
    while (n < 0 && errno == EINTR);
    if (n == ssize_t(sizeof exec_errno)) {
        ::waitpid(pid, nullptr, 0);
        if (meter) meter->stop();
        r.error = "cannot execute " + r.argv[0] + ": " + std::strerror(exec_errno);
        return r;
    }

    std::string text[2];
    int fds[2] = {out.fd[0], err.fd[0]};
    // Non-blocking: something the peer started and left running may hold the pipes open.
    for (int fd : fds) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    const auto deadline = t0 + std::chrono::duration<double>(peer.timeout_s);
    bool reaped = false, timed_out = false, stopped = false, too_much = false;
    int wait_status = 0;
    while (!reaped) {
        pollfd p[2];
        int np = 0;
        for (int i = 0; i < 2; ++i)
            if (fds[i] >= 0) p[np++] = {fds[i], POLLIN, 0};
        ::poll(np ? p : nullptr, nfds_t(np), 50);
        for (int k = 0; k < np; ++k) {
            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const int i = p[k].fd == fds[0] ? 0 : 1;
            char buf[65536];
            const ssize_t got = ::read(fds[i], buf, sizeof buf);
            if (got > 0) {
                text[i].append(buf, size_t(got));
                too_much = too_much || text[i].size() > kMaxOutputBytes;
            } else if (got == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
                fds[i] = -1;  // the Pipe closes it
            }
        }
        if (::waitpid(pid, &wait_status, WNOHANG) == pid) {
            reaped = true;
            break;
        }
        timed_out = timed_out || std::chrono::steady_clock::now() > deadline;
        stopped = stopped || stop_requested();
        if (timed_out || stopped || too_much) {
            ::kill(-pid, SIGKILL);
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &wait_status, 0);
            reaped = true;
        }
    }
    ::kill(-pid, SIGKILL);  // what it left running in its group would disturb the next measurement
    // What the process wrote before it exited and is still in the pipes.
    for (int i = 0; i < 2; ++i) {
        char buf[65536];
        ssize_t got;
        while (fds[i] >= 0 && text[i].size() <= kMaxOutputBytes && (got = ::read(fds[i], buf, sizeof buf)) > 0)
            text[i].append(buf, size_t(got));
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (meter) r.energy = meter->stop();

    if (stopped) {
        r.interrupted = true;
        r.error = "interrupted (the run was stopped)";
    } else if (timed_out) {
        r.error = "did not finish within timeout_s = " + json(peer.timeout_s).dump() + " s (killed); " + found_text(text[0], text[1]);
    } else if (too_much) {
        r.error = "printed more than 16 MiB (killed); expected a benchmark's summary";
    } else if (WIFSIGNALED(wait_status)) {
        r.error = "killed by " + signal_text(WTERMSIG(wait_status)) + "; " + found_text(text[0], text[1]);
    } else if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) != 0) {
        r.error = "exited with status " + std::to_string(WEXITSTATUS(wait_status)) + "; " + found_text(text[0], text[1]);
    } else {
        const ParsedPeerOutput parsed = parse_peer_output(peer, point, text[0], text[1]);
        r.decode_tok_s = parsed.decode_tok_s;
        r.prefill_tok_s = parsed.prefill_tok_s;
        r.error = parsed.error;
    }
    return r;
}

// ---------------------------------------------------------------- in a sweep

namespace {

// Every thread count the sweep's own points use, in order of first appearance.
std::vector<int> sweep_threads(const RunConfig& cfg) {
    std::vector<int> all;
    for (const BackendEntry& b : cfg.backends)
        for (int t : b.threads.empty() ? cfg.threads : b.threads)
            if (std::find(all.begin(), all.end(), t) == all.end()) all.push_back(t);
    return all;
}

const char* what_it_measures(PeerParser p) {
    switch (p) {
        case PeerParser::Llama2c:
            return "llama2.c's own 'achieved tok/s': every position after the first (prompt and generated), one "
                   "forward pass each, timed by llama2.c";
        case PeerParser::LlamaBench:
            return "llama-bench's avg_ts, timed by llama-bench: decode = its tg test (n_gen tokens from an empty "
                   "context), prefill = its pp test (n_prompt tokens as one batch)";
        case PeerParser::Regex: return "the tok/s the peer printed (captured by the config's regexes), its own timing";
    }
    return "";
}

}  // namespace

PeerSchedule::PeerSchedule(const RunConfig& cfg) : repetitions_(cfg.repetitions) {
    const std::vector<int> all_threads = sweep_threads(cfg);
    for (const ModelEntry& m : cfg.models)
        for (int threads : all_threads)
            for (int prompt : cfg.prompt_tokens)
                for (int gen : cfg.generate_tokens)
                for (const PeerEntry& peer : cfg.peers) {
                    if (!peer.models.empty() && !peer.models.count(m.name)) continue;
                    if (!peer.threads.empty() &&
                        std::find(peer.threads.begin(), peer.threads.end(), threads) == peer.threads.end())
                        continue;
                    Point p;
                    p.peer = &peer;
                    p.where.model = m.name;
                    p.where.model_file = peer.models.count(m.name) ? peer.models.at(m.name) : m.path;
                    p.where.tokenizer = m.tokenizer;
                    p.where.threads = threads;
                    p.where.n_prompt = prompt;
                    p.where.n_gen = gen;
                    points_.push_back(std::move(p));
                }
    // A peer's own thread counts the backends do not use run too (at the end).
    for (const PeerEntry& peer : cfg.peers)
        for (int threads : peer.threads)
            if (std::find(all_threads.begin(), all_threads.end(), threads) == all_threads.end())
                for (const ModelEntry& m : cfg.models)
                    for (int prompt : cfg.prompt_tokens)
                    for (int gen : cfg.generate_tokens) {
                        if (!peer.models.empty() && !peer.models.count(m.name)) continue;
                        Point p;
                        p.peer = &peer;
                        p.where = {m.name, peer.models.count(m.name) ? peer.models.at(m.name) : m.path, m.tokenizer,
                                   false, threads, prompt, gen};
                        points_.push_back(std::move(p));
                    }
}

void PeerSchedule::set_model_file(const std::string& model, const std::string& file, bool synthetic) {
    // A peer's own file for the model stands for the same weights: it keeps the model's label.
    for (Point& p : points_) {
        if (p.where.model != model) continue;
        p.where.synthetic = synthetic;
        if (!p.peer->models.count(model)) p.where.model_file = file;
    }
}

std::string PeerSchedule::label(const Point& p) const {
    return p.where.model + " peer " + p.peer->name + " t" + std::to_string(p.where.threads) + " pp" +
           std::to_string(p.where.n_prompt) + " tg" + std::to_string(p.where.n_gen);
}

void PeerSchedule::run(Point& p, Progress& progress) {
    progress.start(label(p) + " (run " + std::to_string(p.runs.size() + 1) + "/" + std::to_string(repetitions_) + ")");
    p.runs.push_back(PeerRunner::run_once(*p.peer, p.where, &meter_));
    const PeerRunResult& last = p.runs.back();
    if (!last.ok()) {
        p.failed = true;
        if (!last.interrupted) progress.note("peer " + p.peer->name + ": " + last.error);
    }
    if (!due(p) && !last.interrupted && !p.done) {
        p.done = true;
        progress.finish(label(p), p.failed ? "error: " + last.error : "ok");
    }
}

void PeerSchedule::after_unit(const std::string& model, int threads, Progress& progress) {
    for (Point& p : points_) {
        if (stop_requested()) return;
        if (p.where.model == model && p.where.threads == threads && due(p)) run(p, progress);
    }
}

std::vector<ResultRow> PeerSchedule::finish(Progress& progress, bool interrupted) {
    // Round by round, so the repetitions of different points alternate here too.
    for (bool any = true; any && !interrupted && !stop_requested();) {
        any = false;
        for (Point& p : points_)
            if (due(p) && !stop_requested()) run(p, progress), any = true;
    }
    for (const Point& p : points_) interrupted_ = interrupted_ || due(p) || (!p.runs.empty() && p.runs.back().interrupted);
    interrupted = interrupted || interrupted_;
    std::vector<ResultRow> rows;
    for (const Point& p : points_) rows.push_back(row(p, interrupted));
    return rows;
}

ResultRow PeerSchedule::row(const Point& p, bool interrupted) const {
    const PeerPoint& w = p.where;
    ResultRow r(w.model + "/" + p.peer->name + "/" + p.peer->precision + "/t" + std::to_string(w.threads) + "/pp" +
                    std::to_string(w.n_prompt) + "/tg" + std::to_string(w.n_gen) + "/peer",
                "peer", w.model, w.synthetic ? "synthetic" : "real", p.peer->name, p.peer->precision);
    r.threads = w.threads;
    r.prompt_tokens = w.n_prompt;
    r.generate_tokens = w.n_gen;
    json seconds = json::array();
    std::vector<double> decode, prefill;
    std::optional<EnergyReading> energy = EnergyReading{};
    for (const PeerRunResult& run : p.runs) {
        seconds.push_back(run.seconds);
        if (!run.ok()) continue;
        if (run.decode_tok_s) decode.push_back(*run.decode_tok_s);
        if (run.prefill_tok_s) prefill.push_back(*run.prefill_tok_s);
        if (energy && run.energy) {
            energy->joules += run.energy->joules;
            energy->seconds += run.energy->seconds;
            energy->samples += run.energy->samples;
        } else {
            energy.reset();  // energy of some runs only is not the energy of the point
        }
    }
    std::vector<std::string> command = p.runs.empty() ? p.peer->command : p.runs.back().argv;
    if (p.runs.empty()) command[0] = p.peer->executable;
    std::map<std::string, std::string> env = p.runs.empty() ? p.peer->env : p.runs.back().env;
    r.details["peer"] = {{"name", p.peer->name},
                         {"command", command},
                         {"env", env},
                         {"parser", parser_name(p.peer->parser)},
                         {"model_file", w.model_file},
                         {"runs", int(p.runs.size())},
                         {"seconds", seconds},
                         {"measures", what_it_measures(p.peer->parser)}};
    if (p.failed && !p.runs.back().interrupted) {
        r.status = "error";
        r.reason = "peer " + p.peer->name + ": " + p.runs.back().error;
        return r;
    }
    if (p.failed || int(p.runs.size()) < repetitions_) {
        r.status = "not-run";
        r.reason = interrupted ? "run interrupted before this peer's repetitions finished"
                               : "not run (no repetition was due)";
        return r;
    }
    if (!decode.empty()) {
        const Stats s = summarize(decode);
        std::vector<double> ms;
        for (double v : decode) ms.push_back(1000 / v);
        r.decode_tok_s = s.median;
        r.details["decode"] = {{"tok_s", to_json(s)}, {"ms_per_token", to_json(summarize(ms))}};
    }
    if (!prefill.empty()) {
        const Stats s = summarize(prefill);
        r.prefill_tok_s = s.median;
        r.details["prefill"] = {{"tok_s", to_json(s)}};
    }
    attach_energy(r, meter_, energy, "each run of the peer's process (start to exit), summed over its runs");
    return r;
}

}  // namespace lhb::bench
