/* The engine: recording, gr_grad, create_graph, freeing, pruning; views. */
#include <string.h>

#include "testutil.h"

static gr_tensor *f_mul_add(gr_tensor *const *in, void *ctx) {
  gr_pool_push();
  return gr_pool_pop_keep(gr_add(gr_mul(in[0], in[1]), in[0]));
}

static gr_tensor *f_div(gr_tensor *const *in, void *ctx) { return gr_div(in[0], in[1]); }
static gr_tensor *f_sub(gr_tensor *const *in, void *ctx) { return gr_sub(in[0], in[1]); }

static void test_binary_grads_broadcast(void **state) {
  gr_tensor *a = tu_rand(TU_SHAPE(2, 3, 4), -1, 1), *b = tu_rand(TU_SHAPE(3, 1), 0.5, 1.5);
  gr_tensor *in[2] = {a, b};
  TU_GRADCHECK(f_mul_add, NULL, 2, in);
  TU_GRADCHECK(f_div, NULL, 2, in);
  TU_GRADCHECK(f_sub, NULL, 2, in);
  TU_GRADGRADCHECK(f_mul_add, NULL, 2, in);
  TU_GRADGRADCHECK(f_div, NULL, 2, in);
  gr_release(a);
  gr_release(b);
}

static void test_noncontiguous_inputs(void **state) {
  gr_tensor *a0 = tu_rand(TU_SHAPE(3, 5), -1, 1), *b0 = tu_rand(TU_SHAPE(3, 5), -1, 1);
  gr_tensor *a = tu_noncontig(a0), *b = tu_noncontig(b0);
  assert_false(gr_is_contiguous(a));
  TU_CLOSE(a, a0, 0, 0);
  gr_tensor *y = TU_OK(gr_mul(a, b)), *y0 = TU_OK(gr_mul(a0, b0));
  TU_CLOSE(y, y0, 0, 0);
  gr_tensor *in[2] = {a, b};
  TU_GRADCHECK(f_mul_add, NULL, 2, in);
  gr_release(y);
  gr_release(y0);
  gr_release(a);
  gr_release(b);
  gr_release(a0);
  gr_release(b0);
}

static gr_tensor *f_views(gr_tensor *const *in, void *ctx) {
  gr_pool_push();
  gr_tensor *x = in[0]; /* (2,3,4) */
  gr_tensor *t = gr_transpose(x, 0, 2);                          /* (4,3,2) */
  gr_tensor *r = gr_reshape(t, 2, (int64_t[]){4, 6});             /* copy: not viewable */
  int fd[1] = {1};
  gr_tensor *fl = gr_flip(r, 1, fd);
  gr_tensor *e = gr_expand(gr_unsqueeze(fl, 0), 3, (int64_t[]){2, 4, 6});
  gr_tensor *s = gr_mul(e, e);
  return gr_pool_pop_keep(gr_sum(s, 1, (int[]){1}, true));
}

static void test_view_grads(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3, 4), -1, 1);
  gr_tensor *in[1] = {x};
  TU_GRADCHECK(f_views, NULL, 1, in);
  TU_GRADGRADCHECK(f_views, NULL, 1, in);
  gr_release(x);
}

static void test_views_share_storage(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(4, 6), -1, 1);
  gr_tensor *v = TU_OK(gr_reshape(x, 3, (int64_t[]){2, 2, 6}));
  assert_ptr_equal(v->storage, x->storage);
  gr_tensor *p = TU_OK(gr_transpose(x, 0, 1));
  assert_ptr_equal(p->storage, x->storage);
  assert_false(gr_is_contiguous(p));
  /* (6,4) transposed back viewed as (3,2,4): dims split without a copy */
  gr_tensor *q = TU_OK(gr_reshape(p, 3, (int64_t[]){3, 2, 4}));
  assert_ptr_equal(q->storage, x->storage);
  assert_float_equal(gr_get_flat(q, 5), gr_get_flat(x, 4 * 6 - 24 + 1 * 6 + 1), 0);
  gr_tensor *n = TU_OK(gr_narrow(x, 1, 2, 3));
  assert_ptr_equal(n->storage, x->storage);
  assert_float_equal(gr_get_flat(n, 0), gr_get_flat(x, 2), 0);
  gr_tensor *s = TU_OK(gr_select(x, 0, -1));
  assert_int_equal(s->ndim, 1);
  assert_float_equal(gr_get_flat(s, 0), gr_get_flat(x, 18), 0);
  gr_release(s);
  gr_release(n);
  gr_release(q);
  gr_release(p);
  gr_release(v);
  gr_release(x);
}

static gr_tensor *f_contiguous(gr_tensor *const *in, void *ctx) {
  gr_pool_push();
  return gr_pool_pop_keep(gr_contiguous(gr_transpose(in[0], 0, 1)));
}

/* contiguous copies a strided view (and is the identity to autograd); clone always copies */
static void test_contiguous_and_clone(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(3, 4), -1, 1);
  gr_tensor *p = TU_OK(gr_transpose(x, 0, 1)), *c = TU_OK(gr_contiguous(p));
  assert_true(gr_is_contiguous(c));
  assert_ptr_not_equal(c->storage, x->storage);
  TU_CLOSE(c, p, 0, 0);
  gr_tensor *same = TU_OK(gr_contiguous(x)), *k = TU_OK(gr_clone(x));
  assert_ptr_equal(same->storage, x->storage);
  assert_ptr_not_equal(k->storage, x->storage);
  TU_CLOSE(k, x, 0, 0);
  gr_tensor *in[1] = {x};
  TU_GRADCHECK(f_contiguous, NULL, 1, in);
  TU_GRADGRADCHECK(f_contiguous, NULL, 1, in);
  gr_release(k);
  gr_release(same);
  gr_release(c);
  gr_release(p);
  gr_release(x);
}

static void test_bad_shapes_give_messages(void **state) {
  gr_tensor *a = tu_rand(TU_SHAPE(2, 3), 0, 1), *b = tu_rand(TU_SHAPE(4), 0, 1);
  assert_null(gr_add(a, b));
  assert_non_null(strstr(gr_errmsg(), "add"));
  assert_non_null(strstr(gr_errmsg(), "[2, 3]"));
  assert_non_null(strstr(gr_errmsg(), "[4]"));
  assert_null(gr_reshape(a, 1, (int64_t[]){7}));
  assert_non_null(strstr(gr_errmsg(), "reshape"));
  /* NULL propagates and keeps the first message */
  assert_null(gr_mul(gr_add(a, b), a));
  assert_non_null(strstr(gr_errmsg(), "add"));
  assert_null(gr_permute(a, (int[]){0, 0}));
  gr_release(a);
  gr_release(b);
}

static void test_graph_freed_and_retain(void **state) {
  int64_t nodes0 = gr_live_nodes(), tensors0 = gr_live_tensors();
  gr_tensor *x = tu_rand(TU_SHAPE(5), -1, 1);
  gr_set_requires_grad(x, true);
  gr_tensor *y = TU_OK(gr_mul(x, x));
  gr_tensor *z = TU_OK(gr_sum(y, 0, NULL, false));
  assert_true(gr_live_nodes() > nodes0);
  gr_tensor *g = NULL;
  assert_int_equal(gr_grad(1, &z, 1, &x, NULL, &g), GR_OK);
  for (int i = 0; i < 5; i++) assert_float_equal(gr_get_flat(g, i), 2 * gr_get_flat(x, i), 1e-6);
  gr_release(g);
  /* the pass gave the saved values back: a second pass is refused clearly */
  assert_int_equal(gr_grad(1, &z, 1, &x, NULL, &g), GR_ESTATE);
  assert_non_null(strstr(gr_errmsg(), "retain_graph"));
  gr_release(z);
  gr_release(y);
  assert_int_equal(gr_live_nodes(), nodes0);
  /* with retain_graph, twice */
  y = TU_OK(gr_mul(x, x));
  z = TU_OK(gr_sum(y, 0, NULL, false));
  gr_grad_opts o = {.retain_graph = true};
  assert_int_equal(gr_grad(1, &z, 1, &x, &o, &g), GR_OK);
  gr_release(g);
  assert_int_equal(gr_grad(1, &z, 1, &x, &o, &g), GR_OK);
  gr_release(g);
  gr_release(z);
  gr_release(y);
  gr_release(x);
  assert_int_equal(gr_live_nodes(), nodes0);
  assert_int_equal(gr_live_tensors(), tensors0);
}

/* ones are implied for a scalar output only: a (2,3) loss is refused, named by its shape */
static void test_non_scalar_output(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(2, 3), -1, 1);
  gr_set_requires_grad(x, true);
  gr_tensor *y = TU_OK(gr_mul(x, x));
  gr_tensor *g = NULL;
  gr_grad_opts o = {.retain_graph = true};
  assert_int_equal(gr_grad(1, &y, 1, &x, &o, &g), GR_EARG);
  assert_non_null(strstr(gr_errmsg(), "[2, 3], not a scalar"));
  assert_null(g);
  gr_tensor *ones = TU_OK(gr_full(GR_F32, 2, (int64_t[]){2, 3}, 1.0));
  o.grad_outputs = &ones;
  assert_int_equal(gr_grad(1, &y, 1, &x, &o, &g), GR_OK);
  for (int i = 0; i < 6; i++) assert_float_equal(gr_get_flat(g, i), 2 * gr_get_flat(x, i), 1e-6);
  gr_release(g);
  gr_release(ones);
  gr_release(y);
  gr_release(x);
}

static void test_no_grad_and_detach(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(3), -1, 1);
  gr_set_requires_grad(x, true);
  bool prev = gr_set_grad_enabled(false);
  gr_tensor *y = TU_OK(gr_mul(x, x));
  gr_set_grad_enabled(prev);
  assert_false(y->requires_grad);
  assert_null(y->grad_fn);
  gr_tensor *d = TU_OK(gr_detach(x));
  assert_false(d->requires_grad);
  gr_tensor *z = TU_OK(gr_mul(d, x));
  gr_tensor *s = TU_OK(gr_sum(z, 0, NULL, false));
  gr_tensor *g;
  assert_int_equal(gr_grad(1, &s, 1, &x, NULL, &g), GR_OK);
  /* only the attached factor contributes: d(d*x)/dx = d */
  TU_CLOSE(g, x, 1e-6, 0);
  gr_release(g);
  assert_int_equal(gr_grad(1, &y, 1, &x, NULL, &g), GR_EARG);
  gr_release(s);
  gr_release(z);
  gr_release(d);
  gr_release(y);
  gr_release(x);
}

static void test_grad_of_intermediate_and_unused(void **state) {
  gr_tensor *x = tu_rand(TU_SHAPE(4), -1, 1), *u = tu_rand(TU_SHAPE(2), -1, 1);
  gr_set_requires_grad(x, true);
  gr_set_requires_grad(u, true);
  gr_tensor *h = TU_OK(gr_mul_scalar(x, 3.0));
  gr_tensor *hh = TU_OK(gr_mul(h, h));
  gr_tensor *y = TU_OK(gr_sum(hh, 0, NULL, false));
  gr_release(hh);
  gr_tensor *ins[3] = {h, x, u}, *g[3];
  gr_grad_opts o = {.allow_unused = true, .retain_graph = true};
  assert_int_equal(gr_grad(1, &y, 3, ins, &o, g), GR_OK);
  for (int i = 0; i < 4; i++) {
    assert_float_equal(gr_get_flat(g[0], i), 2 * gr_get_flat(h, i), 1e-5);
    assert_float_equal(gr_get_flat(g[1], i), 18 * gr_get_flat(x, i), 1e-4);
  }
  assert_null(g[2]);
  gr_release(g[0]);
  gr_release(g[1]);
  o.allow_unused = false;
  assert_int_equal(gr_grad(1, &y, 3, ins, &o, g), GR_OK);
  assert_float_equal(gr_get_flat(g[2], 0), 0, 0);
  for (int i = 0; i < 3; i++) gr_release(g[i]);
  gr_release(y);
  gr_release(h);
  gr_release(x);
  gr_release(u);
}

/* a long chain must neither overflow the stack in the walk nor when freed */
static void test_deep_graph(void **state) {
  int64_t nodes0 = gr_live_nodes();
  gr_tensor *x = tu_rand(TU_SHAPE(2), -1, 1);
  gr_set_requires_grad(x, true);
  gr_tensor *y = gr_retain(x);
  for (int i = 0; i < 200000; i++) {
    gr_tensor *n = TU_OK(gr_add_scalar(y, 1e-6));
    gr_release(y);
    y = n;
  }
  gr_tensor *s = TU_OK(gr_sum(y, 0, NULL, false)), *g;
  assert_int_equal(gr_grad(1, &s, 1, &x, NULL, &g), GR_OK);
  assert_float_equal(gr_get_flat(g, 1), 1, 0);
  gr_release(g);
  gr_release(s);
  gr_release(y);
  gr_release(x);
  assert_int_equal(gr_live_nodes(), nodes0);
}

static void test_pools(void **state) {
  int64_t t0 = gr_live_tensors();
  gr_pool_push();
  gr_tensor *a = gr_scalar(2), *b = gr_scalar(3);
  gr_tensor *c = gr_add(gr_mul(a, b), a);
  gr_tensor *kept = gr_pool_pop_keep(c);
  assert_int_equal(gr_live_tensors(), t0 + 1);
  assert_float_equal(gr_get_flat(kept, 0), 8, 0);
  gr_release(kept);
  assert_int_equal(gr_live_tensors(), t0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binary_grads_broadcast),
      cmocka_unit_test(test_noncontiguous_inputs),
      cmocka_unit_test(test_view_grads),
      cmocka_unit_test(test_views_share_storage),
      cmocka_unit_test(test_contiguous_and_clone),
      cmocka_unit_test(test_bad_shapes_give_messages),
      cmocka_unit_test(test_graph_freed_and_retain),
      cmocka_unit_test(test_no_grad_and_detach),
      cmocka_unit_test(test_grad_of_intermediate_and_unused),
      cmocka_unit_test(test_deep_graph),
      cmocka_unit_test(test_pools),
      cmocka_unit_test(test_non_scalar_output),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
