/* PNG and JPEG: every PNG colour type and bit depth (files made here with
 * libpng), JPEGs made here with libjpeg, channel conversion, round trips,
 * detection by content, and truncated, corrupt and hostile files. */
#include "io_testutil.h"

#include <jpeglib.h>
#include <math.h>
#include <png.h>
#include <zlib.h>

/* --- making PNGs with libpng ---------------------------------------------- */

typedef struct png_case {
  int color, depth, interlace;
  bool trns;
  int w, h;
} png_case;

static int file_channels(int color) {
  switch (color) {
  case PNG_COLOR_TYPE_GRAY: return 1;
  case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
  case PNG_COLOR_TYPE_RGB: return 3;
  case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
  default: return 1; /* palette: one index */
  }
}

static int sample(int x, int y, int c, int maxv) {
  if (maxv == 65535) return (x * 7919 + y * 104729 + c * 31337 + x * y * 613) % 65536;
  return (x * 37 + y * 101 + c * 59 + x * y * 13) % (maxv + 1);
}

static png_color pal_color(int i) {
  return (png_color){(png_byte)((i * 53 + 7) % 256), (png_byte)((i * 97 + 3) % 256),
                     (png_byte)((i * 11 + 200) % 256)};
}

static void write_png_rows(const char *path, const png_case *pc, png_bytep *rows,
                           const png_color *palette, int npal, const png_byte *trans, int ntrans,
                           const png_color_16 *tc) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) fail_msg("libpng could not write the test file %s", path);
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)pc->w, (png_uint_32)pc->h, pc->depth, pc->color,
               pc->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (palette) png_set_PLTE(png, info, palette, npal);
  if (trans || tc) png_set_tRNS(png, info, trans, ntrans, tc);
  png_write_info(png, info);
  png_write_image(png, rows); /* interlaces by itself */
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  fclose(f);
}

/* Writes the case's file; fills ref (C, h, w) with what a loader must return
 * for channels 0, and *cref with C. */
static void make_png(const char *path, const png_case *pc, double *ref, int *cref) {
  int w = pc->w, h = pc->h, depth = pc->depth, cin = file_channels(pc->color);
  bool pal = pc->color == PNG_COLOR_TYPE_PALETTE;
  int maxv = pal ? (1 << depth) - 1 : (1 << depth) - 1;
  int npal = pal ? (1 << depth) : 0, ntrans = pal ? (npal < 3 ? npal : 3) : 0;
  png_color palette[256];
  png_byte trans[3];
  for (int i = 0; i < npal; i++) palette[i] = pal_color(i);
  for (int i = 0; i < ntrans; i++) trans[i] = (png_byte)(i * 100 + 5);
  png_color_16 tc = {0};
  if (pc->color == PNG_COLOR_TYPE_GRAY) tc.gray = (png_uint_16)sample(0, 0, 0, maxv);
  if (pc->color == PNG_COLOR_TYPE_RGB) {
    tc.red = (png_uint_16)sample(0, 0, 0, maxv);
    tc.green = (png_uint_16)sample(0, 0, 1, maxv);
    tc.blue = (png_uint_16)sample(0, 0, 2, maxv);
  }
  size_t rowbytes = ((size_t)w * (size_t)cin * (size_t)depth + 7) / 8;
  unsigned char *buf = calloc((size_t)h, rowbytes);
  png_bytep *rows = malloc(sizeof *rows * (size_t)h);
  /* the reference: channels as a loader expands them */
  int C = pal ? (pc->trns ? 4 : 3) : cin + (pc->trns ? 1 : 0);
  *cref = C;
  int64_t plane = (int64_t)w * h;
  for (int y = 0; y < h; y++) {
    rows[y] = buf + (size_t)y * rowbytes;
    for (int x = 0; x < w; x++) {
      int v[4];
      for (int c = 0; c < cin; c++) {
        v[c] = sample(x, y, c, maxv);
        size_t bit = ((size_t)x * (size_t)cin + (size_t)c) * (size_t)depth;
        if (depth == 16) {
          rows[y][bit / 8] = (unsigned char)(v[c] >> 8);
          rows[y][bit / 8 + 1] = (unsigned char)(v[c] & 0xff);
        } else {
          rows[y][bit / 8] |= (unsigned char)(v[c] << (8 - depth - bit % 8)); /* MSB first */
        }
      }
      double *r = ref + (int64_t)y * w + x;
      if (pal) {
        png_color col = palette[v[0]];
        r[0] = col.red / 255.0, r[plane] = col.green / 255.0, r[2 * plane] = col.blue / 255.0;
        if (pc->trns) r[3 * plane] = v[0] < ntrans ? trans[v[0]] / 255.0 : 1.0;
        continue;
      }
      for (int c = 0; c < cin; c++) r[c * plane] = v[c] / (double)maxv;
      if (pc->trns) {
        bool hit = pc->color == PNG_COLOR_TYPE_GRAY
                       ? v[0] == tc.gray
                       : v[0] == tc.red && v[1] == tc.green && v[2] == tc.blue;
        r[cin * plane] = hit ? 0.0 : 1.0;
      }
    }
  }
  write_png_rows(path, pc, rows, pal ? palette : NULL, npal, pal && pc->trns ? trans : NULL, ntrans,
                 pc->trns && !pal ? &tc : NULL);
  free(rows);
  free(buf);
}

static void test_png_color_types(void **state) {
  const int G = PNG_COLOR_TYPE_GRAY, GA = PNG_COLOR_TYPE_GRAY_ALPHA, RGB = PNG_COLOR_TYPE_RGB,
            RGBA = PNG_COLOR_TYPE_RGB_ALPHA, P = PNG_COLOR_TYPE_PALETTE;
  const int I = PNG_INTERLACE_ADAM7, N = PNG_INTERLACE_NONE;
  const png_case cases[] = {
      {G, 1, N, false, 13, 7},   {G, 2, N, false, 13, 7},   {G, 4, N, false, 13, 7},
      {G, 8, N, false, 13, 7},   {G, 16, N, false, 13, 7},  {GA, 8, N, false, 13, 7},
      {GA, 16, N, false, 13, 7}, {RGB, 8, N, false, 13, 7}, {RGB, 16, N, false, 13, 7},
      {RGBA, 8, N, false, 13, 7}, {RGBA, 16, N, false, 13, 7}, {P, 1, N, false, 13, 7},
      {P, 2, N, false, 13, 7},   {P, 4, N, false, 13, 7},   {P, 8, N, false, 13, 7},
      {P, 1, N, true, 13, 7},    {P, 2, N, true, 13, 7},    {P, 4, N, true, 13, 7},
      {P, 8, N, true, 13, 7},    {G, 8, N, true, 13, 7},    {G, 16, N, true, 13, 7},
      {G, 2, N, true, 13, 7},    {RGB, 8, N, true, 13, 7},  {RGB, 16, N, true, 13, 7},
      {RGB, 8, I, false, 11, 9}, {G, 16, I, false, 11, 9},  {P, 4, I, true, 11, 9},
      {RGBA, 16, I, false, 11, 9}, {GA, 8, I, false, 3, 2}, {G, 1, I, false, 1, 1},
      {RGB, 8, N, false, 1, 1},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const png_case *pc = &cases[k];
    double *ref = malloc(sizeof(double) * 4 * (size_t)(pc->w * pc->h));
    int C;
    const char *p = tpath("case.png");
    make_png(p, pc, ref, &C);
    gr_tensor *x = NULL;
    if (gr_png_load(p, 0, &x) != GR_OK)
      fail_msg("case %zu (color %d, depth %d): %s", k, pc->color, pc->depth, gr_errmsg());
    if (x->ndim != 3 || x->shape[0] != C || x->shape[1] != pc->h || x->shape[2] != pc->w)
      fail_msg("case %zu: shape %s, want [%d, %d, %d]", k, gr_shape_str(x), C, pc->h, pc->w);
    TU_CLOSE_D(x, ref, 1e-6, 0);
    gr_release(x);
    /* content, not name, decides */
    assert_int_equal(gr_image_load(p, 0, &x), GR_OK);
    TU_CLOSE_D(x, ref, 1e-6, 0);
    gr_release(x);
    free(ref);
  }
}

/* channels 1..4 from an RGBA file and from a gray file */
static void test_png_channel_conversion(void **state) {
  const char *p = tpath("rgba.png");
  png_case pc = {PNG_COLOR_TYPE_RGB_ALPHA, 8, PNG_INTERLACE_NONE, false, 9, 5};
  double ref[4 * 45];
  int C;
  make_png(p, &pc, ref, &C);
  int64_t n = 45;
  gr_tensor *x[5];
  for (int c = 0; c <= 4; c++) assert_int_equal(gr_png_load(p, c, &x[c]), GR_OK);
  assert_int_equal(x[0]->shape[0], 4);
  for (int c = 1; c <= 4; c++) assert_int_equal(x[c]->shape[0], c);
  double luma[45], ga[90], rgb[135];
  for (int64_t i = 0; i < n; i++) {
    luma[i] = 0.299 * ref[i] + 0.587 * ref[n + i] + 0.114 * ref[2 * n + i];
    ga[i] = luma[i], ga[n + i] = ref[3 * n + i];
    for (int c = 0; c < 3; c++) rgb[c * n + i] = ref[c * n + i];
  }
  TU_CLOSE_D(x[1], luma, 1e-6, 0);
  TU_CLOSE_D(x[2], ga, 1e-6, 0);
  TU_CLOSE_D(x[3], rgb, 1e-6, 0);
  TU_CLOSE_D(x[4], ref, 1e-6, 0);
  for (int c = 0; c <= 4; c++) gr_release(x[c]);

  const char *g = tpath("gray.png");
  png_case gc = {PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, false, 9, 5};
  make_png(g, &gc, ref, &C);
  double rep[4 * 45];
  for (int64_t i = 0; i < n; i++) {
    for (int c = 0; c < 3; c++) rep[c * n + i] = ref[i];
    rep[3 * n + i] = 1.0;
  }
  gr_tensor *y;
  assert_int_equal(gr_png_load(g, 3, &y), GR_OK);
  TU_CLOSE_D(y, rep, 1e-6, 0);
  gr_release(y);
  assert_int_equal(gr_png_load(g, 4, &y), GR_OK);
  TU_CLOSE_D(y, rep, 1e-6, 0);
  gr_release(y);
  assert_int_equal(gr_png_load(g, 5, &y), GR_EARG);
  EXPECT_MSG("channels");
  assert_null(y);
  assert_int_equal(gr_png_load(g, -1, &y), GR_EARG);
}

static void test_png_save_roundtrip(void **state) {
  int entries = count_entries(g_dir);
  static const int color_byte[5] = {0, 0, 4, 2, 6}; /* IHDR colour type per C */
  for (int C = 1; C <= 4; C++) {
    gr_tensor *x0 = tu_rand(TU_SHAPE(C, 7, 10), -0.2, 1.2);
    gr_tensor *x = tu_noncontig(x0);
    const char *p = tpath("save.png");
    assert_int_equal(gr_png_save(p, x), GR_OK);
    size_t len;
    unsigned char *b = read_bytes(p, &len);
    assert_true(len > 33);
    assert_memory_equal(b + 12, "IHDR", 4);
    assert_int_equal(b[24], 8); /* bit depth */
    assert_int_equal(b[25], color_byte[C]);
    free(b);
    double *want = malloc(sizeof(double) * (size_t)gr_numel(x0));
    for (int64_t i = 0; i < gr_numel(x0); i++) {
      double v = gr_get_flat(x0, i);
      v = v < 0 ? 0 : v > 1 ? 1 : v;
      want[i] = floor(v * 255 + 0.5) / 255;
    }
    gr_tensor *y;
    assert_int_equal(gr_png_load(p, 0, &y), GR_OK);
    assert_int_equal(y->shape[0], C);
    TU_CLOSE_D(y, want, 1e-6, 0);
    gr_release(y);
    free(want);
    gr_release(x);
    gr_release(x0);
  }
  /* NaN and infinities are clamped too */
  float v[3] = {NAN, INFINITY, -INFINITY};
  gr_tensor *s = gr_from_f32(v, 3, (int64_t[]){1, 1, 3}), *y;
  assert_int_equal(gr_png_save(tpath("nan.png"), s), GR_OK);
  assert_int_equal(gr_png_load(tpath("nan.png"), 0, &y), GR_OK);
  double want[3] = {0, 1, 0};
  TU_CLOSE_D(y, want, 0, 0);
  gr_release(y);
  gr_release(s);
  assert_int_equal(count_entries(g_dir), entries + 2); /* no temporaries left */
}

static void test_png_save_bad_args(void **state) {
  const char *p = tpath("bad.png");
  gr_tensor *a = gr_zeros(GR_F32, 3, (int64_t[]){5, 2, 2});
  gr_tensor *b = gr_zeros(GR_F32, 2, (int64_t[]){2, 2});
  gr_tensor *c = gr_zeros(GR_I64, 3, (int64_t[]){1, 2, 2});
  gr_tensor *d = gr_zeros(GR_F32, 3, (int64_t[]){1, 0, 2});
  assert_int_equal(gr_png_save(p, a), GR_EARG);
  EXPECT_MSG("C in 1..4");
  EXPECT_MSG("[5, 2, 2]");
  assert_int_equal(gr_png_save(p, b), GR_EARG);
  assert_int_equal(gr_png_save(p, c), GR_EARG);
  EXPECT_MSG("int64");
  assert_int_equal(gr_png_save(p, d), GR_EARG);
  assert_int_equal(gr_png_save(p, NULL), GR_EARG);
  gr_tensor *ok = gr_zeros(GR_F32, 3, (int64_t[]){1, 2, 2});
  assert_int_equal(gr_png_save(tpath("nope/x.png"), ok), GR_EIO);
  EXPECT_MSG("png_save");
  assert_int_equal(access(p, F_OK), -1);
  gr_release(a);
  gr_release(b);
  gr_release(c);
  gr_release(d);
  gr_release(ok);
}

/* A loader fails with code, returns NULL, and names the file (and frag). */
static void expect_img_fail_(gr_status (*load)(const char *, int, gr_tensor **), const char *path,
                             gr_status code, const char *frag, const char *file, int line) {
  gr_tensor *x = (gr_tensor *)1;
  gr_status s = load(path, 0, &x);
  if (s != code) {
    print_error("%s:%d: status %d, want %d (%s)\n", file, line, s, code, gr_errmsg());
    _fail(file, line);
  }
  assert_null(x);
  expect_msg_(path, file, line);
  if (frag) expect_msg_(frag, file, line);
}
#define EXPECT_IMG_FAIL(load, path, code, frag) \
  expect_img_fail_((load), (path), (code), (frag), __FILE__, __LINE__)

/* Loads each variant; returns how many loads failed. Each must fail cleanly or succeed. */
static int load_variant(gr_status (*load)(const char *, int, gr_tensor **), const char *p) {
  gr_tensor *x = NULL;
  gr_status s = load(p, 0, &x);
  if (s == GR_OK) {
    assert_non_null(x);
    gr_release(x);
    return 0;
  }
  assert_int_equal(s, GR_EFORMAT);
  assert_null(x);
  EXPECT_MSG(p);
  return 1;
}

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static void test_png_hostile(void **state) {
  const char *good = tpath("good.png"), *p = tpath("hostile.png");
  png_case pc = {PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, false, 13, 7};
  double ref[3 * 91];
  int C;
  make_png(good, &pc, ref, &C);
  size_t len;
  unsigned char *b = read_bytes(good, &len);
  /* every prefix */
  for (size_t k = 0; k < len; k++) {
    write_bytes(p, b, k);
    EXPECT_IMG_FAIL(gr_png_load, p, GR_EFORMAT, k < 8 ? "not a PNG file" : "truncated");
    EXPECT_IMG_FAIL(gr_image_load, p, GR_EFORMAT, NULL);
  }
  /* every byte flipped: a clean result either way, mostly refusals (CRCs) */
  int fails = 0;
  for (size_t k = 0; k < len; k++) {
    b[k] ^= 0x5a;
    write_bytes(p, b, len);
    fails += load_variant(gr_png_load, p);
    b[k] ^= 0x5a;
  }
  assert_true(fails > (int)len / 2);
  /* a header that claims 100000 x 100000 pixels, with a correct CRC */
  unsigned char *h = malloc(len);
  memcpy(h, b, len);
  put_be32(h + 16, 100000);
  put_be32(h + 20, 100000);
  put_be32(h + 29, (uint32_t)crc32(0, h + 12, 17));
  write_bytes(p, h, len);
  EXPECT_IMG_FAIL(gr_png_load, p, GR_EFORMAT, "exceed the limit");
  /* an invalid bit depth, correct CRC */
  memcpy(h, b, len);
  h[24] = 3;
  put_be32(h + 29, (uint32_t)crc32(0, h + 12, 17));
  write_bytes(p, h, len);
  EXPECT_IMG_FAIL(gr_png_load, p, GR_EFORMAT, "png_load");
  free(h);
  /* not an image at all */
  write_bytes(p, "hello, world\n", 13);
  EXPECT_IMG_FAIL(gr_png_load, p, GR_EFORMAT, "not a PNG file");
  EXPECT_IMG_FAIL(gr_image_load, p, GR_EFORMAT, "not a PNG or JPEG");
  write_bytes(p, "", 0);
  EXPECT_IMG_FAIL(gr_image_load, p, GR_EFORMAT, "not a PNG or JPEG");
  EXPECT_IMG_FAIL(gr_png_load, tpath("missing.png"), GR_EIO, "cannot open");
  EXPECT_IMG_FAIL(gr_image_load, tpath("missing.png"), GR_EIO, "cannot open");
  EXPECT_IMG_FAIL(gr_png_load, g_dir, GR_EIO, "is a folder");
  EXPECT_IMG_FAIL(gr_image_load, g_dir, GR_EIO, "is a folder");
  /* a FIFO is refused at once instead of blocking the run */
  const char *fifo = make_fifo("image.fifo");
  EXPECT_IMG_FAIL(gr_png_load, fifo, GR_EIO, "not a regular file");
  EXPECT_IMG_FAIL(gr_jpeg_load, fifo, GR_EIO, "not a regular file");
  EXPECT_IMG_FAIL(gr_image_load, fifo, GR_EIO, "not a regular file");
  free(b);
}

/* --- JPEG made with libjpeg -------------------------------------------------- */

static double px_value(int x, int y, int c) {
  return 0.5 + 0.35 * sin(x * 0.21 + y * 0.13 + c * 1.7);
}

/* A w x h JPEG of the smooth pattern in memory (free() it); ref gets the
 * pattern. progressive: 0 baseline, 1 libjpeg's progression, 2 (gray only)
 * a legal script of 694 scans: every AC coefficient alone, refined bit by bit. */
static unsigned char *make_jpeg(int w, int h, int comps, J_COLOR_SPACE cs, int progressive,
                                unsigned long *size, double *ref) {
  static jpeg_scan_info scans[1 + 63 * 11];
  struct jpeg_compress_struct ci;
  struct jpeg_error_mgr jerr;
  ci.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&ci);
  unsigned char *mem = NULL;
  *size = 0;
  jpeg_mem_dest(&ci, &mem, size);
  ci.image_width = (JDIMENSION)w;
  ci.image_height = (JDIMENSION)h;
  ci.input_components = comps;
  ci.in_color_space = cs;
  jpeg_set_defaults(&ci);
  jpeg_set_quality(&ci, 95, TRUE);
  if (progressive == 1) jpeg_simple_progression(&ci);
  if (progressive == 2) {
    int n = 0;
    scans[n++] = (jpeg_scan_info){1, {0}, 0, 0, 0, 0};
    for (int k = 1; k < 64; k++)
      for (int al = 10; al >= 0; al--)
        scans[n++] = (jpeg_scan_info){1, {0}, k, k, al == 10 ? 0 : al + 1, al};
    ci.scan_info = scans;
    ci.num_scans = n;
  }
  jpeg_start_compress(&ci, TRUE);
  unsigned char *row = malloc((size_t)w * (size_t)comps);
  while (ci.next_scanline < ci.image_height) {
    int y = (int)ci.next_scanline;
    for (int x = 0; x < w; x++)
      for (int c = 0; c < comps; c++) {
        double v = px_value(x, y, c);
        row[x * comps + c] = (unsigned char)lround(v * 255);
        if (ref) ref[((int64_t)c * h + y) * w + x] = row[x * comps + c] / 255.0;
      }
    JSAMPROW r = row;
    jpeg_write_scanlines(&ci, &r, 1);
  }
  jpeg_finish_compress(&ci);
  jpeg_destroy_compress(&ci);
  free(row);
  return mem;
}

/* Mean and max absolute difference between x and ref. */
static void diff_stats(const gr_tensor *x, const double *ref, double *mean, double *max) {
  int64_t n = gr_numel(x);
  *mean = *max = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs(gr_get_flat(x, i) - ref[i]);
    *mean += d / (double)n;
    if (d > *max) *max = d;
  }
}

static void test_jpeg_load(void **state) {
  const int w = 37, h = 23;
  double *ref = malloc(sizeof(double) * 3 * w * h);
  for (int prog = 0; prog <= 1; prog++)
    for (int comps = 1; comps <= 3; comps += 2) {
      unsigned long size;
      unsigned char *mem = make_jpeg(w, h, comps, comps == 1 ? JCS_GRAYSCALE : JCS_RGB, prog,
                                     &size, ref);
      /* a misleading name: detection is by content */
      const char *p = tpath("photo.png");
      write_bytes(p, mem, size);
      free(mem);
      gr_tensor *x, *y;
      assert_int_equal(gr_jpeg_load(p, 0, &x), GR_OK);
      assert_int_equal(x->ndim, 3);
      assert_int_equal(x->shape[0], comps);
      assert_int_equal(x->shape[1], h);
      assert_int_equal(x->shape[2], w);
      double mean, max;
      diff_stats(x, ref, &mean, &max);
      if (mean > 0.01 || max > 0.08)
        fail_msg("comps %d progressive %d: mean error %g, max %g", comps, prog, mean, max);
      assert_int_equal(gr_image_load(p, 0, &y), GR_OK);
      TU_CLOSE(y, x, 0, 0);
      gr_release(y);
      /* conversions against the decoded values */
      int64_t n = (int64_t)w * h;
      double *conv = malloc(sizeof(double) * 4 * (size_t)n);
      for (int c = 1; c <= 4; c++) {
        assert_int_equal(gr_jpeg_load(p, c, &y), GR_OK);
        assert_int_equal(y->shape[0], c);
        for (int64_t i = 0; i < n; i++) {
          double r = gr_get_flat(x, i), g = gr_get_flat(x, comps == 3 ? n + i : i),
                 b = gr_get_flat(x, comps == 3 ? 2 * n + i : i);
          double l = comps == 3 ? 0.299 * r + 0.587 * g + 0.114 * b : r;
          if (c == 1) conv[i] = l;
          if (c == 2) conv[i] = l, conv[n + i] = 1;
          if (c >= 3) conv[i] = r, conv[n + i] = g, conv[2 * n + i] = b;
          if (c == 4) conv[3 * n + i] = 1;
        }
        TU_CLOSE_D(y, conv, 1e-6, 0);
        gr_release(y);
      }
      free(conv);
      gr_release(x);
    }
  free(ref);
}

static void test_jpeg_hostile(void **state) {
  unsigned long size;
  unsigned char *mem = make_jpeg(19, 11, 3, JCS_RGB, false, &size, NULL);
  const char *p = tpath("hostile.jpg");
  for (unsigned long k = 0; k < size; k++) {
    write_bytes(p, mem, k);
    EXPECT_IMG_FAIL(gr_jpeg_load, p, GR_EFORMAT, k < 3 ? "not a JPEG file" : "truncated");
    EXPECT_IMG_FAIL(gr_image_load, p, GR_EFORMAT, NULL);
  }
  write_bytes(p, mem, size - 2);
  EXPECT_IMG_FAIL(gr_jpeg_load, p, GR_EFORMAT, "truncated");
  /* a scan cut short that keeps its EOI marker: libjpeg only warns and pads
   * with gray; refused at every cut */
  unsigned long sos = 0;
  for (unsigned long k = 0; k + 1 < size && !sos; k++)
    if (mem[k] == 0xff && mem[k + 1] == 0xda) sos = k;
  assert_true(sos > 0);
  unsigned char *cut = malloc(size);
  for (unsigned long k = sos + 16; k + 8 < size; k += 7) {
    memcpy(cut, mem, k);
    cut[k] = 0xff, cut[k + 1] = 0xd9;
    write_bytes(p, cut, k + 2);
    EXPECT_IMG_FAIL(gr_jpeg_load, p, GR_EFORMAT, "corrupt image data");
  }
  free(cut);
  /* flipped bytes: refused or decoded, never a crash */
  int fails = 0;
  for (unsigned long k = 0; k < size; k++) {
    mem[k] ^= 0xa5;
    write_bytes(p, mem, size);
    fails += load_variant(gr_jpeg_load, p);
    mem[k] ^= 0xa5;
  }
  assert_true(fails > 0);
  /* a frame header that claims 60000 x 60000 pixels */
  unsigned char *h = malloc(size);
  memcpy(h, mem, size);
  bool found = false;
  for (unsigned long k = 0; k + 9 < size && !found; k++)
    if (h[k] == 0xff && (h[k + 1] == 0xc0 || h[k + 1] == 0xc2)) {
      h[k + 5] = 0xea, h[k + 6] = 0x60, h[k + 7] = 0xea, h[k + 8] = 0x60;
      found = true;
    }
  assert_true(found);
  write_bytes(p, h, size);
  EXPECT_IMG_FAIL(gr_jpeg_load, p, GR_EFORMAT, "exceed the limit");
  free(h);
  free(mem);
  /* a legal file with too many scans is refused */
  mem = make_jpeg(16, 16, 1, JCS_GRAYSCALE, 2, &size, NULL);
  write_bytes(p, mem, size);
  free(mem);
  EXPECT_IMG_FAIL(gr_jpeg_load, p, GR_EFORMAT, "more than 500 progressive scans");
  /* CMYK is refused with a reason */
  mem = make_jpeg(8, 8, 4, JCS_CMYK, false, &size, NULL);
  write_bytes(p, mem, size);
  free(mem);
  EXPECT_IMG_FAIL(gr_jpeg_load, p, GR_EFORMAT, "CMYK");
  /* not a JPEG, and a PNG given to the JPEG reader */
  static const char junk[] = "\xff\xd8\xff garbage that is no JPEG at all";
  write_bytes(p, junk, sizeof junk - 1);
  EXPECT_IMG_FAIL(gr_jpeg_load, p, GR_EFORMAT, "jpeg_load");
  EXPECT_IMG_FAIL(gr_image_load, p, GR_EFORMAT, "jpeg_load");
  write_bytes(p, "GIF89a", 6);
  EXPECT_IMG_FAIL(gr_jpeg_load, p, GR_EFORMAT, "not a JPEG file");
  gr_tensor *one = gr_zeros(GR_F32, 3, (int64_t[]){1, 2, 2});
  assert_int_equal(gr_png_save(tpath("x.jpg"), one), GR_OK); /* a PNG named .jpg */
  EXPECT_IMG_FAIL(gr_jpeg_load, tpath("x.jpg"), GR_EFORMAT, "not a JPEG file");
  gr_tensor *x;
  assert_int_equal(gr_image_load(tpath("x.jpg"), 0, &x), GR_OK);
  TU_CLOSE(x, one, 0, 0);
  gr_release(x);
  gr_release(one);
  EXPECT_IMG_FAIL(gr_jpeg_load, tpath("missing.jpg"), GR_EIO, "cannot open");
}

/* Inside a pool the pool owns what a loader returns, as for any op. */
static void test_pool_ownership(void **state) {
  gr_tensor *one = gr_zeros(GR_F32, 3, (int64_t[]){3, 4, 5});
  assert_int_equal(gr_png_save(tpath("pool.png"), one), GR_OK);
  gr_release(one);
  int64_t t0 = gr_live_tensors();
  gr_pool_push();
  gr_tensor *x;
  assert_int_equal(gr_image_load(tpath("pool.png"), 1, &x), GR_OK);
  assert_int_equal(x->shape[0], 1);
  gr_pool_pop();
  assert_int_equal(gr_live_tensors(), t0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_png_color_types),  cmocka_unit_test(test_png_channel_conversion),
      cmocka_unit_test(test_png_save_roundtrip), cmocka_unit_test(test_png_save_bad_args),
      cmocka_unit_test(test_png_hostile),      cmocka_unit_test(test_jpeg_load),
      cmocka_unit_test(test_jpeg_hostile),     cmocka_unit_test(test_pool_ownership),
  };
  return cmocka_run_group_tests(tests, io_setup, io_teardown);
}
