// cpu-ref and `bench generate` against llama2.c's recorded output on stories260K.
#include <cmath>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "core/generate.hpp"
#include "core/registry.hpp"
#include "core/synth.hpp"
#include "tests/expected_cases.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

test::ExpectedRuns expected() { return test::load_expected_runs(test::model_path("expected-stories260K.txt")); }

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
    return s;
}

TEST(Generate, EveryRecordedCaseMatchesLlama2c) {
    LHB_REQUIRE_MODELS();
    auto runs = expected();
    ASSERT_GE(runs.cases.size(), 3u);
    for (const auto& c : runs.cases) {
        std::string args = replace_all(c.args, "tok512.bin", "'" + test::model_path("tok512.bin") + "'");
        auto r = test::run_bench("generate '" + test::model_path("stories260K.bin") + "' " + args);
        EXPECT_EQ(r.exit_code, 0) << c.name << ": " << r.err;
        EXPECT_EQ(r.out, c.stdout_text) << c.name;
        EXPECT_NE(r.err.find("achieved tok/s: "), std::string::npos) << c.name;
    }
}

TEST(Generate, GreedyTokensAndPosition0Logits) {
    LHB_REQUIRE_MODELS();
    auto runs = expected();
    Model model = Model::open(test::model_path("stories260K.bin"));
    Tokenizer tok = Tokenizer::load(test::model_path("tok512.bin"), model.config().vocab_size);
    CpuRefBackend backend;
    backend.load(model);

    const float* logits = backend.forward(1, 0);
    for (size_t i = 0; i < runs.pos0_logits_head.size(); ++i)
        EXPECT_NEAR(logits[i], runs.pos0_logits_head[i], 1e-5) << "logit " << i;
    EXPECT_EQ(sample_argmax(logits, model.config().vocab_size), runs.pos0_argmax);
    EXPECT_NEAR(logits[runs.pos0_argmax], runs.pos0_max_logit, 1e-5);

    Sampler greedy(model.config().vocab_size, 0.0f, 0.9f, 1);
    std::FILE* sink = std::tmpfile();
    GenerateResult r = generate(backend, tok, greedy, "", 200, sink);
    std::fclose(sink);
    EXPECT_EQ(r.tokens, runs.greedy_tokens);
}

// llama2.c's generate loop as run.c writes it: one forward() per position, the prompt forced
// (no RNG draw), a sample after it. generate() runs the prompt batched; both must print the
// same text and feed the same tokens, sampled or greedy, whatever the prompt and steps.
std::vector<int> llama2c_loop(Backend& backend, const Tokenizer& tok, Sampler& sampler, const std::string& prompt,
                              int steps, std::string& text) {
    std::vector<int> p = tok.encode(prompt, true, false);
    std::vector<int> tokens = {p[0]};
    int token = p[0];
    for (int pos = 0; pos < steps; ++pos) {
        float* logits = backend.forward(token, pos);
        const int next = pos < int(p.size()) - 1 ? p[size_t(pos) + 1] : sampler.sample(logits);
        if (next == 1) break;
        const std::string piece = tok.decode(token, next);
        if (Tokenizer::printable(piece)) text += piece.c_str();
        tokens.push_back(next);
        token = next;
    }
    text += '\n';
    return tokens;
}

TEST(Generate, BatchedPromptGivesLlama2csTextAndRngDraws) {
    LHB_REQUIRE_MODELS();
    Model model = Model::open(test::model_path("stories260K.bin"));
    Tokenizer tok = Tokenizer::load(test::model_path("tok512.bin"), model.config().vocab_size);
    const std::string long_prompt =
        "Once upon a time, there was a little girl named Lily. She liked to play outside with her dog. One day "
        "the sun was hot and they went to the park.";
    ASSERT_GT(tok.encode(long_prompt, true, false).size(), size_t(Backend::kBatchBlock));  // more than one block
    struct Case {
        float temperature;
        std::string prompt;
        int steps;
    };
    for (const Case& c : {Case{1.0f, long_prompt, 80}, Case{0.8f, "Once upon a time", 60}, Case{0.0f, long_prompt, 90},
                          Case{1.0f, long_prompt, 7}, Case{1.0f, "", 20}, Case{0.0f, "Once upon", 5}}) {
        SCOPED_TRACE("t=" + std::to_string(c.temperature) + " prompt '" + c.prompt + "' steps " + std::to_string(c.steps));
        CpuRefBackend a, b;
        a.load(model);
        b.load(model);
        Sampler sa(model.config().vocab_size, c.temperature, 0.9f, 42), sb(model.config().vocab_size, c.temperature, 0.9f, 42);
        std::string expected_text;
        const std::vector<int> expected = llama2c_loop(a, tok, sa, c.prompt, c.steps, expected_text);
        test::TempDir dir;
        std::FILE* out = std::fopen(dir.file("out").c_str(), "w");
        GenerateResult r = generate(b, tok, sb, c.prompt, c.steps, out);
        std::fclose(out);
        EXPECT_EQ(r.tokens, expected);
        EXPECT_EQ(test::read_file(dir.file("out")), expected_text);
        EXPECT_EQ(r.positions, std::min<int>(c.steps, int(expected.size())));
        // The next draws of the two samplers agree too: the batched prompt drew nothing extra.
        std::vector<float> flat(size_t(model.config().vocab_size), 0.0f);
        std::vector<float> flat2 = flat;
        if (c.temperature > 0) {
            EXPECT_EQ(sa.sample(flat.data()), sb.sample(flat2.data()));
        }
    }
}

TEST(Generate, V1FileGivesTheSameLogits) {
    LHB_REQUIRE_MODELS();
    Model v0 = Model::open(test::model_path("stories260K.bin"));
    Model v1 = Model::open(test::model_path("stories260K_v1.bin"));
    CpuRefBackend a, b;
    a.load(v0);
    b.load(v1);
    const int vocab = v0.config().vocab_size;
    int token = 1;
    for (int pos = 0; pos < 16; ++pos) {
        const float* la = a.forward(token, pos);
        const float* lb = b.forward(token, pos);
        for (int i = 0; i < vocab; ++i) ASSERT_EQ(la[i], lb[i]) << "pos " << pos << " logit " << i;
        token = sample_argmax(la, vocab);
    }
}

TEST(Generate, ChatModeRendersTheLlama2Template) {
    LHB_REQUIRE_MODELS();
    auto r = test::run_bench("generate '" + test::model_path("stories260K.bin") + "' -z '" +
                                 test::model_path("tok512.bin") + "' -m chat -t 0 -n 60 -y 'Be brief.'",
                             "Hi there\n");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("User: Assistant: ", 0), 0u) << r.out;
    EXPECT_GT(r.out.size(), std::string("User: Assistant: \n").size());
}

TEST(Generate, ChatStopsAtEndOfInput) {
    LHB_REQUIRE_MODELS();
    // No -i: the first user turn comes from stdin, which is empty: the program must end.
    auto r = test::run_bench("generate '" + test::model_path("stories260K.bin") + "' -z '" +
                                 test::model_path("tok512.bin") + "' -m chat -t 0 -n 60 -y sys", "");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "User: \n");
}

TEST(GenerateCli, UsageErrorsExitOne) {
    for (const char* args : {"", "model.bin -t", "model.bin --temperature 1", "model.bin -x 1", "model.bin t 1",
                             "model.bin -m sing"}) {
        auto r = test::run_bench(std::string("generate ") + args);
        EXPECT_EQ(r.exit_code, 1) << args;
        EXPECT_NE(r.err.find("Usage:"), std::string::npos) << args << ": " << r.err;
    }
    auto help = test::run_bench("generate --help");
    EXPECT_EQ(help.exit_code, 0);
    for (const char* flag : {"-t", "-p", "-s", "-n", "-i", "-z", "-m", "-y", "--backend"})
        EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
    EXPECT_EQ(test::run_bench("--help").exit_code, 0);
}

TEST(GenerateCli, BadInputsGiveOneLineAndExitOne) {
    test::TempDir dir;
    test::write_file(dir.file("bad.bin"), "not a model");
    auto r = test::run_bench("generate '" + dir.file("bad.bin") + "' -n 4");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(dir.file("bad.bin")), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;

    write_synthetic_model(parse_shape("dim=16,hidden=24,layers=1,heads=2,vocab=300,seq=8"), dir.file("m.bin"), 1);
    r = test::run_bench("generate '" + dir.file("m.bin") + "' -z '" + dir.file("missing-tok.bin") + "'");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("missing-tok.bin"), std::string::npos) << r.err;
    r = test::run_bench("generate '" + dir.file("m.bin") + "' --backend warp-drive");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("warp-drive"), std::string::npos) << r.err;
}

TEST(Synth, DeterministicAndLoadable) {
    test::TempDir dir;
    ModelConfig c = parse_shape("dim=32,hidden=48,layers=2,heads=4,kv_heads=2,vocab=64,seq=16");
    write_synthetic_model(c, dir.file("a.bin"), 5);
    write_synthetic_model(c, dir.file("b.bin"), 5);
    write_synthetic_model(c, dir.file("c.bin"), 6);
    EXPECT_EQ(test::read_file(dir.file("a.bin")), test::read_file(dir.file("b.bin")));
    EXPECT_NE(test::read_file(dir.file("a.bin")), test::read_file(dir.file("c.bin")));
    Model m = Model::open(dir.file("a.bin"));
    CpuRefBackend b;
    b.load(m);
    // Activations stay finite and attention is neither flat nor one-hot.
    int token = 3;
    for (int pos = 0; pos < c.seq_len; ++pos) {
        const float* logits = b.forward(token, pos);
        float lo = logits[0], hi = logits[0];
        for (int i = 0; i < c.vocab_size; ++i) {
            ASSERT_TRUE(std::isfinite(logits[i])) << "pos " << pos;
            lo = std::min(lo, logits[i]);
            hi = std::max(hi, logits[i]);
        }
        EXPECT_GT(hi - lo, 1.0f) << "logits nearly flat at pos " << pos;
        token = sample_argmax(logits, c.vocab_size);
    }
    const float* att = b.state().att.data();  // head 0 of the last layer at the last position
    float amax = 0;
    for (int t = 0; t < c.seq_len; ++t) amax = std::max(amax, att[t]);
    EXPECT_LT(amax, 0.99f);
    EXPECT_GT(amax, 1.5f / c.seq_len);

    auto r = test::run_bench("synth --shape stories260K -o '" + dir.file("s.bin") + "' --seed 3");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Model::open(dir.file("s.bin")).config().n_params(), 260032);
}

}  // namespace
}  // namespace lhb
