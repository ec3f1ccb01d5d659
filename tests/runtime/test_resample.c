/* Pooling and resampling: forwards against double-precision loops, first
 * and second order gradients (also of the backward ops), bad arguments. */
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

static void expect_msg(gr_tensor *t, const char *a, const char *b, const char *c) {
  assert_null(t);
  const char *m = gr_errmsg();
  if (a && !strstr(m, a)) fail_msg("message \"%s\" lacks \"%s\"", m, a);
  if (b && !strstr(m, b)) fail_msg("message \"%s\" lacks \"%s\"", m, b);
  if (c && !strstr(m, c)) fail_msg("message \"%s\" lacks \"%s\"", m, c);
}

/* distinct values, at least 0.05 apart, in a scrambled order: no ties within h */
static gr_tensor *distinct(int ndim, const int64_t *shape) {
  gr_tensor *t = tu_rand(ndim, shape, 0, 1);
  int64_t n = gr_numel(t);
  float *p = gr_f32(t);
  int64_t step = 37; /* coprime with n, so i*step mod n is a permutation */
  for (;;) {
    int64_t a = step, b = n;
    while (b) {
      int64_t t = a % b;
      a = b;
      b = t;
    }
    if (a == 1) break;
    step += 2;
  }
  for (int64_t i = 0; i < n; i++) p[i] = (float)((i * step) % n) * 0.05f - 0.03f * (float)n;
  return t;
}

/* --- the backward op of an op, as a function of the incoming gradient ------------------
 * dx = d<f(ins), g>/d ins[0]; recorded (create_graph) when grad mode is on at
 * the call, so gradchecks of it test the backward op's own rule. */

typedef struct bwd_ctx {
  tu_fn f;
  void *ctx;
  gr_tensor *ins[2];
} bwd_ctx;

static gr_tensor *f_bwd(gr_tensor *const *in, void *ctx) {
  bwd_ctx *c = ctx;
  bool create = gr_grad_enabled();
  bool prev = gr_set_grad_enabled(true);
  gr_tensor *y = c->f(c->ins, c->ctx), *dx = NULL;
  if (y) {
    gr_grad_opts o = {.grad_outputs = &in[0], .create_graph = create};
    if (gr_grad(1, &y, 1, &c->ins[0], &o, &dx) != GR_OK) dx = NULL;
  }
  gr_set_grad_enabled(prev);
  gr_release(y);
  return dx;
}

/* gradchecks of the op and of its backward op */
static void check_grads(tu_fn f, void *ctx, int nin, gr_tensor **in) {
  TU_GRADCHECK(f, ctx, nin, in);
  TU_GRADGRADCHECK(f, ctx, nin, in);
  bwd_ctx b = {f, ctx, {in[0], nin > 1 ? in[1] : NULL}};
  gr_set_requires_grad(in[0], true);
  bool prev = gr_set_grad_enabled(false);
  gr_tensor *y = TU_OK(f(in, ctx));
  gr_set_grad_enabled(prev);
  gr_tensor *g = tu_rand(y->ndim, y->shape, -1, 1);
  TU_GRADCHECK(f_bwd, &b, 1, &g);
  TU_GRADGRADCHECK(f_bwd, &b, 1, &g);
  gr_release(g);
  gr_release(y);
}

/* --- pooling ------------------------------------------------------------------------- */

typedef struct pool_p {
  int kh, kw, sh, sw, ph, pw;
} pool_p;

static gr_tensor *f_avg(gr_tensor *const *in, void *ctx) {
  pool_p *p = ctx;
  return gr_avg_pool2d(in[0], p->kh, p->kw, p->sh, p->sw, p->ph, p->pw);
}

static gr_tensor *f_max(gr_tensor *const *in, void *ctx) {
  pool_p *p = ctx;
  return gr_max_pool2d(in[0], p->kh, p->kw, p->sh, p->sw, p->ph, p->pw);
}

/* average (max == false; padding counts in the divisor) or max over windows */
static double *ref_pool(const gr_tensor *x, const pool_p *p, bool max, int64_t *ho, int64_t *wo) {
  int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1], P = gr_numel(x) / (H * W);
  int64_t Ho = (H + 2 * p->ph - p->kh) / p->sh + 1, Wo = (W + 2 * p->pw - p->kw) / p->sw + 1;
  double *v = values(x), *r = malloc((size_t)(P * Ho * Wo) * sizeof *r);
  for (int64_t q = 0; q < P; q++)
    for (int64_t i = 0; i < Ho; i++)
      for (int64_t j = 0; j < Wo; j++) {
        double acc = max ? -INFINITY : 0;
        for (int a = 0; a < p->kh; a++)
          for (int b = 0; b < p->kw; b++) {
            int64_t h = i * p->sh - p->ph + a, w = j * p->sw - p->pw + b;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            double e = v[(q * H + h) * W + w];
            acc = max ? fmax(acc, e) : acc + e;
          }
        r[(q * Ho + i) * Wo + j] = max ? acc : acc / (p->kh * p->kw);
      }
  free(v);
  *ho = Ho;
  *wo = Wo;
  return r;
}

static void check_pool_forward(gr_tensor *x, pool_p p, bool max) {
  int64_t ho, wo;
  double *r = ref_pool(x, &p, max, &ho, &wo);
  gr_tensor *y = TU_OK(max ? f_max(&x, &p) : f_avg(&x, &p));
  assert_int_equal(y->ndim, x->ndim);
  assert_int_equal(y->shape[y->ndim - 2], ho);
  assert_int_equal(y->shape[y->ndim - 1], wo);
  TU_CLOSE_D(y, r, 1e-6, 1e-5);
  gr_tensor *xn = tu_noncontig(x), *yn = TU_OK(max ? f_max(&xn, &p) : f_avg(&xn, &p));
  TU_CLOSE(yn, y, 0, 0);
  gr_release(yn);
  gr_release(xn);
  gr_release(y);
  free(r);
}

static const pool_p pool_cases[] = {
    {3, 2, 2, 1, 1, 1}, {2, 2, 2, 2, 0, 0}, {3, 3, 1, 1, 1, 1}, {1, 3, 1, 2, 0, 1}, {4, 3, 3, 2, 2, 0},
};

static void test_avg_pool_forward(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3, 7, 6), -1, 1), *x3 = tu_rand(TU_SHAPE(3, 5, 5), -1, 1);
  for (size_t k = 0; k < sizeof pool_cases / sizeof *pool_cases; k++) {
    check_pool_forward(x, pool_cases[k], false);
    check_pool_forward(x3, pool_cases[k], false);
  }
  gr_release(x);
  gr_release(x3);
}

static void test_max_pool_forward(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3, 7, 6), -2, -1); /* negative: padding must not win */
  gr_tensor *x3 = distinct(TU_SHAPE(3, 5, 5));
  for (size_t k = 0; k < sizeof pool_cases / sizeof *pool_cases; k++) {
    check_pool_forward(x, pool_cases[k], true);
    check_pool_forward(x3, pool_cases[k], true);
  }
  /* the gradient reaches the winner only, summed where windows overlap */
  gr_tensor *v = TU_OK(gr_from_f32((float[]){1, 5, 2, 0, 3, 4, 9, 8, 7}, 4, (int64_t[]){1, 1, 3, 3}));
  gr_set_requires_grad(v, true);
  gr_tensor *y = TU_OK(gr_max_pool2d(v, 2, 2, 1, 1, 0, 0)), *s = TU_OK(gr_sum(y, 0, NULL, false));
  assert_string_equal(gr_grad_fn_name(y), "max_pool2d");
  gr_tensor *g;
  assert_int_equal(gr_grad(1, &s, 1, &v, NULL, &g), GR_OK);
  double want[9] = {0, 2, 0, 0, 0, 0, 1, 1, 0};
  TU_CLOSE_D(g, want, 0, 0);
  gr_release(g);
  gr_release(s);
  gr_release(y);
  gr_release(v);
  /* ties: the first maximum in scan order takes the gradient */
  gr_tensor *t = TU_OK(gr_full(GR_F32, 4, (int64_t[]){1, 1, 2, 3}, 2.0));
  gr_set_requires_grad(t, true);
  y = TU_OK(gr_max_pool2d(t, 2, 2, 1, 1, 0, 1));
  s = TU_OK(gr_sum(y, 0, NULL, false));
  assert_int_equal(gr_grad(1, &s, 1, &t, NULL, &g), GR_OK);
  double want_t[6] = {2, 1, 1, 0, 0, 0}; /* windows start at columns -1, 0, 1, 2 */
  TU_CLOSE_D(g, want_t, 0, 0);
  gr_release(g);
  gr_release(s);
  gr_release(y);
  gr_release(t);
  gr_release(x);
  gr_release(x3);
}

static void test_pool_grads(void **state) {
  pool_p cases[] = {{3, 2, 2, 1, 1, 1}, {2, 2, 2, 2, 0, 0}};
  for (int k = 0; k < 2; k++) {
    gr_tensor *x = tu_rand(TU_SHAPE(2, 2, 5, 4), -1, 1);
    check_grads(f_avg, &cases[k], 1, &x);
    gr_release(x);
    gr_tensor *d = distinct(TU_SHAPE(2, 2, 5, 4)), *dn = tu_noncontig(d);
    check_grads(f_max, &cases[k], 1, &dn);
    gr_release(dn);
    gr_release(d);
  }
  /* (C,H,W) inputs */
  gr_tensor *d3 = distinct(TU_SHAPE(2, 5, 4));
  check_grads(f_max, &cases[0], 1, &d3);
  check_grads(f_avg, &cases[0], 1, &d3);
  gr_release(d3);
}

/* --- upsampling -------------------------------------------------------------------- */

typedef struct up_p {
  int64_t oh, ow;
  bool align;
} up_p;

static gr_tensor *f_nearest(gr_tensor *const *in, void *ctx) {
  up_p *p = ctx;
  return gr_upsample_nearest2d(in[0], p->oh, p->ow, 0, 0);
}

static gr_tensor *f_bilinear(gr_tensor *const *in, void *ctx) {
  up_p *p = ctx;
  return gr_upsample_bilinear2d(in[0], p->oh, p->ow, p->align, 0, 0);
}

/* source position of output index o, in double */
static double bl_src(int64_t o, int64_t in, int64_t out, bool align) {
  if (align) return out > 1 ? (double)o * (double)(in - 1) / (double)(out - 1) : 0;
  double s = ((double)o + 0.5) * (double)in / (double)out - 0.5;
  return s < 0 ? 0 : s;
}

static double *ref_resize(const gr_tensor *x, const up_p *p, bool linear) {
  int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1], P = gr_numel(x) / (H * W);
  double *v = values(x), *r = malloc((size_t)(P * p->oh * p->ow) * sizeof *r);
  for (int64_t q = 0; q < P; q++)
    for (int64_t i = 0; i < p->oh; i++)
      for (int64_t j = 0; j < p->ow; j++) {
        const double *xp = v + q * H * W;
        double out;
        if (!linear) {
          out = xp[(int64_t)floor((double)i * H / p->oh) * W + (int64_t)floor((double)j * W / p->ow)];
        } else {
          double sy = bl_src(i, H, p->oh, p->align), sx = bl_src(j, W, p->ow, p->align);
          int64_t y0 = (int64_t)floor(sy), x0 = (int64_t)floor(sx);
          int64_t y1 = y0 + 1 < H ? y0 + 1 : H - 1, x1 = x0 + 1 < W ? x0 + 1 : W - 1;
          double ty = sy - y0, tx = sx - x0;
          out = (1 - ty) * ((1 - tx) * xp[y0 * W + x0] + tx * xp[y0 * W + x1]) +
                ty * ((1 - tx) * xp[y1 * W + x0] + tx * xp[y1 * W + x1]);
        }
        r[(q * p->oh + i) * p->ow + j] = out;
      }
  free(v);
  return r;
}

static void check_resize_forward(gr_tensor *x, up_p p, bool linear) {
  double *r = ref_resize(x, &p, linear);
  gr_tensor *y = TU_OK(linear ? f_bilinear(&x, &p) : f_nearest(&x, &p));
  assert_int_equal(y->shape[y->ndim - 2], p.oh);
  assert_int_equal(y->shape[y->ndim - 1], p.ow);
  TU_CLOSE_D(y, r, 1e-5, 1e-5);
  gr_tensor *xn = tu_noncontig(x), *yn = TU_OK(linear ? f_bilinear(&xn, &p) : f_nearest(&xn, &p));
  TU_CLOSE(yn, y, 0, 0);
  gr_release(yn);
  gr_release(xn);
  gr_release(y);
  free(r);
}

static const up_p up_cases[] = {{7, 9, 0}, {3, 2, 0}, {5, 4, 0}, {1, 1, 0}, {10, 8, 0}, {2, 11, 0}};

static void test_upsample_forward(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3, 5, 4), -1, 1), *x3 = tu_rand(TU_SHAPE(2, 3, 1), -1, 1);
  for (size_t k = 0; k < sizeof up_cases / sizeof *up_cases; k++) {
    for (int align = 0; align < 2; align++) {
      up_p p = up_cases[k];
      p.align = align;
      check_resize_forward(x, p, true);
      check_resize_forward(x3, p, true);
    }
    check_resize_forward(x, up_cases[k], false);
    check_resize_forward(x3, up_cases[k], false);
  }
  /* doubling repeats each pixel twice */
  gr_tensor *s = TU_OK(gr_from_f32((float[]){1, 2, 3, 4}, 3, (int64_t[]){1, 2, 2}));
  gr_tensor *u = TU_OK(gr_upsample_nearest2d(s, 4, 4, 0, 0));
  double want[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
  TU_CLOSE_D(u, want, 0, 0);
  /* align_corners keeps the corners */
  gr_tensor *b = TU_OK(gr_upsample_bilinear2d(s, 3, 3, true, 0, 0));
  double wantb[9] = {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4};
  TU_CLOSE_D(b, wantb, 1e-6, 0);
  gr_release(b);
  gr_release(u);
  gr_release(s);
  gr_release(x);
  gr_release(x3);
}

static void test_upsample_grads(void **state) {
  /* the last: exactly twice the size (nearest without its tables) */
  up_p cases[] = {{7, 5, 0}, {2, 3, 1}, {6, 2, 1}, {3, 7, 0}, {8, 10, 0}};
  for (int k = 0; k < 5; k++) {
    gr_tensor *x = tu_rand(TU_SHAPE(2, 2, 4, 5), -1, 1), *xn = tu_noncontig(x);
    check_grads(f_nearest, &cases[k], 1, &x);
    check_grads(f_bilinear, &cases[k], 1, &xn);
    gr_release(xn);
    gr_release(x);
  }
  gr_tensor *x3 = tu_rand(TU_SHAPE(2, 3, 4), -1, 1);
  check_grads(f_bilinear, &cases[0], 1, &x3);
  check_grads(f_nearest, &cases[1], 1, &x3);
  gr_release(x3);
}

/* --- pad2d ------------------------------------------------------------------------- */

typedef struct pad_p {
  int l, r, t, b;
  gr_pad_mode mode;
} pad_p;

static gr_tensor *f_pad(gr_tensor *const *in, void *ctx) {
  pad_p *p = ctx;
  return gr_pad2d(in[0], p->l, p->r, p->t, p->b, p->mode);
}

/* source of padded index i (already shifted by the leading pad), or -1 */
static int64_t ref_src(int64_t i, int64_t n, gr_pad_mode m) {
  if (i >= 0 && i < n) return i;
  if (m == GR_PAD_ZEROS) return -1;
  if (m == GR_PAD_REPLICATE) return i < 0 ? 0 : n - 1;
  return i < 0 ? -i : 2 * n - 2 - i;
}

static void check_pad_forward(gr_tensor *x, pad_p p) {
  int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1], P = gr_numel(x) / (H * W);
  int64_t Ho = H + p.t + p.b, Wo = W + p.l + p.r;
  double *v = values(x), *r = malloc((size_t)(P * Ho * Wo) * sizeof *r);
  for (int64_t q = 0; q < P; q++)
    for (int64_t i = 0; i < Ho; i++)
      for (int64_t j = 0; j < Wo; j++) {
        int64_t si = ref_src(i - p.t, H, p.mode), sj = ref_src(j - p.l, W, p.mode);
        r[(q * Ho + i) * Wo + j] = si < 0 || sj < 0 ? 0 : v[(q * H + si) * W + sj];
      }
  gr_tensor *y = TU_OK(f_pad(&x, &p));
  assert_int_equal(y->shape[y->ndim - 2], Ho);
  assert_int_equal(y->shape[y->ndim - 1], Wo);
  TU_CLOSE_D(y, r, 0, 0);
  gr_tensor *xn = tu_noncontig(x), *yn = TU_OK(f_pad(&xn, &p));
  TU_CLOSE(yn, y, 0, 0);
  gr_release(yn);
  gr_release(xn);
  gr_release(y);
  free(v);
  free(r);
}

static void test_pad_forward(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3, 4, 5), -1, 1), *x2 = tu_rand(TU_SHAPE(3, 4), -1, 1);
  gr_pad_mode modes[3] = {GR_PAD_ZEROS, GR_PAD_REFLECT, GR_PAD_REPLICATE};
  pad_p cases[] = {{2, 1, 3, 0, 0}, {0, 0, 0, 0, 0}, {4, 4, 1, 2, 0}, {1, 0, 0, 3, 0}};
  for (int m = 0; m < 3; m++)
    for (int k = 0; k < 4; k++) {
      pad_p p = cases[k];
      p.mode = modes[m];
      check_pad_forward(x, p);
      if (p.l < 3 && p.r < 3 && p.t < 3 && p.b < 3) check_pad_forward(x2, p); /* x2 is 3x4 */
    }
  gr_release(x);
  gr_release(x2);
}

static void test_pad_grads(void **state) {
  gr_pad_mode modes[3] = {GR_PAD_ZEROS, GR_PAD_REFLECT, GR_PAD_REPLICATE};
  for (int m = 0; m < 3; m++) {
    pad_p p = {2, 1, 3, 2, modes[m]};
    gr_tensor *x = tu_rand(TU_SHAPE(2, 2, 4, 3), -1, 1), *xn = tu_noncontig(x);
    check_grads(f_pad, &p, 1, m == 1 ? &xn : &x);
    gr_tensor *x2 = tu_rand(TU_SHAPE(3, 4), -1, 1); /* a single (H,W) plane */
    pad_p p2 = {1, 2, 0, 2, modes[m]};
    check_grads(f_pad, &p2, 1, &x2);
    gr_release(x2);
    gr_release(xn);
    gr_release(x);
  }
}

/* --- grid_sample ------------------------------------------------------------------- */

typedef struct gs_p {
  gr_pad_mode mode;
  bool align;
} gs_p;

static gr_tensor *f_gs(gr_tensor *const *in, void *ctx) {
  gs_p *p = ctx;
  return gr_grid_sample(in[0], in[1], p->mode, p->align);
}

/* PyTorch's definition, in double */
static double ref_coord(double v, int64_t size, gr_pad_mode m, bool align) {
  double c = align ? (v + 1) / 2 * (double)(size - 1) : ((v + 1) * (double)size - 1) / 2;
  if (m == GR_PAD_REFLECT) {
    double lo2 = align ? 0 : -1, hi2 = align ? 2.0 * (double)(size - 1) : 2.0 * (double)size - 1;
    if (lo2 == hi2) {
      c = 0;
    } else {
      double lo = lo2 / 2, span = (hi2 - lo2) / 2, a = fabs(c - lo), e = fmod(a, span);
      c = (int64_t)floor(a / span) % 2 == 0 ? e + lo : span - e + lo;
    }
  }
  if (m != GR_PAD_ZEROS) c = fmin(fmax(c, 0), (double)(size - 1));
  return c;
}

static double *ref_grid_sample(const gr_tensor *x, const gr_tensor *grid, gs_p p) {
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  int64_t Ho = grid->shape[1], Wo = grid->shape[2];
  double *v = values(x), *g = values(grid), *r = malloc((size_t)(N * C * Ho * Wo) * sizeof *r);
  for (int64_t n = 0; n < N; n++)
    for (int64_t i = 0; i < Ho * Wo; i++) {
      double cx = ref_coord(g[(n * Ho * Wo + i) * 2], W, p.mode, p.align);
      double cy = ref_coord(g[(n * Ho * Wo + i) * 2 + 1], H, p.mode, p.align);
      double fx = floor(cx), fy = floor(cy), tx = cx - fx, ty = cy - fy;
      for (int64_t c = 0; c < C; c++) {
        double out = 0;
        for (int k = 0; k < 4; k++) {
          int64_t yy = (int64_t)fy + (k >> 1), xx = (int64_t)fx + (k & 1);
          if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
          double w = ((k >> 1) ? ty : 1 - ty) * ((k & 1) ? tx : 1 - tx);
          out += w * v[((n * C + c) * H + yy) * W + xx];
        }
        r[(n * C + c) * Ho * Wo + i] = out;
      }
    }
  free(v);
  free(g);
  return r;
}

static const gs_p gs_cases[6] = {{GR_PAD_ZEROS, false},   {GR_PAD_ZEROS, true},
                                 {GR_PAD_REPLICATE, false}, {GR_PAD_REPLICATE, true},
                                 {GR_PAD_REFLECT, false}, {GR_PAD_REFLECT, true}};

static void test_grid_sample_forward(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3, 5, 6), -1, 1);
  gr_tensor *grid = tu_rand(TU_SHAPE(2, 4, 7, 2), -1.6, 1.6); /* some points far outside */
  gr_tensor *x1 = tu_rand(TU_SHAPE(1, 2, 1, 1), -1, 1), *grid1 = tu_rand(TU_SHAPE(1, 3, 2, 2), -2, 2);
  gr_tensor *xn = tu_noncontig(x), *gn = tu_noncontig(grid);
  for (int k = 0; k < 6; k++) {
    gs_p p = gs_cases[k];
    double *r = ref_grid_sample(x, grid, p);
    gr_tensor *y = TU_OK(gr_grid_sample(x, grid, p.mode, p.align));
    assert_int_equal(y->shape[1], 3);
    assert_int_equal(y->shape[2], 4);
    assert_int_equal(y->shape[3], 7);
    TU_CLOSE_D(y, r, 1e-5, 1e-5);
    gr_tensor *yn = TU_OK(gr_grid_sample(xn, gn, p.mode, p.align));
    TU_CLOSE(yn, y, 0, 0);
    free(r);
    /* single-pixel images */
    r = ref_grid_sample(x1, grid1, p);
    gr_tensor *y1 = TU_OK(gr_grid_sample(x1, grid1, p.mode, p.align));
    TU_CLOSE_D(y1, r, 1e-5, 1e-5);
    free(r);
    gr_release(y1);
    gr_release(yn);
    gr_release(y);
  }
  /* the identity grid with align_corners reproduces x */
  float id[2 * 5 * 6];
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 6; j++) {
      id[(i * 6 + j) * 2] = (float)(2.0 * j / 5 - 1);
      id[(i * 6 + j) * 2 + 1] = (float)(2.0 * i / 4 - 1);
    }
  gr_tensor *gid0 = TU_OK(gr_from_f32(id, 4, (int64_t[]){1, 5, 6, 2}));
  gr_tensor *gid = TU_OK(gr_expand(gid0, 4, (int64_t[]){2, 5, 6, 2}));
  gr_tensor *yid = TU_OK(gr_grid_sample(x, gid, GR_PAD_ZEROS, true));
  TU_CLOSE(yid, x, 1e-6, 0);
  /* NaN grid values read nothing (zeros) or the border pixel, and never crash */
  gr_tensor *gnan = TU_OK(gr_full(GR_F32, 4, (int64_t[]){2, 1, 1, 2}, NAN));
  gr_tensor *ynan = TU_OK(gr_grid_sample(x, gnan, GR_PAD_ZEROS, false));
  assert_float_equal(gr_get_flat(ynan, 0), 0, 0);
  gr_release(ynan);
  ynan = TU_OK(gr_grid_sample(x, gnan, GR_PAD_REFLECT, false));
  gr_release(ynan);
  gr_release(gnan);
  gr_release(yid);
  gr_release(gid);
  gr_release(gid0);
  gr_release(xn);
  gr_release(gn);
  gr_release(x1);
  gr_release(grid1);
  gr_release(x);
  gr_release(grid);
}

static double next_frac(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (double)((*s >> 8) & 0xFFFF) / 65536.0;
}

/* A grid whose pixel coordinates sit at least 0.15 from every integer and
 * half-integer, some of them outside the image: no kink of the sampling
 * (pixel edges, image borders, reflection points) lies within a
 * finite-difference step. */
static gr_tensor *smooth_grid(int64_t n, int64_t ho, int64_t wo, int64_t h, int64_t w, bool align,
                              unsigned seed) {
  gr_tensor *g = TU_OK(gr_empty(GR_F32, 4, (int64_t[]){n, ho, wo, 2}));
  float *p = gr_f32(g);
  for (int64_t i = 0; i < n * ho * wo * 2; i++) {
    int64_t size = i % 2 ? h : w;
    double whole = floor(next_frac(&seed) * (double)(size + 4)) - 2; /* -2 .. size+1 */
    double f = 0.15 + 0.2 * next_frac(&seed);
    if (next_frac(&seed) < 0.5) f += 0.5;
    double u = whole + f;
    p[i] = (float)(align ? 2 * u / (double)(size - 1) - 1 : (2 * u + 1) / (double)size - 1);
  }
  return g;
}

/* grid_sample's backward op as a function of g and the grid: in[0] = g, in[1] = grid */
static gr_tensor *f_gs_bwd(gr_tensor *const *in, void *ctx) {
  bwd_ctx *c = ctx;
  bwd_ctx b = {f_gs, c->ctx, {c->ins[0], in[1]}};
  return f_bwd(in, &b);
}

static void test_grid_sample_grads(void **state) {
  for (int k = 0; k < 6; k++) {
    gs_p p = gs_cases[k];
    gr_tensor *x = tu_rand(TU_SHAPE(2, 2, 4, 5), -1, 1);
    gr_tensor *grid = smooth_grid(2, 3, 4, 4, 5, p.align, 7u + (unsigned)k);
    gr_tensor *in[2] = {x, grid};
    TU_GRADCHECK(f_gs, &p, 2, in);
    /* second order in x and in the grid: d(|dx|^2 + |dgrid|^2) */
    TU_GRADGRADCHECK(f_gs, &p, 2, in);
    /* the backward in x (grid_sample_backward) as a function of g */
    bwd_ctx b = {f_gs, &p, {x, grid}};
    gr_tensor *g = tu_rand(TU_SHAPE(2, 2, 3, 4), -1, 1);
    TU_GRADCHECK(f_bwd, &b, 1, &g);
    TU_GRADGRADCHECK(f_bwd, &b, 1, &g);
    /* ... and of g and the grid together */
    gr_tensor *gg[2] = {g, grid};
    TU_GRADCHECK(f_gs_bwd, &b, 2, gg);
    TU_GRADGRADCHECK(f_gs_bwd, &b, 2, gg);
    gr_release(g);
    gr_release(grid);
    gr_release(x);
  }
}

/* the fused rule and the rule built from ops give the same gradients */
static void test_grid_sample_fused_matches_graph(void **state) {
  for (int k = 0; k < 6; k++) {
    gs_p p = gs_cases[k];
    gr_tensor *x = tu_rand(TU_SHAPE(2, 3, 6, 5), -1, 1), *grid = tu_rand(TU_SHAPE(2, 4, 3, 2), -1.3, 1.3);
    gr_tensor *gn = tu_noncontig(grid);
    gr_set_requires_grad(x, true);
    gr_set_requires_grad(gn, true);
    gr_tensor *in[2] = {x, gn};
    gr_tensor *y = TU_OK(f_gs(in, &p)), *w = tu_rand(y->ndim, y->shape, -1, 1);
    gr_tensor *fused[2], *graph[2];
    gr_grad_opts o = {.grad_outputs = &w, .retain_graph = true};
    assert_int_equal(gr_grad(1, &y, 2, in, &o, fused), GR_OK);
    o.create_graph = true;
    assert_int_equal(gr_grad(1, &y, 2, in, &o, graph), GR_OK);
    assert_true(graph[0]->requires_grad);
    TU_CLOSE(graph[0], fused[0], 1e-5, 1e-5);
    TU_CLOSE(graph[1], fused[1], 1e-5, 1e-5);
    for (int i = 0; i < 2; i++) {
      gr_release(fused[i]);
      gr_release(graph[i]);
    }
    gr_release(w);
    gr_release(y);
    gr_release(gn);
    gr_release(grid);
    gr_release(x);
  }
}

/* an R1-style penalty through grid_sample: graphs are freed afterwards */
static void test_penalty_frees_graph(void **state) {
  int64_t nodes0 = gr_live_nodes(), tensors0 = gr_live_tensors();
  gr_tensor *x = tu_rand(TU_SHAPE(1, 2, 6, 6), -1, 1), *grid = tu_rand(TU_SHAPE(1, 4, 4, 2), -1, 1);
  gr_set_requires_grad(x, true);
  gr_set_requires_grad(grid, true);
  gr_pool_push();
  gr_tensor *y = gr_avg_pool2d(gr_pad2d(gr_grid_sample(x, grid, GR_PAD_REFLECT, false), 1, 1, 1, 1,
                                        GR_PAD_REFLECT), 2, 2, 2, 2, 0, 0);
  gr_tensor *s = TU_OK(gr_sum(gr_mul(y, y), 0, NULL, false)), *g[2];
  gr_tensor *ins[2] = {x, grid};
  gr_grad_opts o = {.create_graph = true};
  assert_int_equal(gr_grad(1, &s, 2, ins, &o, g), GR_OK);
  gr_tensor *pen = TU_OK(gr_add(gr_sum(gr_mul(g[0], g[0]), 0, NULL, false),
                                gr_sum(gr_mul(g[1], g[1]), 0, NULL, false)));
  gr_tensor *gg[2];
  assert_int_equal(gr_grad(1, &pen, 2, ins, NULL, gg), GR_OK);
  assert_true(isfinite(gr_get_flat(gg[0], 0)) && isfinite(gr_get_flat(gg[1], 0)));
  gr_pool_pop();
  gr_release(x);
  gr_release(grid);
  assert_int_equal(gr_live_nodes(), nodes0);
  assert_int_equal(gr_live_tensors(), tensors0);
}

/* large enough to run on several threads: two runs agree bit for bit */
static void test_deterministic(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 8, 40, 40), -1, 1), *grid = tu_rand(TU_SHAPE(2, 40, 40, 2), -1.2, 1.2);
  gr_set_requires_grad(x, true);
  gr_set_requires_grad(grid, true);
  gr_tensor *runs[2][2];
  for (int r = 0; r < 2; r++) {
    gr_pool_push();
    gr_tensor *y = gr_upsample_bilinear2d(gr_grid_sample(x, grid, GR_PAD_REFLECT, false), 57, 61, false, 0, 0);
    y = gr_max_pool2d(gr_pad2d(y, 1, 2, 2, 1, GR_PAD_REPLICATE), 3, 3, 2, 2, 1, 1);
    y = gr_avg_pool2d(gr_upsample_nearest2d(y, 45, 50, 0, 0), 3, 2, 2, 2, 1, 0);
    gr_tensor *s = TU_OK(gr_sum(gr_mul(y, y), 0, NULL, false)), *ins[2] = {x, grid};
    assert_int_equal(gr_grad(1, &s, 2, ins, NULL, runs[r]), GR_OK);
    gr_retain(runs[r][0]);
    gr_retain(runs[r][1]);
    gr_pool_pop();
  }
  TU_CLOSE(runs[0][0], runs[1][0], 0, 0);
  TU_CLOSE(runs[0][1], runs[1][1], 0, 0);
  for (int r = 0; r < 2; r++) {
    gr_release(runs[r][0]);
    gr_release(runs[r][1]);
  }
  gr_release(x);
  gr_release(grid);
}

/* --- bad arguments ------------------------------------------------------------------- */

static void test_bad_arguments(void **state) {
  gr_tensor *x2 = tu_rand(TU_SHAPE(4, 5), 0, 1), *x = tu_rand(TU_SHAPE(1, 2, 3, 3), 0, 1);
  gr_tensor *xi = TU_OK(gr_zeros(GR_I64, 4, (int64_t[]){1, 1, 4, 4}));
  expect_msg(gr_avg_pool2d(x2, 2, 2, 2, 2, 0, 0), "avg_pool2d", "x", "[4, 5]");
  expect_msg(gr_avg_pool2d(x, 5, 5, 1, 1, 0, 0), "avg_pool2d", "larger", "[1, 2, 3, 3]");
  expect_msg(gr_max_pool2d(x, 4, 2, 1, 1, 0, 0), "max_pool2d", "kernel 4x2", "[1, 2, 3, 3]");
  expect_msg(gr_max_pool2d(x, 2, 2, 1, 1, 2, 0), "max_pool2d", "padding", "half");
  expect_msg(gr_max_pool2d(x, 2, 2, 0, 1, 0, 0), "max_pool2d", "stride", "[1, 2, 3, 3]");
  expect_msg(gr_max_pool2d(xi, 2, 2, 1, 1, 0, 0), "max_pool2d", "float32", "int64");
  expect_msg(gr_upsample_nearest2d(x, 0, 4, 0, 0), "upsample_nearest2d", "output size", "[1, 2, 3, 3]");
  expect_msg(gr_upsample_bilinear2d(x2, 4, 4, false, 0, 0), "upsample_bilinear2d", "x", "[4, 5]");
  expect_msg(gr_pad2d(x, 3, 0, 0, 0, GR_PAD_REFLECT), "pad2d", "reflect", "[1, 2, 3, 3]");
  expect_msg(gr_pad2d(x, 0, 0, 0, 3, GR_PAD_REFLECT), "pad2d", "bottom 3", "3x3");
  expect_msg(gr_pad2d(x, -1, 0, 0, 0, GR_PAD_ZEROS), "pad2d", "negative", "left -1");
  expect_msg(gr_pad2d(x, 1, 0, 0, 0, (gr_pad_mode)7), "pad2d", "mode", "[1, 2, 3, 3]");
  gr_tensor *grid = tu_rand(TU_SHAPE(2, 3, 3, 2), -1, 1), *grid3 = tu_rand(TU_SHAPE(1, 3, 3, 3), -1, 1);
  expect_msg(gr_grid_sample(x, grid, GR_PAD_ZEROS, false), "grid_sample", "grid", "[2, 3, 3, 2]");
  assert_non_null(strstr(gr_errmsg(), "[1, 2, 3, 3]"));
  expect_msg(gr_grid_sample(x, grid3, GR_PAD_ZEROS, false), "grid_sample", "grid", "[1, 3, 3, 3]");
  expect_msg(gr_grid_sample(x2, grid, GR_PAD_ZEROS, false), "grid_sample", "x", "[4, 5]");
  expect_msg(gr_grid_sample(x, grid, (gr_pad_mode)9, false), "grid_sample", NULL, NULL);
  /* NULL inputs give NULL and keep the first message */
  expect_msg(gr_avg_pool2d(gr_pad2d(x, -1, 0, 0, 0, GR_PAD_ZEROS), 2, 2, 1, 1, 0, 0), "pad2d", NULL, NULL);
  expect_msg(gr_grid_sample(NULL, grid, GR_PAD_ZEROS, false), "pad2d", NULL, NULL);
  expect_msg(gr_max_pool2d(NULL, 2, 2, 1, 1, 0, 0), "pad2d", NULL, NULL);
  expect_msg(gr_upsample_nearest2d(NULL, 2, 2, 0, 0), "pad2d", NULL, NULL);
  gr_release(grid);
  gr_release(grid3);
  gr_release(xi);
  gr_release(x);
  gr_release(x2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_avg_pool_forward),
      cmocka_unit_test(test_max_pool_forward),
      cmocka_unit_test(test_pool_grads),
      cmocka_unit_test(test_upsample_forward),
      cmocka_unit_test(test_upsample_grads),
      cmocka_unit_test(test_pad_forward),
      cmocka_unit_test(test_pad_grads),
      cmocka_unit_test(test_grid_sample_forward),
      cmocka_unit_test(test_grid_sample_grads),
      cmocka_unit_test(test_grid_sample_fused_matches_graph),
      cmocka_unit_test(test_penalty_frees_graph),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
