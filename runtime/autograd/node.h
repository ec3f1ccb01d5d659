/* The autograd node, shared by the engine and the op implementations. */
#ifndef GANRT_NODE_H
#define GANRT_NODE_H

#include "ganrt/tensor.h"
#include "ops/op_impl.h"

struct gr_node {
  int refs;
  gr_op op;
  int nin, nout;
  gr_tensor **in;                   /* the op's inputs (retained; NULL for absent optional ones) */
  gr_tensor *saved[GR_MAX_SAVED];   /* values the rule needs beyond the inputs */
  int saved_out[GR_MAX_SAVED];      /* k when saved[j] is output k (kept detached), else -1 */
  int nsaved;
  gr_attrs a;
  int out_ndim[GR_MAX_OUT];
  int64_t out_shape[GR_MAX_OUT][GR_MAX_DIM];
  bool released; /* saved values given back after a gr_grad without retain_graph */
  /* engine scratch, valid during one gr_grad */
  int slot;
  unsigned mark;
};

void gr_node_release(gr_node *n);

#endif
