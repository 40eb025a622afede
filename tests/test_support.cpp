#include "tests/test_support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace lhb::test {

std::string source_dir() { return LHB_SOURCE_DIR; }

std::string models_dir() {
    if (const char* env = std::getenv("LHB_MODELS_DIR"); env && *env)
        return fs::exists(env) ? std::string(env) : std::string();
    fs::path p = fs::path(LHB_SOURCE_DIR).parent_path() / "shared" / "models";
    return fs::exists(p / "stories260K.bin") ? p.string() : std::string();
}

std::string model_path(const std::string& name) { return models_dir() + "/" + name; }

TempDir::TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "lhb-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
}
TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

namespace {
CommandResult run_with_input(const std::string& cmd, const std::string& stdin_text) {
    TempDir tmp;
    write_file(tmp.file("in"), stdin_text);
    int status = std::system((cmd + " <" + tmp.file("in") + " >" + tmp.file("out") + " 2>" + tmp.file("err")).c_str());
    CommandResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_file(tmp.file("out"));
    r.err = read_file(tmp.file("err"));
    return r;
}
}  // namespace

CommandResult run_bench(const std::string& args, const std::string& stdin_text) {
    return run_with_input(std::string("'") + LHB_BENCH_EXE + "' " + args, stdin_text);
}

CommandResult run_shell(const std::string& shell_command) { return run_with_input("( " + shell_command + " )", ""); }

CommandResult run_bench_after(const std::string& before, const std::string& args) {
    TempDir tmp;
    const std::string cmd = before + "'" + LHB_BENCH_EXE + "' " + args + " </dev/null >'" + tmp.file("out") + "' 2>'" +
                            tmp.file("err") + "'";
    const int status = std::system(cmd.c_str());
    CommandResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_file(tmp.file("out"));
    r.err = read_file(tmp.file("err"));
    return r;
}

}  // namespace lhb::test
