#!/usr/bin/env bash
# systemd-analyze verify on deploy/systemd/batchcut@.{service,timer}, instantiated as
# batchcut@nightly, with ExecStart pointed at the built binary (verify insists that it exists).
# Works without a running systemd. verify exits 0 on settings it merely ignores (a typo in a
# key, a bad boolean, a bad service type), so any message about our units fails the test too.
# usage: systemd_verify.sh SOURCE_DIR BATCHCUT_BINARY
set -euo pipefail
src=$1 bin=$(readlink -f "$2")  # systemd wants an absolute path
units=$src/deploy/systemd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

grep -q '^ExecStart=/usr/bin/batchcut ' "$units/batchcut@.service" ||
  { echo "FAIL: ExecStart does not start with /usr/bin/batchcut"; exit 1; }
sed "s#^ExecStart=/usr/bin/batchcut #ExecStart=$bin #" "$units/batchcut@.service" > "$tmp/batchcut@.service"
cp "$units/batchcut@.timer" "$tmp/"

rc=0
out=$(cd "$tmp" && systemd-analyze verify --man=no ./batchcut@nightly.service ./batchcut@nightly.timer 2>&1) || rc=$?
if [ "$rc" -ne 0 ] || grep -q 'batchcut@' <<<"$out"; then
  echo "FAIL: systemd-analyze verify (exit $rc):"
  echo "$out"
  exit 1
fi

# What the brief asks of the units, which verify cannot know.
need() { grep -Eq "^$2\$" "$1" || { echo "FAIL: $(basename "$1") lacks $2"; exit 1; }; }
svc=$units/batchcut@.service timer=$units/batchcut@.timer
need "$svc" 'DynamicUser=yes'
need "$svc" 'NoNewPrivileges=yes'
need "$svc" 'ProtectSystem=strict'
need "$svc" 'StateDirectory=batchcut'
need "$svc" 'LoadCredential=vp-api-key:.+'
need "$timer" 'Persistent=true'
need "$timer" 'RandomizedDelaySec=.+'
# The key is read from the credential, and never put in the environment.
# shellcheck disable=SC2016  # the literal text of the unit
grep -q -- '--api-key-file ${CREDENTIALS_DIRECTORY}/vp-api-key' "$svc" ||
  { echo "FAIL: ExecStart does not read the key from the credential"; exit 1; }
if grep -Eq '^(Environment=.*VP_API_KEY|EnvironmentFile=)' "$svc"; then
  echo "FAIL: the key must not come through the environment"; exit 1
fi
echo "ok: batchcut@.service and batchcut@.timer verify"
