#!/usr/bin/env bash
# The host program for the board's Cortex-A53, built and run here: cross-compiles bench for
# aarch64 into build-aarch64/ (Debian's g++-aarch64-linux-gnu against the arm64 packages
# tools/setup.sh installs: the binary README "Running on a ZCU106" copies to the board, and
# the code path of the PS-only baseline) and runs it under qemu-user:
#   1. every llama2.c run of ../shared/models/expected-stories260K.txt (greedy and sampled)
#      prints exactly llama2.c's text;
#   2. bench list names zcu106-xrt unavailable, with its reason, and says where it found
#      its data files;
#   3. from a folder laid out as on the board (bench and configs/ only), bench estimate and
#      a quick sweep complete, the default board file found beside the executable.
# Before those, the build is checked to be aarch64 and to need only libraries a board image
# with XRT has (Google Benchmark is left out, as a PetaLinux sysroot has none).
# Timings under emulation mean nothing: none is checked or reported.
# Skips, saying so, only where the cross toolchain, the arm64 packages or qemu are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)
name=tools/cross_test.sh

skip() { echo "$name: skipped: $*" >&2; exit 0; }
command -v aarch64-linux-gnu-g++ >/dev/null || skip "no aarch64-linux-gnu-g++ (package g++-aarch64-linux-gnu; tools/setup.sh installs it where arm64 packages can be had)"
for p in libxrt-dev:arm64 uuid-dev:arm64 libgomp1:arm64; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || skip "$p is not installed (tools/setup.sh)"
done
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
[ -n "$qemu" ] || skip "no qemu-aarch64-static (package qemu-user-static)"

# Only bench, and only what the board has: no tests, no Google Benchmark (a PetaLinux
# sysroot has none; `bench ops` then says so). The arm64 libraries are found in Debian's
# multiarch folders, so no sysroot is given (a PetaLinux build gives LHB_SYSROOT instead).
cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=kernels/vitis/aarch64-linux.cmake \
      -DLHB_BUILD_TESTS=OFF -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-aarch64 -j2 --target bench

# qemu runs the arm64 libraries of Debian's multiarch folders (libc6:arm64 and the rest);
# its -L prefix is not used (with it, std::barrier waits never return under qemu 7.2).
a53() { env -u LHB_DATA_DIR -u LHB_REPORT_SCRIPT "$qemu" "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
pass() { echo "$name: ok: $*"; passed=$((passed + 1)); }
fail() { echo "$name: FAILED: $*" >&2; exit 1; }

# 0. An aarch64 executable that needs only the libraries of a board image with XRT.
aarch64-linux-gnu-readelf -h build-aarch64/bench | grep -q "Machine:.*AArch64" || fail "build-aarch64/bench is not an aarch64 executable"
needed=$(aarch64-linux-gnu-readelf -d build-aarch64/bench | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ' | sed 's/ $//')
for lib in $needed; do
  case $lib in libc.so.6|libm.so.6|libstdc++.so.6|libgcc_s.so.1|libgomp.so.1|libuuid.so.1|libxrt_coreutil.so.2) ;;
    *) fail "build-aarch64/bench needs $lib, which a board image may not have (needs: $needed)";; esac
done
pass "aarch64 executable; needs $needed"

# 1. llama2.c's text.
models=${LHB_MODELS_DIR:-$root/../shared/models}
if [ -f "$models/stories260K.bin" ] && [ -f "$models/expected-stories260K.txt" ]; then
  python3 - "$qemu" "$root/build-aarch64/bench" "$models" <<'EOF' || fail "bench on aarch64 differs from llama2.c (above)"
import shlex, subprocess, sys
qemu, bench, models = sys.argv[1:]
cases, case, text = [], None, None
for line in open(f"{models}/expected-stories260K.txt", encoding="utf-8"):
    if line.startswith("=== CASE "):
        case = {"name": line[9:].strip(), "args": None}
        text = None
    elif case is None:
        continue
    elif line.rstrip("\n") == "=== END":
        case["stdout"] = "".join(text)
        cases.append(case)
        case = None
    elif text is not None:
        text.append(line)
    elif line.startswith("# cmd: "):
        case["args"] = shlex.split(line[7:])[2:]  # after "./run stories260K.bin"
    elif line.startswith("# note:"):
        text = []
if not cases:
    sys.exit("expected-stories260K.txt: no cases")
bad = 0
for c in cases:
    args = [f"{models}/{a}" if a.endswith(".bin") else a for a in c["args"]]
    run = subprocess.run([qemu, bench, "generate", f"{models}/stories260K.bin", *args], capture_output=True, text=True)
    if run.returncode != 0 or run.stdout != c["stdout"]:
        bad += 1
        print(f"case {c['name']}: exit {run.returncode}; stderr: {run.stderr.strip()}", file=sys.stderr)
        print(f"expected:\n{c['stdout']}got:\n{run.stdout}", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
  pass "stories260K: llama2.c's text for every case of expected-stories260K.txt"
else
  echo "$name: $models/stories260K.bin not found (set LHB_MODELS_DIR): skipping the llama2.c comparison"
fi

# 2. bench list.
list=$(a53 build-aarch64/bench list) || fail "bench list exited non-zero"
grep -Eq '^\| zcu106-xrt \| no \| [^ |][^|]* \|$' <<<"$list" || fail "bench list does not name zcu106-xrt unavailable with a reason:
$list"
grep -q "^configs/boards/zcu106.json: $root/configs/boards/zcu106.json$" <<<"$list" || fail "bench list did not find the checkout's board file:
$list"
pass "bench list: zcu106-xrt unavailable ($(grep '^| zcu106-xrt' <<<"$list" | cut -d'|' -f4 | sed 's/^ //;s/ $//')); board file found in the checkout"
ops=$(a53 build-aarch64/bench ops --shape stories260K 2>&1) && fail "bench ops ran in a build without Google Benchmark"
grep -q "built without Google Benchmark" <<<"$ops" || fail "bench ops without Google Benchmark: $ops"

# 3. As on the board: bench and configs/ in one folder, nothing else of the checkout.
board=$tmp/board
mkdir -p "$board/configs"
cp build-aarch64/bench "$board/"
cp -r configs/boards "$board/configs/"
( cd "$board" && a53 ./bench estimate --shape stories260K >"$tmp/estimate.txt" ) || fail "bench estimate on the board layout: $(cat "$tmp/estimate.txt")"
grep -q "$board/configs/boards/zcu106.json" "$tmp/estimate.txt" || fail "bench estimate did not use the board file beside it:
$(cat "$tmp/estimate.txt")"
pass "bench estimate on the board layout: the board file beside the executable"
if [ -f "$models/stories260K.bin" ]; then
  model="\"path\": \"$models/stories260K.bin\", \"tokenizer\": \"$models/tok512.bin\", "
else
  model=""  # synthetic weights of the shape
fi
cat >"$board/configs/cross.json" <<EOF
{
  "name": "cross",
  "description": "tools/cross_test.sh: a short sweep of the aarch64 build under qemu-user (timings mean nothing)",
  "models": [{"name": "stories260K", ${model}"shape": "stories260K"}],
  "backends": [{"name": "cpu-ref", "threads": [1]}, {"name": "openmp", "threads": [2]},
               {"name": "hls-csim", "threads": [1]}, {"name": "zcu106-xrt", "threads": [1]}],
  "precisions": ["fp32", "int8"],
  "prompt_tokens": [4],
  "generate_tokens": 8,
  "warmup": 0,
  "repetitions": 1,
  "correctness_steps": 4
}
EOF
( cd "$board" && a53 ./bench run configs/cross.json --out "$tmp/out" --quiet --no-report >"$tmp/run.txt" 2>&1 ) ||
  fail "the quick sweep failed:
$(cat "$tmp/run.txt")"
python3 - "$tmp/out/results.json" "$board/configs/boards/zcu106.json" <<'EOF' || fail "the quick sweep's results (above)"
import json, sys
results = json.load(open(sys.argv[1]))
rows = results["rows"]
measured = {(r["backend"], r["precision"]) for r in rows if r["kind"] == "measured" and r["status"] == "ok"}
estimated = [r for r in rows if r["kind"] == "estimated"]
want = {(b, p) for b in ("cpu-ref", "openmp", "hls-csim") for p in ("fp32", "int8")}
problems = []
if not results["complete"]: problems.append("results not complete")
if not want <= measured: problems.append(f"measured rows missing: {sorted(want - measured)}")
if len(estimated) != 2: problems.append(f"{len(estimated)} estimated rows, 2 expected (hls-csim fp32, int8)")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
EOF
pass "quick sweep on the board layout: cpu-ref, openmp, hls-csim (fp32, int8) and the estimated board rows"

echo "cross: $passed passed, 0 failed"
