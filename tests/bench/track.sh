#!/usr/bin/env bash
# batchcut track's pacing, alone (also the "track" section of run.sh): cuts TRACK_JOBS VODs on
# vp-emulator (rate 0, so the ledger holds TRACK_JOBS succeeded jobs with ids the emulator
# knows), then runs `batchcut track --rate TRACK_RATE` against the emulator's manage API with
# an encode time long enough that many VODs need more than one poll. The emulator records
# every request (--record: one JSON line each, "ts" in ms when it was received); windows.py
# --vod counts the VOD reads in every 1 s window. PASS when the most in any 1 s window is at
# most rate + burst (1): what a token bucket admits in any window of 1 s (a token at its start
# and `rate` more by its end), measured where the requests arrive.
#
#   bash tests/bench/track.sh
#   TRACK_JOBS=10000 TRACK_RATE=500 TRACK_POLL=10s TRACK_ENCODE_MS=15000 bash tests/bench/track.sh
#
# Knobs: TRACK_JOBS=10000 TRACK_RATE=500 TRACK_CONC=64 TRACK_POLL=10s TRACK_ENCODE_MS=15000
#   TRACK_TIMEOUT=10m BUILD_DIR=<repo>/build-bench (reused when it has both binaries; else
#   SKIP_BUILD=0 builds it) OUT_DIR (default: a temp dir; the record and logs are kept there).
# Prints one Markdown table row and one JSON line (to OUT_DIR/track.json). Only 127.0.0.1 is
# ever contacted; the emulator it starts is stopped on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$REPO/build-bench}"
TRACK_JOBS="${TRACK_JOBS:-10000}"
TRACK_RATE="${TRACK_RATE:-500}"
TRACK_CONC="${TRACK_CONC:-64}"
TRACK_POLL="${TRACK_POLL:-10s}"
TRACK_ENCODE_MS="${TRACK_ENCODE_MS:-15000}"
TRACK_TIMEOUT="${TRACK_TIMEOUT:-10m}"
OUT_DIR="${OUT_DIR:-$(mktemp -d /tmp/batchcut-track-bench.XXXXXX)}"
KEY="bench-track-key-0001"

log() { printf '[track-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

BC="$BUILD_DIR/batchcut"
EMU="$BUILD_DIR/vp-emulator"
if [[ ! -x "$BC" || ! -x "$EMU" ]]; then
  [[ "${SKIP_BUILD:-0}" == 1 ]] && die "no batchcut/vp-emulator in $BUILD_DIR"
  log "building $BUILD_DIR (Release)"
  cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$BUILD_DIR" -j2 --target batchcut vp-emulator >/dev/null
fi
mkdir -p "$OUT_DIR"

EPID=""
cleanup() { if [[ -n "$EPID" ]]; then kill -TERM "$EPID" 2>/dev/null || true; wait "$EPID" 2>/dev/null || true; fi; }
trap cleanup EXIT

# The encode time is the emulator's manage-API option (emu branch); without it every VOD is
# Ready at once (or 404 without the manage API at all), which the result then shows.
EMU_ARGS=(--listen 127.0.0.1:0 --port-file "$OUT_DIR/port" --projects proj1 --videos "$TRACK_JOBS"
          --api-key "$KEY" --threads 1 --tls-self-signed "$OUT_DIR/ca.pem" --record "$OUT_DIR/record.jsonl")
if "$EMU" --help 2>&1 | grep -q -- '--encode-time'; then
  EMU_ARGS+=(--encode-time "$TRACK_ENCODE_MS")
else
  log "WARNING: vp-emulator has no --encode-time: VODs will not need several polls"
fi
rm -f "$OUT_DIR/port" "$OUT_DIR/record.jsonl"
"$EMU" "${EMU_ARGS[@]}" >"$OUT_DIR/emu.out" 2>"$OUT_DIR/emu.err" &
EPID=$!
for _ in $(seq 200); do
  [[ -s "$OUT_DIR/port" ]] && break
  kill -0 "$EPID" 2>/dev/null || { cat "$OUT_DIR/emu.err" >&2; die "emulator exited"; }
  sleep 0.05
done
[[ -s "$OUT_DIR/port" ]] || die "emulator did not start"
BASE="https://127.0.0.1:$(cat "$OUT_DIR/port")"

python3 "$HERE/gen.py" manifest "$TRACK_JOBS" "$OUT_DIR/jobs.csv"
log "cutting $TRACK_JOBS VODs (rate 0)"
VP_API_KEY="$KEY" "$BC" run "$OUT_DIR/jobs.csv" --ledger "$OUT_DIR/ledger.jsonl" --base-url "$BASE" \
  --ca-file "$OUT_DIR/ca.pem" --rate 0 --concurrency 64 --progress none --ledger-sync-none \
  >"$OUT_DIR/run.out" 2>"$OUT_DIR/run.err" || die "the run failed: $(tail -3 "$OUT_DIR/run.err")"

log "tracking at --rate $TRACK_RATE (poll $TRACK_POLL, encode ${TRACK_ENCODE_MS} ms)"
start=$(date +%s.%N)
rc=0
VP_API_KEY="$KEY" "$BC" track "$OUT_DIR/ledger.jsonl" --manage-base-url "$BASE" --rate "$TRACK_RATE" \
  --concurrency "$TRACK_CONC" --poll-interval "$TRACK_POLL" --timeout "$TRACK_TIMEOUT" --ledger-sync-none \
  >"$OUT_DIR/track.out" 2>"$OUT_DIR/track.err" || rc=$?
end=$(date +%s.%N)
kill -TERM "$EPID"; wait "$EPID" 2>/dev/null || true; EPID=""

python3 "$HERE/windows.py" --vod "$OUT_DIR/record.jsonl" >"$OUT_DIR/windows.json"
python3 - "$OUT_DIR" "$TRACK_RATE" "$TRACK_JOBS" "$rc" "$start" "$end" <<'PY'
import json, sys
out, rate, jobs, rc, start, end = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
w = json.load(open(f"{out}/windows.json"))
summary = open(f"{out}/track.out").read().strip().splitlines()
vods = next((l for l in summary if l.startswith("VODs:")), "(no summary)")
res = {"jobs": jobs, "rate": rate, "exit": rc, "wall_s": round(end - start, 2), "vod_reads": w["requests"],
       "polls_per_vod": round(w["requests"] / jobs, 2) if jobs else 0, "max_1s": w["max_1s"],
       "max_100ms": w["max_100ms"], "achieved_rps": round(w["achieved_rps"], 1), "vods": vods,
       "pass": w["max_1s"] <= rate + 1}
json.dump(res, open(f"{out}/track.json", "w"))
print("| batchcut track pacing | %d VODs, --rate %g: %d reads (%.2f per VOD) in %.1f s, %s/s achieved | max %d in any 1 s window | <= %g (rate + burst) | %s |"
      % (jobs, rate, w["requests"], res["polls_per_vod"], res["wall_s"], res["achieved_rps"], w["max_1s"], rate + 1,
         "PASS" if res["pass"] else "MISS"))
print(json.dumps(res))
PY
log "track exited $rc; record, logs and track.json in $OUT_DIR"
