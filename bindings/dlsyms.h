/* A shared library opened at its first use (dlopen) rather than linked, its
 * functions found by name into a table of pointers: what curl_lib.c and
 * redis_lib.c share. */
#ifndef EBB_DLSYMS_H
#define EBB_DLSYMS_H

#include <pthread.h>
#include <stddef.h>

/* A function of the library: its name, and where its pointer goes in the table. */
typedef struct dlsym_slot {
  size_t offset;
  const char *name;
} dlsym_slot;

#define DLSYM_SLOT(type, field, name) {offsetof(type, field), name}

/* Opens soname and fills table from its n symbols: 0, or 1 when the library
 * cannot be opened, 2 when a symbol is missing. */
int dlsyms_open(const char *soname, const dlsym_slot *symbols, size_t n, void *table);

/* Runs open_once once in the process (by whichever thread, the main one or a
 * worker's, asks first); then table, or NULL with *why set to *error when
 * open_once set it. */
const void *dlsyms_once(pthread_once_t *once, void (*open_once)(void), const char *const *error, const void *table,
                        const char **why);

#endif
