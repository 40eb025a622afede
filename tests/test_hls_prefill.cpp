// llama_forward's prefill mode (a prompt block through the layers at once, each weight beat
// applied to every token of the block) through hls-csim's forward_batch, against cpu-ref
// token by token; and its estimate, by hand on a small shape.
//
// Tolerance: the end-to-end logits tolerance of the decode C-simulation tests
// (core/correctness.cpp's logits_tolerance: fp32 2e-4 + 1e-4 |logit|, int8 0.5 abs), for the
// same reason: the kernels sum in another order than llama2.c (the block engines one beat's
// four products through a tree, then beat after beat into the token's accumulator; the
// decode ops as in decode), the last-bit differences grow through the layers and the KV
// cache, and int8 turns some of them into a flipped quantization step. The decode that
// follows a prompt is checked too: it reads the K and V rows the prefill wrote.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <regex>
#include <vector>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "backends/hls_csim/hls_csim.hpp"
#include "core/correctness.hpp"
#include "core/error.hpp"
#include "core/quantize.hpp"
#include "core/synth.hpp"
#include "host/estimator.hpp"
#include "host/trace.hpp"
#include "kernels/primitives/weight_stream.hpp"
#include "tests/backend_fixtures.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

using test::make_hls_csim;
using test::prompt_of;


// The largest |candidate - reference| over `n` logits, failing on one outside `tol` or not finite.
double expect_logits_near(const float* got, const float* want, int n, const Tolerance& tol, const std::string& where) {
    double worst = 0;
    for (int i = 0; i < n; ++i) {
        const double err = std::fabs(double(got[i]) - double(want[i]));
        if (!std::isfinite(got[i]) || err > tol.abs + tol.rel * std::fabs(double(want[i]))) {
            ADD_FAILURE() << where << ": logit " << i << " is " << got[i] << ", cpu-ref " << want[i];
            return err;
        }
        worst = std::max(worst, err);
    }
    return worst;
}

// A prompt of n tokens through hls-csim's forward_batch (in prompts of `split` tokens, each
// continuing the cache) with every position's logits, and again in one call with the last
// one's only, both followed by one decoded token; against cpu-ref's forward() token by token.
// Returns the largest logit error.
double expect_prefill_matches(const Model& m, int n, int split) {
    const int vocab = m.config().vocab_size;
    const std::vector<int> tokens = prompt_of(n + 1, vocab, n + split);
    const Tolerance tol = logits_tolerance(m.dtype());
    CpuRefBackend ref;
    ref.load(m);
    const int positions = std::min(n + 1, m.config().seq_len);  // the prompt, and the token after it if it fits
    std::vector<float> want(size_t(positions) * size_t(vocab));
    for (int i = 0; i < positions; ++i)
        std::memcpy(want.data() + size_t(i) * size_t(vocab), ref.forward(tokens[size_t(i)], i),
                    size_t(vocab) * sizeof(float));
    auto row = [&](int i) { return want.data() + size_t(i) * size_t(vocab); };
    double worst = 0;

    auto all = make_hls_csim(true);
    all->load(m);
    std::vector<float> got(size_t(n) * size_t(vocab));
    for (int first = 0; first < n; first += split) {
        const int len = std::min(split, n - first);
        const float* last = all->forward_batch(tokens.data() + first, len, first, BatchLogits::All,
                                               got.data() + size_t(first) * size_t(vocab));
        EXPECT_EQ(std::memcmp(last, got.data() + size_t(first + len - 1) * size_t(vocab), size_t(vocab) * sizeof(float)), 0);
    }
    for (int i = 0; i < n; ++i)
        worst = std::max(worst, expect_logits_near(got.data() + size_t(i) * size_t(vocab), row(i), vocab, tol,
                                                   "every logit, position " + std::to_string(i)));
    if (n < m.config().seq_len)
        worst = std::max(worst, expect_logits_near(all->forward(tokens[size_t(n)], n), row(n), vocab, tol,
                                                   "decoding after the prompt (all logits)"));

    auto last_only = make_hls_csim(true);
    last_only->load(m);
    worst = std::max(worst, expect_logits_near(last_only->forward_batch(tokens.data(), n, 0, BatchLogits::Last),
                                               row(n - 1), vocab, tol, "the last logits"));
    if (n < m.config().seq_len)
        worst = std::max(worst, expect_logits_near(last_only->forward(tokens[size_t(n)], n), row(n), vocab, tol,
                                                   "decoding after the prompt (last logits)"));
    return worst;
}

// Prompts of one token, of more than a block and not a whole number of them, continuing a
// cache in pieces, and one filling the context.
void expect_prefill_cases(const Model& m) {
    const int T = lhk::kPrefillTokens;
    expect_prefill_matches(m, 1, 1);
    expect_prefill_matches(m, std::min(2 * T + 5, m.config().seq_len - 1), 1000);
    expect_prefill_matches(m, T + 9, 11);
    EXPECT_GT(expect_prefill_matches(m, m.config().seq_len, T + 3), 0.0) << "the arithmetic differs in order";
}

TEST(HlsPrefill, Stories260KFp32MatchesCpuRefTokenByToken) {
    LHB_REQUIRE_MODELS();
    Model m = Model::open(test::model_path("stories260K.bin"));
    const int T = lhk::kPrefillTokens;
    expect_prefill_matches(m, 1, 1);
    expect_prefill_matches(m, 3 * T + 7, 1000);
    expect_prefill_matches(m, 100, 17);
}

TEST(HlsPrefill, Stories260KInt8MatchesCpuRefInt8TokenByToken) {
    LHB_REQUIRE_MODELS();
    test::TempDir tmp;
    write_q8_model(Model::open(test::model_path("stories260K.bin")), tmp.file("q8.bin"), 4);
    Model m = Model::open(tmp.file("q8.bin"));
    ASSERT_EQ(m.dtype(), DType::Q8_0);
    const int T = lhk::kPrefillTokens;
    expect_prefill_matches(m, 1, 1);
    expect_prefill_matches(m, 2 * T + 3, 1000);
    expect_prefill_matches(m, 45, 20);
}

// Grouped-query attention (6 heads on 2 KV heads, head_size 8), a context of 70: the
// prompts fill it (blocks of 32: two full ones and one of 6).
constexpr const char* kGqaShape = "dim=48,hidden=96,layers=2,heads=6,kv_heads=2,vocab=97,seq=70";

TEST(HlsPrefill, GroupedQueryShapeFp32) {
    test::TempDir tmp;
    write_synthetic_model(parse_shape(kGqaShape), tmp.file("gqa.bin"), 5);
    expect_prefill_cases(Model::open(tmp.file("gqa.bin")));
}

// int8 in groups of 12: two slices a group, the second half padding.
TEST(HlsPrefill, GroupedQueryShapeInt8) {
    test::TempDir tmp;
    write_synthetic_model(parse_shape(kGqaShape), tmp.file("gqa.bin"), 6);
    write_q8_model(Model::open(tmp.file("gqa.bin")), tmp.file("gqa8.bin"), 12);
    Model m = Model::open(tmp.file("gqa8.bin"));
    ASSERT_EQ(m.dtype(), DType::Q8_0);
    expect_prefill_cases(m);
}

// The stories15M shape (synthetic weights): dim 288, the vocabulary of 32000 that makes
// every-position logits take several kernel runs per block. One prompt of a block and a
// few tokens (two blocks), in fp32 and int8 (groups of 48).
TEST(HlsPrefill, Stories15MShapeFp32AndInt8) {
#ifdef __SANITIZE_ADDRESS__
    GTEST_SKIP() << "~45 s in the release build, minutes under AddressSanitizer: the prefill mode's memory "
                    "accesses are checked there at stories260K and the grouped-query shape";
#endif
    test::TempDir tmp;
    write_synthetic_model(parse_shape("stories15M"), tmp.file("15m.bin"), 7);
    const int n = lhk::kPrefillTokens + 5;
    expect_prefill_matches(Model::open(tmp.file("15m.bin")), n, 1000);
    write_q8_model(Model::open(tmp.file("15m.bin")), tmp.file("15m8.bin"), 48);
    Model q8 = Model::open(tmp.file("15m8.bin"));
    ASSERT_EQ(q8.dtype(), DType::Q8_0);
    expect_prefill_matches(q8, n, 1000);
}

// ---- The estimate, by hand -------------------------------------------------------------

hls::BoardSpec zcu106() { return hls::load_board(test::source_dir() + "/configs/boards/zcu106.json"); }

const hls::LoopSummary* find_loop(const hls::TokenEstimate& e, const std::string& name) {
    for (const hls::LoopSummary& l : e.loops)
        if (l.name == name) return &l;
    return nullptr;
}

// stories260K (dim 64, hidden 172, 5 layers, kv_dim 32) in fp32: a full block's matrices on engine
// 0 (rows r, r + 4, ...: ceil(rows / 4) of them) and their beats (max(cols / 4, 8)):
//   wq 16 x 16, wk 8 x 16, wv 8 x 16, wo 16 x 16, w1 43 x 16, w3 43 x 16, w2 16 x 43
//   = 2832 beats a layer, each held for kPrefillGroups = 8 clocks: 22656 trips a layer.
// Each matmul's engine loop is (trips - 1) * II + depth + 2 (entry and exit) with II 1 and
// depth io + memory read + fmul + two adder levels + accumulator + io = 1 + 2 + 4 + 10 + 5 + 1
// = 23 at 300 MHz (ZCU106 file: fmul 4, fadd 5). Its weights: one stream a block, 16 bytes a
// beat: 2832 * 16 * 5 layers a port; the memory model's supply (four ports, 51.2 B a cycle
// of usable DDR) is far above what 64 MACs a clock take, so the engines bound the block.
TEST(HlsPrefillEstimate, BlockEnginesCountedByHandAtStories260K) {
    const ModelConfig c = parse_shape("stories260K");
    const hls::BoardSpec board = zcu106();
    const hls::Trace t = hls::trace_prefill(c, 0, lhk::kPrefillTokens, 0, lhk::kPromptLogitsNone);
    const hls::TokenEstimate e = hls::estimate_token(t, c, 0, hls::compiled_design(), board, 0);
    const hls::LoopSummary* eng = find_loop(e, "mat_block_engine");
    ASSERT_NE(eng, nullptr);
    EXPECT_EQ(eng->runs, 7 * 5);
    EXPECT_EQ(eng->trips, 22656 * 5);
    EXPECT_EQ(eng->ii, 1);
    EXPECT_EQ(eng->depth, 23);
    EXPECT_DOUBLE_EQ(eng->cycles, double(22656 * 5) + 35 * (-1 + 23 + 2));
    // The weights: one stream a block, no classifier (no logits asked for).
    const hls::LoopSummary* read = find_loop(e, "weight_read");
    ASSERT_NE(read, nullptr);
    const lhk::ModelDims dims = hls::DeviceLayout::of(c, "t", 0).dims;
    EXPECT_EQ(lhk::layers_weight_beats(dims, 0), int64_t(2832) * 5);
    int64_t weight_bytes = 0;
    for (int p = 0; p < 4; ++p) weight_bytes += lhk::layers_weight_beats(dims, p) * 16;
    EXPECT_EQ(read->bytes, weight_bytes);
    EXPECT_FALSE(find_loop(e, "mat_engine"));  // no classifier
    // The row results of q, k, v and w1 copied out, a token's row (rows / 4 trips) after
    // another: 32 x (16 + 8 + 8 + 43) = 2400 trips a layer, each copy (trips - 1) + 3 + 2.
    const hls::LoopSummary* copy = find_loop(e, "block_copy");
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(copy->trips, 2400 * 5);
    EXPECT_DOUBLE_EQ(copy->cycles, double(2400 * 5) + 20 * (-1 + 3 + 2));
    // Compute-bound: the block's matmuls take their engines and copies, and little more (the
    // first beats' waits); an engine takes 8 clocks a beat where the DDR's 51.2 bytes a cycle
    // bring a beat to each of the four ports every 1.25 clocks, so the weights' bytes alone
    // would take 6.4 times less (engine 0 has the most rows: a bit more than 6.4).
    const double matmul = e.kernel_op_cycles.at("matmul-block");
    EXPECT_GE(matmul, eng->cycles + copy->cycles);
    EXPECT_LE(matmul, eng->cycles + copy->cycles + 35 * 10.0);
    EXPECT_GT(matmul, 6.4 * double(weight_bytes) / 51.2);
    EXPECT_LT(eng->cycles, 7.0 * double(weight_bytes) / 51.2);
    // A block of one token runs the same engine loop (all 8 token groups), copies one row.
    const hls::TokenEstimate one =
        hls::estimate_token(hls::trace_prefill(c, 0, 1, 0, lhk::kPromptLogitsNone), c, 0, hls::compiled_design(), board, 0);
    EXPECT_DOUBLE_EQ(find_loop(one, "mat_block_engine")->cycles, eng->cycles);
    EXPECT_EQ(find_loop(one, "block_copy")->trips, 75 * 5);
}

// The prompt estimate: one kernel run per block, the classifier once (the last run's: its
// weights read once, not once per token as in decoding), a block of 1 token nearly as long
// as a full one (its engines run all 8 token groups), the host's runs and the last logits.
TEST(HlsPrefillEstimate, PromptRunsBlocksAndTheClassifierOnce) {
    const ModelConfig c = parse_shape("stories260K");
    const hls::BoardSpec board = zcu106();
    const hls::PrefillEstimate one = hls::estimate_prefill(c, 0, 1, board);
    const hls::PrefillEstimate full = hls::estimate_prefill(c, 0, lhk::kPrefillTokens, board);
    const hls::PrefillEstimate p = hls::estimate_prefill(c, 0, 2 * lhk::kPrefillTokens + 1, board);
    EXPECT_EQ(one.blocks, 1);
    EXPECT_EQ(full.blocks, 1);
    EXPECT_EQ(p.blocks, 3);
    EXPECT_GT(one.kernel_op_cycles.at("matmul-block"), 0.85 * full.kernel_op_cycles.at("matmul-block"));
    const double cls_one = one.kernel_op_cycles.at("matmul"), cls_p = p.kernel_op_cycles.at("matmul");
    EXPECT_NEAR(cls_p, cls_one, 0.05 * cls_one);  // the classifier once, whatever the prompt's length
    EXPECT_GT(p.seconds, full.seconds);
    EXPECT_DOUBLE_EQ(p.seconds, p.kernel_seconds + p.host_seconds);
    EXPECT_DOUBLE_EQ(p.host_seconds, (3 * (board.host_launch_us + board.host_tokens_sync_us) + board.host_sync_us +
                                      board.host_sampling_us) * 1e-6);
    EXPECT_DOUBLE_EQ(p.tok_per_s, p.tokens / p.seconds);
    EXPECT_TRUE(p.resources.fits);
    // Decoding the same prompt reads every weight once a token: prefill beats it many times.
    const double decode = hls::mean_token_seconds(c, 0, p.tokens, hls::compiled_design(), board) * p.tokens;
    EXPECT_GT(decode / p.seconds, 3.0);
    EXPECT_THROW(hls::estimate_prefill(c, c.seq_len - 1, 2, board), InputError);
}

// The backend's hook gives the same figures, and nothing before a model is loaded.
TEST(HlsPrefillEstimate, DeviceModelHook) {
    LHB_REQUIRE_MODELS();
    auto b = make_hls_csim(true);
    EXPECT_FALSE(b->estimate_prefill(0, 8).has_value());
    Model m = Model::open(test::model_path("stories260K.bin"));
    b->load(m);
    const auto d = b->estimate_prefill(0, 40);
    ASSERT_TRUE(d.has_value());
    const hls::PrefillEstimate p = hls::estimate_prefill(m.config(), 0, 40, zcu106());
    EXPECT_DOUBLE_EQ(d->token_seconds, p.seconds);
    EXPECT_EQ(d->detail.at("kernel_runs"), 2);
    EXPECT_EQ(d->detail.at("label"), "estimated");
}

}  // namespace
}  // namespace lhb

namespace lhb {
namespace {

// bench estimate --prompt: the prefill figures beside the decode ones, labeled estimated, in
// the tables and the JSON; a prompt past the context is one line and exit 1.
TEST(HlsPrefillEstimate, BenchEstimatePrompt) {
    const auto t = test::run_bench("estimate --shape stories260K --prompt 40");
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_NE(t.out.find("estimated prefill of a 40-token prompt from position 0 (2 kernel runs"), std::string::npos)
        << t.out;
    EXPECT_NE(t.out.find("time to first token"), std::string::npos);
    const auto j = test::run_bench("estimate --shape stories260K --prompt 40 --precision int8 --json");
    ASSERT_EQ(j.exit_code, 0) << j.err;
    const nlohmann::json doc = nlohmann::json::parse(j.out);
    EXPECT_EQ(doc.at("prefill").at("label"), "estimated");
    EXPECT_EQ(doc.at("prefill").at("kernel_runs"), 2);
    EXPECT_GT(doc.at("prefill").at("speedup_over_decode_estimated").get<double>(), 1.0);
    const auto bad = test::run_bench("estimate --shape stories260K --pos 500 --prompt 40");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("--prompt: expected 1..12 tokens from position 500, found 40"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace lhb

namespace lhb {
namespace {

// zcu106-xrt sets llama_forward's arguments by position (ForwardArg in backends/xrt/
// xrt_backend.cpp, not compiled here without XRT): its scalars are the kernel's, in the
// kernel's order, prompt and prompt_logits included, and the buffers follow at kW0.
TEST(HlsPrefill, XrtForwardArgumentsAreTheKernelsInOrder) {
    const std::string hpp = test::read_file(test::source_dir() + "/kernels/llama_kernels.hpp");
    const size_t at = hpp.find("void llama_forward(");
    ASSERT_NE(at, std::string::npos);
    const std::string params = hpp.substr(at, hpp.find(')', at) - at);
    std::vector<std::string> names;
    const std::regex last_word(R"(([A-Za-z_]\w*)\s*(,|$))");
    for (auto it = std::sregex_iterator(params.begin(), params.end(), last_word); it != std::sregex_iterator(); ++it)
        names.push_back((*it)[1]);
    const std::vector<std::string> want = {"token", "pos", "steps", "prompt", "prompt_logits", "dims", "w0", "w1",
                                           "w2", "w3", "t0", "t1", "t2", "t3", "kv0", "kv1", "kv2", "kv3",
                                           "logits", "tokens"};
    EXPECT_EQ(names, want);
    const std::string xrt = test::read_file(test::source_dir() + "/backends/xrt/xrt_backend.cpp");
    const size_t e = xrt.find("enum ForwardArg {");
    ASSERT_NE(e, std::string::npos);
    const std::string body = xrt.substr(e, xrt.find('}', e) - e);
    const std::regex entry(R"(\b(k[A-Z]\w*)\s*(=\s*0)?\s*,)");
    std::vector<std::string> scalars;
    for (auto it = std::sregex_iterator(body.begin(), body.end(), entry); it != std::sregex_iterator(); ++it) {
        if ((*it)[1] == "kW0") break;
        scalars.push_back((*it)[1]);
    }
    EXPECT_EQ(scalars, (std::vector<std::string>{"kToken", "kPos", "kSteps", "kPrompt", "kPromptLogits", "kDims"}));
    EXPECT_NE(xrt.find("forward_(token, pos, steps, prompt, prompt_logits, dims,"), std::string::npos);
}

}  // namespace
}  // namespace lhb
