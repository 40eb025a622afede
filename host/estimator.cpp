#include "host/estimator.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/data_files.hpp"
#include "core/error.hpp"
#include "kernels/llama_layout.hpp"
#include "kernels/loop_bounds.hpp"

namespace lhb::hls {

using nlohmann::json;

// ---------------------------------------------------------------------------------------
// Board and design files

namespace {

json read_json(const std::string& path, const char* what) {
    std::ifstream f(path);
    if (!f) throw InputError(path + ": cannot open the " + std::string(what) + " file");
    try {
        return json::parse(f);
    } catch (const json::exception& e) {
        throw InputError(path + ": not valid JSON (" + std::string(e.what()) + ")");
    }
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
    const double x = v.at("value").get<double>();
    if (!(x >= min && x <= max))
        fail_input(where, name, "a number in [" + std::to_string(min) + ", " + std::to_string(max) + "]",
                   std::to_string(x));
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
    const json& v = j.at(key).is_object() && j.at(key).contains("value") ? j.at(key).at("value") : j.at(key);
    if (!v.is_number() && !v.is_boolean()) fail_input(where, key, "a number", v.dump());
    const double x = v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
    if (!(x >= min && x <= max) || x != std::floor(x))
        fail_input(where, key, "an integer in [" + std::to_string(int64_t(min)) + ", " + std::to_string(int64_t(max)) + "]",
                   v.dump());
    return x;
}

constexpr const char* kOperators[] = {"fadd", "fmul", "fdiv", "fsqrt", "fexp", "fpow", "fsincos", "fcmp"};

}  // namespace

BoardSpec parse_board(const json& j, const std::string& where) {
    if (!j.is_object()) fail_input(where, "(top level)", "a JSON object", j.dump().substr(0, 40));
    if (!j.contains("schema") || j.at("schema") != "lhb-board/1")
        fail_input(where, "schema", "\"lhb-board/1\"", j.contains("schema") ? j.at("schema").dump() : "nothing");
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
        OperatorSpec o;
        o.latency = sourced(ops.at(name), "latency", where, field, 0, 1000, &src);
        o.dsp = sourced(ops.at(name), "dsp", where, field, 0, 1000, &src);
        b.operators[name] = o;
    }
    return b;
}

BoardSpec load_board(const std::string& path) { return parse_board(read_json(path, "board"), path); }

DesignSpec compiled_design() {
    DesignSpec s;
    s.name = "llama-hls (compiled kernels)";
    s.path = "kernels/hls_config.hpp";
    s.source = "the kernels as built here";
    s.d = lhk::kDesign;
    s.compiled = true;
    return s;
}

namespace {
bool same_design(const lhk::Design& a, const lhk::Design& b) {
    return a.weight_ports == b.weight_ports && a.port_bits == b.port_bits && a.lanes == b.lanes &&
           a.partial_sums == b.partial_sums && a.burst_beats == b.burst_beats && a.outstanding == b.outstanding &&
           a.kv_ports == b.kv_ports && a.flatten_rows == b.flatten_rows && a.clock_mhz == b.clock_mhz &&
           a.weight_fifo_beats == b.weight_fifo_beats;
}
}  // namespace

DesignSpec parse_design(const json& j, const std::string& where) {
    if (!j.is_object()) fail_input(where, "(top level)", "a JSON object", j.dump().substr(0, 40));
    if (!j.contains("schema") || j.at("schema") != "lhb-design/1")
        fail_input(where, "schema", "\"lhb-design/1\"", j.contains("schema") ? j.at("schema").dump() : "nothing");
    DesignSpec s;
    s.path = where;
    s.name = text(j, "name", where);
    s.source = j.contains("source") && j.at("source").is_string() ? j.at("source").get<std::string>() : "";
    lhk::Design& d = s.d;
    d.clock_mhz = int(design_number(j, "clock_mhz", where, 1, 2000));
    d.weight_ports = int(design_number(j, "weight_ports", where, 1, 64));
    d.port_bits = int(design_number(j, "port_bits", where, 32, 1024));
    if (d.port_bits % 32 != 0) fail_input(where, "port_bits", "a multiple of 32", std::to_string(d.port_bits));
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
    s.compiled = same_design(d, lhk::kDesign);
    return s;
}

DesignSpec load_design(const std::string& path) { return parse_design(read_json(path, "design"), path); }

std::string default_board_path() { return require_data_file(kDefaultBoardFile, "default board file (no --board given):"); }

// ---------------------------------------------------------------------------------------
// The cycle model

MemoryModel MemoryModel::of(const lhk::Design& d, const BoardSpec& b, double clock_mhz) {
    MemoryModel m;
    // A port wider than the board's ports is narrowed by the interconnect; bundles beyond the
    // board's ports share them.
    const int bits = std::min(d.port_bits, b.port_max_bits);
    const int bundles = std::max(d.weight_ports, d.kv_ports);
    const double share = bundles > b.hp_ports ? double(b.hp_ports) / bundles : 1.0;
    m.port_bytes_per_cycle = bits / 8.0 * share;
    const double burst = std::min(d.burst_beats, b.max_burst_beats);
    m.burst_efficiency = burst / (burst + b.burst_overhead_cycles);
    m.latency_cycles = b.read_latency_ns * clock_mhz / 1000.0;
    // Little's law: `outstanding` bursts in flight must cover the latency.
    m.port_rate = std::min(1.0, d.outstanding * burst / (m.latency_cycles + burst));
    m.ddr_bytes_per_cycle = b.ddr_peak_gb_per_s * 1e9 * b.ddr_efficiency / (clock_mhz * 1e6);
    return m;
}

const char* bound_name(Bound b) {
    switch (b) {
        case Bound::Compute: return "compute";
        case Bound::Port: return "port";
        case Bound::Ddr: return "ddr";
    }
    return "?";
}

double pipeline_cycles(int64_t trips, double ii, double depth) {
    return trips > 0 ? double(trips - 1) * ii + depth : 0.0;
}

// Entry and exit of a pipelined loop in the enclosing state machine.
constexpr double kLoopOverheadCycles = 2;

Cycles loop_cycles(const LoopCost& loop, const MemoryModel& mem) {
    Cycles c;
    const bool memory = loop.port != lhk::kNoPort && loop.bytes > 0;
    const double fill_latency = memory ? mem.latency_cycles : 0.0;
    c.cycles = double(loop.repeats) * (pipeline_cycles(loop.trips, loop.ii, loop.depth) + fill_latency) +
               (loop.trips > 0 ? kLoopOverheadCycles : 0.0);
    if (memory) {
        const double port = double(loop.bytes) /
                                (mem.port_bytes_per_cycle * mem.burst_efficiency * mem.port_rate) +
                            mem.latency_cycles;
        const double ddr = double(loop.bytes) / mem.ddr_bytes_per_cycle + mem.latency_cycles;
        if (port > c.cycles) c = {port, Bound::Port};
        if (ddr > c.cycles) c = {ddr, Bound::Ddr};
    }
    return c;
}

Cycles dataflow_cycles(const std::vector<LoopCost>& stages, const MemoryModel& mem) {
    Cycles c;
    int64_t bytes = 0;
    for (const LoopCost& s : stages) {
        const Cycles sc = loop_cycles(s, mem);
        if (sc.cycles > c.cycles) c = sc;
        if (s.port != lhk::kNoPort) bytes += s.bytes;
    }
    // The stages share the DDR.
    if (bytes > 0) {
        const double ddr = double(bytes) / mem.ddr_bytes_per_cycle + mem.latency_cycles;
        if (ddr > c.cycles) c = {ddr, Bound::Ddr};
    }
    return c;
}

OperatorLatencies OperatorLatencies::of(const BoardSpec& b, double clock_mhz) {
    // A core pipelined for the reference clock needs proportionally fewer stages at a slower
    // clock (and more at a faster one).
    auto at = [&](const char* name) {
        const double ref = b.operators.at(name).latency;
        return std::max(1.0, std::ceil(ref * clock_mhz / b.op_ref_clock_mhz - 1e-9));
    };
    OperatorLatencies l;
    l.fadd = at("fadd");
    l.fmul = at("fmul");
    l.fdiv = at("fdiv");
    l.fsqrt = at("fsqrt");
    l.fexp = at("fexp");
    l.fpow = at("fpow");
    l.fsincos = at("fsincos");
    l.fcmp = at("fcmp");
    return l;
}

namespace {
double log2_ceil(int n) {
    int levels = 0;
    while ((1 << levels) < n) ++levels;
    return levels;
}
// Integer operators are not in the board file: a DSP48E2 multiplier pipelined with its input,
// M and P registers (3 cycles) and one cycle per fabric adder level. Assumptions; they only
// set pipeline depths (paid once per matrix), not the II.
constexpr double kIntMulCycles = 3;
constexpr double kIntAddCycles = 1;
// An accumulator revisited every `distance` iterations through an operator of latency `lat`.
double recurrence_ii(double lat, int distance) { return std::max(1.0, std::ceil(lat / std::max(1, distance))); }
}  // namespace

void loop_timing(lhk::LoopId id, const lhk::Design& d, const OperatorLatencies& L, double* ii, double* depth) {
    using lhk::LoopId;
    const double lanes_tree = log2_ceil(d.lanes) * L.fadd;
    const double beat_tree = log2_ceil(std::max(1, d.port_bits / 32)) * L.fadd;
    const double io = 1;  // register stage at either end
    *ii = 1;
    switch (id) {
        case LoopId::WeightRead:
        case LoopId::EmbedRead:
        case LoopId::VecLoad:
        case LoopId::VecStore:
        case LoopId::MatStoreDdr:
        case LoopId::KvWrite:
            *depth = L.bram + 2 * io;
            break;
        case LoopId::MatLoadX:
        case LoopId::MatStoreVec:
        case LoopId::AttnLoadQ:
            *depth = L.bram + io;
            break;
        case LoopId::RmsSumSq:
            *ii = recurrence_ii(L.fadd, d.partial_sums);
            *depth = L.bram + L.fmul + lanes_tree + L.fadd + io;
            break;
        case LoopId::RmsScale:
            *depth = L.bram + 2 * L.fmul + io;
            break;
        case LoopId::MatEngine:
            // product, lane tree, accumulator, tail tree over the partial sums, row write
            *ii = recurrence_ii(L.fadd, d.partial_sums);
            // (the engine's running maximum, for greedy decoding, is one compare after the write)
            *depth = io + L.bram + L.fmul + lanes_tree + L.fadd + log2_ceil(d.partial_sums) * L.fadd + L.fcmp + io;
            break;
        case LoopId::RopeTable:
            // int -> float and divide, powf, reciprocal, pos * freq, cosf/sinf
            *depth = L.fdiv + L.fpow + L.fdiv + L.fmul + L.fsincos + io;
            break;
        case LoopId::RopeRotate:
            *depth = L.bram + L.fmul + L.fadd + io;
            break;
        case LoopId::AttnScores:
            // product, beat tree, head tree over kMaxHeadBeats, divide by sqrt(head_size)
            *depth = io + L.bram + L.fmul + beat_tree + log2_ceil(lhk::kMaxHeadBeats) * L.fadd + L.fdiv + io;
            break;
        case LoopId::SoftmaxMax:
            *ii = recurrence_ii(L.fcmp, d.partial_sums);
            *depth = L.bram + L.fcmp + io;
            break;
        case LoopId::SoftmaxExp:
            *ii = recurrence_ii(L.fadd, d.partial_sums);
            *depth = L.bram + L.fadd + L.fexp + L.fadd + io;
            break;
        case LoopId::SoftmaxNorm:
            *depth = L.bram + L.fdiv + io;
            break;
        case LoopId::AttnValues:
            // an accumulator is revisited once per stored row (>= partial_sums iterations)
            *ii = recurrence_ii(L.fadd, d.partial_sums);
            *depth = io + L.bram + L.fmul + L.fadd + io;
            break;
        case LoopId::AttnCombine:
            *depth = L.bram + d.kv_ports * L.fadd + io;
            break;
        case LoopId::SwiGLU:
            *depth = L.bram + L.fexp + L.fadd + L.fdiv + 2 * L.fmul + io;
            break;
        case LoopId::Residual:
            *depth = L.bram + L.fadd + io;
            break;
        case LoopId::QuantMax:
            // |x|, comparator tree over the lanes, running max (a one-fcmp recurrence), the
            // scale's division on a group's last iteration
            *ii = recurrence_ii(L.fcmp, 1);
            *depth = L.bram + log2_ceil(d.lanes) * L.fcmp + L.fcmp + L.fdiv + io;
            break;
        case LoopId::QuantScale:
            // x / scale, round (an adder's latency), clamp and store
            *depth = L.bram + L.fdiv + L.fadd + io;
            break;
        case LoopId::MatQ8Steps:
            *depth = L.bram + io;
            break;
        case LoopId::MatQ8Engine:
            // packed int8 multiply, integer tree over a row's columns of the beat, the group's
            // int32 sum, int -> float, two multiplies by the scales, accumulator, tail tree
            *ii = recurrence_ii(L.fadd, d.partial_sums);
            *depth = io + L.bram + kIntMulCycles + log2_ceil(lhk::q8_cols_per_beat(d)) * kIntAddCycles +
                     kIntAddCycles + L.fadd + 2 * L.fmul + L.fadd + log2_ceil(d.partial_sums) * L.fadd + L.fcmp + io;
            break;
        case LoopId::Count:
            *depth = 1;
            break;
    }
}

// ---------------------------------------------------------------------------------------
// The kernels' loop structure for another design

namespace {

TraceStep single(lhk::LoopId id, int64_t trips, int port = lhk::kNoPort, int64_t bytes = 0, int64_t repeats = 1) {
    TraceStep s;
    s.loops.push_back(TraceLoop{id, trips, repeats, port, bytes});
    return s;
}

int io_port(const lhk::Design& d) { return std::max(lhk::kIoPort, std::max(d.weight_ports, d.kv_ports)); }

}  // namespace

std::vector<TraceStep> model_op(const TraceOpRun& op, const lhk::Design& d) {
    using lhk::LoopId;
    const auto& a = op.args;
    const int pf = lhk::port_floats(d);
    const int64_t port_bytes = d.port_bits / 8;
    const int64_t iter_bytes = int64_t(d.lanes) * 4;  // bytes an iteration that reads `lanes` floats moves
    auto beats = [&](int n) { return int64_t(lhk::ceil_div(n, pf)); };
    auto port_of = [&](int traced, int ports) { return traced == lhk::kIoPort ? io_port(d) : traced % ports; };
    // Where a matmul's row results go: 0 an on-chip vector, 1 DDR (the logits), 2 nowhere
    // (greedy decoding: the engines keep only their largest, no loop of its own).
    auto store_rows = [&](int where, int rows, std::vector<TraceStep>& out) {
        if (where == 0) out.push_back(single(LoopId::MatStoreVec, lhk::vec_iters(rows, d)));
        if (where == 1) out.push_back(single(LoopId::MatStoreDdr, beats(rows), io_port(d), beats(rows) * port_bytes));
    };
    std::vector<TraceStep> steps;
    switch (op.op) {
        case lhk::TraceOp::Embedding:
            steps.push_back(single(LoopId::EmbedRead, beats(a[0]), a[1] % d.weight_ports, beats(a[0]) * port_bytes));
            break;
        case lhk::TraceOp::RmsNorm: {
            const int64_t it = lhk::vec_iters(a[0], d);
            steps.push_back(single(LoopId::RmsSumSq, it));
            steps.push_back(single(LoopId::RmsScale, it, port_of(a[1], d.weight_ports), it * iter_bytes));
            break;
        }
        case lhk::TraceOp::MatMul: {
            // The activations laid out for the engines (int8: the steps of a row pair; fp32:
            // x copied to every engine), the engines over their rows as concurrent processes
            // (each `per` iterations per row or row pair, one beat per iteration), the row
            // results stored.
            const int rows = a[0], cols = a[1], gs = a[3];
            const bool q8 = gs > 0;
            const int per = q8 ? lhk::q8_pair_iters(cols, gs, d) : lhk::row_iters(cols, d);
            // With weight readers the engines read their FIFOs: the bytes are the readers'.
            const int64_t per_bytes = d.weight_fifo_beats > 0 ? 0 : q8 ? port_bytes : iter_bytes;
            const LoopId engine = q8 ? LoopId::MatQ8Engine : LoopId::MatEngine;
            steps.push_back(single(q8 ? LoopId::MatQ8Steps : LoopId::MatLoadX, per));
            TraceStep df;
            df.dataflow = true;
            for (int e = 0; e < d.weight_ports; ++e) {
                const int64_t units = q8 ? lhk::q8_pairs_on_engine(rows, e, d) : lhk::rows_on_engine(rows, e, d);
                const int64_t bytes = units * per * per_bytes;
                if (d.flatten_rows)
                    df.loops.push_back(TraceLoop{engine, units * per, 1, e, bytes});
                else
                    df.loops.push_back(TraceLoop{engine, units > 0 ? per : 0, std::max<int64_t>(units, 1), e, bytes});
            }
            steps.push_back(std::move(df));
            store_rows(a[2], rows, steps);
            break;
        }
        case lhk::TraceOp::WeightStream:
            // A port's reader: a[1] beats a token for a[2] tokens (counted for the compiled
            // layout; another design's readers are accounted from its engines' reads).
            if (d.weight_fifo_beats > 0 && same_design(d, lhk::kDesign))
                steps.push_back(single(LoopId::WeightRead, int64_t(a[1]) * a[2], a[0] % d.weight_ports,
                                       int64_t(a[1]) * a[2] * port_bytes));
            break;
        case lhk::TraceOp::Rope:
            if (a[3] != 0) steps.push_back(single(LoopId::RopeTable, lhk::rope_table_iters(a[2])));
            if (a[3] != 2) steps.push_back(single(LoopId::RopeRotate, lhk::rope_pairs(a[0])));
            break;
        case lhk::TraceOp::KvStore: {
            const int64_t row = lhk::ceil_div64(int64_t(lhk::kv_row_iters(a[0], d)) * d.lanes, pf);
            const int port = a[1] % d.kv_ports;
            steps.push_back(single(LoopId::KvWrite, row, port, row * port_bytes));
            steps.push_back(single(LoopId::KvWrite, row, port, row * port_bytes));
            break;
        }
        case lhk::TraceOp::Attention: {
            const int pos = a[0], dim = a[1];
            const int ri = lhk::kv_row_iters(dim, d);
            auto engines = [&](LoopId id) {
                TraceStep df;
                df.dataflow = true;
                for (int e = 0; e < d.kv_ports; ++e) {
                    const int64_t trips = int64_t(lhk::slots_on_port(pos, e, d)) * ri;
                    df.loops.push_back(TraceLoop{id, trips, 1, e, trips * iter_bytes});
                }
                return df;
            };
            steps.push_back(single(LoopId::AttnLoadQ, lhk::vec_iters(dim, d)));
            steps.push_back(engines(LoopId::AttnScores));
            steps.push_back(single(LoopId::SoftmaxMax, pos + 1));
            steps.push_back(single(LoopId::SoftmaxExp, pos + 1));
            steps.push_back(single(LoopId::SoftmaxNorm, pos + 1));
            steps.push_back(engines(LoopId::AttnValues));
            steps.push_back(single(LoopId::AttnCombine, lhk::vec_iters(dim, d)));
            break;
        }
        case lhk::TraceOp::Softmax:
            steps.push_back(single(LoopId::VecLoad, beats(a[0]), io_port(d), beats(a[0]) * port_bytes));
            steps.push_back(single(LoopId::SoftmaxMax, a[0]));
            steps.push_back(single(LoopId::SoftmaxExp, a[0]));
            steps.push_back(single(LoopId::SoftmaxNorm, a[0]));
            steps.push_back(single(LoopId::VecStore, beats(a[0]), io_port(d), beats(a[0]) * port_bytes));
            break;
        case lhk::TraceOp::SwiGLU:
            steps.push_back(single(LoopId::SwiGLU, lhk::vec_iters(a[0], d)));
            break;
        case lhk::TraceOp::Residual:
            steps.push_back(single(LoopId::Residual, lhk::vec_iters(a[0], d)));
            break;
        case lhk::TraceOp::Quantize:
            steps.push_back(single(LoopId::QuantMax, lhk::vec_iters(a[0], d)));
            steps.push_back(single(LoopId::QuantScale, lhk::vec_iters(a[0], d)));
            break;
        case lhk::TraceOp::Count:
            steps = op.steps;  // vector I/O of a per-op top: kept as traced
            break;
    }
    return steps;
}

// ---------------------------------------------------------------------------------------
// Resources

namespace {

struct Tally {
    json parts = json::array();
    double dsp = 0, bram18 = 0, uram = 0;
};

// A bank of `words` 32-bit words: registers below 64 words, else 512-deep BRAM18s (or
// 4096-deep URAMs).
double bram18_of(int64_t words) { return words <= 64 ? 0.0 : std::ceil(double(words) / 512.0); }
double uram_of(int64_t words) { return words <= 64 ? 0.0 : std::ceil(double(words) / 4096.0); }

}  // namespace

ResourceEstimate estimate_resources(const lhk::Design& d, const BoardSpec& b) {
    Tally t;
    auto dsp = [&](const char* op) { return b.operators.at(op).dsp; };
    const double F = std::max(1, d.port_bits / 32), L = d.lanes, P = d.partial_sums, E = d.weight_ports,
                 K = d.kv_ports, H = lhk::kMaxHeads, HB = std::max(1, lhk::kMaxHeadSize / int(F));
    auto unit = [&](const char* name, double instances, double fadd, double fmul, double fdiv, double fsqrt,
                    double fexp, double fpow, double fsincos, double fcmp) {
        const double per = fadd * dsp("fadd") + fmul * dsp("fmul") + fdiv * dsp("fdiv") + fsqrt * dsp("fsqrt") +
                           fexp * dsp("fexp") + fpow * dsp("fpow") + fsincos * dsp("fsincos") + fcmp * dsp("fcmp");
        t.dsp += instances * per;
        t.parts.push_back({{"part", name}, {"instances", instances}, {"dsp", instances * per},
                           {"operators", {{"fadd", fadd}, {"fmul", fmul}, {"fdiv", fdiv}, {"fsqrt", fsqrt},
                                          {"fexp", fexp}, {"fpow", fpow}, {"fsincos", fsincos}, {"fcmp", fcmp}}}});
    };
    // Arithmetic: one instance per function (Vitis shares a sub-function's hardware between
    // its calls), operators counted without sharing between loops (an upper bound).
    unit("matmul engine", E, (L - 1) + 1 + (P - 1), L, 0, 0, 0, 0, 0, 0);
    unit("rmsnorm", 1, (L - 1) + 1 + (P - 1) + 1, 3 * L, 2, 1, 0, 0, 0, 0);
    unit("rope table", 1, 0, 1, 2, 0, 0, 1, 2, 0);
    unit("rope rotate", 1, 4, 8, 0, 0, 0, 0, 0, 0);
    unit("attention score engine", K, (F - 1) + (HB - 1), F, 1, 0, 0, 0, 0, 0);
    unit("softmax (per head)", H, 2 + (P - 1), 0, 1, 0, 1, 0, 0, 1 + (P - 1));
    unit("attention value engine", K, F, F, 0, 0, 0, 0, 0, 0);
    unit("attention combine", 1, F * K, 0, 0, 0, 0, 0, 0, 0);
    unit("swiglu", 1, L, 2 * L, L, 0, L, 0, 0, 0);
    unit("residual", 1, L, 0, 0, 0, 0, 0, 0, 0);
    // int8 (the same bitstream): per engine, both rows' scaling (2 fmul each), accumulator and
    // tail tree; int -> float conversions are fabric (no DSP). The quantizer: a divider per
    // lane and one for the scale, comparators (fabric: no DSP by the board file).
    unit("int8 matmul engine (scaling, accumulation)", E, 2 * (1 + (P - 1)), 4, 0, 0, 0, 0, 0, 0);
    unit("int8 activation quantizer", 1, L, 0, L + 1, 0, 0, 0, 0, L);
    // The int8 multiplies: a beat's port_bytes/2 columns of two rows share their activation,
    // so each column's two products are one DSP48E2 (packed operand, WP487): port_bytes/2
    // DSPs per engine for port_bytes int8 MACs per clock.
    {
        const double macs = d.port_bits / 8.0, per_engine = std::ceil(macs / 2);
        t.dsp += E * per_engine;
        t.parts.push_back({{"part", "int8 matmul engine multipliers (two int8 MACs per DSP48E2)"},
                           {"instances", E},
                           {"int8_macs_per_clock", macs},
                           {"dsp", E * per_engine}});
    }

    // On-chip memories of llama_forward (sizes from the compiled maxima).
    auto mem = [&](const char* name, double banks, int64_t words_per_bank, bool uram) {
        const double b18 = uram ? 0 : banks * bram18_of(words_per_bank);
        const double u = uram ? banks * uram_of(words_per_bank) : 0;
        t.bram18 += b18;
        t.uram += u;
        t.parts.push_back({{"part", name}, {"banks", banks}, {"words_per_bank", words_per_bank},
                           {"bram36", b18 / 2}, {"uram", u}});
    };
    const int64_t lanes = d.lanes;
    mem("activations x, xb, xb2, q, k, v", 6 * lanes, lhk::ceil_div64(lhk::kMaxDim, lanes), false);
    mem("activations hb, hb2", 2 * lanes, lhk::ceil_div64(lhk::kMaxHidden, lanes), false);
    mem("matmul inputs (one copy per engine)", E * lanes, lhk::ceil_div64(lhk::kMaxCols, lanes), false);
    mem("matmul row results", E, lhk::ceil_div64(lhk::kMaxRows, int64_t(E)), true);
    mem("attention q copies", K * F, lhk::ceil_div64(lhk::kMaxDim, int64_t(F)), false);
    mem("attention scores", K * H, lhk::ceil_div64(lhk::kMaxSeqLen, int64_t(K)), false);
    mem("attention value accumulators", K * F, lhk::ceil_div64(lhk::kMaxDim, int64_t(F)), false);
    // int8: the quantized input (int8, kQ8Cols banks), its scales, and every engine's copy of
    // a row pair's steps (kQ8Cols int8 + scale + flags: 4 words a beat).
    mem("int8 activations", lhk::kQ8Cols, lhk::ceil_div64(lhk::kMaxCols, 4 * lhk::kQ8Cols), false);
    mem("int8 activation scales", 1, lhk::kMaxQ8Groups, false);
    mem("int8 matmul steps (one copy per engine)", E, 4 * int64_t(lhk::kMaxQ8PairBeats), false);
    // The weight readers' FIFOs: kWeightFifoBeats x port_bits each (BRAM36 is at most 72 bits
    // wide and 512 deep at that width).
    if (d.weight_fifo_beats > 0) {
        const double per = std::ceil(d.port_bits / 72.0) * std::ceil(d.weight_fifo_beats / 512.0);
        t.bram18 += 2 * per * d.weight_ports;
        t.parts.push_back({{"part", "weight reader FIFOs"}, {"instances", d.weight_ports},
                           {"beats", d.weight_fifo_beats}, {"bram36", per * d.weight_ports}});
    }
    // m_axi adapters: a read FIFO of outstanding x burst beats per bundle, and a write FIFO
    // on the bundles that write (KV stripes, io).
    // (With weight readers, the forward pass's tables and KV stripes have bundles of their own.)
    const int bundles = (d.weight_fifo_beats > 0 ? d.weight_ports + d.kv_ports : std::max(d.weight_ports, d.kv_ports)) + 1;
    const double burst = std::min(d.burst_beats, b.max_burst_beats);
    const double fifo_bram36 = std::ceil(d.outstanding * burst / 512.0) * std::ceil(d.port_bits / 72.0);
    const double adapters = bundles * 2 * fifo_bram36;
    t.bram18 += 2 * adapters;
    t.parts.push_back({{"part", "m_axi adapters (read + write FIFOs)"}, {"bundles", bundles}, {"bram36", adapters}});

    ResourceEstimate r;
    r.dsp = t.dsp;
    r.bram36 = std::ceil(t.bram18 / 2);
    r.uram = t.uram;
    r.dsp_avail = b.dsp;
    r.bram36_avail = b.bram36;
    r.uram_avail = b.uram;
    r.fits = r.dsp <= b.dsp && r.bram36 <= b.bram36 && r.uram <= b.uram;
    r.detail = t.parts;
    return r;
}

// ---------------------------------------------------------------------------------------
// The token estimate

namespace {

Op backend_op(lhk::TraceOp op) {
    switch (op) {
        case lhk::TraceOp::Embedding: return Op::MatMul;  // a row of the embedding/classifier table
        case lhk::TraceOp::RmsNorm: return Op::RmsNorm;
        case lhk::TraceOp::MatMul: return Op::MatMul;
        case lhk::TraceOp::Rope: return Op::Rope;
        case lhk::TraceOp::KvStore: return Op::Attention;
        case lhk::TraceOp::Attention: return Op::Attention;
        case lhk::TraceOp::Softmax: return Op::Softmax;
        case lhk::TraceOp::SwiGLU: return Op::SwiGLU;
        case lhk::TraceOp::Residual: return Op::Residual;
        case lhk::TraceOp::Quantize: return Op::MatMul;  // part of the int8 matmul, as in cpu-ref
        case lhk::TraceOp::WeightStream: return Op::MatMul;  // the matmuls' weights
        case lhk::TraceOp::Count: break;
    }
    return Op::Residual;
}

std::string describe(const std::vector<TraceStep>& steps) {
    std::ostringstream s;
    for (const TraceStep& st : steps) {
        s << (st.dataflow ? "[" : "");
        for (const TraceLoop& l : st.loops)
            s << loop_name(l.id) << "(" << l.trips << "x" << l.repeats << ",p" << l.port << "," << l.bytes << "B) ";
        s << (st.dataflow ? "] " : "");
    }
    return s.str();
}

}  // namespace

std::string precision_label(int group_size) {
    return group_size > 0 ? "int8 (Q8_0, group size " + std::to_string(group_size) + ")" : "fp32";
}

TokenEstimate estimate_token(const Trace& trace, const ModelConfig& c, int pos, const DesignSpec& design,
                             const BoardSpec& board, int group_size, DecodeMode mode, int greedy_chunk) {
    TokenEstimate e;
    e.mode = mode;
    e.greedy_chunk = mode == DecodeMode::DeviceGreedy ? std::max(1, greedy_chunk) : 0;
    e.group_size = group_size;
    e.precision = precision_label(group_size);
    e.board = board.name;
    e.board_path = board.path;
    e.design = design.name;
    e.design_path = design.path;
    e.pos = pos;
    e.shape = "dim=" + std::to_string(c.dim) + ",hidden=" + std::to_string(c.hidden_dim) +
              ",layers=" + std::to_string(c.n_layers) + ",heads=" + std::to_string(c.n_heads) +
              ",kv_heads=" + std::to_string(c.n_kv_heads) + ",vocab=" + std::to_string(c.vocab_size) +
              ",seq=" + std::to_string(c.seq_len);
    e.clock_mhz = std::min<double>(design.d.clock_mhz, board.max_clock_mhz);
    e.clock_clamped = design.d.clock_mhz > board.max_clock_mhz;
    const MemoryModel mem = MemoryModel::of(design.d, board, e.clock_mhz);
    const OperatorLatencies lat = OperatorLatencies::of(board, e.clock_mhz);
    e.port_bytes.assign(size_t(io_port(design.d)) + 1, 0);

    std::map<std::string, size_t> loop_index;
    bool checked = design.compiled;
    // Weight readers (weight_fifo_beats > 0): the engines take their weights from FIFOs that
    // the readers fill at the DDR's rate whenever there is room, also while the ops between
    // the matmuls run. So a matmul waits only for what the readers could not fetch ahead:
    // `ahead` bytes are in the FIFOs (at most their capacity); the first beat comes after one
    // read latency.
    const lhk::Design& dd = design.d;
    const bool readers = dd.weight_fifo_beats > 0;
    const double fifo_bytes = double(dd.weight_ports) * dd.weight_fifo_beats * (dd.port_bits / 8.0);
    const double supply = std::min(mem.ddr_bytes_per_cycle,
                                   dd.weight_ports * mem.port_bytes_per_cycle * mem.burst_efficiency * mem.port_rate);
    double ahead = -mem.latency_cycles * supply;
    for (const TraceOpRun& op : trace.ops) {
        std::vector<TraceStep> steps;
        if (design.compiled) {
            std::vector<TraceStep> modelled = model_op(op, lhk::kDesign);
            if (modelled != op.steps)
                throw std::logic_error(std::string("estimator: the loop model of ") + trace_op_name(op.op) +
                                       " no longer mirrors the kernels: traced " + describe(op.steps) +
                                       "| modelled " + describe(modelled));
            steps = op.steps;
        } else {
            steps = model_op(op, design.d);
        }
        const std::string op_name_k = trace_op_name(op.op);
        for (const TraceStep& st : steps) {
            std::vector<LoopCost> costs;
            double weights = 0, own = 0;  // bytes the step takes from the FIFOs, and reads or writes itself
            for (const TraceLoop& l : st.loops) {
                LoopCost lc;
                lc.name = loop_name(l.id);
                lc.trips = l.trips;
                lc.repeats = l.repeats;
                lc.port = l.port;
                lc.bytes = l.bytes;
                loop_timing(l.id, design.d, lat, &lc.ii, &lc.depth);
                costs.push_back(lc);
                int64_t port_traffic = l.bytes;
                if (readers && (l.id == lhk::LoopId::MatEngine || l.id == lhk::LoopId::MatQ8Engine)) {
                    const int64_t per_trip = l.id == lhk::LoopId::MatEngine ? int64_t(dd.lanes) * 4 : dd.port_bits / 8;
                    const int64_t taken = l.trips * l.repeats * per_trip;
                    weights += double(taken);
                    // A design from a file has no traced reader: its readers move what its engines take.
                    if (!design.compiled) port_traffic += taken;
                } else if (l.port >= 0 && op.op != lhk::TraceOp::WeightStream) {
                    own += double(l.bytes);
                }
                if (l.port >= 0 && size_t(l.port) < e.port_bytes.size()) e.port_bytes[size_t(l.port)] += port_traffic;
                if (l.port >= 0) e.total_bytes += port_traffic;
                auto [it, fresh] = loop_index.try_emplace(lc.name, e.loops.size());
                if (fresh) {
                    LoopSummary s;
                    s.name = lc.name;
                    s.op = op_name_k;
                    s.ii = lc.ii;
                    s.depth = lc.depth;
                    e.loops.push_back(s);
                }
                LoopSummary& s = e.loops[it->second];
                s.runs += 1;
                s.trips += l.trips * l.repeats;
                s.fills += l.trips > 0 ? l.repeats : 0;
                s.bytes += port_traffic;
                s.cycles += loop_cycles(lc, mem).cycles;
            }
            // A reader's own time shows as the engines' waits below.
            if (op.op == lhk::TraceOp::WeightStream) continue;
            Cycles cy = st.dataflow ? dataflow_cycles(costs, mem) : loop_cycles(costs.front(), mem);
            if (readers) {
                if (weights > 0) {
                    const double wait = (weights - ahead) / supply;
                    if (wait > cy.cycles) cy = {wait, Bound::Ddr};
                    ahead = std::min(fifo_bytes, ahead + supply * cy.cycles - weights);
                } else {
                    ahead = std::min(fifo_bytes, ahead + std::max(0.0, supply * cy.cycles - own));
                }
            }
            e.op_cycles[size_t(backend_op(op.op))] += cy.cycles;
            e.kernel_op_cycles[op_name_k] += cy.cycles;
            e.bound_cycles[bound_name(cy.bound)] += int64_t(std::llround(cy.cycles));
            e.kernel_cycles += cy.cycles;
        }
    }
    e.trace_checked = checked;
    e.kernel_seconds = e.kernel_cycles / (e.clock_mhz * 1e6);
    e.host_seconds = board.host_overhead_us(mode, e.greedy_chunk) * 1e-6;
    e.token_seconds = e.kernel_seconds + e.host_seconds;
    e.tok_per_s = e.token_seconds > 0 ? 1.0 / e.token_seconds : 0;
    const double usable = board.ddr_peak_gb_per_s * 1e9 * board.ddr_efficiency;
    e.ddr_roofline_tok_per_s = e.total_bytes > 0 ? usable / double(e.total_bytes) : 0;
    e.resources = estimate_resources(design.d, board);
    return e;
}

TokenEstimate estimate_token(const ModelConfig& c, int pos, const DesignSpec& design, const BoardSpec& board,
                             int group_size, DecodeMode mode, int greedy_chunk) {
    return estimate_token(trace_forward(c, pos, group_size, mode), c, pos, design, board, group_size, mode,
                          greedy_chunk);
}

json TokenEstimate::to_json() const {
    json j;
    j["label"] = "estimated";
    j["shape"] = shape;
    j["precision"] = precision;
    j["group_size"] = group_size;
    j["pos"] = pos;
    j["decode_mode"] = decode_mode_name(mode);
    j["greedy_tokens_per_run"] = mode == DecodeMode::DeviceGreedy ? json(greedy_chunk) : json(nullptr);
    j["board"] = board;
    j["board_file"] = board_path;
    j["design"] = design;
    j["design_file"] = design_path;
    j["clock_mhz"] = clock_mhz;
    j["clock_clamped_to_board"] = clock_clamped;
    j["trace_checked_against_model"] = trace_checked;
    json ops = json::object();
    for (int i = 0; i < kNumOps; ++i) ops[op_name(Op(i))] = op_cycles[size_t(i)];
    j["cycles_by_op_estimated"] = ops;
    j["cycles_by_kernel_op_estimated"] = kernel_op_cycles;
    j["cycles_by_bound_estimated"] = bound_cycles;
    j["kernel_cycles_estimated"] = kernel_cycles;
    j["kernel_seconds_estimated"] = kernel_seconds;
    j["host_seconds_estimated"] = host_seconds;
    j["token_seconds_estimated"] = token_seconds;
    j["tok_per_s_estimated"] = tok_per_s;
    json ports = json::object();
    for (size_t p = 0; p < port_bytes.size(); ++p)
        ports[p + 1 == port_bytes.size() ? "io (gmem" + std::to_string(p) + ")" : "gmem" + std::to_string(p)] =
            port_bytes[p];
    j["bytes_by_port"] = ports;
    j["bytes_total"] = total_bytes;
    j["ddr_roofline_tok_per_s"] = ddr_roofline_tok_per_s;
    json loops_j = json::array();
    for (const LoopSummary& l : loops)
        loops_j.push_back({{"loop", l.name}, {"op", l.op}, {"runs", l.runs}, {"trips", l.trips}, {"fills", l.fills},
                           {"ii", l.ii}, {"depth", l.depth}, {"bytes", l.bytes}, {"cycles_alone_estimated", l.cycles}});
    j["loops"] = loops_j;
    j["resources_estimated"] = {{"dsp", resources.dsp},
                                {"bram36", resources.bram36},
                                {"uram", resources.uram},
                                {"dsp_available", resources.dsp_avail},
                                {"bram36_available", resources.bram36_avail},
                                {"uram_available", resources.uram_avail},
                                {"fits", resources.fits},
                                {"parts", resources.detail}};
    return j;
}

DeviceEstimate to_device_estimate(const TokenEstimate& e, const TokenEstimate* greedy) {
    DeviceEstimate d;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s @ %.0f MHz (estimated)", e.board.c_str(), e.clock_mhz);
    d.target = buf;
    d.token_seconds = e.token_seconds;
    for (int i = 0; i < kNumOps; ++i) d.op_seconds[size_t(i)] = e.op_cycles[size_t(i)] / (e.clock_mhz * 1e6);
    d.detail = e.to_json();
    if (greedy) {
        d.greedy_token_seconds = greedy->token_seconds;
        d.greedy_tokens_per_run = greedy->greedy_chunk;
    }
    return d;
}

}  // namespace lhb::hls
