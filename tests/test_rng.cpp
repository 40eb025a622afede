// core/rng.hpp: the one seeded generator (splitmix64). Its sequence is fixed: synthetic
// checkpoints written before it moved into core/ must come out byte for byte the same.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/rng.hpp"
#include "tests/test_support.hpp"

namespace lhb::test {
namespace {

TEST(Rng, IsSplitMix64) {
    Rng r(0);  // the published splitmix64 sequence for seed 0
    EXPECT_EQ(r.next(), 0xE220A8397B1DCDAFull);
    EXPECT_EQ(r.next(), 0x6E789E6AA1B965F4ull);
    EXPECT_EQ(r.next(), 0x06C45D188009454Full);
}

TEST(Rng, UniformIsInMinusOneToOne) {
    Rng r(42);
    for (float x : r.vec(10000)) {
        EXPECT_GE(x, -1.0f);
        EXPECT_LT(x, 1.0f);
    }
    EXPECT_EQ(Rng(7).vec(5), Rng(7).vec(5));
    EXPECT_NE(Rng(7).vec(5), Rng(8).vec(5));
}

// ../shared/models/gguf/synth256.bin was written by this command before core/rng.hpp existed.
TEST(Rng, BenchSynthStillWritesTheSameBytes) {
    LHB_REQUIRE_MODELS();
    const std::string golden = model_path("gguf/synth256.bin");
    if (!std::filesystem::exists(golden)) GTEST_SKIP() << golden << " not there";
    TempDir dir;
    auto r = run_bench("synth --shape dim=256,hidden=768,layers=2,heads=8,kv_heads=4,vocab=512,seq=256 --seed 7 -o '" +
                       dir.file("s.bin") + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(read_file(dir.file("s.bin")) == read_file(golden));
}

}  // namespace
}  // namespace lhb::test
