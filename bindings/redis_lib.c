/* Opens hiredis at the first use (see redis_lib.h). */
#include "dlsyms.h"
#include "redis_lib.h"

static redis_lib lib;
static const char *open_error;

#define SYMBOL(field, name) DLSYM_SLOT(redis_lib, field, name)

static const dlsym_slot symbols[] = {
  SYMBOL(reader_create, "redisReaderCreateWithFunctions"), SYMBOL(reader_free, "redisReaderFree"),
  SYMBOL(reader_feed, "redisReaderFeed"), SYMBOL(reader_get_reply, "redisReaderGetReply"),
  SYMBOL(format_command_argv, "redisFormatSdsCommandArgv"), SYMBOL(free_command, "redisFreeSdsCommand"),
};

/* Process-wide: by whichever thread connects first. The soname is the one of
 * the header ebb was built with: the reader's struct of callbacks changed in
 * hiredis 1.0. */
static void open_once(void) {
  int r = dlsyms_open("libhiredis.so.0.14", symbols, sizeof symbols / sizeof symbols[0], &lib);
  if (r == 1) open_error = "libhiredis.so.0.14 cannot be opened (install libhiredis0.14)";
  if (r == 2) open_error = "libhiredis.so.0.14 lacks a function ebb calls";
}

const redis_lib *redis_lib_open(const char **why) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  return dlsyms_once(&once, open_once, &open_error, &lib, why);
}
