// bench convert: llama2.c checkpoints to GGUF and GGUF back to llama2.c (core/convert.hpp).
#include <cstdio>
#include <string>
#include <vector>

#include "bench/command.hpp"
#include "core/convert.hpp"
#include "core/error.hpp"
#include "core/model_writer.hpp"

namespace lhb::bench {
namespace {

const char* kUsage =
    "Usage: bench convert IN OUT [-z TOKENIZER] [--type f32|f16|q8_0|q4_0|q6_k|q4_k_m]\n"
    "       bench convert IN.gguf OUT.bin [--version 0|1|2] [--group N] [--tokenizer-out FILE]\n"
    "A llama2.c checkpoint (v0, v1, v2) becomes a GGUF file with llama.cpp's llama metadata and\n"
    "tensor names; a GGUF file becomes a llama2.c checkpoint where its types allow.\n"
    "  -z               llama2.c -> GGUF: the model's tokenizer.bin (required: the checkpoint has no\n"
    "                   vocabulary)\n"
    "  --type           llama2.c -> GGUF: matrix type, default f32; q4_k_m is llama-quantize's\n"
    "                   mix (Q4_K, Q6_K classifier and some attn_v/ffn_down); blocks are\n"
    "                   llama-quantize's; norms stay F32\n"
    "  --version        GGUF -> llama2.c: 0 or 1 (fp32, from F32/F16 matrices) or 2 (int8; from\n"
    "                   Q8_0 with groups of 32, or export.py's quantization of F32/F16); default 0,\n"
    "                   or 2 for Q8_0\n"
    "  --group          version 2 group size (Q8_0: 32 only)\n"
    "  --tokenizer-out  GGUF -> llama2.c: also write the file's vocabulary as a tokenizer.bin\n"
    "  --max-size       refuse (writing nothing) an output larger than this (e.g. 20G); default 64G\n";

int run_convert(int argc, char** argv) {
    std::vector<std::string> files;
    ConvertOptions o;
    FlagParser flags(kUsage);
    flags.positionals(files, 2)
        .text({"-z", "--tokenizer"}, o.tokenizer)
        .text({"--tokenizer-out"}, o.tokenizer_out)
        .integer({"--version"}, o.llama2c_version, 0, 2)
        .integer({"--group"}, o.group_size, 1, 1 << 16)
        .value({"--type"}, [&](const std::string& f, const std::string& v) { o.gguf_type = parse_output_type(f, v); })
        .value({"--max-size"}, [&](const std::string& f, const std::string& v) { o.max_bytes = parse_byte_size(f, v); });
    if (auto status = flags.parse(argc, argv)) return *status;
    if (files.size() != 2) return flags.usage_error("expected IN and OUT");
    std::fprintf(stderr, "wrote %s\n", convert_model(files[0], files[1], o).c_str());
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(convert, Command{"convert", "convert llama2.c checkpoints to GGUF and back", run_convert})

}  // namespace lhb::bench
