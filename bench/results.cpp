#include "bench/results.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bench/config.hpp"
#include "core/atomic_file.hpp"
#include "core/backend.hpp"
#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/json_scan.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lhb::bench {

namespace {

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

// Three significant figures or so, readable in a table: 1234.5 -> "1234", 8.714 -> "8.71".
std::string num(double v) {
    double a = std::fabs(v);
    if (a >= 1000) return fixed(v, 0);
    if (a >= 100) return fixed(v, 1);
    if (a >= 1) return fixed(v, 2);
    return fixed(v, 3);
}

std::string opt_num(const json& j) { return j.is_number() ? num(j.get<double>()) : "-"; }

const json& at(const json& j, std::initializer_list<const char*> path) {
    static const json null_value;
    const json* p = &j;
    for (const char* k : path) {
        if (!p->is_object() || !p->contains(k)) return null_value;
        p = &(*p)[k];
    }
    return *p;
}

std::string str(const json& j) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_null()) return "";
    return j.dump();
}

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

std::string md_cell(std::string s) {
    for (size_t p = s.find('|'); p != std::string::npos; p = s.find('|', p + 2)) s.replace(p, 1, "\\|");
    return s;
}

const char* kOtherOp = "other";

}  // namespace

std::string results_csv(const json& results) {
    const json& published = at(results, {"published"});
    std::vector<std::string> header = {"id", "kind", "model", "weights", "backend", "target", "precision", "threads",
                                       "prompt_tokens", "generate_tokens", "status", "reason", "rank",
                                       "prefill_tok_s", "decode_tok_s", "decode_tok_s_min", "decode_tok_s_p90",
                                       "decode_cv", "prefill_cv", "decode_ms_per_token_median", "timer_overhead",
                                       "bytes_per_token", "roofline_tok_s", "roofline_fraction", "correctness",
                                       "max_abs_logit_err", "tokens_agreeing", "tokens_compared"};
    for (int op = 0; op < kNumOps; ++op) header.push_back(std::string("op_ms_") + op_name(Op(op)));
    header.push_back(std::string("op_ms_") + kOtherOp);
    for (const json& p : published) header.push_back("speedup_vs_" + at(p, {"backend"}).get<std::string>());
    header.push_back("source");

    std::string out;
    for (size_t i = 0; i < header.size(); ++i) {
        if (i) out += ',';
        out += header[i];
    }
    out += "\n";
    for (const json& r : at(results, {"rows"})) {
        std::vector<std::string> f;
        f.push_back(str(at(r, {"id"})));
        f.push_back(str(at(r, {"kind"})));
        f.push_back(str(at(r, {"model"})));
        f.push_back(str(at(r, {"weights"})));
        f.push_back(str(at(r, {"backend"})));
        f.push_back(str(at(r, {"target"})));
        f.push_back(str(at(r, {"precision"})));
        f.push_back(str(at(r, {"threads"})));
        f.push_back(str(at(r, {"prompt_tokens"})));
        f.push_back(str(at(r, {"generate_tokens"})));
        f.push_back(str(at(r, {"status"})));
        f.push_back(str(at(r, {"reason"})));
        f.push_back(str(at(r, {"rank"})));
        f.push_back(csv_number(at(r, {"prefill_tok_s"})));
        f.push_back(csv_number(at(r, {"decode_tok_s"})));
        f.push_back(csv_number(at(r, {"decode", "tok_s", "min"})));
        f.push_back(csv_number(at(r, {"decode", "tok_s", "p90"})));
        f.push_back(csv_number(at(r, {"decode", "tok_s", "cv"})));
        f.push_back(csv_number(at(r, {"prefill", "tok_s", "cv"})));
        f.push_back(csv_number(r.contains("decode_ms_per_token") ? at(r, {"decode_ms_per_token"})
                                                                   : at(r, {"decode", "ms_per_token", "median"})));
        f.push_back(csv_number(at(r, {"op_profile", "timer_overhead"})));
        f.push_back(csv_number(at(r, {"roofline", "bytes_per_token"})));
        f.push_back(csv_number(at(r, {"roofline", "tok_s"})));
        f.push_back(csv_number(at(r, {"roofline", "fraction"})));
        f.push_back(str(at(r, {"correctness", "status"})));
        f.push_back(csv_number(at(r, {"correctness", "max_abs_logit_err"})));
        f.push_back(str(at(r, {"correctness", "tokens_agreeing"})));
        f.push_back(str(at(r, {"correctness", "tokens_compared"})));
        for (int op = 0; op < kNumOps; ++op) f.push_back(csv_number(at(r, {"op_ms_per_token", op_name(Op(op))})));
        f.push_back(csv_number(at(r, {"op_ms_per_token", kOtherOp})));
        for (const json& p : published) f.push_back(csv_number(at(r, {"speedup", at(p, {"backend"}).get<std::string>().c_str()})));
        f.push_back(str(at(r, {"source"})));
        for (size_t i = 0; i < f.size(); ++i) {
            if (i) out += ',';
            out += csv_field(f[i]);
        }
        out += '\n';
    }
    return out;
}

std::string results_markdown(const json& results) {
    const json& published = at(results, {"published"});
    std::ostringstream md;
    md << "| model | backend | precision | threads | kind | test | prefill t/s | decode t/s | cv | roofline |";
    for (const json& p : published) md << " vs " << md_cell(at(p, {"backend"})) << " (" << num(at(p, {"tok_s"})) << ") |";
    md << " correctness | rank |\n|";
    const int columns = 12 + int(published.size());
    for (int i = 0; i < columns; ++i) md << (i < 6 || i == columns - 2 ? " --- |" : " ---: |");
    md << "\n";

    std::vector<const json*> not_measured;
    for (const json& r : at(results, {"rows"})) {
        const std::string status = at(r, {"status"});
        if (status == "skipped" || status == "error" || status == "not-run") {
            not_measured.push_back(&r);
            continue;
        }
        const std::string kind = at(r, {"kind"});
        std::string model = str(at(r, {"model"})) + (at(r, {"weights"}) == "synthetic" ? " (synthetic weights)" : "");
        std::string backend = str(at(r, {"backend"}));
        if (kind == "estimated") backend += " → " + str(at(r, {"target"}));
        if (kind == "published") backend = str(at(r, {"name"}));
        std::string test = "-";
        if (at(r, {"prompt_tokens"}).is_number())
            test = "pp" + str(at(r, {"prompt_tokens"})) + "+tg" + str(at(r, {"generate_tokens"}));
        else if (at(r, {"generate_tokens"}).is_number())
            test = "tg" + str(at(r, {"generate_tokens"}));
        std::string cv = "-";
        if (const json& c = at(r, {"decode", "tok_s", "cv"}); c.is_number()) cv = fixed(100 * c.get<double>(), 1) + "%";
        std::string roof = "-";
        if (const json& f = at(r, {"roofline", "fraction"}); f.is_number()) roof = fixed(100 * f.get<double>(), 1) + "%";
        std::string correct = "-";
        if (const json& c = at(r, {"correctness", "status"}); c.is_string()) {
            correct = c == "pass" ? "pass" : c == "reference" ? "reference" : c == "fail" ? "FAIL" : c.get<std::string>();
        }
        if (status == "failed") correct = "FAIL (not ranked)";
        md << "| " << md_cell(model) << " | " << md_cell(backend) << " | " << str(at(r, {"precision"})) << " | "
           << (at(r, {"threads"}).is_number() ? str(at(r, {"threads"})) : "-") << " | " << kind << " | " << test << " | "
           << opt_num(at(r, {"prefill_tok_s"})) << " | " << opt_num(at(r, {"decode_tok_s"})) << " | " << cv << " | " << roof << " |";
        for (const json& p : published) {
            const json& s = at(r, {"speedup", at(p, {"backend"}).get<std::string>().c_str()});
            md << " " << (s.is_number() ? fixed(s.get<double>(), s.get<double>() >= 100 ? 0 : 2) + "x" : "-") << " |";
        }
        md << " " << correct << " | " << (at(r, {"rank"}).is_number() ? str(at(r, {"rank"})) : "-") << " |\n";
    }
    bool greedy_heading = false;
    for (const json& r : at(results, {"rows"})) {
        if (at(r, {"kind"}) != "estimated" || !at(r, {"device_greedy"}).is_object()) continue;
        if (!greedy_heading) {
            md << "\nEstimated rows assume the host samples each token from the logits. With greedy decoding on "
                  "the device instead (logits kept on chip, one kernel run per chunk of tokens), estimated:\n";
            greedy_heading = true;
        }
        md << "- " << str(at(r, {"model"})) << " " << str(at(r, {"backend"})) << " → " << str(at(r, {"target"})) << " "
           << str(at(r, {"precision"})) << ": " << opt_num(at(r, {"device_greedy", "decode_tok_s"}))
           << " tok/s decode (host-sampled: " << opt_num(at(r, {"decode_tok_s"})) << "), "
           << str(at(r, {"device_greedy", "tokens_per_run"})) << " tokens per run\n";
    }
    if (!not_measured.empty()) {
        md << "\nNot measured:\n";
        for (const json* r : not_measured)
            md << "- " << str(at(*r, {"model"})) << " " << str(at(*r, {"backend"})) << " " << str(at(*r, {"precision"}))
               << (at(*r, {"threads"}).is_number() ? " t" + str(at(*r, {"threads"})) : "")
               << (at(*r, {"prompt_tokens"}).is_number() ? " pp" + str(at(*r, {"prompt_tokens"})) : "") << ": "
               << str(at(*r, {"status"})) << ": " << str(at(*r, {"reason"})) << "\n";
    }
    if (!published.empty()) {
        md << "\nPublished (not measured here):\n";
        for (const json& p : published)
            md << "- " << str(at(p, {"name"})) << ": " << num(at(p, {"tok_s"})) << " tok/s, " << str(at(p, {"model"})) << " "
               << str(at(p, {"precision"})) << ". Source: " << str(at(p, {"source"})) << "\n";
    }
    const json& env = at(results, {"environment"});
    md << "\nkind: measured = timed here; estimated = modelled board figure (not measured); published = quoted.\n";
    md << "Host: " << str(at(env, {"cpu_model"})) << ", " << str(at(env, {"cores"})) << " cores; " << str(at(env, {"compiler"}))
       << "; commit " << str(at(env, {"git_commit"})).substr(0, 12)
       << (env.contains("git_dirty") && at(env, {"git_dirty"}) == true ? " (dirty)" : "") << "\n";
    // The cost of the per-op timers, measured per point (target: at most 2%).
    double worst = -1e300;
    std::string worst_id;
    for (const json& r : at(results, {"rows"})) {
        const json& o = at(r, {"op_profile", "timer_overhead"});
        if (o.is_number() && o.get<double>() > worst) worst = o.get<double>(), worst_id = str(at(r, {"id"}));
    }
    if (!worst_id.empty())
        md << "Per-op timer overhead (timed vs untimed op-by-op passes): at most " << fixed(100 * worst, 1) << "% ("
           << worst_id << "; target <= 2%; negative = below the noise)\n";
    // CPU time other processes used during the run (measured), else the load before it.
    const json& others = at(env, {"other_processes_cpu", "fraction"});
    const json& load = at(env, {"load_average_start"});
    if (others.is_number()) {
        if (others.get<double>() > 0.05)
            md << "Warning: other processes used " << fixed(100 * others.get<double>(), 0)
               << "% of the machine's CPU time during the run: they disturb the timings, multi-threaded ones most.\n";
    } else if (load.is_array() && !load.empty() && load[0].is_number() && load[0].get<double>() > 0.5) {
        md << "Warning: the host was busy (1-minute load average " << fixed(load[0].get<double>(), 2)
           << " before the run): other processes disturb the timings, multi-threaded ones most.\n";
    }
    if (at(results, {"complete"}) != true) md << "\nINCOMPLETE: the run was interrupted; only the finished points are shown.\n";
    return md.str();
}

std::string write_results(const json& results, const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw InputError(dir + ": cannot create the output folder: " + ec.message());
    const std::string json_path = (fs::path(dir) / "results.json").string();
    const std::string csv_path = (fs::path(dir) / "results.csv").string();
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
    const std::string text = read_input_file(path, kMaxResultsBytes, "results file");
    scan_json(text, path, {kMaxNestingDepth, kMaxResultsBytes});
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
    if (j.contains("environment") && !j["environment"].is_object())
        bad("/environment", "an object", &j["environment"]);
    return j;
}

}  // namespace lhb::bench
