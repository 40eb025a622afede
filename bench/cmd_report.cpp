// bench report RESULTS.json: the table and the PNG/HTML report of an existing results file.
#include <cstdio>
#include <filesystem>
#include <string>

#include "bench/command.hpp"
#include "bench/report_runner.hpp"
#include "bench/results.hpp"
#include "core/error.hpp"

namespace lhb::bench {
namespace {

const char* kUsage =
    "Usage: bench report RESULTS.json\n"
    "Prints the results table and writes the report (PNG plots + index.html) beside the\n"
    "results file, with tools/report.py (needs python3-matplotlib).\n";

int run_report(int argc, char** argv) {
    std::vector<std::string> files;
    FlagParser flags(kUsage);
    flags.positionals(files, 1);
    if (auto status = flags.parse(argc, argv)) return *status;
    if (files.size() != 1) return flags.usage_error();
    const std::string& path = files[0];
    nlohmann::json results = load_results(path);
    std::fputs(results_markdown(results).c_str(), stdout);
    std::fflush(stdout);
    const std::string script = find_report_script(std::filesystem::path(path).parent_path().string());
    if (script.empty()) throw InputError("tools/report.py not found (set LHB_REPORT_SCRIPT to its path)");
    int status = run_report_script(script, path);
    if (status != 0) std::fprintf(stderr, "report: %s exited with status %d\n", script.c_str(), status);
    return status == 0 ? 0 : 1;
}

}  // namespace

LHB_REGISTER_COMMAND(report, Command{"report", "write the PNG/HTML report of a results file", run_report})

}  // namespace lhb::bench
