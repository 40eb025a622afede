#include "bench/sweep.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "bench/energy.hpp"
#include "bench/environment.hpp"
#include "bench/measure.hpp"
#include "bench/peers.hpp"
#include "bench/progress.hpp"
#include "bench/result_row.hpp"
#include "bench/results.hpp"
#include "bench/sha256.hpp"
#include "core/accuracy.hpp"
#include "core/convert.hpp"
#include "core/correctness.hpp"
#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/gguf.hpp"
#include "core/json_scan.hpp"
#include "core/model_writer.hpp"
#include "core/registry.hpp"
#include "core/quantize.hpp"
#include "core/roofline.hpp"
#include "core/synth.hpp"
#include "core/gguf_vocab.hpp"
#include "core/tokenizer.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lhb::bench {

namespace {

// ---------------------------------------------------------------- models

struct PreparedModel {
    const ModelEntry* entry = nullptr;
    std::string path;
    bool synthetic = false;
    std::optional<Model> model;
    std::optional<Tokenizer> tokenizer;
    std::map<int, std::vector<int>> prompts;  // by depth + prompt length
    std::string prompt_source;
    Bandwidth bandwidth;  // host read bandwidth over a buffer the size of the weights
    json info;
    // By precision: the checkpoints made from the file (int8, GGUF types) when a point first
    // needs them (model_for).
    std::map<std::string, Model> derived;
};

bool same_shape(const ModelConfig& a, const ModelConfig& b) {
    return a.dim == b.dim && a.hidden_dim == b.hidden_dim && a.n_layers == b.n_layers && a.n_heads == b.n_heads &&
           a.n_kv_heads == b.n_kv_heads && a.vocab_size == b.vocab_size && a.seq_len == b.seq_len;
}

json shape_json(const ModelConfig& c) {
    return {{"dim", c.dim},           {"hidden_dim", c.hidden_dim}, {"n_layers", c.n_layers},
            {"n_heads", c.n_heads},   {"n_kv_heads", c.n_kv_heads}, {"vocab_size", c.vocab_size},
            {"seq_len", c.seq_len},   {"shared_classifier", c.shared_classifier}};
}

std::string safe_file_name(const std::string& s) {
    std::string out;
    for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
    return out;
}

// The checkpoint of a model entry: its file, or synthetic weights of its shape written once
// into <out>/models/ and reused by later runs (the file is deterministic in shape and seed).
std::string model_file(const ModelEntry& e, const std::string& out_dir, bool& synthetic, Progress& progress) {
    synthetic = !fs::is_regular_file(e.path);
    if (!synthetic) return e.path;
    const ModelConfig shape = parse_shape(e.shape);
    fs::create_directories(fs::path(out_dir) / "models");
    const std::string path =
        (fs::path(out_dir) / "models" / (safe_file_name(e.shape) + "-seed" + std::to_string(e.seed) + ".bin")).string();
    if (fs::is_regular_file(path)) {
        try {
            if (same_shape(Model::open(path).config(), shape)) return path;
        } catch (const InputError&) {
            // unreadable leftover: write it again
        }
    }
    progress.note("note: " + e.path + " not found: writing synthetic weights of shape " + e.shape + " to " + path);
    write_synthetic_model(shape, path, e.seed);
    return path;
}

// Prompt tokens: BOS, then the config's text encoded (repeated as needed) when there is a
// tokenizer; otherwise fixed token ids spread over the vocabulary (synthetic weights don't
// care what the text is).
std::vector<int> make_prompt(const PreparedModel& m, const std::string& text, int length) {
    std::vector<int> tokens = {1};
    const int vocab = m.model->config().vocab_size;
    if (m.tokenizer) {
        std::vector<int> piece = m.tokenizer->encode(text, false, false);
        if (piece.empty()) piece = {vocab > 2 ? 2 : 0};
        while (int(tokens.size()) < length) tokens.insert(tokens.end(), piece.begin(), piece.end());
    } else {
        for (int i = 1; i < length; ++i) tokens.push_back(3 + int((int64_t(i) * 7919) % std::max(1, vocab - 3)));
    }
    tokens.resize(size_t(length));
    return tokens;
}

json bandwidth_json(const Bandwidth& b) {
    return {{"bytes_per_s", b.bytes_per_second},
            {"median_bytes_per_s", b.median_bytes_per_second},
            {"buffer_bytes", b.buffer_bytes},
            {"threads", b.threads}};
}

// The GGUF block type a precision names ("q4_k_m": llama-quantize's Q4_K_M mix); nullopt for
// llama2.c's fp32 and int8.
std::optional<GgmlType> gguf_precision(const std::string& precision) {
    if (precision == "fp32" || precision == "int8") return std::nullopt;
    return parse_output_type("/precisions", precision);
}

// Whether a GGUF file is of the precision's type: its general.file_type (llama.cpp's label of
// the mix, so Q4_K_M's Q6_K tensors don't matter), else every matrix of that one type.
bool gguf_file_is(const Model& model, GgmlType type) {
    const uint64_t none = ~uint64_t(0);
    const uint64_t ftype = model.gguf()->get_uint_or("general.file_type", 0, UINT32_MAX, none);
    if (ftype != none) return ftype == gguf_file_type(type);
    const ModelWeights& w = model.weights();
    auto is = [&](const WeightMatrix& m) { return m.dtype == DType::Ggml && m.ggml_type == type; };
    for (const LayerWeights& L : w.layers)
        for (int r = 0; r < kLayerWeightRoles; ++r)
            if (!is(*L.matrix(WeightRole(r)))) return false;
    return is(w.wcls);
}

// What the model's file holds, for messages: "fp32", "int8 (version 2)", "GGUF Q4_0".
std::string file_holds(const Model& model) {
    if (!model.gguf()) return model.dtype() == DType::Q8_0 ? "int8 (version 2)" : "fp32";
    const uint64_t ftype = model.gguf()->get_uint_or("general.file_type", 0, UINT32_MAX, ~uint64_t(0));
    for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q6_K, GgmlType::Q4_K})
        if (gguf_file_is(model, t)) return std::string("GGUF ") + gguf_output_type_name(t);
    return "GGUF of mixed types" + (ftype == ~uint64_t(0) ? std::string(" (no general.file_type)")
                                                          : " (general.file_type " + std::to_string(ftype) + ")");
}

// Why the model's file cannot give points of `precision` (they are skipped), if it cannot.
// fp32 needs fp32 weights; int8 a llama2.c file (version 2, or fp32 the sweep quantizes); a
// GGUF type a GGUF file of that type, or an fp32 llama2.c file the sweep writes it from.
std::optional<std::string> file_cannot_serve(const PreparedModel& m, const std::string& precision) {
    const Model& base = *m.model;
    const std::optional<GgmlType> type = gguf_precision(precision);
    std::string why;
    if (precision == "fp32" && base.dtype() != DType::F32)
        why = "fp32 points need fp32 weights";
    else if (precision == "int8" && base.gguf())
        why = "int8 points are llama2.c's int8 (version 2); a GGUF file's Q8_0 is precision q8_0";
    else if (type && base.gguf() && !gguf_file_is(base, *type))
        why = std::string("a ") + precision + " point needs a GGUF " + gguf_output_type_name(*type) +
              " file (or an fp32 llama2.c one to write it from)";
    else if (type && base.dtype() == DType::Q8_0)
        why = std::string("a ") + precision + " point is written from fp32 weights (from int8 it would be rounded twice)";
    if (why.empty()) return std::nullopt;
    return m.path + " holds " + file_holds(base) + ": " + why;
}

// A checkpoint made from the model's file for a precision (int8 quantized, a GGUF type
// written), kept in <out>/models/ and reused by later runs when `reusable` accepts what is
// there, with its host read bandwidth (a smaller working set may sit in a faster level of the
// hierarchy) in the model's info under the precision's name.
const Model& derived_model(PreparedModel& m, const std::string& precision, const std::string& path,
                           const std::function<bool(const Model&)>& reusable, const std::function<void()>& write,
                           json info, double bandwidth_seconds) {
    bool reuse = false;
    if (fs::is_regular_file(path)) {
        try {
            const Model q = Model::open(path);
            reuse = same_shape(q.config(), m.model->config()) && reusable(q);
        } catch (const InputError&) {
            // unreadable leftover: write it again
        }
    }
    if (!reuse) {
        fs::create_directories(fs::path(path).parent_path());
        write();
    }
    const Model& d = m.derived.emplace(precision, Model::open(path)).first->second;
    info["path"] = path;
    info["sha256"] = sha256_file(path);
    info["bytes"] = int64_t(fs::file_size(path));
    info["holds"] = file_holds(d);
    info["weight_bytes_per_token"] = d.weight_bytes_per_token();
    info["host_bandwidth"] =
        bandwidth_json(measure_read_bandwidth(0, d.weight_bytes_per_token(), bandwidth_seconds));
    m.info[precision] = info;
    return d;
}

// The checkpoint a point of `precision` runs on (file_cannot_serve has said it can). fp32,
// and a GGUF type given by a file of that type: the model file. int8: the file itself if it
// is a version-2 checkpoint, else the fp32 weights quantized once (core/quantize.hpp). A GGUF
// type from fp32 weights: their GGUF of that type (core/model_writer.hpp, llama-quantize's
// blocks), with the tokenizer's vocabulary or placeholder pieces. Both made once per run
// folder, named by the source file's hash.
const Model& model_for(PreparedModel& m, const std::string& precision, const std::string& out_dir,
                       double bandwidth_seconds) {
    const Model& base = *m.model;
    const std::optional<GgmlType> type = gguf_precision(precision);
    if (precision == "fp32" || (type && base.gguf()) || (precision == "int8" && base.dtype() == DType::Q8_0))
        return base;
    if (auto it = m.derived.find(precision); it != m.derived.end()) return it->second;
    const std::string stem = (fs::path(out_dir) / "models" /
                              (safe_file_name(m.entry->name) + "-" + m.info["sha256"].get<std::string>().substr(0, 12)))
                                 .string();
    if (!type) {
        const int group = default_group_size(base.config());
        const std::string path = stem + "-q8_0-g" + std::to_string(group) + ".bin";
        return derived_model(
            m, precision, path, [](const Model& q) { return q.dtype() == DType::Q8_0; },
            [&] { write_q8_model(base, path, group); }, {{"group_size", group}}, bandwidth_seconds);
    }
    const std::string path = stem + "-" + precision + ".gguf";
    GgufModelFormat format;
    format.matrix_type = *type;
    format.name = m.entry->name;
    return derived_model(
        m, precision, path, [&](const Model& q) { return q.gguf() && gguf_file_is(q, *type); },
        [&] {
            const GgufVocabulary vocab = m.tokenizer ? gguf_vocabulary(*m.tokenizer, fs::path(m.entry->tokenizer).filename().string())
                                                     : synthetic_vocabulary(base.config().vocab_size);
            write_gguf(base.config(), format, vocab, *model_weight_source(base), path, kMaxOutputBytes);
        },
        {{"type", gguf_output_type_name(*type)}, {"written_from", m.path}}, bandwidth_seconds);
}

// ---------------------------------------------------------------- rows

// "pp32 tg64", "pp128", "tg64 d512": the lengths of a point, for labels and ids.
std::string lengths_text(const PassShape& s, char sep) {
    std::string t = s.prompt > 0 ? "pp" + std::to_string(s.prompt) : "";
    if (s.generate > 0) t += (t.empty() ? "" : std::string(1, sep)) + "tg" + std::to_string(s.generate);
    if (s.depth > 0) t += sep + ("d" + std::to_string(s.depth));
    return t;
}

std::string point_label(const std::string& model, const std::string& backend, const std::string& precision,
                        int threads, const PassShape& shape) {
    return model + " " + backend + " " + precision + " t" + std::to_string(threads) + " " + lengths_text(shape, ' ');
}

std::string point_id(const std::string& model, const std::string& backend, const std::string& precision,
                     int threads, const PassShape& shape, const std::string& kind) {
    return model + "/" + backend + "/" + precision + "/t" + std::to_string(threads) + "/" + lengths_text(shape, '/') +
           "/" + kind;
}

// A row of one point of the sweep, before it is measured.
ResultRow point_row(const PreparedModel& m, const std::string& backend, const std::string& precision, int threads,
                    const PassShape& shape, const std::string& kind) {
    ResultRow r(point_id(m.entry->name, backend, precision, threads, shape, kind), kind, m.entry->name,
                m.synthetic ? "synthetic" : "real", backend, precision);
    r.threads = threads;
    if (shape.prompt > 0) r.prompt_tokens = shape.prompt;
    if (shape.generate > 0) r.generate_tokens = shape.generate;
    r.depth_tokens = shape.depth;
    return r;
}

json accuracy_json(const AccuracyReport& a, const std::string& reference) {
    return {{"reference", "the fp32 weights through " + reference},
            {"greedy_steps", a.greedy_steps},
            {"greedy_agreeing", a.greedy_agreeing},
            {"greedy_common_prefix", a.greedy_common_prefix},
            {"text_tokens", a.text_tokens},
            {"mean_kl", a.mean_kl},
            {"ppl_fp32", a.ppl_reference},
            {"ppl_int8", a.ppl_candidate},
            {"ppl_delta", a.ppl_delta()}};
}

json correctness_json(const CorrectnessReport& rep) {
    json ops = json::array();
    int passed = 0;
    for (const OpCheck& o : rep.ops) {
        passed += o.pass;
        ops.push_back({{"op", o.op},
                       {"shape", o.shape},
                       {"max_abs_err", o.max_abs_err},
                       {"max_rel_err", o.max_rel_err},
                       {"tolerance_abs", o.tolerance.abs},
                       {"tolerance_rel", o.tolerance.rel},
                       {"non_finite", o.non_finite},
                       {"pass", o.pass},
                       {"note", o.note}});
    }
    const EndToEndCheck& e = rep.end_to_end;
    return {{"status", rep.pass ? "pass" : "fail"},
            {"summary", rep.summary()},
            {"ops_passed", passed},
            {"ops_total", int(rep.ops.size())},
            {"positions", e.positions},
            {"max_abs_logit_err", e.max_abs_logit_err},
            {"max_rel_logit_err", e.max_rel_logit_err},
            {"first_bad_position", e.first_bad_position},
            {"tokens_compared", e.tokens_compared},
            {"tokens_agreeing", e.tokens_agreeing},
            {"non_finite", e.non_finite},
            {"note", e.note},
            {"ops", ops}};
}

json reference_correctness(int steps, const std::string& reference) {
    return {{"status", "reference"},
            {"summary", reference + " is the reference the other backends are checked against"},
            {"ops_passed", nullptr},
            {"ops_total", nullptr},
            {"positions", steps},
            {"max_abs_logit_err", 0.0},
            {"max_rel_logit_err", 0.0},
            {"first_bad_position", -1},
            {"tokens_compared", nullptr},
            {"tokens_agreeing", nullptr},
            {"non_finite", 0},
            {"note", ""},
            {"ops", json::array()}};
}

json ops_json(const std::array<double, kNumOps>& ms, std::optional<double> other) {
    json j;
    for (int op = 0; op < kNumOps; ++op) j[op_name(Op(op))] = ms[size_t(op)];
    j["other"] = other ? json(*other) : json(nullptr);
    return j;
}

double median(std::vector<double> v) { return summarize(std::move(v)).median; }

// Milliseconds to the nanosecond: the clock resolves no finer, and the file stays readable.
std::vector<double> round_ms(std::vector<double> v) {
    for (double& x : v) x = std::round(x * 1e6) / 1e6;
    return v;
}

// The estimated row of a backend that models a device, from the estimates gathered during
// the last measured pass: its prompt through the device's prefill path (estimate_prefill;
// absent when the backend does not model it, and then so are the row's prefill and TTFT)
// and each decoded position. Same conventions as the measured row.
std::optional<ResultRow> estimated_row(const PreparedModel& m, const Model& model, const ResultRow& measured,
                                       const Throughput& t, const PassShape& shape,
                                       std::optional<double> board_bw) {
    const auto& est = t.decode_estimates;
    const int G = shape.generate, first = shape.depth + shape.prompt;
    // A prefill-only point decodes one token (its TTFT); without a prefill estimate it has
    // nothing to estimate.
    const bool prefill_only = G == 0;
    if (est.size() != size_t(prefill_only ? 1 : G)) return std::nullopt;
    for (const auto& e : est)
        if (!e) return std::nullopt;
    if (prefill_only && !(t.prefill_estimate && t.prefill_estimate->token_seconds > 0)) return std::nullopt;
    ResultRow r = point_row(m, measured.backend, measured.precision, *measured.threads, shape, "estimated");
    json& d = r.details;
    d["target"] = est.front()->target;
    r.status = measured.status;
    r.reason = measured.reason;
    r.correctness = measured.correctness;
    d["simulation"] = {{"row", measured.id},
                       {"decode_tok_s", measured.decode_tok_s ? json(*measured.decode_tok_s) : json(nullptr)},
                       {"prefill_tok_s", measured.prefill_tok_s ? json(*measured.prefill_tok_s) : json(nullptr)}};
    if (t.prefill_estimate && t.prefill_estimate->token_seconds > 0) {
        const double prefill = t.prefill_estimate->token_seconds;
        r.prefill_tok_s = shape.prompt / prefill;
        r.ttft_ms = 1e3 * (prefill + est.front()->token_seconds);
    }
    if (prefill_only) {
        d["detail"] = t.prefill_estimate->detail;
        return r;
    }
    double decode = 0, greedy = 0;
    std::array<double, kNumOps> op_ms{};
    std::vector<double> by_pos;
    for (int i = 0; i < G; ++i) {
        const hls::DeviceEstimate& e = *est[size_t(i)];
        by_pos.push_back(1e3 * e.token_seconds);
        if (i == 0) continue;  // same convention as the measured decode
        decode += e.token_seconds;
        greedy += e.greedy_token_seconds;
        for (int op = 0; op < kNumOps; ++op) op_ms[size_t(op)] += 1e3 * e.op_seconds[size_t(op)] / (G - 1);
    }
    double op_sum = 0;
    for (double x : op_ms) op_sum += x;
    const double decode_ms = 1e3 * decode / (G - 1);
    r.decode_tok_s = decode > 0 ? (G - 1) / decode : 0.0;
    d["decode_ms_per_token"] = decode_ms;
    r.op_ms_per_token = ops_json(op_ms, std::max(0.0, decode_ms - op_sum));
    d["decode_ms_by_position"] = {{"first_position", first}, {"ms", round_ms(by_pos)}};
    // The same decode with greedy decoding on the device (logits kept on chip), when modelled.
    const int greedy_run = est.front()->greedy_tokens_per_run;
    if (greedy > 0 && greedy_run > 0)
        d["device_greedy"] = {{"decode_tok_s", (G - 1) / greedy},
                              {"decode_ms_per_token", 1e3 * greedy / (G - 1)},
                              {"tokens_per_run", greedy_run}};
    else
        d["device_greedy"] = nullptr;
    d["detail"] = est[size_t(G / 2)]->detail;
    const double bytes = mean_bytes_per_token(model, first + 1, first + G - 1);
    json roof = {{"bytes_per_token", bytes}, {"bandwidth_source", "board DDR (from the board file)"}};
    if (board_bw) {
        const double roof_tok_s = roofline_tok_per_s(bytes, *board_bw);
        roof["bandwidth_bytes_per_s"] = *board_bw;
        roof["tok_s"] = roof_tok_s;
        roof["fraction"] = roof_tok_s > 0 ? *r.decode_tok_s / roof_tok_s : 0.0;
    } else {
        roof["bandwidth_bytes_per_s"] = nullptr;
        roof["tok_s"] = nullptr;
        roof["fraction"] = nullptr;
    }
    d["roofline"] = roof;
    return r;
}

std::string backend_options_text(const BackendOptions& o) {
    return "threads=" + std::to_string(o.threads) + (o.fused ? "" : ", op by op");
}

// A board file's number: {"value": x, "source": "..."} (lhb-board/1) or a bare number.
std::optional<double> board_value(const json& board, const char* section, const char* key) {
    if (!board.is_object() || !board.contains(section) || !board[section].is_object()) return std::nullopt;
    const json& v = board[section].contains(key) ? board[section][key] : json();
    if (v.is_number()) return v.get<double>();
    if (v.is_object() && v.contains("value") && v["value"].is_number()) return v["value"].get<double>();
    return std::nullopt;
}

// ---------------------------------------------------------------- the run's parts

// The points of every unit, at each depth: the combined ones (prompt_tokens x
// generate_tokens), then llama-bench's prefill-only (n_prompt) and decode-only (n_gen) ones.
std::vector<PassShape> plan_points(const RunConfig& cfg) {
    std::vector<PassShape> points;
    for (int d : cfg.depth_tokens) {
        for (int p : cfg.prompt_tokens)
            for (int g : cfg.generate_tokens) points.push_back({d, p, g});
        for (int p : cfg.pp_tokens) points.push_back({d, p, 0});
        for (int g : cfg.tg_tokens) points.push_back({d, 0, g});
    }
    return points;
}

// The top of the results document: what ran, where, and how each figure is measured.
json results_header(const RunConfig& cfg) {
    json results;
    results["schema"] = "llama-hls-bench/results";
    results["schema_version"] = kResultsSchemaVersion;
    results["name"] = cfg.name;
    results["description"] = cfg.description;
    results["complete"] = false;
    results["interrupted"] = false;
    results["started_at"] = utc_now_iso8601();
    results["environment"] = collect_environment(cfg.dir);
    results["config"] = {{"file", cfg.file}, {"source", cfg.source}, {"text", cfg.text}};
    results["methodology"] = {
        {"depth", "depth_tokens positions put into the KV cache first (one batched forward pass), untimed"},
        {"prefill", "prompt_tokens positions after the depth as one batched forward pass (forward_batch, logits of "
                    "the last only), timed; tok/s = prompt_tokens / time"},
        {"decode", "greedy tokens after the prompt, each timed from forward() to argmax; the first decoded token "
                   "is left out; tok/s = (generate_tokens - 1) / time"},
        {"ttft", "time to first token: the prompt's forward pass plus the first decoded token"},
        {"order", "the passes of a unit's points (prompt x generate x depth lengths) run round-robin: each round "
                  "runs every point once, so slow drifts of the machine hit every point alike"},
        {"warmup", cfg.warmup},
        {"repetitions", cfg.repetitions},
        {"statistics", "min, median, p90 (linear interpolation) and cv (sample stddev / mean) over repetitions"},
        {"op_profile", "interleaved untimed and timed passes on the backend's op-by-op path; per-op medians over "
                       "the timed passes; timer_overhead = median timed / median untimed - 1"},
        {"roofline", "bytes per token (weights + KV cache read at each position, mean over decode) / host read "
                     "bandwidth over a buffer the size of the point's weights (its precision's working set, all "
                     "cores), measured in every round beside the timed passes; fraction = median over rounds of "
                     "the round's decode tok/s / the round's roofline; above 1: the row is unstable, no fraction"},
        {"peers", "each peer run once per repetition by fork/exec (no shell), after each of our units at the same "
                  "model and threads, the rest at the end round by round; tok/s as the peer printed it (rows of "
                  "kind peer, median over repetitions)"},
        {"energy", "where sysfs has RAPL counters or INA2xx hwmon monitors: energy over each point's timed "
                   "passes, summed over the rounds (each peer run); avg_watts = joules / seconds, joules_per_token = avg_watts / decode tok/s; "
                   "absent where nothing can be measured (environment.energy says why)"}};
    return results;
}

// The board file, copied into the results; its DDR bandwidth is the estimated rows' ceiling.
struct BoardInfo {
    json board = nullptr;
    std::optional<double> ddr_bytes_per_s;
};

BoardInfo load_board(const RunConfig& cfg) {
    BoardInfo b;
    if (cfg.board.empty()) return b;
    const std::string text = read_json_file(cfg.board, kMaxSpecBytes, "board file");
    json contents;
    try {
        contents = json::parse(text);
    } catch (const json::parse_error& e) {
        TextPosition p = position_of_byte(text, e.byte);
        throw InputError(cfg.board + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) +
                         ": invalid JSON in the board file (named by " + cfg.file + ": /board)");
    }
    b.ddr_bytes_per_s = board_ddr_bytes_per_s(contents);
    const auto efficiency = board_ddr_efficiency(contents);
    b.board = {{"file", cfg.board},
               {"name", contents.is_object() && contents.contains("name") ? contents["name"] : json(nullptr)},
               {"sha256", sha256_hex(text)},
               {"contents", contents},
               {"ddr_bytes_per_s", b.ddr_bytes_per_s ? json(*b.ddr_bytes_per_s) : json(nullptr)},
               {"ddr_efficiency", efficiency ? json(*efficiency) : json(nullptr)}};
    return b;
}

// Every point's positions against each model's seq_len (from the file's header, or the
// shape it will be synthesized with), before anything is written, so a mistake costs nothing.
void check_lengths(const RunConfig& cfg) {
    for (const ModelEntry& e : cfg.models) {
        const ModelConfig mc = fs::is_regular_file(e.path) ? Model::open(e.path).config() : parse_shape(e.shape);
        for (const PassShape& s : plan_points(cfg)) {
            // A prefill-only point decodes one token, for its time to first token.
            const int decoded = s.generate > 0 ? s.generate : 1;
            if (int64_t(s.depth) + s.prompt + decoded <= mc.seq_len) continue;
            std::string sum = s.generate == 0 ? "n_prompt + 1" : s.prompt == 0 ? "n_gen" : "prompt_tokens + generate_tokens";
            std::string found = s.generate == 0   ? std::to_string(s.prompt) + " + 1"
                                : s.prompt == 0 ? std::to_string(s.generate)
                                                : std::to_string(s.prompt) + " + " + std::to_string(s.generate);
            std::string field = s.generate == 0 ? "n_prompt" : s.prompt == 0 ? "n_gen" : "prompt_tokens";
            if (s.depth > 0) {
                field = cfg.depth_key;
                sum = cfg.depth_key + " + " + sum;
                found = std::to_string(s.depth) + " + " + found;
            }
            throw InputError(cfg.file + ": /" + field + ": expected " + sum + " <= " + e.name + "'s seq_len " +
                             std::to_string(mc.seq_len) + ", found " + found);
        }
        if (cfg.correctness_steps > mc.seq_len)
            throw InputError(cfg.file + ": /correctness_steps: expected at most " + e.name + "'s seq_len " +
                             std::to_string(mc.seq_len) + ", found " + std::to_string(cfg.correctness_steps));
    }
}

// A model of the config: opened (or synthesized), hashed, its tokenizer, prompts and the
// host's read bandwidth over a buffer the size of its weights.
std::unique_ptr<PreparedModel> prepare_model(const ModelEntry& e, const RunConfig& cfg, const SweepOptions& options,
                                             Progress& progress) {
    auto m = std::make_unique<PreparedModel>();
    m->entry = &e;
    progress.start("preparing " + e.name);
    m->path = model_file(e, cfg.out, m->synthetic, progress);
    m->model.emplace(Model::open(m->path));
    const ModelConfig& mc = m->model->config();
    if (!e.tokenizer.empty() && fs::is_regular_file(e.tokenizer))
        m->tokenizer.emplace(Tokenizer::load(e.tokenizer, mc.vocab_size));
    else if (m->model->gguf())
        m->tokenizer.emplace(gguf_tokenizer(*m->model->gguf()));  // the file's own vocabulary
    m->prompt_source = m->tokenizer ? "text" : "token ids";
    // One token sequence per depth + prompt length: the depth's tokens, then the prompt's.
    for (const PassShape& s : plan_points(cfg))
        m->prompts.try_emplace(s.depth + s.prompt, make_prompt(*m, cfg.prompt, s.depth + s.prompt));
    progress.start("measuring host read bandwidth over a " + e.name + "-sized buffer");
    m->bandwidth = measure_read_bandwidth(0, m->model->weight_bytes_per_token(), options.bandwidth_seconds);
    m->info = {{"name", e.name},
               {"path", m->path},
               {"weights", m->synthetic ? "synthetic" : "real"},
               {"synthetic_shape", m->synthetic ? json(e.shape) : json(nullptr)},
               {"sha256", sha256_file(m->path)},
               {"bytes", int64_t(fs::file_size(m->path))},
               {"format", int(m->model->format())},
               {"dtype", dtype_name(m->model->dtype())},
               {"holds", file_holds(*m->model)},
               {"shape", shape_json(mc)},
               {"params", mc.n_params()},
               {"weight_bytes_per_token", m->model->weight_bytes_per_token()},
               {"tokenizer", m->tokenizer ? json(!e.tokenizer.empty() && fs::is_regular_file(e.tokenizer) ? e.tokenizer : m->path) : json(nullptr)},
               {"prompt_source", m->prompt_source},
               {"host_bandwidth", bandwidth_json(m->bandwidth)}};
    return m;
}

// The config's published figures: results["published"], and one row of kind "published" each.
std::vector<ResultRow> published_rows(const RunConfig& cfg, const std::vector<std::unique_ptr<PreparedModel>>& models,
                                      json& results) {
    results["published"] = json::array();
    std::vector<ResultRow> rows;
    for (const PublishedEntry& p : cfg.published) {
        json applies = json::array();
        ModelConfig shape{};
        bool known_shape = true;
        try {
            shape = parse_shape(p.model);
        } catch (const InputError&) {
            known_shape = false;
        }
        for (const auto& m : models)
            if (m->entry->name == p.model || (known_shape && same_shape(m->model->config(), shape)))
                applies.push_back(m->entry->name);
        results["published"].push_back({{"name", p.name},
                                        {"backend", p.backend},
                                        {"model", p.model},
                                        {"precision", p.precision},
                                        {"tok_s", p.tok_s},
                                        {"tokens", p.tokens ? json(p.tokens) : json(nullptr)},
                                        {"seconds", p.seconds > 0 ? json(p.seconds) : json(nullptr)},
                                        {"source", p.source},
                                        {"applies_to_models", applies}});
        ResultRow r(p.model + "/" + p.backend + "/" + p.precision + "/published", "published", p.model, "real",
                    p.backend, p.precision);
        if (p.tokens) r.generate_tokens = p.tokens;
        r.decode_tok_s = p.tok_s;
        r.details = {{"name", p.name}, {"source", p.source}};
        rows.push_back(std::move(r));
    }
    return rows;
}

// A unit of the sweep: one (model, backend, precision, threads), measured at each point
// (prompt x generate x depth lengths).
struct Unit {
    size_t model = 0;  // index into the config's models (and the prepared ones)
    const BackendEntry* backend = nullptr;
    std::string precision;
    int threads = 0;
    BackendOptions options;
};

// Every unit of the config, in the order they run (models, then backends, precisions, threads).
// Planned first: the progress line counts its points before any model is prepared.
std::vector<Unit> plan_units(const RunConfig& cfg) {
    std::vector<Unit> units;
    for (size_t m = 0; m < cfg.models.size(); ++m)
        for (const BackendEntry& b : cfg.backends)
            for (const std::string& precision : cfg.precisions)
                for (int threads : b.threads.empty() ? cfg.threads : b.threads) {
                    Unit u{m, &b, precision, threads, {}};
                    u.options.threads = threads;
                    u.options.fused = b.fused;
                    u.options.board = cfg.board;
                    u.options.xclbin = b.xclbin.empty() ? cfg.xclbin : b.xclbin;
                    units.push_back(std::move(u));
                }
    return units;
}

// A unit that cannot run on its backend for a reason that is no fault (a type it does not
// compute): its points get skipped rows, not errors.
struct UnitSkipped : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The state of the sweep while its units run.
class Sweep {
public:
    Sweep(const RunConfig& cfg, const SweepOptions& options, const BoardInfo& board,
          const std::vector<std::unique_ptr<PreparedModel>>& models, Progress& progress)
        : cfg_(cfg), options_(options), board_(board), models_(models), progress_(progress),
          reference_(BackendRegistry::reference().name), points_(plan_points(cfg)) {}

    void run(Unit& u);
    std::vector<ResultRow>& rows() { return rows_; }
    bool interrupted() const { return interrupted_; }

private:
    // A unit set up to measure: its backends loaded and checked against the reference.
    struct Prepared {
        const Model* model = nullptr;
        std::unique_ptr<Backend> backend, op_backend;
        json correctness, accuracy;
    };
    // What a point of a unit gathers over the rounds.
    struct PointRun {
        PassShape shape;
        const std::vector<int>* tokens = nullptr;
        Throughput throughput;
        OpProfile profile;
        // Energy over the point's timed passes, summed over the rounds (bench/energy.hpp);
        // nullopt when nothing can be measured or a reading failed.
        std::optional<EnergyReading> energy = EnergyReading{};
    };
    std::optional<std::string> why_not_run(const Unit& u);
    Prepared prepare(Unit& u);
    Backend& reference_for(const Model& model);
    bool measure_rounds(const Unit& u, Prepared& p, std::vector<PointRun>& runs, std::vector<Bandwidth>& bandwidths);
    Pass pass(const Unit& u, Backend& backend, const PointRun& run, const char* phase, int round, PassOptions o);
    void finish_point(const Unit& u, Prepared& p, const PointRun& run, const std::vector<Bandwidth>& bandwidths);
    static void add_decode_figures(ResultRow& r, const Model& model, const PointRun& run,
                                   const std::vector<Bandwidth>& bandwidths);
    void skip(const Unit& u, const PassShape& shape, const std::string& status, const std::string& reason);
    PreparedModel& model(const Unit& u) const { return *models_[u.model]; }
    std::string label(const Unit& u, const PassShape& shape) const {
        return point_label(model(u).entry->name, u.backend->name, u.precision, u.threads, shape);
    }

    const RunConfig& cfg_;
    const SweepOptions& options_;
    EnergyMeter energy_;  // one meter for every timed pass (bench/energy.hpp)
    const BoardInfo& board_;
    const std::vector<std::unique_ptr<PreparedModel>>& models_;
    Progress& progress_;
    const std::string reference_;                                   // the reference backend's name
    const std::vector<PassShape> points_;                          // of every unit
    std::map<const Model*, std::unique_ptr<Backend>> references_;  // the reference per checkpoint
    std::vector<ResultRow> rows_;
    bool interrupted_ = false;
};

void Sweep::skip(const Unit& u, const PassShape& shape, const std::string& status, const std::string& reason) {
    ResultRow r = point_row(model(u), u.backend->name, u.precision, u.threads, shape, "measured");
    r.status = status;
    r.reason = reason;
    rows_.push_back(std::move(r));
    progress_.finish(label(u, shape), status + ": " + reason);
}

// Why this unit cannot run here, if it cannot.
std::optional<std::string> Sweep::why_not_run(const Unit& u) {
    if (stop_requested()) interrupted_ = true;
    if (interrupted_) return "run interrupted before this point";
    if (auto why = precision_unsupported_reason(u.precision)) return *why;
    if (auto why = file_cannot_serve(model(u), u.precision)) return *why;
    const BackendFactory* f = BackendRegistry::find(u.backend->name);
    if (!f) {
        std::vector<std::string> names;
        for (const BackendFactory* x : BackendRegistry::all()) names.push_back(x->name);
        const std::string near = nearest_name(u.backend->name, names);
        return "not built into this bench (built: " + BackendRegistry::names() + ")" +
               (near.empty() ? "" : "; did you mean \"" + near + "\"?");
    }
    if (f->available) {
        Availability a = f->available(u.options);
        if (!a.available) return "not available here: " + a.reason;
    }
    return std::nullopt;
}

Backend& Sweep::reference_for(const Model& model) {
    auto& ref = references_[&model];
    if (!ref) {
        ref = BackendRegistry::create(reference_, BackendOptions{});
        ref->load(model);
    }
    return *ref;
}

// Creates and loads the unit's backend and checks it against the reference, once for all
// its points.
Sweep::Prepared Sweep::prepare(Unit& u) {
    PreparedModel& m = model(u);
    const BackendEntry& b = *u.backend;
    Prepared p;
    progress_.start(label(u, points_.front()) + " (correctness)");
    p.model = &model_for(m, u.precision, cfg_.out, options_.bandwidth_seconds);
    p.backend = BackendRegistry::create(b.name, u.options);
    if (b.name == reference_) {
        p.backend->load(*p.model);
        p.correctness = reference_correctness(cfg_.correctness_steps, reference_);
        // Not compared with anything, but never ranked with NaN/Inf logits.
        const EndToEndCheck self = check_reference_finite(*p.backend, cfg_.correctness_steps);
        if (!self.pass) {
            p.correctness["status"] = "fail";
            p.correctness["summary"] = reference_ + ": FAIL (" + self.note + ")";
            p.correctness["non_finite"] = self.non_finite;
            p.correctness["first_bad_position"] = self.first_bad_position;
            p.correctness["note"] = self.note;
        }
    } else {
        try {
            p.backend->load(*p.model);
        } catch (const InputError& e) {
            // A backend that computes llama2.c's types only refuses GGUF blocks at load: the
            // unit is skipped with its reason, as a precision the build cannot run would be.
            if (gguf_precision(u.precision)) throw UnitSkipped(e.what());
            throw;
        }
        // The reference on the same checkpoint: for int8, the reference's int8 is the reference.
        Backend& ref = reference_for(*p.model);
        p.correctness = correctness_json(check_backend(*p.backend, ref, *p.model, cfg_.correctness_steps));
    }
    // int8: how far its answers drift from the fp32 weights (the reference on fp32).
    if (u.precision == "int8" && m.tokenizer) {
        const Model& fp32 = model_for(m, "fp32", cfg_.out, options_.bandwidth_seconds);
        p.accuracy = accuracy_json(
            compare_models(reference_for(fp32), *p.backend, *m.tokenizer, cfg_.correctness_steps), reference_);
    }
    // Per-op times need the op-by-op path; a fused backend gets a second instance for them.
    if (b.fused) {
        BackendOptions ob = u.options;
        ob.fused = false;
        p.op_backend = BackendRegistry::create(b.name, ob);
        p.op_backend->load(*p.model);
    }
    return p;
}

void Sweep::run(Unit& u) {
    if (auto why = why_not_run(u)) {
        for (const PassShape& s : points_) skip(u, s, interrupted_ ? "not-run" : "skipped", *why);
        return;
    }
    Prepared p;
    try {
        p = prepare(u);
    } catch (const UnitSkipped& ex) {
        for (const PassShape& s : points_) skip(u, s, "skipped", ex.what());
        return;
    } catch (const std::exception& ex) {
        for (const PassShape& s : points_)
            skip(u, s, "error", std::string("could not set up (") + backend_options_text(u.options) + "): " + ex.what());
        return;
    }
    std::vector<PointRun> runs;
    for (const PassShape& s : points_) {
        PointRun run;
        run.shape = s;
        run.tokens = &model(u).prompts.at(s.depth + s.prompt);
        runs.push_back(std::move(run));
    }
    std::vector<Bandwidth> bandwidths;
    bool measured = false;
    try {
        measured = measure_rounds(u, p, runs, bandwidths);
    } catch (const std::exception& ex) {
        for (const PassShape& s : points_) {
            ResultRow r = point_row(model(u), u.backend->name, u.precision, u.threads, s, "measured");
            r.status = "error";
            r.reason = ex.what();
            rows_.push_back(std::move(r));
            progress_.finish(label(u, s), std::string("error: ") + ex.what());
        }
        return;
    }
    if (!measured) {
        interrupted_ = true;
        for (const PassShape& s : points_) skip(u, s, "not-run", "run interrupted during this point");
        return;
    }
    for (const PointRun& run : runs) finish_point(u, p, run, bandwidths);
}

// One pass of one point, reported to the sweep's observer (tests check the order).
Pass Sweep::pass(const Unit& u, Backend& backend, const PointRun& run, const char* phase, int round, PassOptions o) {
    progress_.start(label(u, run.shape) + " (" + phase + (round >= 0 ? " " + std::to_string(round + 1) + "/" +
                                                                            std::to_string(cfg_.repetitions)
                                                                      : std::string()) + ")");
    if (options_.on_pass) options_.on_pass(label(u, run.shape), phase, round);
    return run_pass(backend, *run.tokens, run.shape, o);
}

// The unit's points, round-robin: the warmup passes of every point, then `repetitions`
// rounds, each measuring the host's read bandwidth over the unit's weights (its precision's
// working set) and then one measured pass and one untimed + timed op-profile pair of every
// point, so the bandwidth and all the points of a round see the machine in the same state.
// False when interrupted.
bool Sweep::measure_rounds(const Unit& u, Prepared& p, std::vector<PointRun>& runs,
                           std::vector<Bandwidth>& bandwidths) {
    Backend& opb = p.op_backend ? *p.op_backend : *p.backend;
    for (int w = 0; w < cfg_.warmup; ++w)
        for (PointRun& run : runs)
            if (pass(u, *p.backend, run, "warmup", -1, {}).interrupted) return false;
    if (cfg_.warmup > 0)
        for (PointRun& run : runs)
            if (run.shape.generate >= 2 && pass(u, opb, run, "op warmup", -1, {}).interrupted) return false;
    const double bandwidth_seconds = options_.bandwidth_seconds / cfg_.repetitions;
    const int64_t working_set = p.model->weight_bytes_per_token();
    for (int r = 0; r < cfg_.repetitions; ++r) {
        if (stop_requested()) return false;
        bandwidths.push_back(measure_read_bandwidth(0, working_set, bandwidth_seconds));
        for (PointRun& run : runs) {
            PassOptions o;
            o.collect_estimates = (r == cfg_.repetitions - 1);
            if (run.energy) energy_.start();
            Pass timed = pass(u, *p.backend, run, "measure", r, o);
            if (run.energy) {
                const std::optional<EnergyReading> e = energy_.stop();
                if (e) {
                    run.energy->joules += e->joules;
                    run.energy->seconds += e->seconds;
                    run.energy->samples += e->samples;
                } else {
                    run.energy.reset();
                }
            }
            if (timed.interrupted) return false;
            run.throughput.add(std::move(timed), run.shape);
        }
        for (PointRun& run : runs) {
            if (run.shape.generate < 2) continue;
            Pass plain = pass(u, opb, run, "ops untimed", r, {});
            if (plain.interrupted) return false;
            PassOptions o;
            o.time_ops = true;
            Pass timed = pass(u, opb, run, "ops timed", r, o);
            if (timed.interrupted) return false;
            run.profile.add(plain, timed, run.shape.generate);
        }
    }
    return true;
}

// A measured point's row from its rounds (its prefill figures when it has a prompt, its
// decode figures when it decodes), and for a backend that models a device the estimated
// row beside it.
void Sweep::finish_point(const Unit& u, Prepared& p, const PointRun& run, const std::vector<Bandwidth>& bandwidths) {
    PreparedModel& m = model(u);
    const BackendEntry& b = *u.backend;
    const PassShape& s = run.shape;
    const Throughput& t = run.throughput;
    ResultRow r = point_row(m, b.name, u.precision, u.threads, s, "measured");
    json& d = r.details;
    d["fused"] = b.fused;
    r.correctness = p.correctness;
    if (!p.accuracy.is_null()) d["accuracy"] = p.accuracy;
    if (p.correctness["status"] == "fail") {
        r.status = "failed";
        r.reason = "correctness check failed: " + p.correctness["summary"].get<std::string>();
    }
    std::string outcome = r.status;
    if (s.prompt > 0) {
        const Stats pre = summarize(t.prefill_tok_s), ttft = summarize(t.ttft_ms);
        r.prefill_tok_s = pre.median;
        r.ttft_ms = ttft.median;
        d["prefill"] = {{"tok_s", to_json(pre)}};
        d["ttft"] = {{"ms", to_json(ttft)}};
        outcome += ", prefill " + fixed(pre.median, 2) + " tok/s";
    }
    if (s.generate >= 2) {
        add_decode_figures(r, *p.model, run, bandwidths);
        outcome += ", decode " + fixed(*r.decode_tok_s, 2) + " tok/s";
    }
    attach_energy(r, energy_, energy_.available() ? run.energy : std::nullopt,
                  "the point's timed passes, summed over the rounds (prefill and decode)");
    std::optional<ResultRow> est = estimated_row(m, *p.model, r, t, s, board_.ddr_bytes_per_s);
    if (est) d["estimated_row"] = est->id;
    rows_.push_back(r);
    if (est) rows_.push_back(std::move(*est));
    progress_.finish(label(u, s), outcome);
}

// Decode tok/s, latency by position, the op profile and the roofline of a decoding point.
void Sweep::add_decode_figures(ResultRow& r, const Model& model, const PointRun& run,
                               const std::vector<Bandwidth>& bandwidths) {
    const PassShape& s = run.shape;
    const Throughput& t = run.throughput;
    const OpProfile& prof = run.profile;
    json& d = r.details;
    const Stats dec = summarize(t.decode_tok_s);
    r.decode_tok_s = dec.median;
    d["decode"] = {{"tok_s", to_json(dec)}, {"ms_per_token", to_json(summarize(t.decode_ms_per_token))}};
    d["decode_ms_by_position"] = {{"first_position", s.depth + s.prompt}, {"ms", round_ms(t.decode_ms_by_position())}};
    if (prof.any_op_time) {
        std::array<double, kNumOps> ms{};
        for (int op = 0; op < kNumOps; ++op) ms[size_t(op)] = median(prof.op_ms_per_token[size_t(op)]);
        r.op_ms_per_token = ops_json(ms, median(prof.other_ms_per_token));
    }
    d["op_profile"] = {{"path", r.details["fused"] == true ? "op by op (separate instance, fused = false)" : "op by op"},
                       {"ops_reported", prof.any_op_time},
                       {"untimed_ms_per_token", median(prof.untimed_ms_per_token)},
                       {"timed_ms_per_token", median(prof.timed_ms_per_token)},
                       {"timer_overhead", prof.timer_overhead()},
                       {"repetitions", int(prof.timed_ms_per_token.size())}};
    const int first = s.depth + s.prompt;
    const double bytes = mean_bytes_per_token(model, first + 1, first + s.generate - 1);
    std::vector<double> bw_by_round;
    for (const Bandwidth& bw : bandwidths) bw_by_round.push_back(bw.bytes_per_second);
    const RoundRoofline roof = round_roofline(bytes, bw_by_round, t.decode_tok_s);
    d["roofline"] = {{"bytes_per_token", bytes},
                     {"bandwidth_bytes_per_s", roof.bandwidth_bytes_per_s},
                     {"bandwidth_source", "host read bandwidth over a buffer the size of this precision's weights, "
                                          "measured in each round beside the timed passes (median of rounds)"},
                     {"bandwidth_by_round", bw_by_round},
                     {"tok_s", roof.tok_s},
                     {"fraction", roof.fraction}};
    if (roof.unstable) {
        // Physically impossible: the bandwidth measured is not the one the point saw. Kept
        // for diagnosis under another name; no printer shows it as the row's fraction.
        r.unstable = true;
        d["unstable_reason"] = "decode tok/s above the memory roofline measured in the same rounds (fraction " +
                               fixed(roof.fraction, 3) + "): its fraction is not a result";
        d["roofline"]["fraction"] = nullptr;
        d["roofline"]["fraction_unstable"] = roof.fraction;
    }
}

}  // namespace

std::optional<double> board_ddr_bytes_per_s(const json& board) {
    // lhb-board/1 (docs/hls-design.md): ddr.peak_gb_per_s.
    if (auto gb = board_value(board, "ddr", "peak_gb_per_s")) return *gb * 1e9;
    return std::nullopt;
}

std::optional<double> board_ddr_efficiency(const json& board) { return board_value(board, "ddr", "efficiency"); }

void rank_rows(json& results) {
    json& rows = results["rows"];
    // Rank measured, passing rows by decode speed within each model. Failed and estimated
    // rows are shown but never ranked.
    std::map<std::string, std::vector<json*>> by_model;
    for (json& r : rows) {
        r["ranked"] = false;
        r["rank"] = nullptr;
        const bool passing = r["correctness"].is_object() &&
                             (r["correctness"]["status"] == "pass" || r["correctness"]["status"] == "reference");
        if (r["kind"] == "measured" && r["status"] == "ok" && passing && r["decode_tok_s"].is_number())
            by_model[r["model"].get<std::string>()].push_back(&r);
    }
    for (auto& [model, list] : by_model) {
        std::stable_sort(list.begin(), list.end(), [](const json* a, const json* b) {
            return (*a)["decode_tok_s"].get<double>() > (*b)["decode_tok_s"].get<double>();
        });
        for (size_t i = 0; i < list.size(); ++i) (*list[i])["ranked"] = true, (*list[i])["rank"] = int(i + 1);
    }
    // Speedups over the published figures, for rows of the model those figures are for, of any
    // precision (the row says its own; an int8 row's speedup includes what int8 buys).
    for (json& r : rows) {
        r["speedup"] = json::object();
        // Host rows (x86, C simulation) are not compared with board figures (issue 18).
        if (r["kind"] == "published" || !r["decode_tok_s"].is_number() || !is_board_row(r)) continue;
        for (const json& p : results["published"]) {
            const auto& models = p["applies_to_models"];
            if (std::find(models.begin(), models.end(), r["model"]) == models.end()) continue;
            r["speedup"][p["backend"].get<std::string>()] = r["decode_tok_s"].get<double>() / p["tok_s"].get<double>();
        }
    }
}

// Plan the points, prepare the models and the bandwidth figures, measure each unit, then
// assemble and rank.
json run_sweep(const RunConfig& cfg, const SweepOptions& options) {
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    const CpuSample cpu_start = sample_cpu();
    json results = results_header(cfg);
    std::vector<Unit> units = plan_units(cfg);
    PeerSchedule peers(cfg);
    Progress progress(int(units.size() * plan_points(cfg).size()) + peers.points(), options.quiet, options.log_lines);
    const BoardInfo board = load_board(cfg);
    results["board"] = board.board;

    check_lengths(cfg);
    std::vector<std::unique_ptr<PreparedModel>> models;
    for (const ModelEntry& e : cfg.models) models.push_back(prepare_model(e, cfg, options, progress));
    for (const auto& m : models) peers.set_model_file(m->entry->name, m->path, m->synthetic);
    {
        progress.start("measuring host DRAM read bandwidth");
        const Bandwidth dram = measure_read_bandwidth(0, kDramBufferBytes, options.bandwidth_seconds);
        results["environment"]["dram_read_bandwidth"] = bandwidth_json(dram);
    }
    Sweep sweep(cfg, options, board, models, progress);
    sweep.rows() = published_rows(cfg, models, results);
    for (Unit& u : units) {
        sweep.run(u);
        peers.after_unit(cfg.models[u.model].name, u.threads, progress);  // peers between our points
    }
    for (ResultRow& r : peers.finish(progress, sweep.interrupted())) sweep.rows().push_back(std::move(r));
    progress.done();

    results["models"] = json::array();  // after the sweep: int8 points add their quantized files
    for (const auto& m : models) results["models"].push_back(m->info);
    results["rows"] = json::array();
    for (const ResultRow& r : sweep.rows()) results["rows"].push_back(to_json(r));
    rank_rows(results);
    for (json& r : results["rows"]) normalize_row(r);
    results["table"] = table_json(results["published"], false, has_energy(results["rows"]));
    results["environment"]["energy"] = EnergyMeter().describe();
    results["environment"]["load_average_end"] = load_average();
    results["environment"]["other_processes_cpu"] = other_processes_cpu(cpu_start, sample_cpu());
    results["interrupted"] = sweep.interrupted() || peers.interrupted();
    results["complete"] = !results["interrupted"].get<bool>();
    results["finished_at"] = utc_now_iso8601();
    results["duration_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
    return results;
}

}  // namespace lhb::bench
