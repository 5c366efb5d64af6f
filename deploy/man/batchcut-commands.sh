#!/bin/sh
# Writes a help2man include file with a COMMANDS section: each subcommand of BATCHCUT with
# its own --help, so the man page lists every option of every subcommand, as built.
# usage: batchcut-commands.sh BATCHCUT OUTPUT
set -eu
bin=$1 out=$2
subs=$("$bin" --help | awk '/^Subcommands:/ { on = 1; next } /^[^ ]/ { on = 0 } on && NF { print $1 }')
[ -n "$subs" ] || { echo "batchcut-commands.sh: no subcommands in $bin --help" >&2; exit 1; }
{
  echo "[COMMANDS]"
  for sub in $subs; do
    echo ".SS $sub"
    echo ".nf"
    # roff: a backslash is \e; a line starting with . or ' needs \& before it.
    "$bin" "$sub" --help | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
    echo ".fi"
  done
} > "$out.tmp"
mv "$out.tmp" "$out"
