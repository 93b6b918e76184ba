/* test_alert.c - unit tests of the alert step's state machine (when, key, cooldown, for,
 * resolve, event-time order, late records, snapshot/restore), of the message building
 * of the email sink (RFC 2047 subjects, headers, MIME parts), and of the delivery
 * bookkeeping the notify sinks share. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/sink_email/mail.h"
#include "../../src/alerts.h"
#include "../../src/engine.h"
#include "sluice/json.h"
#include "t.h"

/* ---- helpers: an alert step compiled from YAML, batches around it ---- */

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
    if (t->rc != 0 || !t->conf.root || t->conf.root->kind != SL_CNODE_MAP) return t->rc = -1;
    t->step.plugin = sl_step_plugin_find("alert");
    if (!t->step.plugin) return t->rc = -1;
    t->step.name = "alert";
    t->step.node = t->conf.root;
    sl_init_ctx_t ctx = {.what = "step under test", .node = t->step.node, .data_dir = ".", .arena = &t->arena,
                         .diags = &t->diags};
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

typedef struct tbatch {
    sl_batch_t b;
    sl_step_ctx_t ctx;
    sl_value_t vars;
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

static void tb_push(tbatch_t *tb, const char *json, int64_t ts) {
    sl_record_t *rec = sl_batch_push(&tb->b);
    sl_json_error_t je;
    if (sl_json_parse(&tb->b.arena, json, strlen(json), &rec->value, &je) != 0) abort();
    rec->orig = rec->value;
    rec->ts = rec->ingest_ts = ts;
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

static void tb_reset(tbatch_t *tb) {
    sl_batch_reset(&tb->b);
    tb->ctx.ndlq = 0;
}

/* "state:key@ts" of every notification, space separated (static buffer). */
static const char *notes(const tbatch_t *tb) {
    static char out[4096];
    size_t at = 0;
    out[0] = 0;
    for (size_t i = 0; i < tb->b.n && at < sizeof out - 200; i++) {
        const sl_value_t *v = &tb->b.recs[i].value;
        const sl_value_t *s = sl_value_get(v, "state", 5), *k = sl_value_get(v, "key", 3), *ts = sl_value_get(v, "ts", 2);
        at += (size_t)snprintf(out + at, sizeof out - at, "%s%.*s:%.*s@%lld", i ? " " : "", s ? (int)s->len : 1,
                               s ? s->u.s : "?", k ? (int)k->len : 1, k ? k->u.s : "?", ts ? (long long)ts->u.i : -1LL);
    }
    return out;
}

/* Feed one record {"v": v, "k": k} at ts and return the notifications it made. */
static const char *feed(tstep_t *t, tbatch_t *tb, const char *k, int v, int64_t ts) {
    tb_reset(tb);
    char json[128];
    snprintf(json, sizeof json, "{\"k\":\"%s\",\"v\":%d}", k, v);
    tb_push(tb, json, ts);
    if (tb_apply(tb, t) != 0) return "(apply failed)";
    return notes(tb);
}

#define MIN 60000LL

/* ---- the state machine ---- */

TEST(alert_fires_once_per_episode_and_per_key) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "name: hot\nwhen: \"v > 10\"\nkey: k\n"), 0);
    tbatch_t tb;
    tb_init(&tb);
    CHECK_STR(feed(&t, &tb, "a", 5, 1 * MIN), "");
    CHECK_STR(feed(&t, &tb, "a", 15, 2 * MIN), "firing:a@120000");
    CHECK_STR(feed(&t, &tb, "a", 16, 3 * MIN), "");          /* same episode */
    CHECK_STR(feed(&t, &tb, "b", 20, 3 * MIN), "firing:b@180000");   /* another key */
    CHECK_STR(feed(&t, &tb, "a", 1, 4 * MIN), "");           /* ends; no resolve configured */
    CHECK_STR(feed(&t, &tb, "a", 11, 5 * MIN), "firing:a@300000");   /* no cooldown: a new episode fires */
    tb_free(&tb);
    tstep_close(&t);
}

TEST(alert_cooldown_per_key) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "name: hot\nwhen: \"v > 10\"\nkey: k\ncooldown: 30m\n"), 0);
    tbatch_t tb;
    tb_init(&tb);
    CHECK_STR(feed(&t, &tb, "a", 15, 0), "firing:a@0");
    CHECK_STR(feed(&t, &tb, "a", 1, 5 * MIN), "");
    CHECK_STR(feed(&t, &tb, "a", 15, 10 * MIN), "");          /* within the cooldown */
    CHECK_STR(feed(&t, &tb, "b", 15, 10 * MIN), "firing:b@600000");  /* the cooldown is per key */
    CHECK_STR(feed(&t, &tb, "a", 15, 29 * MIN), "");
    /* an episode that began inside the cooldown fires when it is over, if it still holds */
    CHECK_STR(feed(&t, &tb, "a", 15, 30 * MIN), "firing:a@1800000");
    CHECK_STR(feed(&t, &tb, "a", 15, 70 * MIN), "");          /* still the same episode */
    CHECK_STR(feed(&t, &tb, "a", 1, 71 * MIN), "");
    CHECK_STR(feed(&t, &tb, "a", 15, 95 * MIN), "firing:a@5700000"); /* the next pass, 95 min later */
    tb_free(&tb);
    tstep_close(&t);
}

TEST(alert_for_needs_the_condition_to_hold) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "name: hot\nwhen: \"v > 10\"\nkey: k\nfor: 5m\n"), 0);
    tbatch_t tb;
    tb_init(&tb);
    CHECK_STR(feed(&t, &tb, "a", 15, 0), "");
    CHECK_STR(feed(&t, &tb, "a", 15, 4 * MIN), "");
    CHECK_STR(feed(&t, &tb, "a", 1, 4 * MIN + 1), "");       /* broken before 5m: starts over */
    CHECK_STR(feed(&t, &tb, "a", 15, 6 * MIN), "");
    CHECK_STR(feed(&t, &tb, "a", 15, 10 * MIN), "");
    CHECK_STR(feed(&t, &tb, "a", 15, 11 * MIN), "firing:a@660000");  /* held 5m since 6m */
    tb_free(&tb);
    tstep_close(&t);
}

TEST(alert_resolve_only_after_a_firing) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "name: hot\nwhen: \"v > 10\"\nkey: k\nfor: 2m\n"
                             "resolve: \"{{k}} back to {{v}} after {{alert.state}}\"\n"
                             "subject: \"{{k}} is {{v}}\"\nmessage: \"{{alert.name}}: {{v}}\"\n"), 0);
    tbatch_t tb;
    tb_init(&tb);
    CHECK_STR(feed(&t, &tb, "a", 15, 0), "");
    CHECK_STR(feed(&t, &tb, "a", 1, 1 * MIN), "");            /* never fired: no resolve */
    CHECK_STR(feed(&t, &tb, "a", 15, 2 * MIN), "");
    CHECK_STR(feed(&t, &tb, "a", 16, 4 * MIN), "firing:a@240000");
    const sl_value_t *v = &tb.b.recs[0].value;
    CHECK_STR(sl_value_get(v, "subject", 7)->u.s, "a is 16");
    CHECK_STR(sl_value_get(v, "message", 7)->u.s, "hot: 16");
    CHECK_INT(sl_value_get(v, "since", 5)->u.i, 2 * MIN);
    CHECK_INT(sl_value_get(sl_value_get(v, "record", 6), "v", 1)->u.i, 16);
    CHECK_INT(tb.b.recs[0].orig.type, SL_T_NULL);   /* a rejected notification is the DLQ's record */
    CHECK_STR(feed(&t, &tb, "a", 3, 5 * MIN), "resolved:a@300000");
    v = &tb.b.recs[0].value;
    CHECK_STR(sl_value_get(v, "message", 7)->u.s, "a back to 3 after resolved");
    CHECK_STR(sl_value_get(v, "subject", 7)->u.s, "Resolved: a is 3");
    CHECK_STR(feed(&t, &tb, "a", 3, 6 * MIN), "");
    tb_free(&tb);
    tstep_close(&t);
}

TEST(alert_event_time_order_and_late_records) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "name: hot\nwhen: \"v > 10\"\nresolve: true\n"), 0);
    tbatch_t tb;
    tb_init(&tb);
    /* arrive out of order in one batch: sorted by event time first */
    tb_push(&tb, "{\"v\":1}", 3 * MIN);
    tb_push(&tb, "{\"v\":20}", 1 * MIN);
    tb_push(&tb, "{\"v\":20}", 2 * MIN);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_STR(notes(&tb), "firing:@60000 resolved:@180000");
    /* a record older than the newest seen for its key changes nothing */
    tb_reset(&tb);
    tb_push(&tb, "{\"v\":30}", 2 * MIN);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_STR(notes(&tb), "");
    tb_free(&tb);
    tstep_close(&t);
}

TEST(alert_bad_when_goes_to_the_dlq) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "name: x\nwhen: \"v\"\n"), 0);
    tbatch_t tb;
    tb_init(&tb);
    tb_push(&tb, "{\"v\":3}", 1);
    tb_push(&tb, "{\"v\":null}", 2);   /* null counts as false */
    tb_push(&tb, "{\"v\":true}", 3);
    CHECK_INT(tb_apply(&tb, &t), 0);
    CHECK_STR(notes(&tb), "firing:@3");
    CHECK_INT(tb.ctx.ndlq, 1);
    const sl_value_t *e = tb.ctx.ndlq ? sl_value_get(&tb.ctx.dlq[0].value, "error", 5) : NULL;
    CHECK(e && strstr(e->u.s, "must give true or false"));
    tb_free(&tb);
    tstep_close(&t);
}

TEST(alert_config_errors) {
    tstep_t t;
    CHECK(tstep_open(&t, "name: x\nkey: k\n") != 0);   /* when is required */
    CHECK(t.diags.n >= 1 && strstr(t.diags.items[0].msg, "when"));
    tstep_close(&t);
    CHECK(tstep_open(&t, "name: x\nwhen: \"v >\"\n") != 0);
    CHECK(t.diags.n >= 1 && t.diags.items[0].line == 2);
    tstep_close(&t);
    CHECK(tstep_open(&t, "name: x\nwhen: \"true\"\nsubject: \"{{ oops(\"\n") != 0);
    tstep_close(&t);
    CHECK(tstep_open(&t, "name: x\nwhen: \"true\"\ncooldown: soon\n") != 0);
    tstep_close(&t);
}

/* A restart from a snapshot taken at any point makes the same decisions as a run
 * that never stopped (this is what keeps a second mail away after a crash). */
TEST(alert_snapshot_restore_same_decisions) {
    const char *cfg = "name: pass\nwhen: \"v > 10\"\nkey: k\ncooldown: 30m\nfor: 1m\nresolve: true\n";
    /* 3 keys, an up-and-down signal over 6 hours, one record a minute per key */
    enum { N = 3 * 360 };
    static int vals[N];
    static char keys[N][2];
    for (int i = 0; i < N; i++) {
        int m = i / 3, k = i % 3;
        vals[i] = ((m + 7 * k) % 95) < 8 + k ? 20 : 1;   /* passes every 95 minutes */
        keys[i][0] = (char)('a' + k);
        keys[i][1] = 0;
    }
    sl_buf_t want = SL_BUF_INIT;
    {
        tstep_t t;
        CHECK_INT(tstep_open(&t, cfg), 0);
        tbatch_t tb;
        tb_init(&tb);
        for (int i = 0; i < N; i++) {
            const char *n = feed(&t, &tb, keys[i], vals[i], (int64_t)(i / 3) * MIN);
            if (*n) sl_buf_printf(&want, "%s ", n);
        }
        tb_free(&tb);
        tstep_close(&t);
    }
    CHECK(want.len > 0 && strstr(want.data, "resolved:"));
    for (int cut = 1; cut < N; cut += 97) {
        sl_buf_t got = SL_BUF_INIT, snap = SL_BUF_INIT;
        tstep_t a, b;
        CHECK_INT(tstep_open(&a, cfg), 0);
        CHECK_INT(tstep_open(&b, cfg), 0);
        tbatch_t tb;
        tb_init(&tb);
        for (int i = 0; i < cut; i++) {
            const char *n = feed(&a, &tb, keys[i], vals[i], (int64_t)(i / 3) * MIN);
            if (*n) sl_buf_printf(&got, "%s ", n);
        }
        CHECK_INT(a.step.plugin->snapshot(&a.step, &snap), 0);
        sl_error_t err = {0};
        CHECK_INT(b.step.plugin->restore(&b.step, snap.data, snap.len, &err), 0);
        for (int i = cut; i < N; i++) {
            const char *n = feed(&b, &tb, keys[i], vals[i], (int64_t)(i / 3) * MIN);
            if (*n) sl_buf_printf(&got, "%s ", n);
        }
        if (strcmp(got.data ? got.data : "", want.data) != 0) T_FAIL("cut at %d: %s != %s", cut, got.data, want.data);
        tb_free(&tb);
        tstep_close(&a);
        tstep_close(&b);
        sl_buf_free(&got);
        sl_buf_free(&snap);
    }
    /* garbage is refused, and leaves a working step */
    tstep_t c;
    CHECK_INT(tstep_open(&c, cfg), 0);
    sl_error_t err = {0};
    CHECK(c.step.plugin->restore(&c.step, "garbage-garbage-garbage", 23, &err) != 0);
    CHECK(c.step.plugin->restore(&c.step, "SLAL\x01\0\0\0\x05\0\0\0", 12, &err) != 0);
    tbatch_t tb;
    tb_init(&tb);
    CHECK_STR(feed(&c, &tb, "a", 20, 0), "");     /* for: 1m */
    CHECK_STR(feed(&c, &tb, "a", 20, MIN), "firing:a@60000");
    tb_free(&tb);
    tstep_close(&c);
    sl_buf_free(&want);
}

TEST(alert_forgets_idle_keys) {
    tstep_t t;
    CHECK_INT(tstep_open(&t, "name: x\nwhen: \"v > 10\"\nkey: k\ncooldown: 1m\n"), 0);
    tbatch_t tb;
    tb_init(&tb);
    char k[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "k%d", i);
        feed(&t, &tb, k, 20, (int64_t)i * MIN);
        feed(&t, &tb, k, 1, (int64_t)i * MIN + 1);
    }
    sl_buf_t snap = SL_BUF_INIT;
    t.step.plugin->snapshot(&t.step, &snap);
    CHECK(snap.len < 20 + 40 * 10);   /* only the last keys are still in their cooldown */
    sl_buf_free(&snap);
    tb_free(&tb);
    tstep_close(&t);
}

/* ---- the message ---- */

TEST(mail_subject_ascii_is_plain) {
    sl_buf_t b = SL_BUF_INIT;
    sl_mail_header(&b, "Subject", "ISS visible now", 15);
    CHECK_STR(b.data, "Subject: ISS visible now\r\n");
    sl_buf_clear(&b);
    sl_mail_header(&b, "Subject", "a\r\nBcc: x@y", 11);   /* no header injection */
    CHECK_STR(b.data, "Subject: a  Bcc: x@y\r\n");
    sl_buf_free(&b);
}

TEST(mail_subject_utf8_rfc2047) {
    sl_buf_t b = SL_BUF_INIT;
    sl_mail_header(&b, "Subject", "look SW, 11° up", strlen("look SW, 11° up"));
    /* base64 of "look SW, 11\xc2\xb0 up" */
    CHECK_STR(b.data, "Subject: =?UTF-8?B?bG9vayBTVywgMTHCsCB1cA==?=\r\n");
    sl_buf_clear(&b);
    /* long text: several words of <= 75 chars, folded, no UTF-8 sequence split */
    char s[400] = "";
    for (int i = 0; i < 40; i++) strcat(s, "é€");   /* 2 + 3 bytes */
    sl_mail_header(&b, "Subject", s, strlen(s));
    char *line = b.data + 9;
    int words = 0;
    sl_buf_t decoded = SL_BUF_INIT;
    for (char *w = strstr(line, "=?UTF-8?B?"); w; w = strstr(w + 1, "=?UTF-8?B?")) {
        char *end = strstr(w + 10, "?=");
        CHECK(end && end + 2 - w <= 75);
        words++;
        /* decode the word's base64 and check it ends on a character boundary */
        static const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        unsigned acc = 0;
        int bits = 0;
        size_t before = decoded.len;
        for (char *p = w + 10; p < end && *p != '='; p++) {
            acc = acc << 6 | (unsigned)(strchr(tab, *p) - tab);
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                sl_buf_putc(&decoded, (char)(acc >> bits & 0xff));
            }
        }
        unsigned char first = (unsigned char)decoded.data[before];
        CHECK(first == 0xc3 || first == 0xe2);   /* starts a character */
    }
    CHECK(words >= 4);
    CHECK_STR(decoded.data, s);
    CHECK(strstr(b.data, "?=\r\n =?UTF-8?B?") != NULL);   /* folded with CRLF SP */
    sl_buf_free(&decoded);
    sl_buf_free(&b);
}

TEST(mail_addr_and_date) {
    char a[100];
    CHECK_STR(sl_mail_addr("sluice <alerts@example.org>", a, sizeof a), "alerts@example.org");
    CHECK_STR(sl_mail_addr("  b@y ", a, sizeof a), "b@y");
    CHECK(sl_mail_addr("no address", a, sizeof a) == NULL);
    CHECK(sl_mail_addr("x <a@b\r\nRCPT TO:<c@d>>", a, sizeof a) == NULL);
    char d[64];
    sl_mail_date(d, sizeof d, (time_t)1716924660);
    CHECK_STR(d, "Tue, 28 May 2024 19:31:00 +0000");
}

TEST(mail_build_headers_and_parts) {
    const char *to[] = {"a@x.org", "Bé <b@y.org>"};
    sl_mail_t m = {.from = "sluice <s@example.org>", .to = to, .nto = 2, .subject = "Ünïcode", .subject_len = 9,
                   .text = "line 1\nline 2\n", .text_len = 14, .message_id = "abc.sluice@example.org",
                   .date = (time_t)1716924660};
    sl_buf_t b = SL_BUF_INIT;
    sl_mail_build(&b, &m);
    CHECK(strstr(b.data, "Date: Tue, 28 May 2024 19:31:00 +0000\r\n") == b.data);
    CHECK(strstr(b.data, "\r\nMessage-ID: <abc.sluice@example.org>\r\n"));
    CHECK(strstr(b.data, "\r\nFrom: sluice <s@example.org>\r\n"));
    CHECK(strstr(b.data, "\r\nTo: a@x.org,\r\n =?UTF-8?B?QsOp?= <b@y.org>\r\n"));
    CHECK(strstr(b.data, "\r\nSubject: =?UTF-8?B?w5xuw69jb2Rl?=\r\n"));
    CHECK(strstr(b.data, "\r\nMIME-Version: 1.0\r\n"));
    CHECK(strstr(b.data, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
                         "line 1\r\nline 2\r\n"));
    CHECK(!strstr(b.data, "\n\n"));   /* every line ends with CRLF */
    /* UTF-8 text is base64; an HTML part makes multipart/alternative */
    m.text = "température: 21°";
    m.text_len = strlen(m.text);
    m.html = "<p>21°</p>";
    m.html_len = strlen(m.html);
    sl_buf_clear(&b);
    sl_mail_build(&b, &m);
    CHECK(strstr(b.data, "Content-Type: multipart/alternative; boundary=\"=_sluice_abc.sluice_example.org\""));
    CHECK(strstr(b.data, "--=_sluice_abc.sluice_example.org\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: base64\r\n\r\ndGVtcMOpcmF0dXJlOiAyMcKw\r\n"));
    CHECK(strstr(b.data, "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"));
    CHECK(strstr(b.data, "--=_sluice_abc.sluice_example.org--\r\n"));
    sl_buf_free(&b);
}

/* ---- delivery bookkeeping ---- */

static sl_sink_plugin_t fake_plugin = {.name = "fake"};

TEST(deliver_resumes_and_gives_up) {
    sl_batch_t b;
    sl_batch_init(&b);
    for (int i = 0; i < 3; i++) {
        sl_record_t *r = sl_batch_push(&b);
        r->value = sl_int(i);
        r->offset = 10 + i;
        r->partition = 0;
        r->ts = 100;
    }
    sl_sink_t sink = {.plugin = &fake_plugin, .job = "j"};
    sl_deliver_t d = {.retries = 2, .give_up_after_ms = 3600000};
    sl_error_t err = {0};
    CHECK_INT(sl_deliver_begin(&d, &b), 0);
    sl_deliver_ok(&d);   /* record 0 sent */
    CHECK_INT(sl_deliver_fail(&d, &sink, &b.recs[1], false, "send", "down", &err), SL_RETRY);
    CHECK_INT(sl_deliver_begin(&d, &b), 1);   /* the retry starts at record 1 */
    CHECK_INT(sl_deliver_fail(&d, &sink, &b.recs[1], false, "send", "down", &err), SL_RETRY);
    CHECK_INT(sl_deliver_begin(&d, &b), 1);
    CHECK_INT(sl_deliver_fail(&d, &sink, &b.recs[1], false, "send", "down", &err), 0);   /* budget spent */
    /* the destination is still down: record 2 gets one attempt, not a new budget */
    CHECK_INT(sl_deliver_fail(&d, &sink, &b.recs[2], false, "send", "down", &err), 0);
    sl_deliver_end(&d);
    CHECK_INT(sl_deliver_begin(&d, &b), 0);   /* a new write starts over */
    sl_deliver_ok(&d);
    CHECK_INT(d.fails, 0);                    /* a delivery resets the count */
    CHECK_INT(sl_deliver_fail(&d, &sink, &b.recs[1], true, "send", "535 bad credentials", &err), 0);
    sl_batch_free(&b);
}

/* Issue 12: a notification is retried for give_up_after (default 1h), not a handful of
 * attempts; past it, the record goes to the DLQ, and each later one gets one attempt. */
TEST(deliver_gives_up_after_a_time) {
    sl_batch_t b;
    sl_batch_init(&b);
    for (int i = 0; i < 2; i++) {
        sl_record_t *r = sl_batch_push(&b);
        r->value = sl_int(i);
        r->offset = 10 + i;
        r->partition = 0;
        r->ts = 100;
    }
    sl_sink_t sink = {.plugin = &fake_plugin, .job = "j"};
    sl_deliver_t d = {.retries = -1, .give_up_after_ms = 3600000};
    sl_error_t err = {0};
    CHECK_INT(sl_deliver_begin(&d, &b), 0);
    for (int i = 0; i < 500; i++) {   /* hundreds of attempts within the hour: all retried */
        CHECK_INT(sl_deliver_fail(&d, &sink, &b.recs[0], false, "send", "down", &err), SL_RETRY);
        CHECK_INT(sl_deliver_begin(&d, &b), 0);
    }
    CHECK(strstr(err.msg, "gives up after 3600 s") != NULL);
    d.first_fail_ms -= 3600000;       /* an hour of failures later */
    CHECK_INT(sl_deliver_fail(&d, &sink, &b.recs[0], false, "send", "down", &err), 0);   /* given up */
    CHECK_INT(sl_deliver_fail(&d, &sink, &b.recs[1], false, "send", "down", &err), 0);   /* one attempt */
    sl_deliver_end(&d);
    CHECK_INT(sl_deliver_begin(&d, &b), 0);
    sl_deliver_ok(&d);                /* back: a new run of failures gets a new hour */
    CHECK_INT(sl_deliver_fail(&d, &sink, &b.recs[1], false, "send", "down", &err), SL_RETRY);
    /* give_up_after 0: one attempt */
    sl_deliver_t z = {.retries = -1, .give_up_after_ms = 0};
    CHECK_INT(sl_deliver_begin(&z, &b), 0);
    CHECK_INT(sl_deliver_fail(&z, &sink, &b.recs[0], false, "send", "down", &err), 0);
    sl_batch_free(&b);
}

TEST(redact_url) {
    char o[200];
    CHECK_STR(sl_alerts_redact_url("smtp://user:pw@mail.example.org:587", o, sizeof o), "smtp://***@mail.example.org:587");
    CHECK_STR(sl_alerts_redact_url("https://h/x?a=b@c", o, sizeof o), "https://h/x?a=b@c");
    CHECK_STR(sl_alerts_redact_url("smtp://127.0.0.1:2525", o, sizeof o), "smtp://127.0.0.1:2525");
}

/* ---- alerts: as jobs, and the history for /api/alerts ---- */

#include <sqlite3.h>
#include <unistd.h>

TEST(alerts_load_and_history_json) {
    char dir[] = "/tmp/sluice-alert-test.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], db[256];
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    snprintf(db, sizeof db, "%s/h.db", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "data_dir: %s/data\n"
               "alerts:\n"
               "  hot:\n"
               "    from: temps\n"
               "    when: \"temp > 30\"\n"
               "    key: sensor\n"
               "    cooldown: 1h\n"
               "    history: %s\n"
               "    notify: [ { log: {} }, { webhook: { url: \"http://127.0.0.1:9/x\" } } ]\n"
               "  cold: { from: temps, when: \"temp < 0\", notify: [ { log: {} } ], history: false }\n",
            dir, db);
    fclose(f);
    sl_pipeline_t *p = NULL;
    sl_diags_t d = {0};
    CHECK_INT(sl_pipeline_load(path, &p, &d), 0);
    if (d.n) sl_diags_print(&d, stderr);
    sl_diags_free(&d);
    if (!p) return;
    const sl_job_cfg_t *j = sl_pipeline_job(p, "alert.hot");
    CHECK(j != NULL);
    const char *name = NULL;
    CHECK(j && sl_alerts_is_alert(j, &name) && strcmp(name, "hot") == 0);
    CHECK(j && j->nsinks == 3 && strcmp(j->sinks[2].plugin->name, "sqlite") == 0);
    CHECK(j && strcmp(j->dlq, "alert.hot.dlq") == 0);
    CHECK(sl_pipeline_topic(p, "alert.hot.dlq") != NULL);
    const sl_job_cfg_t *c = sl_pipeline_job(p, "alert.cold");
    CHECK(c && c->nsinks == 1);   /* history: false */
    /* no database yet: an empty list */
    sl_buf_t out = SL_BUF_INIT;
    CHECK_INT(sl_alerts_history_json(p, &out), 0);
    CHECK_STR(out.data, "{\"alerts\":[]}");
    sqlite3 *h;
    CHECK_INT(sqlite3_open(db, &h), SQLITE_OK);
    CHECK_INT(sqlite3_exec(h,
                           "CREATE TABLE alert_history (id TEXT PRIMARY KEY, alert TEXT, key TEXT, state TEXT,"
                           " subject TEXT, message TEXT, ts TEXT, since TEXT, record TEXT);"
                           "INSERT INTO alert_history VALUES ('i1','hot','t1','firing','t1 is \"hot\"','m',"
                           " '2024-01-01T00:00:00.000Z','2024-01-01T00:00:00.000Z','{\"temp\":35}');"
                           "INSERT INTO alert_history VALUES ('i2','hot','t1','resolved','r','m2',"
                           " '2024-01-01T01:00:00.000Z',NULL,'{\"temp\":3}');",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(h);
    sl_buf_clear(&out);
    CHECK_INT(sl_alerts_history_json(p, &out), 0);
    CHECK_STR(out.data,
              "{\"alerts\":[{\"id\":\"i2\",\"alert\":\"hot\",\"key\":\"t1\",\"state\":\"resolved\",\"subject\":\"r\","
              "\"message\":\"m2\",\"ts\":\"2024-01-01T01:00:00.000Z\",\"since\":null,\"record\":{\"temp\":3}},"
              "{\"id\":\"i1\",\"alert\":\"hot\",\"key\":\"t1\",\"state\":\"firing\",\"subject\":\"t1 is \\\"hot\\\"\","
              "\"message\":\"m\",\"ts\":\"2024-01-01T00:00:00.000Z\",\"since\":\"2024-01-01T00:00:00.000Z\","
              "\"record\":{\"temp\":35}}]}");
    sl_buf_free(&out);
    sl_pipeline_free(p);
    unlink(db);
    unlink(path);
    rmdir(dir);
}
