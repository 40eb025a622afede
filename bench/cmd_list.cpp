// bench list: every registered backend and whether it can run here, then where bench looks
// for its data files (board files, tools/report.py) and what it found.
#include <cstdio>
#include <filesystem>
#include <string>

#include "bench/command.hpp"
#include "core/data_files.hpp"
#include "core/registry.hpp"

namespace lhb::bench {
namespace {

void print_data_lookup() {
    std::printf("\ndata files, looked for in this order:\n");
    for (const DataDir& d : data_dirs()) {
        if (d.path.empty()) {
            std::printf("- %s: not set\n", d.why.c_str());
            continue;
        }
        std::string held;
        for (const char* f : {kDefaultBoardFile, kReportScript}) {
            std::error_code ec;
            if (std::filesystem::is_regular_file(std::filesystem::path(d.path) / f, ec)) held += std::string(held.empty() ? "" : ", ") + f;
        }
        std::printf("- %s: %s (%s)\n", d.why.c_str(), d.path.c_str(), held.empty() ? "nothing" : held.c_str());
    }
    for (const char* f : {kDefaultBoardFile, kReportScript}) {
        const std::string found = find_data_file(f);
        std::printf("%s: %s\n", f, found.empty() ? "not found (copy configs/ and tools/ beside bench, or set LHB_DATA_DIR)" : found.c_str());
    }
}

int run_list(int argc, char** argv) {
    BackendOptions options;
    FlagParser flags("Usage: bench list [--xclbin PATH]\nLists the backends and whether each is available here, "
                     "and where bench finds its data files (board files, tools/report.py).\n");
    flags.text({"--xclbin"}, options.xclbin);
    if (auto status = flags.parse(argc, argv)) return *status;
    std::printf("| backend | available | notes |\n| --- | --- | --- |\n");
    for (const BackendFactory* f : BackendRegistry::all()) {
        Availability a = f->available ? f->available(options) : Availability{};
        std::printf("| %s | %s | %s |\n", f->name.c_str(), a.available ? "yes" : "no",
                    a.available ? f->summary.c_str() : a.reason.c_str());
    }
    print_data_lookup();
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(list, Command{"list", "list the backends and whether each is available here", run_list})

}  // namespace lhb::bench
