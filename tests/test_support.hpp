#pragma once
// Shared helpers for the test suites: where the real models are, temporary files, running
// the `bench` executable.
#include <gtest/gtest.h>

#include <string>

namespace lhb::test {

// ../shared/models beside the checkout, or $LHB_MODELS_DIR. Empty when absent.
std::string models_dir();
// Skips the calling test, saying why, when the real models are not on this machine.
#define LHB_REQUIRE_MODELS()                                                              \
    do {                                                                                  \
        if (::lhb::test::models_dir().empty())                                            \
            GTEST_SKIP() << "../shared/models not found (set LHB_MODELS_DIR): skipping"; \
    } while (0)
std::string model_path(const std::string& name);  // models_dir() + "/" + name

// A fresh directory under the system temp dir, removed when the object dies.
struct TempDir {
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string path;
    std::string file(const std::string& name) const { return path + "/" + name; }
};

void write_file(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

struct CommandResult {
    int exit_code = -1;
    std::string out;  // stdout
    std::string err;  // stderr
};
// Runs build/bench (the one built with this test binary) with `args` (shell-quoted by the
// caller as needed), `stdin_text` on its standard input.
CommandResult run_bench(const std::string& args, const std::string& stdin_text = "");
// The same through the shell with `before` in front of the executable (limits, `timeout`,
// `exec`), standard input /dev/null: before + "'bench' " + args.
CommandResult run_bench_after(const std::string& before, const std::string& args);
// Runs `shell_command` with sh, no standard input.
CommandResult run_shell(const std::string& shell_command);

std::string source_dir();

}  // namespace lhb::test
