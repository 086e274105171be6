/* libcurl, opened with dlopen at the first request rather than linked:
 * linking it loads some thirty shared libraries at every start-up, which
 * costs a script that never fetches anything several milliseconds. */
#ifndef EBB_CURL_LIB_H
#define EBB_CURL_LIB_H

#include <curl/curl.h>

/* The functions of libcurl that ebb calls. */
typedef struct curl_lib {
  CURLcode (*global_init)(long flags);
  void (*global_cleanup)(void);
  CURLM *(*multi_init)(void);
  CURLMcode (*multi_setopt)(CURLM *m, CURLMoption option, ...);
  CURLMcode (*multi_add_handle)(CURLM *m, CURL *e);
  CURLMcode (*multi_remove_handle)(CURLM *m, CURL *e);
  CURLMcode (*multi_socket_action)(CURLM *m, curl_socket_t s, int ev_bitmask, int *running);
  CURLMcode (*multi_assign)(CURLM *m, curl_socket_t s, void *p);
  CURLMsg *(*multi_info_read)(CURLM *m, int *left);
  CURLMcode (*multi_cleanup)(CURLM *m);
  CURL *(*easy_init)(void);
  CURLcode (*easy_setopt)(CURL *e, CURLoption option, ...);
  CURLcode (*easy_getinfo)(CURL *e, CURLINFO info, ...);
  CURLcode (*easy_pause)(CURL *e, int bitmask);
  void (*easy_cleanup)(CURL *e);
  const char *(*easy_strerror)(CURLcode code);
  struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
  void (*slist_free_all)(struct curl_slist *list);
} curl_lib;

/* libcurl's functions, opened and curl_global_init'ed on the first call;
 * NULL when it cannot be opened (*why says why). */
const curl_lib *curl_lib_open(const char **why);
/* The name of a CURLcode without its CURLE_ prefix ("COULDNT_CONNECT"). */
const char *curl_code_name(CURLcode code);

#endif
