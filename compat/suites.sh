# The suites compat/run knows, sourced by it. Each suite_NAME runs in the
# suite's directory with one interpreter ($1: luajit or ebb) and writes
# $OUT.log (everything printed), $OUT.summary (one line) and $OUT.items
# ("item<TAB>result" lines; compat/run compares them between interpreters,
# an item absent on one side counting as "ok"). `needs_NAME` names the
# directory under COMPAT_DIR the suite needs ("" for none).

bounded() { timeout -s KILL "$TIMEOUT" "$@"; }   # KILL: a busy ebb may not see TERM

lua_of() { if [[ $1 == ebb ]]; then echo "$EBB"; else echo "$LUAJIT"; fi; }

# busted's runner under luajit; `ebb test` under ebb (both take busted's options).
busted_of() {
  if [[ $1 == ebb ]]; then bounded "$EBB" test "${@:2}"; else bounded "$LUAJIT" /usr/bin/busted "${@:2}"; fi
}

# The first line of an error report, without the interpreter's prefix.
error_line() {
  grep -m1 -E '^(luajit|ebb|Error|PANIC)[: ]' "$1" | sed -E -e 's/^(luajit|ebb|Error): //' \
    -e 's#/tmp/lua_[A-Za-z0-9]+#/tmp/lua_XXXXXX#g' | cut -c1-160
}

# Runs each file as a script: "ok", "killed after Ns" or its error line.
per_file() {
  local lua=$1 f rc ok=0 n=0
  shift
  : >"$OUT.items"
  for f in "$@"; do
    n=$((n + 1))
    bounded "$(lua_of "$lua")" "$f" >"$OUT.one" 2>&1 </dev/null && rc=0 || rc=$?
    cat "$OUT.one" >>"$OUT.log"
    if ((rc == 0)); then
      ok=$((ok + 1))
    elif ((rc == 137)); then
      printf '%s\tkilled after %ss\n' "$f" "$TIMEOUT" >>"$OUT.items"
    else
      printf '%s\texit %s: %s\n' "$f" "$rc" "$(error_line "$OUT.one")" >>"$OUT.items"
    fi
  done
  echo "$ok of $n files pass" >"$OUT.summary"
}

# busted's summary line, and each failing or pending spec.
busted_results() {
  grep -m1 -E '^[0-9]+ success' "$OUT.log" | sed -E 's/ : [0-9.]+ seconds//' >"$OUT.summary" || true
  [[ -s "$OUT.summary" ]] || echo "no summary (exit $1)" >"$OUT.summary"
  grep -E '^(Failure|Error|Pending) -> ' "$OUT.log" | sed -E 's/^([A-Za-z]+) -> (.*)$/\2\t\1/' >"$OUT.items" || true
}

needs_luajit=luajit-test-cleanup
suite_luajit() {   # LuaJIT's own test suite, its test.lua runner, slow tests included
  cd test
  bounded "$(lua_of "$1")" test.lua +slow >"$OUT.log" 2>&1 </dev/null || true
  grep -E '^[0-9]+ passed' "$OUT.log" | tail -1 >"$OUT.summary"
  [[ -s "$OUT.summary" ]] || echo "stopped at $(grep -E '^\[ *[0-9]+/' "$OUT.log" | tail -1)" >"$OUT.summary"
  local failed
  failed=$(sed -n 's/^to run just failing tests, pass command line arguments: //p' "$OUT.log")
  awk -v failed=" $failed " '
    /^\[ *[0-9]+\/[0-9]+\] / { n = $0; sub(/^\[ */, "", n); sub(/\/.*/, "", n)
      name = $0; sub(/^[^]]*\] /, "", name)
      if (index(failed, " " n " ")) print name "\tfail" }' "$OUT.log" >"$OUT.items"
}

needs_lua51=lua5.1-tests
suite_lua51() {    # the Lua 5.1 suite, file by file (all.lua stops at the first failure)
  mkdir -p libs/P1   # the suite's tarball ships these empty directories
  local files=() f
  for f in *.lua; do [[ $f == all.lua ]] || files+=("$f"); done
  LUA_PATH="?;./?.lua" per_file "$1" "${files[@]}"
}

needs_busted=busted
suite_busted() {   # busted's own specs
  busted_of "$1" -o plainTerminal >"$OUT.log" 2>&1 </dev/null && busted_results 0 || busted_results $?
}

needs_penlight=penlight
suite_penlight() { # Penlight's tests/ scripts against the installed pl
  per_file "$1" tests/*.lua
}

needs_penlight_spec=penlight
suite_penlight_spec() { # Penlight's busted specs, without its .busted (which puts its own lua/ first)
  echo 'return {}' >"$OUT.busted"
  busted_of "$1" -f "$OUT.busted" -o plainTerminal spec >"$OUT.log" 2>&1 </dev/null && busted_results 0 || busted_results $?
}

needs_lpeg=lpeg
suite_lpeg() { per_file "$1" test.lua; }

needs_lfs=luafilesystem
suite_lfs() { per_file "$1" tests/test.lua; }

needs_cjson=lua-cjson
suite_cjson() {
  cd tests
  [[ -s utf8.dat ]] || perl genutf8.pl >utf8.dat 2>/dev/null
  bounded "$(lua_of "$1")" test.lua >"$OUT.log" 2>&1 </dev/null || true
  sed -n 's/^==> Summary: /failed: /p' "$OUT.log" >"$OUT.summary"
  [[ -s "$OUT.summary" ]] || echo "no summary: $(error_line "$OUT.log")" >"$OUT.summary"
  sed -n -E 's/^==> Test \[[0-9]+\] (.*): FAIL$/\1\tfail/p' "$OUT.log" >"$OUT.items"
}

# Offline: every Lua module the installed Debian lua-* packages hold, each
# required alone; the result is the type of what require returned, or its error.
needs_modules=""
suite_modules() {
  local m n=0 ok=0 lua
  lua=$(lua_of "$1")
  : >"$OUT.items"
  for m in $(installed_modules); do
    n=$((n + 1))
    local r
    r=$(bounded "$lua" "$ROOT/compat/require_one.lua" "$m" 2>&1 </dev/null | tail -1)
    [[ $r == ok* ]] && ok=$((ok + 1))
    printf '%s\t%s\n' "$m" "$r" >>"$OUT.items"
  done
  echo "$ok of $n modules load" >"$OUT.summary"
  cp "$OUT.items" "$OUT.log"
}

installed_modules() {
  dpkg-query -W -f='${Package}\n' 'lua-*' 2>/dev/null | while read -r p; do
    dpkg-query -W -f='${Status}' "$p" | grep -q 'install ok installed' && dpkg -L "$p"
  done | sed -n -E 's#^/usr/(share|lib/[^/]+)/lua/5\.1/(.*)\.(lua|so)$#\2#p' |
    sed -e 's#/init$##' -e 's#/#.#g' | sort -u
}

# Offline: the reproducers of luajit differences (REPRO_DIR/compat), each run
# from its directory; the result is a digest of its output and status, with
# the interpreter's own words (prefix, addresses) taken out. Those that need a
# signal or a closed pipe to end (busy_loop, sigpipe_iowrite) are left to specs.
needs_repro=""
suite_repro() {
  local dir=$REPRO_DIR/compat f n=0 lua
  lua=$(lua_of "$1")
  : >"$OUT.items"
  [[ -d "$dir" ]] || { echo "no reproducers (set REPRO_DIR)" >"$OUT.summary"; return; }
  for f in "$dir"/*.lua "$dir"/*/main.lua "$dir"/cmod/*.lua "$dir"/require_args/retry_after_error.lua; do
    [[ -f "$f" ]] || continue
    [[ $f == */busy_loop.lua || $f == */sigpipe_iowrite.lua ]] && continue
    n=$((n + 1))
    local out
    out=$(cd "$(dirname "$f")" && bounded "$lua" "$(basename "$f")" 2>&1 </dev/null; echo "exit $?")
    out=$(sed -E -e "s#$lua#LUA#g" -e 's/^(luajit|Error): /error: /' -e 's/0x[0-9a-f]+/0x?/g' <<<"$out")
    printf '== %s\n%s\n' "${f#"$dir"/}" "$out" >>"$OUT.log"
    printf '%s\t%s\n' "${f#"$dir"/}" "$(md5sum <<<"$out" | cut -c1-8)" >>"$OUT.items"
  done
  echo "$n scripts run" >"$OUT.summary"
}
