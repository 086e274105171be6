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

/* A layer between the socket and the stream's readers and writers (TLS):
 * what the socket reads goes through it before a reader or the hooks see
 * it, what is written goes through it before the socket does. */
typedef struct uvs_layer {
  /* bytes from the socket, in a buffer reused once it returns: the layer
   * hands what it makes of them on with uvs_deliver */
  void (*received)(struct uvs *s, const char *data, size_t len);
  int (*write)(struct uvs *s, const char *data, size_t len); /* 0 or a libuv error */
  int (*finish)(struct uvs *s); /* before the socket's write side closes: 0 or an error */
  void (*freed)(struct uvs *s); /* the stream's memory goes: the layer's may too */
} uvs_layer;

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
  const char *read_reason; /* a layer's words for read_error, in place of libuv's */
  int write_error;
  int restore_fd;         /* >= 0: give this fd its blocking mode back at close */
  int fd_flags;
  unsigned pending;       /* listeners: connections waiting to be accepted */
  const uvs_hooks *hooks; /* NULL: reads are queued for Lua readers */
  void *hooked;           /* the hooks' own state */
  const uvs_layer *layer; /* NULL: the socket's bytes are the stream's */
  void *layered;          /* the layer's own state */
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
/* Reading has ended: err is UV_EOF (readers get the end) or a libuv error
 * (as uvs_read_failed); hooked streams are told. */
void uvs_read_ended(uvs *s, int err);
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
/* What a layer made of the bytes read: to the hooks, the first reader
 * waiting, or the queue (reading stops while it holds high_water_mark). */
void uvs_deliver(uvs *s, const char *data, size_t len);
/* Writes len bytes from block, memory of malloc's: 1 when the stream took
 * the block (freed once written), 0 when it was all written at once (the
 * block stays the caller's), or a libuv error. */
int uvs_write_block(uvs *s, char *block, size_t len);
/* Makes the streams' metatable (every module that makes streams calls it). */
void uvs_make_metatable(lua_State *L);

#endif
