/* The life of a libuv handle that a Lua userdata (its box) owns: the
 * streams' and the processes'. The handle is the host's tracked handle
 * until it closes (closed at exit, or when ebb test's unit of specs that
 * made it ends); the memory is freed once both the handle has closed and the
 * box has been collected, whichever comes last. A task that waits on the
 * object holds its box, so the memory outlives every wait on it. */
#ifndef EBB_UVBOX_H
#define EBB_UVBOX_H

#include "../host/ebb.h"

typedef struct uvbox uvbox;

/* What differs between the kinds of boxes. */
typedef struct uvbox_kind {
  const char *mt;   /* the box's metatable */
  const char *what; /* its name in argument errors ("stream") */
  void (*closing)(uvbox *b);  /* optional: lets go of what hangs on the handle, as it closes */
  void (*at_exit)(uvbox *b);  /* optional: before the close at exit (writes what is queued) */
  /* optional: the box is collected while the handle is open (a stream
   * closes now, and tasks that wait on it are told); without it the handle
   * stays open until it closes by itself (a running child's) */
  void (*forgotten)(uvbox *b);
  void (*free)(uvbox *b);     /* frees the struct uvbox is embedded in */
} uvbox_kind;

struct uvbox {
  const uvbox_kind *kind;
  uv_handle_t *uv;
  ebb_handle track;
  unsigned closed : 1, box_gone : 1, handle_gone : 1;
};

/* Pushes an empty box of the kind, made before what it will hold is
 * allocated: a box that cannot be made (out of memory) leaves nothing behind. */
void uvbox_reserve(lua_State *L, const uvbox_kind *kind);
/* Puts b (zeroed but for what the owner set), whose handle is uv, not yet
 * initialized, in the empty box on the top of the stack. */
void uvbox_fill(lua_State *L, uvbox *b, const uvbox_kind *kind, uv_handle_t *uv);
/* b without a box (the handle's setup failed before one was made). */
void uvbox_init_unboxed(uvbox *b, const uvbox_kind *kind, uv_handle_t *uv);
/* The handle is initialized: tracked as the handles of `owner` (a task's
 * owner, ebb_current_owner) until it closes. */
void uvbox_opened(uvbox *b, int owner);
/* Closes the handle (once); one libuv never initialized (its setup failed
 * early) has nothing to close and is only let go. */
void uvbox_close(uvbox *b);
/* The uvbox in the box at idx: a Lua error when it is no box of the kind,
 * or one already collected. */
uvbox *uvbox_check(lua_State *L, int idx, const uvbox_kind *kind);
/* Whether idx holds a box of the kind already collected. */
int uvbox_collected(lua_State *L, int idx, const uvbox_kind *kind);
/* The box's __gc (a finalizer called twice does nothing the second time). */
int uvbox_gc(lua_State *L, const uvbox_kind *kind);

#endif
