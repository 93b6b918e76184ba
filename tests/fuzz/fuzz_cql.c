/* fuzz_cql.c - libFuzzer target for the CQL frame decoder and result parsing
 * (plugins/sink_cassandra/cql/frame.c, types.c): the input is a stream of response
 * frames, as a server would send them.  Each frame that parses is decoded; every cell
 * of a Rows result is decoded with its column type, and errors are described.  A
 * decoder may reject input (with a reason) but never crash, read out of bounds, or
 * allocate more than the input could describe.  Seeds: tests/fuzz/corpus/fuzz_cql/.
 *
 *   make build-fuzz/fuzz_cql && build-fuzz/fuzz_cql tests/fuzz/corpus/fuzz_cql */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/sink_cassandra/cql/cql.h"

#define FUZZ_ASSERT(cond)                                                  \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_cql: assertion failed: %s\n", #cond);    \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rows(sl_arena_t *arena, const cql_result_t *res) {
    if (res->kind != CQL_RESULT_ROWS || !res->meta.cols) return;
    for (int32_t r = 0; r < res->nrows; r++)
        for (int32_t c = 0; c < res->meta.ncols; c++) {
            sl_value_t v;
            sl_error_t err = {0};
            const cql_type_t *t = res->meta.cols[c].type;
            if (cql_value_decode(arena, t, res->cells[(size_t)r * (size_t)res->meta.ncols + (size_t)c], &v, &err) != 0)
                FUZZ_ASSERT(err.msg[0] != 0);
            sl_buf_t b = SL_BUF_INIT;
            cql_type_format(&b, t);   /* every decoded type can be written back */
            sl_buf_free(&b);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sl_arena_t arena;
    sl_arena_init(&arena, 4096);
    size_t off = 0;
    while (off < size) {
        cql_frame_t f;
        sl_error_t err = {0};
        int rc = cql_frame_parse(data + off, size - off, 1 << 20, &f, &err);
        if (rc == 1) break;   /* incomplete: a connection would wait for more */
        if (rc != 0) {
            FUZZ_ASSERT(rc == SL_PARSE && err.msg[0]);
            break;
        }
        FUZZ_ASSERT(f.total <= size - off && f.body + f.len <= data + size);
        cql_response_t r;
        rc = cql_response_decode(&f, &arena, &r, &err);
        if (rc != 0) {
            FUZZ_ASSERT(rc == SL_PARSE && err.msg[0]);
        } else {
            if (r.opcode == CQL_OP_ERROR) {
                char d[512];
                cql_error_describe(&r.error, d, sizeof d);
                FUZZ_ASSERT(strlen(d) < sizeof d);
            }
            if (r.opcode == CQL_OP_RESULT) {
                check_rows(&arena, &r.result);
                if (r.result.kind == CQL_RESULT_PREPARED) {
                    FUZZ_ASSERT(r.result.id.len <= (int32_t)f.len);
                    for (int32_t i = 0; i < r.result.meta.pk_count; i++) (void)r.result.meta.pk_index[i];
                }
            }
        }
        off += f.total;
        sl_arena_reset(&arena);
    }
    /* the same bytes as a column type written in a config */
    if (size < 256) {
        char s[256];
        memcpy(s, data, size);
        s[size] = 0;
        const cql_type_t *t;
        sl_error_t err = {0};
        if (cql_type_parse(&arena, s, &t, &err) == 0) {
            sl_buf_t b = SL_BUF_INIT;
            cql_type_format(&b, t);
            sl_buf_free(&b);
        } else {
            FUZZ_ASSERT(err.msg[0]);
        }
    }
    sl_arena_free(&arena);
    return 0;
}
