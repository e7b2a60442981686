# limpet: one binary that plays every role (client, relay, session daemon,
# doctor).  Plain make, no configure: the project targets POSIX with Linux
# extras behind small interfaces.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
PYTHON	?= /usr/bin/python3
CC	?= cc
CLANG	?= clang
VERSION	:= 0.1.0

WARN	= -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wmissing-prototypes \
	  -Wstrict-prototypes -Wwrite-strings -Wimplicit-fallthrough \
	  -Wpointer-arith -Wundef
BASE	= -std=c11 -D_GNU_SOURCE -DLIMPET_VERSION='"$(VERSION)"' \
	  -fstack-protector-strong -iquote src $(WARN)
OPTFL	= -O2 -g -D_FORTIFY_SOURCE=2
SANFL	= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	  -fno-sanitize-recover=all
LDLIBS	= -lutil

SRCS	:= $(sort $(wildcard src/*.c src/doctor/*.c))
HDRS	:= $(wildcard src/*.h src/doctor/*.h)
LIBSRCS	:= $(filter-out src/main.c,$(SRCS))
UTESTS	:= $(sort $(wildcard tests/unit/test-*.c))

OBJ	:= $(patsubst src/%.c,build/opt/%.o,$(SRCS))
LIBOBJ	:= $(patsubst src/%.c,build/opt/%.o,$(LIBSRCS))
SOBJ	:= $(patsubst src/%.c,build/san/%.o,$(SRCS))
SLIBOBJ	:= $(patsubst src/%.c,build/san/%.o,$(LIBSRCS))
UBINS	:= $(patsubst tests/unit/%.c,build/san/%,$(UTESTS))

.PHONY: all san deps check unit e2e fuzz try bench install clean
.PHONY: static uninstall deb

all: limpet

limpet: $(OBJ)
	$(CC) $(BASE) $(OPTFL) -o $@ $(OBJ) $(LDLIBS)

build/opt/%.o: src/%.c $(HDRS) | build/opt/doctor
	$(CC) $(BASE) $(OPTFL) -c -o $@ $<

build/san/%.o: src/%.c $(HDRS) | build/san/doctor
	$(CC) $(BASE) $(SANFL) -c -o $@ $<

build/opt/doctor build/san/doctor build/fuzz:
	mkdir -p $@

# The sanitized binary: every end-to-end test runs against it.
san: build/san/limpet

build/san/limpet: $(SOBJ)
	$(CC) $(BASE) $(SANFL) -o $@ $(SOBJ) $(LDLIBS)

build/san/test-%: tests/unit/test-%.c $(SLIBOBJ) tests/unit/unit.h
	$(CC) $(BASE) $(SANFL) -Wno-missing-prototypes -o $@ $< $(SLIBOBJ) \
	    -lcmocka $(LDLIBS)

unit: $(UBINS)
	@set -e; for t in $(UBINS); do echo "== $$t"; ./$$t; done

# libFuzzer target for the frame decoder; `make check` runs it briefly.
FUZZSRC	:= src/frame.c src/buf.c src/proto.c src/log.c src/xmalloc.c src/err.c

build/fuzz/frame-fuzzer: fuzz/frame-fuzzer.c $(FUZZSRC) | build/fuzz
	$(CLANG) -std=c11 -D_GNU_SOURCE -iquote src -g -O1 \
	    -fsanitize=fuzzer,address,undefined -o $@ fuzz/frame-fuzzer.c \
	    $(FUZZSRC)

fuzz: build/fuzz/frame-fuzzer
	mkdir -p build/fuzz/corpus
	./build/fuzz/frame-fuzzer -max_total_time=$${FUZZ_SECONDS:-20} \
	    -max_len=4096 -dict=fuzz/frame.dict build/fuzz/corpus fuzz/corpus

e2e: build/san/limpet limpet
	LIMPET_BIN=$(CURDIR)/build/san/limpet $(PYTHON) -m pytest -q \
	    -p no:cacheprovider tests/e2e $(PYTEST_ARGS)

# Install from Debian whatever the tests need and this machine lacks.
deps:
	bash .ci/deps --if-missing

check: deps
	$(MAKE) limpet unit fuzz e2e

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

# Removes exactly what install put there (the directories stay: they are
# shared with other programs).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/limpet \
	    $(DESTDIR)$(MANDIR)/man1/limpet.1 \
	    $(DESTDIR)$(BASHCOMPDIR)/limpet \
	    $(DESTDIR)$(ZSHCOMPDIR)/_limpet \
	    $(DESTDIR)$(FISHCOMPDIR)/limpet.fish

# A statically linked limpet (musl, from Debian's musl-tools) for servers
# whose libc is old, different or unknown: it runs on any Linux of the same
# architecture.  musl-gcc sees no kernel headers of its own, so the build
# borrows the system's linux/ and asm/ through symlinks; compat/musl.c adds
# the libc calls musl lacks (closefrom).
MUSLCC	?= musl-gcc
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
STFL	= -O2 -static -isystem build/static/include -include compat/musl.h
STOBJ	:= $(patsubst src/%.c,build/static/obj/%.o,$(SRCS)) \
	   build/static/obj/compat-musl.o

static: build/static/limpet

build/static/limpet: $(STOBJ)
	$(MUSLCC) $(BASE) $(STFL) -o $@ $(STOBJ)
	strip $@

build/static/obj/%.o: src/%.c $(HDRS) compat/musl.h \
    build/static/include/.stamp
	@mkdir -p $(@D)
	$(MUSLCC) $(BASE) $(STFL) -c -o $@ $<

build/static/obj/compat-musl.o: compat/musl.c compat/musl.h \
    build/static/include/.stamp
	@mkdir -p $(@D)
	$(MUSLCC) $(BASE) $(STFL) -c -o $@ compat/musl.c

build/static/include/.stamp:
	@command -v $(MUSLCC) >/dev/null || { echo "make static needs" \
	    "$(MUSLCC): apt-get install musl-tools" >&2; exit 1; }
	mkdir -p $(@D)
	ln -sfn /usr/include/linux $(@D)/linux
	ln -sfn /usr/include/asm-generic $(@D)/asm-generic
	ln -sfn /usr/include/$(MULTIARCH)/asm $(@D)/asm
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
