#include "backends/cpu_ref/cpu_ref.hpp"

#include "core/error.hpp"
#include "core/registry.hpp"

namespace lhb {

LHB_REGISTER_BACKEND(cpu_ref, BackendFactory{
    "cpu-ref", "scalar C++ in llama2.c's arithmetic order (kv_type f16: llama.cpp's); the golden reference", 0,
    [](const BackendOptions&) { return Availability{}; },
    [](const BackendOptions& o) -> std::unique_ptr<Backend> {
        if (o.kv_type == "f16") return std::make_unique<CpuRefLlamaCppBackend>();
        if (o.kv_type != "f32")
            throw InputError("backend 'cpu-ref': kv_type '" + o.kv_type +
                             "': expected f32 (llama2.c's) or f16 (llama.cpp's attention numerics)");
        return std::make_unique<CpuRefBackend>();
    },
    true})

}  // namespace lhb
