/* IDX, the MNIST family's format: 00 00 type ndim, ndim big-endian u32
 * dims, then the elements big-endian in row-major order. Plain or gzip:
 * zlib's gzread reads both.
 *
 * The header's dims are only a claim: the data is read into a buffer that
 * grows as bytes really arrive, so a lying header in a small file never
 * makes a big allocation, and the element count must match exactly. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "io_internal.h"

/* Larger element counts are refused (the train split of MNIST is 47 M). */
#define IDX_MAX_ELEMS ((int64_t)1 << 31)

static int idx_type_size(int type) {
  switch (type) {
  case 0x08: case 0x09: return 1; /* u8, i8 */
  case 0x0B: return 2;            /* i16 */
  case 0x0C: case 0x0D: return 4; /* i32, f32 */
  case 0x0E: return 8;            /* f64 */
  default: return 0;
  }
}

static const char *idx_type_name(int type) {
  switch (type) {
  case 0x08: return "u8";
  case 0x09: return "i8";
  case 0x0B: return "i16";
  case 0x0C: return "i32";
  case 0x0D: return "f32";
  default: return "f64";
  }
}

/* zlib's account of why a read stopped, or "" for a plain end of file
 * (without the "path: " that zlib puts in front). */
static const char *gz_why(gzFile gz, const char *path) {
  int err;
  const char *m = gzerror(gz, &err);
  if (err == Z_OK || !m) return "";
  size_t n = strlen(path);
  return strncmp(m, path, n) == 0 && strncmp(m + n, ": ", 2) == 0 ? m + n + 2 : m;
}

/* Reads up to want bytes; returns how many arrived (fewer at end of data), -1 on error. */
static int64_t gz_read_all(gzFile gz, unsigned char *dst, int64_t want) {
  int64_t got = 0;
  while (got < want) {
    int64_t k = want - got < (1 << 30) ? want - got : (1 << 30);
    int r = gzread(gz, dst + got, (unsigned)k);
    if (r < 0) return -1;
    if (r == 0) break;
    got += r;
  }
  return got;
}

/* Element i of raw data of the given type, as a double (exact for every type). */
static double idx_value(const unsigned char *p, int type) {
  switch (type) {
  case 0x08: return p[0];
  case 0x09: return (signed char)p[0];
  case 0x0B: return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
  case 0x0C: return (int32_t)gr_be32(p);
  case 0x0D: {
    uint32_t u = gr_be32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  default: {
    uint64_t u = (uint64_t)gr_be32(p) << 32 | gr_be32(p + 4);
    double d;
    memcpy(&d, &u, 8);
    return d;
  }
  }
}

static gr_status idx_read(const char *path, gzFile gz, bool as_int, gr_tensor **out) {
  const char *who = "idx_load";
  unsigned char head[4], dimb[4 * 6];
  int64_t k = gz_read_all(gz, head, 4);
  if (k < 0)
    return gr_fail(GR_EFORMAT, "%s: %s: corrupt or unreadable: %s", who, path, gz_why(gz, path));
  if (k < 4)
    return gr_fail(GR_EFORMAT, "%s: %s: the file is too short for an IDX header", who, path);
  if (head[0] != 0 || head[1] != 0)
    return gr_fail(GR_EFORMAT, "%s: %s: not an IDX file (magic %02x %02x %02x %02x; expected 00 "
                   "00 type ndim)", who, path, head[0], head[1], head[2], head[3]);
  int type = head[2], ndim = head[3], es = idx_type_size(type);
  if (!es)
    return gr_fail(GR_EFORMAT, "%s: %s: unknown IDX element type 0x%02x (known: 08 u8, 09 i8, 0B "
                   "i16, 0C i32, 0D f32, 0E f64)", who, path, type);
  if (ndim < 1 || ndim > GR_MAX_DIM)
    return gr_fail(GR_EFORMAT, "%s: %s: %d dimensions; IDX files here have 1 to %d", who, path,
                   ndim, GR_MAX_DIM);
  k = gz_read_all(gz, dimb, 4 * ndim);
  if (k < 0)
    return gr_fail(GR_EFORMAT, "%s: %s: corrupt or unreadable: %s", who, path, gz_why(gz, path));
  if (k < 4 * ndim)
    return gr_fail(GR_EFORMAT, "%s: %s: truncated in the list of %d dimensions", who, path, ndim);
  int64_t shape[GR_MAX_DIM], numel = 1;
  bool too_many = false;
  for (int d = 0; d < ndim; d++) {
    shape[d] = gr_be32(dimb + 4 * d);
    /* dims are below 2^32, so the product only needs checking against the cap */
    if (numel > IDX_MAX_ELEMS) too_many = true;
    else numel *= shape[d];
  }
  if (numel == 0) too_many = false;
  for (int d = 0; d < ndim; d++)
    if (shape[d] == 0) numel = 0, too_many = false;
  if (too_many || numel > IDX_MAX_ELEMS)
    return gr_fail(GR_EFORMAT, "%s: %s: shape %s has more than %lld elements", who, path,
                   gr_dims_str(ndim, shape), (long long)IDX_MAX_ELEMS);
  int64_t want = numel * es;
  /* grow the buffer with the data actually read, doubling */
  int64_t cap = want < (1 << 20) ? want : (1 << 20), got = 0;
  unsigned char *raw = malloc(cap ? (size_t)cap : 1);
  if (!raw) return gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);
  for (;;) {
    k = gz_read_all(gz, raw + got, cap - got);
    if (k < 0) {
      free(raw);
      return gr_fail(GR_EFORMAT, "%s: %s: data unreadable after %lld of %lld bytes: %s", who, path,
                     (long long)got, (long long)want, gz_why(gz, path));
    }
    got += k;
    if (got < cap || cap == want) break;
    int64_t ncap = cap * 2 < want ? cap * 2 : want;
    unsigned char *r2 = realloc(raw, (size_t)ncap);
    if (!r2) {
      free(raw);
      return gr_fail(GR_ENOMEM, "%s: %s: out of memory for %lld bytes", who, path, (long long)ncap);
    }
    raw = r2;
    cap = ncap;
  }
  if (got < want) {
    const char *why = gz_why(gz, path);
    free(raw);
    return gr_fail(GR_EFORMAT, "%s: %s: truncated: shape %s of %s needs %lld data bytes, the file "
                   "has %lld%s%s", who, path, gr_dims_str(ndim, shape), idx_type_name(type),
                   (long long)want, (long long)got, *why ? "; zlib: " : "", why);
  }
  /* exactly the claimed data, and then a clean end (gzip: trailer checked) */
  unsigned char extra;
  k = gz_read_all(gz, &extra, 1);
  if (k != 0 || *gz_why(gz, path)) {
    free(raw);
    if (k > 0)
      return gr_fail(GR_EFORMAT, "%s: %s: bytes follow the %lld data bytes of shape %s: not an IDX "
                     "file of that shape", who, path, (long long)want, gr_dims_str(ndim, shape));
    return gr_fail(GR_EFORMAT, "%s: %s: corrupt or truncated after the data: %s", who, path,
                   gz_why(gz, path));
  }
  gr_pool_push_off();
  gr_tensor *t = gr_empty(as_int ? GR_I64 : GR_F32, ndim, shape);
  gr_pool_pop();
  if (!t) {
    free(raw);
    return gr_errcode();
  }
  if (as_int) {
    int64_t *o = gr_i64(t);
    for (int64_t i = 0; i < numel; i++) {
      double v = idx_value(raw + i * es, type);
      /* float files convert only when every value is a whole number in range */
      if ((type == 0x0D || type == 0x0E) &&
          !(v == floor(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0)) {
        free(raw);
        gr_release(t);
        return gr_fail(GR_EFORMAT, "%s: %s: integers asked, but element %lld of the %s data is %g",
                       who, path, (long long)i, idx_type_name(type), v);
      }
      o[i] = (int64_t)v;
    }
  } else {
    float *o = gr_f32(t);
    for (int64_t i = 0; i < numel; i++) o[i] = (float)idx_value(raw + i * es, type);
  }
  free(raw);
  *out = t;
  return GR_OK;
}

gr_status gr_idx_load(const char *path, bool as_int, gr_tensor **out) {
  const char *who = "idx_load";
  if (!out) return gr_fail(GR_EARG, "%s: out is NULL", who);
  *out = NULL;
  if (!path) return gr_fail(GR_EARG, "%s: path is NULL", who);
  int fd = gr_io_open_read(who, path);
  if (fd < 0) return gr_errcode();
  errno = 0;
  gzFile gz = gzdopen(fd, "rb");
  if (!gz) {
    close(fd);
    return gr_fail(GR_EIO, "%s: %s: cannot open: %s", who, path,
                   errno ? strerror(errno) : "out of memory");
  }
  gzbuffer(gz, 1 << 17);
  gr_tensor *t = NULL;
  gr_status s = idx_read(path, gz, as_int, &t);
  gzclose(gz);
  *out = gr_autorelease(t);
  return s;
}
