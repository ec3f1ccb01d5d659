/* Elementwise ops with broadcasting: binary, comparisons, where, ops with a
 * number, unary math and activations.
 *
 * Every forward hands its operands to ew_walk, which lays them over the
 * output shape (gr_iter), cuts the walk into runs of at most EW_CHUNK
 * elements and gives each run to a small run function. A run function has a
 * contiguous branch (a gr_kernels() entry where the table has one, or a loop
 * the compiler can vectorise) and a strided branch for everything else. */
#include <math.h>
#include <omp.h>

#include "iter.h"
#include "op_impl.h"

/* n elements; operand k starts at p[k] and steps s[k] elements (0: broadcast).
 * Operand 0 is the output. */
#define RUN_ARGS int64_t n, char *const *p, const int64_t *s, const gr_attrs *at
typedef void (*ew_run)(RUN_ARGS);

#define EW_CHUNK 8192     /* elements per task: amortises the row set-up, still splits */
#define EW_PARALLEL 65536 /* below this many elements one thread is faster */

static void ew_walk(int nops, gr_tensor *const *ops, ew_run run, const gr_attrs *a) {
  gr_iter it;
  gr_iter_init(&it, ops[0]->ndim, ops[0]->shape, nops, (const gr_tensor *const *)ops);
  char *base[GR_ITER_MAX];
  int64_t es[GR_ITER_MAX], s[GR_ITER_MAX];
  for (int k = 0; k < nops; k++) {
    es[k] = (int64_t)gr_dtype_size(ops[k]->dtype);
    base[k] = (char *)ops[k]->storage->data + ops[k]->offset * es[k];
    s[k] = it.stride[k][it.ndim - 1];
  }
  int64_t chunks = (it.inner + EW_CHUNK - 1) / EW_CHUNK, tasks = it.rows * chunks;
  if (tasks == 0) return; /* an empty tensor (and no division by its empty dims) */
  (void)gr_kernels(); /* the table is chosen lazily: choose it before threads read it */
  /* each thread a run of tasks (as a static schedule), walked row after row */
#pragma omp parallel num_threads(gr_threads_running()) if (it.rows * it.inner > EW_PARALLEL)
  {
    int64_t nt = omp_get_num_threads(), me = omp_get_thread_num(), q = tasks / nt, extra = tasks % nt;
    int64_t t0 = me * q + (me < extra ? me : extra), t1 = t0 + q + (me < extra);
    int64_t idx[GR_MAX_DIM], off[GR_ITER_MAX], row = t0 / chunks;
    gr_iter_seek(&it, row, idx, off);
    for (int64_t t = t0; t < t1; t++) {
      int64_t i0 = (t % chunks) * EW_CHUNK;
      if (t > t0 && i0 == 0) gr_iter_next(&it, idx, off); /* the next row's first chunk */
      char *pk[GR_ITER_MAX];
      for (int k = 0; k < nops; k++) pk[k] = base[k] + (off[k] + i0 * s[k]) * es[k];
      run(it.inner - i0 < EW_CHUNK ? it.inner - i0 : EW_CHUNK, pk, s, a);
    }
  }
}

/* The loops of a run: y = EXPR of x (LOOP1), of a and b (LOOP2, with A and B
 * the operand types), of m, a and b (LOOP3). */
#define LOOP1(EXPR)                                                                      \
  do {                                                                                   \
    float *y_ = (float *)p[0];                                                           \
    const float *x_ = (const float *)p[1];                                               \
    if (s[0] == 1 && s[1] == 1) {                                                        \
      for (int64_t i = 0; i < n; i++) {                                                  \
        float x = x_[i];                                                                 \
        y_[i] = (EXPR);                                                                  \
      }                                                                                  \
    } else {                                                                             \
      for (int64_t i = 0; i < n; i++) {                                                  \
        float x = x_[i * s[1]];                                                          \
        y_[i * s[0]] = (EXPR);                                                           \
      }                                                                                  \
    }                                                                                    \
  } while (0)

#define LOOP2(A, B, EXPR)                                                                \
  do {                                                                                   \
    float *y_ = (float *)p[0];                                                           \
    const A *a_ = (const A *)p[1];                                                       \
    const B *b_ = (const B *)p[2];                                                       \
    if (s[0] == 1 && s[1] == 1 && s[2] == 1) {                                           \
      for (int64_t i = 0; i < n; i++) {                                                  \
        A a = a_[i];                                                                     \
        B b = b_[i];                                                                     \
        y_[i] = (EXPR);                                                                  \
      }                                                                                  \
    } else {                                                                             \
      for (int64_t i = 0; i < n; i++) {                                                  \
        A a = a_[i * s[1]];                                                              \
        B b = b_[i * s[2]];                                                              \
        y_[i * s[0]] = (EXPR);                                                           \
      }                                                                                  \
    }                                                                                    \
  } while (0)

#define LOOP3(M, EXPR)                                                                   \
  do {                                                                                   \
    float *y_ = (float *)p[0];                                                           \
    const M *m_ = (const M *)p[1];                                                       \
    const float *a_ = (const float *)p[2], *b_ = (const float *)p[3];                    \
    if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1) {                              \
      for (int64_t i = 0; i < n; i++) {                                                  \
        M m = m_[i];                                                                     \
        float a = a_[i], b = b_[i];                                                      \
        y_[i] = (EXPR);                                                                  \
      }                                                                                  \
    } else {                                                                             \
      for (int64_t i = 0; i < n; i++) {                                                  \
        M m = m_[i * s[1]];                                                              \
        float a = a_[i * s[2]], b = b_[i * s[3]];                                        \
        y_[i * s[0]] = (EXPR);                                                           \
      }                                                                                  \
    }                                                                                    \
  } while (0)

static bool contig(int nops, const int64_t *s) {
  for (int k = 0; k < nops; k++)
    if (s[k] != 1) return false;
  return true;
}

/* --- forwards shared by the families below ---------------------------------------- */

/* Broadcast shape of n inputs (aligned to the right); false with a message if they clash. */
static bool broadcast_n(const char *op, int nin, gr_tensor *const *in, int *ndim, int64_t *shape) {
  int nd = 0;
  for (int k = 0; k < nin; k++)
    if (in[k]->ndim > nd) nd = in[k]->ndim;
  for (int d = 0; d < nd; d++) {
    shape[d] = 1;
    for (int k = 0; k < nin; k++) {
      int kd = d - (nd - in[k]->ndim);
      int64_t sk = kd >= 0 ? in[k]->shape[kd] : 1;
      if (sk == 1) continue;
      if (shape[d] != 1 && shape[d] != sk) {
        if (nin == 2)
          gr_fail(GR_EARG, "%s: shapes %s and %s do not broadcast (dim %d: %lld vs %lld)", op,
                  gr_shape_str(in[0]), gr_shape_str(in[1]), gr_dim_shown(d), (long long)shape[d], (long long)sk);
        else
          gr_fail(GR_EARG, "%s: shapes %s, %s and %s do not broadcast (dim %d: %lld vs %lld)", op,
                  gr_shape_str(in[0]), gr_shape_str(in[1]), gr_shape_str(in[2]), gr_dim_shown(d),
                  (long long)shape[d], (long long)sk);
        return false;
      }
      shape[d] = sk;
    }
  }
  *ndim = nd;
  return true;
}

/* y (float) = run(in...) over the broadcast shape of the inputs; dtypes checked by the caller */
static gr_status nary(gr_fwd *f, const char *name, ew_run run, const gr_attrs *a) {
  int ndim;
  int64_t shape[GR_MAX_DIM];
  if (!broadcast_n(name, f->nin, f->in, &ndim, shape)) return GR_EARG;
  gr_tensor *y = gr_empty(GR_F32, ndim, shape);
  if (!y) return gr_errcode();
  gr_tensor *ops[GR_ITER_MAX] = {y};
  for (int k = 0; k < f->nin; k++) ops[k + 1] = f->in[k];
  ew_walk(f->nin + 1, ops, run, a);
  f->out[0] = y;
  return GR_OK;
}

static gr_status binary(gr_fwd *f, const char *name, ew_run run) {
  if (!gr_check_float(name, "a", f->in[0]) || !gr_check_float(name, "b", f->in[1])) return GR_EARG;
  return nary(f, name, run, f->a);
}

static gr_status unary(gr_fwd *f, const char *name, ew_run run) {
  if (!gr_check_float(name, "x", f->in[0])) return GR_EARG;
  return nary(f, name, run, f->a);
}

static gr_tensor *binary_op(gr_op op, gr_tensor *a, gr_tensor *b) {
  if (!a || !b) return NULL;
  gr_tensor *in[2] = {a, b};
  return gr_apply1(op, 2, in, NULL);
}

static gr_tensor *unary_op(gr_op op, gr_tensor *x, const gr_attrs *a) {
  if (!x) return NULL;
  return gr_apply1(op, 1, &x, a);
}

/* A public op made of others still names itself when x is not float. */
static bool float_arg(const char *op, gr_tensor *x) { return x && gr_check_float(op, "x", x); }

#define SUM_TO_IN(b, i, g) gr_sum_to((g), (b)->in[i]->ndim, (b)->in[i]->shape)

/* --- binary arithmetic ------------------------------------------------------------- */

static void add_run(RUN_ARGS) {
  const gr_kernel_table *k = gr_kernels();
  if (contig(3, s)) k->add((float *)p[0], (const float *)p[1], (const float *)p[2], n);
  else if (s[0] == 1 && s[1] == 1 && s[2] == 0) k->add_s((float *)p[0], (const float *)p[1], *(const float *)p[2], n);
  else if (s[0] == 1 && s[1] == 0 && s[2] == 1) k->add_s((float *)p[0], (const float *)p[2], *(const float *)p[1], n);
  else LOOP2(float, float, a + b);
}
static void sub_run(RUN_ARGS) {
  if (contig(3, s)) gr_kernels()->sub((float *)p[0], (const float *)p[1], (const float *)p[2], n);
  else LOOP2(float, float, a - b);
}
static void mul_run(RUN_ARGS) {
  const gr_kernel_table *k = gr_kernels();
  if (contig(3, s)) k->mul((float *)p[0], (const float *)p[1], (const float *)p[2], n);
  else if (s[0] == 1 && s[1] == 1 && s[2] == 0) k->mul_s((float *)p[0], (const float *)p[1], *(const float *)p[2], n);
  else if (s[0] == 1 && s[1] == 0 && s[2] == 1) k->mul_s((float *)p[0], (const float *)p[2], *(const float *)p[1], n);
  else LOOP2(float, float, a * b);
}
static void div_run(RUN_ARGS) {
  if (contig(3, s)) gr_kernels()->div((float *)p[0], (const float *)p[1], (const float *)p[2], n);
  else LOOP2(float, float, a / b);
}

gr_status add_forward(gr_fwd *f) { return binary(f, "add", add_run); }
gr_status add_backward(gr_bwd *b) {
  if (b->needs[0]) b->gin[0] = SUM_TO_IN(b, 0, b->gout[0]);
  if (b->needs[1]) b->gin[1] = SUM_TO_IN(b, 1, b->gout[0]);
  return GR_OK;
}
gr_tensor *gr_add(gr_tensor *a, gr_tensor *b) { return binary_op(GR_OP_add, a, b); }

gr_status sub_forward(gr_fwd *f) { return binary(f, "sub", sub_run); }
gr_status sub_backward(gr_bwd *b) {
  if (b->needs[0]) b->gin[0] = SUM_TO_IN(b, 0, b->gout[0]);
  if (b->needs[1]) b->gin[1] = SUM_TO_IN(b, 1, gr_neg(b->gout[0]));
  return GR_OK;
}
gr_tensor *gr_sub(gr_tensor *a, gr_tensor *b) { return binary_op(GR_OP_sub, a, b); }

gr_status mul_forward(gr_fwd *f) { return binary(f, "mul", mul_run); }
gr_status mul_backward(gr_bwd *b) {
  if (b->needs[0]) b->gin[0] = SUM_TO_IN(b, 0, gr_mul(b->gout[0], b->in[1]));
  if (b->needs[1]) b->gin[1] = SUM_TO_IN(b, 1, gr_mul(b->gout[0], b->in[0]));
  return GR_OK;
}
gr_tensor *gr_mul(gr_tensor *a, gr_tensor *b) { return binary_op(GR_OP_mul, a, b); }

gr_status div_forward(gr_fwd *f) { return binary(f, "div", div_run); }
gr_status div_backward(gr_bwd *b) {
  gr_tensor *g = b->gout[0], *x = b->in[0], *y = b->in[1];
  if (b->needs[0]) b->gin[0] = SUM_TO_IN(b, 0, gr_div(g, y));
  /* d(x/y)/dy = -x / y^2 */
  if (b->needs[1]) b->gin[1] = SUM_TO_IN(b, 1, gr_neg(gr_div(gr_mul(g, x), gr_mul(y, y))));
  return GR_OK;
}
gr_tensor *gr_div(gr_tensor *a, gr_tensor *b) { return binary_op(GR_OP_div, a, b); }

static void pow_run(RUN_ARGS) { LOOP2(float, float, powf(a, b)); }
gr_status pow_forward(gr_fwd *f) {
  gr_status s = binary(f, "pow", pow_run);
  if (s == GR_OK) gr_save(f, f->out[0]);
  return s;
}
gr_status pow_backward(gr_bwd *b) {
  gr_tensor *g = b->gout[0], *x = b->in[0], *e = b->in[1], *zero = gr_scalar(0);
  if (b->needs[0]) {
    /* d/dx = e * x^(e-1), taken as 0 where e == 0 (0 * 0^-1 would be NaN) */
    gr_tensor *d = gr_mul(e, gr_pow(x, gr_add_scalar(e, -1)));
    b->gin[0] = SUM_TO_IN(b, 0, gr_mul(g, gr_where(gr_eq(e, zero), zero, d)));
  }
  if (b->needs[1]) {
    /* d/de = x^e * log(x); its limit 0 where x == 0 and e >= 0, with log kept finite there */
    gr_tensor *lim = gr_mul(gr_eq(x, zero), gr_ge(e, zero));
    gr_tensor *d = gr_mul(gr_saved(b, 0), gr_log(gr_where(lim, gr_scalar(1), x)));
    b->gin[1] = SUM_TO_IN(b, 1, gr_mul(g, gr_where(lim, zero, d)));
  }
  return GR_OK;
}
gr_tensor *gr_pow(gr_tensor *a, gr_tensor *b) { return binary_op(GR_OP_pow, a, b); }

/* NaN wins, as in PyTorch: a is taken when a beats b or a is NaN */
static void maximum_run(RUN_ARGS) { LOOP2(float, float, (a > b || a != a) ? a : b); }
static void minimum_run(RUN_ARGS) { LOOP2(float, float, (a < b || a != a) ? a : b); }

/* The winner takes the gradient; a tie splits it in halves (PyTorch's rule).
 * Each side gets g unless it lost or tied, so where a NaN is involved (no
 * one lost, no tie) both get g, again as in PyTorch. */
static gr_status minmax_backward(gr_bwd *b, bool is_max) {
  gr_tensor *g = b->gout[0], *x = b->in[0], *y = b->in[1];
  gr_tensor *half = gr_mul_scalar(gr_eq(x, y), 0.5);
  gr_tensor *x_wins = is_max ? gr_gt(x, y) : gr_lt(x, y), *y_wins = is_max ? gr_lt(x, y) : gr_gt(x, y);
  if (b->needs[0]) b->gin[0] = SUM_TO_IN(b, 0, gr_mul(g, gr_rsub_scalar(gr_add(y_wins, half), 1)));
  if (b->needs[1]) b->gin[1] = SUM_TO_IN(b, 1, gr_mul(g, gr_rsub_scalar(gr_add(x_wins, half), 1)));
  return GR_OK;
}

gr_status maximum_forward(gr_fwd *f) { return binary(f, "maximum", maximum_run); }
gr_status maximum_backward(gr_bwd *b) { return minmax_backward(b, true); }
gr_tensor *gr_maximum(gr_tensor *a, gr_tensor *b) { return binary_op(GR_OP_maximum, a, b); }

gr_status minimum_forward(gr_fwd *f) { return binary(f, "minimum", minimum_run); }
gr_status minimum_backward(gr_bwd *b) { return minmax_backward(b, false); }
gr_tensor *gr_minimum(gr_tensor *a, gr_tensor *b) { return binary_op(GR_OP_minimum, a, b); }

/* --- where ---------------------------------------------------------------------------- */

/* A float mask on contiguous runs, the other side a number or a run: as
 * masks from comparisons are (a ReLU's or LeakyReLU's gradient under a
 * double backward: a gradient penalty's), with branch-free loops the
 * compiler vectorises. */
static bool where_f_fast(char *const *p, const int64_t *s, int64_t n) {
  if (s[0] != 1 || s[1] != 1 || (s[2] != 1 && s[2] != 0) || (s[3] != 1 && s[3] != 0)) return false;
  float *restrict y = (float *)p[0];
  const float *restrict m = (const float *)p[1], *restrict a = (const float *)p[2],
                        *restrict b = (const float *)p[3];
  if (s[2] == 1 && s[3] == 1)
    for (int64_t i = 0; i < n; i++) y[i] = m[i] != 0 ? a[i] : b[i];
  else if (s[2] == 1) {
    float bv = b[0];
    for (int64_t i = 0; i < n; i++) y[i] = m[i] != 0 ? a[i] : bv;
  } else if (s[3] == 1) {
    float av = a[0];
    for (int64_t i = 0; i < n; i++) y[i] = m[i] != 0 ? av : b[i];
  } else {
    float av = a[0], bv = b[0];
    for (int64_t i = 0; i < n; i++) y[i] = m[i] != 0 ? av : bv;
  }
  return true;
}

static void where_f_run(RUN_ARGS) {
  if (!where_f_fast(p, s, n)) LOOP3(float, m != 0 ? a : b);
}
static void where_i_run(RUN_ARGS) { LOOP3(int64_t, m != 0 ? a : b); }

gr_status where_forward(gr_fwd *f) {
  if (!gr_check_float("where", "a", f->in[1]) || !gr_check_float("where", "b", f->in[2]))
    return GR_EARG;
  return nary(f, "where", f->in[0]->dtype == GR_I64 ? where_i_run : where_f_run, f->a);
}
gr_status where_backward(gr_bwd *b) {
  gr_tensor *m = b->in[0], *g = b->gout[0], *zero = gr_scalar(0);
  /* a float mask may carry requires_grad; it gets none back */
  if (b->needs[0]) b->gin[0] = gr_zeros_like(m);
  if (b->needs[1]) b->gin[1] = SUM_TO_IN(b, 1, gr_where(m, g, zero));
  if (b->needs[2]) b->gin[2] = SUM_TO_IN(b, 2, gr_where(m, zero, g));
  return GR_OK;
}
gr_tensor *gr_where(gr_tensor *mask, gr_tensor *a, gr_tensor *b) {
  if (!mask || !a || !b) return NULL;
  gr_tensor *in[3] = {mask, a, b};
  return gr_apply1(GR_OP_where, 3, in, NULL);
}

/* --- comparisons: float masks of 0 and 1 ----------------------------------------------
 * Float with float and int64 with int64 compare in their own type; a mix
 * (labels against a number) compares in double. */

#define COMPARE(name, OPR)                                                               \
  static void name##_ff(RUN_ARGS) { LOOP2(float, float, (float)(a OPR b)); }             \
  static void name##_ii(RUN_ARGS) { LOOP2(int64_t, int64_t, (float)(a OPR b)); }         \
  static void name##_if(RUN_ARGS) { LOOP2(int64_t, float, (float)((double)a OPR (double)b)); } \
  static void name##_fi(RUN_ARGS) { LOOP2(float, int64_t, (float)((double)a OPR (double)b)); } \
  gr_status name##_forward(gr_fwd *f) {                                                  \
    static const ew_run runs[2][2] = {{name##_ff, name##_fi}, {name##_if, name##_ii}};   \
    return nary(f, #name, runs[f->in[0]->dtype == GR_I64][f->in[1]->dtype == GR_I64], f->a); \
  }                                                                                      \
  gr_tensor *gr_##name(gr_tensor *a, gr_tensor *b) { return binary_op(GR_OP_##name, a, b); }

COMPARE(eq, ==)
COMPARE(ne, !=)
COMPARE(lt, <)
COMPARE(le, <=)
COMPARE(gt, >)
COMPARE(ge, >=)

/* --- with a number ------------------------------------------------------------------- */

static void add_scalar_run(RUN_ARGS) {
  float c = (float)at->f[0];
  if (contig(2, s)) gr_kernels()->add_s((float *)p[0], (const float *)p[1], c, n);
  else LOOP1(x + c);
}
gr_status add_scalar_forward(gr_fwd *f) { return unary(f, "add_scalar", add_scalar_run); }
gr_status add_scalar_backward(gr_bwd *b) {
  b->gin[0] = b->gout[0];
  return GR_OK;
}
gr_tensor *gr_add_scalar(gr_tensor *x, double c) {
  gr_attrs a = {.f = {c}};
  return unary_op(GR_OP_add_scalar, x, &a);
}

static void mul_scalar_run(RUN_ARGS) {
  float c = (float)at->f[0];
  if (contig(2, s)) gr_kernels()->mul_s((float *)p[0], (const float *)p[1], c, n);
  else LOOP1(x * c);
}
gr_status mul_scalar_forward(gr_fwd *f) { return unary(f, "mul_scalar", mul_scalar_run); }
gr_status mul_scalar_backward(gr_bwd *b) {
  b->gin[0] = gr_mul_scalar(b->gout[0], b->a->f[0]);
  return GR_OK;
}
gr_tensor *gr_mul_scalar(gr_tensor *x, double c) {
  gr_attrs a = {.f = {c}};
  return unary_op(GR_OP_mul_scalar, x, &a);
}

gr_tensor *gr_rsub_scalar(gr_tensor *x, double c) {
  if (x && !float_arg("rsub_scalar", x)) return NULL;
  return GR_COMPOSITE(gr_add_scalar(gr_neg(x), c));
}

gr_tensor *gr_rdiv_scalar(gr_tensor *x, double c) {
  if (x && !float_arg("rdiv_scalar", x)) return NULL;
  return GR_COMPOSITE(gr_div(gr_scalar(c), x));
}

gr_tensor *gr_square(gr_tensor *x) {
  if (x && !float_arg("square", x)) return NULL;
  return GR_COMPOSITE(gr_mul(x, x));
}

/* the common powers exactly (x*x, sqrt), the rest through powf */
static void pow_scalar_run(RUN_ARGS) {
  float e = (float)at->f[0];
  if (e == 2) LOOP1(x * x);
  else if (e == 1) LOOP1(x);
  else if (e == 0.5f) LOOP1(sqrtf(x));
  else if (e == -1) LOOP1(1.0f / x);
  else LOOP1(powf(x, e));
}
gr_status pow_scalar_forward(gr_fwd *f) { return unary(f, "pow_scalar", pow_scalar_run); }
gr_status pow_scalar_backward(gr_bwd *b) {
  double e = b->a->f[0];
  if (e == 0) b->gin[0] = gr_zeros_like(b->in[0]);
  else b->gin[0] = gr_mul(b->gout[0], gr_mul_scalar(gr_pow_scalar(b->in[0], e - 1), e));
  return GR_OK;
}
gr_tensor *gr_pow_scalar(gr_tensor *x, double p) {
  gr_attrs a = {.f = {p}};
  return unary_op(GR_OP_pow_scalar, x, &a);
}

static void rpow_scalar_run(RUN_ARGS) {
  float c = (float)at->f[0];
  LOOP1(powf(c, x));
}
gr_status rpow_scalar_forward(gr_fwd *f) {
  gr_status s = unary(f, "rpow_scalar", rpow_scalar_run);
  if (s == GR_OK) gr_save(f, f->out[0]);
  return s;
}
gr_status rpow_scalar_backward(gr_bwd *b) {
  double c = b->a->f[0];
  /* d(c^x)/dx = c^x log c; for c == 0 the limit 0 (where c^x is finite) */
  if (c == 0) b->gin[0] = gr_zeros_like(b->in[0]);
  else b->gin[0] = gr_mul_scalar(gr_mul(b->gout[0], gr_saved(b, 0)), log(c));
  return GR_OK;
}
gr_tensor *gr_rpow_scalar(gr_tensor *x, double c) {
  gr_attrs a = {.f = {c}};
  return unary_op(GR_OP_rpow_scalar, x, &a);
}

/* min(max(x, lo), hi) with NaN bounds skipped (x < NaN is false); a NaN x stays NaN */
static void clamp_run(RUN_ARGS) {
  float lo = (float)at->f[0], hi = (float)at->f[1];
  LOOP1(x < lo ? (lo > hi ? hi : lo) : (x > hi ? hi : x));
}
gr_status clamp_forward(gr_fwd *f) { return unary(f, "clamp", clamp_run); }
gr_status clamp_backward(gr_bwd *b) {
  gr_tensor *x = b->in[0], *g = b->gout[0];
  double lo = b->a->f[0], hi = b->a->f[1];
  /* the gradient passes where lo <= x <= hi */
  if (!isnan(lo)) g = gr_mul(g, gr_ge(x, gr_scalar(lo)));
  if (!isnan(hi)) g = gr_mul(g, gr_le(x, gr_scalar(hi)));
  b->gin[0] = g;
  return GR_OK;
}
gr_tensor *gr_clamp(gr_tensor *x, double lo, double hi) {
  if (!x) return NULL;
  if (isnan(lo) && isnan(hi))
    return gr_fail_null(GR_EARG, "clamp: give at least one bound (lo and hi are both NaN) for %s",
                        gr_shape_str(x));
  gr_attrs a = {.f = {lo, hi}};
  return unary_op(GR_OP_clamp, x, &a);
}

/* --- unary ------------------------------------------------------------------------------ */

static void neg_run(RUN_ARGS) { LOOP1(-x); }
gr_status neg_forward(gr_fwd *f) { return unary(f, "neg", neg_run); }
gr_status neg_backward(gr_bwd *b) {
  b->gin[0] = gr_neg(b->gout[0]);
  return GR_OK;
}
gr_tensor *gr_neg(gr_tensor *x) { return unary_op(GR_OP_neg, x, NULL); }

static void exp_run(RUN_ARGS) {
  if (contig(2, s)) gr_kernels()->exp((float *)p[0], (const float *)p[1], n);
  else LOOP1(expf(x));
}
gr_status exp_forward(gr_fwd *f) {
  gr_status s = unary(f, "exp", exp_run);
  if (s == GR_OK) gr_save(f, f->out[0]);
  return s;
}
gr_status exp_backward(gr_bwd *b) {
  b->gin[0] = gr_mul(b->gout[0], gr_saved(b, 0));
  return GR_OK;
}
gr_tensor *gr_exp(gr_tensor *x) { return unary_op(GR_OP_exp, x, NULL); }

static void log_run(RUN_ARGS) { LOOP1(logf(x)); }
gr_status log_forward(gr_fwd *f) { return unary(f, "log", log_run); }
gr_status log_backward(gr_bwd *b) {
  b->gin[0] = gr_div(b->gout[0], b->in[0]);
  return GR_OK;
}
gr_tensor *gr_log(gr_tensor *x) { return unary_op(GR_OP_log, x, NULL); }

static void log1p_run(RUN_ARGS) { LOOP1(log1pf(x)); }
gr_status log1p_forward(gr_fwd *f) { return unary(f, "log1p", log1p_run); }
gr_status log1p_backward(gr_bwd *b) {
  b->gin[0] = gr_div(b->gout[0], gr_add_scalar(b->in[0], 1));
  return GR_OK;
}
gr_tensor *gr_log1p(gr_tensor *x) { return unary_op(GR_OP_log1p, x, NULL); }

static void sqrt_run(RUN_ARGS) { LOOP1(sqrtf(x)); }
gr_status sqrt_forward(gr_fwd *f) {
  gr_status s = unary(f, "sqrt", sqrt_run);
  if (s == GR_OK) gr_save(f, f->out[0]);
  return s;
}
gr_status sqrt_backward(gr_bwd *b) {
  /* d sqrt(x) = 1 / (2 y) */
  b->gin[0] = gr_div(b->gout[0], gr_mul_scalar(gr_saved(b, 0), 2));
  return GR_OK;
}
gr_tensor *gr_sqrt(gr_tensor *x) { return unary_op(GR_OP_sqrt, x, NULL); }

static void rsqrt_run(RUN_ARGS) { LOOP1(1.0f / sqrtf(x)); }
gr_status rsqrt_forward(gr_fwd *f) {
  gr_status s = unary(f, "rsqrt", rsqrt_run);
  if (s == GR_OK) gr_save(f, f->out[0]);
  return s;
}
gr_status rsqrt_backward(gr_bwd *b) {
  /* d x^(-1/2) = -x^(-3/2) / 2 = -y^3 / 2 */
  b->gin[0] = gr_mul(b->gout[0], gr_mul_scalar(gr_pow_scalar(gr_saved(b, 0), 3), -0.5));
  return GR_OK;
}
gr_tensor *gr_rsqrt(gr_tensor *x) { return unary_op(GR_OP_rsqrt, x, NULL); }

static void abs_run(RUN_ARGS) { LOOP1(fabsf(x)); }
gr_status abs_forward(gr_fwd *f) { return unary(f, "abs", abs_run); }
gr_status abs_backward(gr_bwd *b) {
  b->gin[0] = gr_mul(b->gout[0], gr_sign(b->in[0]));
  return GR_OK;
}
gr_tensor *gr_abs(gr_tensor *x) { return unary_op(GR_OP_abs, x, NULL); }

/* (x > 0) - (x < 0): 0 at 0 and at NaN, as in PyTorch */
static void sign_run(RUN_ARGS) { LOOP1((float)((x > 0) - (x < 0))); }
gr_status sign_forward(gr_fwd *f) { return unary(f, "sign", sign_run); }
gr_tensor *gr_sign(gr_tensor *x) { return unary_op(GR_OP_sign, x, NULL); }

/* Rounding to whole numbers. The derivative is zero almost everywhere (and
 * undefined at the steps), so these are CONST ops: constants to autograd,
 * whose results never require a gradient. Whoever wants a gradient through
 * them writes the straight-through estimator they mean, x + (round(x) - x)
 * detached. Exact for every float: from 2^23 up a float is whole already;
 * +-0, +-inf and NaN come back as they went; a negative x that rounds to
 * zero gives -0, as in C and PyTorch. */
static void floor_run(RUN_ARGS) { LOOP1(floorf(x)); }
gr_status floor_forward(gr_fwd *f) { return unary(f, "floor", floor_run); }
gr_tensor *gr_floor(gr_tensor *x) { return unary_op(GR_OP_floor, x, NULL); }

/* Halves go to the even neighbour (torch.round, IEEE 754's default). roundf
 * takes a tie away from zero; on a tie (r - x is exact below 2^23) twice the
 * rounded half lands on the even one: 2.5 -> 2 * round(1.25) = 2, -0.5 ->
 * 2 * round(-0.25) = -0. Unlike nearbyintf, it does not depend on the
 * rounding mode a host program may have set. */
static inline float round_half_even(float x) {
  float r = roundf(x);
  return fabsf(r - x) == 0.5f ? 2.0f * roundf(0.5f * x) : r;
}
static void round_run(RUN_ARGS) { LOOP1(round_half_even(x)); }
gr_status round_forward(gr_fwd *f) { return unary(f, "round", round_run); }
gr_tensor *gr_round(gr_tensor *x) { return unary_op(GR_OP_round, x, NULL); }

static void ceil_run(RUN_ARGS) { LOOP1(ceilf(x)); }
gr_status ceil_forward(gr_fwd *f) { return unary(f, "ceil", ceil_run); }
gr_tensor *gr_ceil(gr_tensor *x) { return unary_op(GR_OP_ceil, x, NULL); }

static void sin_run(RUN_ARGS) { LOOP1(sinf(x)); }
gr_status sin_forward(gr_fwd *f) { return unary(f, "sin", sin_run); }
gr_status sin_backward(gr_bwd *b) {
  b->gin[0] = gr_mul(b->gout[0], gr_cos(b->in[0]));
  return GR_OK;
}
gr_tensor *gr_sin(gr_tensor *x) { return unary_op(GR_OP_sin, x, NULL); }

static void cos_run(RUN_ARGS) { LOOP1(cosf(x)); }
gr_status cos_forward(gr_fwd *f) { return unary(f, "cos", cos_run); }
gr_status cos_backward(gr_bwd *b) {
  b->gin[0] = gr_mul(b->gout[0], gr_neg(gr_sin(b->in[0])));
  return GR_OK;
}
gr_tensor *gr_cos(gr_tensor *x) { return unary_op(GR_OP_cos, x, NULL); }

/* --- activations ------------------------------------------------------------------------ */

static gr_tensor *positive(gr_tensor *x) { return gr_gt(x, gr_scalar(0)); }
/* x <= 0: false for NaN, so a NaN takes the branch of the positives (PyTorch's threshold rule) */
static gr_tensor *at_most_zero(gr_tensor *x) { return gr_le(x, gr_scalar(0)); }

/* a NaN stays NaN, as in PyTorch */
static void relu_run(RUN_ARGS) {
  if (contig(2, s)) gr_kernels()->relu((float *)p[0], (const float *)p[1], n);
  else LOOP1(x <= 0 ? 0.0f : x);
}
gr_status relu_forward(gr_fwd *f) { return unary(f, "relu", relu_run); }
/* An activation's gradient gx = f(x, g) in one pass, on the threads: when
 * nothing is recorded (no double backward asked for) and x and g are
 * contiguous. False (gin untouched) otherwise; on GR_ENOMEM, *s says so. */
static bool act_grad_fused(gr_bwd *b, float slope, bool leaky, float gain, gr_status *s) {
  gr_tensor *x = b->in[0], *g = b->gout[0];
  if (b->create_graph || !gr_is_contiguous(x) || !gr_is_contiguous(g)) return false;
  gr_tensor *gx = gr_empty(GR_F32, x->ndim, x->shape);
  if (!gx) {
    *s = gr_errcode();
    return true;
  }
  const gr_kernel_table *k = gr_kernels();
  float *pgx = gr_f32(gx);
  const float *px = gr_f32(x), *pg = gr_f32(g);
  int64_t total = gr_numel(x), chunks = (total + EW_CHUNK - 1) / EW_CHUNK;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if (total > EW_PARALLEL)
  for (int64_t c = 0; c < chunks; c++) {
    int64_t i0 = c * EW_CHUNK, len = total - i0 < EW_CHUNK ? total - i0 : EW_CHUNK;
    if (leaky && gain != 1.0f) { /* g * gain first, as the gain's own gradient would be */
      k->mul_s(pgx + i0, pg + i0, gain, len);
      k->leaky_relu_grad(pgx + i0, px + i0, pgx + i0, slope, len);
    } else if (leaky) {
      k->leaky_relu_grad(pgx + i0, px + i0, pg + i0, slope, len);
    } else {
      k->relu_grad(pgx + i0, px + i0, pg + i0, len);
    }
  }
  b->gin[0] = gx;
  *s = GR_OK;
  return true;
}

gr_status relu_backward(gr_bwd *b) {
  gr_status s;
  if (act_grad_fused(b, 0.0f, false, 1.0f, &s)) return s;
  /* a mask of 1 where x > 0 or x is NaN: not (x <= 0) */
  b->gin[0] = gr_mul(b->gout[0], gr_eq(at_most_zero(b->in[0]), gr_scalar(0)));
  return GR_OK;
}
gr_tensor *gr_relu(gr_tensor *x) { return unary_op(GR_OP_relu, x, NULL); }

/* attrs: f[0] the slope, f[1] the gain. The gain multiplies each output
 * right after it is made (while the run is in cache): the same roundings as
 * leaky_relu then mul_scalar, one pass over memory fewer each way. */
static void leaky_relu_run(RUN_ARGS) {
  float slope = (float)at->f[0], gain = (float)at->f[1];
  if (contig(2, s)) {
    const gr_kernel_table *k = gr_kernels();
    k->leaky_relu((float *)p[0], (const float *)p[1], slope, n);
    if (gain != 1.0f) k->mul_s((float *)p[0], (const float *)p[0], gain, n);
  } else if (gain != 1.0f) {
    LOOP1((x > 0 ? x : x * slope) * gain);
  } else {
    LOOP1(x > 0 ? x : x * slope);
  }
}
gr_status leaky_relu_forward(gr_fwd *f) { return unary(f, "leaky_relu", leaky_relu_run); }
gr_status leaky_relu_backward(gr_bwd *b) {
  gr_tensor *x = b->in[0], *g = b->gout[0];
  float slope = (float)b->a->f[0], gain = (float)b->a->f[1];
  gr_status s;
  if (act_grad_fused(b, slope, true, gain, &s)) return s;
  if (gain != 1.0f) g = gr_mul_scalar(g, b->a->f[1]);
  b->gin[0] = gr_where(positive(x), g, gr_mul_scalar(g, slope));
  return GR_OK;
}
gr_tensor *gr_leaky_relu(gr_tensor *x, double slope) { return gr_leaky_relu_gain(x, slope, 1.0); }
gr_tensor *gr_leaky_relu_gain(gr_tensor *x, double slope, double gain) {
  gr_attrs a = {.f = {slope, gain}};
  return unary_op(GR_OP_leaky_relu, x, &a);
}

static void elu_run(RUN_ARGS) {
  float alpha = (float)at->f[0];
  LOOP1(x > 0 ? x : alpha * expm1f(x));
}
gr_status elu_forward(gr_fwd *f) {
  gr_status s = unary(f, "elu", elu_run);
  if (s == GR_OK) gr_save(f, f->out[0]);
  return s;
}
gr_status elu_backward(gr_bwd *b) {
  /* below 0, d elu = alpha e^x = y + alpha: finite where exp(x) would overflow */
  gr_tensor *g = b->gout[0];
  b->gin[0] = gr_where(at_most_zero(b->in[0]), gr_mul(g, gr_add_scalar(gr_saved(b, 0), b->a->f[0])), g);
  return GR_OK;
}
gr_tensor *gr_elu(gr_tensor *x, double alpha) {
  gr_attrs a = {.f = {alpha}};
  return unary_op(GR_OP_elu, x, &a);
}

static void tanh_run(RUN_ARGS) {
  if (contig(2, s)) gr_kernels()->tanh((float *)p[0], (const float *)p[1], n);
  else LOOP1(tanhf(x));
}
gr_status tanh_forward(gr_fwd *f) {
  gr_status s = unary(f, "tanh", tanh_run);
  if (s == GR_OK) gr_save(f, f->out[0]);
  return s;
}
gr_status tanh_backward(gr_bwd *b) {
  gr_tensor *y = gr_saved(b, 0);
  b->gin[0] = gr_mul(b->gout[0], gr_rsub_scalar(gr_mul(y, y), 1));
  return GR_OK;
}
gr_tensor *gr_tanh(gr_tensor *x) { return unary_op(GR_OP_tanh, x, NULL); }

static void sigmoid_run(RUN_ARGS) {
  if (contig(2, s)) gr_kernels()->sigmoid((float *)p[0], (const float *)p[1], n);
  else LOOP1(1.0f / (1.0f + expf(-x)));
}
gr_status sigmoid_forward(gr_fwd *f) {
  gr_status s = unary(f, "sigmoid", sigmoid_run);
  if (s == GR_OK) gr_save(f, f->out[0]);
  return s;
}
gr_status sigmoid_backward(gr_bwd *b) {
  gr_tensor *y = gr_saved(b, 0);
  b->gin[0] = gr_mul(b->gout[0], gr_mul(y, gr_rsub_scalar(y, 1)));
  return GR_OK;
}
gr_tensor *gr_sigmoid(gr_tensor *x) { return unary_op(GR_OP_sigmoid, x, NULL); }

/* log(1 + e^(beta x)) / beta, and x itself once beta x passes the threshold */
static void softplus_run(RUN_ARGS) {
  float beta = (float)at->f[0], thr = (float)at->f[1];
  LOOP1(x * beta > thr ? x : log1pf(expf(x * beta)) / beta);
}
gr_status softplus_forward(gr_fwd *f) { return unary(f, "softplus", softplus_run); }
gr_status softplus_backward(gr_bwd *b) {
  gr_tensor *g = b->gout[0], *bx = gr_mul_scalar(b->in[0], b->a->f[0]);
  b->gin[0] = gr_where(gr_gt(bx, gr_scalar(b->a->f[1])), g, gr_mul(g, gr_sigmoid(bx)));
  return GR_OK;
}
gr_tensor *gr_softplus(gr_tensor *x, double beta, double threshold) {
  if (!x) return NULL;
  if (beta == 0 || isnan(beta))
    return gr_fail_null(GR_EARG, "softplus: beta must be nonzero, got %g for %s", beta,
                        gr_shape_str(x));
  gr_attrs a = {.f = {beta, threshold}};
  return unary_op(GR_OP_softplus, x, &a);
}
