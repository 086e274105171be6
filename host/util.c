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

void *luaL_testudata_compat(lua_State *L, int idx, const char *tname) {
  void *p = lua_touserdata(L, idx);
  int same;
  if (!p || !lua_getmetatable(L, idx)) return NULL;
  luaL_getmetatable(L, tname);
  same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same ? p : NULL;
}
