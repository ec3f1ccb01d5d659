#!/usr/bin/python3
"""Grouped and depthwise convolutions in PyTorch, the peer of bench/grouped_conv.lua.

Same cases, same passes (`fwd`: the op alone; `fwdbwd`: the op and the
gradients of sum(y * r) in its input and weights), same output lines:
`case <name> <pass> <median wall ms> <median process CPU ms>`.

    /usr/bin/python3 bench/torch_grouped_conv.py --threads=2 --reps=5 [--case=NAME]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

# name: batch, channels in and out, size, kernel, stride, padding, groups,
# transposed (bench/grouped_conv.lua's table, in the same order)
CASES = [
    ("modconv_g32_c256_8", 1, 32 * 256, 32 * 256, 8, 3, 1, 1, 32, False),
    ("modconv_g32_c256_16", 1, 32 * 256, 32 * 256, 16, 3, 1, 1, 32, False),
    ("modconv_up_g32_c256_8", 1, 32 * 256, 32 * 256, 8, 3, 2, 0, 32, True),
    ("grouped_g4_c256_16", 32, 256, 256, 16, 3, 1, 1, 4, False),
    ("dw_c512_8_k4", 32, 512, 512, 8, 4, 1, 2, 512, False),
    ("dw_c256_16_k3", 32, 256, 256, 16, 3, 1, 1, 256, False),
    ("dw_c128_32_k4", 32, 128, 128, 32, 4, 1, 1, 128, False),
    ("dw_c64_64_k4_s2", 32, 64, 64, 64, 4, 2, 1, 64, False),
    ("dw_c3_64_k4", 32, 3, 3, 64, 4, 1, 2, 3, False),
    ("dwt_c256_16_k4_s2", 32, 256, 256, 16, 4, 2, 1, 256, True),
]


def run(case, reps, warmup):
    name, n, cin, cout, size, k, s, p, g, t = case
    x = torch.randn(n, cin, size, size, requires_grad=True)
    wshape = (cin, cout // g, k, k) if t else (cout, cin // g, k, k)
    w = (torch.randn(*wshape) * 0.1).requires_grad_(True)

    def op():
        if t:
            return F.conv_transpose2d(x, w, None, stride=s, padding=p, groups=g)
        return F.conv2d(x, w, None, stride=s, padding=p, groups=g)

    with torch.no_grad():
        r = torch.randn(op().shape)

    def fwd():
        with torch.no_grad():
            op()

    def fwdbwd():
        y = op()
        torch.autograd.grad((y * r).sum(), (x, w))

    for pass_name, f in (("fwd", fwd), ("fwdbwd", fwdbwd)):
        for _ in range(warmup):
            f()
        times, cpu = [], []
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.process_time()
            f()
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        print(f"case {name} {pass_name} {statistics.median(times):.3f} {statistics.median(cpu):.3f}",
              flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default="all")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    for case in CASES:
        if a.case in ("all", case[0]):
            run(case, a.reps, a.warmup)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
