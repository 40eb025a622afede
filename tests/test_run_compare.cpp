// `bench compare A.json B.json`: per-point ratios, flags only beyond the measured noise.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bench/results.hpp"
#include "tests/test_support.hpp"

namespace lhb::test {
namespace {

using nlohmann::json;

json row(const std::string& id, double decode, double cv, const std::string& correctness = "pass") {
    return {{"id", id},
            {"kind", "measured"},
            {"status", correctness == "fail" ? "failed" : "ok"},
            {"model", "m"},
            {"backend", "b"},
            {"precision", "fp32"},
            {"decode_tok_s", decode},
            {"prefill_tok_s", 2 * decode},
            {"decode", {{"tok_s", {{"cv", cv}}}}},
            {"correctness", {{"status", correctness}}}};
}

json results(std::vector<json> rows, const std::string& commit) {
    return {{"schema", "llama-hls-bench/results"},
            {"schema_version", 1},
            {"complete", true},
            {"environment", {{"cpu_model", "X"}, {"git_commit", commit}}},
            {"published", json::array()},
            {"rows", rows}};
}

TEST(RunCompare, FlagsOnlyChangesBeyondTheMeasuredNoise) {
    TempDir dir;
    write_file(dir.file("a.json"), results({row("steady", 100, 0.01), row("noisy", 100, 0.2), row("breaks", 50, 0.01),
                                            row("gone", 10, 0.01), row("faster", 100, 0.01)},
                                           "aaa")
                                       .dump());
    write_file(dir.file("b.json"), results({row("steady", 80, 0.01), row("noisy", 80, 0.2), row("breaks", 50, 0.01, "fail"),
                                            row("new", 10, 0.01), row("faster", 150, 0.01)},
                                           "bbb")
                                       .dump());
    auto r = run_bench("compare '" + dir.file("a.json") + "' '" + dir.file("b.json") + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // 20% slower with 1% CV on each side: beyond 3 x 1.4% noise.
    EXPECT_NE(r.out.find("| steady | 100.00 | 80.00 | 0.800 | 200.00 | 160.00 | 0.800 | ±4.2% | **SLOWER** |"),
              std::string::npos)
        << r.out;
    // The same drop with 20% CV is within noise: no flag.
    EXPECT_NE(r.out.find("| noisy | 100.00 | 80.00 | 0.800 | 200.00 | 160.00 | 0.800 | ±84.9% |  |"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("| breaks | 50.00 | 50.00 | 1.000 |"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("**CORRECTNESS LOST**"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("| faster | 100.00 | 150.00 | 1.500 |"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("only in A: gone"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("only in B: new"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("git_commit differs"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("2 regression(s) beyond noise."), std::string::npos) << r.out;

    auto strict = run_bench("compare '" + dir.file("a.json") + "' '" + dir.file("b.json") + "' --fail-on-slower");
    EXPECT_EQ(strict.exit_code, 3);
    auto same = run_bench("compare '" + dir.file("a.json") + "' '" + dir.file("a.json") + "' --fail-on-slower");
    EXPECT_EQ(same.exit_code, 0) << same.out;
}

// Schema version 2 added /table; the rows are the same, so version 1 and 2 files compare.
TEST(RunCompare, ComparesAVersion1FileWithAVersion2File) {
    TempDir dir;
    json a = results({row("p", 100, 0.01)}, "aaa");
    json b = results({row("p", 100, 0.01)}, "aaa");
    b["schema_version"] = 2;
    b["table"] = bench::table_json(b["published"]);
    write_file(dir.file("a.json"), a.dump());
    write_file(dir.file("b.json"), b.dump());
    auto r = run_bench("compare '" + dir.file("a.json") + "' '" + dir.file("b.json") + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("| p | 100.00 | 100.00 | 1.000 |"), std::string::npos) << r.out;
    auto back = run_bench("compare '" + dir.file("b.json") + "' '" + dir.file("a.json") + "'");
    EXPECT_EQ(back.exit_code, 0) << back.err;
    // A version 2 file must carry the table's columns.
    b.erase("table");
    write_file(dir.file("c.json"), b.dump());
    auto bad = run_bench("compare '" + dir.file("a.json") + "' '" + dir.file("c.json") + "'");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_EQ(bad.err, "error: " + dir.file("c.json") + ": /table: expected an object with the table's columns, found none\n");
}

// Version 3 (unstable, board-only speedups, merged runs) reads beside 1 and 2, both ways.
TEST(RunCompare, ComparesAVersion3FileWithVersion1And2Files) {
    TempDir dir;
    json v1 = results({row("p", 100, 0.01)}, "aaa");
    json v2 = v1, v3 = v1;
    v2["schema_version"] = 2;
    v2["table"] = bench::table_json(v2["published"]);
    v3["schema_version"] = 3;
    v3["table"] = bench::table_json(v3["published"]);
    v3["rows"][0]["unstable"] = false;
    v3["rows"][0]["decode_tok_s"] = 50;
    write_file(dir.file("v1.json"), v1.dump());
    write_file(dir.file("v2.json"), v2.dump());
    write_file(dir.file("v3.json"), v3.dump());
    for (const char* old : {"v1.json", "v2.json"}) {
        auto r = run_bench("compare '" + dir.file(old) + "' '" + dir.file("v3.json") + "'");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_NE(r.out.find("| p | 100.00 | 50.00 | 0.500 |"), std::string::npos) << r.out;
        auto back = run_bench("compare '" + dir.file("v3.json") + "' '" + dir.file(old) + "'");
        ASSERT_EQ(back.exit_code, 0) << back.err;
        EXPECT_NE(back.out.find("| p | 50.00 | 100.00 | 2.000 |"), std::string::npos) << back.out;
    }
}

TEST(RunCompare, RejectsAFileThatIsNotResults) {
    TempDir dir;
    write_file(dir.file("a.json"), "{\"schema\": \"something else\", \"rows\": []}");
    auto r = run_bench("compare '" + dir.file("a.json") + "' '" + dir.file("a.json") + "'");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, "error: " + dir.file("a.json") +
                         ": /schema: expected \"llama-hls-bench/results\", found \"something else\"\n");
    write_file(dir.file("b.json"), "{\"schema\": ");
    r = run_bench("compare '" + dir.file("b.json") + "' '" + dir.file("b.json") + "'");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(dir.file("b.json") + ":1:"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace lhb::test
