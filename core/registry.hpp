#pragma once
// Backends register themselves by name (LHB_REGISTER_BACKEND in their own folder); nothing
// else needs to know they exist.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.hpp"

namespace lhb {

struct BackendOptions {
    int threads = 0;        // 0: the backend's default (OMP_NUM_THREADS or all cores)
    std::string xclbin;     // device image for board backends
    bool fused = true;      // false: forward() runs op by op even where a fused kernel exists
    std::string board;      // board description file for estimating backends
    // How the KV cache and the attention products are stored and rounded. "f32": llama2.c's
    // fp32 (every backend). cpu-ref also takes "f16": llama.cpp's attention numerics (fp16
    // K, V, q and softmax weights, with ggml's float order around them), whose logits equal
    // llama.cpp's instead of llama2.c's (core/llama_cpp_ops.hpp, docs/gguf.md). hls-csim and
    // zcu106-xrt also take "q8": int8 with a scale per KV head and position (docs/hls-design.md).
    std::string kv_type = "f32";
};

struct Availability {
    bool available = true;
    std::string reason;  // one line, when not available
};

struct BackendFactory {
    std::string name;     // as typed on the command line: "cpu-ref", "openmp", ...
    std::string summary;  // one line for `bench list`
    int order = 100;      // listing order
    std::function<Availability(const BackendOptions&)> available;
    std::function<std::unique_ptr<Backend>(const BackendOptions&)> create;
    bool reference = false;  // the backend the others are checked against (exactly one)
};

class BackendRegistry {
public:
    static void add(BackendFactory factory);
    // Every registered backend, in listing order.
    static std::vector<const BackendFactory*> all();
    static const BackendFactory* find(const std::string& name);
    // Throws InputError naming the backend and why it cannot be used here (unknown name,
    // with the known ones listed, or not available, with the reason).
    static std::unique_ptr<Backend> create(const std::string& name, const BackendOptions& options);
    static std::string names();  // "cpu-ref, openmp, ..."
    // The backend registered with `reference` set (cpu-ref); throws InputError if none is
    // built in, or if more than one claims to be.
    static const BackendFactory& reference();
};

#define LHB_REGISTER_BACKEND(ident, ...)                                            \
    namespace {                                                                     \
    const bool ident##_registered = (::lhb::BackendRegistry::add(__VA_ARGS__), true); \
    }

}  // namespace lhb
