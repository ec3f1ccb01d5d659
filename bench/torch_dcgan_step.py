#!/usr/bin/python3
"""The reference DCGAN training step in PyTorch, the peer of bench/dcgan_step.lua.

Same network, initialisation, loss and optimizer; same arguments; prints
each network's parameter count, and `ms_per_step <median>` as its last line
(and peak RSS before it): `time_and_report`, which bench/torch_steps.py shares.

    /usr/bin/python3 bench/torch_dcgan_step.py --size=32 --channels=1 --batch=64 --nf=64 --steps=10 --threads=2
"""
import argparse
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--nf", type=int, default=64)
    p.add_argument("--nz", type=int, default=100)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()


def generator(size, channels, nf, nz, last_bias=False):
    # z (nz,1,1) -> 4x4 with nf*size/8 channels, then halve channels while doubling size
    layers, ch = [], nf * size // 8
    layers += [nn.ConvTranspose2d(nz, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
    res = 4
    while res < size // 2:
        layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
        ch //= 2
        res *= 2
    layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=last_bias), nn.Tanh()]
    return nn.Sequential(*layers)


def discriminator(size, channels, nf):
    layers = [nn.Conv2d(channels, nf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
    ch, res = nf, size // 2
    while res > 4:
        layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
        ch *= 2
        res //= 2
    layers += [nn.Conv2d(ch, 1, 4, 1, 0, bias=False)]
    return nn.Sequential(*layers)


def init_dcgan(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def time_and_report(a, step, nets):
    """prints each network's parameter count, runs a.warmup steps, times a.steps
    steps, and prints the settings, the peak RSS and the median step (a.steps = 0:
    the parameter counts only); with a.losses (when there), first one untimed step
    and the losses it returns ({name: scalar tensor}) as `loss NAME VALUE` lines"""
    if a.steps < 0 or a.warmup < 0:
        sys.exit(f"--steps and --warmup must be >= 0, got {a.steps} and {a.warmup}")
    for name, net in nets:
        print(f"params {name} {sum(p.numel() for p in net.parameters())}")
    if a.steps == 0:
        return
    if getattr(a, "losses", False):
        losses = step()
        if not isinstance(losses, dict):
            sys.exit("--losses needs a step that returns its losses")
        for name in sorted(losses):
            print(f"loss {name} {float(losses[name]):.6g}")
    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} mkldnn {torch.backends.mkldnn.is_available()}")
    print(f"peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
    print(f"ms_per_step {statistics.median(times):.2f}")


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    G = generator(a.size, a.channels, a.nf, a.nz)
    D = discriminator(a.size, a.channels, a.nf)
    G.apply(init_dcgan)
    D.apply(init_dcgan)
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(a.batch, a.channels, a.size, a.size) * 2 - 1
    ones = torch.ones(a.batch)
    zeros = torch.zeros(a.batch)

    def step():
        z = torch.randn(a.batch, a.nz, 1, 1)
        fake = G(z)
        optD.zero_grad(set_to_none=True)
        lossD = bce(D(real).view(-1), ones) + bce(D(fake.detach()).view(-1), zeros)
        lossD.backward()
        optD.step()
        optG.zero_grad(set_to_none=True)
        lossG = bce(D(fake).view(-1), ones)
        lossG.backward()
        optG.step()
        return lossD.item(), lossG.item()

    time_and_report(a, step, [("G", G), ("D", D)])

if __name__ == "__main__":
    main()
