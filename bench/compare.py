#!/usr/bin/python3
"""Runs each case's ganlua program and its PyTorch peer alternately, A B A B ...,
under the same environment and thread count, and prints a table of training
steps: both medians, their ratio and each side's peak RSS, with the CPU and the
settings at the top.

    /usr/bin/python3 bench/compare.py --rounds=5 --threads=2     # every case
    bench/compare.py --case=dcgan32 --rounds=7                     # one case
    bench/compare.py --case=cyclegan_b1,sngan --rounds=1 --steps=2 --threads=1
    OPENBLAS_CORETYPE= bench/compare.py   # let OpenBLAS pick its kernels
    bench/compare.py --case=dcgan32 --busy=1   # a shared machine: one core kept busy

The cases: dcgan32 and dcgan64 (bench/dcgan_step.lua, bench/torch_dcgan_step.py);
cyclegan_b1, cyclegan_b4, pix2pix_b4, wgan_gp, sngan, sagan, stylegan2 and
stylegan2_r1 (bench/steps.lua, bench/torch_steps.py, which describe each);
stylegan2_split is stylegan2 with PyTorch's modulated convolutions run as
ganlua runs them (torch_steps.py --modconv=split) rather than grouped.
Before the rounds of sagan and the stylegan2 cases, PyTorch's networks are
loaded with ganlua's weights and must give the same outputs
(steps.lua --dump, torch_steps.py --check). Each round runs each program
once (--warmup steps, 3 by default, then --steps timed steps; the program
reports the median step); the table gives the median of the rounds'
medians. Both sides print their networks' parameter counts; the script
stops if they differ.

The dcgan cases' rounds also time OpenBLAS's sgemm on a 2048 x 2048 x 2048
product through ganlua (bench/steps.lua --case=sgemm), and a second table
gives each dcgan step's convolution FLOPs per second as a fraction of that
rate.

--busy=N starts N busy processes (a Python loop each, at normal priority)
before the first round and stops them after the last: the machine shared
with other work. Each also stops by itself after --busy_seconds, so none
outlives a killed driver. ganlua's own loops run fewer threads under such
load unless GANLUA_ADAPT_THREADS=0 (gan.adapt_threads; printed in the
header).
"""
import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile

from compare_upfirdn2d import cpu

DCGAN = ("bench/dcgan_step.lua", "bench/torch_dcgan_step.py")
STEPS = ("bench/steps.lua", "bench/torch_steps.py")
# name: (programs, arguments, what it is[, arguments of the PyTorch program alone])
CASES = {
    "dcgan32": (DCGAN, ["--size=32", "--channels=1", "--batch=64", "--nf=64"], "DCGAN 32x32x1, batch 64, nf 64"),
    "dcgan64": (DCGAN, ["--size=64", "--channels=3", "--batch=64", "--nf=64"], "DCGAN 64x64x3, batch 64, nf 64"),
    "cyclegan_b1": (STEPS, ["--case=cyclegan_b1"], "CycleGAN 64x64x3, batch 1, 6 blocks, nf/ndf 64"),
    "cyclegan_b4": (STEPS, ["--case=cyclegan_b4"], "CycleGAN 64x64x3, batch 4, 6 blocks, nf/ndf 64"),
    "pix2pix_b4": (STEPS, ["--case=pix2pix_b4"], "pix2pix 64x64x3, batch 4, U-Net nf 64, ndf 64"),
    "wgan_gp": (STEPS, ["--case=wgan_gp"], "WGAN-GP critic step 32x32x1, batch 64, nf 32"),
    "sngan": (STEPS, ["--case=sngan"], "SNGAN D + G step 32x32x1, batch 64, nf 64, ndf 32"),
    "sagan": (STEPS, ["--case=sagan"], "SAGAN D + G step 32x32x1, batch 64, nf 12, ndf 16, attention at 16x16"),
    "stylegan2": (STEPS, ["--case=stylegan2"], "StyleGAN2 G + D step 32x32x1, batch 16, 128 to 32 maps"),
    "stylegan2_split": (STEPS, ["--case=stylegan2"], "stylegan2, PyTorch's modulated convs as ganlua's (scale, conv, scale)",
                        ["--modconv=split"]),
    "stylegan2_r1": (STEPS, ["--case=stylegan2_r1"], "StyleGAN2 lazy R1 step of D, 32x32x1, batch 16"),
}
# the cases whose two sides are first checked to be the same networks (same weights, same outputs)
CHECKED = ("sagan", "stylegan2", "stylegan2_split", "stylegan2_r1")
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16")
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
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stdout}\n{out.stderr}")
    return [line.split() for line in out.stdout.splitlines()]


def run(cmd):
    """{ms_per_step, peak_rss_mb, gflop_per_step (when printed), params: [(net, count)],
    info: the program's `ganlua ...` or `torch ...` line}"""
    values = {"params": []}
    for parts in lines(cmd):
        if len(parts) == 2 and parts[0] in ("ms_per_step", "peak_rss_mb", "gflop_per_step"):
            values[parts[0]] = float(parts[1])
        elif len(parts) == 3 and parts[0] == "params":
            values["params"].append((parts[1], int(parts[2])))
        elif parts and parts[0] in ("ganlua", "torch"):
            values["info"] = " ".join(parts)
    return values


@contextlib.contextmanager
def busy(n, seconds):
    """n processes that keep a core busy each, for at most `seconds`"""
    loop = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass\n"
    procs = [subprocess.Popen(["/usr/bin/python3", "-c", loop]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def same_params(case, g, t):
    """exits, naming every network, when the two sides' parameter counts differ"""
    if g["params"] != t["params"] or not g["params"]:
        sys.exit(f"{case}: the parameter counts differ, so the two sides are not the same networks:\n"
                 f"  ganlua  {g['params']}\n  PyTorch {t['params']}")


def check_same(case, glua, gtorch, args, torch_args, ganlua_bin):
    """loads the weights ganlua's program dumps into PyTorch's networks and exits unless both give the
    same outputs; prints the worst difference"""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "nets.safetensors")
        lines([ganlua_bin, glua] + args + ["--threads=1", "--dump=" + path])
        out = lines(["/usr/bin/python3", gtorch] + args + torch_args + ["--threads=1", "--check=" + path])
    worst = [" ".join(p) for p in out if p[:2] == ["check", "worst"]]
    print(f"  {case}: same weights, same outputs on both sides ({worst[0] if worst else '?'})", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default="all", help="all, or cases separated by commas: " + ", ".join(CASES))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--busy", type=int, default=0, help="busy processes running beside the rounds")
    ap.add_argument("--busy_seconds", type=int, default=3600, help="the longest a busy process runs")
    ap.add_argument("--ganlua", default=ganlua())
    a = ap.parse_args()
    cases = list(CASES) if a.case == "all" else a.case.split(",")
    for case in cases:
        if case not in CASES:
            sys.exit(f"--case: unknown case '{case}' (all, or some of: {', '.join(CASES)})")
    if a.rounds < 1 or a.steps < 1 or a.threads < 1 or a.warmup < 0 or a.busy < 0 or a.busy_seconds < 1:
        sys.exit("--rounds, --steps, --threads and --busy_seconds must be >= 1, --warmup and --busy >= 0")
    with busy(a.busy, a.busy_seconds):
        table(a, cases)


def table(a, cases):

    model, flags = cpu(FLAGS)
    env = os.environ.get("OPENBLAS_CORETYPE")
    print(f"CPU {model} ({os.cpu_count()} cores); " + ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in FLAGS))
    adapt = os.environ.get("GANLUA_ADAPT_THREADS")
    print(f"threads {a.threads}; OPENBLAS_CORETYPE={env if env else '(unset)'}; rounds {a.rounds}; "
          f"steps {a.steps} after {a.warmup} warm-up; ganlua {a.ganlua}", flush=True)
    print(f"busy processes {a.busy}; GANLUA_ADAPT_THREADS={adapt if adapt else '(unset: on)'}", flush=True)
    timing = [f"--steps={a.steps}", f"--warmup={a.warmup}", f"--threads={a.threads}"]
    sgemm_cmd = [a.ganlua, "bench/steps.lua", "--case=sgemm"] + timing
    rows, bound, infos = [], [], {}
    for case in cases:
        (glua, gtorch), args = CASES[case][:2]
        torch_args = CASES[case][3] if len(CASES[case]) > 3 else []
        common = args + timing
        g_ms, t_ms, g_rss, t_rss, s_rate = [], [], [], [], []
        if case in CHECKED:
            check_same(case, glua, gtorch, args, torch_args, a.ganlua)
        for r in range(a.rounds):
            g = run([a.ganlua, glua] + common)
            t = run(["/usr/bin/python3", gtorch] + common + torch_args)
            if r == 0:
                same_params(case, g, t)
                infos.setdefault("ganlua", g.get("info", "?"))
                infos.setdefault("torch", t.get("info", "?"))
            g_ms.append(g["ms_per_step"]); g_rss.append(g["peak_rss_mb"])
            t_ms.append(t["ms_per_step"]); t_rss.append(t["peak_rss_mb"])
            note = ""
            if "gflop_per_step" in g:
                s = run(sgemm_cmd)
                s_rate.append(s["gflop_per_step"] / s["ms_per_step"] * 1000)
                note = f", sgemm {s_rate[-1]:.0f} GFLOP/s"
            print(f"  {case} round {r + 1}: ganlua {g['ms_per_step']:.1f} ms, torch {t['ms_per_step']:.1f} ms{note}",
                  flush=True)
        g_med = statistics.median(g_ms)
        rows.append((case, g_med, statistics.median(t_ms), max(g_rss), max(t_rss)))
        if s_rate:
            bound.append((case, g["gflop_per_step"], g["gflop_per_step"] / g_med * 1000, statistics.median(s_rate)))
    print()
    print(f"{infos['ganlua']}; {infos['torch']}")
    print(f"{'case':15} {'ganlua ms':>10} {'torch ms':>10} {'torch/ganlua':>12} {'ganlua RSS':>11} {'torch RSS':>10}  what")
    for case, g, t, gr, tr in rows:
        print(f"{case:15} {g:10.1f} {t:10.1f} {t / g:11.2f}x {gr:9.0f}MB {tr:8.0f}MB  {CASES[case][2]}")
    if bound:
        print()
        print("the sgemm bound: each step's convolution FLOPs per second against OpenBLAS's sgemm "
              "(2048^3 through ganlua's matmul) in the same rounds")
        print(f"{'case':12} {'GFLOP/step':>10} {'GFLOP/s':>8} {'sgemm GFLOP/s':>14} {'fraction':>9}")
        for case, gflop, rate, sgemm in bound:
            print(f"{case:12} {gflop:10.2f} {rate:8.1f} {sgemm:14.1f} {100 * rate / sgemm:8.1f}%")


if __name__ == "__main__":
    main()
