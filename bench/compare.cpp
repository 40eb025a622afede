#include "bench/compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "bench/result_row.hpp"
#include "bench/results.hpp"

namespace lhb::bench {

using nlohmann::json;

namespace {

// Read access that tolerates absent keys (files come from users; load_results checked only
// the fields every reader needs).
const json& get(const json& o, const char* key) {
    static const json null_value;
    return o.is_object() && o.contains(key) ? o[key] : null_value;
}

bool measured_or_estimated(const json& r) {
    return (get(r, "kind") == "measured" || get(r, "kind") == "estimated") &&
           (get(r, "status") == "ok" || get(r, "status") == "failed") && get(r, "decode_tok_s").is_number();
}

double cv_of(const json& r) {
    const json& cv = get(get(get(r, "decode"), "tok_s"), "cv");
    return cv.is_number() ? cv.get<double>() : 0;  // estimated rows are deterministic
}

bool passes(const json& r) {
    const json& s = get(get(r, "correctness"), "status");
    if (s.is_null()) return true;
    return s == "pass" || s == "reference";
}

std::string fmt(double v, const char* f) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

}  // namespace

// What the runs of a document say about `key` of their environments, each value once.
std::vector<json> environment_values(const json& doc, const char* key) {
    std::vector<json> values;
    for (const json& run : runs_of(doc)) {
        const json& v = get(get(run, "environment"), key);
        if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
    }
    return values;
}

std::string values_text(const std::vector<json>& values) {
    std::string t;
    for (const json& v : values) t += (t.empty() ? "" : ", ") + v.dump();
    return t;
}

// Rows are paired by their full identity (row_key): two points that differ only in `fused`
// are two points. With a merged document of several hosts, the host is part of it too.
Comparison compare_results(const json& a, const json& b) {
    Comparison c;
    const bool with_host = hosts_of(a).size() > 1 || hosts_of(b).size() > 1;
    std::map<std::string, const json*> rows_a, rows_b;
    std::vector<std::string> order_a, order_b;
    auto collect = [&](const json& doc, std::map<std::string, const json*>& rows, std::vector<std::string>& order,
                       const char* side) {
        for (const json& r : get(doc, "rows")) {
            if (!measured_or_estimated(r)) continue;
            const std::string key = row_key(r, with_host);
            if (!rows.emplace(key, &r).second) {
                c.notes.push_back(std::string("warning: ") + side + " has two rows " + row_label(r, with_host) +
                                  "; the second is not compared");
                continue;
            }
            order.push_back(key);
        }
    };
    collect(a, rows_a, order_a, "A");
    collect(b, rows_b, order_b, "B");
    for (const std::string& key : order_a) {
        const json& ra = *rows_a[key];
        auto it = rows_b.find(key);
        if (it == rows_b.end()) {
            c.only_in_a.push_back(row_label(ra, with_host));
            continue;
        }
        const json& rb = *it->second;
        PointComparison p;
        p.id = row_label(ra, with_host);
        p.a_decode = get(ra, "decode_tok_s").get<double>();
        p.b_decode = get(rb, "decode_tok_s").get<double>();
        if (get(ra, "prefill_tok_s").is_number()) p.a_prefill = get(ra, "prefill_tok_s").get<double>();
        if (get(rb, "prefill_tok_s").is_number()) p.b_prefill = get(rb, "prefill_tok_s").get<double>();
        if (*p.a_decode > 0) p.decode_ratio = *p.b_decode / *p.a_decode;
        if (p.a_prefill && p.b_prefill && *p.a_prefill > 0) p.prefill_ratio = *p.b_prefill / *p.a_prefill;
        const double cva = cv_of(ra), cvb = cv_of(rb);
        p.noise = std::max(3 * std::sqrt(cva * cva + cvb * cvb), kMinChange);
        if (passes(ra) && !passes(rb)) p.flag = "correctness lost";
        else if (!passes(ra) && passes(rb)) p.flag = "correctness fixed";
        else if (p.decode_ratio > 0 && p.decode_ratio - 1 > p.noise) p.flag = "faster";
        else if (p.decode_ratio > 0 && 1 - p.decode_ratio > p.noise) p.flag = "slower";
        if (p.flag == "slower" || p.flag == "correctness lost") ++c.regressions;
        c.points.push_back(p);
    }
    for (const std::string& key : order_b)
        if (!rows_a.count(key)) c.only_in_b.push_back(row_label(*rows_b[key], with_host));

    // Hosts, CPUs and commits that differ make a ratio a comparison of machines or builds,
    // not of one change: warned. Compiler and flags are noted.
    for (const char* key : {"hostname", "cpu_model", "git_commit", "compiler", "build_flags"}) {
        const std::vector<json> va = environment_values(a, key), vb = environment_values(b, key);
        const bool warn = std::string(key) == "hostname" || std::string(key) == "cpu_model" || std::string(key) == "git_commit";
        if (va != vb) c.notes.push_back((warn ? "warning: " : "") + std::string(key) + " differs: " + values_text(va) + " vs " + values_text(vb));
        else if (warn && va.size() > 1)
            c.notes.push_back("warning: each file mixes " + std::string(key) + " values: " + values_text(va));
    }
    if (get(a, "complete") != true) c.notes.push_back("A is incomplete (interrupted run)");
    if (get(b, "complete") != true) c.notes.push_back("B is incomplete (interrupted run)");
    return c;
}

std::string comparison_markdown(const Comparison& c, const std::string& a_name, const std::string& b_name) {
    std::ostringstream md;
    md << "A: " << a_name << "\nB: " << b_name << "\n\n";
    md << "| point | A decode t/s | B decode t/s | B/A | A prefill t/s | B prefill t/s | B/A | noise | change |\n";
    md << "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
    for (const auto& p : c.points) {
        auto opt = [](const std::optional<double>& v) { return v ? fmt(*v, "%.2f") : std::string("-"); };
        std::string flag = p.flag == "slower" ? "**SLOWER**" : p.flag == "correctness lost" ? "**CORRECTNESS LOST**" : p.flag;
        md << "| " << p.id << " | " << opt(p.a_decode) << " | " << opt(p.b_decode) << " | "
           << (p.decode_ratio > 0 ? fmt(p.decode_ratio, "%.3f") : "-") << " | " << opt(p.a_prefill) << " | "
           << opt(p.b_prefill) << " | " << (p.prefill_ratio > 0 ? fmt(p.prefill_ratio, "%.3f") : "-") << " | ±"
           << fmt(100 * p.noise, "%.1f") << "% | " << flag << " |\n";
    }
    for (const auto& id : c.only_in_a) md << "\nonly in A: " << id;
    for (const auto& id : c.only_in_b) md << "\nonly in B: " << id;
    if (!c.only_in_a.empty() || !c.only_in_b.empty()) md << "\n";
    for (const auto& n : c.notes) md << "\n" << (n.rfind("warning: ", 0) == 0 ? "" : "note: ") << n;
    md << "\n" << c.regressions << " regression(s) beyond noise.\n";
    return md.str();
}

}  // namespace lhb::bench
