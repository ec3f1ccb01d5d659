/* Statistics of feature sets: Gaussian fits against a naive reference, the
 * Fréchet distance against closed forms, KID against a naive double
 * computation, precision and recall on constructed point sets, bad input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static gr_tensor *from_doubles(const double *v, int64_t n, int64_t d) {
  float *f = malloc((size_t)(n * d) * sizeof(float));
  for (int64_t i = 0; i < n * d; i++) f[i] = (float)v[i];
  int64_t shape[2] = {n, d};
  gr_tensor *t = gr_from_f32(f, 2, shape);
  free(f);
  return t;
}

static void test_fit_matches_naive(void **state) {
  (void)state;
  gr_tensor *x = TU_OK(tu_rand(TU_SHAPE(37, 5), -2, 3));
  gr_gauss *g = gr_gauss_fit(x);
  assert_non_null(g);
  assert_int_equal(g->d, 5);
  assert_int_equal(g->n, 37);
  double v[37 * 5], mean[5] = {0};
  gr_read_all(x, v);
  for (int i = 0; i < 37; i++)
    for (int j = 0; j < 5; j++) mean[j] += v[i * 5 + j] / 37;
  for (int j = 0; j < 5; j++) assert_true(fabs(g->mean[j] - mean[j]) < 1e-12);
  for (int a = 0; a < 5; a++) {
    for (int b = 0; b < 5; b++) {
      double c = 0;
      for (int i = 0; i < 37; i++) c += (v[i * 5 + a] - mean[a]) * (v[i * 5 + b] - mean[b]);
      c /= 36;
      assert_true(fabs(g->cov[a * 5 + b] - c) < 1e-12);
    }
  }
  // a non-contiguous view gives the same fit
  gr_tensor *nc = TU_OK(tu_noncontig(x));
  gr_gauss *h = gr_gauss_fit(nc);
  assert_non_null(h);
  for (int k = 0; k < 25; k++) assert_true(fabs(h->cov[k] - g->cov[k]) < 1e-12);
  gr_gauss_free(g);
  gr_gauss_free(h);
  gr_release(x);
  gr_release(nc);
}

static void test_frechet_self_is_zero(void **state) {
  (void)state;
  gr_tensor *x = TU_OK(tu_rand(TU_SHAPE(400, 24), -1, 1));
  gr_gauss *g = gr_gauss_fit(x);
  double fd = -1;
  assert_int_equal(gr_frechet(g, g, &fd), GR_OK);
  assert_true(fd >= 0 && fd < 1e-8);
  gr_gauss_free(g);
  gr_release(x);
}

/* diagonal covariances commute: FD = |dm|^2 + sum (s1 - s2)^2 */
static void test_frechet_diagonal_closed_form(void **state) {
  (void)state;
  const int d = 6;
  double m1[6], m2[6], c1[36] = {0}, c2[36] = {0}, want = 0;
  for (int i = 0; i < d; i++) {
    m1[i] = 0.3 * i;
    m2[i] = -0.2 * i + 1;
    double s1 = 0.5 + i, s2 = 2.0 / (i + 1);
    c1[i * d + i] = s1 * s1;
    c2[i * d + i] = s2 * s2;
    want += (m1[i] - m2[i]) * (m1[i] - m2[i]) + (s1 - s2) * (s1 - s2);
  }
  gr_tensor *tm1 = from_doubles(m1, 1, d), *tm2 = from_doubles(m2, 1, d);
  gr_tensor *tc1 = from_doubles(c1, d, d), *tc2 = from_doubles(c2, d, d);
  int64_t vs[1] = {d};
  gr_tensor *vm1 = gr_reshape(tm1, 1, vs), *vm2 = gr_reshape(tm2, 1, vs);
  gr_gauss *a = gr_gauss_new(vm1, tc1), *b = gr_gauss_new(vm2, tc2);
  assert_non_null(a);
  assert_non_null(b);
  double fd;
  assert_int_equal(gr_frechet(a, b, &fd), GR_OK);
  assert_true(fabs(fd - want) < 1e-6 * want);
  gr_gauss_free(a);
  gr_gauss_free(b);
  gr_release(tm1), gr_release(tm2), gr_release(tc1), gr_release(tc2), gr_release(vm1), gr_release(vm2);
}

/* 2-D, covariances that do not commute: for a 2x2 matrix M with real
 * non-negative eigenvalues, tr(M^(1/2)) = sqrt(tr M + 2 sqrt(det M)). */
static void test_frechet_2d_closed_form(void **state) {
  (void)state;
  double c1[4] = {2.0, 0.7, 0.7, 1.0}, c2[4] = {0.5, -0.3, -0.3, 1.5};
  double m1[2] = {1.0, -1.0}, m2[2] = {0.25, 0.5};
  double p[4] = {c1[0] * c2[0] + c1[1] * c2[2], c1[0] * c2[1] + c1[1] * c2[3],
                 c1[2] * c2[0] + c1[3] * c2[2], c1[2] * c2[1] + c1[3] * c2[3]};
  double det = p[0] * p[3] - p[1] * p[2];
  double tr_sqrt = sqrt(p[0] + p[3] + 2 * sqrt(det));
  double want = (m1[0] - m2[0]) * (m1[0] - m2[0]) + (m1[1] - m2[1]) * (m1[1] - m2[1]) + c1[0] + c1[3] + c2[0] +
                c2[3] - 2 * tr_sqrt;
  gr_tensor *tc1 = from_doubles(c1, 2, 2), *tc2 = from_doubles(c2, 2, 2);
  int64_t s1[1] = {2};
  gr_tensor *tm1 = from_doubles(m1, 1, 2), *tm2 = from_doubles(m2, 1, 2);
  gr_tensor *vm1 = gr_reshape(tm1, 1, s1), *vm2 = gr_reshape(tm2, 1, s1);
  gr_gauss *a = gr_gauss_new(vm1, tc1), *b = gr_gauss_new(vm2, tc2);
  double fd, back;
  assert_int_equal(gr_frechet(a, b, &fd), GR_OK);
  assert_int_equal(gr_frechet(b, a, &back), GR_OK);
  assert_true(fabs(fd - want) < 1e-6);
  assert_true(fabs(back - want) < 1e-6); // symmetric
  gr_gauss_free(a);
  gr_gauss_free(b);
  gr_release(tm1), gr_release(tm2), gr_release(tc1), gr_release(tc2), gr_release(vm1), gr_release(vm2);
}

/* samples of N(0, I) and N(mu, s^2 I): the fit's FD tends to the closed form */
static void test_frechet_of_samples(void **state) {
  (void)state;
  gr_manual_seed(5);
  const int n = 20000, d = 8;
  int64_t shape[2] = {n, d};
  gr_tensor *x = gr_normal(2, shape, 0, 1), *y = gr_normal(2, shape, 0.5, 2);
  gr_gauss *a = gr_gauss_fit(x), *b = gr_gauss_fit(y);
  double fd;
  assert_int_equal(gr_frechet(a, b, &fd), GR_OK);
  double want = d * 0.25 + d * (1 - 2) * (1 - 2);  // |mu|^2 + d (1 - s)^2
  assert_true(fabs(fd - want) < 0.1 * want);
  gr_gauss_free(a);
  gr_gauss_free(b);
  gr_release(x);
  gr_release(y);
}

static double kernel(const double *a, const double *b, int d) {
  double s = 0;
  for (int k = 0; k < d; k++) s += a[k] * b[k];
  s = s / d + 1;
  return s * s * s;
}

/* one subset holding every vector: the unbiased MMD^2 of the whole sets */
static void test_kid_against_naive(void **state) {
  (void)state;
  const int n = 40, d = 7;
  gr_tensor *x = TU_OK(tu_rand(TU_SHAPE(n, d), -1, 1)), *y = TU_OK(tu_rand(TU_SHAPE(n, d), -0.5, 1.5));
  double a[n * d], b[n * d];
  gr_read_all(x, a);
  gr_read_all(y, b);
  double kxx = 0, kyy = 0, kxy = 0;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++) {
      if (i != j) kxx += kernel(a + i * d, a + j * d, d), kyy += kernel(b + i * d, b + j * d, d);
      kxy += kernel(a + i * d, b + j * d, d);
    }
  }
  double want = (kxx + kyy) / (n * (n - 1.0)) - 2 * kxy / ((double)n * n);
  double mean, std;
  assert_int_equal(gr_kid(x, y, 3, n, 7, &mean, &std), GR_OK);
  assert_true(fabs(mean - want) < 1e-9 * (1 + fabs(want)));
  assert_true(std < 1e-9);  // every subset is the whole set
  // a set against itself: unbiased, so about 0; against a shifted copy: clearly positive
  double self_mean, other_mean;
  gr_tensor *x2 = TU_OK(tu_rand(TU_SHAPE(400, d), -1, 1)), *x3 = TU_OK(tu_rand(TU_SHAPE(400, d), -1, 1));
  assert_int_equal(gr_kid(x2, x3, 20, 100, 1, &self_mean, &std), GR_OK);
  assert_int_equal(gr_kid(x2, y, 20, 40, 1, &other_mean, &std), GR_OK);
  assert_true(fabs(self_mean) < 0.02);
  assert_true(other_mean > 0.1);
  // the same seed gives the same subsets
  double again;
  assert_int_equal(gr_kid(x2, x3, 20, 100, 1, &again, &std), GR_OK);
  assert_true(again == self_mean);
  gr_release(x), gr_release(y), gr_release(x2), gr_release(x3);
}

/* real points on a line at 0, 1, ..., 9 (k = 1: every ball has radius 1) */
static void test_precision_recall_constructed(void **state) {
  (void)state;
  double r[10], f[4] = {0.5, 4.9, 20, 30};
  for (int i = 0; i < 10; i++) r[i] = i;
  gr_tensor *real = from_doubles(r, 10, 1), *fake = from_doubles(f, 4, 1);
  double p, rc;
  assert_int_equal(gr_precision_recall(real, fake, 1, &p, &rc), GR_OK);
  // fake 0.5 and 4.9 fall in real balls; 20 and 30 do not
  assert_true(fabs(p - 0.5) < 1e-12);
  // fake balls (k = 1): 0.5 and 4.9 reach 4.4; 20 and 30 reach 10. Reals within:
  // |r - 0.5| <= 4.4: 0..4; |r - 4.9| <= 4.4: 1..9; so all ten
  assert_true(fabs(rc - 1.0) < 1e-12);
  // a fake set far from everything real: precision 0; its own balls are small
  double g[4] = {100, 100.5, 101, 101.5};
  gr_tensor *far = from_doubles(g, 4, 1);
  assert_int_equal(gr_precision_recall(real, far, 1, &p, &rc), GR_OK);
  assert_true(p == 0 && rc == 0);
  // the same set: every point is inside its own ball
  assert_int_equal(gr_precision_recall(real, real, 3, &p, &rc), GR_OK);
  assert_true(p == 1 && rc == 1);
  gr_release(real), gr_release(fake), gr_release(far);
}

/* mode dropping: fakes cover one of two real clusters -> precision high, recall about half */
static void test_precision_recall_mode_dropping(void **state) {
  (void)state;
  gr_manual_seed(3);
  int64_t s[2] = {600, 4};
  gr_tensor *a = gr_normal(2, s, 0, 1), *b = gr_normal(2, s, 0, 1), *c = gr_normal(2, s, 0, 1);
  gr_tensor *shift = gr_add_scalar(b, 20);
  gr_tensor *parts[2] = {a, shift};
  gr_tensor *real = gr_cat(2, parts, 0);
  double p, rc;
  assert_int_equal(gr_precision_recall(real, c, 3, &p, &rc), GR_OK);
  assert_true(p > 0.9);
  assert_true(rc > 0.35 && rc < 0.55);
  gr_release(a), gr_release(b), gr_release(c), gr_release(shift), gr_release(real);
}

static void test_bad_input(void **state) {
  (void)state;
  gr_tensor *v = TU_OK(tu_rand(TU_SHAPE(5), 0, 1));
  assert_null(gr_gauss_fit(v));
  assert_non_null(strstr(gr_errmsg(), "matrix (N, D)"));
  gr_tensor *one = TU_OK(tu_rand(TU_SHAPE(1, 3), 0, 1));
  assert_null(gr_gauss_fit(one));
  assert_non_null(strstr(gr_errmsg(), "at least 2"));
  gr_tensor *x = TU_OK(tu_rand(TU_SHAPE(10, 3), 0, 1)), *y = TU_OK(tu_rand(TU_SHAPE(10, 4), 0, 1));
  double p, r;
  assert_int_equal(gr_precision_recall(x, y, 3, &p, &r), GR_EARG);
  assert_non_null(strstr(gr_errmsg(), "different feature sizes"));
  assert_int_equal(gr_precision_recall(x, x, 10, &p, &r), GR_EARG);
  assert_non_null(strstr(gr_errmsg(), "k = 10"));
  assert_int_equal(gr_kid(x, x, 5, 11, 0, &p, &r), GR_EARG);
  assert_non_null(strstr(gr_errmsg(), "subset of 11"));
  // a NaN is named, not measured
  gr_tensor *nan = gr_full(GR_F32, 2, (int64_t[]){4, 3}, NAN);
  assert_null(gr_gauss_fit(nan));
  assert_non_null(strstr(gr_errmsg(), "NaN"));
  gr_gauss *a = gr_gauss_fit(x), *b = gr_gauss_fit(y);
  double fd;
  assert_int_equal(gr_frechet(a, b, &fd), GR_EARG);
  assert_non_null(strstr(gr_errmsg(), "3 and 4 features"));
  // an asymmetric covariance is refused
  double m[2] = {0, 0}, c[4] = {1, 0.5, -0.5, 1};
  gr_tensor *tm = from_doubles(m, 1, 2), *tc = from_doubles(c, 2, 2);
  int64_t s1[1] = {2};
  gr_tensor *vm = gr_reshape(tm, 1, s1);
  assert_null(gr_gauss_new(vm, tc));
  assert_non_null(strstr(gr_errmsg(), "not symmetric"));
  gr_gauss_free(a), gr_gauss_free(b);
  gr_release(v), gr_release(one), gr_release(x), gr_release(y), gr_release(nan), gr_release(tm), gr_release(tc),
      gr_release(vm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fit_matches_naive),
      cmocka_unit_test(test_frechet_self_is_zero),
      cmocka_unit_test(test_frechet_diagonal_closed_form),
      cmocka_unit_test(test_frechet_2d_closed_form),
      cmocka_unit_test(test_frechet_of_samples),
      cmocka_unit_test(test_kid_against_naive),
      cmocka_unit_test(test_precision_recall_constructed),
      cmocka_unit_test(test_precision_recall_mode_dropping),
      cmocka_unit_test(test_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
