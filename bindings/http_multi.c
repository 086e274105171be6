/* ebb.http's client, the loop side: libcurl's multi-socket API over uv_poll
 * and uv_timer (see http_multi.h). */
#include <stdlib.h>
#include "http_multi.h"

typedef struct socket_watch {
  uv_poll_t poll;
  curl_socket_t fd;
  ebb_node link;
} socket_watch;

static EBB_THREAD_LOCAL struct {
  const curl_lib *c;
  CURLM *multi;
  uv_timer_t timer;
  uv_timer_t soon;    /* http_multi_soon's */
  uv_async_t alive;   /* referenced while a job runs: the loop stays up for it */
  ebb_handle track;   /* closes the multi at exit */
  ebb_node jobs, dirty, watches;
  int running;        /* jobs in the multi */
  int acting;         /* inside curl_multi_socket_action */
} M;

static void free_watch(uv_handle_t *h) { free(ebb_container(h, socket_watch, poll)); }

static void unwatch(socket_watch *w) {
  ebb_node_unlink(&w->link);
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, free_watch);
}

/* Ends the jobs curl has finished, then settles the marked ones. */
static void after_action(void) {
  CURLMsg *msg;
  ebb_node *n;
  int left;
  while ((msg = M.c->multi_info_read(M.multi, &left)) != NULL) {
    http_job *j;
    if (msg->msg != CURLMSG_DONE) continue;
    M.c->easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
    CURLcode rc = msg->data.result;
    M.c->multi_remove_handle(M.multi, j->easy);
    ebb_node_unlink(&j->link);
    if (--M.running == 0) uv_unref((uv_handle_t *)&M.alive);
    j->finished(j, rc);
    http_multi_mark(j);
  }
  while ((n = ebb_list_shift(&M.dirty)) != NULL) {
    http_job *j = ebb_container(n, http_job, dirty);
    j->settle(j);
  }
}

static void act(curl_socket_t fd, int events) {
  int running;
  M.acting++;
  M.c->multi_socket_action(M.multi, fd, events, &running);
  M.acting--;
  if (!M.acting) after_action();
}

static void on_poll(uv_poll_t *poll, int status, int events) {
  socket_watch *w = ebb_container(poll, socket_watch, poll);
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  act(w->fd, flags);
}

static void on_timer(uv_timer_t *timer) {
  (void)timer;
  act(CURL_SOCKET_TIMEOUT, 0);
}

void http_multi_soon(void) {
  if (!uv_is_active((uv_handle_t *)&M.soon)) uv_timer_start(&M.soon, on_timer, 0, 0);
}

/* CURLMOPT_SOCKETFUNCTION: what curl wants to hear of a socket. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp) {
  socket_watch *w = socketp;
  int events = 0;
  (void)e, (void)userp;
  if (what == CURL_POLL_REMOVE) {
    if (w) unwatch(w);
    M.c->multi_assign(M.multi, fd, NULL);
    return 0;
  }
  if (!w) {
    if (!(w = calloc(1, sizeof *w))) return -1;
    if (uv_poll_init_socket(ebb_loop(), &w->poll, fd) != 0) {
      free(w);
      return -1;
    }
    w->fd = fd;
    uv_unref((uv_handle_t *)&w->poll); /* an idle kept-alive connection holds nothing up */
    ebb_list_push(&M.watches, &w->link);
    M.c->multi_assign(M.multi, fd, w);
  }
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  uv_poll_start(&w->poll, events, on_poll);
  return 0;
}

/* CURLMOPT_TIMERFUNCTION: when curl wants to be called with no event. */
static int on_curl_timer(CURLM *multi, long ms, void *userp) {
  (void)multi, (void)userp;
  if (ms < 0) uv_timer_stop(&M.timer);
  else uv_timer_start(&M.timer, on_timer, (uint64_t)ms, 0);
  return 0;
}

/* At exit: every job still running is dropped, every socket watch closed. */
static void close_all(ebb_handle *h) {
  ebb_node *n;
  (void)h;
  while ((n = M.jobs.next) != &M.jobs) {
    http_job *j = ebb_container(n, http_job, link);
    http_multi_drop(j);
    j->finished(j, CURLE_ABORTED_BY_CALLBACK);
  }
  M.c->multi_cleanup(M.multi);
  M.multi = NULL;
  while ((n = M.watches.next) != &M.watches) unwatch(ebb_container(n, socket_watch, link));
  uv_close((uv_handle_t *)&M.timer, NULL);
  uv_close((uv_handle_t *)&M.soon, NULL);
  uv_close((uv_handle_t *)&M.alive, NULL);
  if (ebb_on_main_thread()) M.c->global_cleanup(); /* process-wide: once, at the end */
}

const curl_lib *http_multi_open(const char **why) {
  if (M.multi) return M.c;
  if (!(M.c = curl_lib_open(why))) return NULL;
  if (!(M.multi = M.c->multi_init())) {
    *why = "curl_multi_init failed";
    return NULL;
  }
  ebb_list_init(&M.jobs);
  ebb_list_init(&M.dirty);
  ebb_list_init(&M.watches);
  M.c->multi_setopt(M.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  M.c->multi_setopt(M.multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  uv_timer_init(ebb_loop(), &M.timer);
  uv_unref((uv_handle_t *)&M.timer);
  uv_timer_init(ebb_loop(), &M.soon);
  uv_unref((uv_handle_t *)&M.soon);
  uv_async_init(ebb_loop(), &M.alive, NULL);
  uv_unref((uv_handle_t *)&M.alive);
  ebb_handle_track(&M.track, (uv_handle_t *)&M.alive, close_all, 0);
  ebb_handle_lasting(&M.track);
  M.track.kind = "http client";
  return M.c;
}

CURLMcode http_multi_add(http_job *j) {
  CURLMcode rc;
  M.c->easy_setopt(j->easy, CURLOPT_PRIVATE, (void *)j);
  if ((rc = M.c->multi_add_handle(M.multi, j->easy)) != CURLM_OK) return rc;
  ebb_list_push(&M.jobs, &j->link);
  if (M.running++ == 0) uv_ref((uv_handle_t *)&M.alive);
  return CURLM_OK;
}

void http_multi_drop(http_job *j) {
  ebb_node_unlink(&j->dirty);
  if (!j->easy) return;
  if (ebb_node_linked(&j->link)) {
    M.c->multi_remove_handle(M.multi, j->easy);
    ebb_node_unlink(&j->link);
    if (--M.running == 0) uv_unref((uv_handle_t *)&M.alive);
  }
  M.c->easy_cleanup(j->easy);
  j->easy = NULL;
}

void http_multi_mark(http_job *j) {
  if (!ebb_node_linked(&j->dirty)) ebb_list_push(&M.dirty, &j->dirty);
}

void http_multi_counts(int *jobs, int *sockets) {
  ebb_node *n;
  *jobs = M.running;
  *sockets = 0;
  if (M.multi)
    for (n = M.watches.next; n != &M.watches; n = n->next) ++*sockets;
}
