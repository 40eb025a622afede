// The batched forward pass (Backend::forward_batch) against the token-by-token one: cpu-ref
// is the reference, so its batched logits must equal forward()'s bit for bit at every
// position, for prompts shorter than, equal to and longer than a block, and one that fills
// the context. Other backends' batched paths are checked in their own suites.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "core/error.hpp"
#include "core/model.hpp"
#include "core/synth.hpp"
#include "tests/backend_fixtures.hpp"
#include "tests/test_support.hpp"

namespace lhb {
namespace {

using test::prompt_of;
using test::token_by_token;

// forward_batch over tokens split into prompts of `split` tokens (the last one shorter),
// every position's logits.
void expect_batched_equal(const Model& m, int n, int split) {
    const std::vector<int> tokens = prompt_of(n, m.config().vocab_size, n + split);
    const std::vector<float> want = token_by_token(m, tokens);
    const size_t vocab = size_t(m.config().vocab_size);
    CpuRefBackend b;
    b.load(m);
    std::vector<float> got(want.size());
    for (int first = 0; first < n; first += split) {
        const int len = std::min(split, n - first);
        float* last = b.forward_batch(tokens.data() + first, len, first, BatchLogits::All, got.data() + size_t(first) * vocab);
        ASSERT_EQ(std::memcmp(last, got.data() + size_t(first + len - 1) * vocab, vocab * sizeof(float)), 0);
    }
    for (int i = 0; i < n; ++i)
        ASSERT_EQ(std::memcmp(got.data() + size_t(i) * vocab, want.data() + size_t(i) * vocab, vocab * sizeof(float)), 0)
            << "position " << i << " of a " << n << "-token prompt in prompts of " << split;

    // Last-only gives the same last logits and leaves the same KV cache.
    CpuRefBackend last_only;
    last_only.load(m);
    const float* l = last_only.forward_batch(tokens.data(), n, 0, BatchLogits::Last);
    EXPECT_EQ(std::memcmp(l, want.data() + size_t(n - 1) * vocab, vocab * sizeof(float)), 0);
    const size_t kv = size_t(m.config().kv_dim());
    for (int layer = 0; layer < m.config().n_layers; ++layer) {
        const size_t off = size_t(layer) * size_t(m.config().seq_len) * kv;
        EXPECT_EQ(std::memcmp(last_only.state().key_cache.data() + off, b.state().key_cache.data() + off,
                              size_t(n) * kv * sizeof(float)), 0) << "layer " << layer;
    }
}

TEST(BatchedForward, CpuRefStories260KEqualsTokenByTokenBitForBit) {
    LHB_REQUIRE_MODELS();
    Model m = Model::open(test::model_path("stories260K.bin"));
    expect_batched_equal(m, 1, 1);
    expect_batched_equal(m, 31, 31);
    expect_batched_equal(m, Backend::kBatchBlock, Backend::kBatchBlock);
    expect_batched_equal(m, 3 * Backend::kBatchBlock + 5, 1000);  // several blocks, one call
    expect_batched_equal(m, 100, 17);                             // prompts continuing a cache
}

TEST(BatchedForward, CpuRefGroupedQueryAttentionFillingTheContext) {
    test::TempDir tmp;
    const ModelConfig c = parse_shape("dim=48,hidden=96,layers=2,heads=6,kv_heads=2,vocab=97,seq=70");
    write_synthetic_model(c, tmp.file("gqa.bin"), 5);
    Model m = Model::open(tmp.file("gqa.bin"));
    expect_batched_equal(m, c.seq_len, 1000);  // exactly the context, in one call
    expect_batched_equal(m, c.seq_len, 33);
}

TEST(BatchedForward, RefusesPromptsThatDoNotFit) {
    test::TempDir tmp;
    const ModelConfig c = parse_shape("dim=16,hidden=32,layers=1,heads=2,vocab=20,seq=8");
    write_synthetic_model(c, tmp.file("small.bin"), 3);
    Model m = Model::open(tmp.file("small.bin"));
    CpuRefBackend b;
    b.load(m);
    std::vector<int> t(9, 2);
    EXPECT_THROW(b.forward_batch(t.data(), 9, 0, BatchLogits::Last), InputError);  // past seq_len
    EXPECT_THROW(b.forward_batch(t.data(), 2, 7, BatchLogits::Last), InputError);
    EXPECT_THROW(b.forward_batch(t.data(), 0, 0, BatchLogits::Last), InputError);
    t[3] = 20;
    EXPECT_THROW(b.forward_batch(t.data(), 4, 0, BatchLogits::Last), InputError);  // outside the vocabulary
    EXPECT_THROW(b.forward_batch(t.data(), 2, 0, BatchLogits::All, nullptr), InputError);
    try {
        b.forward_batch(t.data(), 9, 0, BatchLogits::Last);
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("seq_len 8"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(b.forward_batch(t.data(), 3, 0, BatchLogits::Last));
}

}  // namespace
}  // namespace lhb
