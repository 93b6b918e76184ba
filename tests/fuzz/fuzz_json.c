/* fuzz_json.c - libFuzzer target for the JSON reader and writer: whatever parses must
 * write back to JSON that parses to an equal value, and writing that again gives the
 * same text (the writer's output is a fixed point).
 *
 * clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *   tests/fuzz/fuzz_json.c src/json.c src/value.c src/arena.c src/buf.c src/error.c -lm \
 *   -o build/fuzz_json && build/fuzz_json tests/fuzz/corpus/fuzz_json -max_total_time=60 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/json.h"

#define FUZZ_ASSERT(cond)                                                       \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "fuzz_json: assertion failed: %s\n", #cond);        \
            abort();                                                            \
        }                                                                       \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_arena_t arena;
    sl_arena_init(&arena, 4096);
    sl_value_t v, v2, v3;
    sl_json_error_t err;
    int rc = sl_json_parse(&arena, (const char *)data, size, &v, &err);
    if (rc != 0) {
        FUZZ_ASSERT(err.offset <= size);
        FUZZ_ASSERT(err.reason[0] != 0);
    } else {
        sl_buf_t out = SL_BUF_INIT, out2 = SL_BUF_INIT;
        sl_json_write(&out, v);
        rc = sl_json_parse(&arena, out.data, out.len, &v2, &err);
        if (rc != 0) fprintf(stderr, "re-parse failed at %zu: %s\n%s\n", err.offset, err.reason, out.data);
        FUZZ_ASSERT(rc == 0);
        FUZZ_ASSERT(sl_value_equal(v, v2));
        sl_json_write(&out2, v2);
        FUZZ_ASSERT(out2.len == out.len && memcmp(out.data, out2.data, out.len) == 0);
        /* A deep copy is equal too. */
        sl_arena_t other;
        sl_arena_init(&other, 1024);
        v3 = sl_value_copy(&other, v);
        FUZZ_ASSERT(sl_value_equal(v, v3) && sl_value_cmp(v, v3) == 0);
        sl_arena_free(&other);
        sl_buf_free(&out);
        sl_buf_free(&out2);
    }
    /* The prefix reader agrees with the whole-input reader on where a value ends. */
    size_t used = 0;
    if (sl_json_parse_prefix(&arena, (const char *)data, size, &v, &used, &err) == 0)
        FUZZ_ASSERT(used <= size);
    sl_arena_free(&arena);
    return 0;
}
