/* Images: pixel conversion shared by the decoders, and loading by content. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "io_internal.h"

gr_status gr_image_check_channels(const char *who, const char *path, int channels) {
  if (channels < 0 || channels > 4)
    return gr_fail(GR_EARG, "%s: %s: channels must be 0 (as in the file), 1, 2, 3 or 4, not %d",
                   who, path, channels);
  return GR_OK;
}

gr_tensor *gr_image_to_tensor(const unsigned char *px, int bits, int cin, int64_t h, int64_t w,
                              int cout) {
  // px is (H,W,cin) interleaved; the result is (cout,H,W)
  if (cout == 0) cout = cin;
  gr_pool_push_off();
  gr_tensor *t = gr_empty(GR_F32, 3, (int64_t[]){cout, h, w});
  gr_pool_pop();
  if (!t) return NULL;
  float *out = gr_f32(t);
  int64_t plane = h * w;
  float scale = bits == 16 ? 1.0f / 65535.0f : 1.0f / 255.0f;
  size_t bps = bits == 16 ? 2 : 1;
  for (int64_t i = 0; i < plane; i++) {
    const unsigned char *p = px + (size_t)i * (size_t)cin * bps;
    float v[4] = {0};
    for (int c = 0; c < cin; c++)
      v[c] = (bits == 16 ? (float)(p[2 * c] << 8 | p[2 * c + 1]) : (float)p[c]) * scale;
    bool color = cin >= 3, alpha = cin == 2 || cin == 4;
    float a = alpha ? v[cin - 1] : 1.0f;
    float r = v[0], g = color ? v[1] : v[0], b = color ? v[2] : v[0];
    /* ITU-R BT.601 luma on the stored (gamma-encoded) values, as PIL and
     * torchvision compute gray */
    float y = color ? 0.299f * r + 0.587f * g + 0.114f * b : v[0];
    switch (cout) {
    case 1: out[i] = y; break;
    case 2: out[i] = y, out[plane + i] = a; break;
    case 3: out[i] = r, out[plane + i] = g, out[2 * plane + i] = b; break;
    default: out[i] = r, out[plane + i] = g, out[2 * plane + i] = b, out[3 * plane + i] = a; break;
    }
  }
  return t;
}

gr_status gr_image_load(const char *path, int channels, gr_tensor **out) {
  const char *who = "image_load";
  if (!out) return gr_fail(GR_EARG, "%s: out is NULL", who);
  *out = NULL;
  if (!path) return gr_fail(GR_EARG, "%s: path is NULL", who);
  FILE *fp = gr_io_fopen_read(who, path);
  if (!fp) return gr_errcode();
  unsigned char m[8] = {0};
  size_t k = fread(m, 1, sizeof m, fp);
  fclose(fp);
  static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (k == 8 && memcmp(m, png_sig, 8) == 0) return gr_png_load(path, channels, out);
  if (k >= 3 && m[0] == 0xff && m[1] == 0xd8 && m[2] == 0xff)
    return gr_jpeg_load(path, channels, out);
  return gr_fail(GR_EFORMAT,
                 "%s: %s: not a PNG or JPEG image (the first bytes are %02x %02x %02x %02x)", who,
                 path, m[0], m[1], m[2], m[3]);
}
