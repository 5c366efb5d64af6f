# Sourced by the deploy tests: runtime_packages BINARY... prints the Debian packages that
# hold the shared libraries the binaries load, one a line (merged /usr: a library may be
# known to dpkg under /lib or /usr/lib, by its link or by its real name).
runtime_packages() {
  local bin lib path pkg
  for bin in "$@"; do
    for lib in $(ldd "$bin" | awk '$3 ~ /^\// { print $3 }'); do
      pkg=""
      for path in "$lib" "$(readlink -f "$lib")" "/usr${lib#/usr}" "${lib#/usr}"; do
        pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && break
      done
      [ -n "$pkg" ] || { echo "runtime_packages: no package holds $lib" >&2; return 1; }
      echo "$pkg"
    done
  done | sort -u
}
