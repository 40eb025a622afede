// bench synth: write a synthetic-weight checkpoint of a given shape.
#include <cstdio>
#include <cstring>
#include <string>

#include "bench/command.hpp"
#include "core/error.hpp"
#include "core/model_writer.hpp"
#include "core/synth.hpp"

namespace lhb::bench {
namespace {

const char* kUsage =
    "Usage: bench synth --shape SHAPE -o FILE [--seed N] [--format llama2c|gguf] [--type T]\n"
    "                   [--group N] [-z TOKENIZER] [--max-size BYTES]\n"
    "Writes a checkpoint with deterministic random weights of that shape (the same values in\n"
    "every format and type), streamed tensor by tensor.\n"
    "  --shape     stories260K|stories15M|stories42M|stories110M|tinyllama-1.1b|llama2-7b|\n"
    "              llama3.2-1b, or dim=..,hidden=..,layers=..,heads=..,kv_heads=..,vocab=..,seq=..\n"
    "  -o          output file (written to a temporary name, then renamed)\n"
    "  --seed      random seed; default 1\n"
    "  --format    llama2c (default: v0 for f32, v2 for q8_0) or gguf (llama.cpp's names)\n"
    "  --type      f32 (default), f16, q8_0, q4_0, q6_k, q4_k_m (llama-quantize's mix)\n"
    "              (llama2c: f32 or q8_0); GGUF norms stay F32\n"
    "  --group     llama2c q8_0: the group size; default the largest <= 64 dividing dim and hidden\n"
    "  -z          GGUF: the vocabulary from this tokenizer.bin; default placeholder pieces\n"
    "  --max-size  refuse (writing nothing) a file larger than this; default 16G\n";

int run_synth(int argc, char** argv) {
    std::string shape, out, format = "llama2c";
    SynthOptions o;
    FlagParser flags(kUsage);
    flags.text({"--shape"}, shape)
        .text({"-o", "--out"}, out)
        .text({"--format"}, format)
        .text({"-z", "--tokenizer"}, o.tokenizer)
        .integer({"--group"}, o.group_size, 1, 1 << 16)
        .value({"--seed"}, [&](const std::string& f, const std::string& v) { o.seed = uint64_t(parse_int(f, v)); })
        .value({"--type"}, [&](const std::string& f, const std::string& v) { o.type = parse_output_type(f, v); })
        .value({"--max-size"}, [&](const std::string& f, const std::string& v) { o.max_bytes = parse_byte_size(f, v); });
    if (auto status = flags.parse(argc, argv)) return *status;
    if (shape.empty() || out.empty()) return flags.usage_error();
    if (format != "llama2c" && format != "gguf")
        throw InputError("--format: expected llama2c or gguf, found '" + format + "'");
    o.format = format == "gguf" ? SynthFormat::Gguf : SynthFormat::Llama2c;
    if (o.format == SynthFormat::Llama2c && !o.tokenizer.empty())
        throw InputError("-z: a llama2.c file carries no vocabulary (pass the tokenizer to bench run instead)");
    ModelConfig c = parse_shape(shape);
    o.name = "synthetic " + shape;
    const std::string what = write_synthetic(c, out, o);
    std::fprintf(stderr, "wrote %s: synthetic weights, shape %s (%lld parameters), %s\n", out.c_str(), shape.c_str(),
                 (long long)c.n_params(), what.c_str());
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(synth, Command{"synth", "write a synthetic-weight checkpoint of a model's shape", run_synth})

}  // namespace lhb::bench
