/* Opens libcurl at the first request (see curl_lib.h) and names its error
 * codes as curl's headers do. */
#include "curl_lib.h"
#include "dlsyms.h"

static curl_lib lib;
static const char *open_error;

#define SYMBOL(field, name) DLSYM_SLOT(curl_lib, field, name)

static const dlsym_slot symbols[] = {
  SYMBOL(global_init, "curl_global_init"), SYMBOL(global_cleanup, "curl_global_cleanup"),
  SYMBOL(multi_init, "curl_multi_init"), SYMBOL(multi_setopt, "curl_multi_setopt"),
  SYMBOL(multi_add_handle, "curl_multi_add_handle"), SYMBOL(multi_remove_handle, "curl_multi_remove_handle"),
  SYMBOL(multi_socket_action, "curl_multi_socket_action"), SYMBOL(multi_assign, "curl_multi_assign"),
  SYMBOL(multi_info_read, "curl_multi_info_read"), SYMBOL(multi_cleanup, "curl_multi_cleanup"),
  SYMBOL(easy_init, "curl_easy_init"), SYMBOL(easy_setopt, "curl_easy_setopt"),
  SYMBOL(easy_getinfo, "curl_easy_getinfo"), SYMBOL(easy_pause, "curl_easy_pause"),
  SYMBOL(easy_cleanup, "curl_easy_cleanup"), SYMBOL(easy_strerror, "curl_easy_strerror"),
  SYMBOL(slist_append, "curl_slist_append"), SYMBOL(slist_free_all, "curl_slist_free_all"),
};

/* Process-wide: libcurl's global handle is made once, by whichever thread
 * fetches first. */
static void open_once(void) {
  switch (dlsyms_open("libcurl.so.4", symbols, sizeof symbols / sizeof symbols[0], &lib)) {
  case 1:
    open_error = "libcurl.so.4 cannot be opened (install libcurl4)";
    return;
  case 2:
    open_error = "libcurl.so.4 lacks a function ebb calls (libcurl 7.88 or later is needed)";
    return;
  }
  if (lib.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) open_error = "curl_global_init failed";
}

const curl_lib *curl_lib_open(const char **why) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  return dlsyms_once(&once, open_once, &open_error, &lib, why);
}

const char *curl_code_name(CURLcode code) {
  switch (code) {
#define NAME(c) \
  case CURLE_##c: \
    return #c;
    NAME(OK) NAME(UNSUPPORTED_PROTOCOL) NAME(FAILED_INIT) NAME(URL_MALFORMAT) NAME(NOT_BUILT_IN)
    NAME(COULDNT_RESOLVE_PROXY) NAME(COULDNT_RESOLVE_HOST) NAME(COULDNT_CONNECT) NAME(WEIRD_SERVER_REPLY)
    NAME(HTTP2) NAME(PARTIAL_FILE) NAME(HTTP_RETURNED_ERROR) NAME(WRITE_ERROR) NAME(READ_ERROR)
    NAME(OUT_OF_MEMORY) NAME(OPERATION_TIMEDOUT) NAME(RANGE_ERROR) NAME(SSL_CONNECT_ERROR)
    NAME(BAD_DOWNLOAD_RESUME) NAME(ABORTED_BY_CALLBACK) NAME(BAD_FUNCTION_ARGUMENT) NAME(INTERFACE_FAILED)
    NAME(TOO_MANY_REDIRECTS) NAME(UNKNOWN_OPTION) NAME(GOT_NOTHING) NAME(SSL_ENGINE_NOTFOUND)
    NAME(SEND_ERROR) NAME(RECV_ERROR) NAME(SSL_CERTPROBLEM) NAME(SSL_CIPHER) NAME(PEER_FAILED_VERIFICATION)
    NAME(BAD_CONTENT_ENCODING) NAME(FILESIZE_EXCEEDED) NAME(SEND_FAIL_REWIND) NAME(LOGIN_DENIED)
    NAME(REMOTE_FILE_NOT_FOUND) NAME(SSL_CACERT_BADFILE) NAME(SSL_SHUTDOWN_FAILED) NAME(AGAIN)
    NAME(SSL_CRL_BADFILE) NAME(SSL_ISSUER_ERROR) NAME(CHUNK_FAILED) NAME(NO_CONNECTION_AVAILABLE)
    NAME(SSL_PINNEDPUBKEYNOTMATCH) NAME(SSL_INVALIDCERTSTATUS) NAME(HTTP2_STREAM) NAME(RECURSIVE_API_CALL)
    NAME(AUTH_ERROR) NAME(HTTP3) NAME(QUIC_CONNECT_ERROR) NAME(PROXY) NAME(SSL_CLIENTCERT)
    NAME(UNRECOVERABLE_POLL)
#undef NAME
  default:
    return "CURL_ERROR";
  }
}
