#include "host/validation.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "core/data_files.hpp"
#include "core/error.hpp"
#include "core/synth.hpp"
#include "host/estimator.hpp"

namespace lhb::hls {

using nlohmann::json;

namespace {

const json& field(const json& j, const std::string& key, const std::string& where) {
    if (!j.is_object() || !j.contains(key)) fail_input(where, key, "a value", "nothing");
    return j.at(key);
}

std::string text_of(const json& j, const std::string& key, const std::string& where) {
    const json& v = field(j, key, where);
    if (!v.is_string() || v.get<std::string>().empty()) fail_input(where, key, "a non-empty text", v.dump());
    return v.get<std::string>();
}

double number_of(const json& j, const std::string& key, const std::string& where, double min, double max) {
    const json& v = field(j, key, where);
    if (!v.is_number() || !(v.get<double>() >= min && v.get<double>() <= max))
        fail_input(where, key, "a number in [" + std::to_string(min) + ", " + std::to_string(max) + "]", v.dump());
    return v.get<double>();
}

// A published figure: {"value": N, "source": "..."}, the source required.
double published_number(const json& j, const std::string& key, const std::string& where, std::string* source) {
    const json& v = field(j, key, where);
    if (!v.is_object()) fail_input(where, key, "{\"value\": number, \"source\": text}", v.dump().substr(0, 60));
    *source = text_of(v, "source", where + ": " + key);
    return number_of(v, "value", where + ": " + key, 1e-9, 1e12);
}

// Paths in a published file are relative to the file.
std::string beside(const std::string& file, const std::string& rel) {
    return (std::filesystem::path(file).parent_path() / rel).lexically_normal().string();
}

ModelConfig shape_of(const std::string& spec, const std::string& where, const std::string& key) {
    try {
        return parse_shape(spec);
    } catch (const InputError& e) {
        fail_input(where, key, "a shape (stories15M, or dim=..,hidden=..,...)", spec + " (" + e.what() + ")");
    }
}

DecodeMode decode_of(const json& run, const std::string& where) {
    const std::string m = run.contains("decode") ? text_of(run, "decode", where) : "host-sampled";
    if (m == "host-sampled") return DecodeMode::HostSampled;
    if (m == "device-greedy") return DecodeMode::DeviceGreedy;
    fail_input(where, "run.decode", "host-sampled or device-greedy", m);
}

// The estimated cycles of the first op invocation named `op` whose arguments begin with `args`.
double module_cycles(const TokenEstimate& e, const std::string& op, const std::vector<int>& args,
                     const std::string& where) {
    for (const OpRunCycles& r : e.op_runs) {
        if (trace_op_name(r.op) != op) continue;
        bool match = true;
        for (size_t i = 0; i < args.size() && i < r.args.size(); ++i) match = match && r.args[i] == args[i];
        if (match) return r.cycles;
    }
    fail_input(where, "csynth.modules", "an op of the estimated token (op name and leading arguments)", op);
}

void check_csynth(const json& cs, const std::string& where, const DesignSpec& design, const BoardSpec& board,
                  PublishedCheck* out) {
    out->csynth_source = text_of(cs, "source", where + ": csynth");
    const ModelConfig c = shape_of(text_of(cs, "shape", where + ": csynth"), where, "csynth.shape");
    const int pos = int(number_of(cs, "pos", where + ": csynth", 0, c.seq_len - 1));
    const TokenEstimate e = estimate_schedule(c, pos, design, board);
    const json& mods = field(cs, "modules", where + ": csynth");
    if (!mods.is_array() || mods.empty()) fail_input(where, "csynth.modules", "a non-empty array", mods.dump().substr(0, 40));
    for (const json& m : mods) {
        const std::string w = where + ": csynth.modules";
        FigureCheck f;
        f.what = text_of(m, "module", w) + " cycles";
        f.published = number_of(m, "cycles", w, 1, 1e12);
        f.band_percent = m.contains("band_percent") ? number_of(m, "band_percent", w, 0, 1000) : 0;
        std::vector<int> args;
        if (m.contains("args")) {
            if (!m.at("args").is_array()) fail_input(w, "args", "an array of integers", m.at("args").dump());
            for (const json& a : m.at("args")) {
                if (!a.is_number_integer()) fail_input(w, "args", "an array of integers", m.at("args").dump());
                args.push_back(a.get<int>());
            }
        }
        f.estimated = m.contains("layers")
                          ? e.kernel_cycles  // the whole kernel
                          : module_cycles(e, text_of(m, "op", w), args, w);
        out->csynth.push_back(f);
    }
    // The whole kernel's resources in the report's units (BRAM_18K), against the resource
    // model of the design at the report's shape.
    if (!cs.contains("resources")) return;
    const json& res = field(cs, "resources", where + ": csynth");
    const std::string w = where + ": csynth.resources";
    text_of(res, "source", w);
    const double band = res.contains("band_percent") ? number_of(res, "band_percent", w, 0, 1000) : 0;
    const ResourceEstimate& r = e.resources;
    for (const auto& [key, label, estimated] : {std::tuple<const char*, const char*, double>{"dsp", "DSP", r.dsp},
                                                {"bram18", "BRAM_18K", 2 * r.bram36},
                                                {"lut", "LUT", r.lut},
                                                {"ff", "FF", r.ff}}) {
        if (!res.contains(key)) continue;
        FigureCheck f;
        f.what = std::string(label) + " (whole kernel)";
        f.published = number_of(res, key, w, 1, 1e9);
        f.estimated = estimated;
        // A figure the file says the model does not describe yet is reported, not checked;
        // the file says why.
        const bool unchecked = res.contains("unchecked") && res.at("unchecked").is_object() &&
                               res.at("unchecked").contains(key);
        f.band_percent = unchecked ? 0 : band;
        out->csynth.push_back(f);
    }
    // Per module where the report's module is one part of the model (the parts named by the
    // beginning of their label): its LUT and FF, checked only where the entry states a band.
    if (!res.contains("modules")) return;
    const json& part_mods = res.at("modules");
    if (!part_mods.is_array()) fail_input(where, "csynth.resources.modules", "an array", part_mods.dump().substr(0, 40));
    for (const json& m : part_mods) {
        const std::string wm = w + ".modules";
        const std::string name = text_of(m, "module", wm);
        const json& parts = field(m, "parts", wm);
        if (!parts.is_array() || parts.empty())
            fail_input(wm, "parts", "a non-empty array of part labels", parts.dump().substr(0, 40));
        double lut = 0, ff = 0;
        for (const json& label : parts) {
            if (!label.is_string()) fail_input(wm, "parts", "part labels", label.dump());
            bool found = false;
            for (const json& part : r.detail)
                if (part.at("part").get<std::string>().rfind(label.get<std::string>(), 0) == 0) {
                    lut += part.value("lut", 0.0);
                    ff += part.value("ff", 0.0);
                    found = true;
                }
            if (!found) fail_input(wm, "parts", "labels of the resource model's parts", label.get<std::string>());
        }
        const double mband = m.contains("band_percent") ? number_of(m, "band_percent", wm, 0, 1000) : 0;
        for (const auto& [key, estimated] : {std::pair<const char*, double>{"lut", lut}, {"ff", ff}}) {
            FigureCheck f;
            f.what = name + (key == std::string("lut") ? " LUT" : " FF");
            f.published = number_of(m, key, wm, 1, 1e9);
            f.estimated = estimated;
            f.band_percent = mband;
            out->csynth.push_back(f);
        }
    }
}

}  // namespace

bool PublishedCheck::pass() const {
    return tok_per_s.pass() && std::all_of(csynth.begin(), csynth.end(), [](const FigureCheck& f) { return f.pass(); });
}

json PublishedCheck::to_json() const {
    auto fig = [](const FigureCheck& f) {
        return json{{"figure", f.what},
                    {"published", f.published},
                    {"estimated", f.estimated},
                    {"error_percent", f.error_percent()},
                    {"band_percent", f.checked() ? json(f.band_percent) : json(nullptr)},
                    {"pass", f.pass()}};
    };
    json mods = json::array();
    for (const FigureCheck& f : csynth) mods.push_back(fig(f));
    return {{"label", "estimated beside published"},
            {"file", file}, {"name", name}, {"design", design}, {"board", board}, {"model", model},
            {"run", run}, {"source", source}, {"tok_per_s", fig(tok_per_s)},
            {"bytes_per_token_estimated", bytes_per_token}, {"memory_peak_share_estimated", peak_share},
            {"csynth_source", csynth.empty() ? json(nullptr) : json(csynth_source)}, {"csynth_modules", mods},
            {"pass", pass()}};
}

json PublishedCheck::row_json() const {
    return {{"design", name}, {"board", board}, {"model", model}, {"published_tok_per_s", tok_per_s.published},
            {"source", source}, {"estimated_tok_per_s", tok_per_s.estimated},
            {"error_percent", tok_per_s.error_percent()}, {"band_percent", tok_per_s.band_percent}, {"pass", pass()}};
}

PublishedCheck check_published(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw InputError(path + ": cannot open the published-design file");
    json j;
    try {
        j = json::parse(f);
    } catch (const json::exception& e) {
        throw InputError(path + ": not valid JSON (" + std::string(e.what()) + ")");
    }
    if (!j.is_object() || !j.contains("schema") || j.at("schema") != "lhb-published/1")
        fail_input(path, "schema", "\"lhb-published/1\"", j.is_object() && j.contains("schema") ? j.at("schema").dump() : "nothing");
    PublishedCheck out;
    out.file = path;
    out.name = text_of(j, "name", path);
    const DesignSpec design = load_design(beside(path, text_of(j, "design", path)));
    const BoardSpec board = load_board(beside(path, text_of(j, "board", path)));
    out.design = design.path;
    out.board = board.name;
    const json& model = field(j, "model", path);
    const std::string shape = text_of(model, "shape", path + ": model");
    text_of(model, "source", path + ": model");
    const ModelConfig c = shape_of(shape, path, "model.shape");
    out.model = model.contains("name") ? text_of(model, "name", path + ": model") : shape;
    const json& run = field(j, "run", path);
    text_of(run, "source", path + ": run");
    const int first = int(number_of(run, "first_pos", path + ": run", 0, c.seq_len - 1));
    const int tokens = int(number_of(run, "tokens", path + ": run", 1, c.seq_len - first));
    const DecodeMode mode = decode_of(run, path);
    out.run = std::to_string(tokens) + " tokens from position " + std::to_string(first) + ", " + decode_mode_name(mode);
    out.tok_per_s.what = "tok/s";
    out.tok_per_s.published = published_number(j, "published_tok_per_s", path, &out.source);
    out.tok_per_s.band_percent = number_of(j, "band_percent", path, 0.1, 1000);
    out.tok_per_s.estimated = 1.0 / mean_token_seconds(c, first, tokens, design, board, 0, mode,
                                                       std::min(kGreedyChunk, c.seq_len));
    const TokenEstimate mid = estimate_token(c, first + tokens / 2, design, board, 0, mode, std::min(kGreedyChunk, c.seq_len));
    out.bytes_per_token = double(mid.total_bytes);
    out.peak_share = out.bytes_per_token * out.tok_per_s.estimated / (board.ddr_peak_gb_per_s * 1e9);
    if (j.contains("csynth")) check_csynth(j.at("csynth"), path, design, board, &out);
    return out;
}

std::vector<std::string> published_files(const std::string& dir) {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
        if (entry.path().extension() == ".json") files.push_back(entry.path().string());
    if (ec) throw InputError(dir + ": cannot list the published designs (" + ec.message() + ")");
    std::sort(files.begin(), files.end());
    return files;
}

std::string default_published_dir() { return require_data_folder("configs/published", "published designs (no --dir given):"); }

}  // namespace lhb::hls
