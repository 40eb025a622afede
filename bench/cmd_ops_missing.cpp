// Built instead of cmd_ops.cpp when the build found no Google Benchmark (a board's sysroot,
// or the aarch64 build of tools/cross_test.sh): `bench ops` says why it cannot run.
#include <cstdio>

#include "bench/command.hpp"

namespace lhb::bench {
namespace {

int run_ops_missing(int, char**) {
    std::fputs("bench ops: built without Google Benchmark (libbenchmark-dev); every other command works\n", stderr);
    return 1;
}

}  // namespace

LHB_REGISTER_COMMAND(ops, Command{"ops", "Google Benchmark microbenchmarks of each op (not in this build)", run_ops_missing})

}  // namespace lhb::bench
