/* The fused optimizer updates against double-precision references written
 * from the formulas in optim.h, over several steps with new gradients each
 * step; the large-tensor (parallel) path; in-place helpers; bad inputs. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define STEPS 6

static double *to_double(const gr_tensor *t) {
  int64_t n = gr_numel(t);
  double *d = malloc((size_t)(n ? n : 1) * sizeof *d);
  gr_read_all(t, d);
  return d;
}

/* every element within atol + rtol |ref| */
static void close_d(const gr_tensor *t, const double *ref, double atol, double rtol, int step) {
  for (int64_t i = 0; i < gr_numel(t); i++) {
    double got = gr_f32(t)[i];
    if (!(fabs(got - ref[i]) <= atol + rtol * fabs(ref[i]))) {
      print_error("step %d element %lld: got %.9g, reference %.9g\n", step, (long long)i, got,
                  ref[i]);
      fail();
    }
  }
}

/* --- Adam ---------------------------------------------------------------------------------------- */

/* The runtime's hyperparameters are float32, like its tensors: the reference
 * uses the betas rounded to float (0.999 becomes 0.99900001). */
static void run_adam(int64_t n, double lr, double b1, double b2, double eps, double wd,
                     bool decoupled) {
  b1 = (float)b1;
  b2 = (float)b2;
  gr_tensor *p = tu_rand(TU_SHAPE(n), -1, 1);
  gr_tensor *m = TU_OK(gr_zeros(GR_F32, 1, &n)), *v = TU_OK(gr_zeros(GR_F32, 1, &n));
  gr_set_requires_grad(p, true); /* a parameter, as optimizers see them */
  double *rp = to_double(p), *rm = calloc((size_t)n, sizeof(double)), *rv = calloc((size_t)n, sizeof(double));
  for (int t = 1; t <= STEPS; t++) {
    gr_tensor *g = tu_rand(TU_SHAPE(n), -0.5, 0.5);
    assert_int_equal(gr_adam_update(p, g, m, v, lr, b1, b2, eps, wd, t, decoupled), GR_OK);
    double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
    for (int64_t i = 0; i < n; i++) {
      double gi = gr_f32(g)[i];
      if (decoupled) rp[i] -= lr * wd * rp[i];
      else gi += wd * rp[i];
      rm[i] = b1 * rm[i] + (1 - b1) * gi;
      rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
      rp[i] -= lr * (rm[i] / bc1) / (sqrt(rv[i] / bc2) + eps);
    }
    close_d(m, rm, 1e-7, 2e-6, t);
    close_d(v, rv, 1e-9, 2e-6, t);
    close_d(p, rp, 1e-6, 2e-6, t);
    gr_release(g);
  }
  free(rp);
  free(rm);
  free(rv);
  gr_release(p);
  gr_release(m);
  gr_release(v);
}

static void test_adam(void **state) {
  run_adam(37, 1e-2, 0.9, 0.999, 1e-8, 0, false);
  run_adam(37, 2e-4, 0.5, 0.999, 1e-8, 0, false); /* DCGAN's betas */
  run_adam(53, 1e-2, 0.9, 0.99, 1e-6, 0.1, false); /* L2 weight decay in the gradient */
  run_adam(53, 1e-2, 0.0, 0.99, 1e-8, 0.1, true); /* AdamW, b1 = 0 (StyleGAN2) */
  run_adam(1, 1e-3, 0.9, 0.999, 1e-8, 0.01, true);
}

/* With zero moments the first step is lr * g / |g|: bias correction undoes (1 - b). */
static void test_adam_first_step(void **state) {
  int64_t n = 40;
  gr_tensor *p = tu_rand(TU_SHAPE(n), -1, 1), *g = tu_rand(TU_SHAPE(n), -1, 1);
  gr_tensor *p0 = TU_OK(gr_clone(p));
  gr_tensor *m = TU_OK(gr_zeros(GR_F32, 1, &n)), *v = TU_OK(gr_zeros(GR_F32, 1, &n));
  assert_int_equal(gr_adam_update(p, g, m, v, 0.01, 0.9, 0.999, 1e-12, 0, 1, false), GR_OK);
  for (int64_t i = 0; i < n; i++) {
    double step = gr_f32(p0)[i] - gr_f32(p)[i];
    assert_true(fabs(step - 0.01 * (gr_f32(g)[i] > 0 ? 1 : -1)) < 1e-6);
  }
  gr_release(p);
  gr_release(g);
  gr_release(p0);
  gr_release(m);
  gr_release(v);
}

/* --- SGD ------------------------------------------------------------------------------------------ */

static void run_sgd(int64_t n, double lr, double mom, double damp, double wd, bool nesterov) {
  damp = (float)damp;
  gr_tensor *p = tu_rand(TU_SHAPE(n), -1, 1);
  /* a stale buffer: the first step must overwrite it, not decay it */
  gr_tensor *buf = tu_rand(TU_SHAPE(n), 5, 6);
  double *rp = to_double(p), *rb = calloc((size_t)n, sizeof(double));
  for (int t = 1; t <= STEPS; t++) {
    gr_tensor *g = tu_rand(TU_SHAPE(n), -0.5, 0.5);
    assert_int_equal(gr_sgd_update(p, g, buf, lr, mom, damp, wd, nesterov, t == 1), GR_OK);
    for (int64_t i = 0; i < n; i++) {
      double gi = gr_f32(g)[i] + wd * rp[i];
      if (mom != 0) {
        rb[i] = t == 1 ? gi : mom * rb[i] + (1 - damp) * gi;
        gi = nesterov ? gi + mom * rb[i] : rb[i];
      }
      rp[i] -= lr * gi;
    }
    if (mom != 0) close_d(buf, rb, 1e-6, 2e-6, t);
    close_d(p, rp, 1e-6, 2e-6, t);
    gr_release(g);
  }
  free(rp);
  free(rb);
  gr_release(p);
  gr_release(buf);
}

static void test_sgd(void **state) {
  run_sgd(29, 0.1, 0, 0, 0, false);      /* plain */
  run_sgd(29, 0.1, 0, 0, 1e-2, false);   /* weight decay only */
  run_sgd(41, 0.05, 0.9, 0, 0, false);   /* momentum */
  run_sgd(41, 0.05, 0.9, 0.5, 1e-3, false); /* dampening */
  run_sgd(41, 0.05, 0.9, 0, 1e-3, true); /* nesterov */
  /* without momentum the buffer may be NULL */
  gr_tensor *p = tu_rand(TU_SHAPE(5), -1, 1), *g = tu_rand(TU_SHAPE(5), -1, 1);
  double *rp = to_double(p);
  assert_int_equal(gr_sgd_update(p, g, NULL, 0.5, 0, 0, 0, false, true), GR_OK);
  for (int i = 0; i < 5; i++) rp[i] -= 0.5 * gr_f32(g)[i];
  close_d(p, rp, 1e-7, 1e-6, 1);
  free(rp);
  gr_release(p);
  gr_release(g);
}

/* --- RMSprop ------------------------------------------------------------------------------------------ */

static void run_rmsprop(int64_t n, double lr, double alpha, double eps, double wd) {
  alpha = (float)alpha;
  gr_tensor *p = tu_rand(TU_SHAPE(n), -1, 1), *sq = TU_OK(gr_zeros(GR_F32, 1, &n));
  double *rp = to_double(p), *rs = calloc((size_t)n, sizeof(double));
  for (int t = 1; t <= STEPS; t++) {
    gr_tensor *g = tu_rand(TU_SHAPE(n), -0.5, 0.5);
    assert_int_equal(gr_rmsprop_update(p, g, sq, lr, alpha, eps, wd), GR_OK);
    for (int64_t i = 0; i < n; i++) {
      double gi = gr_f32(g)[i] + wd * rp[i];
      rs[i] = alpha * rs[i] + (1 - alpha) * gi * gi;
      rp[i] -= lr * gi / (sqrt(rs[i]) + eps);
    }
    close_d(sq, rs, 1e-9, 2e-6, t);
    close_d(p, rp, 1e-6, 2e-6, t);
    gr_release(g);
  }
  free(rp);
  free(rs);
  gr_release(p);
  gr_release(sq);
}

static void test_rmsprop(void **state) {
  run_rmsprop(31, 5e-3, 0.99, 1e-8, 0);
  run_rmsprop(31, 5e-5, 0.9, 1e-6, 0.01); /* WGAN's optimizer */
}

/* --- large tensors: the chunked parallel loop ----------------------------------------------------- */

static void adam_steps(const gr_tensor *p0, gr_tensor *const *gs, gr_tensor **out) {
  gr_tensor *p = TU_OK(gr_clone((gr_tensor *)p0));
  gr_tensor *m = TU_OK(gr_zeros_like(p)), *v = TU_OK(gr_zeros_like(p));
  for (int t = 1; t <= 3; t++)
    assert_int_equal(gr_adam_update(p, gs[t - 1], m, v, 1e-3, 0.9, 0.999, 1e-8, 0.01, t, true), GR_OK);
  gr_release(m);
  gr_release(v);
  *out = p;
}

static void test_large_deterministic(void **state) {
  int keep = gr_get_threads();
  const int64_t n = 3 * 65536 + 12345; /* many chunks, a ragged last one */
  gr_tensor *p0 = tu_rand(TU_SHAPE(n), -1, 1);
  gr_tensor *gs[3];
  for (int t = 0; t < 3; t++) gs[t] = tu_rand(TU_SHAPE(n), -1, 1);
  gr_tensor *r1, *r2, *rs;
  gr_set_threads(1);
  adam_steps(p0, gs, &r1);
  gr_set_threads(2);
  adam_steps(p0, gs, &r2);
  assert_memory_equal(gr_f32(r1), gr_f32(r2), (size_t)n * sizeof(float));
  /* and every kernel table updates alike */
  const char *isa = gr_kernels()->isa;
  assert_int_equal(gr_kernels_use("scalar"), 0);
  adam_steps(p0, gs, &rs);
  assert_int_equal(gr_kernels_use(isa), 0);
  assert_memory_equal(gr_f32(r1), gr_f32(rs), (size_t)n * sizeof(float));
  /* against the double reference on a sample of elements across chunk borders */
  for (int64_t i = 0; i < n; i += 997) {
    double p = gr_f32(p0)[i], m = 0, v = 0;
    for (int t = 1; t <= 3; t++) {
      double g = gr_f32(gs[t - 1])[i];
      p -= 1e-3 * 0.01 * p;
      m = 0.9 * m + 0.1 * g;
      v = 0.999 * v + 0.001 * g * g;
      p -= 1e-3 * (m / (1 - pow(0.9, t))) / (sqrt(v / (1 - pow(0.999, t))) + 1e-8);
    }
    assert_true(fabs(gr_f32(r1)[i] - p) < 1e-6);
  }
  gr_release(r1);
  gr_release(r2);
  gr_release(rs);
  gr_release(p0);
  for (int t = 0; t < 3; t++) gr_release(gs[t]);
  gr_set_threads(keep);
}

/* --- lerp_, clamp_, scale_ ------------------------------------------------------------------------- */

static void test_lerp(void **state) {
  const int64_t n = 70000; /* parallel */
  gr_tensor *ema = tu_rand(TU_SHAPE(n), -1, 1), *x = tu_rand(TU_SHAPE(n), -1, 1);
  double *re = to_double(ema);
  for (int t = 1; t <= 3; t++) {
    assert_int_equal(gr_lerp_(ema, x, 0.999), GR_OK);
    for (int64_t i = 0; i < n; i++) re[i] = 0.999 * re[i] + 0.001 * gr_f32(x)[i];
    close_d(ema, re, 1e-7, 1e-6, t);
  }
  /* decay 1 keeps ema, decay 0 copies x */
  gr_tensor *before = TU_OK(gr_clone(ema));
  assert_int_equal(gr_lerp_(ema, x, 1), GR_OK);
  TU_CLOSE(ema, before, 0, 0);
  assert_int_equal(gr_lerp_(ema, x, 0), GR_OK);
  TU_CLOSE(ema, x, 0, 0);
  free(re);
  gr_release(before);
  gr_release(ema);
  gr_release(x);
}

static void test_clamp_scale(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(4, 33), -1, 1);
  gr_f32(x)[5] = NAN;
  double *rx = to_double(x);
  assert_int_equal(gr_clamp_(x, -0.01, 0.01), GR_OK); /* WGAN's clip */
  for (int64_t i = 0; i < gr_numel(x); i++) {
    double want = rx[i] < -0.01 ? (float)-0.01 : rx[i] > 0.01 ? (float)0.01 : rx[i];
    if (i == 5) assert_true(isnan(gr_f32(x)[i]));
    else assert_true(gr_f32(x)[i] == (float)want);
  }
  /* a NaN bound is a missing one */
  gr_tensor *y = tu_rand(TU_SHAPE(50), -1, 1);
  double *ry = to_double(y);
  assert_int_equal(gr_clamp_(y, NAN, 0.5), GR_OK);
  for (int i = 0; i < 50; i++) assert_true(gr_f32(y)[i] == (float)(ry[i] > 0.5 ? 0.5 : ry[i]));
  assert_int_equal(gr_clamp_(y, 0, NAN), GR_OK);
  for (int i = 0; i < 50; i++) assert_true(gr_f32(y)[i] >= 0 && gr_f32(y)[i] <= 0.5f);

  gr_tensor *z = tu_rand(TU_SHAPE(3, 7), -1, 1);
  double *rz = to_double(z);
  assert_int_equal(gr_scale_(z, -2.5), GR_OK);
  for (int i = 0; i < 21; i++) assert_true(gr_f32(z)[i] == (float)rz[i] * -2.5f);
  free(rx);
  free(ry);
  free(rz);
  gr_release(x);
  gr_release(y);
  gr_release(z);
}

/* --- bad inputs ------------------------------------------------------------------------------------------ */

#define EXPECT_FAIL(call, text)                                     \
  do {                                                              \
    assert_int_equal((call), GR_EARG);                              \
    if (!strstr(gr_errmsg(), (text))) {                             \
      print_error("message \"%s\" lacks \"%s\"\n", gr_errmsg(), text); \
      fail();                                                       \
    }                                                               \
  } while (0)

static void test_bad_inputs(void **state) {
  gr_tensor *p = tu_rand(TU_SHAPE(3, 4), -1, 1), *g = tu_rand(TU_SHAPE(3, 4), -1, 1);
  gr_tensor *m = TU_OK(gr_zeros_like(p)), *v = TU_OK(gr_zeros_like(p));
  gr_tensor *g5 = tu_rand(TU_SHAPE(5), -1, 1), *gi = TU_OK(gr_zeros(GR_I64, 2, (int64_t[]){3, 4}));
  gr_tensor *mt = tu_noncontig(m);

  EXPECT_FAIL(gr_adam_update(NULL, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0, 1, false), "adam_update: p is NULL");
  EXPECT_FAIL(gr_adam_update(p, gi, m, v, 1e-3, 0.9, 0.999, 1e-8, 0, 1, false),
              "adam_update: g must be float32, got int64 [3, 4]");
  EXPECT_FAIL(gr_adam_update(p, g5, m, v, 1e-3, 0.9, 0.999, 1e-8, 0, 1, false),
              "adam_update: g has 5 elements [5] but p has 12");
  EXPECT_FAIL(gr_adam_update(p, g, mt, v, 1e-3, 0.9, 0.999, 1e-8, 0, 1, true),
              "adamw_update: m must be contiguous");
  EXPECT_FAIL(gr_adam_update(p, g, m, m, 1e-3, 0.9, 0.999, 1e-8, 0, 1, false),
              "adam_update: m and v share memory");
  EXPECT_FAIL(gr_adam_update(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0, 0, false),
              "adam_update: step must be >= 1");
  EXPECT_FAIL(gr_adam_update(p, g, m, v, 1e-3, 1.0, 0.999, 1e-8, 0, 1, false),
              "adam_update: b1 must be in [0, 1), got 1");
  EXPECT_FAIL(gr_adam_update(p, g, m, v, NAN, 0.9, 0.999, 1e-8, 0, 1, false), "adam_update: lr must be");
  EXPECT_FAIL(gr_adam_update(p, g, m, v, 1e-3, 0.9, 0.999, -1, 0, 1, false), "adam_update: eps must be");
  EXPECT_FAIL(gr_adam_update(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, -0.1, 1, false),
              "adam_update: weight decay must be");

  /* the result of a recorded op is not a parameter */
  gr_set_requires_grad(p, true);
  gr_tensor *q = TU_OK(gr_mul(p, p));
  EXPECT_FAIL(gr_adam_update(q, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0, 1, false),
              "adam_update: p [3, 4] is the result of mul, not a leaf");
  /* ... but a gradient may be one */
  assert_int_equal(gr_adam_update(p, q, m, v, 1e-3, 0.9, 0.999, 1e-8, 0, 1, false), GR_OK);

  EXPECT_FAIL(gr_sgd_update(p, g, NULL, 0.1, 0.9, 0, 0, false, true), "sgd_update: buf is NULL");
  EXPECT_FAIL(gr_sgd_update(p, g, m, 0.1, 0.9, 0.1, 0, true, true),
              "sgd_update: nesterov needs momentum > 0 and dampening 0");
  EXPECT_FAIL(gr_sgd_update(p, g, m, 0.1, -0.9, 0, 0, false, true), "sgd_update: momentum must be");
  EXPECT_FAIL(gr_sgd_update(p, g, p, 0.1, 0.9, 0, 0, false, true), "sgd_update: p and buf share memory");
  EXPECT_FAIL(gr_sgd_update(p, g5, m, 0.1, 0.9, 0, 0, false, true), "sgd_update: g has 5 elements");
  EXPECT_FAIL(gr_rmsprop_update(p, g, v, 0.1, 1.5, 1e-8, 0), "rmsprop_update: alpha must be in [0, 1]");
  EXPECT_FAIL(gr_rmsprop_update(p, g, mt, 0.1, 0.9, 1e-8, 0), "rmsprop_update: sq must be contiguous");
  EXPECT_FAIL(gr_lerp_(m, g5, 0.9), "lerp_: x has 5 elements [5] but ema has 12");
  EXPECT_FAIL(gr_lerp_(m, g, 1.5), "lerp_: decay must be in [0, 1], got 1.5");
  EXPECT_FAIL(gr_clamp_(m, 1, -1), "clamp_: lo 1 is above hi -1");
  EXPECT_FAIL(gr_clamp_(gi, -1, 1), "clamp_: x must be float32");
  EXPECT_FAIL(gr_scale_(mt, 2), "scale_: x must be contiguous");
  EXPECT_FAIL(gr_scale_(NULL, 2), "scale_: x is NULL");

  /* views into one buffer that do not overlap are fine */
  gr_tensor *flat = TU_OK(gr_zeros(GR_F32, 1, (int64_t[]){24}));
  gr_tensor *ma = TU_OK(gr_narrow(flat, 0, 0, 12)), *va = TU_OK(gr_narrow(flat, 0, 12, 12));
  gr_tensor *p2 = tu_rand(TU_SHAPE(12), -1, 1);
  assert_int_equal(gr_adam_update(p2, g, ma, va, 1e-3, 0.9, 0.999, 1e-8, 0, 1, false), GR_OK);
  gr_tensor *mb = TU_OK(gr_narrow(flat, 0, 6, 12));
  EXPECT_FAIL(gr_adam_update(p2, g, ma, mb, 1e-3, 0.9, 0.999, 1e-8, 0, 1, false), "share memory");

  gr_tensor *all[] = {p, g, m, v, g5, gi, mt, q, flat, ma, va, p2, mb};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) gr_release(all[i]);
}

int main(void) {
  tu_keep_state();
  const struct CMUnitTest tests[] = {
      TU_TEST(test_adam),
      TU_TEST(test_adam_first_step),
      TU_TEST(test_sgd),
      TU_TEST(test_rmsprop),
      TU_TEST(test_large_deterministic),
      TU_TEST(test_lerp),
      TU_TEST(test_clamp_scale),
      TU_TEST(test_bad_inputs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
