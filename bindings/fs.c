/* ebb.fs's C half: libuv's file requests, each awaited by the task that made
 * it. An aborted request is left to finish (libuv cannot stop one that has
 * started) and its result is dropped; files close themselves when collected. */
#define _GNU_SOURCE /* preadv2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>
#include <string.h>
#include "../host/ebb.h"

#define FILE_MT "ebb.file"

typedef struct fs_op {
  uv_fs_t req;
  ebb_request r;
  char *buf;       /* reads: the bytes */
  size_t len;
  int data_ref;    /* writes: the string written, kept until the request ends */
} fs_op;

typedef struct wchain wchain;

typedef struct file {
  uv_file fd;      /* -1 once closed */
  int closing;
  int borrowed;    /* a standard stream's fd: never closed here */
  wchain *chain;   /* its write-behind, once used */
} file;

static void push_stat(lua_State *L, const uv_stat_t *st) {
  const char *type = "other";
  if ((st->st_mode & S_IFMT) == S_IFREG) type = "file";
  else if ((st->st_mode & S_IFMT) == S_IFDIR) type = "directory";
  else if ((st->st_mode & S_IFMT) == S_IFLNK) type = "link";
  lua_createtable(L, 0, 10);
  lua_pushstring(L, type);
  lua_setfield(L, -2, "type");
  lua_pushnumber(L, (lua_Number)st->st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)(st->st_mode & 07777));
  lua_setfield(L, -2, "mode");
  lua_pushnumber(L, (lua_Number)st->st_mtim.tv_sec * 1e3 + (lua_Number)st->st_mtim.tv_nsec / 1e6);
  lua_setfield(L, -2, "mtime");
  lua_pushnumber(L, (lua_Number)st->st_atim.tv_sec * 1e3 + (lua_Number)st->st_atim.tv_nsec / 1e6);
  lua_setfield(L, -2, "atime");
  lua_pushnumber(L, (lua_Number)st->st_ctim.tv_sec * 1e3 + (lua_Number)st->st_ctim.tv_nsec / 1e6);
  lua_setfield(L, -2, "ctime");
  lua_pushnumber(L, (lua_Number)st->st_nlink);
  lua_setfield(L, -2, "nlink");
  lua_pushnumber(L, (lua_Number)st->st_uid);
  lua_setfield(L, -2, "uid");
  lua_pushnumber(L, (lua_Number)st->st_gid);
  lua_setfield(L, -2, "gid");
  lua_pushnumber(L, (lua_Number)st->st_ino);
  lua_setfield(L, -2, "ino");
}

static void push_file(lua_State *L, uv_file fd) {
  file *f = lua_newuserdata(L, sizeof *f);
  f->fd = fd;
  f->closing = 0;
  f->borrowed = 0;
  f->chain = NULL;
  luaL_getmetatable(L, FILE_MT);
  lua_setmetatable(L, -2);
}

/* The results of a finished request, on co: true, values... or nil, code, message. */
static int push_results(lua_State *co, fs_op *op) {
  uv_fs_t *req = &op->req;
  if (req->result < 0) return ebb_push_uv_error(co, (int)req->result);
  lua_pushboolean(co, 1);
  switch (req->fs_type) {
  case UV_FS_STAT:
  case UV_FS_LSTAT:
  case UV_FS_FSTAT:
    push_stat(co, &req->statbuf);
    return 2;
  case UV_FS_OPEN:
    push_file(co, (uv_file)req->result);
    return 2;
  case UV_FS_READ:
    if (req->result == 0) lua_pushnil(co); /* the end of the file */
    else lua_pushlstring(co, op->buf, (size_t)req->result);
    return 2;
  case UV_FS_WRITE:
    lua_pushnumber(co, (lua_Number)req->result);
    return 2;
  case UV_FS_SCANDIR: {
    uv_dirent_t ent;
    int i = 0;
    lua_newtable(co);
    while (uv_fs_scandir_next(req, &ent) != UV_EOF) {
      lua_pushstring(co, ent.name);
      lua_rawseti(co, -2, ++i);
    }
    return 2;
  }
  default:
    return 1;
  }
}

/* Runs on the loop thread, also for a request whose waiter has gone (the
 * Lua state closes only after every request has ended). */
static void free_op(fs_op *op) {
  if (op->data_ref != LUA_NOREF) luaL_unref(ebb_main_state(), LUA_REGISTRYINDEX, op->data_ref);
  free(op->buf);
  free(op);
}

static void on_done(uv_fs_t *req) {
  fs_op *op = (fs_op *)req;
  lua_State *co = ebb_request_finish(&op->r);
  if (co) {
    ebb_request_done(&op->r, push_results(co, op), NULL);
  } else if (req->fs_type == UV_FS_OPEN && req->result >= 0) {
    uv_fs_t close_req; /* opened for a waiter that has gone: nobody will close it */
    uv_fs_close(req->loop, &close_req, (uv_file)req->result, NULL);
    uv_fs_req_cleanup(&close_req);
  }
  uv_fs_req_cleanup(req);
  free_op(op);
}

/* The waiter was aborted before the request finished: it goes on alone. */
static void abandon(ebb_request *r) {
  fs_op *op = ebb_container(r, fs_op, r);
  uv_cancel((uv_req_t *)&op->req); /* stops it only if it has not started */
}

static fs_op *new_op(lua_State *L) {
  fs_op *op = calloc(1, sizeof *op);
  if (!op) luaL_error(L, "out of memory");
  op->data_ref = LUA_NOREF;
  op->r.abandon = abandon;
  return op;
}

/* Parks the calling task until op finishes; r is what starting it returned. */
static int await_op(lua_State *L, fs_op *op, int r, int signal_idx) {
  if (r < 0) { /* could not even start */
    free_op(op);
    return ebb_push_uv_error(L, r);
  }
  return ebb_request_await(L, &op->r, signal_idx);
}

typedef int (*path_fn)(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb);

/* The requests that take a path and a signal only. */
static int path_request(lua_State *L, path_fn start) {
  const char *path = ebb_check_cstring(L, 1, "path");
  int r = ebb_request_begin(L, 2);
  fs_op *op;
  if (r) return r;
  op = new_op(L);
  return await_op(L, op, start(ebb_loop(), &op->req, path, on_done), 2);
}

static int scandir_all(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  return uv_fs_scandir(loop, req, path, 0, cb);
}

static int l_stat(lua_State *L) { return path_request(L, uv_fs_stat); }
static int l_lstat(lua_State *L) { return path_request(L, uv_fs_lstat); }
static int l_readdir(lua_State *L) { return path_request(L, scandir_all); }
static int l_rmdir(lua_State *L) { return path_request(L, uv_fs_rmdir); }
static int l_unlink(lua_State *L) { return path_request(L, uv_fs_unlink); }

static int l_mkdir(lua_State *L) {
  const char *path = ebb_check_cstring(L, 1, "path");
  int mode = (int)ebb_opt_whole(L, 2, "mode", 0, 07777, 0777), r = ebb_request_begin(L, 3);
  fs_op *op;
  if (r) return r;
  op = new_op(L);
  return await_op(L, op, uv_fs_mkdir(ebb_loop(), &op->req, path, mode, on_done), 3);
}

static int l_rename(lua_State *L) {
  const char *from = ebb_check_cstring(L, 1, "from"), *to = ebb_check_cstring(L, 2, "to");
  int r = ebb_request_begin(L, 3);
  fs_op *op;
  if (r) return r;
  op = new_op(L);
  return await_op(L, op, uv_fs_rename(ebb_loop(), &op->req, from, to, on_done), 3);
}

static int open_flags(lua_State *L, int idx) {
  static const char *const names[] = {"r", "r+", "w", "w+", "a", "a+", "wx", "wx+", "ax", "ax+", NULL};
  static const int flags[] = {
    O_RDONLY, O_RDWR, O_WRONLY | O_CREAT | O_TRUNC, O_RDWR | O_CREAT | O_TRUNC,
    O_WRONLY | O_CREAT | O_APPEND, O_RDWR | O_CREAT | O_APPEND,
    O_WRONLY | O_CREAT | O_EXCL, O_RDWR | O_CREAT | O_EXCL,
    O_WRONLY | O_CREAT | O_APPEND | O_EXCL, O_RDWR | O_CREAT | O_APPEND | O_EXCL};
  ebb_opt_cstring(L, idx, "flags", NULL); /* luaL_checkoption would stop at a NUL */
  return flags[luaL_checkoption(L, idx, "r", names)] | O_CLOEXEC;
}

/* open(path, flags, mode, signal) -> file */
static int l_open(lua_State *L) {
  const char *path = ebb_check_cstring(L, 1, "path");
  int flags = open_flags(L, 2), mode = (int)ebb_opt_whole(L, 3, "mode", 0, 07777, 0666), r = ebb_request_begin(L, 4);
  fs_op *op;
  if (r) return r;
  op = new_op(L);
  return await_op(L, op, uv_fs_open(ebb_loop(), &op->req, path, flags, mode, on_done), 4);
}

static file *check_file(lua_State *L, int idx) {
  file *f = ebb_check_udata(L, idx, FILE_MT, "file");
  if (f->fd < 0) luaL_error(L, "the file is closed");
  return f;
}

/* Bytes the page cache already holds are read at once, on this thread: the
 * round trip through the thread pool would cost more than the copy. Pushes
 * the results (a third value, true, says it was at once) and returns their
 * count, or returns 0 when the read would have to wait for the disk (or the
 * system cannot tell). */
static int read_cached(lua_State *L, uv_file fd, char *buf, size_t len, int64_t offset) {
#ifdef RWF_NOWAIT
  struct iovec iov;
  ssize_t got;
  iov.iov_base = buf;
  iov.iov_len = len;
  do got = preadv2(fd, &iov, 1, (off_t)offset, RWF_NOWAIT);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno == EAGAIN || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL) return 0;
    return ebb_push_uv_error(L, uv_translate_sys_error(errno));
  }
  lua_pushboolean(L, 1);
  if (got == 0) lua_pushnil(L); /* the end of the file */
  else lua_pushlstring(L, buf, (size_t)got);
  lua_pushboolean(L, 1);
  return 3;
#else
  (void)L, (void)fd, (void)buf, (void)len, (void)offset;
  return 0;
#endif
}

/* read(file, n, offset, signal) -> bytes, or nil at the end */
static int l_read(lua_State *L) {
  file *f = check_file(L, 1);
  double n = ebb_check_whole(L, 2, "n", 1, 1 << 30);
  int64_t offset = (int64_t)ebb_opt_whole(L, 3, "offset", 0, EBB_MAX_WHOLE, -1);
  int r = ebb_request_begin(L, 4);
  fs_op *op;
  uv_buf_t buf;
  if (r) return r;
  op = new_op(L);
  op->len = (size_t)n;
  if (!(op->buf = malloc(op->len))) {
    free(op);
    return luaL_error(L, "out of memory");
  }
  if ((r = read_cached(L, f->fd, op->buf, op->len, offset)) != 0) {
    free(op->buf);
    free(op);
    return r;
  }
  buf = uv_buf_init(op->buf, (unsigned)op->len);
  return await_op(L, op, uv_fs_read(ebb_loop(), &op->req, f->fd, &buf, 1, offset, on_done), 4);
}

/* write(file, data, offset, signal) -> bytes written */
static int l_write(lua_State *L) {
  file *f = check_file(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int64_t offset = (int64_t)ebb_opt_whole(L, 3, "offset", 0, EBB_MAX_WHOLE, -1);
  int r = ebb_request_begin(L, 4);
  fs_op *op;
  uv_buf_t buf;
  if (r) return r;
  op = new_op(L);
  op->len = len;
  lua_pushvalue(L, 2); /* the request reads the string itself: it must not be collected */
  op->data_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  buf = uv_buf_init((char *)data, (unsigned)len);
  return await_op(L, op, uv_fs_write(ebb_loop(), &op->req, f->fd, &buf, 1, offset, on_done), 4);
}

/* ---- write-behind: a file's chunks written one after another ---- */

/* The next chunk is handed over while the one before is being written, and
 * the worker goes from one to the next by itself: no trip through the loop
 * (and no thread to wake) between two chunks. The loop hears of each chunk
 * written by `async`. */
struct wchain {
  uv_work_t work;
  uv_async_t async;
  uv_mutex_t lock;         /* guards the fields down to `err` */
  const char *data;        /* the chunk handed over and not yet taken */
  size_t len;
  int has_next;
  int taking;              /* the worker still looks for chunks */
  int draining;            /* someone waits for the last one: stop looking */
  unsigned long done;      /* chunks written or failed */
  int err;                 /* the first failure, a libuv error code */
  uv_file fd;              /* the fields below are the loop thread's */
  int queued;              /* `work` belongs to the thread pool */
  unsigned long handed, released;
  int refs[2];             /* the strings of chunks released+1..handed */
  int file_ref;            /* the file, kept from collection while queued */
  ebb_waitlist waiters;
};

/* How long the worker waits, awake, for the next chunk before it gives the
 * thread back. The loop thread hands a chunk over every few tens of
 * microseconds in a steady stream; waking a sleeping thread for each one
 * costs more than writing it (and made the loop thread wait each time). */
#define CHAIN_SPIN_NS 50000

/* What a waiter waits for (its want.kind): its own chunk written, room for
 * one more chunk (it is told "again"), or every chunk written (a flush). */
enum { CHAIN_WRITTEN, CHAIN_ROOM, CHAIN_IDLE };

static int write_fully(uv_file fd, const char *p, size_t len) {
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) { /* a non-blocking pipe (a standard stream): wait for room */
        struct pollfd pfd = {fd, POLLOUT, 0};
        poll(&pfd, 1, -1);
        continue;
      }
      return uv_translate_sys_error(errno);
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Called and returns with the lock held. */
static int chain_next(wchain *c) {
  uint64_t until;
  if (c->has_next || c->err || c->draining) return c->has_next && !c->err;
  uv_mutex_unlock(&c->lock);
  until = uv_hrtime() + CHAIN_SPIN_NS;
  while (!__atomic_load_n(&c->has_next, __ATOMIC_ACQUIRE) && !__atomic_load_n(&c->draining, __ATOMIC_ACQUIRE) &&
         uv_hrtime() < until)
    cpu_relax();
  uv_mutex_lock(&c->lock);
  return c->has_next && !c->err;
}

/* In the thread pool. */
static void chain_work(uv_work_t *req) {
  wchain *c = ebb_container(req, wchain, work);
  uv_mutex_lock(&c->lock);
  while (chain_next(c)) {
    const char *data = c->data;
    size_t len = c->len;
    int r;
    c->has_next = 0;
    uv_mutex_unlock(&c->lock);
    r = write_fully(c->fd, data, len);
    uv_mutex_lock(&c->lock);
    if (r < 0 && !c->err) c->err = r;
    c->done++;
    uv_async_send(&c->async);
  }
  c->taking = 0;
  uv_mutex_unlock(&c->lock);
}

static int chain_idle(wchain *c, unsigned long done, int err) { return !c->queued && (err || done >= c->handed); }

static void chain_wake(ebb_wait *w, int err) {
  lua_State *co = ebb_wake_push(w);
  if (!co) return;
  if (err) {
    ebb_wake_done(w, ebb_push_uv_error(co, err));
  } else {
    lua_pushboolean(co, 1);
    if (w->want.kind == CHAIN_ROOM) lua_pushliteral(co, "again");
    ebb_wake_done(w, w->want.kind == CHAIN_ROOM ? 2 : 1);
  }
}

static void chain_unref(wchain *c, unsigned long seq) {
  luaL_unref(ebb_main_state(), LUA_REGISTRYINDEX, c->refs[seq % 2]);
  c->refs[seq % 2] = LUA_NOREF;
}

/* On the loop thread: lets go of the strings written, and wakes whoever
 * waits for what has happened. After a failure nothing more is written. */
static void chain_collect(wchain *c) {
  unsigned long done, upto;
  int err;
  ebb_node *n;
  uv_mutex_lock(&c->lock);
  err = c->err;
  if (err && !c->taking) c->has_next = 0; /* dropped */
  done = c->done;
  upto = err && !c->taking ? c->handed : done;
  uv_mutex_unlock(&c->lock);
  while (c->released < upto) chain_unref(c, ++c->released);
  for (n = c->waiters.next; n != &c->waiters;) {
    ebb_wait *w = ebb_container(n, ebb_wait, link);
    n = n->next;
    if (w->want.kind == CHAIN_IDLE ? chain_idle(c, done, err) : err || done >= w->want.count)
      chain_wake(w, err);
  }
}

static void on_chain_async(uv_async_t *h) { chain_collect(ebb_container(h, wchain, async)); }

static void chain_start(wchain *c);

static void on_chain_after(uv_work_t *req, int status) {
  wchain *c = ebb_container(req, wchain, work);
  int again;
  (void)status;
  c->queued = 0;
  uv_mutex_lock(&c->lock);
  again = c->has_next && !c->err; /* handed over just as the worker left */
  uv_mutex_unlock(&c->lock);
  if (again) {
    chain_start(c);
  } else {
    luaL_unref(ebb_main_state(), LUA_REGISTRYINDEX, c->file_ref);
    c->file_ref = LUA_NOREF;
  }
  chain_collect(c);
}

static void chain_start(wchain *c) {
  uv_mutex_lock(&c->lock);
  c->taking = 1;
  uv_mutex_unlock(&c->lock);
  c->queued = 1;
  uv_queue_work(ebb_loop(), &c->work, chain_work, on_chain_after);
}

static wchain *chain_of(lua_State *L, file *f) {
  wchain *c = f->chain;
  if (c) return c;
  if (!(c = calloc(1, sizeof *c))) luaL_error(L, "out of memory");
  if (uv_mutex_init(&c->lock) != 0) {
    free(c);
    luaL_error(L, "out of memory");
  }
  uv_async_init(ebb_loop(), &c->async, on_chain_async);
  uv_unref((uv_handle_t *)&c->async); /* the work request keeps the loop alive */
  c->fd = f->fd;
  c->refs[0] = c->refs[1] = c->file_ref = LUA_NOREF;
  ebb_waitlist_init(&c->waiters);
  return f->chain = c;
}

static void on_chain_closed(uv_handle_t *h) {
  wchain *c = ebb_container(h, wchain, async);
  uv_mutex_destroy(&c->lock);
  free(c);
}

/* The file closes: its chain is idle (the file was kept while it was not). */
static void chain_free(file *f) {
  wchain *c = f->chain;
  if (!c) return;
  f->chain = NULL;
  if (!uv_is_closing((uv_handle_t *)&c->async)) uv_close((uv_handle_t *)&c->async, on_chain_closed);
  else on_chain_closed((uv_handle_t *)&c->async); /* closed with the loop's handles at exit */
}

/* An aborted writer's chunk that the worker has not taken is not written. */
static void drop_unwritten(const ebb_want *want) {
  wchain *c = want->owner;
  unsigned long seq = (unsigned long)want->count + 1;
  int taken;
  if (want->kind != CHAIN_WRITTEN || seq != c->handed) return; /* only a writer's own chunk */
  uv_mutex_lock(&c->lock);
  taken = !c->has_next;
  c->has_next = 0;
  uv_mutex_unlock(&c->lock);
  if (taken) return;
  chain_unref(c, seq);
  c->handed--;
}

static void chain_cancel(ebb_wait *w, int handed) {
  (void)handed;
  drop_unwritten(&w->want);
}

/* Parks the task until the chain's state answers `kind` (done >= target). */
static int chain_wait(lua_State *L, wchain *c, int kind, unsigned long target, int signal_idx) {
  ebb_want want = {.owner = c, .on_cancel = chain_cancel, .kind = kind, .count = target};
  int n = ebb_wait_with(L, &c->waiters, -1, signal_idx, &want);
  if (lua_status(L) != LUA_YIELD) drop_unwritten(&want); /* aborted at once */
  return n;
}

/* write_behind(file, data, signal): hands data over to be written after the
 * chunk under way, and returns (true) once that one is written. Answers
 * true, "again" when another chunk was already waiting: call again. */
static int l_write_behind(lua_State *L) {
  file *f = check_file(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int r = ebb_request_begin(L, 3), err, start = 0;
  unsigned long done;
  wchain *c;
  if (r) return r;
  c = chain_of(L, f);
  chain_collect(c);
  uv_mutex_lock(&c->lock);
  err = c->err;
  if (!err && c->has_next) {
    uv_mutex_unlock(&c->lock);
    return chain_wait(L, c, CHAIN_ROOM, c->handed - 1, 3);
  }
  if (!err && len) {
    c->data = data;
    c->len = len;
    __atomic_store_n(&c->draining, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&c->has_next, 1, __ATOMIC_RELEASE);
    start = !c->taking && !c->queued;
    c->handed++;
  }
  done = c->done;
  uv_mutex_unlock(&c->lock);
  if (err) return ebb_push_uv_error(L, err);
  if (len) {
    lua_pushvalue(L, 2); /* the worker reads the string itself */
    c->refs[c->handed % 2] = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (start) {
    if (c->file_ref == LUA_NOREF) {
      lua_pushvalue(L, 1);
      c->file_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    chain_start(c);
  }
  if (done + (len ? 1 : 0) >= c->handed) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return chain_wait(L, c, CHAIN_WRITTEN, c->handed - (len ? 1 : 0), 3);
}

/* flush(file, signal): waits until every chunk handed over is written, and
 * answers the error of one that failed. */
static int l_flush(lua_State *L) {
  file *f = ebb_check_udata(L, 1, FILE_MT, "file");
  wchain *c;
  int r, err;
  unsigned long done;
  if ((r = ebb_request_begin(L, 2)) != 0) return r;
  if (!(c = f->chain)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  chain_collect(c);
  uv_mutex_lock(&c->lock);
  err = c->err;
  done = c->done;
  __atomic_store_n(&c->draining, 1, __ATOMIC_RELEASE);
  uv_mutex_unlock(&c->lock);
  if (!chain_idle(c, done, err)) return chain_wait(L, c, CHAIN_IDLE, c->handed, 2);
  if (err) return ebb_push_uv_error(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_fstat(lua_State *L) {
  file *f = check_file(L, 1);
  int r = ebb_request_begin(L, 2);
  fs_op *op;
  if (r) return r;
  op = new_op(L);
  return await_op(L, op, uv_fs_fstat(ebb_loop(), &op->req, f->fd, on_done), 2);
}

/* close(file): closing is never aborted, so a cancelled task still closes */
static int l_close(lua_State *L) {
  file *f = ebb_check_udata(L, 1, FILE_MT, "file");
  fs_op *op;
  uv_file fd;
  lua_pushboolean(L, 1); /* the answer when there is nothing to wait for */
  if (f->fd < 0) return 1;
  if (f->chain && f->chain->queued) return luaL_error(L, "the file has writes under way (flush it first)");
  chain_free(f);
  fd = f->fd;
  f->fd = -1;
  if (f->borrowed) return 1;
  op = new_op(L);
  if (!ebb_current()) { /* outside a task: at once */
    uv_fs_t req;
    uv_fs_close(ebb_loop(), &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    free(op);
    return 1;
  }
  lua_pop(L, 1);
  return await_op(L, op, uv_fs_close(ebb_loop(), &op->req, fd, on_done), 0);
}

static int file_gc(lua_State *L) {
  file *f = ebb_check_udata(L, 1, FILE_MT, "file");
  chain_free(f); /* idle: a chain at work keeps its file */
  if (f->fd >= 0 && !f->borrowed) { /* forgotten: closed now, without waiting */
    uv_fs_t req;
    uv_fs_close(ebb_loop(), &req, f->fd, NULL);
    uv_fs_req_cleanup(&req);
    f->fd = -1;
  }
  return 0;
}

static int file_index(lua_State *L) {
  file *f = ebb_check_udata(L, 1, FILE_MT, "file");
  if (ebb_key_is(L, 2, "fd")) {
    if (f->fd < 0) return 0;
    lua_pushinteger(L, f->fd);
    return 1;
  }
  if (ebb_key_is(L, 2, "closed")) {
    lua_pushboolean(L, f->fd < 0);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int file_tostring(lua_State *L) {
  file *f = ebb_check_udata(L, 1, FILE_MT, "file");
  if (f->fd < 0) lua_pushliteral(L, "File (closed)");
  else lua_pushfstring(L, "File (fd %d)", f->fd);
  return 1;
}

/* is_file(v) -> whether v is a file */
static int l_is_file(lua_State *L) {
  lua_pushboolean(L, luaL_testudata_compat(L, 1, FILE_MT) != NULL);
  return 1;
}

/* borrow(fd) -> a file over a standard stream's fd, which closing leaves open */
static int l_borrow(lua_State *L) {
  int fd = (int)ebb_check_whole(L, 1, "fd", 0, 2);
  push_file(L, fd);
  ((file *)lua_touserdata(L, -1))->borrowed = 1;
  return 1;
}

/* set_file_methods(tbl): the Lua side's methods for every file */
static int l_set_file_methods(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_getmetatable(L, FILE_MT);
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, file_index, 1);
  lua_setfield(L, -2, "__index");
  return 0;
}

int luaopen_ebb_fs_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"stat", l_stat},     {"lstat", l_lstat},   {"readdir", l_readdir}, {"mkdir", l_mkdir},
    {"rmdir", l_rmdir},   {"unlink", l_unlink}, {"rename", l_rename},   {"open", l_open},
    {"read", l_read},     {"write", l_write},   {"fstat", l_fstat},     {"close", l_close},
    {"write_behind", l_write_behind},           {"flush", l_flush},
    {"set_file_methods", l_set_file_methods},   {"borrow", l_borrow},
    {"is_file", l_is_file},                     {NULL, NULL}};
  luaL_newmetatable(L, FILE_MT);
  lua_pushcfunction(L, file_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, file_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  return 1;
}
