// bench compare A.json B.json: point-by-point ratios of two results files, flagging the
// changes larger than the noise both runs measured.
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "bench/command.hpp"
#include "bench/compare.hpp"
#include "bench/results.hpp"
#include "core/error.hpp"

namespace lhb::bench {
namespace {

const char* kUsage =
    "Usage: bench compare A.json B.json [--fail-on-slower]\n"
    "Per point (same model, backend, precision, threads, fused, prompt and generated tokens,\n"
    "kind; and host when a file merges several hosts, bench merge):\n"
    "decode and prefill tok/s of B over A. A ratio is flagged when it differs from 1 by more\n"
    "than 3x the combined coefficient of variation of the two runs (and at least 1%).\n"
    "Warns (stderr and the output) when hosts, CPUs or commits differ.\n"
    "  --fail-on-slower  exit with status 3 if any point is flagged slower or lost correctness\n";

int run_compare(int argc, char** argv) {
    std::vector<std::string> files;
    bool fail_on_slower = false;
    FlagParser flags(kUsage);
    flags.flag({"--fail-on-slower"}, fail_on_slower).positionals(files, 2);
    if (auto status = flags.parse(argc, argv)) return *status;
    if (files.size() != 2) return flags.usage_error();
    Comparison c = compare_results(load_results(files[0]), load_results(files[1]));
    std::fputs(comparison_markdown(c, files[0], files[1]).c_str(), stdout);
    for (const std::string& n : c.notes)
        if (n.rfind("warning: ", 0) == 0) std::fprintf(stderr, "%s\n", n.c_str());
    return fail_on_slower && c.regressions > 0 ? 3 : 0;
}

}  // namespace

LHB_REGISTER_COMMAND(compare, Command{"compare", "compare two results files point by point, flagging changes beyond noise", run_compare})

}  // namespace lhb::bench
