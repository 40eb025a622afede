#pragma once
// The `bench run` configuration file: what to sweep (models x backends x precisions x
// threads x prompt lengths), how to measure, and where results go. The schema is
// documented in docs/config.md; every field is checked here, and a mistake gets one line
// naming the field by JSON pointer, what was found and what was expected.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/peer_command.hpp"
#include "core/nearest_name.hpp"

namespace lhb::bench {

struct ModelEntry {
    std::string name;       // label in results ("stories15M")
    std::string path;       // checkpoint, resolved against the config file's folder
    std::string tokenizer;  // tokenizer.bin, resolved; empty: none
    std::string shape;      // synthesize this shape when `path` is missing; empty: never
    uint64_t seed = 1;      // seed of the synthetic weights
    std::string pointer;    // "/models/0", for messages
};

struct BackendEntry {
    std::string name;          // registry name ("openmp")
    std::vector<int> threads;  // empty: the config's top-level threads
    std::string xclbin;        // resolved; empty: the top-level xclbin
    bool fused = true;
    std::string pointer;  // "/backends/2"
};

// A published figure shown beside the measurements (never measured here).
struct PublishedEntry {
    std::string name;       // "ZCU106 HLS kernel (published)"
    std::string backend;    // short label used in tables ("zcu106-hls")
    std::string model;      // shape name the figure is for ("stories15M")
    std::string precision;  // "fp32"
    double tok_s = 0;
    int tokens = 0;        // 0: not given
    double seconds = 0;    // 0: not given
    std::string source;    // where the number comes from
};

struct RunConfig {
    std::string file;  // the config file as given
    std::string dir;   // its folder: relative paths inside resolve against it
    std::string name;
    std::string description;
    std::vector<ModelEntry> models;
    std::vector<BackendEntry> backends;
    std::vector<std::string> precisions;  // "fp32", "int8"
    std::vector<int> threads;
    // The points (docs/config.md), as llama-bench's tests, at each depth of depth_tokens:
    // prompt_tokens x generate_tokens combined ("pp32+tg64", llama-bench's -pg), then a
    // prefill-only point per pp_tokens ("pp128", -p) and a decode-only one per tg_tokens
    // ("tg64", -n). Without any of the four, the combined [32] x [64].
    std::vector<int> prompt_tokens;    // "prompt_tokens"
    std::vector<int> generate_tokens;  // "generate_tokens"
    std::vector<int> pp_tokens;        // "n_prompt"
    std::vector<int> tg_tokens;        // "n_gen"
    std::vector<int> depth_tokens;     // "n_depth" (or "depth"), default [0]
    std::string depth_key = "n_depth";  // as written
    std::string prompt;  // text encoded for the prompt when a tokenizer is present
    int warmup = 1;
    int repetitions = 3;
    int correctness_steps = 32;
    std::string board;   // resolved; empty: none
    std::string xclbin;  // resolved; empty: none
    std::vector<PublishedEntry> published;
    std::vector<PeerEntry> peers;  // other programs measured beside the sweep (bench/peers.hpp)
    std::string out;        // resolved output folder
    nlohmann::json source;  // the file's JSON as read, copied into the results
    std::string text;       // the file's text, as written (key order and all)
};

// Precisions a config may name, and whether this build can run them. The one switch to
// flip when int8 lands.
const std::vector<std::string>& known_precisions();
std::optional<std::string> precision_unsupported_reason(const std::string& precision);

// Parses and checks `text` as the contents of the config file `file`.
RunConfig parse_config(const std::string& text, const std::string& file);
RunConfig load_config(const std::string& file);  // reads the file, then parse_config

// edit_distance and nearest_name ("did you mean") are in core/nearest_name.hpp.

// "line L, column C" of the 1-based byte offset nlohmann reports in a parse_error.
struct TextPosition {
    int line = 1;
    int column = 1;
};
TextPosition position_of_byte(const std::string& text, size_t byte);

}  // namespace lhb::bench
