/* Running programs without a shell, and finding our own.
 *
 * posix_spawnp rather than fork + exec: it is safe in a process with
 * OpenMP threads, cheap for a big process (glibc uses a vfork-like clone),
 * and it reports a program that cannot be started as an error code instead
 * of a child that exits 127. */
#define _GNU_SOURCE /* pipe2, environ */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io_internal.h"

/* A pipe whose ends are close-on-exec and not 0, 1 or 2 (a process that was
 * started with its standard output closed would otherwise get fd 1 back, and
 * the child's dup2 onto 1 would then keep the close-on-exec flag). */
static int capture_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  for (int k = 0; k < 2; k++)
    if (fds[k] <= 2) {
      int fd = fcntl(fds[k], F_DUPFD_CLOEXEC, 3);
      if (fd < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
      }
      close(fds[k]);
      fds[k] = fd;
    }
  return 0;
}

/* The first file named prog in a folder of PATH, malloc'd; NULL when there
 * is none. Only for the message of a program that did not start: exec says
 * EACCES both for a program it may not run and for a program it did not find
 * when some folder of PATH could not be searched. */
static char *find_on_path(const char *prog) {
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  size_t np = strlen(prog);
  for (const char *s = path;; s++) {
    const char *e = strchr(s, ':');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    /* an empty part of PATH means the working directory */
    char *cand = malloc(n + np + 3);
    if (!cand) return NULL;
    if (n == 0) {
      memcpy(cand, "./", 2);
      n = 2;
    } else {
      memcpy(cand, s, n);
      cand[n++] = '/';
    }
    memcpy(cand + n, prog, np + 1);
    struct stat sb;
    if (stat(cand, &sb) == 0 && !S_ISDIR(sb.st_mode)) return cand;
    free(cand);
    if (!e) return NULL;
    s = e;
  }
}

/* Reads fd to its end into r->output (growing by doubling). On failure the
 * read end is closed early, so the child sees a broken pipe and ends. */
static gr_status drain(int fd, const char *prog, gr_run_result *r) {
  size_t cap = 1 << 16;
  r->output = malloc(cap);
  if (!r->output) return gr_fail(GR_ENOMEM, "run: %s: out of memory for its output", prog);
  for (;;) {
    if (cap - r->len < 4096) {
      char *p = realloc(r->output, 2 * cap);
      if (!p)
        return gr_fail(GR_ENOMEM, "run: %s: out of memory after %zu bytes of output", prog, r->len);
      r->output = p;
      cap *= 2;
    }
    /* leave room for the terminating NUL */
    ssize_t k = read(fd, r->output + r->len, cap - r->len - 1);
    if (k > 0) {
      r->len += (size_t)k;
    } else if (k == 0) {
      r->output[r->len] = '\0';
      return GR_OK;
    } else if (errno != EINTR) {
      return gr_fail(GR_EIO, "run: %s: reading its output: %s", prog, strerror(errno));
    }
  }
}

/* Waits for pid and writes how it ended into r. */
static gr_status reap(pid_t pid, const char *prog, gr_run_result *r) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return gr_fail(GR_EIO, "run: %s: waiting for it: %s", prog, strerror(errno));
  if (WIFEXITED(st)) {
    r->code = WEXITSTATUS(st);
    r->signal = 0;
  } else if (WIFSIGNALED(st)) {
    r->code = -1;
    r->signal = WTERMSIG(st);
  }
  return GR_OK;
}

gr_status gr_run(const char *const *argv, gr_run_output output, gr_run_result *out) {
  if (!out) return gr_fail(GR_EARG, "run: out is NULL");
  memset(out, 0, sizeof *out);
  out->code = -1;
  if (!argv || !argv[0] || !*argv[0]) return gr_fail(GR_EARG, "run: no program given");
  if (output != GR_RUN_INHERIT && output != GR_RUN_CAPTURE)
    return gr_fail(GR_EARG, "run: %s: output must be GR_RUN_INHERIT or GR_RUN_CAPTURE, not %d",
                   argv[0], (int)output);
  const char *prog = argv[0];
  bool capture = output == GR_RUN_CAPTURE;

  /* what we printed before goes out before what the program prints */
  if (!capture) {
    fflush(stdout);
    fflush(stderr);
  }
  int fds[2] = {-1, -1};
  if (capture && capture_pipe(fds) != 0)
    return gr_fail(GR_EIO, "run: %s: cannot make a pipe for its output: %s", prog, strerror(errno));

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  if (capture) {
    /* both onto the one pipe, so the output keeps the order it was written in */
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  }
  /* The child starts with no signal blocked (whatever the calling thread
   * blocks) and SIGPIPE at its default: a host that ignores SIGPIPE must not
   * pass that on, or `head` downstream would no longer stop a writer. Other
   * ignored signals stay ignored, as nohup means them to. */
  sigset_t none, pipe_only;
  sigemptyset(&none);
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &pipe_only);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid;
  int rc = posix_spawnp(&pid, prog, &fa, &at, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (capture) close(fds[1]);
  if (rc != 0) {
    if (capture) close(fds[0]);
    if (strchr(prog, '/'))
      return gr_fail(GR_EIO, "run: %s: cannot start it: %s", prog, strerror(rc));
    char *found = find_on_path(prog);
    if (!found) return gr_fail(GR_EIO, "run: %s: no such program on PATH", prog);
    gr_fail(GR_EIO, "run: %s: cannot start %s: %s", prog, found, strerror(rc));
    free(found);
    return GR_EIO;
  }

  gr_status s = GR_OK;
  if (capture) {
    s = drain(fds[0], prog, out);
    close(fds[0]);
  }
  /* reaped even after a failed drain: no child is left behind */
  gr_status w = reap(pid, prog, out);
  if (s == GR_OK) s = w;
  if (s != GR_OK) gr_run_result_free(out);
  return s;
}

void gr_run_result_free(gr_run_result *r) {
  if (!r) return;
  free(r->output);
  r->output = NULL;
  r->len = 0;
}

char *gr_executable(void) {
  for (size_t cap = 256; cap <= ((size_t)1 << 20); cap *= 2) {
    char *buf = malloc(cap);
    if (!buf) return gr_fail_null(GR_ENOMEM, "executable: out of memory");
    ssize_t n = readlink("/proc/self/exe", buf, cap);
    if (n < 0) {
      int e = errno;
      free(buf);
      return gr_fail_null(GR_EIO, "executable: /proc/self/exe: %s (it exists on Linux only)",
                          strerror(e));
    }
    /* readlink does not say whether it cut the path short: a full buffer
     * may be a cut one, so try again larger */
    if ((size_t)n < cap) {
      buf[n] = '\0';
      return buf;
    }
    free(buf);
  }
  return gr_fail_null(GR_EIO, "executable: /proc/self/exe: the path is longer than 1 MiB");
}
