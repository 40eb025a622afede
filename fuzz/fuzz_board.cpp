// Fuzz target: the board and design description readers of the HLS estimator
// (host/board.cpp: load_board, load_design), then an estimate of one token of a small
// model with what was read.
//
// The input is a board file, optionally followed by a NUL byte and a design file (without
// one the compiled design is used). A malformed file must end in lhb::InputError (one line
// naming the file and field); another exception, a crash, a sanitizer report, or an
// estimate that is not a finite positive time is a finding.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.hpp"
#include "core/synth.hpp"
#include "fuzz/fuzz_support.hpp"
#include "host/estimator.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static lhb::fuzz::MemFile board_file("lhb-fuzz-board");
    static lhb::fuzz::MemFile design_file("lhb-fuzz-design");
    static const lhb::ModelConfig config = lhb::parse_shape("dim=16,hidden=24,layers=2,heads=4,kv_heads=2,vocab=32,seq=8");
    const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
    const size_t board_size = nul ? size_t(nul - data) : size;
    board_file.assign(data, board_size);
    if (nul) design_file.assign(nul + 1, size - board_size - 1);
    try {
        const lhb::hls::BoardSpec board = lhb::hls::load_board(board_file.path());
        const lhb::hls::DesignSpec design =
            nul ? lhb::hls::load_design(design_file.path()) : lhb::hls::compiled_design();
        const lhb::hls::TokenEstimate e = lhb::hls::estimate_token(config, 3, design, board);
        const lhb::hls::DeviceEstimate d = lhb::hls::to_device_estimate(e);
        if (!std::isfinite(d.token_seconds) || !(d.token_seconds > 0)) {
            std::fprintf(stderr, "estimate of %g s per token\n", d.token_seconds);
            std::abort();
        }
    } catch (const lhb::InputError&) {
    }
    return 0;
}
