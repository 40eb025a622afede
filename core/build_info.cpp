#include "core/build_info.hpp"

#ifndef LHB_COMPILER
#define LHB_COMPILER "unknown"
#endif
#ifndef LHB_BUILD_FLAGS
#define LHB_BUILD_FLAGS "unknown"
#endif
#ifndef LHB_VERSION
#define LHB_VERSION "unknown"
#endif

namespace lhb {

const char* build_compiler() { return LHB_COMPILER; }
const char* build_flags() { return LHB_BUILD_FLAGS; }
const char* build_version() { return LHB_VERSION; }

}  // namespace lhb
