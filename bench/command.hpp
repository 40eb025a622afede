#pragma once
// `bench` subcommands register themselves here, one file each (cmd_<name>.cpp).
#include <string>
#include <vector>

#include "bench/flags.hpp"  // every subcommand parses its flags with it

namespace lhb::bench {

struct Command {
    const char* name;
    const char* summary;  // one line for `bench --help`
    // argv[0] is the subcommand's name. Returns the process exit code; throws InputError
    // for bad input (main prints its one line and exits 1).
    int (*run)(int argc, char** argv);
};

void register_command(Command c);
const std::vector<Command>& commands();

#define LHB_REGISTER_COMMAND(ident, ...)                                                   \
    namespace {                                                                            \
    const bool ident##_command_registered = (::lhb::bench::register_command(__VA_ARGS__), true); \
    }

}  // namespace lhb::bench
