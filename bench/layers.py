#!/usr/bin/python3
"""CycleGAN's convolutions one by one, ganlua beside PyTorch: runs
bench/conv_layers.lua and bench/torch_conv_layers.py alternately --rounds
times (same batch, threads and repetitions) and prints, for each layer and
pass (forward, input gradient, weight gradient), the fastest time of each
side over all rounds, PyTorch / ganlua, and ganlua's GFLOP/s. ganlua runs
with GANLUA_ADAPT_THREADS=0: the kernels' speed on the threads asked for,
whatever the machine's load.

    /usr/bin/python3 bench/layers.py --batch=1 --threads=2 --rounds=3
"""
import argparse
import os
import subprocess
import sys

from compare import ROOT, ganlua
from compare_upfirdn2d import cpu


def layers(cmd):
    """{name: (fwd, dx, dw, gflop)} from the program's `layer ...` lines"""
    env = dict(os.environ, GANLUA_ADAPT_THREADS="0")
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stdout}\n{out.stderr}")
    rows = {}
    for line in out.stdout.splitlines():
        p = line.split()
        if len(p) == 6 and p[0] == "layer":
            rows[p[1]] = tuple(float(v) for v in p[2:])
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--ganlua", default=ganlua())
    a = ap.parse_args()
    if min(a.batch, a.threads, a.rounds, a.reps) < 1:
        sys.exit("--batch, --threads, --rounds and --reps must be >= 1")
    model, flags = cpu(("avx2", "avx512f"))
    env = os.environ.get("OPENBLAS_CORETYPE")
    print(f"CPU {model}; avx512f {'yes' if 'avx512f' in flags else 'no'}; threads {a.threads}; "
          f"batch {a.batch}; OPENBLAS_CORETYPE={env if env else '(unset)'}; fastest of {a.rounds} x {a.reps}")
    args = [f"--batch={a.batch}", f"--threads={a.threads}", f"--reps={a.reps}"]
    best = {"g": {}, "t": {}}
    for _ in range(a.rounds):
        for side, cmd in (("g", [a.ganlua, "bench/conv_layers.lua"]),
                          ("t", ["/usr/bin/python3", "bench/torch_conv_layers.py"])):
            for name, v in layers(cmd + args).items():
                old = best[side].get(name)
                best[side][name] = v if old is None else tuple(min(x, y) for x, y in zip(old, v))
    print(f"{'layer':8} {'GFLOP':>7} | {'ganlua ms: fwd':>14} {'dx':>6} {'dw':>6} | {'torch ms: fwd':>13} {'dx':>6} "
          f"{'dw':>6} | {'torch/ganlua: fwd':>17} {'dx':>5} {'dw':>5} | ganlua GFLOP/s fwd dx dw")
    total = [0.0] * 6
    for name, g in best["g"].items():
        t = best["t"][name]
        gflop = g[3]
        rates = " ".join(f"{gflop / max(ms, 1e-6) * 1000:5.0f}" for ms in g[:3])
        print(f"{name:8} {gflop:7.3f} | {g[0]:14.3f} {g[1]:6.3f} {g[2]:6.3f} | {t[0]:13.3f} {t[1]:6.3f} {t[2]:6.3f} | "
              f"{t[0] / g[0]:16.2f}x {t[1] / g[1]:4.2f}x {t[2] / g[2]:4.2f}x | {rates}")
        for i in range(3):
            total[i] += g[i]
            total[3 + i] += t[i]
    print(f"{'sum':8} {'':7} | {total[0]:14.3f} {total[1]:6.3f} {total[2]:6.3f} | {total[3]:13.3f} {total[4]:6.3f} "
          f"{total[5]:6.3f} | {total[3] / total[0]:16.2f}x {total[4] / total[1]:4.2f}x {total[5] / total[2]:4.2f}x")


if __name__ == "__main__":
    main()
