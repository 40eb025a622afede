// The host memory roofline: bytes per token and the read-bandwidth kernel; and `bench ops`,
// which reports op throughput against it.
#include <cstdio>

#include "core/roofline.hpp"
#include "core/synth.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

TEST(Roofline, KvBytesFollowTheFormula) {
    ModelConfig c = parse_shape("stories15M");
    EXPECT_EQ(kv_bytes_at(c, 0), 2 * 6 * 1 * 288 * 4);
    EXPECT_EQ(kv_bytes_at(c, 255), 2 * 6 * 256 * 288 * 4);
    ModelConfig g = parse_shape("stories260K");  // grouped-query attention: kv_dim 32
    EXPECT_EQ(kv_bytes_at(g, 9), 2 * 5 * 10 * 32 * 4);
}

// GGUF blocks count as stored: a Q8_0 row of 32 values is 34 bytes, the embedding row too.
TEST(Roofline, GgufBlocksCountTheirBytes) {
    test::TempDir tmp;
    const std::string path = tmp.file("m.gguf");
    ModelConfig c = parse_shape("dim=64,hidden=160,layers=2,heads=4,kv_heads=2,vocab=512,seq=40");
    SynthOptions o;
    o.format = SynthFormat::Gguf;
    o.type = GgmlType::Q8_0;
    write_synthetic(c, path, o);
    Model m = Model::open(path);
    const int64_t row64 = 2 * 34, row160 = 5 * 34;
    // embedding row + norms, 7 matrices per layer (w2's rows are 160 long), the classifier
    const int64_t weights = row64 + 4 * 64 * (2 * 2 + 1) +
                            2 * ((64 + 32 + 32 + 64 + 160 + 160) * row64 + 64 * row160) + 512 * row64;
    EXPECT_EQ(m.weight_bytes_per_token(), weights);
}

TEST(Roofline, BytesPerTokenAreWeightsPlusKvCache) {
    test::TempDir tmp;
    const std::string path = tmp.file("m.bin");
    ModelConfig c = parse_shape("dim=64,hidden=160,layers=2,heads=4,kv_heads=2,vocab=256,seq=40");
    write_synthetic_model(c, path, 1);
    Model m = Model::open(path);
    // embedding row + 2 norms per layer + final norm, 7 matrices per layer, the classifier
    const int64_t weights = 4 * (64 * (1 + 2 * 2 + 1) +
                                 2 * (64 * 64 * 2 + 32 * 64 * 2 + 3 * 64 * 160) + 256 * 64);
    EXPECT_EQ(m.weight_bytes_per_token(), weights);
    EXPECT_EQ(bytes_per_token(m, 0), weights + kv_bytes_at(c, 0));
    EXPECT_EQ(bytes_per_token(m, 39), weights + kv_bytes_at(c, 39));
    EXPECT_DOUBLE_EQ(mean_bytes_per_token(m, 0, 39), 0.5 * double(bytes_per_token(m, 0) + bytes_per_token(m, 39)));
    EXPECT_DOUBLE_EQ(roofline_tok_per_s(1e6, 2e9), 2000.0);
    EXPECT_EQ(roofline_tok_per_s(0, 2e9), 0.0);
}

// No timing asserts: only that the kernel runs, is bounded in time, and reports something sane.
TEST(Roofline, ReadBandwidthIsMeasured) {
    Bandwidth b = measure_read_bandwidth(2, 4 << 20, 0.05);
    EXPECT_EQ(b.threads, 2);
    EXPECT_EQ(b.buffer_bytes, 4 << 20);
    EXPECT_GE(b.passes, 3);
    EXPECT_GT(b.bytes_per_second, 1e8);  // any machine reads faster than 100 MB/s
    EXPECT_GE(b.bytes_per_second, b.median_bytes_per_second);
    EXPECT_LT(b.seconds, 5.0);
}

TEST(BenchOps, ReportsCountersForEveryOpAndDecode) {
    test::TempDir tmp;
    auto r = test::run_bench("ops --shape stories260K --backend openmp --threads 2 --bandwidth-seconds 0.05 "
                             "--benchmark_min_time=0.001 --benchmark_format=json --benchmark_out=" +
                             tmp.file("ops.json"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string json = test::read_file(tmp.file("ops.json"));
    for (const char* name : {"openmp/matmul/64->64", "openmp/matmul/64->32", "openmp/matmul/64->172",
                             "openmp/matmul/172->64", "openmp/matmul/64->512", "openmp/rmsnorm/64",
                             "openmp/rope/64", "openmp/softmax/pos=255", "openmp/attention/pos=1",
                             "openmp/attention/pos=64", "openmp/swiglu/172", "openmp/residual/64",
                             "openmp/decode/pos=255"})
        EXPECT_NE(json.find(std::string("\"name\": \"") + name + "/real_time\""), std::string::npos) << name;
    EXPECT_NE(json.find("\"roofline\""), std::string::npos);
    EXPECT_NE(json.find("\"FLOP/s\""), std::string::npos);
    EXPECT_NE(json.find("\"bytes_per_second\""), std::string::npos);
    EXPECT_NE(json.find("\"read_bandwidth\""), std::string::npos);
    EXPECT_NE(json.find("synthetic weights"), std::string::npos);
}

TEST(BenchOps, FilterPassesThroughAndBadInputIsOneLine) {
    auto r = test::run_bench("ops --shape stories260K --backend cpu-ref --bandwidth-seconds 0.05 "
                             "--benchmark_min_time=0.001 --benchmark_filter=residual");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("cpu-ref/residual/64"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("matmul"), std::string::npos) << r.out;

    auto bad = test::run_bench("ops --backend nosuch --shape stories260K");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("nosuch"), std::string::npos) << bad.err;
    auto bad_shape = test::run_bench("ops --shape dim=7");
    EXPECT_EQ(bad_shape.exit_code, 1);
    auto both = test::run_bench("ops --shape stories260K --model x.bin");
    EXPECT_EQ(both.exit_code, 1);
    EXPECT_NE(both.err.find("--model and --shape"), std::string::npos) << both.err;
}

}  // namespace
}  // namespace lhb
