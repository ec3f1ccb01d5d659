/* Files: safetensors, PNG, JPEG, IDX (plain and .gz); folders, paths and
 * programs run without a shell.
 *
 * Every reader checks sizes and dimensions against what the file really
 * holds and rejects corrupt, truncated or hostile files with GR_EFORMAT and
 * a message naming the file; none over-reads. Writers are atomic: a
 * temporary file in the same folder, fsync, rename. */
#ifndef GANRT_IO_H
#define GANRT_IO_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- safetensors ---------------------------------------------------------- */
typedef struct gr_named_tensor {
  char *name;
  gr_tensor *t;
} gr_named_tensor;

typedef struct gr_meta_entry {
  char *key;
  char *value;
} gr_meta_entry;

typedef struct gr_safetensors {
  int n;
  gr_named_tensor *tensors; /* in file order */
  int nmeta;
  gr_meta_entry *meta;      /* the __metadata__ string map */
} gr_safetensors;

/* Writes F32 and I64 tensors (any layout) and the metadata map. */
gr_status gr_safetensors_save(const char *path, int n, const char *const *names,
                              gr_tensor *const *tensors, int nmeta, const char *const *keys,
                              const char *const *values);
/* Reads F32, I64 (kept as int64), F16 and BF16 (converted to F32), I32/U8 (to I64). */
gr_status gr_safetensors_load(const char *path, gr_safetensors *out);
void gr_safetensors_free(gr_safetensors *st);

/* --- images ----------------------------------------------------------------
 * Loaded as float (C,H,W) in [0,1]; channels: 0 keeps the file's (gray 1,
 * gray+alpha 2, RGB 3, RGBA 4; palette expanded), or 1/2/3/4 to convert
 * (gray from colour by BT.601 luma; alpha dropped, or added opaque). Inside
 * a pool the pool owns *out, as for any function that returns a tensor. */
gr_status gr_png_load(const char *path, int channels, gr_tensor **out);
gr_status gr_jpeg_load(const char *path, int channels, gr_tensor **out);
/* By content (magic bytes), not by name. */
gr_status gr_image_load(const char *path, int channels, gr_tensor **out);
/* x (C,H,W) with C in 1..4, values clamped to [0,1], written 8-bit. */
gr_status gr_png_save(const char *path, const gr_tensor *x);

/* --- IDX (MNIST family), plain or gzip ------------------------------------ */
/* unsigned byte data: float tensor of the file's shape (values 0..255) for
 * images, or int64 with as_int; other IDX types are converted likewise. */
gr_status gr_idx_load(const char *path, bool as_int, gr_tensor **out);

/* Atomic write helper: writes len bytes as path via a temporary beside it
 * (path.tmp.<pid>.<n>), fsync, rename, fsync of the folder. */
gr_status gr_write_atomic(const char *path, const void *data, size_t len);

/* --- folders and paths -------------------------------------------------------
 * What scripts used to ask a shell for (mkdir -p, test -d, find, pwd), as
 * calls. Relative paths count from the working directory. Failures are
 * GR_EIO with a message naming the function and the path; an empty or NULL
 * path is GR_EARG. */

/* Makes the folder and its missing parents, as mkdir -p does: a folder that
 * exists already (or a symlink to one) is success; a part of the path that
 * exists but is not a folder, or one the system refuses to make (permission,
 * read-only file system), fails naming that part. New folders get 0777 less
 * the umask. */
gr_status gr_mkdir(const char *path);
/* Whether path is a folder / exists at all, asked of stat (nothing is
 * opened). Symlinks are followed: one to a folder is a folder, a dangling one
 * does not exist. false for NULL, "", and paths the system will not stat. */
bool gr_is_dir(const char *path);
bool gr_exists(const char *path);

/* Which files gr_list_files returns. */
typedef struct gr_list_opts {
  bool recursive;          /* also the files of sub-folders, at any depth */
  int next;                /* how many extensions; 0: every file */
  const char *const *exts; /* "png", "JPG": compared, ignoring ASCII case, with
                            * what follows the last dot of the file's name */
} gr_list_opts;

typedef struct gr_file_list {
  size_t n;
  char **paths; /* n paths, sorted by strcmp */
} gr_file_list;

/* The regular files in dir (opts NULL: not recursive, every extension),
 * each as dir + "/" + its path below dir, sorted by byte order of the whole
 * path. A symlink counts as what it points to: a link to an image is listed
 * (under the link's name), a link to a folder is entered when recursive,
 * except into a folder that is already on the way down (a loop), and a
 * dangling link is left out. Hidden entries (names starting with a dot:
 * .DS_Store, ._x.png, .git/) are left out, files and folders alike; dir
 * itself may be hidden. A sub-folder that vanishes or may not be read is
 * left out; dir itself missing, not a folder or unreadable fails. */
gr_status gr_list_files(const char *dir, const gr_list_opts *opts, gr_file_list *out);
void gr_file_list_free(gr_file_list *list);

/* The working directory, malloc'd (caller frees); NULL with a message. */
char *gr_cwd(void);
/* path made absolute against the working directory and tidied: repeated
 * slashes, "." parts and a trailing slash go; ".." stays, since taking it
 * away lexically is wrong when the part before it is a symlink. The path
 * need not exist. malloc'd; NULL with a message. */
char *gr_abspath(const char *path);
/* The absolute path of the running program (/proc/self/exe; Linux): under a
 * stock Lua that loaded the module, the interpreter's. malloc'd; NULL with
 * a message. */
char *gr_executable(void);

/* --- programs ---------------------------------------------------------------
 * gr_run starts argv[0] with the arguments argv (NULL-terminated), no shell
 * between: each argument reaches the program as given. argv[0] without a
 * slash is looked up on PATH. It waits for the program to end. The program
 * shares standard input; its standard output and error either go where ours
 * go (GR_RUN_INHERIT; stdout and stderr are flushed first, so what we wrote
 * comes before what it writes) or, merged in the order written, into
 * out->output (GR_RUN_CAPTURE), which grows as needed; the pipe is drained
 * while the program runs, so a program that writes megabytes does not stall
 * (a background child it leaves holding the pipe keeps gr_run waiting). A
 * program that cannot be started (not found, not executable) is GR_EIO; a
 * program that starts and fails is GR_OK with its status in out. */
typedef enum gr_run_output { GR_RUN_INHERIT = 0, GR_RUN_CAPTURE = 1 } gr_run_output;

typedef struct gr_run_result {
  int code;     /* exit status 0..255, or -1 when a signal ended it */
  int signal;   /* the signal that ended it, 0 when it exited */
  char *output; /* GR_RUN_CAPTURE: len bytes and a NUL; NULL otherwise */
  size_t len;
} gr_run_result;

gr_status gr_run(const char *const *argv, gr_run_output output, gr_run_result *out);
void gr_run_result_free(gr_run_result *r);

#ifdef __cplusplus
}
#endif
#endif
