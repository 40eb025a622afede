// bench synth: write a synthetic-weight checkpoint of a given shape.
#include <cstdio>
#include <cstring>
#include <string>

#include "bench/command.hpp"
#include "core/error.hpp"
#include "core/synth.hpp"

namespace lhb::bench {
namespace {

const char* kUsage =
    "Usage: bench synth --shape SHAPE -o FILE [--seed N]\n"
    "Writes a llama2.c v0 checkpoint with deterministic random weights of that shape.\n"
    "  --shape  stories260K|stories15M|stories42M|stories110M, or\n"
    "           dim=..,hidden=..,layers=..,heads=..,kv_heads=..,vocab=..,seq=..\n"
    "  -o       output file (written to a temporary name, then renamed)\n"
    "  --seed   random seed; default 1\n";

int run_synth(int argc, char** argv) {
    std::string shape, out;
    uint64_t seed = 1;
    FlagParser flags(kUsage);
    flags.text({"--shape"}, shape).text({"-o", "--out"}, out).value({"--seed"}, [&](const std::string& f, const std::string& v) {
        seed = uint64_t(parse_int(f, v));
    });
    if (auto status = flags.parse(argc, argv)) return *status;
    if (shape.empty() || out.empty()) return flags.usage_error();
    ModelConfig c = parse_shape(shape);
    write_synthetic_model(c, out, seed);
    std::fprintf(stderr, "wrote %s: synthetic weights, shape %s (%lld parameters)\n", out.c_str(),
                 shape.c_str(), (long long)c.n_params());
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(synth, Command{"synth", "write a synthetic-weight checkpoint of a model's shape", run_synth})

}  // namespace lhb::bench
