#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_state = 0x9E3779B97F4A7C15ull;

double tu_unit(void) {
  /* splitmix64: independent of the runtime's generator */
  uint64_t z = (g_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

gr_tensor *tu_rand(int ndim, const int64_t *shape, double lo, double hi) {
  gr_tensor *t = gr_empty(GR_F32, ndim, shape);
  assert_non_null(t);
  float *p = gr_f32(t);
  for (int64_t i = 0; i < gr_numel(t); i++) p[i] = (float)(lo + (hi - lo) * tu_unit());
  return t;
}

gr_tensor *tu_noncontig(gr_tensor *x) {
  /* store the values transposed in a bigger buffer, then view them back */
  int64_t shape[GR_MAX_DIM], stride[GR_MAX_DIM];
  int nd = x->ndim;
  for (int d = 0; d < nd; d++) shape[d] = x->shape[d];
  /* reversed dims, with one padding element per innermost row */
  int64_t s = 1;
  for (int d = 0; d < nd; d++) {
    stride[d] = s;
    s *= shape[d] + (d == 0 ? 1 : 0);
  }
  int64_t total = s + 3;
  gr_tensor *buf = gr_zeros(GR_F32, 1, &total);
  assert_non_null(buf);
  gr_tensor *v = gr_alias(buf, nd, shape, stride, 3);
  gr_release(buf);
  assert_int_equal(gr_copy_(v, x), GR_OK);
  return v;
}

gr_tensor *tu_ok(gr_tensor *t, const char *what, const char *file, int line) {
  if (!t) {
    print_error("%s:%d: %s failed: %s\n", file, line, what, gr_errmsg());
    _fail(file, line);
  }
  return t;
}

void tu_assert_close_d(const gr_tensor *a, const double *ref, double atol, double rtol,
                       const char *file, int line) {
  int64_t n = gr_numel(a);
  for (int64_t i = 0; i < n; i++) {
    double x = gr_get_flat(a, i), y = ref[i];
    if (!(fabs(x - y) <= atol + rtol * fabs(y)) && !(isnan(x) && isnan(y))) {
      print_error("%s:%d: element %lld of %s: got %.7g, expected %.7g\n", file, line,
                  (long long)i, gr_shape_str(a), x, y);
      _fail(file, line);
    }
  }
}

void tu_assert_close(const gr_tensor *a, const gr_tensor *b, double atol, double rtol,
                     const char *file, int line) {
  if (gr_numel(a) != gr_numel(b) || !gr_same_shape(a, b)) {
    print_error("%s:%d: shapes differ: %s vs %s\n", file, line, gr_shape_str(a), gr_shape_str(b));
    _fail(file, line);
  }
  int64_t n = gr_numel(b);
  double *ref = malloc((size_t)(n ? n : 1) * sizeof *ref);
  gr_read_all(b, ref);
  tu_assert_close_d(a, ref, atol, rtol, file, line);
  free(ref);
}

void tu_expect_error(gr_tensor *y, const char *a, const char *b, const char *c, const char *file,
                     int line) {
  if (y) {
    print_error("%s:%d: expected an error, got a tensor %s\n", file, line, gr_shape_str(y));
    gr_release(y);
    _fail(file, line);
  }
  const char *m = gr_errmsg(), *want[3] = {a, b, c};
  for (int k = 0; k < 3; k++)
    if (want[k] && !strstr(m, want[k])) {
      print_error("%s:%d: message \"%s\" lacks \"%s\"\n", file, line, m, want[k]);
      _fail(file, line);
    }
}

static float *elem_ptr(gr_tensor *t, int64_t i) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    off += (i % t->shape[d]) * t->stride[d];
    i /= t->shape[d];
  }
  return (float *)t->storage->data + off;
}

static bool checked(gr_tensor *t) { return t && t->dtype == GR_F32; }

/* sum(f(in) * r) in double, without recording */
static double eval_loss(tu_fn f, void *ctx, gr_tensor *const *in, const double *r,
                        const char *file, int line) {
  bool prev = gr_set_grad_enabled(false);
  gr_tensor *out = tu_ok(f(in, ctx), "f(inputs)", file, line);
  gr_set_grad_enabled(prev);
  double s = 0;
  for (int64_t i = 0; i < gr_numel(out); i++) s += gr_get_flat(out, i) * r[i];
  gr_release(out);
  return s;
}

static void report(const char *kind, int input, int64_t e, double got, double want,
                   const char *file, int line) {
  print_error("%s:%d: %s of input %d, element %lld: analytic %.7g, numeric %.7g\n", file, line,
              kind, input + 1, (long long)e, got, want);
  _fail(file, line);
}

/* analytic first-order grads of sum(f*r) (create_graph as asked); owned refs */
static gr_tensor *first_grads(tu_fn f, void *ctx, int nin, gr_tensor *const *in,
                              const double *r, int64_t nr, bool create, gr_tensor **grads,
                              const char *file, int line) {
  gr_tensor *out = tu_ok(f(in, ctx), "f(inputs)", file, line);
  if (nr < 0) nr = gr_numel(out);
  float *rf = malloc((size_t)(nr ? nr : 1) * sizeof *rf);
  for (int64_t i = 0; i < nr; i++) rf[i] = (float)r[i];
  gr_tensor *rt = gr_from_f32(rf, out->ndim, out->shape);
  free(rf);
  gr_tensor *xs[16];
  int k = 0;
  for (int i = 0; i < nin; i++)
    if (checked(in[i])) xs[k++] = in[i];
  gr_grad_opts o = {.grad_outputs = &rt, .create_graph = create};
  if (gr_grad(1, &out, k, xs, &o, grads) != GR_OK) {
    print_error("%s:%d: grad failed: %s\n", file, line, gr_errmsg());
    _fail(file, line);
  }
  gr_release(rt);
  return out;
}

static double *rand_weights(int64_t n) {
  double *r = malloc((size_t)(n ? n : 1) * sizeof *r);
  for (int64_t i = 0; i < n; i++) r[i] = 2 * tu_unit() - 1;
  return r;
}

void tu_gradcheck(tu_fn f, void *ctx, int nin, gr_tensor *const *in, double h, double atol,
                  double rtol, const char *file, int line) {
  for (int i = 0; i < nin; i++)
    if (checked(in[i])) gr_set_requires_grad(in[i], true);
  gr_tensor *probe = tu_ok(f(in, ctx), "f(inputs)", file, line);
  int64_t nr = gr_numel(probe);
  gr_release(probe);
  double *r = rand_weights(nr);
  gr_tensor *grads[16] = {0};
  gr_release(first_grads(f, ctx, nin, in, r, nr, false, grads, file, line));
  int k = 0;
  for (int i = 0; i < nin; i++) {
    if (!checked(in[i])) continue;
    gr_tensor *x = in[i], *g = grads[k++];
    for (int64_t e = 0; e < gr_numel(x); e++) {
      float *p = elem_ptr(x, e), keep = *p;
      *p = (float)(keep + h);
      double lp = eval_loss(f, ctx, in, r, file, line);
      *p = (float)(keep - h);
      double lm = eval_loss(f, ctx, in, r, file, line);
      *p = keep;
      double num = (lp - lm) / (2 * h), got = gr_get_flat(g, e);
      if (!(fabs(got - num) <= atol + rtol * fabs(num))) report("gradient", i, e, got, num, file, line);
    }
    gr_release(g);
  }
  free(r);
}

/* L = sum_i sum(grad_i^2), recorded when `create` */
static double grad_sq_loss(tu_fn f, void *ctx, int nin, gr_tensor *const *in, const double *r,
                           int64_t nr, bool create, gr_tensor **loss, const char *file, int line) {
  gr_tensor *grads[16] = {0};
  gr_release(first_grads(f, ctx, nin, in, r, nr, create, grads, file, line));
  double total = 0;
  gr_tensor *acc = NULL;
  int k = 0;
  for (int i = 0; i < nin; i++) {
    if (!checked(in[i])) continue;
    gr_tensor *g = grads[k++];
    for (int64_t e = 0; e < gr_numel(g); e++) {
      double v = gr_get_flat(g, e);
      total += v * v;
    }
    if (create) {
      gr_pool_push();
      gr_tensor *s = gr_sum(gr_mul(g, g), 0, NULL, false);
      gr_tensor *next = acc ? gr_add(acc, s) : s;
      tu_ok(next, "sum of squared gradients", file, line);
      gr_retain(next);
      gr_pool_pop();
      gr_release(acc);
      acc = next;
    }
    gr_release(g);
  }
  if (loss) *loss = acc;
  return total;
}

void tu_gradgradcheck(tu_fn f, void *ctx, int nin, gr_tensor *const *in, double h, double atol,
                      double rtol, const char *file, int line) {
  for (int i = 0; i < nin; i++)
    if (checked(in[i])) gr_set_requires_grad(in[i], true);
  gr_tensor *probe = tu_ok(f(in, ctx), "f(inputs)", file, line);
  int64_t nr = gr_numel(probe);
  gr_release(probe);
  double *r = rand_weights(nr);
  gr_tensor *L = NULL;
  grad_sq_loss(f, ctx, nin, in, r, nr, true, &L, file, line);
  gr_tensor *xs[16], *gg[16] = {0};
  int k = 0;
  for (int i = 0; i < nin; i++)
    if (checked(in[i])) xs[k++] = in[i];
  if (!L || !L->requires_grad) {
    /* the first gradients do not depend on the inputs: the second order is zero */
    for (int j = 0; j < k; j++) gg[j] = gr_zeros_like(xs[j]);
  } else {
    gr_grad_opts o = {.allow_unused = false};
    if (gr_grad(1, &L, k, xs, &o, gg) != GR_OK) {
      print_error("%s:%d: second-order grad failed: %s\n", file, line, gr_errmsg());
      _fail(file, line);
    }
  }
  gr_release(L);
  k = 0;
  for (int i = 0; i < nin; i++) {
    if (!checked(in[i])) continue;
    gr_tensor *x = in[i], *g = gg[k++];
    for (int64_t e = 0; e < gr_numel(x); e++) {
      float *p = elem_ptr(x, e), keep = *p;
      *p = (float)(keep + h);
      double lp = grad_sq_loss(f, ctx, nin, in, r, nr, false, NULL, file, line);
      *p = (float)(keep - h);
      double lm = grad_sq_loss(f, ctx, nin, in, r, nr, false, NULL, file, line);
      *p = keep;
      double num = (lp - lm) / (2 * h), got = gr_get_flat(g, e);
      if (!(fabs(got - num) <= atol + rtol * fabs(num)))
        report("second-order gradient", i, e, got, num, file, line);
    }
    gr_release(g);
  }
  free(r);
}

static const char *g_kept_isa;
static int g_kept_threads;

void tu_keep_state(void) {
  g_kept_isa = gr_kernels()->isa;
  g_kept_threads = gr_get_threads();
}

int tu_restore_state(void **state) {
  (void)state;
  if (g_kept_isa) assert_int_equal(gr_kernels_use(g_kept_isa), 0);
  if (g_kept_threads > 0) gr_set_threads(g_kept_threads);
  return 0;
}
