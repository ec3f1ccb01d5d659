/* Weak placeholders for the runtime's file and optimizer functions while
 * runtime/io and runtime/optim are being written: each fails with a message.
 * The runtime's own definitions replace them at link time; this file goes
 * once they exist (like runtime/ops/stubs.c). */
#include "ganrt/ganrt.h"

#define PENDING(name) gr_fail(GR_ESTATE, name ": not implemented yet")

__attribute__((weak)) gr_status gr_safetensors_save(const char *path, int n,
                                                    const char *const *names,
                                                    gr_tensor *const *tensors, int nmeta,
                                                    const char *const *keys,
                                                    const char *const *values) {
  return PENDING("save_safetensors");
}
__attribute__((weak)) gr_status gr_safetensors_load(const char *path, gr_safetensors *out) {
  return PENDING("load_safetensors");
}
__attribute__((weak)) void gr_safetensors_free(gr_safetensors *st) {}
__attribute__((weak)) gr_status gr_image_load(const char *path, int channels, gr_tensor **out) {
  return PENDING("load_image");
}
__attribute__((weak)) gr_status gr_png_save(const char *path, const gr_tensor *x) {
  return PENDING("save_png");
}
__attribute__((weak)) gr_status gr_idx_load(const char *path, bool as_int, gr_tensor **out) {
  return PENDING("load_idx");
}
__attribute__((weak)) gr_status gr_adam_update(gr_tensor *p, const gr_tensor *g, gr_tensor *m,
                                               gr_tensor *v, double lr, double b1, double b2,
                                               double eps, double wd, int64_t step,
                                               bool decoupled) {
  return PENDING("adam");
}
__attribute__((weak)) gr_status gr_sgd_update(gr_tensor *p, const gr_tensor *g, gr_tensor *buf,
                                              double lr, double momentum, double dampening,
                                              double wd, bool nesterov, bool first) {
  return PENDING("sgd");
}
__attribute__((weak)) gr_status gr_rmsprop_update(gr_tensor *p, const gr_tensor *g,
                                                  gr_tensor *sq, double lr, double alpha,
                                                  double eps, double wd) {
  return PENDING("rmsprop");
}
__attribute__((weak)) gr_status gr_lerp_(gr_tensor *ema, const gr_tensor *x, double decay) {
  return PENDING("lerp_");
}
__attribute__((weak)) gr_status gr_clamp_(gr_tensor *x, double lo, double hi) {
  return PENDING("clamp_");
}
__attribute__((weak)) gr_status gr_scale_(gr_tensor *x, double s) {
  return PENDING("scale_");
}
