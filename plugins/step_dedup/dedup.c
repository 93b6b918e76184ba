/* dedup.c - step `dedup: {key: expr, within: 7d}`: drop a record whose key was seen
 * within `within` of its event time (meta.ts).  The set of seen keys survives
 * restarts (snapshot/restore with the job's offsets).
 *
 * Invariants:
 *  1. A key is remembered as a 64-bit hash of its canonical JSON (sl_json_write of the
 *     value, a whole-number double written as an int) and the latest event time it was seen at: 16 bytes per key, in an
 *     open-addressing table (linear probing, hash 0 = empty slot).  Two keys whose
 *     hashes collide count as one (probability ~ n^2 / 2^65: 3e-8 for a million keys).
 *  2. `max_ts` is the largest event time seen.  An entry whose time is older than
 *     max_ts - within is expired: lookups ignore it, so decisions do not depend on when
 *     expired entries are actually evicted (on growth and in snapshots).
 *  3. A record with key k at time t is a repeat when a live entry for k has time s with
 *     |t - s| < within; either way the entry's time becomes max(s, t) ("seen" counts
 *     repeats too, so a key re-polled forever never passes again).
 *  4. No allocation per record: the key's JSON is written into one reused buffer.
 *
 * Snapshot layout (little-endian): "SLDD" u32 version(1) u32 count i64 max_ts, then
 * count x (u64 hash, i64 ts).  Only live entries are written. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/hash.h"
#include "../../src/step_util.h"
#include "sluice/json.h"

typedef struct dd_conf {
    const sl_cnode_t *key;
    int64_t within_ms;
} dd_conf_t;

static const sl_config_map_t dedup_map[] = {
    {"key", SL_CFG_EXPR, NULL, SL_CFG_REQUIRED, offsetof(dd_conf_t, key), NULL,
     "expression naming what a repeat is (null: the record always passes)"},
    {"within", SL_CFG_DURATION, "7d", 0, offsetof(dd_conf_t, within_ms), NULL,
     "a key seen again within this much event time (meta.ts) is dropped"},
    SL_CONFIG_END,
};

typedef struct dd_slot {
    uint64_t h;   /* 0 = empty */
    int64_t ts;
} dd_slot_t;

typedef struct dedup {
    sl_expr_t *key;
    int64_t within;
    dd_slot_t *slots;
    size_t cap, n;       /* cap: power of two; n: used slots (live or expired) */
    int64_t max_ts;
    bool any;            /* max_ts is meaningful */
    sl_buf_t kbuf;       /* reused for the key's JSON */
} dedup_t;

#define DD_MIN_CAP 1024


/* ---- the table ---- */

static int64_t dd_horizon(const dedup_t *d) {
    return d->any ? (d->max_ts < INT64_MIN + d->within ? INT64_MIN : d->max_ts - d->within)
                  : INT64_MIN;
}

static dd_slot_t *dd_find(dd_slot_t *slots, size_t cap, uint64_t h) {
    size_t mask = cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask)
        if (slots[i].h == h || slots[i].h == 0) return &slots[i];
}

/* Rebuild into a table of newcap slots, keeping only live entries. */
static void dd_rebuild(dedup_t *d, size_t newcap) {
    dd_slot_t *ns = calloc(newcap, sizeof *ns);
    if (!ns) abort();
    int64_t horizon = dd_horizon(d);
    size_t n = 0;
    for (size_t i = 0; i < d->cap; i++) {
        if (!d->slots[i].h || d->slots[i].ts < horizon) continue;
        *dd_find(ns, newcap, d->slots[i].h) = d->slots[i];
        n++;
    }
    free(d->slots);
    d->slots = ns;
    d->cap = newcap;
    d->n = n;
}

/* Room for one more entry: at 70% load evict expired entries, and size the table so
 * the live ones fill at most half of it (at least DD_MIN_CAP, shrinking when sparse). */
static void dd_reserve(dedup_t *d) {
    if (d->cap && (d->n + 1) * 10 <= d->cap * 7) return;
    int64_t horizon = dd_horizon(d);
    size_t live = 0;
    for (size_t i = 0; i < d->cap; i++)
        if (d->slots[i].h && d->slots[i].ts >= horizon) live++;
    size_t cap = d->cap ? d->cap : DD_MIN_CAP;
    while ((live + 1) * 2 > cap) cap *= 2;
    while (cap > DD_MIN_CAP && (live + 1) * 8 < cap) cap /= 2;
    dd_rebuild(d, cap);
}

/* Is (h, t) a repeat?  Records the sighting either way (invariant 3). */
static bool dd_seen(dedup_t *d, uint64_t h, int64_t t) {
    if (!d->any || t > d->max_ts) d->max_ts = t;
    d->any = true;
    dd_reserve(d);
    dd_slot_t *s = dd_find(d->slots, d->cap, h);
    if (s->h == 0) {
        s->h = h;
        s->ts = t;
        d->n++;
        return false;
    }
    bool live = s->ts >= dd_horizon(d);
    uint64_t diff = t > s->ts ? (uint64_t)t - (uint64_t)s->ts : (uint64_t)s->ts - (uint64_t)t;
    bool repeat = live && diff < (uint64_t)d->within;
    if (!live || t > s->ts) s->ts = t;
    return repeat;
}

/* ---- the step ---- */

static int dedup_compile(sl_step_t *step, sl_init_ctx_t *ctx) {
    dedup_t *d = calloc(1, sizeof *d);
    step->state = d;
    if (!step->node || step->node->kind != SL_CNODE_MAP) {
        sl_step_diag(ctx, step->node, "%s must be a mapping {key: expr, within: duration}", ctx->what);
        return -1;
    }
    dd_conf_t conf = {0};
    if (sl_config_apply(dedup_map, step->node, &conf, ctx->what, ctx->arena, ctx->diags) != 0)
        return -1;
    if (conf.within_ms <= 0) {
        sl_step_diag(ctx, sl_cnode_get(step->node, "within"), "%s: 'within' must be more than 0",
                     ctx->what);
        return -1;
    }
    d->within = conf.within_ms;
    d->key = sl_expr_compile_node(conf.key, ctx->diags);
    return d->key ? 0 : -1;
}

static int dedup_apply(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    dedup_t *d = step->state;
    size_t out = 0;
    for (size_t i = 0; i < batch->n; i++) {
        sl_record_t *rec = &batch->recs[i];
        sl_expr_ctx_t ec;
        sl_step_expr_ctx(ctx, rec, &ec);
        sl_value_t v;
        sl_error_t e = {0};
        if (sl_expr_eval(d->key, &ec, &v, &e) != 0) {
            sl_step_dlq(ctx, rec, "dedup key: %s", e.msg);
            continue;
        }
        if (v.type == SL_T_DOUBLE && fabs(v.u.d) < 9e18 && v.u.d == (double)(int64_t)v.u.d)
            v = sl_int((int64_t)v.u.d);   /* 1.0 and 1 are one key (as sl_value_equal says) */
        if (v.type != SL_T_NULL) {
            sl_buf_clear(&d->kbuf);
            sl_json_write(&d->kbuf, v);
            if (dd_seen(d, sl_hash64(d->kbuf.data, d->kbuf.len), rec->ts)) continue;
        }
        batch->recs[out++] = *rec;
    }
    batch->n = out;
    return 0;
}

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

static int dedup_snapshot(sl_step_t *step, sl_buf_t *out) {
    const dedup_t *d = step->state;
    int64_t horizon = dd_horizon(d);
    uint32_t count = 0;
    for (size_t i = 0; i < d->cap; i++)
        if (d->slots[i].h && d->slots[i].ts >= horizon) count++;
    sl_buf_reserve(out, 24 + (size_t)count * 16);
    sl_buf_append(out, "SLDD", 4);
    unsigned char hdr[8];
    for (int i = 0; i < 4; i++) hdr[i] = (unsigned char)(1u >> (8 * i));
    for (int i = 0; i < 4; i++) hdr[4 + i] = (unsigned char)(count >> (8 * i));
    sl_buf_append(out, hdr, 8);
    put64(out, d->any ? (uint64_t)d->max_ts : (uint64_t)INT64_MIN);
    for (size_t i = 0; i < d->cap; i++) {
        if (!d->slots[i].h || d->slots[i].ts < horizon) continue;
        put64(out, d->slots[i].h);
        put64(out, (uint64_t)d->slots[i].ts);
    }
    return 0;
}

static int dedup_restore(sl_step_t *step, const void *data, size_t len, sl_error_t *err) {
    dedup_t *d = step->state;
    const unsigned char *p = data;
    if (len < 20 || memcmp(p, "SLDD", 4) != 0)
        return sl_error_set(err, SL_CORRUPT, "dedup state: not a dedup snapshot (%zu bytes)", len);
    uint32_t version = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    uint32_t count = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
    if (version != 1)
        return sl_error_set(err, SL_CORRUPT, "dedup state: unknown version %u", version);
    if (len != 20 + (size_t)count * 16)
        return sl_error_set(err, SL_CORRUPT, "dedup state: %zu bytes for %u entries", len, count);
    int64_t max_ts = (int64_t)get64(p + 12);
    free(d->slots);
    d->slots = NULL;
    d->cap = d->n = 0;
    d->any = max_ts != INT64_MIN;
    d->max_ts = d->any ? max_ts : 0;
    size_t cap = DD_MIN_CAP;
    while (((size_t)count + 1) * 2 > cap) cap *= 2;
    d->slots = calloc(cap, sizeof *d->slots);
    if (!d->slots) abort();
    d->cap = cap;
    for (uint32_t i = 0; i < count; i++) {
        const unsigned char *e = p + 20 + (size_t)i * 16;
        uint64_t h = get64(e);
        int64_t ts = (int64_t)get64(e + 8);
        if (!h) continue;
        dd_slot_t *s = dd_find(d->slots, d->cap, h);
        if (!s->h) d->n++;
        else if (s->ts > ts) continue;
        s->h = h;
        s->ts = ts;
    }
    return 0;
}

static void dedup_free(sl_step_t *step) {
    dedup_t *d = step->state;
    if (!d) return;
    sl_expr_free(d->key);
    free(d->slots);
    sl_buf_free(&d->kbuf);
    free(d);
    step->state = NULL;
}

const sl_step_plugin_t sl_step_dedup = {
    .abi = SL_PLUGIN_ABI,
    .name = "dedup",
    .description = "`dedup: {key: expr, within: 7d}` drops a record whose key was seen within `within` of its event time (meta.ts); a null key always passes. The seen keys (16 bytes each) survive restarts.",
    .compile = dedup_compile,
    .apply = dedup_apply,
    .snapshot = dedup_snapshot,
    .restore = dedup_restore,
    .free = dedup_free,
};
