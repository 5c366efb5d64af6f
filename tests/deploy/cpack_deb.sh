#!/usr/bin/env bash
# `cpack -G DEB` in the build directory makes batchcut_*.deb (the name the Dockerfile picks
# up) holding /usr/bin/batchcut and friends, with Depends on the runtime libraries.
# usage: cpack_deb.sh BUILD_DIR
set -euo pipefail
build=$1
fail() { echo "FAIL: $*"; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$build" && cpack -G DEB -B "$out" > "$out/cpack.log" 2>&1) || { cat "$out/cpack.log"; fail "cpack -G DEB"; }
debs=("$out"/batchcut_*.deb)
if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then ls "$out"; fail "no single batchcut_*.deb"; fi
deb=${debs[0]}
contents=$(dpkg-deb -c "$deb" | awk '{ print $NF }')
for f in ./usr/bin/batchcut ./usr/bin/vp-emulator ./usr/share/man/man1/batchcut.1 \
         ./usr/share/bash-completion/completions/batchcut; do
  grep -qxF "$f" <<<"$contents" || fail "the .deb lacks $f"
done
# Depends names the package of every shared library the binaries load (dpkg-shlibdeps).
depends=$(dpkg-deb -f "$deb" Depends)
names=$(tr ',' '\n' <<<"$depends" | sed -e 's/(.*)//' -e 's/|.*//' -e 's/ //g')
# shellcheck source=tests/deploy/runtime_packages.sh
source "$(dirname "$0")/runtime_packages.sh"
pkgs=$(runtime_packages "$build/batchcut" "$build/vp-emulator") || fail "cannot tell the runtime packages"
for pkg in $pkgs; do
  # By name, or by a name it Provides (libspdlog1.10 provides libspdlog1.10-fmt9, say).
  found=""
  for name in $pkg $(dpkg-query -W -f='${Provides}' "$pkg" | tr ',' '\n' | sed -e 's/(.*)//' -e 's/ //g'); do
    grep -qxF -- "$name" <<<"$names" && found=$name
  done
  [ -n "$found" ] || fail "Depends lacks $pkg: $depends"
done
[ "$(dpkg-deb -f "$deb" Package)" = batchcut ] || fail "Package is not batchcut"
echo "ok: $(basename "$deb"), Depends: $depends"
