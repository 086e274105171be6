/* ebb.redis.core: hiredis's reply reader (redis_reader.c) and its command
 * formatter (redisFormatSdsCommandArgv), for lua/ebb/redis_resp.lua. Arguments
 * are counted bytes, so NUL bytes and CRLF in them are fine. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "redis.h"

#define MAX_EXACT 9007199254740992.0 /* 2^53: whole numbers below it go as integers */
#define SMALL 16                     /* arguments formatted without a malloc */
#define NUMBER_TEXT 32               /* room for "%.17g" of any double */

const redis_lib *redis_lib_check(lua_State *L) {
  static EBB_THREAD_LOCAL const redis_lib *opened; /* once per thread: no pthread_once per command */
  const char *why = NULL;
  if (!opened && !(opened = redis_lib_open(&why))) luaL_error(L, "ebb.redis: %s", why);
  return opened;
}

/* Where the values to format are: the stack from `at`, or the table at `at`
 * from key `first` (a list may be longer than the C stack can hold). */
typedef struct values {
  int at, first, in_table;
} values;

static void push_value(lua_State *L, const values *v, int i) {
  if (v->in_table) lua_rawgeti(L, v->at, v->first + i);
  else lua_pushvalue(L, v->at + i);
}

/* The digits of a whole number below 2^53, written at the end of num. */
static const char *digits_of(double x, char *num, size_t *len) {
  unsigned long long u = (unsigned long long)(x < 0 ? -x : x);
  char *p = num + NUMBER_TEXT;
  do *--p = (char)('0' + u % 10); while (u /= 10);
  if (x < 0) *--p = '-';
  *len = (size_t)(num + NUMBER_TEXT - p);
  return p;
}

/* The text of the value on top of the stack, in num for a number: 1, or 0 for
 * anything but a string or a finite number. The stack or the table keeps a
 * string alive once popped. */
static int text_of(lua_State *L, char *num, const char **s, size_t *len) {
  int type = lua_type(L, -1);
  if (type == LUA_TSTRING) {
    *s = lua_tolstring(L, -1, len);
    return 1;
  }
  if (type == LUA_TNUMBER) {
    double x = lua_tonumber(L, -1);
    if (!isfinite(x)) return 0;
    if (x == floor(x) && x > -MAX_EXACT && x < MAX_EXACT) {
      *s = digits_of(x, num, len);
    } else {
      *len = (size_t)snprintf(num, NUMBER_TEXT, "%.17g", x);
      *s = num;
    }
    return 1;
  }
  return 0;
}

/* The first of the argc values that is not a string or a finite number
 * (1-based), or 0. */
static int first_bad(lua_State *L, const values *v, int argc) {
  char num[NUMBER_TEXT];
  const char *s;
  size_t len;
  for (int i = 0; i < argc; i++) {
    int ok;
    push_value(L, v, i);
    ok = text_of(L, num, &s, &len);
    lua_pop(L, 1);
    if (!ok) return i + 1;
  }
  return 0;
}

static int push_bad(lua_State *L, int position) {
  lua_pushnil(L);
  lua_pushinteger(L, position);
  return 2;
}

/* Pushes the command's bytes, or nil and the position of the first value that
 * is not a string or a finite number. */
static int push_command(lua_State *L, const values *v, int argc) {
  const redis_lib *lib = redis_lib_check(L);
  const char *small_argv[SMALL], **argv = small_argv;
  size_t small_len[SMALL], *len = small_len;
  char small_num[SMALL][NUMBER_TEXT], (*num)[NUMBER_TEXT] = small_num;
  void *block = NULL;
  sds cmd;
  int n;
  if (argc > SMALL) { /* checked first: last = 2^31 on a short list must not ask for a block */
    size_t each = sizeof *argv + sizeof *len + sizeof *num;
    int bad = first_bad(L, v, argc);
    if (bad) return push_bad(L, bad);
    if ((size_t)argc > SIZE_MAX / each || !(block = malloc((size_t)argc * each))) return luaL_error(L, "not enough memory");
    num = block;
    argv = (const char **)(num + argc);
    len = (size_t *)(argv + argc);
  }
  for (int i = 0; i < argc; i++) {
    int ok;
    push_value(L, v, i);
    ok = text_of(L, num[i], &argv[i], &len[i]);
    lua_pop(L, 1);
    if (!ok) return push_bad(L, i + 1); /* a small command: no block */
  }
  n = lib->format_command_argv(&cmd, argc, argv, len);
  free(block);
  if (n < 0) return luaL_error(L, "not enough memory");
  lua_pushlstring(L, cmd, (size_t)n);
  lib->free_command(cmd);
  return 1;
}

/* format(n, ...) -> the bytes of the command made of the n values after n |
 * nil, position of the first that is not a string or a finite number */
static int l_format(lua_State *L) {
  int argc = (int)ebb_check_whole(L, 1, "n", 0, lua_gettop(L) - 1);
  values v = {2, 0, 0};
  return push_command(L, &v, argc);
}

/* format_list(list, first, last) -> as format, of list[first..last] */
static int l_format_list(lua_State *L) {
  int first, last;
  ebb_check_type(L, 1, LUA_TTABLE);
  first = (int)ebb_check_whole(L, 2, "first", 1, INT_MAX);
  last = (int)ebb_check_whole(L, 3, "last", first - 1, INT_MAX);
  values v = {1, first, 1};
  return push_command(L, &v, last - first + 1);
}

int luaopen_ebb_redis_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"reader", redis_reader_new}, {"format", l_format}, {"format_list", l_format_list}, {NULL, NULL}};
  redis_reader_init(L);
  return ebb_new_module(L, fns);
}
