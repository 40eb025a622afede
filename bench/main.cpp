// bench: llama-hls-bench's command-line entry point. Each subcommand is a file in bench/.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "bench/command.hpp"
#include "core/error.hpp"

using lhb::bench::commands;

static void print_help(std::FILE* out) {
    std::fprintf(out,
                 "bench: measure LLaMA2 inference on CPUs and FPGAs (llama2.c-compatible)\n\n"
                 "Usage: bench <command> [options]   (bench <command> --help for its options)\n\n"
                 "Commands:\n");
    for (const auto& c : commands()) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
}

int main(int argc, char** argv) {
    if (argc < 2) {
        print_help(stderr);
        return 1;
    }
    std::string name = argv[1];
    if (name == "--help" || name == "-h" || name == "help") {
        print_help(stdout);
        return 0;
    }
    for (const auto& c : commands()) {
        if (name != c.name) continue;
        try {
            return c.run(argc - 1, argv + 1);
        } catch (const lhb::InputError& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            return 1;
        } catch (const std::bad_alloc&) {
            std::fprintf(stderr, "error: out of memory\n");
            return 1;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            return 2;
        }
    }
    std::fprintf(stderr, "error: unknown command '%s'; see bench --help\n", name.c_str());
    return 1;
}
