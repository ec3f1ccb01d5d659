/* Reductions: sum, mean, var and logsumexp over any dims; max/min along a
 * dim (values and indices) and over everything; softmax and log_softmax.
 *
 * Sums accumulate in double, in an order fixed by the shapes alone, so a
 * result is the same for any thread count. */
#include <math.h>
#include <stdlib.h>

#include "op_impl.h"

#define RED_PARALLEL 65536 /* elements below which one thread is faster */
#define RED_BLOCK 65536    /* a long row is summed in blocks of this many, then the blocks in order */
#define RED_LANES 256      /* inner positions one task of a dim reduction handles at once */

/* dims (possibly negative, possibly none = all) to a bit mask; -1 on a bad dim */
static int64_t dims_mask(const char *op, const gr_tensor *x, int ndims, const int *dims) {
  if (ndims == 0) return x->ndim ? (1 << x->ndim) - 1 : 0;
  if (ndims < 0 || !dims) {
    gr_fail(GR_EARG, "%s: bad dims list (%d dims) for %s", op, ndims, gr_shape_str(x));
    return -1;
  }
  int64_t mask = 0;
  for (int k = 0; k < ndims; k++) {
    int d = gr_wrap_dim(dims[k], x->ndim);
    if (d < 0) {
      gr_fail(GR_EARG, "%s: dim %d out of range for %s", op, gr_dim_shown(dims[k]), gr_shape_str(x));
      return -1;
    }
    if (x->ndim) mask |= 1 << d;
  }
  return mask;
}

/* Shape of the result: reduced dims removed, or kept as 1. */
static int reduced_shape(const gr_tensor *x, int64_t mask, bool keepdim, int64_t *shape) {
  int n = 0;
  for (int d = 0; d < x->ndim; d++) {
    if (mask & (1 << d)) {
      if (keepdim) shape[n++] = 1;
    } else {
      shape[n++] = x->shape[d];
    }
  }
  return n;
}

/* How many elements each result element reduces. */
static int64_t reduced_count(const gr_tensor *x, int64_t mask) {
  int64_t n = 1;
  for (int d = 0; d < x->ndim; d++)
    if (mask & (1 << d)) n *= x->shape[d];
  return n;
}

/* A forward's private copy or view of x, not recorded; owned by the caller. */
static gr_tensor *unrecorded(gr_tensor *(*fn)(gr_tensor *), gr_tensor *x) {
  bool grad = gr_set_grad_enabled(false);
  gr_tensor *y = fn(x);
  gr_set_grad_enabled(grad);
  return y;
}

/* x contiguous as (outer, len, inner) around dim d */
static void around_dim(const gr_tensor *x, int d, int64_t *outer, int64_t *len, int64_t *inner) {
  *outer = *inner = *len = 1;
  for (int k = 0; k < x->ndim; k++) {
    if (k < d) *outer *= x->shape[k];
    else if (k == d) *len = x->shape[k];
    else *inner *= x->shape[k];
  }
}

/* --- sum ----------------------------------------------------------------------------- */

/* A contiguous tensor's dims merged into runs that are all kept or all
 * reduced, size-1 dims dropped: the layout a sum walks without copying. */
typedef struct runs {
  int n;
  int64_t size[GR_MAX_DIM], stride[GR_MAX_DIM];
  bool red[GR_MAX_DIM];
} runs;

static void merge_runs(const gr_tensor *x, int64_t mask, runs *g) {
  int64_t st[GR_MAX_DIM], s = 1;
  for (int d = x->ndim - 1; d >= 0; d--) {
    st[d] = s;
    s *= x->shape[d];
  }
  g->n = 0;
  for (int d = 0; d < x->ndim; d++) {
    if (x->shape[d] == 1) continue;
    bool red = mask & (1 << d);
    if (g->n > 0 && g->red[g->n - 1] == red) { /* contiguous: neighbours always merge */
      g->size[g->n - 1] *= x->shape[d];
      g->stride[g->n - 1] = st[d];
      continue;
    }
    g->size[g->n] = x->shape[d];
    g->stride[g->n] = st[d];
    g->red[g->n++] = red;
  }
}

/* Offset of element i (row-major) of the index space of the runs among the
 * first `upto` whose flag is `red`. */
static int64_t run_offset(const runs *g, bool red, int upto, int64_t i) {
  int64_t off = 0;
  for (int k = upto - 1; k >= 0; k--) {
    if (g->red[k] != red) continue;
    off += (i % g->size[k]) * g->stride[k];
    i /= g->size[k];
  }
  return off;
}

/* The start of a reduction's forward: x (the input, float) made contiguous
 * as *c (owned), the result *y handed to f->out[0], and the result's element
 * count (rows) and the count reduced into each (len). */
static gr_status reduce_begin(gr_fwd *f, const char *op, gr_tensor **c, gr_tensor **y,
                              int64_t *rows, int64_t *len) {
  gr_tensor *x = f->in[0];
  if (!gr_check_float(op, "x", x)) return GR_EARG;
  int64_t mask = f->a->i[0], shape[GR_MAX_DIM];
  int nd = reduced_shape(x, mask, f->a->i[1], shape);
  *c = unrecorded(gr_contiguous, x);
  *y = gr_empty(GR_F32, nd, shape);
  if (!*c || !*y) {
    gr_release(*c);
    gr_release(*y);
    return gr_errcode();
  }
  *rows = gr_numel(*y);
  *len = reduced_count(x, mask);
  f->out[0] = *y;
  return GR_OK;
}

gr_status sum_forward(gr_fwd *f) {
  gr_tensor *c, *y;
  int64_t mask = f->a->i[0], rows, len;
  gr_status st = reduce_begin(f, "sum", &c, &y, &rows, &len);
  if (st != GR_OK) return st;
  const float *px = gr_f32(c);
  float *py = gr_f32(y);
  if (rows * len == 0) {
    for (int64_t r = 0; r < rows; r++) py[r] = 0;
    gr_release(c);
    return GR_OK;
  }
  runs g;
  merge_runs(c, mask, &g);
  double (*sum)(const float *, int64_t) = gr_kernels()->sum;
  if (g.n == 0 || g.red[g.n - 1]) {
    /* the innermost run is reduced: each result is a sum of contiguous segments */
    int64_t seg = g.n ? g.size[g.n - 1] : 1, nseg = len / seg;
    if (rows == 1 && len > 2 * RED_BLOCK) {
      /* one long segment: fixed blocks in parallel, their sums added in order */
      int64_t nb = (len + RED_BLOCK - 1) / RED_BLOCK;
      double *part = malloc((size_t)nb * sizeof *part);
      if (!part) {
        gr_release(c);
        return gr_fail(GR_ENOMEM, "sum: out of memory");
      }
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static)
      for (int64_t k = 0; k < nb; k++) {
        int64_t i0 = k * RED_BLOCK;
        part[k] = sum(px + i0, len - i0 < RED_BLOCK ? len - i0 : RED_BLOCK);
      }
      double t = 0;
      for (int64_t k = 0; k < nb; k++) t += part[k];
      py[0] = (float)t;
      free(part);
    } else {
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (rows * len > RED_PARALLEL)
      for (int64_t r = 0; r < rows; r++) {
        int64_t base = run_offset(&g, false, g.n, r);
        double t = 0;
        for (int64_t q = 0; q < nseg; q++) t += sum(px + base + run_offset(&g, true, g.n - 1, q), seg);
        py[r] = (float)t;
      }
    }
  } else {
    /* the innermost run is kept: add whole rows of RED_LANES results at a time */
    int64_t inner = g.size[g.n - 1], outer = rows / inner;
    int64_t lanes = (inner + RED_LANES - 1) / RED_LANES, tasks = outer * lanes;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (rows * len > RED_PARALLEL)
    for (int64_t t = 0; t < tasks; t++) {
      int64_t o = t / lanes, j0 = (t % lanes) * RED_LANES;
      int64_t nj = inner - j0 < RED_LANES ? inner - j0 : RED_LANES;
      int64_t base = run_offset(&g, false, g.n - 1, o) + j0;
      double acc[RED_LANES] = {0};
      for (int64_t q = 0; q < len; q++) {
        const float *row = px + base + run_offset(&g, true, g.n, q);
        for (int64_t j = 0; j < nj; j++) acc[j] += row[j];
      }
      for (int64_t j = 0; j < nj; j++) py[o * inner + j0 + j] = (float)acc[j];
    }
  }
  gr_release(c);
  return GR_OK;
}

gr_status sum_backward(gr_bwd *b) {
  gr_tensor *x = b->in[0];
  int64_t shape[GR_MAX_DIM];
  int n = reduced_shape(x, b->a->i[0], true, shape);
  b->gin[0] = gr_expand(gr_reshape(b->gout[0], n, shape), x->ndim, x->shape);
  return GR_OK;
}

gr_tensor *gr_sum(gr_tensor *x, int ndims, const int *dims, bool keepdim) {
  if (!x) return NULL;
  int64_t mask = dims_mask("sum", x, ndims, dims);
  if (mask < 0) return NULL;
  gr_attrs a = {.i = {mask, keepdim}};
  return gr_apply1(GR_OP_sum, 1, &x, &a);
}

/* --- mean and var: made of sums ------------------------------------------------------------ */

gr_tensor *gr_mean(gr_tensor *x, int ndims, const int *dims, bool keepdim) {
  if (!x) return NULL;
  if (!gr_check_float("mean", "x", x)) return NULL;
  int64_t mask = dims_mask("mean", x, ndims, dims);
  if (mask < 0) return NULL;
  /* an empty reduction gives 0 * inf = NaN, as in PyTorch */
  double scale = 1.0 / (double)reduced_count(x, mask);
  return GR_COMPOSITE(gr_mul_scalar(gr_sum(x, ndims, dims, keepdim), scale));
}

gr_tensor *gr_var(gr_tensor *x, int ndims, const int *dims, int correction, bool keepdim) {
  if (!x) return NULL;
  if (!gr_check_float("var", "x", x)) return NULL;
  int64_t mask = dims_mask("var", x, ndims, dims);
  if (mask < 0) return NULL;
  if (correction < 0)
    return gr_fail_null(GR_EARG, "var: correction must be >= 0, got %d", correction);
  /* two passes (deviations from the mean, then their squares) keep it accurate */
  int64_t dof = reduced_count(x, mask) - correction;
  double scale = 1.0 / (double)(dof > 0 ? dof : 0);
  gr_pool_push();
  gr_tensor *d = gr_sub(x, gr_mean(x, ndims, dims, true));
  return gr_pool_pop_keep(gr_mul_scalar(gr_sum(gr_mul(d, d), ndims, dims, keepdim), scale));
}

/* --- logsumexp ------------------------------------------------------------------------------ */

gr_status logsumexp_forward(gr_fwd *f) {
  gr_tensor *c, *y;
  int64_t mask = f->a->i[0], rows, len;
  gr_status st = reduce_begin(f, "logsumexp", &c, &y, &rows, &len);
  if (st != GR_OK) return st;
  const float *px = gr_f32(c);
  float *py = gr_f32(y);
  gr_save(f, y);
  if (rows * len == 0) {
    for (int64_t r = 0; r < rows; r++) py[r] = -INFINITY; /* log of an empty sum */
    gr_release(c);
    return GR_OK;
  }
  runs g;
  merge_runs(c, mask, &g);
  float (*vmax)(const float *, int64_t) = gr_kernels()->max;
  /* shifted by the max so that no exp overflows; an infinite or NaN max is the answer */
  if (g.n == 0 || g.red[g.n - 1]) {
    int64_t seg = g.n ? g.size[g.n - 1] : 1, nseg = len / seg;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (rows * len > RED_PARALLEL / 8)
    for (int64_t r = 0; r < rows; r++) {
      int64_t base = run_offset(&g, false, g.n, r);
      float m = -INFINITY;
      for (int64_t q = 0; q < nseg; q++) {
        float mq = vmax(px + base + run_offset(&g, true, g.n - 1, q), seg);
        if (mq > m || mq != mq) m = mq;
      }
      if (!isfinite(m)) {
        py[r] = m;
        continue;
      }
      double t = 0;
      for (int64_t q = 0; q < nseg; q++) {
        const float *row = px + base + run_offset(&g, true, g.n - 1, q); // row is (seg)
        for (int64_t i = 0; i < seg; i++) t += expf(row[i] - m);
      }
      py[r] = (float)(m + log(t));
    }
  } else {
    int64_t inner = g.size[g.n - 1], outer = rows / inner;
    int64_t lanes = (inner + RED_LANES - 1) / RED_LANES, tasks = outer * lanes;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (rows * len > RED_PARALLEL / 8)
    for (int64_t t = 0; t < tasks; t++) {
      int64_t o = t / lanes, j0 = (t % lanes) * RED_LANES;
      int64_t nj = inner - j0 < RED_LANES ? inner - j0 : RED_LANES;
      int64_t base = run_offset(&g, false, g.n - 1, o) + j0;
      float m[RED_LANES];
      double acc[RED_LANES] = {0};
      for (int64_t j = 0; j < nj; j++) m[j] = -INFINITY;
      for (int64_t q = 0; q < len; q++) {
        const float *row = px + base + run_offset(&g, true, g.n, q);
        for (int64_t j = 0; j < nj; j++)
          if (row[j] > m[j] || row[j] != row[j]) m[j] = row[j];
      }
      for (int64_t q = 0; q < len; q++) {
        const float *row = px + base + run_offset(&g, true, g.n, q);
        for (int64_t j = 0; j < nj; j++) acc[j] += expf(row[j] - m[j]);
      }
      for (int64_t j = 0; j < nj; j++)
        py[o * inner + j0 + j] = isfinite(m[j]) ? (float)(m[j] + log(acc[j])) : m[j];
    }
  }
  gr_release(c);
  return GR_OK;
}

gr_status logsumexp_backward(gr_bwd *b) {
  /* d lse / dx = exp(x - lse): the softmax over the reduced dims */
  gr_tensor *x = b->in[0];
  int64_t shape[GR_MAX_DIM];
  int n = reduced_shape(x, b->a->i[0], true, shape);
  gr_tensor *g = gr_reshape(b->gout[0], n, shape), *y = gr_reshape(gr_saved(b, 0), n, shape);
  b->gin[0] = gr_mul(g, gr_exp(gr_sub(x, y)));
  return GR_OK;
}

gr_tensor *gr_logsumexp(gr_tensor *x, int ndims, const int *dims, bool keepdim) {
  if (!x) return NULL;
  int64_t mask = dims_mask("logsumexp", x, ndims, dims);
  if (mask < 0) return NULL;
  gr_attrs a = {.i = {mask, keepdim}};
  return gr_apply1(GR_OP_logsumexp, 1, &x, &a);
}

/* --- max and min along a dim ------------------------------------------------------------------ */

/* values and first indices of the max (or min) along dim; a NaN wins, as in PyTorch */
static gr_status extreme_forward(gr_fwd *f, const char *name, bool is_max) {
  gr_tensor *x = f->in[0];
  if (!gr_check_float(name, "x", x)) return GR_EARG;
  int d = (int)f->a->i[0];
  int64_t outer, len, inner, shape[GR_MAX_DIM];
  around_dim(x, d, &outer, &len, &inner);
  if (len == 0)
    return gr_fail(GR_EARG, "%s: dim %d of %s is empty", name, gr_dim_shown(d), gr_shape_str(x));
  int nd = reduced_shape(x, x->ndim ? 1 << d : 0, f->a->i[1], shape);
  gr_tensor *c = unrecorded(gr_contiguous, x);
  gr_tensor *v = gr_empty(GR_F32, nd, shape), *ix = gr_empty(GR_I64, nd, shape);
  if (!c || !v || !ix) {
    gr_release(c);
    gr_release(v);
    gr_release(ix);
    return gr_errcode();
  }
  const float *px = gr_f32(c); // px is (outer, len, inner)
  float *pv = gr_f32(v);       // pv and pi are (outer, inner)
  int64_t *pi = gr_i64(ix);
  int64_t lanes = (inner + RED_LANES - 1) / RED_LANES, tasks = outer * lanes;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (outer * len * inner > RED_PARALLEL)
  for (int64_t t = 0; t < tasks; t++) {
    int64_t o = t / lanes, j0 = (t % lanes) * RED_LANES;
    int64_t nj = inner - j0 < RED_LANES ? inner - j0 : RED_LANES;
    const float *base = px + o * len * inner + j0;
    float *bv = pv + o * inner + j0;
    int64_t *bi = pi + o * inner + j0;
    for (int64_t j = 0; j < nj; j++) {
      bv[j] = base[j];
      bi[j] = 0;
    }
    for (int64_t k = 1; k < len; k++) {
      const float *row = base + k * inner;
      for (int64_t j = 0; j < nj; j++) {
        float a = row[j], cur = bv[j];
        bool wins = is_max ? a > cur : a < cur;
        if (wins || (a != a && cur == cur)) {
          bv[j] = a;
          bi[j] = k;
        }
      }
    }
  }
  gr_release(c);
  f->out[0] = v;
  f->out[1] = ix;
  /* the rule needs only where the winners were: a plain view of the indices */
  gr_tensor *keep = gr_alias(ix, ix->ndim, ix->shape, ix->stride, ix->offset);
  if (!keep) return gr_errcode();
  gr_save(f, keep);
  gr_release(keep);
  return GR_OK;
}

/* The gradient goes to the winner: g times a constant 0/1 mask of x's shape. */
static gr_status extreme_backward(gr_bwd *b) {
  gr_tensor *x = b->in[0], *ix = gr_saved(b, 0);
  int d = (int)b->a->i[0];
  int64_t outer, len, inner, shape[GR_MAX_DIM];
  around_dim(x, d, &outer, &len, &inner);
  gr_tensor *hit = gr_zeros(GR_F32, x->ndim, x->shape);
  if (!hit) return gr_errcode();
  float *ph = gr_f32(hit); // ph is (outer, len, inner)
  const int64_t *pi = gr_i64(ix); // pi is (outer, inner), contiguous as made
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) ph[(o * len + pi[o * inner + j]) * inner + j] = 1;
  int n = reduced_shape(x, x->ndim ? 1 << d : 0, true, shape);
  b->gin[0] = gr_mul(hit, gr_reshape(b->gout[0], n, shape));
  return GR_OK;
}

/* max_dim and min_dim: two outputs, indices optional for the caller */
static gr_tensor *extreme(gr_op op, const char *name, gr_tensor *x, int dim, bool keepdim,
                          gr_tensor **indices) {
  if (indices) *indices = NULL;
  if (!x) return NULL;
  int d = gr_wrap_dim(dim, x->ndim);
  if (d < 0) return gr_fail_null(GR_EARG, "%s: dim %d out of range for %s", name, gr_dim_shown(dim),
                                             gr_shape_str(x));
  gr_attrs a = {.i = {d, keepdim}};
  gr_tensor *out[2] = {NULL, NULL};
  /* a pool of our own so that unwanted indices are freed in or out of the caller's pool */
  gr_pool_push();
  gr_status s = gr_apply(op, 1, &x, &a, 2, out);
  if (s == GR_OK) {
    gr_retain(out[0]);
    if (indices) gr_retain(out[1]);
  }
  gr_pool_pop();
  if (s != GR_OK) return NULL;
  if (indices) *indices = gr_autorelease(out[1]);
  return gr_autorelease(out[0]);
}

gr_status max_dim_forward(gr_fwd *f) { return extreme_forward(f, "max_dim", true); }
gr_status max_dim_backward(gr_bwd *b) { return extreme_backward(b); }
gr_tensor *gr_max_dim(gr_tensor *x, int dim, bool keepdim, gr_tensor **indices) {
  return extreme(GR_OP_max_dim, "max_dim", x, dim, keepdim, indices);
}

gr_status min_dim_forward(gr_fwd *f) { return extreme_forward(f, "min_dim", false); }
gr_status min_dim_backward(gr_bwd *b) { return extreme_backward(b); }
gr_tensor *gr_min_dim(gr_tensor *x, int dim, bool keepdim, gr_tensor **indices) {
  return extreme(GR_OP_min_dim, "min_dim", x, dim, keepdim, indices);
}

/* over every element: the flat tensor's max_dim; the gradient goes to the first winner */
static gr_tensor *extreme_all(gr_op op, const char *name, gr_tensor *x) {
  if (!x) return NULL;
  if (!gr_check_float(name, "x", x)) return NULL;
  if (gr_numel(x) == 0) return gr_fail_null(GR_EARG, "%s: %s is empty", name, gr_shape_str(x));
  int64_t flat = -1;
  gr_pool_push();
  return gr_pool_pop_keep(extreme(op, name, gr_reshape(x, 1, &flat), 0, false, NULL));
}

gr_tensor *gr_max_all(gr_tensor *x) { return extreme_all(GR_OP_max_dim, "max_all", x); }
gr_tensor *gr_min_all(gr_tensor *x) { return extreme_all(GR_OP_min_dim, "min_all", x); }

/* --- softmax and log_softmax over one dim --------------------------------------------------- */

/* y (n) = softmax (or log_softmax) of the row x (n): shifted by its max (a
 * NaN max makes the row NaN), exponentials by the kernel table, their sum
 * in double. The scalar expf of the strided path took a tenth of a SAGAN
 * step, whose attention takes softmax over rows of 256 scores. */
static void softmax_row(float *y, const float *x, int64_t n, bool log_out) {
  const gr_kernel_table *k = gr_kernels();
  float m = k->max(x, n); /* NaN wins */
  k->add_s(y, x, -m, n); /* x - m */
  if (log_out) {
    /* the exponentials go through y, then y is x - m - log(sum) */
    k->exp(y, y, n);
    double ls = log(k->sum(y, n));
    for (int64_t i = 0; i < n; i++) y[i] = (float)((double)(x[i] - m) - ls);
    return;
  }
  k->exp(y, y, n);
  k->div_sd(y, y, k->sum(y, n), n);
}

static gr_status softmax_like(gr_fwd *f, const char *name, bool log_out) {
  gr_tensor *x = f->in[0];
  if (!gr_check_float(name, "x", x)) return GR_EARG;
  int64_t outer, len, inner;
  around_dim(x, (int)f->a->i[0], &outer, &len, &inner);
  gr_tensor *c = unrecorded(gr_contiguous, x), *y = gr_empty(GR_F32, x->ndim, x->shape);
  if (!c || !y) {
    gr_release(c);
    gr_release(y);
    return gr_errcode();
  }
  const float *px = gr_f32(c); // px and py are (outer, len, inner)
  float *py = gr_f32(y);
  int64_t lanes = (inner + RED_LANES - 1) / RED_LANES, tasks = outer * lanes;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (outer * len * inner > RED_PARALLEL / 8)
  for (int64_t t = 0; t < tasks; t++) {
    int64_t o = t / lanes, j0 = (t % lanes) * RED_LANES;
    int64_t nj = inner - j0 < RED_LANES ? inner - j0 : RED_LANES;
    const float *bx = px + o * len * inner + j0;
    float *by = py + o * len * inner + j0;
    if (inner == 1) { /* along a row (attention's scores): the table's vector exp */
      softmax_row(by, bx, len, log_out);
      continue;
    }
    float m[RED_LANES];
    double s[RED_LANES];
    /* shift by the max so that no exp overflows */
    for (int64_t j = 0; j < nj; j++) {
      m[j] = -INFINITY;
      s[j] = 0;
    }
    for (int64_t k = 0; k < len; k++)
      for (int64_t j = 0; j < nj; j++) {
        float a = bx[k * inner + j];
        if (a > m[j] || a != a) m[j] = a;
      }
    for (int64_t k = 0; k < len; k++)
      for (int64_t j = 0; j < nj; j++) {
        float e = expf(bx[k * inner + j] - m[j]);
        if (!log_out) by[k * inner + j] = e;
        s[j] += e;
      }
    for (int64_t k = 0; k < len; k++)
      for (int64_t j = 0; j < nj; j++) {
        int64_t i = k * inner + j;
        if (log_out) by[i] = (float)((double)(bx[i] - m[j]) - log(s[j]));
        else by[i] = (float)(by[i] / s[j]);
      }
  }
  gr_release(c);
  f->out[0] = y;
  gr_save(f, y);
  return GR_OK;
}

gr_status softmax_forward(gr_fwd *f) { return softmax_like(f, "softmax", false); }
/* softmax's gradient along rows (the last dim: attention's scores) in one
 * pass, row by row on the threads, when nothing is recorded and y is
 * contiguous: the very steps of the ops below (g * y, its sum in double
 * rounded to float, g - that sum, times y), without their three
 * temporaries and broadcasts. False (gin untouched) otherwise; on
 * GR_ENOMEM, *s says so. */
static bool softmax_grad_rows(gr_bwd *b, gr_tensor *y, gr_tensor *g, int d, gr_status *s) {
  int64_t outer, len, inner;
  around_dim(y, d, &outer, &len, &inner);
  if (b->create_graph || inner != 1 || (outer == 1 && len > 2 * RED_BLOCK) || !gr_is_contiguous(y))
    return false; /* (one long row: sum adds it in blocks) */
  /* g comes transposed out of attention's matmul: one copy, rather than
   * three strided passes over it */
  gr_tensor *gc = unrecorded(gr_contiguous, g), *gx = gc ? gr_empty(GR_F32, y->ndim, y->shape) : NULL;
  if (!gx) { /* (the rule's pool holds gc, as it holds what it returns) */
    *s = gr_errcode();
    return true;
  }
  g = gc;
  const gr_kernel_table *k = gr_kernels();
  const float *py = gr_f32(y), *pg = gr_f32(g);
  float *px = gr_f32(gx);
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (outer * len > RED_PARALLEL)
  for (int64_t r = 0; r < outer; r++) {
    const float *yr = py + r * len, *gr = pg + r * len;
    float *xr = px + r * len; // xr is the row of dx: g * y, then g - sum, then times y
    k->mul(xr, gr, yr, len);
    double t = 0; /* as sum adds a row */
    t += k->sum(xr, len);
    k->add_s(xr, gr, -(float)t, len);
    k->mul(xr, yr, xr, len);
  }
  b->gin[0] = gx;
  *s = GR_OK;
  return true;
}

gr_status softmax_backward(gr_bwd *b) {
  /* dx = y * (g - sum(g * y)) along the dim */
  gr_tensor *y = gr_saved(b, 0), *g = b->gout[0];
  int d = (int)b->a->i[0];
  gr_status s;
  if (softmax_grad_rows(b, y, g, d, &s)) return s;
  b->gin[0] = gr_mul(y, gr_sub(g, gr_sum(gr_mul(g, y), 1, &d, true)));
  return GR_OK;
}

gr_status log_softmax_forward(gr_fwd *f) { return softmax_like(f, "log_softmax", true); }
gr_status log_softmax_backward(gr_bwd *b) {
  /* dx = g - exp(y) * sum(g) along the dim */
  gr_tensor *y = gr_saved(b, 0), *g = b->gout[0];
  int d = (int)b->a->i[0];
  b->gin[0] = gr_sub(g, gr_mul(gr_exp(y), gr_sum(g, 1, &d, true)));
  return GR_OK;
}

static gr_tensor *softmax_op(gr_op op, const char *name, gr_tensor *x, int dim) {
  if (!x) return NULL;
  int d = gr_wrap_dim(dim, x->ndim);
  if (d < 0) return gr_fail_null(GR_EARG, "%s: dim %d out of range for %s", name, gr_dim_shown(dim),
                                             gr_shape_str(x));
  gr_attrs a = {.i = {d}};
  return gr_apply1(op, 1, &x, &a);
}

gr_tensor *gr_softmax(gr_tensor *x, int dim) { return softmax_op(GR_OP_softmax, "softmax", x, dim); }
gr_tensor *gr_log_softmax(gr_tensor *x, int dim) {
  return softmax_op(GR_OP_log_softmax, "log_softmax", x, dim);
}
