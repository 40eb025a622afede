#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang + ASan + UBSan) and runs each for a bounded time
# from a corpus of valid files generated now (synthetic checkpoints in every format, the real
# models of ../shared/models when present, configs/*.json, results written by bench run).
#
#   tools/fuzz.sh                 every target, $LHB_FUZZ_SECONDS each (default 60)
#   tools/fuzz.sh --seconds 600   longer runs
#   tools/fuzz.sh model tokenizer only these targets (fuzz_<name>)
#
# The corpus each run grows is kept in build-fuzz/corpus/<target> (git-ignored), so repeated
# runs continue where the last one stopped. A crash, leak, sanitizer report or hang (a single
# input taking more than 10 s) fails the script; the input is saved as
# build-fuzz/artifacts/<target>-crash-* (or -timeout-*, -leak-*, -oom-*) and becomes a
# regression test in tests/test_fuzz_regressions.cpp once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${LHB_FUZZ_SECONDS:-60}"
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
case "$seconds" in ''|*[!0-9]*) echo "tools/fuzz.sh: --seconds: expected a whole number, found '$seconds'" >&2; exit 1 ;; esac

build=build-fuzz
if ! command -v clang++ >/dev/null; then
  echo "tools/fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 1
fi
cmake -S fuzz -B "$build" -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" -j2

# Seeds: regenerated every run from the current formats.
models_dir="${LHB_MODELS_DIR:-../shared/models}"
seeds="$build/seeds"
rm -rf "$seeds"
"$build/make_seeds" "$seeds" "$models_dir"
mkdir -p "$seeds/config"
for f in configs/*.json configs/**/*.json tests/data/configs/*.json; do
  [ -f "$f" ] && cp "$f" "$seeds/config/$(echo "$f" | tr / _)"
done
# Board and design descriptions; fuzz_board reads "BOARD NUL DESIGN".
mkdir -p "$seeds/board"
for b in configs/boards/*.json; do
  [ -f "$b" ] || continue
  cp "$b" "$seeds/board/"
  for d in configs/designs/*.json; do
    [ -f "$d" ] && { cat "$b"; printf '\0'; cat "$d"; } >"$seeds/board/$(basename "$b" .json)+$(basename "$d")"
  done
done

# Results files as bench run writes them: a seconds-long sweep of a tiny synthetic model
# with the release build's bench ($LHB_BENCH overrides), which tools/test.sh builds first.
bench_exe="${LHB_BENCH:-build/bench}"
mkdir -p "$seeds/results"
if [ -x "$bench_exe" ]; then
  cat >"$seeds/run-seed.json" <<'EOF'
{
  "name": "fuzz-seed",
  "models": [{"name": "tiny", "path": "tiny.bin", "shape": "dim=16,hidden=24,layers=2,heads=4,kv_heads=2,vocab=32,seq=32"}],
  "backends": ["cpu-ref", "openmp", "hls-csim", "zcu106-xrt"],
  "precisions": ["fp32", "int8"],
  "threads": [1],
  "prompt_tokens": [4],
  "generate_tokens": 4,
  "warmup": 0,
  "repetitions": 2,
  "correctness_steps": 4,
  "published": [{"name": "a published figure", "backend": "pub", "model": "tiny", "tok_s": 8.71, "source": "fuzz seed"}],
  "out": "run-seed-out"
}
EOF
  cp "$seeds/run-seed.json" "$seeds/config/"
  if "$bench_exe" run "$seeds/run-seed.json" --quiet --no-report >"$seeds/run-seed.log" 2>&1; then
    cp "$seeds/run-seed-out/results.json" "$seeds/results/run-seed.json"
    # fuzz_results reads "A NUL B" as the two files of bench compare.
    { cat "$seeds/results/run-seed.json"; printf '\0'; cat "$seeds/results/run-seed.json"; } >"$seeds/results/run-seed-pair.json"
  else
    echo "tools/fuzz.sh: bench run of the seed config failed (see $seeds/run-seed.log); results seeds: none" >&2
  fi
else
  echo "tools/fuzz.sh: $bench_exe not built: no results seeds (build the release preset first)" >&2
fi

if [ ${#targets[@]} -eq 0 ]; then
  for exe in "$build"/fuzz_*; do [ -x "$exe" ] && targets+=("$(basename "$exe" | sed 's/^fuzz_//')"); done
fi

mkdir -p "$build/artifacts" "$build/logs"
failed=()
printf '%-12s %10s %8s %8s  %s\n' target runs "exec/s" seconds result
for t in "${targets[@]}"; do
  exe="$build/fuzz_$t"
  if [ ! -x "$exe" ]; then
    echo "tools/fuzz.sh: no target fuzz_$t (built: $(ls "$build" | grep '^fuzz_' | tr '\n' ' '))" >&2
    failed+=("$t")
    continue
  fi
  corpus="$build/corpus/$t"
  mkdir -p "$corpus" "$seeds/$t"
  log="$build/logs/$t.log"
  extra=()
  case "$t" in config|results|board) extra+=(-dict=fuzz/json.dict) ;; gguf) extra+=(-dict=fuzz/gguf.dict) ;; esac
  rc=0
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${extra[@]}" \
    -artifact_prefix="$build/artifacts/$t-" "$corpus" "$seeds/$t" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    result="ok, no crash"
  else
    failed+=("$t")
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    result="FAILED (exit $rc): $(grep -m1 -E 'ERROR: |runtime error|SUMMARY' "$log" | cut -c1-140); input: ${artifact:-see $log}"
  fi
  printf '%-12s %10s %8s %8s  %s\n' "$t" "${runs:-?}" "${rate:-?}" "${took:-?}" "$result"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "tools/fuzz.sh: failing targets: ${failed[*]} (logs in $build/logs/)" >&2
  exit 1
fi
