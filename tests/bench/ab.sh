#!/usr/bin/env bash
# A/B of two batchcut binaries, interleaved run by run so a noisy machine's swings hit both:
#   bash tests/bench/ab.sh OLD_BATCHCUT NEW_BATCHCUT [PAIRS=5]
# e.g. build the previous release in a worktree with `bash tests/bench/run.sh` (its Release
# build lands in build-bench/), then compare its build-bench/batchcut with this one's.
# Each run: a fresh vp-emulator (this checkout's build-bench/) pinned to core 1, 100,000 jobs
# over HTTP at concurrency 64 pinned to core 0; prints jobs/s (wall time, start-up included)
# with group commit and with --ledger-sync-none.
set -euo pipefail
OLD="$1"; NEW="$2"; PAIRS="${3:-5}"; JOBS="${JOBS:-100000}"; PORT="${PORT:-18095}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EMU="$REPO/build-bench/vp-emulator"
W="$(mktemp -d)"; trap 'rm -rf "$W"' EXIT
python3 "$REPO/tests/bench/gen.py" manifest "$JOBS" "$W/m.csv"
one() {  # one BINARY [extra flags]
  local bin="$1"; shift
  taskset -c 1 "$EMU" --listen "127.0.0.1:$PORT" --projects proj1 --videos $((JOBS + 100)) \
    --api-key k --threads 1 > /dev/null 2>&1 &
  local emu=$!
  for _ in $(seq 50); do curl -s "http://127.0.0.1:$PORT/_emulator/stats" > /dev/null && break; sleep 0.1; done
  rm -f "$W/l.jsonl"
  local t0 t1; t0=$(date +%s.%N)
  VP_API_KEY=k taskset -c 0 "$bin" run "$W/m.csv" --ledger "$W/l.jsonl" --base-url "http://127.0.0.1:$PORT" \
    --rate 0 --concurrency 64 "$@" > /dev/null 2>&1
  t1=$(date +%s.%N)
  kill "$emu"; wait "$emu" 2> /dev/null || true
  awk -v a="$t0" -v b="$t1" -v n="$JOBS" 'BEGIN{printf "%.0f", n/(b-a)}'
}
echo "pair  group-commit: old new   --ledger-sync-none: old new   (jobs/s)"
for i in $(seq "$PAIRS"); do
  echo "$i  $(one "$OLD") $(one "$NEW")   $(one "$OLD" --ledger-sync-none) $(one "$NEW" --ledger-sync-none)"
done
