#!/usr/bin/env bash
# Builds and runs the whole test suite: the release preset, the aarch64 build under qemu-user
# (tools/cross_test.sh), then the ASan+UBSan preset, then the fuzz targets for a bounded time
# (tools/fuzz.sh).
# Tests that need ../shared/models skip, saying so, when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset release >/dev/null
cmake --build --preset release
ctest --preset release

# The board's host program: bench cross-compiled for aarch64 and run under qemu-user
# (tools/cross_test.sh; skips, saying so, where the cross packages could not be installed).
if [ "${LHB_SKIP_CROSS:-0}" != 1 ]; then
  bash tools/cross_test.sh
fi

if [ "${LHB_SKIP_SANITIZE:-0}" != 1 ]; then
  cmake --preset sanitize >/dev/null
  cmake --build --preset sanitize
  ctest --preset sanitize
fi

# Every input parser under libFuzzer (clang, ASan + UBSan) from valid seeds, for a bounded
# time: $LHB_FUZZ_SECONDS per target (30 here; tools/fuzz.sh --seconds N for longer runs).
if [ "${LHB_SKIP_FUZZ:-0}" != 1 ]; then
  LHB_FUZZ_SECONDS="${LHB_FUZZ_SECONDS:-30}" bash tools/fuzz.sh
fi
