/* ebb.process's C half: child processes with pipes for their standard
 * streams (ebb streams, uvstream.c), an exit status tasks can wait for, kill,
 * and kills on abort. The process handle closes itself when the child exits. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "signal_names.h"
#include "uvstream.h"

#define PROCESS_MT "ebb.process"

struct proc;

/* Kills the child when a signal aborts; listened to only while it runs. */
typedef struct kill_on_abort {
  ebb_listener l;
  ebb_signal *signal;
  int ref; /* anchors the signal while it is listened to */
  struct proc *p;
} kill_on_abort;

#define MAX_WATCHES 2 /* the spawn's own signal and its task's */

typedef struct proc {
  uv_process_t h;
  uvbox life;         /* its handle's and its box's (closed: life.closed) */
  ebb_waitlist waiters;
  int pid;
  int64_t exit_status;
  int term_signal;
  int kill_signal;    /* what the kills on abort send */
  int nwatches;
  kill_on_abort watches[MAX_WATCHES];
  unsigned exited : 1;
  unsigned group : 1;      /* leads a process group of its own: kill signals all of it */
  unsigned group_gone : 1; /* a kill found no process left in that group */
} proc;

static void push_signal_name(lua_State *L, int num) {
  const char *name = signal_name_of(num);
  if (name) lua_pushstring(L, name);
  else lua_pushinteger(L, num);
}

/* The signal numbered sig to the child, or to its whole group: 0, or a
 * libuv error (UV_ESRCH once nothing is left to signal). A group outlives
 * its leader while its other members run (a shell's background jobs): it is
 * signalled until none is left. */
static int send_signal(proc *p, int sig) {
  int r;
  if (p->group) {
    r = p->group_gone ? UV_ESRCH : uv_kill(-p->pid, sig);
    if (r == UV_ESRCH) p->group_gone = 1;
    return r;
  }
  if (p->exited || p->life.closed) return UV_ESRCH;
  return uv_process_kill(&p->h, sig);
}

static void on_abort_kill(ebb_listener *l, ebb_signal *s) {
  kill_on_abort *k = (kill_on_abort *)l;
  (void)s;
  send_signal(k->p, k->p->kill_signal);
}

static proc *of(uvbox *b) { return ebb_container(b, proc, life); }

/* As the handle closes: before closed is set, which send_signal reads. */
static void forget_watches(uvbox *b) {
  proc *p = of(b);
  lua_State *L = ebb_main_state();
  int i;
  for (i = 0; i < p->nwatches; i++) {
    kill_on_abort *k = &p->watches[i];
    ebb_signal_unlisten(k->signal, &k->l);
    if (ebb_lua_alive()) luaL_unref(L, LUA_REGISTRYINDEX, k->ref);
  }
  p->nwatches = 0;
}

static void free_process(uvbox *b) { free(of(b)); }

static const uvbox_kind process_kind = {PROCESS_MT, "process", forget_watches, NULL, NULL, free_process};

static void on_child_exit(uv_process_t *h, int64_t status, int term_signal) {
  proc *p = (proc *)h;
  p->exited = 1;
  p->exit_status = status;
  p->term_signal = term_signal;
  ebb_wake_all(&p->waiters);
  uvbox_close(&p->life);
}

static proc *check_process(lua_State *L, int idx) {
  return of(uvbox_check(L, idx, &process_kind));
}

/* The stdio entry for mode "pipe" | "inherit" | "ignore" at idx; pipes are
 * made as streams and pushed. */
static void stdio_entry(lua_State *L, int idx, int fd, uv_stdio_container_t *c) {
  static const char *const modes[] = {"pipe", "inherit", "ignore", NULL};
  int mode = ebb_check_option(L, idx, "stdio", "pipe", modes);
  if (mode == 1) {
    c->flags = UV_INHERIT_FD;
    c->data.fd = fd;
  } else if (mode == 2) {
    c->flags = UV_IGNORE;
    lua_pushnil(L);
  } else {
    uvs *s = uvs_push_new(L);
    uv_pipe_init(ebb_loop(), &s->u.pipe, 0);
    uvs_opened(s, ebb_current_owner(L));
    c->flags = UV_CREATE_PIPE | (fd == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
    c->data.stream = &s->u.stream;
  }
  if (mode == 1) lua_pushnil(L);
}

/* A NULL-terminated array of the strings in the table at idx, with `first`
 * (if not NULL) before them. The strings stay anchored by the table. */
static char **string_array(lua_State *L, int idx, const char *first, const char *what) {
  int n = (int)lua_objlen(L, idx), i, k = 0;
  char **out = lua_newuserdata(L, sizeof(char *) * (size_t)(n + 2)); /* freed by the GC */
  if (first) out[k++] = (char *)first;
  for (i = 1; i <= n; i++) {
    size_t len;
    lua_rawgeti(L, idx, i);
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
      ebb_argerror(L, idx, lua_pushfstring(L, "%s %d must be a string, got %s", what, i, luaL_typename(L, -1)));
    out[k++] = (char *)lua_tolstring(L, -1, &len);
    if (strlen(out[k - 1]) != len) ebb_argerror(L, idx, lua_pushfstring(L, "%s %d must not contain a NUL byte", what, i));
    lua_rawseti(L, idx, i); /* numbers become the strings pointed to */
  }
  out[k] = NULL;
  return out;
}

/* spawn(file, args, env|nil, cwd|nil, stdin, stdout, stderr, group)
 *   -> process, stdin stream|nil, stdout|nil, stderr|nil | nil, code, msg */
static int l_spawn(lua_State *L) {
  const char *file = ebb_check_cstring(L, 1, "cmd");
  uv_process_options_t o;
  uv_stdio_container_t stdio[3];
  uvs *pipes[3] = {NULL, NULL, NULL};
  proc *p;
  int i, r;
  ebb_check_type(L, 2, LUA_TTABLE);
  if (!lua_isnil(L, 3)) ebb_check_type(L, 3, LUA_TTABLE);
  lua_settop(L, 8);
  memset(&o, 0, sizeof o);
  o.file = file;
  o.exit_cb = on_child_exit;
  o.args = string_array(L, 2, file, "argument"); /* at 9 */
  if (!lua_isnil(L, 3)) o.env = string_array(L, 3, NULL, "environment entry");
  else lua_pushnil(L); /* at 10 */
  o.cwd = ebb_opt_cstring(L, 4, "cwd", NULL);
  /* its own session and process group (setsid), whose id is its pid */
  if (lua_toboolean(L, 8)) o.flags |= UV_PROCESS_DETACHED;
  for (i = 0; i < 3; i++) {
    stdio_entry(L, 5 + i, i, &stdio[i]);
    if (stdio[i].flags & UV_CREATE_PIPE) pipes[i] = (uvs *)stdio[i].data.stream;
  }
  o.stdio = stdio;
  o.stdio_count = 3;
  uvbox_reserve(L, &process_kind); /* on the top, after the three streams */
  if (!(p = calloc(1, sizeof *p))) return luaL_error(L, "out of memory");
  ebb_waitlist_init(&p->waiters);
  ebb_flush_stdio(); /* what print wrote comes before what an inheriting child writes */
  r = uv_spawn(ebb_loop(), &p->h, &o);
  if (r != 0) {
    for (i = 0; i < 3; i++)
      if (pipes[i]) uvs_close(pipes[i]);
    uvbox_init_unboxed(&p->life, &process_kind, (uv_handle_t *)&p->h);
    uvbox_close(&p->life); /* initialized even when it fails */
    return ebb_push_uv_error(L, r);
  }
  p->pid = p->h.pid;
  p->group = lua_toboolean(L, 8);
  uvbox_fill(L, &p->life, &process_kind, (uv_handle_t *)&p->h);
  uvbox_opened(&p->life, ebb_current_owner(L));
  lua_insert(L, 11); /* before the three streams */
  return 4;
}

/* wait(process, signal) -> true once it has exited (see status) */
static int l_wait(lua_State *L) {
  proc *p = check_process(L, 1);
  int r = ebb_request_begin(L, 2);
  if (r) return r;
  if (p->exited) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return ebb_wait_on(L, &p->waiters, -1, 2);
}

/* status(process) -> false | true, exit code, nil | true, nil, signal name */
static int l_status(lua_State *L) {
  proc *p = check_process(L, 1);
  lua_pushboolean(L, p->exited);
  if (!p->exited) return 1;
  if (p->term_signal) {
    lua_pushnil(L);
    push_signal_name(L, p->term_signal);
  } else {
    lua_pushnumber(L, (lua_Number)p->exit_status);
    lua_pushnil(L);
  }
  return 3;
}

/* The signal at idx: a name ("SIGTERM" or "TERM") or a number; -1 if neither. */
static int signal_at(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, idx);
    return n >= 0 && n < 65 && n == (int)n ? (int)n : -1;
  }
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t len;
    const char *name = lua_tolstring(L, idx, &len);
    const signal_name *sig = signal_by_name(name, len);
    if (sig) return sig->num;
  }
  return -1;
}

static int check_signal_arg(lua_State *L, int idx) {
  int sig = lua_isnoneornil(L, idx) ? SIGTERM : signal_at(L, idx);
  if (sig < 0) return ebb_argerror(L, idx, "signal name (\"SIGTERM\", \"SIGKILL\", ...) or number expected");
  return sig;
}

/* signal_number(name or number) -> number | nil */
static int l_signal_number(lua_State *L) {
  int sig = signal_at(L, 1);
  if (sig < 0) return 0;
  lua_pushinteger(L, sig);
  return 1;
}

/* kill_on_abort(process, signal, signal number): kills the child with that
 * number when the abort signal aborts, as long as the child runs */
static int l_kill_on_abort(lua_State *L) {
  proc *p = check_process(L, 1);
  ebb_signal *s = ebb_check_signal(L, 2);
  int sig = (int)luaL_checkinteger(L, 3);
  kill_on_abort *k;
  if (p->exited || p->life.closed) return 0;
  if (p->nwatches == MAX_WATCHES) return luaL_error(L, "a process kills on at most %d signals", MAX_WATCHES);
  p->kill_signal = sig;
  k = &p->watches[p->nwatches++];
  k->p = p;
  k->signal = s;
  lua_pushvalue(L, 2);
  k->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  k->l.fn = on_abort_kill;
  ebb_signal_listen(s, &k->l);
  return 0;
}

/* kill(process, signal) -> true | nil, code, msg; false when it has exited
 * (with a group: when every process of the group has) */
static int l_kill(lua_State *L) {
  proc *p = check_process(L, 1);
  int r = send_signal(p, check_signal_arg(L, 2));
  if (r != 0 && r != UV_ESRCH) return ebb_push_uv_error(L, r);
  lua_pushboolean(L, r == 0);
  return 1;
}

static int l_pid(lua_State *L) {
  lua_pushinteger(L, check_process(L, 1)->pid);
  return 1;
}

/* a running child keeps its handle until it exits */
static int process_gc(lua_State *L) { return uvbox_gc(L, &process_kind); }

int luaopen_ebb_process_core(lua_State *L) {
  static const luaL_Reg fns[] = {{"spawn", l_spawn},
                                 {"wait", l_wait},
                                 {"status", l_status},
                                 {"kill", l_kill},
                                 {"kill_on_abort", l_kill_on_abort},
                                 {"pid", l_pid},
                                 {"signal_number", l_signal_number},
                                 {NULL, NULL}};
  ebb_new_metatable(L, PROCESS_MT, process_gc, NULL);
  uvs_make_metatable(L);
  return ebb_new_module(L, fns);
}
