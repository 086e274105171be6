/* ebb.fs's write-behind: a file's chunks written one after another by a
 * worker thread, the next handed over while the one before is written. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include "fs.h"


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
    if (ebb_wait_want(w)->kind == CHAIN_ROOM) lua_pushliteral(co, "again");
    ebb_wake_done(w, ebb_wait_want(w)->kind == CHAIN_ROOM ? 2 : 1);
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
    if (ebb_wait_want(w)->kind == CHAIN_IDLE ? chain_idle(c, done, err) : err || done >= ebb_wait_want(w)->count)
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
void fs_writer_free(file *f) {
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
  drop_unwritten(ebb_wait_want(w));
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
int fs_write_behind(lua_State *L) {
  file *f = fs_check_file(L, 1);
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
int fs_flush(lua_State *L) {
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

int fs_writer_busy(const file *f) { return f->chain && f->chain->queued; }
