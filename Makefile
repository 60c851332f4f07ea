# callbridge — plain Makefile. `make` builds bin/callbridge; `make run` and `make test`
# do their own set-up (dependencies, a local PostgreSQL) on a fresh Debian 12 machine.

PKGS     := libevent libevent_openssl json-c libpq openssl
CC       ?= cc
OPT      ?= -O2
WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wundef -Wwrite-strings -Wcast-align -Wvla
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) $(EXTRA_CFLAGS)
ifeq ($(WERROR),1)
CFLAGS   += -Werror
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

BUILD    ?= build
BINDIR   ?= bin
VERSION  := $(shell cat VERSION)

# Everything but main.c goes into a library that the unit tests link too.
LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/%.o) $(BUILD)/migrations.o
MIGRATIONS := $(sort $(wildcard sql/migrations/*.sql))
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test test-unit test-e2e test-asan fuzz bench report docker-check clean format format-check

all: $(BINDIR)/callbridge

$(BINDIR)/callbridge: $(BUILD)/main.o $(BUILD)/libcallbridge.a
	@mkdir -p $(BINDIR)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/libcallbridge.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -DCALLBRIDGE_VERSION='"$(VERSION)"' -MMD -MP -Isrc -c -o $@ $<

# The migrations are compiled into the binary so that it runs from any directory.
$(BUILD)/migrations.c: $(MIGRATIONS) scripts/embed-sql.sh | $(BUILD)
	sh scripts/embed-sql.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/migrations.o: $(BUILD)/migrations.c
	$(CC) $(CFLAGS) -Isrc -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/harness.h $(BUILD)/libcallbridge.a
	@mkdir -p $(BUILD)/tests
	$(CC) $(CFLAGS) $(LDFLAGS) $(PKG_CFLAGS) -Isrc -Itests/unit -o $@ $< $(BUILD)/libcallbridge.a $(PKG_LIBS)

$(BUILD):
	@mkdir -p $(BUILD)

deps:
	@sh scripts/deps.sh

# The tests' real peers besides PostgreSQL (PgBouncer, HAProxy, promtool, Chromium, Node).
.PHONY: deps-test
deps-test:
	@sh scripts/deps.sh test

run: deps
	@$(MAKE) -s --no-print-directory all
	@bash scripts/run.sh

# `make test`: unit tests, then end-to-end tests against a throwaway PostgreSQL.
# Every test speaks TAP; prove prints the summary line.
test: deps-test
	@$(MAKE) --no-print-directory all unit-bins
	@prove --exec '' --timer $(UNIT_BIN) tests/e2e/*.t

test-unit: all unit-bins
	@prove --exec '' $(UNIT_BIN)

test-e2e: all
	@prove --exec '' --timer tests/e2e/*.t

.PHONY: unit-bins
unit-bins: $(UNIT_BIN)

# The whole suite against a build with AddressSanitizer and UndefinedBehaviorSanitizer:
# any report fails the test that triggered it (the daemon's stderr is checked at exit).
ASAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
test-asan: deps-test
	@$(MAKE) --no-print-directory BUILD=build-asan BINDIR=bin-asan OPT="$(ASAN_FLAGS)" \
		LDFLAGS="-fsanitize=address,undefined" all unit-bins
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66 UBSAN_OPTIONS=print_stacktrace=1 \
		CB_TEST_BIN=$(CURDIR)/bin-asan/callbridge \
		prove --exec '' --timer $(UNIT_SRC:tests/unit/%.c=build-asan/tests/%) tests/e2e/*.t

# The tests that run several threads (worker loops, the spool's writer, shutdown while
# threads are busy) against a build with ThreadSanitizer; any report fails the test that
# triggered it, as with test-asan. tests/tsan.supp holds only reports inside Debian's
# libraries, which are not built with -fsanitize=thread (see the file).
TSAN_FLAGS := -O1 -fsanitize=thread -fno-omit-frame-pointer
TSAN_TESTS := 25-workers 35-spool 36-spool-flags 37-deadline 40-lifecycle 64-retention 98-sources
.PHONY: test-tsan
test-tsan: deps-test
	@$(MAKE) --no-print-directory BUILD=build-tsan BINDIR=bin-tsan OPT="$(TSAN_FLAGS)" \
		LDFLAGS="-fsanitize=thread" all
	@TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
		CB_TEST_BIN=$(CURDIR)/bin-tsan/callbridge \
		prove --exec '' --timer $(TSAN_TESTS:%=tests/e2e/%.t)

# libFuzzer targets (fuzz/), FUZZ_SECONDS each (default 60); see fuzz/README.md.
fuzz: deps
	@bash scripts/fuzz.sh

# make report NAME=daily_call_volume ARGS="-v from=2026-05-01" (sql/reports/NAME.sql)
report:
	@bash scripts/report.sh $(NAME) $(ARGS)

# Builds docker/Dockerfile and runs the image with podman (as root; see the script).
docker-check:
	@bash scripts/docker-check.sh

bench: deps
	@$(MAKE) -s --no-print-directory all
	@bash scripts/bench.sh

format:
	clang-format -i src/*.c src/*.h tests/unit/*.c tests/unit/*.h fuzz/*.c

format-check:
	clang-format --dry-run --Werror src/*.c src/*.h tests/unit/*.c tests/unit/*.h fuzz/*.c

clean:
	rm -rf $(BUILD) bin build-asan bin-asan build-fuzz build-tsan bin-tsan

-include $(wildcard $(BUILD)/*.d)
