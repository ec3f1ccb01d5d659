/* Making tensors from numbers (arange, linspace, eye) and converting dtypes.
 * None of these is an op of the table: nothing here is recorded. */
#include <math.h>

#include "iter.h"
#include "op_impl.h"

#define CREATE_MAX ((int64_t)1 << 40) /* elements; beyond this a size is a mistake */

gr_tensor *gr_arange(double start, double end, double step) {
  if (!isfinite(start) || !isfinite(end) || !isfinite(step) || step == 0)
    return gr_fail_null(GR_EARG, "arange: start %g, end %g and step %g must be finite, step nonzero",
                        start, end, step);
  double len = ceil((end - start) / step);
  if (len < 0)
    return gr_fail_null(GR_EARG, "arange: end %g cannot be reached from start %g with step %g", end,
                        start, step);
  if (len > (double)CREATE_MAX)
    return gr_fail_null(GR_EARG, "arange: %g elements is too many", len);
  int64_t n = (int64_t)len;
  gr_tensor *y = gr_empty(GR_F32, 1, &n);
  if (!y) return NULL;
  float *p = gr_f32(y);
  /* each value from start, not by repeated adds, so errors do not pile up */
  for (int64_t i = 0; i < n; i++) p[i] = (float)(start + (double)i * step);
  return y;
}

gr_tensor *gr_linspace(double start, double end, int64_t n) {
  if (n < 0 || n > CREATE_MAX)
    return gr_fail_null(GR_EARG, "linspace: count %lld must be in 0..2^40", (long long)n);
  if (!isfinite(start) || !isfinite(end))
    return gr_fail_null(GR_EARG, "linspace: start %g and end %g must be finite", start, end);
  gr_tensor *y = gr_empty(GR_F32, 1, &n);
  if (!y) return NULL;
  float *p = gr_f32(y);
  double step = n > 1 ? (end - start) / (double)(n - 1) : 0;
  /* the first half counts from start, the second back from end: both ends exact */
  for (int64_t i = 0; i < n; i++)
    p[i] = (float)(i < n / 2 ? start + (double)i * step : end - (double)(n - 1 - i) * step);
  if (n == 1) p[0] = (float)start;
  return y;
}

gr_tensor *gr_eye(int64_t n) {
  if (n < 0 || n > (int64_t)1 << 20)
    return gr_fail_null(GR_EARG, "eye: size %lld must be in 0..2^20", (long long)n);
  int64_t shape[2] = {n, n};
  gr_tensor *y = gr_zeros(GR_F32, 2, shape);
  if (!y) return NULL;
  float *p = gr_f32(y); // p is (n, n)
  for (int64_t i = 0; i < n; i++) p[i * n + i] = 1;
  return y;
}

/* float -> int64 truncating toward zero; NaN gives 0 and out-of-range values saturate */
static int64_t to_i64(float v) {
  if (v != v) return 0;
  if (v >= 9223372036854775807.0f) return INT64_MAX;
  if (v <= -9223372036854775808.0f) return INT64_MIN;
  return (int64_t)v;
}

gr_tensor *gr_to_dtype(gr_tensor *x, gr_dtype dt) {
  if (!x) return NULL;
  if (dt != GR_F32 && dt != GR_I64)
    return gr_fail_null(GR_EARG, "to_dtype: unknown dtype %d for %s", (int)dt, gr_shape_str(x));
  /* the same dtype: x itself, graph and all */
  if (x->dtype == dt) return gr_autorelease(gr_retain(x));
  gr_tensor *y = gr_empty(dt, x->ndim, x->shape);
  if (!y) return NULL;
  const gr_tensor *ops[2] = {y, x};
  gr_iter it;
  gr_iter_init(&it, x->ndim, x->shape, 2, ops);
  int64_t sy = it.stride[0][it.ndim - 1], sx = it.stride[1][it.ndim - 1];
  bool to_int = dt == GR_I64;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (it.rows * it.inner > 65536)
  for (int64_t r = 0; r < it.rows; r++) {
    int64_t off[2];
    gr_iter_row(&it, r, off);
    if (to_int) {
      int64_t *py = gr_i64(y) + off[0];
      const float *px = gr_f32(x) + off[1];
      for (int64_t i = 0; i < it.inner; i++) py[i * sy] = to_i64(px[i * sx]);
    } else {
      float *py = gr_f32(y) + off[0];
      const int64_t *px = gr_i64(x) + off[1];
      for (int64_t i = 0; i < it.inner; i++) py[i * sy] = (float)px[i * sx];
    }
  }
  return y;
}
