/* One real-time alarm (ITIMER_REAL, SIGALRM) shared by everything that must
 * act while the loop's thread is busy in Lua or blocked in C: each slot is a
 * deadline with what to do then, called in the signal handler (so it must be
 * async-signal-safe). The timer is set for the earliest armed slot.
 * Process-wide: worker threads block SIGALRM, so the main thread takes it. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include "host.h"

static struct {
  double at[ALARM_SLOTS]; /* monotonic ms; 0 when the slot is not armed */
  void (*fire[ALARM_SLOTS])(void);
  int installed;
} A;

static double monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void set_timer(double now) {
  struct itimerval t;
  double next = 0;
  for (int i = 0; i < ALARM_SLOTS; i++)
    if (A.at[i] > 0 && (next == 0 || A.at[i] < next)) next = A.at[i];
  memset(&t, 0, sizeof t);
  if (next > 0) {
    double ms = next > now ? next - now : 0;
    long long us = (long long)(ms * 1000) + 1; /* 0 would disarm it */
    t.it_value.tv_sec = us / 1000000;
    t.it_value.tv_usec = us % 1000000;
  }
  setitimer(ITIMER_REAL, &t, NULL);
}

static void on_alarm(int signum) {
  (void)signum;
  double now = monotonic_ms();
  for (int i = 0; i < ALARM_SLOTS; i++) {
    if (A.at[i] > 0 && A.at[i] <= now) {
      void (*fire)(void) = A.fire[i];
      A.at[i] = 0; /* before it runs: it may arm its slot again */
      fire();
    }
  }
  set_timer(monotonic_ms());
}

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigfillset(&sa.sa_mask); /* the slots change with every other signal blocked */
  sa.sa_flags = SA_RESTART;  /* a read in C goes on, as with SIGINT */
  sigaction(SIGALRM, &sa, NULL);
  A.installed = 1;
}

/* Arms `slot` to call fire in ms (or disarms it with fire NULL). Safe in a
 * signal handler: SIGALRM is blocked while the slots change. */
void alarm_set(int slot, double ms, void (*fire)(void)) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  if (!A.installed) install();
  double now = monotonic_ms();
  A.fire[slot] = fire;
  A.at[slot] = fire ? now + (ms > 0 ? ms : 0) + 1e-3 : 0;
  set_timer(now);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}
