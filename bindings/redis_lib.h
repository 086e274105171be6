/* hiredis, opened with dlopen at the first Redis connection rather than
 * linked: linking it adds a shared library to every start-up (about 4% of
 * `ebb -e ''`), for the few scripts that speak to Redis. Only its reply
 * reader and its command formatter are used: the bytes go over ebb's own
 * streams. */
#ifndef EBB_REDIS_LIB_H
#define EBB_REDIS_LIB_H

#include <hiredis/hiredis.h>

typedef struct redis_lib {
  redisReader *(*reader_create)(redisReplyObjectFunctions *fn);
  void (*reader_free)(redisReader *r);
  int (*reader_feed)(redisReader *r, const char *buf, size_t len);
  int (*reader_get_reply)(redisReader *r, void **reply);
  /* the sds form: its numbers are written by sds's own formatter, where the
   * plain redisFormatCommandArgv calls sprintf for every argument */
  int (*format_command_argv)(sds *target, int argc, const char **argv, const size_t *argvlen);
  void (*free_command)(sds cmd);
} redis_lib;

/* hiredis's functions, opened once; NULL when it cannot be (*why says why). */
const redis_lib *redis_lib_open(const char **why);

#endif
