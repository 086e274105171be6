/* Abort signals' Lua face: the signal's fields and methods (aborted, reason,
 * on_abort, throw_if_aborted), and ebb.abort.core, the C half of ebb.abort.
 * The signals themselves are host/signal.c's. */
#include "../host/ebb.h"

/* signal:on_abort(fn) -> off */
static int signal_on_abort(lua_State *L) {
  ebb_check_signal(L, 1);
  ebb_check_type(L, 2, LUA_TFUNCTION);
  ebb_signal_on_abort(L, 1, 2);
  return 1;
}

/* listen(signal, fn) -> off, or nothing when the signal is aborted already
 * (then nothing is added): on_abort for a caller that must know, in one call. */
static int abort_listen(lua_State *L) {
  ebb_signal *s = ebb_check_signal(L, 1);
  ebb_check_type(L, 2, LUA_TFUNCTION);
  if (ebb_signal_aborted(s)) return 0;
  ebb_signal_on_abort(L, 1, 2);
  return 1;
}

static int signal_throw_if_aborted(lua_State *L) {
  ebb_signal *s = ebb_check_signal(L, 1);
  if (!ebb_signal_aborted(s)) return 0;
  ebb_signal_push_reason(L, s);
  return lua_error(L);
}

/* __index: the fields, then the methods (the upvalue) */
static int signal_index(lua_State *L) {
  ebb_signal *s = ebb_check_signal(L, 1);
  if (ebb_key_is(L, 2, "aborted")) lua_pushboolean(L, ebb_signal_aborted(s));
  else if (ebb_key_is(L, 2, "reason")) ebb_signal_push_reason(L, s);
  else {
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
  }
  return 1;
}

static int signal_tostring(lua_State *L) {
  ebb_signal *s = ebb_check_signal(L, 1);
  lua_pushfstring(L, "AbortSignal (%s): %p", ebb_signal_aborted(s) ? "aborted" : "not aborted", (void *)s);
  return 1;
}

/* timeout(ms) */
static int abort_timeout(lua_State *L) {
  ebb_signal_timeout(L, ebb_check_ms(L, 1, "ms"));
  return 1;
}

/* any(list) */
static int abort_any(lua_State *L) {
  int len, i;
  ebb_check_type(L, 1, LUA_TTABLE);
  len = (int)lua_objlen(L, 1);
  for (i = 1; i <= len; i++) {
    lua_rawgeti(L, 1, i);
    if (!ebb_to_signal(L, -1)) return ebb_argerror(L, 1, lua_pushfstring(L, "item %d is not an abort signal", i));
    lua_pop(L, 1);
  }
  ebb_signal_any(L, 1);
  return 1;
}

/* aborted([reason]): the reason defaults are the Lua side's job */
static int abort_aborted(lua_State *L) {
  ebb_signal *s;
  lua_settop(L, 1);
  s = ebb_signal_new(L);
  lua_pushvalue(L, 1);
  ebb_signal_abort(L, s);
  return 1;
}

/* abort(signal, reason): the controller's abort */
static int abort_signal(lua_State *L) {
  ebb_signal *s = ebb_check_signal(L, 1);
  lua_settop(L, 2);
  if (!ebb_signal_abortable(s)) return ebb_argerror(L, 1, "only a controller's signal can be aborted");
  ebb_signal_abort(L, s);
  return 0;
}

static int abort_new_signal(lua_State *L) {
  ebb_signal_new(L);
  return 1;
}

/* watched(signal): does anything listen to it, or depend on it? */
static int abort_watched(lua_State *L) {
  lua_pushboolean(L, ebb_signal_watched(ebb_check_signal(L, 1)));
  return 1;
}

/* listeners(signal) -> how many listeners (Lua's and waits') it holds */
static int abort_listeners(lua_State *L) {
  lua_pushinteger(L, ebb_signal_listener_count(ebb_check_signal(L, 1)));
  return 1;
}

static int abort_dependents(lua_State *L) {
  lua_pushinteger(L, ebb_signal_dependent_count(ebb_check_signal(L, 1)));
  return 1;
}

int luaopen_ebb_abort_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"new_signal", abort_new_signal}, {"abort", abort_signal},
    {"timeout", abort_timeout},       {"any", abort_any},
    {"aborted", abort_aborted},       {"dependents", abort_dependents},
    {"watched", abort_watched},       {"listeners", abort_listeners},
    {"listen", abort_listen},
    {NULL, NULL}};
  static const luaL_Reg methods[] = {
    {"on_abort", signal_on_abort}, {"throw_if_aborted", signal_throw_if_aborted}, {NULL, NULL}};
  ebb_push_signal_metatable(L);
  lua_createtable(L, 0, 2);
  ebb_register(L, methods, 1);
  lua_pushcclosure(L, signal_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, signal_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  return ebb_new_module(L, fns);
}
