#pragma once
// The resources of a design on a board: DSP slices, LUT and FF of its arithmetic and control,
// BRAM and URAM of its on-chip memories, FIFOs and m_axi adapters, for llama_forward and for
// every compute unit the link config instantiates (kernels/vitis/*.cfg: llama_forward and
// the six per-op kernels), against the board's capacity (estimated).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model.hpp"
#include "host/board.hpp"
#include "kernels/hls_config.hpp"

namespace lhb::hls {

struct ResourceTotals {
    std::string unit;  // compute unit (kernel) name
    double dsp = 0, bram36 = 0, uram = 0, lut = 0, ff = 0;
};

struct ResourceEstimate {
    // llama_forward alone.
    double dsp = 0, bram36 = 0, uram = 0, lut = 0, ff = 0;
    double dsp_avail = 0, bram36_avail = 0, uram_avail = 0, lut_avail = 0, ff_avail = 0;
    bool fits = false;         // llama_forward alone fits
    // Every compute unit of the link config, and all of them in one xclbin.
    std::vector<ResourceTotals> units;
    ResourceTotals xclbin;
    bool xclbin_fits = false;  // all units together fit (LUT and FF only where the board gives them)
    nlohmann::json detail;     // per component, with the units it is in
};
ResourceEstimate estimate_resources(const lhk::Design& d, const BoardSpec& b);

// A kernel written as the seed is (its design file's loop_structure: attention head by head,
// on-chip vectors partitioned `array_partition` ways, m_axi bundles as it declares them):
// one function per op, called one after another, every part sized by the model's shape
// (the seed's code is written for one shape). One compute unit.
ResourceEstimate estimate_sequential_resources(const DesignSpec& design, const ModelConfig& c, const BoardSpec& b);
// The estimate for a design: the seed's structure when its file describes it, else ours.
ResourceEstimate estimate_resources(const DesignSpec& design, const ModelConfig& c, const BoardSpec& b);

// The compute units of kernels/vitis/*.cfg, llama_forward first.
const std::vector<std::string>& compute_units();

}  // namespace lhb::hls
