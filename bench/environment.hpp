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

// CPU time of the whole machine (/proc/stat) and of this process, to tell how much of the
// machine other processes used while we measured.
struct CpuSample {
    double machine_busy_s = -1;  // all CPUs, non-idle; -1 if /proc/stat is unreadable
    double self_s = 0;           // this process (user + system, all threads)
    double wall_s = 0;           // steady clock
};
CpuSample sample_cpu();
// {"cpu_seconds": s, "fraction": s / (wall x logical CPUs)} used by other processes between
// the two samples; null if unknown.
nlohmann::json other_processes_cpu(const CpuSample& start, const CpuSample& end);

// Current time, UTC, ISO 8601 ("2025-01-31T12:34:56Z").
std::string utc_now_iso8601();

}  // namespace lhb::bench
