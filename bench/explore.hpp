#pragma once
// `bench explore`: a design-space exploration of the HLS design (docs/explore.md). A grid
// of design parameters (the design file's own keys: clock_mhz, weight_ports, lanes,
// port_bits, weights.bits, ...) times a list of boards; every point is a design file's
// JSON with the grid's values set, read by the design parser (hls::parse_design), so a
// grid value is checked exactly as the same value in a design file would be. Each point is
// estimated (hls::estimate_token on a model shape) and its resources set against its board;
// the points that fit form a Pareto front per board: the most tok/s for the least
// utilization, where utilization is the largest fraction of the board's DSP, BRAM36, URAM,
// LUT or FF that llama_forward takes (only the resources the board file gives).
// Every figure here is estimated.
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model.hpp"
#include "host/estimator.hpp"

namespace lhb::bench {

struct ExploreGrid {
    std::string where = "bench explore";  // the grid file, for messages
    std::string shape = "stories15M";
    std::vector<std::string> boards;  // board files; empty: every file of configs/boards
    std::string design;               // the base design file; "": the compiled kernels
    int pos = -1;                     // the estimated token's position; -1: seq_len / 2
    // Design key ("lanes", "weights.bits") -> its values, in the order given.
    std::vector<std::pair<std::string, std::vector<double>>> params;
};

// A grid file (schema lhb-explore/1: shape, boards, design, pos, grid); paths in it are
// relative to it. Throws InputError naming the file and field.
ExploreGrid load_grid(const std::string& path);
// Adds "KEY=V1,V2,..." (--param); a key given twice is refused.
void add_param(ExploreGrid& grid, const std::string& spec);
// A board: "zcu106" is configs/boards/zcu106.json wherever bench finds its data; a name with
// a slash or a .json ending is a file (relative to `dir` when given).
std::string board_file(const std::string& name, const std::string& dir = "");

struct ExplorePoint {
    std::string board, board_file;
    std::vector<std::pair<std::string, double>> params;  // this point's grid values
    hls::TokenEstimate estimate;
    // llama_forward's largest share of the board's resources, and which resource it is.
    double utilization = 0;
    std::string utilization_of;
    double xclbin_utilization = 0;  // the same for every compute unit of the link config
    bool fits = false;              // llama_forward fits the device
    bool pareto = false;            // on its board's front (fitting points only)
};

struct Exploration {
    ExploreGrid grid;
    ModelConfig shape{};
    std::vector<ExplorePoint> points;  // boards x grid, the last parameter varying fastest
};

// Every point of the grid checked first (a bad value fails before anything is estimated),
// then estimated and the fronts marked.
Exploration explore(const ExploreGrid& grid);

// a dominates b: at least as many tok/s at no more utilization, and better in one of them.
bool dominates(const ExplorePoint& a, const ExplorePoint& b);
// Marks every fitting point that no fitting point of the same board dominates.
void mark_pareto(std::vector<ExplorePoint>& points);

nlohmann::json to_json(const Exploration& e);
std::string explore_csv(const Exploration& e);
std::string explore_markdown(const Exploration& e);

}  // namespace lhb::bench
