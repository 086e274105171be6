/* The lua_State and the loop: module loading, the host's private table, the
 * root task, error reports and an orderly exit (signals: interrupt.c). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lualib.h>
#include "host.h"
#include "runtime.h"

static EBB_THREAD_LOCAL struct {
  lua_State *L;
  uv_loop_t loop;
  int exit_status;
  ebb_node handles;
  int nhandles;
  int output_errno; /* the first write to stdout (or a standard stream) that failed */
} R;

lua_State *ebb_main_state(void) { return R.L; }
uv_loop_t *ebb_loop(void) { return &R.loop; }
void ebb_set_exit_status(int status) {
  if (!R.exit_status) R.exit_status = status;
}

/* ---- handles the host owns ---- */

void ebb_handle_track(ebb_handle *h, uv_handle_t *uv, void (*close)(ebb_handle *h), int owner) {
  h->uv = uv;
  h->close = close;
  h->lasting = 0;
  h->kind = NULL;
  h->owner = owner;
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

/* "tcp listener 127.0.0.1:8080", "tcp 127.0.0.1:5000", "process 1234",
 * "pipe": enough for a user to find what was left open. */
static void push_description(lua_State *L, ebb_handle *h) {
  uv_handle_t *uv = h->uv;
  const char *type = uv_handle_type_name(uv_handle_get_type(uv));
  struct sockaddr_storage ss;
  char ip[64];
  int len = sizeof ss;
  lua_pushstring(L, type ? type : "handle");
  if (h->kind) lua_pushfstring(L, " %s", h->kind);
  else lua_pushliteral(L, "");
  if (uv_handle_get_type(uv) == UV_PROCESS) {
    lua_pushfstring(L, " %d", ((uv_process_t *)uv)->pid);
  } else if (uv_handle_get_type(uv) == UV_TCP && uv_tcp_getsockname((uv_tcp_t *)uv, (struct sockaddr *)&ss, &len) == 0 &&
             uv_ip_name((struct sockaddr *)&ss, ip, sizeof ip) == 0) {
    int port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    lua_pushfstring(L, " %s:%d", ip, port);
  } else {
    lua_pushliteral(L, "");
  }
  lua_concat(L, 3);
}

void ebb_handle_close_owned(lua_State *L, int owner) {
  ebb_node *node = R.handles.next;
  int i = 0;
  lua_newtable(L);
  while (node != &R.handles) {
    ebb_handle *h = ebb_container(node, ebb_handle, link);
    node = node->next; /* closing unlinks h */
    if (h->lasting || h->owner != owner) continue;
    push_description(L, h);
    lua_rawseti(L, -2, ++i);
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
 * thread's state whatever runs, and nothing returns into Lua after it. A
 * finalizer that runs while the state closes may call it too: the state is
 * then closing already. */
void runtime_exit(lua_State *L, int status) {
  (void)L;
  ebb_flush_stdio();
  if (R.L) status = runtime_close(R.L, status);
  else status = runtime_flush_stdout(status);
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

/* ---- a closed or failing standard output ---- */

/* SIGPIPE is caught, so that a peer closing a socket or pipe is an EPIPE
 * error, not the end of the process; caught rather than ignored because a
 * caught signal is back to its default in every program ebb starts, where an
 * ignored one stays ignored (`seq: write error: Broken pipe`). Only a write
 * to a stdout whose reader is gone ends ebb, by the signal, as it ends any
 * program (`ebb script | head`): whichever writer it was (print, io.write,
 * ebb.stdout). A pipe's write end polls POLLERR once its readers are gone. */
static void on_sigpipe(int signum) {
  struct pollfd out = { .fd = 1, .events = 0, .revents = 0 };
  if (poll(&out, 1, 0) == 1 && (out.revents & POLLERR)) {
    signal(signum, SIG_DFL);
    raise(signum); /* delivered as the handler returns */
  }
}

static void catch_sigpipe(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigpipe;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPIPE, &sa, NULL);
}

void ebb_note_output_error(int err) {
  if (!R.output_errno) R.output_errno = err;
}

/* What print and io.write buffered goes out now; a failure is kept for the exit. */
void ebb_flush_stdio(void) {
  if (fflush(stdout) != 0) ebb_note_output_error(errno);
  fflush(stderr);
}

/* At exit, what stdio still holds for stdout is written: a closed pipe ends
 * as SIGPIPE would have (141), any other failure, now or noted earlier, is
 * reported and fails the run. A status already set is kept. stdio's error
 * flag alone is not a failure: a read from stdout sets it too, and a write
 * that failed while the script ran was returned to the script as an error. */
int runtime_flush_stdout(int status) {
  if (fflush(stdout) != 0) ebb_note_output_error(errno);
  if (!R.output_errno) return status;
  if (R.output_errno == EPIPE) return status ? status : 128 + SIGPIPE;
  fprintf(stderr, "ebb: error writing to standard output: %s\n", strerror(R.output_errno));
  return status ? status : 1;
}

/* An error nothing can catch: memory ran out in the host's own work, in
 * the middle of changing the scheduler or libuv, so no more Lua or libuv
 * runs; what stdout holds is still written. */
static void fatal(const char *msg) {
  fprintf(stderr, "ebb: fatal error: %s\n", msg ? msg : "(an error that is not a string)");
  exit(runtime_flush_stdout(1));
}

static int on_panic(lua_State *L) {
  fatal(lua_tostring(L, -1));
  return 0;
}

/* ---- start-up ---- */

/* The host itself is broken (its Lua half and its C half disagree): said
 * before any script runs, with sysexits.h's EX_SOFTWARE. */
static void startup_failed(const char *what, const char *why) {
  fprintf(stderr, "ebb: start-up failed: %s: %s\n", what, why ? why : "(no message)");
  exit(70);
}

static int l_preload_embedded(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const embedded_module *m = embedded_find(name);
  if (!m) return 0;
  if (luaL_loadbuffer(L, (const char *)m->data, m->size, m->chunkname) != 0) return lua_error(L);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

static int l_opened_module(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  return 1;
}

/* Opens a C module of the host now, once; require hands it out from
   package.preload, so package.loaded starts as the standalone luajit's. */
static void preload(lua_State *L, const char *name, lua_CFunction open) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, open);
  lua_pushstring(L, name);
  lua_call(L, 1, 1);
  lua_pushcclosure(L, l_opened_module, 1);
  lua_setfield(L, -2, name);
  lua_pop(L, 2);
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

static lua_State *open_on(lua_State *L, int main_thread) {
  const embedded_module *boot;
  const c_module *m;
  const char *missing;
  if (!L) return NULL;
  R.L = L;
  lua_atpanic(L, on_panic);
  ebb_list_init(&R.handles);
  uv_loop_init(&R.loop);
  clock_init(&R.loop);
  luaL_openlibs(L);
  sched_init(L);
  signal_init(L);
  for (m = c_modules; m->name; m++) preload(L, m->name, m->open);
  if (main_thread) catch_sigpipe();
  lua_getglobal(L, "os");
  lua_pushcfunction(L, l_os_exit);
  lua_setfield(L, -2, "exit");
  lua_pop(L, 1);

  /* ebb.boot wires the trampoline, coroutine wrappers and require, and
   * leaves the hooks C calls (hooks.h) in the private table */
  boot = embedded_find("ebb.boot");
  if (!boot || luaL_loadbuffer(L, (const char *)boot->data, boot->size, boot->chunkname) != 0)
    startup_failed("cannot load ebb.boot", boot ? lua_tostring(L, -1) : "not embedded");
  hooks_push_private(L);
  lua_pushcfunction(L, l_preload_embedded);
  lua_pushcfunction(L, l_embedded_names);
  if (lua_pcall(L, 3, 1, 0) != 0) startup_failed("boot failed", lua_tostring(L, -1));
  if ((missing = hooks_missing(L)) != NULL) startup_failed("a hook is missing", missing);
  sched_set_runner(L); /* boot returns the function pooled coroutines run */
  if (main_thread) interrupt_init(L);
  return L;
}

lua_State *runtime_open(void) { return open_on(luaL_newstate(), 1); }

lua_State *runtime_open_worker(lua_State *L) { return open_on(L, 0); }

/* The loop, until nothing is left: the scheduler's own calls into Lua and
 * its allocations (records, refs, coroutines) may raise, so it runs protected. */
static int run_loop(lua_State *L) {
  sched_run(L);
  ebb_push_hook(L, EBB_HOOK_ROOT_DONE);
  lua_call(L, 0, 1);
  if (!lua_toboolean(L, -1)) {
    ebb_push_hook(L, EBB_HOOK_REPORT_STUCK);
    if (lua_pcall(L, 0, 0, 0) != 0) lua_pop(L, 1);
    ebb_set_exit_status(1);
  }
  return 0;
}

/* Runs `main` (a function on top of L) with nargs arguments as the root task. */
int runtime_run_root(lua_State *L, int nargs) {
  ebb_push_hook(L, EBB_HOOK_START_ROOT);
  lua_insert(L, -(nargs + 2));
  if (lua_pcall(L, nargs + 1, 0, 0) != 0) {
    fprintf(stderr, "ebb: %s\n", lua_tostring(L, -1));
    return 1;
  }
  if (lua_cpcall(L, run_loop, NULL) != 0) fatal(lua_tostring(L, -1));
  return R.exit_status;
}

int ebb_lua_alive(void) { return R.L != NULL; }

/* Closes everything; the exit status, which a failed write to stdout changes. */
int runtime_close(lua_State *L, int status) {
  handles_close_all();
  sched_close(L);
  R.L = NULL;
  lua_close(L);
  clock_close();
  uv_run(&R.loop, UV_RUN_DEFAULT);
  uv_loop_close(&R.loop);
  return runtime_flush_stdout(status);
}
