// bench generate: llama2.c's `run`, on any backend.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>

#include "bench/command.hpp"
#include "core/error.hpp"
#include "core/generate.hpp"
#include "core/gguf_vocab.hpp"
#include "core/registry.hpp"

namespace lhb::bench {
namespace {

const char* kUsage =
    "Usage:   bench generate <checkpoint> [options]\n"
    "Example: bench generate stories15M.bin -z tokenizer.bin -n 256 -i \"Once upon a time\"\n"
    "Options (as llama2.c's run; each flag takes one value):\n"
    "  -t <float>  temperature, >= 0 (0: greedy argmax); default 1.0\n"
    "  -p <float>  top-p (nucleus) threshold in [0,1]; default 0.9\n"
    "  -s <int>    random seed; default (or 0): the current time\n"
    "  -n <int>    steps to run, prompt included; default 256; 0 = the model's seq_len\n"
    "  -i <string> input prompt\n"
    "  -z <string> tokenizer file; default: a GGUF model's own, else tokenizer.bin\n"
    "  -m <string> mode: generate|chat; default generate\n"
    "  -y <string> system prompt (chat mode)\n"
    "  --backend <name>  backend to run on; default cpu-ref (bench list shows them)\n"
    "  --threads <int>   threads for multi-threaded backends; default: all cores\n"
    "  --xclbin <path>   device image for board backends\n"
    "  --kv-type <type>  KV cache: f32 (llama2.c's, the default); f16 on cpu-ref: llama.cpp's\n"
    "                    attention numerics, logits as llama.cpp's CPU build (docs/gguf.md);\n"
    "                    q8 on hls-csim, zcu106-xrt: int8 with a scale per KV head and position\n"
    "Text goes to stdout, 'achieved tok/s: ...' to stderr.\n";

// llama2.c's rules (run.c): the checkpoint first, then flags in pairs; any mistake prints
// the usage (after a line naming it) and exits with status 1.
int run_generate(int argc, char** argv) {
    FlagParser flags(kUsage);
    if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-') return flags.usage_error();
    std::string checkpoint = argv[1];
    float temperature = 1.0f, topp = 0.9f;
    uint64_t seed = 0;
    int steps = 256;
    std::optional<std::string> prompt, system_prompt;
    std::optional<std::string> tokenizer_path;
    std::string mode = "generate";
    std::string backend_name = "cpu-ref";  // the documented default, which is also the reference
    BackendOptions options;
    flags.text({"--backend"}, backend_name)
        .integer({"--threads"}, options.threads)
        .text({"--xclbin"}, options.xclbin)
        .value({"--kv-type"}, [&](const std::string& f, const std::string& v) { options.kv_type = parse_kv_type(f, v); })
        .value({"-t"}, [&](const std::string& f, const std::string& v) { temperature = parse_float(f, v); })
        .value({"-p"}, [&](const std::string& f, const std::string& v) { topp = parse_float(f, v); })
        .value({"-s"}, [&](const std::string& f, const std::string& v) {
            seed = uint64_t(int64_t(parse_int(f, v)));  // negative wraps, as in run.c
        })
        .integer({"-n"}, steps)
        .value({"-i"}, [&](const std::string&, const std::string& v) { prompt = v; })
        .value({"-z"}, [&](const std::string&, const std::string& v) { tokenizer_path = v; })
        .text({"-m"}, mode)
        .value({"-y"}, [&](const std::string&, const std::string& v) { system_prompt = v; });
    if (auto status = flags.parse(argc, argv, 2)) return *status;
    if (mode != "generate" && mode != "chat") {
        return flags.usage_error("unknown mode: " + mode);
    }
    if (seed == 0) seed = uint64_t(unsigned(std::time(nullptr)));
    if (temperature < 0.0f) temperature = 0.0f;
    if (topp < 0.0f || topp > 1.0f) topp = 0.9f;
    if (steps < 0) steps = 0;

    auto backend = BackendRegistry::create(backend_name, options);  // a bad name fails before any file is read
    Model model = Model::open(checkpoint);
    if (steps == 0) steps = model.config().seq_len;
    // A GGUF model runs past its llama.context_length with llama.cpp's warning; a llama2.c
    // one stops at its seq_len, as run.c.
    if (steps > model.config().seq_len) {
        const std::string warning = model.extend_context(steps);
        if (!warning.empty()) std::fprintf(stderr, "%s\n", warning.c_str());
        steps = std::min(steps, model.config().seq_len);
    }
    Tokenizer tokenizer = tokenizer_path || !model.gguf()
                              ? Tokenizer::load(tokenizer_path.value_or("tokenizer.bin"), model.config().vocab_size)
                              : gguf_tokenizer(*model.gguf());
    Sampler sampler(model.config().vocab_size, temperature, topp, seed);
    backend->load(model);

    GenerateResult r;
    if (mode == "generate")
        r = generate(*backend, tokenizer, sampler, prompt ? prompt->c_str() : "", steps, stdout);
    else
        r = chat(*backend, tokenizer, sampler, prompt ? prompt->c_str() : nullptr,
                 system_prompt ? system_prompt->c_str() : nullptr, steps, {stdin, stdout});
    if (mode == "generate" && r.positions > 1)
        std::fprintf(stderr, "achieved tok/s: %f\n", r.tok_per_s());
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(generate, Command{"generate", "llama2.c-style text generation on any backend", run_generate})

}  // namespace lhb::bench
