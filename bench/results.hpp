#pragma once
// Writing a results document (docs/results-schema.md): results.json, results.csv of the
// same rows, and the llama-bench-style markdown table printed on stdout. Files go through
// AtomicFile: a reader sees the previous complete file or the new one, never a torn one.
#include <string>

#include <nlohmann/json.hpp>

namespace lhb::bench {

constexpr int kResultsSchemaVersion = 1;

std::string results_csv(const nlohmann::json& results);
std::string results_markdown(const nlohmann::json& results);

// Writes <dir>/results.json and <dir>/results.csv; returns the JSON file's path.
std::string write_results(const nlohmann::json& results, const std::string& dir);

// Reads a results file, checking it is one (schema name and a version this build reads).
nlohmann::json load_results(const std::string& path);

}  // namespace lhb::bench
