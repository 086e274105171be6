/* The hooks between C and Lua: the functions (and ebb.shutdown) that ebb.boot
 * puts in the host's private table for C to call, by these names. This is the
 * one list of them: the table takes no other name (a typo raises), and
 * start-up fails, before any script runs, when a required one is missing. */
#ifndef EBB_HOOKS_H
#define EBB_HOOKS_H

#include <lua.h>

/* X(ID, "name", required) */
#define EBB_HOOKS(X)                                                                  \
  X(MAIN, "main", 1)                   /* ebb [script]: the chunks, then the script */ \
  X(REPL_MAIN, "repl_main", 1)         /* ebb -i: the chunks, then the REPL */         \
  X(TEST_MAIN, "test_main", 1)         /* ebb test */                                  \
  X(START_ROOT, "start_root", 1)       /* spawns the root task that runs a main */     \
  X(ROOT_DONE, "root_done", 1)         /* has the root task ended? */                  \
  X(REPORT_STUCK, "report_stuck", 1)   /* the root waits for what cannot come */       \
  X(TASK_FAILED, "task_failed", 1)     /* a task raised (task, error, traceback) */    \
  X(FLUSH_UNHANDLED, "flush_unhandled", 1) /* reports the turn's unhandled failures */ \
  X(ENQUEUE, "enqueue", 1)             /* a delayed task is due: it joins the ring */  \
  X(TIMER_DONE, "timer_done", 1)       /* a task that is only a timer has ended */     \
  X(TRACED, "traced", 1)               /* the xpcall handler noting an error's place */ \
  X(REPORT_LISTENER_ERROR, "report_listener_error", 1) /* an abort listener raised */  \
  X(TIMEOUT_ERROR, "timeout_error", 1) /* the reason abort.timeout's signal gets */     \
  X(ON_SHUTDOWN, "on_shutdown", 1)     /* SIGINT/SIGTERM: aborts ebb.shutdown if watched */ \
  X(SHUTDOWN, "shutdown", 1)           /* ebb.shutdown, the signal itself */           \
  X(ON_INTERRUPT, "on_interrupt", 0)   /* the REPL's Ctrl-C, while it runs */

#define EBB_HOOK_ID(id, name, required) EBB_HOOK_##id,
enum ebb_hook { EBB_HOOKS(EBB_HOOK_ID) EBB_HOOK_COUNT };
#undef EBB_HOOK_ID

/* Pushes the hook (nil when an optional one is not set). */
void ebb_push_hook(lua_State *L, enum ebb_hook hook);

#endif
