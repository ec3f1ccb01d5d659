/* Normalisation: batch, group, instance and layer norm against double
 * references; running statistics; first and second order gradients; the
 * fused and the composite backward agree. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* --- references (double) ------------------------------------------------------------- */

/* x is (N,C,S) in logical order; stats per (n, group) over Cg*S when per_sample,
 * else per channel over N*S (batch norm). w, b per channel (NULL: 1, 0). */
static void ref_norm(double *y, const double *x, int64_t N, int64_t C, int64_t S, int64_t G,
                     bool per_sample, const double *w, const double *b, const double *mean_in,
                     const double *var_in, double eps, double *mean_out, double *var_out) {
  int64_t Cg = C / G;
  if (!per_sample) {
    for (int64_t c = 0; c < C; c++) {
      double m = 0, v = 0, M = (double)(N * S);
      if (mean_in) {
        m = mean_in[c];
        v = var_in[c];
      } else {
        for (int64_t n = 0; n < N; n++)
          for (int64_t s = 0; s < S; s++) m += x[(n * C + c) * S + s];
        m /= M;
        for (int64_t n = 0; n < N; n++)
          for (int64_t s = 0; s < S; s++) v += pow(x[(n * C + c) * S + s] - m, 2);
        v /= M;
      }
      if (mean_out) mean_out[c] = m;
      if (var_out) var_out[c] = v;
      for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < S; s++) {
          int64_t i = (n * C + c) * S + s;
          y[i] = (x[i] - m) / sqrt(v + eps) * (w ? w[c] : 1) + (b ? b[c] : 0);
        }
    }
    return;
  }
  for (int64_t n = 0; n < N; n++)
    for (int64_t g = 0; g < G; g++) {
      const double *xs = x + (n * C + g * Cg) * S;
      double m = 0, v = 0, M = (double)(Cg * S);
      for (int64_t i = 0; i < Cg * S; i++) m += xs[i];
      m /= M;
      for (int64_t i = 0; i < Cg * S; i++) v += pow(xs[i] - m, 2);
      v /= M;
      for (int64_t j = 0; j < Cg; j++)
        for (int64_t s = 0; s < S; s++) {
          int64_t c = g * Cg + j, i = (n * C + c) * S + s;
          y[i] = (x[i] - m) / sqrt(v + eps) * (w ? w[c] : 1) + (b ? b[c] : 0);
        }
    }
}

static double *read_all(const gr_tensor *t) {
  if (!t) return NULL;
  double *d = malloc((size_t)(gr_numel(t) + 1) * sizeof *d);
  gr_read_all(t, d);
  return d;
}

static int64_t tail(const gr_tensor *x, int from) {
  int64_t n = 1;
  for (int d = from; d < x->ndim; d++) n *= x->shape[d];
  return n;
}

/* --- batch norm forward -------------------------------------------------------------- */

static void check_bn_forward(int ndim, const int64_t *shape, bool affine, bool noncontig) {
  gr_tensor *x0 = tu_rand(ndim, shape, -2, 3);
  gr_tensor *x = noncontig ? tu_noncontig(x0) : gr_retain(x0);
  int64_t N = shape[0], C = shape[1], S = tail(x, 2), cs[1] = {C};
  gr_tensor *w = affine ? tu_rand(1, cs, 0.5, 1.5) : NULL;
  gr_tensor *b = affine ? tu_rand(1, cs, -1, 1) : NULL;
  gr_tensor *rm = tu_rand(1, cs, -1, 1), *rv = tu_rand(1, cs, 0.5, 2);
  double *xd = read_all(x), *wd = read_all(w), *bd = read_all(b), *rm0 = read_all(rm),
         *rv0 = read_all(rv);
  double *ref = malloc((size_t)gr_numel(x) * sizeof *ref), mean[64], var[64];
  double eps = 1e-5, mom = 0.1;

  /* training: batch statistics, running ones updated with the unbiased variance */
  gr_tensor *y = TU_OK(gr_batch_norm(x, w, b, rm, rv, true, mom, eps));
  assert_true(gr_same_shape(y, x));
  ref_norm(ref, xd, N, C, S, 1, false, wd, bd, NULL, NULL, eps, mean, var);
  TU_CLOSE_D(y, ref, 1e-5, 1e-4);
  double M = (double)(N * S);
  for (int64_t c = 0; c < C; c++) {
    assert_float_equal(gr_get_flat(rm, c), (1 - mom) * rm0[c] + mom * mean[c], 1e-5);
    assert_float_equal(gr_get_flat(rv, c), (1 - mom) * rv0[c] + mom * var[c] * M / (M - 1), 1e-5);
  }
  gr_release(y);

  /* eval: the running statistics, which stay as they are */
  double *rm1 = read_all(rm), *rv1 = read_all(rv);
  y = TU_OK(gr_batch_norm(x, w, b, rm, rv, false, mom, eps));
  ref_norm(ref, xd, N, C, S, 1, false, wd, bd, rm1, rv1, eps, NULL, NULL);
  TU_CLOSE_D(y, ref, 1e-5, 1e-4);
  TU_CLOSE_D(rm, rm1, 0, 0);
  TU_CLOSE_D(rv, rv1, 0, 0);
  gr_release(y);

  /* training without running statistics */
  y = TU_OK(gr_batch_norm(x, w, b, NULL, NULL, true, mom, eps));
  ref_norm(ref, xd, N, C, S, 1, false, wd, bd, NULL, NULL, eps, NULL, NULL);
  TU_CLOSE_D(y, ref, 1e-5, 1e-4);
  gr_release(y);

  free(xd), free(wd), free(bd), free(rm0), free(rv0), free(rm1), free(rv1), free(ref);
  gr_release(x0), gr_release(x), gr_release(w), gr_release(b), gr_release(rm), gr_release(rv);
}

static void test_batch_norm_forward(void **state) {
  check_bn_forward(TU_SHAPE(5, 3), true, false);
  check_bn_forward(TU_SHAPE(7, 5), false, true);
  check_bn_forward(TU_SHAPE(4, 3, 5, 7), true, false);
  check_bn_forward(TU_SHAPE(4, 3, 5, 7), true, true);
  check_bn_forward(TU_SHAPE(2, 3, 5), false, false);
  check_bn_forward(TU_SHAPE(1, 3, 4, 3), true, true); /* N = 1 */
  check_bn_forward(TU_SHAPE(3, 1, 2, 2), true, false); /* one channel */
  check_bn_forward(TU_SHAPE(9, 17, 19, 13), true, false); /* big enough for threads */
}

static void test_batch_norm_momentum_and_offset(void **state) {
  /* large mean, small spread: the one-pass statistics must hold up */
  gr_tensor *x = tu_rand(TU_SHAPE(16, 2, 9), 1000, 1000.01);
  gr_tensor *rm = gr_zeros(GR_F32, 1, (int64_t[]){2}), *rv = gr_full(GR_F32, 1, (int64_t[]){2}, 1);
  gr_tensor *y = TU_OK(gr_batch_norm(x, NULL, NULL, rm, rv, true, 1.0, 1e-12));
  double *xd = read_all(x), ref[288], mean[2], var[2];
  ref_norm(ref, xd, 16, 2, 9, 1, false, NULL, NULL, NULL, NULL, 1e-12, mean, var);
  TU_CLOSE_D(y, ref, 2e-2, 0);
  /* momentum 1: the running values are the batch values */
  for (int c = 0; c < 2; c++) {
    assert_float_equal(gr_get_flat(rm, c), mean[c], 1e-3);
    assert_float_equal(gr_get_flat(rv, c), var[c] * 144 / 143, 1e-9 + 1e-2 * var[c]);
  }
  free(xd);
  gr_release(x), gr_release(y), gr_release(rm), gr_release(rv);
}

/* --- group, instance, layer norm forward ------------------------------------------------ */

static void check_gn_forward(int ndim, const int64_t *shape, int groups, bool affine,
                             bool noncontig, bool instance) {
  gr_tensor *x0 = tu_rand(ndim, shape, -2, 3);
  gr_tensor *x = noncontig ? tu_noncontig(x0) : gr_retain(x0);
  int64_t N = shape[0], C = shape[1], S = tail(x, 2), cs[1] = {C};
  gr_tensor *w = affine ? tu_rand(1, cs, 0.5, 1.5) : NULL;
  gr_tensor *b = affine ? tu_rand(1, cs, -1, 1) : NULL;
  double *xd = read_all(x), *wd = read_all(w), *bd = read_all(b);
  double *ref = malloc((size_t)gr_numel(x) * sizeof *ref);
  gr_tensor *y = instance ? TU_OK(gr_instance_norm(x, w, b, 1e-5))
                          : TU_OK(gr_group_norm(x, groups, w, b, 1e-5));
  ref_norm(ref, xd, N, C, S, instance ? C : groups, true, wd, bd, NULL, NULL, 1e-5, NULL, NULL);
  TU_CLOSE_D(y, ref, 1e-5, 1e-4);
  assert_string_equal(gr_grad_fn_name(y), "");
  free(xd), free(wd), free(bd), free(ref);
  gr_release(y), gr_release(x0), gr_release(x), gr_release(w), gr_release(b);
}

static void test_group_norm_forward(void **state) {
  check_gn_forward(TU_SHAPE(2, 6, 5), 3, true, false, false);
  check_gn_forward(TU_SHAPE(3, 4, 3, 5), 2, true, true, false);
  check_gn_forward(TU_SHAPE(3, 4, 3, 5), 1, false, false, false);
  check_gn_forward(TU_SHAPE(1, 6, 7), 6, true, true, false); /* N = 1, one channel per group */
  check_gn_forward(TU_SHAPE(5, 7), 7, false, false, false);   /* S = 1 */
  check_gn_forward(TU_SHAPE(4, 16, 23, 19), 4, true, false, false);
}

static void test_instance_norm_forward(void **state) {
  check_gn_forward(TU_SHAPE(2, 3, 5, 4), 0, true, false, true);
  check_gn_forward(TU_SHAPE(1, 5, 7, 3), 0, false, true, true);
  check_gn_forward(TU_SHAPE(2, 8, 33, 31), 0, true, false, true);
}

static void check_ln_forward(int ndim, const int64_t *shape, int nnorm, bool affine,
                             bool noncontig) {
  gr_tensor *x0 = tu_rand(ndim, shape, -2, 3);
  gr_tensor *x = noncontig ? tu_noncontig(x0) : gr_retain(x0);
  int64_t K = tail(x, ndim - nnorm), R = gr_numel(x) / K;
  gr_tensor *w = affine ? tu_rand(nnorm, shape + ndim - nnorm, 0.5, 1.5) : NULL;
  gr_tensor *b = affine ? tu_rand(nnorm, shape + ndim - nnorm, -1, 1) : NULL;
  double *xd = read_all(x), *wd = read_all(w), *bd = read_all(b);
  double *ref = malloc((size_t)gr_numel(x) * sizeof *ref);
  gr_tensor *y = TU_OK(gr_layer_norm(x, nnorm, w, b, 1e-5));
  assert_true(gr_same_shape(y, x));
  ref_norm(ref, xd, R, K, 1, 1, true, wd, bd, NULL, NULL, 1e-5, NULL, NULL);
  TU_CLOSE_D(y, ref, 1e-5, 1e-4);
  free(xd), free(wd), free(bd), free(ref);
  gr_release(y), gr_release(x0), gr_release(x), gr_release(w), gr_release(b);
}

static void test_layer_norm_forward(void **state) {
  check_ln_forward(TU_SHAPE(3, 4, 5), 2, true, false);
  check_ln_forward(TU_SHAPE(3, 4, 5), 1, true, true);
  check_ln_forward(TU_SHAPE(3, 4, 5), 3, false, false);
  check_ln_forward(TU_SHAPE(1, 7), 1, true, true);
  check_ln_forward(TU_SHAPE(5), 1, true, false);
  check_ln_forward(TU_SHAPE(300, 257), 1, true, false);
}

/* --- gradients ----------------------------------------------------------------------------- */

typedef struct norm_ctx {
  int kind; /* 0 batch (train), 1 batch (eval), 2 group, 3 instance, 4 layer */
  int groups, nnorm;
  gr_tensor *rm, *rv;
} norm_ctx;

static gr_tensor *f_norm(gr_tensor *const *in, void *p) {
  norm_ctx *c = p;
  switch (c->kind) {
    case 0: return gr_batch_norm(in[0], in[1], in[2], c->rm, c->rv, true, 0.1, 1e-5);
    case 1: return gr_batch_norm(in[0], in[1], in[2], c->rm, c->rv, false, 0.1, 1e-5);
    case 2: return gr_group_norm(in[0], c->groups, in[1], in[2], 1e-5);
    case 3: return gr_instance_norm(in[0], in[1], in[2], 1e-5);
    default: return gr_layer_norm(in[0], c->nnorm, in[1], in[2], 1e-5);
  }
}

/* y * y through the norm makes the loss non-linear in y, so the second order
 * also sees the rule's dependence on x through the statistics */
static gr_tensor *f_norm_sq(gr_tensor *const *in, void *p) {
  gr_pool_push();
  gr_tensor *y = f_norm(in, p);
  return gr_pool_pop_keep(gr_mul(y, y));
}

static void check_norm_grads(norm_ctx *c, int ndim, const int64_t *shape, bool affine,
                             bool second) {
  gr_tensor *x = tu_rand(ndim, shape, -2, 2);
  int64_t cs[GR_MAX_DIM], pn = 1;
  if (c->kind == 4) {
    pn = c->nnorm;
    memcpy(cs, shape + ndim - pn, (size_t)pn * sizeof *cs);
  } else {
    cs[0] = shape[1];
  }
  gr_tensor *w = affine ? tu_rand((int)pn, cs, 0.5, 1.5) : NULL;
  gr_tensor *b = affine ? tu_rand((int)pn, cs, -1, 1) : NULL;
  gr_tensor *in[3] = {x, w, b};
  TU_GRADCHECK(f_norm, c, 3, in);
  TU_GRADCHECK(f_norm_sq, c, 3, in);
  if (second) {
    TU_GRADGRADCHECK(f_norm, c, 3, in);
    TU_GRADGRADCHECK(f_norm_sq, c, 3, in);
  }
  gr_release(x), gr_release(w), gr_release(b);
}

static void test_batch_norm_grads(void **state) {
  norm_ctx c = {.kind = 0};
  check_norm_grads(&c, TU_SHAPE(4, 3, 2, 2), true, true);
  check_norm_grads(&c, TU_SHAPE(5, 2), false, true);
  check_norm_grads(&c, TU_SHAPE(1, 2, 3, 2), true, true); /* N = 1 */
  c.rm = tu_rand(TU_SHAPE(3), -1, 1);
  c.rv = tu_rand(TU_SHAPE(3), 0.5, 2);
  check_norm_grads(&c, TU_SHAPE(3, 3, 3), true, false); /* running stats do not change the rule */
  c.kind = 1;                                            /* eval: an affine map */
  check_norm_grads(&c, TU_SHAPE(3, 3, 3), true, true);
  check_norm_grads(&c, TU_SHAPE(2, 3), false, true);
  gr_release(c.rm), gr_release(c.rv);
}

static void test_group_norm_grads(void **state) {
  norm_ctx c = {.kind = 2, .groups = 2};
  check_norm_grads(&c, TU_SHAPE(2, 4, 3), true, true);
  c.groups = 1;
  check_norm_grads(&c, TU_SHAPE(2, 3, 2, 2), false, true);
  c.groups = 3;
  check_norm_grads(&c, TU_SHAPE(1, 3, 5), true, true);
}

static void test_instance_norm_grads(void **state) {
  norm_ctx c = {.kind = 3};
  check_norm_grads(&c, TU_SHAPE(2, 3, 2, 3), true, true);
  check_norm_grads(&c, TU_SHAPE(1, 2, 5), false, true);
}

static void test_layer_norm_grads(void **state) {
  norm_ctx c = {.kind = 4, .nnorm = 1};
  check_norm_grads(&c, TU_SHAPE(3, 5), true, true);
  c.nnorm = 2;
  check_norm_grads(&c, TU_SHAPE(2, 3, 4), true, true);
  check_norm_grads(&c, TU_SHAPE(2, 2, 3), false, true);
}

/* a gradient penalty through a norm, as a WGAN-GP critic computes it (the
 * factor on y keeps the critic from being norm-invariant, as sum(y^2) is) */
static gr_tensor *f_penalty(gr_tensor *const *in, void *p) {
  gr_tensor *x = in[0], *w = in[1], *g = NULL;
  bool prev = gr_set_grad_enabled(true); /* the check evaluates f with grad mode off */
  gr_pool_push();
  gr_tensor *y = gr_mul(f_norm(in, p), gr_add_scalar(gr_mul_scalar(x, 0.1), 0.5));
  gr_tensor *s = gr_sum(gr_mul(y, y), 0, NULL, false);
  gr_grad_opts o = {.create_graph = true};
  gr_tensor *pen = NULL;
  if (gr_grad(1, &s, 1, &x, &o, &g) == GR_OK)
    pen = gr_mul(gr_sum(gr_mul(g, g), 0, NULL, false), gr_sum(w, 0, NULL, false));
  pen = gr_pool_pop_keep(pen);
  gr_set_grad_enabled(prev);
  return pen;
}

static void test_penalty_through_norms(void **state) {
  for (int kind = 0; kind < 5; kind++) {
    norm_ctx c = {.kind = kind, .groups = 2, .nnorm = 2};
    if (kind == 1) {
      c.rm = tu_rand(TU_SHAPE(4), -1, 1);
      c.rv = tu_rand(TU_SHAPE(4), 1, 2);
    }
    gr_tensor *x = tu_rand(TU_SHAPE(3, 4, 3), -1.5, 1.5);
    int64_t ws[2] = {4, 3};
    gr_tensor *w = tu_rand(kind == 4 ? 2 : 1, ws, 0.5, 1.5);
    gr_tensor *in[3] = {x, w, NULL};
    TU_GRADCHECK(f_penalty, &c, 3, in);
    gr_release(x), gr_release(w), gr_release(c.rm), gr_release(c.rv);
  }
}

/* third order: the penalty differentiated with its graph recorded, so the
 * composite rule itself sees gradients reaching the statistics */
static void test_penalty_second_order(void **state) {
  for (int kind = 0; kind < 5; kind++) {
    norm_ctx c = {.kind = kind, .groups = 2, .nnorm = 2};
    if (kind == 1) {
      c.rm = tu_rand(TU_SHAPE(4), -1, 1);
      c.rv = tu_rand(TU_SHAPE(4), 1, 2);
    }
    gr_tensor *x = tu_rand(TU_SHAPE(2, 4, 2), -1.5, 1.5);
    int64_t ws[2] = {4, 2};
    gr_tensor *w = tu_rand(kind == 4 ? 2 : 1, ws, 0.5, 1.5);
    gr_tensor *in[3] = {x, w, NULL};
    TU_GRADGRADCHECK(f_penalty, &c, 3, in);
    gr_release(x), gr_release(w), gr_release(c.rm), gr_release(c.rv);
  }
}

/* --- fused and composite backward agree ------------------------------------------------ */

static void grads_of(norm_ctx *c, gr_tensor **in, const gr_tensor *r, bool create, gr_tensor **g) {
  for (int i = 0; i < 3; i++) gr_set_requires_grad(in[i], true);
  gr_pool_push();
  gr_tensor *y = TU_OK(f_norm(in, c));
  gr_tensor *l = TU_OK(gr_sum(gr_mul(y, (gr_tensor *)r), 0, NULL, false));
  gr_grad_opts o = {.create_graph = create};
  assert_int_equal(gr_grad(1, &l, 3, in, &o, g), GR_OK);
  for (int i = 0; i < 3; i++) g[i] = gr_detach(g[i]);
  for (int i = 0; i < 3; i++) gr_retain(g[i]);
  gr_pool_pop();
}

static void check_fused_vs_composite(norm_ctx *c, int ndim, const int64_t *shape) {
  gr_tensor *x0 = tu_rand(ndim, shape, -2, 3), *x = tu_noncontig(x0);
  int64_t cs[GR_MAX_DIM], pn = 1;
  if (c->kind == 4) {
    pn = c->nnorm;
    memcpy(cs, shape + ndim - pn, (size_t)pn * sizeof *cs);
  } else {
    cs[0] = shape[1];
  }
  gr_tensor *w = tu_rand((int)pn, cs, 0.5, 1.5), *b = tu_rand((int)pn, cs, -1, 1);
  gr_tensor *r = tu_rand(ndim, shape, -1, 1);
  gr_tensor *in[3] = {x, w, b}, *gf[3], *gc[3];
  grads_of(c, in, r, false, gf);
  grads_of(c, in, r, true, gc);
  for (int i = 0; i < 3; i++) {
    TU_CLOSE(gf[i], gc[i], 1e-4, 1e-3);
    gr_release(gf[i]);
    gr_release(gc[i]);
  }
  gr_release(x0), gr_release(x), gr_release(w), gr_release(b), gr_release(r);
}

static void test_fused_matches_composite(void **state) {
  norm_ctx c = {.kind = 0};
  check_fused_vs_composite(&c, TU_SHAPE(6, 5, 3, 4));
  check_fused_vs_composite(&c, TU_SHAPE(9, 17, 19, 13)); /* threads */
  check_fused_vs_composite(&c, TU_SHAPE(7, 3));
  c.rm = tu_rand(TU_SHAPE(5), -1, 1);
  c.rv = tu_rand(TU_SHAPE(5), 0.5, 2);
  c.kind = 1;
  check_fused_vs_composite(&c, TU_SHAPE(6, 5, 3, 4));
  c.kind = 2;
  c.groups = 5;
  check_fused_vs_composite(&c, TU_SHAPE(6, 5, 3, 4));
  c.groups = 4;
  check_fused_vs_composite(&c, TU_SHAPE(4, 16, 23, 19));
  c.kind = 3;
  check_fused_vs_composite(&c, TU_SHAPE(2, 8, 33, 31));
  c.kind = 4;
  c.nnorm = 2;
  check_fused_vs_composite(&c, TU_SHAPE(6, 5, 3, 4));
  c.nnorm = 1;
  check_fused_vs_composite(&c, TU_SHAPE(300, 257));
  gr_release(c.rm), gr_release(c.rv);
}

/* the same thread count gives the same bits; the channel split makes even
 * different counts agree */
static void test_thread_count_independent(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(9, 17, 19, 13), -2, 3), *w = tu_rand(TU_SHAPE(17), 0.5, 1.5);
  int prev = gr_get_threads();
  gr_set_threads(1);
  gr_tensor *y1 = TU_OK(gr_batch_norm(x, w, NULL, NULL, NULL, true, 0.1, 1e-5));
  gr_set_threads(2);
  gr_tensor *y2 = TU_OK(gr_batch_norm(x, w, NULL, NULL, NULL, true, 0.1, 1e-5));
  TU_CLOSE(y1, y2, 0, 0);
  gr_set_threads(prev);
  gr_release(x), gr_release(w), gr_release(y1), gr_release(y2);
}

/* --- bad inputs -------------------------------------------------------------------------- */

#define expect_error(y, a, b, c) TU_ERROR((y), (a), (b), (c))

static void test_bad_inputs(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(4, 3, 2), -1, 1), *w5 = tu_rand(TU_SHAPE(5), 0, 1);
  gr_tensor *w3 = tu_rand(TU_SHAPE(3), 0, 1), *v = tu_rand(TU_SHAPE(7), 0, 1);
  gr_tensor *one = tu_rand(TU_SHAPE(1, 3), 0, 1);
  gr_tensor *xi = gr_zeros(GR_I64, 2, (int64_t[]){4, 3});
  expect_error(gr_batch_norm(x, w5, NULL, NULL, NULL, true, 0.1, 1e-5), "batch_norm", "weight",
               "[5]");
  assert_non_null(strstr(gr_errmsg(), "[4, 3, 2]"));
  expect_error(gr_batch_norm(x, NULL, w5, NULL, NULL, true, 0.1, 1e-5), "batch_norm", "bias",
               "[3]");
  expect_error(gr_batch_norm(x, NULL, NULL, w5, w3, true, 0.1, 1e-5), "batch_norm", "running_mean",
               "[5]");
  expect_error(gr_batch_norm(x, NULL, NULL, w3, NULL, true, 0.1, 1e-5), "batch_norm", "running_var",
               "[4, 3, 2]");
  expect_error(gr_batch_norm(x, NULL, NULL, NULL, NULL, false, 0.1, 1e-5), "batch_norm", "eval",
               "[4, 3, 2]");
  expect_error(gr_batch_norm(one, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), "batch_norm",
               "more than one value", "[1, 3]");
  expect_error(gr_batch_norm(v, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), "batch_norm", "x", "[7]");
  expect_error(gr_batch_norm(xi, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), "batch_norm", "x",
               "int64");
  expect_error(gr_batch_norm(x, NULL, NULL, NULL, NULL, true, 0.1, -1), "batch_norm", "eps", NULL);
  gr_set_requires_grad(w3, true);
  expect_error(gr_batch_norm(x, NULL, NULL, w3, w3, true, 0.1, 1e-5), "batch_norm", "running_mean",
               "gradient");
  gr_set_requires_grad(w3, false);
  expect_error(gr_group_norm(x, 2, NULL, NULL, 1e-5), "group_norm", "2 groups", "[4, 3, 2]");
  expect_error(gr_group_norm(x, 0, NULL, NULL, 1e-5), "group_norm", "0 groups", NULL);
  expect_error(gr_group_norm(x, 3, w5, NULL, 1e-5), "group_norm", "weight", "[5]");
  expect_error(gr_instance_norm(x, NULL, v, 1e-5), "instance_norm", "bias", "[7]");
  expect_error(gr_instance_norm(v, NULL, NULL, 1e-5), "instance_norm", "x", "[7]");
  expect_error(gr_layer_norm(x, 2, w3, NULL, 1e-5), "layer_norm", "weight", "[3, 2]");
  expect_error(gr_layer_norm(x, 4, NULL, NULL, 1e-5), "layer_norm", "4", "[4, 3, 2]");
  expect_error(gr_layer_norm(x, 0, NULL, NULL, 1e-5), "layer_norm", "0", "[4, 3, 2]");
  /* NULL input: NULL, the earlier message kept */
  gr_fail(GR_EARG, "earlier");
  expect_error(gr_batch_norm(NULL, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), "earlier", NULL, NULL);
  expect_error(gr_group_norm(NULL, 1, NULL, NULL, 1e-5), "earlier", NULL, NULL);
  expect_error(gr_layer_norm(NULL, 1, NULL, NULL, 1e-5), "earlier", NULL, NULL);
  gr_release(x), gr_release(w5), gr_release(w3), gr_release(v), gr_release(one), gr_release(xi);
}

static void test_graph_and_names(void **state) {
  int64_t nodes0 = gr_live_nodes(), tensors0 = gr_live_tensors();
  gr_tensor *x = tu_rand(TU_SHAPE(3, 4, 2), -1, 1);
  gr_set_requires_grad(x, true);
  gr_tensor *y = TU_OK(gr_batch_norm(x, NULL, NULL, NULL, NULL, true, 0.1, 1e-5));
  assert_string_equal(gr_grad_fn_name(y), "batch_norm");
  gr_tensor *z = TU_OK(gr_group_norm(x, 2, NULL, NULL, 1e-5));
  assert_string_equal(gr_grad_fn_name(z), "group_norm");
  gr_tensor *l = TU_OK(gr_layer_norm(x, 1, NULL, NULL, 1e-5));
  assert_string_equal(gr_grad_fn_name(l), "layer_norm");
  /* the sum of a normalised set is zero: so is its gradient */
  gr_tensor *s = TU_OK(gr_sum(y, 0, NULL, false)), *g = NULL;
  assert_int_equal(gr_grad(1, &s, 1, &x, NULL, &g), GR_OK);
  for (int64_t i = 0; i < gr_numel(g); i++) assert_float_equal(gr_get_flat(g, i), 0, 1e-5);
  gr_release(g), gr_release(s), gr_release(l), gr_release(z), gr_release(y), gr_release(x);
  assert_int_equal(gr_live_nodes(), nodes0);
  assert_int_equal(gr_live_tensors(), tensors0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batch_norm_forward),
      cmocka_unit_test(test_batch_norm_momentum_and_offset),
      cmocka_unit_test(test_group_norm_forward),
      cmocka_unit_test(test_instance_norm_forward),
      cmocka_unit_test(test_layer_norm_forward),
      cmocka_unit_test(test_batch_norm_grads),
      cmocka_unit_test(test_group_norm_grads),
      cmocka_unit_test(test_instance_norm_grads),
      cmocka_unit_test(test_layer_norm_grads),
      cmocka_unit_test(test_penalty_through_norms),
      cmocka_unit_test(test_penalty_second_order),
      cmocka_unit_test(test_fused_matches_composite),
      cmocka_unit_test(test_thread_count_independent),
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_graph_and_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
