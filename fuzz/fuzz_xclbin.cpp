// The xclbin container check (backends/xrt/xclbin_container.hpp) that stands between a
// file and XRT's parser: it must never read outside the bytes, and what it passes must be
// what XRT may trust, every section inside the file.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "backends/xrt/xclbin_container.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    if (!lhb::xrt_backend::xclbin_container_problem(bytes).empty()) return 0;
    // Passed: the invariants XRT relies on, checked again independently.
    uint64_t length = 0;
    uint32_t sections = 0;
    std::memcpy(&length, data + 304, 8);
    std::memcpy(&sections, data + 304 + 144, 4);
    if (size < 496 || length != size || sections == 0 || 456 + uint64_t(sections) * 40 > size) std::abort();
    for (uint32_t i = 0; i < sections; ++i) {
        uint64_t off = 0, len = 0;
        std::memcpy(&off, data + 456 + 40 * i + 24, 8);
        std::memcpy(&len, data + 456 + 40 * i + 32, 8);
        if (off > size || len > size - off) std::abort();
    }
    return 0;
}
