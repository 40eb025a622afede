// bench generate: llama2.c's `run`, on any backend.
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "bench/command.hpp"
#include "core/error.hpp"
#include "core/generate.hpp"
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
    "  -z <string> tokenizer file; default tokenizer.bin\n"
    "  -m <string> mode: generate|chat; default generate\n"
    "  -y <string> system prompt (chat mode)\n"
    "  --backend <name>  backend to run on; default cpu-ref (bench list shows them)\n"
    "  --threads <int>   threads for multi-threaded backends; default: all cores\n"
    "  --xclbin <path>   device image for board backends\n"
    "Text goes to stdout, 'achieved tok/s: ...' to stderr.\n";

int usage_error() {
    std::fputs(kUsage, stderr);
    return 1;
}

int run_generate(int argc, char** argv) {
    if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-') return usage_error();
    std::string checkpoint = argv[1];
    float temperature = 1.0f, topp = 0.9f;
    uint64_t seed = 0;
    int steps = 256;
    const char* prompt = nullptr;
    std::string tokenizer_path = "tokenizer.bin";
    std::string mode = "generate";
    const char* system_prompt = nullptr;
    std::string backend_name = "cpu-ref";
    BackendOptions options;

    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) return usage_error();
        std::string flag = argv[i], value = argv[i + 1];
        if (flag == "--backend") backend_name = value;
        else if (flag == "--threads") options.threads = parse_int(flag, value);
        else if (flag == "--xclbin") options.xclbin = value;
        else if (flag.size() != 2 || flag[0] != '-') return usage_error();
        else if (flag[1] == 't') temperature = float(parse_double(flag, value));
        else if (flag[1] == 'p') topp = float(parse_double(flag, value));
        else if (flag[1] == 's') seed = uint64_t(int64_t(parse_int(flag, value)));  // negative wraps, as in run.c
        else if (flag[1] == 'n') steps = parse_int(flag, value);
        else if (flag[1] == 'i') prompt = argv[i + 1];
        else if (flag[1] == 'z') tokenizer_path = value;
        else if (flag[1] == 'm') mode = value;
        else if (flag[1] == 'y') system_prompt = argv[i + 1];
        else return usage_error();
    }
    if (mode != "generate" && mode != "chat") {
        std::fprintf(stderr, "unknown mode: %s\n", mode.c_str());
        return usage_error();
    }
    if (seed == 0) seed = uint64_t(unsigned(std::time(nullptr)));
    if (temperature < 0.0f) temperature = 0.0f;
    if (topp < 0.0f || topp > 1.0f) topp = 0.9f;
    if (steps < 0) steps = 0;

    auto backend = BackendRegistry::create(backend_name, options);  // a bad name fails before any file is read
    Model model = Model::open(checkpoint);
    if (steps == 0 || steps > model.config().seq_len) steps = model.config().seq_len;
    Tokenizer tokenizer = Tokenizer::load(tokenizer_path, model.config().vocab_size);
    Sampler sampler(model.config().vocab_size, temperature, topp, seed);
    backend->load(model);

    GenerateResult r;
    if (mode == "generate")
        r = generate(*backend, tokenizer, sampler, prompt ? prompt : "", steps, stdout);
    else
        r = chat(*backend, tokenizer, sampler, prompt, system_prompt, steps, {stdin, stdout});
    if (mode == "generate" && r.positions > 1)
        std::fprintf(stderr, "achieved tok/s: %f\n", r.tok_per_s());
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(generate, Command{"generate", "llama2.c-style text generation on any backend", run_generate})

}  // namespace lhb::bench
