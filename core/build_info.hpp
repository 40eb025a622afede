#pragma once
// How this binary was built, for the environment section of results. The values come
// from compile definitions set on lhb_core by the top-level CMakeLists.txt.
namespace lhb {

const char* build_compiler();  // "GNU 12.2.0"
const char* build_flags();     // "-O3 -ffp-contract=off (openmp: -march=native)"
const char* build_version();   // the project version, "0.1.0"

}  // namespace lhb
