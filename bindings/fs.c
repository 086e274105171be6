/* ebb.fs's C half: libuv's file requests, each awaited by the task that made
 * it. An aborted request is left to finish (libuv cannot stop one that has
 * started) and its result is dropped; files close themselves when collected. */
#define _GNU_SOURCE /* preadv2 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <string.h>
#include "fs.h"

typedef struct fs_op {
  uv_fs_t req;
  ebb_request r;
  char *buf;       /* reads: the bytes */
  size_t len;
  int data_ref;    /* writes: the string written, kept until the request ends */
  int with_types;  /* scandir: the entries' types too */
} fs_op;

static void push_stat(lua_State *L, const uv_stat_t *st) {
  const char *type = "other";
  if ((st->st_mode & S_IFMT) == S_IFREG) type = "file";
  else if ((st->st_mode & S_IFMT) == S_IFDIR) type = "directory";
  else if ((st->st_mode & S_IFMT) == S_IFLNK) type = "link";
  lua_createtable(L, 0, 11);
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
  lua_pushnumber(L, (lua_Number)st->st_dev);
  lua_setfield(L, -2, "dev");
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

/* Closes the file at once, on the loop thread, unless it is closed or borrowed. */
static void close_now(file *f) {
  if (f->fd >= 0 && !f->borrowed) {
    uv_fs_t req;
    uv_fs_close(ebb_loop(), &req, f->fd, NULL);
    uv_fs_req_cleanup(&req);
    f->fd = -1;
  }
}

/* The results of a request that succeeded, on co: true, values... */
static int push_results(lua_State *co, fs_op *op) {
  uv_fs_t *req = &op->req;
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
  case UV_FS_MKDTEMP:
    lua_pushstring(co, req->path);
    return 2;
  case UV_FS_MKSTEMP:
    push_file(co, (uv_file)req->result);
    lua_pushstring(co, req->path);
    return 3;
  case UV_FS_SCANDIR: {
    /* the types as the directory tells them; "unknown" where it cannot */
    static const char *const types[] = {"unknown", "file", "directory", "link", "other", "other", "other", "other"};
    uv_dirent_t ent;
    int i = 0;
    lua_newtable(co);
    if (op->with_types) lua_newtable(co);
    while (uv_fs_scandir_next(req, &ent) != UV_EOF) {
      i++;
      if (op->with_types) {
        lua_pushstring(co, types[(unsigned)ent.type < 8 ? ent.type : 0]);
        lua_rawseti(co, -2, i);
      }
      lua_pushstring(co, ent.name);
      lua_rawseti(co, op->with_types ? -3 : -2, i);
    }
    return op->with_types ? 3 : 2;
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

/* A file handed to a task cancelled before it ran: nobody will close it. */
static void close_handed(ebb_wait *w, int handed) {
  if (handed) close_now(ebb_wait_want(w)->owner);
}

/* A temporary file or directory made for a waiter that will never have it:
 * nobody would remove it. */
static void remove_made(uv_fs_type type, uv_file fd, const char *path) {
  uv_fs_t req;
  if (type == UV_FS_MKSTEMP) {
    uv_fs_close(ebb_loop(), &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    uv_fs_unlink(ebb_loop(), &req, path, NULL);
  } else {
    uv_fs_rmdir(ebb_loop(), &req, path, NULL);
  }
  uv_fs_req_cleanup(&req);
}

/* Handed to a task cancelled before it ran: its path is on top of the
 * task's stack (after the file, for a temporary file). */
static void remove_handed(ebb_wait *w, int handed) {
  file *f = ebb_wait_want(w)->owner;
  uv_file fd = f ? f->fd : -1;
  if (!handed) return;
  if (f) f->fd = -1; /* closed here, not when collected */
  remove_made((uv_fs_type)ebb_wait_want(w)->kind, fd, lua_tostring(ebb_wait_thread(w), -1));
}

static void on_done(uv_fs_t *req) {
  fs_op *op = (fs_op *)req;
  lua_State *co = ebb_request_finish(&op->r, req->result < 0 ? (int)req->result : 0);
  uv_fs_type type = req->fs_type;
  if (co) {
    int n = push_results(co, op);
    if (type == UV_FS_OPEN)
      ebb_request_done(&op->r, n, &(ebb_want){.owner = lua_touserdata(co, -1), .on_cancel = close_handed});
    else if (type == UV_FS_MKSTEMP || type == UV_FS_MKDTEMP)
      ebb_request_done(&op->r, n, &(ebb_want){.owner = type == UV_FS_MKSTEMP ? lua_touserdata(co, -2) : NULL,
                                             .on_cancel = remove_handed, .kind = type});
    else
      ebb_request_done(&op->r, n, NULL);
  } else if (req->result >= 0 && type == UV_FS_OPEN) {
    uv_fs_t close_req; /* opened for a waiter that has gone: nobody will close it */
    uv_fs_close(req->loop, &close_req, (uv_file)req->result, NULL);
    uv_fs_req_cleanup(&close_req);
  } else if (req->result >= 0 && (type == UV_FS_MKSTEMP || type == UV_FS_MKDTEMP)) {
    remove_made(type, (uv_file)req->result, req->path);
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

/* A new request, once the checks every request makes have passed; NULL
 * when they have not (then *nret values are pushed: return them). */
static fs_op *begin_op(lua_State *L, int signal_idx, int *nret) {
  return (*nret = ebb_request_begin(L, signal_idx)) != 0 ? NULL : new_op(L);
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
  int r;
  fs_op *op;
  if (!(op = begin_op(L, 2, &r))) return r;
  return await_op(L, op, start(ebb_loop(), &op->req, path, on_done), 2);
}

static int scandir_all(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  return uv_fs_scandir(loop, req, path, 0, cb);
}

static int l_stat(lua_State *L) { return path_request(L, uv_fs_stat); }
static int l_lstat(lua_State *L) { return path_request(L, uv_fs_lstat); }
/* readdir(path, signal [, with_types]) -> true, names [, types] */
static int l_readdir(lua_State *L) {
  const char *path = ebb_check_cstring(L, 1, "path");
  int r;
  fs_op *op;
  if (!(op = begin_op(L, 2, &r))) return r;
  op->with_types = lua_toboolean(L, 3);
  return await_op(L, op, scandir_all(ebb_loop(), &op->req, path, on_done), 2);
}
static int l_rmdir(lua_State *L) { return path_request(L, uv_fs_rmdir); }
static int l_unlink(lua_State *L) { return path_request(L, uv_fs_unlink); }

static int l_mkdir(lua_State *L) {
  const char *path = ebb_check_cstring(L, 1, "path");
  int mode = (int)ebb_opt_whole(L, 2, "mode", 0, 07777, 0777), r;
  fs_op *op;
  if (!(op = begin_op(L, 3, &r))) return r;
  return await_op(L, op, uv_fs_mkdir(ebb_loop(), &op->req, path, mode, on_done), 3);
}

static int l_rename(lua_State *L) {
  const char *from = ebb_check_cstring(L, 1, "from"), *to = ebb_check_cstring(L, 2, "to");
  int r;
  fs_op *op;
  if (!(op = begin_op(L, 3, &r))) return r;
  return await_op(L, op, uv_fs_rename(ebb_loop(), &op->req, from, to, on_done), 3);
}

/* mkdtemp(template, signal) -> true, path; mkstemp(template, signal) ->
 * true, file, path: the template ends in XXXXXX */
static int l_mkdtemp(lua_State *L) { return path_request(L, uv_fs_mkdtemp); }
static int l_mkstemp(lua_State *L) { return path_request(L, uv_fs_mkstemp); }

static int open_flags(lua_State *L, int idx) {
  static const char *const names[] = {"r", "r+", "w", "w+", "a", "a+", "wx", "wx+", "ax", "ax+", NULL};
  static const int flags[] = {
    O_RDONLY, O_RDWR, O_WRONLY | O_CREAT | O_TRUNC, O_RDWR | O_CREAT | O_TRUNC,
    O_WRONLY | O_CREAT | O_APPEND, O_RDWR | O_CREAT | O_APPEND,
    O_WRONLY | O_CREAT | O_EXCL, O_RDWR | O_CREAT | O_EXCL,
    O_WRONLY | O_CREAT | O_APPEND | O_EXCL, O_RDWR | O_CREAT | O_APPEND | O_EXCL};
  return flags[ebb_check_option(L, idx, "flags", "r", names)] | O_CLOEXEC;
}

/* open(path, flags, mode, signal) -> file */
static int l_open(lua_State *L) {
  const char *path = ebb_check_cstring(L, 1, "path");
  int flags = open_flags(L, 2), mode = (int)ebb_opt_whole(L, 3, "mode", 0, 07777, 0666), r;
  fs_op *op;
  if (!(op = begin_op(L, 4, &r))) return r;
  return await_op(L, op, uv_fs_open(ebb_loop(), &op->req, path, flags, mode, on_done), 4);
}

file *fs_check_file(lua_State *L, int idx) {
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
  file *f = fs_check_file(L, 1);
  double n = ebb_check_whole(L, 2, "n", 1, 1 << 30);
  int64_t offset = (int64_t)ebb_opt_whole(L, 3, "offset", 0, EBB_MAX_WHOLE, -1);
  int r;
  fs_op *op;
  uv_buf_t buf;
  if (!(op = begin_op(L, 4, &r))) return r;
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
  file *f = fs_check_file(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int64_t offset = (int64_t)ebb_opt_whole(L, 3, "offset", 0, EBB_MAX_WHOLE, -1);
  int r;
  fs_op *op;
  uv_buf_t buf;
  if (!(op = begin_op(L, 4, &r))) return r;
  op->len = len;
  lua_pushvalue(L, 2); /* the request reads the string itself: it must not be collected */
  op->data_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  buf = uv_buf_init((char *)data, (unsigned)len);
  return await_op(L, op, uv_fs_write(ebb_loop(), &op->req, f->fd, &buf, 1, offset, on_done), 4);
}

static int l_fstat(lua_State *L) {
  file *f = fs_check_file(L, 1);
  int r;
  fs_op *op;
  if (!(op = begin_op(L, 2, &r))) return r;
  return await_op(L, op, uv_fs_fstat(ebb_loop(), &op->req, f->fd, on_done), 2);
}

/* close(file): closing is never aborted, so a cancelled task still closes */
static int l_close(lua_State *L) {
  file *f = ebb_check_udata(L, 1, FILE_MT, "file");
  fs_op *op;
  uv_file fd;
  lua_pushboolean(L, 1); /* the answer when there is nothing to wait for */
  if (f->fd < 0) return 1;
  if (fs_writer_busy(f)) return luaL_error(L, "the file has writes under way (flush it first)");
  fs_writer_free(f);
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
  op->r.abandon = NULL; /* a close a cancelled task leaves must still happen */
  return await_op(L, op, uv_fs_close(ebb_loop(), &op->req, fd, on_done), 0);
}

static int file_gc(lua_State *L) {
  file *f = ebb_check_udata(L, 1, FILE_MT, "file");
  fs_writer_free(f); /* idle: a chain at work keeps its file */
  close_now(f); /* forgotten: closed now, without waiting */
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

/* cwd() -> the working directory | nil, code, msg */
static int l_cwd(lua_State *L) {
  char buf[4096];
  size_t len = sizeof buf;
  int r = uv_cwd(buf, &len);
  if (r != 0) return ebb_push_uv_error(L, r);
  lua_pushboolean(L, 1);
  lua_pushlstring(L, buf, len);
  return 2;
}

/* set_file_methods(tbl): the Lua side's methods for every file */
static int l_set_file_methods(lua_State *L) {
  ebb_check_type(L, 1, LUA_TTABLE);
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
    {"write_behind", fs_write_behind},          {"flush", fs_flush},
    {"set_file_methods", l_set_file_methods},   {"borrow", l_borrow},
    {"is_file", l_is_file},                     {"cwd", l_cwd},
    {"mkdtemp", l_mkdtemp},                     {"mkstemp", l_mkstemp},
    {"watch", fs_watch},                        {"watch_next", fs_watch_next},
    {"watch_close", fs_watch_close},            {"watch_add", fs_watch_add},
    {NULL, NULL}};
  ebb_new_metatable(L, FILE_MT, file_gc, file_tostring);
  fs_watch_init(L);
  return ebb_new_module(L, fns);
}
