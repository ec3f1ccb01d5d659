#!/usr/bin/python3
"""CycleGAN's convolutions one by one in PyTorch: the peer of bench/conv_layers.lua,
with the same arguments and the same `layer NAME FWD_MS DX_MS DW_MS GFLOP` lines."""
import sys
import time

import torch
import torch.nn.functional as F

LAYERS = [("g_stem", 3, 64, 70, 7, 1, 0, False), ("g_down1", 64, 128, 64, 3, 2, 1, False),
          ("g_down2", 128, 256, 32, 3, 2, 1, False), ("g_res", 256, 256, 18, 3, 1, 0, False),
          ("g_up1", 256, 128, 16, 3, 2, 1, True), ("g_up2", 128, 64, 32, 3, 2, 1, True),
          ("g_out", 64, 3, 70, 7, 1, 0, False), ("d_1", 3, 64, 64, 4, 2, 1, False),
          ("d_2", 64, 128, 32, 4, 2, 1, False), ("d_3", 128, 256, 16, 4, 2, 1, False),
          ("d_4", 256, 512, 8, 4, 1, 1, False), ("d_5", 512, 1, 7, 4, 1, 1, False)]


def main():
    args = {"batch": "1", "reps": "21", "threads": "2", "layer": "all"}
    for a in sys.argv[1:]:
        key, _, value = a[2:].partition("=")
        if not a.startswith("--") or key not in args:
            sys.exit(f"unknown argument {a} (--batch, --reps, --threads, --layer)")
        args[key] = value
    n, reps = int(args["batch"]), int(args["reps"])
    torch.set_num_threads(int(args["threads"]))
    torch.manual_seed(1)

    def fastest(f):
        f()
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            f()
            best = min(best, (time.perf_counter() - t0) * 1000)
        return best

    for name, cin, cout, s, k, stride, pad, t in LAYERS:
        if args["layer"] not in ("all", name):
            continue
        x = torch.randn(n, cin, s, s, requires_grad=True)
        w = (torch.randn(*((cin, cout, k, k) if t else (cout, cin, k, k))) * 0.05).requires_grad_()
        if t:
            op = lambda: F.conv_transpose2d(x, w, None, stride, pad, 1)
        else:
            op = lambda: F.conv2d(x, w, None, stride, pad)
        with torch.no_grad():
            r = torch.randn(op().shape)

        def fwd():
            with torch.no_grad():
                op()

        f = fastest(fwd)
        dx = fastest(lambda: torch.autograd.grad((op() * r).sum(), [x]))
        dw = fastest(lambda: torch.autograd.grad((op() * r).sum(), [w]))
        out = r.shape
        macs = n * cin * s * s * cout * k * k if t else n * out[1] * out[2] * out[3] * cin * k * k
        print(f"layer {name} {f:.3f} {dx - f:.3f} {dw - f:.3f} {2 * macs / 1e9:.4f}")


if __name__ == "__main__":
    main()
