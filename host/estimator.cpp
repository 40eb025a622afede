#include "host/estimator.hpp"

#include "host/packing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "core/error.hpp"
#include "host/packing.hpp"
#include "host/shape_trace.hpp"

namespace lhb::hls {

using nlohmann::json;

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
        case lhk::TraceOp::BlockMatMul: return Op::MatMul;
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
    if (is_q4_precision(group_size)) {
        // The format of each matrix kind: one name when they all agree.
        const lhk::ModelDims d = dims_of(ModelConfig{}, group_size);
        const char* const names[lhk::kQ4FormatCount] = {"Q4_0", "Q4_K", "8-bit codes"};
        const char* const kinds[lhk::kQ4Classifier + 1] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3", "classifier"};
        std::string mixed;
        bool uniform = true;
        for (int k = 0; k <= lhk::kQ4Classifier; ++k) {
            uniform = uniform && lhk::q4_format_of(d, k) == lhk::q4_format_of(d, 0);
            mixed += std::string(k ? ", " : "") + kinds[k] + " " + names[lhk::q4_format_of(d, k)];
        }
        return "4-bit (" + (uniform ? std::string(names[lhk::q4_format_of(d, 0)]) : mixed) + ", activations int8)";
    }
    return group_size > 0 ? "int8 (Q8_0, group size " + std::to_string(group_size) + ")" : "fp32";
}

std::string precision_label(int group_size, const DesignTraits& t) {
    std::string s = t.weight_bits == 32 ? precision_label(group_size)
                    : t.weight_bits == 16 ? std::string("fp16")
                                          : "int" + std::to_string(t.weight_bits) + " (groups of " +
                                                std::to_string(t.group_size) + ", " + std::to_string(t.scale_bits) +
                                                "-bit scales)";
    if (t.kv_bits != 32) s += ", KV cache " + std::to_string(t.kv_bits) + "-bit";
    return s;
}

namespace {

// The token's description: what was estimated, on what, at which clock.
TokenEstimate describe_token(const ModelConfig& c, int pos, const DesignSpec& design, const BoardSpec& board,
                             int group_size, DecodeMode mode, int greedy_chunk) {
    TokenEstimate e;
    e.mode = mode;
    e.greedy_chunk = mode == DecodeMode::DeviceGreedy ? std::max(1, greedy_chunk) : 0;
    e.group_size = group_size;
    e.precision = precision_label(group_size, design.traits);
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
    return e;
}

// Weight readers (weight_fifo_beats > 0): the engines take their weights from FIFOs that the
// readers fill at the DDR's rate whenever there is room, also while the ops between the
// matmuls run. So a matmul waits only for what the readers could not fetch ahead: `ahead_`
// bytes are in the FIFOs (at most their capacity); the first beat comes after one read
// latency.
class WeightSupply {
public:
    WeightSupply(const lhk::Design& d, const MemoryModel& mem)
        : fifo_bytes_(double(d.weight_ports) * d.weight_fifo_beats * (d.port_bits / 8.0)),
          supply_(std::min(mem.ddr_bytes_per_cycle,
                           d.weight_ports * mem.port_bytes_per_cycle * mem.burst_efficiency * mem.port_rate)),
          ahead_(-mem.latency_cycles * supply_) {}

    // A step that takes `cy` on its own, `weights` bytes from the FIFOs and reads or writes
    // `own` bytes itself: its cycles, waits for the weights included.
    Cycles step(Cycles cy, double weights, double own) {
        if (weights > 0) {
            const double wait = (weights - ahead_) / supply_;
            if (wait > cy.cycles) cy = {wait, Bound::Ddr};
            ahead_ = std::min(fifo_bytes_, ahead_ + supply_ * cy.cycles - weights);
        } else {
            ahead_ = std::min(fifo_bytes_, ahead_ + std::max(0.0, supply_ * cy.cycles - own));
        }
        return cy;
    }

private:
    double fifo_bytes_, supply_, ahead_;
};

// The loops of one op invocation as estimated: the trace's, checked against the loop model,
// for the compiled design; the model's for another.
std::vector<TraceStep> op_steps(const TraceOpRun& op, const DesignSpec& design) {
    if (!design.compiled) return model_op(op, design.d, design.traits);
    const std::vector<TraceStep> modelled = model_op(op, lhk::kDesign);
    if (modelled != op.steps)
        throw std::logic_error(std::string("estimator: the loop model of ") + trace_op_name(op.op) +
                               " no longer mirrors the kernels: traced " + describe(op.steps) + "| modelled " +
                               describe(modelled));
    return op.steps;
}

// Adds one run of a loop to its summary (the first run names it, under its op).
void summarize_loop(TokenEstimate& e, std::map<std::string, size_t>& index, const LoopCost& lc,
                    const std::string& op, int64_t bytes, const MemoryModel& mem) {
    auto [it, fresh] = index.try_emplace(lc.name, e.loops.size());
    if (fresh) {
        LoopSummary s;
        s.name = lc.name;
        s.op = op;
        s.ii = lc.ii;
        s.depth = lc.depth;
        e.loops.push_back(s);
    }
    LoopSummary& s = e.loops[it->second];
    s.runs += 1;
    s.trips += lc.trips * lc.repeats;
    s.fills += lc.trips > 0 ? lc.repeats : 0;
    s.bytes += bytes;
    s.cycles += loop_cycles(lc, mem).cycles;
}

// A design whose ops all run in one dataflow pipeline (dataflow_between_ops): the token takes
// the longer of its compute (the steps without memory bounds, one after another) and its
// bytes through the DDR and the busiest port. The ops' split is their compute, scaled to it.
void fuse_ops(TokenEstimate& e, const MemoryModel& mem) {
    double memory = double(e.total_bytes) / mem.ddr_bytes_per_cycle + mem.latency_cycles;
    Bound bound = Bound::Ddr;
    for (int64_t b : e.port_bytes) {
        const double port = double(b) / (mem.port_bytes_per_cycle * mem.burst_efficiency * mem.port_rate);
        if (port > memory) {
            memory = port;
            bound = Bound::Port;
        }
    }
    const double fused = std::max(e.compute_cycles, memory);
    const double scale = e.compute_cycles > 0 ? fused / e.compute_cycles : 0;
    for (auto& [name, cycles] : e.kernel_op_cycles) cycles *= scale;
    for (double& cycles : e.op_cycles) cycles *= scale;
    e.kernel_cycles = fused;
    e.bound_cycles.clear();
    e.bound_cycles[bound_name(memory > e.compute_cycles ? bound : Bound::Compute)] = int64_t(std::llround(fused));
}

// The token estimate, or with `schedule` the cycles as HLS schedules them (estimate_schedule).
// Long because it is the one walk over the token's steps that every figure comes from.
TokenEstimate estimate(const Trace& trace, const ModelConfig& c, int pos, const DesignSpec& design,
                       const BoardSpec& board, int group_size, DecodeMode mode, int greedy_chunk, bool schedule) {
    TokenEstimate e = describe_token(c, pos, design, board, group_size, mode, greedy_chunk);
    const lhk::Design& d = design.d;
    const DesignTraits& traits = design.traits;
    // Operators are pipelined for the clock the design was synthesized at.
    const double op_clock = traits.synthesis_clock_mhz > 0 ? traits.synthesis_clock_mhz : e.clock_mhz;
    if (schedule) e.clock_mhz = op_clock;
    e.schedule_only = schedule;
    e.dataflow_ops = traits.dataflow_ops;
    const MemoryModel mem = schedule ? MemoryModel::schedule() : MemoryModel::of(d, board, e.clock_mhz, traits);
    const MemoryModel unbounded = MemoryModel::schedule();
    const OperatorLatencies lat = OperatorLatencies::of(board, op_clock, traits);
    e.port_bytes.assign(size_t(io_port(d)) + 1, 0);
    const bool readers = d.weight_fifo_beats > 0;
    WeightSupply supply(d, mem);
    std::map<std::string, size_t> loop_index;
    for (const TraceOpRun& op : trace.ops) {
        const std::string op_name_k = trace_op_name(op.op);
        double run_cycles = 0;
        for (const TraceStep& st : op_steps(op, design)) {
            std::vector<LoopCost> costs;
            double weights = 0, own = 0;  // bytes the step takes from the FIFOs, and reads or writes itself
            for (const TraceLoop& l : st.loops) {
                LoopCost lc;
                lc.name = loop_name(l.id);
                lc.trips = l.trips;
                lc.repeats = l.repeats;
                lc.port = l.port;
                lc.bytes = l.bytes;
                loop_timing(l.id, d, lat, &lc.ii, &lc.depth, traits);
                lc.latency_in_depth = latency_in_depth(l.id, traits);
                costs.push_back(lc);
                int64_t port_traffic = l.bytes;
                if (readers && lhk::loop_info(l.id).rule == lhk::LoopRule::Engine) {
                    const int64_t taken =
                        l.trips * l.repeats / engine_trips_per_beat(l.id) * engine_weight_bytes(l.id, d, traits);
                    weights += double(taken);
                    // A design from a file has no traced reader: its readers move what its engines take.
                    if (!design.compiled) port_traffic += taken;
                } else if (l.port >= 0 && op.op != lhk::TraceOp::WeightStream) {
                    own += double(l.bytes);
                }
                if (l.port >= 0 && size_t(l.port) < e.port_bytes.size()) e.port_bytes[size_t(l.port)] += port_traffic;
                if (l.port >= 0) e.total_bytes += port_traffic;
                summarize_loop(e, loop_index, lc, op_name_k, port_traffic, mem);
            }
            // A reader's own time shows as the engines' waits below.
            if (op.op == lhk::TraceOp::WeightStream) continue;
            auto step_cycles = [&](const MemoryModel& m) {
                return st.dataflow ? dataflow_cycles(costs, m) : loop_cycles(costs.front(), m);
            };
            Cycles cy = step_cycles(mem);
            if (readers && !schedule) cy = supply.step(cy, weights, own);
            const double compute = step_cycles(unbounded).cycles;
            e.compute_cycles += compute;
            if (traits.dataflow_ops && !schedule) cy = {compute, Bound::Compute};  // fused below
            e.op_cycles[size_t(backend_op(op.op))] += cy.cycles;
            e.kernel_op_cycles[op_name_k] += cy.cycles;
            e.bound_cycles[bound_name(cy.bound)] += int64_t(std::llround(cy.cycles));
            e.kernel_cycles += cy.cycles;
            run_cycles += cy.cycles;
        }
        if (op.op != lhk::TraceOp::WeightStream) e.op_runs.push_back(OpRunCycles{op.op, op.args, run_cycles});
    }
    if (traits.dataflow_ops && !schedule) fuse_ops(e, mem);
    e.trace_checked = design.compiled;
    e.kernel_seconds = e.kernel_cycles / (e.clock_mhz * 1e6);
    e.host_seconds = schedule ? 0.0
                     : traits.host_per_token_us >= 0 ? traits.host_per_token_us * 1e-6
                                                      : board.host_overhead_us(mode, e.greedy_chunk) * 1e-6;
    e.token_seconds = e.kernel_seconds + e.host_seconds;
    e.tok_per_s = e.token_seconds > 0 ? 1.0 / e.token_seconds : 0;
    const double usable = board.ddr_peak_gb_per_s * 1e9 * board.ddr_efficiency;
    e.ddr_roofline_tok_per_s = e.total_bytes > 0 ? usable / double(e.total_bytes) : 0;
    e.resources = estimate_resources(design, c, board);
    return e;
}

}  // namespace

TokenEstimate estimate_token(const Trace& trace, const ModelConfig& c, int pos, const DesignSpec& design,
                             const BoardSpec& board, int group_size, DecodeMode mode, int greedy_chunk) {
    return estimate(trace, c, pos, design, board, group_size, mode, greedy_chunk, false);
}

namespace {

// A design file that gives its weights' bits runs in them, whatever the run's precision.
int run_group_size(const DesignSpec& design, int group_size) {
    return design.traits.weight_bits != 32 ? 0 : group_size;
}

// The compiled kernels are traced; any other design is modelled from the shape's ops (the
// same ops the trace lists), so it can be estimated at sizes the kernels do not take.
Trace token_ops(const ModelConfig& c, int pos, const DesignSpec& design, int group_size, DecodeMode mode) {
    return design.compiled ? trace_forward(c, pos, group_size, mode, design.traits.kv_bits)
                           : shape_trace(c, pos, group_size, mode);
}

}  // namespace

TokenEstimate estimate_token(const ModelConfig& c, int pos, const DesignSpec& design, const BoardSpec& board,
                             int group_size, DecodeMode mode, int greedy_chunk) {
    const int gs = run_group_size(design, group_size);
    return estimate(token_ops(c, pos, design, gs, mode), c, pos, design, board, gs, mode, greedy_chunk, false);
}

TokenEstimate estimate_schedule(const ModelConfig& c, int pos, const DesignSpec& design, const BoardSpec& board,
                                int group_size) {
    const int gs = run_group_size(design, group_size);
    const DecodeMode mode = DecodeMode::HostSampled;
    return estimate(token_ops(c, pos, design, gs, mode), c, pos, design, board, gs, mode, 1, true);
}

double mean_token_seconds(const ModelConfig& c, int first, int tokens, const DesignSpec& design,
                          const BoardSpec& board, int group_size, DecodeMode mode, int greedy_chunk,
                          std::vector<int>* positions) {
    const int samples = std::min(tokens, 17);
    std::vector<int> at;
    std::vector<double> t;
    for (int k = 0; k < samples; ++k) {
        const int p = first + (samples == 1 ? 0 : int(int64_t(k) * (tokens - 1) / (samples - 1)));
        if (!at.empty() && at.back() == p) continue;
        at.push_back(p);
        t.push_back(estimate_token(c, p, design, board, group_size, mode, greedy_chunk).token_seconds);
    }
    double total = t.back();
    for (size_t k = 0; k + 1 < at.size(); ++k) {
        const int span = at[k + 1] - at[k];
        for (int j = 0; j < span; ++j) total += t[k] + (t[k + 1] - t[k]) * j / span;
    }
    if (positions) *positions = at;
    return total / tokens;
}

json TokenEstimate::to_json() const {
    json ops = json::object();
    for (int i = 0; i < kNumOps; ++i) ops[op_name(Op(i))] = op_cycles[size_t(i)];
    json ports = json::object();
    for (size_t p = 0; p < port_bytes.size(); ++p)
        ports[p + 1 == port_bytes.size() ? "io (gmem" + std::to_string(p) + ")" : "gmem" + std::to_string(p)] =
            port_bytes[p];
    json loops_j = json::array();
    for (const LoopSummary& l : loops)
        loops_j.push_back({{"loop", l.name}, {"op", l.op}, {"runs", l.runs}, {"trips", l.trips}, {"fills", l.fills},
                           {"ii", l.ii}, {"depth", l.depth}, {"bytes", l.bytes}, {"cycles_alone_estimated", l.cycles}});
    auto totals = [](const ResourceTotals& t) {
        return json{{"unit", t.unit}, {"dsp", t.dsp}, {"bram36", t.bram36}, {"uram", t.uram}, {"lut", t.lut},
                    {"ff", t.ff}};
    };
    json units_j = json::array();
    for (const ResourceTotals& u : resources.units) units_j.push_back(totals(u));
    const json resources_j = {{"dsp", resources.dsp}, {"bram36", resources.bram36}, {"uram", resources.uram},
                              {"lut", resources.lut}, {"ff", resources.ff},
                              {"dsp_available", resources.dsp_avail}, {"bram36_available", resources.bram36_avail},
                              {"uram_available", resources.uram_avail}, {"lut_available", resources.lut_avail},
                              {"ff_available", resources.ff_avail}, {"fits", resources.fits},
                              {"compute_units", units_j}, {"xclbin", totals(resources.xclbin)},
                              {"xclbin_fits", resources.xclbin_fits}, {"parts", resources.detail}};
    return {
        {"label", "estimated"},
        // what was estimated, on what
        {"shape", shape}, {"precision", precision}, {"group_size", group_size}, {"pos", pos},
        {"decode_mode", decode_mode_name(mode)},
        {"greedy_tokens_per_run", mode == DecodeMode::DeviceGreedy ? json(greedy_chunk) : json(nullptr)},
        {"board", board}, {"board_file", board_path}, {"design", design}, {"design_file", design_path},
        {"clock_mhz", clock_mhz}, {"clock_clamped_to_board", clock_clamped},
        {"schedule_only", schedule_only}, {"dataflow_between_ops", dataflow_ops},
        {"trace_checked_against_model", trace_checked},
        // cycles and time
        {"cycles_by_op_estimated", ops}, {"cycles_by_kernel_op_estimated", kernel_op_cycles},
        {"cycles_by_bound_estimated", bound_cycles}, {"kernel_cycles_estimated", kernel_cycles},
        {"compute_cycles_estimated", compute_cycles},
        {"kernel_seconds_estimated", kernel_seconds}, {"host_seconds_estimated", host_seconds},
        {"token_seconds_estimated", token_seconds}, {"tok_per_s_estimated", tok_per_s},
        // bytes, loops, resources
        {"bytes_by_port", ports}, {"bytes_total", total_bytes}, {"ddr_roofline_tok_per_s", ddr_roofline_tok_per_s},
        {"loops", loops_j}, {"resources_estimated", resources_j},
    };
}

namespace {

// What the device estimate of a token or a prompt says: its target, time and split by op.
DeviceEstimate device_estimate(const std::string& board, double clock_mhz, double seconds,
                               const std::array<double, kNumOps>& op_cycles, json detail) {
    DeviceEstimate d;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s @ %.0f MHz (estimated)", board.c_str(), clock_mhz);
    d.target = buf;
    d.token_seconds = seconds;
    for (int i = 0; i < kNumOps; ++i) d.op_seconds[size_t(i)] = op_cycles[size_t(i)] / (clock_mhz * 1e6);
    d.detail = std::move(detail);
    return d;
}

}  // namespace

DeviceEstimate to_device_estimate(const TokenEstimate& e, const TokenEstimate* greedy) {
    DeviceEstimate d = device_estimate(e.board, e.clock_mhz, e.token_seconds, e.op_cycles, e.to_json());
    if (greedy) {
        d.greedy_token_seconds = greedy->token_seconds;
        d.greedy_tokens_per_run = greedy->greedy_chunk;
    }
    return d;
}

PrefillEstimate estimate_prefill(const ModelConfig& c, int pos, int n, const BoardSpec& board, int group_size,
                                 int kv_bits) {
    if (n < 1 || pos < 0 || pos + n > c.seq_len)
        throw InputError("estimate: a prompt of " + std::to_string(n) + " tokens at position " + std::to_string(pos) +
                         " does not fit the context of " + std::to_string(c.seq_len));
    const DesignSpec design = compiled_design(kv_bits);
    PrefillEstimate p;
    p.pos = pos;
    p.tokens = n;
    p.group_size = group_size;
    p.precision = precision_label(group_size, design.traits);
    p.block_tokens = lhk::block_tokens(dims_of(c, group_size));
    for (int first = 0; first < n; first += p.block_tokens) {
        const int m = std::min(p.block_tokens, n - first);
        const bool last = first + m == n;
        const Trace t = trace_prefill(c, pos + first, m, group_size, last ? lhk::kPromptLogitsLast : lhk::kPromptLogitsNone,
                                      kv_bits);
        const TokenEstimate e = estimate_token(t, c, pos + first, design, board, group_size);
        p.board = e.board;
        p.clock_mhz = e.clock_mhz;
        p.kernel_cycles += e.kernel_cycles;
        p.block_cycles.push_back(e.kernel_cycles);
        for (int i = 0; i < kNumOps; ++i) p.op_cycles[size_t(i)] += e.op_cycles[size_t(i)];
        for (const auto& [name, cy] : e.kernel_op_cycles) p.kernel_op_cycles[name] += cy;
        for (const auto& [bound, cy] : e.bound_cycles) p.bound_cycles[bound] += cy;
        p.total_bytes += e.total_bytes;
        p.resources = e.resources;
        ++p.blocks;
        // A run and the sync of the block's ids; after the last, the logits' sync and the sampling.
        p.host_seconds += (board.host_launch_us + board.host_tokens_sync_us +
                           (last ? board.host_sync_us + board.host_sampling_us : 0.0)) * 1e-6;
    }
    p.kernel_seconds = p.kernel_cycles / (p.clock_mhz * 1e6);
    p.seconds = p.kernel_seconds + p.host_seconds;
    p.tok_per_s = p.seconds > 0 ? n / p.seconds : 0;
    return p;
}

json PrefillEstimate::to_json() const {
    json ops = json::object();
    for (int i = 0; i < kNumOps; ++i) ops[op_name(Op(i))] = op_cycles[size_t(i)];
    return {{"label", "estimated"},
            {"pos", pos},
            {"prompt_tokens", tokens},
            {"kernel_runs", blocks},
            {"tokens_per_run", block_tokens},
            {"precision", precision},
            {"group_size", group_size},
            {"board", board},
            {"clock_mhz", clock_mhz},
            {"cycles_by_op_estimated", ops},
            {"cycles_by_kernel_op_estimated", kernel_op_cycles},
            {"cycles_by_bound_estimated", bound_cycles},
            {"cycles_by_run_estimated", block_cycles},
            {"kernel_cycles_estimated", kernel_cycles},
            {"kernel_seconds_estimated", kernel_seconds},
            {"host_seconds_estimated", host_seconds},
            {"prompt_seconds_estimated", seconds},
            {"time_to_first_token_seconds_estimated", seconds},
            {"prefill_tok_per_s_estimated", tok_per_s},
            {"bytes_total", total_bytes},
            {"resources_fit", resources.fits},
            {"resources_estimated",
             {{"dsp", resources.dsp}, {"bram36", resources.bram36}, {"uram", resources.uram}, {"lut", resources.lut},
              {"ff", resources.ff}}}};
}

DeviceEstimate to_device_estimate(const PrefillEstimate& e) {
    return device_estimate(e.board, e.clock_mhz, e.seconds, e.op_cycles, e.to_json());
}

}  // namespace lhb::hls
