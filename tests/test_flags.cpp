// bench/flags.hpp: the one flag parser every subcommand uses, and what each subcommand
// says about a bad command line (one line naming the problem, exit status 1).
#include <gtest/gtest.h>

#include "bench/flags.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "tests/test_support.hpp"

namespace lhb::test {
namespace {

using bench::FlagParser;

struct Argv {
    explicit Argv(std::vector<std::string> a) : args(std::move(a)) {
        for (std::string& s : args) ptrs.push_back(s.data());
    }
    int argc() const { return int(ptrs.size()); }
    char** argv() { return ptrs.data(); }
    std::vector<std::string> args;
    std::vector<char*> ptrs;
};

TEST(Flags, ParsesSwitchesValuesAndPositionalsInAnyOrder) {
    bool quiet = false;
    std::string out;
    int n = 0;
    double x = 0;
    std::vector<std::string> files;
    std::vector<char*> passed;
    FlagParser flags("usage\n");
    flags.flag({"--quiet", "-q"}, quiet).text({"--out"}, out).integer({"-n"}, n, 0, 10).number({"-x"}, x);
    flags.positionals(files, 2).pass_through("--benchmark_", passed);
    Argv a({"cmd", "a.json", "-q", "--out", "-dir-", "-n", "7", "--benchmark_filter=x", "-x", "0.25", "b.json"});
    EXPECT_EQ(flags.parse(a.argc(), a.argv()), std::nullopt);
    EXPECT_TRUE(quiet);
    EXPECT_EQ(out, "-dir-");  // a value is the next argument, whatever it looks like
    EXPECT_EQ(n, 7);
    EXPECT_DOUBLE_EQ(x, 0.25);
    EXPECT_EQ(files, (std::vector<std::string>{"a.json", "b.json"}));
    ASSERT_EQ(passed.size(), 1u);
    EXPECT_STREQ(passed[0], "--benchmark_filter=x");
}

TEST(Flags, UsageErrorsReturnOneAndHelpReturnsZero) {
    auto status = [](std::vector<std::string> args) {
        int n = 0;
        std::vector<std::string> files;
        FlagParser flags("usage\n");
        flags.integer({"-n"}, n).positionals(files, 1);
        Argv a(std::move(args));
        return flags.parse(a.argc(), a.argv());
    };
    EXPECT_EQ(status({"cmd", "--help"}), 0);
    EXPECT_EQ(status({"cmd", "-h"}), 0);
    EXPECT_EQ(status({"cmd", "--nope"}), 1);
    EXPECT_EQ(status({"cmd", "-n"}), 1);
    EXPECT_EQ(status({"cmd", "a", "b"}), 1);
    EXPECT_EQ(status({"cmd", "a", "-n", "3"}), std::nullopt);
}

TEST(Flags, NumbersMustBeWholeFiniteAndInRange) {
    EXPECT_EQ(bench::parse_int("-n", "42"), 42);
    EXPECT_EQ(bench::parse_int("-n", "-3"), -3);
    EXPECT_DOUBLE_EQ(bench::parse_double("-t", "0.5"), 0.5);
    auto message = [](auto&& f) {
        try {
            f();
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(message([] { bench::parse_int("-n", "4x"); }), "-n: expected an integer, found '4x'");
    EXPECT_EQ(message([] { bench::parse_int("-n", "99999999999"); }), "-n: expected an integer, found '99999999999'");
    EXPECT_EQ(message([] { bench::parse_int("-n", ""); }), "-n: expected an integer, found ''");
    EXPECT_EQ(message([] { bench::parse_int("--group", "0", 1); }), "--group: expected an integer >= 1, found 0");
    EXPECT_EQ(message([] { bench::parse_int("-k", "11", 0, 10); }), "-k: expected an integer in [0, 10], found 11");
    EXPECT_EQ(message([] { bench::parse_double("-t", "nan"); }), "-t: expected a finite number, found 'nan'");
    EXPECT_EQ(message([] { bench::parse_double("-p", "inf"); }), "-p: expected a finite number, found 'inf'");
    EXPECT_EQ(message([] { bench::parse_double("-p", "1e999"); }), "-p: expected a finite number, found '1e999'");
    EXPECT_EQ(message([] { bench::parse_float("-t", "1e300"); }), "-t: expected a finite number, found '1e300'");
    EXPECT_EQ(message([] { bench::parse_double("-t", "0.5s"); }), "-t: expected a number, found '0.5s'");
}

// Every subcommand: an unknown flag and a flag without its value are named in one line
// before the usage; a non-finite number is refused in one line. All exit with status 1.
TEST(Flags, EverySubcommandNamesTheBadFlag) {
    const std::string model = "'" + source_dir() + "/CMakeLists.txt'";  // never opened: the flags fail first
    for (const std::string& cmd : std::vector<std::string>{"run", "generate " + model, "ops", "estimate", "synth",
                                                          "quantize", "compare", "list", "report"}) {
        auto unknown = run_bench(cmd + " --no-such-flag");
        EXPECT_EQ(unknown.exit_code, 1) << cmd;
        EXPECT_EQ(unknown.err.rfind("unknown option --no-such-flag\n", 0), 0u) << cmd << ": " << unknown.err;
        EXPECT_NE(unknown.err.find("Usage"), std::string::npos) << cmd;
    }
    for (const std::string& cmd : std::vector<std::string>{"run --out", "generate " + model + " -n", "ops --threads",
                                                          "estimate --pos", "synth --seed", "quantize a b --group",
                                                          "list --xclbin"}) {
        auto missing = run_bench(cmd);
        EXPECT_EQ(missing.exit_code, 1) << cmd;
        const std::string flag = cmd.substr(cmd.rfind(' ') + 1);
        EXPECT_EQ(missing.err.rfind(flag + " needs a value\n", 0), 0u) << cmd << ": " << missing.err;
    }
    for (const std::string& cmd : std::vector<std::string>{"generate " + model + " -t nan", "generate " + model + " -p inf",
                                                          "generate " + model + " -t -inf", "ops --bandwidth-seconds nan"}) {
        auto r = run_bench(cmd);
        EXPECT_EQ(r.exit_code, 1) << cmd;
        EXPECT_NE(r.err.find("expected a finite number"), std::string::npos) << cmd << ": " << r.err;
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
    }
}

TEST(Registry, CpuRefIsTheOneReferenceBackend) { EXPECT_EQ(BackendRegistry::reference().name, "cpu-ref"); }

}  // namespace
}  // namespace lhb::test
