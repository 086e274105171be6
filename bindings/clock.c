/* ebb.clock's C half: reading the clock, switching it between real and
 * virtual time, and stepping virtual time one timer at a time. */
#include <math.h>
#include <string.h>
#include "../host/ebb.h"

static int l_now(lua_State *L) {
  lua_pushnumber(L, ebb_now());
  return 1;
}

static const char *const mode_names[] = {"real", "frozen", "auto", NULL};

/* set_mode(name) */
static int l_set_mode(lua_State *L) {
  ebb_clock_set_mode(ebb_check_option(L, 1, "mode", NULL, mode_names));
  return 0;
}

static int l_mode(lua_State *L) {
  lua_pushstring(L, mode_names[ebb_clock_mode()]);
  return 1;
}

/* step(limit): fires the earliest timer due by `limit`, moving time to it */
static int l_step(lua_State *L) {
  double limit = ebb_check_number(L, 1, "limit", 0, HUGE_VAL);
  if (ebb_clock_mode() == EBB_CLOCK_REAL) return luaL_error(L, "the clock is real: freeze it first");
  lua_pushboolean(L, ebb_clock_fire_next(limit));
  return 1;
}

/* set_now(ms): moves frozen time forward (never back) */
static int l_set_now(lua_State *L) {
  double ms = ebb_check_number(L, 1, "ms", 0, ebb_now() + EBB_MAX_MS);
  if (ebb_clock_mode() == EBB_CLOCK_REAL) return luaL_error(L, "the clock is real: freeze it first");
  ebb_clock_set_frozen_time(ms);
  return 0;
}

static int l_next_deadline(lua_State *L) {
  double d = ebb_clock_next_deadline();
  if (d < 0) return 0;
  lua_pushnumber(L, d);
  return 1;
}

int luaopen_ebb_clock_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"now", l_now},   {"set_mode", l_set_mode}, {"mode", l_mode},
    {"step", l_step}, {"set_now", l_set_now},   {"next_deadline", l_next_deadline},
    {NULL, NULL}};
  return ebb_new_module(L, fns);
}
