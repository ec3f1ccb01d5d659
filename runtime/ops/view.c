/* Views (reshape, permute, expand, narrow, flip) and copies (contiguous).
 * A view shares its input's storage; its rule maps the gradient back. */
#include <stdlib.h>
#include <string.h>

#include "iter.h"
#include "op_impl.h"

/* --- copying any layout into a new contiguous tensor ----------------------------- */

static void copy_rows(gr_tensor *dst, const gr_tensor *src) {
  const gr_tensor *ops[2] = {dst, src};
  gr_iter it;
  gr_iter_init(&it, dst->ndim, dst->shape, 2, ops);
  size_t es = gr_dtype_size(src->dtype);
  char *d0 = (char *)dst->storage->data + dst->offset * (int64_t)es;
  const char *s0 = (const char *)src->storage->data + src->offset * (int64_t)es;
  int64_t inner = it.inner, ds = it.stride[0][it.ndim - 1], ss = it.stride[1][it.ndim - 1];
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (it.rows * inner > 32768)
  for (int64_t r = 0; r < it.rows; r++) {
    int64_t off[2];
    gr_iter_row(&it, r, off);
    if (es == 4) {
      float *d = (float *)d0 + off[0];
      const float *s = (const float *)s0 + off[1];
      if (ds == 1 && ss == 1) memcpy(d, s, (size_t)inner * 4);
      else for (int64_t i = 0; i < inner; i++) d[i * ds] = s[i * ss];
    } else {
      int64_t *d = (int64_t *)d0 + off[0];
      const int64_t *s = (const int64_t *)s0 + off[1];
      for (int64_t i = 0; i < inner; i++) d[i * ds] = s[i * ss];
    }
  }
}

static gr_tensor *copy_contiguous(const gr_tensor *x) {
  gr_tensor *y = gr_empty(x->dtype, x->ndim, x->shape);
  if (y) copy_rows(y, x);
  return y;
}

gr_status contiguous_forward(gr_fwd *f) {
  f->out[0] = copy_contiguous(f->in[0]);
  return f->out[0] ? GR_OK : gr_errcode();
}

gr_status contiguous_backward(gr_bwd *b) {
  b->gin[0] = b->gout[0];
  return GR_OK;
}

/* --- reshape --------------------------------------------------------------------- */

/* Strides that view x with the new shape, if its layout allows (false if not). */
static bool view_strides(const gr_tensor *x, int ndim, const int64_t *shape, int64_t *stride) {
  if (gr_numel(x) == 0 || x->ndim == 0) {
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
      stride[d] = s;
      s *= shape[d] ? shape[d] : 1;
    }
    return true;
  }
  /* Walk the old dims from the right in chunks that are contiguous among
   * themselves; each chunk must be covered exactly by a run of new dims. */
  int vd = ndim - 1;
  int64_t base = x->stride[x->ndim - 1], old_n = 1, new_n = 1;
  for (int td = x->ndim - 1; td >= 0; td--) {
    old_n *= x->shape[td];
    bool chunk_ends = td == 0 || (x->shape[td - 1] != 1 && x->stride[td - 1] != old_n * base);
    if (!chunk_ends) continue;
    while (vd >= 0 && (new_n < old_n || shape[vd] == 1)) {
      stride[vd] = new_n * base;
      new_n *= shape[vd];
      vd--;
    }
    if (new_n != old_n) return false;
    if (td > 0) {
      base = x->stride[td - 1];
      old_n = new_n = 1;
    }
  }
  return vd == -1;
}

gr_status reshape_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0];
  int ndim = (int)f->a->i[0];
  const int64_t *shape = &f->a->i[1];
  int64_t stride[GR_MAX_DIM];
  if (view_strides(x, ndim, shape, stride)) {
    f->out[0] = gr_alias(x, ndim, shape, stride, x->offset);
    return f->out[0] ? GR_OK : gr_errcode();
  }
  gr_tensor *c = copy_contiguous(x);
  if (!c) return gr_errcode();
  view_strides(c, ndim, shape, stride);
  f->out[0] = gr_alias(c, ndim, shape, stride, 0);
  gr_release(c);
  return f->out[0] ? GR_OK : gr_errcode();
}

gr_status reshape_backward(gr_bwd *b) {
  b->gin[0] = gr_reshape(b->gout[0], b->in[0]->ndim, b->in[0]->shape);
  return GR_OK;
}

gr_tensor *gr_reshape(gr_tensor *x, int ndim, const int64_t *shape) {
  if (!x) return NULL;
  if (ndim < 0 || ndim > GR_MAX_DIM)
    return gr_fail_null(GR_EARG, "reshape: rank %d is outside 0..%d", ndim, GR_MAX_DIM);
  gr_attrs a = {.i = {ndim}};
  int infer = -1;
  int64_t known = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == -1 && infer < 0) {
      infer = d;
      continue;
    }
    if (shape[d] < 0)
      return gr_fail_null(GR_EARG, "reshape: bad size %lld in %s", (long long)shape[d],
                          gr_dims_str(ndim, shape));
    known *= shape[d];
    a.i[1 + d] = shape[d];
  }
  int64_t n = gr_numel(x);
  if (infer >= 0) {
    if (known == 0 || n % known != 0)
      return gr_fail_null(GR_EARG, "reshape: cannot view %s as %s", gr_shape_str(x),
                          gr_dims_str(ndim, shape));
    a.i[1 + infer] = n / known;
    known *= n / known;
  }
  if (known != n)
    return gr_fail_null(GR_EARG, "reshape: cannot view %s (%lld elements) as %s", gr_shape_str(x),
                        (long long)n, gr_dims_str(ndim, shape));
  return gr_apply1(GR_OP_reshape, 1, &x, &a);
}

gr_tensor *gr_squeeze(gr_tensor *x, int dim) {
  if (!x) return NULL;
  int d = gr_wrap_dim(dim, x->ndim);
  if (d < 0 || x->ndim == 0)
    return gr_fail_null(GR_EARG, "squeeze: dim %d out of range for %s", gr_dim_shown(dim), gr_shape_str(x));
  if (x->shape[d] != 1)
    return gr_fail_null(GR_EARG, "squeeze: dim %d of %s is not of size 1", gr_dim_shown(dim), gr_shape_str(x));
  int64_t shape[GR_MAX_DIM];
  int n = 0;
  for (int k = 0; k < x->ndim; k++)
    if (k != d) shape[n++] = x->shape[k];
  return gr_reshape(x, n, shape);
}

gr_tensor *gr_unsqueeze(gr_tensor *x, int dim) {
  if (!x) return NULL;
  if (x->ndim >= GR_MAX_DIM)
    return gr_fail_null(GR_EARG, "unsqueeze: %s already has %d dims", gr_shape_str(x), GR_MAX_DIM);
  int d = gr_wrap_dim(dim, x->ndim + 1);
  if (d < 0)
    return gr_fail_null(GR_EARG, "unsqueeze: dim %d out of range for %s", gr_dim_shown(dim), gr_shape_str(x));
  int64_t shape[GR_MAX_DIM];
  int n = 0;
  for (int k = 0; k <= x->ndim; k++) {
    if (k == d) shape[n++] = 1;
    if (k < x->ndim) shape[n++] = x->shape[k];
  }
  return gr_reshape(x, n, shape);
}

gr_tensor *gr_flatten(gr_tensor *x, int start_dim, int end_dim) {
  if (!x) return NULL;
  if (x->ndim == 0) {
    int64_t one = 1;
    return gr_reshape(x, 1, &one);
  }
  int s = gr_wrap_dim(start_dim, x->ndim), e = gr_wrap_dim(end_dim, x->ndim);
  if (s < 0 || e < 0 || s > e)
    return gr_fail_null(GR_EARG, "flatten: dims %d..%d invalid for %s", gr_dim_shown(start_dim), gr_dim_shown(end_dim),
                        gr_shape_str(x));
  int64_t shape[GR_MAX_DIM];
  int n = 0;
  for (int k = 0; k < s; k++) shape[n++] = x->shape[k];
  int64_t m = 1;
  for (int k = s; k <= e; k++) m *= x->shape[k];
  shape[n++] = m;
  for (int k = e + 1; k < x->ndim; k++) shape[n++] = x->shape[k];
  return gr_reshape(x, n, shape);
}

/* --- permute ----------------------------------------------------------------------- */

gr_status permute_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0];
  int64_t shape[GR_MAX_DIM], stride[GR_MAX_DIM];
  for (int d = 0; d < x->ndim; d++) {
    shape[d] = x->shape[f->a->i[d]];
    stride[d] = x->stride[f->a->i[d]];
  }
  f->out[0] = gr_alias(x, x->ndim, shape, stride, x->offset);
  return f->out[0] ? GR_OK : gr_errcode();
}

gr_status permute_backward(gr_bwd *b) {
  int inv[GR_MAX_DIM];
  for (int d = 0; d < b->in[0]->ndim; d++) inv[b->a->i[d]] = d;
  b->gin[0] = gr_permute(b->gout[0], inv);
  return GR_OK;
}

gr_tensor *gr_permute(gr_tensor *x, const int *perm) {
  if (!x) return NULL;
  gr_attrs a = {0};
  bool seen[GR_MAX_DIM] = {0};
  for (int d = 0; d < x->ndim; d++) {
    int p = gr_wrap_dim(perm[d], x->ndim);
    if (p < 0 || seen[p])
      return gr_fail_null(GR_EARG, "permute: entry %d (%d) is not a permutation of the %d dims of %s",
                          d + 1, perm[d], x->ndim, gr_shape_str(x));
    seen[p] = true;
    a.i[d] = p;
  }
  return gr_apply1(GR_OP_permute, 1, &x, &a);
}

gr_tensor *gr_transpose(gr_tensor *x, int d0, int d1) {
  if (!x) return NULL;
  int a = gr_wrap_dim(d0, x->ndim), b = gr_wrap_dim(d1, x->ndim);
  if (a < 0 || b < 0 || x->ndim == 0)
    return gr_fail_null(GR_EARG, "transpose: dims %d, %d out of range for %s", gr_dim_shown(d0), gr_dim_shown(d1),
                        gr_shape_str(x));
  int perm[GR_MAX_DIM];
  for (int d = 0; d < x->ndim; d++) perm[d] = d;
  perm[a] = b;
  perm[b] = a;
  return gr_permute(x, perm);
}

/* --- expand ------------------------------------------------------------------------- */

gr_status expand_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0];
  int ndim = (int)f->a->i[0];
  const int64_t *shape = &f->a->i[1];
  int64_t stride[GR_MAX_DIM];
  for (int d = 0; d < ndim; d++) {
    int xd = d - (ndim - x->ndim);
    stride[d] = (xd >= 0 && x->shape[xd] == shape[d]) ? x->stride[xd] : 0;
  }
  f->out[0] = gr_alias(x, ndim, shape, stride, x->offset);
  return f->out[0] ? GR_OK : gr_errcode();
}

gr_status expand_backward(gr_bwd *b) {
  b->gin[0] = gr_sum_to(b->gout[0], b->in[0]->ndim, b->in[0]->shape);
  return GR_OK;
}

gr_tensor *gr_expand(gr_tensor *x, int ndim, const int64_t *shape) {
  if (!x) return NULL;
  if (ndim < x->ndim || ndim > GR_MAX_DIM)
    return gr_fail_null(GR_EARG, "expand: cannot expand %s to %d dims", gr_shape_str(x), ndim);
  gr_attrs a = {.i = {ndim}};
  for (int d = 0; d < ndim; d++) {
    int xd = d - (ndim - x->ndim);
    int64_t want = shape[d], have = xd >= 0 ? x->shape[xd] : 1;
    if (want == -1) {
      if (xd < 0)
        return gr_fail_null(GR_EARG, "expand: -1 is not allowed for the new leading dim %d", gr_dim_shown(d));
      want = have;
    }
    if (want != have && have != 1)
      return gr_fail_null(GR_EARG, "expand: cannot expand %s to %s (dim %d)", gr_shape_str(x),
                          gr_dims_str(ndim, shape), gr_dim_shown(d));
    a.i[1 + d] = want;
  }
  return gr_apply1(GR_OP_expand, 1, &x, &a);
}

gr_tensor *gr_broadcast_to(gr_tensor *x, int ndim, const int64_t *shape) {
  return gr_expand(x, ndim, shape);
}

gr_tensor *gr_sum_to(gr_tensor *x, int ndim, const int64_t *shape) {
  if (!x) return NULL;
  if (ndim == x->ndim) {
    bool same = true;
    for (int d = 0; d < ndim; d++) same &= x->shape[d] == shape[d];
    if (same) return gr_autorelease(gr_retain(x));
  }
  if (ndim > x->ndim)
    return gr_fail_null(GR_EARG, "sum_to: cannot reduce %s to %s", gr_shape_str(x),
                        gr_dims_str(ndim, shape));
  int dims[GR_MAX_DIM], n = 0;
  int lead = x->ndim - ndim;
  for (int d = 0; d < x->ndim; d++) {
    if (d < lead) {
      dims[n++] = d;
      continue;
    }
    int64_t want = shape[d - lead];
    if (want == 1 && x->shape[d] != 1) dims[n++] = d;
    else if (want != x->shape[d])
      return gr_fail_null(GR_EARG, "sum_to: cannot reduce %s to %s", gr_shape_str(x),
                          gr_dims_str(ndim, shape));
  }
  if (n == 0) return gr_reshape(x, ndim, shape);
  return GR_COMPOSITE(gr_reshape(gr_sum(x, n, dims, false), ndim, shape));
}

/* --- narrow, select ----------------------------------------------------------------- */

gr_status narrow_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0];
  int d = (int)f->a->i[0];
  int64_t shape[GR_MAX_DIM];
  memcpy(shape, x->shape, sizeof shape);
  shape[d] = f->a->i[2];
  f->out[0] = gr_alias(x, x->ndim, shape, x->stride, x->offset + f->a->i[1] * x->stride[d]);
  return f->out[0] ? GR_OK : gr_errcode();
}

gr_status narrow_backward(gr_bwd *b) {
  /* zeros around the gradient: cat(zeros before, g, zeros after) */
  gr_tensor *x = b->in[0], *g = b->gout[0];
  int d = (int)b->a->i[0];
  int64_t start = b->a->i[1], len = b->a->i[2], after = x->shape[d] - start - len;
  gr_tensor *parts[3];
  int n = 0;
  int64_t shape[GR_MAX_DIM];
  memcpy(shape, x->shape, sizeof shape);
  if (start > 0) {
    shape[d] = start;
    parts[n++] = gr_zeros(GR_F32, x->ndim, shape);
  }
  parts[n++] = g;
  if (after > 0) {
    shape[d] = after;
    parts[n++] = gr_zeros(GR_F32, x->ndim, shape);
  }
  b->gin[0] = n == 1 ? g : gr_cat(n, parts, d);
  return GR_OK;
}

gr_tensor *gr_narrow(gr_tensor *x, int dim, int64_t start, int64_t length) {
  if (!x) return NULL;
  int d = gr_wrap_dim(dim, x->ndim);
  if (d < 0 || x->ndim == 0)
    return gr_fail_null(GR_EARG, "narrow: dim %d out of range for %s", gr_dim_shown(dim), gr_shape_str(x));
  if (start < 0) start += x->shape[d];
  if (start < 0 || length < 0 || start + length > x->shape[d])
    return gr_fail_null(GR_EARG, "narrow: [%lld, %lld) is outside dim %d of %s",
                        (long long)(start + gr_dim_shown(0)),
                        (long long)(start + length + gr_dim_shown(0)), gr_dim_shown(dim),
                        gr_shape_str(x));
  gr_attrs a = {.i = {d, start, length}};
  return gr_apply1(GR_OP_narrow, 1, &x, &a);
}

gr_tensor *gr_select(gr_tensor *x, int dim, int64_t index) {
  if (!x) return NULL;
  int d = gr_wrap_dim(dim, x->ndim);
  if (d < 0 || x->ndim == 0)
    return gr_fail_null(GR_EARG, "select: dim %d out of range for %s", gr_dim_shown(dim), gr_shape_str(x));
  if (index < 0) index += x->shape[d];
  if (index < 0 || index >= x->shape[d])
    return gr_fail_null(GR_EARG, "select: index %lld out of range for dim %d of %s",
                        (long long)(index + gr_dim_shown(0)), gr_dim_shown(dim), gr_shape_str(x));
  return GR_COMPOSITE(gr_squeeze(gr_narrow(x, d, index, 1), d));
}

/* --- flip ----------------------------------------------------------------------------- */

gr_status flip_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0];
  int64_t stride[GR_MAX_DIM], off = x->offset;
  for (int d = 0; d < x->ndim; d++) {
    stride[d] = x->stride[d];
    if (f->a->i[0] & (1 << d) && x->shape[d] > 0) {
      off += (x->shape[d] - 1) * x->stride[d];
      stride[d] = -x->stride[d];
    }
  }
  f->out[0] = gr_alias(x, x->ndim, x->shape, stride, off);
  return f->out[0] ? GR_OK : gr_errcode();
}

gr_status flip_backward(gr_bwd *b) {
  int dims[GR_MAX_DIM], n = 0;
  for (int d = 0; d < b->in[0]->ndim; d++)
    if (b->a->i[0] & (1 << d)) dims[n++] = d;
  b->gin[0] = gr_flip(b->gout[0], n, dims);
  return GR_OK;
}

gr_tensor *gr_flip(gr_tensor *x, int ndims, const int *dims) {
  if (!x) return NULL;
  gr_attrs a = {0};
  for (int k = 0; k < ndims; k++) {
    int d = gr_wrap_dim(dims[k], x->ndim);
    if (d < 0 || x->ndim == 0)
      return gr_fail_null(GR_EARG, "flip: dim %d out of range for %s", gr_dim_shown(dims[k]), gr_shape_str(x));
    a.i[0] |= 1 << d;
  }
  return gr_apply1(GR_OP_flip, 1, &x, &a);
}

/* --- copies and detach ---------------------------------------------------------------- */

gr_tensor *gr_contiguous(gr_tensor *x) {
  if (!x) return NULL;
  if (gr_is_contiguous(x)) return gr_autorelease(gr_retain(x));
  return gr_apply1(GR_OP_contiguous, 1, &x, NULL);
}

gr_tensor *gr_clone(gr_tensor *x) {
  if (!x) return NULL;
  return gr_apply1(GR_OP_contiguous, 1, &x, NULL);
}

gr_tensor *gr_detach(gr_tensor *x) {
  if (!x) return NULL;
  return gr_alias(x, x->ndim, x->shape, x->stride, x->offset);
}
