#!/usr/bin/env bash
# Builds and runs the whole test suite: the release preset, then the ASan+UBSan preset.
# Tests that need ../shared/models skip, saying so, when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset release >/dev/null
cmake --build --preset release
ctest --preset release

if [ "${LHB_SKIP_SANITIZE:-0}" != 1 ]; then
  cmake --preset sanitize >/dev/null
  cmake --build --preset sanitize
  ctest --preset sanitize
fi
