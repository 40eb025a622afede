#pragma once
// What several backend suites share: an int8 checkpoint of a model's shape, every op of a
// backend checked against cpu-ref, and teacher-forced logits against a reference.
#include <cstdint>
#include <string>

#include "core/backend.hpp"
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

}  // namespace lhb::test
