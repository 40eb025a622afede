// `bench run` config files: every kind of mistake gets one line naming the file, the field
// (JSON pointer), what was found and what was expected.
#include <gtest/gtest.h>

#include <filesystem>

#include "bench/config.hpp"
#include "core/error.hpp"
#include "core/synth.hpp"
#include "tests/test_support.hpp"

namespace lhb::bench {
namespace {

namespace fs = std::filesystem;

// A valid config whose model is synthesized (shape given), so it needs no files.
std::string valid_config(const std::string& extra = "") {
    return R"({
  "name": "t",
  "models": [{"name": "tiny", "path": "absent.bin", "shape": "stories260K"}],
  "backends": ["cpu-ref"])" +
           extra + "\n}\n";
}

// The message of the InputError that parsing `text` throws ("" if none).
std::string error_of(const std::string& text, const std::string& file = "cfg/c.json") {
    try {
        parse_config(text, file);
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

TEST(Config, ValidConfigParsesWithDefaultsAndResolvesPathsAgainstItsFolder) {
    RunConfig c = parse_config(valid_config(), "some/dir/c.json");
    EXPECT_EQ(c.name, "t");
    ASSERT_EQ(c.models.size(), 1u);
    EXPECT_EQ(c.models[0].path, "some/dir/absent.bin");
    EXPECT_EQ(c.models[0].shape, "stories260K");
    EXPECT_EQ(c.precisions, std::vector<std::string>{"fp32"});
    EXPECT_EQ(c.threads, std::vector<int>{1});
    EXPECT_EQ(c.repetitions, 3);
    EXPECT_EQ(c.out, "reports/t");
    ASSERT_EQ(c.backends.size(), 1u);
    EXPECT_EQ(c.backends[0].name, "cpu-ref");
}

TEST(Config, EveryFieldIsRead) {
    test::TempDir dir;
    test::write_file(dir.file("board.json"), "{}");
    RunConfig c = parse_config(valid_config(R"(,
  "description": "d", "precisions": ["fp32", "int8"], "threads": [1, 2], "prompt_tokens": [8, 16],
  "prompt": "Hello", "generate_tokens": 10, "warmup": 0, "repetitions": 5, "correctness_steps": 7,
  "board": "board.json", "xclbin": "k.xclbin", "out": "res",
  "published": [{"name": "n", "backend": "b", "model": "stories15M", "tok_s": 1.75, "tokens": 201,
                 "seconds": 114.7, "source": "s"}])"),
                               dir.file("c.json"));
    EXPECT_EQ(c.precisions, (std::vector<std::string>{"fp32", "int8"}));
    EXPECT_EQ(c.threads, (std::vector<int>{1, 2}));
    EXPECT_EQ(c.prompt_tokens, (std::vector<int>{8, 16}));
    EXPECT_EQ(c.prompt, "Hello");
    EXPECT_EQ(c.generate_tokens, (std::vector<int>{10}));
    EXPECT_EQ(c.warmup, 0);
    EXPECT_EQ(c.repetitions, 5);
    EXPECT_EQ(c.correctness_steps, 7);
    EXPECT_EQ(c.board, dir.file("board.json"));
    EXPECT_EQ(c.xclbin, dir.file("k.xclbin"));
    EXPECT_EQ(c.out, dir.file("res"));
    ASSERT_EQ(c.published.size(), 1u);
    EXPECT_DOUBLE_EQ(c.published[0].tok_s, 1.75);
    EXPECT_EQ(c.published[0].tokens, 201);
    EXPECT_EQ(c.published[0].precision, "fp32");
}

TEST(Config, BackendObjectsCarryTheirOwnThreadsAndOptions) {
    RunConfig c = parse_config(R"({"name": "t", "models": [{"name": "m", "path": "x.bin", "shape": "stories260K"}],
        "backends": ["cpu-ref", {"name": "openmp", "threads": [1, 2], "fused": false}]})",
                               "c.json");
    ASSERT_EQ(c.backends.size(), 2u);
    EXPECT_TRUE(c.backends[0].threads.empty());
    EXPECT_EQ(c.backends[1].threads, (std::vector<int>{1, 2}));
    EXPECT_FALSE(c.backends[1].fused);
}

// llama-bench's axes: n_prompt (prefill-only points), n_gen (decode-only points), n_depth,
// beside the combined prompt_tokens x generate_tokens; each a list or one value.
TEST(Config, LlamaBenchAxesAreReadBesideTheCombinedPoints) {
    RunConfig c = parse_config(valid_config(R"(, "n_prompt": [32, 128], "n_gen": [16, 64], "n_depth": [0, 256])"),
                               "c.json");
    EXPECT_EQ(c.pp_tokens, (std::vector<int>{32, 128}));
    EXPECT_EQ(c.tg_tokens, (std::vector<int>{16, 64}));
    EXPECT_EQ(c.depth_tokens, (std::vector<int>{0, 256}));
    EXPECT_TRUE(c.prompt_tokens.empty());  // llama-bench's axes alone: no combined points
    EXPECT_TRUE(c.generate_tokens.empty());
    RunConfig both = parse_config(valid_config(R"(, "prompt_tokens": 8, "n_prompt": 128, "depth": 16)"), "c.json");
    EXPECT_EQ(both.prompt_tokens, std::vector<int>{8});
    EXPECT_EQ(both.generate_tokens, std::vector<int>{64});
    EXPECT_EQ(both.pp_tokens, std::vector<int>{128});
    EXPECT_TRUE(both.tg_tokens.empty());
    EXPECT_EQ(both.depth_tokens, std::vector<int>{16});
    EXPECT_EQ(both.depth_key, "depth");
    RunConfig defaults = parse_config(valid_config(), "c.json");
    EXPECT_EQ(defaults.prompt_tokens, std::vector<int>{32});
    EXPECT_EQ(defaults.generate_tokens, std::vector<int>{64});
    EXPECT_TRUE(defaults.pp_tokens.empty());
    EXPECT_EQ(defaults.depth_tokens, std::vector<int>{0});
}

TEST(ConfigErrors, LlamaBenchAxesNameTheFieldAndWhatWasExpected) {
    const std::pair<const char*, const char*> cases[] = {
        {R"("n_prompt": [32, 0])", "/n_prompt/1: expected an integer in [1, 1048576], found integer 0"},
        {R"("n_gen": [64, 1])", "/n_gen/1: expected an integer in [2, 1048576], found integer 1"},
        {R"("n_depth": -1)", "/n_depth: expected an integer in [0, 1048576], found integer -1"},
        {R"("n_depth": [0, 0])", "/n_depth/1: expected a value not already listed, found integer 0"},
        {R"("n_gen": "64")", "/n_gen: expected a non-empty array of integers in [2, 1048576], found string \"64\""},
        {R"("depth": 8, "n_depth": [8])", "/depth: the same axis as /n_depth; expected one of them"},
    };
    for (const auto& [fields, message] : cases)
        EXPECT_EQ(error_of(valid_config(std::string(", ") + fields)), std::string("cfg/c.json: ") + message) << fields;
    std::string err = error_of(valid_config(R"(, "n_dpeth": [8])"));
    EXPECT_NE(err.find("did you mean \"n_depth\"?"), std::string::npos) << err;
}

// --- one test per kind of mistake --------------------------------------------------------

TEST(ConfigErrors, BadJsonGivesLineAndColumn) {
    // Line 3 holds the stray comma; column 14 is where the parser gives up (the ']').
    const std::string text = "{\n  \"name\": \"t\",\n  \"models\": [,]\n}\n";
    std::string err = error_of(text);
    EXPECT_NE(err.find("cfg/c.json:3:14: invalid JSON at line 3, column 14"), std::string::npos) << err;
    // ... and the same position nlohmann itself reports.
    try {
        nlohmann::json ignored = nlohmann::json::parse(text);
        (void)ignored;
        FAIL() << "parse should fail";
    } catch (const nlohmann::json::parse_error& e) {
        EXPECT_NE(std::string(e.what()).find("line 3, column 14"), std::string::npos) << e.what();
    }
}

// Our line:column must be nlohmann's own (both count from 1, at the last character read).
TEST(ConfigErrors, BadJsonPositionAgreesWithTheParserEverywhere) {
    struct Case {
        std::string text, position;
    };
    for (const Case& c : std::vector<Case>{{"{\"name\": \"t\" \"x\"}", "1:16"},
                                           {"{\n\n\n  \"name\": tru }", "4:14"},
                                           {"", "1:1"},
                                           {"{\"name\": \"t\",\n", "2:1"},
                                           {"{\"a\": 1}\n\n  x", "3:3"}}) {
        std::string err = error_of(c.text);
        EXPECT_EQ(err.rfind("cfg/c.json:" + c.position + ": invalid JSON at line ", 0), 0u) << err;
        std::string nl;
        try {
            nlohmann::json ignored = nlohmann::json::parse(c.text);
            (void)ignored;
        } catch (const nlohmann::json::parse_error& e) {
            nl = e.what();
        }
        const size_t colon = c.position.find(':');
        const std::string words = "line " + c.position.substr(0, colon) + ", column " + c.position.substr(colon + 1);
        EXPECT_NE(nl.find(words), std::string::npos) << nl;
        EXPECT_NE(err.find(words), std::string::npos) << err;
    }
}

TEST(ConfigErrors, WrongTypeNamesPointerFoundAndExpected) {
    EXPECT_EQ(error_of(valid_config(R"(, "threads": "two")")),
              "cfg/c.json: /threads: expected a non-empty array of integers in [1, 1024], found string \"two\"");
    EXPECT_EQ(error_of(valid_config(R"(, "repetitions": "3")")),
              "cfg/c.json: /repetitions: expected an integer in [1, 1000], found string \"3\"");
    EXPECT_EQ(error_of(R"({"name": "t", "models": {"name": "m"}, "backends": ["cpu-ref"]})"),
              "cfg/c.json: /models: expected a non-empty array of model objects, found object {\"name\":\"m\"}");
    EXPECT_EQ(error_of(valid_config(R"(, "prompt_tokens": [16, 2.5])")),
              "cfg/c.json: /prompt_tokens/1: expected an integer in [1, 1048576], found number 2.5");
    EXPECT_EQ(error_of("[1, 2]"), "cfg/c.json: /: expected an object, found array [1,2]");
}

TEST(ConfigErrors, OutOfRangeNamesPointerFoundAndExpected) {
    EXPECT_EQ(error_of(valid_config(R"(, "repetitions": 0)")),
              "cfg/c.json: /repetitions: expected an integer in [1, 1000], found integer 0");
    EXPECT_EQ(error_of(valid_config(R"(, "threads": [2, -1])")),
              "cfg/c.json: /threads/1: expected an integer in [1, 1024], found integer -1");
    EXPECT_EQ(error_of(valid_config(R"(, "generate_tokens": 1)")),
              "cfg/c.json: /generate_tokens: expected an integer in [2, 1048576], found integer 1");
    EXPECT_EQ(error_of(valid_config(R"(, "published": [{"name": "n", "backend": "b", "model": "m", "tok_s": 0, "source": "s"}])")),
              "cfg/c.json: /published/0/tok_s: expected a number > 0, found integer 0");
}

TEST(ConfigErrors, UnknownKeyIsRejectedWithTheNearestValidName) {
    std::string err = error_of(R"({"name": "t", "models": [{"name": "m", "path": "x", "shape": "stories260K",
                                   "tokenizr": "tok.bin"}], "backends": ["cpu-ref"]})");
    EXPECT_EQ(err.rfind("cfg/c.json: /models/0/tokenizr: unknown key \"tokenizr\"; did you mean \"tokenizer\"?", 0), 0u)
        << err;
    err = error_of(valid_config(R"(, "repetitons": 3)"));
    EXPECT_NE(err.find("/repetitons: unknown key \"repetitons\"; did you mean \"repetitions\"?"), std::string::npos) << err;
    // Nothing close: no suggestion, but the valid names are listed.
    err = error_of(valid_config(R"(, "zzzzzzzz": 3)"));
    EXPECT_EQ(err.find("did you mean"), std::string::npos) << err;
    EXPECT_NE(err.find("expected one of: $schema, name, description, models"), std::string::npos) << err;
}

TEST(ConfigErrors, MissingModelWithNoShapeToSynthesize) {
    std::string err = error_of(R"({"name": "t", "models": [{"name": "m", "path": "nowhere/m.bin"}], "backends": ["cpu-ref"]})");
    EXPECT_EQ(err,
              "cfg/c.json: /models/0/path: model file cfg/nowhere/m.bin not found and no /models/0/shape to synthesize "
              "it from; expected an existing checkpoint or a \"shape\" (" +
                  std::string(shape_names()) + ")");
}

TEST(ConfigErrors, OtherMistakes) {
    EXPECT_EQ(error_of(R"({"models": [], "backends": []})"), "cfg/c.json: /name: missing; expected it to be set");
    EXPECT_EQ(error_of(R"({"name": "a b", "models": [], "backends": []})"),
              "cfg/c.json: /name: expected 1 to 64 characters from A-Z a-z 0-9 . _ - (it names the output folder), "
              "found string \"a b\"");
    EXPECT_EQ(error_of(valid_config(R"(, "precisions": ["fp23"])")),
              "cfg/c.json: /precisions/0: expected one of fp32, int8, f16, q8_0, q4_0, q6_k, q4_k_m (did you mean \"fp32\"?), found string \"fp23\"");
    EXPECT_EQ(error_of(valid_config(R"(, "threads": [2, 2])")),
              "cfg/c.json: /threads/1: expected a value not already listed, found integer 2");
    std::string err = error_of(R"({"name": "t", "models": [{"name": "m", "path": "x", "shape": "stories16M"}], "backends": ["cpu-ref"]})");
    EXPECT_EQ(err.rfind("cfg/c.json: /models/0/shape: ", 0), 0u) << err;
    EXPECT_EQ(error_of(valid_config(R"(, "board": "boards/none.json")")),
              "cfg/c.json: /board: board file cfg/boards/none.json not found");
    EXPECT_EQ(error_of(R"({"name": "t", "models": [{"name": "m", "path": "x", "shape": "stories260K"}], "backends": [3]})"),
              "cfg/c.json: /backends/0: expected a backend name or an object {\"name\": ..., \"threads\": [...]}, found "
              "integer 3");
}

TEST(ConfigErrors, NearestNameIsAnEditDistanceMatch) {
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3);
    EXPECT_EQ(edit_distance("", "abc"), 3);
    EXPECT_EQ(nearest_name("warmpu", {"warmup", "repetitions"}), "warmup");
    EXPECT_EQ(nearest_name("xyz", {"warmup", "repetitions"}), "");
}

// Through the executable: exit status 1, one line on stderr, nothing written.
TEST(ConfigErrors, BenchRunReportsOneLineAndWritesNothing) {
    test::TempDir dir;
    test::write_file(dir.file("c.json"), valid_config(R"(, "repetitions": -4, "out": "out")"));
    auto r = test::run_bench("run '" + dir.file("c.json") + "'");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, "error: " + dir.file("c.json") + ": /repetitions: expected an integer in [1, 1000], found integer -4\n");
    EXPECT_TRUE(r.out.empty());
    EXPECT_FALSE(fs::exists(dir.file("out")));
}

// With a depth, the message names the depth axis and the sum under the names the config used.
TEST(ConfigErrors, DepthPlusPromptPlusGeneratedBeyondTheContextIsRefused) {
    test::TempDir dir;
    const std::pair<const char*, const char*> cases[] = {
        {R"("n_depth": [0, 400], "prompt_tokens": [64], "generate_tokens": [16, 64])",
         "/n_depth: expected n_depth + prompt_tokens + generate_tokens <= tiny's seq_len 512, found 400 + 64 + 64"},
        {R"("n_prompt": [512])", "/n_prompt: expected n_prompt + 1 <= tiny's seq_len 512, found 512 + 1"},
        {R"("n_gen": [8, 600])", "/n_gen: expected n_gen <= tiny's seq_len 512, found 600"},
        {R"("depth": 500, "n_gen": [16])", "/depth: expected depth + n_gen <= tiny's seq_len 512, found 500 + 16"},
    };
    for (const auto& [fields, message] : cases) {
        test::write_file(dir.file("c.json"), valid_config(std::string(", ") + fields + R"(, "out": "out")"));
        auto r = test::run_bench("run '" + dir.file("c.json") + "' --quiet");
        EXPECT_EQ(r.exit_code, 1) << fields;
        EXPECT_EQ(r.err, "error: " + dir.file("c.json") + ": " + message + "\n");
        EXPECT_FALSE(fs::exists(dir.file("out")));
    }
}

TEST(ConfigErrors, PromptLongerThanTheModelsContextIsRefusedBeforeAnythingIsWritten) {
    test::TempDir dir;
    test::write_file(dir.file("c.json"), valid_config(R"(, "prompt_tokens": [500], "generate_tokens": 64, "out": "out")"));
    auto r = test::run_bench("run '" + dir.file("c.json") + "' --quiet");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, "error: " + dir.file("c.json") +
                         ": /prompt_tokens: expected prompt_tokens + generate_tokens <= tiny's seq_len 512, found 500 + 64\n");
    EXPECT_FALSE(fs::exists(dir.file("out")));
}

}  // namespace
}  // namespace lhb::bench
