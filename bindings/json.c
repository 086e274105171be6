/* ebb.json's C half: encode and decode between Lua values and JSON text
 * (ebb_json_encode.c, ebb_json_decode.c), with the buffer and the array metatable
 * they share. Lua's json.lua checks the arguments and raises the errors. */
#include <stdlib.h>
#include <string.h>
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

locale_t ebb_json_c_locale(void) {
  static locale_t c;
  if (!c) c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  return c;
}

static int buf_gc(lua_State *L) {
  json_buf *b = lua_touserdata(L, 1);
  free(b->data);
  b->data = NULL;
  b->cap = b->len = 0;
  return 0;
}

/* array_mt(): the metatable decoded arrays carry (json.array sets it). */
static int l_array_mt(lua_State *L) {
  luaL_getmetatable(L, JSON_ARRAY_MT);
  return 1;
}

int luaopen_ebb_json_core(lua_State *L) {
  json_buf *b;
  luaL_newmetatable(L, JSON_ARRAY_MT);
  lua_pushliteral(L, "JSON array");
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  lua_newtable(L);
  b = lua_newuserdata(L, sizeof *b);
  memset(b, 0, sizeof *b);
  lua_newtable(L);
  lua_pushcfunction(L, buf_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, ebb_json_encode, 1);
  lua_setfield(L, -3, "encode");
  lua_pushcclosure(L, ebb_json_decode, 1);
  lua_setfield(L, -2, "decode");
  lua_pushcfunction(L, l_array_mt);
  lua_setfield(L, -2, "array_mt");
  lua_pushlightuserdata(L, NULL); /* null: what lua-cjson's null is too */
  lua_setfield(L, -2, "null");
  return 1;
}
