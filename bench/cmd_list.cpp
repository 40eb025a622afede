// bench list: every registered backend and whether it can run here.
#include <cstdio>
#include <string>

#include "bench/command.hpp"
#include "core/registry.hpp"

namespace lhb::bench {
namespace {

int run_list(int argc, char** argv) {
    BackendOptions options;
    FlagParser flags("Usage: bench list [--xclbin PATH]\nLists the backends and whether each is available here.\n");
    flags.text({"--xclbin"}, options.xclbin);
    if (auto status = flags.parse(argc, argv)) return *status;
    std::printf("| backend | available | notes |\n| --- | --- | --- |\n");
    for (const BackendFactory* f : BackendRegistry::all()) {
        Availability a = f->available ? f->available(options) : Availability{};
        std::printf("| %s | %s | %s |\n", f->name.c_str(), a.available ? "yes" : "no",
                    a.available ? f->summary.c_str() : a.reason.c_str());
    }
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(list, Command{"list", "list the backends and whether each is available here", run_list})

}  // namespace lhb::bench
