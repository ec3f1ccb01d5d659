/* Folders and paths without a shell: mkdir -p, test -d, find -type f, pwd.
 *
 * Everything here is stat, mkdir, opendir and getcwd; nothing is opened for
 * reading. Messages name the function and the path the caller gave, and,
 * when they differ, the part of it that failed. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* d_type */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "io_internal.h"

/* --- mkdir -p ------------------------------------------------------------------- */

/* One step of gr_mkdir: makes prefix (a leading part of path) unless it is a
 * folder already. */
static gr_status make_one(const char *path, const char *prefix) {
  struct stat sb;
  if (stat(prefix, &sb) == 0) {
    if (S_ISDIR(sb.st_mode)) return GR_OK;
    if (!strcmp(prefix, path))
      return gr_fail(GR_EIO, "mkdir: %s: exists and is not a folder", path);
    return gr_fail(GR_EIO, "mkdir: %s: %s exists and is not a folder", path, prefix);
  }
  if (mkdir(prefix, 0777) == 0) return GR_OK;
  int e = errno;
  /* another process (an MPI rank, a second run) made it in between */
  if (e == EEXIST && stat(prefix, &sb) == 0 && S_ISDIR(sb.st_mode)) return GR_OK;
  if (!strcmp(prefix, path)) return gr_fail(GR_EIO, "mkdir: %s: %s", path, strerror(e));
  return gr_fail(GR_EIO, "mkdir: %s: cannot make %s: %s", path, prefix, strerror(e));
}

gr_status gr_mkdir(const char *path) {
  if (!path || !*path) return gr_fail(GR_EARG, "mkdir: the path is empty");
  struct stat sb;
  /* the common case, a folder that is there, costs one stat */
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return GR_OK;
  char *p = strdup(path);
  if (!p) return gr_fail(GR_ENOMEM, "mkdir: %s: out of memory", path);
  /* every leading part that ends before a slash ("a", "a/b" of "a/b/c"),
   * then the whole path; a run of slashes ends one part only */
  gr_status s = GR_OK;
  for (char *q = p + 1; *q && s == GR_OK; q++) {
    if (*q != '/' || q[-1] == '/') continue;
    *q = '\0';
    s = make_one(path, p);
    *q = '/';
  }
  if (s == GR_OK) s = make_one(path, p);
  free(p);
  return s;
}

bool gr_is_dir(const char *path) {
  struct stat sb;
  return path && *path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

bool gr_exists(const char *path) {
  struct stat sb;
  return path && *path && stat(path, &sb) == 0;
}

/* --- listing --------------------------------------------------------------------- */

/* A folder on the way down: the walk does not enter one of these again. */
typedef struct walk_dir {
  dev_t dev;
  ino_t ino;
  const struct walk_dir *up;
} walk_dir;

typedef struct walk {
  const char *root; /* as given, for messages */
  const gr_list_opts *opts;
  char **paths;
  size_t n, cap;
} walk;

static bool lower_eq(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
    char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b + 32) : *b;
    if (x != y) return false;
  }
  return *a == *b;
}

static bool ext_wanted(const gr_list_opts *o, const char *name) {
  if (o->next <= 0) return true;
  const char *dot = strrchr(name, '.');
  if (!dot) return false;
  for (int i = 0; i < o->next; i++)
    if (o->exts[i] && lower_eq(dot + 1, o->exts[i])) return true;
  return false;
}

/* dir + "/" + name, without doubling a slash dir ends with. malloc'd. */
static char *join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  bool slash = a > 0 && dir[a - 1] == '/';
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  if (!slash) p[a++] = '/';
  memcpy(p + a, name, b + 1);
  return p;
}

/* Takes over path. */
static gr_status add_path(walk *w, char *path) {
  if (w->n == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 64;
    char **p = realloc(w->paths, cap * sizeof *p);
    if (!p) {
      free(path);
      return gr_fail(GR_ENOMEM, "list_files: %s: out of memory after %zu files", w->root, w->n);
    }
    w->paths = p;
    w->cap = cap;
  }
  w->paths[w->n++] = path;
  return GR_OK;
}

static void free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* What readdir says an entry is, where the file system tells ('f' a regular
 * file, 'd' a folder; '?' a link, or not told): it spares a stat per file,
 * as find -type f does. */
static char entry_kind(const struct dirent *e) {
#ifdef _DIRENT_HAVE_D_TYPE
  if (e->d_type == DT_REG) return 'f';
  if (e->d_type == DT_DIR) return 'd';
#endif
  (void)e;
  return '?';
}

/* The visible names in dir (not ".", "..", or any other starting with a
 * dot), each behind its entry_kind ("fcat.png"), read in full before
 * anything is entered, so that a deep tree holds one open folder at a time.
 * *names NULL and GR_OK when dir cannot be opened for a reason that skips
 * it (see walk_folder). */
static gr_status read_names(walk *w, const char *dir, bool is_root, char ***names, size_t *count) {
  *names = NULL;
  *count = 0;
  DIR *d = opendir(dir);
  if (!d) {
    int e = errno;
    /* below the root, find's old rule: a folder that is gone or may not be
     * read is passed over (a root-owned lost+found on a data disk) */
    if (!is_root && (e == EACCES || e == ENOENT || e == ENOTDIR)) return GR_OK;
    if (is_root) return gr_fail(GR_EIO, "list_files: %s: cannot open: %s", dir, strerror(e));
    return gr_fail(GR_EIO, "list_files: %s: cannot open %s: %s", w->root, dir, strerror(e));
  }
  char **v = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (!e) {
      if (errno == 0) break;
      int err = errno;
      closedir(d);
      free_names(v, n);
      return gr_fail(GR_EIO, "list_files: %s: cannot read %s: %s", w->root, dir, strerror(err));
    }
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 32;
      char **p = realloc(v, cap * sizeof *p);
      if (!p) goto oom;
      v = p;
    }
    size_t len = strlen(e->d_name);
    if (!(v[n] = malloc(len + 2))) goto oom;
    v[n][0] = entry_kind(e);
    memcpy(v[n] + 1, e->d_name, len + 1);
    n++;
  }
  closedir(d);
  *names = v;
  *count = n;
  return GR_OK;
oom:
  closedir(d);
  free_names(v, n);
  return gr_fail(GR_ENOMEM, "list_files: %s: out of memory reading %s", w->root, dir);
}

/* Adds the files of dir (already stat'ed as here) and, when recursive, of
 * its sub-folders. */
static gr_status walk_folder(walk *w, const char *dir, const walk_dir *here) {
  char **names;
  size_t count;
  gr_status s = read_names(w, dir, here->up == NULL, &names, &count);
  if (s != GR_OK || !names) return s;
  for (size_t i = 0; i < count && s == GR_OK; i++) {
    char kind = names[i][0];
    const char *name = names[i] + 1;
    if (kind == 'f' && !ext_wanted(w->opts, name)) continue;
    if (kind == 'd' && !w->opts->recursive) continue;
    char *path = join(dir, name);
    if (!path) {
      s = gr_fail(GR_ENOMEM, "list_files: %s: out of memory", w->root);
      break;
    }
    if (kind == 'f') {
      s = add_path(w, path);
      continue;
    }
    /* stat follows links: a link to a file is that file, a link to a
     * folder that folder; a dangling link or one we may not stat is skipped */
    struct stat sb;
    if (stat(path, &sb) != 0) {
      free(path);
      continue;
    }
    if (S_ISREG(sb.st_mode)) {
      if (ext_wanted(w->opts, name)) {
        s = add_path(w, path);
        continue;
      }
    } else if (S_ISDIR(sb.st_mode) && w->opts->recursive) {
      /* a folder already on the way down is a loop (a link to an ancestor,
       * or a bind mount of one): enter it once only */
      bool loop = false;
      for (const walk_dir *a = here; a && !loop; a = a->up)
        loop = a->dev == sb.st_dev && a->ino == sb.st_ino;
      if (!loop) {
        walk_dir below = {sb.st_dev, sb.st_ino, here};
        s = walk_folder(w, path, &below);
      }
    }
    free(path);
  }
  free_names(names, count);
  return s;
}

static int cmp_path(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

gr_status gr_list_files(const char *dir, const gr_list_opts *opts, gr_file_list *out) {
  if (!out) return gr_fail(GR_EARG, "list_files: out is NULL");
  out->n = 0;
  out->paths = NULL;
  if (!dir || !*dir) return gr_fail(GR_EARG, "list_files: the folder is empty");
  gr_list_opts none = {0};
  if (!opts) opts = &none;
  if (opts->next < 0 || (opts->next > 0 && !opts->exts))
    return gr_fail(GR_EARG, "list_files: %s: %d extensions but no list of them", dir, opts->next);
  struct stat sb;
  if (stat(dir, &sb) != 0)
    return gr_fail(GR_EIO, "list_files: %s: cannot open: %s", dir, strerror(errno));
  if (!S_ISDIR(sb.st_mode)) return gr_fail(GR_EIO, "list_files: %s: not a folder", dir);
  walk w = {.root = dir, .opts = opts};
  walk_dir root = {sb.st_dev, sb.st_ino, NULL};
  gr_status s = walk_folder(&w, dir, &root);
  if (s != GR_OK) {
    free_names(w.paths, w.n);
    return s;
  }
  /* one sort of whole paths: "a/b.png" before "a/b/c.png", as sort(1) in
   * the C locale and Lua's table.sort of the old find output had it */
  if (w.n > 1) qsort(w.paths, w.n, sizeof *w.paths, cmp_path);
  out->n = w.n;
  out->paths = w.paths;
  return GR_OK;
}

void gr_file_list_free(gr_file_list *list) {
  if (!list) return;
  free_names(list->paths, list->n);
  list->paths = NULL;
  list->n = 0;
}

/* --- paths ----------------------------------------------------------------------- */

char *gr_cwd(void) {
  for (size_t cap = 256; cap <= ((size_t)1 << 20); cap *= 2) {
    char *buf = malloc(cap);
    if (!buf) return gr_fail_null(GR_ENOMEM, "cwd: out of memory");
    if (getcwd(buf, cap)) return buf;
    int e = errno;
    free(buf);
    /* ERANGE: a longer path than the buffer; anything else (the folder was
     * removed, a parent may not be read) is final */
    if (e != ERANGE) return gr_fail_null(GR_EIO, "cwd: the working directory: %s", strerror(e));
  }
  return gr_fail_null(GR_EIO, "cwd: the working directory's path is longer than 1 MiB");
}

char *gr_abspath(const char *path) {
  if (!path || !*path) return gr_fail_null(GR_EARG, "abspath: the path is empty");
  char *cwd = NULL;
  if (path[0] != '/' && !(cwd = gr_cwd())) {
    /* keep cwd's reason, name ours */
    char why[512];
    snprintf(why, sizeof why, "%s", gr_errmsg());
    return gr_fail_null(gr_errcode(), "abspath: %s: %s", path, why);
  }
  size_t nc = cwd ? strlen(cwd) : 0, np = strlen(path);
  /* the result is never longer than cwd + "/" + path */
  char *out = malloc(nc + np + 2);
  if (!out) {
    free(cwd);
    return gr_fail_null(GR_ENOMEM, "abspath: %s: out of memory", path);
  }
  size_t len = 0;
  /* copies the parts of s, each as "/" + part, dropping empty and "." parts */
  const char *srcs[2] = {cwd ? cwd : "", path};
  for (int k = 0; k < 2; k++)
    for (const char *s = srcs[k]; *s;) {
      while (*s == '/') s++;
      const char *e = s;
      while (*e && *e != '/') e++;
      size_t n = (size_t)(e - s);
      if (n > 0 && !(n == 1 && s[0] == '.')) {
        out[len++] = '/';
        memcpy(out + len, s, n);
        len += n;
      }
      s = e;
    }
  if (len == 0) out[len++] = '/';
  out[len] = '\0';
  free(cwd);
  return out;
}
