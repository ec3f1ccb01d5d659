/* Elementwise ops with broadcasting. */
#include <math.h>

#include "iter.h"
#include "op_impl.h"

/* --- binary ----------------------------------------------------------------------- */

typedef float (*binary_fn)(float a, float b);
static float f_add(float a, float b) { return a + b; }
static float f_sub(float a, float b) { return a - b; }
static float f_mul(float a, float b) { return a * b; }
static float f_div(float a, float b) { return a / b; }

/* out = fn(a, b) over the broadcast shape; `vec` is the contiguous kernel, if any */
static gr_status binary(gr_fwd *f, const char *name, binary_fn fn,
                        void (*vec)(float *, const float *, const float *, int64_t)) {
  gr_tensor *a = f->in[0], *b = f->in[1];
  if (!gr_check_float(name, "a", a) || !gr_check_float(name, "b", b)) return GR_EARG;
  int ndim;
  int64_t shape[GR_MAX_DIM];
  if (!gr_broadcast_shape(name, a, b, &ndim, shape)) return GR_EARG;
  gr_tensor *y = gr_empty(GR_F32, ndim, shape);
  if (!y) return gr_errcode();
  const gr_tensor *ops[3] = {y, a, b};
  gr_iter it;
  gr_iter_init(&it, ndim, shape, 3, ops);
  float *py = gr_f32(y);
  const float *pa = gr_f32(a), *pb = gr_f32(b);
  int64_t inner = it.inner, sy = it.stride[0][it.ndim - 1], sa = it.stride[1][it.ndim - 1],
          sb = it.stride[2][it.ndim - 1];
#pragma omp parallel for schedule(static) if (it.rows * inner > 65536)
  for (int64_t r = 0; r < it.rows; r++) {
    int64_t off[3];
    gr_iter_row(&it, r, off);
    float *yr = py + off[0];
    const float *ar = pa + off[1], *br = pb + off[2];
    if (vec && sy == 1 && sa == 1 && sb == 1) {
      vec(yr, ar, br, inner);
    } else {
      for (int64_t i = 0; i < inner; i++) yr[i * sy] = fn(ar[i * sa], br[i * sb]);
    }
  }
  f->out[0] = y;
  return GR_OK;
}

static gr_tensor *binary_op(gr_op op, gr_tensor *a, gr_tensor *b) {
  if (!a || !b) return NULL;
  gr_tensor *in[2] = {a, b};
  return gr_apply1(op, 2, in, NULL);
}

#define SUM_TO_IN(b, i, g) gr_sum_to((g), (b)->in[i]->ndim, (b)->in[i]->shape)

gr_status add_forward(gr_fwd *f) { return binary(f, "add", f_add, gr_kernels()->add); }
gr_status add_backward(gr_bwd *b) {
  if (b->needs[0]) b->gin[0] = SUM_TO_IN(b, 0, b->gout[0]);
  if (b->needs[1]) b->gin[1] = SUM_TO_IN(b, 1, b->gout[0]);
  return GR_OK;
}
gr_tensor *gr_add(gr_tensor *a, gr_tensor *b) { return binary_op(GR_OP_add, a, b); }

gr_status sub_forward(gr_fwd *f) { return binary(f, "sub", f_sub, gr_kernels()->sub); }
gr_status sub_backward(gr_bwd *b) {
  if (b->needs[0]) b->gin[0] = SUM_TO_IN(b, 0, b->gout[0]);
  if (b->needs[1]) b->gin[1] = SUM_TO_IN(b, 1, gr_neg(b->gout[0]));
  return GR_OK;
}
gr_tensor *gr_sub(gr_tensor *a, gr_tensor *b) { return binary_op(GR_OP_sub, a, b); }

gr_status mul_forward(gr_fwd *f) { return binary(f, "mul", f_mul, gr_kernels()->mul); }
gr_status mul_backward(gr_bwd *b) {
  if (b->needs[0]) b->gin[0] = SUM_TO_IN(b, 0, gr_mul(b->gout[0], b->in[1]));
  if (b->needs[1]) b->gin[1] = SUM_TO_IN(b, 1, gr_mul(b->gout[0], b->in[0]));
  return GR_OK;
}
gr_tensor *gr_mul(gr_tensor *a, gr_tensor *b) { return binary_op(GR_OP_mul, a, b); }

gr_status div_forward(gr_fwd *f) { return binary(f, "div", f_div, gr_kernels()->div); }
gr_status div_backward(gr_bwd *b) {
  gr_tensor *g = b->gout[0], *x = b->in[0], *y = b->in[1];
  if (b->needs[0]) b->gin[0] = SUM_TO_IN(b, 0, gr_div(g, y));
  /* d(x/y)/dy = -x / y^2 */
  if (b->needs[1]) b->gin[1] = SUM_TO_IN(b, 1, gr_neg(gr_div(gr_mul(g, x), gr_mul(y, y))));
  return GR_OK;
}
gr_tensor *gr_div(gr_tensor *a, gr_tensor *b) { return binary_op(GR_OP_div, a, b); }

/* --- unary ------------------------------------------------------------------------ */

typedef float (*unary_fn)(float x, const gr_attrs *a);

/* out = fn(x) elementwise; x any layout, out contiguous */
static gr_status unary(gr_fwd *f, const char *name, unary_fn fn) {
  gr_tensor *x = f->in[0];
  if (!gr_check_float(name, "x", x)) return GR_EARG;
  gr_tensor *y = gr_empty(GR_F32, x->ndim, x->shape);
  if (!y) return gr_errcode();
  const gr_tensor *ops[2] = {y, x};
  gr_iter it;
  gr_iter_init(&it, x->ndim, x->shape, 2, ops);
  float *py = gr_f32(y);
  const float *px = gr_f32(x);
  const gr_attrs *a = f->a;
  int64_t inner = it.inner, sy = it.stride[0][it.ndim - 1], sx = it.stride[1][it.ndim - 1];
#pragma omp parallel for schedule(static) if (it.rows * inner > 65536)
  for (int64_t r = 0; r < it.rows; r++) {
    int64_t off[2];
    gr_iter_row(&it, r, off);
    for (int64_t i = 0; i < inner; i++) py[off[0] + i * sy] = fn(px[off[1] + i * sx], a);
  }
  f->out[0] = y;
  return GR_OK;
}

static gr_tensor *unary_op(gr_op op, gr_tensor *x, const gr_attrs *a) {
  if (!x) return NULL;
  return gr_apply1(op, 1, &x, a);
}

static float f_neg(float x, const gr_attrs *a) { return -x; }
gr_status neg_forward(gr_fwd *f) { return unary(f, "neg", f_neg); }
gr_status neg_backward(gr_bwd *b) {
  b->gin[0] = gr_neg(b->gout[0]);
  return GR_OK;
}
gr_tensor *gr_neg(gr_tensor *x) { return unary_op(GR_OP_neg, x, NULL); }

static float f_add_scalar(float x, const gr_attrs *a) { return x + (float)a->f[0]; }
gr_status add_scalar_forward(gr_fwd *f) { return unary(f, "add_scalar", f_add_scalar); }
gr_status add_scalar_backward(gr_bwd *b) {
  b->gin[0] = b->gout[0];
  return GR_OK;
}
gr_tensor *gr_add_scalar(gr_tensor *x, double c) {
  gr_attrs a = {.f = {c}};
  return unary_op(GR_OP_add_scalar, x, &a);
}

static float f_mul_scalar(float x, const gr_attrs *a) { return x * (float)a->f[0]; }
gr_status mul_scalar_forward(gr_fwd *f) { return unary(f, "mul_scalar", f_mul_scalar); }
gr_status mul_scalar_backward(gr_bwd *b) {
  b->gin[0] = gr_mul_scalar(b->gout[0], b->a->f[0]);
  return GR_OK;
}
gr_tensor *gr_mul_scalar(gr_tensor *x, double c) {
  gr_attrs a = {.f = {c}};
  return unary_op(GR_OP_mul_scalar, x, &a);
}

gr_tensor *gr_rsub_scalar(gr_tensor *x, double c) {
  return GR_COMPOSITE(gr_add_scalar(gr_neg(x), c));
}
