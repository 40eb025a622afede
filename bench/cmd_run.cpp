// bench run CONFIG.json: the sweep a config describes, its results (JSON, CSV, table) and
// its report.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "bench/command.hpp"
#include "bench/config.hpp"
#include "bench/formats.hpp"
#include "bench/fpga_view.hpp"
#include "bench/measure.hpp"
#include "bench/report_runner.hpp"
#include "bench/results.hpp"
#include "bench/sweep.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace lhb::bench {
namespace {

const char* kUsage =
    "Usage: bench run CONFIG.json [--out DIR] [-o md|csv|json|jsonl|sql] [--quiet] [--log] [--no-report]\n"
    "Runs the sweep CONFIG.json describes (docs/config.md): for each model x backend x\n"
    "precision x threads, a correctness check against cpu-ref, then at each point (n_prompt x\n"
    "n_gen x n_depth, measured round-robin) prefill and decode tok/s, time to first token,\n"
    "per-op latency and the memory-roofline fraction.\n"
    "Writes DIR/results.json (docs/results-schema.md), DIR/results.csv and the report\n"
    "(PNGs + index.html, tools/report.py); prints the results table on stdout.\n"
    "  --out DIR    output folder (default: the config's \"out\")\n"
    "  -o FMT       what stdout gets: md (the table, default), csv, json, jsonl or sql, with\n"
    "               llama-bench's field names (bench print; the files written stay the same)\n"
    "  --quiet      no progress line on stderr\n"
    "  --log        one stderr line per finished point, even when stderr is not a terminal\n"
    "  --no-report  skip tools/report.py\n"
    "Ctrl-C (SIGINT) or SIGTERM stops after the current forward pass and writes the finished\n"
    "points, marked incomplete, to DIR/results.incomplete.json and .csv: a previous complete\n"
    "DIR/results.json stays as it was (exit status 130 or 143). A second signal ends the\n"
    "process at once. One run per output folder at a time: a second is refused.\n";

// The first SIGINT/SIGTERM asks the sweep to stop (and records which signal); a second one
// ends the process at once, removing the temporaries of any file being written.
void on_interrupt(int sig) {
    if (g_stop_requested) {
        remove_temporaries_and_die(sig);
        return;
    }
    g_stop_requested = sig;
}

// The estimator against the published designs, beside a run with estimated rows: the
// report's FPGA view shows it (docs/fpga-view.md). A run without them, or a tree without
// configs/published, goes without (said so), and a stale file is not left to contradict it.
void write_validation(const nlohmann::json& results, const std::string& dir, bool print_table) {
    const std::string path = (std::filesystem::path(dir) / "validation.json").string();
    bool estimated = false;
    for (const auto& r : results["rows"]) estimated = estimated || r["kind"] == "estimated";
    try {
        if (!estimated) {
            remove_stale_output(path);
            return;
        }
        const nlohmann::json doc = validate_published_designs();
        write_file_atomically(path, doc.dump(2) + "\n");
        if (print_table) std::fputs(validation_markdown(doc).c_str(), stdout);
        std::fprintf(stderr, "validation: %s\n", path.c_str());
    } catch (const InputError& e) {
        std::fprintf(stderr, "validation: not written (%s)\n", e.what());
    }
}

int run_run(int argc, char** argv) {
    std::vector<std::string> files;  // CONFIG.json
    std::string out, format_name = "md";
    bool quiet = false, log_lines = false, no_report = false;
    FlagParser flags(kUsage);
    flags.text({"--out"}, out)
        .text({"-o", "--output-format"}, format_name)
        .flag({"--quiet", "-q"}, quiet)
        .flag({"--log"}, log_lines)
        .flag({"--no-report"}, no_report)
        .positionals(files, 1, "one config file expected, found a second: ");
    if (auto status = flags.parse(argc, argv)) return *status;
    if (files.empty()) return flags.usage_error();
    const std::string& config_path = files[0];
    const OutputFormat format = parse_output_format(format_name);
    const bool report = !no_report;
    RunConfig cfg = load_config(config_path);
    if (!out.empty()) cfg.out = out;
    // Fail now, not after the sweep, when the results cannot be written there.
    probe_output_folder(cfg.out, "results.json");
    // Held until the process ends: two runs never mix their files in one folder.
    OutputFolderLock lock(cfg.out);

    g_stop_requested = 0;
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    SweepOptions so;
    so.quiet = quiet;
    so.log_lines = log_lines;
    nlohmann::json results = run_sweep(cfg, so);
    // Interrupted results go beside the previous complete ones, never over them; complete
    // ones make an earlier interrupted run's files stale.
    const bool interrupted = results["interrupted"] == true;
    const std::string stem = interrupted ? "results.incomplete" : "results";
    const std::string path = write_results(results, cfg.out, stem);
    if (!interrupted)
        for (const char* name : {"results.incomplete.json", "results.incomplete.csv"})
            remove_stale_output((std::filesystem::path(cfg.out) / name).string());
    std::fputs(print_results(results, format).c_str(), stdout);
    std::fflush(stdout);
    std::fprintf(stderr, "results: %s (and %s.csv)\n", path.c_str(), stem.c_str());
    if (!interrupted) write_validation(results, cfg.out, format == OutputFormat::Markdown);

    int failed = 0;
    for (const auto& r : results["rows"]) failed += r["status"] == "failed";
    if (failed) std::fprintf(stderr, "warning: %d point(s) failed the correctness check (shown, not ranked)\n", failed);

    if (const int sig = g_stop_requested) {
        const std::string previous = (std::filesystem::path(cfg.out) / "results.json").string();
        if (interrupted)
            std::fprintf(stderr,
                         "interrupted: wrote the finished points, marked incomplete, to %s (and .csv); %s, if any, "
                         "is left as it was (%s)\n",
                         path.c_str(), previous.c_str(), strsignal(sig));
        else
            std::fprintf(stderr, "interrupted (%s) after the last point: the results are complete; no report\n", strsignal(sig));
        return 128 + sig;
    }
    if (report) {
        const std::string script = find_report_script(cfg.dir);
        if (script.empty()) {
            std::fprintf(stderr, "report: tools/report.py not found (set LHB_REPORT_SCRIPT); JSON and CSV are written\n");
        } else {
            int status = run_report_script(script, path);
            if (status != 0)
                std::fprintf(stderr, "report: %s exited with status %d; JSON and CSV are written\n", script.c_str(), status);
        }
    }
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(run, Command{"run", "run a JSON-configured benchmark sweep and write results + report", run_run})

}  // namespace lhb::bench
