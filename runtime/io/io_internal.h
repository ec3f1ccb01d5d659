/* Shared pieces of the file readers and writers: the atomic writer, the
 * pixel conversion of the image decoders, small byte helpers. */
#ifndef GANRT_IO_INTERNAL_H
#define GANRT_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ganrt/io.h"

/* --- atomic writes ----------------------------------------------------------
 * begin makes a fresh temporary file beside path; write appends; commit
 * flushes, fsyncs, renames over path and fsyncs the folder; abort (or any
 * failed write or commit) removes the temporary, so path keeps its old
 * content. who prefixes messages ("png_save"). */
typedef struct gr_atomic_file {
  int fd;          /* -1 once closed */
  char *tmp;       /* the temporary's path, NULL once gone */
  const char *path;
  const char *who;
} gr_atomic_file;

gr_status gr_atomic_begin(gr_atomic_file *w, const char *path, const char *who);
gr_status gr_atomic_write(gr_atomic_file *w, const void *data, size_t len);
gr_status gr_atomic_commit(gr_atomic_file *w);
void gr_atomic_abort(gr_atomic_file *w);
/* gr_write_atomic with messages prefixed by who. */
gr_status gr_atomic_write_as(const char *path, const void *data, size_t len, const char *who);

/* Opens path for reading if it is a regular file: a folder (which fopen
 * would open, leaving the reader a misleading "not a PNG file"), a FIFO
 * (whose open or read would block for ever), a device or a socket is
 * refused with GR_EIO and a message, as is a path that cannot be opened.
 * gr_io_open_read gives a descriptor (-1 on failure), gr_io_fopen_read a
 * stream (NULL on failure). */
int gr_io_open_read(const char *who, const char *path);
FILE *gr_io_fopen_read(const char *who, const char *path);

/* --- images ------------------------------------------------------------------ */

/* Decoders refuse images with more pixels than this (64 Mi). */
#define GR_IMAGE_MAX_PIXELS ((int64_t)1 << 26)

/* Interleaved samples px (H, W, cin), 8-bit, or 16-bit big-endian when
 * bits == 16, to a float (cout, H, W) tensor in [0,1]; cout 0 keeps cin.
 * Gray from colour uses the BT.601 luma weights; dropping alpha discards it;
 * adding alpha makes it opaque. The caller owns the result (no pool). */
gr_tensor *gr_image_to_tensor(const unsigned char *px, int bits, int cin, int64_t h, int64_t w,
                              int cout);
/* Checks the channels argument of a loader: 0..4. */
gr_status gr_image_check_channels(const char *who, const char *path, int channels);

/* --- bytes ------------------------------------------------------------------- */

static inline uint32_t gr_be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t gr_le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}
static inline bool gr_host_is_le(void) {
  const uint16_t one = 1;
  return *(const unsigned char *)&one == 1;
}

#endif
