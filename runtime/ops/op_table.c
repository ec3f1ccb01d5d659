/* The op table, generated from ops.def (whose comment says how to add an
 * op), and the checks every op shares. */
#include "op_impl.h"

const gr_op_info gr_op_table[GR_OP_COUNT] = {
#define OP(name, nin, nout) {#name, nin, nout, name##_forward, name##_backward},
#define CONST(name, nin, nout) {#name, nin, nout, name##_forward, NULL},
#include "ops.def"
#undef OP
#undef CONST
};

bool gr_check_float(const char *op, const char *arg, const gr_tensor *t) {
  if (t->dtype == GR_F32) return true;
  gr_fail(GR_EARG, "%s: %s must be float32, got %s %s", op, arg, gr_dtype_name(t->dtype),
          gr_shape_str(t));
  return false;
}

bool gr_check_int(const char *op, const char *arg, const gr_tensor *t) {
  if (t->dtype == GR_I64) return true;
  gr_fail(GR_EARG, "%s: %s must be int64, got %s %s", op, arg, gr_dtype_name(t->dtype),
          gr_shape_str(t));
  return false;
}

bool gr_check_ndim(const char *op, const char *arg, const gr_tensor *t, int ndim) {
  if (t->ndim == ndim) return true;
  gr_fail(GR_EARG, "%s: %s must have %d dims, got %s", op, arg, ndim, gr_shape_str(t));
  return false;
}

bool gr_broadcast_shape(const char *op, const gr_tensor *a, const gr_tensor *b, int *ndim,
                        int64_t *shape) {
  int n = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int d = 0; d < n; d++) {
    int da = d - (n - a->ndim), db = d - (n - b->ndim);
    int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      gr_fail(GR_EARG, "%s: shapes %s and %s do not broadcast (dim %d: %lld vs %lld)", op,
              gr_shape_str(a), gr_shape_str(b), gr_dim_shown(d), (long long)sa, (long long)sb);
      return false;
    }
    shape[d] = sa == 1 ? sb : sa;
  }
  *ndim = n;
  return true;
}
