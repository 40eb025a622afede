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

namespace lhb::test {

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

// stories260K quantized by `bench quantize --group 4` into tmp; in *args the `bench generate`
// arguments of a greedy run of n tokens over it, ending in "--backend " for the caller to
// name one, and in *ref_text cpu-ref's text of that run (more than 200 bytes). A fatal
// failure of the calling test if quantizing or cpu-ref's run fails.
void stories260K_q8_greedy_run(const TempDir& tmp, int n, std::string* args, std::string* ref_text);

// The hls-csim backend: the forward pass through llama_forward when `fused`, else through
// the per-op tops.
std::unique_ptr<Backend> hls_csim_backend(bool fused);

// `candidate` and a cpu-ref, both loaded with `model`, through check_end_to_end over
// `steps` positions.
EndToEndCheck end_to_end_against_cpu_ref(Backend& candidate, const Model& model, int steps);

// One thread count's backends, loaded with `model`: openmp fused and op by op (with
// min_bytes_per_thread 0, so that every thread runs even on a tiny model) and cpu-ref.
struct OpenMpAndCpuRef {
    OpenMpBackend fused, unfused;
    CpuRefBackend ref;
    OpenMpAndCpuRef(const Model& model, int threads);
};

// A Q8_0 view of rows x cols int8 weights q with their scales (group size gs).
WeightMatrix q8_matrix(int rows, int cols, const int8_t* q, const float* scales, int gs);

// A Q8_0 matrix that owns its storage: q uniform in [qmin, qmax], scales that keep a row's
// products with unit activations of the order of one.
struct Q8Matrix {
    std::vector<int8_t> q;
    std::vector<float> s;
    WeightMatrix view;
    Q8Matrix(int rows, int cols, int gs, std::mt19937& rng, int qmin = -127, int qmax = 127);
    Q8Matrix(const Q8Matrix&) = delete;  // view points into q and s
    Q8Matrix& operator=(const Q8Matrix&) = delete;
};

}  // namespace lhb::test
