// Greedy decoding on the device: llama_forward with steps > 0 keeps the logits on chip,
// takes each token's argmax as the next token and writes only the ids. Checked here: the
// kernel's argmax against llama2.c's sample_argmax (ties, NaN, infinities, fp32 and int8
// engines), the whole
// decode against the same kernels driven token by token from the host, the ids' read-back,
// and the estimate of the mode (no logits leave the chip; the host's share per token).
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "backends/hls_csim/hls_csim.hpp"
#include "core/error.hpp"
#include "core/quantize.hpp"
#include "core/sampler.hpp"
#include "core/synth.hpp"
#include "host/estimator.hpp"
#include "host/packing.hpp"
// The primitives themselves (their loop labels name loops for Vitis; g++ sees them unused).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-label"
#include "kernels/primitives/matmul.hpp"
#include "kernels/primitives/matmul_q8.hpp"
#include "kernels/primitives/weight_stream.hpp"
#pragma GCC diagnostic pop
#include "tests/test_support.hpp"

namespace lhb {
namespace {

using Banks = float[lhk::kWeightPorts][lhk::kMaxRowsPerPort];
constexpr int kCols = 16;

// The classifier's argmax as the kernels find it (the engines' running maxima, combined)
// for logits v: a matrix whose first column is v, times x = (1, 0, 0, ...), so that every
// row's result is exactly its v. fp32 weights, or int8 ones when v holds small integers.
int kernel_argmax(const std::vector<float>& v, bool int8) {
    const int rows = int(v.size());
    std::vector<float> storage(size_t(lhk::kWeightPorts) * lhk::kMaxRowsPerPort, 0.0f);
    auto* yb = reinterpret_cast<Banks*>(storage.data());
    std::vector<float> w(size_t(rows) * kCols, 0.0f), x(kCols, 0.0f);
    std::vector<int8_t> q(size_t(rows) * kCols, 0);
    std::vector<float> scales(size_t(rows), 1.0f);
    for (int r = 0; r < rows; ++r) {
        w[size_t(r) * kCols] = v[size_t(r)];
        if (int8) q[size_t(r) * kCols] = int8_t(v[size_t(r)]);  // small integers only
    }
    x[0] = 1.0f;
    WeightMatrix m;
    m.rows = rows;
    m.cols = kCols;
    if (int8) {
        m.dtype = DType::Q8_0;
        m.q = q.data();
        m.scales = scales.data();
        m.group_size = kCols;
    } else {
        m.f32 = w.data();
    }
    const hls::PackedMatrix pm = hls::pack_matrix(m);
    const auto p = pm.ports();
    const int gs = int8 ? kCols : 0;
    lhk::Stream<lhk::Beat> s[lhk::kWeightPorts];
    for (int e = 0; e < lhk::kWeightPorts; ++e) lhk::stream_region(p[size_t(e)], 0, lhk::engine_beats(rows, kCols, gs, e), s[e]);
    if (!int8)
        return lhk::matmul_classify(s[0], s[1], s[2], s[3], x.data(), nullptr, rows, kCols, false, lhk::kIoPort, *yb);
    int8_t xq[kCols] = {1};
    float xs[1] = {1.0f};
    return lhk::matmul_q8_classify(s[0], s[1], s[2], s[3], xq, xs, nullptr, rows, kCols, kCols, false, lhk::kIoPort,
                                   *yb);
}

TEST(DeviceGreedy, KernelArgmaxIsSampleArgmax) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> small(-3, 3);  // few distinct values: many ties
    for (int rows : {1, 2, 3, 4, 5, 7, 8, 9, 37, 512, 32000}) {
        for (int pattern = 0; pattern < 9; ++pattern) {
            SCOPED_TRACE("rows " + std::to_string(rows) + ", pattern " + std::to_string(pattern));
            std::vector<float> v(static_cast<size_t>(rows), 0.0f);
            for (float& x : v) x = float(small(rng));
            const bool integers = pattern == 0 || pattern == 5 || pattern == 7 || pattern == 8;
            switch (pattern) {
                case 1: v[0] = nan; break;                         // nothing beats a NaN first
                case 2: v[size_t(rows / 2)] = nan; break;          // a NaN elsewhere never wins
                case 3: for (float& x : v) x = -inf; break;        // all -inf: row 0
                case 4: v[size_t(rows - 1)] = inf; break;          // +inf wins
                case 5: for (float& x : v) x = 1.0f; break;        // all equal: row 0
                case 6: for (size_t i = 0; i < v.size(); i += 3) v[i] = nan; break;
                case 7: v[size_t(rows - 1)] = 100.0f; v[size_t(rows / 3)] = 100.0f; break;  // first of a tie
                case 8: v[size_t(rows - 1)] = 9.0f; break;         // the last row, on the last engine
                default: break;
            }
            const int expected = sample_argmax(v.data(), rows);
            EXPECT_EQ(kernel_argmax(v, false), expected) << "fp32";
            if (integers) {
                EXPECT_EQ(kernel_argmax(v, true), expected) << "int8";
            }
        }
    }
}

// The kernels' greedy decode in one llama_forward call equals the same kernels run a token
// at a time with the argmax on the host (Backend::decode_greedy over forward()).
void expect_device_decode_is_host_decode(const std::string& path, int chunk) {
    Model model = Model::open(path);
    const int n = model.config().seq_len;
    auto host_side_backend = make_hls_csim_backend(BackendOptions{}), device_backend = make_hls_csim_backend(BackendOptions{});
    HlsDeviceBackend &host_side = *host_side_backend, &device = *device_backend;
    host_side.load(model);
    device.load(model);
    std::vector<int> expected, got;
    host_side.Backend::decode_greedy(1, 0, n, expected);
    ASSERT_FALSE(expected.empty());
    int pos = 0, token = 1;
    while (pos < n) {
        const size_t before = got.size();
        const int k = device.decode_greedy(token, pos, chunk, got);
        ASSERT_EQ(size_t(k), got.size() - before);
        ASSERT_GT(k, 0);
        pos += k;
        token = got.back();
        if (token == 1) break;
    }
    EXPECT_EQ(got, expected);
    // Distinct tokens: the decode is not a fixed point that any argmax would reproduce.
    std::vector<int> distinct = expected;
    std::sort(distinct.begin(), distinct.end());
    EXPECT_GT(std::unique(distinct.begin(), distinct.end()) - distinct.begin(), 3);
}

TEST(DeviceGreedy, HlsCsimDecodeEqualsHostArgmaxFp32) {
    test::TempDir tmp;
    const std::string fp = tmp.file("m.bin");
    write_synthetic_model(parse_shape("stories260K"), fp, 21);
    expect_device_decode_is_host_decode(fp, 256);  // the whole sequence in one run
    expect_device_decode_is_host_decode(fp, 16);   // bench generate's chunks
}

TEST(DeviceGreedy, HlsCsimDecodeEqualsHostArgmaxInt8) {
    test::TempDir tmp;
    const std::string fp = tmp.file("m.bin"), q8 = tmp.file("m.q8.bin");
    write_synthetic_model(parse_shape("stories260K"), fp, 22);
    write_q8_model(Model::open(fp), q8, 4);
    expect_device_decode_is_host_decode(q8, 256);
    expect_device_decode_is_host_decode(q8, 5);
}

TEST(DeviceGreedy, DecodeStopsAtTheEndOfTheSequence) {
    test::TempDir tmp;
    const std::string fp = tmp.file("m.bin");
    write_synthetic_model(parse_shape("stories260K"), fp, 23);
    Model model = Model::open(fp);
    auto device_backend = make_hls_csim_backend(BackendOptions{});
    HlsDeviceBackend& device = *device_backend;
    device.load(model);
    const int seq = model.config().seq_len;
    std::vector<int> out;
    EXPECT_LE(device.decode_greedy(1, seq - 3, 100, out), 3);
    EXPECT_LE(out.size(), 3u);
    EXPECT_THROW(device.decode_greedy(1, seq, 1, out), InputError);
    EXPECT_THROW(device.decode_greedy(model.config().vocab_size, 0, 1, out), InputError);
}

TEST(DeviceGreedy, TokenIdsReadBackStopAtBosAndRejectStrangers) {
    std::vector<lhk::Beat> beats(3);
    const int ids[] = {5, 9, 2, 7, 1, 4, 4, 4};
    for (int i = 0; i < 8; ++i) beats[size_t(i / 4)].v[i % 4] = lhk::float_of(uint32_t(ids[i]));
    std::vector<int> out;
    EXPECT_EQ(hls::read_token_ids(beats.data(), 8, 10, "test", out), 5);
    EXPECT_EQ(out, (std::vector<int>{5, 9, 2, 7, 1}));
    out.clear();
    EXPECT_EQ(hls::read_token_ids(beats.data(), 3, 10, "test", out), 3);
    beats[0].v[1] = lhk::float_of(uint32_t(10));  // outside a vocabulary of 10
    out.clear();
    EXPECT_THROW(hls::read_token_ids(beats.data(), 8, 10, "test", out), InputError);
    beats[0].v[1] = lhk::float_of(uint32_t(-3));
    EXPECT_THROW(hls::read_token_ids(beats.data(), 8, 10, "test", out), InputError);
}

TEST(DeviceGreedy, EstimateKeepsTheLogitsOnChip) {
    const hls::BoardSpec board = hls::load_board(hls::default_board_path());
    const ModelConfig c = parse_shape("stories15M");
    for (int gs : {0, 48}) {
        SCOPED_TRACE("group size " + std::to_string(gs));
        const auto sampled = hls::estimate_token(c, 5, hls::compiled_design(), board, gs);
        const auto greedy =
            hls::estimate_token(c, 5, hls::compiled_design(), board, gs, hls::DecodeMode::DeviceGreedy, 16);
        auto loop = [](const hls::TokenEstimate& e, const std::string& name) -> const hls::LoopSummary* {
            for (const auto& l : e.loops)
                if (l.name == name) return &l;
            return nullptr;
        };
        ASSERT_NE(loop(sampled, "mat_store_ddr"), nullptr);
        EXPECT_EQ(loop(greedy, "mat_store_ddr"), nullptr);
        // The argmax costs no loop: the engines keep their largest row as they write.
        EXPECT_EQ(greedy.loops.size() + 1, sampled.loops.size());
        // Nothing leaves on the io port: the logits stay on chip.
        EXPECT_EQ(sampled.port_bytes.back(), int64_t(c.vocab_size) * 4);
        EXPECT_EQ(greedy.port_bytes.back(), 0);
        EXPECT_LT(greedy.kernel_cycles, sampled.kernel_cycles);
        EXPECT_NEAR(sampled.host_seconds,
                    1e-6 * (board.host_launch_us + board.host_sync_us + board.host_sampling_us), 1e-12);
        EXPECT_NEAR(greedy.host_seconds,
                    1e-6 * ((board.host_launch_us + board.host_tokens_sync_us) / 16 + board.host_piece_us), 1e-12);
        EXPECT_EQ(greedy.to_json().at("decode_mode"), "device-greedy");
        EXPECT_EQ(greedy.to_json().at("greedy_tokens_per_run"), 16);
    }
    // A design from a file models the argmax loop too (its loops are not simulated).
    const hls::DesignSpec published = hls::load_design(test::source_dir() + "/configs/designs/published-zcu106.json");
    const auto e = hls::estimate_token(c, 0, published, board, 0, hls::DecodeMode::DeviceGreedy, 16);
    EXPECT_GT(e.tok_per_s, 0);
}

}  // namespace
}  // namespace lhb
