/* PNG with libpng: every colour type and bit depth in, 8-bit out.
 *
 * Reading uses libpng's full API rather than the simplified one because the
 * simplified reader applies gamma (it takes 16-bit files as linear light),
 * while we want the stored sample values, as PIL and torchvision give them.
 * libpng reports errors by longjmp; the one setjmp lives in png_decode, and
 * everything it allocates hangs off a context owned by its caller. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"

typedef struct png_ctx {
  FILE *fp;
  png_structp png;
  png_infop info;
  unsigned char *pixels; /* (H, W, C) samples, 1 or 2 bytes each */
  uint32_t w, h;
  int c, bits;
  char msg[256]; /* libpng's message, or ours */
} png_ctx;

static void on_png_error(png_structp png, png_const_charp msg) {
  png_ctx *c = png_get_error_ptr(png);
  snprintf(c->msg, sizeof c->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
  (void)png; /* warnings (bad ancillary chunks) do not stop a read; stay quiet */
  (void)msg;
}

static void on_png_read(png_structp png, png_bytep data, size_t len) {
  png_ctx *c = png_get_io_ptr(png);
  /* libpng's own reader says only "Read Error" */
  if (fread(data, 1, len, c->fp) != len) png_error(png, "truncated: the file ends early");
}

/* Decodes c->fp (signature already read) into c->pixels; false on error. */
static bool png_decode(png_ctx *c) {
  if (setjmp(png_jmpbuf(c->png))) return false;
  png_set_read_fn(c->png, c, on_png_read);
  png_set_sig_bytes(c->png, 8);
  /* bounds on what ancillary chunks (text, ICC profiles) may allocate */
  png_set_chunk_malloc_max(c->png, (png_alloc_size_t)16 << 20);
  png_set_chunk_cache_max(c->png, 1000);
  png_read_info(c->png, c->info);
  c->w = png_get_image_width(c->png, c->info);
  c->h = png_get_image_height(c->png, c->info);
  if ((int64_t)c->w * c->h > GR_IMAGE_MAX_PIXELS) {
    snprintf(c->msg, sizeof c->msg, "%u x %u pixels exceed the limit of %lld", c->w, c->h,
             (long long)GR_IMAGE_MAX_PIXELS);
    return false;
  }
  /* palette -> RGB, gray below 8 bits -> 8 bits, tRNS -> an alpha channel;
   * 16-bit samples stay 16-bit (big-endian) */
  png_set_expand(c->png);
  int passes = png_set_interlace_handling(c->png);
  png_read_update_info(c->png, c->info);
  c->c = png_get_channels(c->png, c->info);
  c->bits = png_get_bit_depth(c->png, c->info);
  size_t rowbytes = png_get_rowbytes(c->png, c->info);
  if (c->c < 1 || c->c > 4 || (c->bits != 8 && c->bits != 16) ||
      rowbytes != (size_t)c->w * (size_t)c->c * (size_t)(c->bits / 8)) {
    snprintf(c->msg, sizeof c->msg, "unexpected layout after expansion (%d channels, %d bits)",
             c->c, c->bits);
    return false;
  }
  size_t total = rowbytes * c->h;
  c->pixels = malloc(total ? total : 1);
  if (!c->pixels) {
    snprintf(c->msg, sizeof c->msg, "out of memory for %u x %u pixels", c->w, c->h);
    return false;
  }
  /* row by row, pass by pass (Adam7 fills each row over several passes);
   * unlike png_read_image this needs no array of row pointers */
  for (int pass = 0; pass < passes; pass++)
    for (uint32_t y = 0; y < c->h; y++)
      png_read_row(c->png, c->pixels + (size_t)y * rowbytes, NULL);
  /* reading to IEND also checks the chunks after the image: a cut file fails */
  png_read_end(c->png, NULL);
  return true;
}

gr_status gr_png_load(const char *path, int channels, gr_tensor **out) {
  const char *who = "png_load";
  if (!out) return gr_fail(GR_EARG, "%s: out is NULL", who);
  *out = NULL;
  if (!path) return gr_fail(GR_EARG, "%s: path is NULL", who);
  gr_status s = gr_image_check_channels(who, path, channels);
  if (s != GR_OK) return s;
  png_ctx c = {0};
  c.fp = gr_io_fopen_read(who, path);
  if (!c.fp) return gr_errcode();
  unsigned char sig[8];
  if (fread(sig, 1, 8, c.fp) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
    fclose(c.fp);
    return gr_fail(GR_EFORMAT, "%s: %s: not a PNG file (no PNG signature)", who, path);
  }
  c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, on_png_error, on_png_warning);
  c.info = c.png ? png_create_info_struct(c.png) : NULL;
  gr_tensor *t = NULL;
  if (!c.info) {
    s = gr_fail(GR_ENOMEM, "%s: %s: cannot set up libpng", who, path);
  } else if (!png_decode(&c)) {
    s = gr_fail(GR_EFORMAT, "%s: %s: %s", who, path, c.msg);
  } else {
    t = gr_image_to_tensor(c.pixels, c.bits, c.c, c.h, c.w, channels);
    if (!t) s = gr_errcode();
  }
  png_destroy_read_struct(&c.png, c.png ? &c.info : NULL, NULL);
  free(c.pixels);
  fclose(c.fp);
  *out = gr_autorelease(t);
  return s;
}

gr_status gr_png_save(const char *path, const gr_tensor *x) {
  const char *who = "png_save";
  if (!path) return gr_fail(GR_EARG, "%s: path is NULL", who);
  if (!x) return gr_fail(GR_EARG, "%s: %s: x is NULL", who, path);
  if (x->dtype != GR_F32 || x->ndim != 3 || x->shape[0] < 1 || x->shape[0] > 4)
    return gr_fail(GR_EARG, "%s: %s: x must be a float (C,H,W) tensor with C in 1..4, not %s %s",
                   who, path, gr_dtype_name(x->dtype), gr_shape_str(x));
  int64_t C = x->shape[0], H = x->shape[1], W = x->shape[2];
  if (H < 1 || W < 1 || H > PNG_UINT_31_MAX || W > PNG_UINT_31_MAX || H * W > GR_IMAGE_MAX_PIXELS)
    return gr_fail(GR_EARG, "%s: %s: cannot write an image of size %s", who, path, gr_shape_str(x));
  // px is (H,W,C) interleaved 8-bit
  unsigned char *px = malloc((size_t)(C * H * W));
  if (!px) return gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);
  const float *base = (const float *)x->storage->data + x->offset;
  for (int64_t c = 0; c < C; c++)
    for (int64_t i = 0; i < H; i++)
      for (int64_t j = 0; j < W; j++) {
        float v = base[c * x->stride[0] + i * x->stride[1] + j * x->stride[2]];
        v = v > 0 ? (v < 1 ? v : 1) : 0; /* NaN lands on 0 too */
        px[(i * W + j) * C + c] = (unsigned char)(v * 255.0f + 0.5f);
      }
  /* the simplified writer needs no setjmp; 8-bit formats are not premultiplied */
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = (png_uint_32)W;
  img.height = (png_uint_32)H;
  static const png_uint_32 formats[4] = {PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB,
                                         PNG_FORMAT_RGBA};
  img.format = formats[C - 1];
  png_alloc_size_t size = 0;
  gr_status s = GR_OK;
  void *mem = NULL;
  if (!png_image_write_get_memory_size(img, size, 0, px, 0, NULL) ||
      !(mem = malloc(size)) || !png_image_write_to_memory(&img, mem, &size, 0, px, 0, NULL))
    s = gr_fail(!mem && size ? GR_ENOMEM : GR_EIO, "%s: %s: libpng: %s", who, path,
                img.message[0] ? img.message : "out of memory");
  png_image_free(&img);
  free(px);
  if (s == GR_OK) s = gr_atomic_write_as(path, mem, size, who);
  free(mem);
  return s;
}
