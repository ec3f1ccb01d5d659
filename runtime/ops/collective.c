/* Sums across the processes of a job. The runtime knows no transport: the
 * host installs one function (gr_set_all_reduce) that sums a float buffer
 * in place over every process; MPI lives in the Lua binding. */
#include "op_impl.h"

static gr_all_reduce_fn reduce_fn;
static void *reduce_ctx;

void gr_set_all_reduce(gr_all_reduce_fn fn, void *ctx) {
  reduce_fn = fn;
  reduce_ctx = ctx;
}

gr_status all_reduce_forward(gr_fwd *f) {
  if (!gr_check_float("all_reduce", "x", f->in[0])) return GR_EARG;
  // out is (same shape as x), contiguous: the buffer the transport sums in place
  gr_tensor *out = gr_empty(GR_F32, f->in[0]->ndim, f->in[0]->shape);
  if (!out) return gr_errcode();
  gr_status s = gr_copy_(out, f->in[0]);
  if (s == GR_OK && reduce_fn) s = reduce_fn(gr_f32(out), gr_numel(out), reduce_ctx);
  if (s != GR_OK) {
    gr_release(out);
    return s;
  }
  f->out[0] = out;
  return GR_OK;
}

/* y = sum_p x_p, so d(sum_q L_q)/d x_p = sum_q dL_q/dy: the incoming
 * gradients summed over the processes, which is the op itself (and so
 * differentiable again). */
gr_status all_reduce_backward(gr_bwd *b) {
  b->gin[0] = gr_all_reduce(b->gout[0]);
  return b->gin[0] ? GR_OK : gr_errcode();
}

gr_tensor *gr_all_reduce(gr_tensor *x) {
  if (!x) return NULL;
  return gr_apply1(GR_OP_all_reduce, 1, &x, NULL);
}
