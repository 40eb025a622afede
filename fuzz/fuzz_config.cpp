// Fuzz target: the `bench run` config parser (bench/config.cpp, parse_config).
//
// The input is the file's text. The config is parsed as if it were configs/fuzz.json in
// this checkout, so the relative model paths of the real configs resolve as they do for
// `bench run`. Every mistake must end in lhb::InputError (one line naming the file and the
// field); any other exception (nlohmann's type errors, std::filesystem errors), a crash or
// a sanitizer report is a finding.
#include <cstdint>
#include <string>

#include "bench/config.hpp"
#include "core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string file = std::string(LHB_ROOT) + "/configs/fuzz.json";
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        lhb::bench::RunConfig cfg = lhb::bench::parse_config(text, file);
        (void)cfg;
    } catch (const lhb::InputError&) {
    }
    return 0;
}
