#pragma once
// Where do non-finite values (NaN, +-Inf) first appear? Runs a backend's ops one by one, in
// llama2.c's forward order (Backend::forward), checking every op's output, and names the
// first op, layer and tensor whose output is not finite. Used when a correctness check
// finds non-finite logits, to say more than "the logits are NaN".
//
// What it traces is the backend's individual ops. A backend that overrides forward() with
// a fused kernel is traced through its ops instead; if only the fused path goes wrong,
// nothing is found here and the report says so.
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "core/model.hpp"

namespace lhb {

struct NonFiniteSite {
    bool found = false;
    int position = -1;       // forward pass (sequence position) where it appeared
    int token = -1;          // token fed at that position
    int layer = -1;          // -1: outside the layers (embedding lookup, final norm, classifier)
    std::string op;          // op_name() of the op ("matmul", "swiglu", ...) or "embedding"
    std::string tensor;      // the weight involved: "wq", "w2", "rms_ffn", "wcls", "token_embedding"; "" if none
    int index = -1;          // first non-finite element of the op's output
    float value = 0;         // its value
    bool weights_non_finite = false;  // the tensor itself holds NaN/Inf (a corrupt file, not the arithmetic)
    int positions_checked = 0;        // forward passes traced

    // One line, e.g. "non-finite output (nan) first at position 0 (token 1), layer 1,
    // matmul with wv, element 3; wv of layer 1 itself holds non-finite values".
    std::string describe() const;
};

// Runs `tokens` (one per position, from position 0) through `backend`'s ops. `backend` must
// be loaded with `model`; its own run state is not used (the tracer keeps its own).
NonFiniteSite find_first_nonfinite(Backend& backend, const Model& model, const std::vector<int>& tokens);

// The same over a greedy run: BOS (token 1), then the argmax of each position's logits, for
// up to `steps` positions (stops at the first non-finite value).
NonFiniteSite find_first_nonfinite_greedy(Backend& backend, const Model& model, int steps);

// Index of the first element of x[n] that is NaN or infinite, or -1.
int first_non_finite(const float* x, int n);

}  // namespace lhb
