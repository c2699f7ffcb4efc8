# Kaldi-style option parsing, sourced by recipes after their defaults:
#   --name value   sets the shell variable "name" (dashes become underscores),
#                  which must already exist; --name=value works too.
#   --config FILE  sources FILE (name=value lines) first.
#   --help         prints the variables and their current values.
# Options stop at the first argument that does not start with "--".

__usage() {
  echo "Usage: $0 [options]"
  echo "Options (defaults, as set at the top of $0):"
  # the options every template shares (lib.sh's template_options), when the script declares them
  if [ -n "${__template_lib:-}" ] && grep -q '^template_options' "$0"; then
    sed -n '/^template_options()/,/^}/ s/^ *\([a-z_][a-z0-9_]*\)=\(.*\)$/  --\1=\2/p' "$__template_lib"
  fi
  # the name=value lines before this file is sourced, with their comments
  sed -n '/parse_options.sh/q; s/^\([a-z_][a-z0-9_]*\)=\(.*\)$/  --\1=\2/p' "$0"
}

while true; do
  [ -z "${1:-}" ] && break
  case "$1" in
    --help|-h) __usage; exit 0 ;;
    --config)
      [ $# -ge 2 ] || { echo "$0: --config needs a file" >&2; exit 1; }
      [ -f "$2" ] || { echo "$0: config file $2 not found" >&2; exit 1; }
      . "$2"; shift 2 ;;
    --*=*)
      __name=$(echo "${1%%=*}" | sed -e 's/^--//' -e 's/-/_/g')
      __value="${1#*=}"
      if [ -z "${!__name+x}" ]; then echo "$0: unknown option $1" >&2; exit 1; fi
      printf -v "$__name" '%s' "$__value"; shift ;;
    --*)
      __name=$(echo "$1" | sed -e 's/^--//' -e 's/-/_/g')
      if [ -z "${!__name+x}" ]; then echo "$0: unknown option $1 (see --help)" >&2; exit 1; fi
      [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
      printf -v "$__name" '%s' "$2"; shift 2 ;;
    *) break ;;
  esac
done
unset __name __value
