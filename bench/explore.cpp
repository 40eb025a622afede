#include "bench/explore.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "bench/result_row.hpp"
#include "core/data_files.hpp"
#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/json_scan.hpp"
#include "core/synth.hpp"
#include "host/packing.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lhb::bench {

namespace {

constexpr size_t kMaxPoints = 10000;  // boards x grid: a typo in a grid should not run for hours
constexpr const char* kGridSource = "set by bench explore's grid";

json parse_json_text(const std::string& text, const std::string& where) {
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        throw InputError(where + ": not valid JSON (" + std::string(e.what()) + ")");
    }
}

std::vector<std::string> every_board_file() {
    const std::string dir = require_data_folder("configs/boards", "board files (no --board given):");
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    return files;
}

// A grid key is a design-file key, top level ("lanes") or in a section ("weights.bits").
void add_values(ExploreGrid& g, const std::string& key, std::vector<double> values, const std::string& field) {
    if (key.empty() || key.front() == '.' || key.back() == '.' || std::count(key.begin(), key.end(), '.') > 1)
        fail_input(g.where, field, "a design-file key (lanes) or section.key (weights.bits)", "\"" + key + "\"");
    for (const auto& [k, v] : g.params)
        if (k == key) fail_input(g.where, field, "each key once", "\"" + key + "\" a second time");
    if (values.empty()) fail_input(g.where, field, "at least one value", "none");
    g.params.emplace_back(key, std::move(values));
}

// The compiled kernels as a design file would describe them (configs/designs/llama-hls.json).
json compiled_design_json() {
    const lhk::Design& d = lhk::kDesign;
    return {{"schema", "lhb-design/1"}, {"name", "llama-hls (compiled kernels)"},
            {"source", "kernels/hls_config.hpp"}, {"clock_mhz", d.clock_mhz}, {"weight_ports", d.weight_ports},
            {"port_bits", d.port_bits}, {"lanes", d.lanes}, {"partial_sums", d.partial_sums},
            {"burst_beats", d.burst_beats}, {"outstanding", d.outstanding}, {"kv_ports", d.kv_ports},
            {"flatten_rows", d.flatten_rows}, {"weight_fifo_beats", d.weight_fifo_beats}};
}

std::string value_text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
}

// The base design's JSON with one point's values set: a top-level key as {"value", "source"}
// (the parser takes that form for every number), a section's key inside the section, which
// gets a source if it has none. Quantized weights need a group size and scale width: those
// of the base design, else 64 and 32 bits (the kernels' int8 layout) unless the grid sets them.
json point_json(const json& base, const std::vector<std::pair<std::string, double>>& values) {
    json j = base;
    std::string suffix;
    for (const auto& [key, v] : values) {
        const size_t dot = key.find('.');
        const json number = v == std::floor(v) && std::fabs(v) < 1e15 ? json(int64_t(v)) : json(v);
        if (dot == std::string::npos) {
            j[key] = {{"value", number}, {"source", kGridSource}};
        } else {
            json& section = j[key.substr(0, dot)];
            if (!section.is_object()) section = json::object();
            if (!section.contains("source")) section["source"] = kGridSource;
            section[key.substr(dot + 1)] = number;
        }
        suffix += (suffix.empty() ? "" : ", ") + key + "=" + value_text(v);
    }
    if (j.contains("weights") && j["weights"].is_object()) {
        json& w = j["weights"];
        if (!w.contains("group_size")) w["group_size"] = 64;
        if (!w.contains("scale_bits")) w["scale_bits"] = 32;
    }
    j["name"] = (j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>() : std::string("design")) +
                (suffix.empty() ? "" : " [" + suffix + "]");
    return j;
}

// Every combination of the grid's values, the last parameter varying fastest.
std::vector<std::vector<std::pair<std::string, double>>> combinations(const ExploreGrid& g) {
    std::vector<std::vector<std::pair<std::string, double>>> out(1);
    for (const auto& [key, values] : g.params) {
        std::vector<std::vector<std::pair<std::string, double>>> next;
        for (const auto& partial : out)
            for (double v : values) {
                next.push_back(partial);
                next.back().emplace_back(key, v);
            }
        out = std::move(next);
    }
    return out;
}

struct Share {
    double fraction = 0;
    std::string of;
};

// The largest share of the board's resources `t` takes, over the resources the board gives.
Share largest_share(const hls::ResourceTotals& t, const hls::ResourceEstimate& r) {
    const std::pair<const char*, std::pair<double, double>> use[] = {
        {"DSP", {t.dsp, r.dsp_avail}}, {"BRAM36", {t.bram36, r.bram36_avail}}, {"URAM", {t.uram, r.uram_avail}},
        {"LUT", {t.lut, r.lut_avail}}, {"FF", {t.ff, r.ff_avail}}};
    Share s;
    for (const auto& [name, ua] : use) {
        if (ua.second <= 0) continue;  // not given by the board file (or none on the device)
        const double f = ua.first / ua.second;
        if (f > s.fraction || s.of.empty()) s = {f, name};
    }
    return s;
}

hls::ResourceTotals forward_totals(const hls::ResourceEstimate& r) {
    hls::ResourceTotals t;
    t.unit = "llama_forward";
    t.dsp = r.dsp, t.bram36 = r.bram36, t.uram = r.uram, t.lut = r.lut, t.ff = r.ff;
    return t;
}

std::string params_text(const ExplorePoint& p) {
    std::string s;
    for (const auto& [k, v] : p.params) s += (s.empty() ? "" : ", ") + k + "=" + value_text(v);
    return s.empty() ? "(base design)" : s;
}

}  // namespace

std::string board_file(const std::string& name, const std::string& dir) {
    const bool is_path = name.find('/') != std::string::npos || fs::path(name).extension() == ".json";
    if (is_path) return dir.empty() || fs::path(name).is_absolute() ? name : (fs::path(dir) / name).string();
    return require_data_file("configs/boards/" + name + ".json", "board \"" + name + "\":");
}

ExploreGrid load_grid(const std::string& path) {
    ExploreGrid g;
    g.where = path;
    const json j = parse_json_text(read_json_file(path, kMaxSpecBytes, "explore grid file"), path);
    if (!j.is_object()) fail_input(path, "(top level)", "a JSON object", j.dump().substr(0, 40));
    if (!j.contains("schema") || j["schema"] != "lhb-explore/1")
        fail_input(path, "schema", "\"lhb-explore/1\"", j.contains("schema") ? j["schema"].dump() : "nothing");
    for (const auto& [key, v] : j.items())
        if (key != "schema" && key != "description" && key != "shape" && key != "boards" && key != "design" &&
            key != "pos" && key != "grid")
            fail_input(path, key, "one of schema, description, shape, boards, design, pos, grid", "an unknown key");
    const std::string dir = fs::path(path).parent_path().string();
    if (j.contains("shape")) {
        if (!j["shape"].is_string()) fail_input(path, "shape", "a shape name or dim=..,hidden=..,...", j["shape"].dump());
        g.shape = j["shape"].get<std::string>();
    }
    if (j.contains("boards")) {
        const json& b = j["boards"];
        if (!b.is_array() || b.empty()) fail_input(path, "boards", "a non-empty array of board names or files", b.dump());
        for (const json& x : b) {
            if (!x.is_string() || x.get<std::string>().empty())
                fail_input(path, "boards", "board names (zcu106) or board files", x.dump());
            g.boards.push_back(board_file(x.get<std::string>(), dir));
        }
    }
    if (j.contains("design")) {
        if (!j["design"].is_string()) fail_input(path, "design", "a design file", j["design"].dump());
        g.design = (fs::path(dir) / j["design"].get<std::string>()).string();
    }
    if (j.contains("pos")) {
        if (!j["pos"].is_number_integer() || j["pos"].get<int64_t>() < 0 || j["pos"].get<int64_t>() > (1 << 20))
            fail_input(path, "pos", "a position (an integer >= 0)", j["pos"].dump());
        g.pos = int(j["pos"].get<int64_t>());
    }
    if (!j.contains("grid") || !j["grid"].is_object()) fail_input(path, "grid", "an object of key: [values]", "nothing");
    for (const auto& [key, v] : j["grid"].items()) {
        if (!v.is_array()) fail_input(path, "grid." + key, "an array of numbers", v.dump().substr(0, 40));
        std::vector<double> values;
        for (const json& x : v) {
            if (!x.is_number()) fail_input(path, "grid." + key, "an array of numbers", x.dump().substr(0, 40));
            values.push_back(x.get<double>());
        }
        add_values(g, key, std::move(values), "grid." + key);
    }
    return g;
}

void add_param(ExploreGrid& g, const std::string& spec) {
    const size_t eq = spec.find('=');
    const std::string key = spec.substr(0, eq);
    const std::string field = "--param " + key;
    if (eq == std::string::npos) fail_input(g.where, field, "KEY=V1,V2,...", "\"" + spec + "\"");
    std::vector<double> values;
    std::stringstream list(spec.substr(eq + 1));
    for (std::string item; std::getline(list, item, ',');) {
        char* end = nullptr;
        const double v = std::strtod(item.c_str(), &end);
        if (item.empty() || *end != '\0' || !std::isfinite(v))
            fail_input(g.where, field, "numbers separated by commas", "\"" + item + "\"");
        values.push_back(v);
    }
    add_values(g, key, std::move(values), field);
}

bool dominates(const ExplorePoint& a, const ExplorePoint& b) {
    const double ta = a.estimate.tok_per_s, tb = b.estimate.tok_per_s;
    return ta >= tb && a.utilization <= b.utilization && (ta > tb || a.utilization < b.utilization);
}

void mark_pareto(std::vector<ExplorePoint>& points) {
    for (ExplorePoint& p : points) {
        p.pareto = p.fits;
        for (const ExplorePoint& q : points)
            if (p.pareto && q.fits && q.board_file == p.board_file && dominates(q, p)) p.pareto = false;
    }
}

Exploration explore(const ExploreGrid& grid) {
    Exploration x;
    x.grid = grid;
    x.shape = parse_shape(grid.shape);
    const ModelConfig& c = x.shape;
    const int pos = grid.pos < 0 ? c.seq_len / 2 : grid.pos;
    if (pos >= c.seq_len)
        fail_input(grid.where, "pos", "0.." + std::to_string(c.seq_len - 1) + " (the shape's seq_len)", std::to_string(pos));
    x.grid.pos = pos;
    const json base = grid.design.empty()
                          ? compiled_design_json()
                          : parse_json_text(read_json_file(grid.design, kMaxSpecBytes, "design file"), grid.design);
    // The compiled design is traced in C simulation, which takes only shapes the kernels hold;
    // for any other shape its loops are modelled (the estimator checks the model against the
    // trace where both exist).
    bool kernels_hold_shape = true;
    try {
        hls::check_fits(c, grid.shape);
    } catch (const InputError&) {
        kernels_hold_shape = false;
    }
    // Every point read before anything is estimated: a bad value costs nothing.
    std::vector<std::pair<std::vector<std::pair<std::string, double>>, hls::DesignSpec>> designs;
    for (auto& values : combinations(grid)) {
        hls::DesignSpec d = hls::parse_design(point_json(base, values), grid.where + ": grid");
        d.path = grid.design.empty() ? "kernels/hls_config.hpp (grid values set)" : grid.design + " (grid values set)";
        if (!kernels_hold_shape) d.compiled = false;
        designs.emplace_back(std::move(values), std::move(d));
    }
    std::vector<hls::BoardSpec> boards;
    for (const std::string& f : grid.boards.empty() ? every_board_file() : grid.boards) boards.push_back(hls::load_board(f));
    if (boards.size() * designs.size() > kMaxPoints)
        fail_input(grid.where, "grid", "at most " + std::to_string(kMaxPoints) + " points (boards x values)",
                   std::to_string(boards.size() * designs.size()));
    for (const hls::BoardSpec& b : boards)
        for (const auto& [values, design] : designs) {
            ExplorePoint p;
            p.board = b.name;
            p.board_file = b.path;
            p.params = values;
            p.estimate = hls::estimate_token(c, pos, design, b);
            const hls::ResourceEstimate& r = p.estimate.resources;
            const Share s = largest_share(forward_totals(r), r);
            p.utilization = s.fraction;
            p.utilization_of = s.of;
            p.xclbin_utilization = largest_share(r.xclbin, r).fraction;
            p.fits = r.fits;
            x.points.push_back(std::move(p));
        }
    mark_pareto(x.points);
    return x;
}

json to_json(const Exploration& x) {
    json grid = json::object();
    for (const auto& [k, v] : x.grid.params) grid[k] = v;
    json points = json::array();
    for (const ExplorePoint& p : x.points) {
        const hls::TokenEstimate& e = p.estimate;
        const hls::ResourceEstimate& r = e.resources;
        json params = json::object();
        for (const auto& [k, v] : p.params) params[k] = v;
        points.push_back({{"board", p.board}, {"board_file", p.board_file}, {"params", params},
                          {"design", e.design}, {"precision", e.precision}, {"clock_mhz", e.clock_mhz},
                          {"clock_clamped_to_board", e.clock_clamped},
                          {"tok_per_s_estimated", e.tok_per_s}, {"token_ms_estimated", 1e3 * e.token_seconds},
                          {"bytes_per_token", e.total_bytes}, {"ddr_roofline_tok_per_s", e.ddr_roofline_tok_per_s},
                          {"resources_estimated",
                           {{"dsp", r.dsp}, {"bram36", r.bram36}, {"uram", r.uram}, {"lut", r.lut}, {"ff", r.ff},
                            {"dsp_available", r.dsp_avail}, {"bram36_available", r.bram36_avail},
                            {"uram_available", r.uram_avail}, {"lut_available", r.lut_avail},
                            {"ff_available", r.ff_avail}}},
                          {"utilization", p.utilization}, {"utilization_of", p.utilization_of},
                          {"xclbin_utilization", p.xclbin_utilization}, {"xclbin_fits", r.xclbin_fits},
                          {"fits", p.fits}, {"pareto", p.pareto}});
    }
    return {{"schema", "lhb-explore-results/1"},
            {"label", "estimated"},
            {"shape", x.grid.shape},
            {"shape_dims", x.points.empty() ? json(nullptr) : json(x.points.front().estimate.shape)},
            {"pos", x.grid.pos},
            {"base_design", x.grid.design.empty() ? "kernels/hls_config.hpp (the compiled kernels)" : x.grid.design},
            {"grid", grid},
            {"utilization_measure",
             "the largest share llama_forward takes of the board's DSP, BRAM36, URAM, LUT or FF (those the board file "
             "gives), estimated"},
            {"pareto_rule",
             "per board, among the points that fit: no other point has at least as many tok/s at no more utilization "
             "and is better in one of them"},
            {"points", points}};
}

std::string explore_csv(const Exploration& x) {
    std::ostringstream s;
    s << "board";
    for (const auto& [k, v] : x.grid.params) s << "," << k;
    s << ",tok_per_s_estimated,utilization,utilization_of,dsp,bram36,uram,lut,ff,fits,xclbin_utilization,xclbin_fits,"
         "pareto,clock_mhz,clock_clamped_to_board\n";
    auto g = [](double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.9g", v);
        return std::string(buf);
    };
    for (const ExplorePoint& p : x.points) {
        const hls::ResourceEstimate& r = p.estimate.resources;
        s << (p.board.find(',') == std::string::npos ? p.board : "\"" + p.board + "\"");
        for (const auto& [k, v] : p.params) s << "," << g(v);
        s << "," << g(p.estimate.tok_per_s) << "," << g(p.utilization) << "," << p.utilization_of << "," << g(r.dsp)
          << "," << g(r.bram36) << "," << g(r.uram) << "," << g(r.lut) << "," << g(r.ff) << ","
          << (p.fits ? "true" : "false") << "," << g(p.xclbin_utilization) << ","
          << (r.xclbin_fits ? "true" : "false") << "," << (p.pareto ? "true" : "false") << ","
          << g(p.estimate.clock_mhz) << "," << (p.estimate.clock_clamped ? "true" : "false") << "\n";
    }
    return s.str();
}

std::string explore_markdown(const Exploration& x) {
    std::ostringstream s;
    s << "Design-space exploration (estimated, not measured): " << x.grid.shape << " at position " << x.grid.pos
      << ", " << x.points.size() << " points\n"
      << "utilization: llama_forward's largest share of the board's DSP, BRAM36, URAM, LUT or FF\n\n";
    s << "| board | parameters | tok/s (est.) | utilization (est.) | DSP | BRAM36 | URAM | LUT | FF | fits | Pareto |\n"
      << "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n";
    for (const ExplorePoint& p : x.points) {
        const hls::ResourceEstimate& r = p.estimate.resources;
        s << "| " << p.board << " | " << params_text(p) << (p.estimate.clock_clamped ? " (clock clamped)" : "") << " | "
          << num(p.estimate.tok_per_s) << " | " << fixed(100 * p.utilization, 1) << "% " << p.utilization_of << " | "
          << fixed(r.dsp, 0) << " | " << fixed(r.bram36, 0) << " | " << fixed(r.uram, 0) << " | " << fixed(r.lut, 0)
          << " | " << fixed(r.ff, 0) << " | " << (p.fits ? "yes" : "DOES NOT FIT") << " | " << (p.pareto ? "front" : "")
          << " |\n";
    }
    s << "\nPareto front per board (most tok/s for the least utilization; fitting points only):\n";
    std::vector<std::string> seen;
    for (const ExplorePoint& p : x.points) {
        if (std::find(seen.begin(), seen.end(), p.board_file) != seen.end()) continue;
        seen.push_back(p.board_file);
        std::vector<const ExplorePoint*> front;
        for (const ExplorePoint& q : x.points)
            if (q.board_file == p.board_file && q.pareto) front.push_back(&q);
        std::sort(front.begin(), front.end(),
                  [](const ExplorePoint* a, const ExplorePoint* b) { return a->utilization < b->utilization; });
        s << "- " << p.board << ":" << (front.empty() ? " no point fits the device" : "") << "\n";
        for (const ExplorePoint* q : front)
            s << "  - " << params_text(*q) << ": " << num(q->estimate.tok_per_s) << " tok/s at "
              << fixed(100 * q->utilization, 1) << "% " << q->utilization_of << "\n";
    }
    return s.str();
}

}  // namespace lhb::bench
