/* Reductions over any dims. */
#include <string.h>

#include "op_impl.h"

/* dims (possibly negative, possibly none = all) to a bit mask; -1 on a bad dim */
static int64_t dims_mask(const char *op, const gr_tensor *x, int ndims, const int *dims) {
  if (ndims == 0) return x->ndim ? (1 << x->ndim) - 1 : 0;
  int64_t mask = 0;
  for (int k = 0; k < ndims; k++) {
    int d = gr_wrap_dim(dims[k], x->ndim);
    if (d < 0) {
      gr_fail(GR_EARG, "%s: dim %d out of range for %s", op, dims[k], gr_shape_str(x));
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

/* x viewed as (kept..., reduced...), contiguous: rows of the reduced elements. */
static gr_tensor *kept_then_reduced(gr_tensor *x, int64_t mask, int64_t *rows, int64_t *len) {
  int perm[GR_MAX_DIM], n = 0;
  *rows = 1;
  *len = 1;
  for (int d = 0; d < x->ndim; d++)
    if (!(mask & (1 << d))) {
      perm[n++] = d;
      *rows *= x->shape[d];
    }
  for (int d = 0; d < x->ndim; d++)
    if (mask & (1 << d)) {
      perm[n++] = d;
      *len *= x->shape[d];
    }
  bool grad = gr_set_grad_enabled(false);
  gr_tensor *p = x->ndim ? gr_permute(x, perm) : gr_retain(x);
  gr_tensor *c = gr_contiguous(p);
  gr_release(p);
  gr_set_grad_enabled(grad);
  return c;
}

gr_status sum_forward(gr_fwd *f) {
  gr_tensor *x = f->in[0];
  if (!gr_check_float("sum", "x", x)) return GR_EARG;
  int64_t mask = f->a->i[0], shape[GR_MAX_DIM], rows, len;
  int n = reduced_shape(x, mask, f->a->i[1], shape);
  gr_tensor *c = kept_then_reduced(x, mask, &rows, &len);
  if (!c) return gr_errcode();
  gr_tensor *y = gr_empty(GR_F32, n, shape);
  if (!y) {
    gr_release(c);
    return gr_errcode();
  }
  const float *pc = gr_f32(c);
  float *py = gr_f32(y);
  double (*sum)(const float *, int64_t) = gr_kernels()->sum;
#pragma omp parallel for schedule(static) if (rows * len > 65536)
  for (int64_t r = 0; r < rows; r++) py[r] = (float)sum(pc + r * len, len);
  gr_release(c);
  f->out[0] = y;
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
