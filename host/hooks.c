/* The host's private table, where ebb.boot leaves the hooks C calls
 * (hooks.h lists them): guarded against names not in the list, and checked
 * once boot has run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "host.h"

#define EBB_HOOK_NAME(id, name, required) name,
static const char *const hook_names[] = {EBB_HOOKS(EBB_HOOK_NAME) NULL};
#undef EBB_HOOK_NAME
#define EBB_HOOK_REQUIRED(id, name, required) required,
static const int hook_required[] = {EBB_HOOKS(EBB_HOOK_REQUIRED) 0};
#undef EBB_HOOK_REQUIRED

static EBB_THREAD_LOCAL int private_ref = LUA_NOREF;

static int hook_index(const char *name) {
  int i;
  for (i = 0; hook_names[i]; i++)
    if (!strcmp(hook_names[i], name)) return i;
  return -1;
}

void ebb_push_hook(lua_State *L, enum ebb_hook hook) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, private_ref);
  lua_getfield(L, -1, hook_names[hook]);
  lua_remove(L, -2);
}

/* __newindex: only the names of the list are taken. */
static int private_newindex(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING)
    return luaL_error(L, "the host's hooks are named by strings, not a %s", luaL_typename(L, 2));
  if (hook_index(lua_tostring(L, 2)) < 0)
    return luaL_error(L, "the host has no hook named '%s' (host/hooks.h lists them)", lua_tostring(L, 2));
  lua_rawset(L, 1);
  return 0;
}

void hooks_push_private(lua_State *L) {
  if (private_ref == LUA_NOREF) {
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, private_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    private_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, private_ref);
}

/* After boot: NULL when every required hook is set, else what is wrong.
 * EBB_TEST_UNSET_HOOK names one to take out first: how the specs show that
 * a missing hook is caught. */
const char *hooks_missing(lua_State *L) {
  static EBB_THREAD_LOCAL char why[128];
  const char *unset = getenv("EBB_TEST_UNSET_HOOK");
  int i;
  if (unset && *unset) {
    if (hook_index(unset) < 0) {
      snprintf(why, sizeof why, "EBB_TEST_UNSET_HOOK names no hook ('%.40s')", unset);
      return why;
    }
    hooks_push_private(L);
    lua_pushstring(L, unset);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
  }
  for (i = 0; hook_names[i]; i++) {
    ebb_push_hook(L, (enum ebb_hook)i);
    if (hook_required[i] && lua_isnil(L, -1)) {
      lua_pop(L, 1);
      snprintf(why, sizeof why, "ebb.boot sets no hook '%s' (host/hooks.h lists them)", hook_names[i]);
      return why;
    }
    lua_pop(L, 1);
  }
  return NULL;
}
