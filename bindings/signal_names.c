/* The names of the signals ebb knows, and which of them a script may listen to. */
#include <signal.h>
#include <string.h>
#include "signal_names.h"

#define UNCATCHABLE "cannot be caught: the system acts on it without telling the process"
#define FAULT "reports a fault of the process itself, which cannot go on running a script after it"

const signal_name signal_names[] = {
  {"SIGHUP", SIGHUP, NULL},
  {"SIGINT", SIGINT, NULL},
  {"SIGQUIT", SIGQUIT, NULL},
  {"SIGTERM", SIGTERM, NULL},
  {"SIGUSR1", SIGUSR1, NULL},
  {"SIGUSR2", SIGUSR2, NULL},
  {"SIGWINCH", SIGWINCH, NULL},
  {"SIGCHLD", SIGCHLD, NULL},
  {"SIGCONT", SIGCONT, NULL},
  {"SIGTSTP", SIGTSTP, NULL},
  {"SIGTTIN", SIGTTIN, NULL},
  {"SIGTTOU", SIGTTOU, NULL},
  {"SIGURG", SIGURG, NULL},
  {"SIGXCPU", SIGXCPU, NULL},
  {"SIGXFSZ", SIGXFSZ, NULL},
  {"SIGVTALRM", SIGVTALRM, NULL},
  {"SIGPROF", SIGPROF, NULL},
  {"SIGKILL", SIGKILL, UNCATCHABLE},
  {"SIGSTOP", SIGSTOP, UNCATCHABLE},
  {"SIGPIPE", SIGPIPE, "is ebb's own: a write to a closed pipe or socket is an EPIPE error"},
  {"SIGALRM", SIGALRM, "is ebb's own: its real-time alarm"},
  {"SIGABRT", SIGABRT, FAULT},
  {"SIGSEGV", SIGSEGV, FAULT},
  {"SIGBUS", SIGBUS, FAULT},
  {"SIGFPE", SIGFPE, FAULT},
  {"SIGILL", SIGILL, FAULT},
  {"SIGTRAP", SIGTRAP, FAULT},
  {"SIGSYS", SIGSYS, FAULT},
  {NULL, 0, NULL}};

const signal_name *signal_by_name(const char *name, size_t len) {
  int i;
  if (strlen(name) != len) return NULL;
  for (i = 0; signal_names[i].name; i++)
    if (!strcmp(signal_names[i].name, name) || !strcmp(signal_names[i].name + 3, name)) return &signal_names[i];
  return NULL;
}

const char *signal_name_of(int num) {
  int i;
  for (i = 0; signal_names[i].name; i++)
    if (signal_names[i].num == num) return signal_names[i].name;
  return NULL;
}
