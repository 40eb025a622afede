#pragma once
// What the XRT backend looks for, shared by its availability check and its tests.
namespace lhb::xrt_backend {

constexpr const char* kBackendName = "zcu106-xrt";
constexpr const char* kForwardKernel = "llama_forward";
// Per-op mode needs these too; the fused forward needs only llama_forward.
constexpr const char* kOpKernels[] = {"op_rmsnorm", "op_matmul", "op_rope", "op_softmax", "op_attention", "op_swiglu"};
// Where the xclbin comes from when neither --xclbin nor a config field gives it.
constexpr const char* kXclbinEnv = "LHB_XCLBIN";

}  // namespace lhb::xrt_backend
