// Interrupting `bench run`: SIGKILL midway leaves the previous results untouched and no
// partial file; SIGINT stops cleanly and writes the finished points, marked incomplete.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "tests/json_schema_lite.hpp"
#include "tests/test_support.hpp"

namespace lhb::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A sweep of synthetic stories260K-shaped points long enough (a second or more) to be
// interrupted after its first point.
std::string sweep_config(int repetitions) {
    json cfg = {{"name", "signals"},
                {"models", {{{"name", "tiny"}, {"path", "absent.bin"}, {"shape", "stories260K"}}}},
                {"backends", {"cpu-ref", "openmp"}},
                {"threads", {1, 2}},
                {"prompt_tokens", {8, 32}},
                {"generate_tokens", 96},
                {"warmup", 0},
                {"repetitions", repetitions},
                {"correctness_steps", 4},
                {"out", "out"}};
    return cfg.dump(2);
}

struct Child {
    pid_t pid = -1;
    int err_fd = -1;  // the child's stderr
};

// fork + exec build/bench with stdout to /dev/null and stderr to a pipe.
Child spawn_bench(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    Child c;
    c.pid = fork();
    if (c.pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        int null_fd = open("/dev/null", O_WRONLY);
        dup2(null_fd, STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        std::vector<char*> argv;
        std::string exe = LHB_BENCH_EXE;
        argv.push_back(exe.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(exe.c_str(), argv.data());
        _exit(127);
    }
    close(fds[1]);
    c.err_fd = fds[0];
    return c;
}

// Reads the child's stderr until `needle` appears (true) or it closes or times out (false).
bool wait_for(Child& c, const std::string& needle, std::string& seen, int timeout_ms = 120000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[4096];
    while (seen.find(needle) == std::string::npos) {
        int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
        if (left <= 0) return false;
        pollfd p{c.err_fd, POLLIN, 0};
        if (poll(&p, 1, left) <= 0) return false;
        ssize_t n = read(c.err_fd, buf, sizeof buf);
        if (n <= 0) return false;
        seen.append(buf, size_t(n));
    }
    return true;
}

int wait_exit(Child& c, std::string& seen) {
    char buf[4096];
    ssize_t n;
    while ((n = read(c.err_fd, buf, sizeof buf)) > 0) seen.append(buf, size_t(n));
    close(c.err_fd);
    int status = 0;
    waitpid(c.pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(dir)) names.push_back(fs::relative(e.path(), dir).string());
    std::sort(names.begin(), names.end());
    return names;
}

TEST(RunSignals, SigkillMidwayLeavesThePreviousResultsIntact) {
    TempDir dir;
    // A first, short run leaves complete results.
    write_file(dir.file("c.json"), sweep_config(1));
    auto first = run_bench("run '" + dir.file("c.json") + "' --no-report --quiet");
    ASSERT_EQ(first.exit_code, 0) << first.err;
    const std::string before_json = read_file(dir.file("out/results.json"));
    const std::string before_csv = read_file(dir.file("out/results.csv"));
    const auto before_files = files_in(dir.path);

    // A longer run of the same config, killed after its first point.
    write_file(dir.file("c.json"), sweep_config(6));
    Child c = spawn_bench({"run", dir.file("c.json"), "--no-report", "--log"});
    std::string seen;
    ASSERT_TRUE(wait_for(c, "point 1/", seen)) << seen;
    ASSERT_EQ(kill(c.pid, SIGKILL), 0);
    EXPECT_EQ(wait_exit(c, seen), 128 + SIGKILL) << seen;

    EXPECT_EQ(read_file(dir.file("out/results.json")), before_json);
    EXPECT_EQ(read_file(dir.file("out/results.csv")), before_csv);
    // No partial file anywhere: the same files as before (the config aside).
    EXPECT_EQ(files_in(dir.path), before_files);
}

TEST(RunSignals, SigintWritesTheFinishedPointsMarkedIncomplete) {
    TempDir dir;
    write_file(dir.file("c.json"), sweep_config(6));
    Child c = spawn_bench({"run", dir.file("c.json"), "--no-report", "--log"});
    std::string seen;
    ASSERT_TRUE(wait_for(c, "point 1/", seen)) << seen;
    ASSERT_EQ(kill(c.pid, SIGINT), 0);
    EXPECT_EQ(wait_exit(c, seen), 130) << seen;
    EXPECT_NE(seen.find("interrupted: wrote the finished points, marked incomplete"), std::string::npos) << seen;

    json r = json::parse(read_file(dir.file("out/results.json")));
    EXPECT_EQ(r["complete"], false);
    EXPECT_EQ(r["interrupted"], true);
    int finished = 0, not_run = 0;
    for (const json& row : r["rows"]) {
        finished += row["status"] == "ok";
        not_run += row["status"] == "not-run";
    }
    EXPECT_GE(finished, 1);
    EXPECT_GE(not_run, 1);
    EXPECT_EQ(finished + not_run, 8);  // 2 backends x 2 thread counts x 2 prompt lengths
    auto errors = SchemaLite(json::parse(read_file(source_dir() + "/docs/results.schema.json"))).validate(r);
    EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors[0]);
    for (const auto& name : files_in(dir.path)) EXPECT_EQ(name.find(".tmp."), std::string::npos) << name;
}

}  // namespace
}  // namespace lhb::test
