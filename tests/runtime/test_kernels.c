/* Every SIMD kernel against its scalar twin: all lengths 0..67 and a few
 * long ones, unaligned pointers, tails that must not write past the end.
 * Arithmetic and optimizer updates must match bit for bit, exp/tanh/sigmoid
 * within a few ulp (also over a sweep of the whole float range), sums to
 * about 1e-12 relative; the convolution engine's GEMM tile and transpose16
 * bit for bit, with odd step counts and row strides, and its depthwise rows
 * bit for bit on every row length to 67, odd strides and tap counts. Then
 * the choice of table: gr_kernels_use and GANLUA_ISA. */
#define _POSIX_C_SOURCE 200809L /* popen, readlink */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/table.h"
#include "testutil.h"

/* ulp tolerances of the vector exp/tanh/sigmoid against the scalar ones (which
 * are within 1 ulp of the true values: expf, and tanh/sigmoid in double) */
#define ULP_EXP 2
#define ULP_TANH 2
#define ULP_SIGMOID 2

static const char *const k_isas[] = {"avx2", "avx512"};
#define NISA 2
static const int64_t k_long[] = {1000, 4099};

/* --- helpers ---------------------------------------------------------------------- */

static double unit(void) { return tu_unit(); }

static uint32_t bits(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  return u;
}
static float from_bits(uint32_t u) {
  float x;
  memcpy(&x, &u, 4);
  return x;
}
/* NaNs compare equal to NaNs (payloads may differ); otherwise bit for bit */
static bool same(float a, float b) { return (isnan(a) && isnan(b)) || bits(a) == bits(b); }
/* distance in representable floats; +0 and -0 are the same point */
static int64_t ulps(float a, float b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b) ? 0 : INT64_MAX;
  uint32_t ua = bits(a), ub = bits(b);
  int64_t ka = (ua >> 31) ? -(int64_t)(ua & 0x7fffffffu) : (int64_t)ua;
  int64_t kb = (ub >> 31) ? -(int64_t)(ub & 0x7fffffffu) : (int64_t)ub;
  return ka > kb ? ka - kb : kb - ka;
}

/* A buffer of n floats starting `off` floats past a 64-byte boundary, with
 * guard floats on both sides to catch writes out of bounds. */
#define GUARD 16
typedef struct buf {
  float *base, *p;
  int64_t n;
} buf;
static const float k_guard = -12345.5f;
static buf buf_new(int64_t n, int off) {
  size_t bytes = (size_t)(n + 2 * GUARD + 64) * sizeof(float);
  buf b = {aligned_alloc(64, (bytes + 63) / 64 * 64), NULL, n};
  assert_non_null(b.base);
  for (int64_t i = 0; i < n + 2 * GUARD + 64; i++) b.base[i] = k_guard;
  b.p = b.base + GUARD + off;
  return b;
}
static void buf_check_guards(const buf *b) {
  for (int i = 1; i <= GUARD; i++) assert_true(bits(b->p[-i]) == bits(k_guard));
  for (int i = 0; i < GUARD; i++) assert_true(bits(b->p[b->n + i]) == bits(k_guard));
}
static void buf_free(buf *b) { free(b->base); }

/* Values in [lo, hi), with a special value (zeros, infinities, NaN, subnormals,
 * huge) in about one element in eight when `specials`. */
static void fill(float *p, int64_t n, double lo, double hi, bool specials) {
  static const float sp[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-40f, -1e-40f,
                             FLT_MAX, -FLT_MAX, 1e30f, -1e30f, FLT_MIN};
  for (int64_t i = 0; i < n; i++) {
    if (specials && unit() < 0.125) p[i] = sp[(int)(unit() * (sizeof sp / sizeof sp[0]))];
    else p[i] = (float)(lo + (hi - lo) * unit());
  }
}

static void copy(float *dst, const float *src, int64_t n) { memcpy(dst, src, (size_t)n * sizeof *dst); }

static void assert_same(const float *got, const float *ref, int64_t n, const char *isa,
                        const char *what) {
  for (int64_t i = 0; i < n; i++) {
    if (!same(got[i], ref[i])) {
      print_error("%s %s: n=%lld element %lld: got %.9g (0x%08x), scalar %.9g (0x%08x)\n", isa,
                  what, (long long)n, (long long)i, got[i], bits(got[i]), ref[i], bits(ref[i]));
      fail();
    }
  }
}

/* Calls fn(n) for every length 0..67 and the long ones, with offset 1..3. */
typedef void (*len_fn)(const gr_kernel_table *t, int64_t n, int off);
static void each_length(len_fn fn) {
  const gr_kernel_table *s = gr_kernels_scalar();
  assert_non_null(s);
  for (int k = 0; k < NISA; k++) {
    const gr_kernel_table *t = gr_kernels_for(k_isas[k]);
    if (!t) continue;
    for (int64_t n = 0; n <= 67; n++)
      for (int off = 1; off <= 3; off++) fn(t, n, off);
    for (size_t j = 0; j < sizeof k_long / sizeof k_long[0]; j++)
      for (int off = 1; off <= 3; off++) fn(t, k_long[j], off);
  }
}

/* --- elementwise: bit for bit ------------------------------------------------------- */

static void check_elementwise(const gr_kernel_table *t, int64_t n, int off) {
  const gr_kernel_table *s = gr_kernels_scalar();
  /* out, a and b each at their own misalignment */
  buf a = buf_new(n, off), b = buf_new(n, (off + 1) % 4), o = buf_new(n, (off + 2) % 4);
  buf r = buf_new(n, 0);
  fill(a.p, n, -4, 4, true);
  fill(b.p, n, -4, 4, true);
  const float sc = (float)(unit() * 3 - 1.5), c = (float)(unit() * 2 - 1);

#define BIN(name)                                 \
  s->name(r.p, a.p, b.p, n);                      \
  t->name(o.p, a.p, b.p, n);                      \
  assert_same(o.p, r.p, n, t->isa, #name);        \
  buf_check_guards(&o);
  BIN(add) BIN(sub) BIN(mul) BIN(div)
#undef BIN
#define UN(name, ...)                             \
  s->name(r.p, __VA_ARGS__);                      \
  t->name(o.p, __VA_ARGS__);                      \
  assert_same(o.p, r.p, n, t->isa, #name);        \
  buf_check_guards(&o);
  UN(affine, a.p, sc, c, n)
  UN(add_s, a.p, sc, n)
  UN(mul_s, a.p, sc, n)
  UN(div_sd, a.p, (double)sc * 3.7, n)
  UN(relu, a.p, n)
  UN(leaky_relu, a.p, 0.2f, n)
  UN(leaky_relu_grad, a.p, b.p, 0.2f, n)
  UN(relu_grad, a.p, b.p, n)
  UN(scale_shift, a.p, c, sc, 0.25f, n)
#undef UN
  /* axpy updates in place */
  copy(r.p, b.p, n);
  copy(o.p, b.p, n);
  s->axpy(r.p, sc, a.p, n);
  t->axpy(o.p, sc, a.p, n);
  assert_same(o.p, r.p, n, t->isa, "axpy");
  buf_check_guards(&o);
  /* out may alias an input */
  copy(o.p, a.p, n);
  t->mul(o.p, o.p, b.p, n);
  s->mul(r.p, a.p, b.p, n);
  assert_same(o.p, r.p, n, t->isa, "mul in place");
  buf_check_guards(&a);
  buf_check_guards(&b);
  buf_free(&a);
  buf_free(&b);
  buf_free(&o);
  buf_free(&r);
}

static void test_elementwise_exact(void **state) { each_length(check_elementwise); }

/* --- exp, tanh, sigmoid: a few ulp ------------------------------------------------ */

typedef void (*unary_k)(float *, const float *, int64_t);
static int64_t g_worst[3][NISA]; /* worst ulp seen: exp, tanh, sigmoid per ISA */

static int isa_index(const char *isa) { return strcmp(isa, "avx2") ? 1 : 0; }

static void check_ulps(const float *x, const float *got, const float *ref, int64_t n,
                       const char *isa, const char *what, int64_t tol, int64_t *worst) {
  for (int64_t i = 0; i < n; i++) {
    int64_t d = ulps(got[i], ref[i]);
    if (d > *worst) *worst = d;
    if (d > tol) {
      print_error("%s %s(%.9g = 0x%08x): got %.9g, scalar %.9g (%lld ulp)\n", isa, what, x[i],
                  bits(x[i]), got[i], ref[i], (long long)d);
      fail();
    }
  }
}

static void check_transcendental(const gr_kernel_table *t, int64_t n, int off) {
  const gr_kernel_table *s = gr_kernels_scalar();
  buf x = buf_new(n, off), o = buf_new(n, (off + 1) % 4), r = buf_new(n, 0);
  int w = isa_index(t->isa);
  /* a range wider than where the functions saturate, and the specials */
  fill(x.p, n, -110, 110, true);
  s->exp(r.p, x.p, n);
  t->exp(o.p, x.p, n);
  check_ulps(x.p, o.p, r.p, n, t->isa, "exp", ULP_EXP, &g_worst[0][w]);
  buf_check_guards(&o);
  fill(x.p, n, -12, 12, true);
  s->tanh(r.p, x.p, n);
  t->tanh(o.p, x.p, n);
  check_ulps(x.p, o.p, r.p, n, t->isa, "tanh", ULP_TANH, &g_worst[1][w]);
  buf_check_guards(&o);
  fill(x.p, n, -110, 110, true);
  s->sigmoid(r.p, x.p, n);
  t->sigmoid(o.p, x.p, n);
  check_ulps(x.p, o.p, r.p, n, t->isa, "sigmoid", ULP_SIGMOID, &g_worst[2][w]);
  buf_check_guards(&o);
  buf_free(&x);
  buf_free(&o);
  buf_free(&r);
}

static void test_transcendental_lengths(void **state) { each_length(check_transcendental); }

/* Every 211th bit pattern: all binades, both signs, subnormals, inf, NaN. */
static void test_transcendental_sweep(void **state) {
  const gr_kernel_table *s = gr_kernels_scalar();
  const int64_t chunk = 1 << 20;
  float *x = malloc(chunk * sizeof *x), *o = malloc(chunk * sizeof *o), *r = malloc(chunk * sizeof *r);
  assert_true(x && o && r);
  const char *names[3] = {"exp", "tanh", "sigmoid"};
  const int64_t tol[3] = {ULP_EXP, ULP_TANH, ULP_SIGMOID};
  uint64_t u = 0;
  while (u <= 0xffffffffull) {
    int64_t n = 0;
    for (; n < chunk && u <= 0xffffffffull; n++, u += 211) x[n] = from_bits((uint32_t)u);
    /* the edges of each function's range, exactly */
    if (u > 0xffffffffull && n + 8 <= chunk) {
      const float edge[8] = {88.7228394f, 88.7228317f, -87.3365479f, -103.972084f,
                             -103.278931f, 9.01f, -9.02f, 1e-30f};
      for (int j = 0; j < 8; j++) x[n++] = edge[j];
    }
    for (int f = 0; f < 3; f++) {
      unary_k sk = f == 0 ? s->exp : f == 1 ? s->tanh : s->sigmoid;
      sk(r, x, n);
      for (int k = 0; k < NISA; k++) {
        const gr_kernel_table *t = gr_kernels_for(k_isas[k]);
        if (!t) continue;
        unary_k tk = f == 0 ? t->exp : f == 1 ? t->tanh : t->sigmoid;
        tk(o, x, n);
        check_ulps(x, o, r, n, t->isa, names[f], tol[f], &g_worst[f][k]);
      }
    }
  }
  for (int k = 0; k < NISA; k++)
    if (gr_kernels_for(k_isas[k]))
      print_message("%s: worst ulp exp %lld, tanh %lld, sigmoid %lld\n", k_isas[k],
                    (long long)g_worst[0][k], (long long)g_worst[1][k], (long long)g_worst[2][k]);
  free(x);
  free(o);
  free(r);
}

/* Values known in closed form, so that both tables are also right, not just alike. */
static void test_transcendental_values(void **state) {
  const float x[] = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, NAN, 100.0f, -100.0f, 1e-30f};
  const int n = sizeof x / sizeof x[0];
  const char *isas[3] = {"scalar", "avx2", "avx512"};
  for (int k = 0; k < 3; k++) {
    const gr_kernel_table *t = gr_kernels_for(isas[k]);
    if (!t) continue;
    float e[10], th[10], sg[10];
    t->exp(e, x, n);
    t->tanh(th, x, n);
    t->sigmoid(sg, x, n);
    assert_true(e[0] == 1.0f && e[1] == 1.0f && e[4] == INFINITY && e[5] == 0.0f);
    assert_true(fabsf(e[2] - 2.71828183f) <= 2.4e-7f && isnan(e[6]));
    assert_true(e[7] == INFINITY && fabs(e[8] - 3.720076e-44) < 3e-45 && e[9] == 1.0f);
    assert_true(th[0] == 0.0f && !signbit(th[0]) && signbit(th[1]));
    assert_true(fabsf(th[2] - 0.761594156f) <= 1.2e-7f && th[3] == -th[2]);
    assert_true(th[4] == 1.0f && th[5] == -1.0f && isnan(th[6]) && th[7] == 1.0f);
    assert_true(th[9] == 1e-30f);
    assert_true(sg[0] == 0.5f && sg[4] == 1.0f && sg[5] == 0.0f && isnan(sg[6]));
    assert_true(fabsf(sg[2] - 0.731058579f) <= 1.2e-7f && fabsf(sg[2] + sg[3] - 1.0f) <= 1.2e-7f);
    /* sigmoid(-100) = e^-100 / (1 + e^-100): a subnormal, not 0 */
    assert_true(sg[8] > 0 && fabs(sg[8] - 3.720076e-44) < 3e-45);
  }
}

/* NaN passes through relu and leaky_relu in every table, as in PyTorch (the
 * twin test alone would accept a NaN lost the same way everywhere); -0 and
 * the negatives become +0 under relu. */
static void test_activation_nan(void **state) {
  const float x[] = {NAN, -1.0f, -0.0f, 0.0f, 2.0f, -INFINITY, INFINITY, NAN, -3.0f};
  const int n = sizeof x / sizeof x[0];
  const char *isas[3] = {"scalar", "avx2", "avx512"};
  for (int k = 0; k < 3; k++) {
    const gr_kernel_table *t = gr_kernels_for(isas[k]);
    if (!t) continue;
    float r[9], l[9];
    t->relu(r, x, n);
    t->leaky_relu(l, x, 0.5f, n);
    assert_true(isnan(r[0]) && isnan(r[7]) && isnan(l[0]) && isnan(l[7]));
    assert_true(r[1] == 0 && !signbit(r[1]) && !signbit(r[2]) && r[4] == 2.0f);
    assert_true(r[5] == 0 && r[6] == INFINITY && r[8] == 0);
    assert_true(l[1] == -0.5f && l[4] == 2.0f && l[5] == -INFINITY && l[8] == -1.5f);
  }
}

/* --- reductions ------------------------------------------------------------------------ */

static void check_reductions(const gr_kernel_table *t, int64_t n, int off) {
  const gr_kernel_table *s = gr_kernels_scalar();
  buf x = buf_new(n, off);
  /* an offset mean makes sumsq_dev cancel, and shows masked lanes that add (0 - mean)^2 */
  fill(x.p, n, 2.5, 7.5, false);
  double abs_sum = 0, sq = 0;
  for (int64_t i = 0; i < n; i++) abs_sum += fabs(x.p[i]), sq += (double)x.p[i] * x.p[i];
  const float mean = 5.0f;
  double dev = s->sumsq_dev(x.p, mean, n);
  double got = t->sum(x.p, n), ref = s->sum(x.p, n);
  assert_true(fabs(got - ref) <= 1e-12 * abs_sum);
  got = t->sumsq(x.p, n), ref = s->sumsq(x.p, n);
  assert_true(fabs(got - ref) <= 1e-12 * sq);
  got = t->sumsq_dev(x.p, mean, n);
  if (!(fabs(got - dev) <= 1e-12 * (sq + 25.0 * n))) {
    print_error("%s sumsq_dev n=%lld: got %.17g, scalar %.17g\n", t->isa, (long long)n, got, dev);
    fail();
  }
  if (n == 0) assert_true(t->sum(x.p, 0) == 0 && t->sumsq(x.p, 0) == 0 && t->sumsq_dev(x.p, 1, 0) == 0);

  /* max: all negative (a tail padded with zeros would win), then a NaN anywhere */
  fill(x.p, n, -9, -1, false);
  float m = t->max(x.p, n);
  assert_true(m == s->max(x.p, n));
  if (n == 0) assert_true(m == -INFINITY);
  if (n > 0) {
    x.p[n - 1] = 0.5f; /* in the tail */
    assert_true(t->max(x.p, n) == 0.5f);
    int64_t at = (int64_t)(unit() * n);
    x.p[at] = NAN;
    assert_true(isnan(t->max(x.p, n)) && isnan(s->max(x.p, n)));
    x.p[at] = INFINITY;
    assert_true(t->max(x.p, n) == INFINITY);
  }
  buf_free(&x);
}

static void test_reductions(void **state) { each_length(check_reductions); }

static void test_reductions_large_range(void **state) {
  /* wide magnitudes and cancellation: still within 1e-12 of the sum of |x| */
  const int64_t n = 100003;
  float *x = malloc(n * sizeof *x);
  assert_non_null(x);
  double abs_sum = 0, sq = 0;
  for (int64_t i = 0; i < n; i++) {
    x[i] = (float)((unit() - 0.5) * pow(10.0, unit() * 12 - 6));
    abs_sum += fabs(x[i]);
    sq += (double)x[i] * x[i];
  }
  const gr_kernel_table *s = gr_kernels_scalar();
  for (int k = 0; k < NISA; k++) {
    const gr_kernel_table *t = gr_kernels_for(k_isas[k]);
    if (!t) continue;
    assert_true(fabs(t->sum(x, n) - s->sum(x, n)) <= 1e-12 * abs_sum);
    assert_true(fabs(t->sumsq(x, n) - s->sumsq(x, n)) <= 1e-12 * sq);
    assert_true(fabs(t->sumsq_dev(x, 0.25f, n) - s->sumsq_dev(x, 0.25f, n)) <= 1e-12 * (sq + n));
    assert_true(t->max(x, n) == s->max(x, n));
  }
  free(x);
}

/* --- optimizer updates: bit for bit -------------------------------------------------- */

static void check_optim(const gr_kernel_table *t, int64_t n, int off) {
  const gr_kernel_table *s = gr_kernels_scalar();
  buf p0 = buf_new(n, off), g = buf_new(n, (off + 1) % 4), m0 = buf_new(n, (off + 2) % 4),
      v0 = buf_new(n, (off + 3) % 4);
  buf p = buf_new(n, off), m = buf_new(n, (off + 1) % 4), v = buf_new(n, (off + 2) % 4);
  buf pr = buf_new(n, 0), mr = buf_new(n, 0), vr = buf_new(n, 0);
  fill(p0.p, n, -1, 1, false);
  fill(g.p, n, -0.1, 0.1, false);
  fill(m0.p, n, -0.05, 0.05, false);
  fill(v0.p, n, 0, 0.01, false);
#define RESET()               \
  copy(p.p, p0.p, n);         \
  copy(pr.p, p0.p, n);        \
  copy(m.p, m0.p, n);         \
  copy(mr.p, m0.p, n);        \
  copy(v.p, v0.p, n);         \
  copy(vr.p, v0.p, n);
#define SAME3(what)                            \
  assert_same(p.p, pr.p, n, t->isa, what);     \
  assert_same(m.p, mr.p, n, t->isa, what);     \
  assert_same(v.p, vr.p, n, t->isa, what);     \
  buf_check_guards(&p);                        \
  buf_check_guards(&m);                        \
  buf_check_guards(&v);

  for (int dec = 0; dec <= 1; dec++) {
    for (int wdi = 0; wdi <= 1; wdi++) {
      float wd = wdi ? 0.01f : 0.0f, bc1 = 1 - 0.9f * 0.9f * 0.9f, bc2 = 1 - powf(0.999f, 3);
      RESET()
      s->adam(pr.p, g.p, mr.p, vr.p, n, 1e-3f, 0.9f, 0.999f, 1e-8f, wd, bc1, bc2, dec);
      t->adam(p.p, g.p, m.p, v.p, n, 1e-3f, 0.9f, 0.999f, 1e-8f, wd, bc1, bc2, dec);
      SAME3("adam")
    }
  }
  for (int mode = 0; mode < 6; mode++) {
    float mom = mode == 0 ? 0.0f : 0.9f, damp = mode == 2 ? 0.1f : 0.0f;
    int nesterov = mode == 3 || mode == 5, first = mode >= 4;
    RESET()
    s->sgd(pr.p, g.p, mr.p, n, 0.1f, mom, damp, 1e-4f, nesterov, first);
    t->sgd(p.p, g.p, m.p, n, 0.1f, mom, damp, 1e-4f, nesterov, first);
    SAME3("sgd")
  }
  RESET()
  s->rmsprop(pr.p, g.p, vr.p, n, 1e-2f, 0.99f, 1e-8f, 1e-3f);
  t->rmsprop(p.p, g.p, v.p, n, 1e-2f, 0.99f, 1e-8f, 1e-3f);
  SAME3("rmsprop")
#undef RESET
#undef SAME3
  buf *all[] = {&p0, &g, &m0, &v0, &p, &m, &v, &pr, &mr, &vr};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) buf_free(all[i]);
}

static void test_optim_exact(void **state) { each_length(check_optim); }

/* --- the convolution engine's GEMM tile, pack_runs, interleave8, add_rows and transpose16 --- */

/* Every table's tile (whole and narrow) against sums in double, fresh and
 * accumulating, several step counts, and its pack_runs, interleave8,
 * add_rows and transpose16 exactly: each table is right on its own, the scalar
 * reference included. The narrow tile leaves the columns past its own as
 * they were. */
static void test_gemm_tile_values(void **state) {
  enum { M = GR_TILE_M, N = GR_TILE_N, KMAX = 300 };
  float *a = aligned_alloc(64, KMAX * M * sizeof *a), *b = aligned_alloc(64, KMAX * N * sizeof *b);
  float c[M * N], c0[M * N];
  for (int i = 0; i < KMAX * M; i++) a[i] = (float)(2 * unit() - 1);
  for (int i = 0; i < KMAX * N; i++) b[i] = (float)(2 * unit() - 1);
  const char *isas[3] = {"scalar", "avx2", "avx512"};
  for (int t = 0; t < 3; t++) {
    const gr_kernel_table *kt = gr_kernels_for(isas[t]);
    if (!kt) continue;
    const int64_t steps[] = {0, 1, 7, 37, KMAX};
    for (size_t s = 0; s < sizeof steps / sizeof *steps; s++)
      for (int acc = 0; acc < 2; acc++)
        for (int nv = 1; nv <= N / 16; nv++) {
          for (int i = 0; i < M * N; i++) c[i] = c0[i] = (float)(2 * unit() - 1);
          if (nv == N / 16) kt->gemm_tile(c, N, a, b, steps[s], acc);
          else kt->gemm_tile_at(c, N, a, 1, M, b, steps[s], acc, nv);
          for (int r = 0; r < M; r++)
            for (int q = 0; q < N; q++) {
              if (q >= nv * 16) {
                assert_true(bits(c[r * N + q]) == bits(c0[r * N + q]));
                continue;
              }
              double want = acc ? c0[r * N + q] : 0.0, mag = fabs(want);
              for (int64_t k = 0; k < steps[s]; k++) {
                want += (double)a[k * M + r] * b[k * N + q];
                mag += fabs((double)a[k * M + r] * b[k * N + q]);
              }
              assert_true(fabs(c[r * N + q] - want) <= 1e-6 * mag + 1e-30);
            }
        }
    /* pack_runs: runs from anywhere (offsets off a vector boundary) into an
     * aligned panel, exactly; the vectors past nv as they were */
    for (int nv = 1; nv <= N / 16; nv++) {
      enum { KC = 21 };
      int64_t koff[KC], base[3] = {5, 131, 70};
      float *pb = aligned_alloc(64, KC * N * sizeof *pb);
      for (int k = 0; k < KC; k++) koff[k] = (k * 53) % 97;
      for (int i = 0; i < KC * N; i++) pb[i] = -7;
      kt->pack_runs(pb, b, koff, base, KC, nv);
      for (int k = 0; k < KC; k++)
        for (int v = 0; v < N / 16; v++)
          for (int q = 0; q < 16; q++)
            assert_true(bits(pb[k * N + v * 16 + q]) ==
                        bits(v < nv ? b[koff[k] + base[v] + q] : -7.0f));
      free(pb);
    }
    /* interleave8: nr rows from anywhere, position by position into an
     * unaligned d, rows past nr zero; whole blocks of 16 positions and tails */
    for (int nr = 1; nr <= 8; nr++)
      for (int64_t n = 0; n <= 41; n += (n < 18 ? 1 : 23)) {
        const float *src[8];
        float d[8 * 41 + 3];
        for (int r = 0; r < nr; r++) src[r] = b + 53 * r + 3;
        for (int i = 0; i < 8 * 41 + 3; i++) d[i] = -5;
        kt->interleave8(d + 1, src, nr, n);
        assert_true(d[0] == -5.0f);
        for (int64_t i = 0; i < n; i++)
          for (int r = 0; r < 8; r++)
            assert_true(bits(d[1 + i * 8 + r]) == bits(r < nr ? src[r][i] : 0.0f));
        assert_true(d[1 + n * 8] == -5.0f);
      }
    /* add_rows: rows of 1 to 40 floats added exactly, row strides of their
     * own, nothing between the rows or past them touched */
    for (int64_t n = 1; n <= 40; n += (n < 18 ? 1 : 11)) {
      enum { ROWS = 3, DSTEP = 45 };
      float d[ROWS * DSTEP], want[ROWS * DSTEP];
      const float *src = b + 11;
      for (int i = 0; i < ROWS * DSTEP; i++) d[i] = want[i] = a[i];
      for (int r = 0; r < ROWS; r++)
        for (int64_t q = 0; q < n; q++) want[r * DSTEP + q] = a[r * DSTEP + q] + src[r * 41 + q];
      kt->add_rows(d, DSTEP, src, 41, ROWS, n);
      for (int i = 0; i < ROWS * DSTEP; i++) assert_true(bits(d[i]) == bits(want[i]));
    }
    /* transpose16: rows from anywhere, laid across with a row stride of 20 */
    const float *rows[16];
    float tr[16 * 20];
    for (int r = 0; r < 16; r++) rows[r] = b + 37 * r;
    for (int i = 0; i < 16 * 20; i++) tr[i] = -1;
    kt->transpose16(tr, 20, rows);
    for (int q = 0; q < 16; q++)
      for (int i = 0; i < 20; i++)
        assert_true(tr[q * 20 + i] == (i < 16 ? rows[i][q] : -1.0f));
  }
  free(a);
  free(b);
}

/* Each SIMD tile against the scalar twin, bit for bit (both fuse each
 * multiply-add, in step order): odd step counts around the vector and
 * panel sizes, fresh and accumulating, row strides that are not a multiple
 * of 16 and blocks that start off a 64-byte boundary (b stays aligned, as
 * the tile requires); specials in one pass. Floats between the rows and
 * around the block, and past a narrow tile's nv vectors, must stay as they
 * were. nv 3 with a packed (ra 1, ka 8) is the whole tile, gemm_tile;
 * else gemm_tile_at, with a's rows ra and its steps ka floats apart. */
static void check_tile_twin(const gr_kernel_table *t, int64_t kc, int64_t ldc, int off, bool acc,
                            bool specials, int nv, int64_t ra, int64_t ka) {
  const gr_kernel_table *s = gr_kernels_scalar();
  enum { M = GR_TILE_M, N = GR_TILE_N };
  int64_t nc = (M - 1) * ldc + N, na = (M - 1) * ra + (kc ? kc - 1 : 0) * ka + 1;
  buf a = buf_new(na, (off + 1) % 4), c0 = buf_new(nc, off), c = buf_new(nc, off),
      r = buf_new(nc, off);
  float *b = aligned_alloc(64, (size_t)(kc ? kc : 1) * N * sizeof *b);
  assert_non_null(b);
  fill(a.p, na, -2, 2, specials);
  fill(b, kc * N, -2, 2, specials);
  fill(c0.p, nc, -2, 2, specials);
  copy(c.p, c0.p, nc);
  copy(r.p, c0.p, nc);
  if (nv == N / 16 && ra == 1 && ka == M) {
    s->gemm_tile(r.p, ldc, a.p, b, kc, acc);
    t->gemm_tile(c.p, ldc, a.p, b, kc, acc);
  } else {
    s->gemm_tile_at(r.p, ldc, a.p, ra, ka, b, kc, acc, nv);
    t->gemm_tile_at(c.p, ldc, a.p, ra, ka, b, kc, acc, nv);
  }
  char what[128];
  snprintf(what, sizeof what, "gemm_tile kc=%lld ldc=%lld off=%d acc=%d nv=%d ra=%lld ka=%lld",
           (long long)kc, (long long)ldc, off, acc, nv, (long long)ra, (long long)ka);
  assert_same(c.p, r.p, nc, t->isa, what);
  buf_check_guards(&c);
  /* the gaps between the rows, and the columns past the tile's, are the caller's */
  for (int64_t row = 0; row < M; row++)
    assert_same(c.p + row * ldc + nv * 16, c0.p + row * ldc + nv * 16,
                row < M - 1 ? ldc - nv * 16 : N - nv * 16, t->isa, "gemm_tile gap");
  buf_free(&a);
  buf_free(&c0);
  buf_free(&c);
  buf_free(&r);
  free(b);
}

static void check_transpose_twin(const gr_kernel_table *t, int64_t ldd, int off) {
  const gr_kernel_table *s = gr_kernels_scalar();
  int64_t nd = 15 * ldd + 16;
  /* sixteen rows at their own misalignments, some overlapping */
  buf src = buf_new(16 * 21, off), d = buf_new(nd, (off + 1) % 4), r = buf_new(nd, (off + 1) % 4);
  fill(src.p, 16 * 21, -8, 8, true);
  const float *rows[16];
  for (int i = 0; i < 16; i++) rows[i] = src.p + (i * 21 + i % 5) % (16 * 21 - 16 + 1);
  fill(d.p, nd, -1, 1, false);
  copy(r.p, d.p, nd);
  s->transpose16(r.p, ldd, rows);
  t->transpose16(d.p, ldd, rows);
  assert_same(d.p, r.p, nd, t->isa, "transpose16");
  buf_check_guards(&d);
  buf_free(&src);
  buf_free(&d);
  buf_free(&r);
}

static void test_gemm_tile_twin(void **state) {
  const gr_kernel_table *s = gr_kernels_scalar();
  const int64_t steps[] = {0, 1, 2, 3, 7, 15, 16, 17, 33, 37, 255, 256, 300};
  const int64_t ldcs[] = {GR_TILE_N, GR_TILE_N + 1, GR_TILE_N + 5, 64, 67, 97};
  const int64_t ldds[] = {16, 17, 20, 31, GR_TILE_N};
  for (int k = 0; k < NISA; k++) {
    const gr_kernel_table *t = gr_kernels_for(k_isas[k]);
    if (!t) continue;
    if (t->gemm_tile == s->gemm_tile) {
      /* no tile of its own (AVX2): the engine runs sgemm there */
      assert_ptr_equal(t->gemm_tile_at, s->gemm_tile_at);
      assert_ptr_equal(t->transpose16, s->transpose16);
      continue;
    }
    /* a packed, its rows far apart (a weight matrix's rows), its steps far apart (w^T's) */
    const int64_t strides[][2] = {{1, GR_TILE_M}, {301, 1}, {1, 19}};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
      for (size_t j = 0; j < sizeof ldcs / sizeof *ldcs; j++)
        for (int off = 0; off < 4; off++)
          for (int acc = 0; acc < 2; acc++)
            for (int nv = 1; nv <= GR_TILE_N / 16; nv++)
              for (int st = 0; st < 3; st++)
                check_tile_twin(t, steps[i], ldcs[j], off, acc, false, nv, strides[st][0],
                                strides[st][1]);
    for (int acc = 0; acc < 2; acc++)
      for (int nv = 1; nv <= GR_TILE_N / 16; nv++)
        check_tile_twin(t, 37, GR_TILE_N + 3, 1, acc, true, nv, 1, GR_TILE_M);
    for (size_t j = 0; j < sizeof ldds / sizeof *ldds; j++)
      for (int off = 0; off < 4; off++) check_transpose_twin(t, ldds[j], off);
  }
}

/* --- the convolution engine's depthwise rows ------------------------------------------- */

/* A kh x kw window over rows ldx floats apart: tap t = (i, j) at i*ldx + j. */
static void window(int64_t *off, int kh, int kw, int64_t ldx) {
  for (int i = 0; i < kh; i++)
    for (int j = 0; j < kw; j++) off[i * kw + j] = i * ldx + j;
}

/* Every table's dw_rows and dw_grad_rows against sums in double, a few
 * shapes: each table is right on its own, the scalar reference included. */
static void test_dw_rows_values(void **state) {
  enum { ROWS = 3, N = 37, KH = 3, KW = 4, LDX = N + KW + 2, LDY = N + 5 };
  float x[(ROWS + KH) * LDX], w[KH * KW], y[ROWS * LDY], g[ROWS * LDY], acc[KH * KW * 16];
  int64_t off[KH * KW];
  window(off, KH, KW, LDX);
  fill(x, (ROWS + KH) * LDX, -1, 1, false);
  fill(w, KH * KW, -1, 1, false);
  fill(g, ROWS * LDY, -1, 1, false);
  const char *isas[3] = {"scalar", "avx2", "avx512"};
  for (int k = 0; k < 3; k++) {
    const gr_kernel_table *kt = gr_kernels_for(isas[k]);
    if (!kt) continue;
    kt->dw_rows(y, LDY, x, LDX, off, w, KH * KW, ROWS, N, 0.5f);
    for (int r = 0; r < ROWS; r++)
      for (int q = 0; q < N; q++) {
        double want = 0.5, mag = 0.5;
        for (int t = 0; t < KH * KW; t++) {
          want += (double)w[t] * x[r * LDX + off[t] + q];
          mag += fabs((double)w[t] * x[r * LDX + off[t] + q]);
        }
        assert_true(fabs(y[r * LDY + q] - want) <= 1e-6 * mag);
      }
    for (int i = 0; i < KH * KW * 16; i++) acc[i] = 0;
    kt->dw_grad_rows(acc, g, LDY, x, LDX, off, KH * KW, ROWS, N);
    for (int t = 0; t < KH * KW; t++) {
      double want = 0, mag = 0, got = 0;
      for (int l = 0; l < 16; l++) got += acc[t * 16 + l];
      for (int r = 0; r < ROWS; r++)
        for (int q = 0; q < N; q++) {
          want += (double)g[r * LDY + q] * x[r * LDX + off[t] + q];
          mag += fabs((double)g[r * LDY + q] * x[r * LDX + off[t] + q]);
        }
      assert_true(fabs(got - want) <= 1e-6 * mag);
    }
  }
}

/* A SIMD version against the scalar twin, bit for bit: `rows` rows of n
 * floats, a kh x kw window, rows `gap` floats longer than they need, each
 * buffer at its own misalignment; specials in one pass. Floats between the
 * output rows and around them must stay as they were; the gradient adds
 * onto sums already there. */
static void check_dw_twin(const gr_kernel_table *t, int64_t n, int64_t rows, int kh, int kw,
                          int64_t gap, int off, bool specials) {
  const gr_kernel_table *s = gr_kernels_scalar();
  int64_t taps = kh * kw, ldx = n + (kw ? kw - 1 : 0) + gap, ldy = n + gap;
  int64_t nx = (rows + (kh ? kh - 1 : 0)) * ldx;
  int64_t ny = rows ? (rows - 1) * ldy + n : 0;
  int64_t offs[25];
  window(offs, kh, kw, ldx);
  buf x = buf_new(nx, off), w = buf_new(taps, (off + 1) % 4), g = buf_new(ny, (off + 2) % 4);
  buf y0 = buf_new(ny, (off + 3) % 4), y = buf_new(ny, (off + 3) % 4), r = buf_new(ny, 0);
  buf a0 = buf_new(taps * 16, off), a = buf_new(taps * 16, off), ar = buf_new(taps * 16, 0);
  fill(x.p, nx, -2, 2, specials);
  fill(w.p, taps, -2, 2, specials);
  fill(g.p, ny, -2, 2, specials);
  fill(y0.p, ny, -1, 1, false);
  fill(a0.p, taps * 16, -1, 1, false);
  copy(y.p, y0.p, ny);
  copy(r.p, y0.p, ny);
  copy(a.p, a0.p, taps * 16);
  copy(ar.p, a0.p, taps * 16);
  float init = (float)(unit() - 0.5);
  s->dw_rows(r.p, ldy, x.p, ldx, offs, w.p, taps, rows, n, init);
  t->dw_rows(y.p, ldy, x.p, ldx, offs, w.p, taps, rows, n, init);
  char what[96];
  snprintf(what, sizeof what, "dw_rows rows=%lld %dx%d gap=%lld off=%d", (long long)rows, kh, kw,
           (long long)gap, off);
  assert_same(y.p, r.p, ny, t->isa, what);
  buf_check_guards(&y);
  /* the gaps between the rows are the caller's */
  for (int64_t row = 0; row + 1 < rows; row++)
    assert_same(y.p + row * ldy + n, y0.p + row * ldy + n, gap, t->isa, "dw_rows gap");
  s->dw_grad_rows(ar.p, g.p, ldy, x.p, ldx, offs, taps, rows, n);
  t->dw_grad_rows(a.p, g.p, ldy, x.p, ldx, offs, taps, rows, n);
  snprintf(what, sizeof what, "dw_grad_rows rows=%lld %dx%d gap=%lld off=%d", (long long)rows, kh,
           kw, (long long)gap, off);
  assert_same(a.p, ar.p, taps * 16, t->isa, what);
  buf_check_guards(&a);
  buf *all[] = {&x, &w, &g, &y0, &y, &r, &a0, &a, &ar};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(all[i]);
}

static void test_dw_rows_twin(void **state) {
  const gr_kernel_table *s = gr_kernels_scalar();
  const int kernels[][2] = {{1, 1}, {3, 3}, {4, 4}, {1, 5}, {5, 5}, {0, 0}};
  const int64_t rows[] = {1, 2, 5, 17};
  for (int k = 0; k < NISA; k++) {
    const gr_kernel_table *t = gr_kernels_for(k_isas[k]);
    if (!t) continue;
    if (t->dw_rows == s->dw_rows) {
      /* none of its own (AVX2): the engine runs sgemm there */
      assert_ptr_equal(t->dw_grad_rows, s->dw_grad_rows);
      continue;
    }
    for (int64_t n = 0; n <= 67; n++)
      for (size_t i = 0; i < sizeof kernels / sizeof *kernels; i++)
        for (size_t j = 0; j < sizeof rows / sizeof *rows; j++)
          check_dw_twin(t, n, rows[j], kernels[i][0], kernels[i][1], (n + i) % 4 * 3,
                        (int)((n + j) % 4), false);
    for (int off = 0; off < 4; off++) check_dw_twin(t, 37, 3, 3, 4, 5, off, true);
  }
}

/* --- choosing a table ---------------------------------------------------------------- */

static void test_tables(void **state) {
  const gr_kernel_table *s = gr_kernels_scalar();
  assert_non_null(s);
  assert_ptr_equal(s, gr_kernels_for("scalar"));
  assert_string_equal(s->isa, "scalar");
  __builtin_cpu_init();
  bool has[NISA] = {__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"),
                    __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")};
  for (int k = 0; k < NISA; k++) {
    const gr_kernel_table *t = gr_kernels_for(k_isas[k]);
    /* both are built here, so the CPU alone decides */
    assert_true((t != NULL) == has[k]);
    if (!t) {
      print_message("this CPU lacks %s: its kernels are not tested\n", k_isas[k]);
      continue;
    }
    assert_string_equal(t->isa, k_isas[k]);
    /* every entry present, and the SIMD ones really are not the scalar ones,
     * but for AVX2's GEMM tile, transpose16 and depthwise rows, which are
     * (none of its own) */
    const void *const *e = (const void *const *)t, *const *se = (const void *const *)s;
    size_t tile = offsetof(gr_kernel_table, gemm_tile) / sizeof(void *);
    size_t last = offsetof(gr_kernel_table, dw_grad_rows) / sizeof(void *);
    for (size_t i = 1; i < sizeof *t / sizeof(void *); i++) {
      assert_non_null(e[i]);
      if (!strcmp(t->isa, "avx2") && i >= tile && i <= last) assert_ptr_equal(e[i], se[i]);
      else assert_ptr_not_equal(e[i], se[i]);
    }
  }
  assert_null(gr_kernels_for("sse9"));
  assert_null(gr_kernels_for(NULL));
  assert_null(gr_kernels_for("AVX2"));
}

static void test_use(void **state) {
  const gr_kernel_table *before = gr_kernels();
  assert_non_null(before);
  const char *names[3] = {"scalar", "avx2", "avx512"};
  for (int k = 0; k < 3; k++) {
    if (!gr_kernels_for(names[k])) {
      assert_int_equal(gr_kernels_use(names[k]), -1);
      assert_non_null(strstr(gr_errmsg(), "lacks"));
      continue;
    }
    assert_int_equal(gr_kernels_use(names[k]), 0);
    assert_string_equal(gr_kernels()->isa, names[k]);
  }
  const gr_kernel_table *now = gr_kernels();
  assert_int_equal(gr_kernels_use("neon"), -1);
  assert_non_null(strstr(gr_errmsg(), "unknown instruction set 'neon'"));
  assert_ptr_equal(gr_kernels(), now); /* a refused name changes nothing */
  assert_int_equal(gr_kernels_use(NULL), -1);
  assert_int_equal(gr_kernels_use(before->isa), 0);
  assert_ptr_equal(gr_kernels(), before);
}

/* GANLUA_ISA is read once per process: run this program again with it set. */
static void run_self(const char *env, char *out, size_t cap) {
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  assert_true(len > 0);
  self[len] = 0;
  char cmd[4300];
  snprintf(cmd, sizeof cmd, "GANLUA_ISA=%s '%s' --print-isa 2>&1", env, self);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  size_t n = fread(out, 1, cap - 1, f);
  out[n] = 0;
  assert_int_equal(pclose(f), 0);
}

static void test_env(void **state) {
  char out[1024];
  const char *best = gr_kernels_for("avx512") ? "avx512" : gr_kernels_for("avx2") ? "avx2" : "scalar";
  run_self("scalar", out, sizeof out);
  assert_string_equal(out, "isa=scalar\n");
  if (gr_kernels_for("avx2")) {
    run_self("avx2", out, sizeof out);
    assert_string_equal(out, "isa=avx2\n");
  }
  /* an unknown name is refused with a warning, and the best table is used */
  run_self("pentium", out, sizeof out);
  assert_non_null(strstr(out, "GANLUA_ISA=pentium is not available"));
  char want[64];
  snprintf(want, sizeof want, "isa=%s\n", best);
  assert_non_null(strstr(out, want));
  /* empty means unset */
  run_self("''", out, sizeof out);
  assert_string_equal(out, want);
}

int main(int argc, char **argv) {
  tu_keep_state();
  if (argc > 1 && !strcmp(argv[1], "--print-isa")) {
    printf("isa=%s\n", gr_kernels()->isa);
    return 0;
  }
  const struct CMUnitTest tests[] = {
      TU_TEST(test_tables),
      TU_TEST(test_elementwise_exact),
      TU_TEST(test_transcendental_values),
      TU_TEST(test_activation_nan),
      TU_TEST(test_transcendental_lengths),
      TU_TEST(test_transcendental_sweep),
      TU_TEST(test_reductions),
      TU_TEST(test_reductions_large_range),
      TU_TEST(test_optim_exact),
      TU_TEST(test_gemm_tile_values),
      TU_TEST(test_gemm_tile_twin),
      TU_TEST(test_dw_rows_values),
      TU_TEST(test_dw_rows_twin),
      TU_TEST(test_use),
      TU_TEST(test_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
