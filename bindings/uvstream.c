/* Streams over libuv handles. Reading stops once high_water_mark bytes wait
 * unread and starts again when a reader takes them; a write goes straight to
 * the socket when it can (uv_try_write) and otherwise waits while more than
 * high_water_mark bytes are queued. Written strings are anchored, not copied. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "uvstream.h"

#define STREAM_MT "ebb.iostream"
#define READ_SIZE 65536

typedef struct write_op {
  uv_write_t req;
  int ref; /* the Lua string being written; LUA_NOREF: the bytes follow (or are in block) */
  char *block; /* a layer's block of bytes, freed once written */
  char data[];
} write_op;

typedef struct shutdown_op {
  uv_shutdown_t req;
  ebb_request r;
} shutdown_op;

static void drop_chunks(uvs *s) { uvs_queue_drop(&s->in); }

static void restore_blocking(uvs *s) {
  if (s->restore_fd < 0) return;
  fcntl(s->restore_fd, F_SETFL, s->fd_flags);
  s->restore_fd = -1;
}

static uvs *of(uvbox *b) { return ebb_container(b, uvs, life); }

static void closing(uvbox *b) {
  uvs *s = of(b);
  s->reading = 0;
  if (s->hooks) s->hooks->closing(s);
  drop_chunks(s); /* what was read and not taken is dropped with the stream */
  restore_blocking(s);
}

/* At exit: what was written to the standard output is not dropped. */
static void at_exit(uvbox *b) {
  uvs *s = of(b);
  while (s->flush_at_exit && !s->life.closed && !s->write_error && s->u.stream.write_queue_size > 0)
    uv_run(ebb_loop(), UV_RUN_ONCE);
}

static void free_stream(uvbox *b) {
  uvs *s = of(b);
  if (s->hooks) s->hooks->freed(s);
  if (s->layer) s->layer->freed(s);
  drop_chunks(s);
  free(s->rbuf);
  free(s);
}

static void close_now(uvs *s);

/* Forgotten: closed without waiting. Nobody waits on a stream the collector
 * frees, but a finalizer called by hand may find waiters. */
static void forgotten(uvbox *b) { close_now(of(b)); }

static const uvbox_kind stream_kind = {STREAM_MT, "stream", closing, at_exit, forgotten, free_stream};

void uvs_close(uvs *s) { uvbox_close(&s->life); }

uvs *uvs_push_new(lua_State *L) {
  uvs *s;
  uvbox_reserve(L, &stream_kind);
  if (!(s = calloc(1, sizeof *s))) luaL_error(L, "out of memory");
  ebb_waitlist_init(&s->readers);
  ebb_waitlist_init(&s->writers);
  s->high_water_mark = 65536;
  s->restore_fd = -1;
  uvbox_fill(L, &s->life, &stream_kind, &s->u.handle);
  return s;
}

void uvs_opened(uvs *s, int owner) { uvbox_opened(&s->life, owner); }

uvs *uvs_check(lua_State *L, int idx) { return of(uvbox_check(L, idx, &stream_kind)); }

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static EBB_THREAD_LOCAL char shared[READ_SIZE]; /* hooked streams take each chunk before the next read */
  uvs *s = (uvs *)h;
  (void)hint;
  if (s->hooks) {
    *buf = uv_buf_init(shared, READ_SIZE);
    return;
  }
  if (!s->rbuf) s->rbuf = malloc(READ_SIZE);
  *buf = uv_buf_init(s->rbuf, s->rbuf ? READ_SIZE : 0);
}

static void queue_chunk(uvs *s, const char *data, size_t len, int at_front) {
  if (uvs_queue_put(&s->in, data, len, at_front) != 0) s->read_error = UV_ENOMEM;
}

static void stop_reading(uvs *s) {
  if (!s->reading) return;
  s->reading = 0;
  uv_read_stop(&s->u.stream);
}

static int hand_to_reader(uvs *s, const char *data, size_t len);

/* A reader woken with a chunk but cancelled before it ran: the chunk goes to
 * the next waiting reader (which may get no other), or back to the front of
 * the buffer. The string stays on co's stack until this returns. */
static void reader_cancelled(ebb_wait *w, int handed) {
  uvs *s = ebb_wait_want(w)->owner;
  lua_State *co = ebb_wait_thread(w);
  size_t len;
  const char *data;
  if (!handed || s->life.closed || lua_gettop(co) < 2 || lua_type(co, 2) != LUA_TSTRING) return;
  data = lua_tolstring(co, 2, &len);
  if (hand_to_reader(s, data, len)) return;
  queue_chunk(s, data, len, 1);
  if (s->in.buffered >= s->high_water_mark) stop_reading(s);
}

lua_State *uvs_take_reader(uvs *s, ebb_wait **w) {
  ebb_node *n;
  while ((n = ebb_list_shift(&s->readers)) != NULL) {
    lua_State *co = ebb_wake_push(*w = ebb_container(n, ebb_wait, link));
    if (co) return co;
  }
  return NULL;
}

int uvs_wait_reader(lua_State *L, uvs *s, int signal_idx) { return ebb_wait_on(L, &s->readers, -1, signal_idx); }

/* Ends the first reader's wait with true, chunk (NULL: the end). */
static int hand_to_reader(uvs *s, const char *data, size_t len) {
  ebb_wait *w;
  lua_State *co = uvs_take_reader(s, &w);
  if (!co) return 0;
  lua_pushboolean(co, 1);
  if (data) lua_pushlstring(co, data, len);
  else lua_pushnil(co);
  ebb_wake_handed(w, 2, data ? &(ebb_want){.owner = s, .on_cancel = reader_cancelled} : NULL);
  return 1;
}

void uvs_deliver(uvs *s, const char *data, size_t len) {
  if (s->hooks) {
    s->hooks->data(s, data, len);
    return;
  }
  if (hand_to_reader(s, data, len)) return;
  queue_chunk(s, data, len, 0);
  if (s->in.buffered >= s->high_water_mark) stop_reading(s);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  uvs *s = (uvs *)stream;
  if (nread == 0) return; /* EAGAIN */
  if (nread > 0) {
    if (s->layer) s->layer->received(s, buf->base, (size_t)nread);
    else uvs_deliver(s, buf->base, (size_t)nread);
    return;
  }
  uvs_read_ended(s, (int)nread);
}

void uvs_read_ended(uvs *s, int err) {
  if (s->hooks) {
    s->read_error = err;
    stop_reading(s);
    s->hooks->ended(s, err);
    return;
  }
  if (err == UV_EOF) {
    s->read_error = UV_EOF;
    stop_reading(s);
    while (hand_to_reader(s, NULL, 0)) {}
    return;
  }
  uvs_read_failed(s, err);
}

/* nil, code, message for the error that ended reading. */
static int push_read_error(lua_State *L, uvs *s) {
  if (!s->read_reason) return ebb_push_uv_error(L, s->read_error);
  lua_pushnil(L);
  lua_pushstring(L, uv_err_name(s->read_error));
  lua_pushstring(L, s->read_reason);
  return 3;
}

void uvs_read_failed(uvs *s, int err) {
  ebb_wait *w;
  lua_State *co;
  s->read_error = err;
  stop_reading(s);
  if (!s->read_reason) ebb_fail_all(&s->readers, err);
  else while ((co = uvs_take_reader(s, &w)) != NULL) ebb_wake_done(w, push_read_error(co, s));
}

static int start_reading(uvs *s) {
  int r;
  if (s->reading || s->read_error || s->life.closed) return 0;
  r = uv_read_start(&s->u.stream, on_alloc, on_read);
  if (r == 0) s->reading = 1;
  return r;
}

int uvs_read_start(uvs *s) { return start_reading(s); }
void uvs_read_stop(uvs *s) { stop_reading(s); }

/* read(stream, signal) -> true, chunk | true, nil at the end | nil, code, msg */
static int l_read(lua_State *L) {
  uvs *s = uvs_check(L, 1);
  int r = ebb_request_begin(L, 2);
  if (r) return r;
  if (uvs_queue_push_next(L, &s->in)) {
    if (s->in.buffered < s->high_water_mark) start_reading(s);
    return 2;
  }
  if (s->life.closed || s->read_error == UV_EOF) {
    lua_pushboolean(L, 1);
    lua_pushnil(L);
    return 2;
  }
  if (s->read_error) return push_read_error(L, s);
  if ((r = start_reading(s)) != 0) return ebb_push_uv_error(L, r);
  return uvs_wait_reader(L, s, 2);
}

/* ---- writing ---- */

static void on_written(uv_write_t *req, int status) {
  write_op *op = (write_op *)req;
  uvs *s = (uvs *)req->handle;
  if (ebb_lua_alive()) luaL_unref(ebb_main_state(), LUA_REGISTRYINDEX, op->ref);
  free(op->block);
  free(op);
  /* a queued write to stdout or stderr that fails may have no writer left to
   * tell (the script ended): the exit status says so */
  if (status < 0 && s->flush_at_exit && status != UV_ECANCELED) ebb_note_output_error(-status);
  if (status < 0 && !s->write_error) s->write_error = status;
  if (s->write_error) ebb_fail_all(&s->writers, s->write_error);
  else if (s->u.stream.write_queue_size <= s->high_water_mark) ebb_wake_all(&s->writers);
}

int uvs_write_copy(uvs *s, const uv_buf_t *bufs, unsigned n) {
  uv_buf_t rest;
  size_t total = 0, skip, k = 0;
  unsigned i;
  write_op *op;
  int r;
  if (s->life.closed) return UV_EPIPE;
  if (s->write_error) return s->write_error;
  for (i = 0; i < n; i++) total += bufs[i].len;
  skip = 0;
  if (s->u.stream.write_queue_size == 0) {
    r = uv_try_write(&s->u.stream, bufs, n);
    if (r == (int)total) return 0;
    if (r < 0 && r != UV_EAGAIN && r != UV_ENOSYS) return s->write_error = r;
    if (r > 0) skip = (size_t)r;
  }
  if (!(op = malloc(sizeof *op + total - skip))) return s->write_error = UV_ENOMEM;
  op->ref = LUA_NOREF;
  op->block = NULL;
  for (i = 0; i < n; i++) { /* what the socket did not take, in one buffer */
    size_t len = bufs[i].len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    memcpy(op->data + k, bufs[i].base + skip, len - skip);
    k += len - skip;
    skip = 0;
  }
  rest = uv_buf_init(op->data, (unsigned)k);
  if ((r = uv_write(&op->req, &s->u.stream, &rest, 1, on_written)) != 0) {
    free(op);
    return s->write_error = r;
  }
  return 0;
}

int uvs_write_block(uvs *s, char *block, size_t len) {
  uv_buf_t buf = uv_buf_init(block, (unsigned)len);
  write_op *op;
  int r;
  if (s->life.closed) return UV_EPIPE;
  if (s->write_error) return s->write_error;
  if (s->u.stream.write_queue_size == 0) {
    r = uv_try_write(&s->u.stream, &buf, 1);
    if (r == (int)len) return 0;
    if (r < 0 && r != UV_EAGAIN && r != UV_ENOSYS) return s->write_error = r;
    if (r > 0) buf = uv_buf_init(block + r, (unsigned)(len - (size_t)r));
  }
  if (!(op = malloc(sizeof *op))) return s->write_error = UV_ENOMEM;
  op->ref = LUA_NOREF;
  op->block = block;
  if ((r = uv_write(&op->req, &s->u.stream, &buf, 1, on_written)) != 0) {
    free(op);
    return s->write_error = r;
  }
  return 1;
}

/* The bytes written go through the stream's layer: then as l_write. */
static int write_layered(lua_State *L, uvs *s, const char *data, size_t len) {
  int r = s->layer->write(s, data, len);
  if (r) return ebb_push_uv_error(L, r);
  if (s->u.stream.write_queue_size <= s->high_water_mark) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return ebb_wait_on(L, &s->writers, -1, 3);
}

/* write(stream, data, signal) -> true | nil, code, msg */
static int l_write(lua_State *L) {
  uvs *s = uvs_check(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int r = ebb_request_begin(L, 3), n;
  uv_buf_t buf;
  write_op *op;
  if (r) return r;
  if (s->life.closed) return ebb_push_uv_error(L, UV_EPIPE);
  if (s->write_error) return ebb_push_uv_error(L, s->write_error);
  if (s->layer) return write_layered(L, s, data, len);
  if (s->flush_at_exit) ebb_flush_stdio(); /* print's buffered output goes first */
  buf = uv_buf_init((char *)data, (unsigned)len);
  if (s->u.stream.write_queue_size == 0) {
    int wrote = uv_try_write(&s->u.stream, &buf, 1);
    if (wrote == (int)len) {
      lua_pushboolean(L, 1);
      return 1;
    }
    if (wrote < 0 && wrote != UV_EAGAIN && wrote != UV_ENOSYS) return ebb_push_uv_error(L, s->write_error = wrote);
    if (wrote > 0) buf = uv_buf_init((char *)data + wrote, (unsigned)(len - (size_t)wrote));
  }
  if (!(op = malloc(sizeof *op))) return luaL_error(L, "out of memory");
  op->block = NULL;
  lua_pushvalue(L, 2);
  op->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if ((r = uv_write(&op->req, &s->u.stream, &buf, 1, on_written)) != 0) {
    luaL_unref(L, LUA_REGISTRYINDEX, op->ref);
    free(op);
    return ebb_push_uv_error(L, s->write_error = r);
  }
  if (s->u.stream.write_queue_size <= s->high_water_mark) {
    lua_pushboolean(L, 1);
    return 1;
  }
  n = ebb_wait_on(L, &s->writers, -1, 3);
  return n;
}

/* ---- shutdown and close ---- */

static void on_shutdown(uv_shutdown_t *req, int status) {
  shutdown_op *op = (shutdown_op *)req;
  uvs *s = (uvs *)req->handle;
  lua_State *co;
  if (s->write_error && status >= 0) status = s->write_error;
  if ((co = ebb_request_finish(&op->r, status == UV_ENOTCONN ? 0 : status)) != NULL) {
    lua_pushboolean(co, 1);
    ebb_request_done(&op->r, 1, NULL);
  }
  free(op);
}

/* shutdown(stream, signal) -> true once everything queued is written and the
 * write side closed | nil, code, msg */
static int l_shutdown(lua_State *L) {
  uvs *s = uvs_check(L, 1);
  int r = ebb_request_begin(L, 2);
  shutdown_op *op;
  if (r) return r;
  if (s->life.closed) return ebb_push_uv_error(L, UV_EPIPE);
  if (s->write_error) return ebb_push_uv_error(L, s->write_error);
  if (s->layer && (r = s->layer->finish(s)) != 0) return ebb_push_uv_error(L, r);
  if (!(op = calloc(1, sizeof *op))) return luaL_error(L, "out of memory");
  if ((r = uv_shutdown(&op->req, &s->u.stream, on_shutdown)) != 0) {
    free(op);
    if (r == UV_ENOTCONN) { /* already shut */
      lua_pushboolean(L, 1);
      return 1;
    }
    return ebb_push_uv_error(L, r);
  }
  return ebb_request_await(L, &op->r, 2);
}

/* Closes at once: readers waiting see the end, writers an error, so no wait
 * stays linked to the stream once its memory goes. */
static void close_now(uvs *s) {
  uvs_close(s);
  while (hand_to_reader(s, NULL, 0)) {}
  ebb_fail_all(&s->writers, UV_ECANCELED);
}

/* close(stream): at once; readers waiting see the end, writers an error. */
static int l_close(lua_State *L) {
  uvs *s;
  if (uvbox_collected(L, 1, &stream_kind)) return 0; /* finalized already, so closed */
  s = uvs_check(L, 1);
  if (!s->life.closed) close_now(s);
  return 0;
}

static int l_set_high_water_mark(lua_State *L) {
  uvs *s = uvs_check(L, 1);
  double n = ebb_check_whole(L, 2, "high_water_mark", 1, 1 << 30);
  s->high_water_mark = (size_t)n;
  if (s->in.buffered < s->high_water_mark && s->in.head) start_reading(s);
  return 0;
}

/* buffered(stream) -> bytes read and not yet taken, bytes queued to write */
static int l_buffered(lua_State *L) {
  uvs *s = uvs_check(L, 1);
  lua_pushnumber(L, (lua_Number)s->in.buffered);
  lua_pushnumber(L, s->life.closed ? 0 : (lua_Number)s->u.stream.write_queue_size);
  return 2;
}

static int box_gc(lua_State *L) { return uvbox_gc(L, &stream_kind); }

/* ---- the standard streams, when they are terminals, pipes or sockets ---- */

/* A file description of our own for a pipe or terminal on fd, so that
 * making it non-blocking does not change the one the shell shares. */
static int reopen_own(int fd) {
  char path[32];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  return open(path, (fd == 0 ? O_RDONLY : O_WRONLY) | O_NONBLOCK | O_CLOEXEC);
}

/* stdio(fd) -> stream, or nothing when fd is a file or unknown (use fs) */
static int l_stdio(lua_State *L) {
  int fd = (int)ebb_check_whole(L, 1, "fd", 0, 2), own, r;
  uv_handle_type type;
  uvs *s;
  type = uv_guess_handle(fd);
  if (type != UV_TTY && type != UV_NAMED_PIPE && type != UV_TCP) return 0;
  own = type == UV_TCP ? -1 : reopen_own(fd);
  s = uvs_push_new(L);
  if (own < 0) { /* libuv makes fd non-blocking: put it back at close */
    s->restore_fd = fd;
    s->fd_flags = fcntl(fd, F_GETFL);
    if (s->fd_flags < 0) s->restore_fd = -1;
    own = fd;
  }
  if (type == UV_TTY) r = uv_tty_init(ebb_loop(), &s->u.tty, own, fd == 0);
  else if (type == UV_NAMED_PIPE) {
    uv_pipe_init(ebb_loop(), &s->u.pipe, 0);
    r = uv_pipe_open(&s->u.pipe, own);
  } else {
    uv_tcp_init(ebb_loop(), &s->u.tcp);
    s->tcp = 1;
    r = uv_tcp_open(&s->u.tcp, own);
  }
  s->flush_at_exit = fd != 0;
  uvs_opened(s, 0);
  ebb_handle_lasting(&s->life.track);
  if (r != 0) {
    if (own != fd) close(own);
    uvs_close(s);
    return ebb_push_uv_error(L, r);
  }
  return 1;
}

void uvs_make_metatable(lua_State *L) {
  ebb_new_metatable(L, STREAM_MT, box_gc, NULL);
}

int luaopen_ebb_iostream_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"read", l_read},         {"write", l_write}, {"shutdown", l_shutdown},
    {"close", l_close},       {"buffered", l_buffered},
    {"set_high_water_mark", l_set_high_water_mark},
    {"stdio", l_stdio},       {NULL, NULL}};
  uvs_make_metatable(L);
  return ebb_new_module(L, fns);
}
