/* fuzz_expr.c - libFuzzer target for the expression compiler, evaluator and templates:
 * any input must compile or fail with an offset inside the input, and evaluation of
 * what compiles must return 0 or SL_EVAL without crashing, leaking or overrunning.
 *   clang -fsanitize=fuzzer,address,undefined -Iinclude tests/fuzz/fuzz_expr.c src/... */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/expr.h"
#include "sluice/json.h"

static const char rec_json[] =
    "{\"s\": \"Hello Sørensen\", \"n\": 7, \"d\": -2.5, \"z\": null, \"t\": true,"
    " \"arr\": [3, 1, \"x\", [1, 2], {\"k\": 1}], \"o\": {\"a\": 1, \"b\": [2]},"
    " \"classType\": \"M5.2\", \"beginTime\": \"2024-10-01T14:41Z\", \"endTime\": null,"
    " \"messageBody\": \"## Summary: x ## Notes: y\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_arena_t arena;
    sl_arena_init(&arena, 4096);
    sl_record_t rec;
    memset(&rec, 0, sizeof rec);
    sl_json_error_t je;
    if (sl_json_parse(&arena, rec_json, sizeof rec_json - 1, &rec.value, &je) != 0) abort();
    rec.key = "key";
    rec.key_len = 3;
    rec.topic = "topic";
    rec.ts = 1727793660000LL;
    sl_value_t vars = rec.value;
    sl_expr_ctx_t ctx = {&rec, &vars, &arena, 1727793660000LL, NULL};

    size_t off = 0;
    char msg[256];
    sl_expr_t *e = sl_expr_compile((const char *)data, size, &off, msg, sizeof msg);
    if (e) {
        sl_value_t v;
        sl_error_t err;
        int rc = sl_expr_eval(e, &ctx, &v, &err);
        if (rc != 0 && rc != SL_EVAL) abort();
        if (rc == 0) {
            sl_buf_t b = SL_BUF_INIT;
            sl_json_write(&b, v);
            sl_buf_free(&b);
        }
        const char *p;
        if (sl_expr_is_path(e, &p) && !p) abort();
        sl_expr_free(e);
    } else if (off > size) {
        abort();
    }
    sl_template_t *t = sl_template_compile((const char *)data, size, &off, msg, sizeof msg);
    if (t) {
        const char *out;
        size_t len;
        sl_error_t err;
        int rc = sl_template_render(t, &ctx, &out, &len, &err);
        if (rc != 0 && rc != SL_EVAL) abort();
        sl_template_free(t);
    } else if (off > size) {
        abort();
    }
    sl_arena_free(&arena);
    return 0;
}
