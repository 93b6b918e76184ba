/* alert.c - step `alert`: the rule of an alert (`alerts:` compiles each alert to a job
 * whose only step is this one, followed by its notify sinks).  Evaluates `when` per
 * record in event-time order, keeps per-key state, and replaces the batch with the
 * notifications to send: {id, alert, key, state: firing|resolved, subject, message, ts,
 * since, record}.  The per-key state survives restarts (snapshot/restore, committed
 * with the job's offsets after every notify sink acknowledged), so a restart in the
 * middle of an episode does not notify again.
 *
 * State machine of one key (t = the record's event time, meta.ts):
 *
 *     idle --when true--> active(since = t) --t - since >= for, cooldown over--> firing
 *       ^                    |                                                       |
 *       +----when false------+<------------------when false (emit resolved)----------+
 *
 * Invariants:
 *  1. A key fires at most once per episode (the run of records for which `when` holds),
 *     only after `when` held for `for` (t - since >= for), and only when no firing of
 *     that key happened within `cooldown` before t (t - fired >= cooldown).  An episode
 *     that began inside the cooldown fires once the cooldown is over, if it still holds.
 *  2. `resolved` is emitted only for an episode that fired, when `resolve` is set.
 *  3. Records are taken in event-time order within a batch (a stable sort); a record
 *     older than the last one seen for its key is late: it does not change the key's
 *     state (a flapping past must not re-fire the present).
 *  4. A key is remembered as a 64-bit hash of its canonical JSON (collisions ~ n^2/2^65)
 *     with {since, fired, seen, firing}.  Keys whose cooldown is over and which are
 *     idle, or which were not seen for max(cooldown, for, 1h), are forgotten on growth
 *     and in snapshots; decisions for remembered keys do not depend on when that happens.
 *  5. `when` giving null counts as false; any other non-bool, or an evaluation error,
 *     sends the record to the job's dead-letter topic and leaves the key's state as is.
 *
 * Snapshot layout (little-endian): "SLAL" u32 version(1) u32 count i64 max_ts, then
 * count x (u64 hash, i64 since, i64 fired, i64 seen, u64 flags(bit 0 firing)). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/hash.h"
#include "../../src/step_util.h"
#include "sluice/json.h"

#define AL_NONE INT64_MIN
#define AL_HOUR 3600000LL

typedef struct al_conf {
    char *name;
    const sl_cnode_t *when, *key, *resolve, *subject, *message;
    int64_t cooldown_ms, for_ms;
} al_conf_t;

static const sl_config_map_t alert_map[] = {
    {"name", SL_CFG_STR, "alert", 0, offsetof(al_conf_t, name), NULL,
     "the alert's name (set by `alerts:` from the alert's key)"},
    {"when", SL_CFG_EXPR, NULL, SL_CFG_REQUIRED, offsetof(al_conf_t, when), NULL,
     "the condition (a bool; null counts as false)"},
    {"key", SL_CFG_EXPR, NULL, 0, offsetof(al_conf_t, key), NULL,
     "what the cooldown and the state are per (default: one key for everything)"},
    {"cooldown", SL_CFG_DURATION, "0", 0, offsetof(al_conf_t, cooldown_ms), NULL,
     "after a key fired, it does not fire again within this much event time"},
    {"for", SL_CFG_DURATION, "0", 0, offsetof(al_conf_t, for_ms), NULL,
     "the condition must hold this long (event time) before the alert fires"},
    {"resolve", SL_CFG_NODE, NULL, 0, offsetof(al_conf_t, resolve), NULL,
     "true, or a message template: notify when the condition of a fired episode ends"},
    {"subject", SL_CFG_NODE, NULL, 0, offsetof(al_conf_t, subject), NULL,
     "template of the notification's subject (default: the alert's name and key)"},
    {"message", SL_CFG_NODE, NULL, 0, offsetof(al_conf_t, message), NULL,
     "template of the notification's text (default: the record as JSON)"},
    SL_CONFIG_END,
};

typedef struct al_slot {
    uint64_t h;        /* 0 = empty */
    int64_t since;     /* AL_NONE = idle */
    int64_t fired;     /* last firing, AL_NONE = never */
    int64_t seen;      /* newest event time seen for the key */
    bool firing;       /* this episode fired */
} al_slot_t;

typedef struct alert {
    char *name;
    sl_expr_t *when, *key;
    sl_template_t *subject, *message, *resolve_msg;
    bool resolve;
    int64_t cooldown, for_ms;
    al_slot_t *slots;
    size_t cap, n;
    int64_t max_ts;
    bool any;
    sl_buf_t kbuf;
    size_t *order;     /* sort scratch */
    size_t order_cap;
} alert_t;

#define AL_MIN_CAP 64


/* ---- the key table ---- */

static int64_t al_span(const alert_t *a) {
    int64_t s = a->cooldown > a->for_ms ? a->cooldown : a->for_ms;
    return s > AL_HOUR ? s : AL_HOUR;
}

/* Invariant 4: may the slot be forgotten now? */
static bool al_expired(const alert_t *a, const al_slot_t *s) {
    if (!a->any) return false;
    bool cooled = s->fired == AL_NONE || a->max_ts - s->fired >= a->cooldown;
    if (!cooled) return false;
    if (s->since == AL_NONE && !s->firing) return true;
    return a->max_ts - s->seen >= al_span(a);
}

static al_slot_t *al_find(al_slot_t *slots, size_t cap, uint64_t h) {
    size_t mask = cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask)
        if (slots[i].h == h || slots[i].h == 0) return &slots[i];
}

static void al_rebuild(alert_t *a, size_t newcap) {
    al_slot_t *ns = calloc(newcap, sizeof *ns);
    if (!ns) abort();
    size_t n = 0;
    for (size_t i = 0; i < a->cap; i++) {
        if (!a->slots[i].h || al_expired(a, &a->slots[i])) continue;
        *al_find(ns, newcap, a->slots[i].h) = a->slots[i];
        n++;
    }
    free(a->slots);
    a->slots = ns;
    a->cap = newcap;
    a->n = n;
}

static void al_reserve(alert_t *a) {
    if (a->cap && (a->n + 1) * 10 <= a->cap * 7) return;
    size_t live = 0;
    for (size_t i = 0; i < a->cap; i++)
        if (a->slots[i].h && !al_expired(a, &a->slots[i])) live++;
    size_t cap = a->cap ? a->cap : AL_MIN_CAP;
    while ((live + 1) * 2 > cap) cap *= 2;
    while (cap > AL_MIN_CAP && (live + 1) * 8 < cap) cap /= 2;
    al_rebuild(a, cap);
}

static al_slot_t *al_slot(alert_t *a, uint64_t h) {
    al_reserve(a);
    al_slot_t *s = al_find(a->slots, a->cap, h);
    if (!s->h) {
        s->h = h;
        s->since = s->fired = AL_NONE;
        s->seen = AL_NONE;
        s->firing = false;
        a->n++;
    }
    return s;
}

/* ---- compile ---- */

static sl_template_t *tpl_or_null(const sl_cnode_t *n, sl_init_ctx_t *ctx, const char *what, int *bad) {
    if (!n || sl_cnode_is_null(n)) return NULL;
    if (n->kind != SL_CNODE_SCALAR) {
        sl_step_diag(ctx, n, "%s: '%s' must be a text template", ctx->what, what);
        *bad = -1;
        return NULL;
    }
    sl_template_t *t = sl_template_compile_node(n, ctx->diags);
    if (!t) *bad = -1;
    return t;
}

static int alert_compile(sl_step_t *step, sl_init_ctx_t *ctx) {
    alert_t *a = calloc(1, sizeof *a);
    if (!a) abort();
    step->state = a;
    if (!step->node || step->node->kind != SL_CNODE_MAP) {
        sl_step_diag(ctx, step->node, "%s must be a mapping {when: expr, key: expr, cooldown: duration, ...}",
                     ctx->what);
        return -1;
    }
    al_conf_t conf = {0};
    if (sl_config_apply(alert_map, step->node, &conf, ctx->what, ctx->arena, ctx->diags) != 0) return -1;
    int bad = 0;
    a->name = strdup(conf.name ? conf.name : "alert");
    if (conf.cooldown_ms < 0 || conf.for_ms < 0) {
        sl_step_diag(ctx, step->node, "%s: 'cooldown' and 'for' must not be negative", ctx->what);
        bad = -1;
    }
    a->cooldown = conf.cooldown_ms;
    a->for_ms = conf.for_ms;
    a->when = sl_expr_compile_node(conf.when, ctx->diags);
    if (!a->when) bad = -1;
    if (conf.key && !sl_cnode_is_null(conf.key)) {
        a->key = sl_expr_compile_node(conf.key, ctx->diags);
        if (!a->key) bad = -1;
    }
    a->subject = tpl_or_null(conf.subject, ctx, "subject", &bad);
    a->message = tpl_or_null(conf.message, ctx, "message", &bad);
    if (conf.resolve && !sl_cnode_is_null(conf.resolve)) {
        bool b;
        if (conf.resolve->kind == SL_CNODE_SCALAR && conf.resolve->style == 0 && sl_parse_bool(conf.resolve->str, &b))
            a->resolve = b;
        else {
            a->resolve = true;
            a->resolve_msg = tpl_or_null(conf.resolve, ctx, "resolve", &bad);
        }
    }
    return bad;
}

/* ---- apply ---- */

static void key_text(sl_arena_t *arena, sl_value_t v, sl_buf_t *tmp, const char **s, size_t *len) {
    if (v.type == SL_T_STRING) {
        *s = v.u.s;
        *len = v.len;
    } else if (v.type == SL_T_NULL) {
        *s = "";
        *len = 0;
    } else {
        sl_buf_clear(tmp);
        sl_json_write(tmp, v);
        *s = sl_arena_strndup(arena, tmp->data, tmp->len);
        *len = tmp->len;
    }
}

/* Render tpl (or the fallback) as a string value; an error becomes the text. */
static sl_value_t render(const sl_template_t *tpl, const sl_expr_ctx_t *ec, const char *fallback, bool *failed,
                         char *why, size_t whylen) {
    if (!tpl) return sl_str_dup(ec->arena, fallback, strlen(fallback));
    const char *s;
    size_t n;
    sl_error_t e = {0};
    if (sl_template_render(tpl, ec, &s, &n, &e) != 0) {
        *failed = true;
        snprintf(why, whylen, "%s", e.msg);
        return sl_null();
    }
    return sl_str_dup(ec->arena, s, n);
}

/* Fill out (a copy of rec) with the notification.  Returns false when a template
 * failed (why says how; the caller sends rec to the dead-letter topic). */
static bool notify(alert_t *a, sl_step_ctx_t *ctx, sl_record_t *out, const sl_record_t *rec, sl_value_t keyv,
                   const char *ktext, size_t klen, bool firing, const al_slot_t *s, char *why, size_t whylen) {
    sl_arena_t *arena = sl_step_arena(ctx);
    const char *state = firing ? "firing" : "resolved";
    /* templates see the record as `this` and, as `alert`, {name, key, state, since, fired} */
    sl_value_t info = sl_object_new(arena, 5);
    sl_value_set(arena, &info, "name", 4, sl_str(a->name, strlen(a->name)));
    sl_value_set(arena, &info, "key", 3, keyv);
    sl_value_set(arena, &info, "state", 5, sl_str(state, strlen(state)));
    sl_value_set(arena, &info, "since", 5, s->since != AL_NONE ? sl_int(s->since) : sl_null());
    sl_value_set(arena, &info, "fired", 5, s->fired != AL_NONE ? sl_int(s->fired) : sl_null());
    sl_value_t locals = sl_object_new(arena, 1);
    sl_value_set(arena, &locals, "alert", 5, info);
    sl_expr_ctx_t ec;
    sl_step_expr_ctx(ctx, rec, &ec);
    ec.locals = &locals;
    bool failed = false;
    char def[512];
    snprintf(def, sizeof def, "%s%.150s%s%.*s", firing ? "" : "Resolved: ", a->name, klen ? ": " : "",
             (int)(klen > 200 ? 200 : klen), ktext);
    sl_value_t subject;
    if (a->subject) {
        subject = render(a->subject, &ec, def, &failed, why, whylen);
        if (!firing && !failed) {
            const char *t = sl_arena_sprintf(arena, "Resolved: %s", subject.u.s);
            subject = sl_str(t, strlen(t));
        }
    } else subject = sl_str_dup(arena, def, strlen(def));
    sl_value_t message;
    const sl_template_t *mt = firing ? a->message : a->resolve_msg;
    if (mt) message = render(mt, &ec, "", &failed, why, whylen);
    else if (!firing) {
        const char *t = sl_arena_sprintf(arena, "%s%s%.*s: the condition no longer holds.", a->name,
                                         klen ? " " : "", (int)klen, ktext);
        message = sl_str(t, strlen(t));
    } else {
        sl_buf_t b = SL_BUF_INIT;
        sl_json_write(&b, rec->value);
        message = sl_str_dup(arena, b.data ? b.data : "", b.len);
        sl_buf_free(&b);
    }
    if (failed) return false;
    /* id: stable per (alert, key, state, event time): the Message-ID and history key */
    sl_buf_t idb = SL_BUF_INIT;
    sl_buf_printf(&idb, "%s\n%.*s\n%s\n%lld", a->name, (int)klen, ktext, state, (long long)rec->ts);
    char id[40];
    snprintf(id, sizeof id, "%016llx%016llx", (unsigned long long)sl_hash64(idb.data, idb.len),
             (unsigned long long)sl_hash_mix(sl_hash64(idb.data, idb.len) ^ 0x5bd1e995ULL));
    sl_buf_free(&idb);
    sl_value_t n = sl_object_new(arena, 9);
    sl_value_set(arena, &n, "id", 2, sl_str_dup(arena, id, strlen(id)));
    sl_value_set(arena, &n, "alert", 5, sl_str(a->name, strlen(a->name)));
    sl_value_set(arena, &n, "key", 3, sl_str(ktext, klen));
    sl_value_set(arena, &n, "state", 5, sl_str(state, strlen(state)));
    sl_value_set(arena, &n, "subject", 7, subject);
    sl_value_set(arena, &n, "message", 7, message);
    sl_value_set(arena, &n, "ts", 2, sl_int(rec->ts));
    sl_value_set(arena, &n, "since", 5, s->since != AL_NONE ? sl_int(s->since) : sl_null());
    sl_value_set(arena, &n, "record", 6, rec->value);
    *out = *rec;
    out->value = n;
    out->orig = sl_null();   /* a rejected notification goes to the DLQ as itself */
    out->key = ktext;
    out->key_len = (uint32_t)klen;
    return true;
}

/* Stable merge sort of idx[0..n) by recs[idx].ts (tmp: n more slots). */
static void sort_by_ts(const sl_record_t *recs, size_t *idx, size_t *tmp, size_t n) {
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = recs[idx[j]].ts < recs[idx[i]].ts ? idx[j++] : idx[i++];
            while (i < mid) tmp[k++] = idx[i++];
            while (j < hi) tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
}

static int alert_apply(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    alert_t *a = step->state;
    size_t n = batch->n;
    if (a->order_cap < n) {
        a->order_cap = n;
        a->order = sl_xrealloc(a->order, 2 * n * sizeof *a->order);
        if (!a->order) abort();
    }
    bool sorted = true;
    for (size_t i = 0; i < n; i++) {
        a->order[i] = i;
        if (i && batch->recs[i].ts < batch->recs[i - 1].ts) sorted = false;
    }
    if (!sorted) sort_by_ts(batch->recs, a->order, a->order + n, n);
    /* the notifications are built into a separate array, then replace the batch */
    sl_record_t *outs = NULL;
    size_t nout = 0;
    sl_arena_t *arena = sl_step_arena(ctx);
    for (size_t oi = 0; oi < n; oi++) {
        const sl_record_t *rec = &batch->recs[a->order[oi]];
        sl_expr_ctx_t ec;
        sl_step_expr_ctx(ctx, rec, &ec);
        sl_value_t w, k = sl_null();
        sl_error_t e = {0};
        if (sl_expr_eval(a->when, &ec, &w, &e) != 0) {
            sl_step_dlq(ctx, rec, "alert %s: when: %s", a->name, e.msg);
            continue;
        }
        if (w.type != SL_T_BOOL && w.type != SL_T_NULL) {
            sl_step_dlq(ctx, rec, "alert %s: 'when' must give true or false, got %s", a->name,
                        sl_type_name((sl_type_t)w.type));
            continue;
        }
        if (a->key && sl_expr_eval(a->key, &ec, &k, &e) != 0) {
            sl_step_dlq(ctx, rec, "alert %s: key: %s", a->name, e.msg);
            continue;
        }
        bool cond = w.type == SL_T_BOOL && w.u.b;
        const char *kt;
        size_t kl;
        key_text(arena, k, &a->kbuf, &kt, &kl);
        int64_t t = rec->ts;
        if (!a->any || t > a->max_ts) a->max_ts = t;
        a->any = true;
        uint64_t h = sl_hash64(kt, kl);
        al_slot_t *s;
        if (!cond) {
            /* an idle key needs no slot */
            if (!a->cap) continue;
            s = al_find(a->slots, a->cap, h);
            if (!s->h) continue;
        } else {
            s = al_slot(a, h);
        }
        if (s->seen != AL_NONE && t < s->seen) continue;   /* invariant 3: late */
        s->seen = t;
        bool emit = false, firing = false;
        if (cond) {
            if (s->since == AL_NONE) s->since = t;
            if (!s->firing && t - s->since >= a->for_ms && (s->fired == AL_NONE || t - s->fired >= a->cooldown)) {
                s->firing = true;
                s->fired = t;
                emit = firing = true;
            }
        } else {
            emit = s->firing && a->resolve;
            if (s->since == AL_NONE && !s->firing) continue;
        }
        if (emit) {
            if (nout % 16 == 0) {
                outs = sl_xrealloc(outs, (nout + 16) * sizeof *outs);
                if (!outs) abort();
            }
            char why[600] = "";
            al_slot_t snap = *s;
            if (!notify(a, ctx, &outs[nout], rec, k, kt, kl, firing, &snap, why, sizeof why)) {
                sl_step_dlq(ctx, rec, "alert %s: a template failed: %s", a->name, why);
            } else nout++;
        }
        if (!cond) {
            s->since = AL_NONE;
            s->firing = false;
        }
    }
    if (nout > batch->cap) {
        batch->recs = sl_xrealloc(batch->recs, nout * sizeof *batch->recs);
        if (!batch->recs) abort();
        batch->cap = nout;
    }
    if (nout) memcpy(batch->recs, outs, nout * sizeof *outs);
    batch->n = nout;
    free(outs);
    (void)err;
    return 0;
}

/* ---- snapshot / restore ---- */

static void put64(sl_buf_t *out, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    sl_buf_append(out, b, 8);
}

static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(sl_buf_t *out, uint32_t v) {
    unsigned char b[4];
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
    sl_buf_append(out, b, 4);
}

static int alert_snapshot(sl_step_t *step, sl_buf_t *out) {
    const alert_t *a = step->state;
    uint32_t count = 0;
    for (size_t i = 0; i < a->cap; i++)
        if (a->slots[i].h && !al_expired(a, &a->slots[i])) count++;
    sl_buf_reserve(out, 20 + (size_t)count * 40);
    sl_buf_append(out, "SLAL", 4);
    put32(out, 1);
    put32(out, count);
    put64(out, a->any ? (uint64_t)a->max_ts : (uint64_t)AL_NONE);
    for (size_t i = 0; i < a->cap; i++) {
        const al_slot_t *s = &a->slots[i];
        if (!s->h || al_expired(a, s)) continue;
        put64(out, s->h);
        put64(out, (uint64_t)s->since);
        put64(out, (uint64_t)s->fired);
        put64(out, (uint64_t)s->seen);
        put64(out, s->firing ? 1 : 0);
    }
    return 0;
}

static int alert_restore(sl_step_t *step, const void *data, size_t len, sl_error_t *err) {
    alert_t *a = step->state;
    const unsigned char *p = data;
    if (len < 20 || memcmp(p, "SLAL", 4) != 0)
        return sl_error_set(err, SL_CORRUPT, "alert state: not an alert snapshot (%zu bytes)", len);
    uint32_t version = get32(p + 4), count = get32(p + 8);
    if (version != 1) return sl_error_set(err, SL_CORRUPT, "alert state: unknown version %u", version);
    if (len != 20 + (size_t)count * 40)
        return sl_error_set(err, SL_CORRUPT, "alert state: %zu bytes for %u keys", len, count);
    int64_t max_ts = (int64_t)get64(p + 12);
    free(a->slots);
    a->any = max_ts != AL_NONE;
    a->max_ts = a->any ? max_ts : 0;
    size_t cap = AL_MIN_CAP;
    while (((size_t)count + 1) * 2 > cap) cap *= 2;
    a->slots = calloc(cap, sizeof *a->slots);
    if (!a->slots) abort();
    a->cap = cap;
    a->n = 0;
    for (uint32_t i = 0; i < count; i++) {
        const unsigned char *e = p + 20 + (size_t)i * 40;
        uint64_t h = get64(e);
        if (!h) continue;
        al_slot_t *s = al_find(a->slots, a->cap, h);
        if (!s->h) a->n++;
        s->h = h;
        s->since = (int64_t)get64(e + 8);
        s->fired = (int64_t)get64(e + 16);
        s->seen = (int64_t)get64(e + 24);
        s->firing = get64(e + 32) & 1;
    }
    return 0;
}

static void alert_free(sl_step_t *step) {
    alert_t *a = step->state;
    if (!a) return;
    free(a->name);
    sl_expr_free(a->when);
    sl_expr_free(a->key);
    sl_template_free(a->subject);
    sl_template_free(a->message);
    sl_template_free(a->resolve_msg);
    free(a->slots);
    free(a->order);
    sl_buf_free(&a->kbuf);
    free(a);
    step->state = NULL;
}

const sl_step_plugin_t sl_step_alert = {
    .abi = SL_PLUGIN_ABI,
    .name = "alert",
    .description = "`alert: {name, when, key, cooldown, for, resolve, subject, message}` (what `alerts:` compiles to): replaces the batch with notifications {id, alert, key, state: firing|resolved, subject, message, ts, since, record}; a key fires once per episode of `when`, after `for`, not within `cooldown` of its last firing (event time). The per-key state survives restarts.",
    .compile = alert_compile,
    .apply = alert_apply,
    .snapshot = alert_snapshot,
    .restore = alert_restore,
    .free = alert_free,
};
