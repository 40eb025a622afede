#pragma once
// Energy of a measured interval, where the machine can measure it, read from sysfs:
//   - host: Linux powercap RAPL zones (<sysfs>/class/powercap/intel-rapl:N, "package-N",
//     and their "dram" subzones), cumulative microjoule counters that wrap at
//     max_energy_range_uj;
//   - board: hwmon power monitors of the INA2xx family (the ZCU106's INA226 rails,
//     <sysfs>/class/hwmon/hwmonN/name "ina226"): energyK_input (microjoules) when the driver
//     has it, else powerK_input (microwatts) sampled and integrated over time.
// Nothing is estimated: without a readable source the meter says why and measures nothing,
// and the rows carry no energy fields (absent, never zero). <sysfs> is /sys, or
// $LHB_SYSFS_ROOT (tests point it at a fake tree).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace lhb::bench {

struct ResultRow;

// /sys, or $LHB_SYSFS_ROOT when set and non-empty.
std::string sysfs_root();

// One counter or power reading the meter sums.
struct EnergySource {
    enum class Kind { Counter, Power };  // Counter: microjoules, cumulative; Power: microwatts, instantaneous
    Kind kind = Kind::Counter;
    std::string name;   // "package-0 (intel-rapl:0)", "ina226 (hwmon3) power1"
    std::string path;   // the file read
    uint64_t wrap = 0;  // Counter: the value it wraps at (max_energy_range_uj); 0: never wraps
};

// What a meter measured over one interval.
struct EnergyReading {
    double joules = 0;
    double seconds = 0;
    double watts() const { return seconds > 0 ? joules / seconds : 0; }
    int samples = 0;  // readings of every source, start and stop included
};

class EnergyMeter {
public:
    // Finds the sources under `root` (sysfs_root() by default). `sample_seconds`: how often a
    // background thread reads them while measuring (power rails are integrated from these
    // samples; counters are read so that more than one wraparound cannot go unseen).
    explicit EnergyMeter(std::string root = sysfs_root(), double sample_seconds = 0.05);
    ~EnergyMeter();
    EnergyMeter(const EnergyMeter&) = delete;
    EnergyMeter& operator=(const EnergyMeter&) = delete;

    bool available() const { return !sources_.empty(); }
    const std::vector<EnergySource>& sources() const { return sources_; }
    // "RAPL energy counters" / "hwmon power, sampled every 50 ms" / "hwmon energy counters".
    std::string method() const;
    // Why there is nothing to measure, or why the last interval failed; empty otherwise.
    const std::string& why_not() const { return why_not_; }

    // Begins an interval (nothing happens when no source is available).
    void start();
    // Ends it: the energy of every source summed, or nullopt when nothing is available or a
    // read failed (why_not() then says which file and why).
    std::optional<EnergyReading> stop();

    // The environment's record: {"available", "method", "sources": [...], "reason"}.
    nlohmann::json describe() const;

private:
    bool sample(double now);  // one reading of every source; false on a read error
    void sampler();

    std::vector<EnergySource> sources_;
    std::string why_not_;
    double sample_seconds_;

    // While measuring (guarded by mutex_): each source's last reading and what has been
    // accumulated since start().
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;
    bool running_ = false;
    bool failed_ = false;
    std::vector<uint64_t> last_;
    std::vector<double> joules_;
    double last_time_ = 0, start_time_ = 0;
    int samples_ = 0;
};

// Attaches a reading to a measured row: row.avg_watts, row.joules_per_token (average watts
// over the interval / the row's decode tok/s) and details["energy"] saying what was measured.
// Without a reading, the row gets nothing, or details["energy"] = {"error": ...} when the
// meter had sources but a read failed.
void attach_energy(ResultRow& row, const EnergyMeter& meter, const std::optional<EnergyReading>& reading,
                   const std::string& interval);

}  // namespace lhb::bench
