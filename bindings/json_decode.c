/* ebb.json's decoder: JSON text to Lua values, parsed by yajl (strict: no
 * comments, nothing after the value, strings valid UTF-8), its callbacks
 * pushing the values as they come. Arrays get the array metatable so they
 * encode as arrays again, even empty; null is the light userdata NULL. A
 * failure says what was wrong and at which byte; json.lua turns that into a
 * line and column. */
#define _GNU_SOURCE /* strtod_l */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>
#include "json.h"

typedef struct dec {
  lua_State *L;
  int depth, deepest;
  int mt_idx; /* the array metatable, on the stack */
  int too_deep, out_of_memory;
  int count[JSON_MAX_DEPTH + 1]; /* members or elements so far, at each depth */
  char in_array[JSON_MAX_DEPTH + 1];
  /* the size of the last container at each depth: the next one there is
   * made that size at once (arrays of like objects are the usual case) */
  int size_at[JSON_MAX_DEPTH + 1];
} dec;

/* The value on the top goes into its container (a key is under it in an
 * object); the outermost value stays. */
static int added(dec *d) {
  int depth = d->depth;
  if (depth == 0) return 1;
  if (d->in_array[depth]) lua_rawseti(d->L, -2, ++d->count[depth]);
  else {
    lua_rawset(d->L, -3);
    d->count[depth]++;
  }
  return 1;
}

static int on_null(void *ctx) {
  dec *d = ctx;
  lua_pushlightuserdata(d->L, NULL);
  return added(d);
}

static int on_boolean(void *ctx, int b) {
  dec *d = ctx;
  lua_pushboolean(d->L, b);
  return added(d);
}

/* yajl's text of the number, read as the nearest double: by the fast path,
 * else by strtod in "C" (it stops where yajl's number did: the text goes
 * on with a byte that cannot extend it). */
static int on_number(void *ctx, const char *s, size_t n) {
  dec *d = ctx;
  double v;
  if (!ebb_json_fast_number(s, s + n, &v)) v = strtod_l(s, NULL, ebb_json_c_locale());
  lua_pushnumber(d->L, v);
  return added(d);
}

static int on_string(void *ctx, const unsigned char *s, size_t n) {
  dec *d = ctx;
  lua_pushlstring(d->L, (const char *)s, n);
  return added(d);
}

static int on_key(void *ctx, const unsigned char *s, size_t n) {
  dec *d = ctx;
  lua_pushlstring(d->L, (const char *)s, n);
  return 1;
}

/* A container's table pushed, one level deeper; 0 (the parse cancelled)
 * past the depth limit. */
static int open_container(dec *d, int array) {
  lua_State *L = d->L;
  int hint, depth;
  if (d->depth >= JSON_MAX_DEPTH) return d->too_deep = 1, 0;
  if (!lua_checkstack(L, 4)) return d->out_of_memory = 1, 0;
  depth = ++d->depth;
  if (depth > d->deepest) d->size_at[d->deepest = depth] = 0;
  hint = d->size_at[depth] < 64 ? d->size_at[depth] : 64;
  lua_createtable(L, array ? hint : 0, array ? 0 : hint);
  if (array) {
    lua_pushvalue(L, d->mt_idx);
    lua_setmetatable(L, -2);
  }
  d->in_array[depth] = (char)array;
  d->count[depth] = 0;
  return 1;
}

static int close_container(dec *d) {
  d->size_at[d->depth] = d->count[d->depth];
  d->depth--;
  return added(d);
}

static int on_start_map(void *ctx) { return open_container(ctx, 0); }
static int on_end_map(void *ctx) { return close_container(ctx); }
static int on_start_array(void *ctx) { return open_container(ctx, 1); }
static int on_end_array(void *ctx) { return close_container(ctx); }

static const yajl_callbacks CALLBACKS = {
  on_null, on_boolean, NULL, NULL, on_number, on_string,
  on_start_map, on_key, on_end_map, on_start_array, on_end_array,
};

/* yajl's messages in ebb's words, and where each points: at the byte
 * yajl_get_bytes_consumed gives (a parse error: the token that did not fit
 * ends there, or starts there after spaces), the next one (a lexical error
 * stopped before the bad byte), or the start of the word (true, false, null
 * misspelt). */
enum { AT_CONSUMED, AT_NEXT, AT_WORD };
static const struct {
  const char *yajl, *ours;
  int at;
} MESSAGES[] = {
  { "unallowed token at this point in JSON text", "expected a value", AT_CONSUMED },
  { "invalid object key (must be a string)", "expected a string key", AT_CONSUMED },
  { "object key and value must be separated by a colon (':')", "expected ':' after the key", AT_CONSUMED },
  { "after key and value, inside map, I expect ',' or '}'", "expected ',' or '}'", AT_CONSUMED },
  { "after array element, I expect ',' or ']'", "expected ',' or ']'", AT_CONSUMED },
  { "trailing garbage", "expected the end of the text after the value", AT_CONSUMED },
  { "invalid char in json text", "expected a value", AT_CONSUMED },
  { "invalid bytes in UTF8 string", "invalid UTF-8 in a string", AT_CONSUMED },
  { "inside a string, '\\' occurs before a character which it may not", "invalid escape in a string", AT_CONSUMED },
  { "invalid string in json text", "expected true, false or null", AT_WORD },
  { "invalid character inside string", "control character 0x%02X in a string (write it as an escape: \\u%04X)",
    AT_NEXT },
  { "invalid (non-hex) character occurs after '\\u' inside string", "invalid \\u escape (four hex digits expected)",
    AT_NEXT },
  { "malformed number, a digit is required after the decimal point", "expected a digit after the decimal point",
    AT_NEXT },
  { "malformed number, a digit is required after the exponent", "expected a digit in the exponent", AT_NEXT },
  { "malformed number, a digit is required after the minus sign", "expected a digit after the minus sign", AT_NEXT },
  { "probable comment found in input text, comments are not enabled", "expected a value (JSON has no comments)",
    AT_NEXT },
};

static int is_letter(char c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* What is at byte pos (from 1) of the text: 'x', a word, a byte's value, or the end. */
static void describe(const char *s, size_t len, size_t pos, char *out, size_t n) {
  unsigned char c = pos <= len ? (unsigned char)s[pos - 1] : 0;
  size_t w = 0;
  if (pos > len) snprintf(out, n, "the end of the text");
  else if (is_letter((char)c)) {
    while (pos - 1 + w < len && w < 12 && is_letter(s[pos - 1 + w])) w++;
    snprintf(out, n, "'%.*s'", (int)w, s + pos - 1);
  } else if (c >= 0x20 && c < 0x7f) snprintf(out, n, "'%c'", c);
  else snprintf(out, n, "byte 0x%02X", c);
}

/* Pushes nil, the message and the byte (from 1) of what failed. */
static int push_failure(lua_State *L, yajl_handle h, const dec *d, const char *s, size_t len, int at_end) {
  size_t pos = yajl_get_bytes_consumed(h);
  char msg[160], found[32];
  const char *ours = NULL;
  if (d->too_deep) snprintf(msg, sizeof msg, "nesting deeper than %d levels", JSON_MAX_DEPTH);
  else if (d->out_of_memory) snprintf(msg, sizeof msg, "not enough memory");
  else if (at_end) {
    /* what yajl_complete_parse finds wrong is that the text stops short */
    pos = len + 1;
    snprintf(msg, sizeof msg, "unexpected end of the text");
  } else {
    unsigned char *yajl_msg = yajl_get_error(h, 0, (const unsigned char *)s, len);
    const char *text = yajl_msg ? strstr((const char *)yajl_msg, ": ") : NULL;
    text = text ? text + 2 : "invalid JSON";
    for (size_t i = 0; i < sizeof MESSAGES / sizeof *MESSAGES && !ours; i++) {
      size_t n = strlen(MESSAGES[i].yajl);
      if (strncmp(text, MESSAGES[i].yajl, n) != 0) continue;
      ours = MESSAGES[i].ours;
      if (MESSAGES[i].at != AT_CONSUMED) pos++;
      if (MESSAGES[i].at == AT_WORD)
        while (pos > 1 && pos - 2 < len && is_letter(s[pos - 2])) pos--;
    }
    /* after a value in an object yajl points before the next token */
    if (yajl_msg && strncmp((const char *)yajl_msg, "parse error", 11) == 0)
      while (pos >= 1 && pos <= len && is_space(s[pos - 1])) pos++;
    if (pos < 1) pos = 1;
    if (pos > len + 1) pos = len + 1;
    if (ours && strncmp(ours, "expected", 8) == 0) {
      describe(s, len, pos, found, sizeof found);
      snprintf(msg, sizeof msg, "%s but found %s", ours, found);
    } else if (ours) {
      /* the byte there, for the messages that show it */
      unsigned c = pos <= len ? (unsigned char)s[pos - 1] : 0;
      snprintf(msg, sizeof msg, ours, c, c);
    }
    else snprintf(msg, sizeof msg, "%.*s", (int)strcspn(text, ".\n"), text);
    if (yajl_msg) yajl_free_error(h, yajl_msg);
  }
  lua_pushnil(L);
  lua_pushstring(L, msg);
  lua_pushnumber(L, (lua_Number)pos);
  return 3;
}

/* A number or a word at the very end of the text would wait in yajl's
 * lexer for more and be read by yajl_complete_parse, whose positions are
 * not the text's: such a text is parsed with a space after it. */
static int ends_in_word(const char *s, size_t len) {
  char c = len ? s[len - 1] : ' ';
  return (c >= '0' && c <= '9') || is_letter(c) || c == '.' || c == '+' || c == '-';
}

/* decode(text) -> true, value | nil, message, byte */
int ebb_json_decode(lua_State *L) {
  dec d;
  size_t len;
  const char *s = lua_tolstring(L, 1, &len), *in = s;
  size_t in_len = len;
  yajl_handle *h;
  yajl_status status;
  int at_end = 0;
  if (!s) return luaL_argerror(L, 1, "string expected");
  lua_settop(L, 1);
  if (ends_in_word(s, len)) {
    char *copy = lua_newuserdata(L, len + 1);
    memcpy(copy, s, len);
    copy[len] = ' ';
    in = copy;
    in_len = len + 1;
  } else lua_pushnil(L);
  luaL_getmetatable(L, JSON_ARRAY_MT);
  d.L = L;
  d.depth = d.deepest = 0;
  d.mt_idx = lua_gettop(L);
  d.too_deep = d.out_of_memory = 0;
  h = lua_newuserdata(L, sizeof *h);
  *h = NULL;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, -2);
  /* yajl's defaults are strict: no comments, no trailing text, UTF-8 checked */
  *h = yajl_alloc(&CALLBACKS, NULL, &d);
  if (!*h) {
    lua_pushnil(L);
    lua_pushliteral(L, "not enough memory");
    lua_pushinteger(L, 1);
    return 3;
  }
  status = yajl_parse(*h, (const unsigned char *)in, in_len);
  if (status == yajl_status_ok) {
    status = yajl_complete_parse(*h);
    at_end = 1;
  }
  if (status != yajl_status_ok) {
    int results = push_failure(L, *h, &d, s, len, at_end);
    yajl_free(*h);
    *h = NULL;
    return results;
  }
  yajl_free(*h);
  *h = NULL;
  lua_pushboolean(L, 1);
  lua_pushvalue(L, -2);
  return 2;
}
