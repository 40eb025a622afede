#include "backends/xrt/xclbin_check.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <iterator>
#include <fstream>

#include <experimental/xrt_xclbin.h>
#include <xrt/xrt_device.h>

#include "backends/xrt/xclbin_container.hpp"
#include "backends/xrt/xrt_names.hpp"
#include "core/error.hpp"
#include "core/input_file.hpp"

namespace lhb::xrt_backend {

std::string xclbin_path(const BackendOptions& options) {
    if (!options.xclbin.empty()) return options.xclbin;
    const char* env = std::getenv(kXclbinEnv);
    return env ? std::string(env) : std::string();
}

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
    if (std::string why = xclbin_container_problem(bytes); !why.empty())
        throw InputError("xclbin " + path + ": not a valid xclbin (" + why + ")");
    XclbinInfo info;
    info.path = path;
    try {
        xrt::xclbin x(path);
        for (const auto& k : x.get_kernels()) info.kernels.push_back(k.get_name());
    } catch (const std::exception& e) {
        throw InputError("xclbin " + path + ": not a valid xclbin (" + e.what() + ")");
    }
    // On the embedded boards the per-op kernels are an xclbin of their own (llama_ops.xclbin,
    // kernels/vitis/<board>_ops.cfg): llama_forward and all six do not fit one XCZU7EV.
    if (per_op) {
        for (const char* k : kOpKernels)
            if (!info.has(k))
                throw InputError("xclbin " + path + ": has no " + k +
                                 " kernel, needed for per-op mode (llama_ops.xclbin from make -C kernels/vitis)");
    } else if (!info.has(kForwardKernel)) {
        throw InputError("xclbin " + path + ": has no " + kForwardKernel +
                         " kernel; expected llama.xclbin built from kernels/vitis (make -C kernels/vitis)");
    }
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
