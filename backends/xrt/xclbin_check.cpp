#include "backends/xrt/xclbin_check.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <iterator>
#include <fstream>

#include <experimental/xrt_xclbin.h>
#include <xrt/xrt_device.h>

#include "backends/xrt/xrt_names.hpp"
#include "core/error.hpp"
#include "core/input_file.hpp"

namespace lhb::xrt_backend {

std::string xclbin_path(const BackendOptions& options) {
    if (!options.xclbin.empty()) return options.xclbin;
    const char* env = std::getenv(kXclbinEnv);
    return env ? std::string(env) : std::string();
}

namespace {

// XRT's own parser trusts the container: a truncated file or a section pointing past the
// end crashes it. So the axlf container (XRT's xclbin.h: a 496-byte struct axlf holding a
// 152-byte header at byte 304 and the first of m_numSections 40-byte section headers) is
// checked here first (m_length at header byte 0, m_numSections at 144). Returns an empty
// string when sound, else what is wrong.
std::string container_problem(const std::string& bytes) {
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

}  // namespace

bool XclbinInfo::has(const std::string& name) const {
    for (const std::string& k : kernels)
        if (k == name) return true;
    return false;
}

XclbinInfo inspect_xclbin(const std::string& path, bool per_op) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw InputError("xclbin " + path + ": no such file");
    if (!S_ISREG(st.st_mode) || !std::ifstream(path).good())
        throw InputError("xclbin " + path + ": not a readable file");
    const std::string bytes = read_input_file(path, 2ull << 30, "xclbin");  // bounded; a real one is ~100 MB
    if (std::string why = container_problem(bytes); !why.empty())
        throw InputError("xclbin " + path + ": not a valid xclbin (" + why + ")");
    XclbinInfo info;
    info.path = path;
    try {
        xrt::xclbin x(path);
        for (const auto& k : x.get_kernels()) info.kernels.push_back(k.get_name());
    } catch (const std::exception& e) {
        throw InputError("xclbin " + path + ": not a valid xclbin (" + e.what() + ")");
    }
    if (!info.has(kForwardKernel))
        throw InputError("xclbin " + path + ": has no " + kForwardKernel +
                         " kernel; expected one built from kernels/vitis (make -C kernels/vitis)");
    if (per_op)
        for (const char* k : kOpKernels)
            if (!info.has(k))
                throw InputError("xclbin " + path + ": has no " + k + " kernel, needed for per-op mode");
    return info;
}

Availability availability(const BackendOptions& options) {
    // With XCL_EMULATION_MODE set XRT exits the process instead of throwing, and emulation
    // needs Vitis anyway.
    if (const char* emu = std::getenv("XCL_EMULATION_MODE"); emu && *emu)
        return {false, std::string("XCL_EMULATION_MODE=") + emu + " is set: emulation needs Vitis; unset it"};
    const std::string path = xclbin_path(options);
    if (path.empty())
        return {false, std::string("no xclbin given (--xclbin FILE, the config's \"xclbin\", or ") + kXclbinEnv + ")"};
    try {
        inspect_xclbin(path, !options.fused);
    } catch (const InputError& e) {
        return {false, e.what()};
    }
    try {
        xrt::device device(0u);
    } catch (const std::exception& e) {
        return {false, std::string("no device: ") + e.what()};
    }
    return {};
}

}  // namespace lhb::xrt_backend
