#include "bench/result_row.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/backend.hpp"

using nlohmann::json;

namespace lhb::bench {

namespace {

template <typename T>
json opt(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

const char* kOtherOp = "other";  // the rest of a token's time, beside the op classes

}  // namespace

const char* field_type_name(FieldType t) {
    switch (t) {
        case FieldType::String: return "string";
        case FieldType::Integer: return "integer";
        case FieldType::Number: return "number";
        case FieldType::Boolean: return "boolean";
        case FieldType::Object: return "object";
    }
    return "?";
}

const std::vector<RowField> kRowFields = {
    {"id", FieldType::String, [](const ResultRow& r) { return json(r.id); }},
    {"kind", FieldType::String, [](const ResultRow& r) { return json(r.kind); }},
    {"model", FieldType::String, [](const ResultRow& r) { return json(r.model); }},
    {"weights", FieldType::String, [](const ResultRow& r) { return json(r.weights); }},
    {"backend", FieldType::String, [](const ResultRow& r) { return json(r.backend); }},
    {"precision", FieldType::String, [](const ResultRow& r) { return json(r.precision); }},
    {"threads", FieldType::Integer, [](const ResultRow& r) { return opt(r.threads); }},
    {"prompt_tokens", FieldType::Integer, [](const ResultRow& r) { return opt(r.prompt_tokens); }},
    {"generate_tokens", FieldType::Integer, [](const ResultRow& r) { return opt(r.generate_tokens); }},
    {"depth_tokens", FieldType::Integer, [](const ResultRow& r) { return opt(r.depth_tokens); }},
    {"test", FieldType::String,
     [](const ResultRow& r) { return json(test_name(opt(r.prompt_tokens), opt(r.generate_tokens), opt(r.depth_tokens))); }},
    {"status", FieldType::String, [](const ResultRow& r) { return json(r.status); }},
    {"reason", FieldType::String, [](const ResultRow& r) { return opt(r.reason); }},
    {"ranked", FieldType::Boolean, [](const ResultRow& r) { return json(r.ranked); }},
    {"rank", FieldType::Integer, [](const ResultRow& r) { return opt(r.rank); }},
    {"decode_tok_s", FieldType::Number, [](const ResultRow& r) { return opt(r.decode_tok_s); }},
    {"prefill_tok_s", FieldType::Number, [](const ResultRow& r) { return opt(r.prefill_tok_s); }},
    {"avg_watts", FieldType::Number, [](const ResultRow& r) { return opt(r.avg_watts); }},
    {"joules_per_token", FieldType::Number, [](const ResultRow& r) { return opt(r.joules_per_token); }},
    {"ttft_ms", FieldType::Number, [](const ResultRow& r) { return opt(r.ttft_ms); }},
    {"op_ms_per_token", FieldType::Object, [](const ResultRow& r) { return r.op_ms_per_token; }},
    {"correctness", FieldType::Object, [](const ResultRow& r) { return r.correctness; }},
    {"speedup", FieldType::Object, [](const ResultRow& r) { return r.speedup; }},
    {"unstable", FieldType::Boolean, [](const ResultRow& r) { return json(r.unstable); }},
};

json to_json(const ResultRow& row) {
    json j = json::object();
    for (const RowField& f : kRowFields) j[f.name] = f.get(row);
    for (auto it = row.details.begin(); it != row.details.end(); ++it) j[it.key()] = it.value();
    return j;
}

const json& at_path(const json& row, const RowPath& path) {
    static const json null_value;
    const json* p = &row;
    for (const std::string& k : path) {
        if (!p->is_object() || !p->contains(k)) return null_value;
        p = &(*p)[k];
    }
    return *p;
}

std::vector<CsvField> csv_fields(const json& published) {
    using T = FieldType;
    std::vector<CsvField> f = {
        {"id", T::String, "", {{"id"}}},
        {"kind", T::String, "", {{"kind"}}},
        {"model", T::String, "", {{"model"}}},
        {"weights", T::String, "", {{"weights"}}},
        {"backend", T::String, "", {{"backend"}}},
        {"target", T::String, "", {{"target"}}},
        {"precision", T::String, "", {{"precision"}}},
        {"threads", T::Integer, "", {{"threads"}}},
        {"prompt_tokens", T::Integer, "tokens", {{"prompt_tokens"}}},
        {"generate_tokens", T::Integer, "tokens", {{"generate_tokens"}}},
        {"depth_tokens", T::Integer, "tokens", {{"depth_tokens"}}},
        {"test", T::String, "", {{"test"}}},
        {"status", T::String, "", {{"status"}}},
        {"reason", T::String, "", {{"reason"}}},
        {"rank", T::Integer, "", {{"rank"}}},
        {"prefill_tok_s", T::Number, "tok/s", {{"prefill_tok_s"}}},
        {"decode_tok_s", T::Number, "tok/s", {{"decode_tok_s"}}},
        {"ttft_ms", T::Number, "ms", {{"ttft_ms"}}},
        {"ttft_cv", T::Number, "fraction", {{"ttft", "ms", "cv"}}},
        {"decode_tok_s_min", T::Number, "tok/s", {{"decode", "tok_s", "min"}}},
        {"decode_tok_s_p90", T::Number, "tok/s", {{"decode", "tok_s", "p90"}}},
        {"decode_cv", T::Number, "fraction", {{"decode", "tok_s", "cv"}}},
        {"prefill_cv", T::Number, "fraction", {{"prefill", "tok_s", "cv"}}},
        {"decode_ms_per_token_median", T::Number, "ms", {{"decode_ms_per_token"}, {"decode", "ms_per_token", "median"}}},
        {"timer_overhead", T::Number, "fraction", {{"op_profile", "timer_overhead"}}},
        {"bytes_per_token", T::Number, "bytes", {{"roofline", "bytes_per_token"}}},
        {"roofline_tok_s", T::Number, "tok/s", {{"roofline", "tok_s"}}},
        {"roofline_fraction", T::Number, "fraction", {{"roofline", "fraction"}}, true},
        {"avg_watts", T::Number, "W", {{"avg_watts"}}},
        {"joules_per_token", T::Number, "J", {{"joules_per_token"}}},
        {"energy_sources", T::String, "", {{"energy", "sources"}}},
        {"peer_command", T::String, "", {{"peer", "command"}}},
        {"unstable", T::Boolean, "", {{"unstable"}}},
        {"host", T::String, "", {{"host"}}},
        {"correctness", T::String, "", {{"correctness", "status"}}},
        {"max_abs_logit_err", T::Number, "", {{"correctness", "max_abs_logit_err"}}},
        {"tokens_agreeing", T::Integer, "tokens", {{"correctness", "tokens_agreeing"}}},
        {"tokens_compared", T::Integer, "tokens", {{"correctness", "tokens_compared"}}},
    };
    for (int op = 0; op < kNumOps; ++op)
        f.push_back({std::string("op_ms_") + op_name(Op(op)), T::Number, "ms", {{"op_ms_per_token", op_name(Op(op))}}});
    f.push_back({std::string("op_ms_") + kOtherOp, T::Number, "ms", {{"op_ms_per_token", kOtherOp}}});
    for (const json& p : published) {
        const std::string b = text_of(at_path(p, {"backend"}));
        f.push_back({"speedup_vs_" + b, T::Number, "ratio", {{"speedup", b}}});
    }
    f.push_back({"source", T::String, "", {{"source"}}});
    return f;
}

bool has_energy(const json& rows) {
    if (!rows.is_array()) return false;
    return std::any_of(rows.begin(), rows.end(), [](const json& r) { return at_path(r, {"avg_watts"}).is_number(); });
}

std::vector<TableColumn> table_columns(const json& published, bool with_host, bool with_energy) {
    std::vector<TableColumn> c = {
        {"model", "model", "model", {"model"}},
        {"backend", "backend", "backend", {"backend"}},
        {"precision", "precision", "text", {"precision"}},
        {"threads", "threads", "integer", {"threads"}},
        {"kind", "kind", "text", {"kind"}},
        {"test", "test", "test", {"prompt_tokens"}},
        {"prefill_tok_s", "prefill t/s", "number", {"prefill_tok_s"}, true},
        {"decode_tok_s", "decode t/s", "number", {"decode_tok_s"}, true},
        {"ttft_ms", "TTFT ms", "number", {"ttft_ms"}, true},
        {"decode_cv", "cv", "percent", {"decode", "tok_s", "cv"}, true},
        {"roofline_fraction", "roofline", "roofline", {"roofline", "fraction"}, true},
    };
    if (with_energy) {
        c.push_back({"avg_watts", "W", "number", {"avg_watts"}, true});
        c.push_back({"joules_per_token", "J/tok", "number", {"joules_per_token"}, true});
    }
    if (with_host) c.insert(c.begin(), {"host", "host", "text", {"host"}});
    for (const json& p : published) {
        const std::string b = text_of(at_path(p, {"backend"}));
        const json& tok_s = at_path(p, {"tok_s"});
        c.push_back({"speedup_vs_" + b, "vs " + b + " (" + (tok_s.is_number() ? num(tok_s.get<double>()) : "-") + ")",
                     "speedup", {"speedup", b}, true});
    }
    c.push_back({"correctness", "correctness", "correctness", {"correctness", "status"}});
    c.push_back({"rank", "rank", "integer", {"rank"}, true});
    return c;
}

json to_json(const TableColumn& c) {
    return {{"name", c.name}, {"header", c.header}, {"format", c.format}, {"path", c.path},
            {"align", c.right_aligned ? "right" : "left"}};
}

std::string table_cell(const TableColumn& c, const json& row) {
    const json& v = at_path(row, c.path);
    const std::string& f = c.format;
    if (f == "text") return text_of(v);
    if (f == "integer") return v.is_number() ? text_of(v) : "-";
    if (f == "number") return v.is_number() ? num(v.get<double>()) : "-";
    if (f == "percent") return v.is_number() ? fixed(100 * v.get<double>(), 1) + "%" : "-";
    if (f == "roofline") {
        if (at_path(row, {"unstable"}) == true || (v.is_number() && v.get<double>() > 1)) return "unstable";
        return v.is_number() ? fixed(100 * v.get<double>(), 1) + "%" : "-";
    }
    if (f == "speedup" && !is_board_row(row)) return "-";
    if (f == "speedup") return v.is_number() ? fixed(v.get<double>(), v.get<double>() >= 100 ? 0 : 2) + "x" : "-";
    if (f == "model") return text_of(v) + (at_path(row, {"weights"}) == "synthetic" ? " (synthetic weights)" : "");
    if (f == "backend") {
        const json& kind = at_path(row, {"kind"});
        if (kind == "estimated") return text_of(v) + " → " + text_of(at_path(row, {"target"}));
        if (kind == "published") return text_of(at_path(row, {"name"}));
        return text_of(v);
    }
    if (f == "test") {
        const std::string t = test_name(v, at_path(row, {"generate_tokens"}), at_path(row, {"depth_tokens"}));
        return t.empty() ? "-" : t;
    }
    if (f == "correctness") {
        if (at_path(row, {"status"}) == "failed") return "FAIL (not ranked)";
        if (!v.is_string()) return "-";
        return v == "fail" ? "FAIL" : v.get<std::string>();
    }
    return text_of(v);
}

bool is_board_row(const json& row) {
    const json& kind = at_path(row, {"kind"});
    return kind == "estimated" || kind == "published" || at_path(row, {"backend"}) == "zcu106-xrt";
}

std::string row_key(const json& row, bool with_host) {
    std::string key;
    for (const char* k : {"id", "kind", "model", "weights", "backend", "target", "precision", "threads", "fused",
                          "prompt_tokens", "generate_tokens"})
        key += text_of(at_path(row, {k})) + '\x1f';
    // No depth (a file before depth_tokens) is depth 0: such rows pair with today's.
    const json& depth = at_path(row, {"depth_tokens"});
    key += (depth.is_number() && depth.get<double>() > 0 ? text_of(depth) : "0") + '\x1f';
    if (with_host) key += text_of(at_path(row, {"host"}));
    return key;
}

std::string row_label(const json& row, bool with_host) {
    std::string label = text_of(at_path(row, {"id"}));
    if (at_path(row, {"fused"}) == false) label += " (fused=false)";
    if (with_host) label += " @" + text_of(at_path(row, {"host"}));
    return label;
}

void normalize_row(json& row) {
    if (!row.is_object()) return;
    const json& fraction = at_path(row, {"roofline", "fraction"});
    const bool impossible = fraction.is_number() && fraction.get<double>() > 1;
    if (impossible || !row.contains("unstable") || !row["unstable"].is_boolean()) row["unstable"] = impossible;
    if (impossible && !row.contains("unstable_reason"))
        row["unstable_reason"] = "decode tok/s above the memory roofline (fraction " + fixed(fraction.get<double>(), 3) +
                                 "): the bandwidth measured is not the one this point saw; its fraction is not a result";
    if (!is_board_row(row)) row["speedup"] = json::object();
}

std::string test_name(const json& prompt, const json& generate, const json& depth) {
    std::string t;
    if (prompt.is_number()) t = "pp" + text_of(prompt) + (generate.is_number() ? "+" : "");
    if (generate.is_number()) t += "tg" + text_of(generate);
    if (!t.empty() && depth.is_number() && depth.get<double>() > 0) t += "@d" + text_of(depth);
    return t;
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string num(double v) {
    const double a = std::fabs(v);
    if (a >= 1000) return fixed(v, 0);
    if (a >= 100) return fixed(v, 1);
    if (a >= 1) return fixed(v, 2);
    return fixed(v, 3);
}

std::string text_of(const json& j) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_null()) return "";
    return j.dump();
}

}  // namespace lhb::bench
