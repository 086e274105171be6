/* All a binding may use of the host (bindings include this header only):
 * lists, the clock's timers, abort signals, tasks and their waits, ebb.task's
 * side of the scheduler, the request kit, the host's handles and the
 * argument checks. Nothing here knows about any particular module. */
#ifndef EBB_H
#define EBB_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include <lauxlib.h>
#include <uv.h>
#include "hooks.h"

#define EBB_VERSION "0.1.0"

/* The host's mutable state is per thread: each worker thread (ebb.worker) runs
 * a runtime of its own (state, loop, scheduler, clock). What is process-wide
 * (OS signals, the alarm, libcurl's global handle, stdio) says so where it is. */
#define EBB_THREAD_LOCAL _Thread_local

/* ---- intrusive doubly-linked lists (O(1) add and remove) ---- */
typedef struct ebb_node {
  struct ebb_node *prev, *next;
} ebb_node;

static inline void ebb_list_init(ebb_node *head) { head->prev = head->next = head; }
static inline int ebb_list_empty(const ebb_node *head) { return head->next == head; }
static inline int ebb_node_linked(const ebb_node *n) { return n->next != NULL; }
static inline void ebb_list_push(ebb_node *head, ebb_node *n) {
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}
static inline void ebb_node_unlink(ebb_node *n) {
  if (!n->next) return;
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = NULL;
}
static inline ebb_node *ebb_list_shift(ebb_node *head) {
  ebb_node *n = head->next;
  if (n == head) return NULL;
  ebb_node_unlink(n);
  return n;
}
#define ebb_container(ptr, type, field) ((type *)((char *)(ptr) - offsetof(type, field)))

/* ---- the host ---- */
lua_State *ebb_main_state(void);
uv_loop_t *ebb_loop(void);
/* writes what stdio buffered for stdout and stderr; a failure counts at exit */
void ebb_flush_stdio(void);
/* a write to a standard stream failed (errno value): the exit status says so */
void ebb_note_output_error(int err);
/* SIGINT asks the hook first (on the loop's thread), which returns 1 when
 * it has dealt with it (the REPL's prompt); while one is set, SIGINT never
 * ends the process. NULL: none. */
void ebb_set_sigint_hook(int (*hook)(void));
/* 1 on the main thread (whose runtime handles SIGINT and SIGTERM), 0 in a worker's. */
int ebb_on_main_thread(void);
/* The status the process exits with, unless one is set already. */
void ebb_set_exit_status(int status);
/* SIGINT and SIGTERM are the host's (interrupt.c): ebb.signal listens to them
 * through this, not libuv. While `deliver` is set for one, it is called on the
 * loop's thread for each that comes (ebb.shutdown is still aborted), and that
 * signal no longer ends the process. NULL gives the signal back. */
void ebb_interrupt_take(int signum, void (*deliver)(int signum));

/* ---- the clock (host/clock.c): every timer of the host ---- */
typedef struct ebb_timer {
  double deadline;
  uint32_t seq;                /* of equal deadlines the one started first fires first */
  signed int heap_index : 28;  /* -1 when not armed */
  unsigned weak : 1;           /* does not keep the process alive (as Node's unref) */
  unsigned fire_kind : 3;      /* its fire function, by its index in the clock's table (0: none) */
} ebb_timer; /* 16 bytes: one is in the record of every task that waits */

double ebb_now(void);
void ebb_timer_init(ebb_timer *t, void (*fire)(ebb_timer *));
/* A timer's fire function, changed (the host has at most 7 distinct ones). */
void ebb_timer_set_fire(ebb_timer *t, void (*fire)(ebb_timer *));
void ebb_timer_start(ebb_timer *t, double delay_ms);
void ebb_timer_start_at(ebb_timer *t, double deadline); /* on the clock of ebb_now() */
void ebb_timer_stop(ebb_timer *t);
/* The armed timer `to` takes the place of `from` (deadline, order), which is disarmed. */
void ebb_timer_take_place(ebb_timer *from, ebb_timer *to);
static inline int ebb_timer_armed(const ebb_timer *t) { return t->heap_index >= 0; }
size_t ebb_timer_count(void);   /* armed timers that keep the process alive */
void ebb_timer_set_weak(ebb_timer *t, int weak);
/* Real or virtual time: frozen moves only when told, auto jumps to the next
 * timer once nothing else can happen. */
enum { EBB_CLOCK_REAL, EBB_CLOCK_FROZEN, EBB_CLOCK_AUTO };
int ebb_clock_mode(void);
void ebb_clock_set_mode(int mode);
/* Fires the earliest timer due by `limit`, moving virtual time to it; 0: none. */
int ebb_clock_fire_next(double limit);
double ebb_clock_next_deadline(void); /* < 0: no timer armed */
void ebb_clock_set_frozen_time(double ms); /* moves frozen time forward */

/* ---- abort signals (host/signal.c) ---- */
typedef struct ebb_signal ebb_signal;
typedef struct ebb_listener {
  ebb_node link;
  void (*fn)(struct ebb_listener *l, ebb_signal *s);
} ebb_listener;

int ebb_signal_aborted(const ebb_signal *s);
int ebb_signal_watched(const ebb_signal *s); /* a listener or a dependent */
void ebb_signal_push_reason(lua_State *L, const ebb_signal *s);
/* Listeners run once, in registration order, after every dependent is marked. */
void ebb_signal_listen(ebb_signal *s, ebb_listener *l);
void ebb_signal_unlisten(ebb_signal *s, ebb_listener *l);
/* Aborts with the value on top of L's stack (popped). */
void ebb_signal_abort(lua_State *L, ebb_signal *s);
ebb_signal *ebb_check_signal(lua_State *L, int idx);
ebb_signal *ebb_opt_signal(lua_State *L, int idx); /* nil or a signal */
ebb_signal *ebb_to_signal(lua_State *L, int idx); /* NULL: not a signal */
/* A new controller-kind signal userdata, pushed on L. */
ebb_signal *ebb_signal_new(lua_State *L);
int ebb_signal_abortable(const ebb_signal *s); /* a controller's: abort may be called */
/* Pushed on L: one that aborts after ms (abort.timeout), one that aborts
 * with the first of the signals in the list at list_idx (abort.any). */
ebb_signal *ebb_signal_timeout(lua_State *L, double ms);
ebb_signal *ebb_signal_any(lua_State *L, int list_idx);
/* Adds the function at fn_idx as a listener of the signal at signal_idx
 * (absolute indexes), and pushes the function that removes it. */
void ebb_signal_on_abort(lua_State *L, int signal_idx, int fn_idx);
int ebb_signal_listener_count(const ebb_signal *s); /* Lua's and waits' */
int ebb_signal_dependent_count(const ebb_signal *s);
/* Pushes the signals' metatable, for their Lua face to fill. */
void ebb_push_signal_metatable(lua_State *L);

/* ---- tasks and waits (host/sched.c) ---- */
typedef struct ebb_task ebb_task;

typedef struct ebb_wait ebb_wait;

/* What a wait is for, given when it is armed (ebb_wait_with), so that what
 * ends it (a wake, an abort, its deadline) finds it whole. */
typedef struct ebb_want {
  void *owner; /* what the task waits on (a semaphore, a request, a stream) */
  /* Called when the wait ends by an abort: `handed` says whether the owner
   * had already woken it (and given it what it asked for: give it back);
   * otherwise it has just left the owner's list. Not called when the wait
   * ends before it began (already aborted: see ebb_wait_with). */
  void (*on_cancel)(ebb_wait *w, int handed);
  int kind;         /* which of its owner's waits, when it has several */
  unsigned sleeps : 1; /* its deadline is the good outcome (a sleep) */
  union {           /* how much of the owner it asked for */
    double permits;   /* a semaphore's */
    uint64_t count;   /* the count the owner must reach (chunks written) */
  };
} ebb_want;

/* A task waits on one thing at a time; the wait is embedded in the task's
 * record. What only some waits need (an owner's want, an explicit signal)
 * is in `more`, made on the task's first wait that needs it: a task that
 * sleeps carries none of it. */
struct ebb_wait {
  ebb_node link;          /* in the owner's list while armed, then in the ready list */
  ebb_timer timer;        /* deadline of the wait, if any */
  struct ebb_wait_more *more;
};
struct ebb_wait_more {
  ebb_listener on_abort; /* the explicit signal given to the wait */
  ebb_signal *signal;
  ebb_task *task;        /* whose record it hangs from */
  ebb_want want;         /* what it was armed with */
};
ebb_want *ebb_wait_want_made(ebb_wait *w);
/* What the wait was armed with (ebb_wait_with's want): for the owner's
 * callbacks, of a wait that was given one. */
static inline ebb_want *ebb_wait_want(ebb_wait *w) {
  return w->more ? &w->more->want : ebb_wait_want_made(w);
}

typedef ebb_node ebb_waitlist;

enum { EBB_WOKE = 1, EBB_ABORTED = 0, EBB_TIMEDOUT = -1 };

ebb_task *ebb_current(void);
/* The owner of the task running in L (ebb test marks a spec's tasks), 0: none;
 * with no task running, the owner lent by ebb_lend_owner. */
int ebb_current_owner(lua_State *L);
/* Lends `owner` (0: none) to code that runs outside any task on behalf of a
 * task (an abort listener fired by a timer), so what it makes is that task's
 * owner's; returns the owner lent before, to lend back. */
int ebb_lend_owner(lua_State *L, int owner);
extern EBB_THREAD_LOCAL int ebb_no_wait_depth; /* > 0 while code that must not wait runs */
/* Raises a clear Lua error unless L runs inside a task. */
ebb_task *ebb_check_in_task(lua_State *L);
ebb_wait *ebb_task_wait(ebb_task *t);
/*
 * Parks the current task on `list` (may be NULL: then only the timeout or an
 * abort ends it), watching the signal at `signal_idx` (0: none) and the task's
 * own signal. timeout_ms < 0 means none. Use as `return ebb_wait_with(...)`.
 * The wait is resumed with `true` (woken), `false, reason` (aborted) or
 * `nil, "timeout"`. When already aborted it returns those values at once,
 * without yielding (lua_status(L) != LUA_YIELD tells): the wait never began,
 * and want->on_cancel is not called. `want` (may be NULL) is copied.
 */
int ebb_wait_with(lua_State *L, ebb_waitlist *list, double timeout_ms, int signal_idx, const ebb_want *want);
/* sleep(ms [, signal at signal_idx]) of the running task, as ebb_wait_with. */
int ebb_sleep(lua_State *L, double ms, int signal_idx);
/* ebb_wait_with, wanting nothing in particular. */
int ebb_wait_on(lua_State *L, ebb_waitlist *list, double timeout_ms, int signal_idx);
/* The rule for every awaiting function: when the signal at signal_idx (0:
 * none) or the current task is aborted, pushes false, reason and returns 2. */
int ebb_check_abort(lua_State *L, int signal_idx);
/* Ends a wait with `true`. The waiter is removed from its list first. */
void ebb_wake(ebb_wait *w);
void ebb_wake_all(ebb_waitlist *list);
/* Ends an armed wait with values of the caller's: push them on the returned
 * coroutine, then call ebb_wake_done with how many. NULL when the wait is
 * not armed (it ended already). */
lua_State *ebb_wake_push(ebb_wait *w);
void ebb_wake_done(ebb_wait *w, int nvalues);
/* ebb_wake_done for values the task owns only once it runs: cancelled before,
 * give_back->on_cancel(w, 1) gets them back (from ebb_wait_thread's stack). */
void ebb_wake_handed(ebb_wait *w, int nvalues, const ebb_want *give_back);
/* The coroutine of the task that waits (its stack holds what it was handed). */
lua_State *ebb_wait_thread(ebb_wait *w);
/* 1 while Lua can run callbacks' cleanups (registry refs); 0 once closing. */
int ebb_lua_alive(void);
/* Ends a wait with `false` and the value on top of L (popped): the waiter
 * raises it. */
void ebb_wake_fail(lua_State *L, ebb_wait *w);
#define ebb_waitlist_init ebb_list_init

/* ---- ebb.task's side of the scheduler (host/task_control.c), for ebb.core.
 * A task is a Lua table (ebb.task's); task_idx is where it is on L's stack. ---- */
enum { EBB_KEY_WAIT, EBB_KEY_IDLE, EBB_KEY_CHUNK };
/* What a coroutine yields to the scheduler: to wait, when a runner has
 * nothing left to run, to hand over to a coroutine of the task's own. */
void *ebb_sched_key(int which);
/* Pushes the table whose [1] is the running task (ebb.task's `cur`). */
void ebb_push_current_cell(lua_State *L);
/* The table at idx is ebb.task's ring of new tasks (head, tail, stop, batch_end). */
void ebb_set_task_ring(lua_State *L, int idx);
/* Waits of the running task; use as `return ebb_yield(L)`. settle resumes
 * once no other task is ready. */
int ebb_yield(lua_State *L);
int ebb_settle(lua_State *L);
int ebb_can_wait(lua_State *L); /* in a task, not in code that must not wait */
/* Adds delta to the running task's shield (never below 0); returns it. While
 * > 0, its waits ignore its cancellation. */
int ebb_shield(lua_State *L, int delta);
/* The task's signal has just been aborted: a waiting task gets the reason. */
void ebb_task_cancelled(lua_State *L, int task_idx);
/* The task has ended or will never start: its record and timer go. */
void ebb_task_release(lua_State *L, int task_idx);
/* After ms the task ends (a task that is only a timer), or, delayed, joins
 * the new tasks. */
void ebb_task_timer(lua_State *L, int task_idx, double ms, int delayed);
void ebb_note_unhandled(void); /* a failure to report at the end of the turn */
/* A task has been cancelled (+1), or one that was has ended (-1): while none
 * is, no wait needs to look for the running task's own signal. */
void ebb_count_cancelled(int delta);
typedef struct ebb_sched_counts {
  int ready, pooled, records;
} ebb_sched_counts;
void ebb_sched_count(ebb_sched_counts *c);
/* Like ebb_wait_on, but the limit is real time, outside the clock (ebb test). */
int ebb_wait_real(lua_State *L, ebb_waitlist *list, double ms);

/* ---- requests (host/request.c): a libuv request made on behalf of a task ----
 * Embed an ebb_request in the request's struct; start the request, then
 * `return ebb_request_await(L, &op->r, signal_idx)`. Its callback calls
 * ebb_request_finish with the status: given the waiter's coroutine, it
 * pushes the results of the success and calls ebb_request_done; given NULL
 * (a failure, already told to the waiter, or a waiter aborted or cancelled
 * meanwhile) it drops what it has. Either way the callback then frees its
 * struct: libuv cannot stop a request that has started, so it always ends. */
typedef struct ebb_request {
  ebb_wait *wait; /* the waiter; NULL once it has gone */
  /* The waiter has gone before the end (optional): stop what can be
   * stopped (uv_cancel, closing the handle). The callback still comes. */
  void (*abandon)(struct ebb_request *r);
} ebb_request;

/* What every function making a request checks before it starts anything:
 * it runs in a task, and neither the task nor the signal at signal_idx
 * (0: none) is aborted. Returns 0, or the count of `false, reason` pushed. */
int ebb_request_begin(lua_State *L, int signal_idx);
/* Parks the calling task until the request (started) finishes; returns what
 * ebb_wait_with does. When the task is aborted before it waits, the request
 * is abandoned at once. */
int ebb_request_await(lua_State *L, ebb_request *r, int signal_idx);
/* The request has ended with status (< 0: a libuv error, which the waiter
 * gets as nil, code, message): the waiter's coroutine to push the results of
 * a success on, or NULL when there is none to push (failed, or nobody waits
 * any more). */
lua_State *ebb_request_finish(ebb_request *r, int status);
/* Ends the wait with the `nresults` values pushed on the coroutine that
 * ebb_request_finish returned; give_back as in ebb_wake_handed (may be NULL). */
void ebb_request_done(ebb_request *r, int nresults, const ebb_want *give_back);
/* nil, code, message (libuv's error name and its text): how every function
 * of the I/O modules fails. Returns 3. */
int ebb_push_uv_error(lua_State *L, int err);
/* Ends every wait on list with nil, code, message. */
void ebb_fail_all(ebb_waitlist *list, int err);

/* ---- the host's own handles: closed at exit, counted for leak checks ---- */
typedef struct ebb_handle {
  ebb_node link;
  uv_handle_t *uv;
  void (*close)(struct ebb_handle *h); /* closes uv and frees its owner */
  int lasting; /* lives as long as the process (the standard streams): not counted */
  const char *kind; /* what it is in reports ("listener"); NULL: libuv's name of its type */
  int owner; /* ebb test: the unit of specs whose task made it (a task's owner); 0: none */
} ebb_handle;
/* Tracked until untracked (when its owner closes it) or closed at exit. */
void ebb_handle_track(ebb_handle *h, uv_handle_t *uv, void (*close)(ebb_handle *h), int owner);
void ebb_handle_untrack(ebb_handle *h);
void ebb_handle_lasting(ebb_handle *h);
int ebb_handle_count(void);
/* Closes the handles of `owner` (those a unit of specs left open) and pushes
 * a list that says what each one was ("tcp listener 127.0.0.1:8080"). */
void ebb_handle_close_owned(lua_State *L, int owner);

/* ---- argument checks (host/util.c): one wording for C and Lua (ebb.check),
 * "bad argument #N to 'fname' (...)", naming the argument; never a crash ---- */
#define EBB_MAX_MS 1e12        /* about 31 years: deadlines stay exact to the microsecond */
#define EBB_MAX_WHOLE 9007199254740992.0 /* 2^53: every whole number below is exact */
/* Sets the functions in the table on top of L, under their public names,
 * which argument errors give them; methods (self first) count their
 * arguments after self. */
void ebb_register(lua_State *L, const luaL_Reg *fns, int methods);
/* Makes the metatable of the userdata tname (once), with __gc and
 * __tostring where given (not NULL). */
void ebb_new_metatable(lua_State *L, const char *tname, lua_CFunction gc, lua_CFunction tostring);
/* Pushes a module's table of fns (ebb_register); returns 1, so a luaopen_
 * function can end with `return ebb_new_module(L, fns);`. */
int ebb_new_module(lua_State *L, const luaL_Reg *fns);
/* luaL_argerror as the rules word it: the function's public name, raised at
 * the line of the script's that called ebb. */
int ebb_argerror(lua_State *L, int idx, const char *msg);
int ebb_argerror_type(lua_State *L, int idx, const char *expected);
void ebb_check_type(lua_State *L, int idx, int type); /* "function expected, got nil" */
/* The index in names (NULL-ended) of the string at idx (def when nil; def
 * NULL: required), else 'what must be "a", "b" or "c", got x'. */
int ebb_check_option(lua_State *L, int idx, const char *what, const char *def, const char *const names[]);
/* A finite number from min to max ("what must be a number from min to max"). */
double ebb_check_number(lua_State *L, int idx, const char *what, double min, double max);
/* A whole number from min to max. */
double ebb_check_whole(lua_State *L, int idx, const char *what, double min, double max);
double ebb_opt_whole(lua_State *L, int idx, const char *what, double min, double max, double def);
/* A duration: a finite number of milliseconds from 0 to EBB_MAX_MS. */
double ebb_check_ms(lua_State *L, int idx, const char *what);
/* A string that C takes whole: one holding a NUL byte is refused. */
const char *ebb_check_cstring(lua_State *L, int idx, const char *what);
const char *ebb_opt_cstring(lua_State *L, int idx, const char *what, const char *def);
/* The userdata at idx made with metatable tname, else "expected expected, got ..." */
void *ebb_check_udata(lua_State *L, int idx, const char *tname, const char *expected);
/* Is the key at idx the string `name`, whole (a NUL byte does not end it early)? */
int ebb_key_is(lua_State *L, int idx, const char *name);
/* Is this chunk name (lua_Debug's source) one of ebb's own Lua modules? */
int ebb_host_source(const char *source);
/* Raises msg placed at the first frame outside ebb's own Lua modules: the
 * line of the script's that called ebb (luaL_error would name ebb's file). */
int ebb_error_at_caller(lua_State *L, const char *msg);
/* luaL_testudata, which Lua 5.1 lacks */
void *luaL_testudata_compat(lua_State *L, int idx, const char *tname);

#endif
