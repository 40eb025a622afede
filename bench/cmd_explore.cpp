// bench explore: estimated tok/s against resources over a grid of design parameters and
// boards, the points that do not fit marked, the Pareto front listed and plotted.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/command.hpp"
#include "bench/explore.hpp"
#include "bench/report_runner.hpp"
#include "core/atomic_file.hpp"
#include "core/data_files.hpp"
#include "core/error.hpp"

namespace lhb::bench {
namespace {

const char* kUsage =
    "Usage: bench explore [--grid FILE] [--param KEY=V1,V2,...]... [--board NAME|FILE]...\n"
    "                     [--design FILE] [--shape SHAPE] [--pos N] [--out DIR] [--no-plot]\n"
    "Estimates (does not measure) the HLS design at every point of a grid of design\n"
    "parameters on every board: tok/s of one decoded token against llama_forward's largest\n"
    "share of the board's DSP, BRAM36, URAM, LUT and FF; marks the points that do not fit\n"
    "and lists each board's Pareto front (docs/explore.md).\n"
    "  --grid    a grid file (schema lhb-explore/1: shape, boards, design, pos, grid)\n"
    "  --param   KEY=V1,V2,...: a design-file key (clock_mhz, weight_ports, lanes, port_bits,\n"
    "            partial_sums, burst_beats, outstanding, kv_ports, weight_fifo_beats, or a\n"
    "            section's key: weights.bits, kv_cache.bits, memory.channels) and its values\n"
    "  --board   a board name (configs/boards/NAME.json) or file; repeatable; default: the\n"
    "            grid file's, else every board of configs/boards\n"
    "  --design  the base design file; default: the grid file's, else the compiled kernels\n"
    "  --shape   stories260K|stories15M|stories42M|stories110M or dim=..,...; default stories15M\n"
    "  --pos     position of the estimated token; default seq_len / 2\n"
    "  --out     write DIR/explore.json, DIR/explore.csv and DIR/explore.png (the fronts,\n"
    "            tools/explore_plot.py, matplotlib)\n"
    "  --no-plot with --out: no PNG\n";

constexpr const char* kPlotScript = "tools/explore_plot.py";

int run_explore(int argc, char** argv) {
    std::string grid_file, design, shape, out;
    std::vector<std::string> params, boards;
    int pos = -1;
    bool no_plot = false;
    FlagParser flags(kUsage);
    flags.text({"--grid"}, grid_file)
        .value({"--param"}, [&](const std::string&, const std::string& v) { params.push_back(v); })
        .value({"--board"}, [&](const std::string&, const std::string& v) { boards.push_back(v); })
        .text({"--design"}, design)
        .text({"--shape"}, shape)
        .integer({"--pos"}, pos, 0)
        .text({"--out"}, out)
        .flag({"--no-plot"}, no_plot);
    if (auto status = flags.parse(argc, argv)) return *status;
    if (grid_file.empty() && params.empty()) return flags.usage_error("give a --grid file or at least one --param");
    ExploreGrid grid = grid_file.empty() ? ExploreGrid{} : load_grid(grid_file);
    for (const std::string& p : params) add_param(grid, p);
    if (!boards.empty()) {
        grid.boards.clear();
        for (const std::string& b : boards) grid.boards.push_back(board_file(b));
    }
    if (!design.empty()) grid.design = design;
    if (!shape.empty()) grid.shape = shape;
    if (pos >= 0) grid.pos = pos;
    if (!out.empty()) probe_output_folder(out, "explore.json");  // before the work, not after

    const Exploration x = explore(grid);
    std::fputs(explore_markdown(x).c_str(), stdout);
    std::fflush(stdout);
    if (out.empty()) return 0;
    namespace fs = std::filesystem;
    fs::create_directories(out);
    const std::string json_path = (fs::path(out) / "explore.json").string();
    write_file_atomically(json_path, to_json(x).dump(2) + "\n");
    write_file_atomically((fs::path(out) / "explore.csv").string(), explore_csv(x));
    std::fprintf(stderr, "explore: %s (and explore.csv)\n", json_path.c_str());
    if (no_plot) return 0;
    const std::string script = find_data_file(kPlotScript);
    if (script.empty()) {
        std::fprintf(stderr, "explore: %s not found; JSON and CSV are written\n", kPlotScript);
        return 0;
    }
    const int status = run_report_script(script, json_path);
    if (status != 0) std::fprintf(stderr, "explore: %s exited with status %d; JSON and CSV are written\n", script.c_str(), status);
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(explore, Command{"explore", "estimated tok/s against resources over design parameters x boards, with the Pareto front", run_explore})

}  // namespace lhb::bench
