/* ebb.json's decoder: JSON text (RFC 8259, strictly: no comments, no
 * trailing commas, nothing after the value) to Lua values, pushed as they
 * are read. Arrays get the array metatable so they encode as arrays again,
 * even empty; null is the light userdata NULL. A failure says what was
 * expected and at which byte; json.lua turns that into a line and column. */
#define _GNU_SOURCE /* strtod_l */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

typedef struct dec {
  lua_State *L;
  const char *s, *p, *end;
  json_buf *b;
  int depth;
  int mt_idx;       /* the array metatable, on the stack */
  /* the size of the last container at each depth: the next one there is
   * made that size at once (arrays of like objects are the usual case) */
  int size_at[JSON_MAX_DEPTH + 1];
  const char *at;   /* where it failed */
  char msg[128];
} dec;

/* What is at `at`, for a message: 'x', a byte's value, or the end. */
static void describe(const dec *d, const char *at, char *out, size_t n) {
  unsigned char c = at < d->end ? (unsigned char)*at : 0;
  if (at >= d->end) snprintf(out, n, "the end of the text");
  else if (c >= 0x20 && c < 0x7f) snprintf(out, n, "'%c'", c);
  else snprintf(out, n, "byte 0x%02X", c);
}

static int fail(dec *d, const char *at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->msg, sizeof d->msg, fmt, ap);
  va_end(ap);
  d->at = at;
  return -1;
}

/* "expected X but found Y", Y being what is at `at`. */
static int expected(dec *d, const char *at, const char *what) {
  char found[32];
  describe(d, at, found, sizeof found);
  return fail(d, at, "expected %s but found %s", what, found);
}

static void skip_space(dec *d) {
  const char *p = d->p, *end = d->end;
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  d->p = p;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

/* A code point as UTF-8 (a lone surrogate too, as its three bytes: nothing
 * of JSON.parse's input is lost). */
static char *put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) *o++ = (char)cp;
  else if (cp < 0x800) {
    *o++ = (char)(0xC0 | (cp >> 6));
    *o++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *o++ = (char)(0xE0 | (cp >> 12));
    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *o++ = (char)(0xF0 | (cp >> 18));
    *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  }
  return o;
}

/* \uXXXX at p (after the backslash and u), a surrogate pair as one code point. */
static int unicode_escape(dec *d, const char **pp, char **oo) {
  const char *p = *pp;
  unsigned cp, lo;
  if (d->end - p < 4 || hex4(p, &cp) < 0) return fail(d, p - 2, "invalid \\u escape (four hex digits expected)");
  p += 4;
  if (cp >= 0xD800 && cp <= 0xDBFF && d->end - p >= 6 && p[0] == '\\' && p[1] == 'u' && hex4(p + 2, &lo) == 0 &&
      lo >= 0xDC00 && lo <= 0xDFFF) {
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    p += 6;
  }
  *oo = put_utf8(*oo, cp);
  *pp = p;
  return 0;
}

/* A string at d->p (its opening quote): pushed. Without escapes it is taken
 * from the text as it is; with them it is rebuilt in the buffer. */
static int string(dec *d) {
  const char *start = d->p + 1, *p = start, *end = d->end, *q;
  char *o;
  while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) p++;
  if (p < end && *p == '"') {
    lua_pushlstring(d->L, start, (size_t)(p - start));
    d->p = p + 1;
    return 0;
  }
  /* the rebuilt string is never longer than its text, up to its closing quote */
  for (q = p; q < end && *q != '"'; q++)
    if (*q == '\\') q++;
  d->b->len = 0;
  if (ebb_json_buf_reserve(d->b, (size_t)(q - start))) return fail(d, start, "not enough memory");
  o = d->b->data;
  memcpy(o, start, (size_t)(p - start));
  o += p - start;
  for (;;) {
    unsigned char c;
    if (p >= end) return fail(d, start - 1, "unterminated string");
    c = (unsigned char)*p;
    if (c == '"') break;
    if (c < 0x20) return fail(d, p, "control character 0x%02X in a string (write it as an escape: \\u%04X)", c, c);
    if (c != '\\') {
      *o++ = (char)c;
      p++;
      continue;
    }
    if (p + 1 >= end) return fail(d, start - 1, "unterminated string");
    switch (p[1]) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '/': *o++ = '/'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u':
        p += 2;
        if (unicode_escape(d, &p, &o) < 0) return -1;
        continue;
      default: {
        char found[32];
        describe(d, p + 1, found, sizeof found);
        return fail(d, p, "invalid escape: a backslash followed by %s", found);
      }
    }
    p += 2;
  }
  lua_pushlstring(d->L, d->b->data, (size_t)(o - d->b->data));
  d->p = p + 1;
  return 0;
}

static int is_digit(const dec *d, const char *p) { return p < d->end && *p >= '0' && *p <= '9'; }

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?: read by
 * ebb_json_fast_number, or else by strtod in "C". */
static int number(dec *d) {
  const char *start = d->p, *p = start;
  double v;
  if (*p == '-') p++;
  if (!is_digit(d, p)) return expected(d, p, "a digit");
  if (*p == '0') p++;
  else
    while (is_digit(d, p)) p++;
  if (p < d->end && *p == '.') {
    p++;
    if (!is_digit(d, p)) return expected(d, p, "a digit after the decimal point");
    while (is_digit(d, p)) p++;
  }
  if (p < d->end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < d->end && (*p == '+' || *p == '-')) p++;
    if (!is_digit(d, p)) return expected(d, p, "a digit in the exponent");
    while (is_digit(d, p)) p++;
  }
  if (ebb_json_fast_number(start, p, &v)) lua_pushnumber(d->L, v);
  else {
    /* strtod stops where the grammar above did: what could extend a C
     * number (x, p, inf) is an error of the text already */
    lua_pushnumber(d->L, strtod_l(start, NULL, ebb_json_c_locale()));
  }
  d->p = p;
  return 0;
}

static int literal(dec *d, const char *word, size_t n) {
  if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0) {
    const char *q = d->p;
    while (q < d->end && q - d->p < 12 && (*q | 32) >= 'a' && (*q | 32) <= 'z') q++;
    return fail(d, d->p, "expected %s but found '%.*s'", word, (int)(q - d->p), d->p);
  }
  d->p += n;
  return 0;
}

static int value(dec *d);

/* At a container's opening bracket: its table pushed (an array's marked),
 * one level deeper, past the bracket. Returns 1 when the container closes
 * at once (empty), 0 when a first member or element follows. */
static int open_container(dec *d, char close) {
  lua_State *L = d->L;
  int empty, hint;
  if (++d->depth > JSON_MAX_DEPTH) return fail(d, d->p, "nesting deeper than %d levels", JSON_MAX_DEPTH);
  if (!lua_checkstack(L, 4)) return fail(d, d->p, "not enough memory");
  d->p++;
  skip_space(d);
  empty = d->p < d->end && *d->p == close;
  hint = empty ? 0 : d->size_at[d->depth] < 64 ? d->size_at[d->depth] : 64;
  lua_createtable(L, close == ']' ? hint : 0, close == '}' ? hint : 0);
  if (close == ']') {
    lua_pushvalue(L, d->mt_idx);
    lua_setmetatable(L, -2);
  }
  if (empty) {
    d->p++;
    d->depth--;
  }
  return empty;
}

/* After a member or element: 1 when another follows (past the comma), 0
 * when the container closes (past the bracket, a level up). */
static int next_or_close(dec *d, char close, const char *what, int size) {
  skip_space(d);
  if (d->p < d->end && *d->p == ',') {
    d->p++;
    return 1;
  }
  if (d->p < d->end && *d->p == close) {
    d->p++;
    d->size_at[d->depth--] = size;
    return 0;
  }
  return expected(d, d->p, what);
}

static int object(dec *d) {
  lua_State *L = d->L;
  int n = 0, more;
  if ((more = open_container(d, '}')) != 0) return more < 0 ? -1 : 0;
  do {
    skip_space(d);
    if (d->p >= d->end || *d->p != '"') return expected(d, d->p, "a string key");
    if (string(d) < 0) return -1;
    skip_space(d);
    if (d->p >= d->end || *d->p != ':') return expected(d, d->p, "':' after the key");
    d->p++;
    if (value(d) < 0) return -1;
    lua_rawset(L, -3);
    n++;
  } while ((more = next_or_close(d, '}', "',' or '}'", n)) > 0);
  return more;
}

static int array(dec *d) {
  lua_State *L = d->L;
  int n = 0, more;
  if ((more = open_container(d, ']')) != 0) return more < 0 ? -1 : 0;
  do {
    if (value(d) < 0) return -1;
    lua_rawseti(L, -2, ++n);
  } while ((more = next_or_close(d, ']', "',' or ']'", n)) > 0);
  return more;
}

static int value(dec *d) {
  skip_space(d);
  if (d->p >= d->end) return expected(d, d->p, "a value");
  switch (*d->p) {
    case '{': return object(d);
    case '[': return array(d);
    case '"': return string(d);
    case 't':
      if (literal(d, "true", 4) < 0) return -1;
      lua_pushboolean(d->L, 1);
      return 0;
    case 'f':
      if (literal(d, "false", 5) < 0) return -1;
      lua_pushboolean(d->L, 0);
      return 0;
    case 'n':
      if (literal(d, "null", 4) < 0) return -1;
      lua_pushlightuserdata(d->L, NULL);
      return 0;
    default:
      if (*d->p == '-' || (*d->p >= '0' && *d->p <= '9')) return number(d);
      return expected(d, d->p, "a value");
  }
}

int ebb_json_decode(lua_State *L) {
  dec d;
  size_t len;
  int rc;
  memset(&d, 0, sizeof d);
  d.s = lua_tolstring(L, 1, &len);
  if (!d.s) return luaL_argerror(L, 1, "string expected");
  d.L = L;
  d.p = d.s;
  d.end = d.s + len;
  d.b = lua_touserdata(L, lua_upvalueindex(1));
  lua_settop(L, 1);
  luaL_getmetatable(L, JSON_ARRAY_MT);
  d.mt_idx = 2;
  rc = value(&d);
  if (rc == 0) {
    skip_space(&d);
    if (d.p < d.end) rc = expected(&d, d.p, "the end of the text after the value");
  }
  ebb_json_buf_shrink(d.b);
  if (rc < 0) {
    lua_pushnil(L);
    lua_pushstring(L, d.msg);
    lua_pushnumber(L, (lua_Number)(d.at - d.s) + 1);
    return 3;
  }
  lua_pushboolean(L, 1);
  lua_pushvalue(L, -2);
  return 2;
}
