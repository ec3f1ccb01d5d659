/* Shared helpers of the runtime tests: random inputs, comparisons, and
 * gradient checks against central finite differences. */
#ifndef GR_TESTUTIL_H
#define GR_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ganrt/ganrt.h"

/* U[0,1) from the tests' own generator (splitmix64, independent of the runtime's). */
double tu_unit(void);
/* A float tensor of the shape filled from U(lo, hi) (deterministic per call order). */
gr_tensor *tu_rand(int ndim, const int64_t *shape, double lo, double hi);
#define TU_SHAPE(...) (sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}
/* A non-contiguous tensor with the same values as x (permuted storage). */
gr_tensor *tu_noncontig(gr_tensor *x);
/* Fails the test (with the runtime's message) if t is NULL; returns t. */
gr_tensor *tu_ok(gr_tensor *t, const char *what, const char *file, int line);
#define TU_OK(t) tu_ok((t), #t, __FILE__, __LINE__)
/* Every element within atol + rtol*|b|. */
void tu_assert_close(const gr_tensor *a, const gr_tensor *b, double atol, double rtol,
                     const char *file, int line);
#define TU_CLOSE(a, b, atol, rtol) tu_assert_close((a), (b), (atol), (rtol), __FILE__, __LINE__)
void tu_assert_close_d(const gr_tensor *a, const double *ref, double atol, double rtol,
                       const char *file, int line);
#define TU_CLOSE_D(a, ref, atol, rtol) tu_assert_close_d((a), (ref), (atol), (rtol), __FILE__, __LINE__)

/* y must be NULL with a message holding each of a, b, c (NULL: not checked). */
void tu_expect_error(gr_tensor *y, const char *a, const char *b, const char *c, const char *file,
                     int line);
#define TU_ERROR(y, a, b, c) tu_expect_error((y), (a), (b), (c), __FILE__, __LINE__)

/* The function under a gradient check: inputs -> one output (any shape). */
typedef gr_tensor *(*tu_fn)(gr_tensor *const *in, void *ctx);

/* First order: d(sum(f(in) * r))/d in against central differences with
 * step h, evaluating the loss in double. Inputs that are NULL or int are
 * skipped; every float input gets requires_grad. */
void tu_gradcheck(tu_fn f, void *ctx, int nin, gr_tensor *const *in, double h, double atol,
                  double rtol, const char *file, int line);
#define TU_GRADCHECK(f, ctx, nin, in) \
  tu_gradcheck((f), (ctx), (nin), (in), 1e-2, 2e-3, 2e-2, __FILE__, __LINE__)
/* Second order: L(in) = sum over inputs of sum(grad_i^2) where grad_i comes
 * from create_graph; checks dL/d in against central differences of L. */
void tu_gradgradcheck(tu_fn f, void *ctx, int nin, gr_tensor *const *in, double h, double atol,
                      double rtol, const char *file, int line);
#define TU_GRADGRADCHECK(f, ctx, nin, in) \
  tu_gradgradcheck((f), (ctx), (nin), (in), 1e-2, 5e-3, 5e-2, __FILE__, __LINE__)

/* Skips a test that needs something not installed (a package, a data set):
 * under GANLUA_TEST_NO_SKIP (./setup.sh test, and so CI, sets it after
 * installing every package the tests need) the test fails instead. */
#define TU_SKIP_MISSING(...)                                                       \
  do {                                                                             \
    print_message("skipped: " __VA_ARGS__);                                        \
    if (getenv("GANLUA_TEST_NO_SKIP")) fail_msg("GANLUA_TEST_NO_SKIP allows no skip"); \
    skip();                                                                        \
  } while (0)

/* The kernel table and thread count as a test program starts
 * (tu_keep_state, from main) and put back after each test
 * (tu_restore_state, a cmocka teardown: TU_TEST(f)): a test that switches
 * them and fails halfway must not leave the next ones on another table. */
void tu_keep_state(void);
int tu_restore_state(void **state);
#define TU_TEST(f) cmocka_unit_test_teardown(f, tu_restore_state)

#endif
