// Faults around files: an output folder that cannot be written, a disk that fills up in the
// middle of a write, a checkpoint shorter than its header says. Each must end in one clear
// line on stderr, exit status 1, and no half-written file under the final name (nor a
// leftover temporary). SIGINT during a sweep is covered by test_run_signals.cpp; non-finite
// logits by test_nonfinite.cpp.
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "core/quantize.hpp"
#include "core/synth.hpp"
#include "tests/test_support.hpp"

namespace lhb::test {
namespace {

namespace fs = std::filesystem;

const char* kTinyShape = "dim=8,hidden=12,layers=1,heads=2,kv_heads=1,vocab=16,seq=4";

std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    return names;
}

// stderr is exactly one line, "error: ...", mentioning every needle.
void expect_one_line_error(const CommandResult& r, const std::vector<std::string>& needles) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line expected:\n" << r.err;
    for (const auto& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << "missing '" << n << "' in: " << r.err;
}

// run_bench with a file-size limit of `kib` KiB; SIGXFSZ is ignored so that the write fails
// with EFBIG instead of killing the process.
CommandResult run_bench_limited(int kib, const std::string& args) {
    return test::run_bench_after("ulimit -f " + std::to_string(kib * 2) + " && trap '' XFSZ && exec ", args);
}

// A tmpfs mounted on `dir` for the lifetime of the object, when this process may mount.
struct Tmpfs {
    Tmpfs(const std::string& dir, const char* options, unsigned long flags = 0) : dir(dir) {
        if (::mount("tmpfs", dir.c_str(), "tmpfs", flags, options) == 0) mounted = true;
        else why = std::string("cannot mount a tmpfs here (") + std::strerror(errno) + "; needs root/CAP_SYS_ADMIN)";
    }
    ~Tmpfs() {
        if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
    }
    std::string dir;
    bool mounted = false;
    std::string why;
};

TEST(Faults, OutputFolderDoesNotExist) {
    TempDir dir;
    const std::string out = dir.file("no/such/folder/m.bin");
    CommandResult r = run_bench(std::string("synth --shape ") + kTinyShape + " -o '" + out + "'");
    expect_one_line_error(r, {out, "cannot write", "No such file or directory"});
    EXPECT_TRUE(files_in(dir.path).empty());
}

TEST(Faults, OutputFolderIsAFile) {
    TempDir dir;
    write_file(dir.file("plain"), "x");
    const std::string out = dir.file("plain/m.bin");
    CommandResult r = run_bench(std::string("synth --shape ") + kTinyShape + " -o '" + out + "'");
    expect_one_line_error(r, {out, "Not a directory"});
    EXPECT_EQ(files_in(dir.path), std::vector<std::string>{"plain"});
}

TEST(Faults, OutputFolderIsReadOnly) {
    TempDir dir;
    const std::string ro = dir.file("ro");
    fs::create_directory(ro);
    Tmpfs mount(ro, "size=64k", MS_RDONLY);
    if (!mount.mounted) {
        if (::geteuid() == 0) GTEST_SKIP() << "root ignores folder permissions and " << mount.why;
        ::chmod(ro.c_str(), 0555);  // enough for an ordinary user
    }
    const std::string out = ro + "/m.bin";
    CommandResult r = run_bench(std::string("synth --shape ") + kTinyShape + " -o '" + out + "'");
    expect_one_line_error(r, {out, "cannot write", mount.mounted ? "Read-only file system" : "Permission denied"});
    EXPECT_TRUE(files_in(ro).empty());
    ::chmod(ro.c_str(), 0755);
}

// A 64 KiB tmpfs and a ~1 MB checkpoint: the disk fills mid-write. The error names the file
// and the cause, the temporary is removed, and a previous file of the same name survives.
TEST(Faults, DiskFillsMidWrite) {
    TempDir dir;
    const std::string small = dir.file("small");
    fs::create_directory(small);
    Tmpfs mount(small, "size=64k");
    if (!mount.mounted) GTEST_SKIP() << mount.why << "; Faults.FileSizeLimitMidWrite covers the same path";

    const std::string out = small + "/m.bin";
    write_synthetic_model(parse_shape(kTinyShape), out, 1);  // the previous, complete file
    const std::string before = read_file(out);
    CommandResult r = run_bench("synth --shape stories260K -o '" + out + "'");
    expect_one_line_error(r, {out, "write failed", "No space left on device"});
    EXPECT_EQ(files_in(small), std::vector<std::string>{"m.bin"});  // no temporary left
    EXPECT_EQ(read_file(out), before) << "the previous file was replaced or damaged";
    Model::open(out);  // still a valid checkpoint
}

// The same failure without root: a file-size limit (ulimit -f, SIGXFSZ ignored) makes the
// write fail with EFBIG part-way through.
TEST(Faults, FileSizeLimitMidWrite) {
    TempDir dir;
    const std::string out = dir.file("m.bin");
    CommandResult r = run_bench_limited(64, "synth --shape stories260K -o '" + out + "'");
    expect_one_line_error(r, {out, "write failed", "File too large"});
    EXPECT_TRUE(files_in(dir.path).empty()) << "partial or temporary file left behind";
}

// --- bench run: its results folder ------------------------------------------------------

// A seconds-long sweep of a tiny model written beforehand to `dir` (so nothing but results
// goes to the output folder).
std::string tiny_run_config(const TempDir& dir) {
    write_synthetic_model(parse_shape(kTinyShape), dir.file("tiny.bin"), 1);
    const std::string cfg = dir.file("run.json");
    write_file(cfg, R"({"name": "faults", "models": [{"name": "tiny", "path": ")" + dir.file("tiny.bin") +
                        R"("}], "backends": ["cpu-ref"], "threads": [1], "prompt_tokens": [2], "generate_tokens": 2,
                        "warmup": 0, "repetitions": 1, "correctness_steps": 2})");
    return cfg;
}

// Refused before the sweep starts (not after it has run), with one line and exit 1.
TEST(Faults, RunOutputFolderCannotBeCreated) {
    TempDir dir;
    const std::string cfg = tiny_run_config(dir);
    write_file(dir.file("plain"), "x");
    const std::string out = dir.file("plain/out");
    CommandResult r = run_bench("run '" + cfg + "' --out '" + out + "' --quiet --no-report");
    expect_one_line_error(r, {out, "cannot create the output folder", "Not a directory"});
    EXPECT_TRUE(r.out.empty()) << "the sweep ran: " << r.out;
}

TEST(Faults, RunOutputFolderIsReadOnly) {
    TempDir dir;
    const std::string cfg = tiny_run_config(dir);
    const std::string ro = dir.file("ro");
    fs::create_directory(ro);
    Tmpfs mount(ro, "size=64k", MS_RDONLY);
    if (!mount.mounted) GTEST_SKIP() << mount.why;
    CommandResult r = run_bench("run '" + cfg + "' --out '" + ro + "' --quiet --no-report");
    expect_one_line_error(r, {ro + "/results.json", "cannot write", "Read-only file system"});
    EXPECT_TRUE(r.out.empty()) << "the sweep ran: " << r.out;
}

// The disk fills while the results are written: the previous results.json and results.csv
// stay, complete and consistent with each other, and no temporary is left.
TEST(Faults, RunDiskFullKeepsThePreviousResults) {
    TempDir dir;
    const std::string cfg = tiny_run_config(dir);
    const std::string out = dir.file("out");
    fs::create_directory(out);
    Tmpfs mount(out, "size=24k");
    if (!mount.mounted) GTEST_SKIP() << mount.why;
    // The previous results: a small stand-in pair (the tmpfs cannot also hold a new JSON).
    const std::string old_json = R"({"schema": "llama-hls-bench/results", "schema_version": 1, "rows": []})";
    write_file(out + "/results.json", old_json + std::string("\n"));
    write_file(out + "/results.csv", "id\n");
    // Fill the rest (two 4 KiB pages hold the old pair): no byte of a new file fits, only
    // the empty probe file bench run creates before the sweep.
    std::string filler(16 * 1024, 'f');
    write_file(out + "/filler", filler);

    CommandResult r = run_bench("run '" + cfg + "' --out '" + out + "' --quiet --no-report");
    expect_one_line_error(r, {out + "/results.json", "write failed", "No space left on device"});
    EXPECT_EQ(read_file(out + "/results.json"), old_json + "\n");
    EXPECT_EQ(read_file(out + "/results.csv"), "id\n");
    std::vector<std::string> names = files_in(out);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"filler", "results.csv", "results.json"}));
}

// --- a checkpoint shorter than its header says, in every format ------------------------

// export.py --version 1 of a loaded fp32 model.
std::string to_v1(const Model& m) {
    const ModelConfig& c = m.config();
    const ModelWeights& w = m.weights();
    std::string s(256, '\0');
    const int32_t head[9] = {0x616b3432, 1, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len};
    std::memcpy(s.data(), head, sizeof head);
    s[36] = c.shared_classifier ? 1 : 0;
    auto put = [&](const float* p, int64_t n) { s.append(reinterpret_cast<const char*>(p), size_t(n) * 4); };
    for (const auto& L : w.layers) put(L.rms_att, c.dim);
    for (const auto& L : w.layers) put(L.rms_ffn, c.dim);
    put(w.rms_final, c.dim);
    put(w.token_embedding, int64_t(c.vocab_size) * c.dim);
    for (auto field : {&LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::wo, &LayerWeights::w1,
                       &LayerWeights::w2, &LayerWeights::w3})
        for (const auto& L : w.layers) put((L.*field).f32, (L.*field).numel());
    return s;
}

TEST(Faults, CheckpointShorterThanItsHeaderSays) {
    TempDir dir;
    const std::string v0 = dir.file("v0.bin"), v1 = dir.file("v1.bin"), v2 = dir.file("v2.bin");
    write_synthetic_model(parse_shape(kTinyShape), v0, 1);
    {
        Model m = Model::open(v0);
        write_file(v1, to_v1(m));
        write_q8_model(m, v2, 4);
    }
    ASSERT_EQ(Model::open(v1).format(), FileFormat::V1Fp32);
    const struct {
        std::string path;
        const char* header;
    } files[] = {{v0, "v0 (legacy llama2.c)"}, {v1, "version-1"}, {v2, "version-2 (int8)"}};
    for (const auto& f : files) {
        const std::string bytes = read_file(f.path);
        for (size_t cut : {bytes.size() - 1, bytes.size() / 2, size_t(300)}) {
            const std::string path = f.path + ".cut" + std::to_string(cut);
            write_file(path, bytes.substr(0, cut));
            CommandResult r = run_bench("generate '" + path + "' -n 4 -i hello");
            expect_one_line_error(r, {path, "file size", "expected " + std::to_string(bytes.size()) + " bytes",
                                      f.header, "found " + std::to_string(cut) + " bytes"});
            EXPECT_TRUE(r.out.empty()) << r.out;
        }
    }
}

}  // namespace
}  // namespace lhb::test
