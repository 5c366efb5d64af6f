#!/usr/bin/env bash
# The usage lines and --version name the programs, not the paths they were started by.
# usage: usage_names.sh BATCHCUT VP_EMULATOR
set -euo pipefail
batchcut=$1 emulator=$2
fail() { echo "FAIL: $*"; exit 1; }
check_usage() {  # EXPECTED-PROGRAM COMMAND...
  local want=$1; shift
  local line
  line=$("$@" --help | grep -m1 '^Usage:') || fail "'$* --help' has no Usage line"
  [[ $line == "Usage: $want "* ]] || fail "'$* --help': $line"
  [[ $line != */* ]] || fail "'$* --help' shows a path: $line"
}
# The brief's own check: the first line of `batchcut run --help` holds no path.
[[ $("$batchcut" run --help | head -1) != */* ]] || fail "batchcut run --help | head -1 shows a path"
check_usage batchcut "$batchcut"
for sub in run replay validate export status demo; do check_usage "batchcut $sub" "$batchcut" "$sub"; done
check_usage vp-emulator "$emulator"
[[ $("$batchcut" --version) =~ ^batchcut\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "batchcut --version: $("$batchcut" --version)"
[[ $("$emulator" --version) =~ ^vp-emulator\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "vp-emulator --version: $("$emulator" --version)"
echo "ok: usage lines say batchcut and vp-emulator"
