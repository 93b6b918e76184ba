/* alerts.c - the `alerts:` section: each alert compiles to a job of the engine (see
 * alerts.h), built through the same loaders as a job's steps and sinks; the alert
 * history as JSON for /api/alerts; the delivery bookkeeping of notify sinks.
 *
 * An alert
 *     iss_visible: { from: iss.positions, when: ..., key: ..., cooldown: 30m, for: 0,
 *                    resolve: ..., subject: ..., message: ..., notify: [sinks...],
 *                    history: path.db | false }
 * becomes the job "alert.iss_visible" (its consumer group; dead letters in
 * "alert.iss_visible.dlq") with
 *     steps: [ alert: {name: iss_visible, when, key, cooldown, for, resolve, subject, message} ]
 *     to:    [ notify sinks..., sqlite: {path: history, table: alert_history, key: [id], ...} ]
 * The step's state is committed with the job's offsets after every sink acknowledged,
 * so a notification is sent at least once and, after a restart, not again for an
 * episode that was committed. */
#include "alerts.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sluice/json.h"

static const char *const alert_keys[] = {"from", "when", "key", "cooldown", "for", "resolve", "subject",
                                         "message", "notify", "history", NULL};
/* the keys the `alert` step reads */
static const char *const step_keys[] = {"when", "key", "cooldown", "for", "resolve", "subject", "message", NULL};

static void diag_at(sl_diags_t *d, const sl_cnode_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void diag_at(sl_diags_t *d, const sl_cnode_t *n, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_diags_add(d, n ? n->file : NULL, n ? n->line : 0, n ? n->col : 0, "%s", msg);
}

static bool in_list(const char *s, const char *const *list) {
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0) return true;
    return false;
}

static bool valid_alert_name(const char *s) {
    if (!*s || strlen(s) > 120) return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
              *c == '-' || *c == '.'))
            return false;
    return true;
}

/* A scalar node like `like` holding text s (positions of `like`). */
static sl_cnode_t *scalar_like(sl_pipeline_t *p, const sl_cnode_t *like, const char *s, char style) {
    sl_cnode_t *n = sl_arena_calloc(&p->arena, sizeof *n);
    n->kind = SL_CNODE_SCALAR;
    n->file = like->file;
    n->line = like->line;
    n->col = like->col;
    n->str = sl_arena_strndup(&p->arena, s, strlen(s));
    n->len = strlen(s);
    n->style = style;
    return n;
}

/* The history sink: `sqlite: {path, table: alert_history, key: [id], columns}`. */
static const sl_cnode_t *history_node(sl_pipeline_t *p, const sl_cnode_t *at, const char *path, sl_diags_t *d) {
    sl_buf_t y = SL_BUF_INIT;
    sl_buf_puts(&y, "sqlite: {path: ");
    sl_json_write_string(&y, path, strlen(path));
    sl_buf_puts(&y, ", table: alert_history, key: [id], columns: {id: text, alert: text, key: text, state: text,"
                    " subject: text, message: text, ts: timestamp, since: timestamp, record: json}}\n");
    sl_cnode_t *root = NULL;
    sl_cnode_parse(&p->arena, at->file, y.data, y.len, d, &root);
    sl_buf_free(&y);
    return root;
}

static void load_one(sl_pipeline_t *p, sl_job_cfg_t *j, const sl_cnode_t *k, const sl_cnode_t *v, size_t *tcap,
                     sl_diags_t *d) {
    char what[300];
    snprintf(what, sizeof what, "alert '%.200s'", k->str);
    j->name = sl_arena_sprintf(&p->arena, "alert.%s", k->str);
    j->node = v;
    j->max_batch = 5000;
    j->max_batch_bytes = 4 << 20;
    j->dlq = sl_arena_sprintf(&p->arena, "%s.dlq", j->name);
    const sl_cnode_t *from = NULL, *notify = NULL, *history = NULL;
    size_t nstep = 0;
    for (size_t i = 0; i < v->n; i++) {
        const sl_cnode_t *kk = v->pairs[i].key;
        if (!in_list(kk->str, alert_keys)) {
            const char *near = sl_did_you_mean(kk->str, alert_keys);
            if (near) diag_at(d, kk, "unknown key '%s' in %s (did you mean '%s'?)", kk->str, what, near);
            else diag_at(d, kk, "unknown key '%s' in %s", kk->str, what);
        } else if (strcmp(kk->str, "from") == 0) from = v->pairs[i].val;
        else if (strcmp(kk->str, "notify") == 0) notify = v->pairs[i].val;
        else if (strcmp(kk->str, "history") == 0) history = v->pairs[i].val;
        else nstep++;
    }
    /* from: a topic or a list of them */
    if (!from) diag_at(d, v, "%s: missing required key 'from'", what);
    else if (from->kind == SL_CNODE_SCALAR || from->kind == SL_CNODE_SEQ) {
        size_t n = from->kind == SL_CNODE_SCALAR ? 1 : from->n;
        j->from = sl_arena_calloc(&p->arena, (n ? n : 1) * sizeof *j->from);
        for (size_t i = 0; i < n; i++) {
            const sl_cnode_t *f = from->kind == SL_CNODE_SCALAR ? from : from->items[i];
            if (f->kind != SL_CNODE_SCALAR || !sl_pipeline_valid_topic_name(f->str)) {
                diag_at(d, f, "'from' of %s must name topics", what);
                continue;
            }
            j->from[j->nfrom++] = sl_arena_strndup(&p->arena, f->str, f->len);
            sl_pipeline_topic_ref(p, f->str, tcap);
        }
    } else diag_at(d, from, "'from' of %s must be a topic name or a list of them", what);
    /* the rule: `alert: {name, when, key, ...}` with the alert's own nodes (positions) */
    sl_cnode_t *rule = sl_arena_calloc(&p->arena, sizeof *rule);
    *rule = *v;
    rule->pairs = sl_arena_alloc(&p->arena, (nstep + 1) * sizeof *rule->pairs);
    rule->n = 0;
    rule->pairs[rule->n].key = scalar_like(p, k, "name", 0);
    rule->pairs[rule->n++].val = scalar_like(p, k, k->str, '"');
    for (size_t i = 0; i < v->n; i++)
        if (in_list(v->pairs[i].key->str, step_keys)) rule->pairs[rule->n++] = v->pairs[i];
    sl_cnode_t *step = sl_arena_calloc(&p->arena, sizeof *step);
    *step = *v;
    step->pairs = sl_arena_alloc(&p->arena, sizeof *step->pairs);
    step->pairs[0].key = scalar_like(p, k, "alert", 0);
    step->pairs[0].val = rule;
    step->n = 1;
    j->steps = sl_arena_calloc(&p->arena, sizeof *j->steps);
    sl_pipeline_load_step(p, j, &j->steps[0], step, d);
    if (j->steps[0].plugin) j->nsteps = 1;
    /* notify sinks, then the history */
    size_t nnotify = notify && notify->kind == SL_CNODE_SEQ ? notify->n : 0;
    j->sinks = sl_arena_calloc(&p->arena, (nnotify + 1) * sizeof *j->sinks);
    if (!notify) diag_at(d, v, "%s: missing required key 'notify' (a list of sinks, e.g. email, webhook, log)", what);
    else if (notify->kind != SL_CNODE_SEQ || notify->n == 0)
        diag_at(d, notify, "'notify' of %s must be a list of sinks (e.g. - email: {...})", what);
    for (size_t i = 0; i < nnotify; i++) {
        j->sinks[j->nsinks].index = (int)j->nsinks;
        sl_pipeline_load_sink(p, j, &j->sinks[j->nsinks], notify->items[i], tcap, d);
        if (j->sinks[j->nsinks].plugin) j->nsinks++;
    }
    const char *hpath = NULL;
    if (!history || sl_cnode_is_null(history)) hpath = sl_arena_sprintf(&p->arena, "%s/alerts.db", p->data_dir);
    else if (history->kind == SL_CNODE_SCALAR) {
        bool b;
        if (history->style == 0 && sl_parse_bool(history->str, &b)) {
            if (b) hpath = sl_arena_sprintf(&p->arena, "%s/alerts.db", p->data_dir);
        } else if (history->len) hpath = history->str;
        else diag_at(d, history, "'history' of %s must be a database path or false", what);
    } else diag_at(d, history, "'history' of %s must be a database path or false", what);
    if (hpath) {
        const sl_cnode_t *h = history_node(p, history ? history : v, hpath, d);
        if (h) {
            j->sinks[j->nsinks].index = (int)j->nsinks;
            sl_pipeline_load_sink(p, j, &j->sinks[j->nsinks], h, tcap, d);
            if (j->sinks[j->nsinks].plugin) j->nsinks++;
        }
    }
    sl_pipeline_topic_ref(p, j->dlq, tcap);
}

int sl_alerts_load(sl_pipeline_t *p, const sl_cnode_t *alerts, size_t *tcap, sl_diags_t *d) {
    size_t before = d->n;
    if (!alerts || sl_cnode_is_null(alerts)) return 0;
    if (alerts->kind != SL_CNODE_MAP) {
        diag_at(d, alerts, "'alerts' must be a mapping of name: {from, when, notify, ...}");
        return (int)(d->n - before);
    }
    sl_job_cfg_t *jobs = sl_arena_calloc(&p->arena, (p->njobs + alerts->n + 1) * sizeof *jobs);
    if (p->njobs) memcpy(jobs, p->jobs, p->njobs * sizeof *jobs);
    p->jobs = jobs;
    for (size_t i = 0; i < alerts->n; i++) {
        const sl_cnode_t *k = alerts->pairs[i].key, *v = alerts->pairs[i].val;
        if (!valid_alert_name(k->str)) {
            diag_at(d, k, "invalid alert name '%s' (letters, digits, '_', '-', '.')", k->str);
            continue;
        }
        bool dup = false;
        for (size_t m = 0; m < i; m++) dup |= strcmp(alerts->pairs[m].key->str, k->str) == 0;
        if (dup) {
            diag_at(d, k, "alert '%s' is defined twice", k->str);
            continue;
        }
        char jname[160];
        snprintf(jname, sizeof jname, "alert.%s", k->str);
        if (sl_pipeline_job(p, jname)) {
            diag_at(d, k, "alert '%s' needs the job name '%s', which a job already has", k->str, jname);
            continue;
        }
        if (v->kind != SL_CNODE_MAP) {
            diag_at(d, v, "alert '%s' must be a mapping {from, when, key, cooldown, notify, ...}, got a %s", k->str,
                    sl_cnode_kind_name(v->kind));
            continue;
        }
        load_one(p, &p->jobs[p->njobs++], k, v, tcap, d);
    }
    return (int)(d->n - before);
}

bool sl_alerts_is_alert(const sl_job_cfg_t *job, const char **name) {
    if (!job->nsteps || !job->steps[0].plugin || strcmp(job->steps[0].plugin->name, "alert") != 0) return false;
    if (name) *name = strncmp(job->name, "alert.", 6) == 0 ? job->name + 6 : job->name;
    return true;
}

/* ---------------------------------------------------------------- history */

typedef struct hrow {
    char *ts;
    char *json;
} hrow_t;

static int by_ts_desc(const void *a, const void *b) {
    const hrow_t *x = a, *y = b;
    return strcmp(y->ts ? y->ts : "", x->ts ? x->ts : "");
}

static void put_text(sl_buf_t *b, sqlite3_stmt *st, int col) {
    const unsigned char *s = sqlite3_column_text(st, col);
    if (!s) sl_buf_puts(b, "null");
    else sl_json_write_string(b, (const char *)s, (size_t)sqlite3_column_bytes(st, col));
}

int sl_alerts_history_json(const sl_pipeline_t *p, sl_buf_t *out) {
    const char *paths[64];
    size_t npaths = 0;
    for (size_t i = 0; i < p->njobs; i++) {
        if (!sl_alerts_is_alert(&p->jobs[i], NULL)) continue;
        for (size_t k = 0; k < p->jobs[i].nsinks; k++) {
            const sl_sink_t *s = &p->jobs[i].sinks[k];
            if (!s->plugin || strcmp(s->plugin->name, "sqlite") != 0 || !s->conf) continue;
            /* sq_conf_t of plugins/sink_sqlite starts with: char *path; char *table; */
            const char *const *c = s->conf;
            if (!c[0] || !c[1] || strcmp(c[1], "alert_history") != 0) continue;
            bool have = false;
            for (size_t m = 0; m < npaths; m++) have |= strcmp(paths[m], c[0]) == 0;
            if (!have && npaths < 64) paths[npaths++] = c[0];
        }
    }
    hrow_t *rows = NULL;
    size_t nrows = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < npaths && rc == 0; i++) {
        sqlite3 *db = NULL;
        if (sqlite3_open_v2(paths[i], &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
            sqlite3_close(db);   /* not created yet: no history */
            continue;
        }
        sqlite3_busy_timeout(db, 2000);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db,
                               "SELECT id, alert, key, state, subject, message, ts, since, record FROM alert_history"
                               " ORDER BY ts DESC, rowid DESC LIMIT 500",
                               -1, &st, NULL) != SQLITE_OK) {
            if (!strstr(sqlite3_errmsg(db), "no such table")) {
                sl_warn("alerts: reading %s: %s", paths[i], sqlite3_errmsg(db));
                rc = SL_IO;
            }
            sqlite3_close(db);
            continue;
        }
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
            sl_buf_t b = SL_BUF_INIT;
            static const char *const names[] = {"id", "alert", "key", "state", "subject", "message", "ts", "since"};
            sl_buf_putc(&b, '{');
            for (int c = 0; c < 8; c++) {
                sl_buf_printf(&b, "%s\"%s\":", c ? "," : "", names[c]);
                put_text(&b, st, c);
            }
            sl_buf_puts(&b, ",\"record\":");
            const char *rec = (const char *)sqlite3_column_text(st, 8);
            sl_arena_t a;
            sl_arena_init(&a, 1024);
            sl_value_t v;
            sl_json_error_t je;
            if (rec && sl_json_parse(&a, rec, strlen(rec), &v, &je) == 0) sl_json_write(&b, v);
            else sl_buf_puts(&b, "null");
            sl_arena_free(&a);
            sl_buf_putc(&b, '}');
            if (nrows == cap) {
                cap = cap ? cap * 2 : 64;
                rows = sl_xrealloc(rows, cap * sizeof *rows);
                if (!rows) abort();
            }
            const char *ts = (const char *)sqlite3_column_text(st, 6);
            rows[nrows].ts = strdup(ts ? ts : "");
            rows[nrows].json = b.data ? b.data : strdup("{}");
            nrows++;
        }
        if (s != SQLITE_DONE) {
            sl_warn("alerts: reading %s: %s", paths[i], sqlite3_errmsg(db));
            rc = SL_IO;
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    if (rc == 0) {
        if (nrows) qsort(rows, nrows, sizeof *rows, by_ts_desc);
        sl_buf_puts(out, "{\"alerts\":[");
        for (size_t i = 0; i < nrows && i < 500; i++) {
            if (i) sl_buf_putc(out, ',');
            sl_buf_puts(out, rows[i].json);
        }
        sl_buf_puts(out, "]}");
    }
    for (size_t i = 0; i < nrows; i++) {
        free(rows[i].ts);
        free(rows[i].json);
    }
    free(rows);
    return rc;
}

/* ---------------------------------------------------------------- delivery */

size_t sl_deliver_begin(sl_deliver_t *d, const sl_batch_t *b) {
    bool same = d->done && b->n == d->n && b->n && b->recs[0].offset == d->first_off &&
                b->recs[0].partition == d->first_part && b->recs[0].ts == d->first_ts &&
                b->recs[b->n - 1].offset == d->last_off;
    if (!same) {
        d->done = 0;
        d->n = b->n;
        if (b->n) {
            d->first_off = b->recs[0].offset;
            d->first_part = b->recs[0].partition;
            d->first_ts = b->recs[0].ts;
            d->last_off = b->recs[b->n - 1].offset;
        }
    }
    return d->done;
}

void sl_deliver_ok(sl_deliver_t *d) {
    d->fails = 0;
    d->gave_up = false;
    d->done++;
}

int sl_deliver_fail(sl_deliver_t *d, sl_sink_t *sink, const sl_record_t *rec, bool permanent, const char *what,
                    const char *why, sl_error_t *err) {
    int64_t now = sl_mono_ms();
    if (!permanent) {
        if (d->fails++ == 0) d->first_fail_ms = now;
        int64_t failing = now - d->first_fail_ms;
        bool time_left = failing < d->give_up_after_ms;
        bool tries_left = d->retries < 0 || d->fails <= d->retries;
        if (time_left && tries_left)
            return sl_error_set(err, SL_RETRY, "%s: %s (attempt %lld, failing for %lld s; gives up after %lld s)",
                                what, why, (long long)d->fails, (long long)(failing / 1000),
                                (long long)(d->give_up_after_ms / 1000));
    }
    if (permanent)
        sl_errorf("job %s: sink %s: %s: %s; the notification goes to the dead-letter topic", sink->job,
                  sink->plugin->name, what, why);
    else if (!d->gave_up)
        sl_errorf("job %s: sink %s: %s: %s; giving up after %lld attempts in %lld s, the notification goes to the "
                  "dead-letter topic (a job reading it can send it again: docs/ARCHITECTURE.md)", sink->job, sink->plugin->name, what, why,
                  (long long)d->fails, (long long)((now - d->first_fail_ms) / 1000));
    else
        sl_errorf("job %s: sink %s: %s: %s; still failing (%lld attempts in a row), the notification goes to "
                  "the dead-letter topic", sink->job, sink->plugin->name, what, why, (long long)d->fails);
    if (!permanent) d->gave_up = true;
    sl_sink_reject(sink, rec, "%s: %s", what, why);
    d->done++;
    return 0;
}

void sl_deliver_end(sl_deliver_t *d) { d->done = 0; }

const char *sl_alerts_redact_url(const char *url, char *out, size_t cap) {
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *slash = strchr(host, '/');
    const char *at = NULL;
    for (const char *c = host; *c && (!slash || c < slash); c++)
        if (*c == '@') at = c;
    if (!at) snprintf(out, cap, "%s", url);
    else snprintf(out, cap, "%.*s***%s", (int)(host - url), url, at);
    return out;
}

bool sl_alerts_notification(const sl_value_t *v, const sl_value_t **record) {
    const sl_value_t *a = sl_value_get(v, "alert", 5), *s = sl_value_get(v, "state", 5),
                     *r = sl_value_get(v, "record", 6);
    if (!a || a->type != SL_T_STRING || !s || s->type != SL_T_STRING || !r) return false;
    if (record) *record = r;
    return true;
}
