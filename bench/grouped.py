#!/usr/bin/python3
"""Grouped and depthwise convolutions: ganlua (bench/grouped_conv.lua) beside
PyTorch (bench/torch_grouped_conv.py), and depthwise beside dense inside
ganlua, each round running every program once in turn (A B C ...), under the
same environment and thread count. Prints markdown tables of the medians of
the rounds' medians and their ratios, in wall time and in process CPU time.

    OPENBLAS_CORETYPE= bench/grouped.py --rounds=5
    OPENBLAS_CORETYPE= bench/grouped.py --rounds=5 --threads=1
    OPENBLAS_CORETYPE= bench/grouped.py --rounds=5 --baseline=/path/to/other/build/ganlua

--baseline adds another ganlua build to the rotation (say, one from before
a change to the engine) and a column comparing the two. The CPU time is the
steadier figure on one thread when other jobs share the machine (a thread
waiting for a core is not counted); on two it also counts threads spinning
at barriers.
"""
import argparse
import collections
import os
import statistics

from compare import ganlua, lines


def cases(cmd):
    """{(case, pass): (wall ms, CPU ms)} from one run of a program"""
    return {(p[1], p[2]): (float(p[3]), float(p[4])) for p in lines(cmd) if len(p) == 5 and p[0] == "case"}


def cpu():
    model, flags = "?", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    simd = [x for x in ("avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl") if x in flags]
    return f"{model}, {os.cpu_count()} CPUs, {' '.join(simd)}"


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def tables(med, what, baseline):
    def fmt(x):
        return "" if x is None else f"{x:.2f}"

    def ratio(a, b):
        return f"{a / b:.2f}x" if a and b else ""

    keys = list(med["ganlua"])
    print(f"\nganlua beside PyTorch 1.13 (F.conv2d / F.conv_transpose2d with groups), {what} ms\n")
    head, rule = "| case | pass | ganlua | PyTorch | PyTorch / ganlua |", "|---|---|---|---|---|"
    if baseline:
        head, rule = head + " baseline | baseline / ganlua |", rule + "---|---|"
    print(head)
    print(rule)
    for k in keys:
        g, t = med["ganlua"][k], med["torch"].get(k)
        row = f"| {k[0]} | {k[1]} | {fmt(g)} | {fmt(t)} | {ratio(t, g)} |"
        if baseline:
            b = med["baseline"].get(k)
            row += f" {fmt(b)} | {ratio(b, g)} |"
        print(row)
    print(f"\ndepthwise beside the dense convolution of the same size (C in, C out), both ganlua, {what} ms\n")
    print("| case | pass | depthwise | dense | dense / depthwise |")
    print("|---|---|---|---|---|")
    for k in keys:
        d = med["dense"].get(k)
        if d:
            print(f"| {k[0]} | {k[1]} | {fmt(med['ganlua'][k])} | {fmt(d)} | {ratio(d, med['ganlua'][k])} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--case", default="all")
    ap.add_argument("--ganlua", default=ganlua())
    ap.add_argument("--baseline", default=None, help="another ganlua build, run in turn with the others")
    a = ap.parse_args()
    env = os.environ.get("OPENBLAS_CORETYPE")
    common = [f"--threads={a.threads}", f"--reps={a.reps}", f"--case={a.case}"]
    programs = {
        "ganlua": [a.ganlua, "bench/grouped_conv.lua"] + common,
        "torch": ["/usr/bin/python3", "bench/torch_grouped_conv.py"] + common,
        "dense": [a.ganlua, "bench/grouped_conv.lua", "--dense=true"] + common,
    }
    if a.baseline:
        programs["baseline"] = [a.baseline, "bench/grouped_conv.lua"] + common
    print(f"CPU: {cpu()}")
    print(f"threads {a.threads}; OPENBLAS_CORETYPE={env if env else '(unset)'}; rounds {a.rounds}; "
          f"reps {a.reps}; each figure the median over rounds of each run's median")
    print(f"load average before: {load()}")
    times = {name: collections.defaultdict(list) for name in programs}
    for r in range(a.rounds):
        for name, cmd in programs.items():
            for key, ms in cases(cmd).items():
                times[name][key].append(ms)
        print(f"  round {r + 1} done", flush=True)
    print(f"load average after: {load()}")
    for i, what in enumerate(("wall", "process CPU")):
        med = {name: {k: statistics.median(v[i] for v in vs) for k, vs in t.items()}
               for name, t in times.items()}
        tables(med, what, a.baseline)


if __name__ == "__main__":
    main()
