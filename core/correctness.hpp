#pragma once
// The correctness check: a backend against cpu-ref, op by op on random inputs at every
// shape of a model, and end to end over a greedy run. Used by tests, `bench run` and every
// backend's acceptance. Tolerances live in one place (op_tolerance / logits_tolerance in
// correctness.cpp), each with its reason; docs/correctness.md explains them.
//
// A value passes when |candidate - reference| <= abs + rel * scale, where `scale` is the
// size of what was summed to make the value: sum_j |w_ij * x_j| for a matmul row (so a
// sum that cancels to near zero is still judged by the size of its terms),
// |v_i| + |v_i+1| for a RoPE pair, and |reference| for every other op and for logits.
// Any NaN or Inf in the candidate's output (or the reference's) is a failure, whatever
// the other numbers say.
#include <cstdint>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "core/model.hpp"

namespace lhb {

struct Tolerance {
    double abs = 0;  // passes when |a - b| <= abs + rel * scale (see above)
    double rel = 0;
    const char* why = "";  // the reason these values are enough and needed
};

// The tolerance for one op class (Op) or the end-to-end logits, for the model's weight
// precision (Q8_0 matmuls are checked against cpu-ref's Q8_0 arithmetic, so they get the
// same float tolerances: the int8 group sums are exact in both).
Tolerance op_tolerance(Op op, DType precision);
Tolerance logits_tolerance(DType precision);

struct OpCheck {
    std::string op;     // op_name()
    std::string shape;  // e.g. "288->32000 (wcls)", "n=288", "pos=63"
    double max_abs_err = 0;  // over the finite values
    double max_rel_err = 0;  // max |a - b| / scale (scale as above)
    int non_finite = 0;      // NaN/Inf values in the candidate's (or reference's) output
    Tolerance tolerance;
    bool pass = false;
    std::string note;  // why it failed (empty on a pass)
};

struct EndToEndCheck {
    int positions = 0;             // positions compared
    double max_abs_logit_err = 0;  // over every position (finite values)
    double max_rel_logit_err = 0;
    int non_finite = 0;            // NaN/Inf logits of the candidate, over every position
    int first_bad_position = -1;   // first position whose logits are out of tolerance
    int tokens_compared = 0;       // greedy tokens chosen by both (one per position)
    int tokens_agreeing = 0;       // identical prefix length
    Tolerance tolerance;
    bool pass = false;
    std::string note;  // why it failed, or a near-tie that was let through
};

struct CorrectnessReport {
    std::string backend;
    std::vector<OpCheck> ops;
    EndToEndCheck end_to_end;
    bool pass = false;
    // One line: "openmp: pass (ops 24/24, logits max abs 3e-06, tokens 64/64)", or
    // "openmp: FAIL (ops 23/24; matmul 288->768: max rel err 1e-03 > 2e-05; ...)".
    std::string summary() const;
};

// Each op of `candidate` against `reference` on seeded random inputs at every shape the
// model `config` uses: matmul at every distinct matrix shape (weights in `precision`; Q8_0
// with `group_size`; DType::Ggml as `ggml_type`'s blocks, Q8_0 where a row is not whole
// blocks of it), rmsnorm, rope and softmax/attention at positions 0, 1, 63, 64 and
// seq_len - 1 (the last bounded to 2047), swiglu and the residual add. Backends whose ops
// need a loaded model must be loaded first (check_backend does it).
std::vector<OpCheck> check_ops(Backend& candidate, Backend& reference, const ModelConfig& config,
                               uint64_t seed = 1, DType precision = DType::F32, int group_size = 0,
                               GgmlType ggml_type = GgmlType::Q8_0);
// Both backends loaded with the same model. A greedy run of `steps` positions (clamped to
// 1..seq_len) from BOS, teacher-forced on the reference's tokens so that every position
// compares logits for the same context: the logits at every position, and whether the
// candidate's greedy token agrees with the reference's (a disagreement is a failure unless
// the two tokens' reference logits are within the logits tolerance: a tie).
EndToEndCheck check_end_to_end(Backend& candidate, Backend& reference, int steps);
// The reference is checked against nothing, but a row is only ranked if its logits are
// finite: a greedy run of `steps` positions (clamped to 1..seq_len) through the non-finite
// tracer (core/nonfinite.hpp). pass is false, and the note names the op, layer and tensor,
// when a NaN/Inf appears (weights that overflow the arithmetic, or a file loaded with
// NonFiniteWeights::Allow). `reference` must be loaded.
EndToEndCheck check_reference_finite(Backend& reference, int steps);
// Loads both backends with `model` (unless already loaded with it), then both of the above.
CorrectnessReport check_backend(Backend& candidate, Backend& reference, const Model& model, int steps,
                                uint64_t seed = 1);

}  // namespace lhb
