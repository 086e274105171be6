/* ebb.json's encoder: a Lua value to JSON text. A table is an array when its
 * keys are 1..n (holes become null; one sparser than half full becomes an
 * object with string keys), or when it has the array metatable (so an empty
 * one is [] rather than {}); any other table is an object, its number keys
 * written as strings. Numbers are written as JavaScript writes them: the
 * fewest digits that read back as the same double. A failure says what could not be
 * encoded and the way to it ($.users[2].name). */
#include <float.h>
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

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* u's decimal digits, trailing zeros dropped, into digits; returns how many
 * and sets *all to how many there were with the zeros. */
static int decimal_digits(uint64_t u, char *digits, int *all) {
  char tmp[24];
  int m = 0, n = 0, skip = 0;
  do tmp[m++] = (char)('0' + u % 10);
  while ((u /= 10) != 0);
  *all = m;
  while (skip < m - 1 && tmp[skip] == '0') skip++;
  while (m > skip) digits[n++] = tmp[--m];
  return n;
}

#if LDBL_MANT_DIG >= 64
/* 16 or 17 digits by scaling in long double (64-bit mantissa, where 10^j is
 * exact up to 10^27): r, the 17-digit scaling of v rounded, is off by at most
 * 0.51 in its last digit, less than half of v's ulp, so it always reads back
 * as v. Its 16-digit rounding is taken when its own reading back is sure:
 * rounded to a double it gives v, and it is not so near a midpoint between
 * two doubles that the long double's rounding could have mattered. */
static int long_double_digits(double v, int e, char *digits, int *point) {
  static const long double P[] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
                                  1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
                                  1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
  int j = 16 - e, all, n;
  long double x, r, r16, q, gap;
  double d;
  if (j < -26 || j > 27) return 0;
  x = j >= 0 ? (long double)v * P[j] : (long double)v / P[-j];
  r = nearbyintl(x);
  if (r < 1e16L || r >= 1e17L) return 0;
  r16 = nearbyintl(x / 10);
  q = j - 1 >= 0 ? r16 / P[j - 1] : r16 * P[1 - j];
  d = (double)q;
  gap = fminl((long double)nextafter(d, INFINITY) - d, d - (long double)nextafter(d, 0)) / 2;
  if (d == v && fabsl(q - d) < gap - q * 0x1p-62L) {
    n = decimal_digits((uint64_t)r16, digits, &all);
    *point = all - (j - 1);
  } else {
    n = decimal_digits((uint64_t)r, digits, &all);
    *point = all - j;
  }
  return n;
}
#else
static int long_double_digits(double v, int e, char *digits, int *point) {
  (void)v, (void)e, (void)digits, (void)point;
  return 0;
}
#endif

/* The digits of v (> 0, finite) without trailing zeros, and where the point
 * goes: v = 0.DIGITS x 10^point. Returns how many digits. First at most 15
 * digits found by scaling (exact: r and 10^j are exact doubles, and r / 10^j
 * is rounded correctly, so equal means the decimal reads back as v); then 16
 * or 17 by scaling in long double; else the fewest of 15, 16 or 17 from
 * printf that strtod reads back as v (numbers beyond 1e43 or below 1e-11). */
static int shortest_digits(double v, char *digits, int *point) {
  int n = 0, all, e = (int)floor(log10(v)), j = 14 - e;
  if (j >= -22 && j <= 22) {
    double p = POW10[j < 0 ? -j : j], r = nearbyint(j >= 0 ? v * p : v / p);
    if (r >= 1 && r < 9007199254740992.0 && (j >= 0 ? r / p : r * p) == v) {
      n = decimal_digits((uint64_t)r, digits, &all);
      *point = all - j;
      return n;
    }
  }
  if ((n = long_double_digits(v, e, digits, point)) > 0) return n;
  for (int precision = 15; precision <= 17; precision++) {
    char buf[40], *x;
    snprintf(buf, sizeof buf, "%.*e", precision - 1, v);
    if (precision < 17 && strtod(buf, NULL) != v) continue;
    x = strchr(buf, 'e');
    *point = atoi(x + 1) + 1;
    for (const char *c = buf; c < x; c++)
      if (*c != '.') digits[n++] = *c;
    while (n > 1 && digits[n - 1] == '0') n--;
    break;
  }
  return n;
}

/* v as JavaScript writes a number: whole ones below 1e21 in full, others in
 * fixed notation from 1e-7, in exponent notation beyond ("1.5e-7", "1e+21"). */
static size_t format_number(char *out, double v) {
  char digits[24];
  size_t len = 0;
  int k, point;
  if (v == 0) {
    out[0] = '0';
    return 1;
  }
  if (v < 0) {
    out[len++] = '-';
    v = -v;
  }
  if (v < 9007199254740992.0 && v == (double)(uint64_t)v) { /* whole: its digits as they are */
    int all;
    k = decimal_digits((uint64_t)v, digits, &all);
    memcpy(out + len, digits, (size_t)k);
    memset(out + len + k, '0', (size_t)(all - k));
    return len + (size_t)all;
  }
  k = shortest_digits(v, digits, &point);
  if (k <= point && point <= 21) { /* 1500 */
    memcpy(out + len, digits, (size_t)k);
    memset(out + len + k, '0', (size_t)(point - k));
    return len + (size_t)point;
  }
  if (0 < point && point <= 21) { /* 1.5 */
    memcpy(out + len, digits, (size_t)point);
    out[len + point] = '.';
    memcpy(out + len + point + 1, digits + point, (size_t)(k - point));
    return len + (size_t)k + 1;
  }
  if (-6 < point && point <= 0) { /* 0.0015 */
    out[len++] = '0';
    out[len++] = '.';
    memset(out + len, '0', (size_t)-point);
    memcpy(out + len - point, digits, (size_t)k);
    return len + (size_t)(k - point);
  }
  out[len++] = digits[0]; /* 1.5e-7 */
  if (k > 1) {
    out[len++] = '.';
    memcpy(out + len, digits + 1, (size_t)(k - 1));
    len += (size_t)(k - 1);
  }
  return len + (size_t)sprintf(out + len, "e%c%d", point - 1 < 0 ? '-' : '+', abs(point - 1));
}

static int number(enc *e, double v) {
  char s[40];
  if (v != v) return fail_at(e, e->depth, "cannot encode NaN (JSON has no NaN)");
  if (isinf(v)) return fail_at(e, e->depth, "cannot encode %s (JSON has no infinities)", v > 0 ? "inf" : "-inf");
  return put(e, s, format_number(s, v)) ? out_of_memory(e) : 0;
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
    return string(e, s, format_number(s, v));
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
      lua_pushlstring(L, s, v != v || isinf(v) ? 0 : format_number(s, v));
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

static int object(enc *e, int idx) {
  lua_State *L = e->L;
  int first = 1;
  if (put_char(e, '{')) return out_of_memory(e);
  if (e->sort_keys) {
    if (sorted_object(e, idx) < 0) return -1;
  } else {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      if (member(e, lua_gettop(L) - 1, first) < 0) return -1;
      lua_pop(L, 1);
      first = 0;
    }
  }
  if (newline(e, e->depth - 1)) return -1;
  return put_char(e, '}') ? out_of_memory(e) : 0;
}

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
  n = array_length(L, idx, &count);
  if (n == 0) rc = put(e, marked ? "[]" : "{}", 2) ? out_of_memory(e) : 0;
  else if (n > 0 && (n <= 2 * count || n <= 10)) rc = array(e, idx, n);
  else rc = object(e, idx);
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
