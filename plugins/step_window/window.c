/* window.c - step `window: {key, time, size, slide, lateness, emit: {name: agg(expr)}}`:
 * event-time windows with a watermark; consumes its input and emits one record per
 * closed window: {key, window_start, window_end, <name>: <aggregate>...}.
 *
 * Invariants:
 *  1. Windows are [start, start+size) with start a multiple of `slide` (tumbling when
 *     slide = size); a record at time t belongs to every window containing t.
 *  2. watermark = max event time seen - lateness.  A window is closed once
 *     watermark >= its end.  Whether a record is accepted depends only on the watermark
 *     before it, never on batch boundaries: a record is late (dead-letter topic) when
 *     every window containing it is closed; otherwise it is added to its open windows.
 *     (For tumbling windows: when its one window is closed.)
 *  3. Closed windows are emitted at the end of the batch that closed them, sorted by
 *     (window_end, key JSON), then forgotten.
 *  4. flush() (end of `run --once`, `sluice test`) emits the open windows that changed
 *     since they were last emitted, and keeps them: a later run restored from the
 *     snapshot goes on filling them and emits them again when they close, so a sink
 *     keyed by (key, window_start) ends with the same rows as one uninterrupted run.
 *  5. Window state lives on the heap, never in a batch arena: one allocation per window
 *     (struct + aggregate slots + key JSON); string values of min/max/first/last are
 *     copied into a per-slot buffer that is reused, arrays/objects kept as JSON text.
 *
 * Snapshot (JSON): {"v":1,"size":ms,"slide":ms,"naggs":n,"max":ms|null,
 *   "w":[[key, start, dirty, [[n, isum, dsum, is_double, value], ...]], ...]} */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/step_util.h"
#include "sluice/json.h"

typedef enum { AG_COUNT, AG_SUM, AG_AVG, AG_MIN, AG_MAX, AG_FIRST, AG_LAST } ag_kind_t;
static const char *const ag_names[] = {"count", "sum", "avg", "min", "max", "first", "last", NULL};

typedef struct agg {
    const char *name;     /* output field (dotted path) */
    int kind;             /* ag_kind_t */
    sl_expr_t *expr;      /* NULL: count() */
} agg_t;

typedef struct slot {
    int64_t n;            /* values seen (count(): records) */
    int64_t isum;
    double dsum;
    bool dbl;             /* the sum went floating point */
    bool json;            /* v is an array/object kept as JSON text in own */
    sl_value_t v;         /* min max first last; strings point into own.data */
    sl_buf_t own;
} slot_t;

typedef struct win {
    int64_t start;
    uint64_t khash;
    bool dirty;           /* changed since last emitted */
    uint32_t klen;
    char *kjson;          /* points after slots[] */
    slot_t slots[];
} win_t;

typedef struct w_conf {
    const sl_cnode_t *key, *time, *emit;
    int64_t size, slide, lateness;
} w_conf_t;

typedef struct window {
    sl_expr_t *key, *time;   /* may be NULL: one global key / meta.ts */
    int64_t size, slide, lateness;
    agg_t *aggs;
    size_t naggs;
    /* open windows: open addressing on (khash, start), linear probing, NULL = empty */
    win_t **tab;
    size_t cap, n;
    int64_t max_t;
    bool any;                /* max_t is meaningful */
    int64_t min_end;         /* smallest end among open windows (INT64_MAX: none) */
    const char *topic;       /* of the input records, for the results' meta.topic */
    sl_buf_t kbuf;           /* reused: the key's JSON */
    sl_value_t *vals;        /* reused: one record's aggregate inputs */
} window_t;

static const sl_config_map_t window_map[] = {
    {"key", SL_CFG_EXPR, NULL, 0, offsetof(w_conf_t, key), NULL,
     "expression grouping records (absent: one global key)"},
    {"time", SL_CFG_EXPR, NULL, 0, offsetof(w_conf_t, time), NULL,
     "expression giving the event time in epoch ms (absent: meta.ts)"},
    {"size", SL_CFG_DURATION, NULL, SL_CFG_REQUIRED, offsetof(w_conf_t, size), NULL, "window length"},
    {"slide", SL_CFG_DURATION, NULL, 0, offsetof(w_conf_t, slide), NULL,
     "distance between window starts (absent: size, tumbling windows)"},
    {"lateness", SL_CFG_DURATION, "0", 0, offsetof(w_conf_t, lateness), NULL,
     "how far behind the newest event time a record may arrive"},
    {"emit", SL_CFG_NODE, NULL, SL_CFG_REQUIRED, offsetof(w_conf_t, emit), NULL,
     "mapping of output field: agg(expr), agg one of count sum avg min max first last"},
    SL_CONFIG_END,
};

#define W_MAX_PER_RECORD 1000   /* size / slide: windows one record may belong to */
#define W_MAX_TIME ((int64_t)1 << 55)   /* |event time| in ms (~1.1 million years): no overflow */

/* ---------------------------------------------------------------- helpers */

static uint64_t w_mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t w_hash(const char *p, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    return w_mix(h);
}

static size_t w_slot_of(uint64_t khash, int64_t start, size_t cap) {
    return (size_t)w_mix(khash ^ (uint64_t)start) & (cap - 1);
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static void fmt_time(char *buf, size_t cap, int64_t ms) {
    time_t s = (time_t)floor_div(ms, 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm)) {
        snprintf(buf, cap, "%" PRId64, ms);
        return;
    }
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, ".%03dZ", (int)(ms - floor_div(ms, 1000) * 1000));
}

static bool bad_path(const char *p) {
    size_t n = strlen(p);
    return n == 0 || p[0] == '.' || p[n - 1] == '.' || strstr(p, "..") != NULL;
}

/* ---------------------------------------------------------------- slots */

/* The kept value; with `copy`, strings are copied into the arena (results outlive the
 * window), else they point into s->own. */
static sl_value_t slot_value(const slot_t *s, sl_arena_t *arena, bool copy) {
    if (!s->json) return copy && s->v.type == SL_T_STRING ? sl_str_dup(arena, s->v.u.s, s->v.len) : s->v;
    sl_value_t v;
    sl_json_error_t je;
    if (sl_json_parse(arena, s->own.data, s->own.len, &v, &je) != 0) return sl_null();
    return v;
}

/* Keep a copy of v (invariant 5). */
static void slot_keep(slot_t *s, sl_value_t v) {
    s->json = false;
    if (v.type == SL_T_STRING) {
        sl_buf_clear(&s->own);
        sl_buf_append(&s->own, v.u.s, v.len);
        if (!s->own.data) sl_buf_reserve(&s->own, 1);
        s->v = sl_str(s->own.data, v.len);
    } else if (v.type == SL_T_ARRAY || v.type == SL_T_OBJECT) {
        sl_buf_clear(&s->own);
        sl_json_write(&s->own, v);
        s->json = true;
        s->v = sl_null();
        s->v.type = v.type;
    } else {
        s->v = v;
    }
}

static void slot_add(slot_t *s, int kind, sl_value_t v, sl_arena_t *arena) {
    if (kind == AG_COUNT) {
        s->n++;   /* the caller passes no value for count() and skips nulls otherwise */
        return;
    }
    if (v.type == SL_T_NULL) return;
    switch (kind) {
    case AG_SUM:
    case AG_AVG:
        if (v.type == SL_T_INT && !s->dbl) {
            int64_t r;
            if (!__builtin_add_overflow(s->isum, v.u.i, &r)) {
                s->isum = r;
                break;
            }
        }
        if (!s->dbl) {
            s->dsum = (double)s->isum;
            s->dbl = true;
        }
        s->dsum += sl_value_num(v);
        break;
    case AG_MIN:
    case AG_MAX: {
        if (s->n == 0) {
            slot_keep(s, v);
            break;
        }
        int c = sl_value_cmp(v, slot_value(s, arena, false));
        if ((kind == AG_MIN && c < 0) || (kind == AG_MAX && c > 0)) slot_keep(s, v);
        break;
    }
    case AG_FIRST:
        if (s->n == 0) slot_keep(s, v);
        break;
    case AG_LAST: slot_keep(s, v); break;
    }
    s->n++;
}

static sl_value_t slot_result(const slot_t *s, int kind, sl_arena_t *arena) {
    switch (kind) {
    case AG_COUNT: return sl_int(s->n);
    case AG_SUM: return s->dbl ? sl_double(s->dsum) : sl_int(s->isum);
    case AG_AVG:
        if (!s->n) return sl_null();
        return sl_double((s->dbl ? s->dsum : (double)s->isum) / (double)s->n);
    default: return s->n ? slot_value(s, arena, true) : sl_null();
    }
}

/* ---------------------------------------------------------------- windows */

static win_t *win_new(window_t *w, const char *kjson, size_t klen, uint64_t khash, int64_t start) {
    size_t sz = sizeof(win_t) + w->naggs * sizeof(slot_t) + klen + 1;
    win_t *x = calloc(1, sz);
    if (!x) abort();
    x->start = start;
    x->khash = khash;
    x->klen = (uint32_t)klen;
    x->kjson = (char *)&x->slots[w->naggs];
    memcpy(x->kjson, kjson, klen);
    x->kjson[klen] = 0;
    return x;
}

static void win_free(const window_t *w, win_t *x) {
    for (size_t i = 0; i < w->naggs; i++) sl_buf_free(&x->slots[i].own);
    free(x);
}

static void tab_put(win_t **tab, size_t cap, win_t *x) {
    size_t i = w_slot_of(x->khash, x->start, cap);
    while (tab[i]) i = (i + 1) & (cap - 1);
    tab[i] = x;
}

static void tab_grow(window_t *w) {
    size_t cap = w->cap ? w->cap * 2 : 64;
    win_t **t = calloc(cap, sizeof *t);
    if (!t) abort();
    for (size_t i = 0; i < w->cap; i++)
        if (w->tab[i]) tab_put(t, cap, w->tab[i]);
    free(w->tab);
    w->tab = t;
    w->cap = cap;
}

/* The open window (key, start), created when absent. */
static win_t *win_get(window_t *w, const char *kjson, size_t klen, uint64_t khash, int64_t start) {
    if (w->cap) {
        for (size_t i = w_slot_of(khash, start, w->cap);; i = (i + 1) & (w->cap - 1)) {
            win_t *x = w->tab[i];
            if (!x) break;
            if (x->khash == khash && x->start == start && x->klen == klen &&
                memcmp(x->kjson, kjson, klen) == 0)
                return x;
        }
    }
    if ((w->n + 1) * 2 > w->cap) tab_grow(w);
    win_t *x = win_new(w, kjson, klen, khash, start);
    tab_put(w->tab, w->cap, x);
    w->n++;
    if (start + w->size < w->min_end) w->min_end = start + w->size;
    return x;
}

static int win_order(const void *pa, const void *pb) {
    const win_t *a = *(win_t *const *)pa, *b = *(win_t *const *)pb;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = memcmp(a->kjson, b->kjson, n);
    if (c) return c;
    return a->klen < b->klen ? -1 : a->klen > b->klen;
}

/* Append the result record of x to batch. */
static void win_emit(window_t *w, const win_t *x, sl_batch_t *batch, sl_step_ctx_t *ctx) {
    sl_arena_t *a = &batch->arena;
    sl_value_t key;
    sl_json_error_t je;
    if (sl_json_parse(a, x->kjson, x->klen, &key, &je) != 0) key = sl_null();
    sl_value_t obj = sl_object_new(a, 3 + w->naggs);
    sl_value_set(a, &obj, "key", 3, key);
    sl_value_set(a, &obj, "window_start", 12, sl_int(x->start));
    sl_value_set(a, &obj, "window_end", 10, sl_int(x->start + w->size));
    for (size_t i = 0; i < w->naggs; i++)
        sl_value_set_path(a, &obj, w->aggs[i].name, slot_result(&x->slots[i], w->aggs[i].kind, a));
    sl_record_t *rec = sl_batch_push(batch);
    rec->value = rec->orig = obj;
    if (key.type == SL_T_STRING) {
        rec->key = key.u.s;
        rec->key_len = key.len;
    } else if (key.type != SL_T_NULL) {
        rec->key = sl_arena_strndup(a, x->kjson, x->klen);
        rec->key_len = x->klen;
    }
    rec->ts = x->start + w->size - 1;   /* the last instant inside the window */
    sl_expr_ctx_t ec;
    sl_step_expr_ctx(ctx, NULL, &ec);
    rec->ingest_ts = ec.now_ms;
    /* offset -1 and partition -1: never mistaken for input a sink already holds */
    rec->topic = w->topic ? w->topic : "";
}

/* Emit (the dirty ones of) the windows with end <= upto and forget them; when flushing,
 * emit every dirty window and keep it (invariant 4). */
static void win_close(window_t *w, int64_t upto, bool flush, sl_batch_t *batch, sl_step_ctx_t *ctx) {
    if (!flush && upto < w->min_end) return;
    win_t **done = malloc((w->n ? w->n : 1) * sizeof *done);
    if (!done) abort();
    size_t nd = 0;
    int64_t min_end = INT64_MAX;
    for (size_t i = 0; i < w->cap; i++) {
        win_t *x = w->tab[i];
        if (!x) continue;
        int64_t end = x->start + w->size;
        if (flush || end <= upto) done[nd++] = x;
        if (flush || end > upto)
            if (end < min_end) min_end = end;
    }
    qsort(done, nd, sizeof *done, win_order);
    for (size_t i = 0; i < nd; i++)
        if (done[i]->dirty) {
            win_emit(w, done[i], batch, ctx);
            done[i]->dirty = false;
        }
    if (!flush && nd) {
        /* rebuild the table without the closed windows */
        win_t **t = calloc(w->cap, sizeof *t);
        if (!t) abort();
        for (size_t i = 0; i < w->cap; i++) {
            win_t *x = w->tab[i];
            if (x && x->start + w->size > upto) tab_put(t, w->cap, x);
        }
        free(w->tab);
        w->tab = t;
        w->n -= nd;
        for (size_t i = 0; i < nd; i++) win_free(w, done[i]);
    }
    w->min_end = min_end;
    free(done);
}

static void win_clear(window_t *w) {
    for (size_t i = 0; i < w->cap; i++)
        if (w->tab[i]) win_free(w, w->tab[i]);
    free(w->tab);
    w->tab = NULL;
    w->cap = w->n = 0;
    w->min_end = INT64_MAX;
    w->any = false;
    w->max_t = 0;
}

/* ---------------------------------------------------------------- compile */

/* Parse `agg(expr)` of an emit entry. */
static int parse_agg(agg_t *ag, const sl_cnode_t *node, sl_init_ctx_t *ctx) {
    if (node->kind != SL_CNODE_SCALAR || sl_cnode_is_null(node)) {
        sl_step_diag(ctx, node, "%s: emit '%s' must be agg(expr), agg one of: count sum avg min max first last",
                     ctx->what, ag->name);
        return -1;
    }
    const char *s = node->str;
    size_t n = node->len, i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    size_t name0 = i;
    while (i < n && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (s[i] >= '0' && s[i] <= '9')))
        i++;
    size_t name1 = i;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    size_t end = n;
    while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\n')) end--;
    int line, col;
    if (name1 == name0 || i >= end || s[i] != '(' || end - 1 <= i || s[end - 1] != ')') {
        sl_cnode_pos_at(node, name0, &line, &col);
        sl_diags_add(ctx->diags, node->file, line, col,
                     "%s: emit '%s' must be agg(expr), agg one of: count sum avg min max first last",
                     ctx->what, ag->name);
        return -1;
    }
    char fname[32];
    size_t fl = name1 - name0 < sizeof fname - 1 ? name1 - name0 : sizeof fname - 1;
    memcpy(fname, s + name0, fl);
    fname[fl] = 0;
    ag->kind = -1;
    for (int k = 0; ag_names[k]; k++)
        if (strcmp(fname, ag_names[k]) == 0) ag->kind = k;
    if (ag->kind < 0) {
        sl_cnode_pos_at(node, name0, &line, &col);
        const char *near = sl_did_you_mean(fname, ag_names);
        if (near)
            sl_diags_add(ctx->diags, node->file, line, col,
                         "%s: unknown aggregate '%s' (did you mean '%s'?)", ctx->what, fname, near);
        else
            sl_diags_add(ctx->diags, node->file, line, col,
                         "%s: unknown aggregate '%s' (aggregates: count sum avg min max first last)",
                         ctx->what, fname);
        return -1;
    }
    size_t in0 = i + 1, in1 = end - 1;
    size_t j = in0;
    while (j < in1 && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n')) j++;
    if (j == in1) {
        if (ag->kind == AG_COUNT) return 0;
        sl_cnode_pos_at(node, in0, &line, &col);
        sl_diags_add(ctx->diags, node->file, line, col, "%s: %s() needs an expression", ctx->what, fname);
        return -1;
    }
    size_t off = 0;
    char msg[256];
    ag->expr = sl_expr_compile(s + in0, in1 - in0, &off, msg, sizeof msg);
    if (!ag->expr) {
        sl_cnode_pos_at(node, in0 + off, &line, &col);
        sl_diags_add(ctx->diags, node->file, line, col, "%s", msg);
        return -1;
    }
    return 0;
}

static int window_compile(sl_step_t *step, sl_init_ctx_t *ctx) {
    window_t *w = calloc(1, sizeof *w);
    step->state = w;
    w->min_end = INT64_MAX;
    const sl_cnode_t *node = step->node;
    if (!node || node->kind != SL_CNODE_MAP) {
        sl_step_diag(ctx, node, "%s must be a mapping {key, time, size, slide, lateness, emit}", ctx->what);
        return -1;
    }
    w_conf_t conf = {0};
    conf.slide = -1;
    if (sl_config_apply(window_map, node, &conf, ctx->what, ctx->arena, ctx->diags) != 0) return -1;
    int bad = 0;
    if (conf.size <= 0) {
        sl_step_diag(ctx, sl_cnode_get(node, "size"), "%s: 'size' must be more than 0", ctx->what);
        bad = -1;
    }
    if (conf.slide < 0) conf.slide = conf.size;
    if (conf.slide <= 0 && conf.size > 0) {
        sl_step_diag(ctx, sl_cnode_get(node, "slide"), "%s: 'slide' must be more than 0", ctx->what);
        bad = -1;
    } else if (conf.slide > conf.size) {
        sl_step_diag(ctx, sl_cnode_get(node, "slide"),
                     "%s: 'slide' must not be more than 'size' (records between windows would be lost)",
                     ctx->what);
        bad = -1;
    } else if (conf.slide > 0 && conf.size / conf.slide > W_MAX_PER_RECORD) {
        sl_step_diag(ctx, sl_cnode_get(node, "slide"),
                     "%s: size / slide must be at most %d (each record goes into that many windows)",
                     ctx->what, W_MAX_PER_RECORD);
        bad = -1;
    }
    if (conf.lateness < 0) {
        sl_step_diag(ctx, sl_cnode_get(node, "lateness"), "%s: 'lateness' must not be negative", ctx->what);
        bad = -1;
    }
    w->size = conf.size;
    w->slide = conf.slide;
    w->lateness = conf.lateness;
    if (conf.key && !(w->key = sl_expr_compile_node(conf.key, ctx->diags))) bad = -1;
    if (conf.time && !(w->time = sl_expr_compile_node(conf.time, ctx->diags))) bad = -1;
    const sl_cnode_t *emit = conf.emit;
    if (!emit || emit->kind != SL_CNODE_MAP || emit->n == 0) {
        sl_step_diag(ctx, emit, "%s: 'emit' must be a mapping of field: agg(expr)", ctx->what);
        return -1;
    }
    w->aggs = calloc(emit->n, sizeof *w->aggs);
    w->vals = calloc(emit->n, sizeof *w->vals);
    for (size_t i = 0; i < emit->n; i++) {
        const sl_cnode_t *k = emit->pairs[i].key;
        agg_t *ag = &w->aggs[w->naggs];
        ag->name = k->str;
        if (bad_path(k->str)) {
            sl_step_diag(ctx, k, "invalid field path '%s' in %s", k->str, ctx->what);
            bad = -1;
            continue;
        }
        if (strcmp(k->str, "key") == 0 || strcmp(k->str, "window_start") == 0 ||
            strcmp(k->str, "window_end") == 0) {
            sl_step_diag(ctx, k, "%s: '%s' is a field every window result has; choose another name",
                         ctx->what, k->str);
            bad = -1;
            continue;
        }
        if (parse_agg(ag, emit->pairs[i].val, ctx) != 0) {
            bad = -1;
            continue;
        }
        w->naggs++;
    }
    return bad;
}

/* ---------------------------------------------------------------- apply */

static int window_apply(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    window_t *w = step->state;
    sl_arena_t *arena = &batch->arena;
    for (size_t i = 0; i < batch->n; i++) {
        sl_record_t *rec = &batch->recs[i];
        if (rec->topic) w->topic = rec->topic;
        sl_expr_ctx_t ec;
        sl_step_expr_ctx(ctx, rec, &ec);
        sl_error_t e = {0};
        /* event time */
        int64_t t = rec->ts;
        if (w->time) {
            sl_value_t tv;
            if (sl_expr_eval(w->time, &ec, &tv, &e) != 0) {
                sl_step_dlq(ctx, rec, "window time: %s", e.msg);
                continue;
            }
            if (tv.type == SL_T_INT) t = tv.u.i;
            else if (tv.type == SL_T_DOUBLE && isfinite(tv.u.d) && fabs(tv.u.d) < 9e18) t = (int64_t)floor(tv.u.d);
            else {
                sl_step_dlq(ctx, rec, "window time: '%s' gave %s, not epoch milliseconds",
                            sl_expr_text(w->time), sl_type_name((sl_type_t)tv.type));
                continue;
            }
        }
        if (t < -W_MAX_TIME || t > W_MAX_TIME) {
            sl_step_dlq(ctx, rec, "window time: %" PRId64 " ms is out of range", t);
            continue;
        }
        /* the windows containing t: starts s_hi, s_hi - slide, ... > t - size */
        int64_t s_hi = floor_div(t, w->slide) * w->slide;
        if (w->any) {
            int64_t wm = w->max_t - w->lateness;
            if (wm >= s_hi + w->size) {
                char a[40], b[40], c[40];
                fmt_time(a, sizeof a, s_hi);
                fmt_time(b, sizeof b, s_hi + w->size);
                fmt_time(c, sizeof c, wm);
                sl_step_dlq(ctx, rec, "late record: window [%s, %s) already closed (watermark %s)", a, b, c);
                continue;
            }
        }
        /* key */
        sl_value_t kv = sl_null();
        if (w->key && sl_expr_eval(w->key, &ec, &kv, &e) != 0) {
            sl_step_dlq(ctx, rec, "window key: %s", e.msg);
            continue;
        }
        /* aggregate inputs, checked before any window changes */
        bool ok = true;
        for (size_t k = 0; k < w->naggs && ok; k++) {
            const agg_t *ag = &w->aggs[k];
            w->vals[k] = sl_null();
            if (!ag->expr) continue;
            if (sl_expr_eval(ag->expr, &ec, &w->vals[k], &e) != 0) {
                sl_step_dlq(ctx, rec, "window emit %s: %s", ag->name, e.msg);
                ok = false;
            } else if ((ag->kind == AG_SUM || ag->kind == AG_AVG) && w->vals[k].type != SL_T_NULL &&
                       !sl_is_number(w->vals[k])) {
                sl_step_dlq(ctx, rec, "window emit %s: %s() needs numbers, got %s", ag->name,
                            ag_names[ag->kind], sl_type_name((sl_type_t)w->vals[k].type));
                ok = false;
            } else if (w->vals[k].type == SL_T_DOUBLE && !isfinite(w->vals[k].u.d)) {
                w->vals[k] = sl_null();
            }
        }
        if (!ok) continue;
        sl_buf_clear(&w->kbuf);
        sl_json_write(&w->kbuf, kv);
        uint64_t kh = w_hash(w->kbuf.data, w->kbuf.len);
        int64_t wm = w->any ? w->max_t - w->lateness : INT64_MIN;
        for (int64_t s = s_hi; s > t - w->size; s -= w->slide) {
            if (wm >= s + w->size) continue;   /* this one is closed (sliding windows) */
            win_t *x = win_get(w, w->kbuf.data, w->kbuf.len, kh, s);
            x->dirty = true;
            for (size_t k = 0; k < w->naggs; k++) {
                const agg_t *ag = &w->aggs[k];
                if (ag->kind == AG_COUNT && ag->expr && w->vals[k].type == SL_T_NULL) continue;
                slot_add(&x->slots[k], ag->kind, w->vals[k], arena);
            }
        }
        if (!w->any || t > w->max_t) w->max_t = t;
        w->any = true;
    }
    /* the input is consumed; what leaves are the windows this batch closed */
    batch->n = 0;
    if (w->any) win_close(w, w->max_t - w->lateness, false, batch, ctx);
    return 0;
}

static int window_flush(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err) {
    window_t *w = step->state;
    win_close(w, 0, true, batch, ctx);
    return 0;
}

/* ---------------------------------------------------------------- state */

static void put_i64(sl_buf_t *out, int64_t v) { sl_buf_printf(out, "%" PRId64, v); }

static int window_snapshot(sl_step_t *step, sl_buf_t *out) {
    const window_t *w = step->state;
    sl_buf_printf(out, "{\"v\":1,\"size\":%" PRId64 ",\"slide\":%" PRId64 ",\"naggs\":%zu,\"max\":",
                  w->size, w->slide, w->naggs);
    if (w->any) put_i64(out, w->max_t);
    else sl_buf_puts(out, "null");
    sl_buf_puts(out, ",\"w\":[");
    bool first = true;
    for (size_t i = 0; i < w->cap; i++) {
        const win_t *x = w->tab[i];
        if (!x) continue;
        sl_buf_puts(out, first ? "[" : ",[");
        first = false;
        sl_buf_append(out, x->kjson, x->klen);
        sl_buf_putc(out, ',');
        put_i64(out, x->start);
        sl_buf_puts(out, x->dirty ? ",true,[" : ",false,[");
        for (size_t k = 0; k < w->naggs; k++) {
            const slot_t *s = &x->slots[k];
            sl_buf_puts(out, k ? ",[" : "[");
            put_i64(out, s->n);
            sl_buf_putc(out, ',');
            put_i64(out, s->isum);
            sl_buf_putc(out, ',');
            sl_json_write(out, sl_double(s->dsum));
            sl_buf_puts(out, s->dbl ? ",true," : ",false,");
            if (s->json) sl_buf_append(out, s->own.data, s->own.len);
            else sl_json_write(out, s->v);
            sl_buf_putc(out, ']');
        }
        sl_buf_puts(out, "]]");
    }
    sl_buf_puts(out, "]}");
    return 0;
}

static bool get_int(const sl_value_t *v, int64_t *out) {
    if (!v) return false;
    if (v->type == SL_T_INT) *out = v->u.i;
    else if (v->type == SL_T_DOUBLE && v->u.d == floor(v->u.d) && fabs(v->u.d) < 9e18) *out = (int64_t)v->u.d;
    else return false;
    return true;
}

static int window_restore(sl_step_t *step, const void *data, size_t len, sl_error_t *err) {
    window_t *w = step->state;
    sl_arena_t a;
    sl_arena_init(&a, len * 2 + 1024);
    sl_value_t root;
    sl_json_error_t je;
    int rc = 0;
    int64_t ver = 0, size = 0, slide = 0, naggs = 0, maxt = 0;
    win_clear(w);
    if (sl_json_parse(&a, data, len, &root, &je) != 0) {
        rc = sl_error_set(err, SL_CORRUPT, "window state: %s at byte %zu", je.reason, je.offset);
        goto out;
    }
    const sl_value_t *wl = sl_value_get(&root, "w", 1), *mx = sl_value_get(&root, "max", 3);
    if (!get_int(sl_value_get(&root, "v", 1), &ver) || ver != 1 ||
        !get_int(sl_value_get(&root, "size", 4), &size) || !get_int(sl_value_get(&root, "slide", 5), &slide) ||
        !get_int(sl_value_get(&root, "naggs", 5), &naggs) || !wl || wl->type != SL_T_ARRAY || !mx) {
        rc = sl_error_set(err, SL_CORRUPT, "window state: not a version 1 window snapshot");
        goto out;
    }
    if (size != w->size || slide != w->slide || naggs != (int64_t)w->naggs) {
        rc = sl_error_set(err, SL_CONFIG,
                          "window state was saved for size %" PRId64 " ms, slide %" PRId64 " ms, %" PRId64
                          " aggregate(s); the config now differs: starting empty",
                          size, slide, naggs);
        goto out;
    }
    if (mx->type != SL_T_NULL) {
        if (!get_int(mx, &maxt)) {
            rc = sl_error_set(err, SL_CORRUPT, "window state: bad 'max'");
            goto out;
        }
        w->any = true;
        w->max_t = maxt;
    }
    sl_buf_t kb = SL_BUF_INIT;
    for (uint32_t i = 0; i < wl->len; i++) {
        const sl_value_t *e = &wl->u.a[i];
        int64_t start;
        if (e->type != SL_T_ARRAY || e->len != 4 || !get_int(&e->u.a[1], &start) ||
            e->u.a[2].type != SL_T_BOOL || e->u.a[3].type != SL_T_ARRAY || e->u.a[3].len != w->naggs) {
            rc = sl_error_set(err, SL_CORRUPT, "window state: bad window %u", i);
            break;
        }
        sl_buf_clear(&kb);
        sl_json_write(&kb, e->u.a[0]);
        const char *kj = kb.data ? kb.data : "null";
        win_t *x = win_get(w, kj, kb.len, w_hash(kj, kb.len), start);
        x->dirty = e->u.a[2].u.b;
        for (size_t k = 0; k < w->naggs && rc == 0; k++) {
            const sl_value_t *sv = &e->u.a[3].u.a[k];
            slot_t *s = &x->slots[k];
            if (sv->type != SL_T_ARRAY || sv->len != 5 || !get_int(&sv->u.a[0], &s->n) ||
                !get_int(&sv->u.a[1], &s->isum) || sv->u.a[3].type != SL_T_BOOL) {
                rc = sl_error_set(err, SL_CORRUPT, "window state: bad aggregate %zu of window %u", k, i);
                break;
            }
            s->dsum = sl_value_num(sv->u.a[2]);
            s->dbl = sv->u.a[3].u.b;
            slot_keep(s, sv->u.a[4]);
        }
        if (rc) break;
    }
    sl_buf_free(&kb);
out:
    if (rc) win_clear(w);
    sl_arena_free(&a);
    return rc;
}

static void window_free(sl_step_t *step) {
    window_t *w = step->state;
    if (!w) return;
    win_clear(w);
    sl_expr_free(w->key);
    sl_expr_free(w->time);
    for (size_t i = 0; i < w->naggs; i++) sl_expr_free(w->aggs[i].expr);
    free(w->aggs);
    free(w->vals);
    sl_buf_free(&w->kbuf);
    free(w);
    step->state = NULL;
}

const sl_step_plugin_t sl_step_window = {
    .abi = SL_PLUGIN_ABI,
    .name = "window",
    .description = "`window: {key, time, size, slide, lateness, emit: {name: agg(expr)}}` groups records into event-time windows [start, start+size) (sliding when `slide` < size) and, once the watermark (max event time - lateness) passes a window's end, emits {key, window_start, window_end, name: aggregate...}; aggregates count sum avg min max first last (nulls ignored); late records go to the dead-letter topic; open windows survive restarts.",
    .compile = window_compile,
    .apply = window_apply,
    .snapshot = window_snapshot,
    .restore = window_restore,
    .flush = window_flush,
    .free = window_free,
};
