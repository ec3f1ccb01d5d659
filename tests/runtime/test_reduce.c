/* Reductions: sum, mean, var, logsumexp over dims; max/min along a dim and
 * over everything; softmax and log_softmax. Forwards against double
 * references, gradients against finite differences, bad inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void assert_msg(const char *a, const char *b) {
  const char *m = gr_errmsg();
  if (!strstr(m, a) || (b && !strstr(m, b))) {
    print_error("message \"%s\" lacks \"%s\"%s%s\n", m, a, b ? " or " : "", b ? b : "");
    fail();
  }
}

static double *read_all(const gr_tensor *t) {
  int64_t n = gr_numel(t);
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  gr_read_all(t, v);
  return v;
}

/* --- references -------------------------------------------------------------------------- */

/* dims list to a mask over ndim dims (the runtime's convention: none = all) */
static unsigned mask_of(int ndim, int ndims, const int *dims) {
  if (ndims == 0) return (1u << ndim) - 1;
  unsigned m = 0;
  for (int k = 0; k < ndims; k++) m |= 1u << (dims[k] < 0 ? dims[k] + ndim : dims[k]);
  return m;
}

/* index of x's element `flat` in the (contiguous) result of reducing the masked dims */
static int64_t out_index(const gr_tensor *x, unsigned mask, int64_t flat) {
  int64_t idx = 0, mul = 1;
  for (int d = x->ndim - 1; d >= 0; d--) {
    int64_t i = flat % x->shape[d];
    flat /= x->shape[d];
    if (mask & (1u << d)) continue;
    idx += i * mul;
    mul *= x->shape[d];
  }
  return idx;
}

static int64_t out_count(const gr_tensor *x, unsigned mask) {
  int64_t n = 1;
  for (int d = 0; d < x->ndim; d++)
    if (!(mask & (1u << d))) n *= x->shape[d];
  return n;
}

enum { R_SUM, R_MEAN, R_VAR0, R_VAR1, R_VAR2, R_LSE };

static double *reference(const gr_tensor *x, unsigned mask, int kind) {
  int64_t n = gr_numel(x), m = out_count(x, mask);
  double *xv = read_all(x), *sum = calloc((size_t)m, sizeof(double)), *cnt = calloc((size_t)m, sizeof(double));
  double *mx = malloc((size_t)m * sizeof(double));
  for (int64_t j = 0; j < m; j++) mx[j] = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    int64_t j = out_index(x, mask, i);
    sum[j] += xv[i];
    cnt[j] += 1;
    if (xv[i] > mx[j]) mx[j] = xv[i];
  }
  double *out = malloc((size_t)m * sizeof(double)), *acc = calloc((size_t)m, sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    int64_t j = out_index(x, mask, i);
    double d = xv[i] - sum[j] / cnt[j];
    acc[j] += kind == R_LSE ? exp(xv[i] - mx[j]) : d * d;
  }
  for (int64_t j = 0; j < m; j++) {
    switch (kind) {
    case R_SUM: out[j] = sum[j]; break;
    case R_MEAN: out[j] = sum[j] / cnt[j]; break;
    case R_VAR0: out[j] = acc[j] / cnt[j]; break;
    case R_VAR1: out[j] = acc[j] / (cnt[j] - 1); break;
    case R_VAR2: out[j] = acc[j] / (cnt[j] - 2); break;
    default: out[j] = mx[j] + log(acc[j]);
    }
  }
  free(xv);
  free(sum);
  free(cnt);
  free(mx);
  free(acc);
  return out;
}

static gr_tensor *reduce_by(int kind, gr_tensor *x, int ndims, const int *dims, bool keepdim) {
  switch (kind) {
  case R_SUM: return gr_sum(x, ndims, dims, keepdim);
  case R_MEAN: return gr_mean(x, ndims, dims, keepdim);
  case R_VAR0: return gr_var(x, ndims, dims, 0, keepdim);
  case R_VAR1: return gr_var(x, ndims, dims, 1, keepdim);
  case R_VAR2: return gr_var(x, ndims, dims, 2, keepdim);
  default: return gr_logsumexp(x, ndims, dims, keepdim);
  }
}

static const char *KIND_NAME[] = {"sum", "mean", "var(0)", "var(1)", "var(2)", "logsumexp"};

typedef struct { int n; int d[3]; } dimset;
static const dimset DIMSETS[] = {
    {0, {0}}, {1, {0}}, {1, {1}}, {1, {2}}, {1, {-1}}, {2, {0, 2}}, {2, {1, 2}}, {3, {0, 1, 2}}, {2, {-3, -1}},
};
#define NDIMSETS (int)(sizeof DIMSETS / sizeof DIMSETS[0])

static void check_reduce(int kind, gr_tensor *x, const dimset *ds, bool keepdim, double atol, double rtol) {
  gr_tensor *y = reduce_by(kind, x, ds->n, ds->d, keepdim);
  if (!y) {
    print_error("%s: %s\n", KIND_NAME[kind], gr_errmsg());
    fail();
  }
  unsigned mask = mask_of(x->ndim, ds->n, ds->d);
  /* the shape: reduced dims dropped, or kept as 1 */
  int nd = 0;
  for (int d = 0; d < x->ndim; d++) {
    if (mask & (1u << d)) {
      if (keepdim) assert_int_equal(y->shape[nd++], 1);
    } else {
      assert_int_equal(y->shape[nd++], x->shape[d]);
    }
  }
  assert_int_equal(y->ndim, nd);
  double *ref = reference(x, mask, kind);
  tu_assert_close_d(y, ref, atol, rtol, KIND_NAME[kind], ds->n * 10 + keepdim);
  free(ref);
  gr_release(y);
}

static void test_reduce_forward(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(3, 4, 5), -2, 2), *xn = tu_noncontig(x);
  gr_tensor *xt = TU_OK(gr_transpose(x, 0, 2));
  for (int kind = R_SUM; kind <= R_LSE; kind++)
    for (int k = 0; k < NDIMSETS; k++)
      for (int keep = 0; keep < 2; keep++) {
        check_reduce(kind, x, &DIMSETS[k], keep, 1e-6, 1e-5);
        check_reduce(kind, xn, &DIMSETS[k], keep, 1e-6, 1e-5);
        check_reduce(kind, xt, &DIMSETS[k], keep, 1e-6, 1e-5);
      }
  gr_release(xt);
  gr_release(xn);
  gr_release(x);
}

/* large tensors: the parallel paths and the blocked sum of one long row */
static void test_reduce_forward_big(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(3, 170, 401), -1, 1);
  const dimset all = {0, {0}}, last = {1, {-1}}, first = {1, {0}}, mid = {2, {0, 2}};
  for (int kind = R_SUM; kind <= R_LSE; kind++) {
    check_reduce(kind, x, &all, false, 1e-5, 1e-5);
    check_reduce(kind, x, &last, true, 1e-5, 1e-5);
    check_reduce(kind, x, &first, false, 1e-5, 1e-5);
    check_reduce(kind, x, &mid, false, 1e-5, 1e-5);
  }
  /* many equal small values: float accumulation would drift, double does not */
  int64_t n = 1000003;
  gr_tensor *c = gr_full(GR_F32, 1, &n, 0.1);
  gr_tensor *s = TU_OK(gr_sum(c, 0, NULL, false));
  assert_float_equal(gr_get_flat(s, 0), (double)0.1f * (double)n, 1e-2);
  gr_release(s);
  gr_release(c);
  gr_release(x);
}

static void test_reduce_edge_cases(void **state) {
  /* 0-d: reducing nothing */
  gr_tensor *s = gr_scalar(3);
  gr_tensor *a = TU_OK(gr_sum(s, 0, NULL, false)), *b = TU_OK(gr_mean(s, 1, (int[]){0}, true));
  gr_tensor *c = TU_OK(gr_logsumexp(s, 0, NULL, false));
  assert_int_equal(a->ndim, 0);
  assert_int_equal(b->ndim, 0);
  assert_float_equal(gr_get_flat(a, 0), 3, 0);
  assert_float_equal(gr_get_flat(b, 0), 3, 0);
  assert_float_equal(gr_get_flat(c, 0), 3, 1e-6);
  /* empty: sum 0, mean NaN, logsumexp -inf */
  gr_tensor *e = gr_zeros(GR_F32, 2, (int64_t[]){0, 3});
  gr_tensor *es = TU_OK(gr_sum(e, 1, (int[]){0}, false)), *em = TU_OK(gr_mean(e, 0, NULL, false));
  gr_tensor *el = TU_OK(gr_logsumexp(e, 1, (int[]){0}, false));
  assert_int_equal(gr_numel(es), 3);
  assert_float_equal(gr_get_flat(es, 1), 0, 0);
  assert_true(isnan(gr_get_flat(em, 0)));
  assert_true(isinf(gr_get_flat(el, 0)) && gr_get_flat(el, 0) < 0);
  /* var of one element with correction 1: NaN, as in PyTorch */
  gr_tensor *one = gr_full(GR_F32, 1, (int64_t[]){1}, 2), *v1 = TU_OK(gr_var(one, 0, NULL, 1, false));
  assert_true(isnan(gr_get_flat(v1, 0)));
  gr_tensor *all[] = {s, a, b, c, e, es, em, el, one, v1};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) gr_release(all[i]);
}

static void test_logsumexp_stable(void **state) {
  /* large and -inf entries: no overflow, and -inf contributes nothing */
  float v[] = {1000, 1001, 999, -INFINITY, -1000, -1001, -INFINITY, -INFINITY, -INFINITY};
  gr_tensor *x = gr_from_f32(v, 2, (int64_t[]){3, 3}), *y = TU_OK(gr_logsumexp(x, 1, (int[]){1}, false));
  double r0 = 1001 + log(exp(-1.0) + 1 + exp(-2.0)), r1 = -1000 + log(1 + exp(-1.0));
  assert_float_equal(gr_get_flat(y, 0), r0, 1e-3);
  assert_float_equal(gr_get_flat(y, 1), r1, 1e-3);
  assert_true(isinf(gr_get_flat(y, 2)) && gr_get_flat(y, 2) < 0); /* all -inf: -inf */
  gr_release(y);
  gr_release(x);
}

/* --- max and min along a dim -------------------------------------------------------------- */

static void check_extreme(gr_tensor *x, int dim, bool keepdim, bool is_max) {
  gr_tensor *ix = NULL;
  gr_tensor *v = is_max ? gr_max_dim(x, dim, keepdim, &ix) : gr_min_dim(x, dim, keepdim, &ix);
  TU_OK(v);
  assert_non_null(ix);
  assert_int_equal(ix->dtype, GR_I64);
  assert_true(gr_same_shape(v, ix));
  int d = dim < 0 ? dim + x->ndim : dim;
  assert_int_equal(v->ndim, keepdim ? x->ndim : x->ndim - 1);
  unsigned mask = 1u << d;
  int64_t m = out_count(x, mask), n = gr_numel(x);
  double *xv = read_all(x), *best = malloc((size_t)m * sizeof *best), *arg = malloc((size_t)m * sizeof *arg);
  int64_t *seen = calloc((size_t)m, sizeof *seen);
  int64_t inner = 1;
  for (int k = d + 1; k < x->ndim; k++) inner *= x->shape[k];
  for (int64_t i = 0; i < n; i++) {
    int64_t j = out_index(x, mask, i), pos = (i / inner) % x->shape[d];
    bool wins = !seen[j] || (is_max ? xv[i] > best[j] : xv[i] < best[j]);
    if (wins) {
      best[j] = xv[i];
      arg[j] = (double)pos;
      seen[j] = 1;
    }
  }
  TU_CLOSE_D(v, best, 0, 0);
  TU_CLOSE_D(ix, arg, 0, 0);
  free(xv);
  free(best);
  free(arg);
  free(seen);
  gr_release(v);
  gr_release(ix);
}

static void test_max_min_forward(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(3, 4, 5), -2, 2), *xn = tu_noncontig(x);
  /* whole numbers: ties, which go to the first index */
  gr_tensor *t = tu_rand(TU_SHAPE(5, 3, 7), 0, 3);
  for (int64_t i = 0; i < gr_numel(t); i++) gr_f32(t)[i] = floorf(gr_f32(t)[i]);
  gr_tensor *big = tu_rand(TU_SHAPE(7, 300, 301), -1, 1);
  for (int mx = 0; mx < 2; mx++) {
    for (int d = -3; d < 3; d++)
      for (int keep = 0; keep < 2; keep++) {
        check_extreme(x, d, keep, mx);
        check_extreme(xn, d, keep, mx);
        check_extreme(t, d, keep, mx);
      }
    for (int d = 0; d < 3; d++) check_extreme(big, d, false, mx);
  }
  /* 0-d */
  gr_tensor *s = gr_scalar(4), *ix;
  gr_tensor *v = TU_OK(gr_max_dim(s, 0, false, &ix));
  assert_int_equal(v->ndim, 0);
  assert_float_equal(gr_get_flat(v, 0), 4, 0);
  assert_int_equal(gr_i64(ix)[0], 0);
  /* NaN wins, at its first place */
  gr_tensor *nn = gr_from_f32((float[]){1, NAN, 5, NAN}, 1, (int64_t[]){4}), *ni;
  gr_tensor *nv = TU_OK(gr_min_dim(nn, 0, false, &ni));
  assert_true(isnan(gr_get_flat(nv, 0)));
  assert_int_equal(gr_i64(ni)[0], 1);
  gr_tensor *all[] = {x, xn, t, big, s, v, ix, nn, nv, ni};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) gr_release(all[i]);
}

static void test_max_min_all(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(3, 4, 5), -2, 2), *xn = tu_noncontig(x);
  double *v = read_all(x), hi = -INFINITY, lo = INFINITY;
  for (int i = 0; i < 60; i++) {
    hi = fmax(hi, v[i]);
    lo = fmin(lo, v[i]);
  }
  gr_tensor *a = TU_OK(gr_max_all(xn)), *b = TU_OK(gr_min_all(x));
  assert_int_equal(a->ndim, 0);
  assert_float_equal(gr_get_flat(a, 0), hi, 0);
  assert_float_equal(gr_get_flat(b, 0), lo, 0);
  free(v);
  gr_release(a);
  gr_release(b);
  gr_release(x);
  gr_release(xn);
}

/* the winner's gradient: to the first of tied maxima only */
static void test_max_grad_ties(void **state) {
  gr_tensor *x = gr_from_f32((float[]){1, 3, 3, 2, 0, 0}, 2, (int64_t[]){2, 3});
  gr_set_requires_grad(x, true);
  gr_tensor *m = TU_OK(gr_max_dim(x, 1, false, NULL)), *s = TU_OK(gr_sum(m, 0, NULL, false)), *g;
  assert_int_equal(gr_grad(1, &s, 1, &x, NULL, &g), GR_OK);
  TU_CLOSE_D(g, ((double[]){0, 1, 0, 1, 0, 0}), 0, 0);
  gr_release(g);
  gr_release(s);
  gr_release(m);
  gr_tensor *a = TU_OK(gr_min_all(x));
  assert_int_equal(gr_grad(1, &a, 1, &x, NULL, &g), GR_OK);
  TU_CLOSE_D(g, ((double[]){0, 0, 0, 0, 1, 0}), 0, 0);
  gr_release(g);
  gr_release(a);
  gr_release(x);
}

/* unwanted indices are freed, inside a pool or not */
static void test_max_indices_optional(void **state) {
  int64_t t0 = gr_live_tensors();
  gr_tensor *x = tu_rand(TU_SHAPE(3, 4), -1, 1);
  gr_tensor *m = TU_OK(gr_max_dim(x, 0, false, NULL));
  gr_release(m);
  gr_pool_push();
  TU_OK(gr_min_dim(x, -1, true, NULL));
  gr_tensor *ix;
  TU_OK(gr_max_dim(x, 1, true, &ix));
  assert_int_equal(ix->shape[1], 1);
  gr_pool_pop();
  gr_release(x);
  assert_int_equal(gr_live_tensors(), t0);
}

/* --- softmax and log_softmax ----------------------------------------------------------------- */

static void check_softmax(gr_tensor *x, int dim, bool log_out) {
  gr_tensor *y = log_out ? gr_log_softmax(x, dim) : gr_softmax(x, dim);
  TU_OK(y);
  assert_true(gr_same_shape(y, x));
  int d = dim < 0 ? dim + x->ndim : dim;
  unsigned mask = x->ndim ? 1u << d : 0;
  double *lse = reference(x, mask, R_LSE), *xv = read_all(x);
  int64_t n = gr_numel(x);
  for (int64_t i = 0; i < n; i++) {
    double l = xv[i] - lse[out_index(x, mask, i)];
    xv[i] = log_out ? l : exp(l);
  }
  tu_assert_close_d(y, xv, 1e-6, 1e-5, log_out ? "log_softmax" : "softmax", dim);
  free(lse);
  free(xv);
  gr_release(y);
}

static void test_softmax_forward(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(3, 4, 5), -3, 3), *xn = tu_noncontig(x);
  /* large values: shifted by the max, nothing overflows */
  gr_tensor *h = TU_OK(gr_add_scalar(x, 500));
  gr_tensor *big = tu_rand(TU_SHAPE(4, 70, 300), -3, 3);
  for (int lg = 0; lg < 2; lg++) {
    for (int d = -3; d < 3; d++) {
      check_softmax(x, d, lg);
      check_softmax(xn, d, lg);
      check_softmax(h, d, lg);
    }
    for (int d = 0; d < 3; d++) check_softmax(big, d, lg);
  }
  /* 0-d: softmax 1, log_softmax 0 */
  gr_tensor *s = gr_scalar(7), *a = TU_OK(gr_softmax(s, 0)), *b = TU_OK(gr_log_softmax(s, -1));
  assert_float_equal(gr_get_flat(a, 0), 1, 0);
  assert_float_equal(gr_get_flat(b, 0), 0, 0);
  gr_tensor *all[] = {x, xn, h, big, s, a, b};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) gr_release(all[i]);
}

/* --- gradients ------------------------------------------------------------------------------- */

typedef struct gctx {
  int kind; /* R_* or the cases below */
  int ndims;
  int dims[3];
  bool keepdim;
} gctx;
enum { G_MAX = 10, G_MIN, G_MAX_ALL, G_MIN_ALL, G_SOFTMAX, G_LOG_SOFTMAX };

static gr_tensor *f_reduce(gr_tensor *const *in, void *ctx) {
  gctx *c = ctx;
  switch (c->kind) {
  case G_MAX: return gr_max_dim(in[0], c->dims[0], c->keepdim, NULL);
  case G_MIN: return gr_min_dim(in[0], c->dims[0], c->keepdim, NULL);
  case G_MAX_ALL: return gr_max_all(in[0]);
  case G_MIN_ALL: return gr_min_all(in[0]);
  case G_SOFTMAX: return gr_softmax(in[0], c->dims[0]);
  case G_LOG_SOFTMAX: return gr_log_softmax(in[0], c->dims[0]);
  default: return reduce_by(c->kind, in[0], c->ndims, c->dims, c->keepdim);
  }
}

/* distinct values 0.15 apart in a scrambled order: max and min have no near ties */
static gr_tensor *distinct(int ndim, const int64_t *shape) {
  gr_tensor *t = gr_empty(GR_F32, ndim, shape);
  int64_t n = gr_numel(t);
  for (int64_t i = 0; i < n; i++) gr_f32(t)[i] = (float)(0.15 * (double)((i * 7 + 3) % n) - 1.5);
  return t;
}

static void test_reduce_grads(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3, 4), -1, 1), *xn = tu_noncontig(x);
  gctx cases[] = {
      {R_SUM, 2, {0, 2}, false}, {R_SUM, 0, {0}, false}, {R_MEAN, 1, {1}, true},
      {R_MEAN, 0, {0}, false},   {R_VAR1, 1, {-1}, false}, {R_VAR0, 2, {0, 1}, true},
      {R_LSE, 1, {2}, false},    {R_LSE, 2, {0, 2}, true}, {R_LSE, 0, {0}, false},
      {G_SOFTMAX, 1, {0}, false}, {G_SOFTMAX, 1, {-1}, false}, {G_LOG_SOFTMAX, 1, {1}, false},
      {G_LOG_SOFTMAX, 1, {2}, false},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    print_message("gradcheck case %zu\n", k);
    TU_GRADCHECK(f_reduce, &cases[k], 1, &x);
    TU_GRADCHECK(f_reduce, &cases[k], 1, &xn);
    TU_GRADGRADCHECK(f_reduce, &cases[k], 1, &x);
  }
  gr_release(x);
  gr_release(xn);
}

static void test_extreme_grads(void **state) {
  gr_tensor *x = distinct(TU_SHAPE(2, 3, 4)), *xn = tu_noncontig(x);
  gctx cases[] = {
      {G_MAX, 1, {0}, false}, {G_MAX, 1, {1}, true}, {G_MAX, 1, {-1}, false},
      {G_MIN, 1, {2}, true},  {G_MIN, 1, {1}, false}, {G_MAX_ALL, 0, {0}, false},
      {G_MIN_ALL, 0, {0}, false},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    TU_GRADCHECK(f_reduce, &cases[k], 1, &x);
    TU_GRADCHECK(f_reduce, &cases[k], 1, &xn);
    TU_GRADGRADCHECK(f_reduce, &cases[k], 1, &x);
  }
  gr_release(x);
  gr_release(xn);
}

/* double backward through a chain that mixes the ops (a softmax cross-entropy-like loss) */
static gr_tensor *f_mixed(gr_tensor *const *in, void *ctx) {
  gr_pool_push();
  gr_tensor *x = in[0];
  gr_tensor *p = gr_softmax(gr_mul(x, x), 1);
  gr_tensor *l = gr_sub(gr_logsumexp(x, 1, (int[]){1}, true), gr_mean(gr_mul(p, x), 1, (int[]){1}, true));
  return gr_pool_pop_keep(gr_add(l, gr_var(x, 1, (int[]){1}, 1, true)));
}

static void test_mixed_double_backward(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(3, 4), -1, 1);
  TU_GRADCHECK(f_mixed, NULL, 1, &x);
  TU_GRADGRADCHECK(f_mixed, NULL, 1, &x);
  gr_release(x);
}

/* softmax's gradient along rows runs in one pass when nothing is recorded:
 * the same bits as the ops it stands for (recorded, with create_graph),
 * on rows of 64 (attention's) and 37, with one thread and with three, its
 * incoming gradient contiguous and transposed (as attention's matmul
 * hands it on) */
static void test_softmax_rows_grad_fused(void **state) {
  int prev = gr_get_threads();
  int64_t lens[] = {64, 37};
  for (int k = 0; k < 4; k++)
    for (int th = 1; th <= 3; th += 2) {
      gr_set_threads(th);
      int64_t n = lens[k % 2];
      bool tr = k >= 2;
      gr_tensor *x = tu_rand(TU_SHAPE(3, 50, n), -4, 4);
      gr_tensor *r = tr ? tu_rand(TU_SHAPE(3, n, 50), -1, 1) : tu_rand(TU_SHAPE(3, 50, n), -1, 1);
      gr_set_requires_grad(x, true);
      gr_tensor *g[2];
      for (int graph = 0; graph < 2; graph++) {
        gr_tensor *y = TU_OK(gr_softmax(x, -1)), *yt = TU_OK(tr ? gr_transpose(y, 1, 2) : gr_retain(y));
        gr_tensor *m = TU_OK(gr_mul(yt, r));
        gr_tensor *l = TU_OK(gr_sum(m, 0, NULL, false));
        gr_grad_opts o = {.create_graph = graph == 1};
        assert_int_equal(gr_grad(1, &l, 1, &x, &o, &g[graph]), GR_OK);
        gr_release(l);
        gr_release(m);
        gr_release(yt);
        gr_release(y);
      }
      assert_memory_equal(gr_f32(g[0]), gr_f32(g[1]), (size_t)gr_numel(x) * sizeof(float));
      gr_release(g[0]);
      gr_release(g[1]);
      gr_release(x);
      gr_release(r);
    }
  gr_set_threads(prev);
}

/* --- bad inputs, determinism ------------------------------------------------------------------ */

static void test_bad_inputs(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3, 4), -1, 1);
  gr_tensor *i = gr_from_i64((int64_t[]){1, 2}, 1, (int64_t[]){2});
  assert_null(gr_sum(x, 1, (int[]){3}, false));
  assert_msg("sum", "dim 3");
  assert_msg("[2, 3, 4]", NULL);
  assert_null(gr_mean(x, 2, (int[]){0, -4}, false));
  assert_msg("mean", "dim -4");
  assert_null(gr_var(x, 1, (int[]){5}, 1, false));
  assert_msg("var", "dim 5");
  assert_null(gr_var(x, 0, NULL, -1, false));
  assert_msg("var", "correction");
  assert_null(gr_logsumexp(x, 1, (int[]){3}, false));
  assert_msg("logsumexp", NULL);
  assert_null(gr_max_dim(x, 3, false, NULL));
  assert_msg("max_dim", "dim 3");
  assert_null(gr_min_dim(x, -4, false, NULL));
  assert_msg("min_dim", NULL);
  assert_null(gr_softmax(x, 3));
  assert_msg("softmax", "dim 3");
  assert_null(gr_log_softmax(x, -5));
  assert_msg("log_softmax", NULL);
  /* int tensors */
  assert_null(gr_mean(i, 0, NULL, false));
  assert_msg("mean", "int64");
  assert_null(gr_var(i, 0, NULL, 1, false));
  assert_msg("var", "int64");
  assert_null(gr_sum(i, 0, NULL, false));
  assert_msg("sum", "int64");
  assert_null(gr_logsumexp(i, 0, NULL, false));
  assert_msg("logsumexp", "int64");
  gr_tensor *ix = (gr_tensor *)1;
  assert_null(gr_max_dim(i, 0, false, &ix));
  assert_null(ix);
  assert_msg("max_dim", "int64");
  assert_null(gr_max_all(i));
  assert_msg("max_all", "int64");
  assert_null(gr_softmax(i, 0));
  assert_msg("softmax", "int64");
  /* empty */
  gr_tensor *e = gr_zeros(GR_F32, 2, (int64_t[]){3, 0});
  assert_null(gr_max_dim(e, 1, false, NULL));
  assert_msg("max_dim", "empty");
  assert_null(gr_min_all(e));
  assert_msg("min_all", "empty");
  /* NULL in, NULL out */
  assert_null(gr_sum(NULL, 0, NULL, false));
  assert_null(gr_var(NULL, 0, NULL, 1, false));
  assert_null(gr_softmax(NULL, 0));
  assert_null(gr_max_all(NULL));
  gr_release(e);
  gr_release(i);
  gr_release(x);
}

static void test_threads_bit_identical(void **state) {
  int64_t n = 3000017;
  gr_tensor *x = tu_rand(1, &n, -1, 1), *m = tu_rand(TU_SHAPE(64, 3001), -5, 5);
  int keep = gr_get_threads();
  gr_tensor *r[2][4];
  for (int t = 0; t < 2; t++) {
    gr_set_threads(t + 1);
    r[t][0] = TU_OK(gr_sum(x, 0, NULL, false));
    r[t][1] = TU_OK(gr_logsumexp(m, 1, (int[]){1}, false));
    r[t][2] = TU_OK(gr_softmax(m, 0));
    r[t][3] = TU_OK(gr_sum(m, 1, (int[]){0}, false));
  }
  gr_set_threads(keep);
  for (int k = 0; k < 4; k++) {
    TU_CLOSE(r[0][k], r[1][k], 0, 0);
    gr_release(r[0][k]);
    gr_release(r[1][k]);
  }
  gr_release(x);
  gr_release(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reduce_forward),
      cmocka_unit_test(test_reduce_forward_big),
      cmocka_unit_test(test_reduce_edge_cases),
      cmocka_unit_test(test_logsumexp_stable),
      cmocka_unit_test(test_max_min_forward),
      cmocka_unit_test(test_max_min_all),
      cmocka_unit_test(test_max_grad_ties),
      cmocka_unit_test(test_max_indices_optional),
      cmocka_unit_test(test_softmax_forward),
      cmocka_unit_test(test_reduce_grads),
      cmocka_unit_test(test_extreme_grads),
      cmocka_unit_test(test_mixed_double_backward),
      cmocka_unit_test(test_softmax_rows_grad_fused),
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_threads_bit_identical),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
