// The report of a run (issue 7): tools/report.py's PNGs and index.html, from a quick.json
// run, checked for validity, completeness and loading in a headless browser.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "tests/test_support.hpp"

namespace lhb::test {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kPngs = {"tok_s.png", "ops.png", "roofline.png", "latency.png"};
const std::vector<std::string> kTables = {"results-table",   "not-measured-table", "correctness-table",
                                          "ops-table",       "published-table",    "environment-table",
                                          "models-table",    "config",             "board"};

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

bool have_chromium() { return fs::exists("/usr/bin/chromium"); }

std::string artifacts_dir() {
    fs::path dir = fs::path(LHB_BENCH_EXE).parent_path() / "test-artifacts";
    fs::create_directories(dir);
    return dir.string();
}

// One quick.json run with its report, shared by the suite.
class Report : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir;
        result_ = new CommandResult(run_bench("run '" + source_dir() + "/configs/quick.json' --out '" + dir_->path + "'"));
    }
    static void TearDownTestSuite() {
        delete result_;
        delete dir_;
    }
    static std::string file(const std::string& name) { return dir_->file(name); }
    static TempDir* dir_;
    static CommandResult* result_;
};
TempDir* Report::dir_ = nullptr;
CommandResult* Report::result_ = nullptr;

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
        if (e.path().extension() == ".png") EXPECT_TRUE(referenced.count(e.path().filename().string())) << e.path();
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
        EXPECT_NE(dom.find("data-images=\"4\""), std::string::npos) << dom.substr(0, 300);
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

TEST(ReportInput, ABadResultsFileIsRefusedWithOneLine) {
    TempDir dir;
    write_file(dir.file("r.json"), "{\"schema\": \"llama-hls-bench/results\", \"schema_version\": 99, \"rows\": []}");
    const std::string cmd = "/usr/bin/python3 '" + source_dir() + "/tools/report.py' '" + dir.file("r.json") + "' 2>'" +
                            dir.file("err") + "'";
    int status = std::system(cmd.c_str());
    EXPECT_EQ(WEXITSTATUS(status), 2);
    EXPECT_EQ(read_file(dir.file("err")), "report: " + dir.file("r.json") + ": /schema_version: expected 1 to 1, found 99\n");
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
