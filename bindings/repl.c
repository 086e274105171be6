/* ebb.repl.core: the REPL's terminal. libedit edits the line while the loop
 * runs (a uv_poll_t on stdin feeds rl_callback_read_char), keeps the history
 * and asks lua/ebb/repl.lua for completions; output made while the prompt is
 * shown is written above it. Evaluation and printing are in repl.lua. */
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include <editline/readline.h>
#include "../host/ebb.h"

typedef struct repl_poll {
  ebb_handle handle;
  uv_poll_t poll;
} repl_poll;

static EBB_THREAD_LOCAL struct {
  int started;
  repl_poll *in;
  ebb_wait *waiter;   /* the task in readline() */
  int showing;        /* a prompt is on screen, its line being edited */
  char *history;      /* the history file, or NULL */
  int complete_ref;   /* repl.lua's completer */
  char **matches;
  int nmatches, next_match;
  int tty;            /* 0: stdin is a pipe or file, read line by line without libedit */
  char *pending;      /* what was read from such stdin and not yet handed out */
  size_t npending;
  int eof;
  size_t prompt_len;
  struct termios saved; /* the terminal as we found it, restored at the end */
  int have_saved;
} P = { .complete_ref = LUA_NOREF };

static void stop_prompt(void) {
  if (!P.showing) return;
  P.showing = 0;
  uv_poll_stop(&P.in->poll);
  if (P.tty) {
    struct termios t;
    rl_callback_handler_remove(); /* the terminal goes back to cooked mode */
    /* but without echo while the input runs: what is typed ahead shows at
     * the next prompt, once, instead of garbled before it */
    if (P.started && tcgetattr(0, &t) == 0) {
      t.c_lflag &= ~(tcflag_t)ECHO;
      tcsetattr(0, TCSADRAIN, &t);
    }
  }
}

/* Ends readline()'s wait with the values the caller pushes: 1, 2 or 0 of them. */
static lua_State *deliver(void) {
  ebb_wait *w = P.waiter;
  P.waiter = NULL;
  return w ? ebb_wake_push(w) : NULL;
}

static void on_line(char *line) {
  ebb_wait *w = P.waiter;
  lua_State *co;
  stop_prompt();
  if ((co = deliver()) != NULL) {
    if (line) lua_pushstring(co, line);
    else lua_pushnil(co);
    ebb_wake_done(w, 1);
  }
  free(line);
}

/* Not a terminal: the next whole line of what was read (or the rest at the
 * end of input), NULL when there is none yet. */
static char *take_line(void) {
  char *nl = P.npending ? memchr(P.pending, '\n', P.npending) : NULL;
  size_t len = nl ? (size_t)(nl - P.pending) : P.npending;
  char *line;
  if (!nl && !(P.eof && P.npending)) return NULL;
  if (!(line = malloc(len + 1))) return NULL;
  memcpy(line, P.pending, len);
  line[len] = '\0';
  if (nl) len++;
  memmove(P.pending, P.pending + len, P.npending - len);
  P.npending -= len;
  return line;
}

static void fill(void) {
  char buf[4096], *grown;
  ssize_t n = read(0, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) P.eof = 1;
  else if ((grown = realloc(P.pending, P.npending + (size_t)n)) != NULL) {
    P.pending = grown;
    memcpy(P.pending + P.npending, buf, (size_t)n);
    P.npending += (size_t)n;
  } else P.eof = 1;
}

static void read_pipe(void) {
  char *line;
  fill();
  if ((line = take_line()) != NULL || P.eof) on_line(line);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)h;
  (void)events;
  if (status < 0) { /* the terminal is gone: as Ctrl-D */
    on_line(NULL);
    return;
  }
  if (P.tty) rl_callback_read_char();
  else read_pipe();
}

/* Ctrl-C at the prompt (the host's SIGINT handler asks first): the line is
 * dropped and readline() returns false and what was typed. */
static int on_sigint(void) {
  ebb_wait *w = P.waiter;
  lua_State *co;
  char *typed;
  if (!P.showing) return 0;
  /* libedit's rl_line_buffer ends at rl_end, not at a NUL */
  typed = strndup(rl_line_buffer ? rl_line_buffer : "", rl_line_buffer && rl_end > 0 ? (size_t)rl_end : 0);
  fputs("^C", stdout);
  stop_prompt();
  if ((co = deliver()) != NULL) {
    lua_pushboolean(co, 0);
    lua_pushstring(co, typed ? typed : "");
    ebb_wake_done(w, 2);
  }
  free(typed);
  return 1;
}

static void on_cancel(ebb_wait *w, int handed) {
  (void)w;
  (void)handed;
  P.waiter = NULL;
  stop_prompt();
}

/* readline(prompt) → the line; nil at end of input; false, typed on Ctrl-C */
static int l_readline(lua_State *L) {
  const char *prompt = ebb_check_cstring(L, 1, "prompt");
  ebb_task *t = ebb_check_in_task(L);
  int r;
  if (!P.started) return luaL_error(L, "the REPL's terminal is not started");
  if (P.waiter) return luaL_error(L, "readline is already waiting");
  if (!P.tty) {
    char *line = take_line();
    /* a file cannot be polled, and reading one never blocks for long */
    while (!P.in && !line && !P.eof) {
      fill();
      line = take_line();
    }
    if (line || P.eof) {
      if (line) lua_pushstring(L, line);
      else lua_pushnil(L);
      free(line);
      return 1;
    }
  }
  r = ebb_wait_with(L, NULL, -1, 0, &(ebb_want){.on_cancel = on_cancel});
  if (lua_status(L) != LUA_YIELD) return r; /* aborted already */
  P.waiter = ebb_task_wait(t);
  P.showing = 1;
  if (P.tty) {
    P.prompt_len = strlen(prompt);
    rl_callback_handler_install(prompt, on_line);
    rl_end = rl_point = 0; /* libedit updates them only as keys are read */
  }
  uv_poll_start(&P.in->poll, UV_READABLE, on_readable);
  return r;
}

/* write(text, fd): above the prompt while one is shown */
static int l_write(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  FILE *f = ebb_opt_whole(L, 2, "fd", 1, 2, 1) == 2 ? stderr : stdout;
  if (P.showing && P.tty) {
    /* up to the prompt's row (a long line wraps), then clear to the end */
    struct winsize ws;
    size_t cols = ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    size_t rows = (P.prompt_len + (rl_point > 0 ? (size_t)rl_point : 0)) / cols;
    if (rows) fprintf(stdout, "\x1b[%uA", (unsigned)rows);
    fputs("\r\x1b[J", stdout);
    fflush(stdout);
  }
  fwrite(s, 1, len, f);
  if (P.showing && P.tty) {
    if (len && s[len - 1] != '\n') fputc('\n', f);
    fflush(f);
    rl_forced_update_display();
  }
  fflush(f);
  return 0;
}

static int l_showing(lua_State *L) {
  lua_pushboolean(L, P.showing && P.tty);
  return 1;
}

/* ---- completion: repl.lua's completer gives the whole list at once ---- */

static void free_matches(void) {
  int i;
  for (i = P.next_match; i < P.nmatches; i++) free(P.matches[i]);
  free(P.matches);
  P.matches = NULL;
  P.nmatches = P.next_match = 0;
}

static void load_matches(const char *text) {
  lua_State *L = ebb_main_state();
  int top = lua_gettop(L), i, n;
  free_matches();
  if (!L || P.complete_ref == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, P.complete_ref);
  lua_pushstring(L, text);
  lua_pushlstring(L, rl_line_buffer ? rl_line_buffer : "", rl_line_buffer ? (size_t)rl_point : 0);
  if (lua_pcall(L, 2, 1, 0) != 0 || !lua_istable(L, -1)) {
    lua_settop(L, top);
    return;
  }
  n = (int)lua_objlen(L, -1);
  P.matches = n > 0 ? calloc((size_t)n, sizeof *P.matches) : NULL;
  for (i = 1; P.matches && i <= n; i++) {
    const char *s;
    lua_rawgeti(L, -1, i);
    s = lua_tostring(L, -1);
    if (s && (P.matches[P.nmatches] = strdup(s)) != NULL) P.nmatches++;
    lua_pop(L, 1);
  }
  lua_settop(L, top);
}

static char *next_match(const char *text, int state) {
  if (state == 0) load_matches(text);
  if (P.next_match < P.nmatches) return P.matches[P.next_match++]; /* libedit frees it */
  free_matches();
  return NULL;
}

static char **attempt_completion(const char *text, int start, int end) {
  (void)start;
  (void)end;
  rl_attempted_completion_over = 1; /* never file names */
  return rl_completion_matches(text, next_match);
}

/* ---- history ---- */

static void save_history(void) {
  int fd;
  if (!P.history) return;
  /* made with mode 0600 before libedit opens it, and kept so */
  fd = open(P.history, O_WRONLY | O_CREAT, 0600);
  if (fd >= 0) close(fd);
  write_history(P.history);
  chmod(P.history, 0600);
}

/* add_history(line) */
static int l_add_history(lua_State *L) {
  add_history(ebb_check_cstring(L, 1, "line"));
  save_history();
  return 0;
}

/* ---- start and stop ---- */

static void poll_closed(uv_handle_t *h) { free(ebb_container((uv_poll_t *)h, repl_poll, poll)); }

static void stop_all(void) {
  if (!P.started) return;
  P.started = 0;
  stop_prompt();
  if (P.have_saved) tcsetattr(0, TCSADRAIN, &P.saved);
  P.have_saved = 0;
  ebb_set_sigint_hook(NULL);
  if (P.complete_ref != LUA_NOREF && ebb_lua_alive()) luaL_unref(ebb_main_state(), LUA_REGISTRYINDEX, P.complete_ref);
  P.complete_ref = LUA_NOREF;
  free_matches();
  free(P.history);
  P.history = NULL;
  free(P.pending);
  P.pending = NULL;
  P.npending = 0;
}

/* Closed by the host at exit, or by stop(). */
static void close_in(ebb_handle *h) {
  repl_poll *p = ebb_container(h, repl_poll, handle);
  stop_all();
  P.in = NULL;
  if (!uv_is_closing((uv_handle_t *)&p->poll)) uv_close((uv_handle_t *)&p->poll, poll_closed);
}

/* start(history_file or nil, history_size, completer) → whether stdin is a terminal */
static int l_start(lua_State *L) {
  const char *history = ebb_opt_cstring(L, 1, "history", NULL);
  int size = (int)ebb_opt_whole(L, 2, "history_size", 0, INT_MAX, 1000), flags;
  repl_poll *p;
  ebb_check_type(L, 3, LUA_TFUNCTION);
  if (P.started) return luaL_error(L, "the REPL's terminal is already started");
  if (!(p = malloc(sizeof *p))) return luaL_error(L, "out of memory");
  P.tty = isatty(0);
  if (uv_poll_init(ebb_loop(), &p->poll, 0) != 0) {
    free(p);
    p = NULL;
    if (P.tty) return luaL_error(L, "cannot watch standard input");
  } else {
    /* uv_poll_init made stdin non-blocking, which libedit's reads (and the
     * shell after us) do not expect; readiness is all the poll is for */
    if ((flags = fcntl(0, F_GETFL)) >= 0) fcntl(0, F_SETFL, flags & ~O_NONBLOCK);
    ebb_handle_track(&p->handle, (uv_handle_t *)&p->poll, close_in, 0);
    ebb_handle_lasting(&p->handle);
  }
  P.in = p;
  P.started = 1;
  P.eof = 0;
  lua_pushvalue(L, 3);
  P.complete_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushboolean(L, P.tty);
  if (!P.tty) return 1; /* no editing, no history: lines as they come */
  P.have_saved = tcgetattr(0, &P.saved) == 0;

  rl_catch_signals = 0; /* SIGINT stays the loop's */
  rl_readline_name = "ebb";
  rl_initialize();
  rl_basic_word_break_characters = " \t\n\"'`<>=;+-*/%^~#&|,{}()[]";
  rl_attempted_completion_function = attempt_completion;
  rl_completion_append_character = '\0';
  using_history();
  stifle_history(size > 0 ? size : 1000);
  if (history && *history) {
    P.history = strdup(history);
    read_history(history);
  }
  ebb_set_sigint_hook(on_sigint);
  return 1;
}

/* stop(): the prompt goes, the terminal is restored, stdin is no longer watched */
static int l_stop(lua_State *L) {
  (void)L;
  if (P.in) {
    ebb_handle_untrack(&P.in->handle);
    close_in(&P.in->handle);
  } else stop_all();
  return 0;
}

int luaopen_ebb_repl_core(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"start", l_start}, {"stop", l_stop}, {"readline", l_readline}, {"write", l_write},
    {"showing", l_showing}, {"add_history", l_add_history}, {NULL, NULL},
  };
  return ebb_new_module(L, fns);
}
