/* Recording nodes (gr_apply) and walking them back (gr_grad). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node.h"

static _Thread_local bool g_no_grad; /* grad mode is on by default */
static int64_t g_live_nodes;

bool gr_grad_enabled(void) { return !g_no_grad; }
bool gr_set_grad_enabled(bool on) {
  bool prev = !g_no_grad;
  g_no_grad = !on;
  return prev;
}
int64_t gr_live_nodes(void) { return g_live_nodes; }

const char *gr_grad_fn_name(const gr_tensor *t) {
  return t && t->grad_fn ? gr_op_table[t->grad_fn->op].name : "";
}

/* Drops what the rule would have needed; the node stays as a marker. */
static void node_drop_values(gr_node *n) {
  for (int i = 0; i < n->nin; i++) {
    gr_release(n->in[i]);
    n->in[i] = NULL;
  }
  for (int j = 0; j < n->nsaved; j++) {
    gr_release(n->saved[j]);
    n->saved[j] = NULL;
  }
  n->released = true;
}

void gr_node_release(gr_node *n) {
  /* Iterative: a long chain of nodes (a deep graph) must not recurse deeply. */
  while (n && --n->refs == 0) {
    gr_node *next = NULL;
    for (int i = 0; i < n->nin; i++) {
      gr_tensor *t = n->in[i];
      if (!t) continue;
      /* If this input is about to die and holds the only reference to its
       * node, take over that reference and loop instead of recursing. */
      if (t->refs == 1 && t->grad_fn && !next) {
        next = t->grad_fn;
        t->grad_fn = NULL;
      }
      gr_release(t);
    }
    for (int j = 0; j < n->nsaved; j++) gr_release(n->saved[j]);
    free(n->in);
    free(n);
    g_live_nodes--;
    n = next;
  }
}

/* --- profile: time spent in each op's kernel ------------------------------------- */

static bool g_profiling;
static gr_op_profile g_profile[GR_OP_COUNT];

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

void gr_profile_enable(bool on) {
  if (on && !g_profiling) memset(g_profile, 0, sizeof g_profile);
  g_profiling = on;
}

int gr_profile_read(gr_op_profile *out, int max) {
  int n = 0;
  for (int k = 0; k < GR_OP_COUNT && n < max; k++) {
    if (!g_profile[k].calls) continue;
    out[n] = g_profile[k];
    out[n++].name = gr_op_table[k].name;
  }
  return n;
}

/* --- forward: gr_apply --------------------------------------------------------- */

void gr_save(gr_fwd *f, gr_tensor *t) {
  if (!f->recording) return;
  if (f->nsaved >= GR_MAX_SAVED) return; /* a rule bug; caught by the op's tests */
  f->saved[f->nsaved++] = gr_retain(t);
}

/* Makes the node for a forward that just ran. */
static gr_status record(const gr_op_info *info, gr_fwd *f, int nin, gr_tensor *const *in,
                        const gr_attrs *a, int nout) {
  gr_node *n = calloc(1, sizeof *n);
  gr_tensor **ins = calloc((size_t)(nin ? nin : 1), sizeof *ins);
  if (!n || !ins) {
    free(n);
    free(ins);
    return gr_fail(GR_ENOMEM, "%s: out of memory recording the graph", info->name);
  }
  g_live_nodes++;
  n->op = f->op;
  n->nin = nin;
  n->nout = nout;
  n->in = ins;
  n->a = *a;
  for (int i = 0; i < nin; i++) ins[i] = gr_retain(in[i]);
  n->nsaved = f->nsaved;
  for (int j = 0; j < f->nsaved; j++) {
    n->saved[j] = f->saved[j];
    n->saved_out[j] = -1;
    for (int k = 0; k < nout; k++) {
      gr_tensor *o = f->out[k];
      if (f->saved[j] != o) continue;
      /* keep the output's values without a reference back to the node (a cycle) */
      n->saved[j] = gr_alias(o, o->ndim, o->shape, o->stride, o->offset);
      n->saved_out[j] = k;
      gr_release(o);
      break;
    }
  }
  f->nsaved = 0; /* the node owns them now */
  for (int k = 0; k < nout; k++) {
    gr_tensor *o = f->out[k];
    n->out_ndim[k] = o->ndim;
    memcpy(n->out_shape[k], o->shape, sizeof o->shape);
    if (o->dtype != GR_F32) continue; /* indices are not differentiable */
    o->grad_fn = n;
    o->out_index = k;
    o->requires_grad = true;
    n->refs++;
  }
  if (n->refs == 0) { /* no float output: nothing can flow back */
    n->refs = 1;
    gr_node_release(n);
  }
  return GR_OK;
}

gr_status gr_apply(gr_op op, int nin, gr_tensor *const *in, const gr_attrs *a, int nout,
                   gr_tensor **out) {
  const gr_op_info *info = &gr_op_table[op];
  gr_attrs none;
  if (!a) {
    memset(&none, 0, sizeof none);
    a = &none;
  }
  bool needs_grad = false;
  if (info->backward && !g_no_grad)
    for (int i = 0; i < nin; i++)
      if (in[i] && in[i]->requires_grad) needs_grad = true;

  gr_fwd f = {.op = op, .nin = nin, .in = in, .a = a, .recording = needs_grad};
  gr_threads_tick(); /* between ops: the thread count may follow the machine's load */
  /* The forward owns what it makes; its outputs are pooled only at the end. */
  gr_pool_push_off();
  double t0 = g_profiling ? now_ms() : 0;
  gr_status s = info->forward(&f);
  if (g_profiling) {
    g_profile[op].calls++;
    g_profile[op].ms += now_ms() - t0;
  }
  if (s == GR_OK && needs_grad) s = record(info, &f, nin, in, a, nout);
  gr_pool_pop();
  if (s != GR_OK) {
    for (int k = 0; k < GR_MAX_OUT; k++) gr_release(f.out[k]);
    for (int j = 0; j < f.nsaved; j++) gr_release(f.saved[j]);
    return s;
  }
  for (int k = 0; k < nout; k++) out[k] = gr_autorelease(f.out[k]);
  return GR_OK;
}

gr_tensor *gr_apply1(gr_op op, int nin, gr_tensor *const *in, const gr_attrs *a) {
  gr_tensor *out = NULL;
  return gr_apply(op, nin, in, a, 1, &out) == GR_OK ? out : NULL;
}

gr_tensor *gr_saved(gr_bwd *b, int j) {
  gr_node *n = b->node;
  gr_tensor *t = n->saved[j];
  if (n->saved_out[j] < 0 || !b->create_graph) return t;
  /* the output again, attached to its node, so the rule's use of it is recorded */
  gr_tensor *o = gr_alias(t, t->ndim, t->shape, t->stride, t->offset);
  if (!o) return NULL;
  o->grad_fn = n;
  n->refs++;
  o->out_index = n->saved_out[j];
  o->requires_grad = true;
  return o;
}

/* --- backward: gr_grad --------------------------------------------------------- */

typedef struct walk {
  gr_node **order; /* post-order: every node after the nodes of its inputs */
  int n, cap;
  unsigned mark;
} walk;

static unsigned g_walk_mark;

static bool walk_push(walk *w, gr_node *n) {
  if (w->n == w->cap) {
    int cap = w->cap ? w->cap * 2 : 256;
    gr_node **o = realloc(w->order, (size_t)cap * sizeof *o);
    if (!o) return false;
    w->order = o;
    w->cap = cap;
  }
  w->order[w->n++] = n;
  return true;
}

/* Iterative depth-first post-order from the roots. */
static gr_status topo_sort(walk *w, int nroots, gr_node **roots) {
  typedef struct { gr_node *n; int next; } frame;
  int cap = 256, top = 0;
  frame *stack = malloc((size_t)cap * sizeof *stack);
  if (!stack) return gr_fail(GR_ENOMEM, "grad: out of memory");
  for (int r = 0; r < nroots; r++) {
    if (!roots[r] || roots[r]->mark == w->mark) continue;
    roots[r]->mark = w->mark;
    stack[top++] = (frame){roots[r], 0};
    while (top > 0) {
      frame *fr = &stack[top - 1];
      gr_node *n = fr->n;
      if (n->released) {
        free(stack);
        return gr_fail(GR_ESTATE,
                       "grad: the graph through %s was already differentiated and freed; "
                       "pass retain_graph to differentiate it twice",
                       gr_op_table[n->op].name);
      }
      if (fr->next < n->nin) {
        gr_tensor *t = n->in[fr->next++];
        gr_node *c = t ? t->grad_fn : NULL;
        if (c && c->mark != w->mark) {
          c->mark = w->mark;
          if (top == cap) {
            cap *= 2;
            frame *s2 = realloc(stack, (size_t)cap * sizeof *s2);
            if (!s2) {
              free(stack);
              return gr_fail(GR_ENOMEM, "grad: out of memory");
            }
            stack = s2;
          }
          stack[top++] = (frame){c, 0};
        }
        continue;
      }
      if (!walk_push(w, n)) {
        free(stack);
        return gr_fail(GR_ENOMEM, "grad: out of memory");
      }
      top--;
    }
  }
  free(stack);
  return GR_OK;
}

/* acc = acc + g (recorded when the graph is); both pooled or owned by the caller. */
static gr_status accumulate(gr_tensor **acc, gr_tensor *g) {
  if (!*acc) {
    *acc = gr_retain(g);
    return GR_OK;
  }
  gr_tensor *sum = gr_add(*acc, g);
  if (!sum) return gr_errcode();
  gr_release(*acc);
  *acc = gr_retain(sum);
  return GR_OK;
}

static int find_input(int nin, gr_tensor *const *inputs, const gr_tensor *t) {
  for (int i = 0; i < nin; i++)
    if (inputs[i] == t) return i;
  return -1;
}

gr_status gr_grad(int nout, gr_tensor *const *outputs, int nin, gr_tensor *const *inputs,
                  const gr_grad_opts *opts, gr_tensor **grads) {
  gr_grad_opts o = {0};
  if (opts) o = *opts;
  bool retain = o.retain_graph || o.create_graph;
  for (int i = 0; i < nin; i++) grads[i] = NULL;
  for (int k = 0; k < nout; k++) {
    if (!outputs[k]) return gr_fail(GR_EARG, "grad: output %d is missing", k + 1);
    if (!outputs[k]->requires_grad)
      return gr_fail(GR_EARG,
                     "grad: output %d %s does not require a gradient (no input of it does, "
                     "or it was made under no_grad)", k + 1, gr_shape_str(outputs[k]));
    gr_tensor *go = o.grad_outputs ? o.grad_outputs[k] : NULL;
    /* as PyTorch: ones are implied for a scalar only; a silent sum of a batch of
     * losses would scale every gradient by the batch size */
    if (!go && gr_numel(outputs[k]) != 1)
      return gr_fail(GR_EARG,
                     "grad: output %d has shape %s, not a scalar: reduce it first (:mean() or "
                     ":sum()), or give grad_outputs", k + 1, gr_shape_str(outputs[k]));
    if (go && !gr_same_shape(go, outputs[k]))
      return gr_fail(GR_EARG, "grad: grad_outputs %d has shape %s but output %d has %s", k + 1,
                     gr_shape_str(go), k + 1, gr_shape_str(outputs[k]));
  }
  for (int i = 0; i < nin; i++) {
    if (!inputs[i]) return gr_fail(GR_EARG, "grad: input %d is missing", i + 1);
    if (!inputs[i]->requires_grad)
      return gr_fail(GR_EARG, "grad: input %d %s does not require a gradient", i + 1,
                     gr_shape_str(inputs[i]));
  }

  walk w = {.mark = ++g_walk_mark};
  gr_node **roots = malloc((size_t)(nout ? nout : 1) * sizeof *roots);
  if (!roots) return gr_fail(GR_ENOMEM, "grad: out of memory");
  for (int k = 0; k < nout; k++) roots[k] = outputs[k]->grad_fn;
  gr_status s = topo_sort(&w, nout, roots);
  free(roots);
  if (s != GR_OK) {
    free(w.order);
    return s;
  }

  /* Which nodes lead to an input: only their rules run, and only for the
   * inputs that need it (a D step never computes G's weight gradients). */
  int nn = w.n;
  bool *useful = calloc((size_t)(nn ? nn : 1), sizeof *useful);
  gr_tensor **acc = calloc((size_t)(nn ? nn : 1) * GR_MAX_OUT, sizeof *acc);
  if (!useful || !acc) {
    free(useful);
    free(acc);
    free(w.order);
    return gr_fail(GR_ENOMEM, "grad: out of memory");
  }
  /* hold every node for the walk: dropping a node's values may free its inputs' nodes */
  for (int j = 0; j < nn; j++) {
    w.order[j]->slot = j;
    w.order[j]->refs++;
  }
  for (int j = 0; j < nn; j++) {
    gr_node *n = w.order[j];
    for (int i = 0; i < nin && !useful[j]; i++)
      if (inputs[i]->grad_fn == n) useful[j] = true;
    for (int i = 0; i < n->nin && !useful[j]; i++) {
      gr_tensor *t = n->in[i];
      if (!t || !t->requires_grad) continue;
      if (t->grad_fn ? (t->grad_fn->mark == w.mark && useful[t->grad_fn->slot])
                     : find_input(nin, inputs, t) >= 0)
        useful[j] = true;
    }
  }

  bool prev_mode = gr_set_grad_enabled(o.create_graph);
  gr_pool_push();
  s = GR_OK;
  /* seed */
  for (int k = 0; k < nout && s == GR_OK; k++) {
    gr_tensor *out = outputs[k];
    gr_tensor *go = o.grad_outputs ? o.grad_outputs[k] : NULL;
    if (!go) go = gr_full(GR_F32, out->ndim, out->shape, 1.0);
    if (!go) {
      s = gr_errcode();
      break;
    }
    if (out->grad_fn) {
      if (useful[out->grad_fn->slot])
        s = accumulate(&acc[out->grad_fn->slot * GR_MAX_OUT + out->out_index], go);
    } else {
      int i = find_input(nin, inputs, out);
      if (i >= 0) s = accumulate(&grads[i], go);
    }
  }
  /* reverse post-order: a node runs after every consumer of its outputs */
  for (int j = nn - 1; j >= 0 && s == GR_OK; j--) {
    if (!useful[j]) continue;
    gr_node *n = w.order[j];
    gr_tensor **nacc = &acc[j * GR_MAX_OUT];
    for (int i = 0; i < nin; i++)
      if (inputs[i]->grad_fn == n && nacc[inputs[i]->out_index])
        s = accumulate(&grads[i], nacc[inputs[i]->out_index]);
    bool needs[64] = {0}, any = false;
    gr_tensor *gin_small[64] = {0};
    bool *need = needs;
    gr_tensor **gin = gin_small;
    if (n->nin > 64) {
      need = calloc((size_t)n->nin, sizeof *need);
      gin = calloc((size_t)n->nin, sizeof *gin);
      if (!need || !gin) s = gr_fail(GR_ENOMEM, "grad: out of memory");
    }
    for (int i = 0; i < n->nin && s == GR_OK; i++) {
      gr_tensor *t = n->in[i];
      if (!t || !t->requires_grad) continue;
      need[i] = t->grad_fn ? (t->grad_fn->mark == w.mark && useful[t->grad_fn->slot])
                           : find_input(nin, inputs, t) >= 0;
      any |= need[i];
    }
    if (any && s == GR_OK) {
      gr_pool_push();
      gr_bwd b = {.node = n, .in = n->in, .a = &n->a, .needs = need, .gin = gin,
                  .create_graph = o.create_graph};
      for (int k = 0; k < n->nout && s == GR_OK; k++) {
        b.gout[k] = nacc[k] ? nacc[k] : gr_zeros(GR_F32, n->out_ndim[k], n->out_shape[k]);
        if (!b.gout[k]) s = gr_errcode();
      }
      gr_threads_tick();
      if (s == GR_OK) s = gr_op_table[n->op].backward(&b);
      for (int i = 0; i < n->nin && s == GR_OK; i++) {
        if (!need[i]) continue;
        gr_tensor *t = n->in[i], *g = gin[i];
        if (!g) {
          s = gr_errcode() ? gr_errcode()
                           : gr_fail(GR_ESTATE, "grad: the rule of %s gave no gradient for input %d",
                                     gr_op_table[n->op].name, i + 1);
          break;
        }
        if (!gr_same_shape(g, t)) {
          s = gr_fail(GR_ESTATE, "grad: the rule of %s gave %s for input %d of shape %s",
                      gr_op_table[n->op].name, gr_shape_str(g), i + 1, gr_shape_str(t));
          break;
        }
        if (t->grad_fn) {
          s = accumulate(&acc[t->grad_fn->slot * GR_MAX_OUT + t->out_index], g);
        } else {
          s = accumulate(&grads[find_input(nin, inputs, t)], g);
        }
      }
      gr_pool_pop();
    }
    if (need != needs) {
      free(need);
      free(gin);
    }
    for (int k = 0; k < GR_MAX_OUT; k++) {
      gr_release(nacc[k]);
      nacc[k] = NULL;
    }
    if (!retain && s == GR_OK) node_drop_values(n);
  }
  gr_pool_pop();
  gr_set_grad_enabled(prev_mode);

  for (int j = 0; j < nn * GR_MAX_OUT; j++) gr_release(acc[j]);
  for (int j = 0; j < nn; j++) gr_node_release(w.order[j]);
  free(acc);
  free(useful);
  free(w.order);
  if (s != GR_OK) {
    for (int i = 0; i < nin; i++) {
      gr_release(grads[i]);
      grads[i] = NULL;
    }
    return s;
  }
  for (int i = 0; i < nin; i++) {
    if (grads[i]) {
      gr_autorelease(grads[i]); /* pooled like any result when the caller has a pool */
      continue;
    }
    if (o.allow_unused) continue;
    grads[i] = gr_zeros(GR_F32, inputs[i]->ndim, inputs[i]->shape);
    if (!grads[i]) return gr_errcode();
  }
  return GR_OK;
}
