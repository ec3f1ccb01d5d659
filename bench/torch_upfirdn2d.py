#!/usr/bin/python3
"""upfirdn2d in PyTorch, the peer of bench/upfirdn2d.lua: the same cases and
timing (--cases, --samples, --min_ms, --threads), the same output lines
(`ms <case> <pass> <median ms per call>`).

PyTorch has no upfirdn2d; StyleGAN2 code on the CPU composes it from
convolutions. Each case here uses the cheapest composition of a depthwise
(groups = C) convolution with the 4x4 filter (the outer product of the taps,
as NVlabs' setup_filter makes for 4 taps):

    blur:  F.pad, then conv2d
    up:    conv_transpose2d with stride 2 and padding 1 (zero insertion,
           padding and filtering in one), the filter times gain 4
    down:  conv2d with stride 2 and padding 1

--check=FILE compares ganlua's outputs and input gradients, written by
`ganlua bench/upfirdn2d.lua --dump=FILE`, with upfirdn2d_ref below (the
definition, composed of zero insertion, F.pad, cropping, a depthwise conv2d
and slicing) and, for the three cases, with the compositions timed here.

    /usr/bin/python3 bench/torch_upfirdn2d.py --cases=up/32/256/8 --threads=2
"""
import argparse
import json
import math
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F

TAPS = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--cases", default="blur/32/256/8,up/32/256/8,down/32/256/16")
    p.add_argument("--samples", type=int, default=7)
    p.add_argument("--min_ms", type=float, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--check", default="")
    return p.parse_args()


def filter2d(f):
    """a 2-d filter from taps (their outer product) or as given"""
    return torch.outer(f, f) if f.ndim == 1 else f


def depthwise(f2, c):
    return f2[None, None].repeat(c, 1, 1, 1)


def upfirdn2d_ref(x, f, up=(1, 1), down=(1, 1), pad=(0, 0, 0, 0), flip=False, gain=1.0):
    """The definition: zeros after each pixel, pad (negative: crop), filter, keep every down-th."""
    n, c, h, w = x.shape
    ux, uy = up
    dx, dy = down
    x0, x1, y0, y1 = pad
    x = x.reshape(n, c, h, 1, w, 1)
    x = F.pad(x, [0, ux - 1, 0, 0, 0, uy - 1]).reshape(n, c, h * uy, w * ux)
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0):x.shape[2] - max(-y1, 0), max(-x0, 0):x.shape[3] - max(-x1, 0)]
    f2 = filter2d(f) * gain
    if not flip:  # conv2d correlates: reversing the filter makes it a convolution
        f2 = f2.flip([0, 1])
    return F.conv2d(x, depthwise(f2, c), groups=c)[:, :, ::dy, ::dx]


def make_op(op, c, f=TAPS):
    """the composition timed for op on c channels (flip false: the filter reversed for conv2d)"""
    f2 = filter2d(f)
    if op == "blur":
        w = depthwise(f2.flip([0, 1]), c)
        return lambda x: F.conv2d(F.pad(x, [2, 1, 2, 1]), w, groups=c)
    if op == "up":
        # conv_transpose2d reverses its weight itself; padding 1 leaves 2H
        w = depthwise(f2 * 4, c)
        return lambda x: F.conv_transpose2d(x, w, stride=2, padding=1, groups=c)
    if op == "down":
        w = depthwise(f2.flip([0, 1]), c)
        return lambda x: F.conv2d(x, w, stride=2, padding=1, groups=c)
    sys.exit(f"unknown op {op}")


def read_safetensors(path):
    """tensors (float32) and metadata of a safetensors file"""
    with open(path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(n))
        data = fh.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        assert t["dtype"] == "F32", name
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(t["shape"])
    return out, meta


def check(path):
    ts, meta = read_safetensors(path)
    worst = 0.0
    for key in sorted(meta):
        v = meta[key].split(",")
        ux, uy, dx, dy, x0, x1, y0, y1 = (int(s) for s in v[:8])
        flip, gain = v[8] == "true", float(v[9])
        x = ts[key + "_x"].clone().requires_grad_(True)
        f = ts[key + "_f"]
        y = upfirdn2d_ref(x, f, (ux, uy), (dx, dy), (x0, x1, y0, y1), flip, gain)
        (gx,) = torch.autograd.grad(y, x, ts[key + "_r"])
        dy_ = (y.detach() - ts[key + "_y"]).abs().max().item()
        dg = (gx - ts[key + "_dx"]).abs().max().item()
        line = f"{key}: shape {tuple(y.shape)}, max |ganlua - reference| y {dy_:.2e}, dx {dg:.2e}"
        op = key.split("_", 1)[1]
        if op in ("blur", "up", "down"):
            xs = ts[key + "_x"].clone().requires_grad_(True)
            yc = make_op(op, x.shape[1], f)(xs)
            (gc,) = torch.autograd.grad(yc, xs, ts[key + "_r"])
            dc = max((yc.detach() - ts[key + "_y"]).abs().max().item(), (gc - ts[key + "_dx"]).abs().max().item())
            line += f"; the timed composition {dc:.2e}"
            worst = max(worst, dc)
        print(line)
        worst = max(worst, dy_, dg)
    print(f"worst {worst:.2e}")
    return worst < 1e-5


def median_ms(fn, samples, min_ms):
    fn()
    t0 = time.perf_counter()
    fn()
    once = (time.perf_counter() - t0) * 1000
    reps = max(1, math.ceil(min_ms / max(once, 1e-3)))
    out = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        out.append((time.perf_counter() - t0) * 1000 / reps)
    return statistics.median(out)


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.check:
        sys.exit(0 if check(a.check) else 1)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} mkldnn {torch.backends.mkldnn.is_available()}")
    for spec in a.cases.split(","):
        op, n, c, s = spec.split("/")
        n, c, s = int(n), int(c), int(s)
        fn = make_op(op, c)
        x = torch.randn(n, c, s, s)
        with torch.no_grad():
            r = torch.randn(fn(x).shape)

        def fwd():
            with torch.no_grad():
                return fn(x)

        def both():
            xg = x.requires_grad_(True)
            return torch.autograd.grad(fn(xg), xg, r)

        print(f"ms {spec} fwd {median_ms(fwd, a.samples, a.min_ms):.4f}")
        print(f"ms {spec} fwdbwd {median_ms(both, a.samples, a.min_ms):.4f}", flush=True)
        x.requires_grad_(False)


if __name__ == "__main__":
    main()
