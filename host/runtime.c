/* The lua_State and the loop: module loading, the host's private table, the
 * root task, error reports and an orderly exit (signals: interrupt.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lualib.h>
#include "host.h"
#include "runtime.h"

static struct {
  lua_State *L;
  uv_loop_t loop;
  int private_ref;
  int exit_status;
  ebb_node handles;
  int nhandles;
} R;

lua_State *ebb_main_state(void) { return R.L; }
uv_loop_t *ebb_loop(void) { return &R.loop; }
int runtime_exit_status(void) { return R.exit_status; }
void runtime_set_exit_status(int status) {
  if (!R.exit_status) R.exit_status = status;
}

void ebb_get_private(lua_State *L, const char *name) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, R.private_ref);
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}

void ebb_set_private(lua_State *L, const char *name) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, R.private_ref);
  lua_insert(L, -2);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

/* ---- handles the host owns ---- */

void ebb_handle_track(ebb_handle *h, uv_handle_t *uv, void (*close)(ebb_handle *h)) {
  h->uv = uv;
  h->close = close;
  h->lasting = 0;
  ebb_list_push(&R.handles, &h->link);
  R.nhandles++;
}

void ebb_handle_lasting(ebb_handle *h) {
  if (h->lasting) return;
  h->lasting = 1;
  R.nhandles--;
}

void ebb_handle_untrack(ebb_handle *h) {
  if (!ebb_node_linked(&h->link)) return;
  ebb_node_unlink(&h->link);
  if (!h->lasting) R.nhandles--;
}

void ebb_handle_close_newest(int n) {
  ebb_node *node = R.handles.prev;
  while (n > 0 && node != &R.handles) {
    ebb_handle *h = ebb_container(node, ebb_handle, link);
    node = node->prev;
    if (h->lasting) continue;
    n--;
    ebb_handle_untrack(h);
    if (h->close) h->close(h);
    else if (!uv_is_closing(h->uv)) uv_close(h->uv, NULL);
  }
}

int ebb_handle_count(void) { return R.nhandles; }


static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Closes every handle still open; their owners' close callbacks free them. */
void handles_close_all(void) {
  ebb_node *n;
  while ((n = ebb_list_shift(&R.handles)) != NULL) {
    ebb_handle *h = ebb_container(n, ebb_handle, link);
    if (!h->lasting) R.nhandles--;
    if (h->close) h->close(h);
    else if (!uv_is_closing(h->uv)) uv_close(h->uv, NULL);
  }
  uv_walk(&R.loop, close_walk, NULL);
  uv_run(&R.loop, UV_RUN_DEFAULT);
}

/* ---- os.exit ---- */

/* os.exit may be called deep inside a task: lua_close works from the main
 * thread's state whatever runs, and nothing returns into Lua after it. */
void runtime_exit(lua_State *L, int status) {
  (void)L;
  fflush(stdout);
  fflush(stderr);
  runtime_close(R.L);
  exit(status);
}

static int l_os_exit(lua_State *L) {
  int status;
  if (lua_isnoneornil(L, 1)) status = R.exit_status;
  else if (lua_isboolean(L, 1)) status = lua_toboolean(L, 1) ? 0 : 1;
  else status = (int)luaL_checkinteger(L, 1);
  runtime_exit(L, status);
  return 0;
}

/* ---- a closed standard output ---- */

/* SIGPIPE is ignored so that a peer closing a socket or pipe is an EPIPE
 * error, not the end of the process; print to a closed stdout then ends the
 * process as the signal would have (`ebb script | head`). */
static int l_print(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 0);
  if (ferror(stdout) && errno == EPIPE) {
    clearerr(stdout);
    runtime_exit(L, 128 + SIGPIPE);
  }
  return 0;
}

/* ---- start-up ---- */

static int l_preload_embedded(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const embedded_module *m = embedded_find(name);
  if (!m) return 0;
  if (luaL_loadbuffer(L, (const char *)m->data, m->size, m->chunkname) != 0) return lua_error(L);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

static void preload(lua_State *L, const char *name, lua_CFunction open) {
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  lua_pushcfunction(L, open);
  lua_pushstring(L, name);
  lua_call(L, 1, 1);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

static int l_embedded_names(lua_State *L) {
  int i;
  lua_newtable(L);
  for (i = 0; embedded_modules[i].name; i++) {
    lua_pushstring(L, embedded_modules[i].name);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

lua_State *runtime_open(void) {
  lua_State *L = luaL_newstate();
  const embedded_module *boot;
  if (!L) return NULL;
  R.L = L;
  ebb_list_init(&R.handles);
  uv_loop_init(&R.loop);
  clock_init(&R.loop);
  luaL_openlibs(L);
  lua_newtable(L);
  R.private_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  sched_init(L);
  signal_init(L);
  preload(L, "ebb.core", luaopen_ebb_core);
  preload(L, "ebb.abort.core", luaopen_ebb_abort_core);
  preload(L, "ebb.clock.core", luaopen_ebb_clock_core);
  preload(L, "ebb.semaphore.core", luaopen_ebb_semaphore_core);
  preload(L, "ebb.fs.core", luaopen_ebb_fs_core);
  preload(L, "ebb.iostream.core", luaopen_ebb_iostream_core);
  preload(L, "ebb.net.core", luaopen_ebb_net_core);
  preload(L, "ebb.process.core", luaopen_ebb_process_core);
  preload(L, "ebb.repl.core", luaopen_ebb_repl_core);
  signal(SIGPIPE, SIG_IGN);
  lua_getglobal(L, "print");
  lua_pushcclosure(L, l_print, 1);
  lua_setglobal(L, "print");
  lua_getglobal(L, "os");
  lua_pushcfunction(L, l_os_exit);
  lua_setfield(L, -2, "exit");
  lua_pop(L, 1);

  /* ebb.boot wires the trampoline, coroutine wrappers and require */
  boot = embedded_find("ebb.boot");
  if (!boot || luaL_loadbuffer(L, (const char *)boot->data, boot->size, boot->chunkname) != 0) {
    fprintf(stderr, "ebb: cannot load ebb.boot: %s\n", boot ? lua_tostring(L, -1) : "not embedded");
    exit(1);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, R.private_ref);
  lua_pushcfunction(L, l_preload_embedded);
  lua_pushcfunction(L, l_embedded_names);
  if (lua_pcall(L, 3, 1, 0) != 0) {
    fprintf(stderr, "ebb: boot failed: %s\n", lua_tostring(L, -1));
    exit(1);
  }
  sched_set_runner(L); /* boot returns the function pooled coroutines run */
  interrupt_init(L);
  return L;
}

/* Runs `main` (a function on top of L) with nargs arguments as the root task. */
int runtime_run_root(lua_State *L, int nargs) {
  ebb_get_private(L, "start_root");
  lua_insert(L, -(nargs + 2));
  if (lua_pcall(L, nargs + 1, 0, 0) != 0) {
    fprintf(stderr, "ebb: %s\n", lua_tostring(L, -1));
    return 1;
  }
  sched_run(L);
  ebb_get_private(L, "root_done");
  lua_call(L, 0, 1);
  if (!lua_toboolean(L, -1)) {
    ebb_get_private(L, "report_stuck");
    if (lua_pcall(L, 0, 0, 0) != 0) lua_pop(L, 1);
    runtime_set_exit_status(1);
  }
  lua_pop(L, 1);
  return R.exit_status;
}

int ebb_lua_alive(void) { return R.L != NULL; }

void runtime_close(lua_State *L) {
  handles_close_all();
  sched_close(L);
  R.L = NULL;
  lua_close(L);
  clock_close();
  uv_run(&R.loop, UV_RUN_DEFAULT);
  uv_loop_close(&R.loop);
}
