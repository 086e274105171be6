/* ebb.signal.core: OS signals (SIGHUP, SIGUSR1, ...) told to the tasks that
 * wait for them. One watch per signal number, open while anything listens or
 * waits: a uv_signal_t, or for SIGINT and SIGTERM, which the host's own
 * handler keeps (interrupt.c), a uv_async_t that is never sent and only
 * keeps the process alive. (Abort signals are host/signal.c's.) */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../host/ebb.h"
#include "signal_names.h"

typedef struct os_watch {
  union {
    uv_handle_t handle;
    uv_signal_t signal;
    uv_async_t async; /* SIGINT, SIGTERM */
  } h;
  ebb_handle track;
  ebb_waitlist waiters; /* listeners' tasks and signal.wait's */
  double delivered;     /* signals come since the watch opened */
  int holders;          /* listeners and waits */
  int keeping;          /* waits: while > 0 the handle keeps the process alive */
  int signum;
  double generation;    /* which opening of this signal's watch it is */
} os_watch;

static EBB_THREAD_LOCAL os_watch *watches[NSIG]; /* each thread's loop watches its own */
static EBB_THREAD_LOCAL double openings; /* a holder of a watch closed under it (exit, ebb test) lets go of nothing */

static int is_interrupt(int signum) { return signum == SIGINT || signum == SIGTERM; }

static void delivered(os_watch *w) {
  w->delivered++;
  ebb_wake_all(&w->waiters);
}

static void on_os_signal(uv_signal_t *h, int signum) {
  (void)signum;
  delivered(ebb_container(h, os_watch, h.signal));
}

static void on_interrupt(int signum) {
  if (watches[signum]) delivered(watches[signum]);
}

static void on_closed(uv_handle_t *h) { free(ebb_container(h, os_watch, h.handle)); }

/* Closes the watch; its waiters (only at exit, or when ebb test closes what
 * a unit of specs left open) get nil, "ECANCELED". */
static void close_watch(ebb_handle *track) {
  os_watch *w = ebb_container(track, os_watch, track);
  watches[w->signum] = NULL;
  if (is_interrupt(w->signum)) ebb_interrupt_take(w->signum, NULL);
  ebb_fail_all(&w->waiters, UV_ECANCELED);
  uv_close(&w->h.handle, on_closed);
}

static void async_unused(uv_async_t *h) { (void)h; }

/* The watch for signum, opened; NULL with a libuv error in *err. */
static os_watch *open_watch(lua_State *L, int signum, int *err) {
  os_watch *w = calloc(1, sizeof *w);
  if (!w) luaL_error(L, "out of memory");
  w->signum = signum;
  w->generation = ++openings;
  ebb_waitlist_init(&w->waiters);
  if (is_interrupt(signum)) {
    uv_async_init(ebb_loop(), &w->h.async, async_unused);
    ebb_interrupt_take(signum, on_interrupt);
  } else {
    uv_signal_init(ebb_loop(), &w->h.signal);
    if ((*err = uv_signal_start(&w->h.signal, on_os_signal, signum)) != 0) {
      uv_close(&w->h.handle, on_closed);
      return NULL;
    }
  }
  uv_unref(&w->h.handle); /* a listener does not keep the process alive, a wait does */
  ebb_handle_track(&w->track, &w->h.handle, close_watch, ebb_current_owner(L));
  w->track.kind = "signal watch";
  watches[signum] = w;
  return w;
}

/* A signal number given by ebb.signal's Lua half, which checked the name. */
static int check_signum(lua_State *L, int idx) {
  return (int)ebb_check_whole(L, idx, "signum", 1, NSIG - 1);
}

/* hold(signum, keeps_alive) -> generation | nil, code, msg: one more listener
 * or wait; the first opens the watch. Released with the generation. */
static int l_hold(lua_State *L) {
  int signum = check_signum(L, 1), err = 0;
  os_watch *w = watches[signum] ? watches[signum] : open_watch(L, signum, &err);
  if (!w) return ebb_push_uv_error(L, err);
  w->holders++;
  if (lua_toboolean(L, 2) && w->keeping++ == 0) uv_ref(&w->h.handle);
  lua_pushnumber(L, w->generation);
  return 1;
}

/* release(signum, keeps_alive, generation): one fewer; the last closes the watch */
static int l_release(lua_State *L) {
  os_watch *w = watches[check_signum(L, 1)];
  if (!w || w->generation != luaL_checknumber(L, 3)) return 0; /* that watch was closed already */
  if (lua_toboolean(L, 2) && --w->keeping == 0) uv_unref(&w->h.handle);
  if (--w->holders == 0) {
    ebb_handle_untrack(&w->track);
    close_watch(&w->track);
  }
  return 0;
}

/* delivered(signum) -> how many have come since the watch opened */
static int l_delivered(lua_State *L) {
  os_watch *w = watches[check_signum(L, 1)];
  lua_pushnumber(L, w ? w->delivered : 0);
  return 1;
}

/* wait(signum, timeout_ms|nil, signal|nil) -> true once one comes | false,
 * reason | nil, "timeout" | nil, "ECANCELED", message once closed. The
 * caller holds the watch. */
static int l_wait(lua_State *L) {
  os_watch *w = watches[check_signum(L, 1)];
  double ms = lua_isnoneornil(L, 2) ? -1 : ebb_check_ms(L, 2, "timeout");
  if (!w) return luaL_error(L, "no watch is open for this signal");
  return ebb_wait_on(L, &w->waiters, ms, 3);
}

/* lookup(name) -> signum, canonical name, why it cannot be listened to (nil: it can) | nil */
static int l_lookup(lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  const signal_name *sig = signal_by_name(name, len);
  if (!sig) return 0;
  lua_pushinteger(L, sig->num);
  lua_pushstring(L, sig->name);
  if (sig->unlistenable) lua_pushstring(L, sig->unlistenable);
  else lua_pushnil(L);
  return 3;
}

/* names([all]) -> { "SIGHUP", ... }: the names a script may listen to, or
 * with all, every name it may send */
static int l_names(lua_State *L) {
  int i, n = 0, all = lua_toboolean(L, 1);
  lua_newtable(L);
  for (i = 0; signal_names[i].name; i++) {
    if (signal_names[i].unlistenable && !all) continue;
    lua_pushstring(L, signal_names[i].name);
    lua_rawseti(L, -2, ++n);
  }
  return 1;
}

/* raise(signum) -> true | nil, code, msg: the signal to ebb's own process */
static int l_raise(lua_State *L) {
  int r = uv_kill(getpid(), check_signum(L, 1));
  if (r != 0) return ebb_push_uv_error(L, r);
  lua_pushboolean(L, 1);
  return 1;
}

int luaopen_ebb_signal_core(lua_State *L) {
  static const luaL_Reg fns[] = {{"hold", l_hold},     {"release", l_release}, {"delivered", l_delivered},
                                 {"wait", l_wait},     {"lookup", l_lookup},   {"names", l_names},
                                 {"raise", l_raise},   {NULL, NULL}};
  return ebb_new_module(L, fns);
}
