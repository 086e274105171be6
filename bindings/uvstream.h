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
  uvs_chunk *head, *tail; /* chunks read while nobody waited */
  size_t buffered;        /* bytes in them */
  size_t high_water_mark;
  char *rbuf;             /* libuv reads into this, one chunk at a time */
  int read_error;         /* a libuv error code, 0, or UV_EOF at the end */
  int write_error;
  int restore_fd;         /* >= 0: give this fd its blocking mode back at close */
  int fd_flags;
  unsigned pending;       /* listeners: connections waiting to be accepted */
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
/* Makes the streams' metatable (every module that makes streams calls it). */
void uvs_make_metatable(lua_State *L);

#endif
