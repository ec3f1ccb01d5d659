/* Linear algebra on OpenBLAS sgemm: matmul (batched, broadcast) and linear.
 * Strided operands go to sgemm as they are when their last two dims form a
 * row-major matrix or its transpose; anything else is copied first. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "op_impl.h"

/* Multiply-adds below which OpenBLAS runs a product on one thread (its
 * interface/gemm.c: 65536 times GEMM_MULTITHREAD_THRESHOLD, 4 by default) */
#define SMALL_PRODUCT 262144.0

/* A contiguous copy (or x itself, retained) made without recording. */
static gr_tensor *plain_contiguous(gr_tensor *x) {
  bool grad = gr_set_grad_enabled(false);
  gr_tensor *c = gr_contiguous(x);
  gr_set_grad_enabled(grad);
  return c;
}

/* How sgemm can read a (rows, cols) matrix with element strides (rs, cs):
 * row-major as is (trans false, ld = rs) or as the transpose of a row-major
 * (cols, rows) matrix (trans true, ld = cs). False when neither works. */
static bool blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool *trans,
                        int64_t *ld) {
  int64_t r1 = rows > 1 ? rows : 1, c1 = cols > 1 ? cols : 1;
  /* a dim of size 1 is never stepped over, so its stride is free */
  if (cols == 1 || cs == 1) {
    int64_t l = rows == 1 ? c1 : rs;
    if (l >= c1) {
      *trans = false;
      *ld = l;
      return true;
    }
  }
  if (rows == 1 || rs == 1) {
    int64_t l = cols == 1 ? r1 : cs;
    if (l >= r1) {
      *trans = true;
      *ld = l;
      return true;
    }
  }
  return false;
}

static bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

/* --- matmul ---------------------------------------------------------------------- */

/* One product of a batch: operand offsets from the batch index i over the
 * right-aligned batch dims (strides 0 where broadcast), then sgemm. */
typedef struct bmm {
  bool ta, tb;
  int64_t rows, m, k, lda, ldb, n;
  int nb;
  const int64_t *shape, *sa, *sb;
  const float *pa, *pb;
  float *py;
} bmm;
static void bmm_one(const bmm *b, int64_t i) {
  int64_t oa = 0, ob = 0, r = i;
  for (int d = b->nb - 1; d >= 0; d--) {
    int64_t idx = r % b->shape[d];
    r /= b->shape[d];
    oa += idx * b->sa[d];
    ob += idx * b->sb[d];
  }
  cblas_sgemm(CblasRowMajor, b->ta ? CblasTrans : CblasNoTrans, b->tb ? CblasTrans : CblasNoTrans,
              (int)b->rows, (int)b->m, (int)b->k, 1.0f, b->pa + oa, (int)b->lda, b->pb + ob,
              (int)b->ldb, 0.0f, b->py + i * b->n * b->m, (int)b->m);
}

/* The op itself takes a (...,n,k) and b (...,k,m), both at least 2-d; gr_matmul
 * adds and removes the unit dims of 1-d operands around it. */
gr_status matmul_forward(gr_fwd *f) {
  gr_tensor *a = f->in[0], *b = f->in[1];
  int nd = a->ndim > b->ndim ? a->ndim : b->ndim, nb = nd - 2;
  int64_t n = a->shape[a->ndim - 2], k = a->shape[a->ndim - 1], m = b->shape[b->ndim - 1];
  gr_tensor *ac = NULL, *bc = NULL; /* copies, when a layout does not suit sgemm */
  bool ta = false, tb = false;
  int64_t lda = 1, ldb = 1;
  if (!blas_layout(n, k, a->stride[a->ndim - 2], a->stride[a->ndim - 1], &ta, &lda)) {
    if (!(a = ac = plain_contiguous(a))) return gr_errcode();
    blas_layout(n, k, a->stride[a->ndim - 2], a->stride[a->ndim - 1], &ta, &lda);
  }
  if (!blas_layout(k, m, b->stride[b->ndim - 2], b->stride[b->ndim - 1], &tb, &ldb)) {
    if (!(b = bc = plain_contiguous(b))) {
      gr_release(ac);
      return gr_errcode();
    }
    blas_layout(k, m, b->stride[b->ndim - 2], b->stride[b->ndim - 1], &tb, &ldb);
  }
  /* batch dims, right-aligned; stride 0 where an operand is broadcast */
  int64_t shape[GR_MAX_DIM], sa[GR_MAX_DIM], sb[GR_MAX_DIM], batch = 1;
  bool b_batched = false;
  for (int d = 0; d < nb; d++) {
    int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
    int64_t na = da >= 0 ? a->shape[da] : 1, nbb = db >= 0 ? b->shape[db] : 1;
    shape[d] = na > nbb ? na : nbb;
    sa[d] = na == shape[d] && da >= 0 ? a->stride[da] : 0;
    sb[d] = nbb == shape[d] && db >= 0 ? b->stride[db] : 0;
    b_batched |= sb[d] != 0 && shape[d] > 1;
    batch *= shape[d];
  }
  shape[nb] = n;
  shape[nb + 1] = m;
  gr_tensor *y = gr_empty(GR_F32, nd, shape);
  if (!y) {
    gr_release(ac);
    gr_release(bc);
    return gr_errcode();
  }
  float *py = gr_f32(y);
  const float *pa = gr_f32(a), *pb = gr_f32(b);
  /* When b is shared by the whole batch and a's rows follow one another at
   * one stride, the batch is one tall matrix: a single sgemm. */
  int64_t rows = n;
  if (!b_batched && !ta && batch > 1) {
    int64_t expect = lda * n;
    bool fold = true;
    for (int d = nb - 1; d >= 0 && fold; d--) {
      if (shape[d] == 1) continue;
      fold = sa[d] == expect;
      expect *= shape[d];
    }
    if (fold) {
      rows = n * batch;
      batch = 1;
    }
  }
  gr_status s = GR_OK;
  if (!fits_int(rows) || !fits_int(k) || !fits_int(m) || !fits_int(lda) || !fits_int(ldb)) {
    s = gr_fail(GR_EARG, "matmul: %s @ %s is too large for sgemm's int sizes", gr_shape_str(a),
                gr_shape_str(b));
  } else if (k == 0) {
    memset(py, 0, (size_t)gr_numel(y) * sizeof *py);
  } else if (rows > 0 && m > 0) {
    /* A batch of small products (attention's, per sample: 256 x 3 by 3 x 64,
     * 12 x 256 by 256 x 64) runs on our threads, one product each: sgemm
     * gives each of them one thread anyway, so the sums are the ones it
     * computed before, on any thread count. Only when OpenBLAS is the
     * OpenMP or the serial build (a pthreads one would be called from
     * several threads at once). */
    bool par = batch > 1 && (double)rows * (double)m * (double)k < SMALL_PRODUCT &&
               openblas_get_parallel() != 1;
    bmm bm = {ta, tb, rows, m, k, lda, ldb, n, nb, shape, sa, sb, pa, pb, py};
    /* (only then inside a parallel construct: with every batch inside one,
     * an inactive one included, SNGAN's step measured 15% slower on two
     * threads and StyleGAN2's R1 step 10 to 30%) */
    if (par) {
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static)
      for (int64_t i = 0; i < batch; i++) bmm_one(&bm, i);
    } else {
      for (int64_t i = 0; i < batch; i++) bmm_one(&bm, i);
    }
  }
  gr_release(ac);
  gr_release(bc);
  if (s != GR_OK) {
    gr_release(y);
    return s;
  }
  f->out[0] = y;
  return GR_OK;
}

gr_status matmul_backward(gr_bwd *b) {
  gr_tensor *x = b->in[0], *w = b->in[1], *g = b->gout[0];
  /* broadcast batch dims fold back with sum_to */
  if (b->needs[0])
    b->gin[0] = gr_sum_to(gr_matmul(g, gr_transpose(w, -1, -2)), x->ndim, x->shape);
  if (b->needs[1])
    b->gin[1] = gr_sum_to(gr_matmul(gr_transpose(x, -1, -2), g), w->ndim, w->shape);
  return GR_OK;
}

gr_tensor *gr_matmul(gr_tensor *a, gr_tensor *b) {
  if (!a || !b) return NULL;
  if (!gr_check_float("matmul", "a", a) || !gr_check_float("matmul", "b", b)) return NULL;
  if (a->ndim < 1 || b->ndim < 1)
    return gr_fail_null(GR_EARG, "matmul: operands must have at least 1 dim, got %s @ %s",
                        gr_shape_str(a), gr_shape_str(b));
  int64_t ka = a->shape[a->ndim - 1], kb = b->shape[b->ndim > 1 ? b->ndim - 2 : 0];
  if (ka != kb)
    return gr_fail_null(GR_EARG, "matmul: inner sizes differ: %s @ %s (%lld vs %lld)",
                        gr_shape_str(a), gr_shape_str(b), (long long)ka, (long long)kb);
  int nda = a->ndim < 2 ? 2 : a->ndim, ndb = b->ndim < 2 ? 2 : b->ndim;
  if ((nda > ndb ? nda : ndb) > GR_MAX_DIM)
    return gr_fail_null(GR_EARG, "matmul: %s @ %s has too many dims", gr_shape_str(a),
                        gr_shape_str(b));
  for (int d = 0; d < nda - 2 && d < ndb - 2; d++) {
    int64_t x = a->shape[a->ndim - 3 - d], y = b->shape[b->ndim - 3 - d];
    if (x != y && x != 1 && y != 1)
      return gr_fail_null(GR_EARG, "matmul: batch dims of %s and %s do not broadcast",
                          gr_shape_str(a), gr_shape_str(b));
  }
  if (a->ndim >= 2 && b->ndim >= 2) {
    gr_tensor *in[2] = {a, b};
    return gr_apply1(GR_OP_matmul, 2, in, NULL);
  }
  /* numpy: a 1-d a is a row (1,k), a 1-d b a column (k,1); the unit dim goes after */
  gr_pool_push();
  gr_tensor *a2 = a->ndim == 1 ? gr_unsqueeze(a, 0) : a;
  gr_tensor *b2 = b->ndim == 1 ? gr_unsqueeze(b, 1) : b;
  gr_tensor *in[2] = {a2, b2};
  gr_tensor *y = a2 && b2 ? gr_apply1(GR_OP_matmul, 2, in, NULL) : NULL;
  if (b->ndim == 1) y = gr_squeeze(y, -1);
  if (a->ndim == 1) y = gr_squeeze(y, -2 + (b->ndim == 1));
  return gr_pool_pop_keep(y);
}

/* --- linear ------------------------------------------------------------------------ */

/* x (..., in) as an (M, in) matrix: the row stride when the leading dims
 * step uniformly, else -1. */
static int64_t rows_stride(const gr_tensor *x) {
  int64_t rs = -1, expect = -1;
  for (int d = x->ndim - 2; d >= 0; d--) {
    if (x->shape[d] == 1) continue;
    if (rs < 0) {
      rs = x->stride[d];
      expect = rs * x->shape[d];
    } else if (x->stride[d] == expect) {
      expect *= x->shape[d];
    } else {
      return -1;
    }
  }
  return rs < 0 ? 0 : rs; /* one row: any stride */
}

gr_status linear_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0], *w = f->in[1], *bias = f->in[2];
  int64_t in = w->shape[1], out = w->shape[0], M = in ? gr_numel(x) / in : 0;
  if (!in) {
    M = 1;
    for (int d = 0; d < x->ndim - 1; d++) M *= x->shape[d];
  }
  gr_tensor *xc = NULL, *wc = NULL;
  bool tx = false, tw = false;
  int64_t ldx = 1, ldw = 1, rs = rows_stride(x);
  if (rs < 0 || !blas_layout(M, in, rs, x->stride[x->ndim - 1], &tx, &ldx)) {
    if (!(x = xc = plain_contiguous(x))) return gr_errcode();
    blas_layout(M, in, in, 1, &tx, &ldx);
  }
  if (!blas_layout(out, in, w->stride[0], w->stride[1], &tw, &ldw)) {
    if (!(w = wc = plain_contiguous(w))) {
      gr_release(xc);
      return gr_errcode();
    }
    blas_layout(out, in, in, 1, &tw, &ldw);
  }
  int64_t shape[GR_MAX_DIM];
  memcpy(shape, x->shape, sizeof shape);
  shape[x->ndim - 1] = out;
  gr_tensor *y = gr_empty(GR_F32, x->ndim, shape);
  gr_status s = y ? GR_OK : gr_errcode();
  if (s == GR_OK && (!fits_int(M) || !fits_int(in) || !fits_int(out) || !fits_int(ldx) ||
                     !fits_int(ldw)))
    s = gr_fail(GR_EARG, "linear: %s with weight %s is too large for sgemm's int sizes",
                gr_shape_str(x), gr_shape_str(w));
  if (s == GR_OK) {
    float *py = gr_f32(y);
    /* the bias goes in first and sgemm adds onto it (beta = 1) */
    if (bias) {
      const float *pb = gr_f32(bias);
      int64_t sb = bias->stride[0];
      for (int64_t j = 0; j < out; j++) py[j] = pb[j * sb];
      for (int64_t i = 1; i < M; i++) memcpy(py + i * out, py, (size_t)out * sizeof *py);
    } else if (in == 0) {
      memset(py, 0, (size_t)(M * out) * sizeof *py);
    }
    /* y = x @ w^T: w^T is w read transposed, or as is when w is stored transposed */
    if (M > 0 && out > 0 && in > 0)
      cblas_sgemm(CblasRowMajor, tx ? CblasTrans : CblasNoTrans, tw ? CblasNoTrans : CblasTrans,
                  (int)M, (int)out, (int)in, 1.0f, gr_f32(x), (int)ldx, gr_f32(w), (int)ldw,
                  bias ? 1.0f : 0.0f, py, (int)out);
  }
  gr_release(xc);
  gr_release(wc);
  if (s != GR_OK) {
    gr_release(y);
    return s;
  }
  f->out[0] = y;
  return GR_OK;
}

gr_status linear_backward(gr_bwd *b) {
  gr_tensor *x = b->in[0], *w = b->in[1], *g = b->gout[0];
  int64_t out = w->shape[0], in = w->shape[1];
  /* g (..., out) seen as (M, out) rows; x likewise as (M, in) */
  gr_tensor *g2 = gr_reshape(g, 2, (int64_t[]){-1, out});
  if (b->needs[0]) b->gin[0] = gr_matmul(g, w);
  if (b->needs[1])
    b->gin[1] = gr_matmul(gr_transpose(g2, 0, 1), gr_reshape(x, 2, (int64_t[]){-1, in}));
  if (b->needs[2]) b->gin[2] = gr_sum(g2, 1, (int[]){0}, false);
  return GR_OK;
}

gr_tensor *gr_linear(gr_tensor *x, gr_tensor *w, gr_tensor *b) {
  if (!x || !w) return NULL;
  if (!gr_check_float("linear", "x", x) || !gr_check_float("linear", "weight", w) ||
      (b && !gr_check_float("linear", "bias", b)))
    return NULL;
  if (w->ndim != 2)
    return gr_fail_null(GR_EARG, "linear: weight must be (out, in), got %s", gr_shape_str(w));
  if (x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1])
    return gr_fail_null(GR_EARG, "linear: x %s does not end in the weight's in size (weight %s)",
                        gr_shape_str(x), gr_shape_str(w));
  if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
    return gr_fail_null(GR_EARG, "linear: bias must be (%lld) for weight %s, got %s",
                        (long long)w->shape[0], gr_shape_str(w), gr_shape_str(b));
  gr_tensor *in[3] = {x, w, b};
  return gr_apply1(GR_OP_linear, 3, in, NULL);
}
