#pragma once
// One row of a results document (docs/results-schema.md, rows[]) and the field tables every
// printer of it reads, as llama-bench's test::get_fields() drives its printers:
//   - ResultRow: the fields every row has, typed; to_json() writes them through kRowFields,
//     then the kind's own fields (decode, roofline, target, ...), which `details` holds.
//   - csv_fields(): results.csv's columns, each a path into a JSON row.
//   - table_columns(): the markdown table's columns. They are also written into
//     results.json (/table/columns, schema version 2), so tools/report.py renders the
//     columns defined here instead of defining its own.
// The printers work on JSON rows, not on ResultRow: `bench report` re-renders files written
// by earlier versions, whose rows only exist as JSON.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lhb::bench {

enum class FieldType { String, Integer, Number, Boolean, Object };
const char* field_type_name(FieldType t);

struct ResultRow {
    ResultRow() = default;
    ResultRow(std::string id_, std::string kind_, std::string model_, std::string weights_, std::string backend_,
              std::string precision_)
        : id(std::move(id_)), kind(std::move(kind_)), model(std::move(model_)), weights(std::move(weights_)),
          backend(std::move(backend_)), precision(std::move(precision_)) {}

    std::string id, kind, model, weights = "real", backend, precision;
    std::optional<int> threads, prompt_tokens, generate_tokens;
    std::optional<int> depth_tokens;  // tokens in the KV cache before the prompt (llama-bench's n_depth)
    std::string status = "ok";
    std::optional<std::string> reason;
    bool ranked = false;
    std::optional<int> rank;
    std::optional<double> decode_tok_s, prefill_tok_s;
    // Measured energy (bench/energy.hpp), absent where the machine cannot measure it.
    std::optional<double> avg_watts, joules_per_token;
    std::optional<double> ttft_ms;  // time to first token: the prompt and the first decoded token
    nlohmann::json op_ms_per_token;  // object or null
    nlohmann::json correctness;      // object or null
    nlohmann::json speedup = nlohmann::json::object();
    nlohmann::json details = nlohmann::json::object();  // the kind's own fields, merged into the row
    bool unstable = false;  // schema 3: a figure is physically impossible (roofline fraction > 1)
};

// The common fields of a row: name, type and how to read it from a ResultRow.
struct RowField {
    const char* name;
    FieldType type;
    nlohmann::json (*get)(const ResultRow&);
};
extern const std::vector<RowField> kRowFields;

nlohmann::json to_json(const ResultRow& row);

// A path into a JSON row, e.g. {"decode", "tok_s", "cv"}.
using RowPath = std::vector<std::string>;
// The value at `path`, or null when any step is missing.
const nlohmann::json& at_path(const nlohmann::json& row, const RowPath& path);

// A column of results.csv. `paths` are alternatives: the first whose last key is present
// is read (an estimated row has decode_ms_per_token, a measured one decode.ms_per_token).
struct CsvField {
    std::string name;
    FieldType type;  // Number: up to 9 significant digits; otherwise the text or JSON value
    std::string unit;
    std::vector<RowPath> paths;
    bool blank_when_unstable = false;  // a figure an unstable row does not have as a result
};
// results.csv's columns for a document with these published figures (one speedup column each).
std::vector<CsvField> csv_fields(const nlohmann::json& published);

// A column of the markdown table. `format` names how a cell is made from the row (the same
// names tools/report.py implements; docs/results-schema.md lists them):
//   text, integer, number, percent, speedup: the value at `path`;
//   roofline: percent, or "unstable" for an unstable row (its fraction is not a result);
//   model, backend, test, correctness: composed from several fields of the row.
struct TableColumn {
    std::string name, header, format;
    RowPath path;
    bool right_aligned = false;
};
// `with_host`: a first column naming each row's host (a merged document of several hosts).
// `with_energy`: watts and joules per token (when some row measured them: has_energy()).
std::vector<TableColumn> table_columns(const nlohmann::json& published, bool with_host = false,
                                       bool with_energy = false);
bool has_energy(const nlohmann::json& rows);
nlohmann::json to_json(const TableColumn& c);
// One cell of the table (not yet escaped for markdown).
std::string table_cell(const TableColumn& c, const nlohmann::json& row);

// ---------------------------------------------------------------- identity and honesty
// A row from a board (kind estimated or published, or measured on a board backend): only
// these are compared with the published board figures; host rows compare with host peers.
bool is_board_row(const nlohmann::json& row);
// Everything that tells two points apart: id (model, backend, precision, threads, prompt
// and generated tokens, kind), fused, weights, target and, when `with_host`, the host.
// bench compare pairs rows and bench merge checks rows by it.
std::string row_key(const nlohmann::json& row, bool with_host);
// The id, plus what the id does not say (fused = false, the host when `with_host`).
std::string row_label(const nlohmann::json& row, bool with_host);
// Brings a row of any schema version to what this build writes: `unstable` set when its
// roofline fraction exceeds 1 (a physically impossible figure: the bandwidth measured is
// not the one the run saw), and no speedup over the published board figures on a host row.
void normalize_row(nlohmann::json& row);

// llama-bench's name of a point: "pp32+tg64", "pp32+tg64@d512" (depth), "tg201" (a published
// figure: no prompt length), "" when neither length is known.
std::string test_name(const nlohmann::json& prompt, const nlohmann::json& generate, const nlohmann::json& depth);

// Number formats shared by the printers.
std::string fixed(double v, int digits);
std::string num(double v);  // about three significant figures: 1234.5 -> "1234", 8.714 -> "8.71"
std::string text_of(const nlohmann::json& j);  // a string as is, null as "", anything else as JSON

}  // namespace lhb::bench
