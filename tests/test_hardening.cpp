// Hardening, one suite per class of hostile input (docs/hardening.md): each class is closed by
// one mechanism, and each test tries several members of the class through every reader or
// writer that the mechanism guards.
//
//   HardeningInputs    special files and oversized files as inputs (core/input_file.hpp)
//   HardeningOutputs   outputs that would clobber something (core/atomic_file.hpp)
//   HardeningJson      nesting, size and duplicate keys (core/json_scan.hpp)
//   HardeningResources thread counts (core/thread_limit.hpp); sizes and disk space are in
//                      HardeningOutputs (AtomicFile)
//   HardeningNonFinite NaN/Inf weights (Model::open)
//   HardeningSpecs     board and design files: unknown keys, impossible values, messages
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <tuple>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/config.hpp"
#include "bench/results.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/gguf.hpp"
#include "core/gguf_writer.hpp"
#include "core/input_file.hpp"
#include "core/json_scan.hpp"
#include "core/model.hpp"
#include "core/quantize.hpp"
#include "core/registry.hpp"
#include "core/synth.hpp"
#include "core/thread_limit.hpp"
#include "core/tokenizer.hpp"
#include "host/estimator.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;
using test::read_file;
using test::TempDir;
using test::write_file;

constexpr const char* kTinyShape = "dim=8,hidden=16,layers=2,heads=2,kv_heads=1,vocab=32,seq=8";

// The message of the InputError `f` throws (fails the test if it throws nothing or anything else).
std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const InputError& e) {
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not an InputError: " << e.what();
        return e.what();
    }
    ADD_FAILURE() << "nothing thrown";
    return "";
}

void expect_has(const std::string& msg, const std::vector<std::string>& needles) {
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line expected: " << msg;
    for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "missing '" << n << "' in: " << msg;
}

// `bench ARGS` with a time limit: a hang is a failure, not a stuck suite.
CommandResult run_bench_within(int seconds, const std::string& args) {
    return test::run_bench_after("timeout -s KILL " + std::to_string(seconds) + " ", args);
}

// Special files made in `dir`, each with the word an error should name.
struct SpecialFile {
    std::string path, kind;
};

std::vector<SpecialFile> special_files(const TempDir& dir) {
    std::vector<SpecialFile> v;
    const std::string fifo = dir.file("fifo");
    if (::mkfifo(fifo.c_str(), 0600) == 0) v.push_back({fifo, "a FIFO"});
    fs::create_directory(dir.file("folder"));
    v.push_back({dir.file("folder"), "a directory"});
    const std::string sock = dir.file("sock");
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd >= 0 && sock.size() < sizeof addr.sun_path) {
        std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) v.push_back({sock, "a socket"});
    }
    if (fd >= 0) ::close(fd);  // the socket file stays
    v.push_back({"/dev/null", "a character device"});
    v.push_back({"/dev/zero", "a character device"});
    fs::create_symlink("/dev/zero", dir.file("link-to-zero"));
    v.push_back({dir.file("link-to-zero"), "a character device"});
    return v;
}

// ---- inputs: regular files only, bounded -----------------------------------------------------

// Every reader, given each special file: one line naming the path and what was found, at
// once (a FIFO without a writer would block an ordinary open or read forever).
TEST(HardeningInputs, EveryReaderRefusesSpecialFilesNamingWhatItFound) {
    TempDir dir;
    const std::vector<std::pair<const char*, std::function<void(const std::string&)>>> readers = {
        {"config", [](const std::string& p) { bench::load_config(p); }},
        {"results", [](const std::string& p) { bench::load_results(p); }},
        {"tokenizer", [](const std::string& p) { Tokenizer::load(p, 512); }},
        {"model", [](const std::string& p) { Model::open(p); }},
        {"board", [](const std::string& p) { hls::load_board(p); }},
        {"design", [](const std::string& p) { hls::load_design(p); }},
    };
    const std::vector<SpecialFile> files = special_files(dir);
    ASSERT_GE(files.size(), 5u);
    for (const auto& [name, read] : readers)
        for (const SpecialFile& f : files) {
            SCOPED_TRACE(std::string(name) + " reader, " + f.path);
            const auto t0 = std::chrono::steady_clock::now();
            expect_has(error_of([&] { read(f.path); }), {f.path, "expected a regular file, found " + f.kind});
            EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
        }
}

// The same through the command line, under a time limit: a FIFO as config, results,
// checkpoint or tokenizer.
TEST(HardeningInputs, CommandsRefuseAFifoWithoutHanging) {
    TempDir dir;
    const std::string fifo = dir.file("fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    write_synthetic_model(parse_shape(kTinyShape), dir.file("m.bin"), 1);
    for (const std::string& args : {"run '" + fifo + "' --quiet --no-report", "compare '" + fifo + "' '" + fifo + "'",
                                    "report '" + fifo + "'", "quantize '" + fifo + "' '" + dir.file("q.bin") + "'",
                                    "generate '" + dir.file("m.bin") + "' -z '" + fifo + "' -n 2"}) {
        SCOPED_TRACE(args);
        CommandResult r = run_bench_within(20, args);
        EXPECT_NE(r.exit_code, 0);
        EXPECT_NE(r.exit_code, 128 + SIGKILL) << "hung";
        EXPECT_NE(r.err.find("found a FIFO"), std::string::npos) << r.err;
    }
}

// A file larger than the reader's stated maximum is refused before it is read: sparse
// files of the maximum plus one byte cost no disk.
TEST(HardeningInputs, OversizedFilesAreRefusedBeforeReading) {
    TempDir dir;
    auto sparse = [&](const char* name, uint64_t bytes) {
        const std::string p = dir.file(name);
        write_file(p, "");
        fs::resize_file(p, bytes);
        return p;
    };
    const std::string cfg = sparse("big.json", kMaxConfigBytes + 1);
    expect_has(error_of([&] { bench::load_config(cfg); }), {cfg, "expected at most " + std::to_string(kMaxConfigBytes)});
    const std::string res = sparse("results.json", kMaxResultsBytes + 1);
    expect_has(error_of([&] { bench::load_results(res); }), {res, "expected at most"});
    const std::string tok = sparse("tok.bin", kMaxTokenizerBytes + 1);
    expect_has(error_of([&] { Tokenizer::load(tok, 512); }), {tok, "expected at most"});
    const std::string board = sparse("board.json", kMaxSpecBytes + 1);
    expect_has(error_of([&] { hls::load_board(board); }), {board, "expected at most"});
    // And the helper itself, at its boundary.
    const std::string small = dir.file("ten");
    write_file(small, "0123456789");
    EXPECT_EQ(read_input_file(small, 10, "test file"), "0123456789");
    expect_has(error_of([&] { read_input_file(small, 9, "test file"); }), {small, "expected at most 9 bytes, found 10"});
}

// ---- outputs: never clobber -------------------------------------------------------------------

struct Snapshot {
    bool exists = false;
    unsigned mode = 0;
    std::string link_target, contents;
};

Snapshot snapshot(const std::string& path) {
    Snapshot s;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return s;
    s.exists = true;
    s.mode = st.st_mode;
    if (S_ISLNK(st.st_mode)) s.link_target = fs::read_symlink(path).string();
    if (S_ISREG(st.st_mode)) s.contents = read_file(path);
    return s;
}

void expect_untouched(const std::string& path, const Snapshot& before) {
    const Snapshot after = snapshot(path);
    EXPECT_TRUE(after.exists) << path << " was removed";
    EXPECT_EQ(after.mode, before.mode) << path;
    EXPECT_EQ(after.link_target, before.link_target) << path;
    EXPECT_EQ(after.contents, before.contents) << path;
}

bool no_temporaries(const std::string& dir) {
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp.") != std::string::npos) return false;
    return true;
}

// Targets that are not regular files: each refused with the OS reason, left as it was, and
// (for links) so is what it points to. A device node is made in the test's folder (as
// root), never /dev's own.
TEST(HardeningOutputs, SpecialTargetsAreRefusedAndLeftUntouched) {
    TempDir dir;
    std::vector<SpecialFile> targets;
    for (const SpecialFile& f : special_files(dir))
        if (f.path.rfind(dir.path, 0) == 0 && f.path.find("link-to-zero") == std::string::npos) targets.push_back(f);
    write_file(dir.file("precious"), "precious");
    fs::create_symlink(dir.file("precious"), dir.file("link-to-file"));
    targets.push_back({dir.file("link-to-file"), "a symbolic link"});
    fs::create_symlink(dir.file("nothing-here"), dir.file("dangling"));
    targets.push_back({dir.file("dangling"), "a symbolic link"});
    fs::create_symlink("/dev/null", dir.file("link-to-null"));
    targets.push_back({dir.file("link-to-null"), "a symbolic link"});
    if (::mknod(dir.file("null-node").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0)
        targets.push_back({dir.file("null-node"), "a character device"});
    ASSERT_GE(targets.size(), 6u);

    const std::vector<std::pair<const char*, std::function<void(const std::string&)>>> writers = {
        {"write_file_atomically", [](const std::string& p) { write_file_atomically(p, "new"); }},
        {"synth", [](const std::string& p) { write_synthetic_model(parse_shape(kTinyShape), p, 1); }},
        {"results", [&](const std::string& p) {
             // results.json is the target: the folder is the target's folder, so link it.
             const std::string out = dir.file("out-" + fs::path(p).filename().string());
             fs::create_directory(out);
             fs::rename(p, out + "/results.json");
             try {
                 bench::write_results(nlohmann::json{{"rows", nlohmann::json::array()}}, out);
             } catch (...) {
                 fs::rename(out + "/results.json", p);
                 throw;
             }
             fs::rename(out + "/results.json", p);
         }},
        {"bench validate --json", [](const std::string& p) {
             const CommandResult r = run_bench_within(60, "validate --json '" + p + "'");
             if (r.exit_code != 0) throw InputError(r.err.substr(0, r.err.find_last_not_of('\n') + 1));
         }},
    };
    for (const auto& [name, write] : writers)
        for (const SpecialFile& t : targets) {
            SCOPED_TRACE(std::string(name) + " onto " + t.kind + " " + t.path);
            const Snapshot before = snapshot(t.path);
            const Snapshot precious = snapshot(dir.file("precious"));
            expect_has(error_of([&] { write(t.path); }), {"cannot write", "found " + t.kind, "left untouched"});
            expect_untouched(t.path, before);
            expect_untouched(dir.file("precious"), precious);
            EXPECT_FALSE(fs::exists(fs::symlink_status(dir.file("nothing-here")))) << "a dangling link's target was created";
        }
    EXPECT_TRUE(no_temporaries(dir.path));
}

// An output that is one of the run's inputs: by the same path and by a hard link, for a
// mapped model (quantize) and a file read whole (a config); and on the command line.
TEST(HardeningOutputs, AnOutputThatIsAnInputIsRefused) {
    TempDir dir;
    write_synthetic_model(parse_shape(kTinyShape), dir.file("m.bin"), 1);
    ASSERT_EQ(::link(dir.file("m.bin").c_str(), dir.file("alias.bin").c_str()), 0);
    const std::string model_bytes = read_file(dir.file("m.bin"));
    {
        Model m = Model::open(dir.file("m.bin"));
        for (const std::string& out : {dir.file("m.bin"), dir.file("alias.bin"), dir.path + "/./m.bin"})
            expect_has(error_of([&] { write_q8_model(m, out, 4); }), {out, "one of this run's inputs"});
    }
    EXPECT_EQ(read_file(dir.file("m.bin")), model_bytes);

    write_file(dir.file("run.json"), R"({"name": "x", "models": [{"name": "m", "path": "m.bin"}], "backends": ["cpu-ref"]})");
    bench::load_config(dir.file("run.json"));
    const std::string cfg_bytes = read_file(dir.file("run.json"));
    expect_has(error_of([&] { write_file_atomically(dir.file("run.json"), "{}"); }), {"one of this run's inputs"});
    EXPECT_EQ(read_file(dir.file("run.json")), cfg_bytes);

    for (const std::string& out : {dir.file("m.bin"), dir.file("alias.bin")}) {
        CommandResult r = run_bench_within(60, "quantize '" + dir.file("m.bin") + "' '" + out + "'");
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_NE(r.err.find("one of this run's inputs"), std::string::npos) << r.err;
        EXPECT_EQ(read_file(dir.file("m.bin")), model_bytes);
    }
    EXPECT_TRUE(no_temporaries(dir.path));
}

// The output folder of bench run: a dangling link, a link to a device, a file on the way.
// One line with the OS reason (never "Success"), nothing deleted, nothing created.
TEST(HardeningOutputs, RunOutputFolderThatCannotBeUsed) {
    TempDir dir;
    write_synthetic_model(parse_shape(kTinyShape), dir.file("tiny.bin"), 1);
    write_file(dir.file("run.json"), R"({"name": "h", "models": [{"name": "tiny", "path": "tiny.bin"}],
        "backends": ["cpu-ref"], "threads": [1], "prompt_tokens": [2], "generate_tokens": 2,
        "warmup": 0, "repetitions": 1, "correctness_steps": 2})");
    fs::create_symlink(dir.file("nowhere"), dir.file("dangling"));
    fs::create_symlink("/dev/null", dir.file("to-null"));
    write_file(dir.file("plain"), "x");
    for (const std::string& out : {dir.file("dangling"), dir.file("dangling/sub"), dir.file("to-null"), dir.file("plain"),
                                   dir.file("plain/sub/deeper")}) {
        SCOPED_TRACE(out);
        const auto before = test::read_file(dir.file("plain"));
        CommandResult r = run_bench_within(60, "run '" + dir.file("run.json") + "' --out '" + out + "' --quiet --no-report");
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_EQ(r.err.find("Success"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("output folder"), std::string::npos) << r.err;
        EXPECT_TRUE(fs::is_symlink(dir.file("dangling")));
        EXPECT_TRUE(fs::is_symlink(dir.file("to-null")));
        EXPECT_FALSE(fs::exists(fs::symlink_status(dir.file("nowhere"))));
        EXPECT_EQ(read_file(dir.file("plain")), before);
    }
}

// Size and free space are checked before the first byte; an absurd shape writes nothing.
TEST(HardeningOutputs, SynthOfAnAbsurdShapeIsRefusedBeforeWriting) {
    TempDir dir;
    for (const char* shape : {"dim=65536,hidden=262144,layers=4096,heads=64,kv_heads=64,vocab=32000,seq=2048",
                              "dim=8192,hidden=28672,layers=80,heads=64,kv_heads=8,vocab=128256,seq=4096"}) {
        const std::string out = dir.file("huge.bin");
        const auto t0 = std::chrono::steady_clock::now();
        CommandResult r = run_bench_within(30, std::string("synth --shape ") + shape + " -o '" + out + "'");
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_NE(r.err.find(out), std::string::npos) << r.err;
        EXPECT_TRUE(r.err.find("expected at most") != std::string::npos || r.err.find("bytes free") != std::string::npos)
            << r.err;
        EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
        EXPECT_TRUE(fs::is_empty(dir.path));
    }
}

// SIGINT, SIGTERM or SIGHUP part-way through a write: the temporary is removed, a previous
// file stays as it was, the process dies of the signal.
TEST(HardeningOutputs, SignalDuringSynthLeavesNoTemporary) {
    TempDir dir;
    const std::string out = dir.file("m.bin");
    write_file(out, "previous");
    // ~100 MB: long enough to be caught mid-write.
    const std::string shape = "dim=1024,hidden=2816,layers=8,heads=16,kv_heads=16,vocab=4096,seq=256";
    int caught = 0;
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::signal(sig, SIG_DFL);
            ::execl(LHB_BENCH_EXE, "bench", "synth", "--shape", shape.c_str(), "-o", out.c_str(), (char*)nullptr);
            ::_exit(127);
        }
        // Wait for the temporary to appear, then signal.
        bool seen = false;
        for (int i = 0; i < 2000 && !seen; ++i) {
            seen = !no_temporaries(dir.path);
            if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        ::kill(pid, sig);
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (seen && WIFSIGNALED(status)) {
            ++caught;
            EXPECT_EQ(WTERMSIG(status), sig);
        }
        EXPECT_TRUE(no_temporaries(dir.path)) << "signal " << sig;
        if (WIFSIGNALED(status)) {
            EXPECT_EQ(read_file(out), "previous");
        }
    }
    if (caught == 0) GTEST_SKIP() << "synth always finished before the signal: nothing interrupted";
}

// Every catchable signal that ends a process by default, at different moments of a `bench
// synth` or `bench quantize` write (at once, as the temporary appears, half-way through it):
// no temporary survives, a previous file stays as it was unless the write completed.
TEST(HardeningOutputs, SignalsAtEveryMomentOfSynthAndQuantizeLeaveNoTemporary) {
    TempDir dir;
    const std::string shape = "dim=1024,hidden=2816,layers=8,heads=16,kv_heads=16,vocab=4096,seq=256";
    const ModelConfig c = parse_shape(shape);
    write_synthetic_model(c, dir.file("in.bin"), 1);  // the quantizer's input
    const std::string out = dir.file("out/m.bin");
    fs::create_directory(dir.file("out"));
    struct Job {
        std::vector<std::string> args;
        uint64_t bytes;  // the output's size
    };
    const std::vector<Job> jobs = {{{"synth", "--shape", shape, "-o", out}, uint64_t(fs::file_size(dir.file("in.bin")))},
                                   {{"quantize", dir.file("in.bin"), out}, 0}};
    int caught_mid_write = 0;
    for (const Job& job : jobs) {
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGUSR1, SIGALRM, SIGXCPU}) {
            for (int moment = 0; moment < 3; ++moment) {  // 0: at once, 1: temporary seen, 2: half written
                SCOPED_TRACE(job.args[0] + " " + strsignal(sig) + " moment " + std::to_string(moment));
                write_file(out, "previous");
                const pid_t pid = ::fork();
                ASSERT_GE(pid, 0);
                if (pid == 0) {
                    ::signal(sig, SIG_DFL);
                    std::vector<std::string> copy = job.args;
                    std::vector<char*> argv = {const_cast<char*>("bench")};
                    for (auto& a : copy) argv.push_back(a.data());
                    argv.push_back(nullptr);
                    ::execv(LHB_BENCH_EXE, argv.data());
                    ::_exit(127);
                }
                bool mid_write = false;
                for (int i = 0; moment > 0 && i < 5000 && !mid_write; ++i) {
                    for (const auto& e : fs::directory_iterator(dir.file("out"))) {
                        if (e.path().filename().string().find(".tmp.") == std::string::npos) continue;
                        std::error_code ec;
                        const uint64_t size = fs::file_size(e.path(), ec);
                        mid_write = !ec && (moment == 1 || size > job.bytes / 2 || (!job.bytes && size > (8u << 20)));
                    }
                    if (!mid_write) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }
                ::kill(pid, sig);
                int status = 0;
                ::waitpid(pid, &status, 0);
                EXPECT_TRUE(no_temporaries(dir.file("out")));
                if (WIFSIGNALED(status)) {
                    EXPECT_EQ(WTERMSIG(status), sig);
                    EXPECT_EQ(read_file(out), "previous");
                    caught_mid_write += mid_write;
                } else {
                    EXPECT_EQ(WEXITSTATUS(status), 0);  // finished before the signal
                }
            }
        }
    }
    EXPECT_GT(caught_mid_write, 0) << "no write was ever interrupted: the test proves nothing";
}

// tools/report.py writes index.html and PNGs the same way: a link, FIFO or directory at an
// output is refused and left as it was; the results file it reads is never an output; a
// special or deep results file is refused with one line.
TEST(HardeningOutputs, ReportScriptNeverClobbers) {
    TempDir dir;
    const std::string results = dir.file("results.json");
    write_file(results, R"({"schema": "llama-hls-bench/results", "schema_version": 1, "rows": []})");
    auto report = [&](const std::string& input, const std::string& out) {
        TempDir tmp;
        const std::string cmd = "timeout -s KILL 60 /usr/bin/python3 '" + test::source_dir() + "/tools/report.py' '" +
                                input + "' --out '" + out + "' >/dev/null 2>'" + tmp.file("err") + "'";
        const int status = std::system(cmd.c_str());
        return std::pair{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), read_file(tmp.file("err"))};
    };
    write_file(dir.file("precious"), "precious");
    const std::vector<std::function<void(const std::string&)>> plant = {
        [&](const std::string& p) { fs::create_symlink(dir.file("precious"), p); },
        [&](const std::string& p) { ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0); },
        [&](const std::string& p) { fs::create_directory(p); },
        [&](const std::string& p) { fs::create_symlink(dir.file("nowhere"), p); },
    };
    int n = 0;
    for (const auto& make : plant) {
        const std::string out = dir.file("out" + std::to_string(n++));
        fs::create_directory(out);
        make(out + "/index.html");
        const Snapshot before = snapshot(out + "/index.html");
        const auto [code, err] = report(results, out);
        EXPECT_NE(code, 0) << err;
        EXPECT_NE(err.find("cannot write"), std::string::npos) << err;
        expect_untouched(out + "/index.html", before);
        EXPECT_EQ(read_file(dir.file("precious")), "precious");
        EXPECT_TRUE(no_temporaries(out));
    }
    // The results file as its own output (index.html a hard link to it).
    const std::string out = dir.file("same");
    fs::create_directory(out);
    ASSERT_EQ(::link(results.c_str(), (out + "/index.html").c_str()), 0);
    const std::string before = read_file(results);
    auto [code, err] = report(results, out);
    EXPECT_NE(err.find("one of this run's inputs"), std::string::npos) << err;
    EXPECT_EQ(read_file(results), before);
    // Special and deep inputs.
    const std::string fifo = dir.file("fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    write_file(dir.file("deep.json"), R"({"schema": "llama-hls-bench/results", "rows": )" + std::string(100000, '[') + "}");
    write_file(dir.file("dup.json"), R"({"schema": "llama-hls-bench/results", "schema": "x", "rows": []})");
    for (const auto& [input, needle] : {std::pair{fifo, std::string("found a FIFO")}, {std::string("/dev/zero"), "found a character device"},
                                        {dir.path, "found a directory"}, {dir.file("deep.json"), "nested deeper than 64"},
                                        {dir.file("dup.json"), "duplicate key"}}) {
        std::tie(code, err) = report(input, dir.file("out-x"));
        EXPECT_EQ(code, 2) << input << ": " << err;
        EXPECT_NE(err.find(needle), std::string::npos) << err;
        EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    }
}

// Thread counts a backend cannot have: refused by our own message before any thread is
// made, through the registry every command creates backends with, whatever the limit is
// (the project's cap, or a process limit set with ulimit -u).
TEST(HardeningResources, ThreadCountsBeyondWhatTheMachineAllows) {
    TempDir dir;
    write_synthetic_model(parse_shape(kTinyShape), dir.file("m.bin"), 1);
    EXPECT_LE(max_thread_count(), kMaxThreads);
    for (int t : {-1, kMaxThreads + 1, 100000, std::numeric_limits<int>::max()})
        expect_has(error_of([&] {
                       BackendOptions o;
                       o.threads = t;
                       BackendRegistry::create("openmp", o);
                   }),
                   {"backend 'openmp': threads: expected 0 (the default) to", "found " + std::to_string(t)});
    BackendOptions two;
    two.threads = 2;
    EXPECT_NO_THROW(BackendRegistry::create("openmp", two));
    for (const std::string& prefix : {std::string(), std::string("prlimit --nproc=64 ")}) {
        const CommandResult r = test::run_bench_after("timeout -s KILL 60 " + prefix, "generate '" + dir.file("m.bin") +
                                                                                       "' --backend openmp --threads 5000 -n 2 -t 0");
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_NE(r.err.find(prefix.empty() ? "to 1024" : "to 64"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("found 5000"), std::string::npos) << r.err;
    }
    // A run's config is checked against the same limit before anything runs: top-level and
    // per-backend thread lists, a number or a list, wherever the count is.
    for (const auto& [threads, backends, pointer] :
         {std::tuple{"[2, 100]", "[\"cpu-ref\"]", "/threads/1"}, {"100", "[\"cpu-ref\"]", "/threads"},
          {"[1]", "[\"cpu-ref\", {\"name\": \"openmp\", \"threads\": [65]}]", "/backends/1/threads/0"}}) {
        SCOPED_TRACE(pointer);
        write_file(dir.file("run.json"), std::string(R"({"name": "t", "models": [{"name": "m", "path": "m.bin"}], "backends": )") +
                                             backends + R"(, "threads": )" + threads +
                                             R"(, "prompt_tokens": [2], "generate_tokens": 2, "out": "out"})");
        const CommandResult r =
            test::run_bench_after("timeout -s KILL 60 prlimit --nproc=64 ", "run '" + dir.file("run.json") + "' --no-report --quiet");
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_NE(r.err.find(dir.file("run.json") + ": " + pointer + ": expected at most 64 threads (what this machine"),
                  std::string::npos)
            << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_FALSE(fs::exists(dir.file("out")));
    }
}

// ---- JSON: depth, size, duplicate keys -------------------------------------------------------------

std::string nested(int depth, const std::string& open, const std::string& close, const std::string& inner = "1") {
    std::string s;
    for (int i = 0; i < depth; ++i) s += open;
    s += inner;
    for (int i = 0; i < depth; ++i) s += close;
    return s;
}

TEST(HardeningJson, DepthIsLimitedWhereverTheNestingIs) {
    const std::string ok = nested(64, "[", "]");
    scan_json(ok, "t.json");
    const std::vector<std::string> deep = {
        nested(65, "[", "]"),
        nested(100000, "[", "]"),
        nested(100000, "{\"a\":", "}"),
        R"({"name": "x", "models": )" + nested(100000, "[", "]") + "}",
        R"({"rows": [{"id": "a"}, {"id": )" + nested(50000, "[{\"k\":", "}]") + "}]}",
        "[1, 2, " + nested(70, "[", "]") + ", 3]",
        nested(100000, "[", ""),  // unterminated as well
    };
    for (const std::string& text : deep) {
        SCOPED_TRACE(text.substr(0, 40));
        expect_has(error_of([&] { scan_json(text, "t.json"); }), {"t.json:1:", "nested deeper than 64 levels"});
    }
    // Brackets inside strings are text, not nesting; nor are escaped quotes ends of strings.
    scan_json("[\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"]", "t.json");
    // The size limit.
    expect_has(error_of([&] { scan_json("[1,2,3,4,5]", "t.json", {64, 10}); }), {"t.json", "at most 10 bytes"});
}

TEST(HardeningJson, DuplicateKeysAreRefusedInAnyObject) {
    for (const std::string& text : {std::string(R"({"name": "a", "name": "b"})"),
                                    std::string(R"({"models": [{"name": "m", "path": "p", "path": "q"}]})"),
                                    std::string(R"({"a": {"b": {"c": 1, "c": 2}}})"),
                                    std::string(R"({"name": "a", "n\u0061me": "b"})"),
                                    std::string("{\"x\": 1,\n  \"x\": 2}")}) {
        SCOPED_TRACE(text);
        expect_has(error_of([&] { scan_json(text, "c.json"); }), {"c.json:", "duplicate key"});
    }
    // The same key in sibling objects, or a value equal to a key, is fine.
    scan_json(R"({"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 3}, {"x": 4}], "d": "a"})", "c.json");
    const std::string msg = error_of([] { scan_json("{\"x\": 1,\n  \"x\": 2}", "c.json"); });
    EXPECT_NE(msg.find("c.json:2:3:"), std::string::npos) << msg;
}

// A 100,000-deep document through every JSON reader and the commands that read results:
// one line, exit 1, no stack overflow.
TEST(HardeningJson, DeepDocumentsThroughEveryReaderAndCommand) {
    TempDir dir;
    write_file(dir.file("cfg.json"), R"({"name": "x", "models": )" + nested(100000, "[", "]") + "}");
    write_file(dir.file("results.json"), R"({"schema": "llama-hls-bench/results", "schema_version": 1, "rows": )" +
                                             nested(100000, "[", "]") + "}");
    write_file(dir.file("board.json"), nested(100000, "{\"schema\":", "}"));
    write_file(dir.file("design.json"), R"({"schema": "lhb-design/1", "name": )" + nested(100000, "[", "]") + "}");
    write_file(dir.file("dup.json"), R"({"name": "x", "name": "y", "models": []})");
    expect_has(error_of([&] { bench::load_config(dir.file("cfg.json")); }), {dir.file("cfg.json"), "nested deeper"});
    expect_has(error_of([&] { bench::load_results(dir.file("results.json")); }), {"nested deeper"});
    expect_has(error_of([&] { hls::load_board(dir.file("board.json")); }), {"nested deeper"});
    expect_has(error_of([&] { hls::load_design(dir.file("design.json")); }), {"nested deeper"});
    expect_has(error_of([&] { bench::load_config(dir.file("dup.json")); }), {dir.file("dup.json"), "duplicate key \"name\""});
    for (const std::string& args : {"run '" + dir.file("cfg.json") + "' --quiet --no-report",
                                    "report '" + dir.file("results.json") + "'",
                                    "compare '" + dir.file("results.json") + "' '" + dir.file("results.json") + "'",
                                    "estimate --board '" + dir.file("board.json") + "'",
                                    "run '" + dir.file("dup.json") + "' --quiet --no-report"}) {
        SCOPED_TRACE(args);
        CommandResult r = run_bench_within(60, args);
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
        EXPECT_TRUE(r.err.find("nested deeper") != std::string::npos || r.err.find("duplicate key") != std::string::npos)
            << r.err;
    }
}

// ---- GGUF metadata: depth, size, short messages ---------------------------------------------

// The reader's one-line message for a GGUF file of these bytes ("" if it opens).
std::string gguf_error(const std::string& bytes) {
    try {
        GgufFile f("h.gguf", reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
        (void)read_llama(f);
        return "";
    } catch (const InputError& e) {
        return e.what();
    }
}

// Every metadata value, wherever it is in the file: arrays nest at most 2 deep (checked
// before descending, so no recursion the file controls), keys, strings and counts have
// stated maxima, and no message repeats more than 64 bytes of a value or a key (escaped).
TEST(HardeningGguf, EveryMetadataValueIsBoundedWhereverItIs) {
    const std::string leaf = GgufWriter::encode_u32(uint32_t(GgufType::UINT8)) + GgufWriter::encode_u64(0);
    const std::string arrays_of = GgufWriter::encode_u32(uint32_t(GgufType::ARRAY)) + GgufWriter::encode_u64(1);
    const std::string three_deep = arrays_of + arrays_of + leaf;
    // The deep value first, between ordinary ones, last, and as the second inner array.
    const std::string second_inner = GgufWriter::encode_u32(uint32_t(GgufType::ARRAY)) + GgufWriter::encode_u64(2) +
                                     leaf + arrays_of + leaf;
    for (int position = 0; position < 4; ++position) {
        SCOPED_TRACE("position " + std::to_string(position));
        GgufWriter w;
        if (position == 0) w.add_raw("deep", GgufType::ARRAY, three_deep);
        w.add_string("general.architecture", "llama");
        if (position == 1) w.add_raw("deep", GgufType::ARRAY, three_deep);
        w.add_u32("llama.block_count", 1);
        if (position == 2) w.add_raw("deep", GgufType::ARRAY, three_deep);
        if (position == 3) w.add_raw("deep", GgufType::ARRAY, second_inner);
        expect_has(gguf_error(w.bytes()), {"h.gguf", "('deep')", "arrays nested at most 2 deep"});
    }
    // Sizes: a key over the spec's 65535 bytes, a string over 16 MiB, counts over their
    // maxima, each refused by its length field before anything is allocated.
    const std::string long_key(GgufLimits::kMaxKeyBytes + 1, 'k');
    GgufWriter k;
    k.add_u32(long_key, 1);
    expect_has(gguf_error(k.bytes()), {"key", "expected a length of at most 65535 bytes"});
    GgufWriter str;
    str.add_raw("s", GgufType::STRING, GgufWriter::encode_u64(GgufLimits::kMaxStringBytes + 1));
    expect_has(gguf_error(str.bytes()), {"('s') string", "at most 16777216 bytes"});
    GgufWriter arr;
    arr.add_raw("a", GgufType::ARRAY,
                GgufWriter::encode_u32(uint32_t(GgufType::UINT8)) + GgufWriter::encode_u64(GgufLimits::kMaxArrayElements + 1));
    expect_has(gguf_error(arr.bytes()), {"('a') array count", "expected at most 16777216"});
    // Messages: a 60,000-byte key with control bytes, and a 1 MB value where a short one
    // belongs, are quoted by their first 64 bytes, escaped.
    std::string odd_key(60000, 'x');
    odd_key[3] = '\n';
    GgufWriter bad_type;
    bad_type.add_raw(odd_key, GgufType(13), "");
    GgufWriter big_value;
    big_value.add_string("general.architecture", std::string(1 << 20, 'g') + "\x01");
    big_value.add_u32("llama.block_count", 1);
    for (const std::string& bytes : {bad_type.bytes(), big_value.bytes()}) {
        const std::string msg = gguf_error(bytes);
        ASSERT_FALSE(msg.empty());
        EXPECT_LT(msg.size(), 400u) << msg.substr(0, 400);
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg.substr(0, 400);
        EXPECT_NE(msg.find("...'"), std::string::npos) << msg;
    }
    EXPECT_NE(gguf_error(bad_type.bytes()).find("xxx\\x0a"), std::string::npos) << gguf_error(bad_type.bytes());
}

// ---- non-finite weights ------------------------------------------------------------------------

// Float offset (in a v0 file's payload, after the 28-byte header) of the named tensor.
int64_t v0_offset(const ModelConfig& c, const std::string& tensor, int layer) {
    const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), L = c.n_layers, V = c.vocab_size;
    const std::vector<std::pair<std::string, int64_t>> blocks = {
        {"token_embedding", V * d}, {"rms_att", d},   {"wq", d * d}, {"wk", kv * d}, {"wv", kv * d},
        {"wo", d * d},              {"rms_ffn", d},   {"w1", h * d}, {"w2", d * h},  {"w3", h * d},
        {"rms_final", d}};
    int64_t off = 0;
    for (const auto& [name, per_layer] : blocks) {
        const bool layered = name != "token_embedding" && name != "rms_final";
        if (name == tensor) return off + (layered ? layer * per_layer : 0);
        off += layered ? L * per_layer : per_layer;
    }
    return -1;
}

std::string corrupt_model(const TempDir& dir, const std::string& tensor, int layer, int64_t element, float value) {
    const ModelConfig c = parse_shape(kTinyShape);
    const std::string clean = dir.file("clean.bin");
    if (!fs::exists(clean)) write_synthetic_model(c, clean, 3);
    std::string bytes = read_file(clean);
    std::memcpy(bytes.data() + 28 + 4 * (v0_offset(c, tensor, layer) + element), &value, 4);
    const std::string path = dir.file(tensor + std::to_string(layer) + "-" + std::to_string(element) + ".bin");
    write_file(path, bytes);
    return path;
}

TEST(HardeningNonFinite, NonFiniteWeightsAreNamedAtLoad) {
    TempDir dir;
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    struct Case {
        const char* tensor;
        int layer;
        int64_t element;
        float value;
        std::string named, found;
    };
    for (const Case& k : {Case{"token_embedding", 0, 37, nan, "token_embedding", "NaN at element 37"},
                          Case{"wq", 1, 5, inf, "layer 1 wq", "+Inf at element 5"},
                          Case{"rms_att", 0, 0, -inf, "layer 0 rms_att", "-Inf at element 0"},
                          Case{"w2", 1, 100, nan, "layer 1 w2", "NaN at element 100"},
                          Case{"rms_final", 0, 7, nan, "rms_final", "NaN at element 7"}}) {
        SCOPED_TRACE(k.named);
        const std::string path = corrupt_model(dir, k.tensor, k.layer, k.element, k.value);
        expect_has(error_of([&] { Model::open(path); }), {path, k.named, "expected finite weights", k.found});
        Model allowed = Model::open(path, NonFiniteWeights::Allow);  // for tools that study it
        EXPECT_EQ(first_non_finite_weight(allowed.weights(), allowed.config()).tensor, k.named);
    }
    // Q8_0: the scales are what can be non-finite.
    Model fp32 = Model::open(corrupt_model(dir, "w3", 0, 12, nan), NonFiniteWeights::Allow);
    write_q8_model(fp32, dir.file("q8.bin"), 4);
    expect_has(error_of([&] { Model::open(dir.file("q8.bin")); }), {"layer 0 w3 scales", "NaN at element 3"});
    // A healthy file loads.
    EXPECT_TRUE(first_non_finite_weight(Model::open(dir.file("clean.bin")).weights(), parse_shape(kTinyShape)).tensor.empty());
}

// Through the commands: generate does not sample it, run does not rank it (every backend
// loads through Model::open, the reference included), quantize does not copy it.
TEST(HardeningNonFinite, CommandsRefuseANonFiniteModel) {
    TempDir dir;
    const std::string bad = corrupt_model(dir, "wv", 1, 3, std::numeric_limits<float>::quiet_NaN());
    write_file(dir.file("run.json"), R"({"name": "nan", "models": [{"name": "bad", "path": ")" + bad + R"("}],
        "backends": ["cpu-ref", "openmp"], "threads": [1], "prompt_tokens": [2], "generate_tokens": 2,
        "warmup": 0, "repetitions": 1, "correctness_steps": 2})");
    for (const std::string& args : {"generate '" + bad + "' -n 4 -t 0",
                                    "run '" + dir.file("run.json") + "' --out '" + dir.file("out") + "' --quiet --no-report",
                                    "quantize '" + bad + "' '" + dir.file("q.bin") + "'"}) {
        SCOPED_TRACE(args);
        CommandResult r = run_bench_within(120, args);
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_NE(r.err.find("layer 1 wv"), std::string::npos) << r.err;
        EXPECT_EQ(r.out.find("pass"), std::string::npos) << r.out;
    }
    EXPECT_FALSE(fs::exists(dir.file("out/results.json")));
    EXPECT_FALSE(fs::exists(dir.file("q.bin")));
}

// Finite weights whose arithmetic overflows: the file loads, but no row of a sweep is
// ranked, the reference's included (it is checked for finite logits through the tracer),
// and the reason names where the first Inf/NaN appears.
TEST(HardeningNonFinite, AnOverflowingModelIsNeverRanked) {
    TempDir dir;
    const ModelConfig c = parse_shape(kTinyShape);
    write_synthetic_model(c, dir.file("clean.bin"), 3);
    std::string bytes = read_file(dir.file("clean.bin"));
    const float huge = 3e38f;
    for (int i = 0; i < c.dim; ++i) std::memcpy(bytes.data() + 28 + 4 * (v0_offset(c, "rms_final", 0) + i), &huge, 4);
    write_file(dir.file("overflow.bin"), bytes);
    Model m = Model::open(dir.file("overflow.bin"));  // finite: it loads
    write_file(dir.file("run.json"), R"({"name": "overflow", "models": [{"name": "o", "path": "overflow.bin"}],
        "backends": ["cpu-ref", "openmp"], "threads": [1], "prompt_tokens": [2], "generate_tokens": 2,
        "warmup": 0, "repetitions": 1, "correctness_steps": 2})");
    CommandResult r = run_bench_within(120, "run '" + dir.file("run.json") + "' --out '" + dir.file("out") + "' --quiet --no-report");
    ASSERT_TRUE(fs::exists(dir.file("out/results.json"))) << r.err;
    const nlohmann::json results = nlohmann::json::parse(read_file(dir.file("out/results.json")));
    int rows = 0;
    for (const auto& row : results["rows"]) {
        if (row["kind"] != "measured") continue;
        ++rows;
        EXPECT_EQ(row["status"], "failed") << row.dump();
        EXPECT_EQ(row["ranked"], false) << row.dump();
        EXPECT_EQ(row["correctness"]["status"], "fail") << row.dump();
        EXPECT_NE(row["correctness"]["summary"].get<std::string>().find("non-finite"), std::string::npos) << row.dump();
    }
    EXPECT_EQ(rows, 2);
}

// ---- board and design files ---------------------------------------------------------------------

nlohmann::json repo_json(const std::string& rel) {
    return nlohmann::json::parse(read_file(test::source_dir() + "/" + rel));
}

TEST(HardeningSpecs, UnknownKeysAreRefusedWithTheNearestName) {
    const nlohmann::json board = repo_json("configs/boards/zcu106.json");
    struct Case {
        std::function<void(nlohmann::json&)> edit;
        std::string field, near;
    };
    for (const Case& k : {Case{[](auto& j) { j["kernel_clok_mhz"] = j["kernel_clock_mhz"]; }, "kernel_clok_mhz", "kernel_clock_mhz"},
                          Case{[](auto& j) { j["axi"]["hp_port"] = j["axi"]["hp_ports"]; }, "axi.hp_port", "hp_ports"},
                          Case{[](auto& j) { j["ddr"]["efficiency"]["sorce"] = "x"; }, "ddr.efficiency.sorce", "source"},
                          Case{[](auto& j) { j["operators"]["fadd"]["latncy"] = 1; }, "operators.fadd.latncy", "latency"},
                          Case{[](auto& j) { j["operators"]["fmac"] = j["operators"]["fadd"]; }, "operators.fmac", "fmul"}}) {
        nlohmann::json j = board;
        k.edit(j);
        expect_has(error_of([&] { hls::parse_board(j, "b.json"); }), {"b.json: " + k.field + ":", "\"" + k.near + "\"", "unknown key"});
    }
    const nlohmann::json design = repo_json("configs/designs/llama-hls.json");
    for (const auto& [key, near] : {std::pair{"lane", "lanes"}, {"port_bit", "port_bits"}, {"clock_mz", "clock_mhz"}}) {
        nlohmann::json j = design;
        j[key] = 4;
        expect_has(error_of([&] { hls::parse_design(j, "d.json"); }), {"d.json: " + std::string(key) + ":", near});
    }
    nlohmann::json j = design;
    j["lanes"] = {{"value", 4}, {"sourse", "x"}};
    expect_has(error_of([&] { hls::parse_design(j, "d.json"); }), {"lanes.sourse", "\"source\""});
}

TEST(HardeningSpecs, ValuesNoHardwareHasAreRefused) {
    const nlohmann::json design = repo_json("configs/designs/llama-hls.json");
    for (int bits : {96, 160, 192, 384, 640, 48}) {
        nlohmann::json j = design;
        j["port_bits"] = bits;
        expect_has(error_of([&] { hls::parse_design(j, "d.json"); }), {"port_bits", std::to_string(bits)});
    }
    for (int bits : {32, 64, 128, 256, 512, 1024}) {
        nlohmann::json j = design;
        j["port_bits"] = bits;
        EXPECT_NO_THROW(hls::parse_design(j, "d.json")) << bits;
    }
    nlohmann::json b = repo_json("configs/boards/zcu106.json");
    b["axi"]["port_max_bits"]["value"] = 96;
    expect_has(error_of([&] { hls::parse_board(b, "b.json"); }), {"axi.port_max_bits", "power of two", "96"});
}

TEST(HardeningSpecs, TinyAndHugeNumbersReadAsThemselves) {
    nlohmann::json b = repo_json("configs/boards/zcu106.json");
    b["ddr"]["efficiency"]["value"] = 1e-300;
    expect_has(error_of([&] { hls::parse_board(b, "b.json"); }), {"ddr.efficiency", "found 1e-300", "[0.01, 1]"});
    b["ddr"]["efficiency"]["value"] = 1e300;
    expect_has(error_of([&] { hls::parse_board(b, "b.json"); }), {"found 1e+300"});
}

}  // namespace
}  // namespace lhb
