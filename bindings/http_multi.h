/* The one curl multi handle of the process, driven by the loop: each of
 * curl's sockets is watched by a uv_poll, its timer is a uv_timer (curl's
 * deadlines are its own, in real time). Made at the first request, closed at
 * exit. A job is an easy handle that the multi runs until curl is done. */
#ifndef EBB_HTTP_MULTI_H
#define EBB_HTTP_MULTI_H

#include "../host/ebb.h"
#include "curl_lib.h"

typedef struct http_job {
  CURL *easy;            /* NULL once cleaned up */
  ebb_node link;         /* in the multi's list while curl runs it */
  ebb_node dirty;        /* in the list of jobs to settle, when marked */
  /* curl has ended the transfer with rc (the job is out of the multi) */
  void (*finished)(struct http_job *j, CURLcode rc);
  /* after curl's callbacks have run: wakes who waits (runs no Lua code, but
   * may make Lua values, which curl's callbacks must not) */
  void (*settle)(struct http_job *j);
} http_job;

/* libcurl and the multi handle, made on first use; NULL, *why set, when
 * libcurl cannot be opened. */
const curl_lib *http_multi_open(const char **why);
/* Starts the job's easy handle (CURLOPT_PRIVATE is set to the job). */
CURLMcode http_multi_add(http_job *j);
/* Stops a job curl still runs and cleans its easy handle up; call from
 * outside curl's callbacks only. */
void http_multi_drop(http_job *j);
/* The job is to be settled once curl's callbacks are over. */
void http_multi_mark(http_job *j);
/* Soon (on the next turn of the loop) lets curl act on what changed outside
 * its callbacks (a transfer resumed: curl_easy_pause may hand data over at
 * once and ask for nothing more), and settles the jobs marked meanwhile. */
void http_multi_soon(void);
/* Jobs curl runs, and sockets it has asked to be watched (for specs). */
void http_multi_counts(int *jobs, int *sockets);

#endif
