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

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "tools/setup.sh: missing packages: ${missing[*]}; run as root (or with sudo)" >&2
  exit 1
fi
echo "tools/setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
