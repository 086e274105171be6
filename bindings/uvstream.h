/* A libuv stream (TCP socket, pipe, terminal) as seen from Lua: reads that
 * wait for a chunk, writes that wait while too much is queued, shutdown and
 * close. Shared by ebb.net, ebb.process and the standard input. */
#ifndef EBB_UVSTREAM_H
#define EBB_UVSTREAM_H

#include "uvbox.h"

typedef struct uvs_chunk {
  struct uvs_chunk *next;
  size_t len;
  char data[];
} uvs_chunk;

/* Chunks read and not yet taken, oldest first. */
typedef struct uvs_queue {
  uvs_chunk *head, *tail;
  size_t buffered; /* bytes in them */
} uvs_queue;

/* Adds a copy of data (at the front: it goes back where it was taken from);
 * 0 or UV_ENOMEM. */
int uvs_queue_put(uvs_queue *q, const char *data, size_t len, int at_front);
/* The oldest chunk, unlinked (the caller frees it); NULL when empty. */
uvs_chunk *uvs_queue_take(uvs_queue *q);
void uvs_queue_drop(uvs_queue *q);
/* A read's answer from the queue: pushes true and the oldest chunk (taken)
 * and returns 2; 0 when the queue is empty. */
int uvs_queue_push_next(lua_State *L, uvs_queue *q);

struct uvs;

/* A stream whose reads a binding takes in C as they come (an HTTP
 * connection's parser) instead of queueing them for Lua readers. */
typedef struct uvs_hooks {
  /* each chunk read, in a buffer that is reused once it returns */
  void (*data)(struct uvs *s, const char *data, size_t len);
  void (*ended)(struct uvs *s, int err); /* UV_EOF or a read error; reading has stopped */
  void (*closing)(struct uvs *s);        /* the handle is closing */
  void (*freed)(struct uvs *s);          /* the stream's memory goes: the hooks' state may too */
} uvs_hooks;

typedef struct uvs {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_tty_t tty;
  } u;
  uvbox life;             /* its handle's and its box's (closed: life.closed) */
  ebb_waitlist readers;   /* tasks waiting for a chunk (uvs_wait_reader, uvs_take_reader) */
  ebb_waitlist writers;   /* tasks waiting for the write queue to drain */
  uvs_queue in;           /* chunks read while nobody waited */
  size_t high_water_mark;
  char *rbuf;             /* libuv reads into this, one chunk at a time */
  int read_error;         /* a libuv error code, 0, or UV_EOF at the end */
  int write_error;
  int restore_fd;         /* >= 0: give this fd its blocking mode back at close */
  int fd_flags;
  unsigned pending;       /* listeners: connections waiting to be accepted */
  const uvs_hooks *hooks; /* NULL: reads are queued for Lua readers */
  void *hooked;           /* the hooks' own state */
  unsigned reading : 1, listening : 1, tcp : 1,
    flush_at_exit : 1;
} uvs;

/* A new stream and its Lua userdata (pushed); the caller initializes
 * s->u with the loop, then calls uvs_opened with the owner of the task it
 * is made for (ebb_current_owner). */
uvs *uvs_push_new(lua_State *L);
void uvs_opened(uvs *s, int owner);
/* Closes at once without Lua (handles left at exit, failed setups). */
void uvs_close(uvs *s);
uvs *uvs_check(lua_State *L, int idx);
/* Parks the calling task among the stream's readers (a listener's: the
 * tasks that accept). Use as `return uvs_wait_reader(...)`. */
int uvs_wait_reader(lua_State *L, uvs *s, int signal_idx);
/* Takes the first reader that waits off the stream's list: returns the
 * coroutine to push its results on (then ebb_wake_done or ebb_wake_handed on
 * *w), or NULL when no reader waits. */
lua_State *uvs_take_reader(uvs *s, ebb_wait **w);
/* Reading failed with err (a libuv error): it stops, every reader waiting
 * and every later read gets the error. */
void uvs_read_failed(uvs *s, int err);
/* For hooked streams: reading starts (0 or a libuv error) and stops. */
int uvs_read_start(uvs *s);
void uvs_read_stop(uvs *s);
/* Writes the buffers, copied when the socket does not take them at once:
 * 0 or a libuv error (kept as the stream's write error). Tasks waiting on
 * s->writers are woken as the queue drains below the high water mark. */
int uvs_write_copy(uvs *s, const uv_buf_t *bufs, unsigned n);
/* Makes the streams' metatable (every module that makes streams calls it). */
void uvs_make_metatable(lua_State *L);

#endif
