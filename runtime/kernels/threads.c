/* Threads: the count a program asks for, and the count that runs.
 *
 * gr_set_threads(n) asks for n threads; ours (OpenMP) and OpenBLAS's follow
 * together. On a machine shared with other busy processes that is not
 * always the right count. A loop split in halves waits, at its end, for the
 * half whose thread the scheduler has taken off its core for another
 * process's time slice (milliseconds): with one core kept busy, a
 * convolution of 1 ms took 20 to 55 ms on two threads, where one thread
 * alone runs it in 1.5 ms on the other, free core.
 *
 * The governor sees that wait where the kernel counts it: run_delay in
 * /proc/self/task/<tid>/schedstat, the time each of our threads was ready to
 * run but had no CPU. Every window of ops (WINDOW_NS of wall time, checked
 * at each op by gr_threads_tick) it divides our threads' new delay by the
 * window: above WAIT_HIGH (in threads kept waiting on average) in two
 * windows in a row, it runs one thread fewer (one window alone can be a
 * short burst of other work). Below the count asked for, it tries one more after a pause
 * (RETRY_NS, doubled after each try that waited too, up to RETRY_MAX_NS)
 * and keeps it if the window stays calm. A busy neighbour at a lower
 * priority (nice) does not count: our threads take its core at once, and
 * their delay stays small.
 *
 * The governor changes the threads of our own loops only (every parallel
 * loop of the runtime takes num_threads(gr_threads_running())), whose
 * numbers do not depend on the thread count. OpenMP's count, which
 * OpenBLAS follows, stays the count asked for: OpenBLAS's sgemm changes its
 * last bits with its threads (its split of a product), so a run stays
 * bit-identical to another with the same seed and --threads whatever the
 * load. On by default; GANLUA_ADAPT_THREADS=0 or gr_threads_adapt(false)
 * keeps the count asked for; GANLUA_THREADS_TRACE=1 prints each window's
 * wait and every change on stderr. */
#include <cblas.h>
#include <dirent.h>
#include <fcntl.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ganrt/kernels.h"

#define WINDOW_NS 100000000LL       /* 100 ms of ops between two looks */
#define WAIT_HIGH 0.4               /* threads kept waiting, on average, that cost a thread */
#define RETRY_NS 1000000000LL       /* first pause before trying one thread more */
#define RETRY_MAX_NS 16000000000LL  /* longest pause */

static struct {
  int asked;              /* gr_set_threads' count */
  int running;            /* the count in use */
  bool adapt;             /* the governor is on */
  bool env_read;          /* GANLUA_ADAPT_THREADS and GANLUA_THREADS_TRACE are read */
  bool trace;
  bool trying;            /* the last window ran one thread more, on trial */
  bool fresh;             /* the count just changed: the next window is a baseline */
  int high;               /* windows in a row above WAIT_HIGH */
  long long t0, delay0;   /* the window's start: wall ns, our threads' total run_delay */
  long long retry_at, pause;
} g;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Our threads' run_delay summed (ns), or -1 where the kernel does not
 * give it (no schedstats). */
static long long run_delay_ns(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  long long sum = 0;
  int seen = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[64], buf[96];
    snprintf(path, sizeof path, "/proc/self/task/%.20s/schedstat", e->d_name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue; /* a thread that just ended */
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    unsigned long long run, delay;
    if (n <= 0) continue;
    buf[n] = 0;
    if (sscanf(buf, "%llu %llu", &run, &delay) != 2) continue;
    sum += (long long)delay;
    seen++;
  }
  closedir(d);
  return seen ? sum : -1;
}

/* the count our loops run on; OpenMP's and OpenBLAS's own stay the count
 * asked for (gr_set_threads) */
static void apply(int n) { g.running = n; }

/* a new window starts now; a changed count makes it a baseline */
static void restart(long long now, long long delay, bool changed) {
  g.t0 = now;
  g.delay0 = delay;
  g.fresh = changed;
}

void gr_set_threads(int n) {
  if (n <= 0) n = omp_get_num_procs();
  if (!g.env_read) {
    const char *a = getenv("GANLUA_ADAPT_THREADS"), *t = getenv("GANLUA_THREADS_TRACE");
    g.adapt = !(a && a[0] == '0');
    g.trace = t && *t && t[0] != '0';
    g.env_read = true;
  }
  g.asked = n;
  g.trying = false;
  g.high = 0;
  g.pause = RETRY_NS;
  g.retry_at = 0;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  apply(n);
  restart(now_ns(), g.adapt ? run_delay_ns() : 0, true);
}

int gr_get_threads(void) { return g.asked ? g.asked : omp_get_max_threads(); }

int gr_threads_running(void) { return g.running ? g.running : omp_get_max_threads(); }

void gr_threads_adapt(bool on) {
  g.adapt = on;
  g.env_read = true;
  if (!on && g.asked && g.running != g.asked) apply(g.asked);
  restart(now_ns(), on ? run_delay_ns() : 0, true);
}

void gr_threads_tick(void) {
  if (!g.adapt || g.asked <= 1) return;
  long long now = now_ns();
  if (now - g.t0 < WINDOW_NS || omp_in_parallel()) return;
  long long delay = run_delay_ns();
  if (delay < 0) { /* no schedstats here: keep the count asked for */
    g.adapt = false;
    return;
  }
  gr_threads_observe(now, delay);
}

void gr_threads_observe(long long now, long long delay) {
  if (!g.adapt || g.asked <= 1 || now - g.t0 < WINDOW_NS) return;
  double wait = (double)(delay - g.delay0) / (double)(now - g.t0);
  bool fresh = g.fresh;
  restart(now, delay, false);
  if (g.trace)
    fprintf(stderr, "ganlua threads: %d of %d, waiting %.2f%s\n", g.running, g.asked, wait,
            fresh ? " (first window)" : "");
  if (fresh && !g.trying) return;
  g.high = wait > WAIT_HIGH ? g.high + 1 : 0;
  if (g.high > 0 && g.trying) { /* the try waited: back, and pause longer before the next */
    g.pause = g.pause * 2 < RETRY_MAX_NS ? g.pause * 2 : RETRY_MAX_NS;
    g.trying = false;
    g.high = 2;
  }
  if (g.high >= 2) {
    g.high = 0;
    if (g.running > 1) {
      apply(g.running - 1);
      g.retry_at = now + g.pause;
      restart(now, delay, true);
      if (g.trace) fprintf(stderr, "ganlua threads: down to %d\n", g.running);
    }
    return;
  }
  if (g.trying) { /* the try ran calm: keep it */
    g.trying = false;
    g.pause = RETRY_NS;
  }
  if (g.running < g.asked && now >= g.retry_at) {
    apply(g.running + 1);
    g.trying = true;
    restart(now, delay, true);
    if (g.trace) fprintf(stderr, "ganlua threads: trying %d\n", g.running);
  }
}
