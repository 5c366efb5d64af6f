#!/usr/bin/env bash
# batchcut benchmark: builds a Release build, runs vp-emulator (no faults) on 127.0.0.1 and
# prints one Markdown table of throughput, CPU cost, pacing, latency-bound wall time, scale
# and connection reuse, every figure measured in this run as the median of RUNS runs, each
# with its target and PASS/MISS. See tests/bench/README.md.
#
#   bash tests/bench/run.sh                 # the real thing (~10 min on 2 cores)
#   QUICK=1 bash tests/bench/run.sh         # small sizes, one run: a smoke test (~1 min)
#
# Knobs (environment): RUNS=3 JOBS=100000 CONC=64 PACE_RATE=200 PACE_SECONDS=30
#   LAT_JOBS=20000 LAT_CONC=1000 LAT_MS=500 SCALE_JOBS=1000000 BIG_JOBS=10000000 PIN=1 EMU_THREADS=1
#   TOOLS="batchcut batchcut-nosync wrk hey h2load curl" TRANSPORTS="http https"
#   SECTIONS="throughput pacing latency scale track" BUILD_DIR=<repo>/build-bench
#   TRACK_JOBS=10000 TRACK_RATE=500 TRACK_POLL=10s TRACK_ENCODE_MS=15000 (track.sh, alone too)
#   OUT_DIR=<BUILD_DIR>/bench-results/<time> KEEP=0 (1: keep the work dir of big inputs)
#   SKIP_BUILD=0 SKIP_INSTALL=0
# Only 127.0.0.1 is ever contacted. Every process started here is stopped on exit.
set -eEuo pipefail
trap 'log "FAILED at line $LINENO: $BASH_COMMAND"' ERR

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/../.." && pwd)"

QUICK="${QUICK:-0}"
if [[ "$QUICK" == 1 ]]; then
  : "${RUNS:=1}" "${JOBS:=5000}" "${PACE_SECONDS:=3}" "${LAT_JOBS:=2000}" "${SCALE_JOBS:=20000}"
fi
RUNS="${RUNS:-3}"
JOBS="${JOBS:-100000}"
CONC="${CONC:-64}"
PACE_RATE="${PACE_RATE:-200}"
PACE_SECONDS="${PACE_SECONDS:-30}"
LAT_JOBS="${LAT_JOBS:-20000}"
LAT_CONC="${LAT_CONC:-1000}"
LAT_MS="${LAT_MS:-500}"
SCALE_JOBS="${SCALE_JOBS:-1000000}"
BIG_JOBS="${BIG_JOBS:-10000000}"
PIN="${PIN:-1}"
EMU_THREADS="${EMU_THREADS:-1}"
TOOLS="${TOOLS:-batchcut batchcut-nosync wrk hey h2load curl}"
TRANSPORTS="${TRANSPORTS:-http https}"
SECTIONS="${SECTIONS:-throughput pacing latency scale track}"
BUILD_DIR="${BUILD_DIR:-$REPO/build-bench}"
OUT_DIR="${OUT_DIR:-$BUILD_DIR/bench-results/$(date -u +%Y%m%dT%H%M%SZ)}"
KEEP="${KEEP:-0}"
SKIP_BUILD="${SKIP_BUILD:-0}"
SKIP_INSTALL="${SKIP_INSTALL:-0}"
KEY="bench-key"
CLIENT_LIMIT=600   # seconds: no single client run may take longer (a hung run is killed)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- cleanup
WORK=""
EPID=""
CPID=""
cleanup() {
  local rc=$?
  if [[ -n "$CPID" ]] && kill -0 "$CPID" 2>/dev/null; then
    kill -TERM "$CPID" 2>/dev/null || true
    wait "$CPID" 2>/dev/null || true
  fi
  if [[ -n "$EPID" ]] && kill -0 "$EPID" 2>/dev/null; then
    kill -TERM "$EPID" 2>/dev/null || true
    wait "$EPID" 2>/dev/null || true
  fi
  EPID=""
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    if [[ "$KEEP" == 1 ]]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools
install_tools() {
  # command -> Debian package; installs only what is missing (apt-get update once, if needed)
  local -a need=()
  local pair cmd pkg
  for pair in wrk:wrk hey:hey h2load:nghttp2-client curl:curl /usr/bin/time:time \
              taskset:util-linux python3:python3 cmake:cmake ninja:ninja-build; do
    cmd="${pair%%:*}"; pkg="${pair#*:}"
    command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
  done
  if ((${#need[@]})); then
    log "installing: ${need[*]}"
    local sudo=""; [[ $(id -u) == 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  # The project's own build dependencies (Boost, OpenSSL, ...): its setup script, if the
  # compiler cannot find them.
  if [[ ! -f /usr/include/boost/version.hpp || ! -f /usr/include/CLI/CLI.hpp ]]; then
    log "installing the project's build dependencies (deploy/setup-debian.sh)"
    bash "$REPO/deploy/setup-debian.sh"
  fi
}

build() {
  log "building Release into $BUILD_DIR"
  cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$BUILD_DIR" --target batchcut vp-emulator >/dev/null
}

[[ "$SKIP_INSTALL" == 1 ]] || install_tools
[[ "$SKIP_BUILD" == 1 ]] || build
BC="$BUILD_DIR/batchcut"
EMU="$BUILD_DIR/vp-emulator"
[[ -x "$BC" && -x "$EMU" ]] || die "no binaries in $BUILD_DIR"

mkdir -p "$OUT_DIR"
WORK="$(mktemp -d /tmp/batchcut-bench.XXXXXX)"
RAW="$OUT_DIR/raw.jsonl"
: >"$RAW"
LOGS="$OUT_DIR/logs"
mkdir -p "$LOGS"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

# Client on one core, emulator on the other (when there are two).
CLIENT_PIN=(); EMU_PIN=()
if [[ "$PIN" == 1 && $(nproc) -ge 2 ]]; then
  CLIENT_PIN=(taskset -c 0); EMU_PIN=(taskset -c 1)
fi

# ---------------------------------------------------------------- emulator
PORT=""; CA=""; EMU_ERR=""
# start_emu NAME VIDEOS TLS(0|1) [extra args...]
start_emu() {
  local name="$1" videos="$2" tls="$3"; shift 3
  local dir="$WORK/emu-$name"
  rm -rf "$dir"; mkdir -p "$dir"
  EMU_ERR="$dir/stderr"
  local -a args=(--listen 127.0.0.1:0 --port-file "$dir/port" --projects proj1
                 --videos "$videos" --api-key "$KEY" --threads "$EMU_THREADS")
  CA=""
  if [[ "$tls" == 1 ]]; then CA="$dir/ca.pem"; args+=(--tls-self-signed "$CA"); fi
  "${EMU_PIN[@]}" "$EMU" "${args[@]}" "$@" >"$dir/stdout" 2>"$EMU_ERR" &
  EPID=$!
  local i
  for i in $(seq 200); do
    if [[ -s "$dir/port" ]]; then break; fi
    kill -0 "$EPID" 2>/dev/null || { cat "$EMU_ERR" >&2; die "emulator exited"; }
    sleep 0.05
  done
  [[ -s "$dir/port" ]] || die "emulator did not start"
  PORT="$(cat "$dir/port")"
}
# Stops the emulator and sets EMU_STATS to its final stats JSON (printed to stderr on
# SIGTERM). Not to be called in a subshell: it must wait for its own child.
EMU_STATS=null
stop_emu() {
  local rc=0
  kill -TERM "$EPID"
  wait "$EPID" || rc=$?
  EPID=""
  EMU_STATS="$(grep '^{' "$EMU_ERR" | tail -1)" || true
  if [[ -z "$EMU_STATS" ]]; then
    log "WARNING: the emulator (exit $rc) printed no stats: $(tail -c 400 "$EMU_ERR" | tr '\n' ' ')"
    cp "$EMU_ERR" "$LOGS/emulator-failure-$(date +%s%N).err"
    EMU_STATS=null
  fi
}
emu_cpu_ticks() { awk '{print $14 + $15}' "/proc/$EPID/stat"; }
CLK_TCK="$(getconf CLK_TCK)"

# timed OUTFILE STDOUT_FILE STDERR_FILE CMD...: runs CMD pinned to the client core under
# GNU time; sets T_WALL T_USER T_SYS T_RSS_KB T_RC.
timed() {
  local tf="$1" so="$2" se="$3"; shift 3
  # In the background and waited for, so that a signal to this script is handled at once
  # (the trap stops the client too).
  timeout -k 10 "$CLIENT_LIMIT" /usr/bin/time -o "$tf" -f '%e %U %S %M' "${CLIENT_PIN[@]}" "$@" \
    >"$so" 2>"$se" </dev/null &
  CPID=$!
  T_RC=0
  wait "$CPID" || T_RC=$?
  CPID=""
  T_WALL=""
  read -r T_WALL T_USER T_SYS T_RSS_KB < <(grep -E '^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$' "$tf" | tail -1) || true
  [[ -n "${T_WALL:-}" ]] || die "no timing for $* (rc $T_RC): $(tail -3 "$se")"
}

# batchcut's summary line: "... over 64 connections in 3.1 s, 32722.5 req/s"
bc_summary_json() {
  local f="$1" conns elapsed rps
  conns=$(sed -nE 's/.* over ([0-9]+) connections? in ([0-9.]+) s, ([0-9.]+) req\/s.*/\1/p' "$f" | tail -1)
  elapsed=$(sed -nE 's/.* over ([0-9]+) connections? in ([0-9.]+) s, ([0-9.]+) req\/s.*/\2/p' "$f" | tail -1)
  rps=$(sed -nE 's/.* over ([0-9]+) connections? in ([0-9.]+) s, ([0-9.]+) req\/s.*/\3/p' "$f" | tail -1)
  printf '{"connections":%s,"elapsed_s":%s,"rps":%s}' "${conns:-null}" "${elapsed:-null}" "${rps:-null}"
}

raw() { printf '%s\n' "$1" >>"$RAW"; }

GEN=(python3 "$BENCH_DIR/gen.py")
BODY="$("${GEN[@]}" body 0)"
SLACK=$((2 * CONC + 100))   # videos beyond JOBS: requests wrk sends while its last answers are due

# ---------------------------------------------------------------- 1 + 5: throughput
throughput_one() {  # throughput_one RUN TRANSPORT TOOL
  local run="$1" tr="$2" tool="$3" tls=0 scheme=http
  if [[ "$tr" == https ]]; then { tls=1; scheme=https; }; fi
  local tag="tput-$tr-$tool-r$run"
  start_emu "$tag" $((JOBS + SLACK)) "$tls"
  local base="$scheme://127.0.0.1:$PORT"
  local target="$base/api/v2/proj1/live-videos/lv0/stop-and-cut"
  local so="$LOGS/$tag.out" se="$LOGS/$tag.err" tf="$WORK/$tag.time"
  local -a cmd
  case "$tool" in
    batchcut|batchcut-nosync)
      rm -f "$WORK/tput.ledger.jsonl"
      cmd=(env VP_API_KEY="$KEY" "$BC" run "$WORK/jobs.csv" --base-url "$base" --rate 0
           --concurrency "$CONC" --ledger "$WORK/tput.ledger.jsonl")
      if [[ "$tls" == 1 ]]; then cmd+=(--ca-file "$CA"); fi
      if [[ "$tool" == batchcut-nosync ]]; then cmd+=(--ledger-sync-none); fi
      ;;
    wrk)
      rm -rf "$WORK/wrk-markers"; mkdir -p "$WORK/wrk-markers"
      cmd=(wrk -t1 -c "$CONC" -d 3600s -s "$BENCH_DIR/wrk_post.lua" "$base"
           -- "$JOBS" "$KEY" proj1 "$WORK/wrk-markers" 1)
      ;;
    hey)
      cmd=(hey -n "$JOBS" -c "$CONC" -m POST -T application/json
           -H "Authorization: Bearer $KEY" -d "$BODY" "$target")
      ;;
    h2load)
      "${GEN[@]}" uris "$JOBS" "$base" "$WORK/uris.txt"
      cmd=(h2load --h1 -n "$JOBS" -c "$CONC" -t 1 -d "$WORK/body.json"
           -H "Content-Type: application/json" -H "Authorization: Bearer $KEY" -i "$WORK/uris.txt")
      ;;
    curl)
      "${GEN[@]}" curlcfg "$JOBS" "$base" "$WORK/curl.cfg"
      cmd=(curl -s -S -Z --parallel-max "$CONC" -H "Content-Type: application/json"
           -H "Authorization: Bearer $KEY" --data-binary "@$WORK/body.json" -K "$WORK/curl.cfg")
      if [[ "$tls" == 1 ]]; then cmd+=(--cacert "$CA"); fi
      ;;
    *) die "unknown tool $tool" ;;
  esac
  local c0 c1
  c0=$(emu_cpu_ticks)
  timed "$tf" "$so" "$se" "${cmd[@]}"
  c1=$(emu_cpu_ticks)
  local extra="null"
  stop_emu
  if [[ "$tool" == batchcut* ]]; then extra="$(bc_summary_json "$so")"; fi
  raw "$(printf '{"kind":"tput","run":%s,"transport":"%s","tool":"%s","rc":%s,"wall":%s,"user":%s,"sys":%s,"rss_kb":%s,"emu_cpu_s":%s,"emu":%s,"batchcut":%s}' \
    "$run" "$tr" "$tool" "$T_RC" "$T_WALL" "$T_USER" "$T_SYS" "$T_RSS_KB" \
    "$(awk -v a="$c0" -v b="$c1" -v h="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/h}')" "$EMU_STATS" "$extra")"
  log "  $tr $tool run $run: wall ${T_WALL}s cpu $(awk -v u="$T_USER" -v s="$T_SYS" 'BEGIN{print u+s}')s rss ${T_RSS_KB}KB rc $T_RC"
}

# ---------------------------------------------------------------- 2: pacing
pacing_one() {
  local run="$1" jobs=$((PACE_RATE * PACE_SECONDS)) tag="pace-r$1"
  start_emu "$tag" $((jobs + SLACK)) 0 --record "$WORK/$tag.record.jsonl"
  rm -f "$WORK/pace.ledger.jsonl"
  timed "$WORK/$tag.time" "$LOGS/$tag.out" "$LOGS/$tag.err" \
    env VP_API_KEY="$KEY" "$BC" run "$WORK/pace.csv" --base-url "http://127.0.0.1:$PORT" \
    --rate "$PACE_RATE" --concurrency "$CONC" --ledger "$WORK/pace.ledger.jsonl"
  stop_emu
  local win; win="$(python3 "$BENCH_DIR/windows.py" "$WORK/$tag.record.jsonl" "$WORK/pace.ledger.jsonl")"
  raw "$(printf '{"kind":"pace","run":%s,"rc":%s,"wall":%s,"jobs":%s,"windows":%s,"emu":%s,"batchcut":%s}' \
    "$run" "$T_RC" "$T_WALL" "$jobs" "$win" "$EMU_STATS" "$(bc_summary_json "$LOGS/$tag.out")")"
  log "  pacing run $run: $win"
}

# ---------------------------------------------------------------- 3: latency-bound
latency_one() {
  local run="$1" tag="lat-r$1"
  start_emu "$tag" $((LAT_JOBS + SLACK)) 0 --latency-ms "$LAT_MS"
  rm -f "$WORK/lat.ledger.jsonl"
  local c0 c1; c0=$(emu_cpu_ticks)
  timed "$WORK/$tag.time" "$LOGS/$tag.out" "$LOGS/$tag.err" \
    env VP_API_KEY="$KEY" "$BC" run "$WORK/lat.csv" --base-url "http://127.0.0.1:$PORT" \
    --rate 0 --concurrency "$LAT_CONC" --ledger "$WORK/lat.ledger.jsonl"
  c1=$(emu_cpu_ticks)
  stop_emu
  raw "$(printf '{"kind":"latency","run":%s,"rc":%s,"wall":%s,"user":%s,"sys":%s,"rss_kb":%s,"emu_cpu_s":%s,"emu":%s,"batchcut":%s}' \
    "$run" "$T_RC" "$T_WALL" "$T_USER" "$T_SYS" "$T_RSS_KB" \
    "$(awk -v a="$c0" -v b="$c1" -v h="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/h}')" \
    "$EMU_STATS" "$(bc_summary_json "$LOGS/$tag.out")")"
  log "  latency run $run: wall ${T_WALL}s rc $T_RC"
}

# ---------------------------------------------------------------- 4: scale
scale_one() {  # scale_one RUN WHAT
  local run="$1" what="$2" tag="scale-$2-r$1"
  local -a cmd
  case "$what" in
    validate) cmd=("$BC" validate "$WORK/scale.csv") ;;
    validate_big) cmd=("$BC" validate "$WORK/big.csv") ;;
    dryrun)   cmd=("$BC" run "$WORK/scale.csv" --dry-run --ledger "$WORK/none.ledger.jsonl"
                   --base-url http://127.0.0.1:9) ;;
    # A resume where every job is already final: lock + read the ledger, read the
    # manifest, match every job, send nothing (no server is contacted).
    resume)   cmd=(env VP_API_KEY="$KEY" "$BC" run "$WORK/scale.csv" --ledger "$WORK/scale.ledger.jsonl"
                   --base-url http://127.0.0.1:9) ;;
    status)   cmd=("$BC" status "$WORK/scale.ledger.jsonl") ;;
  esac
  local so="$LOGS/$tag.out"
  if [[ "$what" == dryrun ]]; then so=/dev/null; fi
  timed "$WORK/$tag.time" "$so" "$LOGS/$tag.err" "${cmd[@]}"
  raw "$(printf '{"kind":"scale","what":"%s","run":%s,"rc":%s,"wall":%s,"user":%s,"sys":%s,"rss_kb":%s}' \
    "$what" "$run" "$T_RC" "$T_WALL" "$T_USER" "$T_SYS" "$T_RSS_KB")"
  log "  scale $what run $run: wall ${T_WALL}s rss ${T_RSS_KB}KB rc $T_RC"
}

# ---------------------------------------------------------------- main
has() { [[ " $SECTIONS " == *" $1 "* ]]; }
raw "$(printf '{"kind":"config","runs":%s,"jobs":%s,"conc":%s,"pace_rate":%s,"pace_seconds":%s,"lat_jobs":%s,"lat_conc":%s,"lat_ms":%s,"scale_jobs":%s,"pin":%s,"emu_threads":%s,"quick":%s,"nproc":%s,"commit":"%s","kernel":"%s","cpu":"%s"}' \
  "$RUNS" "$JOBS" "$CONC" "$PACE_RATE" "$PACE_SECONDS" "$LAT_JOBS" "$LAT_CONC" "$LAT_MS" \
  "$SCALE_JOBS" "$([[ ${#CLIENT_PIN[@]} -gt 0 ]] && echo 1 || echo 0)" "$EMU_THREADS" "$QUICK" "$(nproc)" \
  "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(uname -r)" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//;s/"//g')")"

printf '%s' "$BODY" >"$WORK/body.json"
T0=$(date +%s)

if has throughput; then
  log "throughput: $JOBS jobs, concurrency $CONC, $RUNS runs x [$TRANSPORTS] x [$TOOLS]"
  "${GEN[@]}" manifest "$JOBS" "$WORK/jobs.csv"
  for run in $(seq "$RUNS"); do
    for tr in $TRANSPORTS; do
      for tool in $TOOLS; do throughput_one "$run" "$tr" "$tool"; done
    done
  done
fi
if has pacing; then
  log "pacing: --rate $PACE_RATE for $PACE_SECONDS s, $RUNS runs"
  "${GEN[@]}" manifest $((PACE_RATE * PACE_SECONDS)) "$WORK/pace.csv"
  for run in $(seq "$RUNS"); do pacing_one "$run"; done
fi
if has latency; then
  log "latency-bound: $LAT_JOBS jobs, concurrency $LAT_CONC, emulator latency $LAT_MS ms, $RUNS runs"
  "${GEN[@]}" manifest "$LAT_JOBS" "$WORK/lat.csv"
  for run in $(seq "$RUNS"); do latency_one "$run"; done
fi
if has scale; then
  log "scale: $SCALE_JOBS jobs (generating the manifest and a ledger where all succeeded)"
  "${GEN[@]}" manifest "$SCALE_JOBS" "$WORK/scale.csv"
  "${GEN[@]}" ledger "$SCALE_JOBS" "$WORK/scale.ledger.jsonl"
  size0=$(stat -c %s "$WORK/scale.ledger.jsonl")
  raw "$(printf '{"kind":"scale_inputs","manifest_bytes":%s,"ledger_bytes":%s}' \
    "$(stat -c %s "$WORK/scale.csv")" "$size0")"
  # No server runs here, so batchcut gets the whole machine, as it would on a user's.
  saved_pin=("${CLIENT_PIN[@]}"); CLIENT_PIN=()
  for run in $(seq "$RUNS"); do
    for what in validate dryrun resume status; do scale_one "$run" "$what"; done
  done
  # The hardening target: BIG_JOBS (10 million) validated in under 1 GB, streamed.
  log "scale: validate $BIG_JOBS jobs"
  "${GEN[@]}" manifest "$BIG_JOBS" "$WORK/big.csv"
  raw "$(printf '{"kind":"scale_big","jobs":%s,"manifest_bytes":%s}' "$BIG_JOBS" "$(stat -c %s "$WORK/big.csv")")"
  for run in $(seq "$RUNS"); do scale_one "$run" validate_big; done
  rm -f "$WORK/big.csv"
  CLIENT_PIN=("${saved_pin[@]}")
  [[ $(stat -c %s "$WORK/scale.ledger.jsonl") == "$size0" ]] || log "WARNING: resume changed the ledger"
fi
TRACK_ROW=""
if has track; then
  # batchcut track's pacing (tests/bench/track.sh, which also runs alone): one run.
  log "track: ${TRACK_JOBS:-10000} VODs at --rate ${TRACK_RATE:-500}"
  mkdir -p "$OUT_DIR/track"
  TRACK_ROW="$(BUILD_DIR="$BUILD_DIR" SKIP_BUILD=1 OUT_DIR="$OUT_DIR/track" bash "$BENCH_DIR/track.sh" \
               2>>"$LOGS/track.err" | head -1)" || log "WARNING: track.sh failed (see $LOGS/track.err)"
fi
raw "$(printf '{"kind":"done","seconds":%s}' $(( $(date +%s) - T0 )))"

python3 "$BENCH_DIR/report.py" "$RAW" | tee "$OUT_DIR/table.md"
if [[ -n "$TRACK_ROW" ]]; then
  printf '\n| batchcut track | figure | measured | target | |\n|---|---|---|---|---|\n%s\n' "$TRACK_ROW" | tee -a "$OUT_DIR/table.md"
fi
log "raw results: $RAW; table: $OUT_DIR/table.md; logs: $LOGS"
