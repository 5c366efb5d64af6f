#!/usr/bin/env bash
# `cmake --install` into a temporary prefix: both binaries, both man pages, the bash
# completion and the example configuration; the installed batchcut runs.
# usage: install.sh BUILD_DIR
set -euo pipefail
build=$1
fail() { echo "FAIL: $*"; exit 1; }
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" > "$prefix.log" 2>&1 || { cat "$prefix.log"; rm -f "$prefix.log"; fail "cmake --install"; }
rm -f "$prefix.log"
for f in bin/batchcut bin/vp-emulator; do [ -x "$prefix/$f" ] || fail "$f not installed"; done
for f in share/man/man1/batchcut.1 share/man/man1/vp-emulator.1 \
         share/bash-completion/completions/batchcut \
         share/doc/batchcut/examples/jobs.yaml share/doc/batchcut/examples/jobs.csv \
         share/doc/batchcut/examples/post-event.yaml share/doc/batchcut/examples/post-event.csv \
         share/doc/batchcut/examples/deploy/systemd/batchcut@.service \
         share/doc/batchcut/examples/deploy/cron/batchcut-cron; do
  [ -s "$prefix/$f" ] || fail "$f not installed"
done
# The example configuration, when the source tree has it (config/batchcut.example.yaml).
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
if [ -e "$src/config/batchcut.example.yaml" ]; then
  [ -s "$prefix/share/doc/batchcut/batchcut.example.yaml" ] || fail "batchcut.example.yaml not installed"
fi
[ -x "$prefix/share/doc/batchcut/examples/deploy/cron/batchcut-cron" ] || fail "batchcut-cron lost its x bit"

[[ $("$prefix/bin/batchcut" --version) =~ ^batchcut\ [0-9.]+$ ]] || fail "installed batchcut --version"
[[ $("$prefix/bin/vp-emulator" --version) =~ ^vp-emulator\ [0-9.]+$ ]] || fail "installed vp-emulator --version"
# The man pages are help2man's, from these binaries: the name, every subcommand, exit status.
man1=$prefix/share/man/man1
grep -q '^\.TH BATCHCUT "1"' "$man1/batchcut.1" || fail "batchcut.1 has no .TH header"
for sub in run replay validate export status demo; do
  grep -q "^\.SS $sub\$" "$man1/batchcut.1" || fail "batchcut.1 lacks the subcommand $sub"
done
grep -q -- 'api\\-key\\-file' "$man1/batchcut.1" || fail "batchcut.1 lacks run's options"
grep -q '^\.SH "EXIT STATUS"' "$man1/batchcut.1" || fail "batchcut.1 lacks EXIT STATUS"
grep -q '^\.TH VP-EMULATOR "1"' "$man1/vp-emulator.1" || fail "vp-emulator.1 has no .TH header"
grep -q 'p\\-cut\\-drop' "$man1/vp-emulator.1" || fail "vp-emulator.1 lacks its options"
if command -v man > /dev/null; then
  MANWIDTH=80 man -l "$man1/batchcut.1" 2>&1 >/dev/null | grep . && fail "man reports problems in batchcut.1"
fi
echo "ok: installed into a temporary prefix"
