/* ebb.http.client.core: the client's requests, made by curl on the loop
 * (http_multi.c), each a transfer (http_transfer.c) that the Lua half
 * (lua/ebb/http_client.lua) turns into a response. */
#include <string.h>
#include "http_transfer.h"

#define TRANSFER_MT "ebb.http.transfer"

static transfer *check_transfer(lua_State *L) {
  transfer **box = ebb_check_udata(L, 1, TRANSFER_MT, "transfer");
  return *box;
}

static int transfer_gc(lua_State *L) {
  transfer **box = luaL_checkudata(L, 1, TRANSFER_MT);
  if (*box) {
    transfer_cancel(*box);
    transfer_free(*box);
    *box = NULL;
  }
  return 0;
}

/* Sets the request's headers from the list at idx ("Name: value" lines,
 * checked by the Lua half). */
static int set_headers(lua_State *L, const curl_lib *c, transfer *t, int idx) {
  size_t n = lua_objlen(L, idx);
  for (size_t i = 1; i <= n; i++) {
    struct curl_slist *more;
    lua_rawgeti(L, idx, (int)i);
    more = c->slist_append(t->headers, ebb_check_cstring(L, -1, "header"));
    lua_pop(L, 1);
    if (!more) return 0;
    t->headers = more;
  }
  if (t->headers) c->easy_setopt(t->job.easy, CURLOPT_HTTPHEADER, t->headers);
  return 1;
}

/* The body at idx: a string sent as it is, true (or its length) for one the
 * script streams (write), nil for none. */
static void set_body(lua_State *L, const curl_lib *c, transfer *t, int idx, const char *method) {
  CURL *e = t->job.easy;
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t len;
    const char *body = lua_tolstring(L, idx, &len);
    lua_pushvalue(L, idx);
    t->body_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    c->easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    c->easy_setopt(e, CURLOPT_POSTFIELDS, body);
  } else if (lua_toboolean(L, idx)) { /* with its length (a number), or chunked */
    t->streamed = 1;
    c->easy_setopt(e, CURLOPT_POST, 1L);
    c->easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                   lua_type(L, idx) == LUA_TNUMBER ? (curl_off_t)lua_tonumber(L, idx) : (curl_off_t)-1);
  }
  /* Redirects as fetch follows them: a POST's body implies its method, which
   * curl turns into a GET without the body on a 301, 302 or 303; another
   * method keeps its body on a 301 or 302 (curl would drop it, and keep the
   * method). */
  if (strcmp(method, "HEAD") == 0) {
    c->easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (strcmp(method, "POST") != 0 || lua_isnil(L, idx)) {
    if (strcmp(method, "GET") != 0 || !lua_isnil(L, idx)) c->easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (!lua_isnil(L, idx)) c->easy_setopt(e, CURLOPT_POSTREDIR, (long)(CURL_REDIR_POST_301 | CURL_REDIR_POST_302));
  }
}

/* start(url, method, header_lines, body, follow, max_redirects,
 * connect_timeout, ca_file, signal) -> true, transfer | false, reason |
 * nil, code, message. The arguments are checked by the Lua half. */
static int l_start(lua_State *L) {
  const char *url = ebb_check_cstring(L, 1, "url");
  const char *method = ebb_check_cstring(L, 2, "method");
  const char *ca_file = ebb_opt_cstring(L, 8, "ca_file", NULL);
  ebb_signal *signal = ebb_opt_signal(L, 9);
  const char *why = NULL;
  const curl_lib *c;
  transfer *t, **box;
  int r;
  luaL_checktype(L, 3, LUA_TTABLE);
  if ((r = ebb_request_begin(L, 9)) != 0) return r;
  if (!(c = http_multi_open(&why))) {
    lua_pushnil(L);
    lua_pushliteral(L, "NOT_BUILT_IN");
    lua_pushstring(L, why);
    return 3;
  }
  box = lua_newuserdata(L, sizeof *box);
  *box = NULL;
  luaL_getmetatable(L, TRANSFER_MT);
  lua_setmetatable(L, -2);
  if (!(t = *box = transfer_new(c, url)) || !set_headers(L, c, t, 3)) return luaL_error(L, "out of memory");
  set_body(L, c, t, 4, method);
  t->follow = lua_toboolean(L, 5);
  c->easy_setopt(t->job.easy, CURLOPT_FOLLOWLOCATION, (long)t->follow);
  c->easy_setopt(t->job.easy, CURLOPT_MAXREDIRS, (long)luaL_optinteger(L, 6, 20));
  if (!lua_isnil(L, 7)) c->easy_setopt(t->job.easy, CURLOPT_CONNECTTIMEOUT_MS, (long)ebb_check_ms(L, 7, "connect_timeout"));
  if (ca_file) c->easy_setopt(t->job.easy, CURLOPT_CAINFO, ca_file);
  if (transfer_start(L, t, signal, 9) != CURLM_OK) return luaL_error(L, "curl_multi_add_handle failed");
  lua_pushboolean(L, 1);
  lua_pushvalue(L, -2);
  return 2;
}

static void wait_cancelled(ebb_wait *w, int handed) {
  (void)handed;
  transfer_cancel(ebb_wait_want(w)->owner);
}

/* Waits until t is ready for `kind`, then returns what transfer_push does;
 * the signal at signal_idx (0: none) ends the wait and the transfer. */
static int await(lua_State *L, transfer *t, int kind, int signal_idx) {
  ebb_want want = {.owner = t, .on_cancel = wait_cancelled, .kind = kind};
  int n;
  if ((n = ebb_check_abort(L, signal_idx)) != 0) {
    transfer_cancel(t);
    return n;
  }
  if (transfer_ready(t, kind)) return transfer_push(L, t, kind);
  n = ebb_wait_with(L, &t->waiters, -1, signal_idx, &want);
  if (lua_status(L) != LUA_YIELD) transfer_cancel(t); /* cancelled before it waited */
  return n;
}

/* head(t) -> true, status, header lines, url: once the response's head came */
static int l_head(lua_State *L) { return await(L, check_transfer(L), K_HEAD, 0); }

/* read(t [, signal]) -> true, chunk | true (the end): what arrived since
 * the last read */
static int l_read(lua_State *L) {
  transfer *t = check_transfer(L);
  ebb_opt_signal(L, 2);
  return await(L, t, K_READ, lua_isnoneornil(L, 2) ? 0 : 2);
}

/* write(t, chunk) -> true once curl has sent it; write(t, nil): the end of
 * a streamed body. */
static int l_write(lua_State *L) {
  transfer *t = check_transfer(L);
  size_t len = 0;
  const char *chunk = lua_isnil(L, 2) ? NULL : luaL_checklstring(L, 2, &len);
  if (t->state != T_RUNNING || !t->streamed || t->upload_ended) return transfer_push(L, t, K_WRITE);
  if (!chunk) {
    t->upload_ended = 1;
  } else if (len) {
    lua_pushvalue(L, 2);
    t->chunk_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    t->chunk = chunk;
    t->chunk_left = len;
  }
  if (t->send_paused) {
    t->send_paused = 0;
    transfer_apply_pause(t);
  }
  return await(L, t, K_WRITE, 0);
}

/* close(t): ends the transfer now if it still runs */
static int l_close(lua_State *L) {
  transfer_cancel(check_transfer(L));
  return 0;
}

/* buffered(t) -> bytes buffered now, the most ever buffered */
static int l_buffered(lua_State *L) {
  transfer *t = check_transfer(L);
  lua_pushnumber(L, (lua_Number)t->body_len);
  lua_pushnumber(L, (lua_Number)t->body_peak);
  return 2;
}

/* counts() -> transfers curl runs, sockets it watches */
static int l_counts(lua_State *L) {
  int jobs, sockets;
  http_multi_counts(&jobs, &sockets);
  lua_pushinteger(L, jobs);
  lua_pushinteger(L, sockets);
  return 2;
}

int luaopen_ebb_http_client_core(lua_State *L) {
  static const luaL_Reg fns[] = {{"start", l_start}, {"head", l_head}, {"read", l_read}, {"write", l_write},
                                 {"close", l_close}, {"buffered", l_buffered}, {"counts", l_counts},
                                 {NULL, NULL}};
  ebb_new_metatable(L, TRANSFER_MT, transfer_gc, NULL);
  lua_pop(L, 1);
  return ebb_new_module(L, fns);
}
