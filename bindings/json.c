/* ebb.json's C half: encode and decode between Lua values and JSON text
 * (json_encode.c, json_decode.c, on yajl), with the encoder's state, the
 * holder of a decode's parser and the array metatable. Lua's json.lua
 * checks the arguments and raises the errors. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>
#include "json.h"

#define JSON_BUF_KEEP (1u << 20) /* a buffer grown past this is freed after use */

int ebb_json_buf_grow(json_buf *b, size_t more) {
  size_t need = b->len + more, cap = b->cap ? b->cap : 256;
  char *p;
  if (need <= b->cap) return 0;
  if (need < more) return -1; /* overflow */
  while (cap < need) cap = cap * 2 > cap ? cap * 2 : need;
  p = realloc(b->data, cap);
  if (!p) return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

void ebb_json_buf_shrink(json_buf *b) {
  if (b->cap > JSON_BUF_KEEP) {
    free(b->data);
    b->data = NULL;
    b->cap = 0;
  }
  b->len = 0;
}

/* One for the process, made once whichever thread asks first. */
static locale_t c_locale;
static void make_c_locale(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

locale_t ebb_json_c_locale(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, make_c_locale);
  return c_locale;
}

static int state_gc(lua_State *L) {
  json_state *s = lua_touserdata(L, 1);
  free(s->buf.data);
  s->buf.data = NULL;
  s->buf.cap = s->buf.len = 0;
  for (int i = 0; i < JSON_GENS; i++) {
    if (s->gen[i]) yajl_gen_free(s->gen[i]);
    s->gen[i] = NULL;
  }
  return 0;
}

/* A parser is made per call and held by a userdata, so that an error
 * raised by Lua in the middle (out of memory) leaves it to the collector. */
static int parser_gc(lua_State *L) {
  yajl_handle *h = lua_touserdata(L, 1);
  if (*h) yajl_free(*h);
  *h = NULL;
  return 0;
}

static void push_userdata_mt(lua_State *L, lua_CFunction gc) {
  lua_newtable(L);
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
}

/* array_mt(): the metatable decoded arrays carry (json.array sets it). */
static int l_array_mt(lua_State *L) {
  luaL_getmetatable(L, JSON_ARRAY_MT);
  return 1;
}

int luaopen_ebb_json_core(lua_State *L) {
  json_state *s;
  luaL_newmetatable(L, JSON_ARRAY_MT);
  lua_pushliteral(L, "JSON array");
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  lua_newtable(L);
  s = lua_newuserdata(L, sizeof *s);
  memset(s, 0, sizeof *s);
  push_userdata_mt(L, state_gc);
  lua_setmetatable(L, -2);
  lua_pushcclosure(L, ebb_json_encode, 1);
  lua_setfield(L, -2, "encode");
  push_userdata_mt(L, parser_gc);
  lua_pushcclosure(L, ebb_json_decode, 1);
  lua_setfield(L, -2, "decode");
  lua_pushcfunction(L, l_array_mt);
  lua_setfield(L, -2, "array_mt");
  lua_pushlightuserdata(L, NULL); /* null: what lua-cjson's null is too */
  lua_setfield(L, -2, "null");
  return 1;
}
