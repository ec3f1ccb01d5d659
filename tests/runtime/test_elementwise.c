/* Elementwise ops (binary with broadcasting, comparisons, where, with a
 * number, unary, activations) and the creation helpers: forwards against
 * double references, gradients against finite differences, bad inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* --- helpers ---------------------------------------------------------------------- */

/* Moves every element of t at distance < margin from `at` to that distance,
 * so finite differences do not straddle a kink. */
static void push_away(gr_tensor *t, double at, double margin) {
  int64_t n = gr_numel(t);
  for (int64_t i = 0; i < n; i++) {
    int64_t off = t->offset, r = i;
    for (int d = t->ndim - 1; d >= 0; d--) {
      off += (r % t->shape[d]) * t->stride[d];
      r /= t->shape[d];
    }
    float *p = (float *)t->storage->data + off;
    if (fabs(*p - at) < margin) *p = (float)(*p >= at ? at + margin : at - margin);
  }
}

/* Flat index into a tensor of shape (nd, sh) of element `flat` of the broadcast shape (ond, osh). */
static int64_t bcast_index(int ond, const int64_t *osh, int nd, const int64_t *sh, int64_t flat) {
  int64_t idx = 0, mul = 1;
  for (int d = ond - 1; d >= 0; d--) {
    int64_t i = flat % osh[d];
    flat /= osh[d];
    int td = d - (ond - nd);
    if (td < 0) continue;
    if (sh[td] != 1) idx += i * mul;
    mul *= sh[td];
  }
  return idx;
}

static double *read_all(const gr_tensor *t) {
  int64_t n = gr_numel(t);
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  gr_read_all(t, v);
  return v;
}

static gr_tensor *from_doubles(int ndim, const int64_t *shape, const double *v) {
  gr_tensor *t = gr_empty(GR_F32, ndim, shape);
  for (int64_t i = 0; i < gr_numel(t); i++) gr_f32(t)[i] = (float)v[i];
  return t;
}

static void assert_msg(const char *a, const char *b) {
  const char *m = gr_errmsg();
  if (!strstr(m, a) || (b && !strstr(m, b))) {
    print_error("message \"%s\" lacks \"%s\"%s%s\n", m, a, b ? " or " : "", b ? b : "");
    fail();
  }
}

/* --- unary ops and ops with a number ------------------------------------------------ */

typedef struct unary_case {
  const char *name;
  gr_tensor *(*op)(gr_tensor *x, const double *par);
  double (*ref)(double x, const double *par);
  double lo, hi;   /* input range for every check */
  double par[2];   /* the op's numbers */
  double kinks[2]; /* points the gradchecks stay away from (NAN: none) */
  bool differentiable;
} unary_case;

#define UOP(name, call) \
  static gr_tensor *op_##name(gr_tensor *x, const double *par) { return call; }
#define UREF(name, expr) \
  static double ref_##name(double x, const double *par) { return expr; }

UOP(neg, gr_neg(x))               UREF(neg, -x)
UOP(exp, gr_exp(x))               UREF(exp, exp(x))
UOP(log, gr_log(x))               UREF(log, log(x))
UOP(log1p, gr_log1p(x))           UREF(log1p, log1p(x))
UOP(sqrt, gr_sqrt(x))             UREF(sqrt, sqrt(x))
UOP(rsqrt, gr_rsqrt(x))           UREF(rsqrt, 1 / sqrt(x))
UOP(abs, gr_abs(x))               UREF(abs, fabs(x))
UOP(sign, gr_sign(x))             UREF(sign, (x > 0) - (x < 0))
UOP(floor, gr_floor(x))           UREF(floor, floor(x))
UOP(round, gr_round(x))           UREF(round, nearbyint(x)) /* half to even in the default mode */
UOP(ceil, gr_ceil(x))             UREF(ceil, ceil(x))
UOP(sin, gr_sin(x))               UREF(sin, sin(x))
UOP(cos, gr_cos(x))               UREF(cos, cos(x))
UOP(square, gr_square(x))         UREF(square, x * x)
UOP(relu, gr_relu(x))             UREF(relu, x <= 0 ? 0 : x)
UOP(leaky_relu, gr_leaky_relu(x, par[0]))  UREF(leaky_relu, x > 0 ? x : par[0] * x)
UOP(elu, gr_elu(x, par[0]))       UREF(elu, x > 0 ? x : par[0] * (exp(x) - 1))
UOP(tanh, gr_tanh(x))             UREF(tanh, tanh(x))
UOP(sigmoid, gr_sigmoid(x))       UREF(sigmoid, 1 / (1 + exp(-x)))
UOP(softplus, gr_softplus(x, par[0], par[1]))
UREF(softplus, x * par[0] > par[1] ? x : log1p(exp(par[0] * x)) / par[0])
UOP(add_scalar, gr_add_scalar(x, par[0]))  UREF(add_scalar, x + par[0])
UOP(mul_scalar, gr_mul_scalar(x, par[0]))  UREF(mul_scalar, x * par[0])
UOP(rsub_scalar, gr_rsub_scalar(x, par[0])) UREF(rsub_scalar, par[0] - x)
UOP(rdiv_scalar, gr_rdiv_scalar(x, par[0])) UREF(rdiv_scalar, par[0] / x)
UOP(pow_scalar, gr_pow_scalar(x, par[0]))  UREF(pow_scalar, pow(x, par[0]))
UOP(rpow_scalar, gr_rpow_scalar(x, par[0])) UREF(rpow_scalar, pow(par[0], x))
UOP(clamp, gr_clamp(x, par[0], par[1]))
UREF(clamp, !isnan(par[0]) && x < par[0] ? par[0] : (!isnan(par[1]) && x > par[1] ? par[1] : x))

#define NOK {NAN, NAN}
static const unary_case UNARY[] = {
    {"neg", op_neg, ref_neg, -2, 2, {0}, NOK, true},
    {"exp", op_exp, ref_exp, -3, 3, {0}, NOK, true},
    {"log", op_log, ref_log, 0.3, 4, {0}, NOK, true},
    {"log1p", op_log1p, ref_log1p, -0.6, 3, {0}, NOK, true},
    {"sqrt", op_sqrt, ref_sqrt, 0.3, 4, {0}, NOK, true},
    {"rsqrt", op_rsqrt, ref_rsqrt, 0.4, 4, {0}, NOK, true},
    {"abs", op_abs, ref_abs, -2, 2, {0}, {0, NAN}, true},
    {"sign", op_sign, ref_sign, -2, 2, {0}, NOK, false},
    {"floor", op_floor, ref_floor, -4, 4, {0}, NOK, false},
    {"round", op_round, ref_round, -4, 4, {0}, NOK, false},
    {"ceil", op_ceil, ref_ceil, -4, 4, {0}, NOK, false},
    {"sin", op_sin, ref_sin, -4, 4, {0}, NOK, true},
    {"cos", op_cos, ref_cos, -4, 4, {0}, NOK, true},
    {"square", op_square, ref_square, -2, 2, {0}, NOK, true},
    {"relu", op_relu, ref_relu, -2, 2, {0}, {0, NAN}, true},
    {"leaky_relu", op_leaky_relu, ref_leaky_relu, -2, 2, {0.2}, {0, NAN}, true},
    {"elu", op_elu, ref_elu, -3, 2, {1.3}, {0, NAN}, true},
    {"tanh", op_tanh, ref_tanh, -3, 3, {0}, NOK, true},
    {"sigmoid", op_sigmoid, ref_sigmoid, -6, 6, {0}, NOK, true},
    {"softplus", op_softplus, ref_softplus, -5, 5, {1, 20}, NOK, true},
    {"softplus (linear part)", op_softplus, ref_softplus, -3, 3, {2, 3}, {1.5, NAN}, true},
    {"add_scalar", op_add_scalar, ref_add_scalar, -2, 2, {1.5}, NOK, true},
    {"mul_scalar", op_mul_scalar, ref_mul_scalar, -2, 2, {-2.5}, NOK, true},
    {"rsub_scalar", op_rsub_scalar, ref_rsub_scalar, -2, 2, {3}, NOK, true},
    {"rdiv_scalar", op_rdiv_scalar, ref_rdiv_scalar, 0.5, 3, {2}, NOK, true},
    {"pow_scalar 2", op_pow_scalar, ref_pow_scalar, -2, 2, {2}, NOK, true},
    {"pow_scalar 3", op_pow_scalar, ref_pow_scalar, -2, 2, {3}, NOK, true},
    {"pow_scalar 1", op_pow_scalar, ref_pow_scalar, -2, 2, {1}, NOK, true},
    {"pow_scalar 0", op_pow_scalar, ref_pow_scalar, -2, 2, {0}, NOK, true},
    {"pow_scalar 0.5", op_pow_scalar, ref_pow_scalar, 0.3, 3, {0.5}, NOK, true},
    {"pow_scalar -1", op_pow_scalar, ref_pow_scalar, 0.5, 3, {-1}, NOK, true},
    {"pow_scalar -1.5", op_pow_scalar, ref_pow_scalar, 0.5, 3, {-1.5}, NOK, true},
    {"rpow_scalar", op_rpow_scalar, ref_rpow_scalar, -2, 2, {2.5}, NOK, true},
    {"rpow_scalar 0.5", op_rpow_scalar, ref_rpow_scalar, -2, 2, {0.5}, NOK, true},
    {"clamp", op_clamp, ref_clamp, -2, 2, {-0.5, 0.7}, {-0.5, 0.7}, true},
    {"clamp hi only", op_clamp, ref_clamp, -2, 2, {NAN, 0.3}, {0.3, NAN}, true},
    {"clamp lo only", op_clamp, ref_clamp, -2, 2, {-0.2, NAN}, {-0.2, NAN}, true},
};
#define NUNARY (int)(sizeof UNARY / sizeof UNARY[0])

static void check_unary_forward(const unary_case *c, gr_tensor *x) {
  gr_tensor *y = c->op(x, c->par);
  if (!y) {
    print_error("%s: %s\n", c->name, gr_errmsg());
    fail();
  }
  assert_true(gr_same_shape(y, x));
  int64_t n = gr_numel(x);
  double *v = read_all(x);
  for (int64_t i = 0; i < n; i++) v[i] = c->ref(v[i], c->par);
  tu_assert_close_d(y, v, 2e-6, 2e-5, c->name, 0);
  free(v);
  gr_release(y);
}

static void test_unary_forward(void **state) {
  for (int k = 0; k < NUNARY; k++) {
    const unary_case *c = &UNARY[k];
    gr_tensor *x = tu_rand(TU_SHAPE(3, 5, 7), c->lo, c->hi);
    gr_tensor *xn = tu_noncontig(x);
    assert_false(gr_is_contiguous(xn));
    check_unary_forward(c, x);
    check_unary_forward(c, xn);
    /* a transposed view: strided in the inner loop */
    gr_tensor *xt = TU_OK(gr_transpose(x, 0, 2));
    check_unary_forward(c, xt);
    /* 0-d and empty */
    gr_tensor *s = gr_scalar((c->lo + c->hi) / 2 + 0.1);
    check_unary_forward(c, s);
    gr_tensor *e = gr_zeros(GR_F32, 2, (int64_t[]){0, 3});
    check_unary_forward(c, e);
    gr_release(e);
    gr_release(s);
    gr_release(xt);
    gr_release(xn);
    gr_release(x);
  }
}

/* big enough for the parallel, chunked path, with a kernel-table entry (contiguous) and without */
static void test_unary_forward_big(void **state) {
  const char *names[] = {"exp", "tanh", "sigmoid", "relu", "leaky_relu", "log", "mul_scalar",
                         "add_scalar", "clamp", "round"};
  for (int k = 0; k < NUNARY; k++) {
    const unary_case *c = &UNARY[k];
    bool want = false;
    for (size_t j = 0; j < sizeof names / sizeof *names; j++) want |= !strcmp(c->name, names[j]);
    if (!want) continue;
    gr_tensor *x = tu_rand(TU_SHAPE(301, 299), c->lo, c->hi);
    check_unary_forward(c, x);
    gr_tensor *xt = TU_OK(gr_transpose(x, 0, 1));
    check_unary_forward(c, xt);
    gr_release(xt);
    gr_release(x);
  }
}

typedef struct { const unary_case *c; } uctx;
static gr_tensor *f_unary(gr_tensor *const *in, void *ctx) {
  const unary_case *c = ((uctx *)ctx)->c;
  return c->op(in[0], c->par);
}

static gr_tensor *grad_input(const unary_case *c, bool noncontig) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3), c->lo, c->hi);
  for (int j = 0; j < 2; j++)
    if (!isnan(c->kinks[j])) push_away(x, c->kinks[j], 0.1);
  if (!noncontig) return x;
  gr_tensor *xn = tu_noncontig(x);
  gr_release(x);
  return xn;
}

static void test_unary_grads(void **state) {
  for (int k = 0; k < NUNARY; k++) {
    const unary_case *c = &UNARY[k];
    if (!c->differentiable) continue;
    uctx ctx = {c};
    print_message("gradcheck %s\n", c->name);
    gr_tensor *x = grad_input(c, false), *xn = grad_input(c, true);
    TU_GRADCHECK(f_unary, &ctx, 1, &x);
    TU_GRADCHECK(f_unary, &ctx, 1, &xn);
    TU_GRADGRADCHECK(f_unary, &ctx, 1, &x);
    gr_release(xn);
    gr_release(x);
  }
}

/* the results of sign, the rounding ops and the comparisons never require a gradient */
static void test_const_ops_not_recorded(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(4), -1, 1), *y = tu_rand(TU_SHAPE(4), -1, 1);
  gr_set_requires_grad(x, true);
  gr_tensor *outs[] = {gr_sign(x), gr_floor(x), gr_round(x), gr_ceil(x), gr_eq(x, y),
                       gr_ne(x, y), gr_lt(x, y), gr_le(x, y), gr_gt(x, y), gr_ge(x, y)};
  for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
    TU_OK(outs[i]);
    assert_false(outs[i]->requires_grad);
    assert_null(outs[i]->grad_fn);
    gr_release(outs[i]);
  }
  /* but an op with a number records */
  gr_tensor *z = TU_OK(gr_clamp(x, -0.5, 0.5));
  assert_string_equal(gr_grad_fn_name(z), "clamp");
  gr_release(z);
  gr_release(x);
  gr_release(y);
}

static void test_special_values(void **state) {
  float v[] = {NAN, -INFINITY, INFINITY, 0.0f, -0.0f, 1e30f, -1e30f};
  gr_tensor *x = gr_from_f32(v, 1, (int64_t[]){7});
  gr_tensor *r = TU_OK(gr_relu(x)), *c = TU_OK(gr_clamp(x, -1, 1)), *sg = TU_OK(gr_sigmoid(x));
  gr_tensor *sp = TU_OK(gr_softplus(x, 1, 20)), *t = TU_OK(gr_tanh(x)), *s = TU_OK(gr_sign(x));
  gr_tensor *e = TU_OK(gr_elu(x, 1));
  assert_true(isnan(gr_get_flat(c, 0)));  /* clamp keeps NaN */
  assert_float_equal(gr_get_flat(c, 1), -1, 0);
  assert_float_equal(gr_get_flat(c, 2), 1, 0);
  assert_true(isnan(gr_get_flat(r, 0)));  /* relu keeps NaN, as PyTorch */
  assert_true(gr_get_flat(r, 4) == 0 && !signbit(gr_get_flat(r, 4)));
  assert_float_equal(gr_get_flat(r, 1), 0, 0);
  assert_float_equal(gr_get_flat(r, 2), INFINITY, 0);
  assert_float_equal(gr_get_flat(sg, 5), 1, 0);
  assert_float_equal(gr_get_flat(sg, 6), 0, 0);
  assert_float_equal(gr_get_flat(sp, 5), 1e30f, 0); /* linear part, no overflow */
  assert_float_equal(gr_get_flat(sp, 6), 0, 0);
  assert_float_equal(gr_get_flat(t, 5), 1, 0);
  assert_float_equal(gr_get_flat(s, 3), 0, 0);
  assert_float_equal(gr_get_flat(s, 6), -1, 0);
  assert_float_equal(gr_get_flat(e, 6), -1, 0);
  gr_release(e);
  gr_release(s);
  gr_release(t);
  gr_release(sp);
  gr_release(sg);
  gr_release(c);
  gr_release(r);
  /* lo > hi gives hi everywhere, as min(max(x, lo), hi) */
  gr_tensor *y = tu_rand(TU_SHAPE(5), -3, 3), *cy = TU_OK(gr_clamp(y, 1, -1));
  for (int i = 0; i < 5; i++) assert_float_equal(gr_get_flat(cy, i), -1, 0);
  gr_release(cy);
  gr_release(y);
  gr_release(x);
}

/* the same float, -0 apart from +0, any NaN as NaN */
static bool same_float(float a, float b) {
  return (isnan(a) && isnan(b)) || (a == b && signbit(a) == signbit(b));
}

/* floor, round (half to even) and ceil at the edges, exactly */
static void test_rounding(void **state) {
  static const float c[][4] = {
      /* x, floor, round, ceil */
      {-2.5f, -3, -2, -2},
      {-1.5f, -2, -2, -1},
      {-0.5f, -1, -0.0f, -0.0f},
      {0.5f, 0, 0, 1},
      {1.5f, 1, 2, 2},
      {2.5f, 2, 2, 3},
      {3.5f, 3, 4, 4},
      {-3.5f, -4, -4, -3},
      {0.49999997f, 0, 0, 1}, /* below 0.5 by one ulp: floor(x + 0.5) would give 1 */
      {-0.49999997f, -1, -0.0f, -0.0f},
      {-0.3f, -1, -0.0f, -0.0f},
      {1.7f, 1, 2, 2},
      {8388607.5f, 8388607, 8388608, 8388608}, /* 2^23 - 0.5, the last half */
      {-8388607.5f, -8388608, -8388608, -8388607},
      {8388609, 8388609, 8388609, 8388609},     /* 2^23 + 1: whole, odd */
      {16777218, 16777218, 16777218, 16777218}, /* 2^24 + 2 */
      {1e30f, 1e30f, 1e30f, 1e30f},
      {-1e30f, -1e30f, -1e30f, -1e30f},
      {0.0f, 0.0f, 0.0f, 0.0f},
      {-0.0f, -0.0f, -0.0f, -0.0f},
      {1e-40f, 0, 0, 1}, /* subnormal */
      {-1e-40f, -1, -0.0f, -0.0f},
      {INFINITY, INFINITY, INFINITY, INFINITY},
      {-INFINITY, -INFINITY, -INFINITY, -INFINITY},
      {NAN, NAN, NAN, NAN},
  };
  enum { N = sizeof c / sizeof c[0] };
  float v[N];
  for (int i = 0; i < N; i++) v[i] = c[i][0];
  gr_tensor *x = gr_from_f32(v, 1, (int64_t[]){N});
  gr_tensor *y[3] = {TU_OK(gr_floor(x)), TU_OK(gr_round(x)), TU_OK(gr_ceil(x))};
  const char *names[3] = {"floor", "round", "ceil"};
  for (int k = 0; k < 3; k++) {
    assert_int_equal(y[k]->dtype, GR_F32);
    for (int i = 0; i < N; i++)
      if (!same_float(gr_f32(y[k])[i], c[i][k + 1]))
        fail_msg("%s(%.9g) = %.9g, want %.9g", names[k], (double)v[i], (double)gr_f32(y[k])[i],
                 (double)c[i][k + 1]);
    gr_release(y[k]);
  }
  gr_release(x);

  /* every 4099th bit pattern (all binades, both signs, subnormals, inf, NaN)
   * and every quarter in [-1000, 1000], against the double functions */
  int64_t n = (int64_t)(4294967296LL / 4099) + 8001;
  gr_tensor *w = gr_empty(GR_F32, 1, (int64_t[]){n});
  float *pw = gr_f32(w);
  for (int64_t i = 0; i < n - 8001; i++) {
    uint32_t bits = (uint32_t)(i * 4099);
    memcpy(&pw[i], &bits, sizeof bits);
  }
  for (int64_t k = 0; k < 8001; k++) pw[n - 8001 + k] = (float)(k - 4000) / 4;
  double (*ref[3])(double) = {floor, nearbyint, ceil};
  gr_tensor *z[3] = {TU_OK(gr_floor(w)), TU_OK(gr_round(w)), TU_OK(gr_ceil(w))};
  for (int k = 0; k < 3; k++) {
    for (int64_t i = 0; i < n; i++)
      if (!same_float(gr_f32(z[k])[i], (float)ref[k](pw[i])))
        fail_msg("%s(%.9g) = %.9g, want %.9g", names[k], (double)pw[i], (double)gr_f32(z[k])[i],
                 ref[k](pw[i]));
    gr_release(z[k]);
  }
  gr_release(w);
}

/* the fused leaky_relu backward and the recorded one agree */
static void test_leaky_relu_paths_agree(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(37, 41), -1, 1), *g0 = tu_rand(TU_SHAPE(37, 41), -1, 1);
  gr_set_requires_grad(x, true);
  gr_tensor *y = TU_OK(gr_leaky_relu(x, 0.2));
  gr_tensor *ga, *gb;
  gr_grad_opts o = {.grad_outputs = &g0, .retain_graph = true};
  assert_int_equal(gr_grad(1, &y, 1, &x, &o, &ga), GR_OK);
  /* recorded: the gradient is a function of g0 */
  o.create_graph = true;
  gr_set_requires_grad(g0, true);
  assert_int_equal(gr_grad(1, &y, 1, &x, &o, &gb), GR_OK);
  assert_string_equal(gr_grad_fn_name(gb), "where");
  TU_CLOSE(ga, gb, 0, 0);
  double *xv = read_all(x), *gv = read_all(g0);
  for (int64_t i = 0; i < gr_numel(x); i++) gv[i] = xv[i] > 0 ? gv[i] : 0.2f * (float)gv[i];
  TU_CLOSE_D(ga, gv, 1e-7, 0);
  free(xv);
  free(gv);
  gr_release(ga);
  gr_release(gb);
  gr_release(y);
  gr_release(g0);
  gr_release(x);
}

/* leaky_relu with a gain gives the very bits of leaky_relu then
 * mul_scalar: forward on contiguous and strided input (a transposed view),
 * the fused backward and the recorded one (create_graph), on one thread
 * and on three (a tensor large enough for the threads) */
static void same_bits(gr_tensor *a, gr_tensor *b) {
  gr_tensor *ca = TU_OK(gr_contiguous(a)), *cb = TU_OK(gr_contiguous(b));
  assert_memory_equal(gr_f32(ca), gr_f32(cb), (size_t)gr_numel(ca) * sizeof(float));
  gr_release(ca);
  gr_release(cb);
}

static void test_leaky_relu_gain_is_composition(void **state) {
  int prev = gr_get_threads();
  const double slope = 0.2, gain = 1.4142135623730951;
  for (int threads = 1; threads <= 3; threads += 2) {
    gr_set_threads(threads);
    gr_tensor *base = tu_rand(TU_SHAPE(300, 301), -1, 1), *g0 = tu_rand(TU_SHAPE(300, 301), -1, 1);
    for (int64_t i = 0; i < 300; i++) gr_f32(base)[i * 7] = 0.0f; /* ties at zero */
    gr_set_requires_grad(base, true);
    for (int v = 0; v < 2; v++) {
      gr_tensor *x = v ? TU_OK(gr_transpose(base, 0, 1)) : base;
      gr_tensor *g = v ? TU_OK(gr_transpose(g0, 0, 1)) : g0;
      gr_tensor *fused = TU_OK(gr_leaky_relu_gain(x, slope, gain));
      gr_tensor *act = TU_OK(gr_leaky_relu(x, slope)), *two = TU_OK(gr_mul_scalar(act, gain));
      same_bits(fused, two);
      for (int record = 0; record < 2; record++) {
        gr_tensor *ga, *gb;
        gr_grad_opts o = {.grad_outputs = &g, .retain_graph = true, .create_graph = record};
        assert_int_equal(gr_grad(1, &fused, 1, &base, &o, &ga), GR_OK);
        assert_int_equal(gr_grad(1, &two, 1, &base, &o, &gb), GR_OK);
        same_bits(ga, gb);
        gr_release(ga);
        gr_release(gb);
      }
      gr_release(fused);
      gr_release(act);
      gr_release(two);
      if (v) {
        gr_release(x);
        gr_release(g);
      }
    }
    gr_release(base);
    gr_release(g0);
  }
  gr_set_threads(prev);
}

/* --- binary ops ------------------------------------------------------------------------- */

typedef struct binary_case {
  const char *name;
  gr_tensor *(*op)(gr_tensor *a, gr_tensor *b);
  double (*ref)(double a, double b);
  double alo, ahi, blo, bhi;
  bool differentiable;
} binary_case;

static double r_add(double a, double b) { return a + b; }
static double r_sub(double a, double b) { return a - b; }
static double r_mul(double a, double b) { return a * b; }
static double r_div(double a, double b) { return a / b; }
static double r_pow(double a, double b) { return pow(a, b); }
static double r_max(double a, double b) { return a > b ? a : b; }
static double r_min(double a, double b) { return a < b ? a : b; }
static double r_eq(double a, double b) { return a == b; }
static double r_ne(double a, double b) { return a != b; }
static double r_lt(double a, double b) { return a < b; }
static double r_le(double a, double b) { return a <= b; }
static double r_gt(double a, double b) { return a > b; }
static double r_ge(double a, double b) { return a >= b; }

static const binary_case BINARY[] = {
    {"add", gr_add, r_add, -2, 2, -2, 2, true},
    {"sub", gr_sub, r_sub, -2, 2, -2, 2, true},
    {"mul", gr_mul, r_mul, -2, 2, -2, 2, true},
    {"div", gr_div, r_div, -2, 2, 0.5, 2, true},
    {"pow", gr_pow, r_pow, 0.5, 2, -2, 2, true},
    {"maximum", gr_maximum, r_max, -2, 2, -2, 2, true},
    {"minimum", gr_minimum, r_min, -2, 2, -2, 2, true},
    {"eq", gr_eq, r_eq, 0, 3, 0, 3, false},
    {"ne", gr_ne, r_ne, 0, 3, 0, 3, false},
    {"lt", gr_lt, r_lt, 0, 3, 0, 3, false},
    {"le", gr_le, r_le, 0, 3, 0, 3, false},
    {"gt", gr_gt, r_gt, 0, 3, 0, 3, false},
    {"ge", gr_ge, r_ge, 0, 3, 0, 3, false},
};
#define NBINARY (int)(sizeof BINARY / sizeof BINARY[0])

/* comparisons get whole numbers so that ties happen */
static gr_tensor *binary_input(const binary_case *c, int ndim, const int64_t *shape, bool b) {
  gr_tensor *t = tu_rand(ndim, shape, b ? c->blo : c->alo, b ? c->bhi : c->ahi);
  if (!c->differentiable)
    for (int64_t i = 0; i < gr_numel(t); i++) gr_f32(t)[i] = floorf(gr_f32(t)[i]);
  return t;
}

static void check_binary_forward(const binary_case *c, gr_tensor *a, gr_tensor *b) {
  gr_tensor *y = c->op(a, b);
  if (!y) {
    print_error("%s: %s\n", c->name, gr_errmsg());
    fail();
  }
  int64_t n = gr_numel(y);
  double *av = read_all(a), *bv = read_all(b), *ref = malloc((size_t)(n ? n : 1) * sizeof *ref);
  for (int64_t i = 0; i < n; i++)
    ref[i] = c->ref(av[bcast_index(y->ndim, y->shape, a->ndim, a->shape, i)],
                    bv[bcast_index(y->ndim, y->shape, b->ndim, b->shape, i)]);
  tu_assert_close_d(y, ref, 2e-6, 2e-5, c->name, 0);
  free(ref);
  free(av);
  free(bv);
  gr_release(y);
}

static void test_binary_forward(void **state) {
  for (int k = 0; k < NBINARY; k++) {
    const binary_case *c = &BINARY[k];
    /* broadcasting both ways: (3,1,5) with (4,1) -> (3,4,5) */
    gr_tensor *a = binary_input(c, TU_SHAPE(3, 1, 5), false), *b = binary_input(c, TU_SHAPE(4, 1), true);
    check_binary_forward(c, a, b);
    check_binary_forward(c, b, a);
    gr_tensor *an = tu_noncontig(a), *bn = tu_noncontig(b);
    check_binary_forward(c, an, bn);
    check_binary_forward(c, an, b);
    /* same shape, contiguous (kernel path) and odd */
    gr_tensor *p = binary_input(c, TU_SHAPE(7, 9), false), *q = binary_input(c, TU_SHAPE(7, 9), true);
    check_binary_forward(c, p, q);
    /* a 0-d operand on either side */
    gr_tensor *s = binary_input(c, 0, NULL, true);
    check_binary_forward(c, p, s);
    gr_tensor *s2 = binary_input(c, 0, NULL, false);
    check_binary_forward(c, s2, q);
    /* big, parallel: contiguous, and broadcast over rows */
    gr_tensor *A = binary_input(c, TU_SHAPE(3, 211, 157), false);
    gr_tensor *B = binary_input(c, TU_SHAPE(3, 211, 157), true), *Bb = binary_input(c, TU_SHAPE(211, 1), true);
    check_binary_forward(c, A, B);
    check_binary_forward(c, A, Bb);
    gr_tensor *At = TU_OK(gr_transpose(A, 1, 2));
    gr_tensor *Bbt = binary_input(c, TU_SHAPE(211), true);
    check_binary_forward(c, At, Bbt);
    gr_tensor *all[] = {a, b, an, bn, p, q, s, s2, A, B, Bb, At, Bbt};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gr_release(all[i]);
  }
}

typedef struct { const binary_case *c; } bctx;
static gr_tensor *f_binary(gr_tensor *const *in, void *ctx) {
  return ((bctx *)ctx)->c->op(in[0], in[1]);
}

/* b = a + d with |d| in [0.2, 0.5]: maximum and minimum stay away from ties */
static void separate(gr_tensor *b, const gr_tensor *a) {
  for (int64_t i = 0; i < gr_numel(b); i++) {
    double d = 0.2 + 0.3 * fabs(gr_f32(b)[i]) / 2;
    gr_f32(b)[i] = (float)(gr_get_flat(a, i % gr_numel(a)) + (gr_f32(b)[i] > 0 ? d : -d));
  }
}

static void test_binary_grads(void **state) {
  for (int k = 0; k < NBINARY; k++) {
    const binary_case *c = &BINARY[k];
    if (!c->differentiable) continue;
    bctx ctx = {c};
    print_message("gradcheck %s\n", c->name);
    bool mm = !strcmp(c->name, "maximum") || !strcmp(c->name, "minimum");
    /* broadcast: (2,3) with (3); and same shape, non-contiguous */
    gr_tensor *a = tu_rand(TU_SHAPE(2, 3), c->alo, c->ahi), *b = tu_rand(TU_SHAPE(3), c->blo, c->bhi);
    gr_tensor *p = tu_rand(TU_SHAPE(3, 2), c->alo, c->ahi), *q = tu_rand(TU_SHAPE(3, 2), c->blo, c->bhi);
    if (mm) {
      /* a broadcast b is compared with each row of a: keep b off every row */
      for (int j = 0; j < 3; j++) {
        double lo = fmin(gr_get_flat(a, j), gr_get_flat(a, 3 + j)), hi = fmax(gr_get_flat(a, j), gr_get_flat(a, 3 + j));
        gr_f32(b)[j] = (float)(hi - lo > 0.6 ? (lo + hi) / 2 : (j % 2 ? hi + 0.3 : lo - 0.3));
      }
      separate(q, p);
    }
    gr_tensor *pn = tu_noncontig(p), *qn = tu_noncontig(q);
    gr_tensor *in1[2] = {a, b}, *in2[2] = {pn, qn}, *in3[2] = {b, a};
    TU_GRADCHECK(f_binary, &ctx, 2, in1);
    /* the broadcast operand first, where the domains allow the swap */
    if (c->alo == c->blo && c->ahi == c->bhi) TU_GRADCHECK(f_binary, &ctx, 2, in3);
    TU_GRADCHECK(f_binary, &ctx, 2, in2);
    TU_GRADGRADCHECK(f_binary, &ctx, 2, in1);
    TU_GRADGRADCHECK(f_binary, &ctx, 2, in2);
    gr_release(a);
    gr_release(b);
    gr_release(p);
    gr_release(q);
    gr_release(pn);
    gr_release(qn);
  }
}

static void grads_of(gr_tensor *(*op)(gr_tensor *, gr_tensor *), gr_tensor *a, gr_tensor *b,
                     gr_tensor **ga, gr_tensor **gb) {
  gr_set_requires_grad(a, true);
  gr_set_requires_grad(b, true);
  gr_tensor *y = TU_OK(op(a, b)), *s = TU_OK(gr_sum(y, 0, NULL, false)), *in[2] = {a, b}, *g[2];
  assert_int_equal(gr_grad(1, &s, 2, in, NULL, g), GR_OK);
  *ga = g[0];
  *gb = g[1];
  gr_release(s);
  gr_release(y);
}

/* The gradient at a NaN input, as PyTorch's rules give it: relu and elu pass
 * g (their rules test x <= 0), leaky_relu g * slope (x > 0), clamp 0. The
 * forward keeps the NaN on a strided view (the loop) and contiguous (the
 * kernel table). */
static void test_activation_grad_at_nan(void **state) {
  gr_tensor *base = gr_from_f32((float[]){NAN, -1, 0, 2, NAN, -1, 0, 2}, 2, (int64_t[]){4, 2});
  gr_tensor *view = TU_OK(gr_narrow(base, 1, 0, 1)), *r = TU_OK(gr_relu(view));
  assert_true(isnan(gr_get_flat(r, 0)) && isnan(gr_get_flat(r, 2)) && gr_get_flat(r, 1) == 0);
  gr_release(r);
  gr_release(view);
  gr_set_requires_grad(base, true);
  gr_tensor *ys[4] = {TU_OK(gr_relu(base)), TU_OK(gr_elu(base, 1)), TU_OK(gr_leaky_relu(base, 0.5)),
                      TU_OK(gr_clamp(base, -0.5, 1))};
  const double want[4] = {1, 1, 0.5, 0};
  for (int k = 0; k < 4; k++) {
    assert_true(isnan(gr_get_flat(ys[k], 0)));
    gr_tensor *s = TU_OK(gr_sum(ys[k], 0, NULL, false)), *g;
    assert_int_equal(gr_grad(1, &s, 1, &base, NULL, &g), GR_OK);
    assert_float_equal(gr_get_flat(g, 0), want[k], 0);
    assert_float_equal(gr_get_flat(g, 4), want[k], 0);
    gr_release(g);
    gr_release(s);
    gr_release(ys[k]);
  }
  gr_release(base);
}

static void test_maximum_ties_and_nan(void **state) {
  gr_tensor *a = gr_from_f32((float[]){1, 2, 3, NAN}, 1, (int64_t[]){4});
  gr_tensor *b = gr_from_f32((float[]){1, 5, 0, 1}, 1, (int64_t[]){4});
  gr_tensor *ga, *gb;
  grads_of(gr_maximum, a, b, &ga, &gb);
  /* where a NaN is involved neither side lost or tied: both get g, as in PyTorch */
  TU_CLOSE_D(ga, ((double[]){0.5, 0, 1, 1}), 0, 0);
  TU_CLOSE_D(gb, ((double[]){0.5, 1, 0, 1}), 0, 0);
  gr_release(ga);
  gr_release(gb);
  grads_of(gr_minimum, a, b, &ga, &gb);
  TU_CLOSE_D(ga, ((double[]){0.5, 1, 0, 1}), 0, 0);
  TU_CLOSE_D(gb, ((double[]){0.5, 0, 1, 1}), 0, 0);
  gr_release(ga);
  gr_release(gb);
  /* NaN wins on either side */
  gr_tensor *m1 = TU_OK(gr_maximum(a, b)), *m2 = TU_OK(gr_minimum(b, a));
  assert_true(isnan(gr_get_flat(m1, 3)) && isnan(gr_get_flat(m2, 3)));
  gr_release(m1);
  gr_release(m2);
  gr_release(a);
  gr_release(b);
}

/* pow at a zero base stays finite: d/da (0^2) = 0 and d/db (0^b) = 0 for b >= 0 */
static void test_pow_zero_base(void **state) {
  gr_tensor *a = gr_from_f32((float[]){0, 0, 2}, 1, (int64_t[]){3});
  gr_tensor *b = gr_from_f32((float[]){2, 0, 0}, 1, (int64_t[]){3});
  gr_tensor *ga, *gb;
  grads_of(gr_pow, a, b, &ga, &gb);
  TU_CLOSE_D(ga, ((double[]){0, 0, 0}), 0, 0);
  TU_CLOSE_D(gb, ((double[]){0, 0, log(2.0)}), 1e-6, 1e-6);
  gr_release(ga);
  gr_release(gb);
  gr_release(a);
  gr_release(b);
}

static void test_comparisons_int(void **state) {
  gr_tensor *a = gr_from_i64((int64_t[]){0, 3, 5, -2}, 1, (int64_t[]){4});
  gr_tensor *b = gr_from_i64((int64_t[]){0, 4, 5, -3}, 1, (int64_t[]){4});
  gr_tensor *e = TU_OK(gr_eq(a, b)), *l = TU_OK(gr_lt(a, b));
  assert_int_equal(e->dtype, GR_F32);
  TU_CLOSE_D(e, ((double[]){1, 0, 1, 0}), 0, 0);
  TU_CLOSE_D(l, ((double[]){0, 1, 0, 0}), 0, 0);
  /* int64 against a float number: compared as numbers */
  gr_tensor *c = gr_scalar(2.5), *g = TU_OK(gr_gt(a, c)), *g2 = TU_OK(gr_le(c, a));
  TU_CLOSE_D(g, ((double[]){0, 1, 1, 0}), 0, 0);
  TU_CLOSE_D(g2, ((double[]){0, 1, 1, 0}), 0, 0);
  /* large int64 values compare exactly (they do not round through float) */
  gr_tensor *big1 = gr_from_i64((int64_t[]){(1LL << 40) + 1}, 1, (int64_t[]){1});
  gr_tensor *big2 = gr_from_i64((int64_t[]){(1LL << 40)}, 1, (int64_t[]){1});
  gr_tensor *ne = TU_OK(gr_ne(big1, big2));
  assert_float_equal(gr_get_flat(ne, 0), 1, 0);
  gr_tensor *all[] = {a, b, e, l, c, g, g2, big1, big2, ne};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) gr_release(all[i]);
}

/* --- where -------------------------------------------------------------------------------- */

static gr_tensor *f_where(gr_tensor *const *in, void *ctx) { return gr_where(in[0], in[1], in[2]); }

static gr_tensor *rand_mask(int ndim, const int64_t *shape) {
  gr_tensor *m = tu_rand(ndim, shape, 0, 1);
  for (int64_t i = 0; i < gr_numel(m); i++) gr_f32(m)[i] = gr_f32(m)[i] > 0.5f ? 1.0f : 0.0f;
  return m;
}

static void check_where(gr_tensor *m, gr_tensor *a, gr_tensor *b) {
  gr_tensor *y = TU_OK(gr_where(m, a, b));
  int64_t n = gr_numel(y);
  double *mv = read_all(m), *av = read_all(a), *bv = read_all(b), *ref = malloc((size_t)n * sizeof *ref);
  for (int64_t i = 0; i < n; i++)
    ref[i] = mv[bcast_index(y->ndim, y->shape, m->ndim, m->shape, i)] != 0
                 ? av[bcast_index(y->ndim, y->shape, a->ndim, a->shape, i)]
                 : bv[bcast_index(y->ndim, y->shape, b->ndim, b->shape, i)];
  TU_CLOSE_D(y, ref, 0, 0);
  free(mv);
  free(av);
  free(bv);
  free(ref);
  gr_release(y);
}

static void test_where(void **state) {
  gr_tensor *m = rand_mask(TU_SHAPE(3, 1, 5)), *a = tu_rand(TU_SHAPE(4, 5), -1, 1);
  gr_tensor *b = tu_rand(TU_SHAPE(3, 4, 1), -1, 1);
  check_where(m, a, b);
  gr_tensor *mn = tu_noncontig(m), *an = tu_noncontig(a), *bn = tu_noncontig(b);
  check_where(mn, an, bn);
  /* an int64 mask */
  gr_tensor *mi = gr_from_i64((int64_t[]){0, 7, -1, 0, 1}, 1, (int64_t[]){5});
  check_where(mi, a, b);
  /* same shapes, contiguous */
  gr_tensor *m2 = rand_mask(TU_SHAPE(7, 9)), *a2 = tu_rand(TU_SHAPE(7, 9), -1, 1), *b2 = tu_rand(TU_SHAPE(7, 9), -1, 1);
  check_where(m2, a2, b2);
  gr_tensor *m2i = TU_OK(gr_to_dtype(m2, GR_I64));
  check_where(m2i, a2, b2);
  gr_release(m2i);
  /* contiguous, one side a number, or both (the vectorised loops) */
  gr_tensor *s1 = gr_scalar(0.5), *s2 = gr_scalar(-2);
  check_where(m2, a2, s1);
  check_where(m2, s1, b2);
  check_where(m2, s1, s2);
  gr_release(s1);
  gr_release(s2);
  gr_release(m2);
  gr_release(a2);
  gr_release(b2);
  /* big */
  gr_tensor *M = rand_mask(TU_SHAPE(300, 1)), *A = tu_rand(TU_SHAPE(300, 250), -1, 1), *B = gr_scalar(7);
  check_where(M, A, B);
  /* gradients: to a and b (broadcast), none to the mask */
  gr_tensor *gm = rand_mask(TU_SHAPE(3, 1)), *ga = tu_rand(TU_SHAPE(3, 4), -1, 1), *gb = tu_rand(TU_SHAPE(4), -1, 1);
  gr_tensor *in[3] = {gm, ga, gb};
  TU_GRADCHECK(f_where, NULL, 3, in);
  TU_GRADGRADCHECK(f_where, NULL, 3, in);
  gr_tensor *all[] = {m, a, b, mn, an, bn, mi, M, A, B, gm, ga, gb};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) gr_release(all[i]);
}

/* --- bad inputs ------------------------------------------------------------------------- */

static void test_bad_inputs(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3), 0.5, 1), *y = tu_rand(TU_SHAPE(4), 0, 1);
  gr_tensor *i = gr_from_i64((int64_t[]){1, 2, 3}, 1, (int64_t[]){3});
  assert_null(gr_exp(i));
  assert_msg("exp", "float32");
  assert_null(gr_relu(i));
  assert_msg("relu", "int64");
  assert_null(gr_pow_scalar(i, 2));
  assert_msg("pow_scalar", NULL);
  assert_null(gr_square(i));
  assert_msg("square", NULL);
  assert_null(gr_rdiv_scalar(i, 1));
  assert_msg("rdiv_scalar", NULL);
  assert_null(gr_rsub_scalar(i, 1));
  assert_msg("rsub_scalar", NULL);
  assert_null(gr_pow(x, y));
  assert_msg("pow", "[2, 3]");
  assert_msg("[4]", NULL);
  assert_null(gr_maximum(x, y));
  assert_msg("maximum", "do not broadcast");
  assert_null(gr_minimum(x, i));
  assert_msg("minimum", NULL);
  assert_null(gr_lt(x, y));
  assert_msg("lt", "[4]");
  assert_null(gr_where(x, x, y));
  assert_msg("where", "[4]");
  assert_null(gr_where(x, i, x));
  assert_msg("where", "int64");
  assert_null(gr_clamp(x, NAN, NAN));
  assert_msg("clamp", NULL);
  assert_null(gr_softplus(x, 0, 20));
  assert_msg("softplus", "beta");
  /* NULL in, NULL out, first message kept */
  assert_null(gr_tanh(gr_add(x, y)));
  assert_msg("add", NULL);
  assert_null(gr_where(NULL, x, x));
  assert_null(gr_sigmoid(NULL));
  assert_null(gr_clamp(NULL, 0, 1));
  assert_null(gr_eq(x, NULL));
  gr_release(x);
  gr_release(y);
  gr_release(i);
}

/* --- creation ------------------------------------------------------------------------------ */

static void test_arange_linspace_eye(void **state) {
  gr_tensor *a = TU_OK(gr_arange(0, 5, 1));
  TU_CLOSE_D(a, ((double[]){0, 1, 2, 3, 4}), 0, 0);
  gr_tensor *b = TU_OK(gr_arange(1, 2, 0.3));
  assert_int_equal(gr_numel(b), 4);
  TU_CLOSE_D(b, ((double[]){1, 1.3, 1.6, 1.9}), 1e-6, 0);
  gr_tensor *c = TU_OK(gr_arange(5, 0, -2));
  TU_CLOSE_D(c, ((double[]){5, 3, 1}), 0, 0);
  gr_tensor *e = TU_OK(gr_arange(3, 3, 1));
  assert_int_equal(gr_numel(e), 0);
  assert_int_equal(a->dtype, GR_F32);
  assert_null(gr_arange(0, 1, 0));
  assert_msg("arange", "step");
  assert_null(gr_arange(0, 5, -1));
  assert_msg("arange", NULL);
  assert_null(gr_arange(0, INFINITY, 1));
  assert_msg("arange", NULL);

  gr_tensor *l = TU_OK(gr_linspace(0, 1, 5));
  TU_CLOSE_D(l, ((double[]){0, 0.25, 0.5, 0.75, 1}), 0, 0);
  gr_tensor *l2 = TU_OK(gr_linspace(-1, 0.3, 7));
  for (int k = 0; k < 7; k++) assert_float_equal(gr_get_flat(l2, k), (float)(-1 + k * 1.3 / 6), 1e-6);
  assert_float_equal(gr_get_flat(l2, 6), 0.3f, 0); /* the end exactly */
  gr_tensor *l1 = TU_OK(gr_linspace(4, 9, 1)), *l0 = TU_OK(gr_linspace(4, 9, 0));
  TU_CLOSE_D(l1, ((double[]){4}), 0, 0);
  assert_int_equal(gr_numel(l0), 0);
  assert_null(gr_linspace(0, 1, -1));
  assert_msg("linspace", NULL);

  gr_tensor *I = TU_OK(gr_eye(3)), *I0 = TU_OK(gr_eye(0));
  TU_CLOSE_D(I, ((double[]){1, 0, 0, 0, 1, 0, 0, 0, 1}), 0, 0);
  assert_int_equal(I->ndim, 2);
  assert_int_equal(gr_numel(I0), 0);
  assert_null(gr_eye(-2));
  assert_msg("eye", NULL);
  gr_tensor *all[] = {a, b, c, e, l, l2, l1, l0, I, I0};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) gr_release(all[i]);
}

static void test_to_dtype(void **state) {
  gr_tensor *x = gr_from_f32((float[]){-2.7f, -0.5f, 0.5f, 2.9f, NAN, 1e30f, -1e30f, 7}, 1,
                             (int64_t[]){8});
  gr_tensor *i = TU_OK(gr_to_dtype(x, GR_I64));
  assert_int_equal(i->dtype, GR_I64);
  int64_t want[] = {-2, 0, 0, 2, 0, INT64_MAX, INT64_MIN, 7};
  for (int k = 0; k < 8; k++) assert_true(gr_i64(i)[k] == want[k]);
  gr_tensor *f = TU_OK(gr_to_dtype(i, GR_F32));
  assert_int_equal(f->dtype, GR_F32);
  assert_float_equal(gr_get_flat(f, 0), -2, 0);
  assert_float_equal(gr_get_flat(f, 7), 7, 0);
  assert_false(f->requires_grad);
  /* any layout */
  gr_tensor *y = tu_rand(TU_SHAPE(3, 4, 5), -10, 10), *yn = tu_noncontig(y);
  gr_tensor *yi = TU_OK(gr_to_dtype(yn, GR_I64));
  assert_true(gr_is_contiguous(yi));
  for (int64_t k = 0; k < 60; k++) assert_true(gr_i64(yi)[k] == (int64_t)gr_get_flat(y, k));
  gr_tensor *yit = TU_OK(gr_transpose(yi, 0, 2)), *yf = TU_OK(gr_to_dtype(yit, GR_F32));
  gr_tensor *yt = TU_OK(gr_transpose(y, 0, 2));
  for (int64_t k = 0; k < 60; k++)
    assert_float_equal(gr_get_flat(yf, k), truncf((float)gr_get_flat(yt, k)), 0);
  /* float to float keeps the graph; to int64 leaves it */
  gr_set_requires_grad(y, true);
  gr_tensor *same = TU_OK(gr_to_dtype(y, GR_F32)), *cut = TU_OK(gr_to_dtype(y, GR_I64));
  assert_true(same->requires_grad);
  assert_false(cut->requires_grad);
  assert_null(cut->grad_fn);
  assert_null(gr_to_dtype(y, (gr_dtype)7));
  assert_msg("to_dtype", NULL);
  gr_tensor *all[] = {x, i, f, y, yn, yi, yit, yf, yt, same, cut};
  for (size_t k = 0; k < sizeof all / sizeof *all; k++) gr_release(all[k]);
}

/* elementwise results do not depend on the thread count */
static void test_threads_bit_identical(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(5, 203, 111), -3, 3), *b = tu_rand(TU_SHAPE(203, 1), -1, 1);
  int keep = gr_get_threads();
  gr_set_threads(1);
  gr_pool_push();
  gr_tensor *y1 = TU_OK(gr_pool_pop_keep(gr_mul(gr_tanh(x), b)));
  gr_set_threads(2);
  gr_pool_push();
  gr_tensor *y2 = TU_OK(gr_pool_pop_keep(gr_mul(gr_tanh(x), b)));
  gr_set_threads(keep);
  TU_CLOSE(y1, y2, 0, 0);
  gr_release(y1);
  gr_release(y2);
  gr_release(x);
  gr_release(b);
}

static void test_no_leaks(void **state) {
  int64_t t0 = gr_live_tensors(), n0 = gr_live_nodes();
  gr_tensor *x = tu_rand(TU_SHAPE(3, 4), 0.5, 1.5), *y = tu_rand(TU_SHAPE(4), 0.5, 1.5);
  gr_set_requires_grad(x, true);
  gr_set_requires_grad(y, true);
  gr_pool_push();
  gr_tensor *z = gr_sum(gr_add(gr_pow(x, y), gr_where(gr_gt(x, y), gr_elu(x, 1), gr_softplus(y, 1, 20))),
                        0, NULL, false);
  gr_tensor *in[2] = {x, y}, *g[2];
  gr_grad_opts o = {.create_graph = true};
  assert_int_equal(gr_grad(1, &z, 2, in, &o, g), GR_OK);
  gr_tensor *z2 = gr_sum(gr_add(gr_sum(g[0], 0, NULL, false), gr_sum(g[1], 0, NULL, false)), 0, NULL, false);
  assert_int_equal(gr_grad(1, &z2, 2, in, NULL, g), GR_OK);
  gr_pool_pop();
  gr_release(x);
  gr_release(y);
  assert_int_equal(gr_live_tensors(), t0);
  assert_int_equal(gr_live_nodes(), n0);
}

/* Shapes whose element count (or its bytes) would overflow an int64_t are
 * refused when a tensor or a view is made, so gr_numel can never overflow:
 * an expand to such a shape made numel wrap to 16 before. */
static void test_huge_shapes(void **state) {
  (void)state;
  gr_tensor *x = TU_OK(gr_zeros(GR_F32, 2, (int64_t[]){1, 1}));
  assert_null(gr_expand(x, 2, (int64_t[]){16777232, 1099510579201}));
  assert_non_null(strstr(gr_errmsg(), "tensor: shape [16777232, 1099510579201] is too large"));
  assert_null(gr_empty(GR_F32, 2, (int64_t[]){4294967296, 4294967296}));
  assert_non_null(strstr(gr_errmsg(), "is too large"));
  /* empty, but its other sizes multiply past int64_t */
  assert_null(gr_empty(GR_F32, 3, (int64_t[]){4294967296, 4294967296, 0}));
  assert_null(gr_empty(GR_F32, 3, (int64_t[]){0, 4294967296, 4294967296}));
  /* large and empty shapes that fit are fine */
  gr_tensor *e = TU_OK(gr_empty(GR_F32, 3, (int64_t[]){3, 0, 1 << 20}));
  assert_int_equal(gr_numel(e), 0);
  gr_tensor *v = TU_OK(gr_expand(x, 2, (int64_t[]){1 << 30, 1 << 28}));
  assert_int_equal(gr_numel(v), (int64_t)1 << 58);
  gr_release(e);
  gr_release(v);
  gr_release(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unary_forward),
      cmocka_unit_test(test_unary_forward_big),
      cmocka_unit_test(test_unary_grads),
      cmocka_unit_test(test_const_ops_not_recorded),
      cmocka_unit_test(test_special_values),
      cmocka_unit_test(test_rounding),
      cmocka_unit_test(test_leaky_relu_paths_agree),
      cmocka_unit_test(test_leaky_relu_gain_is_composition),
      cmocka_unit_test(test_binary_forward),
      cmocka_unit_test(test_binary_grads),
      cmocka_unit_test(test_maximum_ties_and_nan),
      cmocka_unit_test(test_activation_grad_at_nan),
      cmocka_unit_test(test_pow_zero_base),
      cmocka_unit_test(test_comparisons_int),
      cmocka_unit_test(test_where),
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_arange_linspace_eye),
      cmocka_unit_test(test_to_dtype),
      cmocka_unit_test(test_threads_bit_identical),
      cmocka_unit_test(test_huge_shapes),
      cmocka_unit_test(test_no_leaks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
