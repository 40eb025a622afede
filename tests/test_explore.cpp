// bench explore (issue 18, point 5): a small grid's points, its Pareto front confirmed by a
// dominance check done here from the listed points, one point checked against bench
// estimate, points that do not fit marked, and bad grid values refused in one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "tests/test_support.hpp"

namespace lhb::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// stories260K on the ZCU106: engines x lanes, with 64 lanes on 16 engines far beyond the DSPs.
const std::string kGridFlags =
    "--shape stories260K --board zcu106 --param weight_ports=1,4,16 --param lanes=4,64 --no-plot";

json run_grid(const TempDir& dir, const std::string& flags = kGridFlags) {
    auto r = run_bench("explore " + flags + " --out '" + dir.path + "'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Pareto front per board"), std::string::npos) << r.out;
    return json::parse(read_file(dir.file("explore.json")));
}

// a dominates b: at least as many tok/s at no more utilization, better in one.
bool dominates(const json& a, const json& b) {
    const double ta = a["tok_per_s_estimated"], tb = b["tok_per_s_estimated"];
    const double ua = a["utilization"], ub = b["utilization"];
    return ta >= tb && ua <= ub && (ta > tb || ua < ub);
}

TEST(Explore, TheListedFrontIsTheNonDominatedFittingPoints) {
    TempDir dir;
    const json x = run_grid(dir);
    EXPECT_EQ(x["label"], "estimated");
    const json& points = x["points"];
    ASSERT_EQ(points.size(), 6u);  // 1 board x 3 x 2
    int fitting = 0, front = 0;
    for (const json& p : points) {
        ASSERT_TRUE(p["params"].contains("weight_ports") && p["params"].contains("lanes")) << p.dump();
        bool dominated = false;
        for (const json& q : points)
            if (q["fits"] == true && q["board_file"] == p["board_file"] && dominates(q, p)) dominated = true;
        const bool expected = p["fits"] == true && !dominated;
        EXPECT_EQ(p["pareto"] == true, expected) << p["params"].dump();
        fitting += p["fits"] == true;
        front += expected;
    }
    EXPECT_GE(front, 1);
    EXPECT_LT(fitting, 6) << "the 16 x 64-lane point should not fit a ZCU106";
    // By hand: 16 engines of 64 lanes need at least 16 * 64 fmul DSPs, more than the ZCU106's
    // 1728, so that point does not fit and is not on the front.
    for (const json& p : points)
        if (p["params"]["weight_ports"] == 16 && p["params"]["lanes"] == 64) {
            EXPECT_EQ(p["fits"], false);
            EXPECT_EQ(p["pareto"], false);
            EXPECT_GT(p["resources_estimated"]["dsp"].get<double>(), 1728);
        }
    // By hand: the fitting point with the most tok/s (then the least utilization) is on the front.
    const json* best = nullptr;
    for (const json& p : points)
        if (p["fits"] == true &&
            (!best || p["tok_per_s_estimated"] > (*best)["tok_per_s_estimated"] ||
             (p["tok_per_s_estimated"] == (*best)["tok_per_s_estimated"] && p["utilization"] < (*best)["utilization"])))
            best = &p;
    ASSERT_NE(best, nullptr);
    EXPECT_EQ((*best)["pareto"], true) << best->dump();
}

TEST(Explore, UtilizationIsTheLargestShareOfTheDevice) {
    TempDir dir;
    const json x = run_grid(dir);
    for (const json& p : x["points"]) {
        const json& r = p["resources_estimated"];
        double most = 0;
        std::string of;
        for (const auto& [name, key] : std::vector<std::pair<std::string, std::string>>{
                 {"DSP", "dsp"}, {"BRAM36", "bram36"}, {"URAM", "uram"}, {"LUT", "lut"}, {"FF", "ff"}}) {
            const double avail = r[key + "_available"];
            if (avail <= 0) continue;
            const double share = r[key].get<double>() / avail;
            if (share > most || of.empty()) most = share, of = name;
        }
        EXPECT_DOUBLE_EQ(p["utilization"].get<double>(), most) << p["params"].dump();
        EXPECT_EQ(p["utilization_of"], of);
        EXPECT_EQ(p["fits"] == true, most <= 1.0) << p["params"].dump();
    }
}

// The point with the compiled kernels' values is bench estimate's estimate, figure for figure.
TEST(Explore, ThePointOfTheCompiledDesignIsBenchEstimates) {
    TempDir dir;
    const json x = run_grid(dir);
    const int pos = x["pos"];
    auto est = run_bench("estimate --shape stories260K --pos " + std::to_string(pos) + " --json");
    ASSERT_EQ(est.exit_code, 0) << est.err;
    const json e = json::parse(est.out);
    bool found = false;
    for (const json& p : x["points"])
        if (p["params"]["weight_ports"] == 4 && p["params"]["lanes"] == 4) {
            found = true;
            EXPECT_DOUBLE_EQ(p["tok_per_s_estimated"].get<double>(), e["tok_per_s_estimated"].get<double>());
            EXPECT_DOUBLE_EQ(p["resources_estimated"]["dsp"].get<double>(),
                             e["resources_estimated"]["dsp"].get<double>());
        }
    EXPECT_TRUE(found);
    const std::string csv = read_file(dir.file("explore.csv"));
    EXPECT_EQ(csv.rfind("board,weight_ports,lanes,tok_per_s_estimated,", 0), 0u) << csv.substr(0, 120);
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 7);
}

TEST(Explore, AGridFileNamesBoardsAndDesignKeysOfSections) {
    TempDir dir;
    write_file(dir.file("grid.json"), R"({"schema": "lhb-explore/1", "shape": "stories260K",
        "boards": ["zcu106", "kv260"], "grid": {"clock_mhz": [200, 300], "weights.bits": [32, 8]}})");
    auto r = run_bench("explore --grid '" + dir.file("grid.json") + "' --no-plot --out '" + dir.file("out") + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json x = json::parse(read_file(dir.file("out/explore.json")));
    ASSERT_EQ(x["points"].size(), 8u);
    std::set<std::string> boards, precisions;
    for (const json& p : x["points"]) boards.insert(p["board"]), precisions.insert(p["precision"]);
    EXPECT_EQ(boards.size(), 2u);
    EXPECT_EQ(precisions.size(), 2u) << "weights.bits=8 is an int8 design";
    // Fewer bytes a token with 8-bit weights: more tok/s at the same clock on the same board.
    for (const json& a : x["points"])
        for (const json& b : x["points"])
            if (a["board"] == b["board"] && a["params"]["clock_mhz"] == b["params"]["clock_mhz"] &&
                a["params"]["weights.bits"] == 8 && b["params"]["weights.bits"] == 32) {
                EXPECT_LT(a["bytes_per_token"].get<double>(), b["bytes_per_token"].get<double>());
            }
}

TEST(Explore, BadGridValuesAreRefusedInOneLineNamingTheField) {
    TempDir dir;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"--param lanes=0", "lanes: expected an integer in [1, 256], found 0"},
        {"--param lanes=4,x", "--param lanes: expected numbers separated by commas, found \"x\""},
        {"--param lanez=4", "lanez: expected a known key (did you mean \"lanes\"?)"},
        {"--param weights.bits=5", "weights.bits: expected 32, 16, 8 or 4, found 5"},
        {"--param lanes=4 --param lanes=8", "--param lanes: expected each key once"},
    };
    for (const auto& [flags, message] : cases) {
        auto r = run_bench("explore --shape stories260K --board zcu106 " + flags + " --out '" + dir.file("out") + "'");
        EXPECT_EQ(r.exit_code, 1) << flags;
        EXPECT_NE(r.err.find(message), std::string::npos) << flags << ": " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_FALSE(fs::exists(dir.file("out/explore.json"))) << flags;
    }
    write_file(dir.file("g.json"), R"({"schema": "lhb-explore/1", "grid": {"lanes": "4"}})");
    auto r = run_bench("explore --grid '" + dir.file("g.json") + "'");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(dir.file("g.json") + ": grid.lanes: expected an array of numbers"), std::string::npos) << r.err;
}

TEST(Explore, ThePlotIsAPng) {
    if (run_shell("/usr/bin/python3 -c 'import matplotlib' 2>/dev/null").exit_code != 0)
        GTEST_SKIP() << "python3-matplotlib not installed";
    TempDir dir;
    auto r = run_bench("explore --shape stories260K --board zcu106 --param lanes=4,8 --out '" + dir.path + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string png = read_file(dir.file("explore.png"));
    ASSERT_GT(png.size(), 8u) << r.err;
    EXPECT_EQ(png.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)), 0);
}

}  // namespace
}  // namespace lhb::test
