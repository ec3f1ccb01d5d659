/* ganlua: the program.
 *
 *   ganlua FILE.lua [args]   run a script (arg[0] = FILE, arg[1..] = args)
 *   ganlua NAME [args]       run the recipe recipes/NAME.lua
 *   ganlua                   a REPL with `gan` loaded
 *   ganlua -e CODE ...       run code (several -e; then an optional script)
 *   ganlua --list            every recipe with its year and summary
 *   ganlua explain NAME      a recipe's header comment
 *   ganlua eval RUN_DIR      measure a run again (the recipe tools/eval)
 *   ganlua sample RUN        draw from a trained run (tools/sample)
 *   ganlua translate RUN DIR translate images with a trained run (tools/translate)
 *
 * gan.core is linked in and preloaded; the Lua library is found through
 * package.path: $GANLUA_PATH, then the source tree's lua/ for a program in
 * its build tree, or the installed share/lua/5.4 for an installed one (the
 * copy a stock lua5.4 loads). Recipes are found in $GANLUA_RECIPES,
 * ./recipes, then the source tree's recipes/ or the installed
 * share/ganlua/recipes, the same way.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#ifdef GANLUA_HAVE_EDITLINE
#include <editline/readline.h>
#endif

#include "bind.h"
#include "ganrt/ganrt.h"

#ifndef GANLUA_SOURCE_DIR
#define GANLUA_SOURCE_DIR "."
#endif

int luaopen_gan_core(lua_State *L);

static const char *progname = "ganlua";

/* --- messages and protected calls (as the stock lua program does them) ------------- */

/* Prints a message; control characters other than newline and tab (an ANSI
 * escape in a file name or in a file's contents) are shown as \ddd, so no
 * text read from a file can drive the terminal. */
static void message(const char *msg) {
  fprintf(stderr, "%s: ", progname);
  for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
    if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) fprintf(stderr, "\\%03d", *p);
    else fputc(*p, stderr);
  }
  fputc('\n', stderr);
  fflush(stderr);
}

/* Reports a failed status with the error on the stack top; returns status. */
static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    message(msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

/* Is msg a user's error (an option, a file, data: gan.util.user_error, or
 * a recipe's message about an option, "--size must be ..."), or a message
 * that wraps one? Those read best alone, without a traceback. */
static bool is_user_error(lua_State *L, const char *msg) {
  if (!strncmp(msg, "--", 2)) return true;
  int top = lua_gettop(L);
  bool yes = false;
  if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) == LUA_TTABLE &&
      lua_getfield(L, -1, "gan.util") == LUA_TTABLE &&
      lua_getfield(L, -1, "last_user_error") == LUA_TSTRING)
    yes = strstr(msg, lua_tostring(L, -1)) != NULL;
  lua_settop(L, top);
  return yes;
}

/* Message handler: the error as text, with a traceback; a user's error
 * alone, and one that carries the traceback of where it was raised (passed
 * on by gan.util.traced) as it is. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  if (is_user_error(L, msg) || strstr(msg, "\nstack traceback:\n")) {
    lua_pushstring(L, msg);
    return 1;
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Ctrl-C while Lua runs: the next Lua instruction raises "interrupted!". */
static lua_State *volatile running;

static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

static void on_sigint(int sig) {
  signal(sig, SIG_DFL); /* a second Ctrl-C kills the process */
  lua_sethook(running, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  running = L;
  signal(SIGINT, on_sigint);
  int status = lua_pcall(L, narg, nres, base);
  signal(SIGINT, SIG_DFL);
  lua_remove(L, base);
  return status;
}

/* --- paths -------------------------------------------------------------------------- */

/* The installation prefix, from where this executable lives (<prefix>/bin/ganlua). */
static const char *exe_prefix(void) {
  static char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return NULL;
  buf[n] = '\0';
  for (int k = 0; k < 2; k++) { /* strip "/ganlua", then "/bin" */
    char *slash = strrchr(buf, '/');
    if (!slash) return NULL;
    *slash = '\0';
  }
  return buf;
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Is this program an installed one (<prefix>/bin/ganlua beside
 * <prefix>/share/lua/5.4/gan)? Then it reads the installed library and
 * recipes, as a stock lua5.4 does, and never the source tree it was built from. */
static bool installed(void) {
  const char *prefix = exe_prefix();
  if (!prefix) return false;
  char path[4200];
  snprintf(path, sizeof path, "%s/share/lua/5.4/gan/init.lua", prefix);
  return is_file(path);
}

/* package.path = $GANLUA_PATH; the source lua/ (a program in the build tree) or the
 * installed share/lua/5.4 (an installed one); then the default */
static void set_path(lua_State *L) {
  lua_getglobal(L, "package");
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  const char *env = getenv("GANLUA_PATH");
  if (env && *env) {
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", env, env);
    luaL_addvalue(&b);
  }
  if (!installed()) {
    lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;", GANLUA_SOURCE_DIR, GANLUA_SOURCE_DIR);
    luaL_addvalue(&b);
  }
  const char *prefix = exe_prefix();
  if (prefix) {
    lua_pushfstring(L, "%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua;", prefix, prefix);
    luaL_addvalue(&b);
  }
  lua_getfield(L, -2, "path");
  luaL_addvalue(&b);
  luaL_pushresult(&b);
  lua_setfield(L, -2, "path");
  luaL_getsubtable(L, -1, "preload");
  lua_pushcfunction(L, luaopen_gan_core);
  lua_setfield(L, -2, "gan.core");
  lua_pop(L, 2);
}

/* The recipe folders to search, in order; returns how many. */
#define MAX_RECIPE_DIRS 4
static int recipe_dirs(char dirs[MAX_RECIPE_DIRS][4096]) {
  int n = 0;
  const char *env = getenv("GANLUA_RECIPES");
  if (env && *env) snprintf(dirs[n++], 4096, "%s", env);
  snprintf(dirs[n++], 4096, "recipes");
  if (!installed()) snprintf(dirs[n++], 4096, "%s/recipes", GANLUA_SOURCE_DIR);
  const char *prefix = exe_prefix();
  if (prefix) snprintf(dirs[n++], 4096, "%s/share/ganlua/recipes", prefix);
  return n;
}

/* A script argument that is not a file may name a recipe: NAME or NAME.lua
 * under a recipe folder. Writes the path into out; false when none. */
static bool find_recipe(const char *name, char *out, size_t cap) {
  char dirs[MAX_RECIPE_DIRS][4096];
  int n = recipe_dirs(dirs);
  /* the README's `ganlua recipes/cyclegan.lua`, typed outside the source tree */
  if (!strncmp(name, "recipes/", 8) && name[8]) name += 8;
  size_t len = strlen(name);
  bool has_ext = len > 4 && !strcmp(name + len - 4, ".lua");
  for (int i = 0; i < n; i++) {
    snprintf(out, cap, has_ext ? "%s/%s" : "%s/%s.lua", dirs[i], name);
    if (is_file(out)) return true;
  }
  return false;
}

/* --- recipe headers ----------------------------------------------------------------
 * A recipe starts with an LDoc comment block:
 *   --- DCGAN — all-convolutional generator and discriminator with batch norm.
 *   -- @paper ...
 *   -- @year 2015
 * The summary is the text after "--- " on the first line. */

typedef struct header {
  char summary[512];
  char year[32];
} header;

/* Calls fn on each line of the leading comment block; false if unreadable. */
static bool read_header(const char *path, void (*fn)(const char *line, void *ctx), void *ctx) {
  FILE *f = fopen(path, "r");
  if (!f) return false;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  bool first = true;
  while ((len = getline(&line, &cap, f)) > 0) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (first && line[0] == '#') { /* a #! line */
      first = false;
      continue;
    }
    first = false;
    if (strncmp(line, "--", 2) != 0) break;
    fn(line, ctx);
  }
  free(line);
  fclose(f);
  return true;
}

static void copy_trimmed(char *dst, size_t cap, const char *src) {
  while (*src == ' ' || *src == '\t') src++;
  snprintf(dst, cap, "%s", src);
  size_t n = strlen(dst);
  while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\t')) dst[--n] = '\0';
}

static void header_line(const char *line, void *ctx) {
  header *h = ctx;
  if (!strncmp(line, "---", 3) && !h->summary[0]) copy_trimmed(h->summary, sizeof h->summary, line + 3);
  const char *tag = strstr(line, "@year");
  if (tag && !h->year[0]) copy_trimmed(h->year, sizeof h->year, tag + 5);
}

/* explain: the key points in one language ("en", "ja" or "all") */
typedef struct explaining {
  const char *lang;
  bool counting;   /* first pass: which languages the header has */
  int lines[2];    /* @en, @ja lines seen */
} explaining;

/* the tag of a header line: 0 @en, 1 @ja, -1 neither; *text after the tag */
static int lang_tag(const char *s, const char **text) {
  static const char *const tags[2] = {"@en", "@ja"};
  for (int k = 0; k < 2; k++)
    if (!strncmp(s, tags[k], 3) && (s[3] == ' ' || s[3] == '\0')) {
      *text = s[3] ? s + 4 : s + 3;
      return k;
    }
  return -1;
}

static void explain_line(const char *line, void *ctx) {
  explaining *x = ctx;
  const char *s = line + (strncmp(line, "---", 3) ? 2 : 3), *text;
  if (*s == ' ') s++;
  int k = lang_tag(s, &text);
  if (x->counting) {
    if (k >= 0) x->lines[k]++;
    return;
  }
  if (k >= 0) {
    int want = !strcmp(x->lang, "ja") ? 1 : 0;
    if (x->lines[want] == 0) want = 1 - want; /* the header has only the other language */
    if (!strcmp(x->lang, "all") || k == want) printf("%s\n", text);
  } else if (!strncmp(s, "@paper ", 7)) {
    printf("Paper: %s\n", s + 7);
  } else if (!strncmp(s, "@year ", 6)) {
    printf("Year:  %s\n", s + 6);
  } else {
    printf("%s\n", s);
  }
}

/* The language of explain when not asked: Japanese when the locale is, else English. */
static const char *default_lang(void) {
  const char *vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
  for (int i = 0; i < 3; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return strncmp(v, "ja", 2) ? "en" : "ja";
  }
  return "en";
}

typedef struct entry {
  char name[256];
  header h;
} entry;

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* Adds the recipes of dir (names prefixed with sub) not seen yet. */
static void scan_dir(const char *dir, const char *sub, entry **list, int *n, int *cap) {
  char path[4096];
  snprintf(path, sizeof path, "%s%s%s", dir, *sub ? "/" : "", sub);
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".lua") || e->d_name[0] == '.') continue;
    char name[256];
    snprintf(name, sizeof name, "%s%s%.*s", sub, *sub ? "/" : "", (int)(len - 4), e->d_name);
    bool seen = false;
    for (int i = 0; i < *n && !seen; i++) seen = !strcmp((*list)[i].name, name);
    if (seen) continue;
    if (*n == *cap) {
      *cap = *cap ? *cap * 2 : 64;
      entry *grown = realloc(*list, (size_t)*cap * sizeof **list);
      if (!grown) break;
      *list = grown;
    }
    entry *r = &(*list)[*n];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    char file[4096 + 256];
    snprintf(file, sizeof file, "%s/%s", path, e->d_name);
    if (!is_file(file) || !read_header(file, header_line, &r->h)) continue;
    (*n)++;
  }
  closedir(d);
}

/* Every recipe of the recipe folders (and their lab/), the first of each name;
 * the caller frees *list. Returns how many. */
static int all_recipes(entry **list) {
  char dirs[MAX_RECIPE_DIRS][4096];
  int ndirs = recipe_dirs(dirs), n = 0, cap = 0;
  *list = NULL;
  for (int i = 0; i < ndirs; i++) {
    if (!is_dir(dirs[i])) continue;
    scan_dir(dirs[i], "", list, &n, &cap);
    scan_dir(dirs[i], "lab", list, &n, &cap);
  }
  return n;
}

static int list_recipes(void) {
  entry *list;
  int n = all_recipes(&list);
  if (n == 0) {
    message("no recipes found (looked in $GANLUA_RECIPES, ./recipes, the source tree and the "
            "installed share/ganlua/recipes)");
    free(list);
    return EXIT_FAILURE;
  }
  qsort(list, (size_t)n, sizeof *list, cmp_entry);
  int width = 4;
  for (int i = 0; i < n; i++) {
    int len = (int)strlen(list[i].name);
    if (len > width) width = len;
  }
  for (int i = 0; i < n; i++)
    printf("%-*s  %-4s  %s\n", width, list[i].name, list[i].h.year[0] ? list[i].h.year : "-",
           list[i].h.summary);
  free(list);
  return EXIT_SUCCESS;
}

/* Edit distance between a and b (both short names). */
static int distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 255 || lb > 255) return 1 << 20;
  int prev[256], cur[256];
  for (int j = 0; j <= lb; j++) prev[j] = j;
  for (int i = 1; i <= la; i++) {
    cur[0] = i;
    for (int j = 1; j <= lb; j++) {
      int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
      int del = prev[j] + 1, ins = cur[j - 1] + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
    memcpy(prev, cur, (size_t)(lb + 1) * sizeof *prev);
  }
  return prev[lb];
}

/* The recipe name nearest to a mistyped one ("dcgn": "dcgan"), into out;
 * false when none is near enough (a third of the name, at least 2 edits). */
static bool nearest_recipe(const char *name, char *out, size_t cap) {
  entry *list;
  int n = all_recipes(&list);
  size_t len = strlen(name);
  char bare[256];
  snprintf(bare, sizeof bare, "%.*s", (int)(len > 4 && !strcmp(name + len - 4, ".lua") ? len - 4 : len), name);
  int best = -1, bestd = 0, limit = (int)strlen(bare) / 3;
  if (limit < 2) limit = 2;
  for (int i = 0; i < n; i++) {
    int d = distance(bare, list[i].name);
    const char *slash = strrchr(list[i].name, '/'); /* lab/latent answers to "latnt" too */
    if (slash) {
      int d2 = distance(bare, slash + 1);
      if (d2 < d) d = d2;
    }
    if (d <= limit && (best < 0 || d < bestd)) best = i, bestd = d;
  }
  if (best >= 0) snprintf(out, cap, "%s", list[best].name);
  free(list);
  return best >= 0;
}

static int explain(const char *name, const char *lang) {
  char path[8192];
  if (!lang) lang = default_lang();
  if (strcmp(lang, "en") && strcmp(lang, "ja") && strcmp(lang, "all")) {
    fprintf(stderr, "%s: --lang must be en, ja or all, not '%s'\n", progname, lang);
    return EXIT_FAILURE;
  }
  if (is_file(name)) snprintf(path, sizeof path, "%s", name);
  else if (!find_recipe(name, path, sizeof path)) {
    char near[256];
    if (nearest_recipe(name, near, sizeof near))
      fprintf(stderr, "%s: no recipe named '%s' (did you mean %s? see ganlua --list)\n", progname, name, near);
    else
      fprintf(stderr, "%s: no recipe named '%s' (see ganlua --list)\n", progname, name);
    return EXIT_FAILURE;
  }
  explaining x = {lang, true, {0, 0}};
  read_header(path, explain_line, &x);
  x.counting = false;
  if (!read_header(path, explain_line, &x)) {
    fprintf(stderr, "%s: cannot read %s: %s\n", progname, path, strerror(errno));
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}

/* --- the REPL ------------------------------------------------------------------------- */

/* Appends the string on the stack top to the string at acc. */
static void append(lua_State *L, int acc) {
  lua_pushvalue(L, acc);
  lua_insert(L, -2);
  lua_concat(L, 2);
  lua_replace(L, acc);
}

/* Pushes a one-line picture of the value at idx: tables as {1, 2, k = v}
 * (two levels deep, 20 entries), anything else as tostring does. */
static void describe(lua_State *L, int idx, int depth) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 8, "describe");
  int top = lua_gettop(L);
  bool plain_table = lua_type(L, idx) == LUA_TTABLE && !luaL_getmetafield(L, idx, "__tostring") &&
                     !luaL_getmetafield(L, idx, "__name");
  lua_settop(L, top); /* drop a metafield the test pushed */
  if (!plain_table) {
    if (depth > 0 && lua_type(L, idx) == LUA_TSTRING) lua_pushfstring(L, "\"%s\"", lua_tostring(L, idx));
    else luaL_tolstring(L, idx, NULL);
    return;
  }
  if (depth >= 2) {
    lua_pushliteral(L, "{...}");
    return;
  }
  lua_pushliteral(L, "{");
  int acc = lua_gettop(L);
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  int shown = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    if (shown++ == 20) {
      lua_pushliteral(L, ", ...");
      append(L, acc);
      break;
    }
    if (i > 1) {
      lua_pushliteral(L, ", ");
      append(L, acc);
    }
    lua_rawgeti(L, idx, i);
    describe(L, -1, depth + 1);
    lua_remove(L, -2);
    append(L, acc);
  }
  lua_pushnil(L);
  while (shown <= 20 && lua_next(L, idx)) {
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 && lua_tointeger(L, -2) <= n) {
      lua_pop(L, 1);
      continue;
    }
    if (shown++ == 20) {
      lua_pop(L, 2);
      lua_pushliteral(L, ", ...");
      append(L, acc);
      break;
    }
    if (shown > 1) {
      lua_pushliteral(L, ", ");
      append(L, acc);
    }
    if (lua_type(L, -2) == LUA_TSTRING) {
      lua_pushfstring(L, "%s = ", lua_tostring(L, -2));
    } else {
      describe(L, -2, depth + 1);
      lua_pushfstring(L, "[%s] = ", lua_tostring(L, -1));
      lua_remove(L, -2);
    }
    append(L, acc);
    describe(L, -1, depth + 1);
    append(L, acc);
    lua_pop(L, 1); /* the value; the key stays for lua_next */
  }
  lua_pushliteral(L, "}");
  append(L, acc);
}

static void print_results(lua_State *L) {
  int n = lua_gettop(L);
  if (n == 0) return;
  for (int i = 1; i <= n; i++) {
    describe(L, i, 0);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (i > 1) fputc('\t', stdout);
    fwrite(s, 1, len, stdout);
    lua_pop(L, 1);
  }
  fputc('\n', stdout);
  fflush(stdout);
}

static bool interactive;
#define LINE_MAX_INPUT 65536

#ifdef GANLUA_HAVE_EDITLINE
/* Tab completes names: globals, then fields after '.', methods after ':'. */
static lua_State *completing;
static char *candidates[512];
static int ncand, nextcand;

static void add_candidates(lua_State *L, int t, const char *prefix, size_t plen, const char *head) {
  if (!lua_istable(L, t)) return;
  lua_pushnil(L);
  while (lua_next(L, t) && ncand < 511) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) continue;
    const char *k = lua_tostring(L, -1);
    if (strncmp(k, prefix, plen)) continue;
    size_t n = strlen(head) + strlen(k) + 1;
    char *c = malloc(n);
    if (!c) continue;
    snprintf(c, n, "%s%s", head, k);
    candidates[ncand++] = c;
  }
}

static char *next_candidate(const char *text, int state) {
  lua_State *L = completing;
  if (state == 0) {
    ncand = nextcand = 0;
    int top = lua_gettop(L);
    const char *sep = strrchr(text, '.'), *colon = strrchr(text, ':');
    if (colon > sep) sep = colon;
    char head[256] = "";
    lua_pushglobaltable(L);
    if (sep && sep - text < (int)sizeof head - 1) {
      memcpy(head, text, (size_t)(sep - text + 1));
      head[sep - text + 1] = '\0';
      /* walk a.b.c with raw lookups: completion never runs code */
      const char *p = text;
      while (p < sep && lua_istable(L, -1)) {
        const char *dot = p;
        while (dot < sep && *dot != '.' && *dot != ':') dot++;
        lua_pushlstring(L, p, (size_t)(dot - p));
        lua_rawget(L, -2);
        lua_remove(L, -2);
        p = dot + 1;
      }
      /* a value's methods: its metatable's __index table, or a Tensor's */
      if (!lua_istable(L, -1) || *sep == ':') {
        if (lua_getmetatable(L, -1)) {
          lua_getfield(L, -1, "__index");
          if (lua_iscfunction(L, -1)) lua_getupvalue(L, -1, 1);
        } else {
          lua_pushnil(L);
        }
      }
      add_candidates(L, lua_gettop(L), sep + 1, strlen(sep + 1), head);
    } else {
      add_candidates(L, lua_gettop(L), text, strlen(text), "");
    }
    lua_settop(L, top);
  }
  return nextcand < ncand ? candidates[nextcand++] : NULL;
}

static char **complete(const char *text, int start, int end) {
  (void)start;
  (void)end;
  rl_attempted_completion_over = 1;
  return rl_completion_matches(text, next_candidate);
}

static char history_file[4096];

static void edit_init(lua_State *L) {
  completing = L;
  rl_readline_name = "ganlua";
  rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,+-*/%^~#[";
  rl_completion_append_character = '\0';
  rl_attempted_completion_function = complete;
  using_history();
  stifle_history(1000);
  const char *home = getenv("HOME");
  if (home) {
    snprintf(history_file, sizeof history_file, "%s/.ganlua_history", home);
    read_history(history_file);
  }
}

static void edit_done(void) {
  if (history_file[0]) write_history(history_file);
}
#endif

/* Reads a line into a pushed string (without its newline); false at end of input. */
static bool pushline(lua_State *L, bool first) {
  const char *prompt = first ? "> " : ">> ";
#ifdef GANLUA_HAVE_EDITLINE
  if (interactive) {
    char *line = readline(prompt);
    if (!line) return false;
    lua_pushstring(L, line);
    free(line);
    return true;
  }
#endif
  if (interactive) {
    fputs(prompt, stdout);
    fflush(stdout);
  }
  static char buf[LINE_MAX_INPUT];
  if (!fgets(buf, sizeof buf, stdin)) return false;
  size_t len = strlen(buf);
  if (len > 0 && buf[len - 1] == '\n') buf[--len] = '\0';
  lua_pushlstring(L, buf, len);
  return true;
}

static void save_line(const char *line) {
#ifdef GANLUA_HAVE_EDITLINE
  if (interactive && *line) add_history(line);
#else
  (void)line;
#endif
}

/* Is the syntax error at the end of the input (more lines would complete it)? */
static bool incomplete(lua_State *L, int status) {
  if (status != LUA_ERRSYNTAX) return false;
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  return len >= 5 && !strcmp(msg + len - 5, "<eof>");
}

/* The line at stack top as "return <line>": an expression whose values are printed. */
static int try_expression(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *code = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, code, strlen(code), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2); /* the "return" string */
    save_line(line);
  } else {
    lua_pop(L, 2);
  }
  return status;
}

/* The line at stack top as statements, reading more lines while incomplete. */
static int statements(lua_State *L) {
  for (;;) {
    size_t len;
    const char *code = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, code, len, "=stdin");
    if (!incomplete(L, status) || !pushline(L, false)) {
      save_line(code);
      return status;
    }
    lua_remove(L, -2); /* the error */
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

/* Leaves a compiled chunk (or an error) on the stack; -1 at end of input. */
static int loadline(lua_State *L) {
  lua_settop(L, 0);
  if (!pushline(L, true)) return -1;
  int status = try_expression(L);
  if (status != LUA_OK) status = statements(L);
  lua_remove(L, 1);
  return status;
}

/* The REPL and -e code get `gan` and `help` (gan.help: help(gan.cat) prints
 * its reference entry) as globals for convenience; scripts require them. */
static int load_gan_global(lua_State *L) {
  static const char *const globals[][2] = {{"gan", "gan"}, {"help", "gan.help"}};
  for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++) {
    lua_getglobal(L, "require");
    lua_pushstring(L, globals[i][1]);
    int status = docall(L, 1, 1);
    if (status != LUA_OK) return report(L, status);
    lua_setglobal(L, globals[i][0]);
  }
  return LUA_OK;
}

static int repl(lua_State *L) {
  interactive = isatty(0);
  if (interactive)
    printf("ganlua %s (%s) — `gan` is loaded; help() for the reference, Tab completes, Ctrl-D quits\n", GANRT_VERSION, LUA_RELEASE);
  load_gan_global(L);
#ifdef GANLUA_HAVE_EDITLINE
  if (interactive) edit_init(L);
#endif
  int status;
  while ((status = loadline(L)) != -1) {
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) {
      print_results(L);
    } else {
      const char *msg = lua_tostring(L, -1);
      fprintf(stderr, "%s\n", msg ? msg : "(error object is not a string)");
      fflush(stderr);
    }
  }
  lua_settop(L, 0);
  if (interactive) putchar('\n');
#ifdef GANLUA_HAVE_EDITLINE
  if (interactive) edit_done();
#endif
  return LUA_OK;
}

/* --- running -------------------------------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f,
          "usage: ganlua [options] [script | recipe] [args]\n"
          "\n"
          "  ganlua                     a REPL with gan loaded\n"
          "  ganlua FILE.lua [args]     run a script; arg[0] is FILE, arg[1..] the args\n"
          "  ganlua NAME [args]         run the recipe recipes/NAME.lua (e.g. ganlua dcgan --iters=100)\n"
          "  ganlua explain NAME        print a recipe's header: the paper and its key points\n"
          "                             (--lang=en, ja or all; default: from $LANG)\n"
          "  ganlua eval RUN_DIR        measure a run's last checkpoint: metrics.json and report.html\n"
          "  ganlua sample RUN          draw from a run's checkpoint: RUN/sample.png\n"
          "                             [--n=64 --out=FILE --seed=1 --truncation=T --interpolate=K]\n"
          "  ganlua translate RUN DIR   translate a folder of images with a CycleGAN, UNIT, DiscoGAN or\n"
          "                             pix2pix run [--out=FOLDER --direction=AtoB|BtoA]\n"
          "\n"
          "options:\n"
          "  -e CODE        run CODE (may repeat; runs before the script)\n"
          "  -i             enter the REPL after running the script or -e code\n"
          "  --list         list the recipes with their year and summary\n"
          "  --version      print the version\n"
          "  --help         print this help\n"
          "  --             stop handling options\n"
          "  -              read the script from stdin\n"
          "\n"
          "environment:\n"
          "  GANLUA_PATH      a folder holding gan/ searched first for the Lua library\n"
          "  GANLUA_RECIPES   a folder of recipes searched first\n"
          "  GANLUA_THREADS   threads for the kernels (default: OMP_NUM_THREADS, else all cores)\n"
          "  GANLUA_ISA       force the kernel table: scalar, avx2 or avx512\n");
}

/* arg: arg[0] the script, arg[1..] its arguments, arg[-k] what came before.
 * With no script (-e code, the REPL) arg[0] is the program and the options
 * are arg[-k]: there are no arguments, so gan.options {} reads none. */
static void make_arg(lua_State *L, char **argv, int argc, int script, const char *resolved) {
  bool none = script == argc;
  lua_createtable(L, none ? 0 : argc - script - 1, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, i == script && resolved ? resolved : argv[i]);
    lua_rawseti(L, -2, none ? (i == 0 ? 0 : i - argc) : i - script);
  }
  lua_setglobal(L, "arg");
}

static int run_chunk(lua_State *L, const char *code) {
  int status = luaL_loadbuffer(L, code, strlen(code), "=(command line)");
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

static int run_script(lua_State *L, const char *path, char **args, int nargs) {
  int status = luaL_loadfile(L, path); /* NULL: stdin */
  if (status == LUA_OK) {
    luaL_checkstack(L, nargs, "too many arguments to the script");
    for (int i = 0; i < nargs; i++) lua_pushstring(L, args[i]);
    status = docall(L, nargs, 0);
  }
  return report(L, status);
}

/* The program, run in protected mode; pushes true on success. */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  luaL_checkversion(L);
  luaL_openlibs(L);
  set_path(L);

  int first = 1, nexprs = 0;
  bool want_repl = false, from_stdin = false;
  for (; first < argc && argv[first][0] == '-'; first++) {
    const char *a = argv[first];
    if (!strcmp(a, "--")) {
      first++;
      break;
    }
    if (!strcmp(a, "-")) {
      from_stdin = true;
      break;
    }
    if (!strncmp(a, "-e", 2)) {
      if (!a[2] && ++first >= argc) {
        message("'-e' needs an argument");
        usage(stderr);
        lua_pushboolean(L, 0);
        return 1;
      }
      nexprs++;
    } else if (!strcmp(a, "-i")) {
      want_repl = true;
    } else if (!strcmp(a, "-v") || !strcmp(a, "--version")) {
      printf("ganlua %s (%s)\n", GANRT_VERSION, LUA_RELEASE);
      lua_pushboolean(L, 1);
      return 1;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      lua_pushboolean(L, 1);
      return 1;
    } else if (!strcmp(a, "--list")) {
      lua_pushboolean(L, list_recipes() == EXIT_SUCCESS);
      return 1;
    } else {
      lua_pushfstring(L, "unrecognized option '%s'", a);
      message(lua_tostring(L, -1));
      usage(stderr);
      lua_pushboolean(L, 0);
      return 1;
    }
  }

  if (first < argc && !from_stdin && !strcmp(argv[first], "explain") && !is_file(argv[first])) {
    const char *name = NULL, *lang = NULL;
    bool bad = false;
    for (int i = first + 1; i < argc; i++) {
      if (!strncmp(argv[i], "--lang=", 7)) lang = argv[i] + 7;
      else if (!name && argv[i][0] != '-') name = argv[i];
      else bad = true;
    }
    if (!name || bad) {
      message("usage: ganlua explain NAME [--lang=en|ja|all]");
      lua_pushboolean(L, 0);
      return 1;
    }
    lua_pushboolean(L, explain(name, lang) == EXIT_SUCCESS);
    return 1;
  }

  /* the script: a file, or a recipe by name */
  const char *script = NULL;
  char resolved[8192];
  if (from_stdin) {
    script = "-";
  } else if (first < argc) {
    script = argv[first];
    /* `ganlua eval RUN_DIR`, `sample RUN`, `translate RUN DIR` are the tool recipes tools/NAME */
    if (!is_file(script)) {
      if (!strcmp(script, "eval")) script = "tools/eval";
      else if (!strcmp(script, "sample")) script = "tools/sample";
      else if (!strcmp(script, "translate")) script = "tools/translate";
    }
    if (!is_file(script)) {
      if (!find_recipe(script, resolved, sizeof resolved)) {
        char near[256];
        if (nearest_recipe(script, near, sizeof near))
          lua_pushfstring(L, "cannot open %s: no such file, and no recipe of that name (did you mean %s? "
                             "see ganlua --list)", script, near);
        else
          lua_pushfstring(L, "cannot open %s: no such file, and no recipe of that name "
                             "(see ganlua --list)", script);
        message(lua_tostring(L, -1));
        lua_pushboolean(L, 0);
        return 1;
      }
      script = resolved;
    }
  }
  make_arg(L, argv, argc, script ? first : argc, script == resolved ? resolved : NULL);

  if (nexprs > 0 && load_gan_global(L) != LUA_OK) {
    lua_pushboolean(L, 0);
    return 1;
  }
  for (int i = 1; i < first; i++) {
    const char *a = argv[i];
    if (strncmp(a, "-e", 2)) continue;
    const char *code = a[2] ? a + 2 : argv[++i];
    if (run_chunk(L, code) != LUA_OK) {
      lua_pushboolean(L, 0);
      return 1;
    }
  }
  if (script) {
    const char *path = from_stdin ? NULL : script;
    int nargs = argc - first - 1;
    if (run_script(L, path, argv + first + 1, nargs) != LUA_OK) {
      lua_pushboolean(L, 0);
      return 1;
    }
  }
  if (want_repl || (!script && nexprs == 0)) repl(L);
  lua_pushboolean(L, 1);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    message("cannot create the Lua state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 0);
  bool ok = status == LUA_OK && lua_toboolean(L, -1);
  report(L, status);
  /* the other processes of an MPI job would wait for this one forever */
  if (!ok && gan_dist_size() > 1) gan_dist_abort("failed (message above); ending every process of the job");
  lua_close(L);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
