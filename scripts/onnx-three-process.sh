#!/usr/bin/env bash
# Private inference of an imported ONNX model as three `privml party`
# processes over mutual TLS on loopback (issue 15's benchmark): keygen into a
# temp dir, the three-process import (party 0 owns the model), then one
# three-process prediction of the first BATCH rows; party 0 is also the
# data owner, so that it prints the predictions and the cost report.
# Prints the prediction's wall time (all three processes, from start to the
# last exit, TLS handshakes included), rounds and bytes per party.
#
#   scripts/onnx-three-process.sh MODEL.onnx ROWS.npy BATCH [PRIVML_BINARY] [BASE_PORT]
#
# Cutting the rows needs python3 with numpy (PYTHON=/path/to/python to choose).
set -euo pipefail
onnx=$1
rows=$2
batch=$3
bin=${4:-./target/release/privml}
port=${5:-7830}
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
deployment "$bin" "$port"
config="$dir/deploy/parties.toml"

# BATCH rows of ROWS.npy as a headerless CSV (flattened in C order).
"${PYTHON:-python3}" - "$rows" "$batch" "$dir/rows.csv" <<'PY' 2>/dev/null || {
import sys
import numpy as np
x = np.load(sys.argv[1]).astype(np.float64)
x = x.reshape(x.shape[0], -1)[: int(sys.argv[2])]
np.savetxt(sys.argv[3], x, delimiter=",", fmt="%.9g")
PY
    echo "needs python3 with numpy (or PYTHON=...) to cut the rows" >&2
    exit 1
}

run3() {
    local log=$1
    shift
    pids=()
    for id in 0 1 2; do
        local extra=()
        if [ "$id" -eq 0 ]; then extra=("${OWNER_ARGS[@]}"); fi
        "$bin" party --id "$id" --config "$config" "$@" "${extra[@]}" ${PER_PARTY:+--model "$dir/m.party$id.shares"} \
            >"$dir/$log$id.log" 2>&1 &
        pids+=($!)
    done
    local status=0
    for p in "${pids[@]}"; do wait "$p" || status=$?; done
    pids=()
    if [ "$status" -ne 0 ]; then
        echo "a party failed (exit $status):" >&2
        tail -n 5 "$dir/$log"*.log >&2
        exit "$status"
    fi
}

start=$(now)
OWNER_ARGS=(--onnx "$onnx")
PER_PARTY=
run3 import import --out "$dir/m"
import_t=$(echo "$(now) - $start" | bc)

start=$(now)
OWNER_ARGS=(--data "$dir/rows.csv" --no-header)
PER_PARTY=1
run3 predict predict --data-owner 0
predict_t=$(echo "$(now) - $start" | bc)

printf 'import, three processes    %8.2f s\n' "$import_t"
printf 'predict %4d rows, three processes %8.2f s (TLS over loopback, wall time of the three processes)\n' "$batch" "$predict_t"
grep -E "rounds|party . sent" "$dir/predict0.log" || true
