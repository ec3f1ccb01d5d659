/* What an op implementation sees: the forward and backward contexts, the
 * attributes, gr_apply. Internal to runtime/. */
#ifndef GANRT_OP_IMPL_H
#define GANRT_OP_IMPL_H

#include "ganrt/ganrt.h"

#define GR_MAX_OUT 4
#define GR_MAX_SAVED 8
#define GR_MAX_IATTR 24

typedef enum gr_op {
#define OP(name, nin, nout) GR_OP_##name,
#define CONST(name, nin, nout) GR_OP_##name,
#include "ops.def"
#undef OP
#undef CONST
  GR_OP_COUNT
} gr_op;

/* An op's parameters: integers (dims, strides, flags) and reals. */
typedef struct gr_attrs {
  int64_t i[GR_MAX_IATTR];
  double f[4];
} gr_attrs;

/* forward: read in/a, set out[0..nout-1] (owned references). When
 * `recording`, call gr_save for the values the rule will need. */
typedef struct gr_fwd {
  gr_op op;
  int nin;
  gr_tensor *const *in;
  const gr_attrs *a;
  gr_tensor *out[GR_MAX_OUT];
  bool recording;
  gr_tensor *saved[GR_MAX_SAVED];
  int nsaved;
} gr_fwd;

/* backward: for each i with needs[i], set gin[i] to the gradient of the
 * input (the shape of in[i]). The rule runs inside a pool, so it may build
 * expressions of ops freely; with create_graph they are recorded. */
typedef struct gr_bwd {
  gr_node *node;
  gr_tensor *const *in; /* the node's inputs */
  const gr_attrs *a;
  gr_tensor *gout[GR_MAX_OUT]; /* never NULL: zeros where no gradient reached */
  const bool *needs;
  gr_tensor **gin;
  bool create_graph;
} gr_bwd;

typedef gr_status (*gr_forward_fn)(gr_fwd *f);
typedef gr_status (*gr_backward_fn)(gr_bwd *b);

typedef struct gr_op_info {
  const char *name;
  int nin, nout;
  gr_forward_fn forward;
  gr_backward_fn backward; /* NULL for CONST ops */
} gr_op_info;

extern const gr_op_info gr_op_table[GR_OP_COUNT];

#define OP(name, nin, nout) \
  gr_status name##_forward(gr_fwd *f); \
  gr_status name##_backward(gr_bwd *b);
#define CONST(name, nin, nout) gr_status name##_forward(gr_fwd *f);
#include "ops.def"
#undef OP
#undef CONST

/* Runs op on the inputs (NULL allowed for optional ones) and records a node
 * when grad mode is on and an input requires a gradient. Outputs are new
 * references (pooled when a pool is pushed). */
gr_status gr_apply(gr_op op, int nin, gr_tensor *const *in, const gr_attrs *a, int nout,
                   gr_tensor **out);
/* One output: the tensor, or NULL. */
gr_tensor *gr_apply1(gr_op op, int nin, gr_tensor *const *in, const gr_attrs *a);

/* In a forward: keep t (an input, an output or a new tensor) for the rule. */
void gr_save(gr_fwd *f, gr_tensor *t);
/* In a rule: saved value j. A saved output comes back attached to the node
 * when the graph is being recorded, so rules that use their output (tanh,
 * exp, ...) differentiate correctly again. Borrowed. */
gr_tensor *gr_saved(gr_bwd *b, int j);

/* A public op built from other ops: evaluates expr inside a pool and hands
 * back only its result. */
#define GR_COMPOSITE(expr) (gr_pool_push(), gr_pool_pop_keep(expr))

/* Common checks; each sets a message naming the op and returns false. */
bool gr_check_float(const char *op, const char *arg, const gr_tensor *t);
bool gr_check_int(const char *op, const char *arg, const gr_tensor *t);
bool gr_check_ndim(const char *op, const char *arg, const gr_tensor *t, int ndim);
/* Broadcast shape of a and b into shape/ndim; false (with message) if incompatible. */
bool gr_broadcast_shape(const char *op, const gr_tensor *a, const gr_tensor *b, int *ndim,
                        int64_t *shape);

#endif
