/* Status and error messages of the runtime.
 *
 * Nothing in runtime/ aborts, exits or longjmps. A function that makes a
 * tensor returns it, or NULL on failure; every other function returns a
 * gr_status. Either way the failing function leaves a message, for the
 * calling thread, that names the op, the argument and the shapes:
 *
 *     gr_tensor *y = gr_matmul(a, b);
 *     if (!y) fprintf(stderr, "%s\n", gr_errmsg());
 *
 * An op given a NULL input returns NULL and keeps the message already set,
 * so an expression of ops reports the first failure inside it.
 */
#ifndef GANRT_STATUS_H
#define GANRT_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gr_status {
  GR_OK = 0,
  GR_EARG,    /* bad argument: shape, dtype, value out of range */
  GR_ENOMEM,  /* allocation failed */
  GR_EIO,     /* the file system refused (open, read, write, rename) */
  GR_EFORMAT, /* a file's content is corrupt, truncated or unsupported */
  GR_ESTATE,  /* not possible now: graph already freed, double backward refused */
} gr_status;

/* The calling thread's last message ("" when none). */
const char *gr_errmsg(void);
/* The calling thread's last status. */
gr_status gr_errcode(void);
/* Sets the message (printf format) and returns s; for use as `return gr_fail(...)`. */
gr_status gr_fail(gr_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, for functions that return a pointer: sets the message and returns NULL. */
void *gr_fail_null(gr_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clears the message. */
void gr_clear_error(void);
/* Messages name dims counting from this base: 0 (C, the default) or 1 (set
 * by the Lua binding, where dims count from 1). */
void gr_set_dim_base(int base);
/* A dim as messages show it: non-negative dims shifted by the base,
 * negative ones (counted from the end) as given. */
int gr_dim_shown(int dim);

#ifdef __cplusplus
}
#endif
#endif
