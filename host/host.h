/* What the parts of the host tell each other; bindings use ebb.h only. */
#ifndef EBB_HOST_H
#define EBB_HOST_H

#include "ebb.h"

void clock_init(uv_loop_t *loop);
void clock_close(void);
void clock_arm(void);
int clock_fire_due(void);
size_t clock_timer_count(void); /* every armed timer, weak ones too */

void sched_init(lua_State *L);
void sched_close(lua_State *L);
/* Runs the loop until nothing is left (or sched_stop); returns how the root task ended. */
void sched_run(lua_State *L);
void sched_stop(void); /* a worker's loop ends with its job loop, whatever is left on it */

void signal_init(lua_State *L);
void handles_close_all(void);

/* hooks.c: the private table ebb.boot fills (pushed), and what is missing
 * from it once boot has run (NULL: nothing). */
void hooks_push_private(lua_State *L);
const char *hooks_missing(lua_State *L);

void runtime_exit(lua_State *L, int status); /* closes everything, then exits */

/* interrupt.c: SIGINT and SIGTERM. */
void interrupt_init(lua_State *L);
void interrupt_poll(void);
void interrupt_set_polling(int on);
/* In a count hook: does the script's own code run here (where an error may
 * be raised without leaving ebb's modules half changed)? */
int ebb_hook_at_script_code(lua_State *L, lua_Debug *ar);
/* The hook is armed to reach the script's code, where spec_limit_expired
 * (spec_limit.c) runs and what it leaves on top, when it returns 1, is
 * raised; until cleared. Async-signal-safe. */
void interrupt_deadline_passed(void);
void interrupt_deadline_cleared(void);
int spec_limit_expired(lua_State *L);

/* alarm.c: the one real-time alarm (SIGALRM), a deadline per slot; fire runs
 * in the signal handler. */
enum { ALARM_EXIT_FALLBACK, ALARM_SPEC_LIMIT, ALARM_SLOTS };
void alarm_set(int slot, double ms, void (*fire)(void));

#endif
