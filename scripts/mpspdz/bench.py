#!/usr/bin/env python3
"""MP-SPDZ's replicated-ring-party.x (semi-honest 3PC over Z_2^64, the same
setting as privml's `shared` domain) on privml's benchmark workloads, three
processes on localhost over TLS, optionally behind the delaying relay
(`examples/net_relay.rs`) so that both frameworks run over the same emulated
network.

Usage (after scripts/mpspdz/setup.sh built MP-SPDZ in $MPSPDZ_DIR):

    scripts/mpspdz/bench.py [--runs 3] [--net none,lan,wan] [--only NB-SGD,...]
                            [--json OUT.json]

Workloads (privml's names, see `privml bench --help`):
  NB-SGD, NC-SGD     one SGD step of network B / C, batch 128, softmax CE
  NA-ADAM            one Adam step of network A, batch 128, softmax CE
  NC-INFER-1/128     network C inference (logits) for batch 1 / 128
  W1, W2-256, W2, W6 the peer scripts' programs (../shared/peers/mpspdz/src,
                     or wherever PEERS_MPSPDZ points); W6 times ten SGD steps
                     of network A and reports one, W6-1 times a single step

Every program is compiled with `compile.py -E ring` (MP-SPDZ's own settings
for this protocol: probabilistic truncation, split conversion). The time is
party 0's `Time1` (the timer around the step only); bytes and rounds are what
MP-SPDZ reports for that timer. Each figure is the median of --runs runs.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MPSPDZ = os.environ.get("MPSPDZ_DIR", "/tmp/mpspdz")
PEERS = os.environ.get("PEERS_MPSPDZ", os.path.join(REPO, "..", "shared", "peers", "mpspdz"))
RELAY = os.environ.get("NET_RELAY", os.path.join(REPO, "target", "release", "examples", "net_relay"))
PORT = int(os.environ.get("MPSPDZ_PORT", "15000"))
RELAY_PORT = PORT + 1000

WORKLOADS = {
    # name: (program, compile args, steps inside the timer)
    "NB-SGD": ("privml_net", ["net=B", "opt=sgd"], 1),
    "NC-SGD": ("privml_net", ["net=C", "opt=sgd"], 1),
    "NA-ADAM": ("privml_net", ["net=A", "opt=adam"], 1),
    "NC-INFER-1": ("privml_net", ["net=C", "infer", "batch=1"], 1),
    "NC-INFER-128": ("privml_net", ["net=C", "infer", "batch=128"], 1),
    "W1": ("mpspdz_w1", [], 1),
    "W2-256": ("mpspdz_w2", ["256"], 1),
    "W2": ("mpspdz_w2", ["1024"], 1),
    "W6": ("mpspdz_w6", ["steps=10"], 10),
    # one step only (for the WAN, where ten take half an hour)
    "W6-1": ("mpspdz_w6", ["steps=1"], 1),
}


def compile_prog(src, args):
    cmd = [sys.executable, "compile.py", "-E", "ring", src] + args
    env = dict(os.environ, PEERS_DIR=os.path.dirname(os.path.abspath(PEERS)))
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=MPSPDZ, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit("compile failed: " + " ".join(cmd))
    return "-".join([src] + args), time.perf_counter() - t0


def hosts_files(relayed):
    """One hosts file per party: its own real port, the others' relay ports."""
    paths = []
    for me in range(3):
        path = os.path.join(MPSPDZ, "Player-Data", "privml-hosts-%d" % me)
        with open(path, "w") as f:
            for j in range(3):
                port = PORT + j if (j == me or not relayed) else RELAY_PORT + j
                f.write("127.0.0.1:%d\n" % port)
        paths.append(path)
    return paths


def run_once(prog, net, logdir, tag):
    relay = None
    if net != "none":
        links = ["%d=127.0.0.1:%d" % (RELAY_PORT + j, PORT + j) for j in range(3)]
        relay = subprocess.Popen([RELAY, "--net", net] + links,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
    hosts = hosts_files(relay is not None)
    procs = []
    t0 = time.perf_counter()
    for i in range(3):
        log = open(os.path.join(logdir, "%s.P%d.log" % (tag, i)), "w")
        cmd = ["./replicated-ring-party.x", "-v", "-ip", hosts[i], str(i), prog]
        procs.append((subprocess.Popen(cmd, cwd=MPSPDZ, stdout=log, stderr=subprocess.STDOUT), log))
    rcs = [p.wait() for p, _ in procs]
    wall = time.perf_counter() - t0
    for _, log in procs:
        log.close()
    if relay is not None:
        relay.kill()
        relay.wait()
    if any(rcs):
        raise SystemExit("party exited with %s, see %s/%s.P*.log" % (rcs, logdir, tag))
    text = open(os.path.join(logdir, "%s.P0.log" % tag)).read()
    m = re.search(r"^Time1 = ([\d.e+-]+) seconds \(([\d.e+-]+) MB, (\d+) rounds\)", text, re.M)
    if not m:
        raise SystemExit("no Time1 line in %s/%s.P0.log" % (logdir, tag))
    sent = []
    for i in range(3):
        t = open(os.path.join(logdir, "%s.P%d.log" % (tag, i))).read()
        mi = re.search(r"^Time1 = [\d.e+-]+ seconds \(([\d.e+-]+) MB", t, re.M)
        sent.append(float(mi.group(1)) if mi else float("nan"))
    return dict(time1_s=float(m.group(1)), mb_sent=sent, rounds=int(m.group(3)), wall_s=wall)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--net", default="none")
    ap.add_argument("--only", default="NB-SGD,NC-SGD,NA-ADAM,NC-INFER-1,NC-INFER-128")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    for src in ("privml_net",):
        shutil.copy(os.path.join(HERE, src + ".mpc"), os.path.join(MPSPDZ, "Programs", "Source"))
    for name in ("mpspdz_w1", "mpspdz_w2", "mpspdz_w6"):
        p = os.path.join(PEERS, "src", name + ".mpc")
        if os.path.exists(p):
            shutil.copy(p, os.path.join(MPSPDZ, "Programs", "Source"))
    logdir = os.path.join(MPSPDZ, "privml-logs")
    os.makedirs(logdir, exist_ok=True)
    results = []
    print("| workload | network | MP-SPDZ s per step (median) | rounds | MB sent P0 / P1 / P2 | runs |")
    print("|---|---|---|---|---|---|")
    for name in args.only.split(","):
        src, cargs, steps = WORKLOADS[name]
        prog, ctime = compile_prog(src, cargs)
        for net in args.net.split(","):
            runs = [run_once(prog, net, logdir, "%s-%s-%d" % (name, net, k)) for k in range(args.runs)]
            med = statistics.median(r["time1_s"] for r in runs) / steps
            r0 = runs[0]
            row = dict(workload=name, net=net, program=prog, compile_s=ctime,
                       median_s=med, rounds=r0["rounds"] // steps,
                       mb_sent=[x / steps for x in r0["mb_sent"]],
                       runs=[r["time1_s"] / steps for r in runs])
            results.append(row)
            print("| %s | %s | %.4f | %d | %s | %d |" % (
                name, net, med, row["rounds"], " / ".join("%.2f" % x for x in row["mb_sent"]),
                args.runs), flush=True)
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump(results, f, indent=1)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
