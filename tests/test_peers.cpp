// Peers in a sweep (bench/peers.hpp): command lines split without a shell, placeholders,
// the three output parsers, one run of a stand-in peer (ok, failing, too slow, not
// executable), the config's checks, their interleaving with the sweep, and a `bench run`
// whose config names two stand-in peers yielding rows of kind "peer".
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "bench/config.hpp"
#include "bench/measure.hpp"
#include "bench/peers.hpp"
#include "bench/progress.hpp"
#include "core/error.hpp"
#include "tests/json_schema_lite.hpp"
#include "tests/test_support.hpp"

namespace lhb::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One stand-in for both common peers: `peer.sh llama2c ...` prints as llama2.c's runomp does
// (on stderr), `peer.sh llama-bench -m M -p P -n G -t T` as llama-bench -o jsonl does. Every
// run appends "mode threads arg-count" to log.txt, and each argument to args.txt.
std::string write_stand_in(const test::TempDir& dir) {
    const std::string script = dir.file("peer.sh");
    test::write_file(script, R"(#!/bin/sh
here=$(dirname "$0")
mode=$1
shift
echo "$mode ${OMP_NUM_THREADS:-?} $#" >> "$here/log.txt"
for a in "$@"; do echo "$a" >> "$here/args.txt"; done
# the fake RAPL counter gains 2 J per run, replaced at once (a reader never sees it half written)
if [ -n "$ENERGY_FILE" ]; then echo $(( $(cat "$ENERGY_FILE") + 2000000 )) > "$ENERGY_FILE.new" && mv "$ENERGY_FILE.new" "$ENERGY_FILE"; fi
case "$mode" in
  llama2c) echo "Once upon a time" ; echo "achieved tok/s: 123.5" >&2 ;;
  llama-bench)
    echo "{\"build_commit\": \"x\", \"n_prompt\": $4, \"n_gen\": 0, \"n_threads\": $8, \"avg_ts\": 900.5, \"stdev_ts\": 1}"
    echo "{\"build_commit\": \"x\", \"n_prompt\": 0, \"n_gen\": $6, \"n_threads\": $8, \"avg_ts\": 210.25, \"stdev_ts\": 1}" ;;
  silent) echo "nothing to see" ;;
  fail) echo "error: cannot open model $1" >&2 ; exit 3 ;;
  slow) sleep 20 ;;
  leaves-one-behind) sleep 20 & echo "achieved tok/s: 5" >&2 ;;
esac
)");
    ::chmod(script.c_str(), 0755);
    return script;
}

PeerEntry peer_of(const std::string& exe, PeerParser parser, std::vector<std::string> args) {
    PeerEntry p;
    p.name = "p";
    p.executable = exe;
    p.command = {exe};
    p.command.insert(p.command.end(), args.begin(), args.end());
    p.parser = parser;
    p.timeout_s = 10;
    return p;
}

PeerPoint point(const std::string& model = "/m/model.bin") {
    return {"m", model, "/m/tok.bin", false, 2, 32, 64};
}

TEST(Peers, CommandLinesSplitLikeAShellWithoutOne) {
    EXPECT_EQ(split_command_line("  a  b\tc "), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(split_command_line(R"(run 'x y' "a \"b\" \\ c" d\ e '')"),
              (std::vector<std::string>{"run", "x y", "a \"b\" \\ c", "d e", ""}));
    EXPECT_EQ(split_command_line("run $(id);echo|y>z*"), (std::vector<std::string>{"run", "$(id);echo|y>z*"}));
    EXPECT_THROW(split_command_line("run 'open"), std::invalid_argument);
    EXPECT_THROW(split_command_line("run \"open"), std::invalid_argument);
    EXPECT_THROW(split_command_line("  "), std::invalid_argument);
}

TEST(Peers, PlaceholdersExpandInsideOneArgument) {
    const PeerPoint p = point("/a dir/m.bin");
    EXPECT_EQ(expand_template("-m={model}", p), "-m=/a dir/m.bin");
    EXPECT_EQ(expand_template("{threads}/{n_prompt}/{n_gen}/{tokens}/{tokenizer}", p), "2/32/64/96//m/tok.bin");
    EXPECT_EQ(expand_template("{{model}}", p), "{model}");
    EXPECT_FALSE(template_problem("{{x}} {model}").has_value());
    EXPECT_NE(template_problem("{modle}").value_or("").find("unknown placeholder {modle} (expected one of {model}"),
              std::string::npos);
    EXPECT_NE(template_problem("{model").value_or("").find("never closed"), std::string::npos);
    EXPECT_NE(template_problem("a}b").value_or("").find("closes nothing"), std::string::npos);
    EXPECT_TRUE(uses_placeholder("-z {tokenizer}", "tokenizer"));
    EXPECT_FALSE(uses_placeholder("-z {{tokenizer}}", "tokenizer"));
}

TEST(Peers, TheLlama2cParserReadsAchievedTokS) {
    const PeerEntry p = peer_of("x", PeerParser::Llama2c, {});
    ParsedPeerOutput r = parse_peer_output(p, point(), "story", "achieved tok/s: 88.250000\n");
    EXPECT_DOUBLE_EQ(r.decode_tok_s.value_or(0), 88.25);
    EXPECT_TRUE(r.error.empty());
    r = parse_peer_output(p, point(), "story", "Segmentation fault?\n");
    EXPECT_FALSE(r.decode_tok_s);
    EXPECT_NE(r.error.find("expected a line \"achieved tok/s: <number > 0>\""), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("stderr ending \"Segmentation fault?\""), std::string::npos) << r.error;
    EXPECT_FALSE(parse_peer_output(p, point(), "", "achieved tok/s: -nan\n").decode_tok_s);
}

TEST(Peers, TheLlamaBenchParserReadsJsonlJsonAndCsv) {
    const PeerEntry p = peer_of("x", PeerParser::LlamaBench, {});
    const std::string jsonl =
        "{\"n_prompt\": 32, \"n_gen\": 0, \"n_threads\": 2, \"avg_ts\": 500.5}\n"
        "{\"n_prompt\": 0, \"n_gen\": 64, \"n_threads\": 2, \"avg_ts\": 80.25}\n";
    ParsedPeerOutput r = parse_peer_output(p, point(), jsonl, "");
    EXPECT_DOUBLE_EQ(r.prefill_tok_s.value_or(0), 500.5);
    EXPECT_DOUBLE_EQ(r.decode_tok_s.value_or(0), 80.25);

    const std::string json_array = "[\n" + std::string("{\"n_prompt\": 0, \"n_gen\": 64, \"n_threads\": 1, \"avg_ts\": 40}") +
                                   ",\n{\"n_prompt\": 0, \"n_gen\": 64, \"n_threads\": 2, \"avg_ts\": 70}\n]\n";
    r = parse_peer_output(p, point(), json_array, "");  // the test with the point's threads
    EXPECT_DOUBLE_EQ(r.decode_tok_s.value_or(0), 70);
    EXPECT_FALSE(r.prefill_tok_s);

    const std::string csv =
        "build_commit,model_type,n_threads,n_prompt,n_gen,test_time,avg_ns,stddev_ns,avg_ts,stddev_ts\n"
        "\"c392e509\",\"llama 15M all F32\",\"2\",\"32\",\"0\",\"2025-02-20T00:00:00Z\",\"1\",\"2\",\"612.5\",\"3\"\n"
        "\"c392e509\",\"llama 15M all F32\",\"2\",\"0\",\"64\",\"2025-02-20T00:00:00Z\",\"1\",\"2\",\"95.75\",\"1\"\n";
    r = parse_peer_output(p, point(), csv, "");
    EXPECT_DOUBLE_EQ(r.prefill_tok_s.value_or(0), 612.5);
    EXPECT_DOUBLE_EQ(r.decode_tok_s.value_or(0), 95.75);

    r = parse_peer_output(p, point(), "| model | size |\n| --- | --- |\n", "");  // the markdown printer
    EXPECT_NE(r.error.find("expected llama-bench results on stdout (-o jsonl, json or csv)"), std::string::npos) << r.error;
    r = parse_peer_output(p, point(),
                          "{\"n_prompt\": 0, \"n_gen\": 16, \"avg_ts\": 1}\n{\"n_prompt\": 0, \"n_gen\": 32, \"avg_ts\": 2}\n", "");
    EXPECT_NE(r.error.find("several tg tests and none with n_gen 64"), std::string::npos) << r.error;
}

TEST(Peers, TheRegexParserTakesTheLastMatchesFirstGroup) {
    PeerEntry p = peer_of("x", PeerParser::Regex, {});
    p.decode_regex = "decode: ([0-9.]+) tok/s";
    p.prefill_regex = "prefill ([0-9.]+)";
    ParsedPeerOutput r = parse_peer_output(p, point(), "decode: 1.5 tok/s\ndecode: 2.5 tok/s\n", "prefill 30\n");
    EXPECT_DOUBLE_EQ(r.decode_tok_s.value_or(0), 2.5);
    EXPECT_DOUBLE_EQ(r.prefill_tok_s.value_or(0), 30);
    r = parse_peer_output(p, point(), "decode: 1.5 tok/s\n", "");
    EXPECT_NE(r.error.find("expected output matching the prefill regex /prefill ([0-9.]+)/"), std::string::npos) << r.error;
}

TEST(Peers, OneRunExecutesWithoutAShellAndParses) {
    test::TempDir dir;
    const std::string exe = write_stand_in(dir);
    PeerEntry p = peer_of(exe, PeerParser::Llama2c, {"llama2c", "{model}", "; touch " + dir.file("pwned"), "$(id)"});
    p.env["OMP_NUM_THREADS"] = "{threads}";
    const PeerRunResult r = PeerRunner::run_once(p, point("/a dir/it's.bin"));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_DOUBLE_EQ(r.decode_tok_s.value_or(0), 123.5);
    EXPECT_EQ(r.argv, (std::vector<std::string>{exe, "llama2c", "/a dir/it's.bin", "; touch " + dir.file("pwned"), "$(id)"}));
    EXPECT_EQ(r.env.at("OMP_NUM_THREADS"), "2");
    EXPECT_EQ(test::read_file(dir.file("log.txt")), "llama2c 2 3\n");  // three arguments, as given
    EXPECT_EQ(test::read_file(dir.file("args.txt")), "/a dir/it's.bin\n; touch " + dir.file("pwned") + "\n$(id)\n");
    EXPECT_FALSE(fs::exists(dir.file("pwned")));
    EXPECT_GT(r.seconds, 0);
}

TEST(Peers, AFailingPeerSaysWhatHappenedAndWhatWasExpected) {
    test::TempDir dir;
    const std::string exe = write_stand_in(dir);
    PeerRunResult r = PeerRunner::run_once(peer_of(exe, PeerParser::Llama2c, {"fail", "{model}"}), point());
    EXPECT_EQ(r.error, "exited with status 3; found stderr ending \"error: cannot open model /m/model.bin\"");
    r = PeerRunner::run_once(peer_of(exe, PeerParser::Llama2c, {"silent"}), point());
    EXPECT_NE(r.error.find("expected a line \"achieved tok/s"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("stdout ending \"nothing to see\""), std::string::npos) << r.error;

    PeerEntry slow = peer_of(exe, PeerParser::Llama2c, {"slow"});
    slow.timeout_s = 0.3;
    r = PeerRunner::run_once(slow, point());
    EXPECT_NE(r.error.find("did not finish within timeout_s = 0.3 s (killed)"), std::string::npos) << r.error;
    EXPECT_LT(r.seconds, 10);

    // Done, but a process it started still holds its output open: the run ends with it.
    r = PeerRunner::run_once(peer_of(exe, PeerParser::Llama2c, {"leaves-one-behind"}), point());
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_LT(r.seconds, 10);

    test::write_file(dir.file("bad.sh"), "#!/nonexistent/interpreter\n");
    ::chmod(dir.file("bad.sh").c_str(), 0755);
    r = PeerRunner::run_once(peer_of(dir.file("bad.sh"), PeerParser::Llama2c, {}), point());
    EXPECT_EQ(r.error, "cannot execute " + dir.file("bad.sh") + ": No such file or directory");
}

// A stop request (SIGINT) kills a running peer at once and says so; nothing is parsed.
TEST(Peers, AStopRequestEndsARunningPeer) {
    test::TempDir dir;
    const std::string exe = write_stand_in(dir);
    std::thread stopper([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        g_stop_requested = SIGINT;
    });
    const PeerRunResult r = PeerRunner::run_once(peer_of(exe, PeerParser::Llama2c, {"slow"}), point());
    stopper.join();
    g_stop_requested = 0;
    EXPECT_TRUE(r.interrupted);
    EXPECT_EQ(r.error, "interrupted (the run was stopped)");
    EXPECT_LT(r.seconds, 10);
}

// The message of the InputError that parsing `peers` (the JSON of the "peers" field) throws.
std::string peers_error(const test::TempDir& dir, const std::string& peers, const std::string& models = "") {
    const std::string text = R"({"name": "t", "models": [{"name": "tiny", "path": "absent.bin", "shape": "stories260K")" +
                             models + R"(}], "backends": ["cpu-ref"], "peers": )" + peers + "}";
    try {
        parse_config(text, dir.file("c.json"));
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

TEST(Peers, TheConfigNamesTheFieldOfEveryMistake) {
    test::TempDir dir;
    write_stand_in(dir);
    const std::string c = dir.file("c.json");
    EXPECT_EQ(peers_error(dir, R"([{"name": "a", "command": "./peer.sh llama2c {model}", "parser": "llama2c"}])"), "");
    EXPECT_EQ(peers_error(dir, R"([{"name": "a", "command": "./nope {model}", "parser": "llama2c"}])"),
              c + ": /peers/0/command: peer \"a\": expected an executable file, found none at \"./nope\" (relative paths "
                  "resolve against " + dir.path + ") (../shared/docs/peers.md says how llama2.c and llama.cpp are built)");
    EXPECT_NE(peers_error(dir, R"([{"name": "a", "command": ["no-such-peer-program"], "parser": "llama2c"}])")
                  .find("/peers/0/command/0: peer \"a\": expected an executable file, found none at \"no-such-peer-program\" on PATH"),
              std::string::npos);
    EXPECT_EQ(peers_error(dir, R"([{"name": "a", "command": ["./peer.sh", "-m", "{modell}"], "parser": "llama2c"}])"),
              c + ": /peers/0/command/2: unknown placeholder {modell} (expected one of {model}, {tokenizer}, {threads}, "
                  "{n_prompt}, {n_gen}, {tokens}; {{ and }} for literal braces)");
    EXPECT_EQ(peers_error(dir, R"([{"name": "a", "command": "./peer.sh 'x", "parser": "llama2c"}])"),
              c + ": /peers/0/command: cannot split the command line: a ' opened at character 11 is never closed");
    EXPECT_EQ(peers_error(dir, R"([{"name": "a", "command": "./peer.sh", "parser": "llama2.c"}])"),
              c + ": /peers/0/parser: expected \"llama2c\", \"llama-bench\" or an object {\"decode\": REGEX, \"prefill\": "
                  "REGEX} (did you mean \"llama2c\"?), found string \"llama2.c\"");
    EXPECT_NE(peers_error(dir, R"([{"name": "a", "command": "./peer.sh", "parser": {"decode": "([0-9"}}])")
                  .find(": /peers/0/parser/decode: expected an ECMAScript regular expression: "),
              std::string::npos);
    EXPECT_EQ(peers_error(dir, R"([{"name": "a", "command": "./peer.sh", "parser": {"decode": "tok/s"}}])"),
              c + ": /peers/0/parser/decode: expected a regex with a group capturing the number, found none");
    EXPECT_EQ(peers_error(dir, R"([{"name": "a", "command": "./peer.sh -z {tokenizer}", "parser": "llama2c"}])"),
              c + ": /peers/0/command: uses {tokenizer}, but model \"tiny\" (/models/0) has none; expected a \"tokenizer\" for it");
    EXPECT_EQ(peers_error(dir, R"([{"name": "a", "command": "./peer.sh", "parser": "llama2c", "models": {"tiny2": "peer.sh"}}])"),
              c + ": /peers/0/models/tiny2: expected the name of one of the config's models (tiny); did you mean \"tiny\"?");
    EXPECT_EQ(peers_error(dir, R"([{"name": "a", "command": "./peer.sh", "parser": "llama2c", "timeout_s": 0}])"),
              c + ": /peers/0/timeout_s: expected a number > 0, found integer 0");
    EXPECT_EQ(peers_error(dir, R"([{"name": "a b", "command": "./peer.sh", "parser": "llama2c"}])"),
              c + ": /peers/0/name: expected 1 to 64 characters from A-Z a-z 0-9 . _ + - (it names the peer's rows), found "
                  "string \"a b\"");
    EXPECT_EQ(peers_error(dir, R"([{"name": "a", "command": "./peer.sh", "parser": "llama2c"},
                                   {"name": "a", "command": "./peer.sh", "parser": "llama2c"}])"),
              c + ": /peers/1/name: expected a name not used by another peer, found string \"a\"");
    EXPECT_EQ(peers_error(dir, R"([{"name": "a", "command": "./peer.sh", "parser": "llama2c", "env": {"X": 1}}])"),
              c + ": /peers/0/env/X: expected a string, found integer 1");
    EXPECT_NE(peers_error(dir, R"([{"name": "a", "comand": "./peer.sh", "parser": "llama2c"}])")
                  .find("/peers/0/comand: unknown key \"comand\"; did you mean \"command\"?"),
              std::string::npos);
}

// After each of our units, one repetition of the peer points at its model and threads; the
// rest at the end, round by round.
TEST(Peers, PeerRunsAlternateWithTheSweepsUnits) {
    test::TempDir dir;
    write_stand_in(dir);
    const RunConfig cfg = parse_config(R"({"name": "t", "models": [{"name": "tiny", "path": "absent.bin", "shape": "stories260K"}],
        "backends": [{"name": "cpu-ref", "threads": [1]}, {"name": "openmp", "threads": [1, 2]}], "repetitions": 3,
        "prompt_tokens": [4], "generate_tokens": 8,
        "peers": [{"name": "a", "command": "./peer.sh llama2c {model}", "env": {"OMP_NUM_THREADS": "{threads}"}, "parser": "llama2c"},
                  {"name": "b", "command": "./peer.sh llama2c {model}", "env": {"OMP_NUM_THREADS": "{threads}"}, "parser": "llama2c", "threads": [2]}]})",
                                       dir.file("c.json"));
    PeerSchedule peers(cfg);
    EXPECT_EQ(peers.points(), 3);  // a at t1 and t2, b at t2
    peers.set_model_file("tiny", dir.file("tiny.bin"), true);
    Progress progress(peers.points(), true, false);
    peers.after_unit("tiny", 1, progress);  // our cpu-ref t1
    EXPECT_EQ(test::read_file(dir.file("log.txt")), "llama2c 1 1\n");
    peers.after_unit("tiny", 1, progress);  // our openmp t1
    peers.after_unit("tiny", 2, progress);  // our openmp t2
    EXPECT_EQ(test::read_file(dir.file("log.txt")), "llama2c 1 1\nllama2c 1 1\nllama2c 2 1\nllama2c 2 1\n");
    const std::vector<ResultRow> rows = peers.finish(progress, false);
    EXPECT_EQ(test::read_file(dir.file("log.txt")),
              "llama2c 1 1\nllama2c 1 1\nllama2c 2 1\nllama2c 2 1\nllama2c 1 1\nllama2c 2 1\nllama2c 2 1\nllama2c 2 1\nllama2c 2 1\n");
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_FALSE(peers.interrupted());
    for (const ResultRow& r : rows) {
        EXPECT_EQ(r.kind, "peer");
        EXPECT_EQ(r.status, "ok");
        EXPECT_EQ(r.weights, "synthetic");
        EXPECT_DOUBLE_EQ(r.decode_tok_s.value_or(0), 123.5);
        EXPECT_EQ(r.details["peer"]["runs"], 3);
        EXPECT_EQ(r.details["peer"]["command"][2], dir.file("tiny.bin"));
    }
    EXPECT_EQ(rows[0].id, "tiny/a/fp32/t1/pp4/tg8/peer");
    EXPECT_EQ(rows[2].id, "tiny/b/fp32/t2/pp4/tg8/peer");
}

// The acceptance test of issue 18, point 3: a config with stand-in peers yields peer rows in
// results.json (valid against the schema), results.csv and the table; a failing peer gets an
// error row naming it and what was expected; with a (fake) RAPL counter every row has energy.
TEST(Peers, ABenchRunWithStandInPeersYieldsPeerRows) {
    test::TempDir dir;
    write_stand_in(dir);
    const std::string energy = dir.file("sys/class/powercap/intel-rapl:0/energy_uj");
    fs::create_directories(fs::path(energy).parent_path());
    test::write_file(dir.file("sys/class/powercap/intel-rapl:0/name"), "package-0\n");
    test::write_file(dir.file("sys/class/powercap/intel-rapl:0/max_energy_range_uj"), "262143328850\n");
    test::write_file(energy, "1000\n");
    test::write_file(dir.file("c.json"), R"({"name": "peers",
  "models": [{"name": "tiny", "path": "absent.bin", "shape": "stories260K"}],
  "backends": [{"name": "cpu-ref", "threads": [1]}],
  "prompt_tokens": [4], "generate_tokens": 8, "warmup": 0, "repetitions": 2, "correctness_steps": 4,
  "peers": [
    {"name": "llama2c-runomp", "command": ["./peer.sh", "llama2c", "{model}", "-n", "{tokens}"],
     "env": {"OMP_NUM_THREADS": "{threads}", "ENERGY_FILE": ")" + energy + R"("}, "parser": "llama2c"},
    {"name": "llama-bench", "command": "./peer.sh llama-bench -m {model} -p {n_prompt} -n {n_gen} -t {threads} -o jsonl",
     "parser": "llama-bench", "precision": "f32"},
    {"name": "broken", "command": "./peer.sh silent", "parser": "llama2c"}
  ],
  "out": "out"})");
    const test::CommandResult run =
        test::run_bench_after("LHB_SYSFS_ROOT='" + dir.file("sys") + "' ", "run '" + dir.file("c.json") + "' --no-report --log");
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_NE(run.err.find("peer broken: expected a line \"achieved tok/s: <number > 0>\""), std::string::npos) << run.err;

    const json results = json::parse(test::read_file(dir.file("out/results.json")));
    const auto errors = test::SchemaLite(json::parse(test::read_file(test::source_dir() + "/docs/results.schema.json")))
                            .validate(results);
    EXPECT_TRUE(errors.empty()) << errors.front();
    std::map<std::string, json> peers;
    for (const json& r : results["rows"])
        if (r["kind"] == "peer") peers[r["backend"].get<std::string>()] = r;
    ASSERT_EQ(peers.size(), 3u);
    const json& l = peers["llama2c-runomp"];
    EXPECT_EQ(l["status"], "ok");
    EXPECT_EQ(l["decode_tok_s"], 123.5);
    EXPECT_EQ(l["ranked"], false);
    EXPECT_EQ(l["peer"]["runs"], 2);
    EXPECT_EQ(l["peer"]["command"], json::array({dir.file("peer.sh"), "llama2c", dir.file("out/models/stories260K-seed1.bin"), "-n", "12"}));
    EXPECT_EQ(l["peer"]["env"]["OMP_NUM_THREADS"], "1");
    EXPECT_GT(l["avg_watts"].get<double>(), 0);  // each run adds 2 J to the fake counter
    EXPECT_NEAR(l["energy"]["joules"].get<double>(), 4.0, 1e-9);
    EXPECT_NEAR(l["joules_per_token"].get<double>(), l["avg_watts"].get<double>() / 123.5, 1e-12);
    const json& b = peers["llama-bench"];
    EXPECT_EQ(b["status"], "ok");
    EXPECT_EQ(b["decode_tok_s"], 210.25);
    EXPECT_EQ(b["prefill_tok_s"], 900.5);
    EXPECT_EQ(b["precision"], "f32");
    EXPECT_EQ(b["peer"]["command"][7], "8");
    EXPECT_EQ(peers["broken"]["status"], "error");
    EXPECT_EQ(peers["broken"]["reason"].get<std::string>().rfind("peer broken: expected a line \"achieved tok/s", 0), 0u);
    EXPECT_EQ(results["environment"]["energy"]["sources"], json::array({"package-0 (intel-rapl:0)"}));
    for (const json& r : results["rows"]) {
        if (r["kind"] != "measured" || r["status"] != "ok") continue;
        EXPECT_TRUE(r["avg_watts"].is_number()) << r["id"];
    }

    const std::string csv = test::read_file(dir.file("out/results.csv"));
    EXPECT_NE(csv.find("tiny/llama-bench/f32/t1/pp4/tg8/peer,peer,tiny,synthetic,llama-bench"), std::string::npos) << csv;
    EXPECT_NE(csv.find(dir.file("peer.sh")), std::string::npos) << csv;
    EXPECT_NE(run.out.find("| tiny (synthetic weights) | llama2c-runomp | fp32 | 1 | peer | pp4+tg8 | - | 123.5 |"),
              std::string::npos)
        << run.out;
    EXPECT_NE(run.out.find("| W | J/tok |"), std::string::npos) << run.out;
}

}  // namespace
}  // namespace lhb::bench
