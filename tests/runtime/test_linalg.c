/* matmul and linear: forwards against double-precision loops (broadcast
 * batches, 1-d operands, transposed and non-contiguous operands), gradients
 * to second order, messages for bad arguments. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static double *values(const gr_tensor *t) {
  int64_t n = gr_numel(t);
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  gr_read_all(t, v);
  return v;
}

/* a @ b with numpy's rules, in row-major order of the result. */
static double *ref_matmul(const gr_tensor *at, const gr_tensor *bt, int *ndim, int64_t *shape) {
  int64_t as[GR_MAX_DIM], bs[GR_MAX_DIM];
  int an = at->ndim, bn = bt->ndim;
  memcpy(as, at->shape, sizeof as);
  memcpy(bs, bt->shape, sizeof bs);
  if (an == 1) { /* (k) -> (1,k) */
    as[1] = as[0];
    as[0] = 1;
    an = 2;
  }
  if (bn == 1) { /* (k) -> (k,1) */
    bs[1] = 1;
    bn = 2;
  }
  int nd = an > bn ? an : bn, nb = nd - 2;
  int64_t n = as[an - 2], k = as[an - 1], m = bs[bn - 1], batch = 1, bsh[GR_MAX_DIM];
  for (int d = 0; d < nb; d++) {
    int da = d - (nd - an), db = d - (nd - bn);
    int64_t x = da >= 0 ? as[da] : 1, y = db >= 0 ? bs[db] : 1;
    bsh[d] = x > y ? x : y;
    batch *= bsh[d];
  }
  double *a = values(at), *b = values(bt);
  int64_t total = batch * n * m;
  double *out = malloc((size_t)(total > 0 ? total : 1) * sizeof *out);
  for (int64_t i = 0; i < batch; i++) {
    /* the operands' batch indices: their own dims, 0 where broadcast */
    int64_t ia = 0, ib = 0, r = i, ma = 1, mb = 1;
    for (int d = nb - 1; d >= 0; d--) {
      int64_t idx = r % bsh[d];
      r /= bsh[d];
      int da = d - (nd - an), db = d - (nd - bn);
      if (da >= 0) {
        ia += (as[da] == 1 ? 0 : idx) * ma;
        ma *= as[da];
      }
      if (db >= 0) {
        ib += (bs[db] == 1 ? 0 : idx) * mb;
        mb *= bs[db];
      }
    }
    for (int64_t p = 0; p < n; p++)
      for (int64_t q = 0; q < m; q++) {
        double s = 0;
        for (int64_t l = 0; l < k; l++) s += a[(ia * n + p) * k + l] * b[(ib * k + l) * m + q];
        out[(i * n + p) * m + q] = s;
      }
  }
  /* the result's shape: batch, then n unless a was 1-d, then m unless b was 1-d */
  int o = 0;
  for (int d = 0; d < nb; d++) shape[o++] = bsh[d];
  if (at->ndim > 1) shape[o++] = n;
  if (bt->ndim > 1) shape[o++] = m;
  *ndim = o;
  free(a);
  free(b);
  return out;
}

static void check_matmul(gr_tensor *a, gr_tensor *b) {
  int nd;
  int64_t shape[GR_MAX_DIM];
  double *ref = ref_matmul(a, b, &nd, shape);
  gr_tensor *y = TU_OK(gr_matmul(a, b));
  assert_int_equal(y->ndim, nd);
  for (int d = 0; d < nd; d++) assert_int_equal(y->shape[d], shape[d]);
  TU_CLOSE_D(y, ref, 1e-5, 1e-5);
  gr_release(y);
  free(ref);
}

typedef struct mm_case {
  int na, nb;
  int64_t a[4], b[4];
} mm_case;

static const mm_case kCases[] = {
    {2, 2, {5, 7}, {7, 3}},
    {1, 1, {6}, {6}},
    {1, 2, {5}, {5, 4}},
    {2, 1, {3, 5}, {5}},
    {1, 3, {4}, {2, 4, 3}},
    {3, 1, {2, 3, 4}, {4}},
    {4, 3, {2, 3, 4, 5}, {3, 5, 6}},
    {4, 3, {3, 1, 4, 5}, {2, 5, 6}},
    {2, 3, {4, 5}, {2, 5, 3}},
    {3, 2, {3, 4, 5}, {5, 3}},     /* the batch folds into one tall product */
    {4, 2, {2, 3, 1, 5}, {5, 2}},  /* n = 1 rows */
    {3, 3, {1, 4, 5}, {3, 5, 2}},
    {2, 2, {4, 0}, {0, 3}},        /* k = 0: zeros */
};

static void test_matmul_forward(void **state) {
  for (size_t c = 0; c < sizeof kCases / sizeof *kCases; c++) {
    const mm_case *k = &kCases[c];
    gr_tensor *a = tu_rand(k->na, k->a, -1, 1), *b = tu_rand(k->nb, k->b, -1, 1);
    check_matmul(a, b);
    /* the same values in strided storage: copied, or read in place */
    if (gr_numel(a) && gr_numel(b)) {
      gr_tensor *an = tu_noncontig(a), *bn = tu_noncontig(b);
      check_matmul(an, bn);
      check_matmul(a, bn);
      gr_release(an);
      gr_release(bn);
    }
    gr_release(a);
    gr_release(b);
  }
}

/* transposed views go to sgemm with its transpose flags */
static void test_matmul_transposed_views(void **state) {
  gr_tensor *a0 = tu_rand(TU_SHAPE(7, 5), -1, 1), *b0 = tu_rand(TU_SHAPE(3, 7), -1, 1);
  gr_tensor *a = TU_OK(gr_transpose(a0, 0, 1)), *b = TU_OK(gr_transpose(b0, 0, 1));
  check_matmul(a, b); /* (5,7) @ (7,3), both transposed */
  gr_tensor *c0 = tu_rand(TU_SHAPE(2, 6, 4), -1, 1), *c = TU_OK(gr_transpose(c0, 1, 2));
  gr_tensor *d = tu_rand(TU_SHAPE(2, 6, 3), -1, 1);
  check_matmul(c, d); /* (2,4,6) @ (2,6,3), a batched transpose */
  /* a column slice: rows with a stride larger than their length */
  gr_tensor *e0 = tu_rand(TU_SHAPE(5, 9), -1, 1), *e = TU_OK(gr_narrow(e0, 1, 2, 7));
  check_matmul(e, b);
  /* an expanded batch: stride 0 over the batch */
  gr_tensor *f0 = tu_rand(TU_SHAPE(1, 7, 3), -1, 1);
  gr_tensor *f = TU_OK(gr_expand(f0, 3, (int64_t[]){4, 7, 3}));
  gr_tensor *g = tu_rand(TU_SHAPE(4, 2, 7), -1, 1);
  check_matmul(g, f);
  /* an operand expanded within the matrix: must be copied */
  gr_tensor *h0 = tu_rand(TU_SHAPE(1, 3), -1, 1);
  gr_tensor *h = TU_OK(gr_expand(h0, 2, (int64_t[]){7, 3}));
  check_matmul(a, h);
  gr_release(h);
  gr_release(h0);
  gr_release(g);
  gr_release(f);
  gr_release(f0);
  gr_release(e);
  gr_release(e0);
  gr_release(d);
  gr_release(c);
  gr_release(c0);
  gr_release(a);
  gr_release(b);
  gr_release(a0);
  gr_release(b0);
}

/* A batch of small products (attention's shapes: 256 x 3 by 3 x 64 per
 * sample) runs one product per thread: right, and the same bits on one
 * thread and on three, for a broadcast operand too */
static void test_matmul_small_batch_threads(void **state) {
  int prev = gr_get_threads();
  gr_tensor *a = tu_rand(TU_SHAPE(16, 256, 3), -1, 1), *b = tu_rand(TU_SHAPE(16, 3, 64), -1, 1);
  gr_tensor *c0 = tu_rand(TU_SHAPE(1, 3, 64), -1, 1);
  gr_tensor *c = TU_OK(gr_transpose(c0, 1, 2)), *at = TU_OK(gr_transpose(a, 1, 2));
  check_matmul(a, b);
  check_matmul(c, at); /* (1, 64, 3) @ (16, 3, 256): a broadcast, transposed views */
  /* 12 x 256 by 256 x 64: 196,608 multiply-adds, still one OpenBLAS thread */
  gr_tensor *d = tu_rand(TU_SHAPE(8, 12, 256), -1, 1), *e = tu_rand(TU_SHAPE(8, 256, 64), -1, 1);
  check_matmul(d, e);
  gr_tensor *y[2][3];
  for (int t = 0; t < 2; t++) {
    gr_set_threads(t ? 3 : 1);
    y[t][0] = TU_OK(gr_matmul(a, b));
    y[t][1] = TU_OK(gr_matmul(c, at));
    y[t][2] = TU_OK(gr_matmul(d, e));
  }
  gr_release(d);
  gr_release(e);
  for (int i = 0; i < 3; i++) {
    assert_memory_equal(gr_f32(y[0][i]), gr_f32(y[1][i]), (size_t)gr_numel(y[0][i]) * sizeof(float));
    gr_release(y[0][i]);
    gr_release(y[1][i]);
  }
  gr_set_threads(prev);
  gr_release(at);
  gr_release(c);
  gr_release(c0);
  gr_release(a);
  gr_release(b);
}

static gr_tensor *f_matmul(gr_tensor *const *in, void *ctx) { return gr_matmul(in[0], in[1]); }
static gr_tensor *f_matmul_bt(gr_tensor *const *in, void *ctx) {
  gr_pool_push();
  return gr_pool_pop_keep(gr_matmul(in[0], gr_transpose(in[1], -1, -2)));
}

static void test_matmul_grads(void **state) {
  for (size_t c = 0; c < sizeof kCases / sizeof *kCases; c++) {
    const mm_case *k = &kCases[c];
    gr_tensor *a = tu_rand(k->na, k->a, -1, 1), *b = tu_rand(k->nb, k->b, -1, 1);
    gr_tensor *in[2] = {a, b};
    TU_GRADCHECK(f_matmul, NULL, 2, in);
    if (c < 9) TU_GRADGRADCHECK(f_matmul, NULL, 2, in);
    gr_release(a);
    gr_release(b);
  }
  gr_tensor *a = tu_rand(TU_SHAPE(2, 3, 4), -1, 1), *b = tu_rand(TU_SHAPE(5, 4), -1, 1);
  gr_tensor *in[2] = {a, b};
  TU_GRADCHECK(f_matmul_bt, NULL, 2, in);
  TU_GRADGRADCHECK(f_matmul_bt, NULL, 2, in);
  gr_release(a);
  gr_release(b);
}

/* --- linear --------------------------------------------------------------------------- */

/* y[r, o] = b[o] + sum_i x[r, i] w[o, i] over the rows r of x */
static double *ref_linear(const gr_tensor *xt, const gr_tensor *wt, const gr_tensor *bt) {
  int64_t in = wt->shape[1], out = wt->shape[0], M = gr_numel(xt) / in;
  double *x = values(xt), *w = values(wt), *b = bt ? values(bt) : NULL;
  double *y = malloc((size_t)(M * out) * sizeof *y);
  for (int64_t r = 0; r < M; r++)
    for (int64_t o = 0; o < out; o++) {
      double s = b ? b[o] : 0;
      for (int64_t i = 0; i < in; i++) s += x[r * in + i] * w[o * in + i];
      y[r * out + o] = s;
    }
  free(x);
  free(w);
  free(b);
  return y;
}

static void check_linear(gr_tensor *x, gr_tensor *w, gr_tensor *b) {
  double *ref = ref_linear(x, w, b);
  gr_tensor *y = TU_OK(gr_linear(x, w, b));
  assert_int_equal(y->ndim, x->ndim);
  for (int d = 0; d < x->ndim - 1; d++) assert_int_equal(y->shape[d], x->shape[d]);
  assert_int_equal(y->shape[y->ndim - 1], w->shape[0]);
  TU_CLOSE_D(y, ref, 1e-5, 1e-5);
  gr_release(y);
  free(ref);
}

static void test_linear_forward(void **state) {
  gr_tensor *w = tu_rand(TU_SHAPE(4, 5), -1, 1), *b = tu_rand(TU_SHAPE(4), -1, 1);
  int64_t shapes[][3] = {{1, 1, 5}, {1, 7, 5}, {2, 3, 5}};
  for (int s = 0; s < 3; s++) {
    gr_tensor *x = tu_rand(3, shapes[s], -1, 1), *xn = tu_noncontig(x);
    check_linear(x, w, b);
    check_linear(x, w, NULL);
    check_linear(xn, w, b);
    gr_release(xn);
    gr_release(x);
  }
  gr_tensor *x1 = tu_rand(TU_SHAPE(5), -1, 1), *x2 = tu_rand(TU_SHAPE(6, 5), -1, 1);
  check_linear(x1, w, b);
  /* a weight stored transposed, a strided bias, x as a transposed view */
  gr_tensor *wt0 = tu_rand(TU_SHAPE(5, 4), -1, 1), *wt = TU_OK(gr_transpose(wt0, 0, 1));
  gr_tensor *bn = tu_noncontig(b);
  check_linear(x2, wt, bn);
  gr_tensor *x3 = tu_rand(TU_SHAPE(5, 6), -1, 1), *x3t = TU_OK(gr_transpose(x3, 0, 1));
  check_linear(x3t, wt, b);
  check_linear(x3t, w, NULL);
  gr_tensor *wn = tu_noncontig(w);
  check_linear(x2, wn, b);
  gr_release(wn);
  gr_release(x3t);
  gr_release(x3);
  gr_release(bn);
  gr_release(wt);
  gr_release(wt0);
  gr_release(x1);
  gr_release(x2);
  gr_release(w);
  gr_release(b);
}

static gr_tensor *f_linear(gr_tensor *const *in, void *ctx) {
  return gr_linear(in[0], in[1], in[2]);
}

static void test_linear_grads(void **state) {
  int64_t shapes[][3] = {{2, 3, 5}, {1, 1, 5}};
  for (int s = 0; s < 2; s++) {
    gr_tensor *x = tu_rand(3, shapes[s], -1, 1), *w = tu_rand(TU_SHAPE(4, 5), -1, 1);
    gr_tensor *b = tu_rand(TU_SHAPE(4), -1, 1);
    gr_tensor *in[3] = {x, w, b};
    TU_GRADCHECK(f_linear, NULL, 3, in);
    TU_GRADGRADCHECK(f_linear, NULL, 3, in);
    in[2] = NULL;
    TU_GRADCHECK(f_linear, NULL, 3, in);
    TU_GRADGRADCHECK(f_linear, NULL, 3, in);
    gr_release(x);
    gr_release(w);
    gr_release(b);
  }
  gr_tensor *x = tu_rand(TU_SHAPE(5), -1, 1), *w = tu_rand(TU_SHAPE(3, 5), -1, 1);
  gr_tensor *b = tu_rand(TU_SHAPE(3), -1, 1);
  gr_tensor *in[3] = {x, w, b};
  TU_GRADCHECK(f_linear, NULL, 3, in);
  TU_GRADGRADCHECK(f_linear, NULL, 3, in);
  gr_release(x);
  gr_release(w);
  gr_release(b);
}

/* a tanh-free MLP-like chain: linear(linear(x)) squared, second order */
static gr_tensor *f_two_layers(gr_tensor *const *in, void *ctx) {
  gr_pool_push();
  gr_tensor *h = gr_linear(in[0], in[1], in[2]);
  return gr_pool_pop_keep(gr_linear(gr_mul(h, h), in[3], NULL));
}

static void test_linear_chain_second_order(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(3, 4), -1, 1), *w1 = tu_rand(TU_SHAPE(5, 4), -1, 1);
  gr_tensor *b1 = tu_rand(TU_SHAPE(5), -1, 1), *w2 = tu_rand(TU_SHAPE(2, 5), -1, 1);
  gr_tensor *in[4] = {x, w1, b1, w2};
  TU_GRADCHECK(f_two_layers, NULL, 4, in);
  TU_GRADGRADCHECK(f_two_layers, NULL, 4, in);
  gr_release(x);
  gr_release(w1);
  gr_release(b1);
  gr_release(w2);
}

/* --- bad arguments ------------------------------------------------------------------------ */

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
  gr_tensor *a = tu_rand(TU_SHAPE(2, 3), -1, 1), *b = tu_rand(TU_SHAPE(4, 5), -1, 1);
  gr_tensor *c = tu_rand(TU_SHAPE(2, 3, 4), -1, 1), *d = tu_rand(TU_SHAPE(3, 4, 2), -1, 1);
  gr_tensor *s = gr_scalar(2), *bias = tu_rand(TU_SHAPE(3), -1, 1);
  expect_msg(gr_matmul(a, b), "matmul", "[2, 3]", "[4, 5]");
  expect_msg(gr_matmul(c, d), "matmul", "[2, 3, 4]", "[3, 4, 2]");
  expect_msg(gr_matmul(s, a), "matmul", "[]", "[2, 3]");
  assert_null(gr_matmul(NULL, a));
  gr_tensor *idx = gr_zeros(GR_I64, 2, (int64_t[]){3, 2});
  expect_msg(gr_matmul(a, idx), "matmul", "int64", "[3, 2]");
  /* linear: weight (out, in) = (4, 5) */
  expect_msg(gr_linear(a, b, NULL), "linear", "[2, 3]", "[4, 5]");
  expect_msg(gr_linear(c, c, NULL), "linear", "weight", "[2, 3, 4]");
  gr_tensor *x = tu_rand(TU_SHAPE(2, 5), -1, 1);
  expect_msg(gr_linear(x, b, bias), "linear", "bias", "[3]");
  expect_msg(gr_linear(s, b, NULL), "linear", "x", "[]");
  gr_release(idx);
  gr_release(x);
  gr_release(a);
  gr_release(b);
  gr_release(c);
  gr_release(d);
  gr_release(s);
  gr_release(bias);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matmul_forward),
      cmocka_unit_test(test_matmul_transposed_views),
      cmocka_unit_test(test_matmul_small_batch_threads),
      cmocka_unit_test(test_matmul_grads),
      cmocka_unit_test(test_linear_forward),
      cmocka_unit_test(test_linear_grads),
      cmocka_unit_test(test_linear_chain_second_order),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
