// Fuzz target: the results reader of `bench report` and `bench compare` (bench/results.cpp:
// load_results, the markdown table and the CSV; bench/compare.cpp: compare_results and its
// table).
//
// The input is one results.json, or two separated by a NUL byte (A, then B for compare; a
// single document is compared with itself). A file that is not a readable results document
// must end in lhb::InputError (one line naming the file); any other exception, a crash or
// a sanitizer report (e.g. nlohmann's assertion on a missing key read through a const
// json) is a finding.
#include <cstdint>
#include <cstring>
#include <string>

#include "bench/results.hpp"
#include "core/error.hpp"
#include "fuzz/fuzz_support.hpp"
#if __has_include("bench/compare.hpp")
#include "bench/compare.hpp"
#define LHB_FUZZ_HAVE_COMPARE 1
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static lhb::fuzz::MemFile file_a("lhb-fuzz-results-a");
    static lhb::fuzz::MemFile file_b("lhb-fuzz-results-b");
    const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
    const size_t size_a = nul ? size_t(nul - data) : size;
    file_a.assign(data, size_a);
    if (nul) file_b.assign(nul + 1, size - size_a - 1);
    else file_b.assign(data, size);
    try {
        const nlohmann::json a = lhb::bench::load_results(file_a.path());
        (void)lhb::bench::results_markdown(a);
        (void)lhb::bench::results_csv(a);
        const nlohmann::json b = lhb::bench::load_results(file_b.path());
#ifdef LHB_FUZZ_HAVE_COMPARE
        const lhb::bench::Comparison c = lhb::bench::compare_results(a, b);
        (void)lhb::bench::comparison_markdown(c, "A.json", "B.json");
#endif
    } catch (const lhb::InputError&) {
    }
    return 0;
}
