/* ebb.http's client: a transfer's life (see http_transfer.h). curl's
 * callbacks only fill buffers and mark the transfer; the tasks that wait on
 * it are woken once curl has returned (settle), never from inside curl. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http_transfer.h"

/* The body buffered for a slow reader stops growing past this: curl is
 * paused, and resumes when the reader takes the chunk. */
#define BODY_HIGH_WATER (128 * 1024)

static EBB_THREAD_LOCAL const curl_lib *C;

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
  if (*len + n > *cap) {
    size_t cap2 = *cap ? *cap : 1024;
    char *p;
    while (cap2 < *len + n) cap2 *= 2;
    if (!(p = realloc(*buf, cap2))) return 0;
    *buf = p;
    *cap = cap2;
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  return 1;
}

static int has_location(const transfer *t) {
  const char *p = t->head, *end = t->head + t->head_len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if ((size_t)(end - p) > 9 && strncasecmp(p, "location:", 9) == 0) return 1;
    if (!eol) break;
    p = eol + 1;
  }
  return 0;
}

static void head_arrived(transfer *t) {
  char *url = NULL;
  t->head_done = 1;
  C->easy_getinfo(t->job.easy, CURLINFO_EFFECTIVE_URL, &url);
  if (url) t->url = strdup(url);
  http_multi_mark(&t->job);
}

/* CURLOPT_HEADERFUNCTION: the lines of each response's head (of an interim
 * 1xx, of each redirect followed, then of the response itself). */
static size_t on_header(char *data, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  size_t len = size * n;
  if (t->head_done) return len; /* trailers */
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) t->head_len = 0; /* a new response */
  if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
    C->easy_getinfo(t->job.easy, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->status >= 100 && t->status < 200) return len;
    if (t->follow && t->status >= 300 && t->status < 400 && t->status != 304 && has_location(t)) return len;
    head_arrived(t);
    return len;
  }
  return append(&t->head, &t->head_len, &t->head_cap, data, len) ? len : 0;
}

/* Whether curl has more of the body to read after this chunk of len bytes:
 * only known with a Content-Length (curl may count the chunk before or
 * after this call: counted twice, the answer errs on the side of "no"). */
static int more_to_come(const transfer *t, size_t len) {
  curl_off_t length = -1, got = 0;
  C->easy_getinfo(t->job.easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  C->easy_getinfo(t->job.easy, CURLINFO_SIZE_DOWNLOAD_T, &got);
  return length >= 0 && got + (curl_off_t)len < length;
}

/* CURLOPT_WRITEFUNCTION: the body, kept until read. A full buffer pauses the
 * transfer, but the chunk that fills it is always taken: refused
 * (CURL_WRITEFUNC_PAUSE), curl would keep it and hand it over on resuming, a
 * path where libcurl 7.88 can stall for good; so can a transfer paused from
 * here as its last bytes come. So it is paused here only when more is to
 * come, else by settle once curl has returned (curl then reads what the
 * socket holds first, up to 100 reads). */
static size_t on_body(char *data, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  size_t len = size * n;
  if (!append(&t->body, &t->body_len, &t->body_cap, data, len)) return 0;
  if (t->body_len > t->body_peak) t->body_peak = t->body_len;
  if (t->body_len >= BODY_HIGH_WATER && !t->recv_paused && more_to_come(t, len)) {
    t->recv_paused = 1;
    transfer_apply_pause(t);
  }
  http_multi_mark(&t->job);
  return len;
}

/* CURLOPT_READFUNCTION of a streamed upload: the chunk the script wrote; with
 * none yet, curl waits paused until it writes one. */
static size_t on_upload(char *buf, size_t size, size_t n, void *ud) {
  transfer *t = ud;
  size_t room = size * n, k;
  if (!t->chunk_left) {
    if (t->upload_ended) return 0;
    t->send_paused = 1;
    return CURL_READFUNC_PAUSE;
  }
  k = t->chunk_left < room ? t->chunk_left : room;
  memcpy(buf, t->chunk, k);
  t->chunk += k;
  t->chunk_left -= k;
  if (!t->chunk_left) http_multi_mark(&t->job);
  return k;
}

static void unref(int *ref) {
  if (*ref != LUA_NOREF && ebb_lua_alive()) luaL_unref(ebb_main_state(), LUA_REGISTRYINDEX, *ref);
  *ref = LUA_NOREF;
}

/* Whatever ended it, the transfer holds nothing of curl's or of Lua's any more
 * but what it hands its readers. */
static void let_go(transfer *t, int state) {
  if (t->state != T_RUNNING && t->state != T_NEW) return;
  t->state = state;
  if (state != T_DONE) t->body_len = 0; /* stopped: what was not read is gone with it */
  if (t->signal) ebb_signal_unlisten(t->signal, &t->on_abort);
  t->signal = NULL;
  unref(&t->signal_ref);
  unref(&t->body_ref);
  unref(&t->chunk_ref);
  t->chunk_left = 0;
  http_multi_drop(&t->job);
  if (t->headers) C->slist_free_all(t->headers);
  t->headers = NULL;
}

static void settle(http_job *j) {
  transfer *t = ebb_container(j, transfer, job);
  ebb_node *n = t->waiters.next;
  if (t->state == T_RUNNING && !t->recv_paused && t->body_len >= BODY_HIGH_WATER) {
    t->recv_paused = 1;
    transfer_apply_pause(t);
  }
  while (n != &t->waiters) {
    ebb_wait *w = ebb_container(n, ebb_wait, link);
    n = n->next;
    if (transfer_ready(t, ebb_wait_want(w)->kind)) {
      ebb_want give_back = *ebb_wait_want(w); /* a reader cancelled once handed its chunk ends the transfer */
      lua_State *co = ebb_wake_push(w);
      if (co) ebb_wake_handed(w, transfer_push(co, t, give_back.kind), &give_back);
    }
  }
}

static void finished(http_job *j, CURLcode rc) {
  transfer *t = ebb_container(j, transfer, job);
  if (rc == CURLE_OK && !t->head_done) {
    C->easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &t->status);
    head_arrived(t);
  }
  t->rc = rc;
  let_go(t, T_DONE);
}

static void aborted(ebb_listener *l, ebb_signal *s) {
  transfer *t = ebb_container(l, transfer, on_abort);
  lua_State *L = ebb_main_state();
  ebb_signal_push_reason(L, s);
  t->reason_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  let_go(t, T_ABORTED);
  settle(&t->job);
}

transfer *transfer_new(const curl_lib *c, const char *url) {
  transfer *t = calloc(1, sizeof *t);
  C = c;
  if (!t) return NULL;
  if (!(t->job.easy = C->easy_init())) {
    free(t);
    return NULL;
  }
  t->job.finished = finished;
  t->job.settle = settle;
  t->reason_ref = t->signal_ref = t->body_ref = t->chunk_ref = LUA_NOREF;
  ebb_waitlist_init(&t->waiters);
  CURL *e = t->job.easy;
  C->easy_setopt(e, CURLOPT_URL, url);
  C->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  C->easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  C->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  C->easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  C->easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  /* Only TLS can offer HTTP/2 (ALPN): there a request waits to see whether a connection
   * being made can be shared. Over plain HTTP that wait would last a whole response. */
  if (strncasecmp(url, "https:", 6) == 0) C->easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  C->easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  C->easy_setopt(e, CURLOPT_USERAGENT, "ebb/" EBB_VERSION);
  C->easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  C->easy_setopt(e, CURLOPT_HEADERDATA, t);
  C->easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  C->easy_setopt(e, CURLOPT_WRITEDATA, t);
  C->easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
  C->easy_setopt(e, CURLOPT_READDATA, t);
  return t;
}

CURLMcode transfer_start(lua_State *L, transfer *t, ebb_signal *signal, int signal_idx) {
  CURLMcode rc = http_multi_add(&t->job);
  if (rc != CURLM_OK) return rc;
  t->state = T_RUNNING;
  if (signal) {
    t->signal = signal;
    lua_pushvalue(L, signal_idx);
    t->signal_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    t->on_abort.fn = aborted;
    ebb_signal_listen(signal, &t->on_abort);
  }
  return CURLM_OK;
}

void transfer_cancel(transfer *t) {
  let_go(t, T_CANCELLED);
  settle(&t->job);
}

int transfer_ready(const transfer *t, int kind) {
  if (t->state != T_RUNNING) return 1;
  switch (kind) {
  case K_HEAD: return t->head_done;
  case K_READ: return t->body_len > 0;
  default: return t->chunk_left == 0;
  }
}

static int push_failure(lua_State *L, transfer *t) {
  if (t->state == T_ABORTED) {
    lua_pushboolean(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->reason_ref);
    return 2;
  }
  lua_pushnil(L);
  if (t->state == T_CANCELLED) {
    lua_pushliteral(L, "CANCELLED");
    lua_pushliteral(L, "the request was cancelled");
  } else {
    lua_pushstring(L, curl_code_name(t->rc));
    if (t->error[0]) lua_pushfstring(L, "%s (%s)", C->easy_strerror(t->rc), t->error);
    else lua_pushstring(L, C->easy_strerror(t->rc));
  }
  return 3;
}

void transfer_apply_pause(transfer *t) {
  if (t->state != T_RUNNING) return;
  C->easy_pause(t->job.easy, (t->recv_paused ? CURLPAUSE_RECV : 0) | (t->send_paused ? CURLPAUSE_SEND : 0));
  http_multi_soon();
}

int transfer_push(lua_State *L, transfer *t, int kind) {
  int failed = t->state == T_ABORTED || t->state == T_CANCELLED || (t->state == T_DONE && t->rc != CURLE_OK);
  if (kind == K_HEAD) {
    if (!t->head_done) return push_failure(L, t);
    lua_pushboolean(L, 1);
    lua_pushinteger(L, (lua_Integer)t->status);
    lua_pushlstring(L, t->head ? t->head : "", t->head_len);
    lua_pushstring(L, t->url ? t->url : "");
    return 4;
  }
  if (kind == K_READ) {
    if (t->body_len == 0 && failed) return push_failure(L, t);
    lua_pushboolean(L, 1);
    if (t->body_len == 0) return 1; /* the end: true, nil */
    lua_pushlstring(L, t->body, t->body_len);
    t->body_len = 0;
    if (t->recv_paused) {
      t->recv_paused = 0;
      transfer_apply_pause(t);
    }
    return 2;
  }
  if (failed) return push_failure(L, t);
  unref(&t->chunk_ref);
  lua_pushboolean(L, 1);
  return 1;
}

void transfer_free(transfer *t) {
  free(t->url);
  free(t->head);
  free(t->body);
  free(t);
}
