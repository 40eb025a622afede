// Interrupting `bench run`: SIGKILL midway leaves the previous results untouched and no
// partial file; SIGINT or SIGTERM stops cleanly and writes the finished points, marked
// incomplete, beside the previous complete results (results.incomplete.json), never over
// them, whenever the signal comes. One run per output folder at a time.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cstring>
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
std::string sweep_config(int repetitions, const std::string& shape = "stories260K") {
    json cfg = {{"name", "signals"},
                {"models", {{{"name", "tiny"}, {"path", "absent.bin"}, {"shape", shape}}}},
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

struct PreviousResults {
    std::string json_text, csv_text;
};

// A complete first run of the tiny shape: the results later interruptions must keep.
PreviousResults complete_run(const TempDir& dir) {
    write_file(dir.file("c.json"), sweep_config(1));
    auto first = run_bench("run '" + dir.file("c.json") + "' --no-report --quiet");
    EXPECT_EQ(first.exit_code, 0) << first.err;
    return {read_file(dir.file("out/results.json")), read_file(dir.file("out/results.csv"))};
}

void expect_no_temporaries(const std::string& dir) {
    for (const auto& name : files_in(dir)) EXPECT_EQ(name.find(".tmp."), std::string::npos) << name;
}

// The incomplete results: valid against the schema, marked incomplete, `finished` points
// done (at least `min_finished`) and the rest not run.
void expect_incomplete(const std::string& path, int min_finished) {
    SCOPED_TRACE(path);
    json r = json::parse(read_file(path));
    EXPECT_EQ(r["complete"], false);
    EXPECT_EQ(r["interrupted"], true);
    int finished = 0, not_run = 0;
    for (const json& row : r["rows"]) {
        finished += row["status"] == "ok";
        not_run += row["status"] == "not-run";
    }
    EXPECT_GE(finished, min_finished);
    EXPECT_GE(not_run, 1);
    EXPECT_EQ(finished + not_run, 8);  // 2 backends x 2 thread counts x 2 prompt lengths
    auto errors = SchemaLite(json::parse(read_file(source_dir() + "/docs/results.schema.json"))).validate(r);
    EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors[0]);
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

    EXPECT_FALSE(fs::exists(dir.file("out/results.json")));  // no complete results: none invented
    expect_incomplete(dir.file("out/results.incomplete.json"), 1);
    EXPECT_TRUE(fs::exists(dir.file("out/results.incomplete.csv")));
    expect_no_temporaries(dir.path);
}

// ---- interruption beside previous complete results, at different moments ----------------

// Mid-sweep, by SIGTERM and SIGINT: the previous results.json and results.csv stay byte for
// byte, the finished points go to results.incomplete.*, the exit status is 128 + signal and
// the message says where the partial results are. A later complete run removes them.
TEST(RunSignals, MidSweepKeepsThePreviousCompleteResults) {
    TempDir dir;
    const PreviousResults before = complete_run(dir);
    write_file(dir.file("c.json"), sweep_config(6));
    for (int sig : {SIGTERM, SIGINT}) {
        SCOPED_TRACE(strsignal(sig));
        Child c = spawn_bench({"run", dir.file("c.json"), "--no-report", "--log"});
        std::string seen;
        ASSERT_TRUE(wait_for(c, "point 1/", seen)) << seen;
        ASSERT_EQ(kill(c.pid, sig), 0);
        EXPECT_EQ(wait_exit(c, seen), 128 + sig) << seen;
        EXPECT_NE(seen.find("marked incomplete, to " + dir.file("out/results.incomplete.json")), std::string::npos) << seen;
        EXPECT_NE(seen.find(dir.file("out/results.json") + ", if any, is left as it was"), std::string::npos) << seen;
        EXPECT_EQ(read_file(dir.file("out/results.json")), before.json_text);
        EXPECT_EQ(read_file(dir.file("out/results.csv")), before.csv_text);
        expect_incomplete(dir.file("out/results.incomplete.json"), 1);
        EXPECT_NE(read_file(dir.file("out/results.incomplete.csv")).find("not-run"), std::string::npos);
        expect_no_temporaries(dir.path);
    }
    // A complete run afterwards: its results replace the old, the stale incomplete ones go.
    write_file(dir.file("c.json"), sweep_config(1));
    auto again = run_bench("run '" + dir.file("c.json") + "' --no-report --quiet");
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_FALSE(fs::exists(dir.file("out/results.incomplete.json")));
    EXPECT_FALSE(fs::exists(dir.file("out/results.incomplete.csv")));
    EXPECT_EQ(json::parse(read_file(dir.file("out/results.json")))["complete"], true);
}

// While the synthetic model is being written (before any point): one signal lets the model
// finish and stops before the first point (every point not run); a second one ends the
// process at once, leaving no temporary of the model. Either way the previous results stay.
TEST(RunSignals, DuringModelPreparationKeepsThePreviousResults) {
    // ~100 MB of synthetic weights: long enough to be caught while written.
    const std::string shape = "dim=1024,hidden=2816,layers=8,heads=16,kv_heads=16,vocab=4096,seq=256";
    for (int signals : {1, 2}) {
        SCOPED_TRACE(std::to_string(signals) + " signal(s)");
        TempDir dir;
        const PreviousResults before = complete_run(dir);
        write_file(dir.file("c.json"), sweep_config(1, shape));
        Child c = spawn_bench({"run", dir.file("c.json"), "--no-report", "--log"});
        std::string seen;
        ASSERT_TRUE(wait_for(c, "writing synthetic weights", seen)) << seen;
        // The temporary exists once the write has started.
        bool writing = false;
        for (int i = 0; i < 5000 && !writing; ++i) {
            for (const auto& name : files_in(dir.path)) writing |= name.find(".bin.tmp.") != std::string::npos;
            if (!writing) usleep(1000);
        }
        ASSERT_EQ(kill(c.pid, SIGTERM), 0);
        if (signals == 2) {
            usleep(20000);
            ASSERT_EQ(kill(c.pid, SIGTERM), 0);
        }
        const int status = wait_exit(c, seen);
        EXPECT_EQ(status, 128 + SIGTERM) << seen;
        EXPECT_EQ(read_file(dir.file("out/results.json")), before.json_text);
        EXPECT_EQ(read_file(dir.file("out/results.csv")), before.csv_text);
        expect_no_temporaries(dir.path);
        if (signals == 1) {
            json r = json::parse(read_file(dir.file("out/results.incomplete.json")));
            EXPECT_EQ(r["complete"], false);
            for (const json& row : r["rows"]) EXPECT_EQ(row["status"], "not-run") << row.dump();
        } else if (writing) {
            EXPECT_FALSE(fs::exists(dir.file("out/results.incomplete.json"))) << seen;
        }
    }
}

// Right after the start (before bench run's own handler exists) and after the last point
// (while the results are ranked and written): either the process ends with nothing new
// written, or the results it writes are complete; never a temporary, never a mix.
TEST(RunSignals, AtTheStartAndAfterTheLastPoint) {
    TempDir dir;
    const PreviousResults before = complete_run(dir);
    {
        Child c = spawn_bench({"run", dir.file("c.json"), "--no-report", "--log"});
        ASSERT_EQ(kill(c.pid, SIGTERM), 0);
        std::string seen;
        const int status = wait_exit(c, seen);
        EXPECT_TRUE(status == 128 + SIGTERM || status == 0) << status << ": " << seen;
        if (status != 0) {
            EXPECT_EQ(read_file(dir.file("out/results.json")), before.json_text);
        }
        expect_no_temporaries(dir.path);
    }
    {
        Child c = spawn_bench({"run", dir.file("c.json"), "--no-report", "--log"});
        std::string seen;
        ASSERT_TRUE(wait_for(c, "point 8/8", seen)) << seen;
        kill(c.pid, SIGINT);
        const int status = wait_exit(c, seen);
        EXPECT_TRUE(status == 130 || status == 0) << status << ": " << seen;
        if (status == 130) {
            EXPECT_NE(seen.find("after the last point: the results are complete"), std::string::npos) << seen;
        }
        EXPECT_EQ(json::parse(read_file(dir.file("out/results.json")))["complete"], true);
        EXPECT_FALSE(fs::exists(dir.file("out/results.incomplete.json")));
        expect_no_temporaries(dir.path);
    }
}

// ---- one run per output folder ---------------------------------------------------------------

// A second run into a folder a run is writing (by any spelling, a link to it included) is
// refused at once, naming the folder and the first run's pid, and writes nothing; the first is not disturbed. A run into another
// folder, or into the same one once the first has ended, goes ahead.
TEST(RunLock, ASecondRunIntoTheSameFolderIsRefused) {
    TempDir dir;
    write_file(dir.file("c.json"), sweep_config(6));
    write_file(dir.file("quick.json"), sweep_config(1));
    Child first = spawn_bench({"run", dir.file("c.json"), "--no-report", "--log"});
    std::string seen;
    ASSERT_TRUE(wait_for(first, "point 1/", seen)) << seen;
    // Held still (the lock with it) while the others try: on an idle machine the whole sweep
    // would otherwise end before they do.
    ASSERT_EQ(kill(first.pid, SIGSTOP), 0);
    struct KillIfLeft {  // a failure below must not leave it stopped for ever
        pid_t pid;
        bool reaped = false;
        ~KillIfLeft() {
            if (!reaped && kill(pid, SIGKILL) == 0) waitpid(pid, nullptr, 0);
        }
    } guard{first.pid};
    fs::create_directory_symlink(dir.file("out"), dir.file("alias"));
    for (const std::string& out : {dir.file("out"), dir.file("out/"), dir.file("out/../out"), dir.file("alias")}) {
        const auto t0 = std::chrono::steady_clock::now();
        auto second = run_bench("run '" + dir.file("quick.json") + "' --out '" + out + "' --no-report --quiet");
        EXPECT_EQ(second.exit_code, 1) << second.err;
        EXPECT_NE(second.err.find(out + ": another bench run (pid " + std::to_string(first.pid) + ")"), std::string::npos)
            << second.err;
        EXPECT_EQ(std::count(second.err.begin(), second.err.end(), '\n'), 1) << second.err;
        EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));  // refused, not queued
        EXPECT_FALSE(fs::exists(dir.file("out/results.json")));
    }
    auto elsewhere = run_bench("run '" + dir.file("quick.json") + "' --out '" + dir.file("other") + "' --no-report --quiet");
    EXPECT_EQ(elsewhere.exit_code, 0) << elsewhere.err;
    ASSERT_EQ(kill(first.pid, SIGINT), 0);  // pending until it runs again, then handled first
    ASSERT_EQ(kill(first.pid, SIGCONT), 0);
    EXPECT_EQ(wait_exit(first, seen), 130) << seen;
    guard.reaped = true;
    expect_incomplete(dir.file("out/results.incomplete.json"), 1);
    auto after = run_bench("run '" + dir.file("quick.json") + "' --no-report --quiet");
    EXPECT_EQ(after.exit_code, 0) << after.err;
}

// A run that fails after taking the lock (a checkpoint that is not one) leaves no folder it
// created, the locked one included.
TEST(RunLock, AFailedRunLeavesNoFolderBehind) {
    TempDir dir;
    write_file(dir.file("garbage.bin"), "not a checkpoint");
    write_file(dir.file("bad.json"), R"({"name": "bad", "models": [{"name": "m", "path": "garbage.bin"}],
        "backends": ["cpu-ref"], "threads": [1], "prompt_tokens": [2], "generate_tokens": 2, "out": "new/deeper"})");
    auto r = run_bench("run '" + dir.file("bad.json") + "' --no-report --quiet");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("garbage.bin"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir.file("new"))) << r.err;
}

}  // namespace
}  // namespace lhb::test
