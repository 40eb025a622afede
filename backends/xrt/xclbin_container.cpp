#include "backends/xrt/xclbin_container.hpp"

#include <cstdint>
#include <cstring>

namespace lhb::xrt_backend {

// The axlf layout (XRT's xclbin.h): a 496-byte struct axlf holding a 152-byte header at
// byte 304 (m_length at header byte 0, m_numSections at 144) and the first of
// m_numSections 40-byte section headers (offset at 24, size at 32).
std::string xclbin_container_problem(const std::string& bytes) {
    constexpr size_t kAxlf = 496, kHeader = 304, kSection = 40;
    auto u32 = [&](size_t off) { uint32_t v; std::memcpy(&v, bytes.data() + off, 4); return v; };
    auto u64 = [&](size_t off) { uint64_t v; std::memcpy(&v, bytes.data() + off, 8); return v; };
    if (bytes.size() < kAxlf) return "shorter than an xclbin header (" + std::to_string(bytes.size()) + " bytes)";
    if (std::memcmp(bytes.data(), "xclbin2", 8) != 0) return "no xclbin2 magic";
    const uint64_t length = u64(kHeader);
    if (length != bytes.size())
        return "header says " + std::to_string(length) + " bytes, file has " + std::to_string(bytes.size());
    const uint32_t sections = u32(kHeader + 144);
    const size_t first = kHeader + 152;
    if (sections == 0 || sections > (bytes.size() - first) / kSection) return "bad section count " + std::to_string(sections);
    for (uint32_t i = 0; i < sections; ++i) {
        const size_t h = first + i * kSection;
        const uint64_t off = u64(h + 24), size = u64(h + 32);
        if (off > bytes.size() || size > bytes.size() - off)
            return "section " + std::to_string(i) + " runs past the end of the file";
    }
    return "";
}

}  // namespace lhb::xrt_backend
