#include "backends/openmp/openmp.hpp"

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "backends/openmp/batch_kernels.hpp"
#include "backends/openmp/exact_attention.hpp"
#include "backends/openmp/ggml_kernels.hpp"
#include "backends/openmp/kernels.hpp"
#include "core/error.hpp"
#include "core/exact_ops.hpp"
#include "core/registry.hpp"

namespace lhb {

using openmp::axpy;
using openmp::dot;
using openmp::GgmlVector;
using openmp::matvec_ggml;
using openmp::matvec_q8;
using openmp::matvec_rows;
using openmp::q8_packed_bytes;
using openmp::Q8Vector;
using openmp::quantize_q8;
using openmp::sum_of_squares;

namespace {

// Below this many weights (256 KiB of fp32) a matmul is faster on one thread than the
// fork/join costs (a few microseconds on an idle machine, far more on a busy one).
constexpr int64_t kParallelMatmulMin = 1 << 16;
// Below this much attention work (positions x query dims) one thread does all heads.
constexpr int64_t kParallelAttentionMin = 1 << 13;
// A block's matmul goes parallel from this many multiply-adds (weights x tokens): with
// fewer, one thread finishes sooner than a fork/join on a shared machine.
constexpr int64_t kParallelBatchMin = 1 << 20;

// Thread `part` of `parts` gets rows [lo, hi): equal shares with boundaries on multiples
// of `align` (fp32: 4, the matvec kernel's row group; int8: 16, a tile; both even, as
// RoPE's pairs need).
struct Range {
    int lo, hi;
    int size() const { return hi - lo; }
};
Range share(int n, int parts, int part, int align) {
    auto edge = [&](int p) { return p >= parts ? n : int(int64_t(n) * p / parts) / align * align; };
    return {edge(part), edge(part + 1)};
}

void rmsnorm_into(float* out, const float* x, const float* weight, int n, float eps) {
    float ss = sum_of_squares(x, n);
    ss /= n;
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < n; j++) out[j] = weight[j] * (ss * x[j]);
}

// One query head of attention: scores over positions 0..pos, softmax, weighted sum of values.
void attend_head(int h, float* out, const float* q, const float* key_cache, const float* value_cache,
                 float* att, int pos, const AttentionShape& s) {
    const int kv_off = (h / (s.n_heads / s.n_kv_heads)) * s.head_size;
    const float* qh = q + h * s.head_size;
    const float scale = sqrtf(float(s.head_size));
    for (int t = 0; t <= pos; t++)
        att[t] = dot(qh, key_cache + int64_t(t) * s.kv_dim + kv_off, s.head_size) / scale;
    exact::softmax(att, pos + 1);
    float* xb = out + h * s.head_size;
    std::memset(xb, 0, size_t(s.head_size) * sizeof(float));
    for (int t = 0; t <= pos; t++) axpy(xb, att[t], value_cache + int64_t(t) * s.kv_dim + kv_off, s.head_size);
}

// Slices of 4 tiles (64 rows) of a matrix's packed parts, in order: small enough to stay
// in cache while every token of a block reads them. Parts: Q8Part (lo, hi, offset).
struct TileSlice {
    const unsigned char* tiles;
    int lo, rows;
};
template <class Parts>
std::vector<TileSlice> tile_slices(const Parts& parts, const unsigned char* base, int64_t tile_bytes) {
    constexpr int kSliceRows = 4 * openmp::kQ8TileRows;  // GGUF tiles have as many rows
    std::vector<TileSlice> slices;
    for (const auto& pt : parts)
        for (int lo = pt.lo; lo < pt.hi; lo += kSliceRows)
            slices.push_back({base + pt.offset + size_t((lo - pt.lo) / openmp::kQ8TileRows * tile_bytes), lo, std::min(kSliceRows, pt.hi - lo)});
    return slices;
}

// GGUF Q8_0 and Q4_0 matrices are packed as tiles (ggml_kernels.hpp); other GGUF types are
// read where the file maps them.
bool ggml_tiles(const WeightMatrix& m) { return m.dtype == DType::Ggml && openmp::ggml_tiled(m.ggml_type); }

bool any_ggml_tiles(const ModelWeights& w) {
    bool any = ggml_tiles(w.wcls);
    for (const LayerWeights& L : w.layers)
        for (const WeightMatrix* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w1, &L.w2, &L.w3}) any = any || ggml_tiles(*m);
    return any;
}

// Bytes of rows r of m in the packed layout: fp32 rows as they are, int8 and GGUF Q8_0/Q4_0
// as tiles; other GGUF blocks are not packed.
size_t packed_bytes(const WeightMatrix& m, Range r, bool pack_fp32) {
    if (m.dtype == DType::F32) return pack_fp32 ? size_t(r.size()) * size_t(m.cols) * sizeof(float) : 0;
    if (ggml_tiles(m)) return size_t(openmp::ggml_packed_bytes(m.ggml_type, r.size(), m.cols));
    if (m.dtype == DType::Ggml) return 0;
    return size_t(q8_packed_bytes(r.size(), m.cols, m.group_size));
}

}  // namespace

OpenMpBackend::OpenMpBackend(int threads, bool fused, int64_t min_bytes_per_thread)
    : threads_(threads > 0 ? threads : omp_get_max_threads()),
      fused_(fused),
      min_bytes_per_thread_(min_bytes_per_thread) {}

void OpenMpBackend::set_q8_kernel(openmp::Q8Kernel k) {
    if (!openmp::q8_kernel_supported(k))
        throw std::invalid_argument(std::string("openmp: this CPU cannot run the ") + openmp::q8_kernel_name(k) +
                                    " int8 kernel");
    q8_kernel_ = k;
}

void OpenMpBackend::load(const Model& model) {
    Backend::load(model);
    const ModelConfig& c = model.config();
    const bool q8 = model.dtype() == DType::Q8_0;
    local_stride_ = (c.dim + 15) / 16 * 16;
    const int64_t per_thread = std::max<int64_t>(1, min_bytes_per_thread_);
    forward_threads_ = int(std::clamp<int64_t>(model.weight_bytes_per_token() / per_thread, 1, threads_));
    local_xb_.assign(size_t(forward_threads_) * size_t(local_stride_), 0.f);
    rope_cos_.assign(size_t(c.head_size() / 2), 0.f);
    rope_sin_.assign(size_t(c.head_size() / 2), 0.f);
    const bool tiles = any_ggml_tiles(model.weights());
    row_align_ = q8 || tiles ? openmp::kQ8TileRows : 4;
    // GGUF types quantize their inputs too, so they also take llama2.c's exact fp32 ops.
    exact_ = q8 || !first_ggml_weight(model.weights()).empty();
    thread_gx_.assign(size_t(forward_threads_), GgmlVector{});
    key_t_.assign(exact_ ? size_t(c.n_layers) * size_t(c.kv_dim()) * size_t(c.seq_len) : 0, 0.f);
    key_t_valid_ = 0;
    thread_xq_.clear();
    thread_hq_.clear();
    q8_parts_.clear();
    packed_.reset();
    packed_begin_.clear();
    if (q8) {
        const int gs = model.weights().wcls.group_size;
        thread_xq_.resize(size_t(forward_threads_));
        thread_hq_.resize(size_t(forward_threads_));
        for (int t = 0; t < forward_threads_; ++t) {
            thread_xq_[size_t(t)].reset(c.dim, gs);
            thread_hq_[size_t(t)].reset(c.hidden_dim, gs);
        }
    }
    // int8 and GGUF Q8_0/Q4_0 matrices are only read as tiles, so they are packed for the
    // op-by-op path too.
    if (fused_ || q8 || tiles) pack_weights();
}

void OpenMpBackend::FreeDeleter::operator()(unsigned char* p) const { std::free(p); }

// Thread t's block: for each layer wq, wk, wv, wo, w1, w3, w2 (its rows of each), then its
// rows of the classifier. forward_fused() walks it in exactly this order.
void OpenMpBackend::pack_weights() {
    const ModelConfig& c = model_->config();
    const ModelWeights& w = model_->weights();
    const int nt = forward_threads_, al = row_align_;
    const size_t align = size_t(2) << 20;  // a huge page
    // Calls fn(matrix, rows) for thread t's rows of each matrix, in the pass's order.
    auto each_matrix = [&](int t, auto&& fn) {
        const Range rd = share(c.dim, nt, t, al), rkv = share(c.kv_dim(), nt, t, al);
        const Range rh = share(c.hidden_dim, nt, t, al);
        for (const LayerWeights& L : w.layers) {
            fn(L.wq, rd);
            fn(L.wk, rkv);
            fn(L.wv, rkv);
            fn(L.wo, rd);
            fn(L.w1, rh);
            fn(L.w3, rh);
            fn(L.w2, rd);
        }
        fn(w.wcls, share(c.vocab_size, nt, t, al));
    };
    packed_begin_.assign(size_t(nt) + 1, 0);
    q8_parts_.assign(size_t(WeightId::count(c.n_layers)), {});
    for (int t = 0; t < nt; ++t) {
        size_t used = 0;
        each_matrix(t, [&](const WeightMatrix& m, Range r) {
            if (m.dtype == DType::Q8_0 || ggml_tiles(m)) {
                std::vector<Q8Part>& parts = q8_parts_[size_t(m.id.index())];
                parts.resize(size_t(nt));
                parts[size_t(t)] = Q8Part{packed_begin_[size_t(t)] + used, r.lo, r.hi};
            }
            used += packed_bytes(m, r, pack_fp32_);
        });
        packed_begin_[size_t(t) + 1] = packed_begin_[size_t(t)] + (used + align - 1) / align * align;
    }
    const size_t total = packed_begin_[size_t(nt)];
    if (total == 0) return;  // nothing to pack (every matrix is read from the file's blocks)
    packed_.reset(static_cast<unsigned char*>(std::aligned_alloc(align, std::max<size_t>(total, align))));
    if (!packed_)
        throw InputError(model_->path() + ": openmp: not enough memory for the packed weights (" +
                         std::to_string(total >> 20) + " MiB)");
    madvise(packed_.get(), total, MADV_HUGEPAGE);  // a hint; without it, 4 KiB pages

    // Each thread copies (and so first touches) its own block.
#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num();
        // (a short team leaves the missing threads' blocks to the threads that came)
        for (int part = t; part < nt; part += omp_get_num_threads()) {
            unsigned char* dst = packed_.get() + packed_begin_[size_t(part)];
            each_matrix(part, [&](const WeightMatrix& m, Range r) {
                if (m.dtype == DType::F32 && pack_fp32_)
                    std::memcpy(dst, m.f32 + int64_t(r.lo) * m.cols, packed_bytes(m, r, true));
                else if (m.dtype == DType::Q8_0)
                    pack_q8_and_release(m, r.lo, r.hi, dst);
                else if (ggml_tiles(m))
                    pack_ggml_and_release(m, r.lo, r.hi, dst);
                dst += packed_bytes(m, r, pack_fp32_);
            });
        }
    }
}

// The tiles are the only copy of an int8 matrix that this backend reads (op by op too), so
// the file's pages of these rows leave the resident set as they are packed, about 1 MiB at
// a time: the weights are not held twice, not even halfway through load(). (Someone else
// reading the file's weights later, cpu-ref in the same process say, maps the pages back.)
void OpenMpBackend::pack_q8_and_release(const WeightMatrix& m, int lo, int hi, unsigned char* dst) {
    const int step = std::max(1, (1 << 20) / std::max(1, m.cols) / openmp::kQ8TileRows) * openmp::kQ8TileRows;
    for (int a = lo; a < hi; a += step) {
        const int b = std::min(hi, a + step);
        openmp::pack_q8_rows(m, a, b, dst);
        dst += q8_packed_bytes(b - a, m.cols, m.group_size);
        const int64_t first = int64_t(a) * m.cols, end = int64_t(b) * m.cols;
        model_->release_pages(m.q + first, size_t(end - first));
        const int64_t g0 = first / m.group_size, g1 = end / m.group_size;  // whole groups of these rows
        model_->release_pages(m.scales + g0, size_t(g1 - g0) * sizeof(float));
    }
}

// GGUF Q8_0/Q4_0 likewise: the tiles hold the file's bytes regrouped (ggml_kernels.hpp), so
// the resident weights stay the file's size.
void OpenMpBackend::pack_ggml_and_release(const WeightMatrix& m, int lo, int hi, unsigned char* dst) {
    const size_t stride = row_bytes(m.ggml_type, size_t(m.cols));
    const int step = std::max<int>(1, int((1 << 20) / stride) / openmp::kQ8TileRows) * openmp::kQ8TileRows;
    for (int a = lo; a < hi; a += step) {
        const int b = std::min(hi, a + step);
        openmp::pack_ggml_rows(m, a, b, dst);
        dst += openmp::ggml_packed_bytes(m.ggml_type, b - a, m.cols);
        model_->release_pages(m.blocks + size_t(a) * stride, size_t(b - a) * stride);
    }
}

// An int8 (or GGUF Q8_0/Q4_0) classifier shared with the embedding is in the tiles, and the file's pages of it
// were released: a token's row comes from the tiles (the same values), so decoding does not
// map the table back page by page (each fault maps its neighbours too: fault-around).
void OpenMpBackend::embedding_row(int token, float* out) const {
    const ModelWeights& w = model_->weights();
    const int dim = model_->config().dim;
    const bool shared = model_->config().shared_classifier &&
                        (w.wcls.dtype == DType::Q8_0 ||
                         (ggml_tiles(w.wcls) && w.token_embedding == nullptr && w.embedding_blocks.blocks == w.wcls.blocks));
    const bool in_tiles = shared && !q8_parts_.empty() && !q8_parts_[size_t(w.wcls.id.index())].empty();
    if (in_tiles)
        for (const Q8Part& part : q8_parts_[size_t(w.wcls.id.index())])
            if (token >= part.lo && token < part.hi) {
                const unsigned char* tiles = packed_.get() + part.offset;
                if (w.wcls.dtype == DType::Q8_0)
                    return openmp::unpack_q8_row(tiles, token - part.lo, dim, w.wcls.group_size, out);
                return openmp::unpack_ggml_row(tiles, w.wcls.ggml_type, token - part.lo, dim, out);
            }
    w.embedding_row(token, dim, out);
}

void OpenMpBackend::rmsnorm(float* out, const float* x, const float* weight, int n) {
    if (exact_) return exact::rmsnorm(out, x, weight, n, norm_eps());
    rmsnorm_into(out, x, weight, n, norm_eps());
}

void OpenMpBackend::matmul(float* out, const float* x, const WeightMatrix& w) {
    if (w.dtype == DType::Q8_0) return matmul_q8(out, x, w);
    if (w.dtype == DType::Ggml) return matmul_ggml(out, x, w);
    const bool parallel = w.numel() >= kParallelMatmulMin && threads_ > 1;
#pragma omp parallel num_threads(threads_) if (parallel)
    {
        const Range r = share(w.rows, omp_get_num_threads(), omp_get_thread_num(), 4);
        matvec_rows(out + r.lo, w.f32, x, w.cols, r.lo, r.hi, false);
    }
}

// GGUF types: x converted once (quant_types' quantizer), then each thread's rows straight
// from the matrix's blocks.
void OpenMpBackend::matmul_ggml(float* out, const float* x, const WeightMatrix& w) {
    op_gx_.quantize(w.ggml_type, x, w.cols);
    const bool parallel = w.numel() >= kParallelMatmulMin && threads_ > 1;
    if (ggml_tiles(w) && model_ && model_->weights().holds(w) && !q8_parts_.empty() &&
        !q8_parts_[size_t(w.id.index())].empty()) {  // the model's Q8_0/Q4_0: its tiles, part by part
        const std::vector<Q8Part>& parts = q8_parts_[size_t(w.id.index())];
        const int n = int(parts.size());
#pragma omp parallel for num_threads(std::min(threads_, n)) schedule(static) if (parallel && n > 1)
        for (int i = 0; i < n; ++i)
            openmp::matvec_ggml_tiles(out + parts[size_t(i)].lo, packed_.get() + parts[size_t(i)].offset, w.ggml_type,
                                      op_gx_, parts[size_t(i)].hi - parts[size_t(i)].lo, false, q8_kernel_);
        return;
    }
#pragma omp parallel num_threads(threads_) if (parallel)
    {
        const Range r = share(w.rows, omp_get_num_threads(), omp_get_thread_num(), 4);
        matvec_ggml(out + r.lo, w, op_gx_, r.lo, r.hi, false, q8_kernel_);
    }
}

// int8: x quantized once, then each part's rows from its tiles. The model's matrices are
// read from the packed blocks (parts = the fused pass's thread shares); any other matrix
// (the correctness check draws its own) is packed into op_tiles_ first.
const std::vector<OpenMpBackend::Q8Part>& OpenMpBackend::q8_tiles(const WeightMatrix& w, std::vector<Q8Part>& own,
                                                                   const unsigned char** base) {
    if (model_ && model_->weights().holds(w) && !q8_parts_.empty() && !q8_parts_[size_t(w.id.index())].empty()) {
        *base = packed_.get();
        return q8_parts_[size_t(w.id.index())];
    }
    op_tiles_.resize(size_t(q8_packed_bytes(w.rows, w.cols, w.group_size)));
    openmp::pack_q8_rows(w, 0, w.rows, op_tiles_.data());
    *base = op_tiles_.data();
    const int64_t tile = openmp::q8_tile_bytes(w.cols, w.group_size);
    own.clear();
    for (int t = 0; t < threads_; ++t) {
        const Range r = share(w.rows, threads_, t, openmp::kQ8TileRows);
        own.push_back(Q8Part{size_t(r.lo / openmp::kQ8TileRows * tile), r.lo, r.hi});
    }
    return own;
}

void OpenMpBackend::matmul_q8(float* out, const float* x, const WeightMatrix& w) {
    op_xq_.reset(w.cols, w.group_size);
    quantize_q8(x, op_xq_, q8_kernel_);
    const unsigned char* base = nullptr;
    std::vector<Q8Part> own;
    const std::vector<Q8Part>* parts = &q8_tiles(w, own, &base);
    const int n = int(parts->size());
    const bool parallel = w.numel() >= kParallelMatmulMin && threads_ > 1 && n > 1;
#pragma omp parallel for num_threads(std::min(threads_, n)) schedule(static) if (parallel)
    for (int i = 0; i < n; ++i) {
        const Q8Part& pt = (*parts)[size_t(i)];
        matvec_q8(out + pt.lo, base + pt.offset, op_xq_, pt.hi - pt.lo, false, q8_kernel_);
    }
}

void OpenMpBackend::attention(float* out, const float* q, const float* key_cache,
                              const float* value_cache, float* att, int pos,
                              const AttentionShape& s) {
    const bool parallel =
        int64_t(pos + 1) * s.n_heads * s.head_size >= kParallelAttentionMin && threads_ > 1;
    if (exact_) {
        // the exact kernel reads keys transposed: each head's are transposed first
#pragma omp parallel num_threads(threads_) if (parallel)
        {
            std::vector<float> key_t(size_t(s.head_size) * size_t(pos + 1));
#pragma omp for schedule(static)
            for (int h = 0; h < s.n_heads; h++) {
                const int kv_off = (h / (s.n_heads / s.n_kv_heads)) * s.head_size;
                for (int t = 0; t <= pos; t++)
                    for (int i = 0; i < s.head_size; i++)
                        key_t[size_t(i) * size_t(pos + 1) + size_t(t)] = key_cache[int64_t(t) * s.kv_dim + kv_off + i];
                openmp::exact_attend_head(out + h * s.head_size, q + h * s.head_size, key_t.data(), pos + 1,
                                          value_cache + kv_off, s.kv_dim, att + int64_t(h) * (pos + 1), pos,
                                          s.head_size);
            }
        }
        return;
    }
#pragma omp parallel for num_threads(threads_) schedule(static) if (parallel)
    for (int h = 0; h < s.n_heads; h++)
        attend_head(h, out, q, key_cache, value_cache, att + int64_t(h) * (pos + 1), pos, s);
}

float* OpenMpBackend::forward(int token, int pos) {
    // Per-op timing needs op boundaries, so a timed run goes op by op.
    if (!fused_ || op_times_) {
        key_t_valid_ = std::min(key_t_valid_, pos);  // this position's keys skip key_t_
        return Backend::forward(token, pos);
    }
    return forward_fused(token, pos);
}

// The base class's pass (a block of tokens layer by layer) through the overrides below.
// With exact attention, attention_batch brings each layer's key_t_ up to the block's last
// position (from key_t_valid_, which this first pulls back to pos: the block rewrites the
// keys from there on), so afterwards key_t_ is valid through pos + n - 1.
float* OpenMpBackend::forward_batch(const int* tokens, int n, int pos, BatchLogits which, float* all_logits) {
    key_t_valid_ = std::min(key_t_valid_, std::max(pos, 0));
    float* logits = Backend::forward_batch(tokens, n, pos, which, all_logits);
    if (!key_t_.empty()) key_t_valid_ = pos + n;
    return logits;
}

void OpenMpBackend::matmul_batch(float* out, const float* x, const WeightMatrix& w, int n) {
    if (n == 1) return matmul(out, x, w);  // decode's kernels (a block of one wastes lanes)
    for (int first = 0; first < n; first += kBatchBlock) {
        const int m = std::min(kBatchBlock, n - first);
        matmul_block(out + size_t(first) * size_t(w.rows), x + size_t(first) * size_t(w.cols), w, m);
    }
}

// One parallel region per matrix (the block's work is n times a token's, so a fork/join
// costs little): the inputs are converted per token (int8: quantized as runq.c, GGUF: as
// llama.cpp, fp32: transposed) with the tokens split across threads, then each thread
// multiplies its rows into every token's output.
void OpenMpBackend::matmul_block(float* out, const float* x, const WeightMatrix& w, int n) {
    const int rows = w.rows, cols = w.cols;
    const bool parallel = w.numel() * n >= kParallelBatchMin && threads_ > 1;
    if (w.dtype == DType::F32) {
        const int width = openmp::f32_block_width(n);
        batch_xt_.resize(size_t(cols) * size_t(width));
        openmp::transpose_block(batch_xt_.data(), x, n, cols, width);
#pragma omp parallel num_threads(threads_) if (parallel)
        {
            const Range r = share(rows, omp_get_num_threads(), omp_get_thread_num(), 16);
            openmp::matmul_f32_block(out + r.lo, rows, w.f32, batch_xt_.data(), n, width, cols, r.lo, r.hi);
        }
        return;
    }
    if (w.dtype == DType::Ggml) {
        if (batch_gx_.size() < size_t(n)) batch_gx_.resize(size_t(n));
        const bool converted = batch_input_converted(x, n, cols, 1000 + int(vec_dot_type(w.ggml_type)));
        const bool tiles = ggml_tiles(w) && model_ && model_->weights().holds(w) && !q8_parts_.empty() &&
                           !q8_parts_[size_t(w.id.index())].empty();
        const std::vector<TileSlice> slices =
            tiles ? tile_slices(q8_parts_[size_t(w.id.index())], packed_.get(), openmp::ggml_tile_bytes(w.ggml_type, cols))
                  : std::vector<TileSlice>{};
#pragma omp parallel num_threads(threads_) if (parallel)
        {
            if (!converted) {
#pragma omp for schedule(static)
                for (int t = 0; t < n; ++t) batch_gx_[size_t(t)].quantize(w.ggml_type, x + size_t(t) * size_t(cols), cols);
            }
            if (tiles) {
                // The model's Q8_0/Q4_0 are tiles (the file's pages were released): slices of
                // 4 tiles, each read from memory once and by every token from cache, through
                // decode's tile kernel (so equal to matmul() per token bit for bit).
#pragma omp for schedule(static)
                for (int i = 0; i < int(slices.size()); ++i)
                    for (int t = 0; t < n; ++t)
                        openmp::matvec_ggml_tiles(out + size_t(t) * size_t(rows) + size_t(slices[size_t(i)].lo),
                                                  slices[size_t(i)].tiles, w.ggml_type, batch_gx_[size_t(t)],
                                                  slices[size_t(i)].rows, false, q8_kernel_);
            } else {
                const Range r = share(rows, omp_get_num_threads(), omp_get_thread_num(), 8);
                openmp::matmul_ggml_block(out + r.lo, rows, w, batch_gx_.data(), n, r.lo, r.hi, q8_kernel_);
            }
        }
        return;
    }
    // int8: the packed tiles' parts cut into slices of a few tiles, shared out in order.
    if (batch_xq_.size() < size_t(n)) batch_xq_.resize(size_t(n));
    for (int t = 0; t < n; ++t) batch_xq_[size_t(t)].reset(cols, w.group_size);
    const bool converted = batch_input_converted(x, n, cols, w.group_size);
    const unsigned char* base = nullptr;
    std::vector<Q8Part> own;
    const std::vector<Q8Part>& parts = q8_tiles(w, own, &base);
    const std::vector<TileSlice> slices = tile_slices(parts, base, openmp::q8_tile_bytes(cols, w.group_size));
    const int ns = int(slices.size());
#pragma omp parallel num_threads(threads_) if (parallel)
    {
        if (!converted) {
#pragma omp for schedule(static)
            for (int t = 0; t < n; ++t) quantize_q8(x + size_t(t) * size_t(cols), batch_xq_[size_t(t)], q8_kernel_);
        }
#pragma omp for schedule(static)
        for (int i = 0; i < ns; ++i) {
            const TileSlice& sl = slices[size_t(i)];
            openmp::matmul_q8_block(out + sl.lo, rows, sl.tiles, batch_xq_.data(), n, sl.rows, q8_kernel_);
        }
    }
}

// Whether batch_xq_ / batch_gx_ already hold x[n][cols] converted for `kind`; if not,
// records that they are about to (the caller converts). fp32 blocks are not converted.
bool OpenMpBackend::batch_input_converted(const float* x, int n, int cols, int kind) {
    const size_t count = size_t(n) * size_t(cols);
    if (kind == batch_converted_for_ && cols == batch_converted_cols_ && batch_converted_.size() == count &&
        std::memcmp(batch_converted_.data(), x, count * sizeof(float)) == 0)
        return true;
    batch_converted_.assign(x, x + count);
    batch_converted_for_ = kind;
    batch_converted_cols_ = cols;
    return false;
}

// Token i of the block attends over positions 0..pos+i; the (token, head) pairs are
// interleaved over the threads (static, 1), which balances their growing lengths. Exact
// attention reads keys transposed: the model's layers from key_t_ (brought up to date
// here, see forward_batch), any other cache from a transposed copy made here.
void OpenMpBackend::attention_batch(float* out, const float* q, const float* key_cache, const float* value_cache,
                                    float* att, int pos, int n, const AttentionShape& s) {
    (void)att;  // each thread has its own scores (batch_att_)
    const int end = pos + n, items = n * s.n_heads, hs = s.head_size;
    const size_t qd = size_t(s.n_heads) * size_t(hs);
    const bool parallel = int64_t(end) * n * s.n_heads * hs >= kParallelAttentionMin && threads_ > 1;
    batch_att_.resize(size_t(threads_) * size_t(end));
    const float* kt = nullptr;  // exact: keys transposed, [kv_dim][kt_stride]
    int64_t kt_stride = 0;
    int kt_from = 0;            // positions [kt_from, end) to transpose first
    float* kt_fill = nullptr;
    if (exact_) {
        const ModelConfig& c = model_->config();
        const size_t layer_floats = size_t(c.seq_len) * size_t(c.kv_dim());
        const auto at = reinterpret_cast<uintptr_t>(key_cache), first = reinterpret_cast<uintptr_t>(state_->key_cache.data());
        const size_t layer = (at - first) / sizeof(float) / layer_floats;
        const bool own_cache = !key_t_.empty() && at >= first && s.kv_dim == c.kv_dim() && layer < size_t(c.n_layers) &&
                               key_cache == state_->key_cache.data() + layer * layer_floats;
        if (own_cache) {
            kt_fill = key_t_.data() + layer * layer_floats;
            kt_stride = c.seq_len;
            kt_from = std::min(key_t_valid_, pos);
        } else {
            batch_kt_.resize(size_t(s.kv_dim) * size_t(end));
            kt_fill = batch_kt_.data();
            kt_stride = end;
        }
        kt = kt_fill;
    }
#pragma omp parallel num_threads(threads_) if (parallel)
    {
        float* scores = batch_att_.data() + size_t(omp_get_thread_num()) * size_t(end);
        if (kt_fill) {
#pragma omp for schedule(static)
            for (int i = 0; i < s.kv_dim; i++)
                for (int t = kt_from; t < end; t++)
                    kt_fill[size_t(i) * size_t(kt_stride) + size_t(t)] = key_cache[int64_t(t) * s.kv_dim + i];
        }
#pragma omp for schedule(static, 1)
        for (int j = 0; j < items; ++j) {
            const int i = j / s.n_heads, h = j % s.n_heads;
            float* out_i = out + size_t(i) * qd;
            const float* q_i = q + size_t(i) * qd;
            if (kt) {
                const int kv_off = (h / (s.n_heads / s.n_kv_heads)) * hs;
                openmp::exact_attend_head(out_i + h * hs, q_i + h * hs, kt + int64_t(kv_off) * kt_stride, kt_stride,
                                          value_cache + kv_off, s.kv_dim, scores, pos + i, hs);
            } else {
                attend_head(h, out_i, q_i, key_cache, value_cache, scores, pos + i, s);
            }
        }
    }
}

// llama2.c's forward() in one parallel region. Each thread owns equal shares of the rows
// of every matrix; the elementwise ops ride along with the matmul rows that produce their
// inputs (RoPE after q/k, the residual add into x after wo and w2, SwiGLU after w1/w3), and
// each thread normalizes x into its own buffer, so a layer needs four barriers. int8
// (runq.c's forward): each thread also quantizes every matmul input itself (xb before
// wq/wk/wv, the attention output before wo, xb before w1/w3, hb before w2, x before the
// classifier); a few hundred values, cheaper than sharing them through another barrier.
// It stays one long function because the one parallel region is the point: each thread's
// cursor into its weight block, its ranges and its buffers live across all the barriers.
float* OpenMpBackend::forward_fused(int token, int pos) {
    const ModelConfig& p = model_->config();
    const ModelWeights& w = model_->weights();
    RunState& s = *state_;
    const int dim = p.dim, kv_dim = p.kv_dim(), hidden = p.hidden_dim, head_size = p.head_size();
    const AttentionShape shape = AttentionShape::of(p);
    const bool q8 = model_->dtype() == DType::Q8_0;
    const int al = row_align_;
    // int8: llama2.c's exact rmsnorm (exact_attention.hpp says why), and keys mirrored transposed
    // into key_t_ for the exact attention: positions [first_t, pos], normally pos alone
    // (earlier ones too if an op-by-op pass ran in between).
    auto norm = exact_ ? exact::rmsnorm : rmsnorm_into;
    const int first_t = std::min(key_t_valid_, pos);

    const float eps = p.norm_eps;
    embedding_row(token, s.x.data());
    exact::rope_angles(rope_cos_.data(), rope_sin_.data(), pos, head_size, p.rope_theta);
    const float* rc = rope_cos_.data();
    const float* rs = rope_sin_.data();

    bool short_team = false;
#pragma omp parallel num_threads(forward_threads_)
    {
        // The packed blocks were cut for exactly forward_threads_ threads. OpenMP may give fewer
        // (OMP_DYNAMIC=true, thread limits); then this pass is skipped and the op-by-op
        // path below runs instead.
        const int nt = forward_threads_, tid = omp_get_thread_num();
        if (omp_get_num_threads() != nt) {
#pragma omp single nowait
            short_team = true;
        } else {
        float* xb = local_xb_.data() + size_t(tid) * size_t(local_stride_);
        const unsigned char* wp = packed_.get() + packed_begin_[size_t(tid)];  // this thread's weights, in order
        Q8Vector* xq = q8 ? &thread_xq_[size_t(tid)] : nullptr;  // dim-sized int8 input
        Q8Vector* hq = q8 ? &thread_hq_[size_t(tid)] : nullptr;  // hidden-sized
        GgmlVector& gx = thread_gx_[size_t(tid)];  // GGUF types: the input converted, on demand
        const Range rd = share(dim, nt, tid, al);
        const Range rkv = share(kv_dim, nt, tid, al);
        const Range rh = share(hidden, nt, tid, al);
        // A matmul input: fp32 x as it is, and (int8) x quantized into v; for GGUF types,
        // x is converted into gx by the first matrix that reads it (wq, wk and wv share one
        // conversion, as w1 and w3 do, unless their types want different activations).
        struct Input {
            const float* f32;
            const Q8Vector* q8;
            bool ggml_ready = false;  // gx holds f32 converted for gx.type's vec_dot_type
        };
        auto input = [&](const float* x, Q8Vector* v) {
            if (!q8) return Input{x, nullptr};
            quantize_q8(x, *v, q8_kernel_);
            return Input{x, v};
        };
        // Rows [r.lo, r.hi) of m: GGUF blocks from the file, the others the next ones in this
        // thread's packed block.
        auto next_rows = [&](float* out, Input& in, const WeightMatrix& m, Range r, bool add) {
            const int cols = m.cols;
            if (m.dtype == DType::Ggml) {
                if (!in.ggml_ready || vec_dot_type(gx.type) != vec_dot_type(m.ggml_type)) {
                    gx.quantize(m.ggml_type, in.f32, cols);
                    in.ggml_ready = true;
                }
                if (ggml_tiles(m)) {
                    openmp::matvec_ggml_tiles(out + r.lo, wp, m.ggml_type, gx, r.size(), add, q8_kernel_);
                    wp += openmp::ggml_packed_bytes(m.ggml_type, r.size(), cols);
                } else {
                    matvec_ggml(out + r.lo, m, gx, r.lo, r.hi, add, q8_kernel_);
                }
            } else if (m.dtype == DType::Q8_0) {
                matvec_q8(out + r.lo, wp, *in.q8, r.size(), add, q8_kernel_);
                wp += q8_packed_bytes(r.size(), cols, in.q8->group_size);
            } else if (pack_fp32_) {
                matvec_rows(out + r.lo, reinterpret_cast<const float*>(wp), in.f32, cols, 0, r.size(), add);
                wp += int64_t(r.size()) * cols * int64_t(sizeof(float));
            } else {
                matvec_rows(out + r.lo, m.f32, in.f32, cols, r.lo, r.hi, add);
            }
        };

        for (int l = 0; l < p.n_layers; ++l) {
            const LayerWeights& L = w.layers[size_t(l)];
            const size_t loff = size_t(l) * size_t(p.seq_len) * size_t(kv_dim);
            float* kc = s.key_cache.data() + loff;
            float* vc = s.value_cache.data() + loff;
            float* k = kc + size_t(pos) * size_t(kv_dim);
            float* v = vc + size_t(pos) * size_t(kv_dim);

            norm(xb, s.x.data(), L.rms_att, dim, eps);
            Input in = input(xb, xq);
            next_rows(s.q.data(), in, L.wq, rd, false);
            exact::rotate_pairs(s.q.data(), rd.lo, rd.hi, head_size, rc, rs);
            next_rows(k, in, L.wk, rkv, false);
            exact::rotate_pairs(k, rkv.lo, rkv.hi, head_size, rc, rs);
            next_rows(v, in, L.wv, rkv, false);
            float* kt = exact_ ? key_t_.data() + size_t(l) * size_t(kv_dim) * size_t(p.seq_len) : nullptr;
            if (kt)
                for (int t = first_t; t <= pos; t++)
                    for (int i = rkv.lo; i < rkv.hi; i++)
                        kt[size_t(i) * size_t(p.seq_len) + size_t(t)] = kc[size_t(t) * size_t(kv_dim) + size_t(i)];
#pragma omp barrier

#pragma omp for schedule(static)
            for (int h = 0; h < p.n_heads; h++) {
                float* att = s.att.data() + int64_t(h) * p.seq_len;
                if (kt) {
                    const int kv_off = (h / p.kv_mul()) * head_size;
                    openmp::exact_attend_head(s.xb.data() + h * head_size, s.q.data() + h * head_size,
                                              kt + size_t(kv_off) * size_t(p.seq_len), p.seq_len, vc + kv_off,
                                              kv_dim, att, pos, head_size);
                } else {
                    attend_head(h, s.xb.data(), s.q.data(), kc, vc, att, pos, shape);
                }
            }
            // (the for's implied barrier: all heads are in s.xb)

            Input att_out = input(s.xb.data(), xq);
            next_rows(s.x.data(), att_out, L.wo, rd, true);  // x += wo xb
#pragma omp barrier

            norm(xb, s.x.data(), L.rms_ffn, dim, eps);
            in = input(xb, xq);
            next_rows(s.hb.data(), in, L.w1, rh, false);
            next_rows(s.hb2.data(), in, L.w3, rh, false);
            exact::swiglu(s.hb.data() + rh.lo, s.hb2.data() + rh.lo, rh.size());
#pragma omp barrier

            Input gate = input(s.hb.data(), hq);
            next_rows(s.x.data(), gate, L.w2, rd, true);  // x += w2 hb
#pragma omp barrier
        }

        norm(xb, s.x.data(), w.rms_final, dim, eps);
        Input last = input(xb, xq);
        next_rows(s.logits.data(), last, w.wcls, share(p.vocab_size, nt, tid, al), false);
        }
    }
    if (short_team) {
        key_t_valid_ = std::min(key_t_valid_, pos);
        return Backend::forward(token, pos);
    }
    key_t_valid_ = pos + 1;
    return s.logits.data();
}

LHB_REGISTER_BACKEND(openmp, BackendFactory{
    "openmp",
    std::string("OpenMP threads over matmul rows and attention heads, ") + openmp::kernel_isa() +
        " kernels (int8: " + openmp::q8_kernel_name(openmp::q8_best_kernel()) + "), one parallel region per token",
    10,
    [](const BackendOptions&) { return Availability{}; },
    [](const BackendOptions& o) -> std::unique_ptr<Backend> {
        if (o.kv_type != "f32")
            throw InputError("backend 'openmp': kv_type '" + o.kv_type +
                             "': expected f32 (f16, llama.cpp's attention numerics, runs on cpu-ref only)");
        return std::make_unique<OpenMpBackend>(o.threads, o.fused);
    }})

}  // namespace lhb
