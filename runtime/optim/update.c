/* Fused in-place optimizer updates (see optim.h for the math).
 *
 * Each update checks its tensors, then runs the kernel table's entry over
 * fixed chunks of CHUNK parameters, in parallel for large tensors. Every
 * element is updated on its own, so the result is the same for any number
 * of threads; the fixed chunks keep the work split reproducible too. */
#include <math.h>

#include "op_impl.h"

#define CHUNK 16384        /* floats per task; a multiple of 16, so chunks start as aligned as p */
#define PAR_MIN (1 << 16)  /* below this one thread is faster */

/* --- checks ----------------------------------------------------------------------------- */

/* t is float32, contiguous, has n elements (n < 0: t sets n), and, when the
 * update writes it, is not the output of a recorded op. */
static bool check_tensor(const char *op, const char *arg, const gr_tensor *t, const char *ref,
                         int64_t *n, bool written) {
  if (!t) {
    gr_fail(GR_EARG, "%s: %s is NULL", op, arg);
    return false;
  }
  if (!gr_check_float(op, arg, t)) return false;
  if (!gr_is_contiguous(t)) {
    gr_fail(GR_EARG, "%s: %s must be contiguous, got a strided view of shape %s", op, arg,
            gr_shape_str(t));
    return false;
  }
  if (*n < 0) *n = gr_numel(t);
  if (gr_numel(t) != *n) {
    gr_fail(GR_EARG, "%s: %s has %lld elements %s but %s has %lld", op, arg,
            (long long)gr_numel(t), gr_shape_str(t), ref, (long long)*n);
    return false;
  }
  if (written && t->grad_fn) {
    /* its graph would see the new values: updates are for leaves and buffers */
    gr_fail(GR_EARG, "%s: %s %s is the result of %s, not a leaf; update leaves only", op, arg,
            gr_shape_str(t), gr_grad_fn_name(t));
    return false;
  }
  return true;
}

/* Two tensors written by one update must not share memory. */
static bool check_disjoint(const char *op, const char *an, const gr_tensor *a, const char *bn,
                           const gr_tensor *b, int64_t n) {
  if (!a || !b || a->storage != b->storage || n == 0) return true;
  if (a->offset + n <= b->offset || b->offset + n <= a->offset) return true;
  gr_fail(GR_EARG, "%s: %s and %s share memory %s; each needs its own", op, an, bn,
          gr_shape_str(a));
  return false;
}

/* lo <= x <= hi, and not NaN */
static bool check_range(const char *op, const char *arg, double x, double lo, double hi,
                        bool hi_open) {
  if (x >= lo && (hi_open ? x < hi : x <= hi)) return true;
  gr_fail(GR_EARG, "%s: %s must be in [%g, %g%s, got %g", op, arg, lo, hi, hi_open ? ")" : "]",
          x);
  return false;
}

/* --- chunked parallel loop -------------------------------------------------------------- */

typedef void (*chunk_fn)(const void *args, int64_t i0, int64_t len);

static void run_chunks(int64_t n, chunk_fn fn, const void *args) {
  int64_t nchunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (n > PAR_MIN)
  for (int64_t c = 0; c < nchunks; c++) {
    int64_t i0 = c * CHUNK, len = n - i0 < CHUNK ? n - i0 : CHUNK;
    fn(args, i0, len);
  }
}

/* --- Adam / AdamW ----------------------------------------------------------------------- */

typedef struct adam_args {
  const gr_kernel_table *k;
  float *p, *m, *v; // each (n)
  const float *g;   // (n)
  float lr, b1, b2, eps, wd, bc1, bc2;
  int decoupled;
} adam_args;

static void adam_chunk(const void *args, int64_t i0, int64_t len) {
  const adam_args *a = args;
  a->k->adam(a->p + i0, a->g + i0, a->m + i0, a->v + i0, len, a->lr, a->b1, a->b2, a->eps,
             a->wd, a->bc1, a->bc2, a->decoupled);
}

gr_status gr_adam_update(gr_tensor *p, const gr_tensor *g, gr_tensor *m, gr_tensor *v, double lr,
                         double b1, double b2, double eps, double wd, int64_t step,
                         bool decoupled) {
  const char *op = decoupled ? "adamw_update" : "adam_update";
  int64_t n = -1;
  if (!check_tensor(op, "p", p, "p", &n, true) || !check_tensor(op, "g", g, "p", &n, false) ||
      !check_tensor(op, "m", m, "p", &n, true) || !check_tensor(op, "v", v, "p", &n, true))
    return GR_EARG;
  if (!check_disjoint(op, "p", p, "m", m, n) || !check_disjoint(op, "p", p, "v", v, n) ||
      !check_disjoint(op, "m", m, "v", v, n))
    return GR_EARG;
  if (!check_range(op, "lr", lr, 0, INFINITY, true) || !check_range(op, "b1", b1, 0, 1, true) ||
      !check_range(op, "b2", b2, 0, 1, true) || !check_range(op, "eps", eps, 0, INFINITY, true) ||
      !check_range(op, "weight decay", wd, 0, INFINITY, true))
    return GR_EARG;
  if (step < 1)
    return gr_fail(GR_EARG, "%s: step must be >= 1 (1-based), got %lld", op, (long long)step);
  /* The kernel runs with the betas rounded to float (1 - b is then exact),
   * so the bias corrections use the same rounded betas: the step is exactly
   * Adam's for those values (t = 1 moves each p by lr sign(g)). */
  float b1f = (float)b1, b2f = (float)b2;
  adam_args a = {gr_kernels(), gr_f32(p), gr_f32(m), gr_f32(v), gr_f32(g), (float)lr, b1f, b2f,
                 (float)eps, (float)wd, (float)(1 - pow(b1f, (double)step)),
                 (float)(1 - pow(b2f, (double)step)), decoupled};
  run_chunks(n, adam_chunk, &a);
  return GR_OK;
}

/* --- SGD ------------------------------------------------------------------------------- */

typedef struct sgd_args {
  const gr_kernel_table *k;
  float *p, *buf; // each (n); buf NULL without momentum
  const float *g; // (n)
  float lr, momentum, dampening, wd;
  int nesterov, first;
} sgd_args;

static void sgd_chunk(const void *args, int64_t i0, int64_t len) {
  const sgd_args *a = args;
  a->k->sgd(a->p + i0, a->g + i0, a->buf ? a->buf + i0 : NULL, len, a->lr, a->momentum,
            a->dampening, a->wd, a->nesterov, a->first);
}

gr_status gr_sgd_update(gr_tensor *p, const gr_tensor *g, gr_tensor *buf, double lr,
                        double momentum, double dampening, double wd, bool nesterov, bool first) {
  const char *op = "sgd_update";
  int64_t n = -1;
  if (!check_tensor(op, "p", p, "p", &n, true) || !check_tensor(op, "g", g, "p", &n, false))
    return GR_EARG;
  if (!check_range(op, "lr", lr, 0, INFINITY, true) ||
      !check_range(op, "momentum", momentum, 0, INFINITY, true) ||
      !check_range(op, "dampening", dampening, 0, 1, false) ||
      !check_range(op, "weight decay", wd, 0, INFINITY, true))
    return GR_EARG;
  if (nesterov && (momentum == 0 || dampening != 0))
    return gr_fail(GR_EARG, "%s: nesterov needs momentum > 0 and dampening 0, got %g and %g", op,
                   momentum, dampening);
  /* without momentum there is no buffer to keep */
  if (momentum != 0 || buf) {
    if (!check_tensor(op, "buf", buf, "p", &n, true) || !check_disjoint(op, "p", p, "buf", buf, n))
      return GR_EARG;
  }
  sgd_args a = {gr_kernels(), gr_f32(p), momentum != 0 ? gr_f32(buf) : NULL, gr_f32(g),
                (float)lr, (float)momentum, (float)dampening, (float)wd, nesterov, first};
  run_chunks(n, sgd_chunk, &a);
  return GR_OK;
}

/* --- RMSprop --------------------------------------------------------------------------- */

typedef struct rmsprop_args {
  const gr_kernel_table *k;
  float *p, *sq;  // each (n)
  const float *g; // (n)
  float lr, alpha, eps, wd;
} rmsprop_args;

static void rmsprop_chunk(const void *args, int64_t i0, int64_t len) {
  const rmsprop_args *a = args;
  a->k->rmsprop(a->p + i0, a->g + i0, a->sq + i0, len, a->lr, a->alpha, a->eps, a->wd);
}

gr_status gr_rmsprop_update(gr_tensor *p, const gr_tensor *g, gr_tensor *sq, double lr,
                            double alpha, double eps, double wd) {
  const char *op = "rmsprop_update";
  int64_t n = -1;
  if (!check_tensor(op, "p", p, "p", &n, true) || !check_tensor(op, "g", g, "p", &n, false) ||
      !check_tensor(op, "sq", sq, "p", &n, true) || !check_disjoint(op, "p", p, "sq", sq, n))
    return GR_EARG;
  if (!check_range(op, "lr", lr, 0, INFINITY, true) ||
      !check_range(op, "alpha", alpha, 0, 1, false) ||
      !check_range(op, "eps", eps, 0, INFINITY, true) ||
      !check_range(op, "weight decay", wd, 0, INFINITY, true))
    return GR_EARG;
  rmsprop_args a = {gr_kernels(), gr_f32(p), gr_f32(sq), gr_f32(g),
                    (float)lr, (float)alpha, (float)eps, (float)wd};
  run_chunks(n, rmsprop_chunk, &a);
  return GR_OK;
}

/* --- lerp_, clamp_, scale_ -------------------------------------------------------------- */

typedef struct inplace_args {
  const gr_kernel_table *k;
  float *y;       // (n), updated
  const float *x; // (n) or NULL
  float a, b;
} inplace_args;

/* y = a y + b x, as mul_s then axpy: the same roundings as the formula */
static void lerp_chunk(const void *args, int64_t i0, int64_t len) {
  const inplace_args *a = args;
  a->k->mul_s(a->y + i0, a->y + i0, a->a, len);
  a->k->axpy(a->y + i0, a->b, a->x + i0, len);
}

gr_status gr_lerp_(gr_tensor *ema, const gr_tensor *x, double decay) {
  const char *op = "lerp_";
  int64_t n = -1;
  if (!check_tensor(op, "ema", ema, "ema", &n, true) ||
      !check_tensor(op, "x", x, "ema", &n, false) ||
      !check_range(op, "decay", decay, 0, 1, false))
    return GR_EARG;
  /* 1 - decay in double: for decay = 0.999 the float difference is off by 1e-5 relative */
  inplace_args a = {gr_kernels(), gr_f32(ema), gr_f32(x), (float)decay, (float)(1 - decay)};
  run_chunks(n, lerp_chunk, &a);
  return GR_OK;
}

/* a missing bound is NaN (never compares), and a NaN element stays NaN */
static void clamp_chunk(const void *args, int64_t i0, int64_t len) {
  const inplace_args *a = args;
  float *y = a->y + i0, lo = a->a, hi = a->b;
  for (int64_t i = 0; i < len; i++) {
    if (y[i] < lo) y[i] = lo;
    else if (y[i] > hi) y[i] = hi;
  }
}

gr_status gr_clamp_(gr_tensor *x, double lo, double hi) {
  const char *op = "clamp_";
  int64_t n = -1;
  if (!check_tensor(op, "x", x, "x", &n, true)) return GR_EARG;
  if (lo > hi) return gr_fail(GR_EARG, "%s: lo %g is above hi %g", op, lo, hi);
  inplace_args a = {gr_kernels(), gr_f32(x), NULL, (float)lo, (float)hi};
  run_chunks(n, clamp_chunk, &a);
  return GR_OK;
}

static void scale_chunk(const void *args, int64_t i0, int64_t len) {
  const inplace_args *a = args;
  a->k->mul_s(a->y + i0, a->y + i0, a->a, len);
}

gr_status gr_scale_(gr_tensor *x, double s) {
  int64_t n = -1;
  if (!check_tensor("scale_", "x", x, "x", &n, true)) return GR_EARG;
  inplace_args a = {gr_kernels(), gr_f32(x), NULL, (float)s, 0};
  run_chunks(n, scale_chunk, &a);
  return GR_OK;
}
