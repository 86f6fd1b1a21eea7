#!/usr/bin/env bash
# Issue 17's benchmark: federated rounds with N site processes
# (`privml client federated`) and three `privml serve` aggregation servers
# on loopback over mutual TLS, next to the in-process simulator
# (`privml federated`) for the same rounds.
#
#   scripts/fed-bench.sh [--sites N] [--rounds R] [--hidden H] [--lr LR]
#                        [--deadline SECS] [--no-sim]
#
# The model is the sites' MLP 30→H→1 on the breast-cancer shards that
# `privml federated --write-shards` deals out (455 training rows split
# over the N sites): 32·H + 1 parameters, so --hidden 3125 is a 10^5-
# parameter update and --hidden 3696 one of Network A's size (118,273
# against 118,282). The learning rate (default 0.02) only has to keep
# every site's local training within the polynomial sigmoid's range (0.1
# does not, for some 5-row sites of 100): the figures do not depend on it.
# Needs `cargo build --release`.
#
# Prints the servers' and the sites' per-round figures and one markdown
# row. Time per round: party 0's round lines, open (from the previous
# round's close until this one closes to submissions) plus the close (the
# three servers agree on the accepted sites and open the sum); round 1
# also holds the processes' start-up and is left out of the mean. Bytes
# are counted at party i's client sockets (TLS records included), per
# round: from the sites (their messages and requests) and to the sites
# (the global model and the round's summary); and what party i sent the
# other two servers to close the round.
set -euo pipefail
bin=${PRIVML:-./target/release/privml}
port=${BASE_PORT:-31700}
sites=10
rounds=3
hidden=3125
lr=0.02
deadline=300
sim=1
while [ $# -gt 0 ]; do
    case "$1" in
        --sites) sites=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --hidden) hidden=$2; shift 2 ;;
        --lr) lr=$2; shift 2 ;;
        --deadline) deadline=$2; shift 2 ;;
        --no-sim) sim=0; shift ;;
        *) echo "usage: $0 [--sites N] [--rounds R] [--hidden H] [--lr LR] [--deadline SECS] [--no-sim]" >&2; exit 2 ;;
    esac
done
[ "$rounds" -ge 2 ] || { echo "--rounds must be at least 2 (round 1 holds the start-up)" >&2; exit 2; }

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
# A server asked to stop lets the requests in progress finish, and a site's
# wait for a round lasts until the round's deadline: after a failure, kill.
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 1
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$dir"
}
names=$(seq -s, -f 'site%g' 0 $((sites - 1)))
deployment "$bin" "$port" --clients "$names"
"$bin" federated --clients "$sites" --write-shards "$dir/shards" >/dev/null
train="--hidden $hidden --lr $lr --rounds $rounds"

echo "== $sites sites, MLP 30→$hidden→1 ($((32 * hidden + 1)) parameters), $rounds rounds; $(uptime)"
for i in 0 1 2; do
    "$bin" serve --id "$i" --config "$dir/deploy/parties.toml" --store "$dir/store$i" \
        --timeout $((deadline + 300)) --max-clients $((sites + 8)) 2>"$dir/serve$i.log" &
    pids+=($!)
done
t0=$(now)
site_pids=()
for k in $(seq 0 $((sites - 1))); do
    # shellcheck disable=SC2086 # $train is several arguments
    "$bin" client --config "$dir/deploy/parties.toml" --identity "$dir/deploy/client-site$k" \
        --timeout $((deadline + 300)) federated --data "$dir/shards/site-$k.csv" \
        --sites "$sites" --deadline "$deadline" $train >"$dir/site$k.log" 2>&1 &
    site_pids+=($!)
    pids+=($!)
done
failed=0
for p in "${site_pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
t1=$(now)
echo "sites done in $(echo "$t1 - $t0" | bc) s (wall clock, start-up included); $failed failed; $(uptime)"
if [ "$failed" -gt 0 ]; then
    grep -h -i "error" "$dir"/site*.log | sort | uniq -c | head
    tail -5 "$dir"/serve0.log
    exit 1
fi
grep -h "round .*/$rounds:" "$dir"/serve*.log | sed 's/^privml serve: //'
grep -h " round " "$dir/site0.log"

# Party 0's rounds 2..R: open + close seconds, and the bytes.
read -r round_s close_s from to links <<<"$(grep "round [0-9]*/$rounds:" "$dir/serve0.log" |
    sed -E 's/.*round ([0-9]+)\/.*\(open ([0-9.]+) s, ([0-9.]+) s to close; bytes since the round opened: ([0-9]+) from sites, ([0-9]+) to sites, ([0-9]+) to the other servers\).*/\1 \2 \3 \4 \5 \6/' |
    awk '$1 >= 2 { n++; r += $2 + $3; c += $3; f += $4; t += $5; l += $6 }
         END { printf "%.3f %.3f %d %d %d\n", r / n, c / n, f / n, t / n, l / n }')"
# The sites' own figures, mean over every site and round.
read -r train_s upload_s msg <<<"$(grep -h " round [0-9]*: " "$dir"/site*.log |
    sed -E 's/.*sent ([0-9]+) B to each party \| train ([0-9.]+) s, upload ([0-9.]+) s.*/\1 \2 \3/' |
    awk '{ n++; b = $1; t += $2; u += $3 } END { printf "%.3f %.3f %d\n", t / n, u / n, b }')"
load=$(uptime | sed 's/.*load average: //')
echo
echo "| sites | parameters | s per round (party 0, rounds 2..$rounds) | of which closing (agree + open) | site: train + share (mean) | site: upload (mean) | bytes per site to each server (message; TLS) | bytes per server per round: from sites / to sites / to the other servers | load (1, 5, 15 min) |"
echo "|---|---|---|---|---|---|---|---|---|"
echo "| $sites processes | $((32 * hidden + 1)) | $round_s | $close_s | $train_s | $upload_s | $msg; $((from / sites)) | $from / $to / $links | $load |"

if [ "$sim" = 1 ]; then
    echo
    echo "== simulator: privml federated --clients $sites $train; $(uptime)"
    # shellcheck disable=SC2086
    "$bin" federated --clients "$sites" $train | tee "$dir/sim.log" | grep "^round"
    read -r sround strain sagg sopen <<<"$(grep "^round" "$dir/sim.log" |
        sed -E 's/^round +([0-9]+) .*\| ([0-9.]+) ms \(train ([0-9.]+), protect [0-9.]+, aggregate ([0-9.]+), open ([0-9.]+)\).*/\1 \2 \3 \4 \5/' |
        awk '$1 >= 2 { n++; r += $2; t += $3; a += $4; o += $5 }
             END { printf "%.3f %.3f %.3f %.3f\n", r / n / 1000, t / n / 1000, a / n / 1000, o / n / 1000 }')"
    echo "| $sites in process | $((32 * hidden + 1)) | $sround | aggregate $sagg + open $sopen | all sites' training $strain | — | see the round lines | see the round lines | $(uptime | sed 's/.*load average: //') |"
fi
