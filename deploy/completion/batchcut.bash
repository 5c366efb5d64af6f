# bash completion for batchcut. Installed as share/bash-completion/completions/batchcut.
# Nothing here lists a subcommand or an option: both come from `batchcut --help` and
# `batchcut SUB --help` of the very binary being completed, so they cannot drift from it.
# An option's value is completed from its choices when the help lists them
# (e.g. `TEXT:{bearer,raw}`), with file names when it takes text, and not at all for numbers
# (`INT`, `FLOAT=10`).

# The subcommands: the lines under "Subcommands:" in `batchcut --help`.
_batchcut_subcommands() {
  "$1" --help 2>/dev/null | awk '/^Subcommands:/ { on = 1; next } /^[^ ]/ { on = 0 } on && NF { print $1 }'
}

# One line per option of SUB: "NAME TYPE", TYPE "-" for a flag. From `batchcut SUB --help`.
_batchcut_options() {
  "$1" "$2" --help 2>/dev/null | awk '
    /^Options:/ { on = 1; next } /^[^ ]/ { on = 0 }
    on && $1 ~ /^-/ {
      type = ($2 ~ /^[A-Z]+([:=]|$)/) ? $2 : "-"
      n = split($1, names, ",")
      for (i = 1; i <= n; i++) print names[i], type
    }'
}

_batchcut() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local bin=${COMP_WORDS[0]} sub="" i
  bin=${bin/#\~/$HOME}
  COMPREPLY=()
  # The subcommand is the first word after the program that is not an option.
  for ((i = 1; i < COMP_CWORD; i++)); do
    [[ ${COMP_WORDS[i]} == -* ]] || { sub=${COMP_WORDS[i]}; break; }
  done
  if [[ -z $sub ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_batchcut_subcommands "$bin") --help --version" -- "$cur")
    return
  fi

  local options type
  options=$(_batchcut_options "$bin" "$sub")
  if [[ $prev == -* ]]; then
    type=$(awk -v o="$prev" '$1 == o { print $2 }' <<<"$options")
    type=${type%%=*}  # TEXT:{a,b}=a: the default does not matter here
    case $type in
      *':{'*'}')  # TEXT:{a,b,c}: one of the choices
        local choices=${type#*:\{}
        choices=${choices%\}}
        mapfile -t COMPREPLY < <(compgen -W "${choices//,/ }" -- "$cur")
        return ;;
      TEXT*)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return ;;
      ?*)
        [[ $type == - ]] || return ;;  # a number: nothing to offer
    esac
  fi
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(awk '{ print $1 }' <<<"$options")" -- "$cur")
  else
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  fi
}
complete -F _batchcut batchcut
