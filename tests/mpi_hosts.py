#!/usr/bin/env python3
"""tests/mpi_hosts.py — mpirun over two hosts gives the bytes of one process (TAP).

The two hosts are two network namespaces joined by a veth pair, each with
its own network stack and address: mpirun runs in the first, starts its
daemon in the second through an rsh agent (`ip netns exec`), and the ranks
talk over TCP only (`--mca btl tcp,self`), as ranks on separate machines
do; the file system is shared, as a cluster's is.  With 2 ranks a host:

1. the ranks are on both hosts (each prints its address);
2. an ensemble (rk4, a GSL driver a trajectory; records), 7 trajectories
   over 4 ranks, writes one process's CSV bytes;
3. training (fresh data, 7 chunks over 3 ranks) saves one process's
   weights bytes;
4. the chaos map at 30 x 30 writes one process's CSV, events CSV and
   figure bytes.

Skipped unless root, with iproute2's ip, where network namespaces may be
made, with mpirun and a lag built with MPI.  The namespaces are removed at
the end.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lagtest import DOUBLE_PENDULUM, finish, mpi_launcher, program, report, skip  # noqa: E402

LAG, SRCDIR = program()
LAG = os.path.abspath(LAG)
POINTS = ["ranks on two hosts", "an ensemble over two hosts", "training over two hosts",
          "the chaos map over two hosts"]

ENSEMBLE = DOUBLE_PENDULUM + """
simulate DP {
    init t1 = uniform(-2, 2), t2 = uniform(-2, 2)
    samples 7, seed 3
    time 0 .. 3, every 0.25
    method rk4, tol 1e-8
    record a1 = t1''
    output "ens.csv"
}
"""

TRAIN = DOUBLE_PENDULUM + """
system LNN {
    coord t1, t2
    net f = mlp(in = 4, hidden = [16, 16], out = 1)
    L = f(t1, t2, t1', t2') + 0.5*(t1'^2 + t2'^2)
}
train LNN {
    data from DP {
        init t1 = uniform(-pi, pi), t2 = uniform(-pi, pi), t1' = uniform(-5, 5), t2' = uniform(-5, 5)
    }
    steps 30, batch 200, lr 3e-3, seed 2
    save "w.lagw"
}
"""


def sh(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60)


def hosts(tmp):
    """Make the two hosts: (their namespaces, addresses, subnet, rsh agent),
    or None and why not."""
    if os.geteuid() != 0:
        return None, "making network namespaces needs root"
    if not shutil.which("ip"):
        return None, "ip (iproute2) not found"
    tag = "lag%d" % (os.getpid() % 100000)
    ns = [tag + "a", tag + "b"]
    net = "10.214.%d" % (os.getpid() % 250)
    ips = [net + ".1", net + ".2"]
    steps = [["ip", "netns", "add", ns[0]], ["ip", "netns", "add", ns[1]],
             ["ip", "link", "add", tag + "x", "type", "veth", "peer", "name", tag + "y"],
             ["ip", "link", "set", tag + "x", "netns", ns[0]], ["ip", "link", "set", tag + "y", "netns", ns[1]],
             ["ip", "-n", ns[0], "addr", "add", ips[0] + "/24", "dev", tag + "x"],
             ["ip", "-n", ns[1], "addr", "add", ips[1] + "/24", "dev", tag + "y"],
             ["ip", "-n", ns[0], "link", "set", tag + "x", "up"], ["ip", "-n", ns[1], "link", "set", tag + "y", "up"],
             ["ip", "-n", ns[0], "link", "set", "lo", "up"], ["ip", "-n", ns[1], "link", "set", "lo", "up"]]
    for argv in steps:
        p = sh(*argv)
        if p.returncode != 0:
            unmake(ns)
            return None, "network namespaces cannot be made here (%s: %s)" % (" ".join(argv), p.stderr.strip())
    agent = os.path.join(tmp, "rsh")
    with open(agent, "w") as f:
        f.write('#!/bin/sh\n# mpirun\'s rsh: the command in the namespace of the host\n'
                'case $1 in %s) n=%s ;; %s) n=%s ;; *) echo "no host $1" >&2; exit 1 ;; esac\n'
                'shift\nexec ip netns exec "$n" sh -c "$*"\n' % (ips[0], ns[0], ips[1], ns[1]))
    os.chmod(agent, 0o755)
    return (ns, ips, net + ".0/24", agent), None


def unmake(ns):
    for n in ns:
        sh("ip", "netns", "del", n)


def main():
    cmd = mpi_launcher(LAG, POINTS)
    if not cmd:
        finish()
        return
    tmp = tempfile.mkdtemp(prefix="lag_hosts_")
    made, why = hosts(tmp)
    if not made:
        for what in POINTS:
            skip(what, why)
        shutil.rmtree(tmp, ignore_errors=True)
        finish()
        return
    ns, ips, subnet, agent = made
    mpirun = ["ip", "netns", "exec", ns[0], cmd[0], "--allow-run-as-root", "--mca", "plm_rsh_agent", agent,
              "--mca", "btl", "tcp,self", "--mca", "oob_tcp_if_include", subnet, "--mca", "btl_tcp_if_include", subnet,
              "--host", "%s:2,%s:2" % tuple(ips), "-x", "ASAN_OPTIONS"]
    try:
        p = subprocess.run(mpirun + ["-n", "4", "sh", "-c", "ip -o -4 addr show scope global"], capture_output=True,
                           text=True, timeout=120)
        seen = sorted(ip for ip in ips if ip + "/24" in p.stdout)
        report(p.returncode == 0 and seen == ips and p.stdout.count("inet ") == 4,
               "mpi-hosts-1 4 ranks, 2 on each host (%s): each in its own network stack" % ", ".join(ips),
               p.stdout + p.stderr)

        def same(name, text, ranks, files):
            path = os.path.join(tmp, name + ".lag")
            with open(path, "w") as f:
                f.write(text)
            one, many = os.path.join(tmp, name + ".one"), os.path.join(tmp, name + ".many")
            p1 = subprocess.run([LAG, "run", path, "--quiet", "-o", one], capture_output=True, text=True, timeout=300)
            p2 = subprocess.run(mpirun + ["-n", str(ranks), LAG, "run", path, "--quiet", "-o", many],
                                capture_output=True, text=True, timeout=300)
            why = "" if p1.returncode == 0 and p2.returncode == 0 else "exit %d and %d\n%s%s" % (
                p1.returncode, p2.returncode, p1.stderr, p2.stderr)
            for f in files:
                try:
                    a = open(os.path.join(one, f), "rb").read()
                    b = open(os.path.join(many, f), "rb").read()
                except OSError as ex:
                    why += "%s\n" % ex
                    continue
                if not a or a != b:
                    why += "%s differs (or is empty)\n" % f
            return not why, why

        ok, why = same("ens", ENSEMBLE, 4, ["ens.csv"])
        report(ok, "mpi-hosts-2 an rk4 ensemble of 7 on 4 ranks over the two hosts: one process's CSV bytes", why)
        ok, why = same("train", TRAIN, 3, ["w.lagw"])
        report(ok, "mpi-hosts-3 training, 7 chunks on 3 ranks over the two hosts: one process's weights bytes", why)
        with open(os.path.join(SRCDIR, "examples", "chaos_map.lag")) as f:
            chaos = f.read().replace("const N = 100 ", "const N = 30 ").replace("const T = 10 ", "const T = 6 ")
        ok, why = same("chaos", chaos, 4, ["chaos_map.csv", "chaos_map_flips.csv", "chaos_map.png"])
        report(ok, "mpi-hosts-4 the chaos map (30 x 30) on 4 ranks over the two hosts: one process's CSV, events "
               "and figure bytes", why)
    finally:
        unmake(ns)
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


main()
