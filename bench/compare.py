#!/usr/bin/python3
"""Runs bench/dcgan_step.lua (ganlua) and bench/torch_dcgan_step.py (PyTorch)
alternately, A B A B ..., under the same environment and thread count, and
prints both medians, their ratio and each side's peak RSS.

    bench/compare.py                      # both cases, 5 rounds each
    bench/compare.py --case=dcgan32 --rounds=7 --threads=2
    OPENBLAS_CORETYPE= bench/compare.py   # let OpenBLAS pick its kernels

Each round runs each program once (3 warm-up steps, then --steps timed
steps; the program reports the median step). The table gives the median of
the rounds' medians.
"""
import argparse
import os
import statistics
import subprocess
import sys

CASES = {
    "dcgan32": ["--size=32", "--channels=1", "--batch=64", "--nf=64"],
    "dcgan64": ["--size=64", "--channels=3", "--batch=64", "--nf=64"],
}
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def ganlua():
    for p in (os.path.join(ROOT, "build", "ganlua"), "ganlua"):
        if os.path.sep not in p or os.path.exists(p):
            return p
    return "ganlua"


def lines(cmd):
    """the words of each line cmd prints (run from the tree's root); exits if it fails"""
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr}")
    return [line.split() for line in out.stdout.splitlines()]


def run(cmd):
    values = {}
    for parts in lines(cmd):
        if len(parts) == 2 and parts[0] in ("ms_per_step", "peak_rss_mb"):
            values[parts[0]] = float(parts[1])
    return values


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", choices=sorted(CASES) + ["all"], default="all")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ganlua", default=ganlua())
    a = ap.parse_args()
    env = os.environ.get("OPENBLAS_CORETYPE")
    print(f"threads {a.threads}; OPENBLAS_CORETYPE={env if env else '(unset)'}; rounds {a.rounds}; "
          f"steps {a.steps}; ganlua {a.ganlua}")
    cases = sorted(CASES) if a.case == "all" else [a.case]
    rows = []
    for case in cases:
        common = CASES[case] + [f"--steps={a.steps}", f"--threads={a.threads}"]
        g_ms, t_ms, g_rss, t_rss = [], [], [], []
        for r in range(a.rounds):
            g = run([a.ganlua, "bench/dcgan_step.lua"] + common)
            t = run(["/usr/bin/python3", "bench/torch_dcgan_step.py"] + common)
            g_ms.append(g["ms_per_step"]); g_rss.append(g["peak_rss_mb"])
            t_ms.append(t["ms_per_step"]); t_rss.append(t["peak_rss_mb"])
            print(f"  {case} round {r + 1}: ganlua {g['ms_per_step']:.1f} ms, torch {t['ms_per_step']:.1f} ms",
                  flush=True)
        rows.append((case, statistics.median(g_ms), statistics.median(t_ms), max(g_rss), max(t_rss)))
    print()
    print(f"{'case':8} {'ganlua ms':>10} {'torch ms':>10} {'speedup':>8} {'ganlua RSS':>11} {'torch RSS':>10}")
    for case, g, t, gr, tr in rows:
        print(f"{case:8} {g:10.1f} {t:10.1f} {t / g:7.2f}x {gr:9.0f}MB {tr:8.0f}MB")


if __name__ == "__main__":
    main()
