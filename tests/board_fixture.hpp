#pragma once
// A board file with round numbers for estimator tests computed by hand: 4 HP ports of 128
// bits, 16-beat bursts, 19.2 GB/s at 0.8, 100 ns read latency, operators given at 300 MHz
// (fadd 5 cycles, the others 4; 2 DSP each), small host costs.
#include <string>

#include <nlohmann/json.hpp>

namespace lhb::test {

inline nlohmann::json simple_board_json() {
    using nlohmann::json;
    auto v = [](double x) { return json{{"value", x}, {"source", "test"}}; };
    json ops = {{"reference_clock_mhz", v(300)}};
    for (const char* name : {"fadd", "fmul", "fdiv", "fsqrt", "fexp", "fpow", "fsincos", "fcmp"})
        ops[name] = {{"latency", v(std::string(name) == "fadd" ? 5 : 4)}, {"dsp", v(2)}};
    return {{"schema", "lhb-board/1"},
            {"name", "test board"},
            {"device", "test"},
            {"kernel_clock_mhz", v(300)},
            {"axi", {{"hp_ports", v(4)}, {"port_max_bits", v(128)}, {"max_burst_beats", v(16)},
                     {"burst_overhead_cycles", v(1)}}},
            {"ddr", {{"peak_gb_per_s", v(19.2)}, {"efficiency", v(0.8)}, {"read_latency_ns", v(100)}}},
            {"resources", {{"dsp", v(1000)}, {"bram36", v(100)}, {"uram", v(10)}}},
            {"host_per_token_us", {{"launch", v(10)}, {"logits_sync", v(20)}, {"sampling", v(30)},
                                   {"tokens_sync", v(6)}, {"piece_output", v(2)}}},
            {"operators", ops}};
}

}  // namespace lhb::test
