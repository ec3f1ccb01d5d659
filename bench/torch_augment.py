#!/usr/bin/python3
"""The ADA augmentation (bgc, every transformation with probability p) in
PyTorch: per-image matrices built with batched tensor ops from uniform and
normal draws, the geometric group applied once through reflect pad, 2x FIR
upsampling with sym6, affine_grid + grid_sample and 2x FIR downsampling,
the colour group as one 4x4 matrix. The peer of bench/augment.lua.

    torch_augment.py --cases=32/1/32,32/3/64 --threads=1     # prints `ms <case> <pass> <ms>`
    torch_augment.py --check=FILE     # recomputes bench/augment.lua --dump's outputs from its draws
"""
import argparse
import json
import math
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

SYM6 = [0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148]
RANGES = dict(xint_max=0.125, scale_std=0.2, aniso_std=0.2, xfrac_std=0.125, brightness_std=0.2,
              contrast_std=0.5, saturation_std=1.0)


def mat(rows):
    """a (B, n, n) matrix from a nested list of (B) tensors or numbers"""
    ref = next(v for row in rows for v in row if torch.is_tensor(v))
    return torch.stack([torch.stack([v if torch.is_tensor(v) else torch.full_like(ref, v) for v in row], -1)
                        for row in rows], -2)


def pick(cond, a, b):
    return torch.where(cond, a, b if torch.is_tensor(b) else torch.full_like(a, b))


def fir(x, f, up, down, pads, flip, gain):
    """upfirdn2d by zero insertion, pad/crop and a depthwise separable convolution"""
    B, C, H, W = x.shape
    if up > 1:
        z = x.new_zeros(B, C, H * up, W * up)
        z[:, :, ::up, ::up] = x
        x = z
    x0, x1, y0, y1 = pads
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0):x.shape[2] - max(-y1, 0), max(-x0, 0):x.shape[3] - max(-x1, 0)]
    k = f * math.sqrt(gain)
    if not flip:
        k = k.flip(0)
    w = k.reshape(1, 1, 1, -1).repeat(C, 1, 1, 1)
    x = F.conv2d(x, w, groups=C)
    x = F.conv2d(x, w.reshape(C, 1, -1, 1), groups=C)
    return x[:, :, ::down, ::down]


def augment(x, u, n, p):
    """x (B, C, H, W); u (B, 29) uniforms and n (B, 12) normals in bench/augment.lua's columns"""
    B, C, H, W = x.shape
    dt = x.dtype
    one, zero = torch.ones(B, dtype=dt), torch.zeros(B, dtype=dt)
    I3 = torch.eye(3, dtype=dt).expand(B, 3, 3)

    def T(tx, ty): return mat([[one, zero, tx], [zero, one, ty], [zero, zero, one]])
    def S(sx, sy): return mat([[sx, zero, zero], [zero, sy, zero], [zero, zero, one]])
    def R(c, s): return mat([[c, -s, zero], [s, c, zero], [zero, zero, one]])

    G = I3
    i = torch.floor(u[:, 0] * 2)
    G = G @ S(pick(u[:, 1] < p, 1 - 2 * i, 1.0), one)
    q = torch.floor(u[:, 2] * 4) * (u[:, 3] < p)
    G = G @ R(torch.round(torch.cos(q * math.pi / 2)), torch.round(torch.sin(q * math.pi / 2)))
    t = (u[:, 4:6] * 2 - 1) * RANGES["xint_max"] * (u[:, 6:7] < p)
    G = G @ T(-torch.floor(t[:, 0] * W + 0.5), -torch.floor(t[:, 1] * H + 0.5))
    s = pick(u[:, 7] < p, torch.exp2(n[:, 0] * RANGES["scale_std"]), 1.0)
    G = G @ S(1 / s, 1 / s)
    p_rot = 1 - math.sqrt(max(0.0, min(1.0, 1 - p)))
    th = (u[:, 8] * 2 - 1) * math.pi * (u[:, 9] < p_rot)
    G = G @ R(torch.cos(th), torch.sin(th))
    s = pick(u[:, 10] < p, torch.exp2(n[:, 1] * RANGES["aniso_std"]), 1.0)
    G = G @ S(1 / s, s)
    th = (u[:, 11] * 2 - 1) * math.pi * (u[:, 12] < p_rot)
    G = G @ R(torch.cos(th), torch.sin(th))
    t = n[:, 2:4] * RANGES["xfrac_std"] * (u[:, 13:14] < p)
    G = G @ T(-t[:, 0] * W, -t[:, 1] * H)

    f = torch.tensor(SYM6, dtype=dt)
    shift = -((torch.arange(12, dtype=dt) * f).sum() / f.sum() - 5.5) / 4
    f = f / f.sum()
    cx, cy = (W - 1) / 2, (H - 1) / 2
    cp = torch.tensor([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], dtype=dt)
    cp = G @ cp.t()
    m = cp[:, :2, :].permute(1, 0, 2).flatten(1)
    m = torch.cat([-m, m]).max(dim=1).values + torch.tensor([6 - cx, 6 - cy] * 2, dtype=dt)
    m = m.clamp(min=0).min(torch.tensor([W - 1, H - 1] * 2, dtype=dt))
    mx0, my0, mx1, my1 = [int(v) for v in m.ceil()]
    x = F.pad(x, [mx0, mx1, my0, my1], mode="reflect")
    Hu, Wu = (H + my0 + my1) * 2, (W + mx0 + mx1) * 2
    x = fir(x, f, 2, 1, (6, 5, 6, 5), False, 4)
    G = T((mx0 - mx1) / 2 * one, (my0 - my1) / 2 * one) @ G
    G = T((-0.5 + shift) * one, (-0.5 + shift) * one) @ S(2 * one, 2 * one) @ G @ S(0.5 * one, 0.5 * one) \
        @ T((0.5 - shift) * one, (0.5 - shift) * one)
    Ho, Wo = (H + 6) * 2, (W + 6) * 2
    G = S(2 / Wu * one, 2 / Hu * one) @ G @ S(Wo / 2 * one, Ho / 2 * one)
    grid = F.affine_grid(G[:, :2, :], [B, C, Ho, Wo], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    x = fir(x, f, 1, 2, (-1, -1, -1, -1), True, 1)

    I4 = torch.eye(4, dtype=dt).expand(B, 4, 4)
    b = n[:, 4] * RANGES["brightness_std"] * (u[:, 14] < p)
    Cm = mat([[one, zero, zero, b], [zero, one, zero, b], [zero, zero, one, b], [zero, zero, zero, one]])
    c = pick(u[:, 15] < p, torch.exp2(n[:, 5] * RANGES["contrast_std"]), 1.0)
    Cm = mat([[c, zero, zero, zero], [zero, c, zero, zero], [zero, zero, c, zero], [zero, zero, zero, one]]) @ Cm
    v = torch.tensor([1, 1, 1, 0], dtype=dt) / math.sqrt(3)
    vv = torch.outer(v, v)
    i = (torch.floor(u[:, 16] * 2) * (u[:, 17] < p)).reshape(B, 1, 1)
    Cm = (I4 - 2 * vv * i) @ Cm
    if C == 3:
        th = (u[:, 18] * 2 - 1) * math.pi * (u[:, 19] < p)
        sn, cs = torch.sin(th), torch.cos(th)
        k = 1 / math.sqrt(3)
        cc = 1 - cs
        a, bq, cq = k * k * cc + cs, k * k * cc - k * sn, k * k * cc + k * sn
        Cm = mat([[a, bq, cq, zero], [cq, a, bq, zero], [bq, cq, a, zero], [zero, zero, zero, one]]) @ Cm
        s = pick(u[:, 20] < p, torch.exp2(n[:, 6] * RANGES["saturation_std"]), 1.0).reshape(B, 1, 1)
        Cm = (vv + (I4 - vv) * s) @ Cm
        x = (Cm[:, :3, :3] @ x.reshape(B, 3, H * W) + Cm[:, :3, 3:]).reshape(B, C, H, W)
    else:
        Cg = Cm[:, :3, :].mean(dim=1, keepdim=True)
        x = (x.reshape(B, 1, H * W) * Cg[:, :, :3].sum(dim=2, keepdim=True) + Cg[:, :, 3:]).reshape(B, C, H, W)
    return x


def load(path):
    with open(path, "rb") as fh:
        blob = fh.read()
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + size])
    data = blob[8 + size:]
    out = {}
    for k, v in header.items():
        if k != "__metadata__":
            s, e = v["data_offsets"]
            out[k] = torch.from_numpy(np.frombuffer(data[s:e], dtype=np.float32).reshape(v["shape"]).copy())
    return out, header.get("__metadata__", {})


def check(path):
    t, meta = load(path)
    p = float(meta["p"])
    worst = 0.0
    for i, case in enumerate(meta["cases"].split(","), 1):
        y = augment(t[f"x{i}"].double(), t[f"u{i}"].double(), t[f"n{i}"].double(), p)
        d = (y - t[f"y{i}"].double()).abs().max().item()
        worst = max(worst, d)
        print(f"{case}: max |torch (float64) - ganlua| = {d:.2e}")
    print(f"largest difference {worst:.2e}")
    sys.exit(0 if worst < 1e-3 else 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="32/1/32,32/3/64")
    ap.add_argument("--p", type=float, default=1.0)
    ap.add_argument("--samples", type=int, default=7)
    ap.add_argument("--min_ms", type=float, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--check", default="")
    a = ap.parse_args()
    if a.check:
        check(a.check)
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    print(f"torch {torch.__version__}: threads {torch.get_num_threads()}, p {a.p}")

    def timeit(fn):
        fn()
        out = []
        for _ in range(a.samples):
            k, t0 = 0, time.perf_counter()
            while True:
                fn()
                k += 1
                if (time.perf_counter() - t0) * 1000 >= a.min_ms:
                    break
            out.append((time.perf_counter() - t0) * 1000 / k)
        return statistics.median(out)

    for case in a.cases.split(","):
        B, C, S = (int(v) for v in case.split("/"))
        x = torch.randn(B, C, S, S)
        gy = torch.randn(B, C, S, S)

        def fwd():
            with torch.no_grad():
                augment(x, torch.rand(B, 29), torch.randn(B, 12), a.p)

        def fwdbwd():
            xg = x.detach().requires_grad_(True)
            y = augment(xg, torch.rand(B, 29), torch.randn(B, 12), a.p)
            torch.autograd.grad((y * gy).sum(), xg)
        print(f"ms {case} fwd {timeit(fwd):.4f}")
        print(f"ms {case} fwdbwd {timeit(fwdbwd):.4f}")


if __name__ == "__main__":
    main()
