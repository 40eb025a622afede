// bench estimate: the HLS design's estimated cycles, latency, tok/s and resources on a board.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "bench/command.hpp"
#include "core/generate.hpp"
#include "core/error.hpp"
#include "core/model.hpp"
#include "core/quantize.hpp"
#include "core/synth.hpp"
#include "host/estimator.hpp"
#include "host/packing.hpp"

namespace lhb::bench {
namespace {

const char* kUsage =
    "Usage: bench estimate [--shape SHAPE | --model FILE] [--precision fp32|int8|q4_0|q4_k] [--group N]\n"
    "                      [--kv-type f32|q8] [--board FILE] [--design FILE] [--decode MODE] [--greedy-run N]\n"
    "                      [--pos N] [--mean] [--prompt N] [--loops] [--json]\n"
    "Estimates (does not measure) one decoded token of the HLS kernels on a board: cycles per\n"
    "op, latency, tok/s and DSP/BRAM/URAM against the board's capacity. Trip counts come from\n"
    "a C simulation of llama_forward at that position on zeroed buffers of the shape (the\n"
    "values do not change the loops); docs/hls-design.md describes the model and its limits.\n"
    "  --shape   stories260K|stories15M|stories42M|stories110M|tinyllama-1.1b or\n"
    "            dim=..,hidden=..,...; default stories15M\n"
    "  --model   take the shape (and the precision: a version-2 file is int8, a GGUF file with\n"
    "            Q4_0/Q4_K/Q6_K matrices 4-bit in its matrices' formats) from a checkpoint\n"
    "  --precision  fp32, int8 (Q8_0 weights, activations quantized on chip), q4_0 or q4_k\n"
    "            (4-bit weights, every matrix in that format); default fp32, or the checkpoint's\n"
    "  --group   int8 group size; default the checkpoint's, else the largest <= 64 dividing\n"
    "            dim and hidden_dim (the kernels take multiples of 4)\n"
    "  --kv-type the KV cache: f32 (default) or q8 (int8, a scale per KV head and position);\n"
    "            the compiled kernels' option (a design file states its own kv_cache.bits)\n"
    "  --board   board description; default configs/boards/zcu106.json\n"
    "  --design  design description (configs/designs/*.json); default: the compiled kernels\n"
    "  --decode  host-sampled (default): the kernel writes the logits, the host samples each\n"
    "            token (a kernel run, a logits sync and sampling per token); device-greedy:\n"
    "            the kernel decodes greedily, the logits stay on chip (a run per --greedy-run\n"
    "            tokens)\n"
    "  --greedy-run  tokens per kernel run with device-greedy; default 16 (bench generate's\n"
    "            chunk, so the text still streams), or seq_len if shorter\n"
    "  --pos     position of the token; default 0\n"
    "  --mean    also the mean over a whole run of seq_len tokens (17 positions traced)\n"
    "  --prompt  also a prompt of N tokens from --pos through the prefill mode (blocks of up\n"
    "            to 32 tokens, fewer for wide shapes; each weight read once a block): its time,\n"
    "            tok/s and the time to first token, beside decoding it token by token (each\n"
    "            block traced)\n"
    "  --loops   print every loop: trips, II, depth, bytes, cycles\n"
    "  --json    print the estimate as JSON instead of tables\n";

std::string with_commas(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    std::string s = buf, out;
    const size_t start = s[0] == '-' ? 1 : 0;
    for (size_t i = 0; i < s.size(); ++i) {
        out += s[i];
        const size_t left = s.size() - 1 - i;
        if (i >= start && left > 0 && left % 3 == 0) out += ',';
    }
    return out;
}

double mb(int64_t bytes) { return double(bytes) / 1e6; }

void print_tables(const hls::TokenEstimate& e, const std::string& shape_label, bool loops) {
    std::printf("HLS design estimate (estimated, not measured)\n");
    std::printf("  shape     %s (%s)\n", shape_label.c_str(), e.shape.c_str());
    std::printf("  weights   %s\n", e.precision.c_str());
    std::printf("  position  %d\n", e.pos);
    if (e.mode == hls::DecodeMode::DeviceGreedy)
        std::printf("  decoding  greedy on the device (logits kept on chip), %d tokens per kernel run\n", e.greedy_chunk);
    else
        std::printf("  decoding  host-sampled (logits to the host, one kernel run per token)\n");
    std::printf("  board     %s (%s), kernel clock %.0f MHz%s\n", e.board.c_str(), e.board_path.c_str(),
                e.clock_mhz, e.clock_clamped ? " (the design asks for more; clamped to the board)" : "");
    std::printf("  design    %s (%s)%s\n\n", e.design.c_str(), e.design_path.c_str(),
                e.trace_checked ? "; trip counts from the C-simulation trace"
                                : "; loops modelled from the design file (not simulated)");

    std::printf("| op (kernel)  | cycles (est.) | ms (est.) | share |\n");
    std::printf("| ------------ | ------------: | --------: | ----: |\n");
    for (const auto& [name, cycles] : e.kernel_op_cycles)
        std::printf("| %-12s | %13s | %9.4f | %4.1f%% |\n", name.c_str(), with_commas(cycles).c_str(),
                    cycles / (e.clock_mhz * 1e3), 100.0 * cycles / e.kernel_cycles);
    std::printf("| %-12s | %13s | %9.4f | 100%%  |\n", "kernel", with_commas(e.kernel_cycles).c_str(),
                e.kernel_seconds * 1e3);
    std::printf("| %-12s | %13s | %9.4f |       |\n", "host", "", e.host_seconds * 1e3);
    std::printf("| %-12s | %13s | %9.4f |       |\n\n", "token", "", e.token_seconds * 1e3);

    std::printf("estimated decode: %.1f tok/s at position %d (%.3f ms per token)\n", e.tok_per_s, e.pos,
                e.token_seconds * 1e3);
    std::printf("DDR roofline for these bytes (board's usable bandwidth): %.1f tok/s\n",
                e.ddr_roofline_tok_per_s);
    std::printf("bytes per token: %.2f MB (", mb(e.total_bytes));
    for (size_t p = 0; p < e.port_bytes.size(); ++p)
        std::printf("%sgmem%zu%s %.2f", p ? ", " : "", p, p + 1 == e.port_bytes.size() ? " (io)" : "",
                    mb(e.port_bytes[p]));
    std::printf(" MB)\n");
    std::printf("cycles bound by:");
    for (const auto& [bound, cycles] : e.bound_cycles)
        std::printf(" %s %.1f%%", bound.c_str(), 100.0 * double(cycles) / e.kernel_cycles);
    std::printf("\n");
    const hls::ResourceEstimate& r = e.resources;
    std::printf("resources (estimated): DSP %.0f / %.0f (%.0f%%), BRAM36 %.0f / %.0f (%.0f%%), URAM %.0f / %.0f (%.0f%%): %s\n",
                r.dsp, r.dsp_avail, 100 * r.dsp / r.dsp_avail, r.bram36, r.bram36_avail,
                100 * r.bram36 / r.bram36_avail, r.uram, r.uram_avail, 100 * r.uram / r.uram_avail,
                r.fits ? "fits the device" : "DOES NOT FIT the device");
    // LUT and FF where the board file gives its fabric; then every compute unit of the link
    // configs together (the ZCU106 and KV260 link the per-op kernels into an xclbin of their
    // own when these do not fit: docs/validation.md).
    auto share = [](double used, double avail) { return avail > 0 ? 100 * used / avail : 0.0; };
    if (r.lut_avail > 0 || r.ff_avail > 0)
        std::printf("  fabric (estimated): LUT %.0f / %.0f (%.0f%%), FF %.0f / %.0f (%.0f%%)\n", r.lut, r.lut_avail,
                    share(r.lut, r.lut_avail), r.ff, r.ff_avail, share(r.ff, r.ff_avail));
    if (r.units.size() > 1)
        std::printf("  every compute unit together (estimated): DSP %.0f, BRAM36 %.0f, URAM %.0f, LUT %.0f, FF %.0f: %s\n",
                    r.xclbin.dsp, r.xclbin.bram36, r.xclbin.uram, r.xclbin.lut, r.xclbin.ff,
                    r.xclbin_fits ? "fits one xclbin" : "does not fit one xclbin");

    if (loops) {
        std::printf("\n| loop           | op         | runs | trips       | II | depth | bytes        | cycles alone (est.) |\n");
        std::printf("| -------------- | ---------- | ---: | ----------: | -: | ----: | -----------: | ------------------: |\n");
        for (const hls::LoopSummary& l : e.loops)
            std::printf("| %-14s | %-10s | %4lld | %11s | %2.0f | %5.0f | %12s | %19s |\n", l.name.c_str(),
                        l.op.c_str(), (long long)l.runs, with_commas(double(l.trips)).c_str(), l.ii, l.depth,
                        with_commas(double(l.bytes)).c_str(), with_commas(l.cycles).c_str());
        std::printf("(cycles alone: each loop by itself; concurrent engines of a DATAFLOW region overlap)\n");
    }
}

void print_prefill(const hls::PrefillEstimate& p, double decode_seconds) {
    std::printf("\nestimated prefill of a %d-token prompt from position %d (%d kernel runs of up to %d tokens):\n",
                p.tokens, p.pos, p.blocks, p.block_tokens);
    std::printf("  kernel %.3f ms + host %.3f ms = %.3f ms: %.1f tok/s; time to first token %.3f ms\n",
                p.kernel_seconds * 1e3, p.host_seconds * 1e3, p.seconds * 1e3, p.tok_per_s, p.seconds * 1e3);
    std::printf("  the same prompt decoded token by token (host-sampled): %.3f ms (%.1f tok/s): prefill %.1fx\n",
                decode_seconds * 1e3, p.tokens / decode_seconds, decode_seconds / p.seconds);
    std::printf("  cycles bound by:");
    for (const auto& [bound, cycles] : p.bound_cycles)
        std::printf(" %s %.1f%%", bound.c_str(), 100.0 * double(cycles) / p.kernel_cycles);
    std::printf("; by op:");
    for (const auto& [name, cycles] : p.kernel_op_cycles)
        std::printf(" %s %.1f%%", name.c_str(), 100.0 * cycles / p.kernel_cycles);
    std::printf("\n");
}

int run_estimate(int argc, char** argv) {
    std::string shape = "stories15M", model_path, board_path, design_path, precision, kv_type = "f32";
    int pos = 0, group = 0, greedy_run = 0;  // 0: kGreedyChunk, or seq_len if shorter
    int prompt = 0;                           // 0: no prefill estimate
    hls::DecodeMode mode = hls::DecodeMode::HostSampled;
    bool mean = false, loops = false, as_json = false, shape_given = false;
    FlagParser flags(kUsage);
    flags.flag({"--mean"}, mean)
        .flag({"--loops"}, loops)
        .flag({"--json"}, as_json)
        .value({"--shape"}, [&](const std::string&, const std::string& v) { shape = v, shape_given = true; })
        .text({"--model"}, model_path)
        .text({"--board"}, board_path)
        .text({"--design"}, design_path)
        .integer({"--pos"}, pos)
        .integer({"--prompt"}, prompt)
        .text({"--precision"}, precision)
        .text({"--kv-type"}, kv_type)
        .integer({"--group"}, group)
        .value({"--greedy-run"}, [&](const std::string& f, const std::string& v) {
            greedy_run = parse_int(f, v);
            if (greedy_run == 0) throw InputError("--greedy-run: expected at least 1, found 0");
        })
        .value({"--decode"}, [&](const std::string&, const std::string& v) {
            if (v == "host-sampled") mode = hls::DecodeMode::HostSampled;
            else if (v == "device-greedy") mode = hls::DecodeMode::DeviceGreedy;
            else throw InputError("--decode: expected host-sampled or device-greedy, found '" + v + "'");
        });
    if (auto status = flags.parse(argc, argv)) return *status;
    if (shape_given && !model_path.empty()) return flags.usage_error("give --shape or --model, not both");
    if (!precision.empty() && precision != "fp32" && precision != "int8" && precision != "q4_0" &&
        precision != "q4_k")
        throw InputError("--precision: expected fp32 or int8 (or q4_0, q4_k: 4-bit weights), found '" + precision + "'");
    ModelConfig c;
    std::string label = shape;
    int file_group = 0;  // the checkpoint's int8 group size
    if (!model_path.empty()) {
        Model m = Model::open(model_path);
        c = m.config();
        file_group = hls::group_size_of(m);
        label = model_path;
        if (precision.empty()) precision = file_group > 0 ? "int8" : hls::is_q4_precision(file_group) ? "4-bit" : "fp32";
    } else {
        c = parse_shape(shape);
    }
    if (precision.empty()) precision = "fp32";
    if (group != 0 && precision != "int8") throw InputError("--group: only with --precision int8");
    int group_size = 0;
    if (precision == "4-bit") group_size = file_group;  // the file's formats
    if (precision == "q4_0" || precision == "q4_k")
        group_size = hls::q4_precision(hls::q4_uniform_formats(precision == "q4_0" ? lhk::kQ4FormatQ4_0 : lhk::kQ4FormatQ4_K));
    if (precision == "int8") {
        group_size = group != 0 ? group : file_group > 0 ? file_group : default_group_size(c);
        if (group_size <= 0 || c.dim % group_size != 0 || c.hidden_dim % group_size != 0)
            throw InputError("--group: expected a divisor of dim " + std::to_string(c.dim) + " and hidden_dim " +
                             std::to_string(c.hidden_dim) + ", found " + std::to_string(group_size));
    }
    const int kv_bits = hls::kv_bits_of_type(kv_type, "--kv-type");
    if (kv_bits != 32 && !design_path.empty())
        throw InputError("--kv-type: the compiled kernels' option; a design file states its own kv_cache.bits");
    hls::check_fits(c, label, group_size, kv_bits);
    if (pos < 0 || pos >= c.seq_len)
        throw InputError("--pos: expected 0.." + std::to_string(c.seq_len - 1) + ", found " + std::to_string(pos));
    const hls::BoardSpec board = hls::load_board(board_path.empty() ? hls::default_board_path() : board_path);
    const hls::DesignSpec design = design_path.empty() ? hls::compiled_design(kv_bits) : hls::load_design(design_path);

    if (greedy_run == 0) greedy_run = std::min(kGreedyChunk, c.seq_len);
    if (greedy_run < 1 || greedy_run > c.seq_len)
        throw InputError("--greedy-run: expected 1.." + std::to_string(c.seq_len) + ", found " + std::to_string(greedy_run));
    if (prompt < 0 || (prompt > 0 && pos + prompt > c.seq_len))
        throw InputError("--prompt: expected 1.." + std::to_string(c.seq_len - pos) + " tokens from position " +
                         std::to_string(pos) + ", found " + std::to_string(prompt));
    if (prompt > 0 && !design_path.empty())
        throw InputError("--prompt: the prefill mode is the compiled kernels'; not with --design");
    if (prompt > 0 && hls::is_q4_precision(group_size))
        throw InputError("--prompt: the kernels have no prefill mode for 4-bit weights (the host decodes the prompt "
                         "token by token)");
    const hls::TokenEstimate e = hls::estimate_token(c, pos, design, board, group_size, mode, greedy_run);
    std::optional<hls::PrefillEstimate> pre;
    double decode_prompt_seconds = 0;  // the same prompt token by token (host-sampled forward())
    if (prompt > 0) {
        pre = hls::estimate_prefill(c, pos, prompt, board, group_size, kv_bits);
        decode_prompt_seconds =
            hls::mean_token_seconds(c, pos, prompt, design, board, group_size) * prompt;
    }

    // The mean over a run: token time is piecewise linear in the position (attention reads
    // pos + 1 rows), so 17 evenly spaced positions and linear interpolation between them.
    double run_seconds = 0;
    std::vector<int> sampled;
    if (mean) {
        const int n = c.seq_len, samples = std::min(n, 17);
        std::vector<double> t;
        for (int k = 0; k < samples; ++k) {
            const int p = samples == 1 ? 0 : int(int64_t(k) * (n - 1) / (samples - 1));
            if (!sampled.empty() && sampled.back() == p) continue;
            sampled.push_back(p);
            t.push_back(hls::estimate_token(c, p, design, board, group_size, mode, greedy_run).token_seconds);
        }
        for (size_t k = 0; k + 1 < sampled.size(); ++k) {
            const int span = sampled[k + 1] - sampled[k];
            for (int j = 0; j < span; ++j) run_seconds += t[k] + (t[k + 1] - t[k]) * j / span;
        }
        run_seconds += t.back();
    }

    if (as_json) {
        nlohmann::json j = e.to_json();
        j["shape_label"] = label;
        if (mean) {
            j["run_tokens"] = c.seq_len;
            j["run_positions_traced"] = sampled;
            j["run_seconds_estimated"] = run_seconds;
            j["run_tok_per_s_estimated"] = c.seq_len / run_seconds;
        }
        if (pre) {
            j["prefill"] = pre->to_json();
            j["prefill"]["decode_prompt_seconds_estimated"] = decode_prompt_seconds;
            j["prefill"]["speedup_over_decode_estimated"] = decode_prompt_seconds / pre->seconds;
        }
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    print_tables(e, label, loops);
    const hls::DecodeMode other =
        mode == hls::DecodeMode::HostSampled ? hls::DecodeMode::DeviceGreedy : hls::DecodeMode::HostSampled;
    const hls::TokenEstimate o = hls::estimate_token(c, pos, design, board, group_size, other, greedy_run);
    std::printf("the same token %s: %.1f tok/s (--decode %s)\n",
                other == hls::DecodeMode::DeviceGreedy ? "decoded greedily on the device" : "sampled on the host",
                o.tok_per_s, hls::decode_mode_name(other));
    if (mean)
        std::printf("estimated mean over a %d-token run (positions 0..%d, %zu traced): %.1f tok/s\n", c.seq_len,
                    c.seq_len - 1, sampled.size(), c.seq_len / run_seconds);
    if (pre) print_prefill(*pre, decode_prompt_seconds);
    return 0;
}

}  // namespace

LHB_REGISTER_COMMAND(estimate, Command{"estimate", "estimated cycles, tok/s and resources of the HLS kernels on a board", run_estimate})

}  // namespace lhb::bench
