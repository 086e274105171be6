/* Argument checks shared by every binding: bad input from Lua becomes an
 * error that names the argument and the function by its public name, at the
 * script's line, never a crash. ebb/check.lua words the same checks the
 * same way for the Lua modules. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "host.h"

int ebb_error_at_caller(lua_State *L, const char *msg) {
  lua_Debug ar;
  int level;
  for (level = 1; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline > 0 && !ebb_host_source(ar.source)) {
      lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
      return lua_error(L);
    }
  }
  lua_pushstring(L, msg);
  return lua_error(L);
}

/* The public names of the C functions, by address (ebb_register fills it):
 * an argument error names the function as its module calls it, whatever the
 * call site called it (a local, pcall), and counts a method's arguments
 * after self, however it was called. Process-wide (every state registers the
 * same functions), so guarded by a lock. */
static pthread_mutex_t public_names_lock = PTHREAD_MUTEX_INITIALIZER;
static struct public_name {
  lua_CFunction fn;
  const char *name;
  int method;
} *public_names;
static int npublic_names, public_names_room;

static void name_cfunction_locked(lua_CFunction fn, const char *name, int method) {
  int i;
  for (i = 0; i < npublic_names; i++)
    if (public_names[i].fn == fn) return;
  if (npublic_names == public_names_room) {
    int room = public_names_room ? public_names_room * 2 : 128;
    struct public_name *grown = realloc(public_names, room * sizeof *grown);
    if (!grown) return; /* out of memory at start-up: the function is named as called */
    public_names = grown;
    public_names_room = room;
  }
  public_names[npublic_names].fn = fn;
  public_names[npublic_names].name = name;
  public_names[npublic_names++].method = method;
}

static void name_cfunction(lua_CFunction fn, const char *name, int method) {
  pthread_mutex_lock(&public_names_lock);
  name_cfunction_locked(fn, name, method);
  pthread_mutex_unlock(&public_names_lock);
}

void ebb_register(lua_State *L, const luaL_Reg *fns, int methods) {
  for (; fns->name; fns++) {
    name_cfunction(fns->func, fns->name, methods && fns->name[0] != '_');
    lua_pushcfunction(L, fns->func);
    lua_setfield(L, -2, fns->name);
  }
}

void ebb_new_metatable(lua_State *L, const char *tname, lua_CFunction gc, lua_CFunction tostring) {
  if (luaL_newmetatable(L, tname)) {
    luaL_Reg fns[3] = {{NULL, NULL}, {NULL, NULL}, {NULL, NULL}};
    int n = 0;
    if (gc) fns[n].name = "__gc", fns[n++].func = gc;
    if (tostring) fns[n].name = "__tostring", fns[n].func = tostring;
    ebb_register(L, fns, 1);
  }
  lua_pop(L, 1);
}

int ebb_new_module(lua_State *L, const luaL_Reg *fns) {
  lua_newtable(L);
  ebb_register(L, fns, 0);
  return 1;
}

int ebb_argerror(lua_State *L, int idx, const char *msg) {
  lua_Debug ar;
  const char *name = "?";
  int i, method = 0;
  if (lua_getstack(L, 0, &ar)) {
    lua_CFunction fn;
    lua_getinfo(L, "nf", &ar);
    fn = lua_tocfunction(L, -1);
    lua_pop(L, 1);
    if (ar.name) name = ar.name, method = strcmp(ar.namewhat, "method") == 0;
    pthread_mutex_lock(&public_names_lock);
    for (i = 0; fn && i < npublic_names; i++)
      if (public_names[i].fn == fn) name = public_names[i].name, method = public_names[i].method;
    pthread_mutex_unlock(&public_names_lock);
  }
  if (method && idx > 1) idx--;
  return ebb_error_at_caller(L, lua_pushfstring(L, "bad argument #%d to '%s' (%s)", idx, name, msg));
}

int ebb_argerror_type(lua_State *L, int idx, const char *expected) {
  const char *msg = lua_pushfstring(L, "%s expected, got %s", expected, luaL_typename(L, idx));
  return ebb_argerror(L, idx, msg);
}

void ebb_check_type(lua_State *L, int idx, int type) {
  if (lua_type(L, idx) != type) ebb_argerror_type(L, idx, lua_typename(L, type));
}

int ebb_check_option(lua_State *L, int idx, const char *what, const char *def, const char *const names[]) {
  const char *s = def && lua_isnoneornil(L, idx) ? def : ebb_check_cstring(L, idx, what);
  luaL_Buffer b;
  int i;
  for (i = 0; names[i]; i++)
    if (strcmp(names[i], s) == 0) return i;
  /* what must be "a", "b" or "c", got x: as ebb.check's one_of words it */
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "%s must be ", what);
  luaL_addvalue(&b);
  for (i = 0; names[i]; i++) {
    lua_pushfstring(L, "%s\"%s\"", i == 0 ? "" : names[i + 1] ? ", " : " or ", names[i]);
    luaL_addvalue(&b);
  }
  lua_pushfstring(L, ", got %s", s);
  luaL_addvalue(&b);
  luaL_pushresult(&b);
  return ebb_argerror(L, idx, lua_tostring(L, -1));
}

/* Whole bounds print in full (2^53 as 9007199254740992, not 9.007e+15). */
static void format_bound(char *buf, size_t size, double v) {
  if (v == floor(v) && fabs(v) <= EBB_MAX_WHOLE) snprintf(buf, size, "%.0f", v);
  else snprintf(buf, size, "%.14g", v);
}

static double check_in_range(lua_State *L, int idx, const char *what, double min, double max, int whole) {
  double n;
  if (lua_type(L, idx) != LUA_TNUMBER)
    return ebb_argerror(L, idx, lua_pushfstring(L, "%s: number expected, got %s", what, luaL_typename(L, idx))), 0;
  n = lua_tonumber(L, idx);
  if (!(n >= min && n <= max) || (whole && n != floor(n))) {
    char lo[32], hi[32];
    format_bound(lo, sizeof lo, min);
    format_bound(hi, sizeof hi, max);
    return ebb_argerror(L, idx, lua_pushfstring(L, "%s must be a %snumber from %s to %s, got %f", what,
                                                 whole ? "whole " : "", lo, hi, n)), 0;
  }
  return n;
}

double ebb_check_number(lua_State *L, int idx, const char *what, double min, double max) {
  return check_in_range(L, idx, what, min, max, 0);
}

double ebb_check_whole(lua_State *L, int idx, const char *what, double min, double max) {
  return check_in_range(L, idx, what, min, max, 1);
}

double ebb_opt_whole(lua_State *L, int idx, const char *what, double min, double max, double def) {
  return lua_isnoneornil(L, idx) ? def : check_in_range(L, idx, what, min, max, 1);
}

double ebb_check_ms(lua_State *L, int idx, const char *what) {
  double ms;
  if (lua_type(L, idx) != LUA_TNUMBER)
    return ebb_argerror(L, idx, lua_pushfstring(L, "%s: number of milliseconds expected, got %s", what,
                                                 luaL_typename(L, idx))), 0;
  ms = lua_tonumber(L, idx);
  if (!(ms >= 0 && ms <= EBB_MAX_MS))
    return ebb_argerror(L, idx, lua_pushfstring(L, "%s must be a non-negative number of milliseconds, "
                                                 "at most 1e12, got %f", what, ms)), 0;
  return ms;
}

const char *ebb_check_cstring(lua_State *L, int idx, const char *what) {
  size_t len;
  const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : NULL;
  if (!s)
    return ebb_argerror(L, idx, lua_pushfstring(L, "%s: string expected, got %s", what, luaL_typename(L, idx))),
           NULL;
  if (strlen(s) != len)
    return ebb_argerror(L, idx, lua_pushfstring(L, "%s must not contain a NUL byte", what)), NULL;
  return s;
}

const char *ebb_opt_cstring(lua_State *L, int idx, const char *what, const char *def) {
  return lua_isnoneornil(L, idx) ? def : ebb_check_cstring(L, idx, what);
}

int ebb_key_is(lua_State *L, int idx, const char *name) {
  size_t len;
  const char *k = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : NULL;
  return k && len == strlen(name) && memcmp(k, name, len) == 0;
}

/* The metatables never change once made, so each name's is looked up once
 * (by the address of the name, a literal) and compared by pointer after. */
static EBB_THREAD_LOCAL struct {
  const char *name;
  const void *mt;
} mt_cache[16]; /* a state's own metatables */

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

void *ebb_check_udata(lua_State *L, int idx, const char *tname, const char *expected) {
  void *p = luaL_testudata_compat(L, idx, tname);
  if (!p) ebb_argerror_type(L, idx, expected);
  return p;
}
