/* The one clock: monotonic milliseconds, real or frozen, and the heap of every
 * timer in the host. Timers fire from the scheduler loop, never inside libuv. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "host.h"

static EBB_THREAD_LOCAL struct {
  int mode;
  double base;       /* clock reading when real time was last (re)started */
  uint64_t hr_base;  /* uv_hrtime() at that moment */
  double frozen_at;  /* the reading while frozen */
  ebb_timer **heap;
  size_t len, cap;
  uint32_t seq;      /* wraps: compared by difference (see earlier) */
  uv_timer_t uv;     /* wakes the loop for the earliest deadline in real time */
  int uv_active;
  size_t strong;     /* armed timers that are not weak */
  /* the fire functions, a timer naming its own by index: a timer is then
   * 16 bytes, not 24 (fires[0] stays NULL: a timer with none) */
  void (*fires[8])(ebb_timer *);
} clk;

/* A heap index has 28 bits: past this many armed timers the host stops. */
#define TIMERS_MAX ((size_t)1 << 27)

double ebb_now(void) {
  if (clk.mode != EBB_CLOCK_REAL) return clk.frozen_at;
  return clk.base + (double)(uv_hrtime() - clk.hr_base) / 1e6;
}

/* Two timers with the same deadline started less than 2^31 starts apart
 * keep their order across the sequence's wrap. */
static int earlier(const ebb_timer *a, const ebb_timer *b) {
  return a->deadline < b->deadline || (a->deadline == b->deadline && (int32_t)(a->seq - b->seq) < 0);
}

static void heap_set(size_t i, ebb_timer *t) {
  clk.heap[i] = t;
  t->heap_index = (int)i;
}

static void sift_up(size_t i) {
  ebb_timer *t = clk.heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!earlier(t, clk.heap[p])) break;
    heap_set(i, clk.heap[p]);
    i = p;
  }
  heap_set(i, t);
}

static void sift_down(size_t i) {
  ebb_timer *t = clk.heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= clk.len) break;
    if (c + 1 < clk.len && earlier(clk.heap[c + 1], clk.heap[c])) c++;
    if (!earlier(clk.heap[c], t)) break;
    heap_set(i, clk.heap[c]);
    i = c;
  }
  heap_set(i, t);
}

void ebb_timer_set_fire(ebb_timer *t, void (*fire)(ebb_timer *)) {
  unsigned i;
  if (!fire) {
    t->fire_kind = 0;
    return;
  }
  for (i = 1; i < sizeof clk.fires / sizeof clk.fires[0]; i++) {
    if (!clk.fires[i]) clk.fires[i] = fire;
    if (clk.fires[i] == fire) {
      t->fire_kind = i;
      return;
    }
  }
  fputs("ebb: more kinds of timers than the clock has room for\n", stderr);
  abort();
}

void ebb_timer_init(ebb_timer *t, void (*fire)(ebb_timer *)) {
  t->deadline = 0;
  t->seq = 0;
  t->heap_index = -1;
  t->weak = 0;
  ebb_timer_set_fire(t, fire);
}

static void fire_timer(ebb_timer *t) { clk.fires[t->fire_kind](t); }

void ebb_timer_set_weak(ebb_timer *t, int weak) {
  weak = !!weak;
  if ((int)t->weak == weak) return;
  t->weak = weak;
  if (ebb_timer_armed(t)) clk.strong += weak ? (size_t)-1 : 1;
}

void ebb_timer_start(ebb_timer *t, double delay_ms) {
  if (!(delay_ms > 0)) delay_ms = 0; /* NaN and negatives: fire at once */
  ebb_timer_start_at(t, ebb_now() + delay_ms);
}

void ebb_timer_start_at(ebb_timer *t, double deadline) {
  if (ebb_timer_armed(t)) ebb_timer_stop(t);
  if (clk.len >= TIMERS_MAX) {
    fputs("ebb: too many timers at once\n", stderr); /* as an allocation failing: no state to raise in */
    abort();
  }
  if (clk.len == clk.cap) {
    size_t cap = clk.cap ? clk.cap * 2 : 256;
    ebb_timer **h = realloc(clk.heap, cap * sizeof *h);
    if (!h) abort();
    clk.heap = h;
    clk.cap = cap;
  }
  t->deadline = deadline;
  t->seq = ++clk.seq;
  if (!t->weak) clk.strong++;
  heap_set(clk.len++, t);
  sift_up(clk.len - 1);
}

void ebb_timer_stop(ebb_timer *t) {
  size_t i;
  if (!ebb_timer_armed(t)) return;
  i = (size_t)t->heap_index;
  t->heap_index = -1;
  if (!t->weak) clk.strong--;
  if (i == --clk.len) return;
  heap_set(i, clk.heap[clk.len]);
  if (i > 0 && earlier(clk.heap[i], clk.heap[(i - 1) / 2])) sift_up(i);
  else sift_down(i);
}

void ebb_timer_take_place(ebb_timer *from, ebb_timer *to) {
  to->deadline = from->deadline;
  to->seq = from->seq;
  to->weak = from->weak;
  heap_set((size_t)from->heap_index, to);
  from->heap_index = -1;
}

size_t ebb_timer_count(void) { return clk.strong; }

size_t clock_timer_count(void) { return clk.len; }

static ebb_timer *pop_earliest(void) {
  ebb_timer *t = clk.heap[0];
  ebb_timer_stop(t);
  return t;
}

int clock_fire_due(void) {
  int fired = 0;
  double now;
  if (clk.mode != EBB_CLOCK_REAL || !clk.len) return 0; /* no timer: no need to read the clock */
  now = ebb_now();
  while (clk.len && clk.heap[0]->deadline <= now) {
    ebb_timer *t = pop_earliest();
    fire_timer(t);
    fired++;
  }
  return fired;
}

int ebb_clock_fire_next(double limit) {
  ebb_timer *t;
  if (!clk.len || clk.heap[0]->deadline > limit || isinf(clk.heap[0]->deadline)) return 0;
  t = pop_earliest();
  if (t->deadline > clk.frozen_at) clk.frozen_at = t->deadline;
  fire_timer(t);
  return 1;
}

double ebb_clock_next_deadline(void) { return clk.len ? clk.heap[0]->deadline : -1; }

void ebb_clock_set_frozen_time(double ms) {
  if (ms > clk.frozen_at) clk.frozen_at = ms;
}

int ebb_clock_mode(void) { return clk.mode; }

void ebb_clock_set_mode(int mode) {
  if (mode == clk.mode) return;
  if (mode == EBB_CLOCK_REAL) {
    clk.base = clk.frozen_at;
    clk.hr_base = uv_hrtime();
  } else if (clk.mode == EBB_CLOCK_REAL) {
    clk.frozen_at = ebb_now();
  }
  clk.mode = mode;
  clock_arm();
}

/* The scheduler loop fires due timers; this only makes sure uv_run returns
 * for them, and re-arms when libuv woke it early. */
void clock_arm(void);

static void on_uv_timer(uv_timer_t *h) {
  clk.uv_active = 0;
  if (!clk.len) return;
  if (clk.heap[0]->deadline > ebb_now()) clock_arm(); /* woke early: libuv rounds */
  /* Due now. libuv may run this before it polls (uv_run runs timers first):
   * with no timer left armed, the poll would then block until some other
   * handle fires, with our timer due and unfired. Stopping the loop makes
   * that poll return at once, so the scheduler fires the timer. */
  else uv_stop(h->loop);
}

void clock_arm(void) {
  double wait;
  if (clk.mode != EBB_CLOCK_REAL || !clk.len) {
    if (clk.uv_active) uv_timer_stop(&clk.uv);
    clk.uv_active = 0;
    return;
  }
  /* libuv counts from its cached loop time, which is stale after a busy
   * stretch without polling: refresh it, or the timer fires early and the
   * poll then sleeps until some later handle */
  uv_update_time(clk.uv.loop);
  wait = clk.heap[0]->deadline - ebb_now();
  if (wait > 1e12) wait = 1e12; /* "forever" still has to fit libuv's integer */
  /* libuv counts whole milliseconds; round up so we never wake early */
  uv_timer_start(&clk.uv, on_uv_timer, wait <= 0 ? 0 : (uint64_t)wait + 1, 0);
  /* weak timers alone do not keep the loop, and so the process, alive */
  if (clk.strong) uv_ref((uv_handle_t *)&clk.uv);
  else uv_unref((uv_handle_t *)&clk.uv);
  clk.uv_active = 1;
}

void clock_init(uv_loop_t *loop) {
  clk.mode = EBB_CLOCK_REAL;
  clk.base = 0;
  clk.hr_base = uv_hrtime();
  uv_timer_init(loop, &clk.uv);
}

void clock_close(void) {
  free(clk.heap);
  clk.heap = NULL;
  clk.len = clk.cap = 0;
  if (!uv_is_closing((uv_handle_t *)&clk.uv)) uv_close((uv_handle_t *)&clk.uv, NULL);
}
