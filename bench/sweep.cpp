#include "bench/sweep.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "bench/environment.hpp"
#include "bench/measure.hpp"
#include "bench/progress.hpp"
#include "bench/sha256.hpp"
#include "core/accuracy.hpp"
#include "core/correctness.hpp"
#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/json_scan.hpp"
#include "core/registry.hpp"
#include "core/quantize.hpp"
#include "core/roofline.hpp"
#include "core/synth.hpp"
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
    std::map<int, std::vector<int>> prompts;  // by prompt length
    std::string prompt_source;
    Bandwidth bandwidth;  // host read bandwidth over a buffer the size of the weights
    json info;
    std::optional<Model> q8;  // the int8 (Q8_0) version, made when an int8 point first runs
    Bandwidth q8_bandwidth;   // host read bandwidth over a buffer the size of its weights
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

// The host read bandwidth for a checkpoint's working set: the model's, or its int8 copy's.
const Bandwidth& bandwidth_for(const PreparedModel& m, const Model& model) {
    return (m.q8 && &model == &*m.q8) ? m.q8_bandwidth : m.bandwidth;
}

// The checkpoint a point of `precision` runs on. fp32: the model file (which must be fp32).
// int8: the file itself if it is a version-2 (Q8_0) checkpoint, else the fp32 weights
// quantized once (core/quantize.hpp) into <out>/models/ and reused by later runs.
const Model& model_for(PreparedModel& m, const std::string& precision, const std::string& out_dir,
                       double bandwidth_seconds) {
    const Model& base = *m.model;
    if (precision == "fp32") {
        if (base.dtype() != DType::F32)
            throw InputError(m.path + ": an int8 (version 2) checkpoint; fp32 points need an fp32 one");
        return base;
    }
    if (base.dtype() == DType::Q8_0) return base;
    if (m.q8) return *m.q8;
    const int group = default_group_size(base.config());
    const std::string path = (fs::path(out_dir) / "models" /
                              (safe_file_name(m.entry->name) + "-" + m.info["sha256"].get<std::string>().substr(0, 12) +
                               "-q8_0-g" + std::to_string(group) + ".bin"))
                                 .string();
    bool reuse = false;
    if (fs::is_regular_file(path)) {
        try {
            Model q = Model::open(path);
            reuse = q.dtype() == DType::Q8_0 && same_shape(q.config(), base.config());
        } catch (const InputError&) {
        }
    }
    if (!reuse) {
        fs::create_directories(fs::path(path).parent_path());
        write_q8_model(base, path, group);
    }
    m.q8.emplace(Model::open(path));
    // Its own working set: a smaller buffer may sit in a faster level of the hierarchy.
    m.q8_bandwidth = measure_read_bandwidth(0, m.q8->weight_bytes_per_token(), bandwidth_seconds);
    m.info["int8"] = {{"path", path},
                      {"sha256", sha256_file(path)},
                      {"group_size", group},
                      {"weight_bytes_per_token", m.q8->weight_bytes_per_token()},
                      {"host_bandwidth", bandwidth_json(m.q8_bandwidth)}};
    return *m.q8;
}

// ---------------------------------------------------------------- rows

std::string point_label(const std::string& model, const std::string& backend, const std::string& precision,
                        int threads, int prompt, int generate) {
    return model + " " + backend + " " + precision + " t" + std::to_string(threads) + " pp" + std::to_string(prompt) +
           " tg" + std::to_string(generate);
}

std::string point_id(const std::string& model, const std::string& backend, const std::string& precision,
                     int threads, int prompt, int generate, const std::string& kind) {
    return model + "/" + backend + "/" + precision + "/t" + std::to_string(threads) + "/pp" + std::to_string(prompt) +
           "/tg" + std::to_string(generate) + "/" + kind;
}

json base_row(const PreparedModel& m, const std::string& backend, const std::string& precision, int threads,
              int prompt, int generate, const std::string& kind) {
    json r;
    r["id"] = point_id(m.entry->name, backend, precision, threads, prompt, generate, kind);
    r["kind"] = kind;
    r["model"] = m.entry->name;
    r["weights"] = m.synthetic ? "synthetic" : "real";
    r["backend"] = backend;
    r["precision"] = precision;
    r["threads"] = threads;
    r["prompt_tokens"] = prompt;
    r["generate_tokens"] = generate;
    r["status"] = "ok";
    r["reason"] = nullptr;
    r["ranked"] = false;
    r["rank"] = nullptr;
    r["decode_tok_s"] = nullptr;
    r["prefill_tok_s"] = nullptr;
    r["op_ms_per_token"] = nullptr;
    r["correctness"] = nullptr;
    r["speedup"] = json::object();
    return r;
}

json accuracy_json(const AccuracyReport& a) {
    return {{"reference", "the fp32 weights through cpu-ref"},
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

json reference_correctness(int steps) {
    return {{"status", "reference"},
            {"summary", "cpu-ref is the reference the other backends are checked against"},
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
// the last measured pass (positions 0..P+G-1). Same conventions as the measured row.
std::optional<json> estimated_row(const PreparedModel& m, const Model& model, const json& measured,
                                  const std::vector<std::optional<DeviceEstimate>>& est, int P, int G,
                                  std::optional<double> board_bw) {
    if (est.size() != size_t(P + G)) return std::nullopt;
    for (const auto& e : est)
        if (!e) return std::nullopt;
    json r = base_row(m, measured["backend"], measured["precision"], measured["threads"], P, G, "estimated");
    double prefill = 0, decode = 0, greedy = 0;
    std::array<double, kNumOps> op_ms{};
    std::vector<double> by_pos;
    for (int pos = 0; pos < P; ++pos) prefill += est[size_t(pos)]->token_seconds;
    for (int i = 0; i < G; ++i) {
        const DeviceEstimate& e = *est[size_t(P + i)];
        by_pos.push_back(1e3 * e.token_seconds);
        if (i == 0) continue;  // same convention as the measured decode
        decode += e.token_seconds;
        greedy += e.greedy_token_seconds;
        for (int op = 0; op < kNumOps; ++op) op_ms[size_t(op)] += 1e3 * e.op_seconds[size_t(op)] / (G - 1);
    }
    double op_sum = 0;
    for (double x : op_ms) op_sum += x;
    const double decode_ms = 1e3 * decode / (G - 1);
    r["target"] = est[size_t(P)]->target;
    r["status"] = measured["status"];
    r["reason"] = measured["reason"];
    r["correctness"] = measured["correctness"];
    r["prefill_tok_s"] = prefill > 0 ? P / prefill : 0.0;
    r["decode_tok_s"] = decode > 0 ? (G - 1) / decode : 0.0;
    r["decode_ms_per_token"] = decode_ms;
    r["op_ms_per_token"] = ops_json(op_ms, std::max(0.0, decode_ms - op_sum));
    r["decode_ms_by_position"] = {{"first_position", P}, {"ms", round_ms(by_pos)}};
    // The same decode with greedy decoding on the device (logits kept on chip), when modelled.
    const int greedy_run = est[size_t(P)]->greedy_tokens_per_run;
    if (greedy > 0 && greedy_run > 0)
        r["device_greedy"] = {{"decode_tok_s", (G - 1) / greedy},
                              {"decode_ms_per_token", 1e3 * greedy / (G - 1)},
                              {"tokens_per_run", greedy_run}};
    else
        r["device_greedy"] = nullptr;
    r["simulation"] = {{"row", measured["id"]},
                       {"decode_tok_s", measured["decode_tok_s"]},
                       {"prefill_tok_s", measured["prefill_tok_s"]}};
    r["detail"] = est[size_t(P + G / 2)]->detail;
    const double bytes = mean_bytes_per_token(model, P + 1, P + G - 1);
    json roof = {{"bytes_per_token", bytes}, {"bandwidth_source", "board DDR (from the board file)"}};
    if (board_bw) {
        const double roof_tok_s = roofline_tok_per_s(bytes, *board_bw);
        roof["bandwidth_bytes_per_s"] = *board_bw;
        roof["tok_s"] = roof_tok_s;
        roof["fraction"] = roof_tok_s > 0 ? r["decode_tok_s"].get<double>() / roof_tok_s : 0.0;
    } else {
        roof["bandwidth_bytes_per_s"] = nullptr;
        roof["tok_s"] = nullptr;
        roof["fraction"] = nullptr;
    }
    r["roofline"] = roof;
    return r;
}

// ---------------------------------------------------------------- signals

std::string backend_options_text(const BackendOptions& o) {
    return "threads=" + std::to_string(o.threads) + (o.fused ? "" : ", op by op");
}

}  // namespace

namespace {
// A board file's number: {"value": x, "source": "..."} (lhb-board/1) or a bare number.
std::optional<double> board_value(const json& board, const char* section, const char* key) {
    if (!board.is_object() || !board.contains(section) || !board[section].is_object()) return std::nullopt;
    const json& v = board[section].contains(key) ? board[section][key] : json();
    if (v.is_number()) return v.get<double>();
    if (v.is_object() && v.contains("value") && v["value"].is_number()) return v["value"].get<double>();
    return std::nullopt;
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
        if (r["kind"] == "published" || !r["decode_tok_s"].is_number()) continue;
        for (const json& p : results["published"]) {
            const auto& models = p["applies_to_models"];
            if (std::find(models.begin(), models.end(), r["model"]) == models.end()) continue;
            r["speedup"][p["backend"].get<std::string>()] = r["decode_tok_s"].get<double>() / p["tok_s"].get<double>();
        }
    }
}

json run_sweep(const RunConfig& cfg, const SweepOptions& options) {
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    const CpuSample cpu_start = sample_cpu();
    json results;
    results["schema"] = "llama-hls-bench/results";
    results["schema_version"] = 1;
    results["name"] = cfg.name;
    results["description"] = cfg.description;
    results["complete"] = false;
    results["interrupted"] = false;
    results["started_at"] = utc_now_iso8601();
    results["environment"] = collect_environment(cfg.dir);
    results["config"] = {{"file", cfg.file}, {"source", cfg.source}, {"text", cfg.text}};
    results["methodology"] = {
        {"prefill", "prompt_tokens forward passes (one position each) timed together; tok/s = prompt_tokens / time"},
        {"decode", "greedy tokens after the prompt, each timed from forward() to argmax; the first decoded token "
                   "is left out; tok/s = (generate_tokens - 1) / time"},
        {"warmup", cfg.warmup},
        {"repetitions", cfg.repetitions},
        {"statistics", "min, median, p90 (linear interpolation) and cv (sample stddev / mean) over repetitions"},
        {"op_profile", "interleaved untimed and timed passes on the backend's op-by-op path; per-op medians over "
                       "the timed passes; timer_overhead = median timed / median untimed - 1"},
        {"roofline", "bytes per token (weights + KV cache read at each position, mean over decode) / host read "
                     "bandwidth measured over a buffer the size of the weights, all cores"}};

    // Count the points first, for progress.
    int total_points = 0;
    for (size_t mi = 0; mi < cfg.models.size(); ++mi)
        for (const auto& b : cfg.backends)
            total_points += int(cfg.precisions.size() * (b.threads.empty() ? cfg.threads : b.threads).size() *
                                cfg.prompt_tokens.size());
    Progress progress(total_points, options.quiet, options.log_lines);

    // Board file: copied into the results; its DDR bandwidth is the estimated rows' ceiling.
    json board = nullptr;
    std::optional<double> board_bw;
    if (!cfg.board.empty()) {
        const std::string text = read_input_file(cfg.board, kMaxSpecBytes, "board file");
        scan_json(text, cfg.board, {kMaxNestingDepth, kMaxSpecBytes});
        json contents;
        try {
            contents = json::parse(text);
        } catch (const json::parse_error& e) {
            TextPosition p = position_of_byte(text, e.byte);
            throw InputError(cfg.board + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) +
                             ": invalid JSON in the board file (named by " + cfg.file + ": /board)");
        }
        board_bw = board_ddr_bytes_per_s(contents);
        const auto efficiency = board_ddr_efficiency(contents);
        board = {{"file", cfg.board},
                 {"name", contents.is_object() && contents.contains("name") ? contents["name"] : json(nullptr)},
                 {"sha256", sha256_hex(text)},
                 {"contents", contents},
                 {"ddr_bytes_per_s", board_bw ? json(*board_bw) : json(nullptr)},
                 {"ddr_efficiency", efficiency ? json(*efficiency) : json(nullptr)}};
    }
    results["board"] = board;

    // Models: check every length against each model's seq_len first (from the file's header,
    // or the shape it will be synthesized with), so a mistake costs nothing and writes nothing.
    const int max_prompt = *std::max_element(cfg.prompt_tokens.begin(), cfg.prompt_tokens.end());
    for (const ModelEntry& e : cfg.models) {
        const ModelConfig mc = fs::is_regular_file(e.path) ? Model::open(e.path).config() : parse_shape(e.shape);
        if (max_prompt + cfg.generate_tokens > mc.seq_len)
            throw InputError(cfg.file + ": /prompt_tokens: expected prompt_tokens + generate_tokens <= " + e.name +
                             "'s seq_len " + std::to_string(mc.seq_len) + ", found " + std::to_string(max_prompt) +
                             " + " + std::to_string(cfg.generate_tokens));
        if (cfg.correctness_steps > mc.seq_len)
            throw InputError(cfg.file + ": /correctness_steps: expected at most " + e.name + "'s seq_len " +
                             std::to_string(mc.seq_len) + ", found " + std::to_string(cfg.correctness_steps));
    }
    // Then open (or synthesize), hash, tokenizer, prompts, bandwidth.
    std::vector<std::unique_ptr<PreparedModel>> models;
    for (const ModelEntry& e : cfg.models) {
        auto m = std::make_unique<PreparedModel>();
        m->entry = &e;
        progress.start("preparing " + e.name);
        m->path = model_file(e, cfg.out, m->synthetic, progress);
        m->model.emplace(Model::open(m->path));
        const ModelConfig& mc = m->model->config();
        if (!e.tokenizer.empty() && fs::is_regular_file(e.tokenizer))
            m->tokenizer.emplace(Tokenizer::load(e.tokenizer, mc.vocab_size));
        m->prompt_source = m->tokenizer ? "text" : "token ids";
        for (int p : cfg.prompt_tokens) m->prompts[p] = make_prompt(*m, cfg.prompt, p);
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
                   {"shape", shape_json(mc)},
                   {"params", mc.n_params()},
                   {"weight_bytes_per_token", m->model->weight_bytes_per_token()},
                   {"tokenizer", m->tokenizer ? json(e.tokenizer) : json(nullptr)},
                   {"prompt_source", m->prompt_source},
                   {"host_bandwidth",
                    {{"bytes_per_s", m->bandwidth.bytes_per_second},
                     {"median_bytes_per_s", m->bandwidth.median_bytes_per_second},
                     {"buffer_bytes", m->bandwidth.buffer_bytes},
                     {"threads", m->bandwidth.threads}}}};
        models.push_back(std::move(m));
    }
    {
        progress.start("measuring host DRAM read bandwidth");
        Bandwidth dram = measure_read_bandwidth(0, kDramBufferBytes, options.bandwidth_seconds);
        results["environment"]["dram_read_bandwidth"] = {{"bytes_per_s", dram.bytes_per_second},
                                                         {"median_bytes_per_s", dram.median_bytes_per_second},
                                                         {"buffer_bytes", dram.buffer_bytes},
                                                         {"threads", dram.threads}};
    }

    // Published figures, as rows of kind "published".
    results["published"] = json::array();
    json rows = json::array();
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
        json r;
        r["id"] = p.model + "/" + p.backend + "/" + p.precision + "/published";
        r["kind"] = "published";
        r["model"] = p.model;
        r["weights"] = "real";
        r["backend"] = p.backend;
        r["precision"] = p.precision;
        r["threads"] = nullptr;
        r["prompt_tokens"] = nullptr;
        r["generate_tokens"] = p.tokens ? json(p.tokens) : json(nullptr);
        r["status"] = "ok";
        r["reason"] = nullptr;
        r["ranked"] = false;
        r["rank"] = nullptr;
        r["decode_tok_s"] = p.tok_s;
        r["prefill_tok_s"] = nullptr;
        r["op_ms_per_token"] = nullptr;
        r["correctness"] = nullptr;
        r["speedup"] = json::object();
        r["name"] = p.name;
        r["source"] = p.source;
        rows.push_back(r);
    }

    // The sweep.
    std::map<const Model*, std::unique_ptr<Backend>> references;  // cpu-ref per checkpoint
    bool interrupted = false;
    auto skip_row = [&](const PreparedModel& m, const BackendEntry& b, const std::string& precision, int threads,
                        int prompt, const std::string& status, const std::string& reason) {
        json r = base_row(m, b.name, precision, threads, prompt, cfg.generate_tokens, "measured");
        r["status"] = status;
        r["reason"] = reason;
        rows.push_back(r);
        progress.finish(point_label(m.entry->name, b.name, precision, threads, prompt, cfg.generate_tokens),
                        status + ": " + reason);
    };

    for (const auto& mp : models) {
        PreparedModel& m = *mp;
        for (const BackendEntry& b : cfg.backends) {
            const auto& thread_list = b.threads.empty() ? cfg.threads : b.threads;
            for (const std::string& precision : cfg.precisions) {
                for (int threads : thread_list) {
                    BackendOptions bo;
                    bo.threads = threads;
                    bo.fused = b.fused;
                    bo.board = cfg.board;
                    bo.xclbin = b.xclbin.empty() ? cfg.xclbin : b.xclbin;

                    // Why this unit cannot run here, if it cannot.
                    if (stop_requested()) interrupted = true;
                    std::string skip;
                    if (interrupted) {
                        skip = "run interrupted before this point";
                    } else if (auto why = precision_unsupported_reason(precision)) {
                        skip = *why;
                    } else if (const BackendFactory* f = BackendRegistry::find(b.name); !f) {
                        std::string near = nearest_name(b.name, [] {
                            std::vector<std::string> v;
                            for (const BackendFactory* x : BackendRegistry::all()) v.push_back(x->name);
                            return v;
                        }());
                        skip = "not built into this bench (built: " + BackendRegistry::names() + ")" +
                               (near.empty() ? "" : "; did you mean \"" + near + "\"?");
                    } else if (f->available) {
                        Availability a = f->available(bo);
                        if (!a.available) skip = "not available here: " + a.reason;
                    }
                    if (!skip.empty()) {
                        for (int p : cfg.prompt_tokens)
                            skip_row(m, b, precision, threads, p, interrupted ? "not-run" : "skipped", skip);
                        continue;
                    }

                    // Create, load, check correctness once per unit; measure each prompt length.
                    std::unique_ptr<Backend> backend, op_backend;
                    json correctness, accuracy;
                    const Model* model = nullptr;
                    try {
                        progress.start(point_label(m.entry->name, b.name, precision, threads,
                                                   cfg.prompt_tokens.front(), cfg.generate_tokens) +
                                       " (correctness)");
                        model = &model_for(m, precision, cfg.out, options.bandwidth_seconds);
                        backend = BackendRegistry::create(b.name, bo);
                        if (b.name == "cpu-ref") {
                            backend->load(*model);
                            correctness = reference_correctness(cfg.correctness_steps);
                            // Not compared with anything, but never ranked with NaN/Inf logits.
                            const EndToEndCheck self = check_reference_finite(*backend, cfg.correctness_steps);
                            if (!self.pass) {
                                correctness["status"] = "fail";
                                correctness["summary"] = "cpu-ref: FAIL (" + self.note + ")";
                                correctness["non_finite"] = self.non_finite;
                                correctness["first_bad_position"] = self.first_bad_position;
                                correctness["note"] = self.note;
                            }
                        } else {
                            // cpu-ref on the same checkpoint: for int8, cpu-ref's int8 is the reference.
                            auto& ref = references[model];
                            if (!ref) {
                                ref = BackendRegistry::create("cpu-ref", BackendOptions{});
                                ref->load(*model);
                            }
                            backend->load(*model);
                            CorrectnessReport rep = check_backend(*backend, *ref, *model, cfg.correctness_steps);
                            correctness = correctness_json(rep);
                        }
                        // int8: how far its answers drift from the fp32 weights (cpu-ref on fp32).
                        if (precision == "int8" && m.tokenizer) {
                            const Model& fp32 = model_for(m, "fp32", cfg.out, options.bandwidth_seconds);
                            auto& fref = references[&fp32];
                            if (!fref) {
                                fref = BackendRegistry::create("cpu-ref", BackendOptions{});
                                fref->load(fp32);
                            }
                            accuracy = accuracy_json(
                                compare_models(*fref, *backend, *m.tokenizer, cfg.correctness_steps));
                        }
                        // Per-op times need the op-by-op path; a fused backend gets a second
                        // instance for them.
                        if (b.fused) {
                            BackendOptions ob = bo;
                            ob.fused = false;
                            op_backend = BackendRegistry::create(b.name, ob);
                            op_backend->load(*model);
                        }
                    } catch (const std::exception& ex) {
                        for (int p : cfg.prompt_tokens)
                            skip_row(m, b, precision, threads, p, "error",
                                     std::string("could not set up (") + backend_options_text(bo) + "): " + ex.what());
                        continue;
                    }
                    Backend& opb = op_backend ? *op_backend : *backend;

                    for (int P : cfg.prompt_tokens) {
                        const std::string label =
                            point_label(m.entry->name, b.name, precision, threads, P, cfg.generate_tokens);
                        if (stop_requested()) interrupted = true;
                        if (interrupted) {
                            skip_row(m, b, precision, threads, P, "not-run", "run interrupted before this point");
                            continue;
                        }
                        progress.start(label);
                        const std::vector<int>& prompt = m.prompts.at(P);
                        const int G = cfg.generate_tokens;
                        json r = base_row(m, b.name, precision, threads, P, G, "measured");
                        r["fused"] = b.fused;
                        r["correctness"] = correctness;
                        if (!accuracy.is_null()) r["accuracy"] = accuracy;
                        if (correctness["status"] == "fail") {
                            r["status"] = "failed";
                            r["reason"] = "correctness check failed: " + correctness["summary"].get<std::string>();
                        }
                        try {
                            Throughput t = measure_throughput(*backend, prompt, G, cfg.warmup, cfg.repetitions);
                            OpProfile prof;
                            if (!t.interrupted) prof = measure_ops(opb, prompt, G, cfg.warmup > 0 ? 1 : 0, cfg.repetitions);
                            if (t.interrupted || prof.interrupted) {
                                interrupted = true;
                                skip_row(m, b, precision, threads, P, "not-run", "run interrupted during this point");
                                continue;
                            }
                            Stats dec = summarize(t.decode_tok_s), pre = summarize(t.prefill_tok_s);
                            r["decode_tok_s"] = dec.median;
                            r["prefill_tok_s"] = pre.median;
                            r["decode"] = {{"tok_s", to_json(dec)}, {"ms_per_token", to_json(summarize(t.decode_ms_per_token))}};
                            r["prefill"] = {{"tok_s", to_json(pre)}};
                            r["decode_ms_by_position"] = {{"first_position", P}, {"ms", round_ms(t.decode_ms_by_position)}};
                            if (prof.any_op_time) {
                                std::array<double, kNumOps> ms{};
                                for (int op = 0; op < kNumOps; ++op) ms[size_t(op)] = median(prof.op_ms_per_token[size_t(op)]);
                                r["op_ms_per_token"] = ops_json(ms, median(prof.other_ms_per_token));
                            }
                            r["op_profile"] = {{"path", b.fused ? "op by op (separate instance, fused = false)" : "op by op"},
                                               {"ops_reported", prof.any_op_time},
                                               {"untimed_ms_per_token", median(prof.untimed_ms_per_token)},
                                               {"timed_ms_per_token", median(prof.timed_ms_per_token)},
                                               {"timer_overhead", prof.timer_overhead()},
                                               {"repetitions", int(prof.timed_ms_per_token.size())}};
                            const double bytes = mean_bytes_per_token(*model, P + 1, P + G - 1);
                            const Bandwidth& bw = bandwidth_for(m, *model);
                            const double roof = roofline_tok_per_s(bytes, bw.bytes_per_second);
                            r["roofline"] = {{"bytes_per_token", bytes},
                                             {"bandwidth_bytes_per_s", bw.bytes_per_second},
                                             {"bandwidth_source", "host read bandwidth (measured, weight-sized buffer)"},
                                             {"tok_s", roof},
                                             {"fraction", roof > 0 ? dec.median / roof : 0.0}};
                            rows.push_back(r);
                            if (auto est = estimated_row(m, *model, r, t.estimates, P, G, board_bw)) {
                                rows.back()["estimated_row"] = (*est)["id"];
                                rows.push_back(*est);
                            }
                            char outcome[128];
                            std::snprintf(outcome, sizeof outcome, "%s, decode %.2f tok/s", r["status"].get<std::string>().c_str(),
                                          dec.median);
                            progress.finish(label, outcome);
                        } catch (const std::exception& ex) {
                            r["status"] = "error";
                            r["reason"] = ex.what();
                            rows.push_back(r);
                            progress.finish(label, std::string("error: ") + ex.what());
                        }
                    }
                }
            }
        }
    }
    progress.done();
    results["models"] = json::array();  // after the sweep: int8 points add their quantized files
    for (const auto& m : models) results["models"].push_back(m->info);
    results["rows"] = rows;
    rank_rows(results);
    results["environment"]["load_average_end"] = load_average();
    results["environment"]["other_processes_cpu"] = other_processes_cpu(cpu_start, sample_cpu());
    results["interrupted"] = interrupted;
    results["complete"] = !interrupted;
    results["finished_at"] = utc_now_iso8601();
    results["duration_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
    return results;
}

}  // namespace lhb::bench
