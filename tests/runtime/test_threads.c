/* The thread governor (kernels/threads.c) on made-up windows: two windows
 * in a row with our threads kept waiting run one thread fewer, one window
 * does not; the count asked for is tried again after a pause, kept when
 * its window is calm, dropped again (and the pause doubled) when it waits;
 * off, nothing changes and the count asked for is restored. Also: a real
 * tick on this machine never goes below one thread or above the count. */
#include <omp.h>

#include "ganrt/kernels.h"
#include "testutil.h"

#define MS 1000000LL         /* ns */
#define BASE 1000000000000LL /* ms: 31 years, past any real monotonic clock */

/* feeds the window ending at t ms in which our threads waited w ms in all */
static long long g_delay;
static void window(long long t, long long w) {
  g_delay += w * MS;
  gr_threads_observe(t * MS, g_delay);
}

/* after gr_threads_adapt, a window at time 0 sets the baseline (its own
 * numbers are never judged: the clock and delay before it are real ones) */
static void start(int threads) {
  gr_set_threads(threads);
  gr_threads_adapt(true);
  g_delay = 0;
  gr_threads_observe(BASE * MS, 0); /* far past the real clock: a whole window */
  window(BASE, 0);
}

static void test_down_after_two_windows(void **state) {
  start(2);
  long long t = BASE;
  assert_int_equal(gr_threads_running(), 2);
  window(t += 100, 80); /* one window waiting 0.8 threads: a burst, no change */
  assert_int_equal(gr_threads_running(), 2);
  window(t += 100, 10); /* calm again: the count of high windows restarts */
  window(t += 100, 80);
  assert_int_equal(gr_threads_running(), 2);
  window(t += 100, 80); /* two in a row: one thread fewer */
  assert_int_equal(gr_threads_running(), 1);
  /* OpenMP's count (OpenBLAS follows it) stays the count asked for */
  assert_int_equal(omp_get_max_threads(), 2);
  assert_int_equal(gr_get_threads(), 2);
  window(t += 50, 0); /* shorter than a window: not looked at */
  window(t += 100, 0); /* the baseline after the change */
  window(t += 100, 5); /* calm, but the pause (1 s) is not over: still one */
  assert_int_equal(gr_threads_running(), 1);
  t += 900;
  window(t, 5); /* the pause is over: two, on trial */
  assert_int_equal(gr_threads_running(), 2);
  window(t += 100, 70); /* the trial waits: back to one at once, pause 2 s */
  assert_int_equal(gr_threads_running(), 1);
  window(t += 100, 0);
  window(t += 1500, 0); /* 1.6 s later: still paused */
  assert_int_equal(gr_threads_running(), 1);
  window(t += 500, 0); /* 2.1 s: tried again */
  assert_int_equal(gr_threads_running(), 2);
  window(t += 100, 10); /* a calm trial: kept */
  window(t += 100, 10);
  window(t += 100, 10);
  assert_int_equal(gr_threads_running(), 2);
  gr_threads_adapt(false);
}

static void test_off_restores_and_ignores(void **state) {
  start(2);
  long long t = BASE;
  window(t += 100, 90);
  window(t += 100, 90);
  assert_int_equal(gr_threads_running(), 1);
  gr_threads_adapt(false); /* off: the count asked for, and windows change nothing */
  assert_int_equal(gr_threads_running(), 2);
  assert_int_equal(omp_get_max_threads(), 2);
  window(t += 100, 90);
  window(t += 100, 90);
  window(t += 100, 90);
  assert_int_equal(gr_threads_running(), 2);
}

static void test_one_thread_asked(void **state) {
  start(1);
  long long t = BASE;
  for (int i = 0; i < 5; i++) window(t += 100, 95);
  assert_int_equal(gr_threads_running(), 1);
  gr_set_threads(2);
  gr_threads_adapt(false);
}

/* real ticks between real work: whatever the machine's load, the count
 * stays within 1 .. the count asked for */
static void test_real_ticks_stay_in_range(void **state) {
  gr_set_threads(2);
  gr_threads_adapt(true);
  volatile double sink = 0;
  for (int i = 0; i < 40; i++) {
    for (int k = 0; k < 200000; k++) sink += k * 1e-9;
    gr_threads_tick();
    int n = gr_threads_running();
    assert_true(n >= 1 && n <= 2);
  }
  gr_threads_adapt(false);
  assert_int_equal(gr_threads_running(), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_down_after_two_windows),
      cmocka_unit_test(test_off_restores_and_ignores),
      cmocka_unit_test(test_one_thread_asked),
      cmocka_unit_test(test_real_ticks_stay_in_range),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
