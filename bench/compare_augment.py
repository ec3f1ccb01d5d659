#!/usr/bin/python3
"""Runs bench/augment.lua (ganlua) and bench/torch_augment.py (PyTorch)
alternately, A B A B ..., under the same environment and thread count: the
ADA augmentation (bgc, p = 1) of a batch, forward and forward + backward, and
prints each side's median, their ratio, the CPU and the settings. First it
checks that both compute the same images from the same draws.

    bench/compare_augment.py                                # 32x1x32x32 and 32x3x64x64, 5 rounds
    bench/compare_augment.py --rounds=3 --cases=16/3/64 --threads=2
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

from compare_upfirdn2d import ROOT, alternate, cpu, ganlua, run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="32/1/32,32/3/64")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--samples", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ganlua", default=ganlua())
    a = ap.parse_args()
    model, flags = cpu()
    env = os.environ.get("OPENBLAS_CORETYPE")
    print(f"CPU {model} ({os.cpu_count()} cores; {' '.join(flags)}); threads {a.threads}; "
          f"OPENBLAS_CORETYPE={env if env else '(unset)'}; rounds {a.rounds}; samples {a.samples}")
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "augment.safetensors")
        run([a.ganlua, "bench/augment.lua", f"--dump={dump}", f"--cases={a.cases}"])
        check = subprocess.run(["/usr/bin/python3", "bench/torch_augment.py", f"--check={dump}"],
                               capture_output=True, text=True, cwd=ROOT)
        print("check: " + check.stdout.strip().splitlines()[-1] + (" (same images)" if check.returncode == 0 else ""))
        if check.returncode != 0:
            sys.exit(check.stdout + check.stderr)
    common = [f"--cases={a.cases}", f"--samples={a.samples}", f"--threads={a.threads}"]
    sides = {"ganlua": [a.ganlua, "bench/augment.lua"] + common,
             "torch": ["/usr/bin/python3", "bench/torch_augment.py"] + common}
    results = alternate(sides, a.rounds)
    print(f"{'case':12} {'pass':7} {'ganlua ms':>10} {'torch ms':>10} {'torch/ganlua':>13}")
    for key in results["torch"]:
        g, t = statistics.median(results["ganlua"][key]), statistics.median(results["torch"][key])
        print(f"{key[0]:12} {key[1]:7} {g:10.3f} {t:10.3f} {t / g:12.2f}x")


if __name__ == "__main__":
    main()
