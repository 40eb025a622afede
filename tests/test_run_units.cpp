// Building blocks of `bench run`: SHA-256, order statistics, CSV quoting, the markdown table.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bench/measure.hpp"
#include "bench/result_row.hpp"
#include "bench/results.hpp"
#include "bench/sha256.hpp"
#include "tests/test_support.hpp"

namespace lhb::bench {
namespace {

TEST(RunSha256, KnownVectors) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(RunSha256, SplitUpdatesGiveTheSameDigest) {
    std::string data;
    for (int i = 0; i < 1000; ++i) data += char(i * 7);
    for (size_t cut : {size_t(0), size_t(1), size_t(55), size_t(56), size_t(63), size_t(64), size_t(65), size_t(999)}) {
        Sha256 h;
        h.update(data.data(), cut);
        h.update(data.data() + cut, data.size() - cut);
        EXPECT_EQ(h.hex_digest(), sha256_hex(data)) << cut;
    }
}

TEST(RunSha256, FileMatchesTheModelsSha256Sums) {
    LHB_REQUIRE_MODELS();
    std::ifstream sums(test::model_path("SHA256SUMS"));
    int checked = 0;
    for (std::string hash, name; sums >> hash >> name;) {
        if (name != "stories260K.bin" && name != "tok512.bin") continue;
        EXPECT_EQ(sha256_file(test::model_path(name)), hash) << name;
        ++checked;
    }
    EXPECT_EQ(checked, 2);
}

TEST(RunStats, MinMedianP90AndCoefficientOfVariation) {
    Stats s = summarize({10, 1, 9, 2, 8, 3, 7, 4, 6, 5});
    EXPECT_EQ(s.n, 10);
    EXPECT_DOUBLE_EQ(s.min, 1);
    EXPECT_DOUBLE_EQ(s.max, 10);
    EXPECT_DOUBLE_EQ(s.median, 5.5);
    EXPECT_NEAR(s.p90, 9.1, 1e-12);  // linear interpolation between the 9th and 10th values
    EXPECT_DOUBLE_EQ(s.mean, 5.5);
    EXPECT_NEAR(s.cv, 3.0276503540974917 / 5.5, 1e-12);  // sample standard deviation / mean
    Stats one = summarize({4});
    EXPECT_DOUBLE_EQ(one.median, 4);
    EXPECT_DOUBLE_EQ(one.p90, 4);
    EXPECT_DOUBLE_EQ(one.cv, 0);
    EXPECT_EQ(summarize({}).n, 0);
}

nlohmann::json tiny_results() {
    return nlohmann::json::parse(R"({
      "schema": "llama-hls-bench/results", "schema_version": 1, "complete": true,
      "environment": {"cpu_model": "X", "cores": 2, "compiler": "GNU", "git_commit": "abc"},
      "published": [{"name": "P", "backend": "zcu106-hls", "model": "m", "precision": "fp32", "tok_s": 8.71,
                     "source": "somewhere, with \"quotes\""}],
      "rows": [
        {"id": "m/zcu106-hls/fp32/published", "kind": "published", "model": "m", "weights": "real",
         "backend": "zcu106-hls", "name": "P", "precision": "fp32", "threads": null, "prompt_tokens": null,
         "generate_tokens": 225, "status": "ok", "reason": null, "rank": null, "decode_tok_s": 8.71,
         "prefill_tok_s": null, "correctness": null, "speedup": {}, "source": "somewhere, with \"quotes\""},
        {"id": "m/openmp/fp32/t2/pp8/tg16/measured", "kind": "measured", "model": "m", "weights": "synthetic",
         "backend": "openmp", "precision": "fp32", "threads": 2, "prompt_tokens": 8, "generate_tokens": 16,
         "status": "failed", "reason": "correctness check failed", "rank": null, "decode_tok_s": 100.0,
         "prefill_tok_s": 200.0, "correctness": {"status": "fail"}, "speedup": {"zcu106-hls": 11.48},
         "decode": {"tok_s": {"cv": 0.02}}},
        {"id": "m/zcu106-xrt/fp32/t2/pp8/tg16/measured", "kind": "measured", "model": "m", "weights": "synthetic",
         "backend": "zcu106-xrt", "precision": "fp32", "threads": 2, "prompt_tokens": 8, "generate_tokens": 16,
         "status": "skipped", "reason": "no device", "rank": null, "decode_tok_s": null, "prefill_tok_s": null,
         "correctness": null, "speedup": {}}
      ]})");
}

TEST(RunResults, CsvQuotesFieldsAndHasOneLinePerRow) {
    std::string csv = results_csv(tiny_results());
    int lines = 0;
    for (char c : csv) lines += c == '\n';
    EXPECT_EQ(lines, 4);
    EXPECT_NE(csv.find("\"somewhere, with \"\"quotes\"\"\""), std::string::npos) << csv;
    EXPECT_NE(csv.find(",speedup_vs_zcu106-hls,"), std::string::npos);
    EXPECT_NE(csv.find(",11.48,"), std::string::npos) << csv;
}

TEST(RunResults, MarkdownMarksFailuresUnrankedAndListsSkippedPointsWithReasons) {
    // The same failed point measured on a board: board rows show their speedup over the
    // published board figure; the host (openmp) row shows none (schema 3, issue 18).
    nlohmann::json results = tiny_results();
    nlohmann::json on_board = results["rows"][1];
    on_board["id"] = "m/zcu106-xrt/fp32/t1/pp8/tg16/measured";
    on_board["backend"] = "zcu106-xrt";
    on_board["threads"] = 1;
    results["rows"].push_back(on_board);
    std::string md = results_markdown(results);
    EXPECT_NE(md.find("| vs zcu106-hls (8.71) |"), std::string::npos) << md;
    EXPECT_NE(md.find("| m (synthetic weights) | zcu106-xrt | fp32 | 1 | measured | pp8+tg16 | 200.0 | 100.0 | - | 2.0% | - | 11.48x | FAIL (not ranked) | - |"),
              std::string::npos)
        << md;
    EXPECT_NE(md.find("| m (synthetic weights) | openmp | fp32 | 2 | measured | pp8+tg16 | 200.0 | 100.0 | - | 2.0% | - | - | FAIL (not ranked) | - |"),
              std::string::npos)
        << md;
    EXPECT_NE(md.find("- m zcu106-xrt fp32 t2 pp8+tg16: skipped: no device"), std::string::npos) << md;
    EXPECT_NE(md.find("Source: somewhere"), std::string::npos) << md;
}

// One row type: its field table names every common field of a JSON row, and the columns
// written into results.json (/table) are the markdown table's, in order.
TEST(RunResults, TheFieldTablesDriveTheRowAndTheTable) {
    ResultRow row("m/b/fp32/t1/pp8/tg16/measured", "measured", "m", "real", "b", "fp32");
    row.threads = 1;
    row.details = {{"fused", true}};
    const nlohmann::json j = to_json(row);
    EXPECT_EQ(j.size(), kRowFields.size() + 1);
    for (const RowField& f : kRowFields) EXPECT_TRUE(j.contains(f.name)) << f.name;
    EXPECT_EQ(j["threads"], 1);
    EXPECT_TRUE(j["prompt_tokens"].is_null());
    EXPECT_EQ(j["fused"], true);

    const nlohmann::json results = tiny_results();
    std::string header = "|";
    const nlohmann::json table = table_json(results["published"]);
    for (const nlohmann::json& c : table["columns"])
        header += " " + c["header"].get<std::string>() + " |";
    const std::string md = results_markdown(results);
    EXPECT_EQ(md.substr(0, md.find('\n')), header);
    std::string csv_header;
    for (const CsvField& f : csv_fields(results["published"])) csv_header += (csv_header.empty() ? "" : ",") + f.name;
    const std::string csv = results_csv(results);
    EXPECT_EQ(csv.substr(0, csv.find('\n')), csv_header);
}

}  // namespace
}  // namespace lhb::bench
