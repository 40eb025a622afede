#include "bench/report_runner.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/data_files.hpp"

namespace fs = std::filesystem;

namespace lhb::bench {

std::string find_report_script(const std::string& fallback_dir) {
    if (const char* env = std::getenv("LHB_REPORT_SCRIPT"); env && *env) return fs::is_regular_file(env) ? env : "";
    return find_data_file(kReportScript, fallback_dir);
}

int run_report_script(const std::string& script, const std::string& results_json) {
    const char* env = std::getenv("LHB_PYTHON");
    const std::string python = env && *env ? env : "/usr/bin/python3";
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        ::dup2(STDERR_FILENO, STDOUT_FILENO);  // stdout carries bench's table only
        ::execl(python.c_str(), python.c_str(), script.c_str(), results_json.c_str(), static_cast<char*>(nullptr));
        std::fprintf(stderr, "cannot run %s: %s\n", python.c_str(), std::strerror(errno));
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace lhb::bench
