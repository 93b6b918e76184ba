/* test_steps.c - unit tests of the steps explode, dedup, validate and window: each
 * compiled from YAML text through the registry and applied to hand-built batches;
 * dead letters, snapshot/restore, and config errors with their positions. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/engine.h"
#include "sluice/json.h"
#include "t.h"

/* ---- helpers ---- */

/* A step compiled from `text` ("window: {...}"), as the pipeline loader would. */
typedef struct tstep {
    sl_conf_t conf;
    sl_diags_t diags;
    sl_arena_t arena;
    sl_step_t step;
    int rc;
} tstep_t;

static int tstep_open(tstep_t *t, const char *text) {
    memset(t, 0, sizeof *t);
    sl_arena_init(&t->arena, 0);
    t->rc = sl_conf_load_string(&t->conf, "t.yaml", text, strlen(text), &t->diags);
    if (t->rc != 0 || !t->conf.root || t->conf.root->kind != SL_CNODE_MAP || t->conf.root->n != 1)
        return t->rc = -1;
    const sl_cnode_t *k = t->conf.root->pairs[0].key;
    t->step.plugin = sl_step_plugin_find(k->str);
    if (!t->step.plugin) return t->rc = -1;
    t->step.name = t->step.plugin->name;
    t->step.node = t->conf.root->pairs[0].val;
    sl_init_ctx_t ctx = {.what = "step under test", .node = t->step.node, .data_dir = ".",
                         .arena = &t->arena, .diags = &t->diags};
    t->rc = t->step.plugin->compile(&t->step, &ctx);
    if (t->rc == 0 && t->diags.n) t->rc = -1;
    return t->rc;
}

static void tstep_close(tstep_t *t) {
    if (t->step.plugin && t->step.plugin->free) t->step.plugin->free(&t->step);
    sl_conf_free(&t->conf);
    sl_diags_free(&t->diags);
    sl_arena_free(&t->arena);
}

/* The first diagnostic as "LINE:COL: MSG" (static buffer). */
static const char *diag0(const tstep_t *t) {
    static char out[1200];
    if (!t->diags.n) return "(none)";
    snprintf(out, sizeof out, "%d:%d: %s", t->diags.items[0].line, t->diags.items[0].col,
             t->diags.items[0].msg);
    return out;
}

/* A batch and the step context around it. */
typedef struct tbatch {
    sl_batch_t b;
    sl_step_ctx_t ctx;
} tbatch_t;

static void tb_init(tbatch_t *tb) {
    sl_batch_init(&tb->b);
    sl_step_ctx_init(&tb->ctx, NULL, NULL, &tb->b);
    tb->ctx.now_ms = 1700000000000;
}

static void tb_free(tbatch_t *tb) {
    sl_step_ctx_free(&tb->ctx);
    sl_batch_free(&tb->b);
}

/* Empty the batch and its dead letters for the next round. */
static void tb_reset(tbatch_t *tb) {
    sl_batch_reset(&tb->b);
    tb->ctx.ndlq = 0;
}

/* Append a record: JSON value, key (may be NULL) and event time. */
static void tb_push(tbatch_t *tb, const char *json, const char *key, int64_t ts) {
    sl_record_t *rec = sl_batch_push(&tb->b);
    sl_json_error_t je;
    if (sl_json_parse(&tb->b.arena, json, strlen(json), &rec->value, &je) != 0) {
        fprintf(stderr, "bad test JSON: %s\n", json);
        abort();
    }
    rec->orig = rec->value;
    rec->key = key;
    rec->key_len = key ? (uint32_t)strlen(key) : 0;
    rec->ts = ts;
    rec->ingest_ts = ts;
    rec->topic = "in";
    rec->partition = 0;
    rec->offset = (int64_t)tb->b.n - 1;
}

static int tb_apply(tbatch_t *tb, tstep_t *t) {
    sl_error_t err = {0};
    tb->ctx.batch = &tb->b;
    tb->ctx.step = &t->step;
    return t->step.plugin->apply(&t->step, &tb->b, &tb->ctx, &err);
}

static int tb_flush(tbatch_t *tb, tstep_t *t) {
    sl_error_t err = {0};
    tb->ctx.batch = &tb->b;
    tb->ctx.step = &t->step;
    return t->step.plugin->flush(&t->step, &tb->b, &tb->ctx, &err);
}

/* The batch's record values as JSON, space separated (static buffer). */
static const char *tb_values(const tbatch_t *tb) {
    static sl_buf_t out;
    sl_buf_clear(&out);
    for (size_t i = 0; i < tb->b.n; i++) {
        if (i) sl_buf_putc(&out, ' ');
        sl_json_write(&out, tb->b.recs[i].value);
    }
    return out.data ? out.data : "";
}

/* Dead letter i: its error, and its record as JSON. */
static const char *dlq_error(const tbatch_t *tb, size_t i) {
    if (i >= tb->ctx.ndlq) return "(no dead letter)";
    const sl_value_t *e = sl_value_get(&tb->ctx.dlq[i].value, "error", 5);
    return e && e->type == SL_T_STRING ? e->u.s : "(no error)";
}

static const char *dlq_record(const tbatch_t *tb, size_t i) {
    static sl_buf_t out;
    sl_buf_clear(&out);
    if (i >= tb->ctx.ndlq) return "(no dead letter)";
    const sl_value_t *r = sl_value_get(&tb->ctx.dlq[i].value, "record", 6);
    if (r) sl_json_write(&out, *r);
    return out.data ? out.data : "";
}

#define CHECK_HAS(s, sub)                                                           \
    do { const char *s_ = (s);                                                      \
         if (!s_ || !strstr(s_, (sub))) T_FAIL("\"%s\" does not contain \"%s\"",   \
                                               s_ ? s_ : "(null)", (sub)); } while (0)

static const int64_t T0 = 1704067200000;   /* 2024-01-01T00:00:00Z */
#define MIN 60000

/* ================================================================ explode */

TEST(explode_arrays_null_and_non_arrays) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "explode: items"), 0);
    tbatch_t tb;
    tb_init(&tb);
    tb_push(&tb, "{\"id\":1,\"items\":[{\"a\":1},{\"a\":2}]}", "k1", 111);
    tb_push(&tb, "{\"id\":2,\"items\":null}", "k2", 222);
    tb_push(&tb, "{\"id\":3}", "k3", 333);
    tb_push(&tb, "{\"id\":4,\"items\":[]}", "k4", 444);
    tb_push(&tb, "{\"id\":5,\"items\":\"x\"}", "k5", 555);
    tb_push(&tb, "{\"id\":6,\"items\":[{\"a\":3}]}", "k6", 666);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_STR(tb_values(&tb), "{\"a\":1} {\"a\":2} {\"a\":3}");
    CHECK_INT(tb.b.n, 3);
    if (tb.b.n == 3) {
        /* key, ts and metadata of the parent are kept */
        CHECK_INT(tb.b.recs[0].ts, 111);
        CHECK_INT(tb.b.recs[1].ts, 111);
        CHECK_INT(tb.b.recs[2].ts, 666);
        CHECK(tb.b.recs[1].key_len == 2 && memcmp(tb.b.recs[1].key, "k1", 2) == 0);
        CHECK(tb.b.recs[2].key_len == 2 && memcmp(tb.b.recs[2].key, "k6", 2) == 0);
        CHECK_INT(tb.b.recs[2].offset, 5);
        CHECK_STR(tb.b.recs[2].topic, "in");
    }
    CHECK_INT(tb.ctx.ndlq, 1);
    CHECK_HAS(dlq_error(&tb, 0), "gave string, not an array");
    CHECK_STR(dlq_record(&tb, 0), "{\"id\":5,\"items\":\"x\"}");
    tb_free(&tb);
    tstep_close(&t);
}

TEST(explode_as_field_keeps_the_record) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "explode: {path: \"tags\", as: tag.name}"), 0);
    tbatch_t tb;
    tb_init(&tb);
    tb_push(&tb, "{\"id\":1,\"tags\":[\"x\",\"y\"]}", NULL, 1);
    tb_push(&tb, "{\"id\":2,\"tags\":{\"not\":\"array\"}}", NULL, 2);
    tb_push(&tb, "{\"id\":3,\"tags\":[7]}", NULL, 3);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_STR(tb_values(&tb),
              "{\"id\":1,\"tags\":[\"x\",\"y\"],\"tag\":{\"name\":\"x\"}} "
              "{\"id\":1,\"tags\":[\"x\",\"y\"],\"tag\":{\"name\":\"y\"}} "
              "{\"id\":3,\"tags\":[7],\"tag\":{\"name\":7}}");
    CHECK_INT(tb.ctx.ndlq, 1);
    CHECK_HAS(dlq_error(&tb, 0), "gave object, not an array");
    CHECK_STR(dlq_record(&tb, 0), "{\"id\":2,\"tags\":{\"not\":\"array\"}}");
    tb_free(&tb);
    tstep_close(&t);
}

TEST(explode_grows_the_batch_past_its_capacity) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "explode: \"[id, id * 10, id * 100]\""), 0);
    tbatch_t tb;
    tb_init(&tb);
    for (int i = 0; i < 300; i++) {
        char j[64];
        snprintf(j, sizeof j, "{\"id\":%d}", i);
        tb_push(&tb, j, NULL, i);
    }
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_INT(tb.b.n, 900);
    CHECK_INT(tb.ctx.ndlq, 0);
    if (tb.b.n == 900) {
        CHECK_INT(tb.b.recs[899].value.u.i, 29900);
        CHECK_INT(tb.b.recs[899].ts, 299);
        CHECK_INT(tb.b.recs[3].value.u.i, 1);
    }
    tb_free(&tb);
    tstep_close(&t);
}

TEST(explode_eval_error_goes_to_the_dlq) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "explode: \"if number(n) > 0 then [n, n] else []\""), 0);
    tbatch_t tb;
    tb_init(&tb);
    tb_push(&tb, "{\"n\":\"abc\"}", NULL, 1);
    tb_push(&tb, "{\"n\":\"5\"}", NULL, 2);
    tb_push(&tb, "{\"n\":\"-1\"}", NULL, 3);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_STR(tb_values(&tb), "\"5\" \"5\"");
    CHECK_INT(tb.ctx.ndlq, 1);
    CHECK_HAS(dlq_error(&tb, 0), "explode: ");
    CHECK_STR(dlq_record(&tb, 0), "{\"n\":\"abc\"}");
    tb_free(&tb);
    tstep_close(&t);
}

TEST(explode_config_errors) {
    tstep_t t;
    CHECK(tstep_open(&t, "explode:\n  path: \"items[\"\n") != 0);
    CHECK_HAS(diag0(&t), "2:");
    tstep_close(&t);
    CHECK(tstep_open(&t, "explode: {path: items, as: \"a..b\"}") != 0);
    CHECK_HAS(diag0(&t), "invalid field path 'a..b'");
    tstep_close(&t);
    CHECK(tstep_open(&t, "explode: {pth: items}") != 0);
    CHECK_HAS(diag0(&t), "pth");
    tstep_close(&t);
}

/* ================================================================ dedup */

static const char *dedup_run(tstep_t *t, tbatch_t *tb, const char *ids, const int64_t *ts) {
    tb_reset(tb);
    char one[2] = {0, 0};
    for (size_t i = 0; ids[i]; i++) {
        char j[64];
        one[0] = ids[i];
        snprintf(j, sizeof j, "{\"id\":\"%s\",\"n\":%zu}", one, i);
        tb_push(tb, j, NULL, ts[i]);
    }
    tb_apply(tb, t);
    return tb_values(tb);
}

TEST(dedup_drops_repeats_within_the_window) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "dedup: {key: id, within: 1h}"), 0);
    tbatch_t tb;
    tb_init(&tb);
    int64_t ts[] = {T0, T0 + 10 * MIN, T0 + 5 * MIN, T0 + 69 * MIN, T0 + 71 * MIN, T0 + 200 * MIN, T0 + 200 * MIN};
    /* a@0 passes; a@10m repeat; b@5m passes; a@69m repeat (59m after 10m, which
     * counted as seen); a@71m repeat? 71-69 = 2m: yes; b@200m passes (195m later);
     * c passes */
    CHECK_STR(dedup_run(&t, &tb, "aabaabc", ts),
              "{\"id\":\"a\",\"n\":0} {\"id\":\"b\",\"n\":2} {\"id\":\"b\",\"n\":5} {\"id\":\"c\",\"n\":6}");
    /* repeats inside one batch, and across batches */
    int64_t ts2[] = {T0 + 300 * MIN, T0 + 300 * MIN, T0 + 301 * MIN};
    CHECK_STR(dedup_run(&t, &tb, "ddc", ts2), "{\"id\":\"d\",\"n\":0} {\"id\":\"c\",\"n\":2}");
    CHECK_INT(tb.ctx.ndlq, 0);
    tb_free(&tb);
    tstep_close(&t);
}

TEST(dedup_object_keys_and_null_keys) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "dedup: {key: \"{'a': a, 'b': b}\"}"), 0);
    tbatch_t tb;
    tb_init(&tb);
    tb_push(&tb, "{\"a\":1,\"b\":\"x\"}", NULL, T0);
    tb_push(&tb, "{\"a\":1,\"b\":\"y\"}", NULL, T0);
    tb_push(&tb, "{\"a\":1,\"b\":\"x\",\"c\":true}", NULL, T0 + 1);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_INT(tb.b.n, 2);
    tstep_close(&t);
    /* a null key always passes */
    CHECK_INT(tstep_open(&t, "dedup: {key: id}"), 0);
    tb_reset(&tb);
    tb_push(&tb, "{\"x\":1}", NULL, T0);
    tb_push(&tb, "{\"x\":2}", NULL, T0);
    tb_push(&tb, "{\"id\":null}", NULL, T0);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_INT(tb.b.n, 3);
    tb_free(&tb);
    tstep_close(&t);
}

TEST(dedup_key_error_keeps_the_rest_of_the_batch) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "dedup: {key: \"number(id)\", within: 1d}"), 0);
    tbatch_t tb;
    tb_init(&tb);
    tb_push(&tb, "{\"id\":\"1\"}", NULL, T0);
    tb_push(&tb, "{\"id\":\"abc\"}", NULL, T0);
    tb_push(&tb, "{\"id\":\"1.0\"}", NULL, T0);
    tb_push(&tb, "{\"id\":\"2\"}", NULL, T0);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_STR(tb_values(&tb), "{\"id\":\"1\"} {\"id\":\"2\"}");
    CHECK_INT(tb.ctx.ndlq, 1);
    CHECK_HAS(dlq_error(&tb, 0), "dedup key");
    CHECK_STR(dlq_record(&tb, 0), "{\"id\":\"abc\"}");
    tb_free(&tb);
    tstep_close(&t);
}

static size_t snap_len(tstep_t *t) {
    sl_buf_t b = SL_BUF_INIT;
    t->step.plugin->snapshot(&t->step, &b);
    size_t n = b.len;
    sl_buf_free(&b);
    return n;
}

TEST(dedup_evicts_old_keys) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "dedup: {key: id, within: 10s}"), 0);
    tbatch_t tb;
    tb_init(&tb);
    /* 20000 distinct keys, one per second: at most ~11 are live at any time */
    for (int round = 0; round < 20; round++) {
        tb_reset(&tb);
        for (int i = 0; i < 1000; i++) {
            char j[64];
            int k = round * 1000 + i;
            snprintf(j, sizeof j, "{\"id\":%d}", k);
            tb_push(&tb, j, NULL, T0 + (int64_t)k * 1000);
        }
        CHECK_INT(tb_apply(&tb, &t), 0);
        CHECK_INT(tb.b.n, 1000);
    }
    CHECK_INT(snap_len(&t), 20 + 11 * 16);
    /* an evicted key passes again; a live one does not */
    tb_reset(&tb);
    tb_push(&tb, "{\"id\":5}", NULL, T0 + 19999 * 1000LL);
    tb_push(&tb, "{\"id\":19995}", NULL, T0 + 19999 * 1000LL);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_STR(tb_values(&tb), "{\"id\":5}");
    tb_free(&tb);
    tstep_close(&t);
}

TEST(dedup_snapshot_restore_same_decisions) {
    tstep_t whole, first, second;
    const char *cfg = "dedup: {key: \"k\", within: 30s}";
    CHECK_INT(tstep_open(&whole, cfg), 0);
    CHECK_INT(tstep_open(&first, cfg), 0);
    CHECK_INT(tstep_open(&second, cfg), 0);
    tbatch_t a, b;
    tb_init(&a);
    tb_init(&b);
    uint32_t rnd = 12345;
    char json[2000][48];
    int64_t ts[2000];
    for (int i = 0; i < 2000; i++) {
        rnd = rnd * 1103515245u + 12345u;
        snprintf(json[i], sizeof json[i], "{\"k\":%u,\"i\":%d}", (rnd >> 16) % 300, i);
        rnd = rnd * 1103515245u + 12345u;
        ts[i] = T0 + i * 100 + (int64_t)((rnd >> 16) % 5000);   /* out of order a little */
    }
    sl_buf_t want = SL_BUF_INIT, got = SL_BUF_INIT;
    for (int part = 0; part < 2; part++) {
        tb_reset(&a);
        tb_reset(&b);
        for (int i = part * 1000; i < part * 1000 + 1000; i++) {
            tb_push(&a, json[i], NULL, ts[i]);
            tb_push(&b, json[i], NULL, ts[i]);
        }
        CHECK_INT(tb_apply(&a, &whole), 0);
        sl_buf_puts(&want, tb_values(&a));
        if (part == 0) {
            CHECK_INT(tb_apply(&b, &first), 0);
            sl_buf_puts(&got, tb_values(&b));
            sl_buf_t snap = SL_BUF_INIT;
            CHECK_INT(first.step.plugin->snapshot(&first.step, &snap), 0);
            sl_error_t err = {0};
            CHECK_INT(second.step.plugin->restore(&second.step, snap.data, snap.len, &err), 0);
            sl_buf_free(&snap);
        } else {
            CHECK_INT(tb_apply(&b, &second), 0);
            sl_buf_puts(&got, tb_values(&b));
        }
    }
    CHECK(want.len > 100 && got.len == want.len && memcmp(want.data, got.data, want.len) == 0);
    CHECK(a.b.n < 1000);   /* some repeats were dropped */
    /* a snapshot that is not one */
    sl_error_t err = {0};
    CHECK(second.step.plugin->restore(&second.step, "garbage-garbage-garbage", 23, &err) != 0);
    CHECK_HAS(err.msg, "dedup state");
    sl_buf_free(&want);
    sl_buf_free(&got);
    tb_free(&a);
    tb_free(&b);
    tstep_close(&whole);
    tstep_close(&first);
    tstep_close(&second);
}

TEST(dedup_config_errors) {
    tstep_t t;
    CHECK(tstep_open(&t, "dedup: {within: 1h}") != 0);
    CHECK_HAS(diag0(&t), "key");
    tstep_close(&t);
    CHECK(tstep_open(&t, "dedup: {key: id, within: soon}") != 0);
    CHECK_HAS(diag0(&t), "1:");
    tstep_close(&t);
    CHECK(tstep_open(&t, "dedup: id") != 0);
    tstep_close(&t);
}

/* ================================================================ validate */

TEST(validate_every_type_and_required) {
    tstep_t t;
    CHECK_INT(tstep_open(&t,
                         "validate:\n"
                         "  fields: {s: string, n: number, i: int, b: bool, o: object, a: array,\n"
                         "           x: any, t: time, d.e: int}\n"
                         "  required: [s, d.e, r]\n"),
              0);
    tbatch_t tb;
    tb_init(&tb);
    const char *good = "{\"s\":\"x\",\"n\":1.5,\"i\":3,\"b\":true,\"o\":{},\"a\":[],\"x\":null,"
                       "\"t\":\"2024-10-01T14:41Z\",\"d\":{\"e\":2},\"r\":0}";
    tb_push(&tb, good, NULL, 1);
    tb_push(&tb, "{\"s\":\"x\",\"i\":3.0,\"t\":1700000000,\"d\":{\"e\":2},\"r\":\"y\"}", NULL, 2);
    tb_push(&tb, "{\"s\":1,\"d\":{\"e\":2},\"r\":1}", NULL, 3);
    tb_push(&tb, "{\"s\":\"x\",\"n\":\"1\",\"d\":{\"e\":2},\"r\":1}", NULL, 4);
    tb_push(&tb, "{\"s\":\"x\",\"i\":3.5,\"d\":{\"e\":2},\"r\":1}", NULL, 5);
    tb_push(&tb, "{\"s\":\"x\",\"b\":\"true\",\"d\":{\"e\":2},\"r\":1}", NULL, 6);
    tb_push(&tb, "{\"s\":\"x\",\"o\":[],\"d\":{\"e\":2},\"r\":1}", NULL, 7);
    tb_push(&tb, "{\"s\":\"x\",\"a\":{},\"d\":{\"e\":2},\"r\":1}", NULL, 8);
    tb_push(&tb, "{\"s\":\"x\",\"t\":\"yesterday\",\"d\":{\"e\":2},\"r\":1}", NULL, 9);
    tb_push(&tb, "{\"s\":\"x\",\"t\":true,\"d\":{\"e\":2},\"r\":1}", NULL, 10);
    tb_push(&tb, "{\"d\":{\"e\":2},\"r\":1}", NULL, 11);
    tb_push(&tb, "{\"s\":null,\"d\":{\"e\":\"2\"},\"r\":1}", NULL, 12);
    tb_push(&tb, "{\"s\":\"x\",\"d\":{}}", NULL, 13);
    tb_push(&tb, "{\"s\":\"x\",\"x\":[1],\"d\":{\"e\":-7},\"r\":1}", NULL, 14);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_INT(tb.b.n, 3);
    if (tb.b.n == 3) {
        CHECK_INT(tb.b.recs[0].ts, 1);
        CHECK_INT(tb.b.recs[1].ts, 2);
        CHECK_INT(tb.b.recs[2].ts, 14);
    }
    CHECK_INT(tb.ctx.ndlq, 11);
    CHECK_STR(dlq_error(&tb, 0), "validate: field 's' must be string, got int");
    CHECK_STR(dlq_error(&tb, 1), "validate: field 'n' must be number, got string");
    CHECK_STR(dlq_error(&tb, 2), "validate: field 'i' must be int, got double");
    CHECK_STR(dlq_error(&tb, 3), "validate: field 'b' must be bool, got string");
    CHECK_STR(dlq_error(&tb, 4), "validate: field 'o' must be object, got array");
    CHECK_STR(dlq_error(&tb, 5), "validate: field 'a' must be array, got object");
    CHECK_HAS(dlq_error(&tb, 6), "field 't' must be time");
    CHECK_STR(dlq_error(&tb, 7), "validate: field 't' must be time, got bool");
    CHECK_STR(dlq_error(&tb, 8), "validate: field 's' is required, missing");
    CHECK_STR(dlq_error(&tb, 9), "validate: field 's' is required, got null; field 'd.e' must be int, got string");
    CHECK_STR(dlq_error(&tb, 10), "validate: field 'd.e' is required, missing; field 'r' is required, missing");
    CHECK_STR(dlq_record(&tb, 0), "{\"s\":1,\"d\":{\"e\":2},\"r\":1}");
    CHECK_STR(dlq_record(&tb, 10), "{\"s\":\"x\",\"d\":{}}");
    /* the dead letter names the step */
    const sl_value_t *st = sl_value_get(&tb.ctx.dlq[0].value, "step", 4);
    CHECK(st && st->type == SL_T_STRING && strcmp(st->u.s, "validate") == 0);
    tb_free(&tb);
    tstep_close(&t);
}

TEST(validate_config_errors) {
    tstep_t t;
    CHECK(tstep_open(&t, "validate:\n  fields: {price: nubmer}\n") != 0);
    CHECK_STR(diag0(&t), "2:19: unknown type 'nubmer' for field 'price' in step under test (did you mean 'number'?)");
    tstep_close(&t);
    CHECK(tstep_open(&t, "validate: {}") != 0);
    CHECK_HAS(diag0(&t), "needs 'fields' or 'required'");
    tstep_close(&t);
    CHECK(tstep_open(&t, "validate: {fields: [a], required: b}") != 0);
    CHECK_HAS(diag0(&t), "'fields' must be a mapping");
    tstep_close(&t);
    CHECK_INT(tstep_open(&t, "validate: {required: id}"), 0);
    tstep_close(&t);
}

/* ================================================================ window */

/* Push {k, t, v} records; v < -999 means "no v". */
static void w_push(tbatch_t *tb, const char *k, int64_t t, int v) {
    char j[128];
    if (v < -999) snprintf(j, sizeof j, "{\"k\":\"%s\",\"t\":%lld}", k, (long long)t);
    else snprintf(j, sizeof j, "{\"k\":\"%s\",\"t\":%lld,\"v\":%d}", k, (long long)t, v);
    tb_push(tb, j, NULL, T0);
}

TEST(window_tumbling_aggregates) {
    tstep_t t;
    CHECK_INT(tstep_open(&t,
                         "window:\n"
                         "  key: k\n"
                         "  time: t\n"
                         "  size: 1m\n"
                         "  emit: {n: count(), nv: count(v), total: sum(v), mean: avg(v), lo: min(v),\n"
                         "         hi: max(v), first: first(v), last: last(v), s.tag: last(k + '!')}\n"),
              0);
    tbatch_t tb;
    tb_init(&tb);
    w_push(&tb, "a", 1000, 5);
    w_push(&tb, "b", 2000, 1);
    w_push(&tb, "a", 3000, -1000);   /* no v: counted by count() only */
    w_push(&tb, "a", 59999, 2);
    w_push(&tb, "a", 30000, 9);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_INT(tb.b.n, 0);   /* nothing closed yet: the input is consumed */
    tb_reset(&tb);
    w_push(&tb, "b", 60000, 4);   /* watermark 60000 closes [0, 60000) */
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_STR(tb_values(&tb),
              "{\"key\":\"a\",\"window_start\":0,\"window_end\":60000,\"n\":4,\"nv\":3,\"total\":16,"
              "\"mean\":5.333333333333333,\"lo\":2,\"hi\":9,\"first\":5,\"last\":9,\"s\":{\"tag\":\"a!\"}} "
              "{\"key\":\"b\",\"window_start\":0,\"window_end\":60000,\"n\":1,\"nv\":1,\"total\":1,"
              "\"mean\":1.0,\"lo\":1,\"hi\":1,\"first\":1,\"last\":1,\"s\":{\"tag\":\"b!\"}}");
    if (tb.b.n == 2) {
        CHECK(tb.b.recs[0].key_len == 1 && tb.b.recs[0].key[0] == 'a');
        CHECK_INT(tb.b.recs[0].ts, 59999);
        CHECK_INT(tb.b.recs[0].offset, -1);
        CHECK_INT(tb.b.recs[0].partition, -1);
    }
    /* flush emits what is open: b's [60000, 120000) */
    tb_reset(&tb);
    CHECK_INT(tb_flush(&tb, &t), 0);
    CHECK_STR(tb_values(&tb),
              "{\"key\":\"b\",\"window_start\":60000,\"window_end\":120000,\"n\":1,\"nv\":1,\"total\":4,"
              "\"mean\":4.0,\"lo\":4,\"hi\":4,\"first\":4,\"last\":4,\"s\":{\"tag\":\"b!\"}}");
    /* a second flush has nothing new */
    tb_reset(&tb);
    CHECK_INT(tb_flush(&tb, &t), 0);
    CHECK_INT(tb.b.n, 0);
    tb_free(&tb);
    tstep_close(&t);
}

TEST(window_min_max_of_strings_and_objects) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "window: {time: t, size: 10s, emit: {lo: min(s), hi: max(s), o: last(o), f: first(o)}}"), 0);
    tbatch_t tb;
    tb_init(&tb);
    const char *recs[] = {
        "{\"t\":1,\"s\":\"pear\",\"o\":{\"a\":[1,2]}}",
        "{\"t\":2,\"s\":\"apple\",\"o\":null}",
        "{\"t\":3,\"s\":\"zebra-with-a-long-name-to-make-the-buffer-grow-past-its-first-size\",\"o\":[3]}",
        "{\"t\":4,\"s\":\"mango\"}",
    };
    for (int i = 0; i < 4; i++) tb_push(&tb, recs[i], NULL, T0);
    CHECK_INT(tb_apply(&tb, &t), 0);
    /* the batch arena is reset: window state must not point into it */
    tb_reset(&tb);
    tb_push(&tb, "{\"t\":5,\"s\":\"banana\",\"o\":\"overwrite\"}", NULL, T0);
    tb_push(&tb, "{\"t\":10000}", NULL, T0);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_STR(tb_values(&tb),
              "{\"key\":null,\"window_start\":0,\"window_end\":10000,\"lo\":\"apple\","
              "\"hi\":\"zebra-with-a-long-name-to-make-the-buffer-grow-past-its-first-size\","
              "\"o\":\"overwrite\",\"f\":{\"a\":[1,2]}}");
    tb_free(&tb);
    tstep_close(&t);
}

TEST(window_sliding_belongs_to_every_window) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "window: {time: t, size: 1m, slide: 30s, emit: {n: count(), v: sum(v)}}"), 0);
    tbatch_t tb;
    tb_init(&tb);
    w_push(&tb, "x", 10000, 1);    /* [-30s,30s) [0,60s) */
    w_push(&tb, "x", 45000, 10);   /* [0,60s) [30s,90s) */
    w_push(&tb, "x", 70000, 100);  /* [30s,90s) [60s,120s); watermark 70s closes [-30,30) and [0,60) */
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_STR(tb_values(&tb),
              "{\"key\":null,\"window_start\":-30000,\"window_end\":30000,\"n\":1,\"v\":1} "
              "{\"key\":null,\"window_start\":0,\"window_end\":60000,\"n\":2,\"v\":11}");
    tb_reset(&tb);
    CHECK_INT(tb_flush(&tb, &t), 0);
    CHECK_STR(tb_values(&tb),
              "{\"key\":null,\"window_start\":30000,\"window_end\":90000,\"n\":2,\"v\":110} "
              "{\"key\":null,\"window_start\":60000,\"window_end\":120000,\"n\":1,\"v\":100}");
    /* a record whose earlier window is closed still counts in its open one */
    tb_reset(&tb);
    w_push(&tb, "x", 50000, 1000);   /* [0,60) closed, [30,90) open */
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_INT(tb.ctx.ndlq, 0);
    tb_reset(&tb);
    CHECK_INT(tb_flush(&tb, &t), 0);
    CHECK_STR(tb_values(&tb), "{\"key\":null,\"window_start\":30000,\"window_end\":90000,\"n\":3,\"v\":1110}");
    tb_free(&tb);
    tstep_close(&t);
}

TEST(window_lateness_and_late_records) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "window: {key: k, time: t, size: 1m, lateness: 10s, emit: {n: count(), ts: max(t)}}"), 0);
    tbatch_t tb;
    tb_init(&tb);
    w_push(&tb, "a", 50000, 0);
    w_push(&tb, "a", 65000, 0);   /* watermark 55s: [0,60s) stays open */
    w_push(&tb, "a", 58000, 0);   /* out of order, inside the lateness */
    w_push(&tb, "b", 20000, 0);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_INT(tb.b.n, 0);
    CHECK_INT(tb.ctx.ndlq, 0);
    tb_reset(&tb);
    w_push(&tb, "a", 70000, 0);   /* watermark 60s: closes [0,60s) of a and b */
    w_push(&tb, "b", 59000, 0);   /* late: its window is closed */
    w_push(&tb, "a", 61000, 0);   /* fine: [60s,120s) is open */
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_STR(tb_values(&tb),
              "{\"key\":\"a\",\"window_start\":0,\"window_end\":60000,\"n\":2,\"ts\":58000} "
              "{\"key\":\"b\",\"window_start\":0,\"window_end\":60000,\"n\":1,\"ts\":20000}");
    CHECK_INT(tb.ctx.ndlq, 1);
    CHECK_STR(dlq_error(&tb, 0),
              "late record: window [1970-01-01T00:00:00.000Z, 1970-01-01T00:01:00.000Z) already closed "
              "(watermark 1970-01-01T00:01:00.000Z)");
    CHECK_STR(dlq_record(&tb, 0), "{\"k\":\"b\",\"t\":59000,\"v\":0}");
    tb_reset(&tb);
    CHECK_INT(tb_flush(&tb, &t), 0);
    CHECK_STR(tb_values(&tb), "{\"key\":\"a\",\"window_start\":60000,\"window_end\":120000,\"n\":3,\"ts\":70000}");
    tb_free(&tb);
    tstep_close(&t);
}

TEST(window_bad_records_keep_the_rest) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "window: {key: \"number(k)\", time: t, size: 1m, emit: {total: sum(v)}}"), 0);
    tbatch_t tb;
    tb_init(&tb);
    tb_push(&tb, "{\"k\":\"1\",\"t\":1,\"v\":1}", NULL, T0);
    tb_push(&tb, "{\"k\":\"1\",\"t\":\"noon\",\"v\":1}", NULL, T0);     /* time not a number */
    tb_push(&tb, "{\"k\":\"one\",\"t\":2,\"v\":1}", NULL, T0);          /* key error */
    tb_push(&tb, "{\"k\":\"1\",\"t\":3,\"v\":\"2\"}", NULL, T0);        /* sum of a string */
    tb_push(&tb, "{\"k\":\"1\",\"t\":4,\"v\":2.5}", NULL, T0);
    tb_push(&tb, "{\"k\":\"1\",\"v\":1}", NULL, T0);                   /* no time */
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_INT(tb.ctx.ndlq, 4);
    CHECK_HAS(dlq_error(&tb, 0), "window time: 't' gave string, not epoch milliseconds");
    CHECK_HAS(dlq_error(&tb, 1), "window key:");
    CHECK_STR(dlq_error(&tb, 2), "window emit total: sum() needs numbers, got string");
    CHECK_HAS(dlq_error(&tb, 3), "gave null");
    CHECK_STR(dlq_record(&tb, 1), "{\"k\":\"one\",\"t\":2,\"v\":1}");
    tb_reset(&tb);
    CHECK_INT(tb_flush(&tb, &t), 0);
    CHECK_STR(tb_values(&tb), "{\"key\":1,\"window_start\":0,\"window_end\":60000,\"total\":3.5}");
    if (tb.b.n == 1) CHECK(tb.b.recs[0].key_len == 1 && tb.b.recs[0].key[0] == '1');
    tb_free(&tb);
    tstep_close(&t);
}

/* Events for the restart test: keys a..d, times moving forward with jitter inside the
 * lateness, and some late ones. */
#define NEV 600
static void events(char json[][96]) {
    uint32_t rnd = 777;
    for (int i = 0; i < NEV; i++) {
        rnd = rnd * 1103515245u + 12345u;
        int key = (int)((rnd >> 16) % 4);
        rnd = rnd * 1103515245u + 12345u;
        int64_t t = (int64_t)i * 1000 - (int64_t)((rnd >> 16) % 30000);   /* up to 30s behind */
        snprintf(json[i], 96, "{\"k\":\"%c\",\"t\":%lld,\"v\":%d}", 'a' + key, (long long)(T0 + t), i % 17);
    }
}

TEST(window_snapshot_restore_matches_an_uninterrupted_run) {
    const char *cfg =
        "window: {key: k, time: t, size: 20s, slide: 10s, lateness: 5s,\n"
        "         emit: {n: count(), s: sum(v), a: avg(v), lo: min(v), hi: max(v), f: first(k), l: last(v)}}";
    static char json[NEV][96];
    events(json);
    tstep_t whole, first;
    CHECK_INT(tstep_open(&whole, cfg), 0);
    CHECK_INT(tstep_open(&first, cfg), 0);
    tbatch_t tb;
    tb_init(&tb);
    sl_buf_t want = SL_BUF_INIT, got = SL_BUF_INIT, wdlq = SL_BUF_INIT, gdlq = SL_BUF_INIT;
    /* uninterrupted, in batches of 7 */
    for (int i = 0; i < NEV; i += 7) {
        tb_reset(&tb);
        for (int k = i; k < i + 7 && k < NEV; k++) tb_push(&tb, json[k], NULL, T0);
        CHECK_INT(tb_apply(&tb, &whole), 0);
        if (tb.b.n) sl_buf_printf(&want, "%s ", tb_values(&tb));
        for (size_t d = 0; d < tb.ctx.ndlq; d++) sl_buf_printf(&wdlq, "%s|", dlq_record(&tb, d));
    }
    tb_reset(&tb);
    CHECK_INT(tb_flush(&tb, &whole), 0);
    sl_buf_printf(&want, "%s ", tb_values(&tb));
    /* in batches of 11, a restart (a new instance from the snapshot) after 300 */
    tstep_t *cur = &first, second;
    for (int i = 0; i < NEV;) {
        tb_reset(&tb);
        int stop = i < 300 && i + 11 > 300 ? 300 : i + 11;
        for (; i < stop && i < NEV; i++) tb_push(&tb, json[i], NULL, T0);
        CHECK_INT(tb_apply(&tb, cur), 0);
        if (tb.b.n) sl_buf_printf(&got, "%s ", tb_values(&tb));
        for (size_t d = 0; d < tb.ctx.ndlq; d++) sl_buf_printf(&gdlq, "%s|", dlq_record(&tb, d));
        if (i == 300) {
            sl_buf_t snap = SL_BUF_INIT;
            CHECK_INT(first.step.plugin->snapshot(&first.step, &snap), 0);
            CHECK(snap.len > 50);
            tstep_close(&first);
            CHECK_INT(tstep_open(&second, cfg), 0);
            sl_error_t err = {0};
            CHECK_INT(second.step.plugin->restore(&second.step, snap.data, snap.len, &err), 0);
            sl_buf_free(&snap);
            cur = &second;
        }
    }
    tb_reset(&tb);
    CHECK_INT(tb_flush(&tb, cur), 0);
    sl_buf_printf(&got, "%s ", tb_values(&tb));
    CHECK(want.len > 1000);
    CHECK(wdlq.len > 0);   /* the jitter makes some records late */
    CHECK(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);
    CHECK(gdlq.len == wdlq.len && memcmp(gdlq.data, wdlq.data, wdlq.len) == 0);
    /* a snapshot of another shape is refused and leaves the step empty */
    tstep_t other;
    CHECK_INT(tstep_open(&other, "window: {key: k, time: t, size: 30s, emit: {n: count()}}"), 0);
    sl_buf_t snap = SL_BUF_INIT;
    cur->step.plugin->snapshot(&cur->step, &snap);
    sl_error_t err = {0};
    CHECK(other.step.plugin->restore(&other.step, snap.data, snap.len, &err) != 0);
    CHECK_HAS(err.msg, "config now differs");
    CHECK(other.step.plugin->restore(&other.step, "{\"v\":1", 6, &err) != 0);
    CHECK_HAS(err.msg, "window state");
    sl_buf_free(&snap);
    tstep_close(&other);
    sl_buf_free(&want);
    sl_buf_free(&got);
    sl_buf_free(&wdlq);
    sl_buf_free(&gdlq);
    tb_free(&tb);
    tstep_close(&whole);
    tstep_close(cur);
}

TEST(window_flush_then_restart_refines_results) {
    /* run --once twice: the first flush emits the open window, the restored step keeps
     * filling it and emits it again (same window_start: an upsert replaces the row) */
    const char *cfg = "window: {time: t, size: 1m, emit: {n: count()}}";
    tstep_t a, b;
    CHECK_INT(tstep_open(&a, cfg), 0);
    tbatch_t tb;
    tb_init(&tb);
    w_push(&tb, "x", 1000, 0);
    w_push(&tb, "x", 2000, 0);
    CHECK_INT(tb_apply(&tb, &a), 0);
    tb_reset(&tb);
    CHECK_INT(tb_flush(&tb, &a), 0);
    CHECK_STR(tb_values(&tb), "{\"key\":null,\"window_start\":0,\"window_end\":60000,\"n\":2}");
    sl_buf_t snap = SL_BUF_INIT;
    a.step.plugin->snapshot(&a.step, &snap);
    tstep_close(&a);
    CHECK_INT(tstep_open(&b, cfg), 0);
    sl_error_t err = {0};
    CHECK_INT(b.step.plugin->restore(&b.step, snap.data, snap.len, &err), 0);
    sl_buf_free(&snap);
    tb_reset(&tb);
    w_push(&tb, "x", 3000, 0);
    w_push(&tb, "x", 61000, 0);
    CHECK_INT(tb_apply(&tb, &b), 0);
    CHECK_STR(tb_values(&tb), "{\"key\":null,\"window_start\":0,\"window_end\":60000,\"n\":3}");
    /* a flushed window that did not change is not emitted again when it closes */
    tb_reset(&tb);
    CHECK_INT(tb_flush(&tb, &b), 0);
    CHECK_STR(tb_values(&tb), "{\"key\":null,\"window_start\":60000,\"window_end\":120000,\"n\":1}");
    tb_reset(&tb);
    w_push(&tb, "x", 200000, 0);
    CHECK_INT(tb_apply(&tb, &b), 0);
    CHECK_INT(tb.b.n, 0);
    tb_free(&tb);
    tstep_close(&b);
}

TEST(window_config_errors) {
    tstep_t t;
    CHECK(tstep_open(&t, "window:\n  size: 1m\n  emit: {total: \"summ(price)\"}\n") != 0);
    CHECK_STR(diag0(&t), "3:18: step under test: unknown aggregate 'summ' (did you mean 'sum'?)");
    tstep_close(&t);
    CHECK(tstep_open(&t, "window:\n  size: 1m\n  emit: {total: \"sum(price +)\"}\n") != 0);
    CHECK_HAS(diag0(&t), "3:");
    int col = t.diags.n ? t.diags.items[0].col : 0;
    CHECK(col > 22 && col <= 30);   /* inside the parentheses */
    tstep_close(&t);
    CHECK(tstep_open(&t, "window: {size: 1m, emit: {total: price}}") != 0);
    CHECK_HAS(diag0(&t), "must be agg(expr)");
    tstep_close(&t);
    CHECK(tstep_open(&t, "window: {size: 1m, emit: {total: sum()}}") != 0);
    CHECK_HAS(diag0(&t), "sum() needs an expression");
    tstep_close(&t);
    CHECK(tstep_open(&t, "window: {size: 1m, slide: 2m, emit: {n: count()}}") != 0);
    CHECK_HAS(diag0(&t), "'slide' must not be more than 'size'");
    tstep_close(&t);
    CHECK(tstep_open(&t, "window: {emit: {n: count()}}") != 0);
    CHECK_HAS(diag0(&t), "size");
    tstep_close(&t);
    CHECK(tstep_open(&t, "window: {size: 1m, emit: {key: count()}}") != 0);
    CHECK_HAS(diag0(&t), "'key' is a field every window result has");
    tstep_close(&t);
    CHECK(tstep_open(&t, "window: {size: 1m, sise: 2m, emit: {n: count()}}") != 0);
    CHECK_HAS(diag0(&t), "sise");
    tstep_close(&t);
}
