/* Define-by-run automatic differentiation.
 *
 * An op records a node on its result when grad mode is on and one of its
 * inputs requires a gradient. gr_grad walks the nodes in reverse topological
 * order; each op's gradient rule is written in ops, so with create_graph the
 * gradients are recorded too and can be differentiated again, to any order.
 */
#ifndef GANRT_AUTOGRAD_H
#define GANRT_AUTOGRAD_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gr_grad_opts {
  gr_tensor *const *grad_outputs; /* one per output, or NULL: every output must be a scalar */
  bool create_graph;              /* record the backward pass (double backward) */
  bool retain_graph;              /* keep saved values for another pass (implied by create_graph) */
  bool allow_unused;              /* an input the outputs do not depend on gets NULL, not an error */
} gr_grad_opts;

/* grads[i] receives d(sum of outputs . grad_outputs)/d inputs[i]: a new
 * reference (pooled when a pool is pushed), zeros for an input the outputs
 * do not depend on, or NULL there with allow_unused. Without retain_graph
 * the walked nodes give back their saved values; a second pass through
 * them fails with GR_ESTATE. Nodes no input depends on are not run, and a
 * rule computes only the input gradients asked for. */
gr_status gr_grad(int nout, gr_tensor *const *outputs, int nin, gr_tensor *const *inputs,
                  const gr_grad_opts *opts, gr_tensor **grads);

/* Grad mode is per thread, on by default. set returns the previous mode. */
bool gr_grad_enabled(void);
bool gr_set_grad_enabled(bool on);

/* Name of the op that made t ("" for a leaf). */
const char *gr_grad_fn_name(const gr_tensor *t);

/* Profile: while enabled, the wall time of every op's kernel is added up
 * per op (a gradient rule's work shows as the ops it is made of). Enabling
 * starts from zero; read fills up to max entries and returns the count. */
typedef struct gr_op_profile {
  const char *name;
  int64_t calls;
  double ms;
} gr_op_profile;
void gr_profile_enable(bool on);
int gr_profile_read(gr_op_profile *out, int max);

/* Live node count, for tests that check graphs are freed. */
int64_t gr_live_nodes(void);
/* Live tensor count and bytes held by live storages. */
int64_t gr_live_tensors(void);
int64_t gr_live_bytes(void);
/* Bytes of freed buffers kept for reuse, and giving them back to the system. */
int64_t gr_cached_bytes(void);
void gr_cache_clear(void);

#ifdef __cplusplus
}
#endif
#endif
