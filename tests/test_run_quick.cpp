// `bench run configs/quick.json`: it runs, its results validate against the documented
// schema (docs/results.schema.json), and the rows say what was measured, skipped and why.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "bench/sha256.hpp"
#include "tests/json_schema_lite.hpp"
#include "tests/quick_run.hpp"
#include "tests/test_support.hpp"

namespace lhb::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json(const std::string& path) { return json::parse(read_file(path)); }

SchemaLite results_schema() { return SchemaLite(read_json(source_dir() + "/docs/results.schema.json")); }

const json* find_row(const json& results, const std::string& backend, const std::string& precision,
                     const std::string& kind = "measured") {
    for (const json& r : results["rows"])
        if (r["backend"] == backend && r["precision"] == precision && r["kind"] == kind) return &r;
    return nullptr;
}

// One run of quick.json for the whole suite, without the report.
class QuickRun : public QuickRunSuite<QuickRun> {
public:
    static constexpr const char* kRunFlags = " --no-report";

protected:
    static json results() { return read_json(dir_->file("results.json")); }
};

TEST_F(QuickRun, ExitsZeroAndPrintsTheTableWithThePublishedBaselines) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    EXPECT_NE(result_->out.find("| model | backend | precision | threads | kind | test | prefill t/s | decode t/s |"),
              std::string::npos)
        << result_->out;
    EXPECT_NE(result_->out.find("| vs zcu106-ps (1.75) | vs zcu106-hls (8.71) |"), std::string::npos) << result_->out;
    EXPECT_NE(result_->out.find("| published | tg201 | - | 1.75 |"), std::string::npos) << result_->out;
    EXPECT_NE(result_->out.find("| published | tg225 | - | 8.71 |"), std::string::npos) << result_->out;
    EXPECT_NE(result_->out.find("| cpu-ref | fp32 | 1 | measured | pp16+tg32 |"), std::string::npos) << result_->out;
    // stderr is not a terminal here: no progress line.
    EXPECT_EQ(result_->err.find("ETA"), std::string::npos) << result_->err;
}

TEST_F(QuickRun, ResultsValidateAgainstTheDocumentedSchema) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    auto errors = results_schema().validate(results());
    EXPECT_TRUE(errors.empty()) << errors.size() << " errors, first: " << (errors.empty() ? "" : errors[0]);
}

TEST_F(QuickRun, TheSchemaCheckRejectsBrokenResults) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    SchemaLite schema = results_schema();
    auto expect_invalid = [&](const std::string& what, auto&& mutate) {
        json r = results();
        mutate(r);
        EXPECT_FALSE(schema.validate(r).empty()) << what;
    };
    expect_invalid("no rows", [](json& r) { r.erase("rows"); });
    expect_invalid("bad kind", [](json& r) { r["rows"][0]["kind"] = "guessed"; });
    expect_invalid("unknown top-level key", [](json& r) { r["extra"] = 1; });
    expect_invalid("bad sha256", [](json& r) { r["models"][0]["sha256"] = "xyz"; });
    expect_invalid("measured ok row without stats", [](json& r) {
        for (json& row : r["rows"])
            if (row["kind"] == "measured" && row["status"] == "ok") row.erase("decode");
    });
    expect_invalid("skipped row without reason", [](json& r) {
        for (json& row : r["rows"])
            if (row["status"] == "skipped") row["reason"] = nullptr;
    });
    expect_invalid("version 2 without its table", [](json& r) { r.erase("table"); });
    expect_invalid("a column of an unknown format", [](json& r) { r["table"]["columns"][0]["format"] = "roman"; });
    // A version 1 file (before /table) is still valid.
    json v1 = results();
    v1["schema_version"] = 1;
    v1.erase("table");
    EXPECT_TRUE(schema.validate(v1).empty());
    expect_invalid("negative tok/s", [](json& r) {
        for (json& row : r["rows"])
            if (row["status"] == "ok") row["decode_tok_s"] = -1.0;
    });
}

TEST_F(QuickRun, RowsSayWhatWasMeasuredSkippedAndWhy) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    json r = results();
    EXPECT_EQ(r["complete"], true);
    EXPECT_EQ(r["schema_version"], 4);  // 2: /table/columns added; 3: unstable, board-only speedups; 4: depth, ttft

    const json* ref = find_row(r, "cpu-ref", "fp32");
    ASSERT_NE(ref, nullptr);
    EXPECT_EQ((*ref)["status"], "ok");
    EXPECT_EQ((*ref)["correctness"]["status"], "reference");
    EXPECT_GT((*ref)["decode_tok_s"].get<double>(), 0);
    EXPECT_GT((*ref)["prefill_tok_s"].get<double>(), 0);
    EXPECT_EQ((*ref)["decode"]["tok_s"]["n"], 3);  // "repetitions": 3
    EXPECT_EQ((*ref)["decode_ms_by_position"]["first_position"], 16);
    EXPECT_EQ((*ref)["decode_ms_by_position"]["ms"].size(), 32u);
    EXPECT_GT((*ref)["roofline"]["fraction"].get<double>(), 0);
    // cpu-ref reports every op class (softmax runs inside attention, so it may be 0).
    EXPECT_EQ((*ref)["op_profile"]["ops_reported"], true);
    for (const char* op : {"rmsnorm", "matmul", "rope", "softmax", "attention", "swiglu", "residual", "other"})
        EXPECT_GE((*ref)["op_ms_per_token"][op].get<double>(), 0) << op;
    EXPECT_GT((*ref)["op_ms_per_token"]["matmul"].get<double>(), 0);
    EXPECT_GT((*ref)["op_ms_per_token"]["attention"].get<double>(), 0);

    // Every other backend that ran was checked against cpu-ref first.
    for (const json& row : r["rows"]) {
        if (row["kind"] != "measured" || row["backend"] == "cpu-ref") continue;
        if (row["status"] != "ok") continue;
        EXPECT_EQ(row["correctness"]["status"], "pass") << row["id"];
        EXPECT_EQ(row["ranked"], true) << row["id"];
    }

    // int8 is an axis of the sweep: each int8 point runs on the quantized model and says how
    // far int8 moves the answers from the fp32 weights.
    for (const char* backend : {"cpu-ref", "openmp", "hls-csim"}) {
        const json* int8 = find_row(r, backend, "int8");
        ASSERT_NE(int8, nullptr) << backend;
        EXPECT_EQ((*int8)["status"], "ok") << backend << ": " << (*int8)["reason"];
        ASSERT_TRUE((*int8)["accuracy"].is_object()) << backend;
        const json& a = (*int8)["accuracy"];
        EXPECT_GT(a["text_tokens"].get<int>(), 0);
        EXPECT_GT(a["greedy_steps"].get<int>(), 0);
        EXPECT_LE(a["greedy_agreeing"].get<int>(), a["greedy_steps"].get<int>());
        EXPECT_GT(a["mean_kl"].get<double>(), 0.0) << "int8 should not equal fp32 exactly";
        EXPECT_LT(a["mean_kl"].get<double>(), 0.1) << backend;
        EXPECT_GT(a["ppl_fp32"].get<double>(), 1.0);
    }
    EXPECT_FALSE(find_row(r, "cpu-ref", "fp32")->contains("accuracy"));

    // The board backend is listed, skipped, with its reason.
    const json* xrt = find_row(r, "zcu106-xrt", "fp32");
    ASSERT_NE(xrt, nullptr);
    EXPECT_EQ((*xrt)["status"], "skipped");
    EXPECT_FALSE((*xrt)["reason"].get<std::string>().empty());

    // Published baselines, with their source.
    const json* ps = find_row(r, "zcu106-ps", "fp32", "published");
    ASSERT_NE(ps, nullptr);
    EXPECT_DOUBLE_EQ((*ps)["decode_tok_s"].get<double>(), 1.75);
    EXPECT_NE((*ps)["source"].get<std::string>().find("fpga-targets.md"), std::string::npos);
    const json* hls = find_row(r, "zcu106-hls", "fp32", "published");
    ASSERT_NE(hls, nullptr);
    EXPECT_DOUBLE_EQ((*hls)["decode_tok_s"].get<double>(), 8.71);

    // Environment and model identity.
    const json& env = r["environment"];
    EXPECT_FALSE(env["cpu_model"].get<std::string>().empty());
    EXPECT_GE(env["cores"].get<int>(), 1);
    EXPECT_FALSE(env["compiler"].get<std::string>().empty());
    EXPECT_FALSE(env["build_flags"].get<std::string>().empty());
    EXPECT_EQ(r["config"]["source"]["name"], "quick");
    const json& model = r["models"][0];
    EXPECT_EQ(model["sha256"], bench::sha256_file(model["path"]));
    EXPECT_EQ(model["weights"], models_dir().empty() ? "synthetic" : "real");
}

TEST_F(QuickRun, CsvHasTheSameRows) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    std::istringstream csv(read_file(dir_->file("results.csv")));
    std::string header, line;
    std::getline(csv, header);
    EXPECT_EQ(header.rfind("id,kind,model,weights,backend,", 0), 0u) << header;
    std::vector<std::string> ids;
    while (std::getline(csv, line)) ids.push_back(line.substr(0, line.find(',')));
    json r = results();
    ASSERT_EQ(ids.size(), r["rows"].size());
    for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], r["rows"][i]["id"]);
}

TEST_F(QuickRun, NoTemporaryFilesAreLeftBehind) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    for (const auto& e : fs::recursive_directory_iterator(dir_->path))
        EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
}

// Without the model file, the config's shape is synthesized into the output folder and the
// results say so.
TEST(QuickRunSynthetic, MissingModelFileFallsBackToSyntheticWeightsOfItsShape) {
    TempDir dir;
    json cfg = read_json(source_dir() + "/configs/quick.json");
    cfg["models"][0]["path"] = "not-here/stories260K.bin";
    cfg["models"][0]["tokenizer"] = "not-here/tok512.bin";
    cfg["backends"] = {"cpu-ref"};
    cfg["precisions"] = {"fp32"};
    cfg["repetitions"] = 1;
    cfg["generate_tokens"] = 8;
    cfg["out"] = "out";
    cfg.erase("board");
    write_file(dir.file("c.json"), cfg.dump(2));
    auto r = run_bench("run '" + dir.file("c.json") + "' --no-report");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("stories260K (synthetic weights)"), std::string::npos) << r.out;
    json res = read_json(dir.file("out/results.json"));
    EXPECT_EQ(res["models"][0]["weights"], "synthetic");
    EXPECT_EQ(res["models"][0]["prompt_source"], "token ids");
    EXPECT_EQ(res["models"][0]["path"], dir.file("out/models/stories260K-seed1.bin"));
    EXPECT_TRUE(fs::exists(dir.file("out/models/stories260K-seed1.bin")));
    for (const json& row : res["rows"]) {
        if (row["kind"] == "measured") {
            EXPECT_EQ(row["weights"], "synthetic");
        }
    }
    EXPECT_TRUE(results_schema().validate(res).empty());
}

}  // namespace
}  // namespace lhb::test
