/* fuzz_http_query.c - libFuzzer target for the HTTP server's parsers of untrusted input
 * (src/serve_parse.c): the query string, path segments, `where=`/`order=`/time values,
 * listen addresses, content types, ingest bodies, and the table API's query plan.
 *
 * Input: the first byte picks the ingest body kind, the rest up to the first '\n' is a
 * query string, the remainder an ingest body.  Properties checked:
 *  - the plan's SQL text only ever holds the fixed keywords, '?' and quoted names of
 *    the known columns: no byte of a value reaches SQL;
 *  - every bind count matches the '?'s; limit <= 10,000;
 *  - an ingest body that fails to parse reports an offset inside the body and a reason;
 *  - every record of an accepted ingest body is a JSON object (DESIGN 2.9).
 *
 * make build-fuzz/fuzz_http_query && build-fuzz/fuzz_http_query tests/fuzz/corpus/fuzz_http_query */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/serve_int.h"
#include "sluice/error.h"

#define FUZZ_ASSERT(cond)                                                         \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "fuzz_http_query: assertion failed: %s\n", #cond);    \
            abort();                                                              \
        }                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const sl_qcol_t cols[] = {{"id", "INTEGER", true}, {"name", "TEXT", false},
                                 {"seen_at", "TEXT", false}, {"ms", "INTEGER", true}};

/* The SQL fragment with every quoted known column and fixed keyword removed must be
 * only spaces, '?', and operator characters. */
static void check_sql(const char *sql) {
    if (!sql) return;
    static const char *const allowed[] = {"\"id\"", "\"name\"", "\"seen_at\"", "\"ms\"", " WHERE ",
                                          " AND ", " ORDER BY ", " ASC", " DESC", " LIKE ",
                                          " ESCAPE '\\'", NULL};
    const char *p = sql;
    while (*p) {
        size_t adv = 0;
        for (size_t i = 0; allowed[i]; i++)
            if (strncmp(p, allowed[i], strlen(allowed[i])) == 0) adv = strlen(allowed[i]);
        if (!adv) {
            FUZZ_ASSERT(strchr(" ?=<>", *p) != NULL);
            adv = 1;
        }
        p += adv;
    }
}

static size_t count_q(const char *s) {
    size_t n = 0;
    for (; s && *s; s++) n += *s == '?';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int kind = data[0] & 1 ? SL_CT_NDJSON : SL_CT_JSON;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    const char *nl = memchr(in, '\n', len);
    size_t qlen = nl ? (size_t)(nl - in) : len;
    sl_arena_t arena;
    sl_arena_init(&arena, 4096);

    sl_qarg_t *args;
    size_t n;
    if (sl_http_query_parse(in, qlen, &arena, &args, &n) == 0) {
        char why[256];
        sl_qplan_t plan;
        int rc = sl_qplan_build(cols, 4, args, n, &arena, &plan, why, sizeof why);
        if (rc == 0) {
            check_sql(plan.where.data);
            check_sql(plan.order.data);
            FUZZ_ASSERT(count_q(plan.where.data) == plan.nbinds);
            FUZZ_ASSERT(plan.limit >= 0 && plan.limit <= SL_QUERY_LIMIT_MAX);
            FUZZ_ASSERT(plan.offset >= 0);
        } else {
            FUZZ_ASSERT(rc == SL_PARSE);
            FUZZ_ASSERT(strlen(why) < sizeof why);
        }
        sl_qplan_free(&plan);
        for (size_t i = 0; i < n; i++) {
            int64_t ms;
            bool d;
            if (sl_http_time_parse(args[i].val, &ms, &d) == 0) {
                char iso[32];
                sl_http_time_iso(ms, iso);
                FUZZ_ASSERT(strlen(iso) >= 24);
            }
            char host[64];
            int port;
            if (sl_http_listen_parse(args[i].val, host, sizeof host, &port) == 0) {
                FUZZ_ASSERT(port >= 0 && port <= 65535);
                (void)sl_http_host_loopback(host);
            }
            (void)sl_http_content_kind(args[i].val);
            char *seg = sl_http_segment_decode(args[i].key, strlen(args[i].key), &arena);
            FUZZ_ASSERT(!seg || !strchr(seg, '/'));
        }
    }

    if (nl) {
        const char *body = nl + 1;
        size_t blen = len - qlen - 1;
        sl_batch_t batch;
        sl_batch_init(&batch);
        sl_json_error_t err;
        memset(&err, 0, sizeof err);
        if (sl_http_ingest_parse(body, blen, kind, &batch, &err) != 0) {
            FUZZ_ASSERT(err.offset <= blen);
            FUZZ_ASSERT(err.reason[0] != 0);
        } else {
            for (size_t i = 0; i < batch.n; i++) FUZZ_ASSERT(batch.recs[i].value.type == SL_T_OBJECT);
        }
        sl_batch_free(&batch);
    }
    sl_arena_free(&arena);
    return 0;
}
