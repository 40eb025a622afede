#include "bench/environment.hpp"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <algorithm>
#include <set>
#include <thread>

#include "core/build_info.hpp"

namespace lhb::bench {

namespace {

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
    size_t i = s.find_first_not_of(" \t");
    return i == std::string::npos ? std::string() : s.substr(i);
}

// Output of a short command, "" if it fails. Only fixed commands with a quoted folder.
std::string command_output(const std::string& cmd) {
    std::FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return "";
    std::string out;
    char buf[256];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = ::pclose(p);
    return status == 0 ? trim(out) : std::string();
}

std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

}  // namespace

std::string utc_now_iso8601() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

nlohmann::json load_average() {
    std::ifstream f("/proc/loadavg");
    double a = 0, b = 0, c = 0;
    if (!(f >> a >> b >> c)) return nullptr;
    return {a, b, c};
}

CpuSample sample_cpu() {
    CpuSample c;
    c.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    rusage u{};
    if (::getrusage(RUSAGE_SELF, &u) == 0)
        c.self_s = double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
    std::ifstream stat("/proc/stat");
    std::string cpu;
    // cpu  user nice system idle iowait irq softirq steal ...
    double f[8] = {};
    if (stat >> cpu && cpu == "cpu" && stat >> f[0] >> f[1] >> f[2] >> f[3] >> f[4] >> f[5] >> f[6] >> f[7]) {
        const double ticks = double(::sysconf(_SC_CLK_TCK));
        c.machine_busy_s = (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / ticks;
    }
    return c;
}

nlohmann::json other_processes_cpu(const CpuSample& a, const CpuSample& b) {
    const unsigned cpus = std::thread::hardware_concurrency();
    const double wall = b.wall_s - a.wall_s;
    if (a.machine_busy_s < 0 || b.machine_busy_s < 0 || wall <= 0 || cpus == 0) return nullptr;
    // Tick granularity makes small negatives possible: clamp.
    const double others = std::max(0.0, (b.machine_busy_s - a.machine_busy_s) - (b.self_s - a.self_s));
    return {{"cpu_seconds", others}, {"fraction", others / (wall * cpus)}};
}

nlohmann::json collect_environment(const std::string& repo_dir) {
    nlohmann::json env;
    // CPU: model name and physical cores from /proc/cpuinfo (distinct physical id/core id).
    std::string cpu_model = "unknown";
    std::set<std::pair<std::string, std::string>> cores;
    std::string phys, core;
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
        auto colon = line.find(':');
        if (colon == std::string::npos) {
            if (!core.empty()) cores.insert({phys, core});
            phys.clear(), core.clear();
            continue;
        }
        std::string key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
        if (key == "model name" && cpu_model == "unknown") cpu_model = value;
        else if (key == "physical id") phys = value;
        else if (key == "core id") core = value;
    }
    if (!core.empty()) cores.insert({phys, core});
    const unsigned logical = std::thread::hardware_concurrency();
    env["cpu_model"] = cpu_model;
    env["logical_cpus"] = logical;
    env["cores"] = cores.empty() ? int(logical) : int(cores.size());

    std::ifstream meminfo("/proc/meminfo");
    for (std::string line; std::getline(meminfo, line);)
        if (line.rfind("MemTotal:", 0) == 0) {
            env["memory_kib"] = std::stoll(trim(line.substr(9)));
            break;
        }

    utsname u{};
    if (::uname(&u) == 0) env["os"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) env["hostname"] = host;

    env["compiler"] = build_compiler();
    env["build_flags"] = build_flags();
    env["bench_version"] = build_version();

    const std::string git = "git -C " + shell_quote(repo_dir) + " ";
    std::string commit = command_output(git + "rev-parse HEAD 2>/dev/null");
    env["git_commit"] = commit.empty() ? "unknown" : commit;
    if (!commit.empty())
        env["git_dirty"] = !command_output(git + "status --porcelain --untracked-files=no 2>/dev/null").empty();
    env["time"] = utc_now_iso8601();
    env["load_average_start"] = load_average();
    return env;
}

}  // namespace lhb::bench
