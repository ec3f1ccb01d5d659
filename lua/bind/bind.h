/* The Lua binding of libganrt: what the binding's files share.
 *
 * A Tensor is a full userdata of metatable "gan.Tensor" holding one
 * reference to a gr_tensor; __gc gives it back. Every function checks its
 * Lua arguments before it calls the runtime, so a Lua error (a longjmp)
 * never leaves a pool pushed or a temporary tensor behind; a failed runtime
 * call becomes "file:line: gan.<fn>: <runtime message>".
 *
 * Positions from Lua count from 1 (dims, narrow's start, select's index);
 * the functions below turn them into the runtime's 0-based ones.
 */
#ifndef GANLUA_BIND_H
#define GANLUA_BIND_H

#include <lauxlib.h>
#include <lua.h>

#include "ganrt/ganrt.h"

#define GAN_TENSOR "gan.Tensor"

typedef struct gan_box {
  gr_tensor *t; /* NULL once closed */
} gan_box;

/* --- tensors on the Lua stack (tensor.c) ----------------------------------- */
gr_tensor *gan_check(lua_State *L, int arg);     /* raises unless a live Tensor */
gr_tensor *gan_opt(lua_State *L, int arg);       /* NULL for none/nil, else gan_check */
gr_tensor *gan_test(lua_State *L, int arg);      /* NULL unless a Tensor; raises if closed */
/* Pushes a Tensor taking over the reference t (never NULL); returns 1. */
int gan_push(lua_State *L, gr_tensor *t);
/* gan_push, or raise the runtime's message as gan.<fn> when t is NULL. */
int gan_result(lua_State *L, const char *fn, gr_tensor *t);
/* Raises "where: gan.<fn>: <gr_errmsg()>". */
int gan_fail(lua_State *L, const char *fn);
/* Raises "where: gan.<fn>: <formatted message>". */
int gan_error(lua_State *L, const char *fn, const char *fmt, ...);

/* --- arguments ------------------------------------------------------------- */
/* A shape as one table or as integers from arg on; writes shape[], returns
 * the rank and sets *next to the first argument after it. */
int gan_shape(lua_State *L, int arg, int64_t *shape, int *next);
/* A shape given as one argument: a table, or an integer for 1-d. */
int gan_shape1(lua_State *L, int arg, int64_t *shape);
/* A Lua dim (1 = first, -1 = last) into a 0-based dim of a rank-n layout. */
int gan_dim(lua_State *L, int arg, const gr_tensor *x, int n);
int gan_optdim(lua_State *L, int arg, const gr_tensor *x, int n, int def);
/* dims: nil (all: returns 0), a number, or a table of numbers. */
int gan_dims(lua_State *L, int arg, const gr_tensor *x, int *dims);
gr_dtype gan_dtype(lua_State *L, int arg, gr_dtype def);
/* Scratch memory owned by Lua (a userdata left on the stack): freed by the
 * collector, so it cannot leak when an argument error longjmps. */
void *gan_scratch(lua_State *L, size_t nbytes);

/* --- registration --------------------------------------------------------- */
/* Each registers its functions into the module table at -1 and, for the
 * ones that are also methods, into the method table at -2. */
void gan_open_tensor(lua_State *L);
void gan_open_ops(lua_State *L);
void gan_open_autograd(lua_State *L);
void gan_open_io(lua_State *L);
void gan_open_stats(lua_State *L);
void gan_open_dist(lua_State *L);

/* --- the job's processes (dist.c) ------------------------------------------ */
/* Prints the message naming this process and ends the whole job (MPI_Abort
 * when more than one process runs; else exit). */
void gan_dist_abort(const char *msg);
/* The number of processes of the job (1 unless MPI started). */
int gan_dist_size(void);

#endif
