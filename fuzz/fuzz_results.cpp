// Fuzz target: the results reader of `bench report` (bench/results.cpp: load_results, then
// the markdown table and the CSV made from what was read).
//
// The input is a results.json file. A file that is not a readable results document must
// end in lhb::InputError (one line naming the file); any other exception, a crash or a
// sanitizer report (e.g. nlohmann's assertion on a missing key read through a const json)
// is a finding.
#include <cstdint>
#include <string>

#include "bench/results.hpp"
#include "core/error.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static lhb::fuzz::MemFile file("lhb-fuzz-results");
    file.assign(data, size);
    try {
        const nlohmann::json results = lhb::bench::load_results(file.path());
        (void)lhb::bench::results_markdown(results);
        (void)lhb::bench::results_csv(results);
    } catch (const lhb::InputError&) {
    }
    return 0;
}
