// Energy per token from sysfs (bench/energy.hpp), on fake sysfs trees: RAPL counters with a
// wraparound, INA226 hwmon rails (power sampled, energy counters), nothing to read, and files
// that cannot be read.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "bench/energy.hpp"
#include "bench/result_row.hpp"
#include "tests/test_support.hpp"

namespace lhb::bench {
namespace {

namespace fs = std::filesystem;

// A fake sysfs root: put("class/powercap/intel-rapl:0/name", "package-0") writes a file.
struct FakeSysfs {
    test::TempDir dir;
    void put(const std::string& path, const std::string& text) const {
        fs::create_directories(fs::path(dir.file(path)).parent_path());
        test::write_file(dir.file(path), text + "\n");
    }
    void rapl_zone(const std::string& zone, const std::string& name, uint64_t uj, uint64_t range) const {
        put("class/powercap/" + zone + "/name", name);
        put("class/powercap/" + zone + "/energy_uj", std::to_string(uj));
        put("class/powercap/" + zone + "/max_energy_range_uj", std::to_string(range));
    }
    const std::string& root() const { return dir.path; }
};

std::vector<std::string> names(const EnergyMeter& m) {
    std::vector<std::string> out;
    for (const EnergySource& s : m.sources()) out.push_back(s.name);
    return out;
}

TEST(Energy, RaplPackagesAndDramAreSummedAndAWraparoundIsCounted) {
    FakeSysfs sys;
    sys.rapl_zone("intel-rapl:0", "package-0", 999'000'000, 1'000'000'000);
    sys.rapl_zone("intel-rapl:0:0", "core", 5, 1'000'000'000);  // inside the package: not added again
    sys.rapl_zone("intel-rapl:0:2", "dram", 100, 1'000'000'000);
    sys.rapl_zone("intel-rapl:1", "psys", 7, 1'000'000'000);  // the whole platform, packages included
    EnergyMeter meter(sys.root(), 60);  // no sample in between: only start and stop are read
    ASSERT_TRUE(meter.available()) << meter.why_not();
    EXPECT_EQ(names(meter), (std::vector<std::string>{"package-0 (intel-rapl:0)", "dram (intel-rapl:0:2)"}));
    EXPECT_NE(meter.method().find("RAPL"), std::string::npos);

    meter.start();
    sys.put("class/powercap/intel-rapl:0/energy_uj", "500000");  // wrapped: 1e6 uJ to the top, then 0.5e6
    sys.put("class/powercap/intel-rapl:0:2/energy_uj", "2100100");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::optional<EnergyReading> e = meter.stop();
    ASSERT_TRUE(e.has_value()) << meter.why_not();
    EXPECT_NEAR(e->joules, 1.5 + 2.1, 1e-9);
    EXPECT_GT(e->seconds, 0.01);
    EXPECT_NEAR(e->watts(), e->joules / e->seconds, 1e-12);
    EXPECT_EQ(e->samples, 2);
}

TEST(Energy, AnInaRailsPowerIsSampledAndIntegrated) {
    FakeSysfs sys;
    sys.put("class/hwmon/hwmon0/name", "ina226");
    sys.put("class/hwmon/hwmon0/power1_input", "2000000");  // microwatts: 2 W
    sys.put("class/hwmon/hwmon1/name", "ina226");
    sys.put("class/hwmon/hwmon1/power1_input", "1500000");
    sys.put("class/hwmon/hwmon1/power1_label", "VCCINT");
    sys.put("class/hwmon/hwmon2/name", "coretemp");  // not a power monitor
    sys.put("class/hwmon/hwmon2/power1_input", "99000000");
    EnergyMeter meter(sys.root(), 0.005);
    ASSERT_TRUE(meter.available()) << meter.why_not();
    EXPECT_EQ(names(meter), (std::vector<std::string>{"ina226 (hwmon0) power1", "ina226 (hwmon1) VCCINT"}));
    EXPECT_NE(meter.method().find("sampled every 5 ms"), std::string::npos) << meter.method();
    meter.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    const std::optional<EnergyReading> e = meter.stop();
    ASSERT_TRUE(e.has_value()) << meter.why_not();
    EXPECT_NEAR(e->watts(), 3.5, 1e-9);  // constant power: the trapezoids are exact
    EXPECT_GT(e->samples, 2);
}

TEST(Energy, HwmonEnergyCountersAreUsedWhenTheDriverHasThem) {
    FakeSysfs sys;
    sys.put("class/hwmon/hwmon3/name", "ina238");
    sys.put("class/hwmon/hwmon3/energy1_input", "1000");
    sys.put("class/hwmon/hwmon3/power1_input", "5000000");
    EnergyMeter meter(sys.root(), 60);
    ASSERT_EQ(names(meter), std::vector<std::string>{"ina238 (hwmon3) energy1"});
    meter.start();
    sys.put("class/hwmon/hwmon3/energy1_input", "251000");
    const std::optional<EnergyReading> e = meter.stop();
    ASSERT_TRUE(e.has_value());
    EXPECT_NEAR(e->joules, 0.25, 1e-12);
}

TEST(Energy, NothingToReadMeansNoEnergyAtAllNotZero) {
    FakeSysfs sys;
    sys.put("class/hwmon/hwmon0/name", "acpitz");
    EnergyMeter meter(sys.root());
    EXPECT_FALSE(meter.available());
    EXPECT_NE(meter.why_not().find("nothing to measure energy with under " + sys.root()), std::string::npos)
        << meter.why_not();
    meter.start();
    EXPECT_FALSE(meter.stop().has_value());
    ResultRow row("id", "measured", "m", "real", "b", "fp32");
    row.decode_tok_s = 100;
    attach_energy(row, meter, std::nullopt, "x");
    const nlohmann::json j = to_json(row);
    EXPECT_TRUE(j["avg_watts"].is_null());
    EXPECT_TRUE(j["joules_per_token"].is_null());
    EXPECT_FALSE(j.contains("energy"));
    EXPECT_EQ(meter.describe()["available"], false);
    EXPECT_TRUE(meter.describe()["reason"].is_string());
}

TEST(Energy, AnUnreadableCounterIsNamedAndMeasuresNothing) {
    FakeSysfs sys;
    sys.put("class/powercap/intel-rapl:0/name", "package-0");
    fs::create_directories(sys.dir.file("class/powercap/intel-rapl:0/energy_uj"));  // unreadable, even for root
    EnergyMeter unreadable(sys.root());
    EXPECT_FALSE(unreadable.available());
    EXPECT_NE(unreadable.why_not().find("intel-rapl:0/energy_uj: cannot read (a directory)"), std::string::npos)
        << unreadable.why_not();

    // Readable at the start, not at the end: no figure, and the row says why.
    FakeSysfs later;
    later.rapl_zone("intel-rapl:0", "package-0", 10, 1000);
    EnergyMeter meter(later.root(), 60);
    ASSERT_TRUE(meter.available());
    meter.start();
    later.put("class/powercap/intel-rapl:0/energy_uj", "not a number");
    EXPECT_FALSE(meter.stop().has_value());
    EXPECT_NE(meter.why_not().find("expected an unsigned integer, found \"not a number\""), std::string::npos)
        << meter.why_not();
    ResultRow row("id", "measured", "m", "real", "b", "fp32");
    attach_energy(row, meter, std::nullopt, "x");
    EXPECT_FALSE(row.avg_watts.has_value());
    EXPECT_NE(row.details["energy"]["error"].get<std::string>().find("package-0"), std::string::npos);
}

TEST(Energy, ACounterGoingBackWithoutARangeIsAnErrorNotNegativeJoules) {
    FakeSysfs sys;
    sys.put("class/hwmon/hwmon0/name", "ina226");
    sys.put("class/hwmon/hwmon0/energy1_input", "5000");
    EnergyMeter meter(sys.root(), 60);
    meter.start();
    sys.put("class/hwmon/hwmon0/energy1_input", "4000");
    EXPECT_FALSE(meter.stop().has_value());
    EXPECT_NE(meter.why_not().find("went back from 5000 to 4000"), std::string::npos) << meter.why_not();
}

TEST(Energy, AReadingGivesWattsAndJoulesPerDecodedToken) {
    FakeSysfs sys;
    sys.rapl_zone("intel-rapl:0", "package-0", 0, 1000);
    EnergyMeter meter(sys.root());
    EnergyReading e;
    e.joules = 30;
    e.seconds = 2;
    e.samples = 2;
    ResultRow row("id", "measured", "m", "real", "b", "fp32");
    row.decode_tok_s = 300;
    attach_energy(row, meter, e, "the passes");
    EXPECT_DOUBLE_EQ(*row.avg_watts, 15);
    EXPECT_DOUBLE_EQ(*row.joules_per_token, 0.05);
    EXPECT_EQ(row.details["energy"]["sources"], nlohmann::json::array({"package-0 (intel-rapl:0)"}));
    EXPECT_EQ(row.details["energy"]["interval"], "the passes");
}

TEST(Energy, TheSysfsRootComesFromTheEnvironment) {
    FakeSysfs sys;
    sys.rapl_zone("intel-rapl:0", "package-0", 1, 1000);
    ::setenv("LHB_SYSFS_ROOT", sys.root().c_str(), 1);
    EXPECT_EQ(sysfs_root(), sys.root());
    EXPECT_TRUE(EnergyMeter().available());
    ::unsetenv("LHB_SYSFS_ROOT");
    EXPECT_EQ(sysfs_root(), "/sys");
}

}  // namespace
}  // namespace lhb::bench
