/* Argument checks shared by every binding: bad input from Lua becomes an
 * error that names the argument, never a crash. */
#include <math.h>
#include "host.h"

int ebb_argerror_type(lua_State *L, int idx, const char *expected) {
  const char *msg = lua_pushfstring(L, "%s expected, got %s", expected, luaL_typename(L, idx));
  return luaL_argerror(L, idx, msg);
}

double ebb_check_ms(lua_State *L, int idx, const char *what) {
  double ms;
  if (lua_type(L, idx) != LUA_TNUMBER)
    return luaL_argerror(L, idx, lua_pushfstring(L, "%s: number of milliseconds expected, got %s", what,
                                                 luaL_typename(L, idx))), 0;
  ms = lua_tonumber(L, idx);
  if (isnan(ms) || ms < 0)
    return luaL_argerror(L, idx, lua_pushfstring(L, "%s: must be a non-negative number of milliseconds", what)), 0;
  return ms;
}

/* The metatables never change once made, so each name's is looked up once
 * (by the address of the name, a literal) and compared by pointer after. */
static struct {
  const char *name;
  const void *mt;
} mt_cache[16];

static const void *metatable_of(lua_State *L, const char *tname) {
  int i;
  for (i = 0; i < 16 && mt_cache[i].name; i++)
    if (mt_cache[i].name == tname) return mt_cache[i].mt;
  luaL_getmetatable(L, tname);
  if (i < 16 && !lua_isnil(L, -1)) {
    mt_cache[i].name = tname;
    mt_cache[i].mt = lua_topointer(L, -1);
  }
  {
    const void *p = lua_topointer(L, -1);
    lua_pop(L, 1);
    return p;
  }
}

void *luaL_testudata_compat(lua_State *L, int idx, const char *tname) {
  const void *mt;
  if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return NULL;
  mt = lua_topointer(L, -1);
  lua_pop(L, 1);
  return mt == metatable_of(L, tname) ? lua_touserdata(L, idx) : NULL;
}
