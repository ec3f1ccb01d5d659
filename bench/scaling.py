#!/usr/bin/python3
"""How a DCGAN step's time grows with batch, resolution and threads, ganlua
beside PyTorch, each point measured alternately (A B A B) like compare.py.
Prints markdown tables (the ones in bench/README.md).

    OPENBLAS_CORETYPE= bench/scaling.py --rounds=3
"""
import argparse
import os
import statistics

from compare import ganlua, run


def point(gl, args, rounds):
    g, t = [], []
    for _ in range(rounds):
        g.append(run([gl, "bench/dcgan_step.lua"] + args)["ms_per_step"])
        t.append(run(["/usr/bin/python3", "bench/torch_dcgan_step.py"] + args)["ms_per_step"])
    return statistics.median(g), statistics.median(t)


def table(title, label, rows):
    print(f"\n{title}\n")
    print(f"| {label} | ganlua ms/step | PyTorch ms/step | speedup |")
    print("|---|---|---|---|")
    for key, g, t in rows:
        print(f"| {key} | {g:.1f} | {t:.1f} | {t / g:.2f}x |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ganlua", default=ganlua())
    a = ap.parse_args()
    env = os.environ.get("OPENBLAS_CORETYPE")
    print(f"OPENBLAS_CORETYPE={env if env else '(unset)'}; medians of {a.rounds} alternating rounds")

    rows = []
    for batch in (16, 32, 64, 128, 256):
        args = ["--size=32", "--channels=1", "--nf=64", f"--batch={batch}", "--steps=5", "--threads=2"]
        rows.append((batch,) + point(a.ganlua, args, a.rounds))
    table("dcgan32 (32x32x1, nf 64, 2 threads) by batch", "batch", rows)

    rows = []
    for size in (32, 64, 128):
        steps = "--steps=5" if size < 128 else "--steps=2"
        args = [f"--size={size}", "--channels=3", "--nf=64", "--batch=64", steps, "--threads=2"]
        if size == 128:
            args.append("--warmup=1")
        rows.append((size,) + point(a.ganlua, args, a.rounds))
    table("RGB, nf 64, batch 64, 2 threads, by resolution", "size", rows)

    rows = []
    for case, spec in (("dcgan32", ["--size=32", "--channels=1"]), ("dcgan64", ["--size=64", "--channels=3"])):
        for th in (1, 2):
            args = spec + ["--nf=64", "--batch=64", "--steps=5", f"--threads={th}"]
            rows.append((f"{case}, {th} thread{'s' if th > 1 else ''}",) + point(a.ganlua, args, a.rounds))
    table("threads", "case", rows)


if __name__ == "__main__":
    main()
