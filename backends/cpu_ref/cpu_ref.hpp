#pragma once
// cpu-ref: the golden reference. Every op is Backend's own, llama2.c's run.c arithmetic
// order (core/exact_ops.hpp), so its tokens and logits match llama2.c bit for bit.
#include "core/backend.hpp"

namespace lhb {

class CpuRefBackend : public Backend {
public:
    std::string name() const override { return "cpu-ref"; }
};

}  // namespace lhb
