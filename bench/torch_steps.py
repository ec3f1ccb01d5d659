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
computes only the gradients an optimizer asks for); for the same reason the
R1 step's backward asks for D's parameters' gradients only (inputs=).

StyleGAN2's FIR resampling is a depthwise conv2d or conv_transpose2d with the
4x4 filter (bench/torch_upfirdn2d.py), and its modulated convolutions run as
one grouped convolution per layer with each sample's own weights (groups =
batch), as NVlabs' TensorFlow StyleGAN2 trains (--modconv=grouped, the
default); --modconv=split runs them as ganlua does in training, and NVlabs'
PyTorch code too: the input scaled by the styles, one convolution with the
shared weight, the output scaled by the demodulation. The U-Net's LeakyReLUs
are not in place: an in-place one would also change the skip connection's
input, which ganlua's (and the U-Net's definition) leaves as it is.
"""
import argparse
import copy
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_dcgan_step import generator as dcgan_generator, time_and_report
from torch_upfirdn2d import read_safetensors

# the same table as bench/steps.lua
CASES = {
    "cyclegan_b1": dict(family="cyclegan", batch=1, size=64, channels=3, nf=64, ndf=64, blocks=6, d_layers=3),
    "cyclegan_b4": dict(family="cyclegan", batch=4, size=64, channels=3, nf=64, ndf=64, blocks=6, d_layers=3),
    "pix2pix_b4": dict(family="pix2pix", batch=4, size=64, channels=3, nf=64, ndf=64, d_layers=3, dropout=1),
    "wgan_gp": dict(family="wgan_gp", batch=64, size=32, channels=1, nf=32, ndf=32, nz=100),
    "sngan": dict(family="sngan", batch=64, size=32, channels=1, nf=64, ndf=32, nz=100),
    "sagan": dict(family="sagan", batch=64, size=32, channels=1, nf=12, ndf=16, nz=100,
                  lr_d=2e-4, lr_g=2e-4, beta1=0.0, beta2=0.9),
    "stylegan2": dict(family="stylegan2", batch=16, size=32, channels=1, nf=128, ndf=0, nz=128, w_dim=128,
                      mapping=2, channel_base=1024, mbstd_group=4, lr=0.0025, gamma=1.0, r1_every=16, pl_every=4,
                      mixing=0.9, ema_kimg=5.0, ema_rampup=0.05),
    "stylegan2_r1": dict(family="stylegan2", r1=True, batch=16, size=32, channels=1, nf=128, ndf=0, nz=128,
                         w_dim=128, mapping=2, channel_base=1024, mbstd_group=4, lr=0.0025, gamma=1.0, r1_every=16,
                         pl_every=4),
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
    p.add_argument("--losses", action="store_true", help="print the losses of one untimed step first")
    p.add_argument("--modconv", choices=("grouped", "split"), default="grouped",
                   help="StyleGAN2's modulated convolutions: one grouped convolution, or scale-conv-scale")
    p.add_argument("--check", default="", help="a file of `ganlua bench/steps.lua --dump=FILE`: compare, then stop")
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


# SAGAN: gan.nets.biggan's residual G and D, every conv and linear layer under spectral norm,
# Xavier-uniform weights and zero biases

def xavier_sn(m):
    nn.init.xavier_uniform_(m.weight)
    if m.bias is not None:
        nn.init.zeros_(m.bias)
    return nn.utils.spectral_norm(m)


def sn_conv(cin, cout, k, bias=True):
    return xavier_sn(nn.Conv2d(cin, cout, k, 1, k // 2, bias=bias))


class SelfAttention(nn.Module):
    """gan.nn.SelfAttention: x + sigma * o(g_pooled softmax(theta^T phi_pooled)), 1x1 convs without bias"""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.theta, self.phi = sn_conv(c, c // 8, 1, False), sn_conv(c, c // 8, 1, False)
        self.g, self.o = sn_conv(c, c // 2, 1, False), sn_conv(c // 2, c, 1, False)
        self.sigma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        n, c, h, w = x.shape
        theta = self.theta(x).reshape(n, c // 8, h * w)
        phi = F.max_pool2d(self.phi(x), 2).reshape(n, c // 8, h * w // 4)
        g = F.max_pool2d(self.g(x), 2).reshape(n, c // 2, h * w // 4)
        beta = torch.softmax(theta.transpose(1, 2) @ phi, -1)
        o = (g @ beta.transpose(1, 2)).reshape(n, c // 2, h, w)
        return x + self.sigma * self.o(o)


class SaganGBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1, self.conv2, self.conv_sc = sn_conv(cin, cout, 3), sn_conv(cout, cout, 3), sn_conv(cin, cout, 1)

    def forward(self, x):
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.conv_sc(F.interpolate(x, scale_factor=2))


class SaganDBlock(nn.Module):
    def __init__(self, cin, cout, down, preact):
        super().__init__()
        self.down, self.preact = down, preact
        self.conv1, self.conv2 = sn_conv(cin, cout, 3), sn_conv(cout, cout, 3)
        self.conv_sc = sn_conv(cin, cout, 1) if cin != cout or down else None

    def forward(self, x):
        h = self.conv2(F.relu(self.conv1(F.relu(x) if self.preact else x)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.preact:
            s = self.conv_sc(s) if self.conv_sc is not None else s
            s = F.avg_pool2d(s, 2) if self.down else s
        else:
            s = F.avg_pool2d(s, 2) if self.down else s
            s = self.conv_sc(s) if self.conv_sc is not None else s
        return h + s


class SaganG(nn.Module):
    def __init__(self, nz, C, size, nf, at):
        super().__init__()
        def ch(r):
            return nf * min(4, size // r)
        self.nf = nf
        self.linear = xavier_sn(nn.Linear(nz, ch(4) * 16))
        blocks, res, self.attention_after = [], 4, None
        while res < size:
            res *= 2
            blocks.append(SaganGBlock(ch(res // 2), ch(res)))
            if res == at:
                self.attention, self.attention_after = SelfAttention(ch(res)), len(blocks) - 1
        self.blocks = nn.ModuleList(blocks)
        self.out = nn.Sequential(nn.BatchNorm2d(nf), nn.ReLU(), sn_conv(nf, C, 3), nn.Tanh())

    def forward(self, z):
        h = self.linear(z).reshape(z.shape[0], self.nf * 4, 4, 4)
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.attention_after:
                h = self.attention(h)
        return self.out(h)


class SaganD(nn.Module):
    def __init__(self, C, size, ndf, at):
        super().__init__()
        downs, res, c, blocks, self.attention_after = size.bit_length() - 4, size, C, [], None
        for i in range(downs + 2):
            down = i < downs
            blocks.append(SaganDBlock(c, ndf, down, i > 0))
            res, c = res // 2 if down else res, ndf
            if res == at and self.attention_after is None:
                self.attention, self.attention_after = SelfAttention(ndf), i
        self.blocks = nn.ModuleList(blocks)
        self.linear = xavier_sn(nn.Linear(ndf, 1))

    def forward(self, x):
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.attention_after:
                h = self.attention(h)
        return self.linear(F.relu(h).sum((2, 3)))


def sagan(c, images):
    if c["size"] not in (16, 32, 64):
        raise SystemExit("--size must be 16, 32 or 64 for sagan")
    if c["nf"] % 4 or c["ndf"] % 8:
        raise SystemExit("--nf must be a positive multiple of 4 and --ndf of 8 for sagan")
    at = min(16, c["size"] // 2)
    G, D = SaganG(c["nz"], c["channels"], c["size"], c["nf"], at), SaganD(c["channels"], c["size"], c["ndf"], at)
    betas = (c["beta1"], c["beta2"])
    optG, optD = adam(G.parameters(), c["lr_g"], betas), adam(D.parameters(), c["lr_d"], betas)
    real, n = images(), c["batch"]

    def step():
        d_real, d_fake = D(real), D(G(torch.randn(n, c["nz"])).detach())
        lossD = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        optD.zero_grad(set_to_none=True)
        lossD.backward()
        optD.step()
        requires_grad([D], False)
        lossG = -D(G(torch.randn(n, c["nz"]))).mean()
        optG.zero_grad(set_to_none=True)
        lossG.backward()
        optG.step()
        requires_grad([D], True)
        return {"D": lossD, "G": lossG}

    return step, [("G", G), ("D", D)]


# StyleGAN2: gan.nets.style's skip G and residual D; every weight stored N(0, 1) and scaled at run time
# (equalized learning rate), the mapping network's by 0.01 more (its lr multiplier)

SQRT2, SQRT_HALF = math.sqrt(2), math.sqrt(0.5)


def fir_filter(c, gain=1.0):
    """the 4x4 filter of the taps [1, 3, 3, 1] (their outer product, summing to 1, times gain), one per channel
    (symmetric: convolution and correlation agree)"""
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f = torch.outer(f, f)
    return (f / f.sum() * gain)[None, None].repeat(c, 1, 1, 1)


def upsample2d(x):
    """gan.nn.resample.upsample2d: zeros inserted, padded (2, 1), filtered, gain 4"""
    c = x.shape[1]
    return F.conv_transpose2d(x, fir_filter(c, 4.0), stride=2, padding=1, groups=c)


def bias_act(y, b, act, gain):
    """gan.nn.bias_act: act(y + b) * gain, the bias along dim 2"""
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * (y.dim() - 2))
    if act == "lrelu":
        y = F.leaky_relu(y, 0.2)
    return y * gain if gain != 1 else y


class EqualizedLinear(nn.Module):
    def __init__(self, fin, fout, act="linear", lr_multiplier=1.0, bias_init=0.0):
        super().__init__()
        self.act, self.act_gain = act, SQRT2 if act == "lrelu" else 1.0
        self.weight = nn.Parameter(torch.randn(fout, fin) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((fout,), bias_init / lr_multiplier))
        self.weight_gain, self.bias_gain = lr_multiplier / math.sqrt(fin), lr_multiplier

    def forward(self, x):
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain if self.bias_gain != 1 else self.bias
        if self.act == "linear":
            return F.linear(x, w, b)
        return bias_act(F.linear(x, w), b, self.act, self.act_gain)


class EqualizedConv2d(nn.Module):
    """NVlabs' Conv2dLayer: with down 2, the FIR filter then a stride-2 convolution (a 1x1 one: the filter
    downsamples)"""

    def __init__(self, cin, cout, k, act="linear", bias=True, down=1):
        super().__init__()
        self.act, self.act_gain, self.down, self.k = act, SQRT2 if act == "lrelu" else 1.0, down, k
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.weight_gain = 1 / math.sqrt(cin * k * k)
        if down > 1:
            self.register_buffer("f", fir_filter(cin), persistent=False)

    def forward(self, x, gain=1.0):
        w = self.weight * self.weight_gain
        if self.down == 1:
            y = F.conv2d(x, w, padding=self.k // 2)
        elif self.k == 1:
            y = F.conv2d(F.conv2d(x, self.f, stride=2, padding=1, groups=x.shape[1]), w)
        else:
            y = F.conv2d(F.conv2d(x, self.f, padding=2, groups=x.shape[1]), w, stride=2)
        return bias_act(y, self.bias, self.act, self.act_gain * gain)


class ModulatedConv2d(nn.Module):
    """gan.nn.ModulatedConv2d: weight N(0, 1) (C_out, C_in, k, k), styles = affine(w) (bias from 1); with
    demodulation each output channel divided by the norm of its scaled weights; up 2: a stride-2 transposed
    convolution then the FIR filter (gain 4, pads 1)"""

    def __init__(self, cin, cout, k, w_dim, demodulate=True, up=1, modconv="grouped"):
        super().__init__()
        self.cin, self.cout, self.k, self.demodulate, self.up, self.modconv = cin, cout, k, demodulate, up, modconv
        self.affine = EqualizedLinear(w_dim, cin, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.weight_gain = 1 / math.sqrt(cin * k * k)

    def conv(self, x, w, groups):
        """x (1 or N, groups * C_in, H, W), w (groups * C_out, C_in, k, k)"""
        if self.up == 1:
            return F.conv2d(x, w, padding=self.k // 2, groups=groups)
        g = groups
        wt = w.reshape(g, self.cout, self.cin, self.k, self.k).transpose(1, 2).reshape(g * self.cin, self.cout,
                                                                                       self.k, self.k)
        y = F.conv_transpose2d(x, wt, stride=2, groups=g)
        return F.conv2d(y, fir_filter(y.shape[1], 4.0), padding=1, groups=y.shape[1])

    def forward(self, x, w):
        n, _, h, wd = x.shape
        s = self.affine(w)
        if not self.demodulate:
            s = s * self.weight_gain
        if self.modconv == "split":
            y = self.conv(x * s.reshape(n, -1, 1, 1), self.weight, 1)
            if self.demodulate:
                d = (s.square() @ self.weight.square().sum((2, 3)).t() + 1e-8).rsqrt()
                y = y * d.reshape(n, -1, 1, 1)
            return y
        wts = self.weight[None] * s.reshape(n, 1, -1, 1, 1)            # (N, C_out, C_in, k, k)
        if self.demodulate:
            wts = wts * (wts.square().sum((2, 3, 4)) + 1e-8).rsqrt().reshape(n, -1, 1, 1, 1)
        y = self.conv(x.reshape(1, n * self.cin, h, wd), wts.reshape(n * self.cout, self.cin, self.k, self.k), n)
        return y.reshape(n, self.cout, y.shape[2], y.shape[3])


class Noise(nn.Module):
    """gan.nn.NoiseInjection: per-pixel N(0, 1) noise shared by the channels, one strength (from 0); mode
    "const" adds the noise_const buffer instead (the --check)"""

    def __init__(self, res):
        super().__init__()
        self.mode = "random"
        self.strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(1, 1, res, res))

    def forward(self, y):
        if self.mode == "const":
            return y + self.noise_const * self.strength
        return y + torch.randn(y.shape[0], 1, y.shape[2], y.shape[3]) * self.strength


class StyledConv2d(nn.Module):
    """the modulated convolution, noise, a bias and lrelu with gain sqrt(2)"""

    def __init__(self, cin, cout, w_dim, res, up=1, modconv="grouped"):
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, 3, w_dim, up=up, modconv=modconv)
        self.noise = Noise(res)
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x, w):
        return bias_act(self.noise(self.conv(x, w)), self.bias, "lrelu", SQRT2)


class ToRGB(nn.Module):
    def __init__(self, cin, cout, w_dim, modconv="grouped"):
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, 1, w_dim, demodulate=False, modconv=modconv)
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x, w, skip):
        y = bias_act(self.conv(x, w), self.bias, "linear", 1.0)
        return y if skip is None else upsample2d(skip) + y


class SynthesisBlock(nn.Module):
    def __init__(self, cin, cout, w_dim, res, C, modconv):
        super().__init__()
        self.res, self.cout = res, cout
        if cin == 0:
            self.const = nn.Parameter(torch.randn(cout, res, res))
            self.conv0, self.num_conv = None, 1
        else:
            self.conv0, self.num_conv = StyledConv2d(cin, cout, w_dim, res, up=2, modconv=modconv), 2
        self.conv1 = StyledConv2d(cout, cout, w_dim, res, modconv=modconv)
        self.torgb = ToRGB(cout, C, w_dim, modconv)

    def forward(self, x, img, ws):
        i = 0
        if self.conv0 is None:
            x = self.const[None].expand(ws.shape[0], self.cout, self.res, self.res)
        else:
            x, i = self.conv0(x, ws[:, 0]), 1
        x = self.conv1(x, ws[:, i])
        return x, self.torgb(x, ws[:, i + 1], img)


def style_channels(res, c):
    return min(c["channel_base"] // res, c["nf"])


class Synthesis(nn.Module):
    def __init__(self, c, modconv):
        super().__init__()
        self.blocks, res, self.num_ws = [], 4, 1
        while res <= c["size"]:
            cin = style_channels(res // 2, c) if res > 4 else 0
            self.blocks.append(SynthesisBlock(cin, style_channels(res, c), c["w_dim"], res, c["channels"], modconv))
            self.add_module(f"b{res}", self.blocks[-1])  # named as ganlua's (and NVlabs') for the --check
            self.num_ws += self.blocks[-1].num_conv
            res *= 2

    def forward(self, ws):
        x = img = None
        first = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, first:first + block.num_conv + 1])
            first += block.num_conv
        return img


class Mapping(nn.Module):
    """PixelNorm of z, lrelu layers at 0.01 the rate, w_avg (beta 0.995) moved in training, num_ws copies"""

    def __init__(self, c, num_ws):
        super().__init__()
        self.num_ws, self.fcs = num_ws, []
        for i in range(c["mapping"]):
            self.fcs.append(EqualizedLinear(c["nz"] if i == 0 else c["w_dim"], c["w_dim"], "lrelu", 0.01))
            self.add_module(f"fc{i + 1}", self.fcs[-1])
        self.register_buffer("w_avg", torch.zeros(c["w_dim"]))

    def forward(self, z, update_w_avg=True):
        x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
        for fc in self.fcs:
            x = fc(x)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.lerp_(x.detach().mean(0), 1 - 0.995)
        return x[:, None].expand(x.shape[0], self.num_ws, x.shape[1])

    def mix(self, ws, z, prob):
        """style mixing: with probability prob the ws from a random cutoff on come from a second z"""
        u, z2 = torch.rand(2), torch.randn(z.shape)
        if u[0] >= prob:
            return ws
        cutoff = 1 + int(u[1] * (self.num_ws - 1))
        return torch.cat([ws[:, :cutoff], self(z2, update_w_avg=False)[:, cutoff:]], 1)


class StyleG(nn.Module):
    def __init__(self, c, modconv):
        super().__init__()
        self.synthesis = Synthesis(c, modconv)
        self.mapping = Mapping(c, self.synthesis.num_ws)

    def forward(self, z):
        return self.synthesis(self.mapping(z))


class StyleDBlock(nn.Module):
    def __init__(self, cin, tmp, cout, C):
        super().__init__()
        self.fromrgb = EqualizedConv2d(C, tmp, 1, "lrelu") if cin == 0 else None
        self.conv0 = EqualizedConv2d(tmp, tmp, 3, "lrelu")
        self.conv1 = EqualizedConv2d(tmp, cout, 3, "lrelu", down=2)
        self.skip = EqualizedConv2d(tmp, cout, 1, bias=False, down=2)

    def forward(self, x, img):
        if self.fromrgb is not None:
            x = self.fromrgb(img)
        return self.skip(x, SQRT_HALF) + self.conv1(self.conv0(x), SQRT_HALF)


class Epilogue(nn.Module):
    """at 4x4: minibatch stddev (groups of 4, 1 map), a 3x3 conv and two dense layers"""

    def __init__(self, ch, group):
        super().__init__()
        self.group = group
        self.conv = EqualizedConv2d(ch + (1 if group > 0 else 0), ch, 3, "lrelu")
        self.fc = EqualizedLinear(ch * 16, ch, "lrelu")
        self.out = EqualizedLinear(ch, 1)

    def mbstd(self, x):
        n, ch, h, w = x.shape
        g = min(self.group, n)
        y = x.reshape(g, -1, 1, ch, h, w)
        y = ((y - y.mean(0)).square().mean(0) + 1e-8).sqrt().mean((2, 3, 4))    # (N / g, 1)
        return torch.cat([x, y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)], 1)

    def forward(self, x):
        if self.group > 0:
            x = self.mbstd(x)
        return self.out(self.fc(self.conv(x).flatten(1)))


class StyleD(nn.Module):
    """residual blocks down to 4x4, then the epilogue"""

    def __init__(self, c):
        super().__init__()
        self.blocks, res = [], c["size"]
        while res > 4:
            cin = style_channels(res, c) if res < c["size"] else 0
            self.blocks.append(StyleDBlock(cin, style_channels(res, c), style_channels(res // 2, c), c["channels"]))
            self.add_module(f"b{res}", self.blocks[-1])
            res //= 2
        self.b4 = Epilogue(style_channels(4, c), c["mbstd_group"])

    def forward(self, img):
        x = None
        for block in self.blocks:
            x = block(x, img)
        return self.b4(x)


def lazy_adam(params, lr, interval):
    """Adam(lr, (0, 0.99)) with rate and betas corrected for a lazy regularizer every interval steps"""
    k = interval / (interval + 1)
    return adam(params, lr * k, (0.0, 0.99 ** k))


def stylegan2(c, images, modconv):
    size, n = c["size"], c["batch"]
    if size < 8 or size & (size - 1):
        raise SystemExit(f"--size must be a power of two >= 8, got {size}")
    if c["mbstd_group"] > 0 and n % min(c["mbstd_group"], n):
        raise SystemExit(f"--batch ({n}) must be a multiple of --mbstd_group ({c['mbstd_group']})")
    D = StyleD(c)
    optD = lazy_adam(D.parameters(), c["lr"], c["r1_every"])
    real = images()
    if c.get("r1"):
        params = list(D.parameters())

        def r1_step():
            x = real.detach().requires_grad_(True)
            g, = torch.autograd.grad(D(x).sum(), x, create_graph=True)
            r1 = g.square().flatten(1).sum(1).mean() * (c["gamma"] / 2) * c["r1_every"]
            optD.zero_grad(set_to_none=True)
            r1.backward(inputs=params)
            optD.step()
            return {"R1": r1}

        return r1_step, [("D", D)]
    G = StyleG(c, modconv)
    optG = lazy_adam(G.parameters(), c["lr"], c["pl_every"])
    ema = copy.deepcopy(G)
    for p in ema.parameters():
        p.requires_grad_(False)
    nimg = [0]

    def ema_update():
        """gan.optim.EMA with kimg: half-life ema_kimg thousand images, at most ema_rampup times those seen"""
        h = min(c["ema_kimg"] * 1000, nimg[0] * c["ema_rampup"])
        beta = 0.5 ** (n / max(h, 1e-8))
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), G.parameters()):
                pe.lerp_(p, 1 - beta)
            for be, b in zip(ema.buffers(), G.buffers()):
                be.copy_(b)
        nimg[0] += n

    def generate():
        z = torch.randn(n, c["nz"])
        return G.synthesis(G.mapping.mix(G.mapping(z), z, c["mixing"]))

    def step():
        requires_grad([D], False)
        lossG = F.softplus(-D(generate())).mean()
        optG.zero_grad(set_to_none=True)
        lossG.backward()
        optG.step()
        requires_grad([D], True)
        with torch.no_grad():
            fake = generate()
        lossD = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
        optD.zero_grad(set_to_none=True)
        lossD.backward()
        optD.step()
        ema_update()
        return {"G": lossG, "D": lossD}

    return step, [("G", G), ("D", D)]


def torch_key(key):
    """ganlua's name of a tensor -> PyTorch's: lists count from 0, spectral norm's wrapped layer is not a level
    of its own, and its vectors are weight_u and weight_v"""
    parts = [str(int(p) - 1) if p.isdigit() else p for p in key.split(".") if p != "module"]
    if parts[-1] in ("u", "v"):
        parts[-1] = "weight_" + parts[-1]
    return ".".join(parts)


def check(a, c, nets, path):
    """loads ganlua's weights (every tensor of each network, by name: none missing, none left over) and
    compares the outputs ganlua wrote with this side's on the same inputs; True when they agree"""
    ts, meta = read_safetensors(path)
    if meta.get("case") != a.case:
        sys.exit(f"--check: {path} holds the case {meta.get('case')}, not {a.case}")
    nets = dict(nets)
    for name, net in nets.items():
        theirs = {torch_key(k[len(name) + 1:]): v for k, v in ts.items() if k.startswith(name + ".")}
        # batch norm's count of batches is PyTorch's own bookkeeping
        ours = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
        if set(theirs) != set(ours):
            sys.exit(f"--check: {name}'s tensors differ: only ganlua's {sorted(set(theirs) - set(ours))}, "
                     f"only PyTorch's {sorted(set(ours) - set(theirs))}")
        for k, v in theirs.items():
            if tuple(v.shape) != tuple(ours[k].shape):
                sys.exit(f"--check: {name}.{k} is {tuple(v.shape)} in ganlua, {tuple(ours[k].shape)} here")
        net.load_state_dict(theirs, strict=False)
    G, D, real = nets.get("G"), nets["D"], ts["real"]
    out = {"D_real": D(real)}
    if c["family"] == "stylegan2":
        x = real.clone().requires_grad_(True)
        g, = torch.autograd.grad(D(x).sum(), x)
        out["R1"] = g.square().flatten(1).sum(1).mean() * (c["gamma"] / 2)
        if G is not None:
            for m in G.modules():
                if isinstance(m, Noise):
                    m.mode = "const"
            out["G_z"] = G(ts["z"])
    else:
        out["G_z"] = G(ts["z"])
    worst = 0.0
    for k, v in sorted(out.items()):
        ref = ts[k]
        diff = (v.detach() - ref).abs().max().item()
        scale = ref.abs().max().item()
        print(f"check {k} {tuple(ref.shape)}: max |ganlua| {scale:.6g}, max |PyTorch| {v.abs().max().item():.6g}, "
              f"max |ganlua - PyTorch| {diff:.3g}")
        worst = max(worst, diff / max(scale, 1e-3))
    print(f"check worst {worst:.3g} (relative to max |ganlua|, at least 1e-3)")
    return worst < 1e-4


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
    if c["family"] == "stylegan2" and a.ndf != 0:
        raise SystemExit("--ndf: stylegan2's networks share one cap of feature maps, --nf")

    def images():
        return torch.rand(c["batch"], c["channels"], c["size"], c["size"]) * 2 - 1

    families = {"cyclegan": cyclegan, "pix2pix": pix2pix, "wgan_gp": wgan_gp, "sngan": sngan, "sagan": sagan,
                "stylegan2": lambda c, images: stylegan2(c, images, a.modconv)}
    step, nets = families[c["family"]](c, images)
    if a.check:
        if c["family"] not in ("sagan", "stylegan2"):
            sys.exit(f"--check: only the sagan and stylegan2 cases, not {a.case}")
        sys.exit(0 if check(a, c, nets, a.check) else 1)
    time_and_report(a, step, nets)


if __name__ == "__main__":
    main()
