#pragma once
// The kernels' loop structure for another design: for each traced op invocation, the loops
// the kernels would run under design d, re-derived from the op's arguments with the kernels'
// own bound functions (kernels/loop_bounds.hpp). For the compiled design it must reproduce
// the trace exactly (checked by estimate_token).
#include <cstdint>
#include <vector>

#include "host/board.hpp"
#include "host/trace.hpp"
#include "kernels/hls_config.hpp"

namespace lhb::hls {

// `t`: the design's data types and loop structure (weight and KV bits scale the bytes; the
// seed's structure replaces attention's and RoPE's loops).
std::vector<TraceStep> model_op(const TraceOpRun& op, const lhk::Design& d, const DesignTraits& t = {});

// The bundle of the io port (logits, per-op vectors): the one after the weight and KV ports.
int io_port(const lhk::Design& d);

// Weight bytes a matmul engine (a loop of rule Engine) takes per beat: `lanes` floats (fp32)
// or one beat of int8 values (Q8_0, and the prefill engines), and the trips it holds a beat
// for (1, or kPrefillGroups for the prefill engines).
int64_t engine_weight_bytes(lhk::LoopId engine, const lhk::Design& d, const DesignTraits& t = {});
int64_t engine_trips_per_beat(lhk::LoopId engine);

}  // namespace lhb::hls
