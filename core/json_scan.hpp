#pragma once
// A structural pre-scan of a JSON text, run before any parser sees it. It walks the text
// once with an explicit stack (no recursion) and refuses, with "WHERE:LINE:COL: reason":
// nesting deeper than a limit (so that nothing which later walks, dumps or destroys the
// parsed document recursively can overflow the stack), a text longer than a limit, and an
// object with the same key twice (the parsers keep one silently; which one is an accident).
// Syntax errors are left to the parser, which reports them better.
#include <cstdint>
#include <string>

namespace lhb {

// The nesting depth any structured input may have (JSON here; the GGUF reader's nested
// metadata arrays use the same bound).
constexpr int kMaxNestingDepth = 64;

struct JsonLimits {
    int max_depth = kMaxNestingDepth;     // arrays and objects open at once
    uint64_t max_bytes = 256ull << 20;
};

void scan_json(const std::string& text, const std::string& where, const JsonLimits& limits = {});

// A JSON input file's text: a regular file of at most max_bytes (core/input_file.hpp),
// scanned as above. `what` names it in messages ("config file", "board file", ...).
std::string read_json_file(const std::string& path, uint64_t max_bytes, const std::string& what);

}  // namespace lhb
