// The HLS kernels with 4-bit weights (GGUF Q4_0, Q4_K; Q6_K as 8-bit codes): the on-chip
// activation quantizer against cpu-ref's Q8_0 / Q8_K quantizers, the repacked layout against
// an independent reader (every element equals ggml's dequantized value bit for bit), the
// 4-bit matmul against cpu-ref's Q4_0 / Q4_K / Q6_K matmul, llama.cpp's Q4_0 and Q4_K_M files
// and a synthetic stories15M-shaped Q4_0 model end to end on hls-csim against cpu-ref, the
// refusals, and the prefill mode doing nothing for 4-bit dims.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "backends/hls_csim/hls_csim.hpp"
#include "core/error.hpp"
#include "core/quant_types.hpp"
#include "core/synth.hpp"
#include "host/estimator.hpp"
#include "host/packing.hpp"
#include "host/shape_trace.hpp"
#include "kernels/llama_kernels.hpp"
// The quantizer primitive itself (its loop labels name loops for Vitis; g++ sees them unused).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-label"
#include "kernels/primitives/matmul_q4.hpp"
#pragma GCC diagnostic pop
#include "tests/backend_fixtures.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

using test::make_hls_csim;

// A GGUF-typed matrix made by our quantizers (byte-identical to llama-quantize's).
struct GgmlMatrix {
    std::vector<unsigned char> blocks;
    WeightMatrix view;
    GgmlMatrix(GgmlType t, int rows, int cols, const std::vector<float>& values) {
        const size_t stride = row_bytes(t, size_t(cols));
        blocks.resize(stride * size_t(rows));
        for (int r = 0; r < rows; ++r)
            quantize_row(t, values.data() + size_t(r) * size_t(cols), blocks.data() + stride * size_t(r), size_t(cols));
        view.dtype = DType::Ggml;
        view.ggml_type = t;
        view.rows = rows;
        view.cols = cols;
        view.blocks = blocks.data();
    }
    GgmlMatrix(const GgmlMatrix&) = delete;
    GgmlMatrix& operator=(const GgmlMatrix&) = delete;
};

std::vector<float> normal_values(size_t n, std::mt19937& rng, float sd = 1.0f) {
    std::normal_distribution<float> nd(0.0f, sd);
    std::vector<float> v(n);
    for (float& x : v) x = nd(rng);
    return v;
}

std::string gguf_path(const std::string& name) { return test::model_path("gguf/" + name); }

// ---- The activation quantizer --------------------------------------------------------------

TEST(HlsQ4, HalfRoundingIsFp16sRoundTrip) {
    std::mt19937 rng(3);
    std::vector<float> v = {0.0f, -0.0f, 1.0f, 65504.0f, 65519.99f, 65520.0f, 1e9f, 6.1e-5f, 6.0e-5f, 5.96e-8f,
                            2.98e-8f, 2.99e-8f, 1e-10f, -3.0e-6f, std::numeric_limits<float>::infinity()};
    std::uniform_int_distribution<uint32_t> bits;
    for (int i = 0; i < 200000; ++i) {
        const float f = lhk::float_of(bits(rng));
        if (f == f) v.push_back(f);
    }
    for (float f : v)
        ASSERT_EQ(lhk::bits_of(lhk::half_rounded(f)), lhk::bits_of(fp16_to_fp32(fp32_to_fp16(f)))) << f;
    EXPECT_TRUE(std::isnan(lhk::half_rounded(std::nanf(""))));
}

// quantize_q4 against cpu-ref's quantize_row_q8_0 (Q4_0's activations) and quantize_row_q8_K
// (Q4_K's and Q6_K's): the same int8 values and scales, ties, zeros, NaN and infinity included.
TEST(HlsQ4, QuantizerIsCpuRefsQ8_0AndQ8_K) {
    std::mt19937 rng(5);
    const int n = 768;
    for (int trial = 0; trial < 6; ++trial) {
        SCOPED_TRACE(trial);
        std::vector<float> x = normal_values(size_t(n), rng, trial == 0 ? 1e-3f : 2.0f);
        if (trial == 1)
            for (int i = 0; i < n; ++i) x[size_t(i)] = float((i * 37) % 255 - 127) / 2.0f;  // ties: k + 0.5
        if (trial == 2) std::fill(x.begin(), x.begin() + 256, 0.0f);                    // an all-zero block
        if (trial == 3) x[40] = std::nanf("");
        if (trial == 4) x[300] = std::numeric_limits<float>::infinity();
        if (trial == 5) x[7] = -x[5] * 1000.0f, x[9] = -x[7];  // the extreme's first on a tie of magnitudes
        for (int format : {lhk::kQ4FormatQ4_0, lhk::kQ4FormatQ4_K}) {
            std::vector<int8_t> q(static_cast<size_t>(n));
            std::vector<float> s(static_cast<size_t>(n / 32));
            lhk::quantize_q4(x.data(), n, format, q.data(), s.data());
            if (format == lhk::kQ4FormatQ4_0) {
                std::vector<unsigned char> want(size_t(n / 32) * sizeof(BlockQ8_0));
                quantize_row_q8_0(x.data(), want.data(), size_t(n));
                for (int b = 0; b < n / 32; ++b) {
                    BlockQ8_0 blk;
                    std::memcpy(&blk, want.data() + size_t(b) * sizeof blk, sizeof blk);
                    const float d = fp16_to_fp32(blk.d);
                    ASSERT_TRUE(lhk::bits_of(s[size_t(b)]) == lhk::bits_of(d) || (std::isnan(d) && std::isnan(s[size_t(b)])))
                        << "block " << b;
                    for (int j = 0; j < 32; ++j) ASSERT_EQ(q[size_t(b * 32 + j)], blk.qs[j]) << "element " << b * 32 + j;
                }
            } else {
                std::vector<BlockQ8_K> want(static_cast<size_t>(n / 256));
                quantize_row_q8_K(x.data(), want.data(), size_t(n));
                for (int b = 0; b < n / 256; ++b) {
                    ASSERT_EQ(lhk::bits_of(s[size_t(b)]), lhk::bits_of(want[size_t(b)].d)) << "block " << b;
                    for (int j = 0; j < 256; ++j)
                        ASSERT_EQ(q[size_t(b * 256 + j)], want[size_t(b)].qs[j]) << "element " << b * 256 + j;
                }
            }
        }
    }
}

// ---- The repack ------------------------------------------------------------------------------

// An independent reader of the documented layout: element (r, c) of a packed matrix, from
// its row's beats (llama_layout.hpp's 4-bit section).
float packed_element(const hls::PackedMatrix& pm, int format, int r, int c) {
    const int rb = lhk::q4_row_beats(pm.cols, format), gcols = format == lhk::kQ4FormatBytes ? 16 : 32;
    const lhk::Beat* row = pm.port[size_t(r % 4)].data() + int64_t(r / 4) * rb;
    const int g = c / gcols, chunk = g / 2, slot = g % 2;
    const lhk::Beat& sb = row[chunk * 3];
    const auto* w = reinterpret_cast<const unsigned char*>(&row[chunk * 3 + 1 + slot]);
    const int k = c % gcols;
    const int u = format == lhk::kQ4FormatBytes ? w[k] : (w[k / 2] >> (4 * (k % 2))) & 15;
    const float scale = sb.v[2 * slot], min = sb.v[2 * slot + 1];
    const int zero = format == lhk::kQ4FormatQ4_0 ? 8 : 0;
    return scale * float(u - zero) - min;
}

TEST(HlsQ4, RepackedElementsAreGgmlsDequantizedValuesBitForBit) {
    std::mt19937 rng(11);
    struct Case {
        GgmlType type;
        int format, rows, cols;
    };
    for (const Case& k : {Case{GgmlType::Q4_0, lhk::kQ4FormatQ4_0, 37, 288}, Case{GgmlType::Q4_0, lhk::kQ4FormatQ4_0, 6, 32},
                          Case{GgmlType::Q4_K, lhk::kQ4FormatQ4_K, 21, 512}, Case{GgmlType::Q6_K, lhk::kQ4FormatBytes, 19, 768}}) {
        SCOPED_TRACE(std::string(ggml_type_name(uint32_t(k.type))) + " " + std::to_string(k.rows) + "x" +
                     std::to_string(k.cols));
        const GgmlMatrix m(k.type, k.rows, k.cols, normal_values(size_t(k.rows) * size_t(k.cols), rng, 0.05f));
        const hls::PackedMatrix pm = hls::pack_matrix(m.view);
        EXPECT_EQ(pm.group_size, lhk::q4_matmul_code(k.format));
        std::vector<float> want(static_cast<size_t>(k.cols));
        const size_t stride = row_bytes(k.type, size_t(k.cols));
        int64_t nonzero = 0;
        for (int r = 0; r < k.rows; ++r) {
            dequantize_row(k.type, m.blocks.data() + stride * size_t(r), want.data(), size_t(k.cols));
            for (int c = 0; c < k.cols; ++c) {
                // Bit for bit, but for the sign of a zero: Q6_K's (d * sc) * 0 is -0 for a negative
                // scale, scale * 32 - 32 * scale is +0 (the engine never forms the element anyway).
                const float got = packed_element(pm, k.format, r, c);
                if (want[size_t(c)] == 0.0f) {
                    ASSERT_EQ(got, 0.0f) << "row " << r << " column " << c;
                } else {
                    ASSERT_EQ(lhk::bits_of(got), lhk::bits_of(want[size_t(c)])) << "row " << r << " column " << c;
                }
            }
        }
        // Every beat the reader does not visit is zero: padding after a row's chunks, and the
        // region's alignment.
        for (int p = 0; p < 4; ++p) {
            const int rb = lhk::q4_row_beats(k.cols, k.format), rows_here = lhk::rows_on_engine(k.rows, p, lhk::kDesign);
            const int groups = k.cols / (k.format == lhk::kQ4FormatBytes ? 16 : 32), used = (groups + 1) / 2 + groups;
            const lhk::Beat* b = pm.port[size_t(p)].data();
            for (int64_t i = 0; i < pm.port[size_t(p)].beats(); ++i) {
                const bool in_row = i / rb < rows_here && i % rb < used;
                for (float v : b[i].v) {
                    if (!in_row) {
                        ASSERT_EQ(lhk::bits_of(v), 0u) << "port " << p << " beat " << i;
                    }
                    nonzero += lhk::bits_of(v) != 0;
                }
            }
        }
        EXPECT_GT(nonzero, 0);
    }
}

// ---- The matmul ---------------------------------------------------------------------------

// Q4_0 with exact float sums (scales and activation scales powers of two, small integers):
// each block's term is ggml's (float(isum) * d_w) * d_x bit for bit, so the rows are
// cpu-ref's exactly.
TEST(HlsQ4, Q4_0MatmulIsCpuRefsExactlyWhenTheSumsAreExact) {
    std::mt19937 rng(13);
    std::uniform_int_distribution<int> qd(0, 15), xd(-127, 127);
    auto b = make_hls_csim(false);
    CpuRefBackend ref;
    for (int cols : {32, 288, 768}) {
        const int rows = 41;
        SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols));
        std::vector<float> w(size_t(rows) * size_t(cols));
        for (size_t i = 0; i < w.size(); ++i) w[i] = i % 32 == 5 ? -0.25f : float(qd(rng) - 8) / 32.0f;  // d = 1/32
        std::vector<float> x(static_cast<size_t>(cols));
        for (int i = 0; i < cols; ++i) x[size_t(i)] = float(i % 32 == 3 ? 127 : xd(rng)) / 128.0f;  // dx = 1/128
        const GgmlMatrix m(GgmlType::Q4_0, rows, cols, w);
        std::vector<float> got(size_t(rows), -1.f), want(size_t(rows), -2.f);
        b->matmul(got.data(), x.data(), m.view);
        ref.matmul(want.data(), x.data(), m.view);
        for (int r = 0; r < rows; ++r) ASSERT_EQ(got[size_t(r)], want[size_t(r)]) << "row " << r;
        EXPECT_NE(*std::max_element(want.begin(), want.end()), 0.0f);
    }
}

// General weights. The integer sums are cpu-ref's (same int8 activations, same codes); the
// floats differ in where they round: per 32 (or 16) columns the device adds
// (float(isum) * scale) * dx - min * (float(xsum) * dx) into rotating partial sums, cpu-ref
// ggml's per-block order (Q4_0: the same terms in index order; Q4_K / Q6_K: integer sums over
// 256 scaled once). Either is within a few roundings of each group term, so the rows agree
// within (4 x groups x 2^-24) of the sum of the group terms' magnitudes.
TEST(HlsQ4, MatmulMatchesCpuRefUpToWhereTheGroupTermsRound) {
    std::mt19937 rng(17);
    auto b = make_hls_csim(false);
    CpuRefBackend ref;
    struct Case {
        GgmlType type;
        int rows, cols;
    };
    for (const Case& k : {Case{GgmlType::Q4_0, 288, 288}, Case{GgmlType::Q4_0, 768, 288}, Case{GgmlType::Q4_0, 288, 768},
                          Case{GgmlType::Q4_0, 7, 64}, Case{GgmlType::Q4_K, 256, 256}, Case{GgmlType::Q4_K, 512, 1280},
                          Case{GgmlType::Q4_K, 3, 512}, Case{GgmlType::Q6_K, 256, 256}, Case{GgmlType::Q6_K, 130, 768}}) {
        SCOPED_TRACE(std::string(ggml_type_name(uint32_t(k.type))) + " " + std::to_string(k.rows) + "x" +
                     std::to_string(k.cols));
        const GgmlMatrix m(k.type, k.rows, k.cols, normal_values(size_t(k.rows) * size_t(k.cols), rng, 0.05f));
        const std::vector<float> x = normal_values(size_t(k.cols), rng);
        std::vector<float> got(static_cast<size_t>(k.rows)), want(static_cast<size_t>(k.rows));
        b->matmul(got.data(), x.data(), m.view);
        ref.matmul(want.data(), x.data(), m.view);
        const int format = hls::q4_format_of_type(k.type), gcols = format == lhk::kQ4FormatBytes ? 16 : 32;
        const hls::PackedMatrix pm = hls::pack_matrix(m.view);
        std::vector<int8_t> xq(static_cast<size_t>(k.cols));
        std::vector<float> xs(static_cast<size_t>(k.cols / 32));
        lhk::quantize_q4(x.data(), k.cols, format, xq.data(), xs.data());
        const int block = lhk::q4_act_block(format);
        double worst = 0;
        for (int r = 0; r < k.rows; ++r) {
            // The size of what was summed: per group |scale * isum| + |min * xsum|, times dx.
            double mag = 0;
            const int rb = lhk::q4_row_beats(k.cols, format);
            const lhk::Beat* row = pm.port[size_t(r % 4)].data() + int64_t(r / 4) * rb;
            for (int g = 0; g < k.cols / gcols; ++g) {
                const lhk::Beat& sb = row[(g / 2) * 3];
                double isum = 0, xsum = 0;
                for (int c = g * gcols; c < (g + 1) * gcols; ++c) {
                    const float w = packed_element(pm, format, r, c);
                    isum += std::fabs((double(w) + sb.v[2 * (g % 2) + 1]) * xq[size_t(c)]);
                    xsum += xq[size_t(c)];
                }
                mag += (isum + std::fabs(sb.v[2 * (g % 2) + 1] * xsum)) * std::fabs(xs[size_t(g * gcols / block)]);
            }
            const double err = std::fabs(double(got[size_t(r)]) - double(want[size_t(r)]));
            ASSERT_LE(err, 4.0 * (k.cols / gcols) * 6e-8 * mag + 1e-30) << "row " << r;
            worst = std::max(worst, mag > 0 ? err / mag : 0.0);
        }
        EXPECT_LT(worst, 1e-5);
        std::printf("[ measured ] %s %dx%d: worst |difference| / magnitude %.2g\n", ggml_type_name(uint32_t(k.type)),
                    k.rows, k.cols, worst);
    }
}

// ---- Whole models on hls-csim ---------------------------------------------------------------

struct ModelRun {
    std::vector<std::vector<float>> logits;  // teacher-forced, one row a position
    std::vector<int> greedy;                 // decode_greedy from token 1 at position 0
};

ModelRun run_model(Backend& b, const Model& m, const std::vector<int>& tokens, int greedy_steps) {
    b.load(m);
    ModelRun out;
    for (size_t p = 0; p < tokens.size(); ++p) {
        const float* l = b.forward(tokens[p], int(p));
        out.logits.emplace_back(l, l + m.config().vocab_size);
    }
    b.decode_greedy(1, 0, greedy_steps, out.greedy);
    return out;
}

// The largest |logit difference| at each position.
std::vector<double> logit_differences(const ModelRun& a, const ModelRun& b) {
    std::vector<double> worst(a.logits.size(), 0.0);
    for (size_t p = 0; p < a.logits.size(); ++p)
        for (size_t i = 0; i < a.logits[p].size(); ++i)
            worst[p] = std::max(worst[p], std::fabs(double(a.logits[p][i]) - double(b.logits[p][i])));
    return worst;
}

// cpu-ref's greedy tokens fed to both (teacher forcing), then each backend's own greedy run:
// position 0 within `first`, every position within `tolerance`, the greedy tokens equal.
void expect_same_model(const Model& m, int positions, double first, double tolerance, double* measured) {
    CpuRefBackend ref;
    std::vector<int> tokens = {1};
    {
        ref.load(m);
        std::vector<int> g;
        ref.decode_greedy(1, 0, positions - 1, g);
        tokens.insert(tokens.end(), g.begin(), g.end());
        tokens.resize(size_t(positions), 1);
    }
    auto hls = make_hls_csim(true);
    const ModelRun want = run_model(ref, m, tokens, positions);
    const ModelRun got = run_model(*hls, m, tokens, positions);
    const std::vector<double> diff = logit_differences(got, want);
    *measured = *std::max_element(diff.begin(), diff.end());
    EXPECT_LE(diff[0], first);
    EXPECT_LE(*measured, tolerance);
    int close = 0;
    for (double d : diff) close += d <= first;
    std::printf("[ measured ] position 0: %.3g, positions within %.0e: %d / %d\n", diff[0], first, close, positions);
    EXPECT_EQ(got.greedy, want.greedy);
    EXPECT_GT(want.greedy.size(), 4u);
}

// llama.cpp's files: Q4_0 (its output.weight Q6_K: the classifier in 8-bit codes) and Q4_K_M
// (Q4_K and Q6_K layer matrices). The tolerance: the integer sums are cpu-ref's, the group
// terms round elsewhere (the matmul test's bound, ~1e-7 of a row's magnitude), and an
// activation moved by an ulp upstream can fall on the other side of an int8 rounding
// boundary downstream: one quantization step, which the fp32 path would not see. Measured
// here: see docs/hls-design.md ("4-bit weights").
TEST(HlsQ4, LlamaCppQ4FilesOnHlsCsimMatchCpuRef) {
    LHB_REQUIRE_MODELS();
    for (const char* name : {"synth256-q4_0.gguf", "synth256-q4_k_m.gguf"}) {
        SCOPED_TRACE(name);
        const Model m = Model::open(gguf_path(name));
        double measured = 0;
        expect_same_model(m, 40, 1e-4, 0.25, &measured);
        std::printf("[ measured ] %s: max |logit difference| hls-csim vs cpu-ref over 40 positions: %.3g\n", name,
                    measured);
    }
}

// A synthetic Q4_0 model (bench synth --type q4_0's writer) at the stories15M shape: every
// matrix Q4_0 (rows of 288 and 768), the classifier too.
TEST(HlsQ4, SyntheticStories15MShapeQ4_0OnHlsCsimMatchesCpuRef) {
    test::TempDir dir;
    const std::string path = dir.file("s15.gguf");
    SynthOptions o;
    o.format = SynthFormat::Gguf;
    o.type = GgmlType::Q4_0;
    o.seed = 7;
    write_synthetic(parse_shape("stories15M"), path, o);
    const Model m = Model::open(path);
    EXPECT_EQ(hls::group_size_of(m), hls::q4_precision(hls::q4_uniform_formats(lhk::kQ4FormatQ4_0)));
    double measured = 0;
    expect_same_model(m, 6, 1e-4, 0.25, &measured);
    std::printf("[ measured ] stories15M-shaped Q4_0: max |logit difference| over 6 positions: %.3g\n", measured);
}

// The TinyLlama-1.1B shape with one layer (dim 2048, hidden 5632, 32 heads on 4 KV heads,
// seq 2048; the vocabulary cut to 1000 to keep the file small): every dimension of the
// largest shape the kernels take, in Q4_0 and in the Q4_K_M mix (Q4_K with Q6_K attn_v and
// ffn_down as 8-bit codes), past the first KV stripe round.
TEST(HlsQ4, TinyLlamaShapeOneLayer4BitOnHlsCsimMatchesCpuRef) {
#ifdef __SANITIZE_ADDRESS__
    GTEST_SKIP() << "a 1-layer TinyLlama checkpoint simulated takes minutes under AddressSanitizer; the 4-bit "
                    "engine's memory accesses are checked there by the stories15M-shaped model above";
#endif
    for (const GgmlType type : {GgmlType::Q4_0, GgmlType::Q4_K}) {
        SCOPED_TRACE(type == GgmlType::Q4_0 ? "Q4_0" : "Q4_K_M");
        test::TempDir dir;
        const std::string path = dir.file("tinyllama-1layer.gguf");
        SynthOptions o;
        o.format = SynthFormat::Gguf;
        o.type = type;
        o.seed = 11;
        write_synthetic(parse_shape("dim=2048,hidden=5632,layers=1,heads=32,kv_heads=4,vocab=1000,seq=2048"), path, o);
        const Model m = Model::open(path);
        ASSERT_LT(hls::group_size_of(m), 0) << "4-bit on the device";
        double measured = 0;
        expect_same_model(m, 6, 1e-4, 0.25, &measured);
        std::printf("[ measured ] TinyLlama shape, 1 layer, %s: max |logit difference| over 6 positions: %.3g\n",
                    type == GgmlType::Q4_0 ? "Q4_0" : "Q4_K_M", measured);
    }
}

// ---- Refusals and the prefill mode ----------------------------------------------------------

TEST(HlsQ4, TypesTheLayoutCannotPlaceAreRefusedNamingTheTensor) {
    LHB_REQUIRE_MODELS();
    for (const char* name : {"synth256-q8_0.gguf", "synth256-f16.gguf"}) {
        SCOPED_TRACE(name);
        const Model m = Model::open(gguf_path(name));
        auto b = make_hls_csim(true);
        try {
            b->load(m);
            ADD_FAILURE() << "loaded";
        } catch (const InputError& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("GGUF weight type of layer 0 wq ("), std::string::npos) << what;
            EXPECT_NE(what.find("is not supported"), std::string::npos) << what;
            EXPECT_EQ(what.find('\n'), std::string::npos) << what;
        }
    }
    // A K-quant's rows must be whole blocks of 256 activations: dim 288 is refused in one line.
    ModelConfig c = parse_shape("stories15M");
    try {
        hls::check_fits(c, "x.gguf", hls::q4_precision(hls::q4_uniform_formats(lhk::kQ4FormatQ4_K)));
        ADD_FAILURE() << "fits";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("256 for Q4_K"), std::string::npos) << e.what();
    }
}

// 4-bit models have no prefill engines: llama_forward's prefill mode does nothing for them
// (no KV row, no logits), and hls-csim's forward_batch decodes the prompt token by token.
TEST(HlsQ4, PrefillModeDoesNothingFor4BitDimsAndTheBackendDecodesPromptsTokenByToken) {
    LHB_REQUIRE_MODELS();
    const Model m = Model::open(gguf_path("synth256-q4_0.gguf"));
    const hls::PackedModel pm = hls::pack_model(m);
    ASSERT_TRUE(lhk::is_q4(pm.layout.dims));
    auto kv = hls::make_kv_stripes(pm.layout);
    hls::BeatBuffer logits(pm.layout.logits_beats * lhk::kPrefillTokens), tokens(hls::token_beats(lhk::kMaxSeqLen));
    for (int i = 0; i < 8; ++i) tokens.data()[i / 4].v[i % 4] = lhk::float_of(uint32_t(1 + i));
    const lhk::Beat *w0 = pm.weights[0].data(), *w1 = pm.weights[1].data(), *w2 = pm.weights[2].data(),
                    *w3 = pm.weights[3].data();
    llama_forward(0, 0, 0, 8, lhk::kPromptLogitsEvery, pm.layout.dims, w0, w1, w2, w3, w0, w1, w2, w3, kv[0].data(),
                  kv[1].data(), kv[2].data(), kv[3].data(), logits.data(), tokens.data());
    for (const auto& s : kv)
        for (int64_t i = 0; i < s.beats(); ++i)
            for (float v : s.data()[i].v) ASSERT_EQ(lhk::bits_of(v), 0u);
    for (int64_t i = 0; i < logits.beats(); ++i)
        for (float v : logits.data()[i].v) ASSERT_EQ(lhk::bits_of(v), 0u);

    const std::vector<int> prompt = {1, 5, 9, 13, 2, 7};
    auto hls = make_hls_csim(true);
    CpuRefBackend ref;
    hls->load(m);
    ref.load(m);
    const int vocab = m.config().vocab_size;
    std::vector<float> all(size_t(vocab) * prompt.size());
    hls->forward_batch(prompt.data(), int(prompt.size()), 0, BatchLogits::All, all.data());
    for (size_t p = 0; p < prompt.size(); ++p) {
        const float* want = ref.forward(prompt[p], int(p));
        for (int i = 0; i < vocab; ++i) ASSERT_NEAR(all[p * size_t(vocab) + size_t(i)], want[i], 0.05) << p;
    }
    EXPECT_FALSE(hls->estimate_prefill(0, 6).has_value());
}

// ---- The estimate ---------------------------------------------------------------------------

TEST(HlsQ4, LoopModelMirrorsThe4BitTraceAndBenchEstimatesIt) {
    LHB_REQUIRE_MODELS();
    const hls::BoardSpec board = hls::load_board(hls::default_board_path());
    const Model m = Model::open(gguf_path("synth256-q4_k_m.gguf"));
    const int precision = hls::group_size_of(m);
    ASSERT_TRUE(hls::is_q4_precision(precision));
    for (int pos : {0, 9}) {
        const hls::TokenEstimate e = hls::estimate_token(m.config(), pos, hls::compiled_design(), board, precision);
        EXPECT_TRUE(e.trace_checked);
        EXPECT_NE(e.precision.find("4-bit"), std::string::npos) << e.precision;
        bool engine = false;
        for (const hls::LoopSummary& l : e.loops) engine = engine || l.name == "mat_q4_engine";
        EXPECT_TRUE(engine);
    }
    // The shape alone (a design file's path) lists the traced ops.
    const hls::Trace traced = hls::trace_forward(m.config(), 3, precision);
    const hls::Trace listed = hls::shape_trace(m.config(), 3, precision);
    std::vector<hls::TraceOpRun> ops;
    for (const hls::TraceOpRun& op : traced.ops)
        if (op.op != lhk::TraceOp::WeightStream) ops.push_back(op);
    ASSERT_EQ(ops.size(), listed.ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
        EXPECT_EQ(ops[i].op, listed.ops[i].op) << i;
        EXPECT_EQ(ops[i].args, listed.ops[i].args) << i;
    }
    const test::CommandResult r = test::run_bench("estimate --model '" + gguf_path("synth256-q4_k_m.gguf") + "'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("4-bit (wq Q4_K"), std::string::npos) << r.out;
    const test::CommandResult q = test::run_bench("estimate --shape stories15M --precision q4_0");
    EXPECT_EQ(q.exit_code, 0) << q.err;
    EXPECT_NE(q.out.find("4-bit (Q4_0"), std::string::npos) << q.out;
    const test::CommandResult k = test::run_bench("estimate --shape stories15M --precision q4_k");
    EXPECT_NE(k.exit_code, 0);
    EXPECT_NE(k.err.find("256 for Q4_K"), std::string::npos) << k.err;
}

}  // namespace
}  // namespace lhb
