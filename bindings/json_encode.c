/* ebb.json's encoder: a Lua value to JSON text. A table is an array when its
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
  json_buf *b;
  int depth, indent, sort_keys;
  int mt_idx;      /* the array metatable, on the stack */
  int path_idx;    /* the way to the failure, once made */
  char msg[160];
  /* the way down: at each level the stack index of the key, or 0 and the array index */
  int key_at[JSON_MAX_DEPTH + 2];
  double index_at[JSON_MAX_DEPTH + 2];
} enc;

static inline int put(enc *e, const char *s, size_t n) {
  json_buf *b = e->b;
  if (n == 0) return 0;
  if (ebb_json_buf_reserve(b, n)) return -1;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

static inline int put_char(enc *e, char c) {
  json_buf *b = e->b;
  if (ebb_json_buf_reserve(b, 1)) return -1;
  b->data[b->len++] = c;
  return 0;
}

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

/* ---- numbers ---- */

static int number(enc *e, double v) {
  char s[40];
  if (v != v) return fail_at(e, e->depth, "cannot encode NaN (JSON has no NaN)");
  if (isinf(v)) return fail_at(e, e->depth, "cannot encode %s (JSON has no infinities)", v > 0 ? "inf" : "-inf");
  return put(e, s, ebb_json_format_number(s, v)) ? out_of_memory(e) : 0;
}

/* ---- strings ---- */

/* 0: as it is; else the letter of its short escape, or 'u' for \u00XX. */
static const char ESCAPE[256] = {
  'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
  'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
  0, 0, '"', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\\', 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* How many bytes from s need no escape: eight at a time while none of
 * them is below 0x20, a quote or a backslash. */
static size_t plain_run(const char *s, size_t n) {
  const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w, quote, slash;
    memcpy(&w, s + i, 8);
    quote = w ^ (ones * '"');
    slash = w ^ (ones * '\\');
    if (((w - ones * 0x20) | (quote - ones) | (slash - ones)) & ~w & highs) break;
  }
  while (i < n && !ESCAPE[(unsigned char)s[i]]) i++;
  return i;
}

/* The bytes as they are (UTF-8 passes through), quoted and escaped: room
 * for the plain case is made once, and again at each escape. */
static int string(enc *e, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  json_buf *b = e->b;
  char *o;
  if (ebb_json_buf_reserve(b, n + 2)) return out_of_memory(e);
  o = b->data + b->len;
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c;
    char esc;
    size_t run = plain_run(s + i, n - i);
    memcpy(o, s + i, run);
    o += run;
    if ((i += run) == n) break;
    c = (unsigned char)s[i];
    esc = ESCAPE[c];
    b->len = (size_t)(o - b->data);
    if (ebb_json_buf_reserve(b, n - i + 7)) return out_of_memory(e);
    o = b->data + b->len;
    *o++ = '\\';
    *o++ = esc;
    if (esc == 'u') {
      *o++ = '0';
      *o++ = '0';
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    }
  }
  *o++ = '"';
  b->len = (size_t)(o - b->data);
  return 0;
}

/* ---- tables ---- */

static int value(enc *e, int idx);

static int newline(enc *e, int depth) {
  json_buf *b = e->b;
  size_t n = 1 + (size_t)e->indent * (size_t)depth;
  if (!e->indent) return 0;
  if (ebb_json_buf_reserve(b, n)) return out_of_memory(e);
  b->data[b->len] = '\n';
  memset(b->data + b->len + 1, ' ', n - 1);
  b->len += n;
  return 0;
}

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
  int d = e->depth;
  if (put_char(e, '[')) return out_of_memory(e);
  for (double i = 1; i <= n; i++) {
    if (i > 1 && put_char(e, ',')) return out_of_memory(e);
    if (newline(e, d)) return -1;
    e->key_at[d] = 0;
    e->index_at[d] = i;
    lua_rawgeti(L, idx, (int)i);
    if (value(e, lua_gettop(L)) < 0) return -1;
    lua_pop(L, 1);
  }
  if (newline(e, d - 1)) return -1;
  return put_char(e, ']') ? out_of_memory(e) : 0;
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

/* One member: the key at k, the value on the stack's top. */
static int member(enc *e, int k, int first) {
  int d = e->depth;
  if (!first && put_char(e, ',')) return out_of_memory(e);
  if (newline(e, d) || key(e, k) < 0) return -1;
  if (put(e, e->indent ? ": " : ":", e->indent ? 2 : 1)) return out_of_memory(e);
  e->key_at[d] = k;
  return value(e, lua_gettop(e->L));
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
    if (member(e, lua_gettop(L) - 1, i == 0) < 0) return -1;
    lua_pop(L, 2);
  }
  lua_pop(L, 3);
  return 0;
}

/* started: the first key and value are on the stack already. */
static int object(enc *e, int idx, int started) {
  lua_State *L = e->L;
  int first = 1;
  if (put_char(e, '{')) return out_of_memory(e);
  if (e->sort_keys) {
    if (started) lua_pop(L, 2);
    if (sorted_object(e, idx) < 0) return -1;
  } else {
    if (!started) {
      lua_pushnil(L);
      lua_next(L, idx); /* there is a key: the table was found not to be an array */
    }
    do {
      if (member(e, lua_gettop(L) - 1, first) < 0) return -1;
      lua_pop(L, 1);
      first = 0;
    } while (lua_next(L, idx));
  }
  if (newline(e, e->depth - 1)) return -1;
  return put_char(e, '}') ? out_of_memory(e) : 0;
}

/* A table whose first key is a string is an object at once; any other is
 * looked over whole to tell an array from an object. */
static int table(enc *e, int idx) {
  lua_State *L = e->L;
  double count = 0, n;
  int marked = 0, rc;
  if (e->depth >= JSON_MAX_DEPTH)
    return fail_at(e, e->depth, "cannot encode tables nested deeper than %d levels (does a table contain itself?)",
                   JSON_MAX_DEPTH);
  if (!lua_checkstack(L, 8)) return out_of_memory(e);
  if (lua_getmetatable(L, idx)) {
    marked = lua_rawequal(L, -1, e->mt_idx);
    lua_pop(L, 1);
  }
  e->depth++;
  lua_pushnil(L);
  if (!lua_next(L, idx)) rc = put(e, marked ? "[]" : "{}", 2) ? out_of_memory(e) : 0;
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

static int value(enc *e, int idx) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
    case LUA_TNIL: return put(e, "null", 4) ? out_of_memory(e) : 0;
    case LUA_TBOOLEAN:
      return (lua_toboolean(L, idx) ? put(e, "true", 4) : put(e, "false", 5)) ? out_of_memory(e) : 0;
    case LUA_TNUMBER: return number(e, lua_tonumber(L, idx));
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      return string(e, s, n);
    }
    case LUA_TTABLE: return table(e, idx);
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == NULL) return put(e, "null", 4) ? out_of_memory(e) : 0;
      /* fall through */
    default: return fail_at(e, e->depth, "cannot encode a %s", lua_typename(L, lua_type(L, idx)));
  }
}

/* encode(value, indent, sort_keys) */
int ebb_json_encode(lua_State *L) {
  enc encoder, *e = &encoder;
  struct lconv *lc = localeconv();
  locale_t was = (locale_t)0;
  int rc;
  e->L = L;
  e->b = lua_touserdata(L, lua_upvalueindex(1));
  e->b->len = 0;
  e->depth = 0;
  e->indent = (int)lua_tointeger(L, 2);
  e->sort_keys = lua_toboolean(L, 3);
  e->path_idx = 0;
  luaL_getmetatable(L, JSON_ARRAY_MT);
  e->mt_idx = lua_gettop(L);
  /* numbers are written with ".", whatever os.setlocale chose */
  if (lc->decimal_point[0] != '.' || lc->decimal_point[1]) was = uselocale(ebb_json_c_locale());
  rc = value(e, 1);
  if (was) uselocale(was);
  if (rc < 0) {
    lua_pushnil(L);
    lua_pushstring(L, e->msg);
    if (e->path_idx) lua_pushvalue(L, e->path_idx);
    else lua_pushnil(L);
    ebb_json_buf_shrink(e->b);
    return 3;
  }
  lua_pushlstring(L, e->b->data, e->b->len);
  ebb_json_buf_shrink(e->b);
  return 1;
}
