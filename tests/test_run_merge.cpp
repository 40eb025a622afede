// Results from several machines (bench merge), compared honestly: hosts side by side, compare
// warns when hosts, CPUs or commits differ and pairs rows by their full identity, speedups over
// published board figures only on board rows, no roofline fraction above 1 as a result.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bench/results.hpp"
#include "tests/quick_run.hpp"
#include "tests/test_support.hpp"

namespace lhb::test {
namespace {

using nlohmann::json;

json read_json(const std::string& path) { return json::parse(read_file(path)); }

std::string quoted(const std::string& path) { return "'" + path + "'"; }

class Merge : public QuickRunSuite<Merge> {
public:
    static constexpr const char* kRunFlags = " --no-report";

protected:
    // The quick run as if it had run on another host, CPU and commit.
    static std::string elsewhere(const std::string& host, const std::string& name) {
        json doc = read_json(file("results.json"));
        doc["environment"]["hostname"] = host;
        doc["environment"]["cpu_model"] = "Cortex-A53 of " + host;
        doc["environment"]["git_commit"] = "0123456789abcdef" + host;
        doc["started_at"] = "2030-01-01T00:00:00Z";
        const std::string path = file(name);
        write_file(path, doc.dump());
        return path;
    }
};

TEST_F(Merge, TwoHostsMergeKeepEveryRowAndShowSideBySide) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    const std::string a = file("results.json"), b = elsewhere("lab-board-2", "b.json"), m = file("merged.json");
    auto merged = run_bench("merge " + quoted(a) + " " + quoted(b) + " -o " + quoted(m));
    ASSERT_EQ(merged.exit_code, 0) << merged.err;
    const json ja = read_json(a), jm = read_json(m);
    EXPECT_EQ(jm["schema_version"], bench::kResultsSchemaVersion);
    ASSERT_EQ(jm["rows"].size(), 2 * ja["rows"].size());
    ASSERT_EQ(jm["runs"].size(), 2u);
    EXPECT_EQ(jm["runs"][1]["hostname"], "lab-board-2");
    EXPECT_EQ(jm["runs"][1]["environment"]["cpu_model"], "Cortex-A53 of lab-board-2");
    EXPECT_EQ(jm["rows"][0]["host"], ja["environment"]["hostname"]);
    EXPECT_EQ(jm["rows"].back()["host"], "lab-board-2");

    // report: a host column and both hosts' environments (the table, then index.html).
    auto shown = run_bench("report " + quoted(m));
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_EQ(shown.out.rfind("| host | model | backend |", 0), 0u) << shown.out;
    EXPECT_NE(shown.out.find("| lab-board-2 | stories260K | cpu-ref | fp32 | 1 | measured |"), std::string::npos) << shown.out;
    EXPECT_NE(shown.out.find("Host lab-board-2 (run 2030-01-01T00:00:00Z): Cortex-A53 of lab-board-2"), std::string::npos);
    const std::string html = read_file(file("index.html"));
    EXPECT_NE(html.find("<th>lab-board-2</th>"), std::string::npos);
    EXPECT_NE(html.find("Cortex-A53 of lab-board-2"), std::string::npos);

    // compare: the two hosts warn (stderr and output), and a merged file pairs by host.
    auto cmp = run_bench("compare " + quoted(a) + " " + quoted(b));
    ASSERT_EQ(cmp.exit_code, 0) << cmp.err;
    for (const char* k : {"hostname differs", "cpu_model differs", "git_commit differs"}) {
        EXPECT_NE(cmp.err.find(std::string("warning: ") + k), std::string::npos) << k << "\n" << cmp.err;
        EXPECT_NE(cmp.out.find(std::string("warning: ") + k), std::string::npos) << k;
    }
    auto self = run_bench("compare " + quoted(m) + " " + quoted(m));
    ASSERT_EQ(self.exit_code, 0) << self.err;
    EXPECT_EQ(self.out.find("only in"), std::string::npos) << self.out;
    EXPECT_NE(self.out.find("/measured @lab-board-2 |"), std::string::npos) << self.out;
    EXPECT_NE(self.out.find("warning: each file mixes hostname values"), std::string::npos) << self.out;
}

TEST_F(Merge, IsAssociativeAndRefusesARunTwice) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    const std::string a = file("results.json"), b = elsewhere("host-b", "hb.json"), c = elsewhere("host-c", "hc.json");
    auto run = [](const std::string& args) {
        auto r = run_bench("merge " + args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
    };
    run(quoted(a) + " " + quoted(b) + " -o " + quoted(file("ab.json")));
    run(quoted(file("ab.json")) + " " + quoted(c) + " -o " + quoted(file("ab_c.json")));
    run(quoted(b) + " " + quoted(c) + " -o " + quoted(file("bc.json")));
    run(quoted(a) + " " + quoted(file("bc.json")) + " -o " + quoted(file("a_bc.json")));
    const json left = read_json(file("ab_c.json")), right = read_json(file("a_bc.json"));
    EXPECT_EQ(left, right);
    EXPECT_EQ(left["rows"].size(), 3 * read_json(a)["rows"].size());

    auto twice = run_bench("merge " + quoted(file("ab.json")) + " " + quoted(b) + " -o " + quoted(file("x.json")));
    EXPECT_EQ(twice.exit_code, 1);
    EXPECT_NE(twice.err.find(b + ": the run host-b@2030-01-01T00:00:00Z is already in an earlier input"), std::string::npos)
        << twice.err;
    EXPECT_FALSE(std::filesystem::exists(file("x.json")));
    json newer = read_json(a);
    newer["schema_version"] = 99;
    write_file(file("newer.json"), newer.dump());
    auto unknown = run_bench("merge " + quoted(a) + " " + quoted(file("newer.json")) + " -o " + quoted(file("x.json")));
    EXPECT_EQ(unknown.exit_code, 1);
    EXPECT_EQ(unknown.err, "error: " + file("newer.json") + ": /schema_version: expected 1 to 4, found 99\n");
    auto onto_input = run_bench("merge " + quoted(a) + " " + quoted(b) + " -o " + quoted(b));
    EXPECT_EQ(onto_input.exit_code, 1) << onto_input.err;
    EXPECT_EQ(read_json(b)["environment"]["hostname"], "host-b");
}

// No row of a run carries a roofline fraction above 1 without the unstable flag, and host
// rows carry no speedup over the published board figures.
TEST_F(Merge, RunRowsAreHonest) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    const json doc = read_json(file("results.json"));
    EXPECT_EQ(doc["schema_version"], 4);  // 4: batched prefill, depth, ttft, per-round roofline
    for (const json& r : doc["rows"]) {
        ASSERT_TRUE(r.contains("unstable")) << r["id"];
        const json& f = r.contains("roofline") ? r["roofline"]["fraction"] : json();
        if (f.is_number() && f.get<double>() > 1) {
            EXPECT_EQ(r["unstable"], true) << r["id"];
        }
        if (r["backend"] == "cpu-ref" || r["backend"] == "openmp" || (r["backend"] == "hls-csim" && r["kind"] == "measured")) {
            EXPECT_TRUE(r["speedup"].empty()) << r["id"];
        }
    }
}

json row(const std::string& id, const std::string& kind, const std::string& backend, double decode) {
    return {{"id", id},         {"kind", kind},       {"status", "ok"},         {"model", "m"},
            {"backend", backend}, {"precision", "fp32"}, {"decode_tok_s", decode}, {"fused", true},
            {"decode", {{"tok_s", {{"cv", 0.01}}}}}, {"correctness", {{"status", "pass"}}}};
}

json document(std::vector<json> rows) {
    return {{"schema", "llama-hls-bench/results"},
            {"schema_version", 2},
            {"complete", true},
            {"environment", {{"cpu_model", "X"}, {"git_commit", "aaa"}, {"hostname", "h"}}},
            {"published", {{{"backend", "zcu106-ps"}, {"tok_s", 1.75}, {"name", "PS"}}}},
            {"table", bench::table_json({{{"backend", "zcu106-ps"}, {"tok_s", 1.75}}})},
            {"rows", rows}};
}

// An older file with the figures: a Xeon row "41x" the board, a roofline of 113%.
TEST(HonestResults, OlderFilesArePrintedWithoutHostSpeedupsOrFractionsAboveOne) {
    TempDir dir;
    json host = row("m/cpu-ref", "measured", "cpu-ref", 71.75);
    host["speedup"] = {{"zcu106-ps", 41.0}};
    host["roofline"] = {{"fraction", 1.13}};
    json board = row("m/hls-csim/estimated", "estimated", "hls-csim", 3.5);
    board["speedup"] = {{"zcu106-ps", 2.0}};
    board["roofline"] = {{"fraction", 0.5}};
    write_file(dir.file("old.json"), document({host, board}).dump());
    auto md = run_bench("print " + quoted(dir.file("old.json")));
    ASSERT_EQ(md.exit_code, 0) << md.err;
    EXPECT_NE(md.out.find("| m | cpu-ref | fp32 | - | measured | - | - | 71.75 | - | 1.0% | unstable | - | pass | - |"),
              std::string::npos)
        << md.out;
    EXPECT_NE(md.out.find("| 3.50 | - | 1.0% | 50.0% | 2.00x |"), std::string::npos) << md.out;
    EXPECT_EQ(md.out.find("113"), std::string::npos) << md.out;
    EXPECT_EQ(md.out.find("41.00x"), std::string::npos) << md.out;
    auto rows = run_bench("print " + quoted(dir.file("old.json")) + " -o json");
    ASSERT_EQ(rows.exit_code, 0) << rows.err;
    const json j = json::parse(rows.out);
    EXPECT_EQ(j[0]["unstable"], true);
    EXPECT_TRUE(j[0]["roofline_fraction"].is_null());
    EXPECT_EQ(j[1]["unstable"], false);
    EXPECT_EQ(j[1]["roofline_fraction"], 0.5);
}

// Two points that differ only in `fused` are two points, paired each with its own.
TEST(HonestResults, ComparePairsFusedAndUnfusedPointsApart) {
    TempDir dir;
    json fused_a = row("p", "measured", "openmp", 100), unfused_a = row("p", "measured", "openmp", 50);
    unfused_a["fused"] = false;
    json fused_b = fused_a, unfused_b = unfused_a;
    unfused_b["decode_tok_s"] = 25;
    write_file(dir.file("a.json"), document({fused_a, unfused_a}).dump());
    write_file(dir.file("b.json"), document({fused_b, unfused_b}).dump());
    auto r = run_bench("compare " + quoted(dir.file("a.json")) + " " + quoted(dir.file("b.json")));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("| p | 100.00 | 100.00 | 1.000 |"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("| p (fused=false) | 50.00 | 25.00 | 0.500 |"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("1 regression(s) beyond noise."), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace lhb::test
