#include "bench/energy.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "bench/result_row.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lhb::bench {

namespace {

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The unsigned integer a sysfs attribute holds, or why it cannot be read.
std::optional<uint64_t> read_counter(const std::string& path, std::string& error) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        error = path + ": cannot read (a directory)";
        return std::nullopt;
    }
    errno = 0;
    std::ifstream f(path);
    if (!f) {
        error = path + ": cannot read (" + std::string(errno ? std::strerror(errno) : "cannot open") + ")";
        return std::nullopt;
    }
    std::string text;
    std::getline(f, text);
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    while (end && (*end == ' ' || *end == '\t' || *end == '\r')) ++end;
    if (text.empty() || text[0] == '-' || errno == ERANGE || !end || *end != '\0') {
        error = path + ": expected an unsigned integer, found \"" + text.substr(0, 40) + "\"";
        return std::nullopt;
    }
    return uint64_t(v);
}

std::string read_line(const fs::path& path) {
    std::ifstream f(path);
    std::string s;
    if (f) std::getline(f, s);
    return s;
}

// Directory entries of `dir` whose names match `pattern`, sorted (so sources keep an order).
std::vector<fs::path> entries(const fs::path& dir, const std::regex& pattern) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (std::regex_match(it->path().filename().string(), pattern)) out.push_back(it->path());
    std::sort(out.begin(), out.end());
    return out;
}

// RAPL zones whose energies add up without counting anything twice: the packages and the
// DRAM zones (outside the package on servers). "psys" (the whole platform) contains the
// packages, and a package's core/uncore subzones are inside it: both are left out.
std::vector<EnergySource> rapl_sources(const fs::path& root, std::vector<std::string>& problems) {
    std::vector<EnergySource> out;
    for (const fs::path& zone : entries(root / "class" / "powercap", std::regex("intel-rapl:[0-9]+(:[0-9]+)?"))) {
        const std::string name = read_line(zone / "name");
        const bool sub = zone.filename().string().find(':', std::string("intel-rapl:").size()) != std::string::npos;
        if (!(name == "dram" || (!sub && name.rfind("package", 0) == 0))) continue;
        EnergySource s;
        s.kind = EnergySource::Kind::Counter;
        s.name = name + " (" + zone.filename().string() + ")";
        s.path = (zone / "energy_uj").string();
        std::string error;
        if (!read_counter(s.path, error)) {
            problems.push_back(error);
            continue;
        }
        if (auto range = read_counter((zone / "max_energy_range_uj").string(), error)) s.wrap = *range;
        out.push_back(std::move(s));
    }
    return out;
}

// Power monitors of the INA2xx family (a board's rails): each one's energy counters when the
// driver has them, else its power readings.
std::vector<EnergySource> hwmon_sources(const fs::path& root, std::vector<std::string>& problems) {
    std::vector<EnergySource> out;
    for (const fs::path& dev : entries(root / "class" / "hwmon", std::regex("hwmon[0-9]+"))) {
        const std::string name = read_line(dev / "name");
        if (name.rfind("ina", 0) != 0) continue;
        std::vector<fs::path> files = entries(dev, std::regex("energy[0-9]+_input"));
        const bool counters = !files.empty();
        if (!counters) files = entries(dev, std::regex("power[0-9]+_input"));
        for (const fs::path& f : files) {
            EnergySource s;
            s.kind = counters ? EnergySource::Kind::Counter : EnergySource::Kind::Power;
            const std::string channel = f.filename().string().substr(0, f.filename().string().find('_'));
            const std::string label = read_line(dev / (channel + "_label"));
            s.name = name + " (" + dev.filename().string() + ") " + (label.empty() ? channel : label);
            s.path = f.string();
            std::string error;
            if (!read_counter(s.path, error)) {
                problems.push_back(error);
                continue;
            }
            out.push_back(std::move(s));
        }
    }
    return out;
}

}  // namespace

std::string sysfs_root() {
    const char* env = std::getenv("LHB_SYSFS_ROOT");
    return env && *env ? env : "/sys";
}

EnergyMeter::EnergyMeter(std::string root, double sample_seconds) : sample_seconds_(sample_seconds) {
    std::vector<std::string> problems;
    sources_ = rapl_sources(root, problems);
    if (sources_.empty()) sources_ = hwmon_sources(root, problems);
    if (sources_.empty()) {
        why_not_ = "nothing to measure energy with under " + root +
                   ": no readable RAPL package zone (class/powercap/intel-rapl:N/energy_uj) and no INA2xx hwmon "
                   "power monitor (class/hwmon/hwmonN)";
        for (const std::string& p : problems) why_not_ += "; " + p;
    }
}

EnergyMeter::~EnergyMeter() {
    if (thread_.joinable()) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            running_ = false;
        }
        wake_.notify_all();
        thread_.join();
    }
}

std::string EnergyMeter::method() const {
    if (sources_.empty()) return "none";
    const bool power = sources_.front().kind == EnergySource::Kind::Power;
    const bool rapl = sources_.front().path.find("powercap") != std::string::npos;
    if (power) {
        std::ostringstream s;
        s << "hwmon power (microwatts), sampled every " << sample_seconds_ * 1000 << " ms and integrated (trapezoids)";
        return s.str();
    }
    return rapl ? "RAPL energy counters (microjoules; wraparound at max_energy_range_uj)"
                : "hwmon energy counters (microjoules)";
}

bool EnergyMeter::sample(double now) {
    for (size_t i = 0; i < sources_.size(); ++i) {
        const EnergySource& s = sources_[i];
        std::string error;
        const std::optional<uint64_t> v = read_counter(s.path, error);
        if (!v) {
            why_not_ = s.name + ": " + error;
            return false;
        }
        if (s.kind == EnergySource::Kind::Power) {
            joules_[i] += (double(last_[i]) + double(*v)) / 2 * 1e-6 * (now - last_time_);
        } else if (*v >= last_[i]) {
            joules_[i] += double(*v - last_[i]) * 1e-6;
        } else if (s.wrap > 0 && last_[i] <= s.wrap) {
            // Wrapped once since the last reading (readings are frequent enough for once).
            joules_[i] += double(s.wrap - last_[i] + *v) * 1e-6;
        } else {
            why_not_ = s.name + ": " + s.path + ": the counter went back from " + std::to_string(last_[i]) + " to " +
                       std::to_string(*v) + " with no max_energy_range_uj to wrap at";
            return false;
        }
        last_[i] = *v;
    }
    last_time_ = now;
    ++samples_;
    return true;
}

void EnergyMeter::sampler() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (running_) {
        wake_.wait_for(lock, std::chrono::duration<double>(sample_seconds_), [this] { return !running_; });
        if (running_ && !failed_) failed_ = !sample(now_seconds());
    }
}

void EnergyMeter::start() {
    if (sources_.empty()) return;
    if (thread_.joinable()) stop();
    std::lock_guard<std::mutex> lock(mutex_);
    last_.assign(sources_.size(), 0);
    joules_.assign(sources_.size(), 0);
    samples_ = 0;
    failed_ = false;
    why_not_.clear();
    // The first reading sets the baseline (its energies are discarded).
    for (size_t i = 0; i < sources_.size() && !failed_; ++i) {
        std::string error;
        const std::optional<uint64_t> v = read_counter(sources_[i].path, error);
        if (!v) {
            why_not_ = sources_[i].name + ": " + error;
            failed_ = true;
        } else {
            last_[i] = *v;
        }
    }
    start_time_ = last_time_ = now_seconds();
    samples_ = failed_ ? 0 : 1;
    running_ = true;
    thread_ = std::thread([this] { sampler(); });
}

std::optional<EnergyReading> EnergyMeter::stop() {
    if (!thread_.joinable()) return std::nullopt;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        running_ = false;
    }
    wake_.notify_all();
    thread_.join();
    if (!failed_) failed_ = !sample(now_seconds());
    if (failed_) return std::nullopt;
    EnergyReading r;
    for (double j : joules_) r.joules += j;
    r.seconds = last_time_ - start_time_;
    r.samples = samples_;
    return r;
}

json EnergyMeter::describe() const {
    json names = json::array();
    for (const EnergySource& s : sources_) names.push_back(s.name);
    return {{"available", available()},
            {"method", method()},
            {"sources", names},
            {"reason", sources_.empty() ? json(why_not_) : json(nullptr)}};
}

void attach_energy(ResultRow& row, const EnergyMeter& meter, const std::optional<EnergyReading>& reading,
                   const std::string& interval) {
    if (!reading) {
        if (meter.available()) row.details["energy"] = {{"error", meter.why_not()}};
        return;
    }
    row.avg_watts = reading->watts();
    json sources = json::array();
    for (const EnergySource& s : meter.sources()) sources.push_back(s.name);
    json e = {{"joules", reading->joules},
              {"seconds", reading->seconds},
              {"watts", reading->watts()},
              {"samples", reading->samples},
              {"method", meter.method()},
              {"sources", sources},
              {"interval", interval}};
    if (row.decode_tok_s && *row.decode_tok_s > 0) {
        row.joules_per_token = reading->watts() / *row.decode_tok_s;
        e["joules_per_token_basis"] = "average watts over the interval / median decode tok/s (both measured)";
    }
    row.details["energy"] = std::move(e);
}

}  // namespace lhb::bench
