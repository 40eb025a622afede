// bench validate: the estimator against published designs (configs/published/*.json): for
// each, the estimate beside the published figure, its error and band; exit 1 when any
// estimate leaves its band.
#include <cstdio>
#include <string>
#include <vector>

#include "bench/command.hpp"
#include "bench/fpga_view.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "host/validation.hpp"

namespace lhb::bench {
namespace {

const char* kUsage =
    "Usage: bench validate [--dir DIR | --file FILE] [--json FILE]\n"
    "Estimates every published design (configs/published/*.json: a design file, a board file,\n"
    "the model's shape, the published tok/s and its source) and prints the estimate beside\n"
    "the published figure, with the error and the band the file states; for a design with a\n"
    "synthesis report, its modules too. Exit 1 when any estimate leaves its band.\n"
    "docs/validation.md describes the files and the model's limits.\n"
    "  --dir    the published designs; default configs/published of the source tree\n"
    "  --file   one published-design file instead\n"
    "  --json   also write the results as JSON to FILE (validation.json beside a results.json:\n"
    "           the report shows it; bench run writes it there itself)\n";

void print_figure(const hls::FigureCheck& f) {
    char band[32] = "reported";
    if (f.checked()) std::snprintf(band, sizeof band, "+-%.0f%%", f.band_percent);
    std::printf("|   %-36s | %14.0f | %14.0f | %+7.1f%% | %-8s | %-4s |\n", f.what.c_str(), f.published, f.estimated,
                f.error_percent(), band, f.checked() ? (f.pass() ? "pass" : "FAIL") : "-");
}

int run_validate(int argc, char** argv) {
    std::string dir, file, json_path;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "%s needs a value\n%s", flag.c_str(), kUsage);
            return 1;
        }
        const std::string value = argv[++i];
        if (flag == "--dir") dir = value;
        else if (flag == "--file") file = value;
        else if (flag == "--json") json_path = value;
        else {
            std::fprintf(stderr, "unknown option %s\n%s", flag.c_str(), kUsage);
            return 1;
        }
    }
    if (!dir.empty() && !file.empty()) {
        std::fprintf(stderr, "give --dir or --file, not both\n%s", kUsage);
        return 1;
    }
    const std::vector<std::string> files =
        !file.empty() ? std::vector<std::string>{file} : hls::published_files(dir.empty() ? hls::default_published_dir() : dir);
    if (files.empty()) throw InputError((dir.empty() ? hls::default_published_dir() : dir) + ": no published-design files (*.json)");
    std::vector<hls::PublishedCheck> checks;
    for (const std::string& f : files) checks.push_back(hls::check_published(f));

    std::printf("Estimator validation: estimated (this model) beside published figures\n\n");
    std::printf("| design | board | model | published tok/s | estimated tok/s | error | band | result | MB/token (est.) | of memory peak (est.) |\n");
    std::printf("| ------ | ----- | ----- | --------------: | --------------: | ----: | ---- | ------ | --------------: | --------------------: |\n");
    for (const hls::PublishedCheck& c : checks)
        std::printf("| %s | %s | %s | %.2f | %.2f | %+.1f%% | +-%.0f%% | %s | %.1f | %.1f%% |\n", c.name.c_str(),
                    c.board.c_str(), c.model.c_str(), c.tok_per_s.published, c.tok_per_s.estimated,
                    c.tok_per_s.error_percent(), c.tok_per_s.band_percent, c.tok_per_s.pass() ? "pass" : "FAIL",
                    c.bytes_per_token / 1e6, 100 * c.peak_share);
    std::printf("\nsources:\n");
    for (const hls::PublishedCheck& c : checks)
        std::printf("  %s: %s (run: %s)\n", c.name.c_str(), c.source.c_str(), c.run.c_str());
    for (const hls::PublishedCheck& c : checks) {
        if (c.csynth.empty()) continue;
        std::printf("\n%s: synthesis report per module (published) beside the scheduled cycles (estimated)\n",
                    c.name.c_str());
        std::printf("  source: %s\n", c.csynth_source.c_str());
        std::printf("|   %-36s | %14s | %14s | %8s | %-8s | %-4s |\n", "module", "published", "estimated", "error",
                    "band", "ok");
        for (const hls::FigureCheck& f : c.csynth) print_figure(f);
    }
    const nlohmann::json doc = validation_document(checks);
    const bool pass = doc["pass"] == true;
    if (!json_path.empty())  // never clobbers, no temporary survives a signal (core/atomic_file.hpp)
        write_file_atomically(json_path, doc.dump(2) + "\n");
    std::printf("\n%s\n", pass ? "every estimate is inside its band" : "SOME ESTIMATES LEAVE THEIR BANDS");
    return pass ? 0 : 1;
}

}  // namespace

LHB_REGISTER_COMMAND(validate, Command{"validate", "the estimator against published designs (estimated beside published)", run_validate})

}  // namespace lhb::bench
