#pragma once
// The estimator checked against published designs (configs/published/*.json, schema in
// docs/validation.md): each file names a design file, a board file, the model's shape, the run
// the published figure comes from, the published tok/s with its source and the band the
// estimate must stay in; the seed's also carries its csynth report per module. Every
// estimated figure here is labelled estimated; every published one keeps its source.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lhb::hls {

// One figure against its published value.
struct FigureCheck {
    std::string what;      // "tok/s", "matmul 288x288 cycles", "DSP", ...
    double published = 0;  // from the source
    double estimated = 0;
    double band_percent = 0;  // 0: reported, not checked
    double error_percent() const { return published != 0 ? 100.0 * (estimated - published) / published : 0; }
    bool checked() const { return band_percent > 0; }
    bool pass() const { return !checked() || (error_percent() <= band_percent && error_percent() >= -band_percent); }
};

struct PublishedCheck {
    std::string file, name, design, board, model, source;
    std::string run;       // what the published figure measured (tokens, positions)
    FigureCheck tok_per_s;
    // At the run's middle position (estimated): bytes a token moves, and the share of the
    // memory's peak the estimated rate uses (the field reports 85-94% for 4-bit edge designs).
    double bytes_per_token = 0, peak_share = 0;
    std::vector<FigureCheck> csynth;  // per module, at the report's trip counts (may be empty)
    std::string csynth_source;
    bool pass() const;
    nlohmann::json to_json() const;
    // The report's row: design, board, model, published_tok_per_s, source,
    // estimated_tok_per_s, error_percent, band_percent, pass (the whole check, csynth included).
    nlohmann::json row_json() const;
};

// Throws InputError naming the file and field for a malformed file.
PublishedCheck check_published(const std::string& path);
// The *.json files of a directory, sorted.
std::vector<std::string> published_files(const std::string& dir);
// Where the published designs are (configs/published in the source tree).
std::string default_published_dir();

}  // namespace lhb::hls
