#!/usr/bin/env bash
# Builds MP-SPDZ's semi-honest three-party replicated-ring VM
# (replicated-ring-party.x, the protocol of privml's `shared` domain) for
# scripts/mpspdz/bench.py, and the delaying relay that bench.py puts in front
# of its parties for the emulated networks.
#
#   scripts/mpspdz/setup.sh        # needs root for apt-get; about 3 min on 2 cores
#   /tmp/mpspdz_venv/bin/python scripts/mpspdz/bench.py --net none,lan,wan
#
# MPSPDZ_SRC may be a local clone when offline; MPSPDZ_COMMIT is the commit
# measured in BENCHMARKS.md (the same as ../shared/peers/mpspdz).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
MPSPDZ_DIR=${MPSPDZ_DIR:-/tmp/mpspdz}
MPSPDZ_SRC=${MPSPDZ_SRC:-https://github.com/data61/MP-SPDZ}
MPSPDZ_COMMIT=${MPSPDZ_COMMIT:-3a0a7b1d5e80e9f7e1b1ce76ae8b8a43931e80f4}

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y automake build-essential clang cmake git \
    libboost-dev libboost-filesystem-dev libboost-iostreams-dev libboost-thread-dev \
    libgmp-dev libntl-dev libsodium-dev libssl-dev libtool python3 openssl
[ -e "$MPSPDZ_DIR/.git" ] || git clone "$MPSPDZ_SRC" "$MPSPDZ_DIR"
cd "$MPSPDZ_DIR"
git checkout -q "$MPSPDZ_COMMIT"
echo "ARCH = -march=native" > CONFIG.mine
make -j"$(nproc)" replicated-ring-party.x
Scripts/setup-ssl.sh 3
# numpy for MP-SPDZ's compiler (the programs write their inputs at compile time)
python3 -m venv "${VENV:-/tmp/mpspdz_venv}"
"${VENV:-/tmp/mpspdz_venv}/bin/pip" install -q numpy
cd "$HERE/../.."
cargo build --release --example net_relay
