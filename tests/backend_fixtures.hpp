#pragma once
// What several backend suites share: an int8 checkpoint of a model's shape, every op of a
// backend checked against cpu-ref, and teacher-forced logits against a reference.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu_ref/cpu_ref.hpp"
#include "backends/openmp/openmp.hpp"
#include "core/backend.hpp"
#include "core/correctness.hpp"
#include "core/model.hpp"
#include "tests/test_support.hpp"

namespace lhb {
class HlsDeviceBackend;
}

namespace lhb::test {

// hls-csim, fused (llama_forward) or per-op.
std::unique_ptr<HlsDeviceBackend> make_hls_csim(bool fused);

// openmp's fused pass and its op-by-op path on `threads` threads (every one of them runs,
// however small the model), and cpu-ref, all loaded with `model`.
struct OpenMpAndCpuRef {
    OpenMpBackend fused, unfused;
    CpuRefBackend ref;
    OpenMpAndCpuRef(const Model& model, int threads);
};

// `bench generate` of stories260K (-t 0 -n 200) with `backend_args` (e.g. "--backend
// openmp --threads 2") prints llama2.c's greedy text: the first case of
// expected-stories260K.txt.
void expect_llama2c_greedy_text(const std::string& backend_args);

// stories260K quantized to int8 (group size 4) by `bench quantize` into tmp, and the start
// of `bench generate` arguments for its greedy text of n tokens (the backend's name goes
// last). Throws when the quantizer fails.
std::string stories260k_int8_generate_args(const TempDir& tmp, int n);

// A Q8_0 view of rows x cols int8 values q with one scale per gs of them.
WeightMatrix q8_view(int rows, int cols, const int8_t* q, const float* scales, int gs);

// A random Q8_0 matrix that owns its storage: q uniform in [qmin, qmax], scales that keep
// the products of unit-sized inputs near 1.
struct Q8Matrix {
    std::vector<int8_t> q;
    std::vector<float> s;
    WeightMatrix view;
    Q8Matrix(int rows, int cols, int gs, std::mt19937& rng, int qmin = -127, int qmax = 127);
    Q8Matrix(const Q8Matrix&) = delete;  // the view points into this one's vectors
    Q8Matrix& operator=(const Q8Matrix&) = delete;
};

// The steps of a long run: `full`, or under AddressSanitizer (5-10x slower) `sanitized`, so
// that the sanitized suite stays within its time budget.
constexpr int steps_for_build(int full, int sanitized) {
#ifdef __SANITIZE_ADDRESS__
    (void)full;
    return sanitized;
#else
    (void)sanitized;
    return full;
#endif
}

// An int8 checkpoint of `shape` (synthetic fp32 weights from `seed`, quantized with group
// size gs) in tmp; returns its path.
std::string q8_model(const TempDir& tmp, const std::string& shape, int gs, const std::string& name, uint64_t seed);

// Every op of `candidate` at every shape of `c` (core/correctness.hpp's check_ops, inputs
// from `seed`) within tolerance of cpu-ref and finite; `matmul_shapes` matmul checks
// among them. Returns how many checks ran.
size_t expect_all_ops_pass(Backend& candidate, const ModelConfig& c, size_t matmul_shapes, uint64_t seed);

// Teacher-forced on the reference's greedy tokens from BOS: the largest logit difference
// over `steps` positions (every candidate logit must be finite), and in *agreeing, if
// given, how many leading greedy tokens agree.
double max_logit_error(Backend& cand, Backend& ref, int steps, int* agreeing = nullptr);

// A prompt of n tokens for the batched-pass tests: BOS, then ids spread over the vocabulary
// by `seed`.
std::vector<int> prompt_of(int n, int vocab, int seed);
// cpu-ref's forward() logits of tokens at positions 0.., flattened [n][vocab]: the
// reference the batched passes are held to.
std::vector<float> token_by_token(const Model& m, const std::vector<int>& tokens);

}  // namespace lhb::test
