/* SIGINT and SIGTERM. A raw handler only notes the signal, arms a count hook
 * (as lua.c's laction does) to reach Lua code that never returns to the loop,
 * and wakes a loop that sleeps; what the signal means (ebb.shutdown, the
 * REPL's Ctrl-C, or the end of the process) is decided on the loop's thread. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "host.h"
#include "runtime.h"

/* With nothing listening, a signal ends the process: through the hook or the
 * loop when they come soon (output flushed, handles closed), else by _exit
 * after this long (a loop LuaJIT has compiled, a C call that blocks). */
#define EXIT_FALLBACK_MS 100

/* Process-wide: only the main thread handles SIGINT and SIGTERM (worker
 * threads block them); I.L is the main thread's state. */
static struct {
  lua_State *L;
  pthread_t main_thread;
  uv_async_t wake;
  ebb_signal *shutdown;               /* ebb.shutdown: does anything listen? */
  int (*sigint_hook)(void);           /* the REPL's prompt takes Ctrl-C first */
  volatile sig_atomic_t repl;         /* the REPL owns SIGINT: never an exit */
  volatile sig_atomic_t pending;      /* a signal not yet acted on */
  volatile sig_atomic_t exit_signal;  /* what the fallback exits with */
  volatile sig_atomic_t seen;         /* signals that count towards an exit */
  volatile sig_atomic_t polling;      /* the loop's thread sleeps in uv_run */
  volatile sig_atomic_t hooked;       /* our hook is armed */
  volatile sig_atomic_t deadline;     /* ebb test's limit on a body has passed */
  volatile sig_atomic_t taken[2];     /* ebb.signal listens to SIGINT [0], SIGTERM [1] */
  void (*deliver[2])(int signum);     /* what it is told with */
  lua_Hook user_hook;                 /* a debug.sethook of the script's, restored */
  int user_mask, user_count;
} I;

static EBB_THREAD_LOCAL int on_main_thread; /* this thread's runtime handles the signals */

static void on_hook(lua_State *L, lua_Debug *ar);

static int slot(int signum) { return signum == SIGINT ? 0 : 1; }

/* At every instruction, call and return, until it finds the script's code. */
static void arm_hook(void) {
  if (!I.hooked) {
    I.user_hook = lua_gethook(I.L);
    I.user_mask = lua_gethookmask(I.L);
    I.user_count = lua_gethookcount(I.L);
    I.hooked = 1;
  }
  lua_sethook(I.L, on_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static void disarm_hook(lua_State *L) {
  if (!I.hooked) return;
  I.hooked = 0;
  lua_sethook(L, I.user_hook, I.user_mask, I.user_count);
}

static void on_fallback(void) { _exit(128 + I.exit_signal); }

static void arm_exit_fallback(int signum) {
  I.exit_signal = signum;
  alarm_set(ALARM_EXIT_FALLBACK, EXIT_FALLBACK_MS, on_fallback);
}

/* Async-signal-safe: flags, lua_sethook, the alarm, uv_async_send. */
static void on_signal(int signum) {
  int saved_errno = errno;
  int repl = signum == SIGINT && I.repl;
  int owned = repl || I.taken[slot(signum)]; /* never an exit while the REPL or a listener has it */
  if (!pthread_equal(pthread_self(), I.main_thread)) { /* a libuv thread got it */
    pthread_kill(I.main_thread, signum);
  } else if (!ebb_lua_alive() || (!owned && I.seen++ > 0)) {
    _exit(128 + signum); /* the second one, or exiting already */
  } else {
    I.pending = signum;
    arm_hook();
    if (!owned && !ebb_signal_watched(I.shutdown) && !I.polling) arm_exit_fallback(signum);
    uv_async_send(&I.wake);
  }
  errno = saved_errno;
}

/* Acts on a pending signal, running Lua on L: the REPL's Ctrl-C, else tell
 * ebb.signal's listeners and abort ebb.shutdown, or exit when nothing
 * listens to it. */
static void act(lua_State *L) {
  int signum = I.pending;
  void (*deliver)(int);
  if (!signum) return;
  I.pending = 0;
  if (signum == SIGINT && I.repl) {
    if (I.sigint_hook && I.sigint_hook()) return;
    ebb_push_hook(L, EBB_HOOK_ON_INTERRUPT);
    if (lua_isfunction(L, -1)) {
      if (lua_pcall(L, 0, 1, 0) == 0 && lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        return;
      }
    }
    lua_pop(L, 1);
  }
  deliver = I.deliver[slot(signum)];
  if (deliver) deliver(signum); /* wakes tasks: no Lua runs */
  ebb_push_hook(L, EBB_HOOK_ON_SHUTDOWN);
  lua_pushstring(L, signum == SIGINT ? "SIGINT" : "SIGTERM");
  if ((lua_pcall(L, 1, 1, 0) != 0 || !lua_toboolean(L, -1)) && !deliver) {
    lua_pop(L, 1);
    runtime_exit(L, 128 + signum);
  }
  lua_pop(L, 1);
}

/* Code of the script's own, where an error may be raised: a Lua function
 * that is not one of ebb's modules, outside an abort listener. At a call or
 * return of a C function (before it runs, or once it has), its caller
 * decides: in a loop LuaJIT has compiled, those events are all there is. */
int ebb_hook_at_script_code(lua_State *L, lua_Debug *ar) {
  lua_Debug caller;
  if (ebb_no_wait_depth > 0 || !lua_getinfo(L, "S", ar)) return 0;
  if (ar->what[0] == 'C') {
    if (!lua_getstack(L, 1, &caller) || !lua_getinfo(L, "S", &caller)) return 0;
    ar = &caller;
    if (ar->what[0] == 'C') return 0;
  }
  return !ebb_host_source(ar->source);
}

/* Lua code that runs without returning to the loop: act here, and when the
 * running task has been cancelled by it, raise the reason where it runs (or
 * what ebb test's limit on a body, past, gives). */
static void on_hook(lua_State *L, lua_Debug *ar) {
  if (!I.pending && !I.deadline) {
    disarm_hook(L);
    return;
  }
  /* Raised inside ebb's modules, an error would leave their state half
   * changed: the hook stays, at every instruction, until the script's own
   * code runs (a count of more could keep landing in the same module call,
   * as the REPL's locals, read through a metamethod, do). */
  if (!ebb_hook_at_script_code(L, ar)) return;
  disarm_hook(L);
  act(L);
  if (I.deadline) {
    I.deadline = 0;
    if (spec_limit_expired(L)) lua_error(L);
  }
  if (L != I.L && ebb_check_abort(L, 0)) lua_error(L); /* the reason is on top */
}

void interrupt_deadline_passed(void) {
  I.deadline = 1;
  arm_hook();
}

void interrupt_deadline_cleared(void) { I.deadline = 0; }

/* The loop's side: called every turn of the scheduler. */
void interrupt_poll(void) {
  if (I.pending && on_main_thread) act(I.L);
}

/* The scheduler is about to sleep in uv_run (or has woken). */
void interrupt_set_polling(int on) {
  if (on_main_thread) I.polling = on;
}

int ebb_on_main_thread(void) { return on_main_thread; }

void ebb_set_sigint_hook(int (*hook)(void)) {
  I.sigint_hook = hook;
  I.repl = hook != NULL;
}

void ebb_interrupt_take(int signum, void (*deliver)(int signum)) {
  I.deliver[slot(signum)] = deliver;
  I.taken[slot(signum)] = deliver != NULL;
}

static void on_wake(uv_async_t *h) { (void)h; } /* uv_run returns: the scheduler acts */

/* After boot: ebb.shutdown exists. */
void interrupt_init(lua_State *L) {
  struct sigaction sa;
  I.L = L;
  I.main_thread = pthread_self();
  on_main_thread = 1;
  ebb_push_hook(L, EBB_HOOK_SHUTDOWN);
  I.shutdown = ebb_check_signal(L, -1); /* held by the private table for good */
  lua_pop(L, 1);
  uv_async_init(ebb_loop(), &I.wake, on_wake);
  uv_unref((uv_handle_t *)&I.wake);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART; /* a read in C goes on, as under lua and luajit */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}
