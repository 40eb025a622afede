#pragma once
// The output formats of llama-bench (`-o md|csv|json|jsonl|sql`) over the rows of a results
// document, with llama-bench's field names where the concept is the same, so scripts and
// SQLite workflows written for llama-bench read these rows (docs/results-schema.md,
// "Output formats"). One field table (export_fields), one printer per format.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/result_row.hpp"

namespace lhb::bench {

enum class OutputFormat { Markdown, Csv, Json, Jsonl, Sql };
// "md", "csv", "json", "jsonl", "sql"; anything else is an InputError naming the -o flag.
OutputFormat parse_output_format(const std::string& name);

// What a field of an exported row is read from: the row, its run's environment, its model.
struct ExportSource {
    const nlohmann::json& row;
    const nlohmann::json& run;    // runs_of()'s entry of the row's run
    const nlohmann::json& model;  // the models[] entry of the row's model (null if none)
};
struct ExportField {
    const char* name;
    FieldType type;  // String, Integer, Number or Boolean; any may be null
    nlohmann::json (*get)(const ExportSource&);
};
const std::vector<ExportField>& export_fields();

// The document's rows as export rows: one ordered object per row, fields in table order.
std::vector<nlohmann::ordered_json> export_rows(const nlohmann::json& results);

// The document printed in a format (md: results_markdown, the table with its notes).
std::string print_results(const nlohmann::json& results, OutputFormat format);

}  // namespace lhb::bench
