#pragma once
// `bench run`'s sweep: prepares the models (synthesizing missing ones), measures the host's
// bandwidth, then for every unit (model x backend x precision x threads) checks correctness
// against cpu-ref and measures its points (prompt x generate x depth lengths) round-robin. Produces the results document
// (docs/results-schema.md); writing it is results.hpp's job.
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/config.hpp"

namespace lhb::bench {

struct SweepOptions {
    bool quiet = false;      // no progress line
    bool log_lines = false;  // one stderr line per finished point, terminal or not
    double bandwidth_seconds = 0.5;  // time spent measuring each read bandwidth (a unit's: over its rounds)
    // Called before every pass of every point (phase "warmup", "op warmup", "measure",
    // "ops untimed", "ops timed"; round -1 for warmups): lets a test see the order.
    std::function<void(const std::string& point, const std::string& phase, int round)> on_pass;
};

// Returns the results document. If g_stop_requested is set during the run (SIGINT), it
// returns early with the finished points and "complete": false.
nlohmann::json run_sweep(const RunConfig& config, const SweepOptions& options);

// Fills in the ranks and the speedups over the published rows of a results document's rows
// (also used when re-rendering an existing file).
void rank_rows(nlohmann::json& results);

// The peak DDR bandwidth a board file (lhb-board/1) states, in bytes/s, and the usable
// fraction of it, if it states them.
std::optional<double> board_ddr_bytes_per_s(const nlohmann::json& board);
std::optional<double> board_ddr_efficiency(const nlohmann::json& board);

}  // namespace lhb::bench
