#include "bench/results.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bench/config.hpp"
#include "bench/fpga_view.hpp"
#include "bench/result_row.hpp"
#include "core/atomic_file.hpp"
#include "core/backend.hpp"
#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/json_scan.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lhb::bench {

namespace {

std::string str(const json& j) { return text_of(j); }
std::string opt_num(const json& j) { return j.is_number() ? num(j.get<double>()) : "-"; }
std::string prefixed(const std::string& s) { return s.empty() ? s : " " + s; }

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += (c == '"') ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

std::string csv_number(const json& j) {
    if (!j.is_number()) return "";
    std::ostringstream s;
    s.precision(9);
    s << j.get<double>();
    return s.str();
}

// The first of the field's paths whose last key is present (the last path otherwise).
std::string csv_cell(const CsvField& f, const json& row) {
    size_t i = 0;
    for (; i + 1 < f.paths.size(); ++i) {
        const RowPath& p = f.paths[i];
        const json& parent = at_path(row, RowPath(p.begin(), p.end() - 1));
        if (parent.is_object() && parent.contains(p.back())) break;
    }
    const json& v = at_path(row, f.paths[i]);
    if (f.blank_when_unstable && at_path(row, {"unstable"}) == true) return "";
    return f.type == FieldType::Number ? csv_number(v) : str(v);
}

std::string md_cell(std::string s) {
    for (size_t p = s.find('|'); p != std::string::npos; p = s.find('|', p + 2)) s.replace(p, 1, "\\|");
    return s;
}

bool measured_in_table(const json& r) {
    const json& status = at_path(r, {"status"});
    return status != "skipped" && status != "error" && status != "not-run";
}

}  // namespace

json table_json(const json& published, bool with_host, bool with_energy) {
    json columns = json::array();
    for (const TableColumn& c : table_columns(published, with_host, with_energy)) columns.push_back(to_json(c));
    return {{"columns", columns}};
}

std::string run_key(const json& environment, const json& started_at) {
    return text_of(at_path(environment, {"hostname"})) + "@" + text_of(started_at);
}

json runs_of(const json& results) {
    const json& runs = at_path(results, {"runs"});
    if (runs.is_array()) return runs;
    const json& env = at_path(results, {"environment"});
    return json::array({{{"run", run_key(env, at_path(results, {"started_at"}))},
                         {"hostname", at_path(env, {"hostname"})},
                         {"name", at_path(results, {"name"})},
                         {"started_at", at_path(results, {"started_at"})},
                         {"finished_at", at_path(results, {"finished_at"})},
                         {"complete", at_path(results, {"complete"})},
                         {"environment", env}}});
}

std::vector<std::string> hosts_of(const json& results) {
    std::vector<std::string> hosts;
    for (const json& run : runs_of(results)) {
        const std::string h = text_of(at_path(run, {"hostname"}));
        if (std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
    }
    return hosts;
}

void normalize_rows(json& results) {
    if (!results.contains("rows") || !results["rows"].is_array()) return;
    const json runs = runs_of(results);
    const json& first = runs.at(0);
    for (json& r : results["rows"]) {
        if (!r.is_object()) continue;
        if (!r.contains("run")) r["run"] = first["run"];
        if (!r.contains("host")) r["host"] = first["hostname"];
        normalize_row(r);
    }
}

std::string results_csv(const json& results) {
    const std::vector<CsvField> fields = csv_fields(at_path(results, {"published"}));
    std::string out;
    for (size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + fields[i].name;
    out += "\n";
    for (const json& r : at_path(results, {"rows"})) {
        for (size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + csv_field(csv_cell(fields[i], r));
        out += '\n';
    }
    return out;
}

// The table, then the notes under it: device-greedy figures, the points not measured and
// why, the published figures, the host, the timers' cost and how busy the machine was.
std::string results_markdown(const json& results) {
    const json& published = at_path(results, {"published"});
    const std::vector<std::string> hosts = hosts_of(results);
    const std::vector<TableColumn> columns =
        table_columns(published, hosts.size() > 1, has_energy(at_path(results, {"rows"})));
    std::ostringstream md;
    md << "|";
    for (const TableColumn& c : columns) md << " " << md_cell(c.header) << " |";
    md << "\n|";
    for (const TableColumn& c : columns) md << (c.right_aligned ? " ---: |" : " --- |");
    md << "\n";
    std::vector<const json*> not_measured;
    for (const json& r : at_path(results, {"rows"})) {
        if (!measured_in_table(r)) {
            not_measured.push_back(&r);
            continue;
        }
        md << "|";
        for (const TableColumn& c : columns) md << " " << md_cell(table_cell(c, r)) << " |";
        md << "\n";
    }
    bool greedy_heading = false;
    for (const json& r : at_path(results, {"rows"})) {
        if (at_path(r, {"kind"}) != "estimated" || !at_path(r, {"device_greedy"}).is_object()) continue;
        if (!greedy_heading) {
            md << "\nEstimated rows assume the host samples each token from the logits. With greedy decoding on "
                  "the device instead (logits kept on chip, one kernel run per chunk of tokens), estimated:\n";
            greedy_heading = true;
        }
        md << "- " << str(at_path(r, {"model"})) << " " << str(at_path(r, {"backend"})) << " → " << str(at_path(r, {"target"})) << " "
           << str(at_path(r, {"precision"})) << ": " << opt_num(at_path(r, {"device_greedy", "decode_tok_s"}))
           << " tok/s decode (host-sampled: " << opt_num(at_path(r, {"decode_tok_s"})) << "), "
           << str(at_path(r, {"device_greedy", "tokens_per_run"})) << " tokens per run\n";
    }
    md << fpga_view_markdown(results);
    if (!not_measured.empty()) {
        md << "\nNot measured:\n";
        for (const json* r : not_measured)
            md << "- " << str(at_path(*r, {"model"})) << " " << str(at_path(*r, {"backend"})) << " " << str(at_path(*r, {"precision"}))
               << (at_path(*r, {"threads"}).is_number() ? " t" + str(at_path(*r, {"threads"})) : "")
               << prefixed(test_name(at_path(*r, {"prompt_tokens"}), at_path(*r, {"generate_tokens"}),
                                     at_path(*r, {"depth_tokens"}))) << ": "
               << str(at_path(*r, {"status"})) << ": " << str(at_path(*r, {"reason"})) << "\n";
    }
    if (!published.empty()) {
        md << "\nPublished (not measured here):\n";
        for (const json& p : published)
            md << "- " << str(at_path(p, {"name"})) << ": " << num(at_path(p, {"tok_s"})) << " tok/s, " << str(at_path(p, {"model"})) << " "
               << str(at_path(p, {"precision"})) << ". Source: " << str(at_path(p, {"source"})) << "\n";
    }
    md << "\nkind: measured = timed here; estimated = modelled board figure (not measured); published = quoted; "
          "peer = another program run here between our points, its own tok/s (command below).\n";
    for (const json& r : at_path(results, {"rows"}))
        if (at_path(r, {"kind"}) == "peer" && at_path(r, {"status"}) == "ok") {
            std::string command;
            for (const json& a : at_path(r, {"peer", "command"})) command += (command.empty() ? "" : " ") + str(a);
            md << "Peer " << str(at_path(r, {"id"})) << ": `" << command << "` (" << str(at_path(r, {"peer", "measures"}))
               << ")\n";
        }
    if (has_energy(at_path(results, {"rows"})))
        md << "Energy (measured): W = average power over each point's timed passes ("
           << str(at_path(results, {"environment", "energy", "method"})) << "; "
           << text_of(at_path(results, {"environment", "energy", "sources"})) << "), J/tok = W / decode tok/s.\n";
    md << "Speedups over the published board figures are shown for board rows only (estimated, "
          "measured on a board, published); host rows compare with host rows (rank).\n";
    const json runs = runs_of(results);
    for (const json& run : runs) {
        const json& env = at_path(run, {"environment"});
        md << "Host" << (runs.size() > 1 ? " " + str(at_path(run, {"hostname"})) + " (run " + str(at_path(run, {"started_at"})) + ")" : "")
           << ": " << str(at_path(env, {"cpu_model"})) << ", " << str(at_path(env, {"cores"})) << " cores; "
           << str(at_path(env, {"compiler"})) << "; commit " << str(at_path(env, {"git_commit"})).substr(0, 12)
           << (at_path(env, {"git_dirty"}) == true ? " (dirty)" : "") << "\n";
    }
    for (const json& r : at_path(results, {"rows"}))
        if (at_path(r, {"unstable"}) == true)
            md << "Unstable: " << str(at_path(r, {"id"})) << ": " << str(at_path(r, {"unstable_reason"})) << "\n";
    // The cost of the per-op timers, measured per point (target: at most 2%).
    double worst = -1e300;
    std::string worst_id;
    for (const json& r : at_path(results, {"rows"})) {
        const json& o = at_path(r, {"op_profile", "timer_overhead"});
        if (o.is_number() && o.get<double>() > worst) worst = o.get<double>(), worst_id = str(at_path(r, {"id"}));
    }
    if (!worst_id.empty())
        md << "Per-op timer overhead (timed vs untimed op-by-op passes): at most " << fixed(100 * worst, 1) << "% ("
           << worst_id << "; target <= 2%; negative = below the noise)\n";
    // CPU time other processes used during the run (measured), else the load before it.
    const json& env = at_path(results, {"environment"});
    const json& others = at_path(env, {"other_processes_cpu", "fraction"});
    const json& load = at_path(env, {"load_average_start"});
    if (others.is_number()) {
        if (others.get<double>() > 0.05)
            md << "Warning: other processes used " << fixed(100 * others.get<double>(), 0)
               << "% of the machine's CPU time during the run: they disturb the timings, multi-threaded ones most.\n";
    } else if (load.is_array() && !load.empty() && load[0].is_number() && load[0].get<double>() > 0.5) {
        md << "Warning: the host was busy (1-minute load average " << fixed(load[0].get<double>(), 2)
           << " before the run): other processes disturb the timings, multi-threaded ones most.\n";
    }
    if (at_path(results, {"complete"}) != true) md << "\nINCOMPLETE: the run was interrupted; only the finished points are shown.\n";
    return md.str();
}

std::string write_results(const json& results, const std::string& dir, const std::string& stem) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw InputError(dir + ": cannot create the output folder: " + ec.message());
    const std::string json_path = (fs::path(dir) / (stem + ".json")).string();
    const std::string csv_path = (fs::path(dir) / (stem + ".csv")).string();
    // The JSON first: if it cannot be written (disk full), the previous results.json and
    // results.csv stay as they were, a consistent pair. If then the CSV cannot be written,
    // a previous results.csv would contradict the new JSON, so it is removed.
    write_file_atomically(json_path, results.dump(2) + "\n");
    try {
        write_file_atomically(csv_path, results_csv(results));
    } catch (const InputError&) {
        remove_stale_output(csv_path);
        throw;
    }
    return json_path;
}

json load_results(const std::string& path) {
    const std::string text = read_json_file(path, kMaxResultsBytes, "results file");
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        TextPosition p = position_of_byte(text, e.byte);
        throw InputError(path + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) +
                         ": invalid JSON; expected a results file written by bench run");
    } catch (const json::exception&) {  // e.g. out_of_range.406: a number too large for a double
        throw InputError(path + ": invalid JSON (a number out of range); expected a results file written by bench run");
    }
    if (!j.is_object() || !j.contains("schema") || j["schema"] != "llama-hls-bench/results")
        throw InputError(path + ": /schema: expected \"llama-hls-bench/results\", found " +
                         (j.is_object() && j.contains("schema") ? j["schema"].dump() : std::string("none")));
    if (!j.contains("schema_version") || !j["schema_version"].is_number_integer() ||
        j["schema_version"].get<int64_t>() > kResultsSchemaVersion || j["schema_version"].get<int64_t>() < 1)
        throw InputError(path + ": /schema_version: expected 1 to " + std::to_string(kResultsSchemaVersion) +
                         ", found " + (j.contains("schema_version") ? j["schema_version"].dump() : std::string("none")));
    if (!j.contains("rows") || !j["rows"].is_array())
        throw InputError(path + ": /rows: expected an array of rows");
    // The fields the readers (table, CSV, bench compare) use as typed values; any other field
    // is optional and shows as "-" when absent or of another type.
    auto bad = [&](const std::string& ptr, const std::string& expected, const json* found) {
        std::string f = found ? found->dump(-1, ' ', false, json::error_handler_t::replace) : "none";
        if (f.size() > 60) f = f.substr(0, 57) + "...";
        throw InputError(path + ": " + ptr + ": expected " + expected + ", found " + f);
    };
    auto field = [](const json& o, const char* k) { return o.contains(k) ? &o[k] : nullptr; };
    const json& rows = j["rows"];
    for (size_t i = 0; i < rows.size(); ++i) {
        const std::string ptr = "/rows/" + std::to_string(i);
        if (!rows[i].is_object()) bad(ptr, "a row object", &rows[i]);
        for (const char* k : {"id", "kind", "status"})
            if (!rows[i].contains(k) || !rows[i][k].is_string()) bad(ptr + "/" + k, "a string", field(rows[i], k));
    }
    if (j.contains("published")) {
        const json& pub = j["published"];
        if (!pub.is_array()) bad("/published", "an array", &pub);
        for (size_t i = 0; i < pub.size(); ++i) {
            const std::string ptr = "/published/" + std::to_string(i);
            if (!pub[i].is_object()) bad(ptr, "an object", &pub[i]);
            if (!pub[i].contains("backend") || !pub[i]["backend"].is_string())
                bad(ptr + "/backend", "a string", field(pub[i], "backend"));
            if (!pub[i].contains("tok_s") || !pub[i]["tok_s"].is_number())
                bad(ptr + "/tok_s", "a number", field(pub[i], "tok_s"));
        }
    }
    // Version 2: the table's columns, which tools/report.py renders (this build makes its own).
    if (j["schema_version"].get<int64_t>() >= 2) {
        const json* table = field(j, "table");
        if (!table || !table->is_object()) bad("/table", "an object with the table's columns", table);
        const json* columns = field(*table, "columns");
        if (!columns || !columns->is_array()) bad("/table/columns", "an array of columns", columns);
        for (size_t i = 0; i < columns->size(); ++i) {
            const json& c = (*columns)[i];
            const std::string ptr = "/table/columns/" + std::to_string(i);
            if (!c.is_object()) bad(ptr, "a column object", &c);
            for (const char* k : {"name", "header", "format"})
                if (!c.contains(k) || !c[k].is_string()) bad(ptr + "/" + k, "a string", field(c, k));
            if (!c.contains("path") || !c["path"].is_array()) bad(ptr + "/path", "an array of keys", field(c, "path"));
        }
    }
    if (j.contains("environment") && !j["environment"].is_object())
        bad("/environment", "an object", &j["environment"]);
    if (j.contains("runs")) {
        const json& runs = j["runs"];
        if (!runs.is_array() || runs.empty()) bad("/runs", "a non-empty array of runs", &runs);
        for (size_t i = 0; i < runs.size(); ++i) {
            const std::string ptr = "/runs/" + std::to_string(i);
            if (!runs[i].is_object()) bad(ptr, "a run object", &runs[i]);
            for (const char* k : {"run", "hostname"})
                if (!runs[i].contains(k) || !runs[i][k].is_string()) bad(ptr + "/" + k, "a string", field(runs[i], k));
            if (!runs[i].contains("environment") || !runs[i]["environment"].is_object())
                bad(ptr + "/environment", "an object", field(runs[i], "environment"));
        }
    }
    normalize_rows(j);
    return j;
}

}  // namespace lhb::bench
