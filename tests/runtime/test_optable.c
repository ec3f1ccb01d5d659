/* The op table stays in step with its tests: every op in ops.def has a row
 * here naming the test file that checks it and the public call that file
 * uses, and the file must really make that call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_impl.h"
#include "testutil.h"

typedef struct row {
  const char *op, *file, *call;
} row;

static const row rows[] = {
    {"reshape", "test_autograd.c", "gr_reshape("},
    {"permute", "test_autograd.c", "gr_transpose("},
    {"expand", "test_autograd.c", "gr_expand("},
    {"narrow", "test_autograd.c", "gr_narrow("},
    {"flip", "test_autograd.c", "gr_flip("},
    {"contiguous", "test_autograd.c", "gr_reshape("},
    {"add", "test_autograd.c", "gr_add("},
    {"sub", "test_autograd.c", "gr_sub("},
    {"mul", "test_autograd.c", "gr_mul("},
    {"div", "test_autograd.c", "gr_div("},
    {"pow", "test_elementwise.c", "gr_pow"},
    {"maximum", "test_elementwise.c", "gr_maximum"},
    {"minimum", "test_elementwise.c", "gr_minimum"},
    {"where", "test_elementwise.c", "gr_where("},
    {"eq", "test_elementwise.c", "gr_eq"},
    {"ne", "test_elementwise.c", "gr_ne"},
    {"lt", "test_elementwise.c", "gr_lt"},
    {"le", "test_elementwise.c", "gr_le"},
    {"gt", "test_elementwise.c", "gr_gt"},
    {"ge", "test_elementwise.c", "gr_ge"},
    {"add_scalar", "test_elementwise.c", "gr_add_scalar"},
    {"mul_scalar", "test_elementwise.c", "gr_mul_scalar"},
    {"pow_scalar", "test_elementwise.c", "gr_pow_scalar"},
    {"rpow_scalar", "test_elementwise.c", "gr_rpow_scalar"},
    {"clamp", "test_elementwise.c", "gr_clamp"},
    {"neg", "test_elementwise.c", "gr_neg"},
    {"exp", "test_elementwise.c", "gr_exp"},
    {"log", "test_elementwise.c", "gr_log"},
    {"log1p", "test_elementwise.c", "gr_log1p"},
    {"sqrt", "test_elementwise.c", "gr_sqrt"},
    {"rsqrt", "test_elementwise.c", "gr_rsqrt"},
    {"abs", "test_elementwise.c", "gr_abs"},
    {"sign", "test_elementwise.c", "gr_sign"},
    {"sin", "test_elementwise.c", "gr_sin"},
    {"cos", "test_elementwise.c", "gr_cos"},
    {"relu", "test_elementwise.c", "gr_relu"},
    {"leaky_relu", "test_elementwise.c", "gr_leaky_relu"},
    {"elu", "test_elementwise.c", "gr_elu"},
    {"tanh", "test_elementwise.c", "gr_tanh"},
    {"sigmoid", "test_elementwise.c", "gr_sigmoid"},
    {"softplus", "test_elementwise.c", "gr_softplus"},
    {"sum", "test_reduce.c", "gr_sum"},
    {"max_dim", "test_reduce.c", "gr_max_dim"},
    {"min_dim", "test_reduce.c", "gr_min_dim"},
    {"logsumexp", "test_reduce.c", "gr_logsumexp"},
    {"softmax", "test_reduce.c", "gr_softmax"},
    {"log_softmax", "test_reduce.c", "gr_log_softmax"},
    {"matmul", "test_linalg.c", "gr_matmul("},
    {"linear", "test_linalg.c", "gr_linear("},
    {"conv2d", "test_conv.c", "gr_conv2d("},
    {"conv_transpose2d", "test_conv.c", "gr_conv_transpose2d("},
    {"conv2d_weight_grad", "test_conv.c", "gr_conv2d_weight_grad("},
    {"avg_pool2d", "test_resample.c", "gr_avg_pool2d("},
    {"avg_pool2d_backward", "test_resample.c", "gr_avg_pool2d("},
    {"max_pool2d", "test_resample.c", "gr_max_pool2d("},
    {"plane_gather", "test_resample.c", "gr_max_pool2d("},
    {"plane_scatter", "test_resample.c", "gr_max_pool2d("},
    {"upsample_nearest2d", "test_resample.c", "gr_upsample_nearest2d("},
    {"upsample_nearest2d_backward", "test_resample.c", "gr_upsample_nearest2d("},
    {"upsample_bilinear2d", "test_resample.c", "gr_upsample_bilinear2d("},
    {"upsample_bilinear2d_backward", "test_resample.c", "gr_upsample_bilinear2d("},
    {"pad2d", "test_resample.c", "gr_pad2d("},
    {"pad2d_backward", "test_resample.c", "gr_pad2d("},
    {"grid_sample", "test_resample.c", "gr_grid_sample("},
    {"grid_sample_backward", "test_resample.c", "gr_grid_sample("},
    {"grid_sample_coord", "test_resample.c", "gr_grid_sample("},
    {"batch_norm", "test_norm.c", "gr_batch_norm("},
    {"group_norm", "test_norm.c", "gr_group_norm("},
    {"layer_norm", "test_norm.c", "gr_layer_norm("},
    {"cat", "test_index.c", "gr_cat("},
    {"index_select", "test_index.c", "gr_index_select("},
    {"gather", "test_index.c", "gr_gather("},
    {"scatter_add", "test_index.c", "gr_scatter_add("},
    {"one_hot", "test_index.c", "gr_one_hot("},
    {"uniform", "test_random.c", "gr_uniform("},
    {"normal", "test_random.c", "gr_normal("},
    {"bernoulli", "test_random.c", "gr_bernoulli("},
    {"randint", "test_random.c", "gr_randint("},
    {"randperm", "test_random.c", "gr_randperm("},
};

_Static_assert(sizeof rows / sizeof rows[0] == GR_OP_COUNT,
               "every op in ops.def needs a row here (and a test that calls it)");

static void test_rows_follow_the_table(void **state) {
  for (int k = 0; k < GR_OP_COUNT; k++) {
    const gr_op_info *info = &gr_op_table[k];
    if (strcmp(info->name, rows[k].op) != 0)
      fail_msg("row %d is %s but ops.def has %s there", k, rows[k].op, info->name);
    assert_non_null(info->forward);
    assert_true(info->nout >= 1 && info->nout <= GR_MAX_OUT);
    assert_true(info->nin >= -1);
  }
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  size_t got = fread(s, 1, (size_t)n, f);
  s[got] = '\0';
  fclose(f);
  return s;
}

static void test_each_op_is_called_by_its_test(void **state) {
  const char *data = getenv("GANLUA_TEST_DATA");
  if (!data) skip();
  for (int k = 0; k < GR_OP_COUNT; k++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/../runtime/%s", data, rows[k].file);
    char *src = slurp(path);
    if (!src) fail_msg("cannot read %s", path);
    if (!strstr(src, rows[k].call))
      fail_msg("%s is said to test %s but never calls %s", rows[k].file, rows[k].op, rows[k].call);
    free(src);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rows_follow_the_table),
      cmocka_unit_test(test_each_op_is_called_by_its_test),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
