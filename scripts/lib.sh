# Shared set-up of the three-process scripts (sourced, not run): a temporary
# directory with a fresh deployment, and the processes started in it killed
# on exit however the script ends.
#
#   . "$(dirname "$0")/lib.sh"
#   deployment BIN PORT [KEYGEN ARGS...]   # writes $dir/deploy (keygen)
#   ... pids+=($!) for every background process ...

dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT

deployment() {
    "$1" keygen --out "$dir/deploy" --base-port "$2" "${@:3}" >/dev/null
}

now() { date +%s.%N; }
