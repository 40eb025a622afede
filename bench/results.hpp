#pragma once
// Writing a results document (docs/results-schema.md): results.json, results.csv of the
// same rows, and the llama-bench-style markdown table printed on stdout. Files go through
// AtomicFile: a reader sees the previous complete file or the new one, never a torn one.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lhb::bench {

// 2: adds /table/columns (the markdown table's columns, which tools/report.py renders).
// 3: rows have `unstable`, `host` and `run`; speedups over published board figures only on
// board rows; merged documents (bench merge) have `runs`. Readers accept 1 to 3 and bring
// older rows to version 3 (normalize_rows).
constexpr int kResultsSchemaVersion = 4;

// /table of a results document: {"columns": [...]} (result_row.hpp's table_columns).
nlohmann::json table_json(const nlohmann::json& published, bool with_host = false, bool with_energy = false);

// The runs a document holds: its `runs` (a merged document) or the one run its environment
// describes, each {run, hostname, name, started_at, finished_at, complete, environment}.
nlohmann::json runs_of(const nlohmann::json& results);
// A run's key: "hostname@started_at", the same wherever the run's rows are merged.
std::string run_key(const nlohmann::json& environment, const nlohmann::json& started_at);
// The distinct hostnames of a document's runs, in order.
std::vector<std::string> hosts_of(const nlohmann::json& results);
// Every row gets `host` and `run` (from its run when it has none: a bench run file's rows
// take them from its environment, so they are not written twice) and normalize_row.
void normalize_rows(nlohmann::json& results);

std::string results_csv(const nlohmann::json& results);
std::string results_markdown(const nlohmann::json& results);

// Writes <dir>/<stem>.json and <dir>/<stem>.csv; returns the JSON file's path.
std::string write_results(const nlohmann::json& results, const std::string& dir, const std::string& stem = "results");

// Reads a results file, checking it is one (schema name and a version this build reads).
nlohmann::json load_results(const std::string& path);

}  // namespace lhb::bench
