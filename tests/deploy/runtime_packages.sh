# shellcheck shell=bash
# Sourced by the deploy tests: runtime_packages BINARY... prints the Debian packages that
# hold the shared libraries the binaries load, one a line. Under merged /usr a library may
# be known to dpkg under /lib or /usr/lib, by its link or by its real name: all are asked,
# in one dpkg -S (it is slow), and every library must have an owner.
runtime_packages() {
  local libs lib path owners candidates=()
  libs=$(ldd "$@" | awk '$3 ~ /^\// { print $3 }' | sort -u)
  for lib in $libs; do
    for path in "$lib" "$(readlink -f "$lib")"; do candidates+=("$path" "/usr${path#/usr}" "${path#/usr}"); done
  done
  owners=$(dpkg -S "${candidates[@]}" 2>/dev/null | sed 's/^\([^:]*\)\(:[^:]*\)\?: /\1 /')
  for lib in $libs; do
    local pkg=""
    for path in "$lib" "$(readlink -f "$lib")"; do
      for p in "$path" "/usr${path#/usr}" "${path#/usr}"; do
        [ -n "$pkg" ] || pkg=$(awk -v p="$p" '$2 == p { print $1; exit }' <<<"$owners")
      done
    done
    [ -n "$pkg" ] || { echo "runtime_packages: no package holds $lib" >&2; return 1; }
    echo "$pkg"
  done | sort -u
}
