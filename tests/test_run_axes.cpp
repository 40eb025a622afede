// The sweep's llama-bench axes (n_prompt x n_gen x n_depth) and the order of its passes: one
// short run of a synthetic stories260K-shaped model on cpu-ref and hls-csim, its rows, files
// and the order in which its points were measured.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "bench/config.hpp"
#include "bench/formats.hpp"
#include "bench/measure.hpp"
#include "bench/results.hpp"
#include "bench/sweep.hpp"
#include "core/registry.hpp"
#include "core/roofline.hpp"
#include "core/sampler.hpp"
#include "core/synth.hpp"
#include "tests/json_schema_lite.hpp"
#include "tests/test_support.hpp"

namespace lhb::bench {
namespace {

using nlohmann::json;

struct PassRecord {
    std::string point, phase;
    int round;
};

// One run for the whole suite, at depths 0 and 8: a combined point (pp4+tg4), a
// prefill-only one (pp8) and a decode-only one (tg6); 2 rounds.
class RunAxes : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new test::TempDir;
        json cfg = {{"name", "axes"},
                    {"models", {{{"name", "tiny"}, {"path", "absent.bin"}, {"shape", "stories260K"}}}},
                    {"backends", {"cpu-ref", "hls-csim"}},
                    {"prompt_tokens", {4}},
                    {"generate_tokens", {4}},
                    {"n_prompt", {8}},
                    {"n_gen", {6}},
                    {"n_depth", {0, 8}},
                    {"warmup", 1},
                    {"repetitions", 2},
                    {"correctness_steps", 4},
                    {"board", test::source_dir() + "/configs/boards/zcu106.json"},
                    {"out", "out"}};
        test::write_file(dir_->file("c.json"), cfg.dump());
        SweepOptions options;
        options.quiet = true;
        options.bandwidth_seconds = 0.02;
        passes_ = new std::vector<PassRecord>;
        options.on_pass = [](const std::string& point, const std::string& phase, int round) {
            passes_->push_back({point, phase, round});
        };
        results_ = new json(run_sweep(load_config(dir_->file("c.json")), options));
    }
    static void TearDownTestSuite() {
        delete results_;
        delete passes_;
        delete dir_;
    }
    static std::vector<const json*> rows(const std::string& kind, const std::string& backend = "cpu-ref") {
        std::vector<const json*> out;
        for (const json& r : (*results_)["rows"])
            if (r["kind"] == kind && r["backend"] == backend) out.push_back(&r);
        return out;
    }
    static inline test::TempDir* dir_ = nullptr;
    static inline json* results_ = nullptr;
    static inline std::vector<PassRecord>* passes_ = nullptr;
};

TEST_F(RunAxes, EveryPointOfTheAxesHasARowWithItsTestNameDepthAndTtft) {
    ASSERT_EQ((*results_)["complete"], true);
    std::vector<std::string> tests;
    for (const json* r : rows("measured")) {
        SCOPED_TRACE((*r)["id"].get<std::string>());
        EXPECT_EQ((*r)["status"], "ok") << (*r)["reason"];
        tests.push_back((*r)["test"]);
        const int depth = (*r)["depth_tokens"];
        const bool prompt = (*r)["prompt_tokens"].is_number(), decode = (*r)["generate_tokens"].is_number();
        if (depth > 0) {
            EXPECT_NE((*r)["id"].get<std::string>().find("/d" + std::to_string(depth) + "/"), std::string::npos);
        }
        // A prompt: prefill tok/s and the time to first token (the prompt + one decoded token).
        EXPECT_EQ((*r)["prefill_tok_s"].is_number(), prompt);
        EXPECT_EQ((*r)["ttft_ms"].is_number(), prompt);
        if (prompt) {
            EXPECT_GT((*r)["prefill_tok_s"].get<double>(), 0);
            EXPECT_GT((*r)["ttft_ms"].get<double>(), 0);
            EXPECT_EQ((*r)["ttft"]["ms"]["n"], 2);
        }
        // Decoding: decode tok/s, latency from the first decoded position, op profile, roofline.
        EXPECT_EQ((*r)["decode_tok_s"].is_number(), decode);
        EXPECT_EQ(r->contains("roofline"), decode);
        if (decode) {
            EXPECT_GT((*r)["decode_tok_s"].get<double>(), 0);
            const int first = depth + (prompt ? (*r)["prompt_tokens"].get<int>() : 0);
            EXPECT_EQ((*r)["decode_ms_by_position"]["first_position"], first);
            EXPECT_EQ((*r)["decode_ms_by_position"]["ms"].size(), (*r)["generate_tokens"].get<size_t>());
            EXPECT_EQ((*r)["op_profile"]["repetitions"], 2);
        }
    }
    EXPECT_EQ(tests, (std::vector<std::string>{"pp4+tg4", "pp8", "tg6", "pp4+tg4@d8", "pp8@d8", "tg6@d8"}));
    EXPECT_EQ(rows("measured", "hls-csim").size(), 6u);
}

TEST_F(RunAxes, PointsAreMeasuredRoundRobinNotBackToBack) {
    // cpu-ref's measured passes: every point once per round, rounds in order.
    std::vector<std::pair<std::string, int>> measured;
    for (const PassRecord& p : *passes_)
        if (p.phase == "measure" && p.point.find(" cpu-ref ") != std::string::npos) measured.push_back({p.point, p.round});
    ASSERT_EQ(measured.size(), 12u);  // 6 points x 2 rounds
    for (size_t i = 0; i < measured.size(); ++i) {
        EXPECT_EQ(measured[i].second, int(i / 6)) << measured[i].first;
        EXPECT_EQ(measured[i].first, measured[i % 6].first) << "round " << measured[i].second;
        if (i > 0) {
            EXPECT_NE(measured[i].first, measured[i - 1].first) << "a point ran twice in a row";
        }
    }
    // Warmups come before any measured pass, and each round's op profiles after its passes.
    std::map<std::string, int> first_measure;
    for (size_t i = 0; i < passes_->size(); ++i) {
        const PassRecord& p = (*passes_)[i];
        if (p.phase == "measure") first_measure.try_emplace(p.point, int(i));
    }
    for (size_t i = 0; i < passes_->size(); ++i) {
        const PassRecord& p = (*passes_)[i];
        if (p.phase == "warmup" || p.phase == "op warmup") {
            EXPECT_LT(int(i), first_measure.at(p.point)) << p.point;
        }
    }
}

TEST_F(RunAxes, RooflineUsesTheBandwidthOfEachRoundAndNeverShowsAFractionAboveOne) {
    for (const json& r : (*results_)["rows"]) {
        SCOPED_TRACE(r["id"].get<std::string>());
        const json& f = r.contains("roofline") ? r["roofline"]["fraction"] : json();
        if (f.is_number() && f.get<double>() > 1) {
            EXPECT_EQ(r["unstable"], true);
        }
        if (r["kind"] != "measured" || r["status"] != "ok" || !r["generate_tokens"].is_number()) continue;
        ASSERT_EQ(r["roofline"]["bandwidth_by_round"].size(), 2u);
        if (r["unstable"] == true) {
            EXPECT_TRUE(f.is_null());
            EXPECT_GT(r["roofline"]["fraction_unstable"].get<double>(), 1);
        } else {
            EXPECT_GT(f.get<double>(), 0);
            EXPECT_LE(f.get<double>(), 1);
        }
    }
    // The same invariant in every printer: no fraction above 1 in the table, CSV or exports.
    for (const auto& row : export_rows(*results_)) {
        const auto& f = row["roofline_fraction"];
        if (f.is_number()) {
            EXPECT_LE(f.get<double>(), 1) << row["id"];
        }
    }
}

TEST_F(RunAxes, CsvJsonAndTheTableCarryTheAxesAndTtft) {
    const std::string csv = results_csv(*results_);
    const std::string header = csv.substr(0, csv.find('\n'));
    for (const char* col : {",depth_tokens,", ",test,", ",ttft_ms,"})
        EXPECT_NE(header.find(col), std::string::npos) << col << " in " << header;
    EXPECT_NE(csv.find(",pp4+tg4@d8,"), std::string::npos);
    EXPECT_NE(csv.find(",pp8@d8,"), std::string::npos);
    EXPECT_NE(csv.find(",tg6@d8,"), std::string::npos);
    const std::string md = results_markdown(*results_);
    EXPECT_NE(md.find("| TTFT ms |"), std::string::npos) << md;
    EXPECT_NE(md.find("| pp4+tg4@d8 |"), std::string::npos) << md;
    int depth8 = 0;
    for (const auto& row : export_rows(*results_)) {
        if (row["kind"] != "measured" || row["backends"] != "cpu-ref") continue;
        EXPECT_EQ(row["ttft_ms"].is_number(), row["n_prompt"].is_number()) << row["id"];
        EXPECT_TRUE(row["n_depth"].is_number()) << row["id"];
        depth8 += row["n_depth"] == 8 && row["test"].get<std::string>().ends_with("@d8");
        // llama-bench's avg_ts: a pp test's prefill t/s, a tg (or pp+tg) test's decode t/s.
        EXPECT_TRUE(row["avg_ts"].is_number()) << row["id"];
        if (!row["n_gen"].is_number()) {
            EXPECT_EQ(row["avg_ts"], row["prefill_avg_ts"]) << row["id"];
        } else {
            EXPECT_EQ(row["avg_ts"].get<double>() > 0, true) << row["id"];
        }
    }
    EXPECT_EQ(depth8, 3);
    auto errors = test::SchemaLite(json::parse(test::read_file(test::source_dir() + "/docs/results.schema.json")))
                      .validate(*results_);
    EXPECT_TRUE(errors.empty()) << errors.size() << " errors, first: " << (errors.empty() ? "" : errors[0]);
}

// An estimated row's prefill and TTFT come from the device's prefill estimate
// (estimate_prefill) or are absent; they are never made up from the decode estimates. A
// prefill-only point has an estimated row only when there is a prefill estimate.
TEST_F(RunAxes, EstimatedRowsHaveAPrefillAndTtftOnlyFromThePrefillEstimate) {
    int decoding = 0;
    for (const json* r : rows("estimated", "hls-csim")) {
        SCOPED_TRACE((*r)["id"].get<std::string>());
        EXPECT_EQ((*r)["prefill_tok_s"].is_number(), (*r)["ttft_ms"].is_number());
        if (!(*r)["prompt_tokens"].is_number()) {
            EXPECT_TRUE((*r)["prefill_tok_s"].is_null());
        }
        if ((*r)["generate_tokens"].is_number()) {
            ++decoding;
            EXPECT_GT((*r)["decode_tok_s"].get<double>(), 0);
            if ((*r)["ttft_ms"].is_number()) {
                EXPECT_GT((*r)["ttft_ms"].get<double>(), (*r)["decode_ms_by_position"]["ms"][0].get<double>());
            }
        } else {
            EXPECT_GT((*r)["prefill_tok_s"].get<double>(), 0);  // there only with a prefill estimate
        }
    }
    EXPECT_EQ(decoding, 4);  // pp4+tg4 and tg6 at two depths
}

// Each round's decode against that round's bandwidth: a machine twice as slow in one round
// (both figures halved) changes nothing; a fraction above 1 is flagged, never a result.
TEST(RoundRoofline, EachRoundAgainstItsOwnBandwidth) {
    const double bytes = 1e6;  // 1 MB per token: roofline tok/s = bandwidth / 1e6
    RoundRoofline drift = round_roofline(bytes, {10e9, 5e9, 10e9}, {6000, 3000, 6000});
    EXPECT_DOUBLE_EQ(drift.fraction, 0.6);
    EXPECT_DOUBLE_EQ(drift.bandwidth_bytes_per_s, 10e9);
    EXPECT_DOUBLE_EQ(drift.tok_s, 10000);
    EXPECT_FALSE(drift.unstable);
    // Measured apart (the bandwidth once, in the slow stretch, beside the median tok/s) the
    // same machine would read above 1; per round it does not.
    EXPECT_GT(6000 / roofline_tok_per_s(bytes, 5e9), 1.0);
    RoundRoofline impossible = round_roofline(bytes, {4e9, 4e9, 4e9}, {5000, 4500, 3000});
    EXPECT_DOUBLE_EQ(impossible.fraction, 1.125);
    EXPECT_TRUE(impossible.unstable);
}

// The sweep and `bench generate` run every prompt through forward_batch: every backend that
// can run here, fused and op by op, must take a prompt of several blocks and agree with its
// own forward() (same greedy token; logits within what the correctness check allows).
TEST(PromptBatch, EveryBackendRunsABatchedPromptLikeItsForward) {
    test::TempDir dir;
    write_synthetic_model(parse_shape("stories260K"), dir.file("m.bin"), 1);
    Model model = Model::open(dir.file("m.bin"));
    const int vocab = model.config().vocab_size, n = 2 * Backend::kBatchBlock + 3;
    std::vector<int> tokens(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) tokens[size_t(i)] = i == 0 ? 1 : 3 + (i * 7919) % (vocab - 3);
    int tried = 0;
    for (const BackendFactory* f : BackendRegistry::all()) {
        for (bool fused : {true, false}) {
            BackendOptions o;
            o.threads = 1;
            o.fused = fused;
            if (f->available && !f->available(o).available) continue;
            SCOPED_TRACE(f->name + (fused ? "" : " (op by op)"));
            auto one = BackendRegistry::create(f->name, o), batched = BackendRegistry::create(f->name, o);
            one->load(model);
            batched->load(model);
            std::vector<float> want;
            for (int i = 0; i < n; ++i) {
                const float* l = one->forward(tokens[size_t(i)], i);
                if (i == n - 1) want.assign(l, l + vocab);
            }
            const float* got = batched->forward_batch(tokens.data(), n, 0, BatchLogits::Last);
            float max_err = 0;
            for (int i = 0; i < vocab; ++i) max_err = std::max(max_err, std::fabs(got[i] - want[size_t(i)]));
            EXPECT_LT(max_err, 1e-3f);
            EXPECT_EQ(sample_argmax(got, vocab), sample_argmax(want.data(), vocab));
            ++tried;
        }
    }
    EXPECT_GE(tried, 4);  // cpu-ref, openmp and hls-csim at least, in both modes
}

}  // namespace
}  // namespace lhb::bench
