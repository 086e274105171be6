# ebb: one self-contained binary, build/ebb, with the Lua parts compiled in.
PREFIX ?= /usr/local
CC ?= cc
LUAJIT ?= luajit
PKGS = luajit libuv libedit yajl
# libcurl, libssl and hiredis are opened with dlopen at their first use
# (bindings/curl_lib.c, bindings/tls_lib.c, bindings/redis_lib.c): their headers only
# (hiredis's, <hiredis/...>, need no flags)
HEADER_PKGS = libcurl openssl
DEBIAN_PKGS = luajit libluajit-5.1-dev libuv1-dev lua-busted pkg-config time libedit-dev tmux \
  libcurl4-openssl-dev libhttp-parser-dev libyajl-dev wrk openssl libssl-dev redis-server libhiredis-dev
# What `make bench` compares against besides Node: nginx, only for bench (installing
# it starts a web server on port 80 where services run). Its Lua module is not
# installed: it brings OpenResty's luajit, which replaces the build's; bench/run
# unpacks it under build/ (apt-get download) and loads it from there; its JSON
# is lua-cjson's, as OpenResty's.
BENCH_PKGS = nginx libnginx-mod-http-ndk lua-cjson
# What `make compat` runs the outside suites against (and requires every module of).
COMPAT_PKGS = lua-lpeg lua-penlight lua-cjson lua-filesystem lua-yaml lua-posix lua-term git perl

CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu99 -Wall -Wextra -Werror=implicit-function-declaration
DEP_CFLAGS = $(shell pkg-config --cflags $(PKGS) $(HEADER_PKGS) 2>/dev/null)
DEP_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS += $(DEP_LIBS) -lhttp_parser -lm

BUILD ?= build
HOST_SRC = $(wildcard host/*.c)
BINDING_SRC = $(wildcard bindings/*.c)
LUA_SRC = $(sort $(wildcard lua/ebb/*.lua))
LUA_HDR = $(patsubst lua/ebb/%.lua,$(BUILD)/gen/ebb_%.h,$(LUA_SRC))
DOC_SRC = $(sort $(wildcard docs/*.md))
GEN_OBJ = $(BUILD)/obj/gen/embedded_list.o $(BUILD)/obj/gen/c_modules.o
OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(HOST_SRC) $(BINDING_SRC)) $(GEN_OBJ)

.PHONY: FORCE all deps compat-deps bench-deps test sanitize tsan fuzz bench compat install clean example

# deps first, then the build: under make -j the two must not run side by side
all: deps
	$(MAKE) $(BUILD)/ebb

# Installs the Debian packages the build and the tests need, only when one is missing.
deps compat-deps bench-deps: PACKAGES = $(if $(filter compat-deps,$@),$(COMPAT_PKGS),$(if $(filter bench-deps,$@),$(BENCH_PKGS),$(DEBIAN_PKGS)))
deps compat-deps bench-deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(BUILD)/ebb: $(OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS) -Wl,-E

# -MMD -MP: each object's .d file lists the headers it includes, so editing
# one rebuilds exactly what includes it. An object whose .d file is missing
# (made by an older rule, or the .d deleted) is rebuilt: otherwise a changed
# header would leave it compiled against the old one.
$(BUILD)/obj/%.o: %.c $(BUILD)/obj/%.d
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -MMD -MP -Ihost -c -o $@ $<

# Each Lua module becomes a header of bytecode (with debug info, for tracebacks).
$(BUILD)/gen/ebb_%.h: lua/ebb/%.lua
	@mkdir -p $(dir $@)
	cd lua && $(LUAJIT) -b -g -n ebb.$* -t h ebb/$*.lua ../$@

# The names of the sources, rewritten only when a file comes or goes: the
# generated lists depend on it, so removing a module rebuilds them too.
$(BUILD)/gen/sources.list: FORCE
	@mkdir -p $(dir $@)
	@echo '$(HOST_SRC) $(BINDING_SRC) $(LUA_SRC) $(DOC_SRC)' > $@.tmp; \
	if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi
FORCE:

# The reference (docs/*.md) becomes the module ebb.docs, which help() reads.
$(BUILD)/gen/docs.lua: $(DOC_SRC) $(BUILD)/gen/sources.list tools/docs_module.lua
	@mkdir -p $(dir $@)
	$(LUAJIT) tools/docs_module.lua $(DOC_SRC) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/ebb_docs.h: $(BUILD)/gen/docs.lua
	cd $(BUILD)/gen && $(LUAJIT) -b -n ebb.docs -t h docs.lua ebb_docs.h

$(BUILD)/gen/embedded_list.c: $(LUA_HDR) $(BUILD)/gen/ebb_docs.h $(BUILD)/gen/sources.list Makefile
	@{ echo '#include "runtime.h"'; \
	  for h in $(notdir $(LUA_HDR)) ebb_docs.h; do echo "#include \"$$h\""; done; \
	  echo 'const embedded_module embedded_modules[] = {'; \
	  for f in $(LUA_SRC); do m=$$(basename $$f .lua); \
	    name=ebb.$$m; [ $$m = init ] && name=ebb; \
	    echo "  {\"$$name\", luaJIT_BC_ebb_$$m, luaJIT_BC_ebb_$${m}_SIZE, \"@ebb/$$m.lua\"},"; done; \
	  echo '  {"ebb.docs", luaJIT_BC_ebb_docs, luaJIT_BC_ebb_docs_SIZE, "@ebb/docs.lua"},'; \
	  echo '  {0, 0, 0, 0}};'; } > $@

# The C modules: every `int luaopen_ebb_<name>_core(lua_State *L)` defined at
# the start of a line in host/ or bindings/ is opened at start-up as
# ebb.<name>.core (underscores become dots; luaopen_ebb_core is ebb.core).
# Rewritten only when the list changes, so editing a source relinks nothing more.
$(BUILD)/gen/c_modules.c: $(HOST_SRC) $(BINDING_SRC) $(BUILD)/gen/sources.list Makefile
	@mkdir -p $(dir $@)
	@opens=$$(sed -n 's/^int \(luaopen_ebb_[a-z0-9_]*core\)(lua_State \*L).*/\1/p' $(sort $(HOST_SRC) $(BINDING_SRC))); \
	{ echo '#include "runtime.h"'; \
	  for f in $$opens; do echo "int $$f(lua_State *L);"; done; \
	  echo 'const c_module c_modules[] = {'; \
	  for f in $$opens; do echo "  {\"$$(echo $${f#luaopen_} | tr _ .)\", $$f},"; done; \
	  echo '  {0, 0}};'; } > $@.tmp; \
	if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(BUILD)/obj/gen/%.d
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -MMD -MP -Ihost -I$(BUILD)/gen -c -o $@ $<

$(OBJ:.o=.d): ;
-include $(OBJ:.o=.d)

# The README's first command: set up, build, run a real example.
example: deps
	$(MAKE) $(BUILD)/ebb
	$(BUILD)/ebb examples/task_group.lua

# The README's second command: every spec, busted inside the host.
test: deps
	$(MAKE) $(BUILD)/ebb
	$(BUILD)/ebb test

SANITIZED = $(MAKE) BUILD=build/sanitize CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined" build/sanitize/ebb

sanitize: deps
	$(SANITIZED)
	# freed blocks are held back 4 MiB deep, not 256: specs and examples measure peak memory
	ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=4 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  EBB_BIN=build/sanitize/ebb build/sanitize/ebb test

# The specs that run threads (ebb.worker) under ThreadSanitizer, and a few cheap
# others; every data race is an error. LuaJIT and libuv are not instrumented: what
# TSan checks is the host's side of the threads (what the libraries do with file
# descriptors is left out: a worker thread that ends unjoined closes descriptors
# that another thread's pipe2 or epoll_create1 gets back, an order the kernel keeps
# and TSan cannot see).
TSAN_SPECS = spec/worker_spec.lua spec/worker_cancel_spec.lua spec/worker_queue_spec.lua spec/worker_context_spec.lua spec/worker_nice_spec.lua spec/task_spec.lua spec/semaphore_spec.lua
tsan: deps
	$(MAKE) BUILD=build/tsan CFLAGS="-O1 -g -fsanitize=thread -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=thread" build/tsan/ebb
	TSAN_OPTIONS=halt_on_error=1:report_signal_unsafe=0:ignore_noninstrumented_modules=1 \
	  EBB_BIN=build/tsan/ebb build/tsan/ebb test $(TSAN_SPECS)

# Random calls of every public function under the sanitizers, FUZZ_SECONDS long
# (default 60); FUZZ_SEED replays a run (fuzz/run says more).
fuzz: deps
	$(SANITIZED)
	EBB_BIN=build/sanitize/ebb fuzz/run

bench: deps bench-deps
	$(MAKE) $(BUILD)/ebb
	EBB=$(BUILD)/ebb bench/run

# Outside suites (LuaJIT's, Lua 5.1's, busted's, Penlight's, lpeg's, lua-cjson's,
# lfs's) under luajit and under ebb, side by side; compat/fetch gets them.
compat: deps compat-deps
	$(MAKE) $(BUILD)/ebb
	EBB=$(BUILD)/ebb compat/run

install: $(BUILD)/ebb
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/ebb $(DESTDIR)$(PREFIX)/bin/ebb

clean:
	rm -rf build
