#!/usr/bin/env bash
# deploy/completion/batchcut.bash, driven as bash drives it (COMP_WORDS, COMP_CWORD), against
# the built binary: subcommands, each subcommand's own options, option values from choices.
# usage: completion.sh SOURCE_DIR BATCHCUT
set -euo pipefail
src=$1 batchcut=$2
fail() { echo "FAIL: $*"; exit 1; }
# shellcheck source=/dev/null
source "$src/deploy/completion/batchcut.bash"
[[ $(complete -p batchcut) == *"-F _batchcut"* ]] || fail "batchcut is not bound to _batchcut"

complete_line() {  # WORD...: the words after the program; the last is the one being completed
  COMP_WORDS=("$batchcut" "$@")
  COMP_CWORD=$#
  COMPREPLY=()
  _batchcut
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
expect() {  # WANT WORD...
  local want=$1; shift
  local got
  got=$(complete_line "$@")
  [ "$got" = "$want" ] || fail "batchcut $* <TAB>: got '$got', want '$want'"
}
has() {  # OPTION WORD...: OPTION is among the candidates
  local option=$1; shift
  grep -qw -- "$option" <<<" $(complete_line "$@") " || fail "batchcut $* <TAB>: no $option"
}
lacks() {
  local option=$1; shift
  ! grep -qw -- "$option" <<<" $(complete_line "$@") " || fail "batchcut $* <TAB>: offers $option"
}

expect "--help --version config demo export plan replay run status track validate" ""
expect "replay run" r
expect "--retarget --retry-budget" run --ret
expect "--states" replay --st
has --concurrency run --
has --allow-changed run --
lacks --allow-changed replay --        # run's own option
has --manifest export --
lacks --rate export --
lacks --rate status --
expect "bearer raw" run --auth-scheme ""
expect "auto bar log none" run --progress ""
expect "csv jsonl yaml" export --format ""
expect "csv yaml yml" validate --format ""
expect "" run --rate ""                # a number: nothing to guess
# After an option that takes a file, and for the manifest: file names.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
touch "$tmp/tonight.csv" "$tmp/tonight.ledger.jsonl"
expect "$tmp/tonight.ledger.jsonl" run --ledger "$tmp/tonight.l"
expect "$tmp/tonight.csv" run "$tmp/tonight.c"
# A file name with a space is one candidate, not two.
touch "$tmp/late night.csv"
COMP_WORDS=("$batchcut" run "$tmp/late"); COMP_CWORD=2; _batchcut || true  # compopt fails outside completion
[ ${#COMPREPLY[@]} -eq 1 ] && [ "${COMPREPLY[0]}" = "$tmp/late night.csv" ] ||
  fail "batchcut run $tmp/late <TAB>: ${#COMPREPLY[@]} candidates: ${COMPREPLY[*]}"
echo "ok: completion"
