/* Joining and indexing: cat, stack, split, chunk, index_select, gather,
 * scatter_add, one_hot, embedding against naive references; gradients;
 * index range checks. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static double *read_all(const gr_tensor *t) {
  double *d = malloc((size_t)(gr_numel(t) + 1) * sizeof *d);
  gr_read_all(t, d);
  return d;
}

static gr_tensor *ints(int ndim, const int64_t *shape, const int64_t *v) {
  return gr_from_i64(v, ndim, shape);
}
#define INTS(shape, ...) ints(TU_SHAPE shape, (int64_t[]){__VA_ARGS__})

/* flat index of coordinates in a row-major shape */
static int64_t flat(int ndim, const int64_t *shape, const int64_t *c) {
  int64_t i = 0;
  for (int d = 0; d < ndim; d++) i = i * shape[d] + c[d];
  return i;
}

static void coords(int ndim, const int64_t *shape, int64_t i, int64_t *c) {
  for (int d = ndim - 1; d >= 0; d--) {
    c[d] = i % shape[d];
    i /= shape[d];
  }
}

#define expect_error(y, a, b, c) TU_ERROR((y), (a), (b), (c))

/* --- cat, stack ------------------------------------------------------------------------ */

/* reference cat of n tensors (same rank) along d */
static double *ref_cat(int n, gr_tensor *const *xs, int d, int64_t *shape) {
  int nd = xs[0]->ndim;
  memcpy(shape, xs[0]->shape, sizeof(int64_t) * GR_MAX_DIM);
  shape[d] = 0;
  for (int i = 0; i < n; i++) shape[d] += xs[i]->shape[d];
  int64_t total = 1;
  for (int k = 0; k < nd; k++) total *= shape[k];
  double *ref = malloc((size_t)(total + 1) * sizeof *ref);
  int64_t at = 0, c[GR_MAX_DIM];
  for (int i = 0; i < n; i++) {
    for (int64_t e = 0; e < gr_numel(xs[i]); e++) {
      coords(nd, xs[i]->shape, e, c);
      c[d] += at;
      ref[flat(nd, shape, c)] = gr_get_flat(xs[i], e);
    }
    at += xs[i]->shape[d];
  }
  return ref;
}

static void test_cat_forward(void **state) {
  gr_tensor *a = tu_rand(TU_SHAPE(2, 3, 4), -1, 1), *b0 = tu_rand(TU_SHAPE(2, 5, 4), -1, 1);
  gr_tensor *b = tu_noncontig(b0), *e = gr_zeros(GR_F32, 3, (int64_t[]){2, 0, 4});
  gr_tensor *c = tu_rand(TU_SHAPE(2, 1, 4), -1, 1);
  gr_tensor *xs[4] = {a, e, b, c};
  int64_t shape[GR_MAX_DIM];
  gr_tensor *y = TU_OK(gr_cat(4, xs, 1));
  double *ref = ref_cat(4, xs, 1, shape);
  assert_true(y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 9 && y->shape[2] == 4);
  TU_CLOSE_D(y, ref, 0, 0);
  free(ref);
  gr_release(y);
  /* negative dim, the last one */
  gr_tensor *p = tu_rand(TU_SHAPE(3, 2), -1, 1), *q0 = tu_rand(TU_SHAPE(3, 5), -1, 1);
  gr_tensor *q = tu_noncontig(q0), *pq[2] = {p, q};
  y = TU_OK(gr_cat(2, pq, -1));
  ref = ref_cat(2, pq, 1, shape);
  TU_CLOSE_D(y, ref, 0, 0);
  free(ref);
  gr_release(y);
  /* dim 0, and a large cat that runs on threads */
  gr_tensor *big0 = tu_rand(TU_SHAPE(3, 64, 33, 17), -1, 1);
  gr_tensor *big1 = tu_rand(TU_SHAPE(3, 40, 33, 17), -1, 1);
  gr_tensor *bb[2] = {big0, tu_noncontig(big1)};
  y = TU_OK(gr_cat(2, bb, 1));
  ref = ref_cat(2, bb, 1, shape);
  TU_CLOSE_D(y, ref, 0, 0);
  free(ref);
  gr_release(y);
  gr_tensor *r0[2] = {p, p};
  y = TU_OK(gr_cat(2, r0, 0));
  assert_int_equal(y->shape[0], 6);
  assert_float_equal(gr_get_flat(y, 7), gr_get_flat(p, 1), 0);
  gr_release(y);
  /* int64 tensors join too */
  gr_tensor *i1 = INTS((2), 4, 5), *i2 = INTS((1), 9), *ii[2] = {i1, i2};
  y = TU_OK(gr_cat(2, ii, 0));
  assert_int_equal(y->dtype, GR_I64);
  assert_int_equal(gr_i64(y)[2], 9);
  gr_release(y);
  gr_release(i1), gr_release(i2), gr_release(bb[1]), gr_release(big0), gr_release(big1);
  gr_release(a), gr_release(b0), gr_release(b), gr_release(e), gr_release(c);
  gr_release(p), gr_release(q0), gr_release(q);
}

static void test_stack(void **state) {
  gr_tensor *a = tu_rand(TU_SHAPE(2, 3), -1, 1), *b0 = tu_rand(TU_SHAPE(2, 3), -1, 1);
  gr_tensor *b = tu_noncontig(b0), *xs[2] = {a, b};
  for (int dim = -3; dim < 3; dim++) {
    gr_tensor *y = TU_OK(gr_stack(2, xs, dim));
    int d = dim < 0 ? dim + 3 : dim;
    assert_int_equal(y->ndim, 3);
    assert_int_equal(y->shape[d], 2);
    int64_t c[3];
    for (int64_t e = 0; e < gr_numel(y); e++) {
      coords(3, y->shape, e, c);
      int64_t which = c[d], rest[2], k = 0;
      for (int j = 0; j < 3; j++)
        if (j != d) rest[k++] = c[j];
      assert_float_equal(gr_get_flat(y, e), gr_get_flat(xs[which], rest[0] * 3 + rest[1]), 0);
    }
    gr_release(y);
  }
  gr_tensor *s = tu_rand(TU_SHAPE(3), -1, 1), *bad[2] = {a, s};
  expect_error(gr_stack(2, bad, 0), "stack", "[2, 3]", "[3]");
  expect_error(gr_stack(2, xs, 3), "stack", "3", "[2, 3]");
  gr_release(s), gr_release(a), gr_release(b0), gr_release(b);
}

static gr_tensor *f_cat(gr_tensor *const *in, void *ctx) {
  return gr_cat(3, in, *(int *)ctx);
}

static gr_tensor *f_cat_sq(gr_tensor *const *in, void *ctx) {
  gr_pool_push();
  gr_tensor *y = gr_cat(3, in, *(int *)ctx);
  return gr_pool_pop_keep(gr_mul(y, y));
}

static gr_tensor *f_stack(gr_tensor *const *in, void *ctx) {
  gr_pool_push();
  gr_tensor *y = gr_stack(2, in, 1);
  return gr_pool_pop_keep(gr_mul(y, y));
}

static void test_cat_grads(void **state) {
  gr_tensor *a = tu_rand(TU_SHAPE(2, 3), -1, 1), *b0 = tu_rand(TU_SHAPE(2, 2), -1, 1);
  gr_tensor *b = tu_noncontig(b0), *c = tu_rand(TU_SHAPE(2, 1), -1, 1);
  gr_tensor *in[3] = {a, b, c};
  int dim = 1;
  TU_GRADCHECK(f_cat, &dim, 3, in);
  TU_GRADCHECK(f_cat_sq, &dim, 3, in);
  TU_GRADGRADCHECK(f_cat, &dim, 3, in);
  TU_GRADGRADCHECK(f_cat_sq, &dim, 3, in);
  gr_tensor *d = tu_rand(TU_SHAPE(3, 3), -1, 1), *a2 = tu_rand(TU_SHAPE(2, 3), -1, 1);
  gr_tensor *in0[3] = {a, d, a2};
  dim = 0;
  TU_GRADCHECK(f_cat_sq, &dim, 3, in0);
  TU_GRADGRADCHECK(f_cat_sq, &dim, 3, in0);
  /* an empty piece gets an empty gradient */
  gr_tensor *e = gr_zeros(GR_F32, 2, (int64_t[]){2, 0}), *ine[3] = {a, e, c};
  dim = 1;
  TU_GRADCHECK(f_cat_sq, &dim, 3, ine);
  gr_tensor *s[2] = {a, tu_rand(TU_SHAPE(2, 3), -1, 1)};
  TU_GRADCHECK(f_stack, NULL, 2, s);
  TU_GRADGRADCHECK(f_stack, NULL, 2, s);
  gr_release(s[1]);
  gr_release(a), gr_release(b0), gr_release(b), gr_release(c), gr_release(d), gr_release(e);
  gr_release(a2);
}

static void test_cat_errors(void **state) {
  gr_tensor *a = tu_rand(TU_SHAPE(2, 3), -1, 1), *b = tu_rand(TU_SHAPE(3, 3), -1, 1);
  gr_tensor *c = tu_rand(TU_SHAPE(2, 3, 1), -1, 1), *i = INTS((2, 3), 1, 2, 3, 4, 5, 6);
  gr_tensor *ab[2] = {a, b}, *ac[2] = {a, c}, *ai[2] = {a, i}, *an[2] = {a, NULL};
  expect_error(gr_cat(2, ab, 1), "cat", "[3, 3]", "[2, 3]");
  expect_error(gr_cat(2, ac, 0), "cat", "[2, 3, 1]", "[2, 3]");
  expect_error(gr_cat(2, ai, 0), "cat", "int64", "float32");
  expect_error(gr_cat(2, ab, 2), "cat", "dim 2", "[2, 3]");
  expect_error(gr_cat(0, ab, 0), "cat", "0", NULL);
  gr_fail(GR_EARG, "earlier");
  expect_error(gr_cat(2, an, 0), "earlier", NULL, NULL);
  gr_tensor *s = gr_scalar(1), *ss[1] = {s};
  expect_error(gr_cat(1, ss, 0), "cat", "zero-dimensional", NULL);
  gr_release(a), gr_release(b), gr_release(c), gr_release(i), gr_release(s);
}

/* --- split, chunk ----------------------------------------------------------------------- */

static void test_split_chunk(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(3, 7), -1, 1), *p[8] = {0};
  int n = gr_split(x, 3, 1, p, 8);
  assert_int_equal(n, 3);
  int64_t want[3] = {3, 3, 1}, at = 0;
  for (int k = 0; k < 3; k++) {
    assert_int_equal(p[k]->shape[0], 3);
    assert_int_equal(p[k]->shape[1], want[k]);
    assert_ptr_equal(p[k]->storage, x->storage);
    for (int64_t e = 0; e < gr_numel(p[k]); e++)
      assert_float_equal(gr_get_flat(p[k], e),
                         gr_get_flat(x, (e / want[k]) * 7 + at + e % want[k]), 0);
    at += want[k];
    gr_release(p[k]);
  }
  /* fewer slots than pieces: the first ones are written, the count returned */
  n = gr_split(x, 2, -1, p, 2);
  assert_int_equal(n, 4);
  assert_int_equal(p[1]->shape[1], 2);
  gr_release(p[0]), gr_release(p[1]);
  assert_int_equal(gr_split(x, 10, 0, NULL, 0), 1);
  /* chunk: pieces of ceil(len/chunks), so 7 in 3 is 3,3,1 and 7 in 4 is 2,2,2,1 */
  n = gr_chunk(x, 3, 1, p, 8);
  assert_int_equal(n, 3);
  assert_int_equal(p[2]->shape[1], 1);
  for (int k = 0; k < n; k++) gr_release(p[k]);
  n = gr_chunk(x, 4, 1, p, 8);
  assert_int_equal(n, 4);
  assert_int_equal(p[3]->shape[1], 1);
  for (int k = 0; k < n; k++) gr_release(p[k]);
  n = gr_chunk(x, 5, 0, p, 8);
  assert_int_equal(n, 3);
  for (int k = 0; k < n; k++) {
    assert_int_equal(p[k]->shape[0], 1);
    gr_release(p[k]);
  }
  /* pieces are differentiable views */
  gr_set_requires_grad(x, true);
  n = gr_chunk(x, 2, 1, p, 8);
  assert_int_equal(n, 2);
  gr_tensor *s = TU_OK(gr_sum(p[1], 0, NULL, false)), *g;
  assert_int_equal(gr_grad(1, &s, 1, &x, NULL, &g), GR_OK);
  for (int64_t e = 0; e < 21; e++) assert_float_equal(gr_get_flat(g, e), (e % 7 >= 4 ? 1 : 0), 0);
  gr_release(g), gr_release(s), gr_release(p[0]), gr_release(p[1]);
  /* errors */
  assert_int_equal(gr_split(x, 0, 1, p, 8), -1);
  assert_non_null(strstr(gr_errmsg(), "split"));
  assert_non_null(strstr(gr_errmsg(), "[3, 7]"));
  assert_int_equal(gr_split(x, 2, 2, p, 8), -1);
  assert_non_null(strstr(gr_errmsg(), "dim 2"));
  assert_int_equal(gr_chunk(x, 0, 1, p, 8), -1);
  assert_non_null(strstr(gr_errmsg(), "chunk"));
  assert_int_equal(gr_chunk(x, 2, -3, p, 8), -1);
  assert_non_null(strstr(gr_errmsg(), "[3, 7]"));
  assert_int_equal(gr_split(NULL, 2, 0, p, 8), -1);
  gr_release(x);
}

/* --- index_select -------------------------------------------------------------------------- */

static void check_index_select(gr_tensor *x, int dim, gr_tensor *index) {
  gr_tensor *y = TU_OK(gr_index_select(x, dim, index));
  int nd = x->ndim, d = dim < 0 ? dim + nd : dim;
  assert_int_equal(y->ndim, nd);
  assert_int_equal(y->shape[d], index->shape[0]);
  int64_t c[GR_MAX_DIM];
  for (int64_t e = 0; e < gr_numel(y); e++) {
    coords(nd, y->shape, e, c);
    c[d] = (int64_t)gr_get_flat(index, c[d]);
    assert_float_equal(gr_get_flat(y, e), gr_get_flat(x, flat(nd, x->shape, c)), 0);
  }
  gr_release(y);
}

static void test_index_select_forward(void **state) {
  gr_tensor *x0 = tu_rand(TU_SHAPE(5, 4, 3), -1, 1), *x = tu_noncontig(x0);
  gr_tensor *i = INTS((4), 4, 0, 4, 2);
  /* a strided index: every other element of a longer one */
  gr_tensor *il = INTS((6), 2, 9, 0, 9, 3, 9);
  gr_tensor *is = gr_alias(il, 1, (int64_t[]){3}, (int64_t[]){2}, 0);
  check_index_select(x0, 0, i);
  check_index_select(x, 0, i);
  check_index_select(x, 1, is);
  check_index_select(x0, -2, is);
  gr_tensor *i3 = INTS((4), 2, 0, 2, 1);
  check_index_select(x, 2, i3);
  gr_release(i3);
  gr_tensor *e = INTS((0), 0);
  check_index_select(x0, 1, e);
  /* a permutation of a large tensor, on threads */
  int64_t pv[300];
  for (int k = 0; k < 300; k++) pv[k] = (k * 7 + 3) % 300;
  gr_tensor *big = tu_rand(TU_SHAPE(300, 130), -1, 1), *perm = gr_from_i64(pv, 1, (int64_t[]){300});
  check_index_select(big, 0, perm);
  check_index_select(big, 1, is);
  /* int64 rows (labels) too */
  gr_tensor *lab = INTS((5), 10, 11, 12, 13, 14), *sel = TU_OK(gr_index_select(lab, 0, i));
  assert_int_equal(sel->dtype, GR_I64);
  assert_int_equal(gr_i64(sel)[0], 14);
  assert_int_equal(gr_i64(sel)[1], 10);
  assert_int_equal(gr_i64(sel)[3], 12);
  gr_release(sel), gr_release(lab), gr_release(big), gr_release(perm), gr_release(e);
  gr_release(x0), gr_release(x), gr_release(i), gr_release(il), gr_release(is);
}

typedef struct idx_ctx {
  int dim;
  gr_tensor *index;
} idx_ctx;

static gr_tensor *f_index_select(gr_tensor *const *in, void *p) {
  idx_ctx *c = p;
  gr_pool_push();
  gr_tensor *y = gr_index_select(in[0], c->dim, c->index);
  return gr_pool_pop_keep(gr_mul(y, y));
}

static void test_index_select_grads(void **state) {
  gr_tensor *x0 = tu_rand(TU_SHAPE(4, 3, 2), -1, 1), *x = tu_noncontig(x0);
  gr_tensor *i = INTS((5), 3, 0, 3, 3, 1); /* repeats accumulate */
  gr_tensor *in[1] = {x};
  for (int dim = 0; dim < 3; dim++) {
    gr_tensor *ii = dim == 0 ? gr_retain(i) : INTS((3), 1, 0, 1);
    idx_ctx c = {dim, ii};
    TU_GRADCHECK(f_index_select, &c, 1, in);
    TU_GRADGRADCHECK(f_index_select, &c, 1, in);
    gr_release(ii);
  }
  gr_release(x0), gr_release(x), gr_release(i);
}

/* --- gather, scatter_add --------------------------------------------------------------------- */

static void check_gather(gr_tensor *x, int dim, gr_tensor *index) {
  gr_tensor *y = TU_OK(gr_gather(x, dim, index));
  int nd = x->ndim, d = dim < 0 ? dim + nd : dim;
  assert_true(gr_same_shape(y, index));
  int64_t c[GR_MAX_DIM];
  for (int64_t e = 0; e < gr_numel(y); e++) {
    coords(nd, y->shape, e, c);
    c[d] = (int64_t)gr_get_flat(index, e);
    assert_float_equal(gr_get_flat(y, e), gr_get_flat(x, flat(nd, x->shape, c)), 0);
  }
  gr_release(y);
}

/* out = x; out[index[p] along dim] += src[p], in double */
static double *ref_scatter_add(gr_tensor *x, int d, gr_tensor *index, gr_tensor *src) {
  double *ref = read_all(x);
  int nd = x->ndim;
  int64_t c[GR_MAX_DIM];
  for (int64_t e = 0; e < gr_numel(index); e++) {
    coords(nd, index->shape, e, c);
    double v = gr_get_flat(src, flat(nd, src->shape, c));
    c[d] = (int64_t)gr_get_flat(index, e);
    ref[flat(nd, x->shape, c)] += v;
  }
  return ref;
}

static void check_scatter_add(gr_tensor *x, int dim, gr_tensor *index, gr_tensor *src) {
  gr_tensor *y = TU_OK(gr_scatter_add(x, dim, index, src));
  assert_true(gr_same_shape(y, x));
  double *ref = ref_scatter_add(x, dim < 0 ? dim + x->ndim : dim, index, src);
  TU_CLOSE_D(y, ref, 1e-6, 1e-6);
  free(ref);
  gr_release(y);
}

/* a deterministic int64 tensor of values in [0, n) */
static gr_tensor *index_of(int ndim, const int64_t *shape, int64_t n, int seed) {
  gr_tensor *t = gr_empty(GR_I64, ndim, shape);
  for (int64_t e = 0; e < gr_numel(t); e++) gr_i64(t)[e] = (e * 5 + seed * 3 + e / 3) % n;
  return t;
}

static void test_gather_scatter_forward(void **state) {
  gr_tensor *x0 = tu_rand(TU_SHAPE(4, 5, 3), -1, 1), *x = tu_noncontig(x0);
  for (int dim = 0; dim < 3; dim++) {
    int64_t size = x->shape[dim];
    /* an index smaller than x in the other dims, and longer along dim */
    int64_t ish[3] = {3, 4, 2};
    ish[dim] = 7;
    gr_tensor *i = index_of(3, ish, size, dim);
    check_gather(x0, dim, i);
    check_gather(x, dim - 3, i);
    gr_tensor *src = tu_rand(3, ish, -1, 1);
    int64_t bigger[3] = {ish[0] + 1, ish[1], ish[2] + 2};
    gr_tensor *src2 = tu_rand(3, bigger, -1, 1), *src2n = tu_noncontig(src2);
    check_scatter_add(x0, dim, i, src);
    check_scatter_add(x, dim, i, src2n); /* src larger than the index */
    /* an expanded (stride 0) index */
    gr_tensor *row = index_of(1, (int64_t[]){ish[dim]}, size, 1);
    int64_t rs[3] = {1, 1, 1};
    rs[dim] = ish[dim];
    gr_tensor *r3 = TU_OK(gr_reshape(row, 3, rs)), *ie = TU_OK(gr_expand(r3, 3, ish));
    check_gather(x, dim, ie);
    check_scatter_add(x, dim, ie, src);
    gr_release(ie), gr_release(r3), gr_release(row);
    gr_release(i), gr_release(src), gr_release(src2), gr_release(src2n);
  }
  /* large enough for threads */
  gr_tensor *bx = tu_rand(TU_SHAPE(64, 40, 17), -1, 1);
  gr_tensor *bi = index_of(3, (int64_t[]){64, 50, 17}, 40, 2);
  gr_tensor *bs = tu_rand(TU_SHAPE(64, 50, 17), -1, 1);
  check_gather(bx, 1, bi);
  check_scatter_add(bx, 1, bi, bs);
  gr_release(bx), gr_release(bi), gr_release(bs);
  gr_release(x0), gr_release(x);
}

typedef struct gs_ctx {
  int dim;
  gr_tensor *index;
} gs_ctx;

static gr_tensor *f_gather(gr_tensor *const *in, void *p) {
  gs_ctx *c = p;
  gr_pool_push();
  gr_tensor *y = gr_gather(in[0], c->dim, c->index);
  return gr_pool_pop_keep(gr_mul(y, y));
}

static gr_tensor *f_scatter_add(gr_tensor *const *in, void *p) {
  gs_ctx *c = p;
  gr_pool_push();
  gr_tensor *y = gr_scatter_add(in[0], c->dim, c->index, in[1]);
  return gr_pool_pop_keep(gr_mul(y, y));
}

static void test_gather_scatter_grads(void **state) {
  gr_tensor *x0 = tu_rand(TU_SHAPE(3, 4, 2), -1, 1), *x = tu_noncontig(x0);
  for (int dim = 0; dim < 3; dim++) {
    int64_t ish[3] = {2, 3, 2};
    ish[dim] = 5;
    gr_tensor *i = index_of(3, ish, x->shape[dim], dim + 1);
    gs_ctx c = {dim, i};
    gr_tensor *in1[1] = {x};
    TU_GRADCHECK(f_gather, &c, 1, in1);
    TU_GRADGRADCHECK(f_gather, &c, 1, in1);
    gr_tensor *src = tu_rand(3, ish, -1, 1), *in2[2] = {x, src};
    TU_GRADCHECK(f_scatter_add, &c, 2, in2);
    TU_GRADGRADCHECK(f_scatter_add, &c, 2, in2);
    int64_t bigger[3] = {ish[0] + 1, ish[1] + 1, ish[2]};
    gr_tensor *src2 = tu_rand(3, bigger, -1, 1), *in3[2] = {x, src2};
    TU_GRADCHECK(f_scatter_add, &c, 2, in3);
    TU_GRADGRADCHECK(f_scatter_add, &c, 2, in3);
    gr_release(i), gr_release(src), gr_release(src2);
  }
  gr_release(x0), gr_release(x);
}

/* --- one_hot, embedding ----------------------------------------------------------------------- */

static void test_one_hot(void **state) {
  gr_tensor *i = INTS((2, 3), 0, 4, 2, 2, 1, 0);
  gr_tensor *y = TU_OK(gr_one_hot(i, 5));
  assert_int_equal(y->dtype, GR_F32);
  assert_true(y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 5);
  for (int64_t e = 0; e < 30; e++)
    assert_float_equal(gr_get_flat(y, e), (gr_get_flat(i, e / 5) == e % 5 ? 1 : 0), 0);
  gr_release(y);
  y = TU_OK(gr_one_hot(i, -1)); /* classes from the largest index */
  assert_int_equal(y->shape[2], 5);
  gr_release(y);
  /* a non-contiguous index */
  gr_tensor *it = TU_OK(gr_transpose(i, 0, 1));
  y = TU_OK(gr_one_hot(it, 6));
  for (int64_t e = 0; e < 36; e++)
    assert_float_equal(gr_get_flat(y, e), (gr_get_flat(it, e / 6) == e % 6 ? 1 : 0), 0);
  gr_release(y);
  gr_tensor *s = INTS((1), 3), *s0 = TU_OK(gr_reshape(s, 0, NULL));
  y = TU_OK(gr_one_hot(s0, 4)); /* a 0-d index gives a vector */
  assert_int_equal(y->ndim, 1);
  assert_float_equal(gr_get_flat(y, 3), 1, 0);
  gr_release(y);
  expect_error(gr_one_hot(i, 4), "one_hot", "index 4", "[0, 4)");
  gr_tensor *neg = INTS((2), 1, -3);
  expect_error(gr_one_hot(neg, 4), "one_hot", "-3", NULL);
  expect_error(gr_one_hot(i, 0), "one_hot", "classes", "[2, 3]");
  gr_tensor *f = tu_rand(TU_SHAPE(3), 0, 1);
  expect_error(gr_one_hot(f, 3), "one_hot", "index", "float32");
  gr_release(f), gr_release(neg), gr_release(s), gr_release(s0), gr_release(it), gr_release(i);
}

static gr_tensor *f_embedding(gr_tensor *const *in, void *p) {
  gr_pool_push();
  gr_tensor *y = gr_embedding(in[0], p);
  return gr_pool_pop_keep(gr_mul(y, y));
}

static void test_embedding(void **state) {
  gr_tensor *w = tu_rand(TU_SHAPE(6, 4), -1, 1), *i = INTS((2, 3), 5, 0, 5, 2, 2, 1);
  gr_tensor *y = TU_OK(gr_embedding(w, i));
  assert_true(y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 4);
  for (int64_t e = 0; e < 24; e++)
    assert_float_equal(gr_get_flat(y, e), gr_get_flat(w, gr_get_flat(i, e / 4) * 4 + e % 4), 0);
  gr_release(y);
  gr_tensor *wn = tu_noncontig(w), *it = TU_OK(gr_transpose(i, 0, 1));
  y = TU_OK(gr_embedding(wn, it));
  for (int64_t e = 0; e < 24; e++)
    assert_float_equal(gr_get_flat(y, e), gr_get_flat(w, gr_get_flat(it, e / 4) * 4 + e % 4), 0);
  gr_release(y);
  gr_tensor *in[1] = {wn};
  TU_GRADCHECK(f_embedding, it, 1, in);
  TU_GRADGRADCHECK(f_embedding, i, 1, in);
  gr_tensor *bad = INTS((2), 1, 6);
  expect_error(gr_embedding(w, bad), "embedding", "index 6", "weight [6, 4]");
  gr_tensor *w1 = tu_rand(TU_SHAPE(6), 0, 1);
  expect_error(gr_embedding(w1, i), "embedding", "weight", "[6]");
  expect_error(gr_embedding(w, w), "embedding", "index", "float32");
  gr_release(w1), gr_release(bad), gr_release(wn), gr_release(it), gr_release(w), gr_release(i);
}

/* --- bad indices and shapes ------------------------------------------------------------------- */

static void test_index_errors(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(5, 3), -1, 1), *src = tu_rand(TU_SHAPE(2, 3), -1, 1);
  gr_tensor *big = INTS((3), 0, 7, 1), *neg = INTS((2), -1, 0);
  expect_error(gr_index_select(x, 0, big), "index_select", "index 7", "[5, 3]");
  expect_error(gr_index_select(x, 1, neg), "index_select", "index -1", "[5, 3]");
  expect_error(gr_index_select(x, 2, neg), "index_select", "dim 2", "[5, 3]");
  gr_tensor *i2 = INTS((2, 3), 0, 1, 2, 0, 1, 2), *i2b = INTS((2, 3), 0, 1, 2, 0, 3, 2);
  expect_error(gr_index_select(x, 0, i2), "index_select", "index", "[2, 3]");
  expect_error(gr_index_select(x, 0, src), "index_select", "int64", "[2, 3]");
  expect_error(gr_gather(x, 1, i2b), "gather", "index 3", "[5, 3]");
  expect_error(gr_gather(x, 0, big), "gather", "[3]", "[5, 3]");
  gr_tensor *i4 = INTS((2, 4), 0, 0, 0, 0, 0, 0, 0, 0);
  expect_error(gr_gather(x, 0, i4), "gather", "[2, 4]", "[5, 3]");
  expect_error(gr_scatter_add(x, 1, i2b, src), "scatter_add", "index 3", "[5, 3]");
  expect_error(gr_scatter_add(x, 0, i4, src), "scatter_add", "[2, 4]", "[2, 3]");
  expect_error(gr_scatter_add(x, 0, i2, i2), "scatter_add", "src", "int64");
  expect_error(gr_scatter_add(x, 5, i2, src), "scatter_add", "dim 5", "[5, 3]");
  /* a failed op leaves its inputs untouched and nothing leaks */
  int64_t t0 = gr_live_tensors();
  expect_error(gr_scatter_add(x, 1, i2b, src), "scatter_add", "index", NULL);
  assert_int_equal(gr_live_tensors(), t0);
  gr_fail(GR_EARG, "earlier");
  expect_error(gr_gather(NULL, 0, i2), "earlier", NULL, NULL);
  expect_error(gr_index_select(x, 0, NULL), "earlier", NULL, NULL);
  expect_error(gr_embedding(NULL, i2), "earlier", NULL, NULL);
  gr_release(x), gr_release(src), gr_release(big), gr_release(neg), gr_release(i2);
  gr_release(i2b), gr_release(i4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cat_forward),
      cmocka_unit_test(test_stack),
      cmocka_unit_test(test_cat_grads),
      cmocka_unit_test(test_cat_errors),
      cmocka_unit_test(test_split_chunk),
      cmocka_unit_test(test_index_select_forward),
      cmocka_unit_test(test_index_select_grads),
      cmocka_unit_test(test_gather_scatter_forward),
      cmocka_unit_test(test_gather_scatter_grads),
      cmocka_unit_test(test_one_hot),
      cmocka_unit_test(test_embedding),
      cmocka_unit_test(test_index_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
