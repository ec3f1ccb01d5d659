#!/usr/bin/python3
"""Runs bench/upfirdn2d.lua (ganlua) and bench/torch_upfirdn2d.py (PyTorch)
alternately, A B A B ..., under the same environment and thread count, on
StyleGAN2's three uses of upfirdn2d (blur, 2x up, 2x down with 4 taps) at
StyleGAN2's shapes, forward and forward + backward, and prints each side's
median, their ratio, the CPU and the settings.

    bench/compare_upfirdn2d.py                     # every case, 5 rounds
    bench/compare_upfirdn2d.py --rounds=3 --taps=1d --cases=up/32/256/8
    OPENBLAS_CORETYPE= bench/compare_upfirdn2d.py

First it checks that the two sides compute the same numbers: ganlua writes
its inputs, outputs and input gradients (bench/upfirdn2d.lua --dump), and
torch_upfirdn2d.py --check recomputes them with the definition and with the
compositions it times.

ganlua runs once per round for each --taps: 1d gives the taps [1,3,3,1]/8
(the separable path), 2d their 4x4 outer product (what NVlabs' setup_filter
makes of 4 taps); PyTorch always convolves with the 4x4 filter. Each program
reports, per case and pass, the median over its samples of the time per
call; the table gives the median of those over the rounds.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

CASES = ",".join(f"{op}/{shape}" for shape in ("32/256/8", "32/256/16", "32/128/32", "32/3/32", "32/3/64")
                 for op in ("blur", "up", "down"))
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def ganlua():
    p = os.path.join(ROOT, "build", "ganlua")
    return p if os.path.exists(p) else "ganlua"


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stdout}\n{out.stderr}")
    return out.stdout


def times(text):
    """{(case, pass): ms} from the `ms <case> <pass> <ms>` lines, and the first line"""
    got = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "ms":
            got[(parts[1], parts[2])] = float(parts[3])
    return got, text.splitlines()[0]


def alternate(sides, rounds):
    """Runs each side's command once per round, in turn (A B A B ...), and
    prints each side's first line; returns {side: {(case, pass): [ms per round]}}"""
    results = {name: {} for name in sides}
    heads = {}
    for r in range(rounds):
        for name, cmd in sides.items():
            got, heads[name] = times(run(cmd))
            for k, v in got.items():
                results[name].setdefault(k, []).append(v)
        print(f"  round {r + 1} done", flush=True)
    for name in sides:
        print(f"{name}: {heads[name]}")
    print()
    return results


def cpu(wanted=("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl")):
    """the first CPU's model name, and which of the wanted flags it has (in the order given)"""
    model, flags = "?", []
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "?":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                have = set(line.split(":", 1)[1].split())
                flags = [x for x in wanted if x in have]
    return model, flags


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=CASES)
    ap.add_argument("--taps", default="1d,2d")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--samples", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ganlua", default=ganlua())
    a = ap.parse_args()
    model, flags = cpu()
    env = os.environ.get("OPENBLAS_CORETYPE")
    print(f"CPU {model} ({os.cpu_count()} cores; {' '.join(flags)}); threads {a.threads}; "
          f"OPENBLAS_CORETYPE={env if env else '(unset)'}; rounds {a.rounds}; samples {a.samples}")

    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "upfirdn2d.safetensors")
        run([a.ganlua, "bench/upfirdn2d.lua", f"--dump={dump}"])
        check = subprocess.run(["/usr/bin/python3", "bench/torch_upfirdn2d.py", f"--check={dump}"],
                               capture_output=True, text=True, cwd=ROOT)
        print("check: " + check.stdout.strip().splitlines()[-1] + (" (same numbers)" if check.returncode == 0 else ""))
        if check.returncode != 0:
            sys.exit(check.stdout + check.stderr)

    common = [f"--cases={a.cases}", f"--samples={a.samples}", f"--threads={a.threads}"]
    taps = a.taps.split(",")
    sides = {f"ganlua {t}": [a.ganlua, "bench/upfirdn2d.lua", f"--taps={t}"] + common for t in taps}
    sides["torch"] = ["/usr/bin/python3", "bench/torch_upfirdn2d.py"] + common
    results = alternate(sides, a.rounds)
    names = list(sides)
    head = f"{'case':18} {'pass':7}" + "".join(f" {n + ' ms':>13}" for n in names)
    head += "".join(f" {'x ' + n.split()[1]:>8}" for n in names if n != "torch")
    print(head)
    for key in results["torch"]:
        med = {n: statistics.median(results[n][key]) for n in names}
        row = f"{key[0]:18} {key[1]:7}" + "".join(f" {med[n]:13.3f}" for n in names)
        row += "".join(f" {med['torch'] / med[n]:7.2f}x" for n in names if n != "torch")
        print(row)


if __name__ == "__main__":
    main()
