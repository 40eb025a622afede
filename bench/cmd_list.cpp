// bench list: every registered backend and whether it can run here.
#include <cstdio>
#include <string>

#include "bench/command.hpp"
#include "core/registry.hpp"

namespace lhb::bench {
namespace {

int run_list(int argc, char** argv) {
    BackendOptions options;
    for (int i = 1; i < argc; ++i) {
        std::string flag = argv[i];
        if (flag == "--xclbin" && i + 1 < argc) options.xclbin = argv[++i];
        else {
            std::fputs("Usage: bench list [--xclbin PATH]\nLists the backends and whether each is available here.\n",
                       flag == "--help" ? stdout : stderr);
            return flag == "--help" ? 0 : 1;
        }
    }
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
