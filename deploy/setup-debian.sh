#!/usr/bin/env bash
# Installs everything batchcut needs to build and test on Debian 12 (bookworm).
# Used by the README's first command and by .ci/run, so both stay in step.
set -euo pipefail
pkgs=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev
  libssl-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libcli11-dev
  openssl curl
  # operations: promtool for the metrics test, JSON Schema for the summary and status tests,
  # help2man for the man pages, systemd-analyze for the units, util-linux for flock and script
  prometheus python3 python3-jsonschema help2man bash-completion systemd util-linux
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
