#pragma once
// Checks that need no device: where the xclbin is, whether it parses, and which of our
// kernels it holds. XRT is only touched inside xclbin_check.cpp.
#include <string>
#include <vector>

#include "core/registry.hpp"

namespace lhb::xrt_backend {

// The xclbin named by the options, else $LHB_XCLBIN; empty when neither.
std::string xclbin_path(const BackendOptions& options);

struct XclbinInfo {
    std::string path;
    std::vector<std::string> kernels;  // kernel names in the xclbin
    bool has(const std::string& name) const;
};

// Throws InputError naming the file: missing, unreadable, not an xclbin, or without
// llama_forward (when `per_op`: without every op_* kernel instead).
XclbinInfo inspect_xclbin(const std::string& path, bool per_op);

// The whole availability check, in the order a user can act on: emulation mode set, no
// xclbin, a bad xclbin, no device. Never lets XRT exit the process.
Availability availability(const BackendOptions& options);

}  // namespace lhb::xrt_backend
