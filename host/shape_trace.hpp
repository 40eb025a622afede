#pragma once
// The ops llama_forward runs for one token, from the model's shape alone: the same op
// invocations and arguments as a C-simulation trace (host/trace.hpp), without running the
// kernels. A design that is not the compiled one is estimated from these (its loops come
// from the loop model, host/loop_model.hpp), so it can be estimated at any size, also one
// the kernels were not built for (a 7B model); tests/test_validate.cpp checks that for the
// shapes the kernels take it lists exactly the traced ops.
#include "core/model.hpp"
#include "host/trace.hpp"

namespace lhb::hls {

// Every op of the token at `pos` (token id 1, as trace_forward), weights in fp32 for
// group_size 0, else int8 in groups of group_size; no weight-stream ops (a design from a
// file accounts its readers from its engines) and no steps.
Trace shape_trace(const ModelConfig& c, int pos, int group_size = 0, DecodeMode mode = DecodeMode::HostSampled);

}  // namespace lhb::hls
