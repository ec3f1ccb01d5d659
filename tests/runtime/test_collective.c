/* gr_all_reduce: a copy in a world of one; with a transport installed (here
 * a stand-in for two processes holding the same values: the sum doubles),
 * the forward is the transport's sum and the gradient the same sum of the
 * incoming gradients, to first and second order; a transport's failure and
 * a non-float input are errors that name the op. */
#include <string.h>

#include "testutil.h"

/* Two processes with equal x: the element-wise sum is 2 x. */
static gr_status twice(float *data, int64_t n, void *ctx) {
  int *calls = ctx;
  for (int64_t i = 0; i < n; i++) data[i] *= 2;
  if (calls) (*calls)++;
  return GR_OK;
}

static gr_status broken(float *data, int64_t n, void *ctx) {
  return gr_fail(GR_EIO, "the transport is down");
}

static void test_world_of_one_copies(void **state) {
  gr_set_all_reduce(NULL, NULL);
  gr_tensor *c = TU_OK(tu_rand(TU_SHAPE(3, 5), -1, 1));
  gr_tensor *x = TU_OK(tu_noncontig(c));
  gr_tensor *y = TU_OK(gr_all_reduce(x));
  assert_true(gr_is_contiguous(y));
  TU_CLOSE(y, x, 0, 0);
  gr_release(c);
  gr_release(x);
  gr_release(y);
}

static void test_sum_and_its_gradient(void **state) {
  int calls = 0;
  gr_set_all_reduce(twice, &calls);
  gr_tensor *x = TU_OK(tu_rand(TU_SHAPE(4, 3), -1, 1));
  gr_tensor *x2 = TU_OK(gr_mul_scalar(x, 2));
  gr_set_requires_grad(x, true);
  gr_tensor *y = TU_OK(gr_all_reduce(x));
  assert_int_equal(calls, 1);
  TU_CLOSE(y, x2, 0, 0);
  // d sum(y * r)/dx = allreduce(r) = 2 r
  gr_tensor *r = TU_OK(tu_rand(TU_SHAPE(4, 3), -1, 1));
  gr_tensor *r2 = TU_OK(gr_mul_scalar(r, 2));
  gr_tensor *g = NULL;
  gr_grad_opts o = {.grad_outputs = &r};
  assert_int_equal(gr_grad(1, &y, 1, &x, &o, &g), GR_OK);
  assert_int_equal(calls, 2);
  TU_CLOSE(g, r2, 0, 0);
  gr_release(g);
  gr_release(r2);
  gr_release(r);
  gr_release(y);
  gr_release(x2);
  gr_release(x);
  gr_set_all_reduce(NULL, NULL);
}

static gr_tensor *square_of_reduced(gr_tensor *const *in, void *ctx) {
  gr_tensor *y = gr_all_reduce(in[0]);
  gr_tensor *z = gr_mul(y, y);
  gr_release(y);
  return z;
}

static void test_gradcheck(void **state) {
  gr_set_all_reduce(twice, NULL);
  gr_tensor *x = TU_OK(tu_rand(TU_SHAPE(2, 3), -1, 1));
  TU_GRADCHECK(square_of_reduced, NULL, 1, &x);
  TU_GRADGRADCHECK(square_of_reduced, NULL, 1, &x);
  gr_release(x);
  gr_set_all_reduce(NULL, NULL);
}

static void test_errors(void **state) {
  gr_set_all_reduce(broken, NULL);
  gr_tensor *x = TU_OK(tu_rand(TU_SHAPE(2), -1, 1));
  TU_ERROR(gr_all_reduce(x), "transport is down", NULL, NULL);
  gr_set_all_reduce(NULL, NULL);
  gr_tensor *i = TU_OK(gr_randint(TU_SHAPE(3), 0, 4));
  TU_ERROR(gr_all_reduce(i), "all_reduce", NULL, NULL);
  assert_null(gr_all_reduce(NULL));
  gr_release(i);
  gr_release(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_world_of_one_copies),
      cmocka_unit_test(test_sum_and_its_gradient),
      cmocka_unit_test(test_gradcheck),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
