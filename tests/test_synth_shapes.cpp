// bench synth: the published shapes (TinyLlama 1.1B, Llama 2 7B, Llama 3.2 1B), the same
// weights in every format and type (v0 unchanged, GGUF F32 = llama.cpp's conversion of the
// v0 file, llama-quantize's blocks, v2 = bench quantize's), and the size refusals that write
// nothing (a 7B model is never written by the suite).
#include <algorithm>
#include <filesystem>
#include <string>

#include "bench/config.hpp"
#include "core/gguf.hpp"
#include "core/model.hpp"
#include "core/model_writer.hpp"
#include "core/quantize.hpp"
#include "core/synth.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

namespace fs = std::filesystem;

std::string gguf_path(const std::string& name) { return test::model_path("gguf/" + name); }
std::string quoted(const std::string& s) { return "'" + s + "'"; }
const char* kSynth256 = "--shape dim=256,hidden=768,layers=2,heads=8,kv_heads=4,vocab=512,seq=256 --seed 7";

TEST(SynthShapes, PublishedShapesHaveTheirConfigs) {
    const ModelConfig t = parse_shape("tinyllama-1.1b");
    EXPECT_EQ(t.dim, 2048);
    EXPECT_EQ(t.hidden_dim, 5632);
    EXPECT_EQ(t.n_layers, 22);
    EXPECT_EQ(t.n_heads, 32);
    EXPECT_EQ(t.n_kv_heads, 4);
    EXPECT_EQ(t.vocab_size, 32000);
    EXPECT_EQ(t.seq_len, 2048);
    EXPECT_FALSE(t.shared_classifier);
    EXPECT_NEAR(double(t.n_params()), 1.1e9, 0.01e9);
    const ModelConfig l = parse_shape("llama2-7b");
    EXPECT_EQ(l.dim, 4096);
    EXPECT_EQ(l.hidden_dim, 11008);
    EXPECT_EQ(l.n_kv_heads, 32);
    EXPECT_EQ(l.seq_len, 4096);
    EXPECT_NEAR(double(l.n_params()), 6.74e9, 0.01e9);
    const ModelConfig m = parse_shape("llama3.2-1b");
    EXPECT_EQ(m.hidden_dim, 8192);
    EXPECT_EQ(m.n_layers, 16);
    EXPECT_EQ(m.n_kv_heads, 8);
    EXPECT_EQ(m.vocab_size, 128256);
    EXPECT_TRUE(m.shared_classifier);
    EXPECT_EQ(m.rope_theta, 500000.0f);
    EXPECT_NEAR(double(m.n_params()), 1.24e9, 0.01e9);
    EXPECT_NE(std::string(shape_names()).find("llama3.2-1b"), std::string::npos);
}

// What the published numbers say: llama2-7b Q4_0 is about 3.8 GB, Q8_0 about 7.2 GB.
TEST(SynthShapes, FileSizesAreKnownBeforeWriting) {
    const ModelConfig c = parse_shape("llama2-7b");
    const GgufVocabulary v = synthetic_vocabulary(c.vocab_size);
    GgufModelFormat f;
    f.matrix_type = GgmlType::Q4_0;
    const uint64_t q4 = gguf_file_size(c, f, v, "x");
    EXPECT_NEAR(double(q4), 3.79e9, 0.02e9);
    f.matrix_type = GgmlType::Q8_0;
    EXPECT_NEAR(double(gguf_file_size(c, f, v, "x")), 7.16e9, 0.02e9);
    // A header of about a megabyte (the vocabulary), then 18 bytes per 32 weights + F32 norms.
    EXPECT_EQ(q4 % 32, 0u);
}

TEST(SynthShapes, DefaultFormatIsTheV0FileBenchSynthAlwaysWrote) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    const test::CommandResult r = test::run_bench(std::string("synth ") + kSynth256 + " -o " + quoted(dir.file("s.bin")));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(test::read_file(dir.file("s.bin")) == test::read_file(gguf_path("synth256.bin")));
}

TEST(SynthShapes, GgufHasTheV0FilesWeightsAndLlamaQuantizesBlocks) {
    LHB_REQUIRE_MODELS();
    test::TempDir dir;
    for (const char* type : {"f32", "q8_0", "q4_0"}) {
        SCOPED_TRACE(type);
        const std::string out = dir.file(std::string(type) + ".gguf");
        const test::CommandResult r = test::run_bench(std::string("synth ") + kSynth256 + " --format gguf --type " + type +
                                                      " -z " + quoted(test::model_path("tok512.bin")) + " -o " + quoted(out));
        ASSERT_EQ(r.exit_code, 0) << r.err;
        // Written directly, the same file as bench convert of the v0 file.
        const test::CommandResult c = test::run_bench("convert " + quoted(gguf_path("synth256.bin")) + " " +
                                                      quoted(dir.file("c.gguf")) + " --type " + type + " -z " +
                                                      quoted(test::model_path("tok512.bin")));
        ASSERT_EQ(c.exit_code, 0) << c.err;
        const GgufFile ours(out), converted(dir.file("c.gguf"));
        const GgufFile theirs(gguf_path("synth256-" + std::string(type) + ".gguf"));
        int compared = 0;
        for (const GgufTensorInfo& t : theirs.tensors()) {
            const GgufTensorInfo* o = ours.find_tensor(t.name == "output.weight" ? "token_embd.weight" : t.name);
            ASSERT_NE(o, nullptr) << t.name;
            const GgufTensorInfo* k = converted.find_tensor(o->name);
            ASSERT_NE(k, nullptr);
            EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(o->data), o->nbytes),
                      std::string_view(reinterpret_cast<const char*>(k->data), k->nbytes));
            if (t.type != o->type) continue;  // llama.cpp's Q6_K classifier of Q4_0
            EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(o->data), o->nbytes),
                      std::string_view(reinterpret_cast<const char*>(t.data), t.nbytes))
                << t.name;
            ++compared;
        }
        EXPECT_GE(compared, 20);
        fs::remove(dir.file("c.gguf"));
    }
}

TEST(SynthShapes, Llama2cQ8_0IsBenchQuantizeOfTheV0File) {
    test::TempDir dir;
    const std::string shape = "--shape dim=64,hidden=96,layers=2,heads=4,kv_heads=2,vocab=300,seq=32 --seed 5";
    ASSERT_EQ(test::run_bench("synth " + shape + " -o " + quoted(dir.file("f.bin"))).exit_code, 0);
    const test::CommandResult r = test::run_bench("synth " + shape + " --type q8_0 -o " + quoted(dir.file("q.bin")));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("llama2.c v2, int8 in groups of 32"), std::string::npos) << r.err;
    write_q8_model(Model::open(dir.file("f.bin")), dir.file("quantized.bin"), 32);
    EXPECT_TRUE(test::read_file(dir.file("q.bin")) == test::read_file(dir.file("quantized.bin")));
}

// A refusal: exit 1, one line naming `needle`, nothing in the folder (no temporary either).
void expect_refused(const std::string& args, const std::string& needle) {
    test::TempDir dir;
    const test::CommandResult r = test::run_bench("synth " + args + " -o " + quoted(dir.file("m")));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(fs::is_empty(dir.path));
}

TEST(SynthShapes, RefusesTooLargeOrUnencodableOutputsWritingNothing) {
    // 3.8 GB of Q4_0 is refused under a 1G limit before the first byte; so is llama2-7b in
    // F32 (27 GB) under the default 16G.
    expect_refused("--shape llama2-7b --format gguf --type q4_0 --max-size 1G", "bytes, expected at most 1073741824 bytes");
    expect_refused("--shape llama2-7b", "expected at most 17179869184 bytes (the size limit, --max-size)");
    expect_refused("--shape stories260K --max-size 100K", "bytes, expected at most 102400 bytes");
    // Types a format has no encoding for, shapes a type cannot hold, constants llama2.c lacks.
    expect_refused("--shape stories15M --type q4_0", "llama2.c files are fp32 (v0) or int8 (v2)");
    expect_refused("--shape stories260K --format gguf --type q8_0", "hidden_dim multiples of its block of 32");
    expect_refused("--shape llama3.2-1b --max-size 64G", "RoPE base: expected 10000");
    // K-quants: rows of 288 hold no 256-element super-block (llama-quantize's fallback for
    // Q4_K is Q5_0, not written here); llama.cpp's "70B" (80 layers, grouped KV heads) raises
    // Q4_K attn_v to Q5_K: layers 0-9 have Q6_K attn_v, so layer 10's is the first refused.
    expect_refused("--shape stories15M --format gguf --type q4_k",
                   "blk.0.attn_q.weight (layer 0 wq): Q4_K: expected rows of a multiple of 256 elements (K-quants need "
                   "256-element super-blocks");
    expect_refused("--shape stories15M --format gguf --type q4_k_m", "writes this tensor Q5_0");
    expect_refused("--shape dim=256,hidden=512,layers=80,heads=4,kv_heads=2,vocab=300,seq=8 --format gguf --type q4_k_m",
                   "blk.10.attn_v.weight (layer 10 wv): Q4_K_M: expected a model llama.cpp does not call 70B");
    expect_refused("--shape stories15M --format gguf --type q5_k", "q4_k_m or q6_k, found 'q5_k'");
    expect_refused("--shape tinyllama-1.1b --format gguf --type q4_k_m --max-size 1K", "bytes, expected at most 1024 bytes");
    expect_refused("--shape stories15M --format tflite", "--format: expected llama2c or gguf");
    expect_refused("--shape stories15M --max-size 12Q", "--max-size: expected a byte count");
    expect_refused("--shape dim=64,hidden=96,layers=1,heads=4,vocab=100,seq=8 --format gguf", "at least 260");
}

TEST(SynthShapes, SmallFileSystemRefusedBeforeTheFirstByte) {
    // Tests may not mount a small tmpfs; /dev/shm serves when it has less room than the file.
    const ModelConfig c = parse_shape("llama2-7b");
    GgufModelFormat f;
    f.matrix_type = GgmlType::F16;
    const uint64_t needed = gguf_file_size(c, f, synthetic_vocabulary(c.vocab_size), "x");
    std::error_code ec;
    const fs::space_info s = fs::space("/dev/shm", ec);
    if (ec || s.available >= needed) GTEST_SKIP() << "/dev/shm absent or with room for " << needed << " bytes: skipping";
    test::TempDir guard;  // a unique name
    const std::string out = "/dev/shm/lhb-synth-" + fs::path(guard.path).filename().string() + ".gguf";
    const test::CommandResult r =
        test::run_bench("synth --shape llama2-7b --format gguf --type f16 --max-size 64G -o " + quoted(out));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("bytes free on the file system"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
}

// Parsed and validated only: the sweep itself synthesizes 4.4 GB and takes minutes.
TEST(SynthShapes, TinyllamaConfigIsValid) {
    const bench::RunConfig c = bench::load_config(test::source_dir() + "/configs/tinyllama.json");
    ASSERT_EQ(c.models.size(), 1u);
    EXPECT_EQ(c.models[0].shape, "tinyllama-1.1b");
    EXPECT_EQ(parse_shape(c.models[0].shape), parse_shape("tinyllama-1.1b"));
    ASSERT_EQ(c.backends.size(), 2u);
    EXPECT_EQ(c.backends[0].name, "cpu-ref");
    EXPECT_EQ(c.backends[1].name, "openmp");
    EXPECT_EQ(c.precisions, (std::vector<std::string>{"fp32", "int8", "q8_0", "q4_0", "q4_k_m"}));
    ASSERT_FALSE(c.generate_tokens.empty());
    EXPECT_LE(c.prompt_tokens.front() + c.generate_tokens.front(), 16);
}

}  // namespace
}  // namespace lhb
