# sluice - build, test, demo.  `make` builds build/sluice; `make test` installs what is
# missing, builds and runs every test; `make demo` runs the sample pipelines.
CC       ?= cc
CSTD     := -std=c11 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
OPT      ?= -O2 -g
CFLAGS   += $(CSTD) $(WARN) $(OPT) -Iinclude -Ibuild/gen -pthread
LDLIBS   := -lyaml -lsqlite3 -lmicrohttpd -lz -lm -lpthread -lcurl -lrdkafka -lpq -lmariadb

SRC      := $(filter-out src/main.c,$(wildcard src/*.c)) $(shell find plugins -name '*.c' 2>/dev/null | sort)
PLUGDIRS := $(sort $(dir $(shell find plugins -name '*.c' 2>/dev/null)))
UNIT     := $(wildcard tests/unit/test_*.c)

all: build/sluice

# ---- the registry of plugins, generated from the plugin folders ----
build/gen/registry.c: scripts/gen-registry.sh $(PLUGDIRS) | build/gen
	sh scripts/gen-registry.sh plugins > $@.tmp && mv $@.tmp $@

# ---- the dashboard's files (web/src + a few from web/node_modules), embedded ----
build/gen/web_assets.c: scripts/web-assets.sh web/package.json web/package-lock.json $(wildcard web/src/*) | build/gen
	sh scripts/web-assets.sh web > $@.tmp.$$$$ && mv $@.tmp.$$$$ $@

build/gen:
	mkdir -p $@

# ---- the normal build ----
OBJ := $(patsubst %.c,build/obj/%.o,$(SRC)) build/obj/gen/registry.o build/obj/gen/web_assets.o

build/obj/%.o: %.c $(wildcard include/sluice/*.h) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -c $< -o $@

build/obj/gen/registry.o: build/gen/registry.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/obj/gen/web_assets.o: build/gen/web_assets.c src/web.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/libsluice.a: $(OBJ)
	rm -f $@ && ar rcs $@ $^

build/sluice: build/obj/src/main.o build/libsluice.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# ---- unit tests (plain and ASan+UBSan) ----
build/tests/%: tests/unit/%.c tests/unit/t.h build/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< build/libsluice.a $(LDLIBS)

# ---- integration helpers: librdkafka's mock Kafka cluster in its own process ----
build/tests/kafka_mock: tests/integration/kafka_mock.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) -o $@ $< -lrdkafka

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_OBJ := $(patsubst %.c,build-asan/obj/%.o,$(SRC)) build-asan/obj/gen/registry.o build-asan/obj/gen/web_assets.o

build-asan/obj/%.o: %.c $(wildcard include/sluice/*.h) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	@$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) -Iinclude -Ibuild/gen -pthread -c $< -o $@

build-asan/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	@$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) -Iinclude -Ibuild/gen -pthread -c $< -o $@

build-asan/sluice-asan.a: $(ASAN_OBJ)
	@rm -f $@ && ar rcs $@ $^

# the whole binary under ASan+UBSan, for running the process tests with it:
#   make build-asan/sluice && SLUICE=$PWD/build-asan/sluice sh tests/integration/t_kafka_transport.sh
build-asan/sluice: build-asan/obj/src/main.o build-asan/sluice-asan.a
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) -Iinclude -Ibuild/gen -pthread -o $@ $^ $(LDLIBS)

build-asan/tests/%: tests/unit/%.c tests/unit/t.h build-asan/sluice-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) -Iinclude -Ibuild/gen -Itests/unit -pthread -o $@ $< build-asan/sluice-asan.a $(LDLIBS)

UNIT_BINS      := $(patsubst tests/unit/%.c,build/tests/%,$(UNIT))
UNIT_ASAN_BINS := $(patsubst tests/unit/%.c,build-asan/tests/%,$(UNIT))

unit: $(UNIT_BINS)
	@sh scripts/run-unit.sh $(UNIT_BINS)

unit-asan: $(UNIT_ASAN_BINS)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 sh scripts/run-unit.sh $(UNIT_ASAN_BINS)

# ---- engine tests: whole pipelines in-process (tests/engine; each case in a forked child),
#      on the journal and on librdkafka's mock cluster; plain and ASan+UBSan ----
ENGINE           := $(wildcard tests/engine/test_*.c)
ENGINE_BINS      := $(patsubst tests/engine/%.c,build/tests/engine/%,$(ENGINE))
ENGINE_ASAN_BINS := $(patsubst tests/engine/%.c,build-asan/tests/engine/%,$(ENGINE))

build/tests/engine/%: tests/engine/%.c tests/engine/harness.h build/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/engine -o $@ $< build/libsluice.a $(LDLIBS)

build-asan/tests/engine/%: tests/engine/%.c tests/engine/harness.h build-asan/sluice-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) -Iinclude -Ibuild/gen -Itests/engine -pthread -o $@ $< build-asan/sluice-asan.a $(LDLIBS)

engine: $(ENGINE_BINS)
	@SUITE=engine sh scripts/run-unit.sh $(ENGINE_BINS)

engine-asan: $(ENGINE_ASAN_BINS)
	@SUITE=engine-asan ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 sh scripts/run-unit.sh $(ENGINE_ASAN_BINS)

.PHONY: engine engine-asan

# ---- fuzzers (clang + libFuzzer): the engine compiled once, each target linked to it ----
FUZZ := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_CFLAGS := $(CSTD) -O1 -g -fsanitize=fuzzer-no-link,address,undefined -Iinclude -Ibuild/gen -pthread
FUZZ_OBJ := $(patsubst %.c,build-fuzz/obj/%.o,$(SRC)) build-fuzz/obj/gen/registry.o build-fuzz/obj/gen/web_assets.o

build-fuzz/obj/%.o: %.c $(wildcard include/sluice/*.h) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	@clang $(FUZZ_CFLAGS) -c $< -o $@

build-fuzz/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	@clang $(FUZZ_CFLAGS) -c $< -o $@

build-fuzz/libsluice-fuzz.a: $(FUZZ_OBJ)
	@rm -f $@ && ar rcs $@ $^

build-fuzz/%: tests/fuzz/%.c build-fuzz/libsluice-fuzz.a
	clang $(CSTD) -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude -Ibuild/gen -pthread -o $@ $< build-fuzz/libsluice-fuzz.a $(LDLIBS)

fuzz: $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ))
	@sh scripts/run-fuzz.sh $(FUZZ_SECONDS) $^

FUZZ_SECONDS ?= 60

# ---- the whole suite ----
deps:
	@sh scripts/deps.sh

docs: build/sluice
	./build/sluice docs config > docs/CONFIG.md
	./build/sluice docs expressions > docs/EXPRESSIONS.md

docs-check: build/sluice
	@sh scripts/docs-check.sh

# cppcheck, clang-tidy and the dependency rules of DESIGN §7 (scripts/lint.sh says which)
lint: all
	@sh scripts/lint.sh

test: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/test-all.sh

.PHONY: soak
soak: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/soak.sh

demo: deps
	@$(MAKE) --no-print-directory all
	sh scripts/demo.sh

format:
	clang-format -i $$(find src include plugins tests -name '*.[ch]')

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all unit unit-asan fuzz deps docs docs-check lint test demo format clean
-include $(shell find build/obj -name '*.d' 2>/dev/null)
