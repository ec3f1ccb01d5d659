/* conv2d, conv_transpose2d, conv2d_weight_grad: forwards against direct
 * double-precision loops over many geometries and every blocking path,
 * gradients to second order, and the messages for bad arguments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv_engine.h"
#include "testutil.h"

typedef struct cfg {
  int64_t N, C, H, W, O, kh, kw; /* conv_transpose2d: C in, O out channels */
  int s[2], p[2], d[2], op[2], G;
  bool bias, noncontig;
} cfg;

static gr_conv_args args_of(const cfg *c) {
  gr_conv_args a = gr_conv_defaults();
  for (int k = 0; k < 2; k++) {
    a.stride[k] = c->s[k] ? c->s[k] : 1;
    a.pad[k] = c->p[k];
    a.dilation[k] = c->d[k] ? c->d[k] : 1;
    a.output_padding[k] = c->op[k];
  }
  a.groups = c->G ? c->G : 1;
  return a;
}

static double *values(const gr_tensor *t) {
  int64_t n = gr_numel(t);
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  gr_read_all(t, v);
  return v;
}

static int64_t out_len(int64_t in, int64_t k, int s, int p, int d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

/* y[n,o,oh,ow] = b[o] + sum over the group's c and (i,j) of
 * x[n, c, oh*s-p+i*d, ow*s-p+j*d] * w[o, c - group start, i, j] */
static double *ref_conv2d(const gr_tensor *xt, const gr_tensor *wt, const gr_tensor *bt,
                          gr_conv_args a) {
  int64_t N = xt->shape[0], C = xt->shape[1], H = xt->shape[2], W = xt->shape[3];
  int64_t O = wt->shape[0], Cg = wt->shape[1], kh = wt->shape[2], kw = wt->shape[3];
  int64_t Ho = out_len(H, kh, a.stride[0], a.pad[0], a.dilation[0]);
  int64_t Wo = out_len(W, kw, a.stride[1], a.pad[1], a.dilation[1]);
  int64_t Og = O / a.groups;
  double *x = values(xt), *w = values(wt), *b = bt ? values(bt) : NULL;
  double *y = malloc((size_t)(N * O * Ho * Wo) * sizeof *y);
  for (int64_t n = 0; n < N; n++)
    for (int64_t o = 0; o < O; o++)
      for (int64_t oh = 0; oh < Ho; oh++)
        for (int64_t ow = 0; ow < Wo; ow++) {
          double s = b ? b[o] : 0;
          int64_t g = o / Og;
          for (int64_t c = 0; c < Cg; c++)
            for (int64_t i = 0; i < kh; i++)
              for (int64_t j = 0; j < kw; j++) {
                int64_t ih = oh * a.stride[0] - a.pad[0] + i * a.dilation[0];
                int64_t iw = ow * a.stride[1] - a.pad[1] + j * a.dilation[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += x[((n * C + g * Cg + c) * H + ih) * W + iw] * w[((o * Cg + c) * kh + i) * kw + j];
              }
          y[((n * O + o) * Ho + oh) * Wo + ow] = s;
        }
  free(x);
  free(w);
  free(b);
  return y;
}

/* Scatter form: each x[n,ci,ih,iw] adds x*w[ci,co,i,j] at (ih*s-p+i*d, iw*s-p+j*d). */
static double *ref_convt(const gr_tensor *xt, const gr_tensor *wt, const gr_tensor *bt,
                         gr_conv_args a, int64_t *Hout, int64_t *Wout) {
  int64_t N = xt->shape[0], Ci = xt->shape[1], H = xt->shape[2], W = xt->shape[3];
  int64_t Cog = wt->shape[1], kh = wt->shape[2], kw = wt->shape[3], Co = Cog * a.groups;
  int64_t Cig = Ci / a.groups;
  int64_t Ho = (H - 1) * a.stride[0] - 2 * a.pad[0] + a.dilation[0] * (kh - 1) +
               a.output_padding[0] + 1;
  int64_t Wo = (W - 1) * a.stride[1] - 2 * a.pad[1] + a.dilation[1] * (kw - 1) +
               a.output_padding[1] + 1;
  double *x = values(xt), *w = values(wt), *b = bt ? values(bt) : NULL;
  double *y = calloc((size_t)(N * Co * Ho * Wo), sizeof *y);
  for (int64_t n = 0; n < N; n++)
    for (int64_t co = 0; co < Co; co++)
      for (int64_t e = 0; e < Ho * Wo; e++) y[(n * Co + co) * Ho * Wo + e] = b ? b[co] : 0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t ci = 0; ci < Ci; ci++)
      for (int64_t ih = 0; ih < H; ih++)
        for (int64_t iw = 0; iw < W; iw++) {
          double v = x[((n * Ci + ci) * H + ih) * W + iw];
          int64_t g = ci / Cig;
          for (int64_t c = 0; c < Cog; c++)
            for (int64_t i = 0; i < kh; i++)
              for (int64_t j = 0; j < kw; j++) {
                int64_t oh = ih * a.stride[0] - a.pad[0] + i * a.dilation[0];
                int64_t ow = iw * a.stride[1] - a.pad[1] + j * a.dilation[1];
                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                y[((n * Co + g * Cog + c) * Ho + oh) * Wo + ow] +=
                    v * w[((ci * Cog + c) * kh + i) * kw + j];
              }
        }
  free(x);
  free(w);
  free(b);
  *Hout = Ho;
  *Wout = Wo;
  return y;
}

/* dw[o,c,i,j] = sum over n, oh, ow of g[n,o,oh,ow] * x[n, group start + c, oh*s-p+i*d, ...] */
static double *ref_weight_grad(const gr_tensor *xt, const gr_tensor *gt, int64_t kh, int64_t kw,
                               gr_conv_args a) {
  int64_t N = xt->shape[0], C = xt->shape[1], H = xt->shape[2], W = xt->shape[3];
  int64_t O = gt->shape[1], Ho = gt->shape[2], Wo = gt->shape[3];
  int64_t Cg = C / a.groups, Og = O / a.groups;
  double *x = values(xt), *g = values(gt);
  double *dw = calloc((size_t)(O * Cg * kh * kw), sizeof *dw);
  for (int64_t o = 0; o < O; o++)
    for (int64_t c = 0; c < Cg; c++)
      for (int64_t i = 0; i < kh; i++)
        for (int64_t j = 0; j < kw; j++) {
          double s = 0;
          for (int64_t n = 0; n < N; n++)
            for (int64_t oh = 0; oh < Ho; oh++)
              for (int64_t ow = 0; ow < Wo; ow++) {
                int64_t ih = oh * a.stride[0] - a.pad[0] + i * a.dilation[0];
                int64_t iw = ow * a.stride[1] - a.pad[1] + j * a.dilation[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += g[((n * O + o) * Ho + oh) * Wo + ow] *
                     x[((n * C + o / Og * Cg + c) * H + ih) * W + iw];
              }
          dw[((o * Cg + c) * kh + i) * kw + j] = s;
        }
  free(x);
  free(g);
  return dw;
}

static void assert_shape4(const gr_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d) {
  assert_int_equal(t->ndim, 4);
  assert_int_equal(t->shape[0], a);
  assert_int_equal(t->shape[1], b);
  assert_int_equal(t->shape[2], c);
  assert_int_equal(t->shape[3], d);
}

static gr_tensor *maybe_noncontig(gr_tensor *t, bool on) {
  if (!on) return t;
  gr_tensor *v = tu_noncontig(t);
  gr_release(t);
  int big = 0;
  for (int d = 0; d < v->ndim; d++) big += v->shape[d] > 1;
  if (big > 1) assert_false(gr_is_contiguous(v));
  return v;
}

/* The scratch budgets that drive every blocking path: the default (whole
 * batch), two samples per block, and one output row per block; with more
 * than two groups, blocks of two groups of one sample on the tile paths
 * (a group's phase planes and gy tiles, as the engine sizes them). */
static int budgets(const cfg *c, int64_t Ho, int64_t Wo, int64_t *out) {
  out[0] = 0;
  out[1] = (c->C * c->kh * c->kw + c->O) * Ho * Wo * 2;
  out[2] = 1;
  int64_t G = c->G ? c->G : 1, s0 = c->s[0] ? c->s[0] : 1, s1 = c->s[1] ? c->s[1] : 1;
  int64_t d0 = c->d[0] ? c->d[0] : 1, d1 = c->d[1] ? c->d[1] : 1;
  if (G <= 2) return 3;
  int64_t lh = Ho + (c->kh - 1) * d0 / s0, lw = Wo + (c->kw - 1) * d1 / s1;
  out[3] = 2 * (c->C / G * s0 * s1 * lh * lw + (c->O / G + 7) / 8 * 8 * Ho * Wo);
  return 4;
}

#define COUNT(a) (sizeof(a) / sizeof *(a))

static const cfg kConvCases[] = {
    {2, 3, 7, 6, 4, 3, 3, .bias = true},
    {2, 4, 9, 8, 6, 3, 2, .s = {2, 1}, .p = {1, 0}, .G = 2},
    {1, 2, 10, 9, 3, 3, 3, .s = {1, 2}, .p = {2, 1}, .d = {2, 2}, .bias = true},
    {3, 4, 8, 8, 4, 4, 4, .s = {2, 2}, .p = {1, 1}, .bias = true, .noncontig = true},
    {5, 6, 5, 7, 6, 1, 1, .G = 3, .bias = true},
    {2, 4, 11, 5, 4, 5, 2, .s = {3, 2}, .p = {2, 1}, .d = {1, 2}, .G = 2, .noncontig = true},
    {3, 3, 1, 1, 5, 1, 1, .bias = true},
    {2, 2, 3, 3, 2, 3, 3, .p = {1, 1}, .s = {2, 2}},
    /* positions per sample a multiple of 16: the AVX-512 tile, where it
     * runs, for conv2d and its weight gradient. 320 taps (two chunks of
     * steps) and 13 channels (a part tile); dilation, strided views; rows
     * shorter than a vector of positions; a vector across two rows (width
     * 24); 17 channels, three tiles; 24 channels over 45 taps (weights packed
     * two tiles and 16 taps at a time, then the tails) */
    {2, 20, 16, 16, 13, 4, 4, .s = {2, 2}, .p = {1, 1}, .bias = true},
    {2, 5, 4, 4, 24, 3, 3, .p = {1, 1}, .bias = true},
    {2, 5, 8, 8, 6, 3, 3, .p = {2, 2}, .d = {2, 2}, .noncontig = true},
    {3, 3, 12, 8, 9, 3, 3, .p = {1, 1}, .bias = true},
    {1, 2, 4, 24, 5, 3, 3, .p = {1, 1}},
    {2, 3, 9, 9, 17, 2, 2, .s = {1, 1}, .p = {0, 0}, .d = {1, 1}, .bias = true},
    /* more than 16 positions per sample, not whole vectors: vectors that
     * end one sample and start the next, and a block's last vector part
     * zeros. PatchGAN's 7x7 over 3 samples (147 positions); its 6x6 over
     * 320 taps (two chunks of steps); 15x15 alone (the last vector holds
     * one position); stride 2 to 6x5; rows wider than a vector (21) */
    {3, 12, 8, 8, 10, 4, 4, .p = {1, 1}},
    {2, 20, 7, 7, 9, 4, 4, .p = {1, 1}, .bias = true, .noncontig = true},
    {1, 4, 17, 17, 8, 3, 3, .bias = true},
    {2, 6, 13, 11, 7, 3, 3, .s = {2, 2}},
    {2, 3, 5, 21, 5, 3, 3, .p = {1, 1}, .bias = true},
    /* whole tiles of channels: a panel within one sample is summed in y
     * itself, one across two samples aside. 324 taps (the second chunk adds
     * on in y), 64 positions (panels of 48, 16 + 32 across, 32); 7x7 at
     * stride 2 (a panel of 48 in y, then one of 1 aside) */
    {2, 36, 8, 8, 16, 3, 3, .p = {1, 1}, .bias = true},
    {1, 5, 14, 14, 8, 3, 3, .s = {2, 2}, .p = {1, 1}, .bias = true},
    /* fewer filtered channels than a tile's rows at stride 1: conv2d as its
     * mirror's adjoint, the weight gradient as its mirror's. An image
     * generator's 7x7 last layer to 3 maps with its padding; PatchGAN's last
     * layer (one map, 7x7 to 6x6) over 3 samples; an oblong kernel, oblong
     * padding, a strided view; a 1x1 kernel */
    {2, 12, 9, 9, 3, 7, 7, .p = {3, 3}, .bias = true},
    {3, 16, 7, 7, 1, 4, 4, .p = {1, 1}, .bias = true},
    {1, 10, 6, 11, 2, 3, 5, .p = {1, 4}, .noncontig = true},
    {2, 9, 5, 5, 1, 1, 1, .s = {1, 1}},
    /* kernels covering the whole image: the 1x1-output products */
    {3, 4, 4, 3, 6, 4, 3, .G = 2, .bias = true},
    {3, 4, 4, 3, 6, 4, 3, .G = 2, .bias = true, .noncontig = true},
    {5, 3, 2, 2, 1, 2, 2, .s = {2, 2}},
    /* more positions per sample than weight columns: sgemm sample by sample
     * on several samples per block (a DCGAN's first layer) */
    {3, 1, 12, 10, 5, 4, 4, .s = {2, 2}, .p = {1, 1}, .bias = true},
    {3, 2, 11, 9, 4, 3, 3, .s = {2, 2}, .p = {1, 1}, .G = 2, .noncontig = true},
};

/* conv2d on each of n cases against ref_conv2d, at every budget */
static void check_conv2d(const cfg *cases, size_t n) {
  for (size_t k = 0; k < n; k++) {
    const cfg *c = &cases[k];
    gr_conv_args a = args_of(c);
    gr_tensor *x = maybe_noncontig(tu_rand(4, (int64_t[]){c->N, c->C, c->H, c->W}, -1, 1), c->noncontig);
    gr_tensor *w = maybe_noncontig(tu_rand(4, (int64_t[]){c->O, c->C / a.groups, c->kh, c->kw}, -1, 1),
                                   c->noncontig);
    gr_tensor *b = c->bias ? maybe_noncontig(tu_rand(1, &c->O, -1, 1), c->noncontig) : NULL;
    double *ref = ref_conv2d(x, w, b, a);
    int64_t Ho = out_len(c->H, c->kh, a.stride[0], a.pad[0], a.dilation[0]);
    int64_t Wo = out_len(c->W, c->kw, a.stride[1], a.pad[1], a.dilation[1]);
    int64_t bud[4];
    for (int i = 0, nb = budgets(c, Ho, Wo, bud); i < nb; i++) {
      gr_conv_set_budget(bud[i]);
      gr_tensor *y = TU_OK(gr_conv2d(x, w, b, a));
      assert_shape4(y, c->N, c->O, Ho, Wo);
      TU_CLOSE_D(y, ref, 1e-5, 1e-5);
      gr_release(y);
    }
    gr_conv_set_budget(0);
    free(ref);
    gr_release(x);
    gr_release(w);
    gr_release(b);
  }
}

static void test_conv2d_forward(void **state) { check_conv2d(kConvCases, COUNT(kConvCases)); }

static const cfg kConvtCases[] = {
    {2, 3, 4, 5, 4, 3, 3, .bias = true},
    {3, 6, 4, 4, 4, 4, 4, .s = {2, 2}, .p = {1, 1}, .bias = true},
    {2, 4, 5, 3, 6, 3, 2, .s = {2, 3}, .p = {1, 0}, .op = {1, 2}, .G = 2, .noncontig = true},
    {1, 2, 3, 4, 2, 3, 3, .s = {2, 1}, .p = {2, 1}, .d = {2, 2}, .op = {1, 0}, .bias = true},
    {4, 5, 1, 1, 7, 4, 4, .bias = true},
    {2, 6, 3, 3, 3, 1, 1, .G = 3, .noncontig = true, .bias = true},
    /* 1x1 inputs: the first layer of a DCGAN generator */
    {3, 4, 1, 1, 6, 3, 2, .G = 2, .bias = true},
    {3, 4, 1, 1, 6, 3, 2, .G = 2, .noncontig = true},
    /* col2im's phase planes: an odd output width at stride 2, padding beyond
     * the stride, a kernel narrower than the stride (image columns no tap
     * reaches keep the bias) */
    {2, 3, 5, 7, 2, 4, 4, .s = {2, 2}, .p = {1, 1}, .op = {1, 1}, .bias = true, .noncontig = true},
    {2, 2, 4, 3, 3, 3, 5, .s = {3, 2}, .p = {4, 3}, .d = {1, 2}, .op = {2, 1}},
    {2, 3, 3, 4, 2, 2, 2, .s = {4, 4}, .op = {2, 3}, .bias = true},
    /* sample by sample in place (a DCGAN's last layer), and through the scratch */
    {3, 5, 6, 5, 1, 4, 4, .s = {2, 2}, .p = {1, 1}, .bias = true},
    {3, 4, 5, 6, 2, 3, 3, .s = {2, 2}, .p = {1, 1}, .G = 2, .noncontig = true},
    /* inputs of 16k positions: the AVX-512 tile, where it runs. 300 input
     * channels (two chunks of steps); 80; stride 1 with padding (54 column
     * rows, a part tile); a tall narrow image; stride 3; stride phases with
     * 3 and 2 taps; a phase no tap reaches */
    {1, 300, 4, 4, 5, 4, 4, .s = {2, 2}, .p = {1, 1}, .bias = true},
    {2, 80, 4, 4, 13, 4, 4, .s = {2, 2}, .p = {1, 1}, .bias = true},
    {2, 5, 8, 8, 6, 3, 3, .p = {1, 1}, .noncontig = true},
    {1, 4, 8, 4, 5, 4, 4, .s = {2, 2}, .p = {1, 1}, .bias = true},
    {2, 3, 4, 4, 4, 3, 3, .s = {3, 3}},
    {2, 3, 8, 8, 4, 5, 5, .s = {2, 2}, .p = {2, 2}, .op = {1, 1}, .bias = true, .noncontig = true},
    {1, 3, 8, 8, 4, 3, 3, .s = {2, 2}, .p = {2, 2}, .d = {2, 2}, .op = {1, 1}},
    /* few input channels at stride 1, computed as a convolution with the
     * kernel turned: an image generator's 7x7 last layer (3 maps) with its
     * padding, and an oblong kernel with oblong padding */
    {1, 3, 6, 6, 8, 7, 7, .p = {3, 3}, .bias = true},
    {2, 2, 5, 7, 9, 3, 5, .p = {1, 2}, .bias = true, .noncontig = true},
    /* inputs of more than 16 positions, not whole vectors: PatchGAN's 7x7
     * over 3 samples (a task's vectors cross samples); the same as a
     * convolution with the kernel turned (8 maps in); stride 2 on one
     * sample of 35; 300 input channels (two chunks of steps) at 5x5 */
    {3, 20, 7, 7, 12, 4, 4, .p = {1, 1}},
    {2, 8, 6, 6, 16, 4, 4, .p = {1, 1}, .bias = true},
    {1, 9, 5, 7, 6, 3, 3, .s = {2, 2}, .p = {1, 1}, .op = {1, 1}, .bias = true, .noncontig = true},
    {3, 300, 5, 5, 4, 3, 3, .p = {1, 1}},
};

/* conv_transpose2d on each of n cases against ref_convt, at every budget */
static void check_convt(const cfg *cases, size_t n) {
  for (size_t k = 0; k < n; k++) {
    const cfg *c = &cases[k];
    gr_conv_args a = args_of(c);
    gr_tensor *x = maybe_noncontig(tu_rand(4, (int64_t[]){c->N, c->C, c->H, c->W}, -1, 1), c->noncontig);
    gr_tensor *w = maybe_noncontig(tu_rand(4, (int64_t[]){c->C, c->O / a.groups, c->kh, c->kw}, -1, 1),
                                   c->noncontig);
    gr_tensor *b = c->bias ? tu_rand(1, &c->O, -1, 1) : NULL;
    int64_t Ho, Wo;
    double *ref = ref_convt(x, w, b, a, &Ho, &Wo);
    /* the blocks walk x, the filtered side of the underlying conv2d */
    cfg under = *c;
    under.C = c->O;
    under.O = c->C;
    /* a float sum's rounding grows as the square root of its terms: 2,700
     * products of 300 channels (uniform in [-1, 1]) err by up to about
     * 2e-5, while 8 of 64 terms stay within 1e-5 */
    double terms = (double)c->C * c->kh * c->kw, atol = 1e-5 * fmax(1.0, sqrt(terms) / 8);
    int64_t bud[4];
    for (int i = 0, nb = budgets(&under, c->H, c->W, bud); i < nb; i++) {
      gr_conv_set_budget(bud[i]);
      gr_tensor *y = TU_OK(gr_conv_transpose2d(x, w, b, a));
      assert_shape4(y, c->N, c->O, Ho, Wo);
      TU_CLOSE_D(y, ref, atol, 1e-5);
      gr_release(y);
    }
    gr_conv_set_budget(0);
    free(ref);
    gr_release(x);
    gr_release(w);
    gr_release(b);
  }
}

static void test_conv_transpose2d_forward(void **state) {
  check_convt(kConvtCases, COUNT(kConvtCases));
}

/* conv2d_weight_grad on each of n cases against ref_weight_grad, at every budget */
static void check_weight_grad(const cfg *cases, size_t n) {
  for (size_t k = 0; k < n; k++) {
    const cfg *c = &cases[k];
    gr_conv_args a = args_of(c);
    int64_t Ho = out_len(c->H, c->kh, a.stride[0], a.pad[0], a.dilation[0]);
    int64_t Wo = out_len(c->W, c->kw, a.stride[1], a.pad[1], a.dilation[1]);
    gr_tensor *x = maybe_noncontig(tu_rand(4, (int64_t[]){c->N, c->C, c->H, c->W}, -1, 1), c->noncontig);
    gr_tensor *g = maybe_noncontig(tu_rand(4, (int64_t[]){c->N, c->O, Ho, Wo}, -1, 1), c->noncontig);
    double *ref = ref_weight_grad(x, g, c->kh, c->kw, a);
    int64_t bud[4];
    for (int i = 0, nb = budgets(c, Ho, Wo, bud); i < nb; i++) {
      gr_conv_set_budget(bud[i]);
      gr_tensor *dw = TU_OK(gr_conv2d_weight_grad(x, g, (int)c->kh, (int)c->kw, a));
      assert_shape4(dw, c->O, c->C / a.groups, c->kh, c->kw);
      TU_CLOSE_D(dw, ref, 1e-5, 1e-5);
      gr_release(dw);
    }
    gr_conv_set_budget(0);
    free(ref);
    gr_release(x);
    gr_release(g);
  }
}

static void test_conv2d_weight_grad_forward(void **state) {
  check_weight_grad(kConvCases, COUNT(kConvCases));
}

/* --- groups ---------------------------------------------------------------------------------
 * Grouped convolutions run on the tile paths group by group, in blocks of
 * groups (positions per sample a multiple of 16, as ever); one channel in
 * and out per group (depthwise) runs on a direct path of its own; the rest
 * on sgemm group by group. Each case below runs on whichever its shape
 * takes, and again forced onto sgemm. */

/* conv2d and its weight gradient: 2, 3, 4 and 32 groups of several
 * channels; a part tile of output channels (9 a group), two chunks of
 * steps (360 columns a group), one channel in and two out (a multiplier:
 * the tile, not the depthwise path), a batch of one with 32 groups (the
 * fused modulated convolution); whole tiles of channels a group (weights
 * read in place, and 48 positions: one whole panel); 35 positions per
 * sample (vectors across samples); 15 (sgemm) */
static const cfg kGroupCases[] = {
    {2, 8, 8, 8, 6, 3, 3, .p = {1, 1}, .G = 2, .bias = true},
    {3, 9, 8, 9, 12, 3, 2, .s = {2, 1}, .p = {1, 0}, .G = 3, .noncontig = true},
    {2, 8, 12, 12, 8, 3, 3, .p = {2, 2}, .d = {2, 2}, .G = 4, .bias = true},
    {1, 256, 4, 8, 288, 3, 3, .p = {1, 1}, .G = 32, .bias = true},
    {2, 96, 8, 8, 64, 4, 4, .s = {2, 2}, .p = {1, 1}, .G = 32, .noncontig = true},
    {1, 80, 4, 4, 10, 3, 3, .p = {1, 1}, .G = 2},
    {2, 4, 8, 8, 8, 3, 3, .p = {1, 1}, .G = 4, .bias = true},
    {1, 64, 6, 8, 64, 3, 3, .p = {1, 1}, .G = 4, .bias = true, .noncontig = true},
    {2, 6, 7, 5, 9, 3, 3, .p = {1, 1}, .G = 3, .bias = true},
    {2, 6, 5, 3, 9, 3, 3, .p = {1, 1}, .G = 3},
};

/* conv_transpose2d (C in, O out): 2, 3, 4 and 32 groups; StyleGAN2's up
 * convolution (3x3, stride 2, no padding, a batch of one, 32 groups) with
 * output_padding; dilation; 16 columns a group (w read in place); a
 * strided view (sgemm); odd positions (sgemm) */
static const cfg kGroupCasesT[] = {
    {2, 8, 4, 4, 6, 4, 4, .s = {2, 2}, .p = {1, 1}, .G = 2, .bias = true},
    {1, 64, 4, 8, 96, 3, 3, .s = {2, 2}, .op = {1, 0}, .G = 32, .bias = true},
    {1, 128, 4, 4, 64, 3, 3, .s = {2, 2}, .d = {2, 2}, .G = 32},
    {1, 64, 4, 8, 64, 3, 3, .s = {2, 2}, .p = {1, 1}, .G = 4, .bias = true},
    {2, 12, 4, 4, 9, 3, 3, .p = {1, 1}, .G = 3, .noncontig = true},
    {2, 8, 8, 6, 12, 5, 3, .s = {1, 2}, .p = {2, 1}, .op = {0, 1}, .G = 4, .bias = true},
    {2, 6, 5, 3, 4, 3, 3, .s = {2, 2}, .p = {1, 1}, .op = {1, 1}, .G = 2},
};

/* depthwise conv2d and its weight gradient: odd sizes, strides 2 and 3,
 * padding past the kernel's reach, dilation, strided views, rows longer
 * than a vector (37 columns), a 1x1 kernel, and a kernel covering the
 * image (the 1x1-output products) */
static const cfg kDepthCases[] = {
    {2, 3, 9, 7, 3, 3, 3, .p = {1, 1}, .G = 3, .bias = true},
    {2, 5, 16, 16, 5, 4, 4, .s = {2, 2}, .p = {1, 1}, .G = 5, .noncontig = true},
    {3, 4, 11, 13, 4, 4, 4, .p = {2, 2}, .G = 4, .bias = true},
    {2, 6, 10, 12, 6, 3, 3, .s = {2, 3}, .p = {2, 0}, .d = {2, 1}, .G = 6, .bias = true,
     .noncontig = true},
    {1, 16, 21, 37, 16, 5, 5, .p = {2, 2}, .G = 16},
    {2, 3, 6, 5, 3, 1, 1, .G = 3},
    {2, 32, 8, 8, 32, 3, 3, .s = {3, 3}, .p = {1, 1}, .G = 32},
    {4, 7, 8, 8, 7, 8, 8, .G = 7, .bias = true},
};

/* depthwise conv_transpose2d: strides 2 to 4, output_padding, padding past
 * the kernel's reach (filtered rows no image row reads), stride phases no
 * tap reaches (the bias alone), rows longer than a vector, strided views */
static const cfg kDepthCasesT[] = {
    {2, 3, 5, 4, 3, 4, 4, .s = {2, 2}, .p = {1, 1}, .G = 3, .bias = true},
    {2, 4, 7, 6, 4, 3, 3, .s = {2, 2}, .p = {1, 1}, .op = {1, 1}, .G = 4, .bias = true,
     .noncontig = true},
    {1, 5, 6, 9, 5, 3, 3, .p = {1, 1}, .G = 5},
    {2, 6, 4, 5, 6, 4, 3, .s = {3, 2}, .p = {2, 1}, .d = {1, 2}, .op = {2, 1}, .G = 6},
    {2, 2, 3, 3, 2, 2, 2, .s = {4, 4}, .op = {2, 3}, .G = 2, .bias = true},
    {1, 16, 9, 20, 16, 4, 4, .s = {2, 2}, .p = {1, 1}, .G = 16},
    {2, 3, 6, 5, 3, 3, 3, .s = {2, 2}, .p = {3, 3}, .op = {1, 0}, .G = 3, .bias = true},
    {2, 3, 4, 4, 3, 5, 5, .s = {2, 2}, .p = {4, 4}, .op = {1, 1}, .G = 3},
};

/* the grouped and depthwise cases on the paths their shapes take */
static void check_groups(void) {
  check_conv2d(kGroupCases, COUNT(kGroupCases));
  check_weight_grad(kGroupCases, COUNT(kGroupCases));
  check_convt(kGroupCasesT, COUNT(kGroupCasesT));
  check_conv2d(kDepthCases, COUNT(kDepthCases));
  check_weight_grad(kDepthCases, COUNT(kDepthCases));
  check_convt(kDepthCasesT, COUNT(kDepthCasesT));
}

static void test_groups(void **state) { check_groups(); }

/* the same cases with the tile and depthwise paths off: sgemm group by group */
static void test_groups_on_sgemm(void **state) {
  int prev = gr_conv_set_tile(0);
  check_groups();
  gr_conv_set_tile(prev);
}

/* An image too large for one block: rows of one sample, and a remainder. */
static void test_large_image_blocks(void **state) {
  cfg c = {2, 3, 41, 37, 5, 3, 3, .s = {1, 1}, .p = {1, 1}, .bias = true};
  gr_conv_args a = args_of(&c);
  gr_tensor *x = tu_rand(4, (int64_t[]){c.N, c.C, c.H, c.W}, -1, 1);
  gr_tensor *w = tu_rand(4, (int64_t[]){c.O, c.C, 3, 3}, -1, 1);
  gr_tensor *b = tu_rand(1, &c.O, -1, 1);
  double *ref = ref_conv2d(x, w, b, a);
  /* 7 rows per block: 41 = 5 * 7 + 6 */
  gr_conv_set_budget((27 + 5) * 37 * 7);
  gr_tensor *y = TU_OK(gr_conv2d(x, w, b, a));
  TU_CLOSE_D(y, ref, 1e-5, 1e-5);
  double *refw = ref_weight_grad(x, y, 3, 3, a);
  gr_tensor *dw = TU_OK(gr_conv2d_weight_grad(x, y, 3, 3, a));
  TU_CLOSE_D(dw, refw, 1e-3, 1e-4);
  int64_t H, W;
  double *reft = ref_convt(y, w, NULL, a, &H, &W);
  gr_tensor *xt = TU_OK(gr_conv_transpose2d(y, w, NULL, a));
  TU_CLOSE_D(xt, reft, 1e-4, 1e-5);
  gr_conv_set_budget(0);
  free(ref);
  free(refw);
  free(reft);
  gr_release(xt);
  gr_release(dw);
  gr_release(y);
  gr_release(x);
  gr_release(w);
  gr_release(b);
}

static void test_deterministic(void **state) {
  gr_tensor *x = tu_rand(4, (int64_t[]){8, 16, 12, 12}, -1, 1);
  gr_tensor *w = tu_rand(4, (int64_t[]){32, 16, 4, 4}, -1, 1);
  gr_conv_args a = gr_conv_defaults();
  a.stride[0] = a.stride[1] = 2;
  a.pad[0] = a.pad[1] = 1;
  gr_tensor *y1 = TU_OK(gr_conv2d(x, w, NULL, a)), *y2 = TU_OK(gr_conv2d(x, w, NULL, a));
  assert_memory_equal(gr_f32(y1), gr_f32(y2), (size_t)gr_numel(y1) * sizeof(float));
  gr_tensor *t1 = TU_OK(gr_conv_transpose2d(y1, w, NULL, a));
  gr_tensor *t2 = TU_OK(gr_conv_transpose2d(y1, w, NULL, a));
  assert_memory_equal(gr_f32(t1), gr_f32(t2), (size_t)gr_numel(t1) * sizeof(float));
  gr_tensor *d1 = TU_OK(gr_conv2d_weight_grad(x, y1, 4, 4, a));
  gr_tensor *d2 = TU_OK(gr_conv2d_weight_grad(x, y1, 4, 4, a));
  assert_memory_equal(gr_f32(d1), gr_f32(d2), (size_t)gr_numel(d1) * sizeof(float));
  gr_release(d1);
  gr_release(d2);
  gr_release(t1);
  gr_release(t2);
  gr_release(y1);
  gr_release(y2);
  gr_release(x);
  gr_release(w);
}

/* im2col, col2im, gather and scatter on our threads give the very same
 * numbers as serial ones (each output element is summed by one thread). */
static void test_parallel_matches_serial(void **state) {
  gr_conv_args a = gr_conv_defaults();
  a.pad[0] = a.pad[1] = 1;
  gr_tensor *x = tu_rand(TU_SHAPE(8, 8, 24, 24), -1, 1), *w = tu_rand(TU_SHAPE(16, 8, 3, 3), -1, 1);
  gr_tensor *b = tu_rand(TU_SHAPE(16), -1, 1), *bt = tu_rand(TU_SHAPE(8), -1, 1);
  gr_tensor *out[2][3];
  for (int mode = 0; mode < 2; mode++) {
    gr_conv_set_parallel(mode);
    out[mode][0] = TU_OK(gr_conv2d(x, w, b, a));
    out[mode][1] = TU_OK(gr_conv_transpose2d(out[mode][0], w, bt, a));
    out[mode][2] = TU_OK(gr_conv2d_weight_grad(x, out[mode][0], 3, 3, a));
  }
  gr_conv_set_parallel(-1);
  for (int k = 0; k < 3; k++)
    assert_memory_equal(gr_f32(out[0][k]), gr_f32(out[1][k]),
                        (size_t)gr_numel(out[0][k]) * sizeof(float));
  double *ref = ref_conv2d(x, w, b, a);
  TU_CLOSE_D(out[1][0], ref, 1e-5, 1e-5);
  int64_t H, W;
  double *reft = ref_convt(out[1][0], w, bt, a, &H, &W);
  TU_CLOSE_D(out[1][1], reft, 1e-3, 1e-5);
  free(ref);
  free(reft);
  for (int mode = 0; mode < 2; mode++)
    for (int k = 0; k < 3; k++) gr_release(out[mode][k]);
  gr_release(x);
  gr_release(w);
  gr_release(b);
  gr_release(bt);
}

/* --- the tile paths on every table ------------------------------------------------------------
 * The tile paths run on their own only with a SIMD tile (AVX-512); forced
 * with gr_conv_set_tile, they run on the scalar reference tile anywhere. */

/* The three forwards against the references on the scalar tile: the tile
 * paths' packing and blocking are checked on any CPU. */
static void test_tile_paths_on_scalar_tile(void **state) {
  const gr_kernel_table *before = gr_kernels();
  assert_int_equal(gr_kernels_use("scalar"), 0);
  assert_int_equal(gr_conv_set_tile(1), -1);
  test_conv2d_forward(state);
  test_conv_transpose2d_forward(state);
  test_conv2d_weight_grad_forward(state);
  test_large_image_blocks(state);
  check_groups();
  assert_int_equal(gr_conv_set_tile(-1), 1);
  assert_int_equal(gr_kernels_use(before->isa), 0);
}

/* The inputs of conv2d (x, w, b) and conv_transpose2d (xt, wt, bt) for cases c and ct. */
static void three_inputs(const cfg *c, const cfg *ct, gr_tensor **in) {
  gr_conv_args a = args_of(c), at = args_of(ct);
  in[0] = maybe_noncontig(tu_rand(4, (int64_t[]){c->N, c->C, c->H, c->W}, -1, 1), c->noncontig);
  in[1] = tu_rand(4, (int64_t[]){c->O, c->C / a.groups, c->kh, c->kw}, -1, 1);
  in[2] = c->bias ? tu_rand(1, &c->O, -1, 1) : NULL;
  in[3] = maybe_noncontig(tu_rand(4, (int64_t[]){ct->N, ct->C, ct->H, ct->W}, -1, 1),
                          ct->noncontig);
  in[4] = tu_rand(4, (int64_t[]){ct->C, ct->O / at.groups, ct->kh, ct->kw}, -1, 1);
  in[5] = ct->bias ? tu_rand(1, &ct->O, -1, 1) : NULL;
}

/* conv2d, conv_transpose2d and conv2d's weight gradient (of conv2d's output) */
static void run_three(const cfg *c, const cfg *ct, gr_tensor *const *in, gr_tensor **out) {
  gr_conv_args a = args_of(c);
  out[0] = TU_OK(gr_conv2d(in[0], in[1], in[2], a));
  out[1] = TU_OK(gr_conv_transpose2d(in[3], in[4], in[5], args_of(ct)));
  out[2] = TU_OK(gr_conv2d_weight_grad(in[0], out[0], (int)c->kh, (int)c->kw, a));
}

/* a[i] and b[i] hold the same bits, for i < 3; all six released */
static void same_three(gr_tensor **a, gr_tensor **b) {
  for (int i = 0; i < 3; i++) {
    assert_memory_equal(gr_f32(a[i]), gr_f32(b[i]), (size_t)gr_numel(a[i]) * sizeof(float));
    gr_release(a[i]);
    gr_release(b[i]);
  }
}

/* The scalar tile is the AVX-512 tile's twin (both fuse each multiply-add,
 * in step order), and nothing else in the engine depends on the table: with
 * the tile paths forced on the scalar table, every case gives the very bits
 * of the AVX-512 table's own choice of paths. */
static void twins(const cfg *cases, size_t nc, const cfg *tcases, size_t nt) {
  const gr_kernel_table *before = gr_kernels();
  for (size_t k = 0; k < (nc > nt ? nc : nt); k++) {
    const cfg *c = &cases[k % nc], *ct = &tcases[k % nt];
    gr_tensor *in[6], *fast[3], *twin[3];
    three_inputs(c, ct, in);
    assert_int_equal(gr_kernels_use("avx512"), 0);
    run_three(c, ct, in, fast);
    assert_int_equal(gr_kernels_use("scalar"), 0);
    gr_conv_set_tile(1);
    run_three(c, ct, in, twin);
    gr_conv_set_tile(-1);
    same_three(fast, twin);
    for (int i = 0; i < 6; i++) gr_release(in[i]);
  }
  assert_int_equal(gr_kernels_use(before->isa), 0);
}

static void test_scalar_tile_is_avx512_twin(void **state) {
  if (!gr_kernels_for("avx512")) {
    print_message("no AVX-512 here: the tile paths ran on the scalar tile only\n");
    return;
  }
  twins(kConvCases, COUNT(kConvCases), kConvtCases, COUNT(kConvtCases));
  twins(kGroupCases, COUNT(kGroupCases), kGroupCasesT, COUNT(kGroupCasesT));
  twins(kDepthCases, COUNT(kDepthCases), kDepthCasesT, COUNT(kDepthCasesT));
}

/* The tile and depthwise paths split their work in fixed tasks: one thread,
 * two and three give the same bits, on grouped and depthwise cases of all
 * three ops (our loops forced onto the threads), and on a dense batch of
 * one: conv2d cuts its 8 tiles of channels into 2 ranges on one thread and
 * 4 on three; the adjoint cuts its 16 channels into 2 ranges and 4 (9 taps
 * a channel: ranges that cut tiles of 8 columns). */
static const cfg kBatchOne = {1, 16, 6, 6, 64, 3, 3, .bias = true};
static const cfg kBatchOneT = {1, 8, 4, 4, 16, 3, 3, .bias = true};
/* PatchGAN's 7x7 maps over 3 samples: vectors across samples on all three */
static const cfg kOdd = {3, 16, 8, 8, 24, 4, 4, .p = {1, 1}, .bias = true};
static const cfg kOddT = {3, 24, 7, 7, 16, 4, 4, .p = {1, 1}, .bias = true};
/* a batch of 4 of 16x16 maps: the adjoint takes 3 samples a task on one
 * thread, 2 on two (balanced), 1 on three */
static const cfg kFour = {4, 16, 16, 16, 16, 3, 3, .p = {1, 1}, .bias = true};
static const cfg kFourT = {4, 16, 16, 16, 16, 3, 3, .p = {1, 1}, .bias = true};

static void test_groups_thread_count(void **state) {
  int prev_threads = gr_get_threads(), prev_par = gr_conv_set_parallel(1);
  const cfg *pairs[][2] = {{&kGroupCases[0], &kGroupCasesT[0]}, {&kGroupCases[3], &kGroupCasesT[1]},
                           {&kGroupCases[4], &kGroupCasesT[4]}, {&kDepthCases[1], &kDepthCasesT[1]},
                           {&kDepthCases[4], &kDepthCasesT[5]}, {&kBatchOne, &kBatchOneT},
                           {&kOdd, &kOddT}, {&kFour, &kFourT}};
  for (size_t k = 0; k < COUNT(pairs); k++) {
    const cfg *c = pairs[k][0], *ct = pairs[k][1];
    gr_tensor *in[6], *one[3], *more[3];
    three_inputs(c, ct, in);
    for (int t = 2; t <= 3; t++) { /* same_three releases both sides */
      gr_set_threads(1);
      run_three(c, ct, in, one);
      gr_set_threads(t);
      run_three(c, ct, in, more);
      same_three(one, more);
    }
    for (int i = 0; i < 6; i++) gr_release(in[i]);
  }
  gr_set_threads(prev_threads);
  gr_conv_set_parallel(prev_par);
}

/* The weight gradient by rows of taps gives the very bits of the one by
 * rows of output channels: SAGAN's 16 to 16 maps (three ranges of
 * positions), 12 maps (a part vector), stride 2 with 36 positions a sample
 * (vectors across samples) and 40 maps (three vectors), dilation, strided
 * views; each with the default budget and one that cuts the batch into
 * blocks; on this table's tile and on the scalar one, on 1 and 3 threads;
 * and both against the double-precision sums. */
static const cfg kRows[] = {
    {4, 16, 16, 16, 16, 3, 3, .p = {1, 1}},
    {3, 8, 8, 8, 12, 3, 3, .p = {1, 1}, .noncontig = true},
    {3, 24, 12, 12, 40, 4, 4, .s = {2, 2}, .p = {1, 1}},
    {2, 16, 9, 9, 24, 3, 3, .p = {2, 2}, .d = {2, 2}, .noncontig = true},
};

static void test_wgrad_rows_same_bits(void **state) {
  const gr_kernel_table *before = gr_kernels();
  int prev_threads = gr_get_threads();
  for (int table = 0; table < 2; table++) {
    if (table == 1) {
      assert_int_equal(gr_kernels_use("scalar"), 0);
      gr_conv_set_tile(1);
    }
    for (size_t k = 0; k < COUNT(kRows); k++) {
      const cfg *c = &kRows[k];
      gr_conv_args a = args_of(c);
      int64_t Ho = out_len(c->H, c->kh, a.stride[0], a.pad[0], a.dilation[0]);
      int64_t Wo = out_len(c->W, c->kw, a.stride[1], a.pad[1], a.dilation[1]);
      gr_tensor *x = maybe_noncontig(tu_rand(TU_SHAPE(c->N, c->C, c->H, c->W), -1, 1), c->noncontig);
      gr_tensor *g = maybe_noncontig(tu_rand(TU_SHAPE(c->N, c->O, Ho, Wo), -1, 1), c->noncontig);
      double *ref = ref_weight_grad(x, g, c->kh, c->kw, a);
      /* each weight sums N*Ho*Wo products in float: rounding grows with their root */
      double tol = 4e-6 * sqrt((double)(c->N * Ho * Wo));
      int64_t bud[2] = {0, 2 * (c->C * c->kh * c->kw + c->O) * Ho * Wo};
      for (int bi = 0; bi < 2; bi++)
        for (int threads = 1; threads <= 3; threads += 2) {
          gr_set_threads(threads);
          gr_conv_set_budget(bud[bi]);
          gr_conv_set_wgrad_rows(0);
          gr_tensor *cols = TU_OK(gr_conv2d_weight_grad(x, g, (int)c->kh, (int)c->kw, a));
          gr_conv_set_wgrad_rows(1);
          gr_tensor *rows = TU_OK(gr_conv2d_weight_grad(x, g, (int)c->kh, (int)c->kw, a));
          assert_memory_equal(gr_f32(cols), gr_f32(rows), (size_t)gr_numel(rows) * sizeof(float));
          TU_CLOSE_D(rows, ref, tol, 1e-5);
          gr_release(cols);
          gr_release(rows);
        }
      gr_conv_set_wgrad_rows(-1);
      gr_conv_set_budget(0);
      free(ref);
      gr_release(x);
      gr_release(g);
    }
  }
  gr_set_threads(prev_threads);
  gr_conv_set_tile(-1);
  assert_int_equal(gr_kernels_use(before->isa), 0);
}

/* --- gradients ---------------------------------------------------------------------------- */

static gr_tensor *f_conv2d(gr_tensor *const *in, void *ctx) {
  return gr_conv2d(in[0], in[1], in[2], args_of(ctx));
}
static gr_tensor *f_convt(gr_tensor *const *in, void *ctx) {
  return gr_conv_transpose2d(in[0], in[1], in[2], args_of(ctx));
}
static gr_tensor *f_weight_grad(gr_tensor *const *in, void *ctx) {
  const cfg *c = ctx;
  return gr_conv2d_weight_grad(in[0], in[1], (int)c->kh, (int)c->kw, args_of(ctx));
}

/* the last two: three groups on the tile (4x4 outputs), and depthwise */
static const cfg kGradCases[] = {
    {2, 4, 5, 5, 4, 3, 3, .s = {2, 2}, .p = {1, 1}, .G = 2, .bias = true},
    {1, 2, 6, 5, 3, 2, 3, .s = {1, 2}, .p = {0, 1}, .d = {2, 1}, .bias = false},
    {2, 4, 3, 2, 2, 3, 2, .G = 2, .bias = true},
    {1, 6, 4, 4, 6, 3, 3, .p = {1, 1}, .G = 3, .bias = true},
    {2, 3, 5, 4, 3, 3, 3, .s = {2, 1}, .p = {1, 1}, .G = 3, .bias = true},
};

/* the last two: three groups on the tile (4x4 inputs), and depthwise */
static const cfg kGradCasesT[] = {
    {2, 4, 3, 3, 4, 3, 3, .s = {2, 2}, .p = {1, 1}, .op = {1, 0}, .G = 2, .bias = true},
    {1, 3, 3, 2, 2, 2, 3, .s = {1, 2}, .d = {2, 1}, .op = {0, 1}, .bias = false},
    {2, 4, 1, 1, 2, 2, 3, .G = 2, .bias = true},
    {1, 6, 4, 4, 3, 3, 3, .s = {2, 2}, .p = {1, 1}, .op = {1, 1}, .G = 3, .bias = true},
    {2, 3, 3, 4, 3, 4, 4, .s = {2, 2}, .p = {1, 1}, .G = 3, .bias = true},
};

static void test_conv2d_grads(void **state) {
  for (size_t k = 0; k < sizeof kGradCases / sizeof *kGradCases; k++) {
    cfg c = kGradCases[k];
    gr_conv_args a = args_of(&c);
    gr_tensor *x = tu_rand(4, (int64_t[]){c.N, c.C, c.H, c.W}, -1, 1);
    gr_tensor *w = tu_rand(4, (int64_t[]){c.O, c.C / a.groups, c.kh, c.kw}, -1, 1);
    gr_tensor *b = c.bias ? tu_rand(1, &c.O, -1, 1) : NULL;
    gr_tensor *in[3] = {x, w, b};
    TU_GRADCHECK(f_conv2d, &c, 3, in);
    TU_GRADGRADCHECK(f_conv2d, &c, 3, in);
    gr_release(x);
    gr_release(w);
    gr_release(b);
  }
}

static void test_conv_transpose2d_grads(void **state) {
  for (size_t k = 0; k < sizeof kGradCasesT / sizeof *kGradCasesT; k++) {
    cfg c = kGradCasesT[k];
    gr_conv_args a = args_of(&c);
    gr_tensor *x = tu_rand(4, (int64_t[]){c.N, c.C, c.H, c.W}, -1, 1);
    gr_tensor *w = tu_rand(4, (int64_t[]){c.C, c.O / a.groups, c.kh, c.kw}, -1, 1);
    gr_tensor *b = c.bias ? tu_rand(1, &c.O, -1, 1) : NULL;
    gr_tensor *in[3] = {x, w, b};
    TU_GRADCHECK(f_convt, &c, 3, in);
    TU_GRADGRADCHECK(f_convt, &c, 3, in);
    gr_release(x);
    gr_release(w);
    gr_release(b);
  }
}

static void test_conv2d_weight_grad_grads(void **state) {
  for (size_t k = 0; k < sizeof kGradCases / sizeof *kGradCases; k++) {
    cfg c = kGradCases[k];
    gr_conv_args a = args_of(&c);
    int64_t Ho = out_len(c.H, c.kh, a.stride[0], a.pad[0], a.dilation[0]);
    int64_t Wo = out_len(c.W, c.kw, a.stride[1], a.pad[1], a.dilation[1]);
    gr_tensor *x = tu_rand(4, (int64_t[]){c.N, c.C, c.H, c.W}, -1, 1);
    gr_tensor *g = tu_rand(4, (int64_t[]){c.N, c.O, Ho, Wo}, -1, 1);
    gr_tensor *in[2] = {x, g};
    TU_GRADCHECK(f_weight_grad, &c, 2, in);
    TU_GRADGRADCHECK(f_weight_grad, &c, 2, in);
    gr_release(x);
    gr_release(g);
  }
}

/* A WGAN-GP style penalty: the gradient of a conv net's output with respect
 * to its input, squared, differentiated again with respect to the weights. */
static gr_tensor *f_penalty(gr_tensor *const *in, void *ctx) {
  gr_conv_args a = gr_conv_defaults();
  a.stride[0] = a.stride[1] = 2;
  a.pad[0] = a.pad[1] = 1;
  /* the check evaluates with grad mode off; the inner gradient needs it on */
  bool prev = gr_set_grad_enabled(true);
  gr_pool_push();
  gr_tensor *x = in[0], *w = in[1];
  gr_tensor *h = gr_conv2d(x, w, NULL, a);
  gr_tensor *y = gr_sum(gr_mul(h, h), 0, NULL, false), *gx = NULL;
  gr_grad_opts o = {.create_graph = true};
  if (!y || gr_grad(1, &y, 1, &x, &o, &gx) != GR_OK) gx = NULL;
  gr_tensor *p = gr_pool_pop_keep(gr_mul(gx, gx));
  gr_set_grad_enabled(prev);
  return p;
}

static void test_penalty_through_conv(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(1, 2, 4, 4), -1, 1), *w = tu_rand(TU_SHAPE(3, 2, 3, 3), -1, 1);
  gr_tensor *in[2] = {x, w};
  TU_GRADCHECK(f_penalty, NULL, 2, in);
  gr_release(x);
  gr_release(w);
}

/* --- bad arguments ------------------------------------------------------------------------- */

static void expect_msg(gr_tensor *t, const char *a, const char *b, const char *c) {
  assert_null(t);
  const char *m = gr_errmsg();
  if ((a && !strstr(m, a)) || (b && !strstr(m, b)) || (c && !strstr(m, c))) {
    print_error("message \"%s\" lacks \"%s\" / \"%s\" / \"%s\"\n", m, a, b ? b : "",
                c ? c : "");
    fail();
  }
}

static void test_bad_arguments(void **state) {
  gr_conv_args a = gr_conv_defaults();
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3, 5, 5), -1, 1);
  gr_tensor *w = tu_rand(TU_SHAPE(4, 2, 3, 3), -1, 1);
  gr_tensor *w3 = tu_rand(TU_SHAPE(4, 3, 3, 3), -1, 1);
  gr_tensor *big = tu_rand(TU_SHAPE(4, 3, 7, 7), -1, 1);
  gr_tensor *b5 = tu_rand(TU_SHAPE(5), -1, 1);
  gr_tensor *x3 = tu_rand(TU_SHAPE(3, 5, 5), -1, 1);
  /* channel mismatch */
  expect_msg(gr_conv2d(x, w, NULL, a), "conv2d", "[4, 2, 3, 3]", "[2, 3, 5, 5]");
  /* wrong rank */
  expect_msg(gr_conv2d(x3, w3, NULL, a), "conv2d", "x", "[3, 5, 5]");
  /* kernel larger than the padded input */
  expect_msg(gr_conv2d(x, big, NULL, a), "conv2d", "larger than the padded input", "[2, 3, 5, 5]");
  a.pad[0] = a.pad[1] = 1;
  gr_tensor *ok = TU_OK(gr_conv2d(x, big, NULL, a)); /* fits with padding 1 */
  gr_release(ok);
  a = gr_conv_defaults();
  /* groups not dividing */
  a.groups = 2;
  expect_msg(gr_conv2d(x, w, NULL, a), "conv2d", "groups 2", "[2, 3, 5, 5]");
  a = gr_conv_defaults();
  /* bias of the wrong size */
  expect_msg(gr_conv2d(x, w3, b5, a), "conv2d", "bias", "[5]");
  a.stride[1] = 0;
  expect_msg(gr_conv2d(x, w3, NULL, a), "conv2d", "stride", NULL);
  a = gr_conv_defaults();
  /* NULL propagates */
  assert_null(gr_conv2d(NULL, w3, NULL, a));

  /* conv_transpose2d: x (2,3,5,5) needs a weight (3, O/g, kh, kw) */
  expect_msg(gr_conv_transpose2d(x, w, NULL, a), "conv_transpose2d", "[4, 2, 3, 3]",
             "[2, 3, 5, 5]");
  gr_tensor *wt = tu_rand(TU_SHAPE(3, 2, 3, 3), -1, 1);
  a.output_padding[0] = 1;
  expect_msg(gr_conv_transpose2d(x, wt, NULL, a), "conv_transpose2d", "output_padding", NULL);
  a = gr_conv_defaults();
  a.groups = 2;
  expect_msg(gr_conv_transpose2d(x, wt, NULL, a), "conv_transpose2d", "groups 2", "[2, 3, 5, 5]");
  a = gr_conv_defaults();
  expect_msg(gr_conv_transpose2d(x3, wt, NULL, a), "conv_transpose2d", "x", "[3, 5, 5]");
  expect_msg(gr_conv_transpose2d(x, wt, b5, a), "conv_transpose2d", "bias", "[5]");
  a.pad[0] = a.pad[1] = 4;
  expect_msg(gr_conv_transpose2d(x, wt, NULL, a), "conv_transpose2d", "empty output",
             "[2, 3, 5, 5]");
  a = gr_conv_defaults();

  /* conv2d_weight_grad: g must be the conv2d output size */
  gr_tensor *g = tu_rand(TU_SHAPE(2, 4, 4, 3), -1, 1);
  expect_msg(gr_conv2d_weight_grad(x, g, 3, 3, a), "conv2d_weight_grad", "[2, 4, 4, 3]",
             "[2, 3, 5, 5]");
  gr_tensor *g1 = tu_rand(TU_SHAPE(1, 4, 3, 3), -1, 1);
  expect_msg(gr_conv2d_weight_grad(x, g1, 3, 3, a), "conv2d_weight_grad", "batch", "[1, 4, 3, 3]");
  expect_msg(gr_conv2d_weight_grad(x, g1, 0, 3, a), "conv2d_weight_grad", "kernel", NULL);
  expect_msg(gr_conv2d_weight_grad(x, g, 9, 9, a), "conv2d_weight_grad",
             "larger than the padded input", NULL);

  gr_release(g);
  gr_release(g1);
  gr_release(wt);
  gr_release(x);
  gr_release(w);
  gr_release(w3);
  gr_release(big);
  gr_release(b5);
  gr_release(x3);
}

/* After each test, the engine's knobs as well as the kernel table and
 * threads (tu_restore_state): a test that fails halfway (cmocka leaves it
 * at the failed check) must not leave the next ones on the scalar tile or
 * a small budget. */
static int restore(void **state) {
  gr_conv_set_tile(-1);
  gr_conv_set_budget(0);
  gr_conv_set_parallel(-1);
  gr_conv_set_wgrad_rows(-1);
  return tu_restore_state(state);
}
#define TEST(f) cmocka_unit_test_teardown(f, restore)

int main(void) {
  tu_keep_state();
  const struct CMUnitTest tests[] = {
      TEST(test_conv2d_forward),
      TEST(test_conv_transpose2d_forward),
      TEST(test_conv2d_weight_grad_forward),
      TEST(test_groups),
      TEST(test_groups_on_sgemm),
      TEST(test_large_image_blocks),
      TEST(test_deterministic),
      TEST(test_parallel_matches_serial),
      TEST(test_tile_paths_on_scalar_tile),
      TEST(test_scalar_tile_is_avx512_twin),
      TEST(test_groups_thread_count),
      TEST(test_wgrad_rows_same_bits),
      TEST(test_conv2d_grads),
      TEST(test_conv_transpose2d_grads),
      TEST(test_conv2d_weight_grad_grads),
      TEST(test_penalty_through_conv),
      TEST(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
