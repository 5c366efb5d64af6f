#!/usr/bin/env bash
# deploy/cron: the wrapper runs batchcut with the batch's files while holding the batch's lock,
# a second one started meanwhile exits 75 without running anything, and the cron line is one
# that cron parses as meant (five time fields, a user, no bare %).
# usage: cron_wrapper.sh SOURCE_DIR
set -euo pipefail
src=$1
wrapper=$src/deploy/cron/batchcut-cron
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

sh -n "$wrapper" || fail "batchcut-cron does not parse"

# A stand-in for batchcut that records its arguments and whether the lock is held meanwhile.
mkdir "$tmp/etc" "$tmp/state"
cat > "$tmp/batchcut" <<STUB
#!/bin/sh
printf '%s\n' "\$@" > "$tmp/args"
if flock --nonblock "$tmp/state/tonight.lock" true; then echo free; else echo held; fi > "$tmp/lock"
exit 4
STUB
chmod +x "$tmp/batchcut"
export BATCHCUT=$tmp/batchcut BATCHCUT_ETC=$tmp/etc BATCHCUT_STATE=$tmp/state

rc=0; sh "$wrapper" tonight || rc=$?
[ "$rc" -eq 4 ] || fail "the wrapper did not pass batchcut's exit status on (got $rc, want 4)"
[ "$(cat "$tmp/lock")" = held ] || fail "the lock was not held while batchcut ran"
expected="run
--config
$tmp/etc/tonight.yaml
$tmp/etc/tonight.manifest.csv
--ledger
$tmp/state/tonight.ledger.jsonl
--api-key-file
$tmp/etc/credentials/vp-api-key"
[ "$(cat "$tmp/args")" = "$expected" ] || { echo "got:"; cat "$tmp/args"; fail "unexpected arguments"; }

# With the lock held by another run: exit 75 at once, batchcut not started.
rm -f "$tmp/args"
rc=0; flock "$tmp/state/tonight.lock" sh "$wrapper" tonight || rc=$?
[ "$rc" -eq 75 ] || fail "a second run while one holds the lock exited $rc, want 75"
[ ! -e "$tmp/args" ] || fail "batchcut ran although the lock was held"

# A name that could leave /etc/batchcut is refused.
rc=0; sh "$wrapper" ../passwd 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "the name ../passwd was not refused (exit $rc)"

# The cron line: minute hour dom month dow user command; no % (cron turns it into a newline).
lines=$(grep -Ev '^\s*(#|$|[A-Z_]+=)' "$src/deploy/cron/batchcut.cron")
[ -n "$lines" ] || fail "batchcut.cron has no job line"
while read -r m h dom mon dow user cmd; do
  for f in "$m" "$h" "$dom" "$mon" "$dow"; do
    [[ $f =~ ^[0-9*/,-]+$ ]] || fail "batchcut.cron: bad time field '$f'"
  done
  [[ $user =~ ^[a-z_][a-z0-9_-]*$ ]] || fail "batchcut.cron: bad user '$user'"
  [[ $cmd == batchcut-cron\ * ]] || fail "batchcut.cron: the command is not batchcut-cron: $cmd"
  [[ $cmd != *%* ]] || fail "batchcut.cron: a % in the command"
done <<<"$lines"
echo "ok: batchcut-cron and batchcut.cron"
