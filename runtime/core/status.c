/* Per-thread status messages. */
#include <stdarg.h>
#include <stdio.h>

#include "ganrt/status.h"

static _Thread_local char g_msg[1024];
static _Thread_local gr_status g_code;

const char *gr_errmsg(void) { return g_msg; }
gr_status gr_errcode(void) { return g_code; }

static void set_message(gr_status s, const char *fmt, va_list ap) {
  g_code = s;
  vsnprintf(g_msg, sizeof g_msg, fmt, ap);
}

gr_status gr_fail(gr_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_message(s, fmt, ap);
  va_end(ap);
  return s;
}

void *gr_fail_null(gr_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_message(s, fmt, ap);
  va_end(ap);
  return NULL;
}

void gr_clear_error(void) {
  g_code = GR_OK;
  g_msg[0] = '\0';
}

static int g_dim_base;

void gr_set_dim_base(int base) { g_dim_base = base; }
int gr_dim_shown(int dim) { return dim >= 0 ? dim + g_dim_base : dim; }
