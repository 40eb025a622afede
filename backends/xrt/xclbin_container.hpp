#pragma once
// The axlf container of an xclbin, checked before XRT's own parser sees the file: XRT
// trusts the container, and a truncated file or a section pointing past the end crashes it.
// No XRT here, so the check is fuzzed (fuzz/fuzz_xclbin.cpp) and tested without a board.
#include <string>

namespace lhb::xrt_backend {

// An empty string when the container is sound (magic, length, section table and every
// section inside the file), else what is wrong, for "not a valid xclbin (...)".
std::string xclbin_container_problem(const std::string& bytes);

}  // namespace lhb::xrt_backend
