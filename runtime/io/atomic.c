/* Atomic file writes: a temporary beside the target, fsync, rename, fsync of
 * the folder. A crash or a failure at any point leaves either the old file
 * or the new one, never a torn mix. Also the readers' first check of a path. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_internal.h"

static atomic_uint g_tmp_counter;

gr_status gr_atomic_begin(gr_atomic_file *w, const char *path, const char *who) {
  w->fd = -1;
  w->tmp = NULL;
  w->path = path;
  w->who = who;
  if (!path || !*path) return gr_fail(GR_EARG, "%s: the path is empty", who);
  size_t n = strlen(path) + 48;
  w->tmp = malloc(n);
  if (!w->tmp) return gr_fail(GR_ENOMEM, "%s: %s: out of memory", who, path);
  /* pid and a counter keep concurrent writers (threads, processes) apart;
   * O_EXCL never reuses a leftover, and 0666 lets the umask decide the mode */
  for (int attempt = 0; attempt < 100; attempt++) {
    snprintf(w->tmp, n, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&g_tmp_counter, 1));
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (w->fd >= 0) return GR_OK;
    if (errno != EEXIST) break;
  }
  int e = errno;
  free(w->tmp);
  w->tmp = NULL;
  return gr_fail(GR_EIO, "%s: %s: cannot create a temporary file beside it: %s", who, path,
                 strerror(e));
}

void gr_atomic_abort(gr_atomic_file *w) {
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
  if (w->tmp) unlink(w->tmp);
  free(w->tmp);
  w->tmp = NULL;
}

gr_status gr_atomic_write(gr_atomic_file *w, const void *data, size_t len) {
  if (w->fd < 0)
    return gr_fail(GR_ESTATE, "%s: %s: write after the file was closed", w->who, w->path);
  const char *p = data;
  while (len > 0) {
    /* write may take less than asked (signals, big requests); loop */
    size_t chunk = len < ((size_t)1 << 30) ? len : ((size_t)1 << 30);
    ssize_t k = write(w->fd, p, chunk);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      int e = k < 0 ? errno : EIO;
      gr_atomic_abort(w);
      return gr_fail(GR_EIO, "%s: %s: write failed: %s", w->who, w->path, strerror(e));
    }
    p += k;
    len -= (size_t)k;
  }
  return GR_OK;
}

/* The folder holding path ("." when it has none). Caller frees. */
static char *folder_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  size_t n = (size_t)(slash - path);
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, path, n);
    d[n] = '\0';
  }
  return d;
}

gr_status gr_atomic_commit(gr_atomic_file *w) {
  if (w->fd < 0)
    return gr_fail(GR_ESTATE, "%s: %s: commit after the file was closed", w->who, w->path);
  if (fsync(w->fd) != 0) {
    int e = errno;
    gr_atomic_abort(w);
    return gr_fail(GR_EIO, "%s: %s: fsync failed: %s", w->who, w->path, strerror(e));
  }
  int rc = close(w->fd);
  w->fd = -1;
  if (rc != 0) {
    int e = errno;
    gr_atomic_abort(w);
    return gr_fail(GR_EIO, "%s: %s: close failed: %s", w->who, w->path, strerror(e));
  }
  if (rename(w->tmp, w->path) != 0) {
    int e = errno;
    gr_atomic_abort(w);
    return gr_fail(GR_EIO, "%s: %s: cannot rename the temporary file over it: %s", w->who,
                   w->path, strerror(e));
  }
  free(w->tmp);
  w->tmp = NULL;
  /* The rename is durable only once the folder is synced. The new file is
   * already complete in place, so a folder that refuses fsync (some file
   * systems do) is not an error. */
  char *dir = folder_of(w->path);
  if (dir) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
    free(dir);
  }
  return GR_OK;
}

int gr_io_open_read(const char *who, const char *path) {
  /* O_NONBLOCK: opening a FIFO with no writer returns at once instead of
   * waiting for one; it is cleared again for a regular file */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    gr_fail(GR_EIO, "%s: %s: cannot open: %s", who, path, strerror(errno));
    return -1;
  }
  struct stat sb;
  const char *why = NULL;
  if (fstat(fd, &sb) != 0) why = strerror(errno);
  else if (S_ISDIR(sb.st_mode)) why = "is a folder, not a file";
  else if (!S_ISREG(sb.st_mode)) why = "not a regular file (a FIFO, device or socket)";
  else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) why = strerror(errno);
  if (why) {
    close(fd);
    gr_fail(GR_EIO, "%s: %s: %s", who, path, why);
    return -1;
  }
  return fd;
}

FILE *gr_io_fopen_read(const char *who, const char *path) {
  int fd = gr_io_open_read(who, path);
  if (fd < 0) return NULL;
  FILE *fp = fdopen(fd, "rb");
  if (!fp) {
    gr_fail(GR_EIO, "%s: %s: cannot open: %s", who, path, strerror(errno));
    close(fd);
  }
  return fp;
}

gr_status gr_atomic_write_as(const char *path, const void *data, size_t len, const char *who) {
  if (!data && len > 0) return gr_fail(GR_EARG, "%s: data is NULL but len is %zu", who, len);
  gr_atomic_file w;
  gr_status s = gr_atomic_begin(&w, path, who);
  if (s != GR_OK) return s;
  if (len > 0 && (s = gr_atomic_write(&w, data, len)) != GR_OK) return s;
  return gr_atomic_commit(&w);
}

gr_status gr_write_atomic(const char *path, const void *data, size_t len) {
  return gr_atomic_write_as(path, data, len, "write_atomic");
}
