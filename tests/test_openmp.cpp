// The openmp backend against cpu-ref: every op at every shape of stories260K and stories15M,
// the fused one-region forward pass against the op-by-op one, and stories260K's greedy text
// through `bench generate --backend openmp` against llama2.c's recorded output. (int8:
// tests/test_openmp_int8.cpp.)
#include <omp.h>

#include <cstdlib>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "backends/openmp/openmp.hpp"
#include "core/correctness.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "core/synth.hpp"
#include "tests/backend_fixtures.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

TEST(OpenMp, IsRegisteredAfterCpuRef) {
    const BackendFactory* f = BackendRegistry::find("openmp");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->order, 10);
    auto b = BackendRegistry::create("openmp", BackendOptions{});
    EXPECT_EQ(b->name(), "openmp");
}

TEST(OpenMp, ThreadCountFromOptionsOrOpenMpDefault) {
    EXPECT_EQ(OpenMpBackend(3, true).threads(), 3);
    EXPECT_EQ(OpenMpBackend(0, true).threads(), omp_get_max_threads());
    BackendOptions o;
    o.threads = 2;
    auto b = BackendRegistry::create("openmp", o);
    EXPECT_EQ(static_cast<OpenMpBackend&>(*b).threads(), 2);
}

// stories260K: hidden_dim 172 (not a multiple of any vector width), grouped-query
// attention (8 heads, 4 KV heads), head_size 8.
TEST(OpenMp, EveryOpWithinToleranceAtStories260KShapes) {
    for (int threads : {1, 2, 3}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        OpenMpBackend b(threads, true);
        // wq/wo 64x64, wk/wv 32x64, w1/w3 172x64, w2 64x172, wcls 512x64
        // rmsnorm, matmuls, 5 positions x (rope, softmax, attention), swiglu, residual.
        EXPECT_EQ(test::expect_all_ops_pass(b, parse_shape("stories260K"), 5, 11), 1u + 5 + 3 * 5 + 2);
    }
}

// stories15M shape (the check draws its own random weights): 288x288, 288->768, 768->288
// and the 32000x288 classifier.
TEST(OpenMp, EveryOpWithinToleranceAtStories15MShapes) {
    OpenMpBackend b(2, true);
    EXPECT_EQ(test::expect_all_ops_pass(b, parse_shape("stories15M"), 4, 11), 1u + 4 + 3 * 5 + 2);
}

// The fused forward pass (one parallel region, each thread its rows of every matrix) against the
// op-by-op pass and cpu-ref, with thread counts that split rows unevenly.
TEST(OpenMp, FusedForwardMatchesOpByOpAndCpuRef) {
    test::TempDir tmp;
    const std::string path = tmp.file("small.bin");
    write_synthetic_model(parse_shape("dim=96,hidden=200,layers=2,heads=6,kv_heads=2,vocab=300,seq=80"), path, 5);
    Model model = Model::open(path);
    // On a busy 2-core machine a barrier can wait a whole time slice for a descheduled
    // thread (3 threads always oversubscribe it), so the threaded cases run fewer positions.
    for (int threads : {1, 2, 3}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        const int steps = threads == 1 ? 80 : threads == 2 ? 40 : 12;
        test::OpenMpAndCpuRef trio(model, threads);  // every thread runs even on this tiny model
        OpenMpBackend &fused = trio.fused, &unfused = trio.unfused;
        CpuRefBackend& ref = trio.ref;
        EndToEndCheck e = check_end_to_end(fused, ref, steps);
        EXPECT_TRUE(e.pass) << e.note;
        EXPECT_EQ(e.positions, steps);
        EXPECT_EQ(e.tokens_agreeing, steps);
        EndToEndCheck u = check_end_to_end(unfused, fused, steps);
        EXPECT_TRUE(u.pass) << u.note;
        // Both do the same arithmetic per element; only the matmul grouping may differ.
        EXPECT_LT(u.max_abs_logit_err, 1e-4);
    }
}

TEST(OpenMp, SmallModelsRunTheFusedPassOnFewerThreads) {
    test::TempDir tmp;
    write_synthetic_model(parse_shape("dim=64,hidden=128,layers=2,heads=4,kv_heads=4,vocab=200,seq=16"),
                          tmp.file("tiny.bin"), 2);
    write_synthetic_model(parse_shape("dim=256,hidden=768,layers=4,heads=4,kv_heads=4,vocab=2048,seq=16"),
                          tmp.file("mid.bin"), 2);
    Model tiny = Model::open(tmp.file("tiny.bin")), mid = Model::open(tmp.file("mid.bin"));
    ASSERT_LT(tiny.weight_bytes_per_token(), OpenMpBackend::kMinWeightBytesPerThread);
    ASSERT_GT(mid.weight_bytes_per_token(), 3 * OpenMpBackend::kMinWeightBytesPerThread);
    OpenMpBackend b(3, true);
    b.load(tiny);
    EXPECT_EQ(b.forward_threads(), 1);
    b.load(mid);
    EXPECT_EQ(b.forward_threads(), 3);
    OpenMpBackend two(2, true);
    two.load(mid);
    EXPECT_EQ(two.forward_threads(), 2);
}

TEST(OpenMp, OpTimingRunsOpByOpWithTheSameResult) {
    test::TempDir tmp;
    const std::string path = tmp.file("small.bin");
    write_synthetic_model(parse_shape("dim=64,hidden=128,layers=2,heads=4,kv_heads=4,vocab=200,seq=16"), path, 2);
    Model model = Model::open(path);
    OpenMpBackend a(2, true), b(2, true);
    a.load(model);
    b.load(model);
    OpTimes times;
    b.set_op_times(&times);
    for (int pos = 0; pos < 4; ++pos) {
        const float* la = a.forward(3, pos);
        const float* lb = b.forward(3, pos);
        for (int i = 0; i < model.config().vocab_size; ++i) ASSERT_NEAR(la[i], lb[i], 1e-4) << i;
    }
    EXPECT_EQ(times.calls[size_t(Op::Attention)], 4 * 2);
    EXPECT_GT(times.calls[size_t(Op::MatMul)], 0);
}

TEST(OpenMp, ChecksStories260KEndToEnd) {
    LHB_REQUIRE_MODELS();
    Model model = Model::open(test::model_path("stories260K.bin"));
    OpenMpBackend b(2, true);
    CpuRefBackend ref;
    CorrectnessReport r = check_backend(b, ref, model, 200);
    EXPECT_TRUE(r.pass) << r.summary();
    EXPECT_EQ(r.end_to_end.tokens_agreeing, 200);
    // and with both threads forced onto this 1 MB model (few positions: on a busy machine
    // each barrier can wait a time slice for a descheduled thread)
    OpenMpBackend forced(2, true, 0);
    forced.load(model);
    ASSERT_EQ(forced.forward_threads(), 2);
    EndToEndCheck e = check_end_to_end(forced, ref, 24);
    EXPECT_TRUE(e.pass) << e.note;
    EXPECT_EQ(e.tokens_agreeing, 24);
}

TEST(OpenMp, Stories260KGreedyTextIsLlama2cs) {
    LHB_REQUIRE_MODELS();
    for (const char* threads : {"1", "2"})
        test::expect_llama2c_greedy_text(std::string("--backend openmp --threads ") + threads);
}

}  // namespace
}  // namespace lhb
