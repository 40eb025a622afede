// bench quantize: fp32 checkpoint (v0 or v1) -> int8 Q8_0 "version 2" file.
#include <cstdio>
#include <string>

#include "bench/command.hpp"
#include "core/error.hpp"
#include "core/quantize.hpp"

namespace lhb::bench {
namespace {

const char* kUsage =
    "Usage: bench quantize IN.bin OUT.bin [--group N]\n"
    "Converts a llama2.c fp32 checkpoint (v0 or version 1) to the int8 \"version 2\" format\n"
    "read by llama2.c's runq (Q8_0: int8 values, one fp32 scale per group of N).\n"
    "  --group N  group size; default: the largest <= 64 dividing both dim and hidden_dim\n"
    "             (an explicit N that does not divide both is an error)\n";

int run_quantize(int argc, char** argv) {
    std::vector<std::string> files;  // IN.bin OUT.bin
    int group = 0;
    FlagParser flags(kUsage);
    flags.integer({"--group"}, group, 1).positionals(files, 2);
    if (auto status = flags.parse(argc, argv)) return *status;
    if (files.size() != 2) return flags.usage_error();
    const std::string& in = files[0];
    const std::string& out = files[1];
    Model model = Model::open(in);
    if (group == 0) group = default_group_size(model.config());
    write_q8_model(model, out, group);
    std::fprintf(stderr, "wrote %s: int8 Q8_0, group size %d\n", out.c_str(), group);
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(quantize, Command{"quantize", "convert an fp32 checkpoint to int8 (Q8_0, version 2)", run_quantize})

}  // namespace lhb::bench
