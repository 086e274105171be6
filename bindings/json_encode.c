/* ebb.json's encoder: a Lua value to JSON text, written by yajl's generator
 * as this walk of the value tells it. A table is an array when its
 * keys are 1..n (holes become null; one sparser than half full becomes an
 * object with string keys), or when it has the array metatable (so an empty
 * one is [] rather than {}); any other table is an object, its number keys
 * written as strings. Numbers are written as JavaScript writes them: the
 * fewest digits that read back as the same double. A failure says what could not be
 * encoded and the way to it ($.users[2].name). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

#define PATH_MAX_PARTS 24 /* a longer way to a failure is cut short with "..." */

typedef struct enc {
  lua_State *L;
  json_state *s;
  yajl_gen g;      /* the generator of the levels being written */
  int depth, indent, sort_keys;
  int mt_idx;      /* the array metatable, on the stack */
  int path_idx;    /* the way to the failure, once made */
  char msg[160];
  /* the way down: at each level the stack index of the key, or 0 and the array index */
  int key_at[JSON_MAX_DEPTH + 2];
  double index_at[JSON_MAX_DEPTH + 2];
} enc;

/* ---- the way to a failure ---- */

static int is_identifier(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int letter = s[i] == '_' || ((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z');
    if (!letter && !(i > 0 && s[i] >= '0' && s[i] <= '9')) return 0;
  }
  return n > 0;
}

/* Pushes "$" and a part per level down to `levels` (a key shown as Lua
 * shows a string, an index as Lua counts it, from 1). */
static void push_path(enc *e, int levels) {
  lua_State *L = e->L;
  luaL_Buffer p;
  luaL_buffinit(L, &p);
  luaL_addchar(&p, '$');
  for (int i = 1; i <= levels; i++) {
    char part[48];
    int k = e->key_at[i];
    if (i > PATH_MAX_PARTS) {
      luaL_addstring(&p, "...");
      break;
    }
    if (k == 0) snprintf(part, sizeof part, "[%.0f]", e->index_at[i]);
    else if (lua_type(L, k) == LUA_TNUMBER) snprintf(part, sizeof part, "[%.17g]", lua_tonumber(L, k));
    else {
      size_t n;
      const char *s = lua_tolstring(L, k, &n);
      if (is_identifier(s, n)) {
        luaL_addchar(&p, '.');
        luaL_addlstring(&p, s, n);
      } else {
        luaL_addstring(&p, "[\"");
        luaL_addlstring(&p, s, n < 40 ? n : 40);
        luaL_addstring(&p, n < 40 ? "\"]" : "...\"]");
      }
      continue;
    }
    luaL_addstring(&p, part);
  }
  luaL_pushresult(&p);
  e->path_idx = lua_gettop(L);
}

/* Fails at the value reached through `levels` levels. */
static int fail_at(enc *e, int levels, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  if (lua_checkstack(e->L, 4)) push_path(e, levels);
  return -1;
}

static int out_of_memory(enc *e) { return fail_at(e, e->depth, "not enough memory"); }

/* ---- writing, by yajl ---- */

/* What does not fit, or comes indented: a newline is owed until more comes
 * (so the newline yajl ends with is not written), then the levels above the
 * generator's own as spaces. */
static __attribute__((noinline)) void print_slow(json_out *o, const char *s, size_t n) {
  json_buf *b = o->b;
  if (o->failed) return;
  if (o->indented && n == 1 && *s == '\n') {
    o->newline = 1;
    return;
  }
  if (ebb_json_buf_reserve(b, n + (o->newline ? o->prefix + 1 : 0))) {
    o->failed = 1;
    return;
  }
  if (o->newline) {
    b->data[b->len++] = '\n';
    memset(b->data + b->len, ' ', o->prefix);
    b->len += o->prefix;
    o->newline = 0;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

/* yajl's print callback, into the shared buffer: called for every quote,
 * comma and colon, so the usual case is kept short (a leaf whose calls are
 * tail calls: no registers to save). */
static void print(void *ctx, const char *s, size_t n) {
  json_out *o = ctx;
  json_buf *b = o->b;
  size_t at = b->len;
  if (o->indented || b->cap - at < n) {
    print_slow(o, s, n);
    return;
  }
  b->len = at + n;
  if (n == 1) b->data[at] = *s;
  else memcpy(b->data + at, s, n);
}

/* Generator k, ready to write a value whose levels are indented by prefix
 * spaces more than its own. */
static yajl_gen generator(enc *e, int k, size_t prefix) {
  static const char SPACES[] = "          ";
  json_state *s = e->s;
  yajl_gen g = s->gen[k];
  if (!g) {
    if (!(g = s->gen[k] = yajl_gen_alloc(NULL))) return NULL;
    yajl_gen_config(g, yajl_gen_print_callback, print, &s->out[k]);
  }
  yajl_gen_reset(g, NULL);
  yajl_gen_config(g, yajl_gen_beautify, e->indent > 0);
  yajl_gen_config(g, yajl_gen_indent_string, SPACES + sizeof SPACES - 1 - e->indent);
  s->out[k].b = &s->buf;
  s->out[k].prefix = prefix;
  s->out[k].newline = 0;
  s->out[k].indented = e->indent > 0;
  return g;
}

static int written(enc *e, yajl_gen_status status) {
  return status == yajl_gen_status_ok ? 0 : fail_at(e, e->depth, "cannot write JSON (yajl status %d)", (int)status);
}

/* ---- numbers ---- */

static int number(enc *e, double v) {
  char s[40];
  if (v != v) return fail_at(e, e->depth, "cannot encode NaN (JSON has no NaN)");
  if (isinf(v)) return fail_at(e, e->depth, "cannot encode %s (JSON has no infinities)", v > 0 ? "inf" : "-inf");
  return written(e, yajl_gen_number(e->g, s, ebb_json_format_number(s, v)));
}

static int string(enc *e, const char *s, size_t n) {
  return written(e, yajl_gen_string(e->g, (const unsigned char *)s, n));
}

/* ---- tables ---- */

static int value(enc *e, int idx);

/* An array's length: the largest key when every key is a whole number from
 * 1 (count: how many); -1 when some key is not. */
static double array_length(lua_State *L, int idx, double *count) {
  double max = 0, n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    double k;
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TNUMBER || (k = lua_tonumber(L, -1)) < 1 || k != floor(k) || k > 9007199254740992.0) {
      lua_pop(L, 1);
      return -1;
    }
    if (k > max) max = k;
    n++;
  }
  *count = n;
  return max;
}

static int array(enc *e, int idx, double n) {
  lua_State *L = e->L;
  int d = e->depth, at = lua_gettop(L) + 1;
  if (written(e, yajl_gen_array_open(e->g))) return -1;
  for (double i = 1; i <= n; i++) {
    e->key_at[d] = 0;
    e->index_at[d] = i;
    lua_rawgeti(L, idx, (int)i);
    if (value(e, at) < 0) return -1;
    lua_pop(L, 1);
  }
  return written(e, yajl_gen_array_close(e->g));
}

/* A key as JSON has it: a string; a number's digits; anything else fails. */
static int key(enc *e, int k) {
  lua_State *L = e->L;
  if (lua_type(L, k) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, k, &n);
    return string(e, s, n);
  }
  if (lua_type(L, k) == LUA_TNUMBER) {
    char s[40];
    double v = lua_tonumber(L, k);
    if (v != v || isinf(v)) return fail_at(e, e->depth - 1, "cannot encode a key that is NaN or infinite");
    return string(e, s, ebb_json_format_number(s, v));
  }
  return fail_at(e, e->depth - 1, "cannot encode a key of type %s (keys are strings or numbers)",
                 lua_typename(L, lua_type(L, k)));
}

/* One member: the key at k, the value above it (the stack's top). */
static int member(enc *e, int k) {
  int d = e->depth;
  if (key(e, k) < 0) return -1;
  e->key_at[d] = k;
  return value(e, k + 1);
}

typedef struct sorted_key {
  const char *s;
  size_t n;
  int i; /* where the key is in the list of keys */
} sorted_key;

static int compare_keys(const void *a, const void *b) {
  const sorted_key *x = a, *y = b;
  int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* The members in the byte order of their keys' text. The keys go into a
 * list, their texts into another (both on the stack, so an error frees them). */
static int sorted_object(enc *e, int idx) {
  lua_State *L = e->L;
  int n = 0, keys, texts;
  sorted_key *order;
  lua_newtable(L);
  keys = lua_gettop(L);
  lua_newtable(L);
  texts = keys + 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, keys, ++n);
    if (lua_type(L, -1) == LUA_TNUMBER) {
      char s[40];
      double v = lua_tonumber(L, -1);
      lua_pushlstring(L, s, v != v || isinf(v) ? 0 : ebb_json_format_number(s, v));
    } else lua_pushvalue(L, -1);
    lua_rawseti(L, texts, n);
  }
  order = lua_newuserdata(L, (size_t)n * sizeof *order + 1);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, texts, i + 1);
    order[i].s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &order[i].n) : "";
    if (lua_type(L, -1) != LUA_TSTRING) order[i].n = 0;
    order[i].i = i + 1;
    lua_pop(L, 1);
  }
  qsort(order, (size_t)n, sizeof *order, compare_keys);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, keys, order[i].i);
    lua_pushvalue(L, -1);
    lua_rawget(L, idx);
    if (member(e, lua_gettop(L) - 1) < 0) return -1;
    lua_pop(L, 2);
  }
  lua_pop(L, 3);
  return 0;
}

/* started: the first key and value are on the stack already. */
static int object(enc *e, int idx, int started) {
  lua_State *L = e->L;
  if (written(e, yajl_gen_map_open(e->g))) return -1;
  if (e->sort_keys) {
    if (started) lua_pop(L, 2);
    if (sorted_object(e, idx) < 0) return -1;
  } else {
    if (!started) {
      lua_pushnil(L);
      lua_next(L, idx); /* there is a key: the table was found not to be an array */
    }
    int k = lua_gettop(L) - 1; /* where lua_next leaves each key */
    do {
      if (member(e, k) < 0) return -1;
      lua_pop(L, 1);
    } while (lua_next(L, idx));
  }
  return written(e, yajl_gen_map_close(e->g));
}

/* A table whose first key is a string is an object at once; any other is
 * looked over whole to tell an array from an object. */
static int table_here(enc *e, int idx) {
  lua_State *L = e->L;
  double count = 0, n;
  int marked = 0, rc;
  if (lua_getmetatable(L, idx)) {
    marked = lua_rawequal(L, -1, e->mt_idx);
    lua_pop(L, 1);
  }
  e->depth++;
  lua_pushnil(L);
  /* yajl_gen_number writes its text as a value: empty tables are written
   * whole, as {} and [] even when indented (yajl's own would span lines) */
  if (!lua_next(L, idx)) rc = written(e, yajl_gen_number(e->g, marked ? "[]" : "{}", 2));
  else if (lua_type(L, -2) == LUA_TSTRING) rc = object(e, idx, 1);
  else {
    lua_pop(L, 2);
    n = array_length(L, idx, &count);
    if (n > 0 && (n <= 2 * count || n <= 10)) rc = array(e, idx, n);
    else rc = object(e, idx, 0);
  }
  e->depth--;
  return rc;
}

/* Every JSON_GEN_LEVELS levels the table goes to the next generator, into
 * the same buffer: the current one writes an empty text in its place (its
 * separator and indentation). */
static int table_in_next_generator(enc *e, int idx) {
  yajl_gen outer = e->g;
  int k = e->depth / JSON_GEN_LEVELS, rc;
  if (written(e, yajl_gen_number(outer, "", 0))) return -1;
  if (!(e->g = generator(e, k, (size_t)e->depth * (size_t)e->indent))) {
    e->g = outer;
    return out_of_memory(e);
  }
  rc = table_here(e, idx);
  e->s->out[k].newline = 0;
  e->g = outer;
  return rc;
}

static int table(enc *e, int idx) {
  if (e->depth >= JSON_MAX_DEPTH)
    return fail_at(e, e->depth, "cannot encode tables nested deeper than %d levels (does a table contain itself?)",
                   JSON_MAX_DEPTH);
  if (!lua_checkstack(e->L, 8)) return out_of_memory(e);
  if (e->depth > 0 && e->depth % JSON_GEN_LEVELS == 0) return table_in_next_generator(e, idx);
  return table_here(e, idx);
}

static int value(enc *e, int idx) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
    case LUA_TNIL: return written(e, yajl_gen_null(e->g));
    case LUA_TBOOLEAN: return written(e, yajl_gen_bool(e->g, lua_toboolean(L, idx)));
    case LUA_TNUMBER: return number(e, lua_tonumber(L, idx));
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      return string(e, s, n);
    }
    case LUA_TTABLE: return table(e, idx);
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == NULL) return written(e, yajl_gen_null(e->g));
      /* fall through */
    default: return fail_at(e, e->depth, "cannot encode a %s", lua_typename(L, lua_type(L, idx)));
  }
}

/* The state to write with: the shared one, or when a call runs inside
 * another (from a __gc) one of its own. (A Lua error raised in the middle
 * of a call, out of memory, leaves the shared one busy: the calls after it
 * each make their own.) */
static json_state *take_state(lua_State *L) {
  json_state *s = lua_touserdata(L, lua_upvalueindex(1));
  if (s->busy) {
    s = lua_newuserdata(L, sizeof *s);
    memset(s, 0, sizeof *s);
    lua_getmetatable(L, lua_upvalueindex(1));
    lua_setmetatable(L, -2);
  }
  s->busy = 1;
  s->buf.len = 0;
  for (int k = 0; k < JSON_GENS; k++) s->out[k].failed = 0;
  return s;
}

static int ran_out_of_memory(const json_state *s) {
  for (int k = 0; k < JSON_GENS; k++)
    if (s->out[k].failed) return 1;
  return 0;
}

/* encode(value, indent, sort_keys) */
int ebb_json_encode(lua_State *L) {
  enc encoder, *e = &encoder;
  struct lconv *lc = localeconv();
  locale_t was = (locale_t)0;
  int rc;
  lua_settop(L, 3);
  e->L = L;
  e->s = take_state(L);
  e->depth = 0;
  e->indent = (int)lua_tointeger(L, 2);
  e->sort_keys = lua_toboolean(L, 3);
  e->path_idx = 0;
  luaL_getmetatable(L, JSON_ARRAY_MT);
  e->mt_idx = lua_gettop(L);
  /* numbers are written with ".", whatever os.setlocale chose */
  if (lc->decimal_point[0] != '.' || lc->decimal_point[1]) was = uselocale(ebb_json_c_locale());
  e->g = generator(e, 0, 0);
  rc = e->g ? value(e, 1) : out_of_memory(e);
  if (was) uselocale(was);
  if (rc == 0 && ran_out_of_memory(e->s)) rc = fail_at(e, 0, "not enough memory");
  e->s->busy = 0;
  if (rc < 0) {
    lua_pushnil(L);
    lua_pushstring(L, e->msg);
    if (e->path_idx) lua_pushvalue(L, e->path_idx);
    else lua_pushnil(L);
    ebb_json_buf_shrink(&e->s->buf);
    return 3;
  }
  lua_pushlstring(L, e->s->buf.data, e->s->buf.len);
  ebb_json_buf_shrink(&e->s->buf);
  return 1;
}
