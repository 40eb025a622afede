#pragma once
// Peers: the programs this project's users would otherwise run (llama2.c's runomp, llama.cpp's
// llama-bench, ...), run by `bench run` on the same machine, on the same model, interleaved
// with the sweep's own points, their tok/s parsed from what they print and reported as
// measured rows of kind "peer" beside ours (docs/config.md, "Peers").
//
// A peer is run by fork/exec with its argument vector as the config gives it: no shell, so a
// model path with spaces or quotes stays one argument and nothing in it is interpreted.
// Placeholders ({model}, {threads}, ...) are replaced inside each argument after the command
// is split.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/energy.hpp"
#include "bench/peer_command.hpp"
#include "bench/result_row.hpp"

namespace lhb::bench {

struct RunConfig;
class Progress;

// ---------------------------------------------------------------- one run
struct PeerRunResult {
    std::vector<std::string> argv;  // as executed (argv[0] resolved)
    std::map<std::string, std::string> env;
    double seconds = 0;  // wall time of the process
    std::optional<double> decode_tok_s, prefill_tok_s;
    std::optional<EnergyReading> energy;
    std::string error;  // empty: the run succeeded and its output parsed
    bool interrupted = false;
    bool ok() const { return error.empty(); }
};

// What a parser found in a peer's output: tok/s, or why not (what it expected).
struct ParsedPeerOutput {
    std::optional<double> decode_tok_s, prefill_tok_s;
    std::string error;
};
ParsedPeerOutput parse_peer_output(const PeerEntry& peer, const PeerPoint& point, const std::string& out,
                                   const std::string& err);

class PeerRunner {
public:
    // Runs the peer once at `point` (fork/exec, stdin /dev/null, its own process group, killed
    // at timeout_s or when a stop is requested), then parses its output. `meter` (optional)
    // measures the energy of the run.
    static PeerRunResult run_once(const PeerEntry& peer, const PeerPoint& point, EnergyMeter* meter = nullptr);
};

// ---------------------------------------------------------------- in a sweep
// Every peer point of a config (peer x model x threads x prompt length) and its runs so far.
// The sweep calls after_unit() after each of its own units, which runs one repetition of the
// matching peer points (so peers and backends alternate in time), and finish() at the end,
// which runs the repetitions still missing round by round and returns one row per point.
class PeerSchedule {
public:
    explicit PeerSchedule(const RunConfig& cfg);
    int points() const { return int(points_.size()); }
    // The file a model's points run on ({model} when the peer maps no file of its own), and
    // whether its weights are synthetic (the rows' label either way).
    void set_model_file(const std::string& model, const std::string& file, bool synthetic);
    void after_unit(const std::string& model, int threads, Progress& progress);
    std::vector<ResultRow> finish(Progress& progress, bool interrupted);
    bool interrupted() const { return interrupted_; }  // finish() left repetitions unrun

private:
    struct Point {
        const PeerEntry* peer = nullptr;
        PeerPoint where;
        std::vector<PeerRunResult> runs;
        bool failed = false;
        bool done = false;  // progress reported
    };
    bool due(const Point& p) const { return !p.failed && int(p.runs.size()) < repetitions_; }
    void run(Point& p, Progress& progress);
    ResultRow row(const Point& p, bool interrupted) const;
    std::string label(const Point& p) const;

    std::vector<Point> points_;
    int repetitions_ = 1;
    bool interrupted_ = false;
    EnergyMeter meter_;
};

}  // namespace lhb::bench
