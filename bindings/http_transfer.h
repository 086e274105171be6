/* One HTTP request of ebb.http's client while curl runs it and after: the
 * response's head, its body buffered up to a bound (beyond it the transfer is
 * paused until the reader takes what is there), a streamed upload one chunk at
 * a time, and the tasks that wait on it. */
#ifndef EBB_HTTP_TRANSFER_H
#define EBB_HTTP_TRANSFER_H

#include "http_multi.h"

enum { T_NEW, T_RUNNING, T_DONE, T_ABORTED, T_CANCELLED };
enum { K_HEAD, K_READ, K_WRITE }; /* what a task waits for */

typedef struct transfer {
  http_job job;
  int state;
  CURLcode rc;            /* curl's result, once T_DONE */
  int reason_ref;         /* the signal's reason, once T_ABORTED */
  ebb_signal *signal;     /* aborts the transfer (the user's and the timeout's) */
  int signal_ref;
  ebb_listener on_abort;
  ebb_waitlist waiters;
  struct curl_slist *headers;
  int body_ref;           /* the request body, a string curl reads in place */
  int follow;             /* redirects are followed */
  /* the response */
  long status;
  int head_done;
  char *url;              /* where the response came from, after redirects */
  char *head;             /* the header lines of the response */
  size_t head_len, head_cap;
  char *body;             /* what arrived and nobody has read yet */
  size_t body_len, body_cap, body_peak;
  int recv_paused, send_paused;
  /* a streamed upload: the chunk curl is reading, and whether it was the last */
  int chunk_ref;
  const char *chunk;
  size_t chunk_left;
  int streamed, upload_ended;
  char error[CURL_ERROR_SIZE];
} transfer;

/* A new transfer of url, set up but for what the caller adds, or NULL (out
 * of memory). */
transfer *transfer_new(const curl_lib *c, const char *url);
/* Starts it (after the caller's options); the signal (may be NULL, at
 * signal_idx on L) aborts it while it runs. */
CURLMcode transfer_start(lua_State *L, transfer *t, ebb_signal *signal, int signal_idx);
/* Ends it now (closed, collected, its reader cancelled): tasks that wait on
 * it are told, curl lets it go. */
void transfer_cancel(transfer *t);
/* Whether what a task waiting for `kind` waits on is there. */
int transfer_ready(const transfer *t, int kind);
/* Pushes what a wait for `kind` returns (true, values | false, reason | nil,
 * code, message); takes what it returns (a read takes the buffered body). */
int transfer_push(lua_State *L, transfer *t, int kind);
/* Frees what is left (the transfer is not running any more). */
void transfer_free(transfer *t);
/* Pauses or resumes curl's reading and sending as recv_paused and
 * send_paused say (reading waits on a reader, sending on the script's next
 * chunk). */
void transfer_apply_pause(transfer *t);

#endif
