// The HLS kernels in C simulation (hls-csim) against cpu-ref: every per-op top at every
// shape of stories260K and stories15M through core/correctness.hpp's check_ops,
// llama_forward's logits at every position, and stories260K's greedy text through
// `bench generate --backend hls-csim` against llama2.c's recorded output.
#include <algorithm>
#include <cstring>
#include <deque>
#include <random>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "backends/hls_csim/hls_csim.hpp"
#include "core/correctness.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "core/synth.hpp"
#include "host/packing.hpp"
#include "host/trace.hpp"
#include "kernels/llama_kernels.hpp"
#include "tests/backend_fixtures.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

using test::make_hls_csim;

// C simulation's streams (host/csim_stream.hpp): a producer and a consumer that disagree
// stop the simulation (on the device: a deadlock, or a region that never finishes).
TEST(CsimStream, ReadsWhatWasWrittenInOrderAndStopsOnAMismatch) {
    {
        lhk::Stream<int> s;
        for (int i = 0; i < 5; ++i) s.write(i);
        for (int i = 0; i < 5; ++i) EXPECT_EQ(s.read(), i);
        EXPECT_TRUE(s.empty());
        s.write(7);  // reused after draining
        EXPECT_EQ(s.read(), 7);
    }
    EXPECT_DEATH(
        {
            lhk::Stream<int> s;
            s.write(1);
            s.read();
            s.read();
        },
        "read from an empty stream");
    EXPECT_DEATH(
        {
            lhk::Stream<int> s;
            s.write(1);
            s.write(2);
            s.read();
        },
        "left holding 1 values");
}

// Written from memory declared read-only, a stream holds where the values are; the order of
// the values, mixed with copies, read while written, and the mismatch checks stay as above.
TEST(CsimStream, ValuesInReadOnlyMemoryComeBackInOrderAmongCopies) {
    std::vector<int> weights(100);
    for (int i = 0; i < 100; ++i) weights[size_t(i)] = 1000 + i;
    std::vector<int> expected;
    {
        const lhk::csim::ReadOnlyScope scope{{weights.data(), weights.data() + 60}};  // the last 40 are not
        lhk::Stream<int> s;
        const auto put = [&](const int& v) {
            s.write(v);
            expected.push_back(v);
        };
        for (int i = 0; i < 30; ++i) put(weights[size_t(i)]);     // one run
        for (int i = 0; i < 3; ++i) put(i);                         // copies
        for (int i = 50; i < 70; ++i) put(weights[size_t(i)]);    // a run to the span's end, then copies
        for (int i = 10; i < 20; ++i) put(weights[size_t(i)]);    // the same memory again
        size_t next = 0;
        for (; next < 25; ++next) EXPECT_EQ(s.read(), expected[next]);
        for (int i = 20; i < 40; ++i) put(weights[size_t(i)]);    // written while read
        put(7);
        for (int i = 0; i < 5; ++i) {
            for (int k = 0; k < 4 && next < expected.size(); ++k) EXPECT_EQ(s.read(), expected[next++]);
            put(weights[size_t(40 + i)]);
            put(-i);
        }
        while (next < expected.size()) EXPECT_EQ(s.read(), expected[next++]);
        EXPECT_TRUE(s.empty());
        put(weights[0]);  // reused after draining
        EXPECT_EQ(s.read(), 1000);
    }
    EXPECT_TRUE(lhk::csim::read_only_spans().empty());  // the scope ended with its spans
    const lhk::csim::ReadOnlySpan all{weights.data(), weights.data() + weights.size()};
    EXPECT_DEATH(
        {
            const lhk::csim::ReadOnlyScope scope{all};
            lhk::Stream<int> s;
            s.write(weights[0]);
            s.write(weights[1]);
            s.read();
            s.read();
            s.read();
        },
        "read from an empty stream");
    EXPECT_DEATH(
        {
            const lhk::csim::ReadOnlyScope scope{all};
            lhk::Stream<int> s;
            for (int i = 0; i < 5; ++i) s.write(weights[size_t(i)]);
            s.read();
        },
        "left holding 4 values");
}

// Random bursts of writes (from two read-only spans, the memory around them, and
// temporaries) and of reads, against a plain queue.
TEST(CsimStream, RandomWritesAndReadsFromSpansAndCopiesMatchAQueue) {
    std::vector<int> mem(1000);
    for (int i = 0; i < 1000; ++i) mem[size_t(i)] = 7 * i;
    std::mt19937 rng(1);
    for (int trial = 0; trial < 300; ++trial) {
        const lhk::csim::ReadOnlyScope scope{{mem.data() + 100, mem.data() + 600}, {mem.data() + 700, mem.data() + 800}};
        lhk::Stream<int> s;
        std::deque<int> expected;
        for (int burst = 0; burst < 200; ++burst) {
            if (rng() % 4 != 0) {
                const int at = int(rng() % 1000), n = int(rng() % 40);
                for (int k = 0; k < n && at + k < 1000; ++k) {
                    const int copy = int(rng() % 100000);
                    const bool temporary = rng() % 8 == 0;
                    s.write(temporary ? copy : mem[size_t(at + k)]);
                    expected.push_back(temporary ? copy : mem[size_t(at + k)]);
                }
            } else {
                for (int n = int(rng() % 60); n > 0 && !expected.empty(); --n) {
                    ASSERT_EQ(s.read(), expected.front());
                    expected.pop_front();
                }
            }
            ASSERT_EQ(s.empty(), expected.empty());
        }
        for (; !expected.empty(); expected.pop_front()) ASSERT_EQ(s.read(), expected.front());
    }
}

TEST(HlsCsim, IsRegisteredWithOrder20) {
    const BackendFactory* f = BackendRegistry::find("hls-csim");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->order, 20);
    EXPECT_TRUE(f->available(BackendOptions{}).available);
    EXPECT_EQ(BackendRegistry::create("hls-csim", BackendOptions{})->name(), "hls-csim");
}

// stories260K: hidden_dim 172, grouped-query attention (8 heads on 4 KV heads), head_size 8.
TEST(HlsCsim, EveryOpWithinToleranceAtStories260KShapes) {
    auto b = make_hls_csim(false);
    EXPECT_GE(test::expect_all_ops_pass(*b, parse_shape("stories260K"), 5, 7), 1u + 5 + 3 + 2);
}

// stories15M: 288x288, 288->768, 768->288 and the 32000x288 classifier; attention up to pos 255.
TEST(HlsCsim, EveryOpWithinToleranceAtStories15MShapes) {
    auto b = make_hls_csim(false);
    EXPECT_GE(test::expect_all_ops_pass(*b, parse_shape("stories15M"), 4, 7), 1u + 4 + 3 + 2);
}

// The ops really run through the kernels' tops: their loops show up in the trace.
TEST(HlsCsim, PerOpCallsRunTheKernelTops) {
    auto b = make_hls_csim(false);
    std::vector<float> w(size_t(40 * 24), 0.5f), x(24, 1.0f), y(40, 0.f);
    WeightMatrix m;
    m.rows = 40;
    m.cols = 24;
    m.f32 = w.data();
    hls::TraceRecorder rec;
    b->matmul(y.data(), x.data(), m);
    const hls::Trace t = rec.take();
    int engines = 0;
    for (const auto& op : t.ops)
        for (const auto& s : op.steps)
            for (const auto& l : s.loops) engines += l.id == lhk::LoopId::MatEngine;
    EXPECT_EQ(engines, 4);
    for (float v : y) EXPECT_FLOAT_EQ(v, 12.0f);
}

// Logits of llama_forward (fused) at every position of stories260K, teacher-forced against
// cpu-ref, and the greedy tokens.
// hls-csim (fused or per-op) teacher-forced against cpu-ref over `steps` positions: passes
// and runs them all.
EndToEndCheck expect_csim_end_to_end(const Model& model, bool fused, int steps) {
    auto cand = make_hls_csim(fused);
    CpuRefBackend ref;
    cand->load(model);
    ref.load(model);
    const EndToEndCheck e = check_end_to_end(*cand, ref, steps);
    EXPECT_TRUE(e.pass) << e.note << " (max abs " << e.max_abs_logit_err << ")";
    EXPECT_EQ(e.positions, steps);
    return e;
}

TEST(HlsCsim, FusedForwardLogitsAtEveryPositionOfStories260K) {
    LHB_REQUIRE_MODELS();
    Model model = Model::open(test::model_path("stories260K.bin"));
    const EndToEndCheck e = expect_csim_end_to_end(model, true, model.config().seq_len);
    EXPECT_EQ(e.tokens_agreeing, model.config().seq_len);
}

// The same through the per-op tops (fused = false), over a shorter run.
TEST(HlsCsim, PerOpForwardLogitsOfStories260K) {
    LHB_REQUIRE_MODELS();
    Model model = Model::open(test::model_path("stories260K.bin"));
    expect_csim_end_to_end(model, false, 40);
}

// Under AddressSanitizer (5-10x slower) the stories15M run is cut short to keep the suite
// within its time budget; the stories260K run above covers every position either way.
constexpr int kStories15MSteps = test::steps_for_build(256, 24);

// stories15M shape with synthetic weights: llama_forward against cpu-ref at every position.
TEST(HlsCsim, FusedForwardLogitsAtEveryPositionOfStories15MShape) {
    test::TempDir tmp;
    const std::string path = tmp.file("s15.bin");
    write_synthetic_model(parse_shape("stories15M"), path, 3);
    expect_csim_end_to_end(Model::open(path), true, kStories15MSteps);
}

// Shapes that stress the layout: rows not a multiple of the four ports, a hidden_dim that
// is not a multiple of the beat, one KV head for many query heads, an unshared classifier.
TEST(HlsCsim, OddShapesAndUnsharedClassifier) {
    test::TempDir tmp;
    for (const char* shape : {"dim=40,hidden=70,layers=2,heads=5,kv_heads=1,vocab=37,seq=19",
                              "dim=64,hidden=172,layers=2,heads=8,kv_heads=4,vocab=513,seq=9"}) {
        SCOPED_TRACE(shape);
        const ModelConfig c = parse_shape(shape);
        const std::string path = tmp.file("odd.bin");
        write_synthetic_model(c, path, 9);
        Model model = Model::open(path);
        for (bool fused : {true, false}) {
            auto cand = make_hls_csim(fused);
            CpuRefBackend ref;
            cand->load(model);
            ref.load(model);
            const EndToEndCheck e = check_end_to_end(*cand, ref, c.seq_len);
            EXPECT_TRUE(e.pass) << (fused ? "fused: " : "per-op: ") << e.note;
        }
    }
}

TEST(HlsCsim, UnsharedClassifierReadsItsOwnEmbedding) {
    // Build a v0 file with an unshared classifier by hand: the synthetic writer shares it.
    test::TempDir tmp;
    ModelConfig c = parse_shape("dim=16,hidden=24,layers=1,heads=2,kv_heads=2,vocab=11,seq=6");
    const std::string shared = tmp.file("shared.bin");
    write_synthetic_model(c, shared, 4);
    std::string bytes = test::read_file(shared);
    int32_t vocab = -c.vocab_size;
    std::memcpy(&bytes[20], &vocab, 4);
    // A classifier different from the embedding: the embedding table reversed in sign.
    std::string wcls(size_t(c.vocab_size) * c.dim * 4, '\0');
    std::vector<float> emb(size_t(c.vocab_size) * c.dim);
    std::memcpy(emb.data(), bytes.data() + 28, emb.size() * 4);
    for (float& v : emb) v = -0.5f * v;
    std::memcpy(wcls.data(), emb.data(), wcls.size());
    test::write_file(tmp.file("unshared.bin"), bytes + wcls);
    Model model = Model::open(tmp.file("unshared.bin"));
    ASSERT_FALSE(model.config().shared_classifier);
    auto cand = make_hls_csim(true);
    CpuRefBackend ref;
    cand->load(model);
    ref.load(model);
    const EndToEndCheck e = check_end_to_end(*cand, ref, c.seq_len);
    EXPECT_TRUE(e.pass) << e.note;
}

TEST(HlsCsim, RejectsShapesBeyondTheKernelMaxima) {
    test::TempDir tmp;
    const std::string path = tmp.file("big.bin");
    write_synthetic_model(parse_shape("dim=64,hidden=64,layers=1,heads=2,kv_heads=2,vocab=40000,seq=4"), path, 1);
    Model model = Model::open(path);
    auto b = make_hls_csim(true);
    try {
        b->load(model);
        FAIL() << "a vocabulary beyond kMaxVocab was accepted";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("vocab_size exceeds kMaxVocab"), std::string::npos) << e.what();
    }
}

TEST(HlsCsim, Stories260KGreedyTextIsLlama2cs) {
    LHB_REQUIRE_MODELS();
    test::expect_llama2c_greedy_text("--backend hls-csim");
}

}  // namespace
}  // namespace lhb
