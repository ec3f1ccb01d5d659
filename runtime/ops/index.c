/* Joining and indexing: cat (and stack, split, chunk on top of it and of
 * narrow), index_select, gather, scatter_add, one_hot, embedding.
 *
 * Every index is checked against its range before any element moves, and a
 * bad one is reported with its value. gather and scatter_add are each
 * other's gradients; index_select's gradient is a scatter_add with the index
 * expanded along the other dims. */
#include <stdlib.h>
#include <string.h>

#include "iter.h"
#include "op_impl.h"

#define INDEX_PAR 32768 /* elements below which a kernel stays on one thread */

/* x as a contiguous tensor, not recorded (owned in a forward) */
static gr_tensor *dense(gr_tensor *x) {
  bool grad = gr_set_grad_enabled(false);
  gr_tensor *c = gr_contiguous(x);
  gr_set_grad_enabled(grad);
  return c;
}

/* dst = src elementwise (same shape, same dtype, any layouts) */
static void copy_into(gr_tensor *dst, const gr_tensor *src) {
  const gr_tensor *ops[2] = {dst, src};
  gr_iter it;
  gr_iter_init(&it, dst->ndim, dst->shape, 2, ops);
  size_t es = gr_dtype_size(dst->dtype);
  char *d0 = (char *)dst->storage->data + dst->offset * (int64_t)es;
  const char *s0 = (const char *)src->storage->data + src->offset * (int64_t)es;
  int64_t inner = it.inner, ds = it.stride[0][it.ndim - 1], ss = it.stride[1][it.ndim - 1];
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (it.rows * inner > INDEX_PAR)
  for (int64_t r = 0; r < it.rows; r++) {
    int64_t off[2];
    gr_iter_row(&it, r, off);
    char *d = d0 + off[0] * (int64_t)es;
    const char *s = s0 + off[1] * (int64_t)es;
    if (ds == 1 && ss == 1) {
      memcpy(d, s, (size_t)inner * es);
    } else if (es == 4) {
      for (int64_t i = 0; i < inner; i++) ((float *)d)[i * ds] = ((const float *)s)[i * ss];
    } else {
      for (int64_t i = 0; i < inner; i++) ((int64_t *)d)[i * ds] = ((const int64_t *)s)[i * ss];
    }
  }
}

/* --- lines: walking a tensor with one dim set apart ---------------------------------------
 * gather and scatter_add visit the index's elements as lines along `dim`:
 * a row is one choice of every other coordinate. Rows touch disjoint
 * output lines, so they can run in parallel without races. */

typedef struct lines {
  int nd;                           /* the other dims */
  int64_t shape[GR_MAX_DIM];
  int64_t stride[3][GR_MAX_DIM];    /* per operand, for the other dims */
  int64_t dstride[3];               /* per operand, along dim */
  int64_t rows, len;
} lines;

/* The index walk: domain is the index's shape; each operand has the same rank. */
static void lines_init(lines *L, const gr_tensor *domain, int dim, int nops,
                       const gr_tensor *const *ops) {
  memset(L, 0, sizeof *L);
  L->rows = 1;
  L->len = domain->shape[dim];
  for (int d = 0; d < domain->ndim; d++) {
    if (d == dim) {
      for (int k = 0; k < nops; k++) L->dstride[k] = ops[k]->stride[d];
      continue;
    }
    L->shape[L->nd] = domain->shape[d];
    for (int k = 0; k < nops; k++) L->stride[k][L->nd] = ops[k]->stride[d];
    L->rows *= domain->shape[d];
    L->nd++;
  }
}

static void lines_row(const lines *L, int nops, int64_t r, int64_t *off) {
  for (int k = 0; k < nops; k++) off[k] = 0;
  for (int d = L->nd - 1; d >= 0; d--) {
    int64_t i = r % L->shape[d];
    r /= L->shape[d];
    for (int k = 0; k < nops; k++) off[k] += i * L->stride[k][d];
  }
}

/* Checks every value of an int64 index (any layout) is in [0, size), size
 * being dim `dim` of the tensor named xname (x may be NULL: a bare range). */
static bool check_range(const char *op, const gr_tensor *index, int64_t size, int dim,
                        const char *xname, const gr_tensor *x) {
  const gr_tensor *ops[1] = {index};
  gr_iter it;
  gr_iter_init(&it, index->ndim, index->shape, 1, ops);
  const int64_t *p = gr_i64(index);
  int64_t st = it.stride[0][it.ndim - 1];
  if (gr_numel(index) == 0) return true;
  for (int64_t r = 0; r < it.rows; r++) {
    int64_t off;
    gr_iter_row(&it, r, &off);
    for (int64_t i = 0; i < it.inner; i++) {
      int64_t v = p[off + i * st];
      if (v >= 0 && v < size) continue;
      if (x)
        gr_fail(GR_EARG, "%s: index %lld is out of range for dim %d (size %lld) of %s %s", op,
                (long long)v, gr_dim_shown(dim), (long long)size, xname, gr_shape_str(x));
      else
        gr_fail(GR_EARG, "%s: index %lld is out of range [0, %lld) (index %s)", op, (long long)v,
                (long long)size, gr_shape_str(index));
      return false;
    }
  }
  return true;
}

/* --- cat --------------------------------------------------------------------------------- */

gr_status cat_forward(gr_fwd *f) {
  int d = (int)f->a->i[0];
  gr_tensor *first = f->in[0];
  int64_t shape[GR_MAX_DIM];
  memcpy(shape, first->shape, sizeof shape);
  shape[d] = 0;
  for (int i = 0; i < f->nin; i++) shape[d] += f->in[i]->shape[d];
  gr_tensor *y = gr_empty(first->dtype, first->ndim, shape);
  if (!y) return gr_errcode();
  int64_t at = 0;
  for (int i = 0; i < f->nin; i++) {
    gr_tensor *x = f->in[i];
    if (gr_numel(x) > 0) {
      /* the slab of y that x fills */
      gr_tensor *slab = gr_alias(y, y->ndim, x->shape, y->stride, y->offset + at * y->stride[d]);
      if (!slab) {
        gr_release(y);
        return gr_errcode();
      }
      copy_into(slab, x);
      gr_release(slab);
    }
    at += x->shape[d];
  }
  f->out[0] = y;
  return GR_OK;
}

gr_status cat_backward(gr_bwd *b) {
  int d = (int)b->a->i[0], n = (int)b->a->i[1];
  int64_t at = 0;
  for (int i = 0; i < n; i++) {
    int64_t len = b->in[i]->shape[d];
    if (b->needs[i]) b->gin[i] = gr_narrow(b->gout[0], d, at, len);
    at += len;
  }
  return GR_OK;
}

gr_tensor *gr_cat(int n, gr_tensor *const *xs, int dim) {
  if (n < 1 || !xs) return gr_fail_null(GR_EARG, "cat: needs at least one tensor, got %d", n);
  for (int i = 0; i < n; i++)
    if (!xs[i]) return NULL;
  const gr_tensor *x0 = xs[0];
  if (x0->ndim == 0)
    return gr_fail_null(GR_EARG, "cat: tensor 1 is zero-dimensional and has no dim to join along");
  int d = gr_wrap_dim(dim, x0->ndim);
  if (d < 0)
    return gr_fail_null(GR_EARG, "cat: dim %d out of range for tensor 1 %s", gr_dim_shown(dim),
                        gr_shape_str(x0));
  for (int i = 1; i < n; i++) {
    const gr_tensor *x = xs[i];
    if (x->dtype != x0->dtype)
      return gr_fail_null(GR_EARG, "cat: tensor %d is %s %s but tensor 1 is %s %s", i + 1,
                          gr_dtype_name(x->dtype), gr_shape_str(x), gr_dtype_name(x0->dtype),
                          gr_shape_str(x0));
    bool ok = x->ndim == x0->ndim;
    for (int k = 0; ok && k < x0->ndim; k++) ok = k == d || x->shape[k] == x0->shape[k];
    if (!ok)
      return gr_fail_null(GR_EARG, "cat: tensor %d has shape %s but tensor 1 has %s; they may "
                          "differ only in dim %d", i + 1, gr_shape_str(x), gr_shape_str(x0), gr_dim_shown(dim));
  }
  gr_attrs a = {.i = {d, n}};
  return gr_apply1(GR_OP_cat, n, xs, &a);
}

gr_tensor *gr_stack(int n, gr_tensor *const *xs, int dim) {
  if (n < 1 || !xs) return gr_fail_null(GR_EARG, "stack: needs at least one tensor, got %d", n);
  for (int i = 0; i < n; i++)
    if (!xs[i]) return NULL;
  const gr_tensor *x0 = xs[0];
  if (x0->ndim >= GR_MAX_DIM)
    return gr_fail_null(GR_EARG, "stack: tensors %s already have %d dims", gr_shape_str(x0),
                        GR_MAX_DIM);
  int d = gr_wrap_dim(dim, x0->ndim + 1);
  if (d < 0)
    return gr_fail_null(GR_EARG, "stack: dim %d out of range for tensors %s", gr_dim_shown(dim),
                        gr_shape_str(x0));
  for (int i = 1; i < n; i++)
    if (!gr_same_shape(xs[i], x0))
      return gr_fail_null(GR_EARG, "stack: tensor %d has shape %s but tensor 1 has %s", i + 1,
                          gr_shape_str(xs[i]), gr_shape_str(x0));
  gr_tensor **u = malloc((size_t)n * sizeof *u);
  if (!u) return gr_fail_null(GR_ENOMEM, "stack: out of memory");
  gr_pool_push();
  for (int i = 0; i < n; i++) u[i] = gr_unsqueeze(xs[i], d);
  gr_tensor *y = gr_cat(n, u, d);
  free(u);
  return gr_pool_pop_keep(y);
}

/* --- split, chunk: views ------------------------------------------------------------------ */

/* Pieces of `size` along d (the last may be smaller; one empty piece for an
 * empty dim). Writes the first min(count, max) and returns count. */
static int split_views(const char *op, gr_tensor *x, int64_t size, int d, gr_tensor **pieces,
                       int max) {
  int64_t len = x->shape[d], count = len == 0 ? 1 : (len + size - 1) / size;
  if (count > 1 << 30) {
    gr_fail(GR_EARG, "%s: %lld pieces are too many (x %s)", op, (long long)count, gr_shape_str(x));
    return -1;
  }
  for (int64_t k = 0; k < count && k < max; k++) {
    int64_t at = k * size, n = len - at < size ? len - at : size;
    pieces[k] = gr_narrow(x, d, at, n);
    if (!pieces[k]) {
      for (int64_t j = 0; j < k; j++) {
        gr_release(pieces[j]);
        pieces[j] = NULL;
      }
      return -1;
    }
  }
  return (int)count;
}

int gr_split(gr_tensor *x, int64_t size, int dim, gr_tensor **pieces, int max) {
  if (!x) return -1;
  int d = gr_wrap_dim(dim, x->ndim);
  if (d < 0 || x->ndim == 0) {
    gr_fail(GR_EARG, "split: dim %d out of range for x %s", gr_dim_shown(dim), gr_shape_str(x));
    return -1;
  }
  if (size < 1) {
    gr_fail(GR_EARG, "split: piece size must be >= 1, got %lld (x %s)", (long long)size,
            gr_shape_str(x));
    return -1;
  }
  if (max > 0 && !pieces) {
    gr_fail(GR_EARG, "split: no array for the pieces (x %s)", gr_shape_str(x));
    return -1;
  }
  return split_views("split", x, size, d, pieces, max);
}

int gr_chunk(gr_tensor *x, int chunks, int dim, gr_tensor **pieces, int max) {
  if (!x) return -1;
  int d = gr_wrap_dim(dim, x->ndim);
  if (d < 0 || x->ndim == 0) {
    gr_fail(GR_EARG, "chunk: dim %d out of range for x %s", gr_dim_shown(dim), gr_shape_str(x));
    return -1;
  }
  if (chunks < 1) {
    gr_fail(GR_EARG, "chunk: chunks must be >= 1, got %d (x %s)", chunks, gr_shape_str(x));
    return -1;
  }
  if (max > 0 && !pieces) {
    gr_fail(GR_EARG, "chunk: no array for the pieces (x %s)", gr_shape_str(x));
    return -1;
  }
  /* as in PyTorch: pieces of ceil(len/chunks), so there may be fewer than asked */
  int64_t len = x->shape[d], size = (len + chunks - 1) / chunks;
  return split_views("chunk", x, size ? size : 1, d, pieces, max);
}

/* --- index_select ------------------------------------------------------------------------- */

gr_status index_select_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0], *index = f->in[1];
  int d = (int)f->a->i[0];
  int64_t size = x->shape[d], L = index->shape[0];
  if (!check_range("index_select", index, size, d, "x", x)) return GR_EARG;
  int64_t shape[GR_MAX_DIM], outer = 1, inner = 1;
  memcpy(shape, x->shape, sizeof shape);
  shape[d] = L;
  for (int k = 0; k < d; k++) outer *= x->shape[k];
  for (int k = d + 1; k < x->ndim; k++) inner *= x->shape[k];
  gr_tensor *xc = dense(x);
  if (!xc) return gr_errcode();
  gr_tensor *y = gr_empty(x->dtype, x->ndim, shape);
  if (!y) {
    gr_release(xc);
    return gr_errcode();
  }
  size_t es = gr_dtype_size(x->dtype);
  const char *px = (const char *)xc->storage->data + xc->offset * (int64_t)es;
  char *py = (char *)y->storage->data;
  const int64_t *pi = gr_i64(index);
  int64_t is = index->stride[0];
  /* each output row is one input row: (outer, L) rows of `inner` elements */
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (outer * L * inner > INDEX_PAR)
  for (int64_t r = 0; r < outer * L; r++) {
    int64_t o = r / L, k = r % L;
    memcpy(py + r * inner * (int64_t)es, px + (o * size + pi[k * is]) * inner * (int64_t)es,
           (size_t)inner * es);
  }
  gr_release(xc);
  f->out[0] = y;
  return GR_OK;
}

gr_status index_select_backward(gr_bwd *b) {
  /* scatter the rows back: the index, seen along dim and expanded over the others */
  gr_tensor *x = b->in[0], *index = b->in[1], *g = b->gout[0];
  int d = (int)b->a->i[0];
  int64_t shape[GR_MAX_DIM];
  for (int k = 0; k < g->ndim; k++) shape[k] = k == d ? g->shape[k] : 1;
  gr_tensor *ie = gr_expand(gr_reshape(index, g->ndim, shape), g->ndim, g->shape);
  b->gin[0] = gr_scatter_add(gr_zeros(GR_F32, x->ndim, x->shape), d, ie, g);
  return GR_OK;
}

gr_tensor *gr_index_select(gr_tensor *x, int dim, gr_tensor *index) {
  if (!x || !index) return NULL;
  if (!gr_check_int("index_select", "index", index) ||
      !gr_check_ndim("index_select", "index", index, 1))
    return NULL;
  int d = gr_wrap_dim(dim, x->ndim);
  if (d < 0 || x->ndim == 0)
    return gr_fail_null(GR_EARG, "index_select: dim %d out of range for x %s", gr_dim_shown(dim),
                        gr_shape_str(x));
  gr_attrs a = {.i = {d}};
  gr_tensor *in[2] = {x, index};
  return gr_apply1(GR_OP_index_select, 2, in, &a);
}

/* --- gather, scatter_add -------------------------------------------------------------------- */

gr_status gather_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0], *index = f->in[1];
  int d = (int)f->a->i[0];
  if (!check_range("gather", index, x->shape[d], d, "x", x)) return GR_EARG;
  gr_tensor *y = gr_empty(x->dtype, index->ndim, index->shape);
  if (!y) return gr_errcode();
  const gr_tensor *ops[3] = {index, x, y};
  lines L;
  lines_init(&L, index, d, 3, ops);
  const int64_t *pi = gr_i64(index);
  bool f32 = x->dtype == GR_F32;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (L.rows * L.len > INDEX_PAR)
  for (int64_t r = 0; r < L.rows; r++) {
    int64_t off[3];
    lines_row(&L, 3, r, off);
    for (int64_t j = 0; j < L.len; j++) {
      int64_t v = pi[off[0] + j * L.dstride[0]], xo = off[1] + v * L.dstride[1],
              yo = off[2] + j * L.dstride[2];
      if (f32) gr_f32(y)[yo] = gr_f32(x)[xo];
      else gr_i64(y)[yo] = gr_i64(x)[xo];
    }
  }
  f->out[0] = y;
  return GR_OK;
}

gr_status gather_backward(gr_bwd *b) {
  gr_tensor *x = b->in[0];
  int d = (int)b->a->i[0];
  b->gin[0] = gr_scatter_add(gr_zeros(GR_F32, x->ndim, x->shape), d, b->in[1], b->gout[0]);
  return GR_OK;
}

gr_status scatter_add_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0], *index = f->in[1], *src = f->in[2];
  int d = (int)f->a->i[0];
  if (!check_range("scatter_add", index, x->shape[d], d, "x", x)) return GR_EARG;
  gr_tensor *y = gr_empty(GR_F32, x->ndim, x->shape);
  if (!y) return gr_errcode();
  copy_into(y, x);
  const gr_tensor *ops[3] = {index, src, y};
  lines L;
  lines_init(&L, index, d, 3, ops);
  const int64_t *pi = gr_i64(index);
  const float *ps = gr_f32(src);
  float *py = gr_f32(y);
  /* a row adds into one line of y that no other row touches: no races, and
   * the additions into an element happen in index order */
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (L.rows * L.len > INDEX_PAR)
  for (int64_t r = 0; r < L.rows; r++) {
    int64_t off[3];
    lines_row(&L, 3, r, off);
    for (int64_t j = 0; j < L.len; j++) {
      int64_t v = pi[off[0] + j * L.dstride[0]];
      py[off[2] + v * L.dstride[2]] += ps[off[1] + j * L.dstride[1]];
    }
  }
  f->out[0] = y;
  return GR_OK;
}

gr_status scatter_add_backward(gr_bwd *b) {
  gr_tensor *index = b->in[1], *src = b->in[2], *g = b->gout[0];
  int d = (int)b->a->i[0];
  if (b->needs[0]) b->gin[0] = g;
  if (b->needs[2]) {
    /* src elements the index does not reach get zeros */
    gr_tensor *gs = gr_gather(g, d, index);
    for (int k = 0; k < src->ndim && gs; k++) {
      if (gs->shape[k] == src->shape[k]) continue;
      int64_t shape[GR_MAX_DIM];
      memcpy(shape, gs->shape, sizeof shape);
      shape[k] = src->shape[k] - gs->shape[k];
      gr_tensor *parts[2] = {gs, gr_zeros(GR_F32, gs->ndim, shape)};
      gs = gr_cat(2, parts, k);
    }
    b->gin[2] = gs;
  }
  return GR_OK;
}

/* index has x's rank and fits in x (and in src) except along dim */
static bool check_index_shape(const char *op, const gr_tensor *x, int dim, const gr_tensor *index,
                              const gr_tensor *src) {
  if (!gr_check_int(op, "index", index)) return false;
  if (index->ndim != x->ndim || (src && src->ndim != x->ndim)) {
    if (src)
      gr_fail(GR_EARG, "%s: x %s, index %s and src %s must have the same number of dims", op,
              gr_shape_str(x), gr_shape_str(index), gr_shape_str(src));
    else
      gr_fail(GR_EARG, "%s: x %s and index %s must have the same number of dims", op,
              gr_shape_str(x), gr_shape_str(index));
    return false;
  }
  for (int k = 0; k < x->ndim; k++) {
    if ((k != dim && index->shape[k] > x->shape[k]) || (src && index->shape[k] > src->shape[k])) {
      gr_fail(GR_EARG, "%s: index %s is larger than x %s%s%s in dim %d", op, gr_shape_str(index),
              gr_shape_str(x), src ? " or src " : "", src ? gr_shape_str(src) : "", gr_dim_shown(k));
      return false;
    }
  }
  return true;
}

gr_tensor *gr_gather(gr_tensor *x, int dim, gr_tensor *index) {
  if (!x || !index) return NULL;
  int d = gr_wrap_dim(dim, x->ndim);
  if (d < 0 || x->ndim == 0)
    return gr_fail_null(GR_EARG, "gather: dim %d out of range for x %s", gr_dim_shown(dim), gr_shape_str(x));
  if (!check_index_shape("gather", x, d, index, NULL)) return NULL;
  gr_attrs a = {.i = {d}};
  gr_tensor *in[2] = {x, index};
  return gr_apply1(GR_OP_gather, 2, in, &a);
}

gr_tensor *gr_scatter_add(gr_tensor *x, int dim, gr_tensor *index, gr_tensor *src) {
  if (!x || !index || !src) return NULL;
  if (!gr_check_float("scatter_add", "x", x) || !gr_check_float("scatter_add", "src", src))
    return NULL;
  int d = gr_wrap_dim(dim, x->ndim);
  if (d < 0 || x->ndim == 0)
    return gr_fail_null(GR_EARG, "scatter_add: dim %d out of range for x %s", gr_dim_shown(dim),
                        gr_shape_str(x));
  if (!check_index_shape("scatter_add", x, d, index, src)) return NULL;
  gr_attrs a = {.i = {d}};
  gr_tensor *in[3] = {x, index, src};
  return gr_apply1(GR_OP_scatter_add, 3, in, &a);
}

/* --- one_hot, embedding ----------------------------------------------------------------------- */

gr_status one_hot_forward(gr_fwd *f) {
  gr_tensor *index = f->in[0];
  int64_t classes = f->a->i[0], shape[GR_MAX_DIM];
  if (!check_range("one_hot", index, classes, 0, NULL, NULL)) return GR_EARG;
  memcpy(shape, index->shape, sizeof shape);
  shape[index->ndim] = classes;
  gr_tensor *y = gr_zeros(GR_F32, index->ndim + 1, shape);
  if (!y) return gr_errcode();
  float *py = gr_f32(y);
  int64_t n = gr_numel(index);
  for (int64_t i = 0; i < n; i++) py[i * classes + (int64_t)gr_get_flat(index, i)] = 1.0f;
  f->out[0] = y;
  return GR_OK;
}

gr_tensor *gr_one_hot(gr_tensor *index, int64_t classes) {
  if (!index) return NULL;
  if (!gr_check_int("one_hot", "index", index)) return NULL;
  if (index->ndim >= GR_MAX_DIM)
    return gr_fail_null(GR_EARG, "one_hot: index %s already has %d dims", gr_shape_str(index),
                        GR_MAX_DIM);
  if (classes == -1) {
    /* as in PyTorch: one more than the largest index */
    classes = 0;
    for (int64_t i = 0; i < gr_numel(index); i++) {
      int64_t v = (int64_t)gr_get_flat(index, i);
      if (v + 1 > classes) classes = v + 1;
    }
  }
  if (classes < 1)
    return gr_fail_null(GR_EARG, "one_hot: classes must be >= 1 (or -1 to infer), got %lld "
                        "(index %s)", (long long)classes, gr_shape_str(index));
  gr_attrs a = {.i = {classes}};
  return gr_apply1(GR_OP_one_hot, 1, &index, &a);
}

gr_tensor *gr_embedding(gr_tensor *weight, gr_tensor *index) {
  if (!weight || !index) return NULL;
  if (!gr_check_float("embedding", "weight", weight) ||
      !gr_check_ndim("embedding", "weight", weight, 2) ||
      !gr_check_int("embedding", "index", index))
    return NULL;
  if (index->ndim >= GR_MAX_DIM)
    return gr_fail_null(GR_EARG, "embedding: index %s already has %d dims", gr_shape_str(index),
                        GR_MAX_DIM);
  if (!check_range("embedding", index, weight->shape[0], 0, "weight", weight)) return NULL;
  int64_t n = gr_numel(index), shape[GR_MAX_DIM];
  memcpy(shape, index->shape, sizeof shape);
  shape[index->ndim] = weight->shape[1];
  gr_pool_push();
  gr_tensor *rows = gr_index_select(weight, 0, gr_reshape(index, 1, &n));
  return gr_pool_pop_keep(gr_reshape(rows, index->ndim + 1, shape));
}
