/* JPEG with libjpeg(-turbo): gray and colour, baseline and progressive.
 *
 * libjpeg's default error_exit ends the process; ours copies the message and
 * longjmps back to the one setjmp, in jpeg_decode, whose allocations hang
 * off a context owned by its caller. A file that ends early, or a scan
 * whose data stops at a marker, holds a bad Huffman code or must resync, is
 * only a warning to libjpeg (it pads the rest with gray, so a few hundred
 * bytes can claim a whole 8192 x 8192 image); here each is an error. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* jpeglib.h needs stdio.h first */
#include <jerror.h>
#include <jpeglib.h>

#include "io_internal.h"

typedef struct jpeg_ctx {
  struct jpeg_decompress_struct cinfo;
  struct jpeg_error_mgr err;
  struct jpeg_progress_mgr progress;
  jmp_buf jb;
  bool created;
  FILE *fp;
  unsigned char *pixels; /* (H, W, C) samples */
  int c;
  uint32_t w, h;
  char msg[JMSG_LENGTH_MAX + 64];
} jpeg_ctx;

static void on_jpeg_error(j_common_ptr cinfo) {
  jpeg_ctx *c = cinfo->client_data;
  (*cinfo->err->format_message)(cinfo, c->msg);
  longjmp(c->jb, 1);
}

/* The warnings that leave every pixel decoded: stray bytes between markers,
 * an unknown JFIF revision or Adobe transform code, a bad ICC marker. */
static bool harmless_warning(int code) {
  return code == JWRN_EXTRANEOUS_DATA || code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM ||
         code == JWRN_BOGUS_ICC;
}

static void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return; /* trace messages */
  cinfo->err->num_warnings++;
  int code = cinfo->err->msg_code;
  if (harmless_warning(code)) return;
  jpeg_ctx *c = cinfo->client_data;
  char m[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, m);
  snprintf(c->msg, sizeof c->msg, "%s (%s)", code == JWRN_JPEG_EOF ? "truncated" : "corrupt image data", m);
  longjmp(c->jb, 1);
}

/* A progressive JPEG may hold any number of scans, each one a full pass
 * over the image; crafted files use thousands to stall a decoder. */
#define JPEG_MAX_SCANS 500

static void on_jpeg_progress(j_common_ptr cinfo) {
  j_decompress_ptr d = (j_decompress_ptr)cinfo;
  if (d->input_scan_number > JPEG_MAX_SCANS) {
    jpeg_ctx *c = cinfo->client_data;
    snprintf(c->msg, sizeof c->msg, "more than %d progressive scans", JPEG_MAX_SCANS);
    longjmp(c->jb, 1);
  }
}

static bool jpeg_decode(jpeg_ctx *c) {
  if (setjmp(c->jb)) return false;
  jpeg_create_decompress(&c->cinfo);
  c->created = true;
  c->cinfo.client_data = c;
  c->progress.progress_monitor = on_jpeg_progress;
  c->cinfo.progress = &c->progress;
  jpeg_stdio_src(&c->cinfo, c->fp);
  jpeg_read_header(&c->cinfo, TRUE);
  struct jpeg_decompress_struct *ci = &c->cinfo;
  if ((int64_t)ci->image_width * ci->image_height > GR_IMAGE_MAX_PIXELS) {
    snprintf(c->msg, sizeof c->msg, "%u x %u pixels exceed the limit of %lld", ci->image_width,
             ci->image_height, (long long)GR_IMAGE_MAX_PIXELS);
    return false;
  }
  switch (ci->jpeg_color_space) {
  case JCS_GRAYSCALE: ci->out_color_space = JCS_GRAYSCALE; break;
  case JCS_YCbCr:
  case JCS_RGB: ci->out_color_space = JCS_RGB; break;
  default:
    snprintf(c->msg, sizeof c->msg, "colour space %d (CMYK or YCCK) is not supported; only gray "
             "and RGB JPEGs are", (int)ci->jpeg_color_space);
    return false;
  }
  jpeg_start_decompress(ci);
  c->c = ci->output_components;
  c->w = ci->output_width;
  c->h = ci->output_height;
  if (c->c != 1 && c->c != 3) {
    snprintf(c->msg, sizeof c->msg, "unexpected %d output channels", c->c);
    return false;
  }
  size_t row = (size_t)c->w * (size_t)c->c;
  size_t total = row * c->h;
  c->pixels = malloc(total ? total : 1);
  if (!c->pixels) {
    snprintf(c->msg, sizeof c->msg, "out of memory for %u x %u pixels", c->w, c->h);
    return false;
  }
  while (ci->output_scanline < ci->output_height) {
    JSAMPROW r = c->pixels + (size_t)ci->output_scanline * row;
    jpeg_read_scanlines(ci, &r, 1);
  }
  jpeg_finish_decompress(ci);
  return true;
}

gr_status gr_jpeg_load(const char *path, int channels, gr_tensor **out) {
  const char *who = "jpeg_load";
  if (!out) return gr_fail(GR_EARG, "%s: out is NULL", who);
  *out = NULL;
  if (!path) return gr_fail(GR_EARG, "%s: path is NULL", who);
  gr_status s = gr_image_check_channels(who, path, channels);
  if (s != GR_OK) return s;
  jpeg_ctx *c = calloc(1, sizeof *c);
  if (!c) return gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);
  c->fp = gr_io_fopen_read(who, path);
  if (!c->fp) {
    free(c);
    return gr_errcode();
  }
  unsigned char m[3];
  gr_tensor *t = NULL;
  if (fread(m, 1, 3, c->fp) != 3 || m[0] != 0xff || m[1] != 0xd8 || m[2] != 0xff) {
    s = gr_fail(GR_EFORMAT, "%s: %s: not a JPEG file (no FF D8 FF start marker)", who, path);
  } else {
    rewind(c->fp);
    c->cinfo.err = jpeg_std_error(&c->err);
    c->err.error_exit = on_jpeg_error;
    c->err.emit_message = on_jpeg_message;
    c->cinfo.client_data = c;
    if (!jpeg_decode(c)) {
      s = gr_fail(GR_EFORMAT, "%s: %s: %s", who, path, c->msg);
    } else {
      t = gr_image_to_tensor(c->pixels, 8, c->c, c->h, c->w, channels);
      if (!t) s = gr_errcode();
    }
  }
  if (c->created) jpeg_destroy_decompress(&c->cinfo);
  fclose(c->fp);
  free(c->pixels);
  free(c);
  *out = gr_autorelease(t);
  return s;
}
