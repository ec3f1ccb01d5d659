#!/usr/bin/python3
"""Training steps of the recipes' architecture families in PyTorch, the peer of
bench/steps.lua: for each case the same networks (layer by layer, the same
parameter counts), initialisation, losses, optimizers and step, written in
plain torch.nn. Same arguments; prints `params NAME COUNT` for each network and
`ms_per_step <median>` as its last line.

    /usr/bin/python3 bench/torch_steps.py --case=cyclegan_b1 --steps=10 --threads=2

As in the reference PyTorch implementations of CycleGAN and pix2pix, the
discriminators' parameters are frozen (requires_grad False) during G's
backward, so neither side computes D's weight gradients in a G step (ganlua
computes only the gradients an optimizer asks for). The U-Net's LeakyReLUs
are not in place: an in-place one would also change the skip connection's
input, which ganlua's (and the U-Net's definition) leaves as it is.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_dcgan_step import generator as dcgan_generator, time_and_report

# the same table as bench/steps.lua
CASES = {
    "cyclegan_b1": dict(family="cyclegan", batch=1, size=64, channels=3, nf=64, ndf=64, blocks=6, d_layers=3),
    "cyclegan_b4": dict(family="cyclegan", batch=4, size=64, channels=3, nf=64, ndf=64, blocks=6, d_layers=3),
    "pix2pix_b4": dict(family="pix2pix", batch=4, size=64, channels=3, nf=64, ndf=64, d_layers=3, dropout=1),
    "wgan_gp": dict(family="wgan_gp", batch=64, size=32, channels=1, nf=32, ndf=32, nz=100),
    "sngan": dict(family="sngan", batch=64, size=32, channels=1, nf=64, ndf=32, nz=100),
}


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--case", choices=sorted(CASES), default="cyclegan_b1")
    p.add_argument("--batch", type=int, default=0, help="0: the case's")
    p.add_argument("--size", type=int, default=0, help="0: the case's")
    p.add_argument("--nf", type=int, default=0, help="0: the case's")
    p.add_argument("--ndf", type=int, default=0, help="0: the case's")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()


def init_normal(m):
    """ganlua's nn.init.dcgan: conv and linear weights N(0, 0.02), biases 0; batch norm weights N(1, 0.02)"""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def requires_grad(nets, flag):
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def adam(params, lr, betas):
    return torch.optim.Adam(params, lr=lr, betas=betas)


def full_like_loss(fn, x, t):
    return fn(x, torch.full_like(x, t))


# CycleGAN: gan.nets.resnet.Generator and gan.nets.patch.Discriminator

class ResnetBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


def resnet_generator(cin, cout, nf, blocks, downs=2):
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(cin, nf, 7), nn.InstanceNorm2d(nf), nn.ReLU(True)]
    ch = nf
    for _ in range(downs):
        layers += [nn.Conv2d(ch, ch * 2, 3, 2, 1), nn.InstanceNorm2d(ch * 2), nn.ReLU(True)]
        ch *= 2
    layers += [ResnetBlock(ch) for _ in range(blocks)]
    for _ in range(downs):
        layers += [nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(ch // 2), nn.ReLU(True)]
        ch //= 2
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, cout, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def patch_discriminator(cin, nf, n_layers, norm):
    batch = norm == "batch"
    layers = [nn.Conv2d(cin, nf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    ch = nf
    for n in range(1, n_layers + 1):
        out = nf * min(2 ** n, 8)
        stride = 2 if n < n_layers else 1
        layers += [nn.Conv2d(ch, out, 4, stride, 1, bias=not batch),
                   nn.BatchNorm2d(out) if batch else nn.InstanceNorm2d(out), nn.LeakyReLU(0.2, True)]
        ch = out
    layers += [nn.Conv2d(ch, 1, 4, 1, 1)]
    return nn.Sequential(*layers)


class ImagePool:
    """gan.pool.ImagePool: until full, stores every fake; then each fake is, at
    even odds, swapped for a random stored one"""

    def __init__(self, size):
        self.size, self.images = size, []

    def query(self, images):
        if self.size == 0:
            return images
        images = images.detach()
        draws = torch.rand(images.size(0), 2)
        out = []
        for i in range(images.size(0)):
            img = images[i]
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif draws[i, 0] < 0.5:
                j = min(self.size - 1, int(draws[i, 1] * self.size))
                out.append(self.images[j])
                self.images[j] = img.clone()
            else:
                out.append(img)
        return torch.stack(out)


def cyclegan(c, images):
    C = c["channels"]
    G_AB, G_BA = (resnet_generator(C, C, c["nf"], c["blocks"]).apply(init_normal) for _ in range(2))
    D_A, D_B = (patch_discriminator(C, c["ndf"], c["d_layers"], "instance").apply(init_normal) for _ in range(2))
    optG = adam(list(G_AB.parameters()) + list(G_BA.parameters()), 2e-4, (0.5, 0.999))
    optD = adam(list(D_A.parameters()) + list(D_B.parameters()), 2e-4, (0.5, 0.999))
    poolA, poolB = ImagePool(50), ImagePool(50)
    a, b = images(), images()
    lam, identity = 10.0, 0.5

    def mse(x, t):
        return full_like_loss(F.mse_loss, x, t)

    def step():
        fake_b, fake_a = G_AB(a), G_BA(b)
        requires_grad([D_A, D_B], False)
        adv = mse(D_B(fake_b), 1.0) + mse(D_A(fake_a), 1.0)
        cycle = F.l1_loss(G_BA(fake_b), a) + F.l1_loss(G_AB(fake_a), b)
        idt = F.l1_loss(G_AB(b), b) + F.l1_loss(G_BA(a), a)
        optG.zero_grad(set_to_none=True)
        (adv + cycle * lam + idt * (lam * identity)).backward()
        optG.step()
        requires_grad([D_A, D_B], True)
        pa, pb = poolA.query(fake_a), poolB.query(fake_b)
        lossD_A = (mse(D_A(a), 1.0) + mse(D_A(pa), 0.0)) * 0.5
        lossD_B = (mse(D_B(b), 1.0) + mse(D_B(pb), 0.0)) * 0.5
        optD.zero_grad(set_to_none=True)
        (lossD_A + lossD_B).backward()
        optD.step()

    return step, [("G_AB", G_AB), ("G_BA", G_BA), ("D_A", D_A), ("D_B", D_B)]


# pix2pix: gan.nets.unet.Generator (batch norm) and the conditional PatchGAN

class UnetBlock(nn.Module):
    def __init__(self, outer_nc, inner_nc, input_nc=None, inner=None, outermost=False, dropout=0.0):
        super().__init__()
        down = nn.Conv2d(input_nc or outer_nc, inner_nc, 4, 2, 1, bias=False)
        if outermost:
            layers = [down, inner, nn.ReLU(True), nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1), nn.Tanh()]
        elif inner is None:
            layers = [nn.LeakyReLU(0.2), down, nn.ReLU(True),
                      nn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=False), nn.BatchNorm2d(outer_nc)]
        else:
            layers = [nn.LeakyReLU(0.2), down, nn.BatchNorm2d(inner_nc), inner, nn.ReLU(True),
                      nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=False), nn.BatchNorm2d(outer_nc)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.outermost = outermost
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        if self.outermost:
            return self.body(x)
        return torch.cat([x, self.body(x)], 1)


def unet_generator(cin, cout, downs, nf, n_drop):
    def outer(t):
        return nf * min(8, 2 ** (t - 1))

    def inner(t):
        return nf * min(8, 2 ** t)

    block = UnetBlock(outer(downs - 1), inner(downs - 1))
    for t in range(downs - 2, 0, -1):
        block = UnetBlock(outer(t), inner(t), inner=block, dropout=0.5 if t >= downs - 1 - n_drop else 0.0)
    return UnetBlock(cout, nf, input_nc=cin, inner=block, outermost=True)


def pix2pix(c, images):
    size, C = c["size"], c["channels"]
    downs = size.bit_length() - 1
    if size < 32 or 1 << downs != size:
        raise SystemExit("--size must be a power of two >= 32 for pix2pix")
    G = unet_generator(C, C, downs, c["nf"], c["dropout"]).apply(init_normal)
    D = patch_discriminator(2 * C, c["ndf"], c["d_layers"], "batch").apply(init_normal)
    optG, optD = adam(G.parameters(), 2e-4, (0.5, 0.999)), adam(D.parameters(), 2e-4, (0.5, 0.999))
    a, b = images(), images()
    lam = 100.0

    def bce(x, t):
        return full_like_loss(F.binary_cross_entropy_with_logits, x, t)

    def step():
        fake = G(a)
        optD.zero_grad(set_to_none=True)
        ((bce(D(torch.cat([a, b], 1)), 1.0) + bce(D(torch.cat([a, fake.detach()], 1)), 0.0)) * 0.5).backward()
        optD.step()
        requires_grad([D], False)
        optG.zero_grad(set_to_none=True)
        (bce(D(torch.cat([a, fake], 1)), 1.0) + F.l1_loss(fake, b) * lam).backward()
        optG.step()
        requires_grad([D], True)

    return step, [("G", G), ("D", D)]


# WGAN-GP and SNGAN: gan.nets.generator (DCGAN's G, the last layer with a bias)

def generator(c):
    return dcgan_generator(c["size"], c["channels"], c["nf"], c["nz"], last_bias=True).apply(init_normal)


def wgan_critic(C, size, nf):
    """gan.nets.discriminator with norm "none": DCGAN's strided convolutions with biases, no normalisation"""
    layers, ch, res = [nn.Conv2d(C, nf, 4, 2, 1), nn.LeakyReLU(0.2, True)], nf, size // 2
    while res > 4:
        layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch, res = ch * 2, res // 2
    layers += [nn.Conv2d(ch, 1, 4, 1, 0), nn.Flatten()]
    return nn.Sequential(*layers)


def wgan_gp(c, images):
    G, D = generator(c), wgan_critic(c["channels"], c["size"], c["nf"]).apply(init_normal)
    optD = adam(D.parameters(), 1e-4, (0.0, 0.9))
    real, n, lam = images(), c["batch"], 10.0

    def step():
        fake = G(torch.randn(n, c["nz"], 1, 1)).detach()
        d_real, d_fake = D(real), D(fake)
        w = d_fake.mean() - d_real.mean()
        alpha = torch.rand(n, 1, 1, 1)
        x = (real * alpha + fake * (1 - alpha)).requires_grad_(True)
        g, = torch.autograd.grad(D(x).sum(), x, create_graph=True)
        norms = (g.flatten(1).square().sum(1) + 1e-12).sqrt()
        gp = (norms - 1).square().mean() * lam
        norms.detach().mean().item()
        optD.zero_grad(set_to_none=True)
        (w + gp).backward()
        optD.step()

    return step, [("G", G), ("D", D)]


def sngan_discriminator(C, size, ndf):
    """recipes/sngan.lua's standard CNN, every layer under spectral norm (PyTorch's default init)"""
    layers, ch, s = [], C, size
    for w in (ndf, ndf * 2, ndf * 4):
        layers += [nn.Conv2d(ch, w, 3, 1, 1), nn.LeakyReLU(0.1), nn.Conv2d(w, w, 4, 2, 1), nn.LeakyReLU(0.1)]
        ch, s = w, s // 2
    layers += [nn.Conv2d(ch, ndf * 8, 3, 1, 1), nn.LeakyReLU(0.1), nn.Flatten(), nn.Linear(ndf * 8 * s * s, 1)]
    sn = nn.utils.spectral_norm
    return nn.Sequential(*(sn(m) if isinstance(m, (nn.Conv2d, nn.Linear)) else m for m in layers))


def sngan(c, images):
    if c["size"] % 8:
        raise SystemExit("--size must be a multiple of 8 for sngan")
    G, D = generator(c), sngan_discriminator(c["channels"], c["size"], c["ndf"])
    optG, optD = adam(G.parameters(), 4e-4, (0.5, 0.999)), adam(D.parameters(), 4e-4, (0.5, 0.999))
    real, n = images(), c["batch"]

    def step():
        d_real, d_fake = D(real), D(G(torch.randn(n, c["nz"], 1, 1)).detach())
        optD.zero_grad(set_to_none=True)
        (F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()).backward()
        optD.step()
        requires_grad([D], False)
        optG.zero_grad(set_to_none=True)
        (-D(G(torch.randn(n, c["nz"], 1, 1))).mean()).backward()
        optG.step()
        requires_grad([D], True)

    return step, [("G", G), ("D", D)]


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    c = dict(CASES[a.case])
    for k in ("batch", "size", "nf", "ndf"):
        if getattr(a, k) < 0:
            raise SystemExit(f"--{k} must be >= 0")
        if getattr(a, k) > 0:
            c[k] = getattr(a, k)

    def images():
        return torch.rand(c["batch"], c["channels"], c["size"], c["size"]) * 2 - 1

    step, nets = {"cyclegan": cyclegan, "pix2pix": pix2pix, "wgan_gp": wgan_gp, "sngan": sngan}[c["family"]](c, images)
    time_and_report(a, step, nets)


if __name__ == "__main__":
    main()
