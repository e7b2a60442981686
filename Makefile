# limpet: one binary that plays every role (client, relay, session daemon,
# doctor).  Plain make, no configure: the project targets POSIX with Linux
# extras behind small interfaces.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
PYTHON	?= /usr/bin/python3
CC	?= cc
CLANG	?= clang
# The sanitized builds use clang: GCC 12's UBSan, linked with ASan, writes
# its reports to stderr whatever UBSAN_OPTIONS log_path says, and the e2e
# harness finds reports only in log files.
SANCC	?= $(CLANG)
VERSION	:= 0.1.0

WARN	= -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wmissing-prototypes \
	  -Wstrict-prototypes -Wwrite-strings -Wimplicit-fallthrough \
	  -Wpointer-arith -Wundef
# What the native build may use beyond POSIX (compat/compat.h says what
# each HAVE_ selects; the BSDs' getpeereid and arc4random are found there).
COMMON_HAVES = -DHAVE_STRSEP -DHAVE_MEMMEM -DHAVE_STRCASESTR \
	  -DHAVE_VASPRINTF -DHAVE_USLEEP
ifeq ($(shell uname -s),Linux)
HAVES	= $(COMMON_HAVES) -DHAVE_PIPE2 -DHAVE_CLOSEFROM -DHAVE_MEMRCHR \
	  -DHAVE_GETRANDOM -DHAVE_ACCEPT4 -DHAVE_SO_PEERCRED -DHAVE_FORKPTY \
	  -DHAVE_NETLINK -DHAVE_GETAUXVAL
LDLIBS	= -lutil
else
HAVES	= $(COMMON_HAVES)
LDLIBS	=
endif
# GCC's and clang's __builtin_cpu_supports() (x86 only; compat/cpu.c).
ifneq ($(filter x86_64 i386 i686,$(shell uname -m)),)
HAVES	+= -DHAVE_CPU_SUPPORTS
endif
# libvterm (Debian libvterm-dev): the daemon's screen model (src/vt.c)
# and the client's model for predictive echo.
HAVES	+= -DHAVE_LIBVTERM
VTLIB	= -lvterm
ifeq ($(shell uname -s),Linux)
# Linked in where the static library is there (Debian's libvterm-dev has
# it): an idle session daemon then has no dirty pages of its own for
# libvterm's relocations and data, 16 KiB of the 150 KiB an idle session
# may cost (docs/benchmarks.md, scale).
ifneq ($(findstring /,$(shell $(CC) -print-file-name=libvterm.a)),)
VTLIB	= -l:libvterm.a
endif
endif
LDLIBS	+= $(VTLIB)
BASE	= -std=c11 -D_GNU_SOURCE -DLIMPET_VERSION='"$(VERSION)"' \
	  -fstack-protector-strong -iquote src -iquote compat $(HAVES) $(WARN)
OPTFL	= -O2 -g -D_FORTIFY_SOURCE=2
SANFL	= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	  -fno-sanitize-recover=all -DLIMPET_TEST_HOOKS

SRCS	:= $(sort $(wildcard src/*.c src/doctor/*.c))
CSRCS	:= $(sort $(wildcard compat/*.c))
HDRS	:= $(wildcard src/*.h src/doctor/*.h compat/*.h)
LIBSRCS	:= $(filter-out src/main.c,$(SRCS))
UTESTS	:= $(sort $(wildcard tests/unit/test-*.c))

COBJ	:= $(patsubst compat/%.c,build/opt/compat-%.o,$(CSRCS))
OBJ	:= $(patsubst src/%.c,build/opt/%.o,$(SRCS)) $(COBJ)
LIBOBJ	:= $(patsubst src/%.c,build/opt/%.o,$(LIBSRCS)) $(COBJ)
SCOBJ	:= $(patsubst compat/%.c,build/san/compat-%.o,$(CSRCS))
SOBJ	:= $(patsubst src/%.c,build/san/%.o,$(SRCS)) $(SCOBJ)
SLIBOBJ	:= $(patsubst src/%.c,build/san/%.o,$(LIBSRCS)) $(SCOBJ)
POBJ	:= $(patsubst src/%.c,build/portable/%.o,$(SRCS)) \
	   $(patsubst compat/%.c,build/portable/compat-%.o,$(CSRCS))
UBINS	:= $(patsubst tests/unit/%.c,build/san/%,$(UTESTS))

.PHONY: all san deps check unit e2e fuzz fuzzers fuzz-long soak try bench \
	install clean portable portable-e2e static uninstall deb install-server

all: limpet

limpet: $(OBJ)
	$(CC) $(BASE) $(OPTFL) -o $@ $(OBJ) $(LDLIBS)

build/opt/%.o: src/%.c $(HDRS) | build/opt/doctor
	$(CC) $(BASE) $(OPTFL) -c -o $@ $<

build/san/%.o: src/%.c $(HDRS) | build/san/doctor
	$(SANCC) $(BASE) $(SANFL) -c -o $@ $<

build/opt/compat-%.o: compat/%.c $(HDRS) | build/opt/doctor
	$(CC) $(BASE) $(OPTFL) -c -o $@ $<

build/san/compat-%.o: compat/%.c $(HDRS) | build/san/doctor
	$(SANCC) $(BASE) $(SANFL) -c -o $@ $<

build/opt/doctor build/san/doctor build/fuzz build/portable/doctor:
	mkdir -p $@

# The portable client: strict POSIX headers (POSIX.1-2008 with its XSI
# part, for posix_openpt and putenv; no _GNU_SOURCE) and every Linux extra
# off, so only compat/'s portable fallbacks are used, as on macOS and the
# BSDs.  Sanitized, so that end-to-end tests can run it.
PORTFL	= -std=c11 -D_POSIX_C_SOURCE=200809L -D_XOPEN_SOURCE=700 \
	  -DLIMPET_VERSION='"$(VERSION)"' -fstack-protector-strong \
	  -iquote src -iquote compat $(WARN) $(SANFL)

portable: build/portable/limpet

build/portable/limpet: $(POBJ)
	$(SANCC) $(PORTFL) -o $@ $(POBJ) $(VTLIB)

build/portable/%.o: src/%.c $(HDRS) | build/portable/doctor
	$(SANCC) $(PORTFL) -c -o $@ $<

build/portable/compat-%.o: compat/%.c $(HDRS) | build/portable/doctor
	$(SANCC) $(PORTFL) -c -o $@ $<

# The core session tests against the portable build.
portable-e2e: build/portable/limpet
	LIMPET_BIN=$(CURDIR)/build/portable/limpet $(PYTHON) -m pytest -q \
	    -p no:cacheprovider $(XDIST:loadfile=load) tests/e2e/test_session.py \
	    $(PYTEST_ARGS)

# The sanitized binary: every end-to-end test runs against it.
san: build/san/limpet

build/san/limpet: $(SOBJ)
	$(SANCC) $(BASE) $(SANFL) -o $@ $(SOBJ) $(LDLIBS)

build/san/test-%: tests/unit/test-%.c $(SLIBOBJ) tests/unit/unit.h
	$(SANCC) $(BASE) $(SANFL) -Wno-missing-prototypes -o $@ $< $(SLIBOBJ) \
	    -lcmocka $(LDLIBS)

# test-compat runs twice: on the native calls and on the portable fallbacks.
build/portable/test-compat: tests/unit/test-compat.c tests/unit/unit.h \
    $(filter build/portable/compat-%,$(POBJ))
	$(SANCC) $(PORTFL) -Wno-missing-prototypes -o $@ $< \
	    $(filter build/portable/compat-%,$(POBJ)) -lcmocka

unit: $(UBINS) build/portable/test-compat
	@set -e; for t in $(UBINS) build/portable/test-compat; do \
	    echo "== $$t"; ./$$t; done

# libFuzzer targets: every fuzz/<name>-fuzzer.c builds to
# build/fuzz/<name>-fuzzer, linked with all of the library (src/*.c and
# src/doctor/*.c, not main.c), so a new target needs no edit here.
# fuzz/run.sh finds each target's seeds (fuzz/corpus-<name>/), dictionary
# (fuzz/<name>.dict) and extra flags (fuzz/<name>.options).
FUZZERS	:= $(patsubst fuzz/%-fuzzer.c,build/fuzz/%-fuzzer,\
	    $(sort $(wildcard fuzz/*-fuzzer.c)))
FUZZLIB	:= $(filter-out src/main.c,$(sort $(wildcard src/*.c src/doctor/*.c)))
FUZZOBJ	:= $(patsubst src/%.c,build/fuzz/obj/%.o,$(FUZZLIB)) \
	   $(patsubst compat/%.c,build/fuzz/obj/compat-%.o,$(CSRCS))
FUZZFL	= -std=c11 -D_GNU_SOURCE -DLIMPET_VERSION='"$(VERSION)"' \
	  -iquote src -iquote compat $(HAVES) -g -O1 -fno-omit-frame-pointer

.SECONDARY: $(FUZZOBJ)

build/fuzz/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZFL) -fsanitize=fuzzer-no-link,address,undefined \
	    -c -o $@ $<

build/fuzz/obj/compat-%.o: compat/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZFL) -fsanitize=fuzzer-no-link,address,undefined \
	    -c -o $@ $<

build/fuzz/%-fuzzer: fuzz/%-fuzzer.c $(FUZZOBJ) | build/fuzz
	$(CLANG) $(FUZZFL) -fsanitize=fuzzer,address,undefined -o $@ $< \
	    $(FUZZOBJ) $(LDLIBS)

fuzzers: $(FUZZERS)

# Every target briefly (`make check`): FUZZ_SECONDS each (default 15),
# two at a time.
# The short run leaves out targets with an open finding (fuzz/findings/,
# docs/reliability.md) or one still young and finding defects: vt is back
# (findings 31-38 fixed, 35 clean worker-minutes on that code in session
# 8); predict is back (findings 24-27 fixed, 30 clean minutes); vt-sleep
# is back (finding 39 fixed, 25 clean worker-minutes on the merged code).
# None is out now.
FUZZ_OPEN ?=
fuzz: $(FUZZERS)
	sh fuzz/run.sh $(or $(FUZZ_SECONDS),15) \
	    $(filter-out $(FUZZ_OPEN),$(FUZZERS))

# Every target for FUZZ_SECONDS each (default 600), two at a time.
fuzz-long: $(FUZZERS)
	sh fuzz/run.sh $(or $(FUZZ_SECONDS),600) $(FUZZERS)

# The end-to-end tests mostly wait (on ssh, timers, the lab's delays), so
# two run side by side, a test file to a worker (python3-pytest-xdist);
# `make e2e XDIST=` runs them one at a time.
XDIST	?= -n 2 --dist loadfile

e2e: build/san/limpet limpet
	LIMPET_BIN=$(CURDIR)/build/san/limpet $(PYTHON) -m pytest -q \
	    -p no:cacheprovider $(XDIST) tests/e2e $(PYTEST_ARGS)

# The chaos soak (not part of `make check`): faults at random moments in a
# network lab while data flows both ways.  SOAK_CUTS, SOAK_SEED,
# SOAK_MAX_PASTE, SOAK_MAX_BLACKHOLE: see docs/reliability.md.
soak: build/san/limpet
	$(PYTHON) tests/soak/soak.py

# Install from Debian whatever the tests need and this machine lacks.
deps:
	bash .ci/deps --if-missing

# Everything is built first, on every core; the tests then run one suite
# after the other (side by side they would skew the timing-sensitive ones).
NPROC	:= $(shell nproc 2>/dev/null || echo 2)
check: deps
	$(MAKE) -j$(NPROC) limpet build/san/limpet $(UBINS) \
	    build/portable/test-compat build/portable/limpet $(FUZZERS)
	$(MAKE) unit fuzz e2e portable-e2e

# Build, start a throwaway sshd on loopback and open a session to it.
try:
	bash .ci/deps --if-missing --minimal
	$(MAKE) limpet
	$(PYTHON) tests/tryit.py

# The bench's user-space delay/loss emulator (this kernel has no netem);
# tests/netlab.py builds it too.  Needs libnetfilter-queue-dev.
bench/delayer: bench/delayer.c
	$(CC) $(BASE) $(OPTFL) -o $@ bench/delayer.c \
	    -lnetfilter_queue -lnfnetlink

# A limpet that does not build is reported by the bench, not fatal to it;
# run.py installs libnetfilter-queue-dev and builds the delayer if needed.
bench:
	-$(MAKE) limpet
	-$(MAKE) bench/delayer
	$(PYTHON) bench/run.py $(if $(QUICK),--quick)

# The binary, its man page and the bash, zsh and fish completions, where
# each shell looks for completions that a package ships.
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

install: limpet
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
	    $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 limpet $(DESTDIR)$(BINDIR)/limpet
	install -m 0644 docs/limpet.1 $(DESTDIR)$(MANDIR)/man1/limpet.1
	install -m 0644 completions/limpet.bash \
	    $(DESTDIR)$(BASHCOMPDIR)/limpet
	install -m 0644 completions/_limpet $(DESTDIR)$(ZSHCOMPDIR)/_limpet
	install -m 0644 completions/limpet.fish \
	    $(DESTDIR)$(FISHCOMPDIR)/limpet.fish

# The static server binary where the client's --install finds it
# (PREFIX/lib/limpet/limpet-OS-ARCH): make install-server, or make install
# where musl-gcc is (STATIC_SERVER below).
LIBDIR	?= $(PREFIX)/lib/limpet
SRVNAME	:= limpet-$(shell uname -s | tr A-Z a-z)-$(shell uname -m | tr A-Z a-z)

install-server: build/static/limpet
	install -d $(DESTDIR)$(LIBDIR)
	install -m 0755 build/static/limpet $(DESTDIR)$(LIBDIR)/$(SRVNAME)

# Removes exactly what install put there (the directories stay: they are
# shared with other programs).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/limpet \
	    $(DESTDIR)$(MANDIR)/man1/limpet.1 \
	    $(DESTDIR)$(BASHCOMPDIR)/limpet \
	    $(DESTDIR)$(ZSHCOMPDIR)/_limpet \
	    $(DESTDIR)$(FISHCOMPDIR)/limpet.fish \
	    $(DESTDIR)$(LIBDIR)/$(SRVNAME)

# A statically linked limpet (musl, from Debian's musl-tools) for servers
# whose libc is old, different or unknown: it runs on any Linux of the same
# architecture.  musl-gcc sees no kernel headers of its own, so the build
# borrows the system's linux/ and asm/ through symlinks; musl lacks
# closefrom(), so compat/ supplies it.
MUSLCC	?= musl-gcc
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
STBASE	= $(filter-out -DHAVE_CLOSEFROM -DHAVE_LIBVTERM,$(BASE))
STFL	= -O2 -static -isystem build/static/include -DLIMPET_STATIC \
	  -DLIMPET_STATIC_CHK
# Debian's libvterm.a, built against glibc: compat/glibc-chk.c supplies
# the _chk functions it calls.
STVTLIB	= /usr/lib/$(MULTIARCH)/libvterm.a
STOBJ	:= $(patsubst src/%.c,build/static/obj/%.o,$(SRCS)) \
	   $(patsubst compat/%.c,build/static/obj/compat-%.o,$(CSRCS))

static: build/static/limpet

build/static/limpet: $(STOBJ)
	$(MUSLCC) $(STBASE) $(STFL) -o $@ $(STOBJ) $(STVTLIB)
	strip $@

build/static/obj/%.o: src/%.c $(HDRS) build/static/include/.stamp
	@mkdir -p $(@D)
	$(MUSLCC) $(STBASE) $(STFL) -c -o $@ $<

build/static/obj/compat-%.o: compat/%.c $(HDRS) build/static/include/.stamp
	@mkdir -p $(@D)
	$(MUSLCC) $(STBASE) $(STFL) -c -o $@ $<

# make install also installs the static server binary (for --install)
# when musl-gcc is there; STATIC_SERVER=no leaves it out, =yes insists.
STATIC_SERVER ?= $(if $(shell command -v $(MUSLCC) 2>/dev/null),yes,no)
ifeq ($(STATIC_SERVER),yes)
install: install-server
endif

build/static/include/.stamp:
	@command -v $(MUSLCC) >/dev/null || { echo "make static needs" \
	    "$(MUSLCC): apt-get install musl-tools" >&2; exit 1; }
	mkdir -p $(@D)
	ln -sfn /usr/include/linux $(@D)/linux
	ln -sfn /usr/include/asm-generic $(@D)/asm-generic
	ln -sfn /usr/include/$(MULTIARCH)/asm $(@D)/asm
	ln -sfn /usr/include/vterm.h $(@D)/vterm.h
	ln -sfn /usr/include/vterm_keycodes.h $(@D)/vterm_keycodes.h
	touch $@

# The Debian package, built from a copy of the tree under build/deb/ so
# that dpkg-buildpackage's ../*.deb lands in build/deb/ and not beside the
# work tree.  Needs dpkg-dev, debhelper and fakeroot.
deb:
	rm -rf build/deb
	mkdir -p build/deb/src
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard | \
		    xargs -0 cp --parents -t build/deb/src; \
	else \
		tar cf - --exclude=./build --exclude=./limpet . | \
		    tar xf - -C build/deb/src; \
	fi
	cd build/deb/src && dpkg-buildpackage -us -uc -b
	rm -rf build/deb/src
	ls -l build/deb/*.deb

clean:
	rm -rf build limpet
