// `bench run` with GGUF block types as precisions (q8_0, q4_0, q4_k_m, ...): synthetic shapes
// written in the type, GGUF files run when their type matches, skips with a reason where a
// file or a backend cannot serve the type, and the rows' labels and byte counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "tests/json_schema_lite.hpp"
#include "tests/test_support.hpp"

namespace lhb::test {
namespace {

using nlohmann::json;

// dim 64 takes Q8_0 and Q4_0 (blocks of 32) but not Q4_K (rows of 256); the second shape takes all.
constexpr const char* kSmall = "dim=64,hidden=128,layers=2,heads=4,kv_heads=2,vocab=512,seq=32";
constexpr const char* kWide = "dim=256,hidden=512,layers=2,heads=4,kv_heads=4,vocab=512,seq=32";

std::string config(const json& models, const json& precisions, const json& backends, const std::string& out) {
    return json{{"name", "gguf"},
                {"models", models},
                {"backends", backends},
                {"precisions", precisions},
                {"prompt_tokens", {4}},
                {"generate_tokens", 4},
                {"warmup", 0},
                {"repetitions", 1},
                {"correctness_steps", 4},
                {"out", out}}
        .dump();
}

json synthetic(const std::string& name, const std::string& shape) {
    return {{"name", name}, {"path", "absent-" + name + ".bin"}, {"shape", shape}};
}

// model/backend/precision -> the measured row.
std::map<std::string, json> measured_rows(const json& results) {
    std::map<std::string, json> rows;
    for (const json& r : results["rows"])
        if (r["kind"] == "measured")
            rows[r["model"].get<std::string>() + "/" + r["backend"].get<std::string>() + "/" +
                 r["precision"].get<std::string>()] = r;
    return rows;
}

class RunGguf : public ::testing::Test {
protected:
    // One sweep for the suite: both shapes, fp32 and three GGUF types, on cpu-ref, openmp and
    // hls-csim (llama2.c's types and the 4-bit GGUF ones).
    static void SetUpTestSuite() {
        dir_ = new TempDir;
        write_file(dir_->file("c.json"),
                   config({synthetic("small", kSmall), synthetic("wide", kWide)}, {"fp32", "q8_0", "q4_0", "q4_k_m"},
                          {{{"name", "cpu-ref"}, {"threads", {1}}},
                           {{"name", "openmp"}, {"threads", {2}}},
                           {{"name", "hls-csim"}, {"threads", {1}}}},
                          dir_->file("out")));
        run_ = new CommandResult(run_bench("run '" + dir_->file("c.json") + "' --quiet --no-report"));
        if (run_->exit_code == 0) results_ = new json(json::parse(read_file(dir_->file("out/results.json"))));
    }
    static void TearDownTestSuite() {
        delete results_;
        delete run_;
        delete dir_;
        results_ = nullptr;
        run_ = nullptr;
        dir_ = nullptr;
    }
    void SetUp() override {
        ASSERT_EQ(run_->exit_code, 0) << run_->err;
        ASSERT_NE(results_, nullptr);
    }
    static json model_info(const std::string& name) {
        for (const json& m : (*results_)["models"])
            if (m["name"] == name) return m;
        return nullptr;
    }
    static inline TempDir* dir_ = nullptr;
    static inline CommandResult* run_ = nullptr;
    static inline json* results_ = nullptr;
};

TEST_F(RunGguf, EveryTypeRunsOnCpuRefAndOpenmpAndPassesTheCheck) {
    auto rows = measured_rows(*results_);
    for (const char* key : {"small/cpu-ref/q8_0", "small/cpu-ref/q4_0", "small/openmp/q8_0", "small/openmp/q4_0",
                            "wide/cpu-ref/q8_0", "wide/cpu-ref/q4_0", "wide/cpu-ref/q4_k_m", "wide/openmp/q8_0",
                            "wide/openmp/q4_0", "wide/openmp/q4_k_m", "small/hls-csim/q4_0", "wide/hls-csim/q4_0",
                            "wide/hls-csim/q4_k_m"}) {
        SCOPED_TRACE(key);
        ASSERT_TRUE(rows.count(key));
        const json& r = rows[key];
        EXPECT_EQ(r["status"], "ok") << r["reason"];
        EXPECT_EQ(r["weights"], "synthetic");
        const bool reference = r["backend"] == "cpu-ref";
        EXPECT_EQ(r["correctness"]["status"], reference ? "reference" : "pass") << r["correctness"]["summary"];
        if (!reference) EXPECT_EQ(r["correctness"]["ops_passed"], r["correctness"]["ops_total"]);
        EXPECT_GT(r["decode_tok_s"].get<double>(), 0);
    }
    // K types on rows not of 256: one clear error.
    const json& k = rows["small/cpu-ref/q4_k_m"];
    EXPECT_EQ(k["status"], "error");
    EXPECT_NE(k["reason"].get<std::string>().find("multiple of 256"), std::string::npos) << k["reason"];
    // A backend skips the GGUF types it does not compute with its reason: hls-csim takes the
    // 4-bit ones (above), not Q8_0.
    EXPECT_EQ(rows["wide/hls-csim/fp32"]["status"], "ok") << rows["wide/hls-csim/fp32"]["reason"];
    for (const char* key : {"small/hls-csim/q8_0", "wide/hls-csim/q8_0"}) {
        SCOPED_TRACE(key);
        EXPECT_EQ(rows[key]["status"], "skipped");
        EXPECT_NE(rows[key]["reason"].get<std::string>().find("is not supported"), std::string::npos)
            << rows[key]["reason"];
    }
}

// The files of the types, their bytes in the roofline and in llama-bench's exports.
TEST_F(RunGguf, TheTypesFilesAreWrittenIntoTheRunFolderAndCounted) {
    const auto errors =
        SchemaLite(json::parse(read_file(source_dir() + "/docs/results.schema.json"))).validate(*results_);
    EXPECT_TRUE(errors.empty()) << errors.front();
    const json wide = model_info("wide");
    ASSERT_TRUE(wide.is_object());
    EXPECT_EQ(wide["holds"], "fp32");
    const std::map<std::string, std::string> holds = {
        {"q8_0", "GGUF Q8_0"}, {"q4_0", "GGUF Q4_0"}, {"q4_k_m", "GGUF Q4_K_M"}};
    for (const auto& [precision, type] : holds) {
        SCOPED_TRACE(precision);
        ASSERT_TRUE(wide[precision].is_object());
        EXPECT_EQ(wide[precision]["holds"], type);
        const std::string path = wide[precision]["path"];
        EXPECT_EQ(std::filesystem::path(path).parent_path(), std::filesystem::path(dir_->file("out/models")));
        EXPECT_EQ(std::filesystem::path(path).extension(), ".gguf");
        EXPECT_EQ(int64_t(std::filesystem::file_size(path)), wide[precision]["bytes"].get<int64_t>());
    }
    // The roofline counts each type's bytes: fp32 4, Q8_0 34/32, Q4_K_M about 4.9/8, Q4_0 18/32 per weight.
    auto rows = measured_rows(*results_);
    auto bytes = [&](const std::string& p) {
        return rows["wide/openmp/" + p]["roofline"]["bytes_per_token"].get<double>();
    };
    EXPECT_GT(bytes("fp32"), 3 * bytes("q8_0"));
    EXPECT_GT(bytes("q8_0"), bytes("q4_k_m"));
    EXPECT_GT(bytes("q4_k_m"), bytes("q4_0"));

    CommandResult r = run_bench("print '" + dir_->file("out/results.json") + "' -o jsonl");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    int seen = 0;
    for (size_t at = 0, end; (end = r.out.find('\n', at)) != std::string::npos; at = end + 1) {
        const json line = json::parse(r.out.substr(at, end - at));
        if (line["model_type"] != "wide q4_0 (file GGUF Q4_0)") continue;
        EXPECT_EQ(line["model_size"], wide["q4_0"]["bytes"]);
        EXPECT_EQ(line["model_filename"], wide["q4_0"]["path"]);
        ++seen;
    }
    EXPECT_GE(seen, 1) << r.out;
}

// A GGUF file is run at its own type only (a Q4_K_M file, with its Q6_K tensors, is q4_k_m by
// its general.file_type); the other types are skipped, saying what it holds.
TEST(RunGgufFile, AFileOfAnotherTypeIsSkippedWithTheReason) {
    TempDir dir;
    json models = json::array();
    for (const char* type : {"q8_0", "q4_k_m"}) {
        const std::string gguf = dir.file(std::string("wide-") + type + ".gguf");
        CommandResult synth = run_bench(std::string("synth --shape '") + kWide + "' --format gguf --type " + type +
                                        " -o '" + gguf + "'");
        ASSERT_EQ(synth.exit_code, 0) << synth.err;
        models.push_back({{"name", type}, {"path", gguf}});
    }
    write_file(dir.file("c.json"), config(models, {"q8_0", "q4_0", "q4_k_m", "fp32", "int8"},
                                          {{{"name", "cpu-ref"}, {"threads", {1}}}}, dir.file("out")));
    CommandResult r = run_bench("run '" + dir.file("c.json") + "' --quiet --no-report");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto rows = measured_rows(json::parse(read_file(dir.file("out/results.json"))));
    for (const std::string type : {"q8_0", "q4_k_m"}) {
        const std::string holds = type == "q8_0" ? "holds GGUF Q8_0" : "holds GGUF Q4_K_M";
        for (const std::string p : {"q8_0", "q4_0", "q4_k_m", "fp32", "int8"}) {
            const json& row = rows[type + "/cpu-ref/" + p];
            SCOPED_TRACE(type + " " + p);
            if (p == type) {
                EXPECT_EQ(row["status"], "ok") << row["reason"];
                EXPECT_EQ(row["weights"], "real");
                continue;
            }
            EXPECT_EQ(row["status"], "skipped");
            EXPECT_NE(row["reason"].get<std::string>().find(holds), std::string::npos) << row["reason"];
        }
    }
}

TEST(RunGgufFile, AnUnknownPrecisionNamesTheFieldAndTheNearestType) {
    TempDir dir;
    write_file(dir.file("c.json"), config(json::array({synthetic("small", kSmall)}), {"fp32", "q4_km"},
                                          {{{"name", "cpu-ref"}, {"threads", {1}}}}, dir.file("out")));
    CommandResult r = run_bench("run '" + dir.file("c.json") + "' --quiet --no-report");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("/precisions/1"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("did you mean \"q4_k_m\"?"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("out")));
}

}  // namespace
}  // namespace lhb::test
