/* IDX, the MNIST family's format: 00 00 type ndim, ndim big-endian u32
 * dims, then the elements big-endian in row-major order. Plain or gzip
 * (one or more members, read here with zlib's inflate so that anything
 * after the last member is seen and refused; gzread ignores it).
 *
 * The header's dims are only a claim: the data is read into a buffer that
 * grows as bytes really arrive, so a lying header in a small file never
 * makes a big allocation, and the element count must match exactly. A
 * gzip file can still inflate about a thousandfold, so the elements are
 * capped: IDX_MAX_ELEMS, at most 1 GiB of data and 1 GiB of tensor. */
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
#define IDX_MAX_ELEMS ((int64_t)1 << 27)

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

/* The bytes of a file, plain or gzip'd. `why` says why a read stopped
 * early ("" for a clean end of the data). */
typedef struct idx_src {
  int fd;
  bool gz, eof, member_done, z_live;
  z_stream z; /* next_in/avail_in: the unread input, for both kinds */
  unsigned char in[1 << 17];
  char why[160];
} idx_src;

/* More input when the buffer is empty; false on a read error. */
static bool src_fill(idx_src *s) {
  if (s->z.avail_in > 0 || s->eof) return true;
  ssize_t r;
  do r = read(s->fd, s->in, sizeof s->in);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    snprintf(s->why, sizeof s->why, "read error: %s", strerror(errno));
    return false;
  }
  s->z.next_in = s->in;
  s->z.avail_in = (uInt)r;
  if (r == 0) s->eof = true;
  return true;
}

/* Opens the stream: gzip when the file starts with 1f 8b. */
static bool src_open(idx_src *s, int fd) {
  memset(s, 0, sizeof *s);
  s->fd = fd;
  if (!src_fill(s)) return false;
  if (s->z.avail_in >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
    s->gz = true;
    if (inflateInit2(&s->z, 15 + 16) != Z_OK) {
      snprintf(s->why, sizeof s->why, "out of memory for zlib");
      return false;
    }
    s->z_live = true;
  }
  return true;
}

static void src_close(idx_src *s) {
  if (s->z_live) inflateEnd(&s->z);
  close(s->fd);
}

/* Reads up to want bytes; returns how many arrived (fewer at the end of the
 * data), -1 on an error explained in s->why. After a gzip member only
 * another member may follow. */
static int64_t src_read(idx_src *s, unsigned char *dst, int64_t want) {
  int64_t got = 0;
  while (got < want) {
    if (!src_fill(s)) return -1;
    if (!s->gz) {
      if (s->z.avail_in == 0) break;
      uInt k = s->z.avail_in < want - got ? s->z.avail_in : (uInt)(want - got);
      memcpy(dst + got, s->z.next_in, k);
      s->z.next_in += k, s->z.avail_in -= k, got += k;
      continue;
    }
    if (s->member_done) {
      if (s->z.avail_in == 0) break; /* end of file after a whole member */
      if (s->z.next_in[0] != 0x1f || (s->z.avail_in > 1 && s->z.next_in[1] != 0x8b)) {
        snprintf(s->why, sizeof s->why, "bytes that are not gzip data follow the compressed data");
        return -1;
      }
      inflateReset(&s->z);
      s->member_done = false;
    }
    if (s->z.avail_in == 0) {
      snprintf(s->why, sizeof s->why, "the gzip data ends early");
      return -1;
    }
    int64_t room = want - got < (int64_t)1 << 30 ? want - got : (int64_t)1 << 30;
    s->z.next_out = dst + got;
    s->z.avail_out = (uInt)room;
    int r = inflate(&s->z, Z_NO_FLUSH);
    got += room - (int64_t)s->z.avail_out;
    if (r == Z_STREAM_END) s->member_done = true;
    else if (r != Z_OK && r != Z_BUF_ERROR) {
      snprintf(s->why, sizeof s->why, "corrupt gzip data: %s",
               s->z.msg ? s->z.msg : r == Z_MEM_ERROR ? "out of memory" : "inflate failed");
      return -1;
    }
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

static gr_status idx_read(const char *path, idx_src *src, bool as_int, gr_tensor **out) {
  const char *who = "idx_load";
  unsigned char head[4], dimb[4 * 6];
  int64_t k = src_read(src, head, 4);
  if (k < 0) return gr_fail(GR_EFORMAT, "%s: %s: corrupt or unreadable: %s", who, path, src->why);
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
  k = src_read(src, dimb, 4 * ndim);
  if (k < 0) return gr_fail(GR_EFORMAT, "%s: %s: corrupt or unreadable: %s", who, path, src->why);
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
    k = src_read(src, raw + got, cap - got);
    if (k < 0) {
      free(raw);
      return gr_fail(GR_EFORMAT, "%s: %s: data unreadable after %lld of %lld bytes: %s", who, path,
                     (long long)got, (long long)want, src->why);
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
    const char *why = src->why;
    free(raw);
    return gr_fail(GR_EFORMAT, "%s: %s: truncated: shape %s of %s needs %lld data bytes, the file "
                   "has %lld%s%s", who, path, gr_dims_str(ndim, shape), idx_type_name(type),
                   (long long)want, (long long)got, *why ? "; zlib: " : "", why);
  }
  /* exactly the claimed data, and then a clean end (gzip: trailer checked,
   * nothing after the last member) */
  unsigned char extra;
  k = src_read(src, &extra, 1);
  if (k != 0) {
    free(raw);
    if (k > 0)
      return gr_fail(GR_EFORMAT, "%s: %s: bytes follow the %lld data bytes of shape %s: not an IDX "
                     "file of that shape", who, path, (long long)want, gr_dims_str(ndim, shape));
    return gr_fail(GR_EFORMAT, "%s: %s: corrupt or truncated after the data: %s", who, path,
                   src->why);
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
  idx_src *src = malloc(sizeof *src);
  if (!src) {
    close(fd);
    return gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);
  }
  gr_tensor *t = NULL;
  gr_status s = src_open(src, fd)
                    ? idx_read(path, src, as_int, &t)
                    : gr_fail(GR_EIO, "%s: %s: cannot read: %s", who, path, src->why);
  src_close(src);
  free(src);
  *out = gr_autorelease(t);
  return s;
}
