#!/usr/bin/env bash
# deploy/docker/Dockerfile, checked without docker: multi-stage on debian:bookworm-slim; every
# COPY from the context exists and gets past the .dockerignore; the build stage installs the
# build subset of deploy/setup-debian.sh, and those packages provide every shared library
# the built binaries load; the run stage installs only the .deb (whose Depends dpkg-shlibdeps
# worked out) and the trust store, runs as a user that is not root, the ledger on a volume.
# usage: dockerfile.sh SOURCE_DIR BINARY...
set -euo pipefail
src=$1; shift
df=$src/deploy/docker/Dockerfile
ignore=$src/deploy/docker/Dockerfile.dockerignore
fail() { echo "FAIL: $*"; exit 1; }

# The Dockerfile with continuation lines joined, comments dropped.
logical=$(grep -v '^\s*#' "$df" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta')

froms=$(grep -c '^FROM ' <<<"$logical")
[ "$froms" -ge 2 ] || fail "not multi-stage ($froms FROM)"
while read -r _ image _; do
  [ "$image" = debian:bookworm-slim ] || fail "a stage is FROM $image, not debian:bookworm-slim"
done < <(grep '^FROM ' <<<"$logical")

# COPY from the build context: the source exists, and the .dockerignore lets it through.
allowed=$(grep -E '^!' "$ignore" | sed 's/^!//')
while read -r _ rest; do
  [[ $rest == --from=* ]] && continue
  read -r -a parts <<<"$rest"
  for s in "${parts[@]:0:${#parts[@]}-1}"; do
    [ -e "$src/$s" ] || fail "COPY $s: no such file in the repository"
    grep -qxF "${s%%/*}" <<<"$allowed" || fail "COPY $s: excluded by Dockerfile.dockerignore"
  done
done < <(grep '^COPY ' <<<"$logical")

# The packages each stage's apt-get install names.
stage_packages() {  # N: the Nth stage (1-based)
  awk -v n="$1" '/^FROM /{ s++ } s == n && /apt-get install/ {
      sub(/.*apt-get install/, ""); sub(/&&.*/, "")
      for (i = 1; i <= NF; i++) if ($i !~ /^-/) print $i }' <<<"$logical"
}
build=$(stage_packages 1)
run=$(stage_packages "$froms")
[ -n "$build" ] || fail "the build stage installs nothing"

# deploy/setup-debian.sh's list, and its build subset: what is not for tests or operations.
setup=$(sed -n '/^pkgs=(/,/^)/p' "$src/deploy/setup-debian.sh" | sed -e 's/#.*//' -e 's/pkgs=(//' -e 's/)//' | tr -s ' \t' '\n' | sed '/^$/d')
not_for_building='ccache libgtest-dev libgmock-dev openssl curl prometheus python3 python3-jsonschema bash-completion systemd util-linux'
extra_for_packaging='file'  # cpack's shlibdeps step runs `file` on the binaries
in_list() { tr -s ' ' '\n' <<<"$2" | grep -qxF -- "$1"; }  # WORD LIST
for p in $build; do
  in_list "$p" "$setup" || in_list "$p" "$extra_for_packaging" ||
    fail "the build stage installs $p, which deploy/setup-debian.sh does not"
done
for p in $setup; do
  in_list "$p" "$not_for_building" && continue
  in_list "$p" "$build" || fail "deploy/setup-debian.sh installs $p to build, the Dockerfile does not"
done

# Every library the built binaries load comes with a package the build stage installs
# (a -dev package depends on its runtime library); the C and C++ runtimes come with the toolchain.
provided=$(for p in $build; do dpkg-query -W -f='${Depends}\n' "$p" 2>/dev/null || true; done |
           tr ',' '\n' | sed -e 's/(.*)//' -e 's/|.*//' -e 's/ //g' | sort -u)
# shellcheck source=tests/deploy/runtime_packages.sh
source "$(dirname "$0")/runtime_packages.sh"
pkgs=$(runtime_packages "$@") || fail "cannot tell the runtime packages"
for pkg in $pkgs; do
  case $pkg in libc6 | libstdc++6 | libgcc-s1) continue ;; esac
  grep -qxF "$pkg" <<<"$provided" || fail "the binaries load a library of $pkg, which no package of the build stage provides"
done

# The run stage: the .deb the build stage made, the trust store, nothing else by hand.
[ "$(sort <<<"$run" | tr '\n' ' ')" = "/tmp/batchcut.deb ca-certificates " ] ||
  fail "the run stage installs: ${run//$'\n'/ }; want the .deb and ca-certificates"
grep -q 'cpack -G DEB' <<<"$logical" || fail "the build stage does not make the .deb with cpack"

# Not root, and the ledger on a volume.
user=$(grep '^USER ' <<<"$logical" | tail -1 | awk '{ print $2 }')
[ -n "$user" ] || fail "no USER: the container would run as root"
case ${user%%:*} in root | 0) fail "USER $user is root" ;; esac
grep -Eq '^VOLUME .*/ledgers' <<<"$logical" || fail "no VOLUME for /ledgers"
[ "$(grep '^WORKDIR ' <<<"$logical" | tail -1 | awk '{ print $2 }')" = /ledgers ] ||
  fail "the run stage's working directory is not the ledger volume"
echo "ok: Dockerfile ($froms stages; build: ${build//$'\n'/ }; run: ${run//$'\n'/ }; user $user)"
