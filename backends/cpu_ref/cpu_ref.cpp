#include "backends/cpu_ref/cpu_ref.hpp"

#include "core/registry.hpp"

namespace lhb {

LHB_REGISTER_BACKEND(cpu_ref, BackendFactory{
    "cpu-ref", "scalar C++ in llama2.c's arithmetic order; the golden reference", 0,
    [](const BackendOptions&) { return Availability{}; },
    [](const BackendOptions&) -> std::unique_ptr<Backend> { return std::make_unique<CpuRefBackend>(); }, true})

}  // namespace lhb
