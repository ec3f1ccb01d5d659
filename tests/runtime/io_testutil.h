/* Helpers of the file tests: a temporary folder per program, whole-file
 * reads and writes, and checks of failing loads. */
#ifndef GR_IO_TESTUTIL_H
#define GR_IO_TESTUTIL_H

#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char g_dir[512];

static int io_setup(void **state) {
  const char *base = getenv("TMPDIR");
  snprintf(g_dir, sizeof g_dir, "%s/ganlua_io_XXXXXX", base && *base ? base : "/tmp");
  return mkdtemp(g_dir) ? 0 : -1;
}

/* Removes everything in the folder (flat), then the folder. */
static int io_teardown(void **state) {
  DIR *d = opendir(g_dir);
  if (!d) return 0;
  struct dirent *e;
  char p[1024];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
    struct stat sb;
    if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
      chmod(p, 0755);
      DIR *sd = opendir(p);
      struct dirent *se;
      char q[1536];
      while (sd && (se = readdir(sd)))
        if (strcmp(se->d_name, ".") && strcmp(se->d_name, "..")) {
          snprintf(q, sizeof q, "%s/%s", p, se->d_name);
          unlink(q);
        }
      if (sd) closedir(sd);
      rmdir(p);
    } else {
      unlink(p);
    }
  }
  closedir(d);
  rmdir(g_dir);
  return 0;
}

/* g_dir/name, in a small ring of buffers. */
static const char *tpath(const char *name) {
  static char ring[8][1024];
  static int next;
  char *b = ring[next++ & 7];
  snprintf(b, 1024, "%s/%s", g_dir, name);
  return b;
}

/* A FIFO (named pipe) g_dir/name with no writer: opening it for reading
 * the plain way would wait for a writer for ever. */
static const char *make_fifo(const char *name) {
  const char *p = tpath(name);
  unlink(p);
  if (mkfifo(p, 0600) != 0) fail_msg("mkfifo %s failed", p);
  return p;
}

static void write_bytes(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (len) assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

/* The whole file (malloc'd, caller frees); NULL if it cannot be read. */
static unsigned char *read_bytes(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
  *len = fread(b, 1, (size_t)n, f);
  fclose(f);
  return b;
}

/* Entries in a folder, "." and ".." excluded. */
static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

/* The last message contains want; prints it otherwise. */
static void expect_msg_(const char *want, const char *file, int line) {
  if (!strstr(gr_errmsg(), want)) {
    print_error("%s:%d: message \"%s\" lacks \"%s\"\n", file, line, gr_errmsg(), want);
    _fail(file, line);
  }
}
#define EXPECT_MSG(want) expect_msg_((want), __FILE__, __LINE__)

/* Offset in elements of logical element i (row-major). */
static int64_t elem_off(const gr_tensor *t, int64_t i) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    off += (i % t->shape[d]) * t->stride[d];
    i /= t->shape[d];
  }
  return off;
}

/* Same dtype, shape and bit-identical values (any layouts). */
static void assert_same_tensor(const gr_tensor *a, const gr_tensor *b) {
  assert_int_equal(a->dtype, b->dtype);
  assert_true(gr_same_shape(a, b));
  size_t es = gr_dtype_size(a->dtype);
  for (int64_t i = 0; i < gr_numel(a); i++)
    assert_memory_equal((char *)a->storage->data + elem_off(a, i) * (int64_t)es,
                        (char *)b->storage->data + elem_off(b, i) * (int64_t)es, es);
}

/* Folder of the test data (tests/data): from CTest's environment, or next
 * to this file's source when a test program is run by hand. */
static const char *test_data_dir(void) {
  static char buf[1024];
  const char *d = getenv("GANLUA_TEST_DATA");
  if (d && *d) return d;
  snprintf(buf, sizeof buf, "%s", __FILE__);
  char *slash = strrchr(buf, '/');
  if (!slash) return "../data";
  snprintf(slash, sizeof buf - (size_t)(slash - buf), "/../data");
  return buf;
}

#endif
