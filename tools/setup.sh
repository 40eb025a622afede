#!/usr/bin/env bash
# Installs every system dependency of llama-hls-bench from Debian 12's packages.
# Quiet and idempotent: when everything is already installed it does nothing.
set -euo pipefail

packages=(
  cmake make g++ pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev
  libxrt-dev uuid-dev             # the zcu106-xrt backend's host code (Debian's XRT 2.13)
  python3 python3-matplotlib      # tools/report.py
  clang libclang-rt-14-dev        # libFuzzer targets and sanitizer runtimes
  chromium                        # headless check of the HTML report
  sqlite3                         # tests: bench print -o sql loads into SQLite
)
# The board's host program: bench cross-compiled for the A53 (aarch64) against Debian's arm64
# packages (multiarch), run under qemu-user by tools/cross_test.sh.
cross_packages=(
  g++-aarch64-linux-gnu binutils-aarch64-linux-gnu qemu-user-static
  libxrt-dev:arm64 uuid-dev:arm64 libgomp1:arm64
)

missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
mapfile -t need < <(missing "${packages[@]}")
mapfile -t need_cross < <(missing "${cross_packages[@]}")
[ ${#need[@]} -eq 0 ] && [ ${#need_cross[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "tools/setup.sh: missing packages: ${need[*]} ${need_cross[*]}; run as root (or with sudo)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
if [ ${#need_cross[@]} -gt 0 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
fi
echo "tools/setup.sh: installing ${need[*]} ${need_cross[*]}" >&2
apt-get update -qq
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
# Without arm64 packages (a mirror without them) only the cross test is lost: it skips, saying so.
if [ ${#need_cross[@]} -gt 0 ] && ! apt_install "${need_cross[@]}"; then
  echo "tools/setup.sh: could not install the aarch64 cross packages (${need_cross[*]}); tools/cross_test.sh will skip" >&2
fi
