// openmp with int8 (Q8_0) weights: the activation quantizer against runq.c's
// (core/quantize.hpp) bit for bit, the tile matvec against cpu-ref's int8 matmul bit for bit
// (every kernel this CPU runs, group sizes 1..96, rows that leave a tile partly empty),
// every op at stories260K's and stories15M's shapes, the fused pass against the op-by-op
// one, end to end against cpu-ref int8, stories260K's int8 greedy text through
// `bench generate`, and `bench ops --precision`.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "backends/openmp/openmp.hpp"
#include "backends/openmp/q8_kernels.hpp"
#include "core/correctness.hpp"
#include "core/error.hpp"
#include "core/quantize.hpp"
#include "core/synth.hpp"
#include "tests/backend_fixtures.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

using openmp::Q8Kernel;
using openmp::Q8Vector;

std::vector<Q8Kernel> supported_kernels() {
    std::vector<Q8Kernel> ks;
    for (Q8Kernel k : {Q8Kernel::Portable, Q8Kernel::Avx2, Q8Kernel::Avx512Vnni})
        if (openmp::q8_kernel_supported(k)) ks.push_back(k);
    return ks;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// A Q8_0 matrix with q over the whole int8 range (-128 included: a file may hold it even if
// export.py never writes it).
test::Q8Matrix q8_matrix(int rows, int cols, int gs, std::mt19937& rng) {
    return test::Q8Matrix(rows, cols, gs, rng, -128, 127);
}

std::vector<float> random_floats(size_t n, std::mt19937& rng, float scale = 1.f) {
    std::uniform_real_distribution<float> d(-scale, scale);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

// ---- The activation quantizer --------------------------------------------------------------

void expect_quantizer_matches_runq(const std::vector<float>& x, int gs, Q8Kernel k) {
    const int n = int(x.size());
    std::vector<int8_t> q(x.size());
    std::vector<float> s(x.size() / size_t(gs));
    quantize_activations_q8(x.data(), n, gs, q.data(), s.data());
    Q8Vector v;
    v.reset(n, gs);
    std::fill(v.q.begin(), v.q.end(), int8_t(99));  // padding must come back zero
    openmp::quantize_q8(x.data(), v, k);
    ASSERT_EQ(v.groups, n / gs);
    for (int g = 0; g < v.groups; ++g) {
        EXPECT_TRUE(same_bits(v.scale[size_t(g)], s[size_t(g)]) || (std::isnan(v.scale[size_t(g)]) && std::isnan(s[size_t(g)])))
            << "group " << g << ": " << v.scale[size_t(g)] << " vs " << s[size_t(g)];
        int32_t sum = 0;
        for (int i = 0; i < v.padded_group; ++i) {
            const int8_t got = v.q[size_t(g * v.padded_group + i)];
            if (i < gs) {
                EXPECT_EQ(int(got), int(q[size_t(g * gs + i)])) << "group " << g << " value " << i << " x " << x[size_t(g * gs + i)];
                sum += got;
            } else {
                EXPECT_EQ(int(got), 0) << "padding, group " << g;
            }
        }
        EXPECT_EQ(v.bias[size_t(g)], -128 * sum) << "group " << g;
    }
}

TEST(OpenMpInt8, QuantizerIsRunqsBitForBit) {
    std::mt19937 rng(3);
    for (Q8Kernel k : supported_kernels()) {
        SCOPED_TRACE(openmp::q8_kernel_name(k));
        for (int gs : {1, 3, 4, 12, 17, 48, 64, 96}) {
            SCOPED_TRACE("group size " + std::to_string(gs));
            expect_quantizer_matches_runq(random_floats(size_t(gs) * 7, rng, 3.f), gs, k);
        }
        // Exact ties: max 127 gives scale 1, so x / scale = k + 0.5 exactly; round half away
        // from zero (C round), not half to even. Then a group of zeros (scale 0), a NaN and an
        // Inf group (scale NaN, q = 0), a tiny-scale group, negative zero.
        std::vector<float> ties = {127.f, 0.5f, -0.5f, 1.5f, -2.5f, 2.5f, 126.5f, -126.5f,
                                   0.f, 0.f, 0.f, 0.f, -0.f, 0.f, 0.f, 0.f,
                                   1.f, std::nanf(""), 2.f, 3.f, 4.f, 5.f, 6.f, 7.f,
                                   1.f, 2.f, -std::numeric_limits<float>::infinity(), 3.f, 4.f, 5.f, 6.f, 7.f,
                                   1e-38f, -3e-39f, 5e-39f, 0.f, 1e-45f, 2e-38f, -1e-38f, 7e-39f};
        expect_quantizer_matches_runq(ties, 8, k);
        expect_quantizer_matches_runq(ties, 4, k);
    }
}

TEST(OpenMpInt8, VectorResetRefusesAGroupSizeThatDoesNotDivide) {
    Q8Vector v;
    EXPECT_THROW(v.reset(10, 4), std::logic_error);
    EXPECT_THROW(v.reset(10, 0), std::logic_error);
    v.reset(12, 6);
    EXPECT_EQ(v.padded_group, 8);
    EXPECT_EQ(v.groups, 2);
    EXPECT_EQ(v.q.size(), 16u);
}

// ---- The tile matvec -----------------------------------------------------------------------

TEST(OpenMpInt8, TileBytesFollowTheDocumentedLayout) {
    // 16 rows x (48 int8 + one fp32 scale) per group; a group of 6 is padded to 8.
    EXPECT_EQ(openmp::q8_tile_bytes(288, 48), 6 * (16 * 48 + 64));
    EXPECT_EQ(openmp::q8_tile_bytes(12, 6), 2 * (16 * 8 + 64));
    EXPECT_EQ(openmp::q8_packed_bytes(17, 288, 48), 2 * openmp::q8_tile_bytes(288, 48));
    EXPECT_EQ(openmp::q8_packed_bytes(16, 288, 48), openmp::q8_tile_bytes(288, 48));
    // Row 1, group 1 (columns 2..3) of a 2-row matrix with group size 2: chunk 0 of that
    // group's block, bytes 4..5 (row 1's lane), stored as q + 128; the scale follows.
    const int8_t q[8] = {1, 2, 3, 4, 5, 6, -7, -128};
    const float s[4] = {0.5f, 0.25f, 2.f, 4.f};
    const WeightMatrix m = test::q8_view(2, 4, q, s, 2);
    std::vector<unsigned char> tiles(size_t(openmp::q8_packed_bytes(2, 4, 2)));
    openmp::pack_q8_rows(m, 0, 2, tiles.data());
    const unsigned char* g1 = tiles.data() + 16 * 4 + 64;  // group 1's block
    EXPECT_EQ(g1[4], uint8_t(-7 + 128));
    EXPECT_EQ(g1[5], uint8_t(-128 + 128));
    EXPECT_EQ(g1[6], 0x80);  // padding column: q = 0
    EXPECT_EQ(g1[8], 0x80);  // row 2 does not exist
    float scale;
    std::memcpy(&scale, g1 + 64 + 4, 4);
    EXPECT_EQ(scale, 4.f);
    std::memcpy(&scale, g1 + 64 + 8, 4);
    EXPECT_EQ(scale, 0.f);
}

// A row read back from the tiles (openmp's embedding lookup when the classifier is the
// embedding) is runq.c's dequantization float(q) * scale, bit for bit: group sizes with and
// without padding, rows in the first, a middle and a partial last tile.
TEST(OpenMpInt8, RowUnpackedFromTheTilesIsTheDequantizedRow) {
    std::mt19937 rng(11);
    for (int gs : {6, 32, 48}) {
        const int rows = 37, cols = 2 * 48;
        const test::Q8Matrix m(rows, cols, gs, rng, -128, 127);
        std::vector<unsigned char> tiles(size_t(openmp::q8_packed_bytes(rows, cols, gs)));
        openmp::pack_q8_rows(m.view, 0, rows, tiles.data());
        std::vector<float> row(static_cast<size_t>(cols));
        for (int r : {0, 15, 16, 20, 36}) {
            openmp::unpack_q8_row(tiles.data(), r, cols, gs, row.data());
            for (int j = 0; j < cols; ++j) {
                const int64_t i = int64_t(r) * cols + j;
                ASSERT_TRUE(same_bits(row[size_t(j)], float(m.q[size_t(i)]) * m.s[size_t(i / gs)]))
                    << "group " << gs << " row " << r << " column " << j;
            }
        }
    }
}

// Every kernel, group sizes with 1..24 chunks (1, 2 and 3 padded), rows that fill no tile,
// one tile, an odd number of tiles and a partial last one, split into parts at tile
// boundaries as the threads do, plain and accumulating: equal to cpu-ref's int8 matmul
// (runq.c's arithmetic) bit for bit.
TEST(OpenMpInt8, MatvecIsCpuRefsInt8MatmulBitForBit) {
    std::mt19937 rng(5);
    CpuRefBackend ref;
    for (int gs : {1, 2, 3, 4, 8, 12, 16, 32, 48, 64, 96}) {
        for (int rows : {1, 16, 37, 64}) {
            const int cols = gs * (gs >= 32 ? 3 : 12);
            test::Q8Matrix m = q8_matrix(rows, cols, gs, rng);
            auto x = random_floats(size_t(cols), rng, 2.f);
            std::vector<float> want(static_cast<size_t>(rows));
            ref.matmul(want.data(), x.data(), m.view);
            const auto base = random_floats(size_t(rows), rng);
            for (Q8Kernel k : supported_kernels()) {
                SCOPED_TRACE(std::string(openmp::q8_kernel_name(k)) + " gs " + std::to_string(gs) + " rows " +
                             std::to_string(rows));
                Q8Vector v;
                v.reset(cols, gs);
                openmp::quantize_q8(x.data(), v, k);
                // parts [0, 16) and [16, rows): each packed on its own, as the threads' blocks are
                const int cut = std::min(rows, 16);
                std::vector<unsigned char> a(size_t(openmp::q8_packed_bytes(cut, cols, gs)));
                std::vector<unsigned char> b(size_t(openmp::q8_packed_bytes(rows - cut, cols, gs)) + 1);
                openmp::pack_q8_rows(m.view, 0, cut, a.data());
                openmp::pack_q8_rows(m.view, cut, rows, b.data());
                std::vector<float> got(size_t(rows), -1.f), acc = base;
                openmp::matvec_q8(got.data(), a.data(), v, cut, false, k);
                openmp::matvec_q8(got.data() + cut, b.data(), v, rows - cut, false, k);
                openmp::matvec_q8(acc.data(), a.data(), v, cut, true, k);
                openmp::matvec_q8(acc.data() + cut, b.data(), v, rows - cut, true, k);
                for (int r = 0; r < rows; ++r) {
                    ASSERT_TRUE(same_bits(got[size_t(r)], want[size_t(r)]))
                        << "row " << r << ": " << got[size_t(r)] << " vs " << want[size_t(r)];
                    ASSERT_TRUE(same_bits(acc[size_t(r)], base[size_t(r)] + want[size_t(r)])) << "add, row " << r;
                }
            }
        }
    }
}

// A NaN in an activation group makes that group's scale NaN (as runq.c's does), so every
// row's output is NaN instead of a silently finite value; the same through every kernel.
TEST(OpenMpInt8, NonFiniteActivationsReachTheOutput) {
    std::mt19937 rng(9);
    test::Q8Matrix m = q8_matrix(20, 32, 8, rng);
    auto x = random_floats(32, rng);
    x[13] = std::numeric_limits<float>::infinity();
    std::vector<unsigned char> tiles(size_t(openmp::q8_packed_bytes(20, 32, 8)));
    openmp::pack_q8_rows(m.view, 0, 20, tiles.data());
    for (Q8Kernel k : supported_kernels()) {
        Q8Vector v;
        v.reset(32, 8);
        openmp::quantize_q8(x.data(), v, k);
        std::vector<float> out(20);
        openmp::matvec_q8(out.data(), tiles.data(), v, 20, false, k);
        for (float o : out) EXPECT_TRUE(std::isnan(o)) << openmp::q8_kernel_name(k);
    }
}

// ---- The backend ---------------------------------------------------------------------------

void expect_int8_ops_pass(OpenMpBackend& b, const ModelConfig& c, int gs, size_t matmul_shapes) {
    CpuRefBackend ref;
    auto checks = check_ops(b, ref, c, 17, DType::Q8_0, gs);
    size_t matmuls = 0;
    for (const OpCheck& o : checks) {
        EXPECT_TRUE(o.pass) << o.op << " " << o.shape << ": " << o.note << " (max abs " << o.max_abs_err
                            << ", max rel " << o.max_rel_err << ")";
        EXPECT_EQ(o.non_finite, 0) << o.op << " " << o.shape;
        if (o.op == "matmul") {
            ++matmuls;
            // the tolerance allows reordering; this design does not reorder at all
            EXPECT_EQ(o.max_abs_err, 0.0) << "matmul " << o.shape << " is not cpu-ref's bit for bit";
        }
    }
    EXPECT_EQ(matmuls, matmul_shapes);
    EXPECT_EQ(checks.size(), 1 + matmul_shapes + 3 * 5 + 2);
}

// stories260K, group size 4: wq/wo 64x64, wk/wv 32x64, w1/w3 172x64 (a partial tile),
// w2 64x172, wcls 512x64; 1 to 3 threads, every kernel.
TEST(OpenMpInt8, EveryOpWithinToleranceAtStories260KShapes) {
    for (Q8Kernel k : supported_kernels())
        for (int threads : {1, 2, 3}) {
            SCOPED_TRACE(std::string(openmp::q8_kernel_name(k)) + ", threads " + std::to_string(threads));
            OpenMpBackend b(threads, true);
            b.set_q8_kernel(k);
            expect_int8_ops_pass(b, parse_shape("stories260K"), 4, 5);
        }
}

// stories15M, group size 48: 288x288, 288->768, 768->288 and the 32000x288 classifier.
TEST(OpenMpInt8, EveryOpWithinToleranceAtStories15MShapes) {
    OpenMpBackend b(2, true);
    ASSERT_EQ(b.q8_kernel(), openmp::q8_best_kernel());
    expect_int8_ops_pass(b, parse_shape("stories15M"), 48, 4);
}

TEST(OpenMpInt8, RefusesAKernelThisCpuCannotRun) {
    OpenMpBackend b(1, true);
    for (Q8Kernel k : {Q8Kernel::Portable, Q8Kernel::Avx2, Q8Kernel::Avx512Vnni}) {
        if (openmp::q8_kernel_supported(k)) {
            EXPECT_NO_THROW(b.set_q8_kernel(k));
            EXPECT_EQ(b.q8_kernel(), k);
        } else {
            EXPECT_THROW(b.set_q8_kernel(k), std::invalid_argument);
        }
    }
}

// The int8 pass is cpu-ref int8's arithmetic throughout (the matmul is runq.c's, the fp32
// ops around it llama2.c's order), so its logits equal cpu-ref's bit for bit: the fused
// one-region pass, the op-by-op pass, and a sequence that switches between the two (the
// transposed key copy must catch up on the positions the op-by-op pass did), at 1 to 3
// threads. Every matmul of the model through the op path equals cpu-ref's too.
TEST(OpenMpInt8, ForwardIsCpuRefInt8sBitForBit) {
    test::TempDir tmp;
    // hidden 200: tiles of 16 leave the last thread a partial one; group size 8
    Model model = Model::open(test::q8_model(tmp, "dim=96,hidden=200,layers=2,heads=6,kv_heads=2,vocab=300,seq=40", 8, "m", 7));
    ASSERT_EQ(model.dtype(), DType::Q8_0);
    for (int threads : {1, 2, 3}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        const int steps = threads == 1 ? 40 : threads == 2 ? 20 : 8;  // barriers on a shared machine
        test::OpenMpAndCpuRef trio(model, threads);
        OpenMpBackend &fused = trio.fused, &unfused = trio.unfused;
        CpuRefBackend& ref = trio.ref;
        int agreeing = 0;
        EXPECT_EQ(test::max_logit_error(fused, ref, steps, &agreeing), 0.0);
        EXPECT_EQ(agreeing, steps);
        EXPECT_EQ(test::max_logit_error(unfused, ref, steps, &agreeing), 0.0);

        // fused, op by op (timed) for positions 3..5, fused again
        OpenMpBackend mixed(threads, true, 0);
        mixed.load(model);
        OpTimes times;
        const int vocab = model.config().vocab_size;
        int token = 1;
        for (int pos = 0; pos < steps; ++pos) {
            mixed.set_op_times(pos >= 3 && pos <= 5 ? &times : nullptr);
            const float* la = mixed.forward(token, pos);
            std::vector<float> got(la, la + vocab);
            const float* lb = ref.forward(token, pos);
            ASSERT_EQ(std::memcmp(got.data(), lb, size_t(vocab) * sizeof(float)), 0) << "pos " << pos;
            token = int(std::max_element(lb, lb + vocab) - lb);
        }
        EXPECT_GT(times.calls[size_t(Op::Attention)], 0);

        std::mt19937 rng(1);
        const LayerWeights& L = model.weights().layers[1];
        for (const WeightMatrix* m : {&L.wq, &L.wk, &L.w1, &L.w2, &model.weights().wcls}) {
            auto x = random_floats(size_t(m->cols), rng);
            std::vector<float> a(size_t(m->rows)), b(size_t(m->rows));
            unfused.matmul(a.data(), x.data(), *m);
            ref.matmul(b.data(), x.data(), *m);
            EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << m->rows << "x" << m->cols;
        }
    }
}

TEST(OpenMpInt8, Stories260KLogitsAreCpuRefInt8sBitForBit) {
    LHB_REQUIRE_MODELS();
    test::TempDir tmp;
    write_q8_model(Model::open(test::model_path("stories260K.bin")), tmp.file("q8.bin"), 4);
    Model model = Model::open(tmp.file("q8.bin"));
    OpenMpBackend b(2, true);
    CpuRefBackend ref;
    b.load(model);
    ref.load(model);
    int agreeing = 0;
    EXPECT_EQ(test::max_logit_error(b, ref, model.config().seq_len, &agreeing), 0.0);
    EXPECT_EQ(agreeing, model.config().seq_len);
}

constexpr int kStories15MSteps = test::steps_for_build(32, 6);

// stories15M shape (synthetic weights, group size 48) at 2 threads, the fused pass.
TEST(OpenMpInt8, Stories15MShapeLogitsAreCpuRefInt8sBitForBit) {
    test::TempDir tmp;
    Model model = Model::open(test::q8_model(tmp, "stories15M", 48, "s15", 7));
    OpenMpBackend b(2, true);
    CpuRefBackend ref;
    b.load(model);
    ref.load(model);
    EXPECT_EQ(b.forward_threads(), 2);
    int agreeing = 0;
    EXPECT_EQ(test::max_logit_error(b, ref, kStories15MSteps, &agreeing), 0.0);
    EXPECT_EQ(agreeing, kStories15MSteps);
}

// The int8 greedy text of stories260K (group size 4) through `bench generate --backend
// openmp` is cpu-ref int8's, at 1 and 2 threads (2 forced onto this small model).
TEST(OpenMpInt8, Stories260KGreedyTextIsCpuRefInt8s) {
    LHB_REQUIRE_MODELS();
    test::TempDir tmp;
    const std::string args = test::stories260k_int8_generate_args(tmp, 256);
    auto ref = test::run_bench(args + "cpu-ref");
    ASSERT_EQ(ref.exit_code, 0) << ref.err;
    EXPECT_GT(ref.out.size(), 200u);
    for (const char* threads : {"1", "2"}) {
        auto omp = test::run_bench(args + "openmp --threads " + threads);
        ASSERT_EQ(omp.exit_code, 0) << omp.err;
        EXPECT_EQ(omp.out, ref.out) << "threads " << threads;
    }
}

// ---- bench ops --precision -----------------------------------------------------------------

TEST(OpenMpInt8, BenchOpsHasAPrecisionAxis) {
    test::TempDir tmp;
    auto r = test::run_bench("ops --shape stories260K --backend openmp --threads 2 --precision all "
                             "--bandwidth-seconds 0.05 --benchmark_min_time=0.001 --benchmark_format=json "
                             "--benchmark_out=" + tmp.file("ops.json"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string json = test::read_file(tmp.file("ops.json"));
    for (const char* name : {"openmp/matmul/64->64", "openmp/matmul/64->512", "openmp/decode/pos=1",
                             "openmp/int8/matmul/64->64", "openmp/int8/matmul/64->32", "openmp/int8/matmul/64->172",
                             "openmp/int8/matmul/172->64", "openmp/int8/matmul/64->512", "openmp/int8/decode/pos=1",
                             "openmp/int8/decode/pos=255", "openmp/rmsnorm/64"})
        EXPECT_NE(json.find(std::string("\"name\": \"") + name + "/real_time\""), std::string::npos) << name;
    EXPECT_EQ(json.find("openmp/int8/rmsnorm"), std::string::npos) << "precision-independent ops run once";
    EXPECT_NE(json.find("int8 (Q8_0, group size 4, quantized in memory)"), std::string::npos);

    // Bytes per int8 matmul: int8 weights + one fp32 scale per 4 + fp32 x and out. 64->512:
    // 512*64 + 512*16*4 + 4*(64+512) = 67840 bytes per call.
    const size_t at = json.find("\"name\": \"openmp/int8/matmul/64->512/real_time\"");
    ASSERT_NE(at, std::string::npos);
    auto number = [&](const std::string& key) {
        const size_t k = json.find("\"" + key + "\": ", at);
        return std::stod(json.substr(k + key.size() + 4));
    };
    const double per_call = number("bytes_per_second") * number("real_time") * 1e-6 ;
    EXPECT_NEAR(per_call / 67840.0, 1.0, 0.02) << "time unit us";

    auto bad = test::run_bench("ops --shape stories260K --precision int4");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("--precision"), std::string::npos) << bad.err;
    auto group = test::run_bench("ops --shape stories260K --precision int8 --group 5");
    EXPECT_EQ(group.exit_code, 1);
    EXPECT_NE(group.err.find("--group"), std::string::npos) << group.err;
}

TEST(OpenMpInt8, BenchOpsTakesAnInt8CheckpointAsInt8) {
    test::TempDir tmp;
    const std::string q8 = test::q8_model(tmp, "dim=64,hidden=128,layers=2,heads=4,kv_heads=4,vocab=200,seq=16", 16, "m", 7);
    auto r = test::run_bench("ops --model '" + q8 + "' --backend openmp --bandwidth-seconds 0.05 "
                             "--benchmark_min_time=0.001 --benchmark_filter=matmul");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("openmp/int8/matmul/64->128"), std::string::npos) << r.out;
    auto fp = test::run_bench("ops --model '" + q8 + "' --precision fp32 --backend openmp");
    EXPECT_EQ(fp.exit_code, 1);
    EXPECT_NE(fp.err.find("fp32"), std::string::npos) << fp.err;
}

}  // namespace
}  // namespace lhb
