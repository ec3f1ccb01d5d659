/* upfirdn2d: forwards against a double-precision reference that builds the
 * upsampled, padded planes and filters them as NVlabs' reference does; first
 * and second order gradients; the same bits on any thread count; errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* all elements of t in logical order (malloc'd) */
static double *values(const gr_tensor *t) {
  int64_t n = gr_numel(t);
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  gr_read_all(t, v);
  return v;
}

static gr_upfirdn_args args(int ux, int uy, int dx, int dy, int px0, int px1, int py0, int py1,
                            bool flip, double gain) {
  return (gr_upfirdn_args){{ux, uy}, {dx, dy}, {px0, px1, py0, py1}, flip, gain};
}

/* The definition, in double: per plane, insert zeros, pad or crop, filter
 * with the 2-d filter (f f^T for taps), keep every down-th output. */
static double *ref_upfirdn(const gr_tensor *x, const gr_tensor *f, gr_upfirdn_args a,
                           int64_t *ho, int64_t *wo) {
  int64_t P = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
  int64_t fh = f->ndim == 2 ? f->shape[0] : f->shape[0], fw = f->shape[f->ndim - 1];
  double *fv = values(f), *F = malloc((size_t)(fh * fw) * sizeof *F);
  for (int64_t i = 0; i < fh; i++)
    for (int64_t j = 0; j < fw; j++) F[i * fw + j] = f->ndim == 2 ? fv[i * fw + j] : fv[i] * fv[j];
  int64_t ux = a.up[0], uy = a.up[1], dx = a.down[0], dy = a.down[1];
  int64_t Hp = H * uy + a.pad[2] + a.pad[3], Wp = W * ux + a.pad[0] + a.pad[1];
  int64_t Hc = Hp - fh + 1, Wc = Wp - fw + 1; // the filtered planes
  int64_t Ho = (Hc + dy - 1) / dy, Wo = (Wc + dx - 1) / dx;
  double *xv = values(x), *r = malloc((size_t)(P * Ho * Wo) * sizeof *r);
  double *pad = malloc((size_t)(Hp * Wp) * sizeof *pad);
  for (int64_t p = 0; p < P; p++) {
    for (int64_t m = 0; m < Hp; m++)
      for (int64_t n = 0; n < Wp; n++) {
        int64_t i = m - a.pad[2], j = n - a.pad[0]; // on the upsampled plane
        bool real = i >= 0 && j >= 0 && i < H * uy && j < W * ux && i % uy == 0 && j % ux == 0;
        pad[m * Wp + n] = real ? xv[(p * H + i / uy) * W + j / ux] : 0;
      }
    for (int64_t qy = 0; qy < Ho; qy++)
      for (int64_t qx = 0; qx < Wo; qx++) {
        double s = 0;
        for (int64_t ky = 0; ky < fh; ky++)
          for (int64_t kx = 0; kx < fw; kx++) {
            double w = a.flip ? F[ky * fw + kx] : F[(fh - 1 - ky) * fw + (fw - 1 - kx)];
            s += w * pad[(qy * dy + ky) * Wp + qx * dx + kx];
          }
        r[(p * Ho + qy) * Wo + qx] = s * a.gain;
      }
  }
  free(pad);
  free(xv);
  free(fv);
  free(F);
  *ho = Ho;
  *wo = Wo;
  return r;
}

static void check_forward(gr_tensor *x, gr_tensor *f, gr_upfirdn_args a) {
  int64_t ho, wo;
  double *r = ref_upfirdn(x, f, a, &ho, &wo);
  gr_tensor *y = TU_OK(gr_upfirdn2d(x, f, a));
  assert_int_equal(y->ndim, 4);
  assert_int_equal(y->shape[0], x->shape[0]);
  assert_int_equal(y->shape[1], x->shape[1]);
  assert_int_equal(y->shape[2], ho);
  assert_int_equal(y->shape[3], wo);
  TU_CLOSE_D(y, r, 2e-6, 1e-5);
  gr_release(y);
  free(r);
}

/* the filtered lengths of a along both axes are at least 1 */
static bool fits(const gr_tensor *x, const gr_tensor *f, gr_upfirdn_args a) {
  int64_t fh = f->shape[0], fw = f->shape[f->ndim - 1];
  return x->shape[2] * a.up[1] + a.pad[2] + a.pad[3] >= fh &&
         x->shape[3] * a.up[0] + a.pad[0] + a.pad[1] >= fw;
}

/* an integer in [lo, hi] from the tests' generator */
static int pick(int lo, int hi) { return lo + (int)(tu_unit() * (hi - lo + 1)); }

static void test_forward_against_reference(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3, 7, 5), -1, 1), *xn = tu_noncontig(x);
  gr_tensor *filters[] = {
      tu_rand(TU_SHAPE(4), 0, 1),    tu_rand(TU_SHAPE(3), -1, 1),   tu_rand(TU_SHAPE(1), 0.5, 1),
      tu_rand(TU_SHAPE(3, 2), -1, 1), tu_rand(TU_SHAPE(4, 4), 0, 1), tu_rand(TU_SHAPE(1, 5), -1, 1),
  };
  int nf = (int)(sizeof filters / sizeof *filters), checked = 0;
  /* every factor 1..3 on each axis on its own, with pads from -2 to 3 */
  for (int ux = 1; ux <= 3; ux++)
    for (int uy = 1; uy <= 3; uy++)
      for (int dx = 1; dx <= 3; dx++)
        for (int dy = 1; dy <= 3; dy++)
          for (int k = 0; k < nf; k++) {
            gr_upfirdn_args a = args(ux, uy, dx, dy, pick(-2, 3), pick(-2, 3), pick(-2, 3),
                                     pick(-2, 3), tu_unit() < 0.5, tu_unit() < 0.5 ? 1 : 2.5);
            if (!fits(x, filters[k], a)) continue;
            check_forward((k + ux) % 2 ? xn : x, filters[k], a);
            checked++;
          }
  assert_true(checked > 400);
  /* NVlabs' wrappers on a 4-tap [1,3,3,1]: upsample2d, downsample2d, filter2d */
  gr_tensor *f = TU_OK(gr_from_f32((float[]){0.125f, 0.375f, 0.375f, 0.125f}, 1, (int64_t[]){4}));
  check_forward(x, f, args(2, 2, 1, 1, 2, 1, 2, 1, false, 4));
  check_forward(x, f, args(1, 1, 2, 2, 1, 1, 1, 1, false, 1));
  check_forward(x, f, args(1, 1, 1, 1, 2, 1, 2, 1, false, 1));
  /* a filter given as a strided view */
  gr_tensor *f2 = tu_rand(TU_SHAPE(2, 3), -1, 1), *f2t = TU_OK(gr_permute(f2, (int[]){1, 0}));
  check_forward(x, f2t, args(2, 1, 1, 2, 1, 0, -1, 2, true, 1));
  gr_release(f2t);
  gr_release(f2);
  gr_release(f);
  for (int k = 0; k < nf; k++) gr_release(filters[k]);
  gr_release(xn);
  gr_release(x);
}

/* an impulse shows the convolution's orientation: flip false reverses the
 * filter over the window, flip true does not */
static void test_flip_and_shape(void **state) {
  gr_tensor *x = TU_OK(gr_zeros(GR_F32, 4, (int64_t[]){1, 1, 1, 1}));
  gr_f32(x)[0] = 1;
  gr_tensor *f = TU_OK(gr_from_f32((float[]){1, 2, 3, 4, 5, 6}, 2, (int64_t[]){2, 3}));
  gr_tensor *y = TU_OK(gr_upfirdn2d(x, f, args(1, 1, 1, 1, 2, 2, 1, 1, false, 1)));
  double conv[6] = {1, 2, 3, 4, 5, 6};
  TU_CLOSE_D(y, conv, 0, 0);
  gr_release(y);
  y = TU_OK(gr_upfirdn2d(x, f, args(1, 1, 1, 1, 2, 2, 1, 1, true, 0.5)));
  double corr[6] = {3, 2.5, 2, 1.5, 1, 0.5};
  TU_CLOSE_D(y, corr, 0, 0);
  gr_release(y);
  /* StyleGAN2's 2x upsampling of 8x8 with 4 taps keeps 16x16; 2x down halves */
  gr_tensor *x8 = tu_rand(TU_SHAPE(2, 3, 8, 8), -1, 1), *t4 = tu_rand(TU_SHAPE(4), 0, 1);
  y = TU_OK(gr_upfirdn2d(x8, t4, args(2, 2, 1, 1, 2, 1, 2, 1, false, 4)));
  assert_int_equal(y->shape[2], 16);
  assert_int_equal(y->shape[3], 16);
  gr_release(y);
  y = TU_OK(gr_upfirdn2d(x8, t4, args(1, 1, 2, 2, 1, 1, 1, 1, false, 1)));
  assert_int_equal(y->shape[2], 4);
  assert_int_equal(y->shape[3], 4);
  gr_release(y);
  /* a crop past the image leaves only padding: zeros */
  y = TU_OK(gr_upfirdn2d(x8, t4, args(1, 1, 1, 1, -9, 12, 0, 0, false, 1)));
  assert_int_equal(y->shape[3], 8);
  for (int64_t i = 0; i < gr_numel(y); i++) assert_true(gr_get_flat(y, i) == 0);
  gr_release(y);
  gr_release(t4);
  gr_release(x8);
  gr_release(f);
  gr_release(x);
}

/* --- gradients ------------------------------------------------------------------------ */

typedef struct uf_ctx {
  gr_tensor *f;
  gr_upfirdn_args a;
  bool square; /* the output squared, so the second order is not zero */
} uf_ctx;

static gr_tensor *f_uf(gr_tensor *const *in, void *ctx) {
  uf_ctx *c = ctx;
  gr_tensor *y = gr_upfirdn2d(in[0], c->f, c->a);
  if (!c->square || !y) return y;
  gr_tensor *s = gr_mul(y, y);
  gr_release(y);
  return s;
}

/* dx = d<f(x), g>/dx as a function of g, recorded when grad mode is on at
 * the call: its gradchecks test the rule's own rule */
typedef struct bwd_ctx {
  uf_ctx *c;
  gr_tensor *x;
} bwd_ctx;

static gr_tensor *f_bwd(gr_tensor *const *in, void *ctx) {
  bwd_ctx *b = ctx;
  bool create = gr_grad_enabled();
  bool prev = gr_set_grad_enabled(true);
  gr_tensor *y = f_uf(&b->x, b->c), *dx = NULL;
  if (y) {
    gr_grad_opts o = {.grad_outputs = &in[0], .create_graph = create};
    if (gr_grad(1, &y, 1, &b->x, &o, &dx) != GR_OK) dx = NULL;
  }
  gr_set_grad_enabled(prev);
  gr_release(y);
  return dx;
}

static void check_grads(gr_tensor *x, gr_tensor *f, gr_upfirdn_args a) {
  uf_ctx lin = {f, a, false}, sq = {f, a, true};
  TU_GRADCHECK(f_uf, &lin, 1, &x);
  TU_GRADCHECK(f_uf, &sq, 1, &x);
  TU_GRADGRADCHECK(f_uf, &sq, 1, &x);
  /* the gradient of the linear op as a function of g, and of the squared
   * one as a function of g (through x's graph) */
  gr_set_requires_grad(x, true);
  bool prev = gr_set_grad_enabled(false);
  gr_tensor *y = TU_OK(gr_upfirdn2d(x, f, a));
  gr_set_grad_enabled(prev);
  gr_tensor *g = tu_rand(y->ndim, y->shape, -1, 1);
  bwd_ctx bl = {&lin, x}, bs = {&sq, x};
  TU_GRADCHECK(f_bwd, &bl, 1, &g);
  TU_GRADGRADCHECK(f_bwd, &bs, 1, &g);
  gr_release(g);
  gr_release(y);
}

static void test_gradients(void **state) {
  gr_tensor *t4 = tu_rand(TU_SHAPE(4), 0, 1), *t3 = tu_rand(TU_SHAPE(3), -1, 1);
  gr_tensor *f32 = tu_rand(TU_SHAPE(3, 2), -1, 1), *f22 = tu_rand(TU_SHAPE(2, 2), 0, 1);
  struct {
    gr_tensor *f;
    gr_upfirdn_args a;
  } cases[] = {
      {t4, args(2, 2, 1, 1, 2, 1, 2, 1, false, 4)},  /* StyleGAN2's upsample2d */
      {t4, args(1, 1, 2, 2, 1, 1, 1, 1, false, 1)},  /* downsample2d */
      {t4, args(1, 1, 1, 1, 2, 1, 2, 1, true, 1)},   /* filter2d, correlating */
      {t3, args(3, 1, 1, 2, -1, 2, 0, -1, false, 1.5)},
      {t3, args(1, 2, 3, 1, 3, -2, 1, 0, true, 1)},
      {f32, args(2, 1, 1, 3, 0, 1, 2, -1, false, 2)},
      {f22, args(1, 3, 2, 1, -1, 1, 1, 1, true, 1)},
      {f32, args(1, 1, 1, 1, 0, 0, 0, 0, false, 1)},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    gr_tensor *x = tu_rand(TU_SHAPE(2, 2, 4, 5), -1, 1), *xn = tu_noncontig(x);
    check_grads(k % 2 ? xn : x, cases[k].f, cases[k].a);
    gr_release(xn);
    gr_release(x);
  }
  gr_release(f22);
  gr_release(f32);
  gr_release(t3);
  gr_release(t4);
}

/* the rule is upfirdn2d itself: its node names the op, and differentiating
 * the gradient records upfirdn2d again */
static void test_rule_is_the_op(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(1, 2, 5, 6), -1, 1), *f = tu_rand(TU_SHAPE(4), 0, 1);
  gr_set_requires_grad(x, true);
  gr_tensor *y = TU_OK(gr_upfirdn2d(x, f, args(2, 1, 1, 2, 2, 1, 1, 1, false, 4)));
  assert_string_equal(gr_grad_fn_name(y), "upfirdn2d");
  gr_tensor *g = tu_rand(y->ndim, y->shape, -1, 1), *dx;
  gr_set_requires_grad(g, true); /* dx is linear in g alone */
  gr_grad_opts o = {.grad_outputs = &g, .create_graph = true};
  assert_int_equal(gr_grad(1, &y, 1, &x, &o, &dx), GR_OK);
  assert_true(gr_same_shape(dx, x));
  assert_string_equal(gr_grad_fn_name(dx), "upfirdn2d");
  gr_release(dx);
  gr_release(g);
  gr_release(y);
  gr_release(f);
  gr_release(x);
}

/* --- threads -------------------------------------------------------------------------- */

static void test_thread_count_independent(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(4, 33, 17, 19), -1, 1);
  gr_tensor *t4 = tu_rand(TU_SHAPE(4), 0, 1), *f33 = tu_rand(TU_SHAPE(3, 3), -1, 1);
  gr_upfirdn_args as[] = {args(2, 2, 1, 1, 2, 1, 2, 1, false, 4),
                          args(1, 1, 2, 2, 1, 1, 1, 1, false, 1),
                          args(3, 1, 1, 2, 1, -1, 2, 0, true, 1)};
  gr_tensor *fs[] = {t4, f33};
  int keep = gr_get_threads();
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 2; j++) {
      gr_set_threads(1);
      gr_tensor *y1 = TU_OK(gr_upfirdn2d(x, fs[j], as[i]));
      gr_set_threads(2);
      gr_tensor *y2 = TU_OK(gr_upfirdn2d(x, fs[j], as[i]));
      gr_set_threads(3);
      gr_tensor *y3 = TU_OK(gr_upfirdn2d(x, fs[j], as[i]));
      TU_CLOSE(y2, y1, 0, 0);
      TU_CLOSE(y3, y1, 0, 0);
      gr_release(y3);
      gr_release(y2);
      gr_release(y1);
    }
  gr_set_threads(keep);
  gr_release(f33);
  gr_release(t4);
  gr_release(x);
}

/* --- the kernel's twins ------------------------------------------------------------------
 * fir_block is one source compiled for each ISA; every table's must give the
 * scalar reference's bits: odd planes, a partial last block of planes, 1-d
 * and 2-d filters, each factor. */

static void test_isa_twins(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(3, 7, 13, 11), -1, 1); /* 21 planes: a block and 5 */
  gr_tensor *fs[] = {tu_rand(TU_SHAPE(4), 0, 1), tu_rand(TU_SHAPE(5), -1, 1),
                     tu_rand(TU_SHAPE(3, 4), -1, 1)};
  gr_upfirdn_args as[] = {args(2, 2, 1, 1, 2, 1, 2, 1, false, 4),
                          args(1, 1, 2, 2, 1, 1, 1, 1, false, 1),
                          args(1, 1, 1, 1, 2, 1, 2, 1, true, 1),
                          args(3, 2, 2, 3, -1, 2, 3, 0, true, 0.5)};
  const char *keep = gr_kernels()->isa;
  const char *isas[] = {"avx2", "avx512"};
  for (size_t i = 0; i < sizeof as / sizeof *as; i++)
    for (size_t j = 0; j < sizeof fs / sizeof *fs; j++) {
      assert_int_equal(gr_kernels_use("scalar"), 0);
      gr_tensor *ref = TU_OK(gr_upfirdn2d(x, fs[j], as[i]));
      for (int k = 0; k < 2; k++) {
        if (!gr_kernels_for(isas[k])) continue; /* not on this CPU */
        assert_int_equal(gr_kernels_use(isas[k]), 0);
        gr_tensor *y = TU_OK(gr_upfirdn2d(x, fs[j], as[i]));
        TU_CLOSE(y, ref, 0, 0);
        gr_release(y);
      }
      gr_release(ref);
    }
  assert_int_equal(gr_kernels_use(keep), 0);
  for (size_t j = 0; j < sizeof fs / sizeof *fs; j++) gr_release(fs[j]);
  gr_release(x);
}

/* --- errors --------------------------------------------------------------------------- */

static void test_errors(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(1, 2, 4, 4), -1, 1), *f = tu_rand(TU_SHAPE(4), 0, 1);
  gr_upfirdn_args d = gr_upfirdn_defaults();
  assert_int_equal(d.up[0], 1);
  assert_int_equal(d.down[1], 1);
  assert_true(d.gain == 1 && !d.flip);
  gr_tensor *x3 = tu_rand(TU_SHAPE(2, 4, 4), -1, 1);
  TU_ERROR(gr_upfirdn2d(x3, f, d), "upfirdn2d", "(N,C,H,W)", "[2, 4, 4]");
  gr_tensor *xi = TU_OK(gr_zeros(GR_I64, 4, (int64_t[]){1, 1, 4, 4}));
  TU_ERROR(gr_upfirdn2d(xi, f, d), "upfirdn2d", "x must be float32", "int64");
  gr_tensor *fi = TU_OK(gr_zeros(GR_I64, 1, (int64_t[]){3}));
  TU_ERROR(gr_upfirdn2d(x, fi, d), "upfirdn2d", "f must be float32", NULL);
  gr_tensor *f3 = tu_rand(TU_SHAPE(2, 2, 2), 0, 1);
  TU_ERROR(gr_upfirdn2d(x, f3, d), "upfirdn2d", "f must be taps (k) or a filter (fh,fw)",
           "[2, 2, 2]");
  gr_tensor *f0 = TU_OK(gr_zeros(GR_F32, 2, (int64_t[]){0, 3}));
  TU_ERROR(gr_upfirdn2d(x, f0, d), "upfirdn2d", "f is empty", "[0, 3]");
  gr_tensor *xe = TU_OK(gr_zeros(GR_F32, 4, (int64_t[]){1, 1, 0, 4}));
  TU_ERROR(gr_upfirdn2d(xe, f, d), "upfirdn2d", "empty planes", "[1, 1, 0, 4]");
  TU_ERROR(gr_upfirdn2d(x, f, args(0, 1, 1, 1, 0, 0, 0, 0, false, 1)), "upfirdn2d",
           "up (0, 1) and down (1, 1) must be at least 1", "[1, 2, 4, 4]");
  TU_ERROR(gr_upfirdn2d(x, f, args(1, 1, 1, -2, 0, 0, 0, 0, false, 1)), "upfirdn2d",
           "down (1, -2)", NULL);
  TU_ERROR(gr_upfirdn2d(x, f, args(1, 1, 1, 1, 0, 0, 0, 0, false, NAN)), "upfirdn2d",
           "gain must be finite", NULL);
  /* 4 pixels cropped by 1 are smaller than 4 taps */
  TU_ERROR(gr_upfirdn2d(x, f, args(1, 1, 1, 1, 0, 0, -1, 0, false, 1)), "upfirdn2d",
           "the output is empty", "3x4, smaller than the filter 4x4");
  /* the filter is a constant: refused when it requires a gradient, in the
   * forward; and a rule asked for its gradient later fails */
  gr_tensor *fg = tu_rand(TU_SHAPE(4), 0, 1);
  gr_set_requires_grad(fg, true);
  TU_ERROR(gr_upfirdn2d(x, fg, d), "upfirdn2d", "requires a gradient", "constant");
  gr_set_requires_grad(fg, false);
  gr_set_requires_grad(x, true);
  gr_tensor *y = TU_OK(gr_upfirdn2d(x, fg, d)), *grads[2];
  gr_set_requires_grad(fg, true);
  gr_tensor *s = TU_OK(gr_sum(y, 0, NULL, false)), *xs[2] = {x, fg};
  assert_int_not_equal(gr_grad(1, &s, 2, xs, NULL, grads), GR_OK);
  assert_non_null(strstr(gr_errmsg(), "takes no gradient"));
  /* NULL in, NULL out, the message kept */
  gr_clear_error();
  assert_null(gr_upfirdn2d(NULL, f, d));
  gr_release(s);
  gr_release(y);
  gr_release(fg);
  gr_release(xe);
  gr_release(f0);
  gr_release(f3);
  gr_release(fi);
  gr_release(xi);
  gr_release(x3);
  gr_release(f);
  gr_release(x);
}

int main(void) {
  tu_keep_state();
  const struct CMUnitTest tests[] = {
      TU_TEST(test_forward_against_reference),
      TU_TEST(test_flip_and_shape),
      TU_TEST(test_gradients),
      TU_TEST(test_rule_is_the_op),
      TU_TEST(test_thread_count_independent),
      TU_TEST(test_isa_twins),
      TU_TEST(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
