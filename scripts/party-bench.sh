#!/usr/bin/env bash
# privml's benchmark workloads as three `privml party` processes over mutual
# TLS on loopback, optionally behind the delaying relay (examples/net_relay.rs)
# so that every link is an emulated LAN or WAN: the same set-up as
# scripts/mpspdz/bench.py gives MP-SPDZ, for the side-by-side table of
# BENCHMARKS.md.
#
#   scripts/party-bench.sh [--runs N] [--net none,lan,wan] WORKLOAD...
#
# Needs `cargo build --release` and `cargo build --release --example
# net_relay`. Prints one markdown row per workload and network (party 0's
# median, rounds and bytes sent).
set -euo pipefail
bin=${PRIVML:-./target/release/privml}
relay=${NET_RELAY:-./target/release/examples/net_relay}
port=${BASE_PORT:-7860}
runs=3
nets=none
workloads=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --net) nets=$2; shift 2 ;;
        *) workloads+=("$1"); shift ;;
    esac
done
[ ${#workloads[@]} -gt 0 ] || { echo "usage: $0 [--runs N] [--net none,lan,wan] WORKLOAD..." >&2; exit 2; }

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
deployment "$bin" "$port"

# Party i listens on its own port; with a relay, it reaches party j through
# the relay's port for j (port + 100 + j).
party_file() {
    local me=$1 relayed=$2 f="$dir/deploy/parties-$1.toml"
    cp "$dir/deploy/parties.toml" "$f"
    if [ "$relayed" = 1 ]; then
        for j in 0 1 2; do
            [ "$j" = "$me" ] && continue
            sed -i "s/127.0.0.1:$((port + j))\"/127.0.0.1:$((port + 100 + j))\"/" "$f"
        done
    fi
    echo "$f"
}

echo "| workload | network | privml s (median, 3 processes over TLS) | runs | rounds | bytes sent by party 0 |"
echo "|---|---|---|---|---|---|"
for net in ${nets//,/ }; do
    relayed=0
    if [ "$net" != none ]; then
        relayed=1
        "$relay" --net "$net" "$((port + 100))=127.0.0.1:$port" \
            "$((port + 101))=127.0.0.1:$((port + 1))" \
            "$((port + 102))=127.0.0.1:$((port + 2))" 2>/dev/null &
        pids+=($!)
        sleep 0.3
    fi
    for w in "${workloads[@]}"; do
        ps=()
        for id in 0 1 2; do
            "$bin" party --id "$id" --config "$(party_file "$id" "$relayed")" --timeout 3600 \
                bench "$w" --runs "$runs" --w4-iterations "${W4_ITERATIONS:-100}" \
                >"$dir/party$id.log" 2>&1 &
            ps+=($!)
        done
        status=0
        for p in "${ps[@]}"; do wait "$p" || status=$?; done
        if [ "$status" != 0 ]; then
            echo "party failed on $w ($net):" >&2
            cat "$dir"/party*.log >&2
            exit 1
        fi
        tail -1 "$dir/party0.log" | sed "s/^| \([^|]*\) |/| \1 | $net |/"
    done
    if [ "$relayed" = 1 ]; then
        kill "${pids[-1]}" 2>/dev/null || true
        wait "${pids[-1]}" 2>/dev/null || true
        unset 'pids[-1]'
    fi
done
