/* The op table stays in step with its tests, with nothing kept by hand in
 * ops.def's order or count. An op `foo` of ops.def counts as tested when
 * some tests/runtime/test_*.c calls gr_foo(; the few ops that have no public
 * call of their own are listed below by name, each with the public call
 * whose tests run it. */
#define _POSIX_C_SOURCE 200809L /* opendir */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_impl.h"
#include "testutil.h"

/* Ops reached only through another public call. */
static const struct {
  const char *op, *call;
} through[] = {
    /* the ops gradient rules apply (their forward's tests check the
     * gradient and the double backward) */
    {"avg_pool2d_backward", "gr_avg_pool2d("},
    {"upsample_nearest2d_backward", "gr_upsample_nearest2d("},
    {"upsample_bilinear2d_backward", "gr_upsample_bilinear2d("},
    {"pad2d_backward", "gr_pad2d("},
    {"grid_sample_backward", "gr_grid_sample("},
    {"grid_sample_coord", "gr_grid_sample("},
    /* max_pool2d picks its maxima with plane_gather; its rule scatters back */
    {"plane_gather", "gr_max_pool2d("},
    {"plane_scatter", "gr_max_pool2d("},
};
#define NTHROUGH (int)(sizeof through / sizeof through[0])

static int op_index(const char *name) {
  for (int k = 0; k < GR_OP_COUNT; k++)
    if (!strcmp(gr_op_table[k].name, name)) return k;
  return -1;
}

static void test_table_is_well_formed(void **state) {
  assert_true(GR_OP_COUNT > 0);
  for (int k = 0; k < GR_OP_COUNT; k++) {
    const gr_op_info *info = &gr_op_table[k];
    assert_non_null(info->name);
    if (op_index(info->name) != k) fail_msg("%s is in ops.def twice", info->name);
    if (!info->forward) fail_msg("%s has no forward", info->name);
    assert_true(info->nout >= 1 && info->nout <= GR_MAX_OUT);
    assert_true(info->nin >= -1);
  }
}

static void test_exceptions_name_ops(void **state) {
  for (int j = 0; j < NTHROUGH; j++) {
    if (op_index(through[j].op) < 0)
      fail_msg("the exception for %s names no op of ops.def", through[j].op);
    for (int i = 0; i < j; i++)
      if (!strcmp(through[i].op, through[j].op)) fail_msg("%s is listed twice", through[j].op);
  }
}

/* The text of every tests/runtime/test_*.c but this one, joined; NULL if
 * the directory cannot be read. */
static char *read_tests(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return NULL;
  size_t len = 0, cap = 1 << 20;
  char *all = malloc(cap);
  all[0] = '\0';
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (strncmp(e->d_name, "test_", 5) || n < 7 || strcmp(e->d_name + n - 2, ".c") ||
        !strcmp(e->d_name, "test_optable.c"))
      continue;
    char path[4096];
    FILE *f = NULL;
    if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path) f = fopen(path, "rb");
    if (!f) fail_msg("cannot read %s/%s", dir, e->d_name);
    for (;;) {
      if (cap - len < 65536) all = realloc(all, cap *= 2);
      size_t got = fread(all + len, 1, cap - len - 1, f);
      if (!got) break;
      len += got;
    }
    all[len++] = '\n';
    all[len] = '\0';
    fclose(f);
  }
  closedir(d);
  return all;
}

/* whether src holds `call` not as the tail of a longer name (gr_sum( is not in xgr_sum() */
static bool calls(const char *src, const char *call) {
  for (const char *p = src; (p = strstr(p, call)); p++)
    if (p == src || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) return true;
  return false;
}

static void test_each_op_is_called_by_a_test(void **state) {
  const char *data = getenv("GANLUA_TEST_DATA");
  if (!data) skip();
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/../runtime", data);
  char *src = read_tests(dir);
  if (!src) fail_msg("cannot list %s", dir);
  assert_true(calls(src, "gr_add(")); /* the sources were read */
  for (int k = 0; k < GR_OP_COUNT; k++) {
    const char *op = gr_op_table[k].name;
    char own[256];
    snprintf(own, sizeof own, "gr_%s(", op);
    int j = 0;
    while (j < NTHROUGH && strcmp(through[j].op, op)) j++;
    if (j == NTHROUGH) {
      if (!calls(src, own)) fail_msg("%s has no test: no tests/runtime/test_*.c calls %s", op, own);
    } else if (calls(src, own)) {
      fail_msg("a test calls %s: drop the exception for %s", own, op);
    } else if (!calls(src, through[j].call)) {
      fail_msg("%s is said to be tested through %s, which no test calls", op, through[j].call);
    }
  }
  free(src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_is_well_formed),
      cmocka_unit_test(test_exceptions_name_ops),
      cmocka_unit_test(test_each_op_is_called_by_a_test),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
