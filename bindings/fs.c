/* ebb.fs's C half: libuv's file requests, each awaited by the task that made
 * it. An aborted request is left to finish (libuv cannot stop one that has
 * started) and its result is dropped; files close themselves when collected. */
#define _GNU_SOURCE /* preadv2 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <string.h>
#include "../host/ebb.h"

#define FILE_MT "ebb.file"

typedef struct fs_op {
  uv_fs_t req;
  ebb_wait *wait;  /* NULL once the waiter has gone */
  char *buf;       /* reads: the bytes */
  size_t len;
  int data_ref;    /* writes: the string written, kept until the request ends */
} fs_op;

typedef struct file {
  uv_file fd;      /* -1 once closed */
  int closing;
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
  luaL_getmetatable(L, FILE_MT);
  lua_setmetatable(L, -2);
}

/* The results of a finished request, on co: true, values... or nil, code, message. */
static int push_results(lua_State *co, fs_op *op) {
  uv_fs_t *req = &op->req;
  if (req->result < 0) {
    lua_pushnil(co);
    lua_pushstring(co, uv_err_name((int)req->result));
    lua_pushstring(co, uv_strerror((int)req->result));
    return 3;
  }
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
  if (op->wait) {
    lua_State *co = ebb_wake_push(op->wait);
    if (co) ebb_wake_done(op->wait, push_results(co, op));
    op->wait->owner = NULL;
  } else if (req->fs_type == UV_FS_OPEN && req->result >= 0) {
    uv_fs_t close_req; /* opened for a waiter that has gone: nobody will close it */
    uv_fs_close(req->loop, &close_req, (uv_file)req->result, NULL);
    uv_fs_req_cleanup(&close_req);
  }
  uv_fs_req_cleanup(req);
  free_op(op);
}

/* The waiter was aborted before the request finished: it goes on alone. */
static void on_cancel(ebb_wait *w, int handed) {
  fs_op *op = w->owner;
  (void)handed;
  if (!op) return;
  op->wait = NULL;
  w->owner = NULL;
  uv_cancel((uv_req_t *)&op->req); /* stops it only if it has not started */
}

static fs_op *new_op(lua_State *L) {
  fs_op *op = calloc(1, sizeof *op);
  if (!op) luaL_error(L, "out of memory");
  op->data_ref = LUA_NOREF;
  return op;
}

/* Parks the calling task until op finishes (the request must be started). */
static int await_op(lua_State *L, fs_op *op, int r, int signal_idx) {
  ebb_task *t;
  int n;
  if (r < 0) { /* could not even start */
    lua_pushnil(L);
    lua_pushstring(L, uv_err_name(r));
    lua_pushstring(L, uv_strerror(r));
    free_op(op);
    return 3;
  }
  t = ebb_current();
  n = ebb_wait_on(L, NULL, -1, signal_idx);
  if (lua_status(L) == LUA_YIELD) {
    ebb_wait *w = ebb_task_wait(t);
    op->wait = w;
    w->owner = op;
    w->on_cancel = on_cancel;
  } else { /* aborted before it began waiting: let the request end alone */
    op->wait = NULL;
  }
  return n;
}

/* Each function checks the task and the signal before it starts anything. */
static int begin(lua_State *L, int signal_idx) {
  ebb_check_in_task(L);
  return ebb_check_abort(L, signal_idx);
}

static int l_stat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int r = begin(L, 2);
  fs_op *op;
  if (r) return r;
  op = new_op(L);
  return await_op(L, op, uv_fs_stat(ebb_loop(), &op->req, path, on_done), 2);
}

static int l_lstat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int r = begin(L, 2);
  fs_op *op;
  if (r) return r;
  op = new_op(L);
  return await_op(L, op, uv_fs_lstat(ebb_loop(), &op->req, path, on_done), 2);
}

static int l_readdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int r = begin(L, 2);
  fs_op *op;
  if (r) return r;
  op = new_op(L);
  return await_op(L, op, uv_fs_scandir(ebb_loop(), &op->req, path, 0, on_done), 2);
}

static int l_mkdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int mode = (int)luaL_optinteger(L, 2, 0777), r = begin(L, 3);
  fs_op *op;
  if (r) return r;
  op = new_op(L);
  return await_op(L, op, uv_fs_mkdir(ebb_loop(), &op->req, path, mode, on_done), 3);
}

static int l_rmdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int r = begin(L, 2);
  fs_op *op;
  if (r) return r;
  op = new_op(L);
  return await_op(L, op, uv_fs_rmdir(ebb_loop(), &op->req, path, on_done), 2);
}

static int l_unlink(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int r = begin(L, 2);
  fs_op *op;
  if (r) return r;
  op = new_op(L);
  return await_op(L, op, uv_fs_unlink(ebb_loop(), &op->req, path, on_done), 2);
}

static int l_rename(lua_State *L) {
  const char *from = luaL_checkstring(L, 1), *to = luaL_checkstring(L, 2);
  int r = begin(L, 3);
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
  return flags[luaL_checkoption(L, idx, "r", names)] | O_CLOEXEC;
}

/* open(path, flags, mode, signal) -> file */
static int l_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int flags = open_flags(L, 2), mode = (int)luaL_optinteger(L, 3, 0666), r = begin(L, 4);
  fs_op *op;
  if (r) return r;
  op = new_op(L);
  return await_op(L, op, uv_fs_open(ebb_loop(), &op->req, path, flags, mode, on_done), 4);
}

static file *check_file(lua_State *L, int idx) {
  file *f = luaL_testudata_compat(L, idx, FILE_MT);
  if (!f) ebb_argerror_type(L, idx, "file");
  if (f->fd < 0) luaL_error(L, "the file is closed");
  return f;
}

/* Bytes the page cache already holds are read at once, on this thread: the
 * round trip through the thread pool would cost more than the copy. Pushes
 * the results and returns their count, or returns 0 when the read would
 * have to wait for the disk (or the system cannot tell). */
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
    lua_pushnil(L);
    lua_pushstring(L, uv_err_name(-errno));
    lua_pushstring(L, uv_strerror(-errno));
    return 3;
  }
  lua_pushboolean(L, 1);
  if (got == 0) lua_pushnil(L); /* the end of the file */
  else lua_pushlstring(L, buf, (size_t)got);
  return 2;
#else
  (void)L, (void)fd, (void)buf, (void)len, (void)offset;
  return 0;
#endif
}

/* read(file, n, offset, signal) -> bytes, or nil at the end */
static int l_read(lua_State *L) {
  file *f = check_file(L, 1);
  lua_Number n = luaL_checknumber(L, 2);
  int64_t offset = lua_isnoneornil(L, 3) ? -1 : (int64_t)luaL_checknumber(L, 3);
  int r = begin(L, 4);
  fs_op *op;
  uv_buf_t buf;
  if (n < 1 || n > 1 << 30) return luaL_argerror(L, 2, "n must be between 1 and 2^30 bytes");
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
  int64_t offset = lua_isnoneornil(L, 3) ? -1 : (int64_t)luaL_checknumber(L, 3);
  int r = begin(L, 4);
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

static int l_fstat(lua_State *L) {
  file *f = check_file(L, 1);
  int r = begin(L, 2);
  fs_op *op;
  if (r) return r;
  op = new_op(L);
  return await_op(L, op, uv_fs_fstat(ebb_loop(), &op->req, f->fd, on_done), 2);
}

/* close(file): closing is never aborted, so a cancelled task still closes */
static int l_close(lua_State *L) {
  file *f = luaL_testudata_compat(L, 1, FILE_MT);
  fs_op *op;
  uv_file fd;
  if (!f) return ebb_argerror_type(L, 1, "file");
  lua_pushboolean(L, 1); /* the answer when there is nothing to wait for */
  if (f->fd < 0) return 1;
  fd = f->fd;
  f->fd = -1;
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
  file *f = lua_touserdata(L, 1);
  if (f->fd >= 0) { /* forgotten: closed now, without waiting */
    uv_fs_t req;
    uv_fs_close(ebb_loop(), &req, f->fd, NULL);
    uv_fs_req_cleanup(&req);
    f->fd = -1;
  }
  return 0;
}

static int file_index(lua_State *L) {
  file *f = luaL_testudata_compat(L, 1, FILE_MT);
  const char *k = lua_tostring(L, 2);
  if (f && k && !strcmp(k, "fd")) {
    if (f->fd < 0) return 0;
    lua_pushinteger(L, f->fd);
    return 1;
  }
  if (f && k && !strcmp(k, "closed")) {
    lua_pushboolean(L, f->fd < 0);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int file_tostring(lua_State *L) {
  file *f = lua_touserdata(L, 1);
  if (f->fd < 0) lua_pushliteral(L, "File (closed)");
  else lua_pushfstring(L, "File (fd %d)", f->fd);
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
    {"set_file_methods", l_set_file_methods},   {NULL, NULL}};
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
