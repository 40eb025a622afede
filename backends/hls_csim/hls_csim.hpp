#pragma once
// hls-csim: the HLS device backend (backends/hls_device/) with the kernels run as C
// simulation: their top functions compiled by g++, on device buffers that are host memory.
// Its estimate() models the design on a board (host/estimator.hpp).
#include <memory>

#include "backends/hls_device/hls_device.hpp"
#include "core/registry.hpp"

namespace lhb {

// The backend `hls-csim` names (what its registration makes).
std::unique_ptr<HlsDeviceBackend> make_hls_csim_backend(const BackendOptions& options);

}  // namespace lhb
