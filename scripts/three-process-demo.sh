#!/usr/bin/env bash
# The tutorial's demo as three `privml party` processes over mutual TLS on
# loopback, next to the same demo with the three parties as threads of one
# process (issue 19, item 2). Prints both wall times and their ratio.
#
#   scripts/three-process-demo.sh [PRIVML_BINARY] [BASE_PORT]
#
# Extra arguments for every run (for example `--net lan`) go in
# PRIVML_DEMO_ARGS.
set -euo pipefail
bin=${1:-./target/release/privml}
port=${2:-7790}
extra=${PRIVML_DEMO_ARGS:-}
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
deployment "$bin" "$port"

start=$(now)
# shellcheck disable=SC2086
"$bin" demo tutorial $extra >"$dir/inproc.log" 2>&1
inproc=$(echo "$(now) - $start" | bc)

start=$(now)
for id in 0 1 2; do
    # shellcheck disable=SC2086
    "$bin" party --id "$id" --config "$dir/deploy/parties.toml" demo tutorial $extra \
        >"$dir/party$id.log" 2>&1 &
    pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=$?; done
pids=()
three=$(echo "$(now) - $start" | bc)
if [ "$status" -ne 0 ]; then
    echo "a party failed (exit $status):" >&2
    tail -n 5 "$dir"/party*.log >&2
    exit "$status"
fi
printf 'in process        %8.2f s\n' "$inproc"
printf 'three processes   %8.2f s (TLS over loopback)\n' "$three"
printf 'ratio             %8.1fx\n' "$(echo "$three / $inproc" | bc -l)"
grep -m1 -i "rounds" "$dir/party0.log" || true
