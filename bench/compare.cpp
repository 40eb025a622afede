#include "bench/compare.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

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

Comparison compare_results(const json& a, const json& b) {
    Comparison c;
    std::map<std::string, const json*> rows_a, rows_b;
    std::vector<std::string> order;
    for (const json& r : get(a, "rows"))
        if (measured_or_estimated(r)) rows_a[get(r, "id").get<std::string>()] = &r, order.push_back(get(r, "id"));
    for (const json& r : get(b, "rows"))
        if (measured_or_estimated(r)) rows_b[get(r, "id").get<std::string>()] = &r;
    for (const std::string& id : order) {
        auto it = rows_b.find(id);
        if (it == rows_b.end()) {
            c.only_in_a.push_back(id);
            continue;
        }
        const json& ra = *rows_a[id];
        const json& rb = *it->second;
        PointComparison p;
        p.id = id;
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
    for (const auto& [id, r] : rows_b)
        if (!rows_a.count(id)) c.only_in_b.push_back(id);

    for (const char* key : {"cpu_model", "compiler", "build_flags", "git_commit"}) {
        const json& ea = get(get(a, "environment"), key);
        const json& eb = get(get(b, "environment"), key);
        if (ea != eb) c.notes.push_back(std::string(key) + " differs: " + ea.dump() + " vs " + eb.dump());
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
    for (const auto& n : c.notes) md << "\nnote: " << n;
    md << "\n" << c.regressions << " regression(s) beyond noise.\n";
    return md.str();
}

}  // namespace lhb::bench
