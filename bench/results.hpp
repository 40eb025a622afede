#pragma once
// Writing a results document (docs/results-schema.md): results.json, results.csv of the
// same rows, and the llama-bench-style markdown table printed on stdout. Files go through
// AtomicFile: a reader sees the previous complete file or the new one, never a torn one.
#include <string>

#include <nlohmann/json.hpp>

namespace lhb::bench {

// 2: adds /table/columns (the markdown table's columns, which tools/report.py renders).
// Readers accept 1 and 2; rows are the same in both.
constexpr int kResultsSchemaVersion = 2;

// /table of a results document: {"columns": [...]} (result_row.hpp's table_columns).
nlohmann::json table_json(const nlohmann::json& published);

std::string results_csv(const nlohmann::json& results);
std::string results_markdown(const nlohmann::json& results);

// Writes <dir>/<stem>.json and <dir>/<stem>.csv; returns the JSON file's path.
std::string write_results(const nlohmann::json& results, const std::string& dir, const std::string& stem = "results");

// Reads a results file, checking it is one (schema name and a version this build reads).
nlohmann::json load_results(const std::string& path);

}  // namespace lhb::bench
