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

SRCS	:= $(sort $(wildcard src/*.c))
LIBSRCS	:= $(filter-out src/main.c,$(SRCS))
UTESTS	:= $(sort $(wildcard tests/unit/test-*.c))

OBJ	:= $(patsubst src/%.c,build/opt/%.o,$(SRCS))
LIBOBJ	:= $(patsubst src/%.c,build/opt/%.o,$(LIBSRCS))
SOBJ	:= $(patsubst src/%.c,build/san/%.o,$(SRCS))
SLIBOBJ	:= $(patsubst src/%.c,build/san/%.o,$(LIBSRCS))
UBINS	:= $(patsubst tests/unit/%.c,build/san/%,$(UTESTS))

.PHONY: all san deps check unit e2e fuzz fuzzers fuzz-long soak try bench \
	install clean

all: limpet

limpet: $(OBJ)
	$(CC) $(BASE) $(OPTFL) -o $@ $(OBJ) $(LDLIBS)

build/opt/%.o: src/%.c $(wildcard src/*.h) | build/opt
	$(CC) $(BASE) $(OPTFL) -c -o $@ $<

build/san/%.o: src/%.c $(wildcard src/*.h) | build/san
	$(CC) $(BASE) $(SANFL) -c -o $@ $<

build/opt build/san build/fuzz:
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

# libFuzzer targets: every fuzz/<name>-fuzzer.c builds to
# build/fuzz/<name>-fuzzer, linked with all of the library (src/*.c and
# src/doctor/*.c, not main.c), so a new target needs no edit here.
# fuzz/run.sh finds each target's seeds (fuzz/corpus-<name>/), dictionary
# (fuzz/<name>.dict) and extra flags (fuzz/<name>.options).
FUZZERS	:= $(patsubst fuzz/%-fuzzer.c,build/fuzz/%-fuzzer,\
	    $(sort $(wildcard fuzz/*-fuzzer.c)))
FUZZLIB	:= $(filter-out src/main.c,$(sort $(wildcard src/*.c src/doctor/*.c)))
FUZZOBJ	:= $(patsubst src/%.c,build/fuzz/obj/%.o,$(FUZZLIB))
FUZZFL	= -std=c11 -D_GNU_SOURCE -DLIMPET_VERSION='"$(VERSION)"' \
	  -iquote src -g -O1 -fno-omit-frame-pointer

.SECONDARY: $(FUZZOBJ)

build/fuzz/obj/%.o: src/%.c $(wildcard src/*.h src/doctor/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZFL) -fsanitize=fuzzer-no-link,address,undefined \
	    -c -o $@ $<

build/fuzz/%-fuzzer: fuzz/%-fuzzer.c $(FUZZOBJ) | build/fuzz
	$(CLANG) $(FUZZFL) -fsanitize=fuzzer,address,undefined -o $@ $< \
	    $(FUZZOBJ) $(LDLIBS)

fuzzers: $(FUZZERS)

# Every target briefly (`make check`): FUZZ_SECONDS each (default 15),
# two at a time.
fuzz: $(FUZZERS)
	sh fuzz/run.sh $(or $(FUZZ_SECONDS),15) $(FUZZERS)

# Every target for FUZZ_SECONDS each (default 600), two at a time.
fuzz-long: $(FUZZERS)
	sh fuzz/run.sh $(or $(FUZZ_SECONDS),600) $(FUZZERS)

e2e: build/san/limpet limpet
	LIMPET_BIN=$(CURDIR)/build/san/limpet $(PYTHON) -m pytest -q \
	    -p no:cacheprovider tests/e2e $(PYTEST_ARGS)

# The chaos soak (not part of `make check`): faults at random moments in a
# network lab while data flows both ways.  SOAK_CUTS, SOAK_SEED,
# SOAK_MAX_PASTE, SOAK_MAX_BLACKHOLE: see docs/reliability.md.
soak: build/san/limpet
	$(PYTHON) tests/soak/soak.py

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

install: limpet
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 limpet $(DESTDIR)$(BINDIR)/limpet
	install -m 0644 docs/limpet.1 $(DESTDIR)$(MANDIR)/man1/limpet.1

clean:
	rm -rf build limpet
