#pragma once
// The resources of a design on a board: DSP slices of its arithmetic, BRAM and URAM of its
// on-chip memories, FIFOs and m_axi adapters, against the board's capacity (estimated).
#include <nlohmann/json.hpp>

#include "host/board.hpp"
#include "kernels/hls_config.hpp"

namespace lhb::hls {

struct ResourceEstimate {
    double dsp = 0, bram36 = 0, uram = 0;
    double dsp_avail = 0, bram36_avail = 0, uram_avail = 0;
    bool fits = false;
    nlohmann::json detail;  // per component
};
ResourceEstimate estimate_resources(const lhk::Design& d, const BoardSpec& b);

}  // namespace lhb::hls
