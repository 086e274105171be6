/* Requests made on behalf of a task: the task awaits one, its callback
 * finishes it, and a waiter that goes first leaves it to end alone. */
#include "ebb.h"

int ebb_push_uv_error(lua_State *L, int err) {
  lua_pushnil(L);
  lua_pushstring(L, uv_err_name(err));
  lua_pushstring(L, uv_strerror(err));
  return 3;
}

void ebb_fail_all(ebb_waitlist *list, int err) {
  ebb_node *n;
  while ((n = ebb_list_shift(list)) != NULL) {
    ebb_wait *w = ebb_container(n, ebb_wait, link);
    lua_State *co = ebb_wake_push(w);
    if (co) ebb_wake_done(w, ebb_push_uv_error(co, err));
  }
}

int ebb_request_begin(lua_State *L, int signal_idx) {
  ebb_check_in_task(L);
  return ebb_check_abort(L, signal_idx);
}

static void abandon(ebb_request *r) {
  r->wait = NULL;
  if (r->abandon) r->abandon(r);
}

/* The waiter was aborted: a wake clears on_cancel, so nothing was handed. */
static void waiter_left(ebb_wait *w, int handed) {
  (void)handed;
  abandon(ebb_wait_want(w)->owner);
}

int ebb_request_await(lua_State *L, ebb_request *r, int signal_idx) {
  ebb_task *t = ebb_check_in_task(L);
  int n;
  r->wait = NULL;
  n = ebb_wait_with(L, NULL, -1, signal_idx, &(ebb_want){.owner = r, .on_cancel = waiter_left});
  /* set only once it has yielded: a yield that raises leaves a request that
   * nobody waits for, whose result is dropped */
  if (lua_status(L) == LUA_YIELD) r->wait = ebb_task_wait(t);
  else abandon(r);
  return n;
}

lua_State *ebb_request_finish(ebb_request *r, int status) {
  lua_State *co = r->wait ? ebb_wake_push(r->wait) : NULL;
  if (co && status < 0) {
    ebb_wake_done(r->wait, ebb_push_uv_error(co, status));
    co = NULL;
  }
  if (!co) r->wait = NULL;
  return co;
}

void ebb_request_done(ebb_request *r, int nresults, const ebb_want *give_back) {
  ebb_wake_handed(r->wait, nresults, give_back);
  r->wait = NULL;
}
