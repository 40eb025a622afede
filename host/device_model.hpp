#pragma once
// A backend that models a device says what the device would take for a decoded token. A
// capability beside the Backend interface, not part of it: a caller that wants estimates
// asks a backend for it (dynamic_cast<const hls::DeviceModel*>), and core/ knows nothing of
// devices.
#include <array>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/backend.hpp"

namespace lhb::hls {

// What a modelled device (an FPGA board, say) would take for one decoded token. Every
// figure here is an estimate and is labeled so wherever it is shown.
struct DeviceEstimate {
    std::string target;                        // e.g. "ZCU106 @ 300 MHz (estimated)"
    double token_seconds = 0;                  // one decoded token at the given position
    std::array<double, kNumOps> op_seconds{};  // its split by op class
    // The same token when the device decodes greedily (logits kept on chip, one kernel run
    // per greedy_tokens_per_run tokens); 0: not modelled.
    double greedy_token_seconds = 0;
    int greedy_tokens_per_run = 0;
    nlohmann::json detail;                     // cycles, bytes per port, resources, ...
};

class DeviceModel {
public:
    virtual ~DeviceModel() = default;
    // The estimate of the token at position `pos` of the loaded model; nullopt before load().
    virtual std::optional<DeviceEstimate> estimate(int pos) const = 0;
    // The estimate of a prompt of n tokens at positions pos..pos+n-1 through the device's
    // prefill path, ending with the last token's logits: token_seconds is the whole
    // prompt's time, op_seconds its split. nullopt: before load(), or prefill not modelled.
    virtual std::optional<DeviceEstimate> estimate_prefill(int pos, int n) const {
        (void)pos;
        (void)n;
        return std::nullopt;
    }
};

}  // namespace lhb::hls
