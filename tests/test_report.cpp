// The report of a run (issue 7): tools/report.py's PNGs and index.html, from a quick.json
// run, checked for validity, completeness and loading in a headless browser.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "bench/fpga_view.hpp"
#include "tests/quick_run.hpp"
#include "tests/test_support.hpp"

namespace lhb::test {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kPngs = {"tok_s.png",       "ops.png",           "roofline.png",       "latency.png",
                                        "prefill.png",     "board_tok_s.png",   "board_roofline.png", "fpga_resources.png"};
const std::vector<std::string> kTables = {"results-table",   "not-measured-table", "correctness-table",
                                          "ops-table",       "published-table",    "environment-table",
                                          "models-table",    "config",             "board",
                                          "fpga-resources-table", "fpga-ops-table", "validation-table"};

uint32_t be32(const std::string& s, size_t at) {
    return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 | uint32_t(uint8_t(s[at + 2])) << 8 |
           uint32_t(uint8_t(s[at + 3]));
}

// The PNG signature, then an IHDR chunk of 13 bytes with a non-zero size: "" if valid.
std::string png_problem(const std::string& path) {
    if (!fs::exists(path)) return "missing";
    const std::string b = read_file(path);
    if (b.size() < 33) return "too short";
    if (b.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) != 0) return "no PNG signature";
    if (be32(b, 8) != 13 || b.compare(12, 4, "IHDR") != 0) return "no IHDR chunk first";
    if (be32(b, 16) == 0 || be32(b, 20) == 0) return "zero width or height";
    return "";
}

// The cells of a markdown table's lines (the first "| model |" line on, separator left out).
std::vector<std::vector<std::string>> markdown_table(const std::string& md) {
    std::vector<std::vector<std::string>> rows;
    size_t at = md.find("| model |");
    while (at != std::string::npos && at < md.size() && md[at] == '|') {
        const size_t end = md.find('\n', at);
        const std::string line = md.substr(at, end - at);
        at = end == std::string::npos ? end : end + 1;
        if (line.rfind("| ---", 0) == 0) continue;
        std::vector<std::string> cells;
        std::string cell;
        for (size_t i = 1; i < line.size(); ++i) {
            if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
                cell += '|', ++i;
            } else if (line[i] == '|') {
                cells.push_back(cell.substr(1, cell.size() - 2));  // " text " -> "text"
                cell.clear();
            } else {
                cell += line[i];
            }
        }
        rows.push_back(cells);
    }
    return rows;
}

std::string html_unescape(std::string s) {
    const std::pair<const char*, const char*> entities[] = {
        {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#x27;", "'"}, {"&amp;", "&"}};
    for (const auto& [from, to] : entities)
        for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + 1)) s.replace(p, strlen(from), to);
    return s;
}

// The header and body cells of an HTML table of index.html, as text.
std::vector<std::vector<std::string>> html_table(const std::string& html, const std::string& id) {
    const size_t start = html.find("<table id=\"" + id + "\">");
    const std::string t = html.substr(start, html.find("</table>", start) - start);
    std::vector<std::vector<std::string>> rows;
    std::regex tr("<tr>(.*?)</tr>"), cell("<t[hd][^>]*>(.*?)</t[hd]>");
    for (auto r = std::sregex_iterator(t.begin(), t.end(), tr); r != std::sregex_iterator(); ++r) {
        const std::string inner = (*r)[1];
        std::vector<std::string> cells;
        for (auto c = std::sregex_iterator(inner.begin(), inner.end(), cell); c != std::sregex_iterator(); ++c)
            cells.push_back(html_unescape((*c)[1]));
        rows.push_back(cells);
    }
    return rows;
}

bool have_chromium() { return fs::exists("/usr/bin/chromium"); }

std::string artifacts_dir() {
    fs::path dir = fs::path(LHB_BENCH_EXE).parent_path() / "test-artifacts";
    fs::create_directories(dir);
    return dir.string();
}

// One quick.json run with its report, shared by the suite.
class Report : public QuickRunSuite<Report> {
public:
    static constexpr const char* kRunFlags = "";  // with the report
};

TEST_F(Report, BenchRunWritesEveryPngAndTheyAreValid) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    EXPECT_NE(result_->err.find("report: " + file("index.html")), std::string::npos) << result_->err;
    for (const auto& png : kPngs) EXPECT_EQ(png_problem(file(png)), "") << png;
}

TEST_F(Report, IndexReferencesEveryPngAndTableAndNothingExternal) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    const std::string html = read_file(file("index.html"));
    for (const auto& png : kPngs) EXPECT_NE(html.find("<img src=\"" + png + "\""), std::string::npos) << png;
    for (const auto& id : kTables) EXPECT_NE(html.find("id=\"" + id + "\""), std::string::npos) << id;
    // Every image it references exists, and every PNG in the folder is referenced.
    std::set<std::string> referenced;
    std::regex src("src=\"([^\"]*)\"");
    for (auto it = std::sregex_iterator(html.begin(), html.end(), src); it != std::sregex_iterator(); ++it)
        referenced.insert((*it)[1]);
    for (const auto& r : referenced) EXPECT_TRUE(fs::exists(file(r))) << r;
    for (const auto& e : fs::directory_iterator(dir_->path)) {
        if (e.path().extension() == ".png") {
            EXPECT_TRUE(referenced.count(e.path().filename().string())) << e.path();
        }
    }
    // No external assets: no remote or absolute references.
    for (const char* bad : {"src=\"http", "href=\"http", "src=\"//", "href=\"//", "src=\"/", "<link ", "@import"})
        EXPECT_EQ(html.find(bad), std::string::npos) << bad;
    // Estimated figures are labeled as such, and the published baselines are there.
    EXPECT_NE(html.find("class=\"kind-estimated\">estimated</td>"), std::string::npos);
    EXPECT_NE(html.find("1.75"), std::string::npos);
    EXPECT_NE(html.find("8.71"), std::string::npos);
}

TEST_F(Report, HeadlessChromiumLoadsEveryResourceAndTakesAScreenshot) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    if (!have_chromium()) GTEST_SKIP() << "/usr/bin/chromium not installed (apt-get install chromium): skipping";
    const std::string flags =
        "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
        "--disable-component-update --disable-sync";
    const std::string url = "file://" + file("index.html");
    {
        TempDir profile;
        const std::string cmd = "timeout 120 /usr/bin/chromium " + flags + " --user-data-dir='" + profile.path +
                                "' --virtual-time-budget=10000 --dump-dom '" + url + "' > '" + profile.file("dom") +
                                "' 2>/dev/null";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
        const std::string dom = read_file(profile.file("dom"));
        // Set by the page's own script once every image has loaded (or failed).
        EXPECT_NE(dom.find("data-images=\"" + std::to_string(kPngs.size()) + "\""), std::string::npos)
            << dom.substr(0, 300);
        EXPECT_NE(dom.find("data-missing-images=\"0\""), std::string::npos) << dom.substr(0, 300);
    }
    {
        TempDir profile;
        const std::string shot = artifacts_dir() + "/report-screenshot.png";
        fs::remove(shot);
        const std::string cmd = "timeout 120 /usr/bin/chromium " + flags + " --user-data-dir='" + profile.path +
                                "' --window-size=1400,7000 --screenshot='" + shot + "' '" + url + "' >/dev/null 2>&1";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
        EXPECT_EQ(png_problem(shot), "") << shot;
        std::fprintf(stderr, "screenshot (test artifact): %s\n", shot.c_str());
    }
}

TEST_F(Report, BenchReportAloneRewritesTheReport) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    for (const auto& png : kPngs) fs::remove(file(png));
    fs::remove(file("index.html"));
    auto r = run_bench("report '" + file("results.json") + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("| model | backend | precision |"), std::string::npos) << r.out;
    for (const auto& png : kPngs) EXPECT_EQ(png_problem(file(png)), "") << png;
    EXPECT_TRUE(fs::exists(file("index.html")));
}

// One definition of the results table: bench/result_row.cpp's columns, written into
// results.json, are the ones index.html shows, cell for cell.
TEST_F(Report, TheHtmlResultsTableHasTheMarkdownTablesColumnsAndCells) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    const auto md = markdown_table(result_->out);
    const auto html = html_table(read_file(file("index.html")), "results-table");
    ASSERT_GE(md.size(), 2u) << result_->out;
    EXPECT_EQ(md[0].front(), "model");
    EXPECT_EQ(md[0].back(), "rank");
    EXPECT_EQ(html, md);
}

// The FPGA view (issue 18): every compute unit's resources against the device, the estimated
// cycles per op beside the C simulation's time, and the validation bench run wrote beside
// the results; in the table on stdout and in index.html.
TEST_F(Report, TheFpgaViewShowsResourcesCyclesAndTheValidation) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    const std::string& md = result_->out;
    EXPECT_NE(md.find("FPGA view (estimated, not measured)"), std::string::npos) << md;
    EXPECT_NE(md.find("| llama_forward | "), std::string::npos) << md;
    EXPECT_NE(md.find("Estimator validation (bench validate: estimated beside published)"), std::string::npos) << md;
    ASSERT_TRUE(fs::exists(file("validation.json")));
    const nlohmann::json validation = nlohmann::json::parse(read_file(file("validation.json")));
    EXPECT_EQ(validation["schema"], "lhb-validation/1");

    const std::string html = read_file(file("index.html"));
    const auto resources = html_table(html, "fpga-resources-table");
    ASSERT_GE(resources.size(), 2u);
    EXPECT_EQ(resources[0][1], "compute unit");
    std::set<std::string> units;
    for (const auto& row : resources) units.insert(row.size() > 1 ? row[1] : "");
    for (const char* u : {"llama_forward", "op_matmul", "op_attention", "xclbin (every compute unit)"})
        EXPECT_TRUE(units.count(u)) << u;
    for (const auto& row : resources)
        if (row.size() > 2 && row[1] == "llama_forward") {
            EXPECT_NE(row[2].find(" / 1,728 ("), std::string::npos) << row[2];
        }
    // Each estimated row's per-op cycles, beside the hls-csim row's measured time.
    const auto ops = html_table(html, "fpga-ops-table");
    bool matmul = false;
    for (const auto& row : ops)
        if (row.size() == 6 && row[1] == "matmul") {
            matmul = true;
            EXPECT_NE(row[2], "-");  // estimated cycles
            EXPECT_NE(row[3], "-");  // estimated ms
            EXPECT_NE(row[4], "-");  // C simulation, measured
        }
    EXPECT_TRUE(matmul);
    const auto checks = html_table(html, "validation-table");
    ASSERT_EQ(checks.size(), validation["designs"].size() + 1);
    EXPECT_EQ(checks[1][0], validation["designs"][0]["name"]);
}

// A prefill estimate's detail carries the design's totals only (no design name, no compute
// units): it is not another design, so it adds no resources table ("ZCU106 / " with every
// unit "-" and "DOES NOT FIT" was printed before), and its cycles are labelled as the whole
// prompt's, not a token's.
TEST(FpgaView, APrefillEstimateIsNotAnotherDesignAndCountsItsWholePrompt) {
    const nlohmann::json units = nlohmann::json::array(
        {{{"unit", "llama_forward"}, {"dsp", 100}, {"bram36", 10}, {"uram", 1}, {"lut", 1000}, {"ff", 2000}}});
    const nlohmann::json decode_detail = {
        {"board", "ZCU106"}, {"design", "llama-hls (compiled kernels)"}, {"pos", 64}, {"clock_mhz", 300},
        {"cycles_by_op_estimated", {{"matmul", 1000}}},
        {"resources_estimated",
         {{"compute_units", units}, {"xclbin", units[0]}, {"fits", true}, {"xclbin_fits", true}, {"dsp_available", 1728},
          {"bram36_available", 312}, {"uram_available", 96}, {"lut_available", 230400}, {"ff_available", 460800}}}};
    const nlohmann::json prefill_detail = {
        {"board", "ZCU106"}, {"pos", 0}, {"clock_mhz", 300}, {"prompt_tokens", 64}, {"tokens_per_run", 32},
        {"cycles_by_op_estimated", {{"matmul", 64000}}},
        {"resources_estimated", {{"dsp", 100}, {"bram36", 10}, {"uram", 1}, {"lut", 1000}, {"ff", 2000}}}};
    const nlohmann::json results = {
        {"rows", nlohmann::json::array({{{"kind", "estimated"}, {"model", "m"}, {"precision", "fp32"}, {"target", "ZCU106"},
                                         {"detail", decode_detail}},
                                        {{"kind", "estimated"}, {"model", "m"}, {"precision", "fp32"}, {"target", "ZCU106"},
                                         {"detail", prefill_detail}}})}};
    const std::string md = bench::fpga_view_markdown(results);
    size_t headings = 0;
    for (size_t at = md.find("Resources per compute unit"); at != std::string::npos;
         at = md.find("Resources per compute unit", at + 1))
        ++headings;
    EXPECT_EQ(headings, 1u) << md;
    EXPECT_EQ(md.find("DOES NOT FIT"), std::string::npos) << md;
    EXPECT_NE(md.find("cycles of the 64-token prompt (est., from position 0)"), std::string::npos) << md;
    EXPECT_NE(md.find("cycles per token (est., position 64)"), std::string::npos) << md;
}

// A validation.json beside the results that is not bench validate's is refused in one line,
// and nothing is written.
TEST_F(Report, ABadValidationFileIsRefusedWithOneLine) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    TempDir dir;
    write_file(dir.file("results.json"), read_file(file("results.json")));
    write_file(dir.file("validation.json"), "{\"schema\": \"something else\"}");
    auto r = run_shell("/usr/bin/python3 '" + source_dir() + "/tools/report.py' '" + dir.file("results.json") + "' 2>&1");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out, "report: " + dir.file("validation.json") + ": /schema: expected \"lhb-validation/1\"\n");
    EXPECT_FALSE(fs::exists(dir.file("index.html")));
}

// Host and board figures never share a plot's axis: the host plots' rows have no board row,
// the board plots' no host row (report.py's own partition, checked on this run's rows).
TEST_F(Report, HostAndBoardPlotsTakeDisjointRows) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    const std::string script =
        "import sys; sys.path.insert(0, '" + source_dir() + "/tools'); import report\n"
        "r = report.load_results('" + file("results.json") + "')\n"
        "rows = report.timed_rows(r)\n"
        "host = [x for x in rows if not report.is_board_row(x)]\n"
        "board = [x for x in rows if report.is_board_row(x)]\n"
        "assert host and board and not any(x.get('kind') == 'estimated' for x in host)\n"
        "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt\n"
        "for f in (report.plot_tok_s, report.plot_roofline):\n"
        "    for side in (False, True):\n"
        "        fig = f(plt, r, board=side)\n"
        "        text = ' '.join(t.get_text() for ax in fig.axes for t in ax.get_xticklabels() + ax.texts)\n"
        "        legend = ' '.join(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())\n"
        "        assert ('ESTIMATED' in text) == side, (f.__name__, side, text)\n"
        "        assert ('published' in legend) == side, (f.__name__, side, legend)\n"
        "        assert ('host' in legend.lower()) == (not side) or f is report.plot_tok_s, (f.__name__, side, legend)\n"
        "print('ok')\n";
    TempDir dir;
    write_file(dir.file("check.py"), script);
    auto r = run_shell("/usr/bin/python3 '" + dir.file("check.py") + "' 2>&1");
    if (r.out.find("No module named 'matplotlib'") != std::string::npos) GTEST_SKIP() << "no matplotlib";
    EXPECT_EQ(r.out, "ok\n");
}

// A version 1 file (no column list) is still rendered, with version 1's columns.
TEST_F(Report, AVersion1FileGetsTheSameTable) {
    ASSERT_EQ(result_->exit_code, 0) << result_->err;
    nlohmann::json v1 = nlohmann::json::parse(read_file(file("results.json")));
    v1["schema_version"] = 1;
    v1.erase("table");
    TempDir dir;
    write_file(dir.file("results.json"), v1.dump());
    // bench report prints the table (C++) and runs tools/report.py on the same file.
    auto shown = run_bench("report '" + dir.file("results.json") + "'");
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_EQ(markdown_table(shown.out), markdown_table(result_->out));
    EXPECT_EQ(html_table(read_file(dir.file("index.html")), "results-table"), markdown_table(result_->out));
}

TEST(ReportInput, ABadResultsFileIsRefusedWithOneLine) {
    TempDir dir;
    write_file(dir.file("r.json"), "{\"schema\": \"llama-hls-bench/results\", \"schema_version\": 99, \"rows\": []}");
    const std::string cmd = "/usr/bin/python3 '" + source_dir() + "/tools/report.py' '" + dir.file("r.json") + "' 2>'" +
                            dir.file("err") + "'";
    int status = std::system(cmd.c_str());
    EXPECT_EQ(WEXITSTATUS(status), 2);
    EXPECT_EQ(read_file(dir.file("err")), "report: " + dir.file("r.json") + ": /schema_version: expected 1 to 4, found 99\n");
    EXPECT_FALSE(fs::exists(dir.file("index.html")));
}

// Without matplotlib: the run still writes JSON and CSV, says how to install it, and the
// page has the tables.
TEST(ReportWithoutMatplotlib, RunStillWritesResultsAndSaysHowToInstall) {
    TempDir dir;
    fs::create_directories(dir.file("fake/matplotlib"));
    write_file(dir.file("fake/matplotlib/__init__.py"), "raise ImportError('matplotlib hidden by the test')\n");
    const char* old = std::getenv("PYTHONPATH");
    const std::string saved = old ? old : "";
    setenv("PYTHONPATH", dir.file("fake").c_str(), 1);
    auto r = run_bench("run '" + source_dir() + "/configs/quick.json' --out '" + dir.file("out") + "'");
    if (old) setenv("PYTHONPATH", saved.c_str(), 1);
    else unsetenv("PYTHONPATH");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("apt-get install python3-matplotlib"), std::string::npos) << r.err;
    EXPECT_TRUE(fs::exists(dir.file("out/results.json")));
    EXPECT_TRUE(fs::exists(dir.file("out/results.csv")));
    for (const auto& png : kPngs) EXPECT_FALSE(fs::exists(dir.file("out/" + png))) << png;
    const std::string html = read_file(dir.file("out/index.html"));
    EXPECT_NE(html.find("id=\"results-table\""), std::string::npos);
    EXPECT_NE(html.find("apt-get install python3-matplotlib"), std::string::npos);
}

}  // namespace
}  // namespace lhb::test
