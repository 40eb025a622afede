#include <cstring>

#include "backends/openmp/batch_kernels.hpp"

// Built like kernels.cpp (-ffp-contract=fast, -march=native under LHB_NATIVE): `acc += w *
// x` below becomes one FMA per lane.

namespace lhb::openmp {

namespace {

// 16 floats as one value (GCC/Clang vector extension): one AVX-512 register where the target
// has them, two AVX2 or four SSE registers otherwise; the same source for every ISA.
typedef float V16 __attribute__((vector_size(64)));
constexpr int kLanes = 16;

// Rows per register tile, for V vectors of 16 tokens: R * V accumulators, which with
// AVX-512's 32 registers leaves room for the V token vectors of a column and the
// broadcast weight; a target with 16 narrower registers gets fewer rows.
#if defined(__AVX512F__)
constexpr int kRowsFor1 = 16, kRowsFor2 = 8;
#else
constexpr int kRowsFor1 = 4, kRowsFor2 = 2;
#endif

// R rows x (V * 16) tokens: for each column k, the V vectors of the tokens' x[k] are loaded
// once and each row's w[r][k] is multiplied into all of them: acc[r][v] lane l is token
// 16v + l's sum for row r, one multiply-add after the other in column order.
template <int R, int V>
void rows_tile(float* out, int64_t out_stride, const float* w, int64_t cols, const float* x_t, int width, int n) {
    V16 acc[R][V];
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < V; ++v) acc[r][v] = V16{};
    for (int64_t k = 0; k < cols; ++k) {
        V16 xv[V];
        for (int v = 0; v < V; ++v) std::memcpy(&xv[v], x_t + k * width + kLanes * v, sizeof(V16));
        for (int r = 0; r < R; ++r) {
            const float wk = w[r * cols + k];
            for (int v = 0; v < V; ++v) acc[r][v] += wk * xv[v];
        }
    }
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < V; ++v) {
            float lanes[kLanes];
            std::memcpy(lanes, &acc[r][v], sizeof lanes);
            for (int l = 0; l < kLanes && kLanes * v + l < n; ++l) out[(kLanes * v + l) * out_stride + r] = lanes[l];
        }
}

template <int V, int R>
void rows_all(float* out, int64_t out_stride, const float* w, int cols, const float* x_t, int width, int n, int rows) {
    int r = 0;
    for (; r + R <= rows; r += R) rows_tile<R, V>(out + r, out_stride, w + int64_t(r) * cols, cols, x_t, width, n);
    for (; r < rows; ++r) rows_tile<1, V>(out + r, out_stride, w + int64_t(r) * cols, cols, x_t, width, n);
}

}  // namespace

int f32_block_width(int n) { return n <= kLanes ? kLanes : 2 * kLanes; }

void transpose_block(float* x_t, const float* x, int n, int cols, int width) {
    for (int k = 0; k < cols; ++k) {
        float* col = x_t + int64_t(k) * width;
        for (int t = 0; t < n; ++t) col[t] = x[int64_t(t) * cols + k];
        for (int t = n; t < width; ++t) col[t] = 0.0f;
    }
}

void matmul_f32_block(float* out, int64_t out_stride, const float* w, const float* x_t, int n, int width, int cols,
                      int row_begin, int row_end) {
    const float* w0 = w + int64_t(row_begin) * cols;
    const int rows = row_end - row_begin;
    if (width == kLanes) rows_all<1, kRowsFor1>(out, out_stride, w0, cols, x_t, width, n, rows);
    else rows_all<2, kRowsFor2>(out, out_stride, w0, cols, x_t, width, n, rows);
}

}  // namespace lhb::openmp
