#!/usr/bin/env python3
"""Experiment 2 of the real-time services (bench/rt/README.md): packet QoS.

Four UDP streams, one per task, to one guest that receives each on a socket of its own
(tests/guests/qos_guest streams: a thread per socket, recvfrom per datagram). A native sender
(qos_guest blast) offers the same load to every stream, stepped up; the guest reports per
stream how many datagrams it received and their RFC 3550 interarrival jitter. Three modes:

  native        the guest without hijackd
  hijackd       under hijackd, every receive of the four streams passing through the ratelimit
                module (streams by local port, no limit): what interposition alone costs
  hijackd+qos   the same streams with priorities under a shared total: task 0 first, task 1
                next, tasks 2 and 3 best effort sharing what is left

The total is the capacity of the interposed path as the `hijackd` mode measured it (the most
datagrams per second the four streams received together at any load) times --headroom, unless
--total gives it. Each task's stream may use up to the highest offered load.

    bench/rt/qos.py --build build/release
    bench/rt/qos.py --build build/release --loads 1000,4000,8000 --seconds 4 --out /tmp/qos

Writes OUT/exp2.tsv (mode, load, task, sent, received, jitter_us), OUT/exp2.txt (the table) and
OUT/exp2.png.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

TASKS = 4
PRIORITIES = [0, 1, 2, 2]


def free_ports(n):
    """Ports the kernel picks for sockets bound to port 0, released again for the guest."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def policy(ports, mode, top_load, total):
    streams = []
    for i, port in enumerate(ports):
        stream = {"name": "task%d" % i, "match": {"type": "udp", "local_port": port,
                                                  "direction": "receive"}}
        if mode == "hijackd":
            stream.update(rate=1e9)
        else:
            stream.update(rate=top_load, burst=64, priority=PRIORITIES[i])
        streams.append(stream)
    module = {"module": "ratelimit", "streams": streams}
    if mode == "hijackd+qos":
        module["total"] = {"rate": total}
    return {"version": 1, "modules": [module]}


def run_one(args, mode, load, total, workdir):
    ports = free_ports(TASKS)
    cmd = []
    if mode != "native":
        path = os.path.join(workdir, "exp2-%s-%d.json" % (mode, load))
        with open(path, "w") as f:
            json.dump(policy(ports, mode, max(args.loads), total), f)
        cmd = [args.hijackd, "run", "--quiet", "--policy", path, "--"]
    cmd += [args.guest, "streams", str(args.seconds + 1.5)] + [str(p) for p in ports]
    rx = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = rx.stdout.readline()
    if line.strip() != "ready":
        sys.exit("%s: the receiver did not start: %s %s" % (mode, line, rx.stderr.read()))
    tx = subprocess.run([args.guest, "blast", str(load), str(args.seconds)] +
                        [str(p) for p in ports], capture_output=True, text=True)
    if tx.returncode != 0:
        sys.exit("sender: exit %d: %s" % (tx.returncode, tx.stderr))
    sent = [int(w.split()[1]) for w in tx.stdout.splitlines() if w.startswith("sent")]
    out, err = rx.communicate()
    if rx.returncode != 0:
        sys.exit("%s receiver: exit %d: %s" % (mode, rx.returncode, err))
    rows = []
    for w in out.splitlines():
        if w.startswith("stream"):
            f = w.split()
            i = int(f[1])
            rows.append((mode, load, i, sent[i], int(f[3]), float(f[5])))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--loads", default="1000,2000,4000,8000,16000,44000",
                    help="offered datagrams/s per stream, stepped up")
    ap.add_argument("--seconds", type=float, default=3, help="per step")
    ap.add_argument("--modes", default="native,hijackd,hijackd+qos")
    ap.add_argument("--total", type=float, default=0,
                    help="hijackd+qos: the shared total (default: measured capacity x headroom)")
    ap.add_argument("--headroom", type=float, default=0.8)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    args.loads = [int(x) for x in args.loads.split(",")]
    args.hijackd = os.path.join(args.build, "daemon", "hijackd")
    args.guest = os.path.join(args.build, "tests", "qos_guest")
    out = args.out or tempfile.mkdtemp(prefix="hijack-rt-")
    os.makedirs(out, exist_ok=True)
    load_before = open("/proc/loadavg").read().split()[:3]
    rows = []
    total = args.total
    modes = args.modes.split(",")
    for mode in modes:
        if mode == "hijackd+qos" and total <= 0:
            capacity = max((sum(r[4] for r in rows if r[0] == "hijackd" and r[1] == load)
                            / args.seconds for load in args.loads), default=0)
            if capacity <= 0:
                sys.exit("hijackd+qos needs --total or the hijackd mode first")
            total = round(capacity * args.headroom)
        for load in args.loads:
            rows += run_one(args, mode, load, total, out)
    load_after = open("/proc/loadavg").read().split()[:3]
    with open(os.path.join(out, "exp2.tsv"), "w") as f:
        # Grouped by mode and task, so that each line of the plot is contiguous.
        for r in sorted(rows, key=lambda r: (modes.index(r[0]), r[2], r[1])):
            f.write("%s\t%d\t%d\t%d\t%d\t%.1f\n" % r)
    lines = ["load average before %s, after %s; %d s per step; hijackd+qos total %s/s" % (
        "/".join(load_before), "/".join(load_after), args.seconds, total or "-"),
        "| mode | offered/stream | " + " | ".join(
            "task %d (p%d) received, jitter" % (i, PRIORITIES[i]) for i in range(TASKS)) + " |",
        "|---|---|" + "---|" * TASKS]
    for mode in modes:
        for load in args.loads:
            cells = []
            for i in range(TASKS):
                r = [x for x in rows if x[0] == mode and x[1] == load and x[2] == i]
                if not r:
                    cells.append("-")
                    continue
                _, _, _, sent, got, jitter = r[0]
                cells.append("%.0f/s %.1f%%, %.0f us" % (got / args.seconds,
                                                        100.0 * got / max(sent, 1), jitter))
            lines.append("| %s | %d | %s |" % (mode, load, " | ".join(cells)))
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(out, "exp2.txt"), "w") as f:
        f.write(table + "\n")
    plot = os.path.join(out, "exp2.gp")
    data = os.path.join(out, "exp2.tsv")
    with open(plot, "w") as f:
        f.write('set terminal png noenhanced size 1200,%d\nset output "%s"\n' % (
            320 * len(modes), os.path.join(out, "exp2.png")))
        f.write('set datafile separator "\\t"\nset multiplot layout %d,2\nset logscale x\n'
                'set xlabel "offered datagrams/s per stream"\nset key left bottom\n' % len(modes))
        for mode in modes:
            f.write('set title "%s: received"\nset ylabel "%% of offered"\nset yrange [0:105]\n'
                    'plot ' % mode)
            f.write(", ".join(
                "'%s' using ((strcol(1) eq \"%s\" && $3 == %d) ? $2 : 1/0):(100*$5/$4) "
                "with linespoints title 'task %d'" % (data, mode, i, i) for i in range(TASKS)))
            f.write('\nset title "%s: jitter"\nset ylabel "RFC 3550 jitter (us)"\n'
                    'set autoscale y\nplot ' % mode)
            f.write(", ".join(
                "'%s' using ((strcol(1) eq \"%s\" && $3 == %d) ? $2 : 1/0):6 "
                "with linespoints title 'task %d'" % (data, mode, i, i) for i in range(TASKS)))
            f.write("\n")
        f.write("unset multiplot\n")
    subprocess.run(["gnuplot", plot], check=False)
    print("wrote", os.path.join(out, "exp2.txt"), os.path.join(out, "exp2.png"))


if __name__ == "__main__":
    main()
