// Registered when the build found no XRT: `bench list` and sweeps still show the backend,
// with the reason it cannot run.
#include "backends/xrt/xrt_names.hpp"
#include "core/registry.hpp"

namespace lhb {

LHB_REGISTER_BACKEND(xrt_missing, BackendFactory{
    xrt_backend::kBackendName, "the HLS kernels on a ZCU106 (or Alveo) board through XRT", 30,
    [](const BackendOptions&) {
        return Availability{false, "built without XRT (apt-get install libxrt-dev uuid-dev, then rebuild)"};
    },
    [](const BackendOptions&) -> std::unique_ptr<Backend> { return nullptr; }})

}  // namespace lhb
