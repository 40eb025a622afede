// llama-bench's output formats (bench run -o FMT, bench print FILE -o FMT): each parses back
// to the same rows, and the sql output loads into Debian's sqlite3.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/formats.hpp"
#include "tests/quick_run.hpp"
#include "tests/test_support.hpp"

namespace lhb::test {
namespace {

using nlohmann::json;

// RFC 4180 records (quoted fields, "" for a quote, commas and newlines inside quotes).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
    std::vector<std::vector<std::string>> records(1, std::vector<std::string>(1));
    bool quoted = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') records.back().back() += '"', ++i;
            else if (c == '"') quoted = false;
            else records.back().back() += c;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            records.back().emplace_back();
        } else if (c == '\n') {
            records.emplace_back(1);
        } else {
            records.back().back() += c;
        }
    }
    if (records.back().size() == 1 && records.back()[0].empty()) records.pop_back();
    return records;
}

// A cell as the csv printer writes a value: a string as is, null empty, anything else as JSON.
std::string cell_of(const json& v) { return v.is_null() ? "" : v.is_string() ? v.get<std::string>() : v.dump(); }

class Formats : public QuickRunSuite<Formats> {
public:
    static constexpr const char* kRunFlags = " --no-report -o jsonl";
};

TEST_F(Formats, RunPrintsTheChosenFormatAndPrintReadsTheFileBackTheSame) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    const std::string results = file("results.json");
    auto as_json = run_bench("print '" + results + "' -o json");
    ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
    const json rows = json::parse(as_json.out);
    ASSERT_TRUE(rows.is_array());
    const json doc = json::parse(read_file(results));
    ASSERT_EQ(rows.size(), doc["rows"].size());
    // bench run -o jsonl printed the same rows, one per line.
    std::istringstream lines(result_->out);
    std::string line;
    size_t n = 0;
    while (std::getline(lines, line)) {
        ASSERT_LT(n, rows.size());
        EXPECT_EQ(json::parse(line), rows[n]) << "line " << n;
        ++n;
    }
    EXPECT_EQ(n, rows.size());
    // llama-bench's field names, then this project's, in one order for every format.
    for (const char* f : {"build_commit", "cpu_info", "model_type", "model_size", "n_threads", "n_prompt", "n_gen",
                          "avg_ts", "stddev_ts", "id", "kind", "fused", "unstable"})
        EXPECT_TRUE(rows[0].contains(f)) << f;
    const json* cpu_ref = nullptr;
    for (const json& r : rows)
        if (r["backends"] == "cpu-ref" && r["kind"] == "measured") cpu_ref = &r;
    ASSERT_NE(cpu_ref, nullptr);
    EXPECT_EQ((*cpu_ref)["n_prompt"], 16);
    EXPECT_EQ((*cpu_ref)["n_gen"], 32);
    EXPECT_GT((*cpu_ref)["avg_ts"].get<double>(), 0);
    EXPECT_TRUE((*cpu_ref)["model_size"].is_number_integer());

    auto as_csv = run_bench("print '" + results + "' -o csv");
    ASSERT_EQ(as_csv.exit_code, 0) << as_csv.err;
    const auto records = parse_csv(as_csv.out);
    ASSERT_EQ(records.size(), rows.size() + 1);
    const auto& header = records[0];
    ASSERT_EQ(header.size(), bench::export_fields().size());
    for (size_t i = 0; i < rows.size(); ++i) {
        ASSERT_EQ(records[i + 1].size(), header.size()) << "record " << i;
        for (size_t k = 0; k < header.size(); ++k)
            EXPECT_EQ(records[i + 1][k], cell_of(rows[i][header[k]])) << "row " << i << " field " << header[k];
    }
    // An unknown format is one line naming the flag.
    auto bad = run_bench("print '" + results + "' -o xml");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_EQ(bad.err, "error: -o: expected md, csv, json, jsonl or sql, found \"xml\"\n");
}

TEST_F(Formats, TheSqlOutputLoadsIntoSqlite3AndAQueryReturnsTheRows) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    if (std::system("command -v sqlite3 >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "sqlite3 not installed (tools/setup.sh installs it): skipping";
    const std::string results = file("results.json");
    const std::string db = file("results.sqlite");
    auto as_sql = run_bench("print '" + results + "' -o sql");
    ASSERT_EQ(as_sql.exit_code, 0) << as_sql.err;
    write_file(file("results.sql"), as_sql.out);
    // Loading twice appends: CREATE TABLE IF NOT EXISTS, as llama-bench's sql does.
    for (int i = 0; i < 2; ++i) {
        const std::string load = "sqlite3 '" + db + "' < '" + file("results.sql") + "'";
        ASSERT_EQ(std::system(load.c_str()), 0) << load;
    }
    const std::string query = "sqlite3 -separator '|' '" + db +
                              "' \"SELECT id, n_prompt, n_gen, avg_ts > 0 FROM test WHERE kind = 'measured' AND "
                              "backends = 'cpu-ref' AND precision = 'fp32';\" > '" + file("query.txt") + "'";
    ASSERT_EQ(std::system(query.c_str()), 0) << query;
    EXPECT_EQ(read_file(file("query.txt")), "stories260K/cpu-ref/fp32/t1/pp16/tg32/measured|16|32|1\n"
                                            "stories260K/cpu-ref/fp32/t1/pp16/tg32/measured|16|32|1\n");
    const std::string count = "sqlite3 '" + db + "' 'SELECT COUNT(*) FROM test;' > '" + file("count.txt") + "'";
    ASSERT_EQ(std::system(count.c_str()), 0);
    const json doc = json::parse(read_file(results));
    EXPECT_EQ(read_file(file("count.txt")), std::to_string(2 * doc["rows"].size()) + "\n");
}

}  // namespace
}  // namespace lhb::test
