#pragma once
// openmp's single-thread vector kernels. The threading lives in openmp.cpp; these work on
// one slice of rows or one vector. Built with AVX-512 intrinsics when the compiler targets
// AVX-512F (LHB_NATIVE on an AVX-512 host), with plain loops the compiler vectorizes
// otherwise. Sums are reordered (several partial sums) and may use FMA, so results differ
// from cpu-ref in the last bits; core/correctness.cpp holds the tolerances.
#include <cstdint>

namespace lhb::openmp {

// "avx512" or "portable": which implementation this build uses.
const char* kernel_isa();

// out[r - row_begin] = dot(w[r], x) for rows r in [row_begin, row_end) of a row-major
// [rows][cols] matrix. When `add` is set, out[...] += instead (a fused residual add).
void matvec_rows(float* out, const float* w, const float* x, int cols, int row_begin, int row_end,
                 bool add);

float dot(const float* a, const float* b, int n);
float sum_of_squares(const float* x, int n);
// out[i] += a * v[i]
void axpy(float* out, float a, const float* v, int n);

}  // namespace lhb::openmp
