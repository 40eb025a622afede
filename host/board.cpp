#include "host/board.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/data_files.hpp"
#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/json_scan.hpp"
#include "core/nearest_name.hpp"

namespace lhb::hls {

using nlohmann::json;

namespace {

json read_json(const std::string& path, const char* what) {
    const std::string text = read_json_file(path, kMaxSpecBytes, std::string(what) + " file");
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        throw InputError(path + ": not valid JSON (" + std::string(e.what()) + ")");
    }
}

// %g: 1e-300 must not read as 0.000000.
std::string number_text(double x) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.6g", x);
    return buf;
}

// A key the reader does not know is a typo or a file for something else: refused, naming
// the nearest valid key.
void refuse_unknown_keys(const json& obj, const std::vector<std::string>& known, const std::string& where,
                         const std::string& field) {
    if (!obj.is_object()) return;
    for (const auto& item : obj.items()) {
        if (std::find(known.begin(), known.end(), item.key()) != known.end()) continue;
        const std::string near = nearest_name(item.key(), known);
        fail_input(where, field.empty() ? item.key() : field + "." + item.key(),
                   near.empty() ? "one of the known keys" : "a known key (did you mean \"" + near + "\"?)",
                   "an unknown key");
    }
}

bool power_of_two(int v) { return v > 0 && (v & (v - 1)) == 0; }

// A description file is a JSON object that names its schema.
void check_schema(const json& j, const std::string& where, const std::string& schema) {
    if (!j.is_object()) fail_input(where, "(top level)", "a JSON object", j.dump().substr(0, 40));
    if (!j.contains("schema") || j.at("schema") != schema)
        fail_input(where, "schema", "\"" + schema + "\"", j.contains("schema") ? j.at("schema").dump() : "nothing");
}

// A board number: {"value": N, "source": "..."}; the source is required.
double sourced(const json& parent, const std::string& key, const std::string& where, const std::string& field,
               double min, double max, json* sources) {
    const std::string name = field.empty() ? key : field + "." + key;
    if (!parent.is_object() || !parent.contains(key))
        fail_input(where, name, "{\"value\": number, \"source\": text}", "nothing");
    const json& v = parent.at(key);
    if (!v.is_object() || !v.contains("value") || !v.at("value").is_number())
        fail_input(where, name, "{\"value\": number, \"source\": text}", v.dump());
    if (!v.contains("source") || !v.at("source").is_string() || v.at("source").get<std::string>().empty())
        fail_input(where, name + ".source", "a non-empty text saying where the number comes from", "nothing");
    refuse_unknown_keys(v, {"value", "source"}, where, name);
    const double x = v.at("value").get<double>();
    if (!(x >= min && x <= max))
        fail_input(where, name, "a number in [" + number_text(min) + ", " + number_text(max) + "]", number_text(x));
    (*sources)[name] = v.at("source");
    return x;
}

const json& section(const json& j, const std::string& key, const std::string& where) {
    if (!j.contains(key) || !j.at(key).is_object()) fail_input(where, key, "an object", "nothing");
    return j.at(key);
}

std::string text(const json& j, const std::string& key, const std::string& where) {
    if (!j.contains(key) || !j.at(key).is_string()) fail_input(where, key, "a text", "nothing");
    return j.at(key).get<std::string>();
}

// A design number: plain, or {"value": N, ...}.
double design_number(const json& j, const std::string& key, const std::string& where, double min, double max) {
    if (!j.contains(key)) fail_input(where, key, "a number", "nothing");
    refuse_unknown_keys(j.at(key), {"value", "source"}, where, key);
    const json& v = j.at(key).is_object() && j.at(key).contains("value") ? j.at(key).at("value") : j.at(key);
    if (!v.is_number() && !v.is_boolean()) fail_input(where, key, "a number", v.dump());
    const double x = v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
    if (!(x >= min && x <= max) || x != std::floor(x))
        fail_input(where, key, "an integer in [" + std::to_string(int64_t(min)) + ", " + std::to_string(int64_t(max)) + "]",
                   v.dump());
    return x;
}

constexpr const char* kOperators[] = {"fadd", "fmul", "fdiv", "fsqrt", "fexp", "fpow", "fsincos", "fcmp"};

// An optional design property: {"value": N, "source": "..."} (the source is required: the
// number belongs to that design and says where it comes from), or `def` when absent.
double design_property(const json& j, const std::string& key, const std::string& where, double min, double max,
                       double def) {
    if (!j.contains(key)) return def;
    const json& v = j.at(key);
    if (!v.is_object() || !v.contains("source") || !v.at("source").is_string() ||
        v.at("source").get<std::string>().empty())
        fail_input(where, key, "{\"value\": number, \"source\": text saying where it comes from}", v.dump().substr(0, 60));
    return design_number(j, key, where, min, max);
}

// An optional section of a design file: an object with a non-empty "source".
const json* design_section(const json& j, const std::string& key, const std::string& where) {
    if (!j.contains(key)) return nullptr;
    const json& v = j.at(key);
    if (!v.is_object()) fail_input(where, key, "an object", v.dump().substr(0, 60));
    if (!v.contains("source") || !v.at("source").is_string() || v.at("source").get<std::string>().empty())
        fail_input(where, key + ".source", "a non-empty text saying where the figures come from", "nothing");
    return &v;
}

// resource_structure: how the design's own synthesis bound its parts (each fact from its report).
void parse_resource_structure(const json& rs, const std::string& where, DesignTraits* t) {
    const std::string w = where + ": resource_structure";
    if (rs.contains("bound_operators")) {
        const json& b = rs.at("bound_operators");
        if (!b.is_object()) fail_input(where, "resource_structure.bound_operators", "an object of part: {operator: count}", b.dump());
        for (const auto& [part, ops] : b.items()) {
            if (part != "rmsnorm" && part != "rope" && part != "softmax" && part != "swiglu" && part != "residual")
                fail_input(where, "resource_structure.bound_operators." + part, "rmsnorm, rope, softmax, swiglu or residual", part);
            if (!ops.is_object()) fail_input(where, "resource_structure.bound_operators." + part, "an object of operator: count", ops.dump());
            for (const auto& [op, v] : ops.items()) {
                if (std::find(std::begin(kOperators), std::end(kOperators), op) == std::end(kOperators))
                    fail_input(where, "resource_structure.bound_operators." + part + "." + op,
                               "one of fadd, fmul, fdiv, fsqrt, fexp, fpow, fsincos, fcmp", op);
                t->bound_operators[part][op] = design_number(ops, op, w + ".bound_operators." + part, 0, 100000);
            }
        }
    }
    if (rs.contains("instances")) {
        const json& in = rs.at("instances");
        if (!in.is_object()) fail_input(where, "resource_structure.instances", "an object of function: instances", in.dump());
        for (const auto& [f, v] : in.items()) {
            if (f != "rmsnorm") fail_input(where, "resource_structure.instances." + f, "rmsnorm", f);
            t->instances[f] = int(design_number(in, f, w + ".instances", 1, 64));
        }
    }
    if (rs.contains("unaligned_unroll")) {
        const json& u = rs.at("unaligned_unroll");
        if (!u.is_array()) fail_input(where, "resource_structure.unaligned_unroll", "an array of loop names", u.dump());
        for (const json& name : u) {
            if (!name.is_string() || name.get<std::string>() != "softmax_norm")
                fail_input(where, "resource_structure.unaligned_unroll", "loop names: softmax_norm", name.dump());
            t->unaligned_unroll.push_back(name.get<std::string>());
        }
    }
}

DesignTraits parse_traits(const json& j, const std::string& where) {
    DesignTraits t;
    if (const json* w = design_section(j, "weights", where)) {
        t.weight_bits = int(design_number(*w, "bits", where + ": weights", 4, 32));
        if (t.weight_bits != 32 && t.weight_bits != 16 && t.weight_bits != 8 && t.weight_bits != 4)
            fail_input(where, "weights.bits", "32, 16, 8 or 4", std::to_string(t.weight_bits));
        if (t.quantized()) {
            t.group_size = int(design_number(*w, "group_size", where + ": weights", 1, 1 << 20));
            t.scale_bits = int(design_number(*w, "scale_bits", where + ": weights", 8, 32));
        }
    }
    if (const json* kv = design_section(j, "kv_cache", where)) {
        t.kv_bits = int(design_number(*kv, "bits", where + ": kv_cache", 4, 32));
        if (t.kv_bits != 32 && t.kv_bits != 16 && t.kv_bits != 8 && t.kv_bits != 4)
            fail_input(where, "kv_cache.bits", "32, 16, 8 or 4", std::to_string(t.kv_bits));
    }
    if (const json* m = design_section(j, "memory", where))
        t.memory_channels = int(design_number(*m, "channels", where + ": memory", 1, 256));
    if (const json* h = design_section(j, "host", where)) {
        const std::string os = text(*h, "os", where + ": host");
        if (os != "linux" && os != "bare-metal") fail_input(where, "host.os", "linux or bare-metal", os);
        t.bare_metal = os == "bare-metal";
        if (h->contains("per_token_us")) {
            const json& v = h->at("per_token_us");
            if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1e6)
                fail_input(where, "host.per_token_us", "a number in [0, 1e6]", v.dump());
            t.host_per_token_us = v.get<double>();
        } else if (t.bare_metal) {
            fail_input(where, "host.per_token_us", "a number (a bare-metal host has no XRT costs to take)", "nothing");
        }
    }
    if (const json* ol = design_section(j, "operator_latencies", where)) {
        for (const auto& [name, v] : ol->items()) {
            if (name == "source") continue;
            if (std::find(std::begin(kOperators), std::end(kOperators), name) == std::end(kOperators))
                fail_input(where, "operator_latencies." + name, "one of fadd, fmul, fdiv, fsqrt, fexp, fpow, fsincos, fcmp", name);
            t.operator_latencies[name] = design_number(*ol, name, where + ": operator_latencies", 1, 1000);
        }
    }
    if (const json* ax = design_section(j, "axi_bundles", where)) {
        t.axi_read_bundles = int(design_number(*ax, "read_only", where + ": axi_bundles", 0, 64));
        t.axi_read_write_bundles = int(design_number(*ax, "read_write", where + ": axi_bundles", 0, 64));
        if (t.axi_read_bundles + t.axi_read_write_bundles == 0)
            fail_input(where, "axi_bundles", "at least one bundle", "none");
    }
    t.dataflow_ops = design_property(j, "dataflow_between_ops", where, 0, 1, 0) != 0;
    t.synthesis_clock_mhz = int(design_property(j, "synthesis_clock_mhz", where, 1, 2000, 0));
    t.maxi_latency_cycles = int(design_property(j, "maxi_latency_cycles", where, 1, 10000, 0));
    if (const json* l = design_section(j, "loop_structure", where)) {
        const std::string attn = l->contains("attention") ? text(*l, "attention", where + ": loop_structure") : "all-heads";
        const std::string rope = l->contains("rope") ? text(*l, "rope", where + ": loop_structure") : "pipelined";
        if (attn != "all-heads" && attn != "per-head")
            fail_input(where, "loop_structure.attention", "all-heads or per-head", attn);
        if (rope != "pipelined" && rope != "unrolled")
            fail_input(where, "loop_structure.rope", "pipelined or unrolled", rope);
        t.attention_per_head = attn == "per-head";
        if (l->contains("reduction")) {
            const std::string r = text(*l, "reduction", where + ": loop_structure");
            if (r != "tree" && r != "serial") fail_input(where, "loop_structure.reduction", "tree or serial", r);
            t.serial_reduction = r == "serial";
        }
        t.rope_unrolled = rope == "unrolled";
        if (t.rope_unrolled) t.rope_unroll = int(design_number(*l, "rope_unroll", where + ": loop_structure", 1, 4096));
        if (l->contains("array_partition"))
            t.array_partition = int(design_number(*l, "array_partition", where + ": loop_structure", 1, 1024));
        if (l->contains("unroll")) {
            const json& u = l->at("unroll");
            if (!u.is_object()) fail_input(where, "loop_structure.unroll", "an object of loop name: elements", u.dump());
            for (const auto& [name, v] : u.items()) {
                if (name != "rms_sumsq" && name != "rms_scale" && name != "swiglu" && name != "residual" &&
                    name != "softmax_norm")
                    fail_input(where, "loop_structure.unroll." + name,
                               "rms_sumsq, rms_scale, swiglu, residual or softmax_norm", name);
                t.unroll[name] = int(design_number(u, name, where + ": loop_structure.unroll", 1, 4096));
            }
        }
    }
    if (const json* rs = design_section(j, "resource_structure", where)) parse_resource_structure(*rs, where, &t);
    return t;
}


}  // namespace

BoardSpec parse_board(const json& j, const std::string& where) {
    check_schema(j, where, "lhb-board/1");
    refuse_unknown_keys(j, {"schema", "name", "device", "notes", "kernel_clock_mhz", "axi", "ddr", "resources",
                            "host_per_token_us", "operators"}, where, "");
    for (const auto& [key, keys] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"axi", {"hp_ports", "port_max_bits", "max_burst_beats", "burst_overhead_cycles"}},
             {"ddr", {"peak_gb_per_s", "efficiency", "read_latency_ns", "channels", "kind"}},
             {"resources", {"dsp", "bram36", "uram", "lut", "ff"}},
             {"host_per_token_us", {"launch", "logits_sync", "sampling", "tokens_sync", "piece_output"}},
             {"operators", {"reference_clock_mhz", "fadd", "fmul", "fdiv", "fsqrt", "fexp", "fpow", "fsincos", "fcmp"}}})
        if (j.contains(key)) refuse_unknown_keys(j.at(key), keys, where, key);
    BoardSpec b;
    b.path = where;
    b.name = text(j, "name", where);
    b.device = text(j, "device", where);
    json& src = b.sources;
    src = json::object();
    b.max_clock_mhz = sourced(j, "kernel_clock_mhz", where, "", 1, 2000, &src);
    const json& axi = section(j, "axi", where);
    b.hp_ports = int(sourced(axi, "hp_ports", where, "axi", 1, 64, &src));
    b.port_max_bits = int(sourced(axi, "port_max_bits", where, "axi", 32, 1024, &src));
    if (!power_of_two(b.port_max_bits))
        fail_input(where, "axi.port_max_bits", "a power of two (AXI data widths are 32, 64, ..., 1024 bits)",
                   std::to_string(b.port_max_bits));
    b.max_burst_beats = int(sourced(axi, "max_burst_beats", where, "axi", 1, 256, &src));
    b.burst_overhead_cycles = sourced(axi, "burst_overhead_cycles", where, "axi", 0, 64, &src);
    const json& ddr = section(j, "ddr", where);
    b.ddr_peak_gb_per_s = sourced(ddr, "peak_gb_per_s", where, "ddr", 0.01, 10000, &src);
    b.ddr_efficiency = sourced(ddr, "efficiency", where, "ddr", 0.01, 1, &src);
    b.read_latency_ns = sourced(ddr, "read_latency_ns", where, "ddr", 0, 10000, &src);
    const json& res = section(j, "resources", where);
    b.dsp = sourced(res, "dsp", where, "resources", 0, 1e6, &src);
    b.bram36 = sourced(res, "bram36", where, "resources", 0, 1e6, &src);
    b.uram = sourced(res, "uram", where, "resources", 0, 1e6, &src);
    if (res.contains("lut")) b.lut = sourced(res, "lut", where, "resources", 0, 1e8, &src);
    if (res.contains("ff")) b.ff = sourced(res, "ff", where, "resources", 0, 1e8, &src);
    if (ddr.contains("channels")) b.memory_channels = int(sourced(ddr, "channels", where, "ddr", 1, 256, &src));
    if (ddr.contains("kind")) {
        b.memory_kind = text(ddr, "kind", where + ": ddr");
        if (b.memory_kind != "ps-ddr" && b.memory_kind != "pl-ddr" && b.memory_kind != "ddr" && b.memory_kind != "hbm")
            fail_input(where, "ddr.kind", "ps-ddr, pl-ddr, ddr or hbm", b.memory_kind);
    }
    const json& host = section(j, "host_per_token_us", where);
    b.host_launch_us = sourced(host, "launch", where, "host_per_token_us", 0, 1e6, &src);
    b.host_sync_us = sourced(host, "logits_sync", where, "host_per_token_us", 0, 1e6, &src);
    b.host_sampling_us = sourced(host, "sampling", where, "host_per_token_us", 0, 1e6, &src);
    b.host_tokens_sync_us = sourced(host, "tokens_sync", where, "host_per_token_us", 0, 1e6, &src);
    b.host_piece_us = sourced(host, "piece_output", where, "host_per_token_us", 0, 1e6, &src);
    const json& ops = section(j, "operators", where);
    b.op_ref_clock_mhz = sourced(ops, "reference_clock_mhz", where, "operators", 1, 2000, &src);
    for (const char* name : kOperators) {
        const std::string field = std::string("operators.") + name;
        if (!ops.contains(name) || !ops.at(name).is_object())
            fail_input(where, field, "{\"latency\": {...}, \"dsp\": {...}}", "nothing");
        refuse_unknown_keys(ops.at(name), {"latency", "dsp", "lut", "ff"}, where, field);
        OperatorSpec o;
        o.latency = sourced(ops.at(name), "latency", where, field, 0, 1000, &src);
        o.dsp = sourced(ops.at(name), "dsp", where, field, 0, 1000, &src);
        if (ops.at(name).contains("lut")) o.lut = sourced(ops.at(name), "lut", where, field, 0, 1e5, &src);
        if (ops.at(name).contains("ff")) o.ff = sourced(ops.at(name), "ff", where, field, 0, 1e5, &src);
        b.operators[name] = o;
    }
    return b;
}

BoardSpec load_board(const std::string& path) { return parse_board(read_json(path, "board"), path); }

DesignSpec compiled_design(int kv_bits) {
    DesignSpec s;
    s.traits.kv_bits = kv_bits;
    s.name = "llama-hls (compiled kernels)";
    s.path = "kernels/hls_config.hpp";
    s.source = "the kernels as built here";
    s.d = lhk::kDesign;
    s.compiled = true;
    return s;
}

bool same_design(const lhk::Design& a, const lhk::Design& b) {
    return a.weight_ports == b.weight_ports && a.port_bits == b.port_bits && a.lanes == b.lanes &&
           a.partial_sums == b.partial_sums && a.burst_beats == b.burst_beats && a.outstanding == b.outstanding &&
           a.kv_ports == b.kv_ports && a.flatten_rows == b.flatten_rows && a.clock_mhz == b.clock_mhz &&
           a.weight_fifo_beats == b.weight_fifo_beats;
}

bool default_traits(const DesignTraits& t) {
    const DesignTraits z;
    return t.weight_bits == z.weight_bits && t.kv_bits == z.kv_bits && t.memory_channels == z.memory_channels &&
           t.dataflow_ops == z.dataflow_ops && !t.bare_metal && t.host_per_token_us < 0 &&
           t.synthesis_clock_mhz == 0 && t.maxi_latency_cycles == 0 && !t.attention_per_head && !t.rope_unrolled &&
           !t.serial_reduction && t.operator_latencies.empty() && t.unroll.empty() && t.array_partition == 0 &&
           t.axi_read_bundles == 0 && t.axi_read_write_bundles == 0 && t.bound_operators.empty() &&
           t.instances.empty() && t.unaligned_unroll.empty();
}

DesignSpec parse_design(const json& j, const std::string& where) {
    check_schema(j, where, "lhb-design/1");
    refuse_unknown_keys(j, {"schema", "name", "source", "clock_mhz", "weight_ports", "port_bits", "lanes", "partial_sums",
                            "burst_beats", "outstanding", "kv_ports", "flatten_rows", "weight_fifo_beats", "weights",
                            "kv_cache", "memory", "host", "operator_latencies", "dataflow_between_ops",
                            "synthesis_clock_mhz", "maxi_latency_cycles", "loop_structure", "axi_bundles",
                            "resource_structure"},
                        where, "");
    for (const auto& [key, keys] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"weights", {"bits", "group_size", "scale_bits", "source"}},
             {"kv_cache", {"bits", "source"}},
             {"memory", {"channels", "source"}},
             {"host", {"os", "per_token_us", "source"}},
             {"loop_structure", {"attention", "rope", "reduction", "rope_unroll", "unroll", "array_partition", "source"}},
             {"axi_bundles", {"read_only", "read_write", "source"}},
             {"resource_structure", {"bound_operators", "instances", "unaligned_unroll", "source"}},
             {"operator_latencies", {"fadd", "fmul", "fdiv", "fsqrt", "fexp", "fpow", "fsincos", "fcmp", "source"}}})
        if (j.contains(key)) refuse_unknown_keys(j.at(key), keys, where, key);
    DesignSpec s;
    s.path = where;
    s.name = text(j, "name", where);
    s.source = j.contains("source") && j.at("source").is_string() ? j.at("source").get<std::string>() : "";
    lhk::Design& d = s.d;
    d.clock_mhz = int(design_number(j, "clock_mhz", where, 1, 2000));
    d.weight_ports = int(design_number(j, "weight_ports", where, 1, 64));
    d.port_bits = int(design_number(j, "port_bits", where, 32, 1024));
    if (d.port_bits % 32 != 0) fail_input(where, "port_bits", "a multiple of 32", std::to_string(d.port_bits));
    if (!power_of_two(d.port_bits))
        fail_input(where, "port_bits", "a power of two (AXI data widths are 32, 64, ..., 1024 bits)",
                   std::to_string(d.port_bits));
    d.lanes = int(design_number(j, "lanes", where, 1, 256));
    d.partial_sums = int(design_number(j, "partial_sums", where, 1, 64));
    d.burst_beats = int(design_number(j, "burst_beats", where, 1, 256));
    d.outstanding = int(design_number(j, "outstanding", where, 1, 256));
    d.kv_ports = int(design_number(j, "kv_ports", where, 1, 64));
    d.flatten_rows = int(design_number(j, "flatten_rows", where, 0, 1));
    // Optional (older design files have no reader): 0, the engines read their ports.
    d.weight_fifo_beats = j.contains("weight_fifo_beats")
                              ? int(design_number(j, "weight_fifo_beats", where, 0, 1 << 20))
                              : 0;
    s.traits = parse_traits(j, where);
    s.compiled = same_design(d, lhk::kDesign) && default_traits(s.traits);
    return s;
}

DesignSpec load_design(const std::string& path) { return parse_design(read_json(path, "design"), path); }

std::string default_board_path() { return require_data_file(kDefaultBoardFile, "default board file (no --board given):"); }

}  // namespace lhb::hls
