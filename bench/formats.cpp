#include "bench/formats.hpp"

#include "bench/results.hpp"
#include "core/error.hpp"

namespace lhb::bench {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

const json& env(const ExportSource& s) { return at_path(s.run, {"environment"}); }

// The mean of a measured row's repetitions (llama-bench's avg), else the row's own figure
// (an estimated or published row has one value).
json mean_or(const json& row, const RowPath& stats, const char* figure) {
    const json& mean = at_path(row, stats);
    return mean.is_number() ? mean : at_path(row, {figure});
}

// Sample standard deviation = cv x mean (the row keeps its statistics, not its samples).
json stddev(const json& row, const RowPath& stats) {
    const json& mean = at_path(row, stats);
    RowPath cv_path(stats.begin(), stats.end() - 1);
    cv_path.push_back("cv");
    const json& cv = at_path(row, cv_path);
    if (!mean.is_number() || !cv.is_number()) return nullptr;
    return cv.get<double>() * mean.get<double>();
}

// llama-bench's n_depth: 0 for a row written before depth_tokens (its points had none);
// null where no lengths apply (a published figure).
json depth_of(const json& row) {
    const json& d = at_path(row, {"depth_tokens"});
    if (d.is_number()) return d;
    return at_path(row, {"generate_tokens"}).is_number() && at_path(row, {"prompt_tokens"}).is_number() ? json(0) : json(nullptr);
}

bool prefill_only(const json& row) {
    return at_path(row, {"prompt_tokens"}).is_number() && !at_path(row, {"generate_tokens"}).is_number();
}

json ns_per_token(const json& ms) { return ms.is_number() ? json(ms.get<double>() * 1e6) : json(nullptr); }

// The file a row ran on, from its models[] entry: the one the sweep made for the row's
// precision (an int8 or GGUF copy, under the precision's name) when it made one, else the
// model's own.
const json& row_file(const ExportSource& s) {
    const json& precision = at_path(s.row, {"precision"});
    if (precision.is_string()) {
        const json& made = at_path(s.model, {precision.get<std::string>()});
        if (made.is_object()) return made;
    }
    return s.model;
}

std::string model_type(const ExportSource& s) {
    std::string t = text_of(at_path(s.row, {"model"}));
    const json& file = row_file(s);
    // What the file holds ("GGUF Q4_0"); files of results written before it say their dtype.
    const json& holds = at_path(file, {"holds"}).is_string() ? at_path(file, {"holds"}) : at_path(s.model, {"dtype"});
    return t + " " + text_of(at_path(s.row, {"precision"})) + (holds.is_string() ? " (file " + holds.get<std::string>() + ")" : "");
}

}  // namespace

OutputFormat parse_output_format(const std::string& name) {
    if (name == "md") return OutputFormat::Markdown;
    if (name == "csv") return OutputFormat::Csv;
    if (name == "json") return OutputFormat::Json;
    if (name == "jsonl") return OutputFormat::Jsonl;
    if (name == "sql") return OutputFormat::Sql;
    throw InputError("-o: expected md, csv, json, jsonl or sql, found \"" + name + "\"");
}

// llama-bench's names first (build_commit ... stddev_ts), then this project's own fields.
const std::vector<ExportField>& export_fields() {
    using T = FieldType;
    using S = const ExportSource&;
    static const std::vector<ExportField> fields = {
        {"build_commit", T::String, [](S s) { return at_path(env(s), {"git_commit"}); }},
        {"cpu_info", T::String, [](S s) { return at_path(env(s), {"cpu_model"}); }},
        {"host", T::String,
         [](S s) { return s.row.contains("host") ? at_path(s.row, {"host"}) : at_path(s.run, {"hostname"}); }},
        {"backends", T::String, [](S s) { return at_path(s.row, {"backend"}); }},
        {"model_filename", T::String, [](S s) { return at_path(row_file(s), {"path"}); }},
        {"model_type", T::String, [](S s) { return json(model_type(s)); }},
        {"model_size", T::Integer, [](S s) { return at_path(row_file(s), {"bytes"}); }},
        {"model_n_params", T::Integer, [](S s) { return at_path(s.model, {"params"}); }},
        {"n_threads", T::Integer, [](S s) { return at_path(s.row, {"threads"}); }},
        {"n_prompt", T::Integer, [](S s) { return at_path(s.row, {"prompt_tokens"}); }},
        {"n_gen", T::Integer, [](S s) { return at_path(s.row, {"generate_tokens"}); }},
        {"n_depth", T::Integer, [](S s) { return depth_of(s.row); }},
        {"test", T::String, [](S s) {
             return json(test_name(at_path(s.row, {"prompt_tokens"}), at_path(s.row, {"generate_tokens"}), depth_of(s.row)));
         }},
        {"test_time", T::String, [](S s) { return at_path(s.run, {"started_at"}); }},
        {"avg_ns", T::Number, [](S s) { return ns_per_token(at_path(s.row, {"decode", "ms_per_token", "mean"})); }},
        {"stddev_ns", T::Number, [](S s) { return ns_per_token(stddev(s.row, {"decode", "ms_per_token", "mean"})); }},
        // A prefill-only point (llama-bench's pp test) has its prefill t/s here, as llama-bench.
        {"avg_ts", T::Number, [](S s) {
             return prefill_only(s.row) ? mean_or(s.row, {"prefill", "tok_s", "mean"}, "prefill_tok_s")
                                        : mean_or(s.row, {"decode", "tok_s", "mean"}, "decode_tok_s");
         }},
        {"stddev_ts", T::Number, [](S s) {
             return stddev(s.row, prefill_only(s.row) ? RowPath{"prefill", "tok_s", "mean"} : RowPath{"decode", "tok_s", "mean"});
         }},
        {"id", T::String, [](S s) { return at_path(s.row, {"id"}); }},
        {"kind", T::String, [](S s) { return at_path(s.row, {"kind"}); }},
        {"weights", T::String, [](S s) { return at_path(s.row, {"weights"}); }},
        {"precision", T::String, [](S s) { return at_path(s.row, {"precision"}); }},
        {"fused", T::Boolean, [](S s) { return at_path(s.row, {"fused"}); }},
        {"target", T::String, [](S s) { return at_path(s.row, {"target"}); }},
        {"status", T::String, [](S s) { return at_path(s.row, {"status"}); }},
        {"decode_tok_s", T::Number, [](S s) { return at_path(s.row, {"decode_tok_s"}); }},
        {"prefill_tok_s", T::Number, [](S s) { return at_path(s.row, {"prefill_tok_s"}); }},
        {"prefill_avg_ts", T::Number, [](S s) { return mean_or(s.row, {"prefill", "tok_s", "mean"}, "prefill_tok_s"); }},
        {"prefill_stddev_ts", T::Number, [](S s) { return stddev(s.row, {"prefill", "tok_s", "mean"}); }},
        {"ttft_ms", T::Number, [](S s) { return at_path(s.row, {"ttft_ms"}); }},
        {"roofline_fraction", T::Number,
         [](S s) { return at_path(s.row, {"unstable"}) == true ? json(nullptr) : at_path(s.row, {"roofline", "fraction"}); }},
        {"unstable", T::Boolean, [](S s) { return at_path(s.row, {"unstable"}); }},
        {"correctness", T::String, [](S s) { return at_path(s.row, {"correctness", "status"}); }},
        {"rank", T::Integer, [](S s) { return at_path(s.row, {"rank"}); }},
    };
    return fields;
}

std::vector<ordered_json> export_rows(const json& results) {
    const json runs = runs_of(results);
    std::vector<ordered_json> out;
    for (const json& r : at_path(results, {"rows"})) {
        const json* run = &runs.at(0);
        for (const json& candidate : runs)
            if (at_path(candidate, {"run"}) == at_path(r, {"run"})) run = &candidate;
        static const json none;
        const json* model = &none;
        for (const json& m : at_path(results, {"models"}))
            if (at_path(m, {"name"}) == at_path(r, {"model"}) &&
                (!m.contains("run") || at_path(m, {"run"}) == at_path(r, {"run"})))
                model = &m;
        const ExportSource s{r, *run, *model};
        ordered_json row = ordered_json::object();
        for (const ExportField& f : export_fields()) {
            const json v = f.get(s);
            // A field holds its type or null, whatever a file from elsewhere put there.
            const bool fits = v.is_null() || (f.type == FieldType::String && v.is_string()) ||
                              (f.type == FieldType::Integer && v.is_number_integer()) ||
                              (f.type == FieldType::Number && v.is_number()) ||
                              (f.type == FieldType::Boolean && v.is_boolean());
            row[f.name] = fits ? ordered_json(json::parse(v.dump())) : ordered_json(nullptr);
        }
        out.push_back(std::move(row));
    }
    return out;
}

namespace {

std::string csv_quoted(const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += (c == '"') ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

std::string sql_value(const ordered_json& v) {
    if (v.is_null()) return "NULL";
    if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
    if (v.is_number()) return v.dump();
    std::string q = "'";
    for (char c : v.get<std::string>()) q += (c == '\'') ? std::string("''") : std::string(1, c);
    return q + "'";
}

const char* sql_type(FieldType t) {
    switch (t) {
        case FieldType::Integer:
        case FieldType::Boolean: return "INTEGER";
        case FieldType::Number: return "REAL";
        default: return "TEXT";
    }
}

// llama-bench's csv: a header line, then every value quoted (numbers as JSON writes them,
// the shortest text that reads back the same double; null as an empty cell).
std::string print_csv(const std::vector<ordered_json>& rows) {
    std::string out;
    for (const ExportField& f : export_fields()) out += std::string(out.empty() ? "" : ",") + f.name;
    out += "\n";
    for (const ordered_json& r : rows) {
        const std::vector<ExportField>& fields = export_fields();
        for (size_t i = 0; i < fields.size(); ++i) {
            const ordered_json& v = r[fields[i].name];
            out += (i ? "," : "") + csv_quoted(v.is_null() ? "" : v.is_string() ? v.get<std::string>() : v.dump());
        }
        out += "\n";
    }
    return out;
}

// llama-bench's sql: CREATE TABLE IF NOT EXISTS test, then one INSERT per row.
std::string print_sql(const std::vector<ordered_json>& rows) {
    std::string out = "CREATE TABLE IF NOT EXISTS test (\n";
    std::string names;
    for (const ExportField& f : export_fields()) {
        const bool last = &f == &export_fields().back();
        out += std::string("  ") + f.name + " " + sql_type(f.type) + (last ? "\n" : ",\n");
        names += std::string(f.name) + (last ? "" : ", ");
    }
    out += ");\n";
    for (const ordered_json& r : rows) {
        std::string values;
        for (const ExportField& f : export_fields())
            values += (values.empty() ? "" : ", ") + sql_value(r[f.name]);
        out += "INSERT INTO test (" + names + ") VALUES (" + values + ");\n";
    }
    return out;
}

}  // namespace

std::string print_results(const json& results, OutputFormat format) {
    if (format == OutputFormat::Markdown) return results_markdown(results);
    const std::vector<ordered_json> rows = export_rows(results);
    switch (format) {
        case OutputFormat::Csv: return print_csv(rows);
        case OutputFormat::Sql: return print_sql(rows);
        case OutputFormat::Jsonl: {
            std::string out;
            for (const ordered_json& r : rows) out += r.dump() + "\n";
            return out;
        }
        default: {
            ordered_json array = ordered_json::array();
            for (const ordered_json& r : rows) array.push_back(r);
            return array.dump(2) + "\n";
        }
    }
}

}  // namespace lhb::bench
