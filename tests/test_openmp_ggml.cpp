// openmp with GGUF weight types (DType::Ggml): the activation conversion against
// quant_types' quantize_activations byte for byte; every type's matvec on every kernel this
// CPU runs against quant_types' matvec (the reference: bit for bit for Q8_0, Q4_0, Q4_K, Q6_K;
// F32 and F16 within the stated double-sum tolerance) at widths that leave partial SIMD
// steps and odd row counts (Q8_0 and Q4_0 also as the backend's tiles); OpenMpBackend::
// matmul on 1-3 threads; the real Q4_K and Q6_K tensors of the shared synthetic GGUF files;
// and, once Model::open reads GGUF, the fused forward pass against the op-by-op one and
// cpu-ref.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "backends/openmp/ggml_kernels.hpp"
#include "backends/openmp/openmp.hpp"
#include "core/correctness.hpp"
#include "core/error.hpp"
#include "core/gguf.hpp"
#include "core/quant_types.hpp"
#include "core/synth.hpp"
#include "tests/backend_fixtures.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

using openmp::GgmlVector;
using openmp::Q8Kernel;

std::vector<Q8Kernel> supported_kernels() { return openmp::q8_supported_kernels(); }

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool exact_type(GgmlType t) { return t != GgmlType::F32 && t != GgmlType::F16; }

void put_half(unsigned char* p, float v) {
    const uint16_t h = fp32_to_fp16(v);
    std::memcpy(p, &h, 2);
}

// rows x cols of type t. Quantized types: random bytes (every quant and packed-scale bit
// pattern, Q8_0's -128 included) with the fp16 scales set to finite values of both signs.
std::vector<unsigned char> random_matrix(GgmlType t, int rows, int cols, std::mt19937& rng) {
    std::uniform_real_distribution<float> val(-1.f, 1.f), scale(-0.05f, 0.05f);
    const size_t row = row_bytes(t, size_t(cols));
    std::vector<unsigned char> m(row * size_t(rows));
    if (t == GgmlType::F32 || t == GgmlType::F16) {
        for (size_t i = 0; i < size_t(rows) * size_t(cols); ++i) {
            const float v = val(rng);
            if (t == GgmlType::F32) std::memcpy(m.data() + 4 * i, &v, 4);
            else put_half(m.data() + 2 * i, v);
        }
        return m;
    }
    for (unsigned char& b : m) b = uint8_t(rng());
    const size_t block = block_layout(uint32_t(t))->block_bytes;
    for (size_t b = 0; b < m.size() / block; ++b) {
        unsigned char* p = m.data() + b * block;
        switch (t) {
            case GgmlType::Q4_K:
                put_half(p + offsetof(BlockQ4_K, d), scale(rng));
                put_half(p + offsetof(BlockQ4_K, dmin), scale(rng));
                break;
            case GgmlType::Q6_K: put_half(p + offsetof(BlockQ6_K, d), scale(rng)); break;
            default: put_half(p, scale(rng)); break;  // Q8_0, Q4_0: d first
        }
    }
    return m;
}

// Activations with a zero block (a zero scale) and an outlier.
std::vector<float> activations(int n, std::mt19937& rng) {
    std::uniform_real_distribution<float> val(-1.f, 1.f);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = val(rng);
    if (n >= 64) std::fill(x.begin() + 32, x.begin() + 64, 0.f);
    x[size_t(n) / 2] = 9.5f;
    return x;
}

WeightMatrix ggml_matrix(GgmlType t, int rows, int cols, const unsigned char* blocks) {
    WeightMatrix m;
    m.dtype = DType::Ggml;
    m.rows = rows;
    m.cols = cols;
    m.ggml_type = t;
    m.blocks = blocks;
    return m;
}

// F32 / F16: both sums are of the same float products in double, in different orders.
double float_tolerance(GgmlType t, const unsigned char* row, const float* x, int n, float ref) {
    std::vector<float> w(static_cast<size_t>(n));
    dequantize_row(t, row, w.data(), size_t(n));
    double mag = 0;
    for (int i = 0; i < n; ++i) mag += std::fabs(double(w[size_t(i)] * x[i]));
    const double ulp = std::nextafter(std::fabs(ref), INFINITY) - std::fabs(ref);
    return ulp + n * std::ldexp(mag, -52);
}

// Q8_0/Q4_0 repacked as tiles (what OpenMpBackend::load makes of a model's matrices): every
// row bit for bit, rows from the second tile on accumulated (add), and each row unpacked
// equal to dequantize_row's values.
void expect_tiles_match_reference(const WeightMatrix& m, const GgmlVector& v, const std::vector<float>& ref,
                                  Q8Kernel kernel) {
    const GgmlType t = m.ggml_type;
    std::vector<unsigned char> tiles(size_t(openmp::ggml_packed_bytes(t, m.rows, m.cols)), 0xa5);
    openmp::pack_ggml_rows(m, 0, m.rows, tiles.data());
    std::vector<float> got(size_t(m.rows), -7.f);
    openmp::matvec_ggml_tiles(got.data(), tiles.data(), t, v, m.rows, false, kernel);
    for (int r = 0; r < m.rows; ++r)
        ASSERT_TRUE(same_bits(got[size_t(r)], ref[size_t(r)]))
            << "tiles, row " << r << ": " << got[size_t(r)] << " vs " << ref[size_t(r)];
    if (m.rows > 16) {
        std::vector<float> acc(size_t(m.rows - 16), 0.25f);
        openmp::matvec_ggml_tiles(acc.data(), tiles.data() + openmp::ggml_tile_bytes(t, m.cols), t, v, m.rows - 16, true,
                                  kernel);
        for (int r = 16; r < m.rows; ++r)
            ASSERT_TRUE(same_bits(acc[size_t(r - 16)], 0.25f + ref[size_t(r)])) << "tiles add, row " << r;
    }
    const size_t stride = row_bytes(t, size_t(m.cols));
    std::vector<float> want(size_t(m.cols)), row(size_t(m.cols));
    for (int r = 0; r < m.rows; ++r) {
        dequantize_row(t, m.blocks + size_t(r) * stride, want.data(), size_t(m.cols));
        openmp::unpack_ggml_row(tiles.data(), t, r, m.cols, row.data());
        ASSERT_EQ(std::memcmp(want.data(), row.data(), want.size() * sizeof(float)), 0) << "unpacked row " << r;
    }
}

// matvec_ggml of `kernel` against quant_types' matvec, for all rows and for a sub-range
// accumulated into existing values (add).
void expect_matches_reference(GgmlType t, const WeightMatrix& m, const std::vector<float>& x, Q8Kernel kernel) {
    std::vector<float> ref(size_t(m.rows));
    matvec(t, m.blocks, size_t(m.rows), size_t(m.cols), x.data(), ref.data());
    GgmlVector v;
    v.quantize(t, x.data(), m.cols);
    std::vector<float> got(size_t(m.rows), -7.f);
    openmp::matvec_ggml(got.data(), m, v, 0, m.rows, false, kernel);
    const size_t stride = row_bytes(t, size_t(m.cols));
    for (int r = 0; r < m.rows; ++r) {
        if (exact_type(t))
            ASSERT_TRUE(same_bits(got[size_t(r)], ref[size_t(r)]))
                << "row " << r << ": " << got[size_t(r)] << " vs " << ref[size_t(r)];
        else
            ASSERT_LE(std::fabs(double(got[size_t(r)]) - ref[size_t(r)]),
                      float_tolerance(t, m.blocks + size_t(r) * stride, x.data(), m.cols, ref[size_t(r)]))
                << "row " << r;
    }
    if (openmp::ggml_tiled(t)) expect_tiles_match_reference(m, v, ref, kernel);
    if (m.rows < 3 || !exact_type(t)) return;
    const int lo = 1, hi = m.rows - 1;
    std::vector<float> acc(size_t(hi - lo), 0.25f);
    openmp::matvec_ggml(acc.data(), m, v, lo, hi, true, kernel);
    for (int r = lo; r < hi; ++r) ASSERT_TRUE(same_bits(acc[size_t(r - lo)], 0.25f + ref[size_t(r)])) << "add, row " << r;
}

struct TypeShapes {
    GgmlType type;
    std::vector<int> cols;
};

const std::vector<TypeShapes>& type_shapes() {
    // Q8_0/Q4_0: 1, 9 (one past a step of 8 blocks), 15 and 64 blocks; K-quants: 1, 3, 8
    // super-blocks; F32/F16: widths below, at and past the 16-wide step.
    static const std::vector<TypeShapes> shapes = {
        {GgmlType::Q8_0, {32, 288, 480, 2048}}, {GgmlType::Q4_0, {32, 288, 480, 2048}},
        {GgmlType::Q4_K, {256, 768, 2048}},     {GgmlType::Q6_K, {256, 768, 2048}},
        {GgmlType::F16, {7, 16, 288, 2051}},    {GgmlType::F32, {7, 16, 288, 2051}},
    };
    return shapes;
}

// A Q8_0 conversion's blocks equal the reference's, with each block's scale as float and
// the sum of its q.
void expect_q8_0_conversion(const GgmlVector& v, const QuantizedActivations& ref) {
    EXPECT_EQ(v.a.q8_0, ref.q8_0);
    for (size_t i = 0; i < ref.q8_0.size() / sizeof(BlockQ8_0); ++i) {
        BlockQ8_0 blk;
        std::memcpy(&blk, ref.q8_0.data() + i * sizeof blk, sizeof blk);
        EXPECT_TRUE(same_bits(v.block_scale[i], fp16_to_fp32(blk.d))) << "block " << i;
        int32_t s = 0;
        for (int8_t q : blk.qs) s += q;
        EXPECT_EQ(v.block_sum[i], s) << "block " << i;
    }
}

TEST(OpenMpGgml, ActivationsAreQuantTypesBytes) {
    std::mt19937 rng(3);
    GgmlVector v;
    for (const TypeShapes& ts : type_shapes())
        for (int n : ts.cols) {
            SCOPED_TRACE(std::string(ggml_type_name(uint32_t(ts.type))) + " n " + std::to_string(n));
            const auto x = activations(n, rng);
            v.quantize(ts.type, x.data(), n);  // reused across types and lengths
            const QuantizedActivations ref = quantize_activations(ts.type, x.data(), size_t(n));
            ASSERT_EQ(v.a.type, ref.type);
            ASSERT_EQ(v.a.n, ref.n);
            switch (ref.type) {
                case VecDotType::F32: EXPECT_EQ(v.a.f32, ref.f32); break;
                case VecDotType::Q8_0: expect_q8_0_conversion(v, ref); break;
                case VecDotType::Q8_K:
                    ASSERT_EQ(v.a.q8_k.size(), ref.q8_k.size());
                    EXPECT_EQ(std::memcmp(v.a.q8_k.data(), ref.q8_k.data(), ref.q8_k.size() * sizeof(BlockQ8_K)), 0);
                    break;
            }
        }
}

// The Q8_0 conversion's special blocks (the AVX-512 one takes the reference for some):
// exact ties of round() (d = 1), NaN and Inf, values whose 1 / d overflows, subnormals,
// signed zeros, and a block at the float maximum.
TEST(OpenMpGgml, Q8_0ActivationEdgeBlocksAreQuantTypesBytes) {
    std::vector<float> x(32 * 7, 0.0f);
    for (int j = 0; j < 32; ++j) x[size_t(j)] = j == 0 ? 127.0f : float(j % 9) - 4.5f;  // ties, away from zero
    x[32 + 5] = NAN;
    x[64 + 3] = -INFINITY;
    x[96 + 1] = 1e-38f, x[96 + 2] = -3e-39f;                                // 1 / d overflows
    for (int j = 0; j < 32; ++j) x[size_t(128 + j)] = float(j) * 1e-45f;    // subnormal, d = 0
    for (int j = 0; j < 32; ++j) x[size_t(160 + j)] = j % 2 ? -0.0f : 0.0f;
    for (int j = 0; j < 32; ++j) x[size_t(192 + j)] = j ? 3.4e38f / float(j) : -3.4e38f;
    GgmlVector v;
    v.quantize(GgmlType::Q8_0, x.data(), int(x.size()));
    const QuantizedActivations ref = quantize_activations(GgmlType::Q8_0, x.data(), x.size());
    expect_q8_0_conversion(v, ref);
}

TEST(OpenMpGgml, EveryKernelMatchesQuantTypesMatvec) {
    std::mt19937 rng(11);
    for (Q8Kernel k : supported_kernels())
        for (const TypeShapes& ts : type_shapes())
            for (int cols : ts.cols)
                for (int rows : {1, 5, 17, 33, 48}) {
                    SCOPED_TRACE(std::string(openmp::q8_kernel_name(k)) + " " + ggml_type_name(uint32_t(ts.type)) +
                                 " " + std::to_string(rows) + "x" + std::to_string(cols));
                    const auto blocks = random_matrix(ts.type, rows, cols, rng);
                    const auto x = activations(cols, rng);
                    expect_matches_reference(ts.type, ggml_matrix(ts.type, rows, cols, blocks.data()), x, k);
                }
}

// Inputs that stress the integer paths: Q8_0 weights all -128 against activations all at
// the positive extreme (|pair| = 2 * 128 * 127, vpmaddubsw's limit), Q4_0 nibbles all 15.
TEST(OpenMpGgml, ExtremeQuantsStayExact) {
    const int cols = 512, rows = 3;
    std::vector<float> x(size_t(cols), 1.0f);
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0}) {
        std::vector<unsigned char> m(row_bytes(t, cols) * rows, t == GgmlType::Q8_0 ? 0x80 : 0xff);
        const size_t block = block_layout(uint32_t(t))->block_bytes;
        for (size_t b = 0; b < m.size() / block; ++b) put_half(m.data() + b * block, 0.01f);
        for (Q8Kernel k : supported_kernels()) {
            SCOPED_TRACE(std::string(openmp::q8_kernel_name(k)) + " " + ggml_type_name(uint32_t(t)));
            expect_matches_reference(t, ggml_matrix(t, rows, cols, m.data()), x, k);
        }
    }
}

TEST(OpenMpGgml, MismatchedActivationsAreRefused) {
    std::mt19937 rng(5);
    const auto blocks = random_matrix(GgmlType::Q4_K, 2, 256, rng);
    const auto x = activations(256, rng);
    GgmlVector v;
    v.quantize(GgmlType::Q8_0, x.data(), 256);
    std::vector<float> out(2);
    EXPECT_THROW(openmp::matvec_ggml(out.data(), ggml_matrix(GgmlType::Q4_K, 2, 256, blocks.data()), v, 0, 2, false,
                                     Q8Kernel::Portable),
                 std::logic_error);
}

// The backend's op-by-op matmul: x converted once, rows over 1-3 threads (257 rows: the last
// share is odd), every kernel.
TEST(OpenMpGgml, BackendMatmulMatchesQuantTypesOnEveryThreadCount) {
    std::mt19937 rng(17);
    const int rows = 257, cols = 512;
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::F16}) {
        const auto blocks = random_matrix(t, rows, cols, rng);
        const WeightMatrix m = ggml_matrix(t, rows, cols, blocks.data());
        const auto x = activations(cols, rng);
        std::vector<float> ref(static_cast<size_t>(rows));
        matvec(t, blocks.data(), size_t(rows), size_t(cols), x.data(), ref.data());
        for (int threads : {1, 2, 3}) {
            OpenMpBackend b(threads, false);
            for (Q8Kernel k : supported_kernels()) {
                SCOPED_TRACE(std::string(ggml_type_name(uint32_t(t))) + " threads " + std::to_string(threads) + " " +
                             openmp::q8_kernel_name(k));
                b.set_q8_kernel(k);
                std::vector<float> got(size_t(rows), -1.f);
                b.matmul(got.data(), x.data(), m);
                for (int r = 0; r < rows; ++r) {
                    if (exact_type(t))
                        ASSERT_TRUE(same_bits(got[size_t(r)], ref[size_t(r)])) << "row " << r;
                    else
                        ASSERT_LE(std::fabs(double(got[size_t(r)]) - ref[size_t(r)]),
                                  float_tolerance(t, blocks.data() + size_t(r) * row_bytes(t, cols), x.data(), cols,
                                                  ref[size_t(r)]))
                            << "row " << r;
                }
            }
        }
    }
}

// Every Q4_K and Q6_K matrix of the shared synthetic files (llama-quantize's blocks, read in
// place: not 4-byte aligned in general), every kernel, bit for bit.
TEST(OpenMpGgml, RealKQuantTensorsMatchQuantTypes) {
    LHB_REQUIRE_MODELS();
    std::mt19937 rng(23);
    int q4_k = 0, q6_k = 0;
    for (const char* name : {"gguf/synth256-q4_k_m.gguf", "gguf/synth256-q6_k.gguf"}) {
        const GgufFile file(test::model_path(name));
        for (const GgufTensorInfo& t : file.tensors()) {
            const GgmlType type = t.ggml_type();
            if ((type != GgmlType::Q4_K && type != GgmlType::Q6_K) || t.n_dims != 2) continue;
            (type == GgmlType::Q4_K ? q4_k : q6_k)++;
            const WeightMatrix m = ggml_matrix(type, int(t.ne[1]), int(t.ne[0]), t.data);
            const auto x = activations(m.cols, rng);
            for (Q8Kernel k : supported_kernels()) {
                SCOPED_TRACE(std::string(name) + " " + std::string(t.name) + " " + openmp::q8_kernel_name(k));
                expect_matches_reference(type, m, x, k);
            }
        }
    }
    EXPECT_GT(q4_k, 0);
    EXPECT_GT(q6_k, 0);
}

// The fused pass reads GGUF blocks from the mapped file and converts each matmul input per
// thread; op by op converts once. Both must give the same logits (the same kernels, exact
// ops), and cpu-ref's within the quantized-input tolerance. Needs Model::open to read GGUF
// (another branch adds it): skipped until then.
TEST(OpenMpGgml, FusedForwardMatchesOpByOpAndCpuRef) {
    LHB_REQUIRE_MODELS();
    for (const char* name : {"gguf/synth256-q4_0.gguf", "gguf/synth256-q8_0.gguf", "gguf/synth256-q4_k_m.gguf",
                             "gguf/synth256-q6_k.gguf", "gguf/synth256-f16.gguf"}) {
        SCOPED_TRACE(name);
        std::optional<Model> model;
        try {
            model.emplace(Model::open(test::model_path(name)));
        } catch (const InputError& e) {
            GTEST_SKIP() << "Model::open does not read GGUF here (" << e.what() << ")";
        }
        for (int threads : {1, 2}) {
            test::OpenMpAndCpuRef trio(*model, threads);
            const int vocab = model->config().vocab_size, steps = 12;
            int token = 1;
            for (int pos = 0; pos < steps; ++pos) {
                const float* a = trio.fused.forward(token, pos);
                std::vector<float> fused(a, a + vocab);
                const float* b = trio.unfused.forward(token, pos);
                ASSERT_EQ(std::memcmp(fused.data(), b, size_t(vocab) * sizeof(float)), 0) << "pos " << pos;
                token = int(std::max_element(fused.begin(), fused.end()) - fused.begin());
            }
            const Tolerance tol = logits_tolerance(DType::Q8_0);
            EXPECT_LE(test::max_logit_error(trio.unfused, trio.ref, steps), tol.abs) << "threads " << threads;
        }
    }
}

// The fused pass with GGUF matrices of mixed types (the conversion shared by wq/wk, redone
// for wv, shared by w1/w3), against the op-by-op pass bit for bit. Until Model::open reads
// GGUF, the model is an fp32 one whose matrices are swapped for blocks made here (the Model
// itself is not const, so writing its views through const_cast is defined).
TEST(OpenMpGgml, FusedPassWithMixedGgmlMatricesIsTheOpByOpOneBitForBit) {
    test::TempDir tmp;
    const std::string path = tmp.file("m.bin");
    write_synthetic_model(parse_shape("dim=256,hidden=768,layers=2,heads=4,kv_heads=2,vocab=300,seq=32"), path, 5);
    Model model = Model::open(path);
    auto& w = const_cast<ModelWeights&>(model.weights());
    std::mt19937 rng(29);
    std::vector<std::vector<unsigned char>> owned;
    auto convert = [&](WeightMatrix& m, GgmlType t) {
        std::vector<unsigned char> b(row_bytes(t, size_t(m.cols)) * size_t(m.rows));
        if (t == GgmlType::Q8_0 || t == GgmlType::Q4_0) {
            for (int r = 0; r < m.rows; ++r) {
                unsigned char* d = b.data() + size_t(r) * row_bytes(t, size_t(m.cols));
                const float* x = m.f32 + int64_t(r) * m.cols;
                if (t == GgmlType::Q8_0) quantize_row_q8_0(x, d, size_t(m.cols));
                else quantize_row_q4_0(x, d, size_t(m.cols));
            }
        } else {
            b = random_matrix(t, m.rows, m.cols, rng);
        }
        owned.push_back(std::move(b));
        m.dtype = DType::Ggml;
        m.ggml_type = t;
        m.blocks = owned.back().data();
        m.f32 = nullptr;
    };
    for (LayerWeights& L : w.layers) {
        convert(L.wq, GgmlType::Q4_0);
        convert(L.wk, GgmlType::Q8_0);
        convert(L.wv, GgmlType::F16);
        convert(L.wo, GgmlType::Q4_0);
        convert(L.w1, GgmlType::Q4_K);
        convert(L.w3, GgmlType::Q4_K);
        convert(L.w2, GgmlType::Q6_K);
    }
    convert(w.wcls, GgmlType::Q8_0);
    const int vocab = model.config().vocab_size;
    for (int threads : {1, 2}) {
        OpenMpBackend fused(threads, true, 0), unfused(threads, false);
        fused.load(model);
        unfused.load(model);
        int token = 1;
        for (int pos = 0; pos < 8; ++pos) {
            const float* a = fused.forward(token, pos);
            std::vector<float> la(a, a + vocab);
            const float* b = unfused.forward(token, pos);
            for (float v : la) ASSERT_TRUE(std::isfinite(v));
            ASSERT_EQ(std::memcmp(la.data(), b, size_t(vocab) * sizeof(float)), 0) << "threads " << threads << " pos " << pos;
            token = int(std::max_element(la.begin(), la.end()) - la.begin());
        }
    }
}

// fp32 matrices read where the file maps them (set_pack_fp32(false): no second copy) give
// the packed streams' logits bit for bit: the same kernel over the same rows in the same
// groups of 4.
TEST(OpenMpGgml, UnpackedFp32ForwardIsThePackedOnesBitForBit) {
    test::TempDir tmp;
    const std::string path = tmp.file("m.bin");
    write_synthetic_model(parse_shape("dim=96,hidden=200,layers=2,heads=6,kv_heads=2,vocab=300,seq=40"), path, 3);
    const Model model = Model::open(path);
    for (int threads : {1, 2}) {  // (more threads than cores make every barrier a time slice)
        OpenMpBackend packed(threads, true, 0), mapped(threads, true, 0);
        mapped.set_pack_fp32(false);
        packed.load(model);
        mapped.load(model);
        const int vocab = model.config().vocab_size;
        int token = 1;
        for (int pos = 0; pos < 10; ++pos) {
            const float* a = packed.forward(token, pos);
            std::vector<float> la(a, a + vocab);
            const float* b = mapped.forward(token, pos);
            ASSERT_EQ(std::memcmp(la.data(), b, size_t(vocab) * sizeof(float)), 0) << "threads " << threads << " pos " << pos;
            token = int(std::max_element(la.begin(), la.end()) - la.begin());
        }
    }
}

TEST(OpenMpGgml, BenchOpsHasATypeAxis) {
    test::TempDir tmp;
    auto r = test::run_bench("ops --shape stories260K --backend openmp --threads 1 --type q4_0 "
                             "--bandwidth-seconds 0.05 --benchmark_min_time=0.001 --benchmark_format=json "
                             "--benchmark_filter=matmul --benchmark_out=" + tmp.file("ops.json"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string json = test::read_file(tmp.file("ops.json"));
    for (const char* name : {"openmp/matmul/64->64", "openmp/q4_0/matmul/64->64", "openmp/q4_0/matmul/64->172",
                             "openmp/q4_0/matmul/64->512"})
        EXPECT_NE(json.find(std::string("\"name\": \"") + name + "/real_time\""), std::string::npos) << name;
    // w2 (172 wide) is not a whole number of Q4_0 blocks: skipped with a line.
    EXPECT_EQ(json.find("openmp/q4_0/matmul/172->64"), std::string::npos);
    EXPECT_NE(r.err.find("skipping Q4_0 matmul 172->64"), std::string::npos) << r.err;
    // Bytes per call, 64->512: 512 rows of 2 Q4_0 blocks (18 bytes) + fp32 x and out.
    const size_t at = json.find("\"name\": \"openmp/q4_0/matmul/64->512/real_time\"");
    ASSERT_NE(at, std::string::npos);
    auto number = [&](const std::string& key) {
        const size_t k = json.find("\"" + key + "\": ", at);
        return std::stod(json.substr(k + key.size() + 4));
    };
    EXPECT_NEAR(number("bytes_per_second") * number("real_time") * 1e-6 / (512 * 36 + 4 * (64 + 512)), 1.0, 0.02);

    auto bad = test::run_bench("ops --shape stories260K --type q5_1");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("--type"), std::string::npos) << bad.err;
    auto width = test::run_bench("ops --shape stories260K --type q4_k");  // no width is a multiple of 256
    EXPECT_EQ(width.exit_code, 1);
    EXPECT_NE(width.err.find("--type Q4_K: no matrix"), std::string::npos) << width.err;
}

}  // namespace
}  // namespace lhb
