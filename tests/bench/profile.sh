#!/usr/bin/env bash
# Where batchcut's CPU goes: a Release build with -g -fno-omit-frame-pointer, vp-emulator
# (no faults, 1 thread) on core 1, and one batchcut run of JOBS jobs (--rate 0,
# concurrency 64) on core 0 under `perf record -g`. Prints the top of
# `perf report --no-children` and a per-library split; perf.data stays in OUT_DIR.
#
#   bash tests/bench/profile.sh                       # 10,000 jobs, plain HTTP, group commit
#   SCHEME=https LEDGER_SYNC=none JOBS=20000 bash tests/bench/profile.sh
#   TOOL=callgrind bash tests/bench/profile.sh        # valgrind --tool=callgrind instead
# Only 127.0.0.1 is contacted; the emulator is stopped on exit.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/../.." && pwd)"
JOBS="${JOBS:-10000}"
CONC="${CONC:-64}"
SCHEME="${SCHEME:-http}"
LEDGER_SYNC="${LEDGER_SYNC:-group}"   # group | none
TOOL="${TOOL:-perf}"                  # perf | callgrind
PROF_BUILD="${PROF_BUILD:-$REPO/build-bench-prof}"
OUT_DIR="${OUT_DIR:-$PROF_BUILD/profile-$(date -u +%Y%m%dT%H%M%SZ)}"
KEY=bench-key

log() { printf '[profile] %s\n' "$*" >&2; }

need=()
command -v perf >/dev/null || need+=(linux-perf)
command -v valgrind >/dev/null || need+=(valgrind)
command -v taskset >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
  sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

log "building Release with -g -fno-omit-frame-pointer into $PROF_BUILD"
cmake -S "$REPO" -B "$PROF_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  "-DCMAKE_CXX_FLAGS=-g -fno-omit-frame-pointer" >/dev/null
cmake --build "$PROF_BUILD" --target batchcut vp-emulator >/dev/null

mkdir -p "$OUT_DIR"
EPID=""
cleanup() {
  if [[ -n "$EPID" ]] && kill -0 "$EPID" 2>/dev/null; then
    kill -TERM "$EPID"; wait "$EPID" || true
  fi
}
trap cleanup EXIT

python3 "$BENCH_DIR/gen.py" manifest "$JOBS" "$OUT_DIR/jobs.csv"
args=(--listen 127.0.0.1:0 --port-file "$OUT_DIR/port" --projects proj1
      --videos $((JOBS + 1000)) --api-key "$KEY" --threads 1)
[[ "$SCHEME" == https ]] && args+=(--tls-self-signed "$OUT_DIR/ca.pem")
taskset -c 1 "$PROF_BUILD/vp-emulator" "${args[@]}" >"$OUT_DIR/emu.out" 2>"$OUT_DIR/emu.err" &
EPID=$!
for _ in $(seq 200); do [[ -s "$OUT_DIR/port" ]] && break; sleep 0.05; done
PORT="$(cat "$OUT_DIR/port")"

bc=("$PROF_BUILD/batchcut" run "$OUT_DIR/jobs.csv" --base-url "$SCHEME://127.0.0.1:$PORT"
    --rate 0 --concurrency "$CONC" --ledger "$OUT_DIR/ledger.jsonl")
[[ "$SCHEME" == https ]] && bc+=(--ca-file "$OUT_DIR/ca.pem")
[[ "$LEDGER_SYNC" == none ]] && bc+=(--ledger-sync-none)

if [[ "$TOOL" == callgrind ]]; then
  log "callgrind: ${bc[*]}"
  VP_API_KEY="$KEY" taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$OUT_DIR/callgrind.out" \
    "${bc[@]}" >"$OUT_DIR/batchcut.out" 2>"$OUT_DIR/batchcut.err" || true
  cat "$OUT_DIR/batchcut.out"
  callgrind_annotate --inclusive=no "$OUT_DIR/callgrind.out" 2>/dev/null | head -60
else
  log "perf record -g: ${bc[*]}"
  VP_API_KEY="$KEY" taskset -c 0 perf record -q -F 4999 -g -o "$OUT_DIR/perf.data" -- "${bc[@]}" \
    >"$OUT_DIR/batchcut.out" 2>"$OUT_DIR/batchcut.err" || true
  cat "$OUT_DIR/batchcut.out"
  echo "--- share of samples by library (dso) ---"
  perf report -i "$OUT_DIR/perf.data" --no-children --sort dso --stdio 2>/dev/null \
    | grep -E '^ +[0-9]' | head -12
  echo "--- top functions (perf report --no-children) ---"
  perf report -i "$OUT_DIR/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null \
    | grep -E '^ +[0-9]' | head -60
fi
log "output in $OUT_DIR"
