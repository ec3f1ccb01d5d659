#!/usr/bin/python3
"""Grouped and depthwise convolutions: ganlua (bench/grouped_conv.lua) beside
PyTorch (bench/torch_grouped_conv.py), and depthwise beside dense inside
ganlua, each round running every program once in turn (A B C ...), under the
same environment and thread count. Prints markdown tables of the medians of
the rounds' medians and their ratios.

    OPENBLAS_CORETYPE= bench/grouped.py --rounds=5
    OPENBLAS_CORETYPE= bench/grouped.py --rounds=5 --baseline=/path/to/other/build/ganlua
    OPENBLAS_CORETYPE= bench/grouped.py --rounds=5 --threads=1 --cpu

--baseline adds another ganlua build to the rotation (say, one from before
a change to the engine) and a column comparing the two. --cpu tables the
process CPU time instead of the wall time: on one thread, on a machine that
other jobs share, it is the steadier of the two (a thread waiting for the
core is not counted); on two it also counts threads spinning at barriers.
"""
import argparse
import collections
import os
import statistics

from compare import ganlua, lines


def cases(cmd):
    """{(case, pass): ms} from one run of a program"""
    return {(p[1], p[2]): float(p[4 if CPU else 3]) for p in lines(cmd) if len(p) == 5 and p[0] == "case"}


CPU = False


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--case", default="all")
    ap.add_argument("--ganlua", default=ganlua())
    ap.add_argument("--baseline", default=None, help="another ganlua build, run in turn with the others")
    ap.add_argument("--cpu", action="store_true", help="process CPU time rather than wall time")
    a = ap.parse_args()
    global CPU
    CPU = a.cpu
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
          f"reps {a.reps}; {'process CPU' if a.cpu else 'wall'} ms, each the median over rounds of "
          f"each run's median")
    print(f"load average before: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    times = {name: collections.defaultdict(list) for name in programs}
    for r in range(a.rounds):
        for name, cmd in programs.items():
            for key, ms in cases(cmd).items():
                times[name][key].append(ms)
        print(f"  round {r + 1} done", flush=True)
    med = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in times.items()}
    print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")

    def fmt(x):
        return "" if x is None else f"{x:.2f}"

    keys = list(med["ganlua"])
    head = "| case | pass | ganlua ms | PyTorch ms | PyTorch / ganlua |"
    rule = "|---|---|---|---|---|"
    if a.baseline:
        head += " baseline ms | baseline / ganlua |"
        rule += "---|---|"
    print("\nganlua beside PyTorch 1.13 (F.conv2d / F.conv_transpose2d with groups)\n")
    print(head)
    print(rule)
    for k in keys:
        g, t = med["ganlua"][k], med["torch"].get(k)
        row = f"| {k[0]} | {k[1]} | {fmt(g)} | {fmt(t)} | {t / g:.2f}x |" if t else f"| {k[0]} | {k[1]} | {fmt(g)} | | |"
        if a.baseline:
            b = med["baseline"].get(k)
            row += f" {fmt(b)} | {b / g:.2f}x |" if b else " | |"
        print(row)
    print("\ndepthwise beside the dense convolution of the same size (C in, C out), both ganlua\n")
    print("| case | pass | depthwise ms | dense ms | dense / depthwise |")
    print("|---|---|---|---|---|")
    for k in keys:
        d = med["dense"].get(k)
        if d:
            g = med["ganlua"][k]
            print(f"| {k[0]} | {k[1]} | {fmt(g)} | {fmt(d)} | {d / g:.2f}x |")


if __name__ == "__main__":
    main()
