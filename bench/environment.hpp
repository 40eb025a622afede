#pragma once
// What a result was measured on: CPU, cores, memory, OS, compiler and flags, the source
// revision and the time, for the results file.
#include <string>

#include <nlohmann/json.hpp>

namespace lhb::bench {

// `repo_dir`: a folder inside the source checkout (the config's), for the git commit.
nlohmann::json collect_environment(const std::string& repo_dir);

// /proc/loadavg's 1, 5 and 15 minute load averages (null if unreadable): other work on
// the host disturbs timings, multi-threaded ones most.
nlohmann::json load_average();

// Current time, UTC, ISO 8601 ("2025-01-31T12:34:56Z").
std::string utc_now_iso8601();

}  // namespace lhb::bench
