/* The names of the signals ebb knows, shared by ebb.process (sending them)
 * and ebb.signal (listening to them). */
#ifndef EBB_SIGNAL_NAMES_H
#define EBB_SIGNAL_NAMES_H

typedef struct signal_name {
  const char *name; /* "SIGHUP" */
  int num;
  const char *unlistenable; /* NULL: a script may listen to it; else why not */
} signal_name;

extern const signal_name signal_names[]; /* ends with a NULL name */

/* "SIGHUP" or "HUP" (the whole string: len counts a NUL byte); NULL if unknown */
const signal_name *signal_by_name(const char *name, size_t len);
/* NULL if the number has no name here */
const char *signal_name_of(int num);

#endif
