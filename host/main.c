/* ebb's command line: ebb [options] [script [args]], ebb test [busted args]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lauxlib.h>
#include <luajit.h>
#include "host.h"
#include "runtime.h"

static const char usage[] =
  "usage: ebb [options] [script [args]]\n"
  "       ebb test [busted options] [paths]\n"
  "Options:\n"
  "  -e CODE   run CODE (may be given more than once)\n"
  "  -l NAME   require the module NAME\n"
  "  -i        interactive: the REPL, after the script and -e chunks if any\n"
  "  -         read the script from standard input\n"
  "  --        stop handling options\n"
  "  -v        print the version\n"
  "  -h        print this help\n"
  "LUA_INIT (code, or @file) runs first, as in lua.\n"
  "With no script: the REPL on a terminal, else the script is read from standard input.\n";

static int fail(lua_State *L, const char *what) {
  fprintf(stderr, "ebb: %s\n", what ? what : lua_tostring(L, -1));
  return runtime_close(L, 1);
}

/* arg as the standalone lua sets it: the script at 0 (argc: none), options
 * below, args above. */
static void push_arg_table(lua_State *L, int argc, char **argv, int script) {
  int i;
  lua_createtable(L, script < argc ? argc - script - 1 : 0, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* LUA_INIT, as lua runs it: code, or @file, before everything else. */
static int lua_init(lua_State *L, int *nchunks) {
  const char *init = getenv("LUA_INIT");
  int status;
  if (!init) return 1;
  if (init[0] == '@') status = luaL_loadfile(L, init + 1);
  else status = luaL_loadbuffer(L, init, strlen(init), "=LUA_INIT");
  if (status != 0) return 0;
  lua_rawseti(L, -2, ++*nchunks);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L;
  int i, script = argc, nchunks = 0, given = 0, nargs, status, from_stdin = 0, interactive = 0;

  if (argc > 1 && !strcmp(argv[1], "-v")) {
    printf("ebb %s (%s, libuv %s)\n", EBB_VERSION, LUAJIT_VERSION, uv_version_string());
    return 0;
  }
  if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    fputs(usage, stdout);
    return 0;
  }
  L = runtime_open();
  if (!L) {
    fputs("ebb: cannot create a Lua state\n", stderr);
    return 1;
  }

  if (argc > 1 && !strcmp(argv[1], "test")) {
    push_arg_table(L, argc, argv, 1);
    ebb_push_hook(L, EBB_HOOK_TEST_MAIN);
    for (i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
    status = runtime_run_root(L, argc - 2);
    return runtime_close(L, status);
  }

  lua_newtable(L); /* the chunks to run, in order: functions, and module names (-l) */
  if (!lua_init(L, &nchunks)) return fail(L, NULL);
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-') {
      script = i;
      break;
    } else if (a[1] == 'e' || a[1] == 'l') { /* -e CODE, -eCODE, -l NAME, -lNAME */
      const char *v = a[2] ? a + 2 : argv[++i];
      if (!v) return fail(L, a[1] == 'e' ? "'-e' needs an argument" : "'-l' needs an argument");
      if (a[1] == 'l') lua_pushstring(L, v);
      else if (luaL_loadbuffer(L, v, strlen(v), "=(command line)") != 0) return fail(L, NULL);
      lua_rawseti(L, -2, ++nchunks);
      given++;
    } else if (!strcmp(a, "-v") || !strcmp(a, "-h")) {
      continue;
    } else if (!strcmp(a, "-i")) {
      interactive = 1;
    } else if (!strcmp(a, "-")) {
      script = i;
      from_stdin = 1;
      break;
    } else if (!strcmp(a, "--")) {
      if (i + 1 < argc) script = i + 1;
      break;
    } else {
      fprintf(stderr, "ebb: unrecognized option '%s'\n%s", a, usage);
      return runtime_close(L, 1);
    }
  }
  if (script == argc && !given && !interactive) {
    if (isatty(0)) interactive = 1;
    else from_stdin = 1;
  }
  if (script < argc || from_stdin) {
    const char *name = script < argc && strcmp(argv[script], "-") ? argv[script] : NULL;
    if (luaL_loadfile(L, name) != 0) return fail(L, NULL);
  } else {
    lua_pushnil(L); /* no script */
  }
  push_arg_table(L, argc, argv, script);

  ebb_push_hook(L, interactive ? EBB_HOOK_REPL_MAIN : EBB_HOOK_MAIN);
  lua_insert(L, -3); /* main, chunks, script */
  nargs = 2;
  for (i = script + 1; i < argc; i++, nargs++) lua_pushstring(L, argv[i]);
  status = runtime_run_root(L, nargs);
  return runtime_close(L, status);
}
