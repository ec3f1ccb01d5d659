/* Fused in-place optimizer updates. They record nothing: call them on leaf
 * parameters with the gradients gr_grad returned. All tensors contiguous
 * float, the same numel.
 *
 * Adam (decoupled 0) : g' = g + wd p;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2
 *                      p -= lr (m / bc1) / (sqrt(v / bc2) + eps)
 * AdamW (decoupled 1): p -= lr wd p first, then the same with g' = g.
 * bc1 = 1 - b1^t, bc2 = 1 - b2^t for step t (1-based).
 * SGD: g' = g + wd p; buf = momentum buf + (1-dampening) g' (buf = g' on the first step);
 *      p -= lr (nesterov ? g' + momentum buf : buf)   (momentum 0: p -= lr g')
 * RMSprop: g' = g + wd p; sq = alpha sq + (1-alpha) g'^2; p -= lr g' / (sqrt(sq) + eps) */
#ifndef GANRT_OPTIM_H
#define GANRT_OPTIM_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

gr_status gr_adam_update(gr_tensor *p, const gr_tensor *g, gr_tensor *m, gr_tensor *v, double lr,
                         double b1, double b2, double eps, double wd, int64_t step, bool decoupled);
gr_status gr_sgd_update(gr_tensor *p, const gr_tensor *g, gr_tensor *buf, double lr,
                        double momentum, double dampening, double wd, bool nesterov, bool first);
gr_status gr_rmsprop_update(gr_tensor *p, const gr_tensor *g, gr_tensor *sq, double lr,
                            double alpha, double eps, double wd);
/* ema = decay * ema + (1 - decay) * x, in place */
gr_status gr_lerp_(gr_tensor *ema, const gr_tensor *x, double decay);
/* x = clamp(x, lo, hi), in place (WGAN's weight clipping) */
gr_status gr_clamp_(gr_tensor *x, double lo, double hi);
/* x = x * s, in place */
gr_status gr_scale_(gr_tensor *x, double s);

#ifdef __cplusplus
}
#endif
#endif
