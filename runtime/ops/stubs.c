/* Scaffolding while the op families are written: a weak forward and rule
 * for every op in the table, each failing with "not implemented". A real
 * definition in a family file replaces it at link time. */
#include "op_impl.h"

#define STUB_FWD(name) \
  __attribute__((weak)) gr_status name##_forward(gr_fwd *f) { \
    return gr_fail(GR_ESTATE, #name ": not implemented yet"); \
  }
#define OP(name, nin, nout) \
  STUB_FWD(name) \
  __attribute__((weak)) gr_status name##_backward(gr_bwd *b) { \
    return gr_fail(GR_ESTATE, #name ": gradient not implemented yet"); \
  }
#define CONST(name, nin, nout) STUB_FWD(name)
#include "ops.def"
#undef OP
#undef CONST

__attribute__((weak)) gr_tensor *gr_cat(int n, gr_tensor *const *xs, int dim) {
  return gr_fail_null(GR_ESTATE, "cat: not implemented yet");
}
