/* http.c - source `http`: polls a JSON API (libcurl multi, non-blocking in the sources
 * thread), turns each element of `records:` into a record, and commits the records
 * with the cursor (window, ETag, page, replay position) in one journal transaction.
 *
 * Invariants:
 *  1. poll() never blocks: it starts a transfer on the shared multi handle and returns
 *     next_ms = now + 10 ms while it is in flight; the response is handled by a later
 *     poll().
 *  2. The in-memory cursor advances only after sl_emit_commit() succeeded, so a crash
 *     or a failed commit repeats at most the request, never skips or duplicates
 *     records.  (The replay position and the per-run rate budget are the exceptions:
 *     a failed replayed response is consumed in memory so a cassette always ends.)
 *  3. Every remote failure (transport error, TLS, timeout, non-2xx, a body over
 *     max_body, a truncated transfer) is a failed poll: sl_emit_fail() with the status
 *     and the first 200 bytes, SL_RETRY, and *next_ms = the server's Retry-After when it
 *     gave one; the runner backs off (src/backoff.h).  A call that finds its transfer
 *     still in flight, or nothing due, says sl_emit_pending(): it is no poll and does
 *     not end the backoff.
 *  4. A 2xx body that gives no records (not JSON, `records` fails on it or gives a
 *     scalar) is not retried: it goes to <source>.dlq with the reason and the raw body
 *     (first 64 KiB), committed with the cursor unchanged, and the next poll waits for
 *     the schedule.  A listed element that is a scalar or null goes to <source>.dlq
 *     too; the objects (and positional rows: arrays) of the same body are records
 *     (DESIGN §2.9).
 *
 * Windows: with `window: {size, start, end, lag, partial}` the cursor holds the first
 * day not yet completed.  The window [next, next+size) (cut at `end`) is polled once
 * next+size+lag <= today (UTC); windows due are polled back to back (within the rate
 * limit) and each completed one advances the cursor.  When caught up, `partial: true`
 * also polls the current incomplete window [next, today] on the schedule without
 * advancing the cursor (its records are polled again later: dedup downstream). */
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cron.h"
#include "http.h"
#include "httputil.h"
#include "sluice/json.h"
#include "sluice/plugin.h"

#define DAY_MS 86400000LL
#define SNIPPET 200
#define DLQ_RAW_MAX 65536   /* bytes of a malformed body kept in <source>.dlq */

/* ------------------------------------------------------------------ config */

typedef struct http_conf {
    char *url;
    int method;          /* 0 GET, 1 POST, 2 PUT */
    const sl_cnode_t *query, *headers;
    char *body;
    int64_t timeout_ms;
    const sl_cnode_t *window, *paginate, *rate_limit;
    sl_strlist_t retry_status;
    char *tz;
    const sl_cnode_t *body_ts;
    int64_t max_body;
    bool conditional;
    int64_t max_failures;
} http_conf_t;

static const sl_config_map_t http_map[] = {
    {"url", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(http_conf_t, url), NULL,
     "the URL (a {{template}}: window.start, window.end, params.*, page)"},
    {"method", SL_CFG_ENUM, "GET", 0, offsetof(http_conf_t, method), "GET|POST|PUT",
     "HTTP method"},
    {"query", SL_CFG_NODE, NULL, 0, offsetof(http_conf_t, query), NULL,
     "query parameters: name -> {{template}} (URL-encoded)"},
    {"headers", SL_CFG_NODE, NULL, 0, offsetof(http_conf_t, headers), NULL,
     "request headers: name -> {{template}}"},
    {"body", SL_CFG_STR, NULL, 0, offsetof(http_conf_t, body), NULL,
     "request body for POST/PUT (a {{template}})"},
    {"timeout", SL_CFG_DURATION, "10s", 0, offsetof(http_conf_t, timeout_ms), NULL,
     "whole-request timeout; a timeout is a failed poll"},
    {"window", SL_CFG_NODE, NULL, 0, offsetof(http_conf_t, window), NULL,
     "incremental date windows {size: 30d, start: YYYY-MM-DD, end: YYYY-MM-DD, lag: 2d, partial: false}; "
     "window.start/window.end (inclusive, YYYY-MM-DD) in templates; the cursor keeps the next window"},
    {"paginate", SL_CFG_NODE, NULL, 0, offsetof(http_conf_t, paginate), NULL,
     "{param: page, start: 1, until_empty: true} | {next: EXPR on the body (URL or token), param: NAME} "
     "| {link: true} (Link rel=next); max_pages (default 100)"},
    {"rate_limit", SL_CFG_NODE, NULL, 0, offsetof(http_conf_t, rate_limit), NULL,
     "{requests: N, per: DURATION}: at most N requests per period (per process run)"},
    {"retry_status", SL_CFG_STRLIST, "[429, 5xx]", 0, offsetof(http_conf_t, retry_status), NULL,
     "statuses retried with backoff (and Retry-After); other non-2xx statuses are failed polls "
     "retried at the next scheduled poll"},
    {"tz", SL_CFG_STR, "UTC", 0, offsetof(http_conf_t, tz), NULL,
     "zone of the source's `cron:`: UTC, a fixed offset (+05:30) or an IANA name (Europe/Paris, "
     "from /usr/share/zoneinfo, with DST: a skipped local time does not fire, a repeated one fires once)"},
    {"body_ts", SL_CFG_EXPR, NULL, 0, offsetof(http_conf_t, body_ts), NULL,
     "expression on the whole body giving the event time (ms) of every record of a response "
     "(used when the source has no `ts:`), e.g. `info.time * 1000`"},
    {"max_body", SL_CFG_SIZE, "64MiB", 0, offsetof(http_conf_t, max_body), NULL,
     "larger responses are failed polls"},
    {"conditional", SL_CFG_BOOL, "true", 0, offsetof(http_conf_t, conditional), NULL,
     "send If-None-Match / If-Modified-Since (non-windowed, unpaginated sources); 304 = no records"},
    {"max_failures", SL_CFG_INT, "5", 0, offsetof(http_conf_t, max_failures), NULL,
     "with --once: give up after this many failed polls in a row"},
    SL_CONFIG_END};

typedef struct window_conf {
    int64_t size_ms, lag_ms;
    char *start, *end;
    bool partial;
} window_conf_t;

static const sl_config_map_t window_map[] = {
    {"size", SL_CFG_DURATION, "1d", 0, offsetof(window_conf_t, size_ms), NULL, "window length (whole days)"},
    {"start", SL_CFG_STR, NULL, 0, offsetof(window_conf_t, start), NULL, "first day (default: today - size)"},
    {"end", SL_CFG_STR, NULL, 0, offsetof(window_conf_t, end), NULL, "last day (inclusive); none = follow today"},
    {"lag", SL_CFG_DURATION, "0", 0, offsetof(window_conf_t, lag_ms), NULL, "wait this long after a window ends"},
    {"partial", SL_CFG_BOOL, "false", 0, offsetof(window_conf_t, partial), NULL,
     "when caught up, also poll the incomplete current window"},
    SL_CONFIG_END};

typedef struct page_conf {
    char *param;
    int64_t start;
    bool until_empty, link;
    const sl_cnode_t *next;
    int64_t max_pages;
} page_conf_t;

static const sl_config_map_t page_map[] = {
    {"param", SL_CFG_STR, NULL, 0, offsetof(page_conf_t, param), NULL, "query parameter of the page number / token"},
    {"start", SL_CFG_INT, "1", 0, offsetof(page_conf_t, start), NULL, "first page number"},
    {"until_empty", SL_CFG_BOOL, "true", 0, offsetof(page_conf_t, until_empty), NULL,
     "page numbers: stop at the first page with no records"},
    {"next", SL_CFG_EXPR, NULL, 0, offsetof(page_conf_t, next), NULL,
     "expression on the body: the next page's URL or token (null/\"\" = last page)"},
    {"link", SL_CFG_BOOL, "false", 0, offsetof(page_conf_t, link), NULL, "follow Link: <url>; rel=\"next\""},
    {"max_pages", SL_CFG_INT, "100", 0, offsetof(page_conf_t, max_pages), NULL, "pages per poll at most"},
    SL_CONFIG_END};

typedef struct rate_conf {
    int64_t requests, per_ms;
} rate_conf_t;

static const sl_config_map_t rate_map[] = {
    {"requests", SL_CFG_INT, NULL, SL_CFG_REQUIRED, offsetof(rate_conf_t, requests), NULL, "requests allowed"},
    {"per", SL_CFG_DURATION, NULL, SL_CFG_REQUIRED, offsetof(rate_conf_t, per_ms), NULL, "per this period"},
    SL_CONFIG_END};

/* ------------------------------------------------------------------ state */

typedef struct kv_tpl {
    const char *name;
    sl_template_t *tpl;
} kv_tpl_t;

enum { PG_NONE, PG_NUMBER, PG_NEXT, PG_LINK };

typedef struct http_cursor {
    int64_t next_day;      /* windowed: first day not completed; -1 none */
    char etag[256], lastmod[128];
    char *page;            /* heap: page number/token of the next request, NULL = first */
    bool page_is_url;
    int64_t pages;         /* pages fetched in this cycle */
    char replay[256];      /* last replayed file name */
} http_cursor_t;

typedef struct http_state {
    /* compiled at init */
    sl_template_t *url, *body;
    kv_tpl_t *query, *headers;
    size_t nquery, nheaders;
    sl_expr_t *records, *body_ts, *pg_next;
    sl_value_t params;              /* object (pipeline arena) */
    bool windowed, partial;
    int64_t win_days, win_lag_days, win_start, win_end;   /* days; -1 = unset */
    int pg_mode;
    const char *pg_param;
    int64_t pg_start, pg_max;
    bool pg_until_empty;
    int64_t rl_requests, rl_per_ms;
    bool has_cron;
    sl_cron_t cron;
    sl_cron_tz_t *tz;               /* of `cron:`; immutable, owned */
    /* runtime */
    http_cursor_t cur;
    int64_t *rl_times;              /* ring of request start times (mono ms) */
    size_t rl_n, rl_head;
    CURL *easy;
    struct curl_slist *hlist;
    bool inflight, done;
    CURLcode result;
    char curl_err[CURL_ERROR_SIZE];
    sl_buf_t resp_body, resp_hdrs;
    bool too_big;
    int64_t max_body;
    int64_t due;                    /* mono ms of the next request (0 = now) */
    int64_t req_started;
    bool req_complete;              /* the request is for a complete window */
    int64_t req_from, req_to;       /* its window (days) */
    bool polled_once, partial_done;
    int64_t failures;
    sl_arena_t req_arena;
    char **files;                   /* replay */
    size_t nfiles;
    bool files_loaded;
} http_state_t;

/* ------------------------------------------------------------------ days */

static int64_t civil_days(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

int64_t sl_http_parse_day(const char *s) {
    /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): strlen(s) == 10 is checked first, so s[4] and s[7] are set */
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return -1;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (m < 1 || m > 12 || d < 1 || d > 31) return -1;
    int64_t days = civil_days(y, m, d);
    char back[11];
    sl_http_format_day(days, back);
    return strcmp(back, s) == 0 ? days : -1;   /* rejects 2017-02-30 */
}

void sl_http_format_day(int64_t z, char out[11]) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = yoe + era * 400 + (m <= 2);
    char tmp[48];
    if (y < 0) y = 0;
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", (int)(y % 10000), m % 100, d % 100);
    memcpy(out, tmp, 10);
    out[10] = 0;
}

static int64_t today_day(void) { return sl_now_ms() / DAY_MS; }

/* ------------------------------------------------------------------ init */

static void diag(sl_init_ctx_t *ctx, const sl_cnode_t *n, const char *fmt, const char *a) {
    if (!n) n = ctx->node;
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a);
    sl_diags_add(ctx->diags, n->file, n->line, n->col, "%s: %s", ctx->what, msg);
}

static kv_tpl_t *compile_kv(sl_init_ctx_t *ctx, const sl_cnode_t *map, const char *what, size_t *n) {
    *n = 0;
    if (!map || sl_cnode_is_null(map)) return NULL;
    if (map->kind != SL_CNODE_MAP) {
        diag(ctx, map, "'%s' must be a mapping of name -> value", what);
        return NULL;
    }
    kv_tpl_t *v = calloc(map->n ? map->n : 1, sizeof *v);
    for (size_t i = 0; i < map->n; i++) {
        const sl_cnode_t *val = map->pairs[i].val;
        if (val->kind != SL_CNODE_SCALAR) {
            diag(ctx, val, "values of '%s' must be scalars (templates)", what);
            continue;
        }
        if (sl_cnode_is_null(val) && val->style == 0) continue;   /* `key:` = leave out */
        sl_template_t *t = sl_template_compile_node(val, ctx->diags);
        if (!t) continue;
        v[*n].name = map->pairs[i].key->str;
        v[*n].tpl = t;
        (*n)++;
    }
    return v;
}

/* A config mapping as a value (scalars stay strings: params are text for templates). */
static sl_value_t cnode_value(sl_arena_t *a, const sl_cnode_t *n) {
    if (n->kind == SL_CNODE_MAP) {
        sl_value_t o = sl_object_new(a, n->n);
        for (size_t i = 0; i < n->n; i++)
            sl_value_set(a, &o, n->pairs[i].key->str, n->pairs[i].key->len, cnode_value(a, n->pairs[i].val));
        return o;
    }
    if (n->kind == SL_CNODE_SEQ) {
        sl_value_t arr = sl_array_new(a, n->n);
        for (size_t i = 0; i < n->n; i++) arr.u.a[i] = cnode_value(a, n->items[i]);
        arr.len = (uint32_t)n->n;
        return arr;
    }
    if (sl_cnode_is_null(n) && n->style == 0) return sl_null();
    return sl_str_dup(a, n->str, n->len);
}

static bool status_listed(const http_conf_t *c, int status) {
    for (size_t i = 0; i < c->retry_status.n; i++) {
        const char *s = c->retry_status.v[i];
        if (strlen(s) == 3 && (s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X')) {
            if (status / 100 == s[0] - '0') return true;
        } else if (atoi(s) == status) return true;
    }
    return false;
}

static int http_init(sl_source_t *src, sl_init_ctx_t *ctx) {
    http_conf_t *c = src->conf;
    http_state_t *st = calloc(1, sizeof *st);
    if (!st) return SL_NOMEM;
    src->state = st;
    sl_arena_init(&st->req_arena, 4096);
    st->win_start = st->win_end = -1;
    st->cur.next_day = -1;
    const sl_cnode_t *src_node = ctx->node;
    const sl_cnode_t *http_node = sl_cnode_get(src_node, "http");
    if (!http_node) http_node = src_node;
    if (c->url) {
        sl_cnode_t *un = sl_cnode_get(http_node, "url");
        st->url = un ? sl_template_compile_node(un, ctx->diags) : NULL;
        if (c->url && strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0 &&
            strncmp(c->url, "{{", 2) != 0)
            diag(ctx, un, "'url' must start with http:// or https:// (got '%.80s')", c->url);
    }
    if (c->body) {
        sl_cnode_t *bn = sl_cnode_get(http_node, "body");
        if (bn) st->body = sl_template_compile_node(bn, ctx->diags);
    }
    st->query = compile_kv(ctx, c->query, "query", &st->nquery);
    st->headers = compile_kv(ctx, c->headers, "headers", &st->nheaders);
    /* records: the source-level expression giving the list */
    const sl_cnode_t *rn = sl_cnode_get(src_node, "records");
    if (rn && !sl_cnode_is_null(rn)) st->records = sl_expr_compile_node(rn, ctx->diags);
    else {
        size_t off;
        char eb[128];
        st->records = sl_expr_compile("this", 4, &off, eb, sizeof eb);
    }
    if (c->body_ts) st->body_ts = sl_expr_compile_node(c->body_ts, ctx->diags);
    const sl_cnode_t *pn = sl_cnode_get(src_node, "params");
    st->params = pn && pn->kind == SL_CNODE_MAP ? cnode_value(ctx->arena, pn)
                                                : sl_object_new(ctx->arena, 0);
    if (pn && !sl_cnode_is_null(pn) && pn->kind != SL_CNODE_MAP)
        diag(ctx, pn, "'params' must be a mapping%s", "");
    /* window */
    if (c->window && !sl_cnode_is_null(c->window)) {
        window_conf_t w = {0};
        if (c->window->kind != SL_CNODE_MAP) diag(ctx, c->window, "'window' must be a mapping%s", "");
        else if (sl_config_apply(window_map, c->window, &w, ctx->what, ctx->arena, ctx->diags) == 0) {
            st->windowed = true;
            st->partial = w.partial;
            if (w.size_ms < DAY_MS || w.size_ms % DAY_MS)
                diag(ctx, sl_cnode_get(c->window, "size"), "window 'size' must be whole days (e.g. 30d)%s", "");
            if (w.lag_ms < 0 || w.lag_ms % DAY_MS)
                diag(ctx, sl_cnode_get(c->window, "lag"), "window 'lag' must be whole days (e.g. 2d)%s", "");
            st->win_days = w.size_ms / DAY_MS;
            if (st->win_days < 1) st->win_days = 1;
            st->win_lag_days = w.lag_ms / DAY_MS;
            if (w.start && *w.start && (st->win_start = sl_http_parse_day(w.start)) < 0)
                diag(ctx, sl_cnode_get(c->window, "start"), "window 'start' must be a date YYYY-MM-DD, got '%s'", w.start);
            if (w.end && *w.end && (st->win_end = sl_http_parse_day(w.end)) < 0)
                diag(ctx, sl_cnode_get(c->window, "end"), "window 'end' must be a date YYYY-MM-DD, got '%s'", w.end);
        }
    }
    /* pagination */
    if (c->paginate && !sl_cnode_is_null(c->paginate)) {
        page_conf_t pg = {0};
        if (c->paginate->kind != SL_CNODE_MAP) diag(ctx, c->paginate, "'paginate' must be a mapping%s", "");
        else if (sl_config_apply(page_map, c->paginate, &pg, ctx->what, ctx->arena, ctx->diags) == 0) {
            st->pg_param = pg.param;
            st->pg_start = pg.start;
            st->pg_until_empty = pg.until_empty;
            st->pg_max = pg.max_pages > 0 ? pg.max_pages : 100;
            if (pg.next) {
                st->pg_mode = PG_NEXT;
                st->pg_next = sl_expr_compile_node(pg.next, ctx->diags);
            } else if (pg.link) st->pg_mode = PG_LINK;
            else if (pg.param) st->pg_mode = PG_NUMBER;
            else diag(ctx, c->paginate, "'paginate' needs 'param' (page numbers), 'next' or 'link: true'%s", "");
        }
    }
    if (c->rate_limit && !sl_cnode_is_null(c->rate_limit)) {
        rate_conf_t r = {0};
        if (c->rate_limit->kind != SL_CNODE_MAP) diag(ctx, c->rate_limit, "'rate_limit' must be a mapping%s", "");
        else if (sl_config_apply(rate_map, c->rate_limit, &r, ctx->what, ctx->arena, ctx->diags) == 0) {
            if (r.requests < 1 || r.per_ms < 1)
                diag(ctx, c->rate_limit, "'rate_limit' needs requests >= 1 and per > 0%s", "");
            else {
                st->rl_requests = r.requests > 100000 ? 100000 : r.requests;
                st->rl_per_ms = r.per_ms;
            }
        }
    }
    const sl_cnode_t *cn = sl_cnode_get(src_node, "cron");
    if (cn && !sl_cnode_is_null(cn)) {
        char eb[200];
        if (cn->kind != SL_CNODE_SCALAR || sl_cron_parse(cn->str, &st->cron, eb, sizeof eb) != 0)
            diag(ctx, cn, "invalid 'cron': %s", cn->kind == SL_CNODE_SCALAR ? eb : "must be a string");
        else st->has_cron = true;
        if (sl_cnode_get(src_node, "every")) diag(ctx, cn, "give either 'every' or 'cron', not both%s", "");
    }
    char tzerr[400];
    if (!(st->tz = sl_cron_tz_new(c->tz ? c->tz : "UTC", tzerr, sizeof tzerr)))
        diag(ctx, sl_cnode_get(http_node, "tz"), "invalid 'tz': %s", tzerr);
    for (size_t i = 0; i < c->retry_status.n; i++) {
        const char *s = c->retry_status.v[i];
        bool ok = strlen(s) == 3 && isdigit((unsigned char)s[0]) &&
                  ((isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2])) ||
                   ((s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X')));
        if (!ok) diag(ctx, sl_cnode_get(http_node, "retry_status"), "'retry_status' items are statuses like 429 or 5xx, not '%s'", s);
    }
    return 0;
}

/* ------------------------------------------------------------------ cursor */

/* The cursor is a small JSON object: {"next":"YYYY-MM-DD","etag":..,"lm":..,"page":..,
 * "page_url":bool,"pages":n,"replay":"file"} (readable by `sluice topics` and humans). */
static void cursor_write(const http_state_t *st, const http_cursor_t *c, sl_buf_t *out) {
    sl_buf_putc(out, '{');
    bool first = true;
#define SEP() do { if (!first) sl_buf_putc(out, ','); first = false; } while (0)
    if (c->next_day >= 0) {
        char d[11];
        sl_http_format_day(c->next_day, d);
        SEP();
        sl_buf_printf(out, "\"next\":\"%s\"", d);
    }
    if (c->etag[0]) { SEP(); sl_buf_puts(out, "\"etag\":"); sl_json_write_string(out, c->etag, strlen(c->etag)); }
    if (c->lastmod[0]) { SEP(); sl_buf_puts(out, "\"lm\":"); sl_json_write_string(out, c->lastmod, strlen(c->lastmod)); }
    if (c->page) {
        SEP();
        sl_buf_puts(out, "\"page\":");
        sl_json_write_string(out, c->page, strlen(c->page));
        sl_buf_printf(out, ",\"page_url\":%s,\"pages\":%lld", c->page_is_url ? "true" : "false",
                      (long long)c->pages);
    }
    if (c->replay[0]) { SEP(); sl_buf_puts(out, "\"replay\":"); sl_json_write_string(out, c->replay, strlen(c->replay)); }
#undef SEP
    sl_buf_putc(out, '}');
    (void)st;
}

static void copy_str(char *dst, size_t cap, const sl_value_t *v) {
    dst[0] = 0;
    if (!v || v->type != SL_T_STRING) return;
    size_t n = v->len < cap - 1 ? v->len : cap - 1;
    memcpy(dst, v->u.s, n);
    dst[n] = 0;
}

static void cursor_clear_page(http_cursor_t *c) {
    free(c->page);
    c->page = NULL;
    c->page_is_url = false;
    c->pages = 0;
}

static void cursor_read(http_cursor_t *c, const void *data, size_t len) {
    if (!data || !len) return;
    sl_arena_t a;
    sl_arena_init(&a, 1024);
    sl_value_t v;
    sl_json_error_t je;
    if (sl_json_parse(&a, data, len, &v, &je) == 0 && v.type == SL_T_OBJECT) {
        const sl_value_t *x;
        char d[16];
        if ((x = sl_value_get(&v, "next", 4))) {
            copy_str(d, sizeof d, x);
            c->next_day = sl_http_parse_day(d);
        }
        copy_str(c->etag, sizeof c->etag, sl_value_get(&v, "etag", 4));
        copy_str(c->lastmod, sizeof c->lastmod, sl_value_get(&v, "lm", 2));
        copy_str(c->replay, sizeof c->replay, sl_value_get(&v, "replay", 6));
        if ((x = sl_value_get(&v, "page", 4)) && x->type == SL_T_STRING) {
            c->page = strndup(x->u.s, x->len);
            x = sl_value_get(&v, "page_url", 8);
            c->page_is_url = x && x->type == SL_T_BOOL && x->u.b;
            x = sl_value_get(&v, "pages", 5);
            c->pages = x && x->type == SL_T_INT ? x->u.i : 0;
        }
    }
    sl_arena_free(&a);
}

/* ------------------------------------------------------------------ curl */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_start(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* One multi handle for every http source of the process; used by the sources thread
 * only (open/poll/close run there), so it needs no lock. */
static CURLM *g_multi;
static int g_multi_refs;

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    http_state_t *st = ud;
    size_t len = size * n;
    if ((int64_t)(st->resp_body.len + len) > st->max_body) {
        st->too_big = true;
        return 0;   /* aborts the transfer: a failed poll */
    }
    sl_buf_append(&st->resp_body, p, len);
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    http_state_t *st = ud;
    size_t len = size * n;
    /* a new status line (redirect, 100-continue) starts a new header block */
    if (sl_http_status_line(p, len) > 0) sl_buf_clear(&st->resp_hdrs);
    else if (len > 2 || (len && p[0] != '\r' && p[0] != '\n')) sl_buf_append(&st->resp_hdrs, p, len);
    return len;
}

/* Render a template with window/params/page locals into the request arena. */
static const char *render(http_state_t *st, const sl_source_t *src, const sl_template_t *t,
                          const sl_value_t *locals, sl_error_t *err) {
    sl_expr_ctx_t ec = {.rec = NULL, .vars = src->vars, .arena = &st->req_arena,
                        .now_ms = sl_now_ms(), .locals = locals};
    const char *out;
    size_t len;
    if (sl_template_render(t, &ec, &out, &len, err) != 0) return NULL;
    return out;
}

static sl_value_t make_locals(http_state_t *st, int64_t from, int64_t to, const char *page) {
    sl_arena_t *a = &st->req_arena;
    sl_value_t loc = sl_object_new(a, 3);
    sl_value_t w = sl_object_new(a, 3);
    if (from >= 0) {
        char d[11];
        sl_http_format_day(from, d);
        sl_value_set(a, &w, "start", 5, sl_str_dup(a, d, 10));
        sl_http_format_day(to, d);
        sl_value_set(a, &w, "end", 3, sl_str_dup(a, d, 10));
        sl_http_format_day(to + 1, d);
        sl_value_set(a, &w, "until", 5, sl_str_dup(a, d, 10));
    }
    sl_value_set(a, &loc, "window", 6, w);
    sl_value_set(a, &loc, "params", 6, st->params);
    sl_value_set(a, &loc, "page", 4, page ? sl_str_dup(a, page, strlen(page)) : sl_null());
    return loc;
}

/* Configure st->easy for the request of window [from, to] (days, -1 = none) and page
 * (NULL = first).  Returns 0 or SL_EVAL/SL_FATAL with err. */
static int setup_request(sl_source_t *src, http_state_t *st, int64_t from, int64_t to,
                         const char *page, bool page_is_url, bool conditional, sl_error_t *err) {
    http_conf_t *c = src->conf;
    sl_arena_reset(&st->req_arena);
    if (!st->easy && !(st->easy = curl_easy_init())) return sl_error_set(err, SL_FATAL, "curl_easy_init failed");
    curl_easy_reset(st->easy);
    if (st->hlist) curl_slist_free_all(st->hlist);
    st->hlist = NULL;
    sl_buf_clear(&st->resp_body);
    sl_buf_clear(&st->resp_hdrs);
    st->too_big = false;
    st->curl_err[0] = 0;
    sl_value_t loc = make_locals(st, from, to, page_is_url ? NULL : page);
    sl_buf_t url = SL_BUF_INIT;
    if (page && page_is_url) sl_buf_puts(&url, page);
    else {
        const char *u = render(st, src, st->url, &loc, err);
        if (!u) return SL_EVAL;
        sl_buf_puts(&url, u);
        bool has_q = strchr(u, '?') != NULL;
        for (size_t i = 0; i <= st->nquery; i++) {
            const char *name, *val;
            if (i < st->nquery) {
                name = st->query[i].name;
                val = render(st, src, st->query[i].tpl, &loc, err);
                if (!val) {
                    sl_buf_free(&url);
                    return SL_EVAL;
                }
                if (!*val) continue;   /* an empty value leaves the parameter out */
            } else {
                if (!page || !st->pg_param) break;
                name = st->pg_param;
                val = page;
            }
            char *en = curl_easy_escape(st->easy, name, 0), *ev = curl_easy_escape(st->easy, val, 0);
            sl_buf_printf(&url, "%c%s=%s", has_q ? '&' : '?', en ? en : "", ev ? ev : "");
            curl_free(en);
            curl_free(ev);
            has_q = true;
        }
    }
    curl_easy_setopt(st->easy, CURLOPT_URL, url.data);
    sl_buf_free(&url);
    for (size_t i = 0; i < st->nheaders; i++) {
        const char *val = render(st, src, st->headers[i].tpl, &loc, err);
        if (!val) return SL_EVAL;
        char *line = sl_arena_sprintf(&st->req_arena, "%s: %s", st->headers[i].name, val);
        st->hlist = curl_slist_append(st->hlist, line);
    }
    if (conditional && st->cur.etag[0])
        st->hlist = curl_slist_append(st->hlist, sl_arena_sprintf(&st->req_arena, "If-None-Match: %s", st->cur.etag));
    if (conditional && st->cur.lastmod[0])
        st->hlist = curl_slist_append(st->hlist, sl_arena_sprintf(&st->req_arena, "If-Modified-Since: %s", st->cur.lastmod));
    bool has_accept = false;
    for (size_t i = 0; i < st->nheaders; i++)
        if (strcasecmp(st->headers[i].name, "Accept") == 0) has_accept = true;
    if (!has_accept)
        st->hlist = curl_slist_append(st->hlist, "Accept: application/json");
    curl_easy_setopt(st->easy, CURLOPT_HTTPHEADER, st->hlist);
    if (c->method > 0) {
        curl_easy_setopt(st->easy, CURLOPT_CUSTOMREQUEST, c->method == 1 ? "POST" : "PUT");
        const char *b = "";
        if (st->body && !(b = render(st, src, st->body, &loc, err))) return SL_EVAL;
        curl_easy_setopt(st->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(b));
        curl_easy_setopt(st->easy, CURLOPT_COPYPOSTFIELDS, b);
    }
    curl_easy_setopt(st->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(st->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->timeout_ms < 10000 ? c->timeout_ms : 10000));
    curl_easy_setopt(st->easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(st->easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(st->easy, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(st->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(st->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(st->easy, CURLOPT_USERAGENT, "sluice/0.1 (+https://github.com/)");
    curl_easy_setopt(st->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(st->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(st->easy, CURLOPT_WRITEDATA, st);
    curl_easy_setopt(st->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(st->easy, CURLOPT_HEADERDATA, st);
    curl_easy_setopt(st->easy, CURLOPT_ERRORBUFFER, st->curl_err);
    curl_easy_setopt(st->easy, CURLOPT_PRIVATE, st);
    st->max_body = c->max_body;
    return 0;
}

/* ------------------------------------------------------------------ responses */

/* The first SNIPPET bytes of a body, printable. */
static void snippet(const char *body, size_t len, char *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < len && i < SNIPPET && n + 1 < cap; i++) {
        unsigned char ch = (unsigned char)body[i];
        out[n++] = ch == '\n' || ch == '\r' || ch == '\t' ? ' ' : ch < 0x20 || ch == 0x7f ? '.' : (char)ch;
    }
    out[n] = 0;
}

/* How long the server asked us to wait (ms), or -1. */
static int64_t server_wait(const char *hdrs, size_t hlen, bool failed) {
    size_t vl;
    const char *v;
    if ((v = sl_http_header(hdrs, hlen, "Retry-After", &vl))) {
        int64_t ms = sl_http_retry_after(v, vl, sl_now_ms());
        if (ms >= 0) return ms;
    }
    if ((v = sl_http_header(hdrs, hlen, "X-Rate-Limit-Retry-After-Seconds", &vl))) {
        int64_t ms = sl_http_retry_after(v, vl, sl_now_ms());
        if (ms >= 0) return ms;
    }
    const char *names[] = {"X-RateLimit-Remaining", "X-Rate-Limit-Remaining"};
    for (int i = 0; i < 2; i++)
        if ((v = sl_http_header(hdrs, hlen, names[i], &vl)) && vl == 1 && v[0] == '0') {
            size_t rl;
            const char *r = sl_http_header(hdrs, hlen, "X-RateLimit-Reset", &rl);
            if (r) {
                int64_t at = sl_http_retry_after(r, rl, sl_now_ms());
                /* epoch seconds or a delay in seconds */
                if (at > 1000000000000LL) at = at - sl_now_ms();
                if (at >= 0 && at < 86400000) return at;
            }
            (void)failed;
            return 60000;
        }
    return -1;
}

typedef struct outcome {
    sl_value_t body;
    sl_value_t records;        /* array */
    const char *next_page;     /* arena; NULL = last page */
    bool next_is_url;
    bool not_modified;
    int64_t wait_ms;           /* server-requested wait, -1 none */
    bool retriable;            /* status in retry_status (or transport error) */
    bool malformed;            /* a 2xx whose body is not usable: dead-lettered, not retried */
    char etag[256], lastmod[128];
} outcome_t;

/* Interpret a response.  Returns 0 (o filled) or SL_RETRY with err->msg describing the
 * failure (status + first bytes). */
static int interpret(sl_source_t *src, http_state_t *st, int status, const char *hdrs, size_t hlen,
                     const char *body, size_t blen, bool paginate, sl_arena_t *arena, outcome_t *o,
                     sl_error_t *err) {
    http_conf_t *c = src->conf;
    memset(o, 0, sizeof *o);
    o->records = sl_array_new(arena, 0);
    o->wait_ms = server_wait(hdrs, hlen, status < 200 || status > 299);
    char snip[SNIPPET * 2 + 1];
    if (status == 304) {
        o->not_modified = true;
        return 0;
    }
    if (status < 200 || status > 299) {
        o->retriable = status_listed(c, status);
        snippet(body, blen, snip, sizeof snip);
        return sl_error_set(err, SL_RETRY, "HTTP %d: %s", status, snip);
    }
    size_t vl;
    const char *v;
    if ((v = sl_http_header(hdrs, hlen, "ETag", &vl)) && vl < sizeof o->etag) {
        memcpy(o->etag, v, vl);
        o->etag[vl] = 0;
    }
    if ((v = sl_http_header(hdrs, hlen, "Last-Modified", &vl)) && vl < sizeof o->lastmod) {
        memcpy(o->lastmod, v, vl);
        o->lastmod[vl] = 0;
    }
    if (status == 204 || (blen == 0 && status != 200)) return 0;
    /* from here on a failure is the body's: the same request gives the same body */
    o->malformed = true;
    sl_json_error_t je;
    if (blen == 0) return sl_error_set(err, SL_RETRY, "HTTP %d: empty body", status);
    if (sl_json_parse(arena, body, blen, &o->body, &je) != 0) {
        snippet(body, blen, snip, sizeof snip);
        return sl_error_set(err, SL_RETRY, "HTTP %d: the body is not JSON (%s at byte %zu of %zu): %s",
                            status, je.reason, je.offset, blen, snip);
    }
    sl_record_t fake;
    memset(&fake, 0, sizeof fake);
    fake.value = o->body;
    fake.source = src->name;
    sl_expr_ctx_t ec = {.rec = &fake, .vars = src->vars, .arena = arena, .now_ms = sl_now_ms(),
                        .locals = NULL};
    sl_value_t r;
    sl_error_t eerr = {0};
    if (sl_expr_eval(st->records, &ec, &r, &eerr) != 0) {
        snippet(body, blen, snip, sizeof snip);
        return sl_error_set(err, SL_RETRY, "HTTP %d: 'records' failed on the body: %s: %s", status, eerr.msg, snip);
    }
    if (r.type == SL_T_ARRAY) o->records = r;
    else if (r.type == SL_T_OBJECT) {
        o->records = sl_array_new(arena, 1);
        o->records.u.a[0] = r;
        o->records.len = 1;
    } else if (r.type != SL_T_NULL) {
        snippet(body, blen, snip, sizeof snip);
        return sl_error_set(err, SL_RETRY, "HTTP %d: 'records' gave a %s, not a list or an object: %s",
                            status, sl_type_name((sl_type_t)r.type), snip);
    }
    o->malformed = false;
    if (!paginate) return 0;
    if (st->pg_mode == PG_NUMBER) {
        if (!(st->pg_until_empty && o->records.len == 0)) {
            int64_t cur = st->cur.page ? atoll(st->cur.page) : st->pg_start;
            o->next_page = sl_arena_sprintf(arena, "%lld", (long long)(cur + 1));
        }
    } else if (st->pg_mode == PG_NEXT) {
        sl_value_t nx;
        if (sl_expr_eval(st->pg_next, &ec, &nx, &eerr) == 0) {
            if (nx.type == SL_T_STRING && nx.len) o->next_page = sl_arena_strndup(arena, nx.u.s, nx.len);
            else if (sl_is_number(nx)) {
                sl_buf_t b = SL_BUF_INIT;
                sl_json_write(&b, nx);
                o->next_page = sl_arena_strndup(arena, b.data, b.len);
                sl_buf_free(&b);
            }
            if (o->next_page && (strncmp(o->next_page, "http://", 7) == 0 || strncmp(o->next_page, "https://", 8) == 0))
                o->next_is_url = true;
            else if (o->next_page && !st->pg_param) o->next_page = NULL;   /* a token needs a param */
        }
    } else if (st->pg_mode == PG_LINK) {
        if ((v = sl_http_header(hdrs, hlen, "Link", &vl))) {
            char *u = sl_arena_alloc(arena, vl + 1);
            if (sl_http_link_next(v, vl, u, vl + 1) > 0) {
                o->next_page = u;
                o->next_is_url = true;
            }
        }
    }
    if (o->next_page && st->cur.pages + 1 >= st->pg_max) o->next_page = NULL;
    /* a server repeating the same page would loop forever */
    if (o->next_page && st->cur.page && strcmp(o->next_page, st->cur.page) == 0) o->next_page = NULL;
    return 0;
}

/* Event time of every record of a response from `body_ts`, or 0. */
static int64_t body_time(sl_source_t *src, http_state_t *st, const outcome_t *o, sl_arena_t *arena) {
    if (!st->body_ts || o->body.type == SL_T_NULL) return 0;
    sl_record_t fake;
    memset(&fake, 0, sizeof fake);
    fake.value = o->body;
    sl_expr_ctx_t ec = {.rec = &fake, .vars = src->vars, .arena = arena, .now_ms = sl_now_ms()};
    sl_value_t v;
    sl_error_t e = {0};
    if (sl_expr_eval(st->body_ts, &ec, &v, &e) != 0 || !sl_is_number(v)) return 0;
    return (int64_t)sl_value_num(v);
}

/* ------------------------------------------------------------------ scheduling */

static int64_t schedule_next(sl_source_t *src, http_state_t *st) {
    int64_t now = sl_mono_ms();
    if (st->has_cron) {
        int64_t wall = sl_now_ms();
        int64_t at = sl_cron_next_tz(&st->cron, wall, st->tz);
        if (at < 0) return now + 3600000;
        return now + (at - wall);
    }
    int64_t every = src->every_ms ? src->every_ms : st->windowed ? 3600000 : 60000;
    int64_t due = st->req_started + every;
    return due > now ? due : now;
}

/* The interval of the schedule (ms): every, the gap between the next two firings of
 * `cron:`, or the default; for the runner's backoff cap. */
static int64_t schedule_interval(sl_source_t *src, http_state_t *st) {
    if (st->has_cron) {
        int64_t wall = sl_now_ms();
        int64_t a = sl_cron_next_tz(&st->cron, wall, st->tz);
        int64_t b = a >= 0 ? sl_cron_next_tz(&st->cron, a, st->tz) : -1;
        return a >= 0 && b > a ? b - a : 0;
    }
    return src->every_ms ? src->every_ms : st->windowed ? 3600000 : 60000;
}

/* Rate limit: 0 when a request may start now (and records it), else the mono time
 * when one may. */
static int64_t rate_take(http_state_t *st, int64_t now, bool take) {
    if (!st->rl_requests) return 0;
    if (!st->rl_times) st->rl_times = calloc((size_t)st->rl_requests, sizeof *st->rl_times);
    size_t cap = (size_t)st->rl_requests;
    if (st->rl_n == cap) {
        int64_t oldest = st->rl_times[st->rl_head];
        if (now - oldest < st->rl_per_ms) return oldest + st->rl_per_ms;
        st->rl_head = (st->rl_head + 1) % cap;
        st->rl_n--;
    }
    if (take) {
        st->rl_times[(st->rl_head + st->rl_n) % cap] = now;
        st->rl_n++;
    }
    return 0;
}

/* What the next request is for.  Returns 1 (a request: from, to and complete set), 0
 * (nothing due now), or SL_EOF (a bounded window range is done). */
static int next_request(sl_source_t *src, http_state_t *st, int64_t *from, int64_t *to, bool *complete) {
    *from = *to = -1;
    *complete = false;
    if (!st->windowed) {
        if (src->once && st->polled_once && !st->cur.page) return SL_EOF;
        return 1;
    }
    int64_t s = st->cur.next_day;
    if (st->win_end >= 0 && s > st->win_end) return SL_EOF;
    int64_t e = s + st->win_days;                     /* exclusive */
    if (st->win_end >= 0 && e > st->win_end + 1) e = st->win_end + 1;
    int64_t today = today_day();
    *from = s;
    if (e + st->win_lag_days <= today || src->replay) {
        *to = e - 1;
        *complete = true;
        return 1;
    }
    if (st->cur.page) {            /* finish the pages of a partial window */
        *to = today < e - 1 ? today : e - 1;
        return 1;
    }
    if (st->partial && !(src->once && st->partial_done) && today >= s) {
        *to = today < e - 1 ? today : e - 1;
        return 1;
    }
    return src->once ? SL_EOF : 0;
}

/* ------------------------------------------------------------------ open/close */

static int http_open(sl_source_t *src, sl_error_t *err) {
    http_state_t *st = src->state;
    pthread_once(&curl_once, curl_start);
    cursor_clear_page(&st->cur);
    memset(&st->cur, 0, sizeof st->cur);
    st->cur.next_day = -1;
    cursor_read(&st->cur, src->cursor, src->cursor_len);
    if (st->windowed && st->cur.next_day < 0)
        st->cur.next_day = st->win_start >= 0 ? st->win_start : today_day() - st->win_days;
    if (!src->replay) {
        if (!g_multi && !(g_multi = curl_multi_init())) return sl_error_set(err, SL_FATAL, "curl_multi_init failed");
        g_multi_refs++;
    }
    st->inflight = st->done = false;
    st->due = 0;
    st->failures = 0;
    src->interval_ms = schedule_interval(src, st);
    st->polled_once = st->partial_done = false;
    return 0;
}

static void drop_transfer(http_state_t *st) {
    if (st->inflight && g_multi && st->easy) curl_multi_remove_handle(g_multi, st->easy);
    st->inflight = st->done = false;
}

static void http_close(sl_source_t *src) {
    http_state_t *st = src->state;
    if (!st) return;
    drop_transfer(st);
    if (!src->replay && g_multi_refs > 0 && --g_multi_refs == 0) {
        curl_multi_cleanup(g_multi);
        g_multi = NULL;
    }
}

static void http_free(sl_source_t *src) {
    http_state_t *st = src->state;
    if (!st) return;
    sl_template_free(st->url);
    sl_template_free(st->body);
    for (size_t i = 0; i < st->nquery; i++) sl_template_free(st->query[i].tpl);
    for (size_t i = 0; i < st->nheaders; i++) sl_template_free(st->headers[i].tpl);
    free(st->query);
    free(st->headers);
    sl_expr_free(st->records);
    sl_expr_free(st->body_ts);
    sl_expr_free(st->pg_next);
    sl_cron_tz_free(st->tz);
    if (st->easy) curl_easy_cleanup(st->easy);
    if (st->hlist) curl_slist_free_all(st->hlist);
    sl_buf_free(&st->resp_body);
    sl_buf_free(&st->resp_hdrs);
    free(st->rl_times);
    cursor_clear_page(&st->cur);
    sl_arena_free(&st->req_arena);
    for (size_t i = 0; i < st->nfiles; i++) free(st->files[i]);
    free(st->files);
    free(st);
    src->state = NULL;
}

/* ------------------------------------------------------------------ poll */

/* A failed poll: report, count, decide the wait. */
static int poll_failed(sl_source_t *src, http_state_t *st, sl_emit_t *emit, const outcome_t *o,
                       int64_t *next_ms, sl_error_t *err) {
    http_conf_t *c = src->conf;
    sl_emit_fail(emit, "%s", err->msg);
    int64_t now = sl_mono_ms();
    if (o->wait_ms >= 0 && (o->retriable || src->replay)) *next_ms = now + o->wait_ms;
    else if (!o->retriable && !src->replay) *next_ms = schedule_next(src, st);
    /* keep only the headline for the runner's "retry in" line */
    char *colon = strstr(err->msg, ": ");
    if (colon) *colon = 0;
    st->failures++;
    if (src->once && !src->replay && st->failures >= c->max_failures)
        return sl_error_set(err, SL_FATAL, "gave up after %lld failed polls (--once)", (long long)st->failures);
    return SL_RETRY;
}

/* A value's kind in JSON's words, for dead-letter reasons. */
static const char *json_kind(const sl_value_t *v) {
    switch (v->type) {
    case SL_T_INT: case SL_T_DOUBLE: return "number";
    case SL_T_BOOL: return "boolean";
    default: return sl_type_name((sl_type_t)v->type);
    }
}

/* A 2xx body that gives no records (not JSON, `records` fails on it or gives a scalar):
 * it goes to <source>.dlq with the reason and its first DLQ_RAW_MAX bytes, committed
 * with the cursor unchanged (only a replayed file is consumed).  The poll is done, not
 * failed: the same request would give the same body, so the next one waits for the
 * schedule (DESIGN §2.4), and --once ends the source.  Returns 0, SL_EOF or the
 * commit's error (then nothing moved). */
static int poll_malformed(sl_source_t *src, http_state_t *st, sl_emit_t *emit, const char *body,
                          size_t blen, const char *replay_name, int64_t *next_ms, sl_error_t *err) {
    char reason[sizeof err->msg + 64];
    int n = snprintf(reason, sizeof reason, "%s", err->msg);
    if (blen > DLQ_RAW_MAX && n > 0 && (size_t)n < sizeof reason)
        snprintf(reason + n, sizeof reason - (size_t)n, " (the first %d of %zu bytes kept)", DLQ_RAW_MAX, blen);
    sl_emit_dlq(emit, body, blen < DLQ_RAW_MAX ? blen : DLQ_RAW_MAX, replay_name ? replay_name : "body", "%s", reason);
    http_cursor_t nc = st->cur;          /* shallow: the same window, ETag and page */
    if (replay_name) snprintf(nc.replay, sizeof nc.replay, "%s", replay_name);
    sl_buf_t cb = SL_BUF_INIT;
    cursor_write(st, &nc, &cb);
    err->msg[0] = 0;
    int rc = sl_emit_commit(emit, cb.data, cb.len, err);
    sl_buf_free(&cb);
    if (rc != 0) return rc;
    if (replay_name) snprintf(st->cur.replay, sizeof st->cur.replay, "%s", replay_name);
    st->failures = 0;
    if (src->once && !src->replay) return SL_EOF;
    *next_ms = src->replay ? sl_mono_ms() : schedule_next(src, st);
    st->due = *next_ms;
    return 0;
}

/* Emit the records of a successful response, commit them with the advanced cursor, and
 * move the in-memory state on.  An element of the list that is a scalar or null goes
 * to <source>.dlq with the reason (DESIGN §2.9).  Returns 0, SL_EOF or an error. */
static int poll_succeeded(sl_source_t *src, http_state_t *st, sl_emit_t *emit, outcome_t *o,
                          const char *replay_name, int64_t *next_ms, sl_error_t *err) {
    sl_arena_t *arena = sl_emit_arena(emit);
    int64_t ts = body_time(src, st, o, arena);
    for (uint32_t i = 0; i < o->records.len; i++) {
        const sl_value_t *v = &o->records.u.a[i];
        /* an array is a positional row (OpenSky's state vectors): a step names its
         * fields; a scalar or null cannot become a record */
        if (v->type != SL_T_OBJECT && v->type != SL_T_ARRAY) {
            sl_buf_t jb = SL_BUF_INIT;
            sl_json_write(&jb, *v);
            char at[32];
            snprintf(at, sizeof at, "records[%u]", i);
            sl_emit_dlq(emit, jb.data ? jb.data : "", jb.len < DLQ_RAW_MAX ? jb.len : DLQ_RAW_MAX, at,
                        "record %u is a %s, not a JSON object", i, json_kind(v));
            sl_buf_free(&jb);
            continue;
        }
        sl_record_t *rec = sl_emit_record(emit);
        rec->value = *v;
        if (ts) rec->ts = ts;
    }
    http_cursor_t nc = st->cur;          /* shallow; page strings handled below */
    nc.page = NULL;
    nc.pages = 0;
    nc.page_is_url = false;
    bool more_pages = o->next_page != NULL && !src->replay;
    if (more_pages) {
        nc.page = (char *)o->next_page;
        nc.page_is_url = o->next_is_url;
        nc.pages = st->cur.pages + 1;
    } else if (st->windowed && st->req_complete) {
        nc.next_day = st->req_to + 1;
    }
    if (!st->windowed && !st->pg_mode && !o->not_modified) {
        snprintf(nc.etag, sizeof nc.etag, "%s", o->etag);
        snprintf(nc.lastmod, sizeof nc.lastmod, "%s", o->lastmod);
    }
    if (replay_name) snprintf(nc.replay, sizeof nc.replay, "%s", replay_name);
    sl_buf_t cb = SL_BUF_INIT;
    cursor_write(st, &nc, &cb);
    int rc = sl_emit_commit(emit, cb.data, cb.len, err);
    sl_buf_free(&cb);
    if (rc != 0) return rc;
    char *page = more_pages ? strdup(o->next_page) : NULL;
    cursor_clear_page(&st->cur);
    st->cur = nc;
    st->cur.page = page;
    st->failures = 0;
    int64_t now = sl_mono_ms();
    if (more_pages) {
        *next_ms = now;
    } else if (st->windowed && st->req_complete) {
        *next_ms = now;             /* catch up: the next window at once (rate limit applies) */
    } else {
        if (st->windowed) st->partial_done = true;
        else st->polled_once = true;
        if (src->once && !src->replay && !st->windowed) return SL_EOF;
        *next_ms = src->replay ? now : schedule_next(src, st);
    }
    if (o->wait_ms >= 0 && !src->replay) {
        /* X-RateLimit-Remaining: 0 on a success: respect it before the next request */
        int64_t at = now + o->wait_ms;
        if (at > *next_ms) *next_ms = at;
    }
    st->due = *next_ms;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int load_files(sl_source_t *src, http_state_t *st, sl_error_t *err) {
    DIR *d = opendir(src->replay_dir);
    if (!d) return sl_error_set(err, SL_FATAL, "cannot read the cassette %s: %s", src->replay_dir, sl_strerror(errno));
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || ends_with(de->d_name, ".http")) continue;
        if (strlen(de->d_name) >= sizeof st->cur.replay) continue;
        if (st->nfiles == cap) {
            cap = cap ? cap * 2 : 16;
            st->files = sl_xrealloc(st->files, cap * sizeof *st->files);
            if (!st->files) abort();
        }
        st->files[st->nfiles++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(st->files, st->nfiles, sizeof *st->files, cmp_str);
    st->files_loaded = true;
    return 0;
}

static int read_file(const char *path, sl_buf_t *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) sl_buf_append(out, buf, n);
    int bad = ferror(f);
    fclose(f);
    return bad ? -1 : 0;
}

static int poll_replay(sl_source_t *src, http_state_t *st, sl_emit_t *emit, int64_t *next_ms, sl_error_t *err) {
    if (!st->files_loaded && load_files(src, st, err) != 0) return err->code;
    size_t i = 0;
    while (i < st->nfiles && st->cur.replay[0] && strcmp(st->files[i], st->cur.replay) <= 0) i++;
    if (i >= st->nfiles) return SL_EOF;
    int64_t from = -1, to = -1;
    bool complete = false;
    if (st->windowed) {
        int r = next_request(src, st, &from, &to, &complete);
        if (r == SL_EOF) return SL_EOF;
    }
    st->req_complete = complete;
    st->req_from = from;
    st->req_to = to;
    const char *name = st->files[i];
    sl_buf_clear(&st->resp_body);
    sl_buf_clear(&st->resp_hdrs);
    char *path = sl_arena_sprintf(&st->req_arena, "%s/%s", src->replay_dir, name);
    if (read_file(path, &st->resp_body) != 0)
        return sl_error_set(err, SL_FATAL, "cannot read %s: %s", path, sl_strerror(errno));
    int status = 200;
    sl_buf_t side = SL_BUF_INIT;
    char *spath = sl_arena_sprintf(&st->req_arena, "%s.http", path);
    char *dot = strrchr(path, '.');
    char *spath2 = dot && dot > strrchr(path, '/') ? sl_arena_sprintf(&st->req_arena, "%.*s.http", (int)(dot - path), path) : NULL;
    if (read_file(spath, &side) == 0 || (spath2 && read_file(spath2, &side) == 0)) {
        if (sl_http_sidecar_parse(side.data ? side.data : "", side.len, &status, &st->resp_hdrs) != 0) {
            sl_buf_free(&side);
            return sl_error_set(err, SL_FATAL, "%s.http: the first line must be a status line like 'HTTP/1.1 200 OK'", name);
        }
    }
    sl_buf_free(&side);
    sl_arena_t *arena = sl_emit_arena(emit);
    outcome_t o;
    int rc = interpret(src, st, status, st->resp_hdrs.data ? st->resp_hdrs.data : "", st->resp_hdrs.len,
                       st->resp_body.data ? st->resp_body.data : "", st->resp_body.len, false, arena, &o, err);
    if (rc != 0 && o.malformed)
        return poll_malformed(src, st, emit, st->resp_body.data ? st->resp_body.data : "", st->resp_body.len,
                              name, next_ms, err);
    if (rc != 0) {
        /* consume the file in memory so the cassette moves on (invariant 2) */
        snprintf(st->cur.replay, sizeof st->cur.replay, "%s", name);
        return poll_failed(src, st, emit, &o, next_ms, err);
    }
    return poll_succeeded(src, st, emit, &o, name, next_ms, err);
}

/* Drive the shared multi handle; mark finished transfers on their states. */
static void multi_drive(void) {
    int running = 0;
    curl_multi_perform(g_multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(g_multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        http_state_t *owner = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&owner);
        if (owner) {
            owner->done = true;
            owner->result = m->data.result;
        }
    }
}

static int http_poll(sl_source_t *src, sl_emit_t *emit, int64_t *next_ms, sl_error_t *err) {
    http_state_t *st = src->state;
    if (src->replay) return poll_replay(src, st, emit, next_ms, err);
    int64_t now = sl_mono_ms();
    if (!st->inflight) {
        if (st->due > now) {
            sl_emit_pending(emit);
            *next_ms = st->due;
            return 0;
        }
        int64_t from, to;
        bool complete;
        int r = next_request(src, st, &from, &to, &complete);
        if (r == SL_EOF) return SL_EOF;
        if (r == 0) {
            st->due = schedule_next(src, st);
            if (st->due <= now) st->due = now + 60000;   /* re-check windows at least hourly-ish */
            sl_emit_pending(emit);
            *next_ms = st->due;
            return 0;
        }
        int64_t wait = rate_take(st, now, false);
        if (wait > now) {
            sl_emit_pending(emit);
            *next_ms = wait;
            return 0;
        }
        bool conditional = ((http_conf_t *)src->conf)->conditional && !st->windowed && !st->pg_mode;
        int rc = setup_request(src, st, from, to, st->cur.page, st->cur.page_is_url, conditional, err);
        if (rc != 0) return rc == SL_EVAL ? SL_FATAL : rc;
        if (curl_multi_add_handle(g_multi, st->easy) != CURLM_OK)
            return sl_error_set(err, SL_RETRY, "cannot start the transfer");
        rate_take(st, now, true);
        st->inflight = true;
        st->done = false;
        st->req_started = now;
        st->req_complete = complete;
        st->req_from = from;
        st->req_to = to;
    }
    multi_drive();
    if (!st->done) {
        sl_emit_pending(emit);     /* in flight: not a poll yet (src/backoff.h 4) */
        *next_ms = sl_mono_ms() + 10;
        return 0;
    }
    curl_multi_remove_handle(g_multi, st->easy);
    st->inflight = st->done = false;
    sl_arena_t *arena = sl_emit_arena(emit);
    outcome_t o;
    memset(&o, 0, sizeof o);
    o.wait_ms = -1;
    int rc;
    long status = 0;
    curl_easy_getinfo(st->easy, CURLINFO_RESPONSE_CODE, &status);
    if (st->result != CURLE_OK) {
        o.retriable = true;
        o.wait_ms = status == 429 || status == 503 ? server_wait(st->resp_hdrs.data ? st->resp_hdrs.data : "", st->resp_hdrs.len, true) : -1;
        if (st->too_big)
            sl_error_set(err, SL_RETRY, "response larger than max_body (%lld bytes)", (long long)((http_conf_t *)src->conf)->max_body);
        else
            sl_error_set(err, SL_RETRY, "%s%s%s (HTTP %ld, %zu bytes received)", curl_easy_strerror(st->result),
                         st->curl_err[0] ? ": " : "", st->curl_err, status, st->resp_body.len);
        return poll_failed(src, st, emit, &o, next_ms, err);
    }
    rc = interpret(src, st, (int)status, st->resp_hdrs.data ? st->resp_hdrs.data : "", st->resp_hdrs.len,
                   st->resp_body.data ? st->resp_body.data : "", st->resp_body.len, st->pg_mode != PG_NONE,
                   arena, &o, err);
    if (rc != 0 && o.malformed)
        return poll_malformed(src, st, emit, st->resp_body.data ? st->resp_body.data : "", st->resp_body.len,
                              NULL, next_ms, err);
    if (rc != 0) return poll_failed(src, st, emit, &o, next_ms, err);
    return poll_succeeded(src, st, emit, &o, NULL, next_ms, err);
}

/* ------------------------------------------------------------------ CLI helpers */

extern const sl_source_plugin_t sl_source_http;

bool sl_http_is_source(const sl_source_t *src) { return src && src->plugin == &sl_source_http; }

int64_t sl_http_window_days(const sl_source_t *src) {
    const http_state_t *st = src->state;
    return st && st->windowed ? st->win_days : 0;
}

/* Perform the configured request blocking (CLI only). */
static int fetch_blocking(sl_source_t *src, http_state_t *st, int64_t from, int64_t to, long *status,
                          sl_error_t *err) {
    pthread_once(&curl_once, curl_start);
    int64_t now = sl_mono_ms(), wait;
    while ((wait = rate_take(st, now, false)) > now) {
        struct timespec ts = {(wait - now) / 1000, ((wait - now) % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        now = sl_mono_ms();
    }
    rate_take(st, now, true);
    int rc = setup_request(src, st, from, to, st->cur.page, st->cur.page_is_url, false, err);
    if (rc != 0) return rc;
    CURLcode cc = curl_easy_perform(st->easy);
    *status = 0;
    curl_easy_getinfo(st->easy, CURLINFO_RESPONSE_CODE, status);
    if (cc != CURLE_OK)
        return sl_error_set(err, SL_RETRY, "%s%s%s", curl_easy_strerror(cc), st->curl_err[0] ? ": " : "", st->curl_err);
    return 0;
}

/* Push a record slot onto a heap array (CLI helper). */
static sl_record_t *push_rec(sl_record_t **v, size_t *n, size_t *cap) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        sl_record_t *nv = realloc(*v, *cap * sizeof *nv);
        if (!nv) abort();
        *v = nv;
    }
    sl_record_t *r = &(*v)[(*n)++];
    memset(r, 0, sizeof *r);
    r->partition = -1;
    r->offset = -1;
    return r;
}

/* A dead letter as sl_emit_dlq() makes it: {error, raw, source, at}. */
static void push_dlq(sl_record_t **v, size_t *n, size_t *cap, sl_arena_t *a, const sl_source_t *src,
                     const char *raw, size_t len, const char *at, const char *msg) {
    sl_record_t *d = push_rec(v, n, cap);
    d->ingest_ts = d->ts = sl_now_ms();
    d->source = src->name;
    sl_value_t env = sl_object_new(a, 4);
    sl_value_set(a, &env, "error", 5, sl_str_dup(a, msg, strlen(msg)));
    sl_value_set(a, &env, "raw", 3, sl_str_dup(a, raw, len < DLQ_RAW_MAX ? len : DLQ_RAW_MAX));
    sl_value_set(a, &env, "source", 6, sl_str(src->name, strlen(src->name)));
    sl_value_set(a, &env, "at", 2, sl_str_dup(a, at, strlen(at)));
    d->value = env;
}

int sl_http_fetch_window(sl_source_t *src, int64_t from_day, int64_t to_day, sl_arena_t *arena,
                         sl_record_t **recs, size_t *n, sl_record_t **dlq, size_t *ndlq,
                         int64_t *retry_ms, sl_error_t *err) {
    http_state_t *st = src->state;
    *recs = NULL;
    *n = 0;
    *dlq = NULL;
    *ndlq = 0;
    *retry_ms = -1;
    cursor_clear_page(&st->cur);
    size_t cap = 0, dcap = 0;
    char at[64] = "body";
    if (from_day >= 0) {
        char a[11], b[11];
        sl_http_format_day(from_day, a);
        sl_http_format_day(to_day, b);
        snprintf(at, sizeof at, "window %s..%s", a, b);
    }
    for (;;) {
        long status;
        int rc = fetch_blocking(src, st, from_day, to_day, &status, err);
        if (rc != 0) {
            cursor_clear_page(&st->cur);
            if (status == 429 || status == 503)
                *retry_ms = server_wait(st->resp_hdrs.data ? st->resp_hdrs.data : "", st->resp_hdrs.len, true);
            return rc;
        }
        outcome_t o;
        rc = interpret(src, st, (int)status, st->resp_hdrs.data ? st->resp_hdrs.data : "", st->resp_hdrs.len,
                       st->resp_body.data ? st->resp_body.data : "", st->resp_body.len, st->pg_mode != PG_NONE,
                       arena, &o, err);
        if (rc != 0 && o.malformed) {
            /* the same request gives the same body: dead-letter it, end the window */
            push_dlq(dlq, ndlq, &dcap, arena, src, st->resp_body.data ? st->resp_body.data : "",
                     st->resp_body.len, at, err->msg);
            memset(err, 0, sizeof *err);
            break;
        }
        if (rc != 0) {
            cursor_clear_page(&st->cur);
            *retry_ms = o.wait_ms;
            return rc;
        }
        int64_t ts = body_time(src, st, &o, arena);
        for (uint32_t i = 0; i < o.records.len; i++) {
            const sl_value_t *v = &o.records.u.a[i];
            if (v->type != SL_T_OBJECT && v->type != SL_T_ARRAY) {
                sl_buf_t jb = SL_BUF_INIT;
                sl_json_write(&jb, *v);
                char msg[96], where[96];
                snprintf(msg, sizeof msg, "record %u is a %s, not a JSON object", i, json_kind(v));
                snprintf(where, sizeof where, "%s records[%u]", at, i);
                push_dlq(dlq, ndlq, &dcap, arena, src, jb.data ? jb.data : "", jb.len, where, msg);
                sl_buf_free(&jb);
                continue;
            }
            sl_record_t *r = push_rec(recs, n, &cap);
            r->value = *v;
            r->ts = ts;
            r->source = src->name;
        }
        if (!o.next_page) break;
        char *p = strdup(o.next_page);
        int64_t pages = st->cur.pages + 1;
        cursor_clear_page(&st->cur);
        st->cur.page = p;
        st->cur.page_is_url = o.next_is_url;
        st->cur.pages = pages;
    }
    cursor_clear_page(&st->cur);
    return 0;
}

int sl_http_fetch_raw(sl_source_t *src, int *status, sl_buf_t *headers, sl_buf_t *body, sl_error_t *err) {
    http_state_t *st = src->state;
    int64_t from = -1, to = -1;
    if (st->windowed) {
        from = st->win_start >= 0 ? st->win_start : today_day() - st->win_days;
        to = from + st->win_days - 1;
        if (st->win_end >= 0 && to > st->win_end) to = st->win_end;
    }
    cursor_clear_page(&st->cur);
    long s = 0;
    int rc = fetch_blocking(src, st, from, to, &s, err);
    *status = (int)s;
    if (rc != 0) return rc;
    sl_buf_append(headers, st->resp_hdrs.data ? st->resp_hdrs.data : "", st->resp_hdrs.len);
    sl_buf_append(body, st->resp_body.data ? st->resp_body.data : "", st->resp_body.len);
    return 0;
}

const sl_source_plugin_t sl_source_http = {
    .abi = SL_PLUGIN_ABI,
    .name = "http",
    .description = "Polls a JSON HTTP API (libcurl, non-blocking) on `every:` or `cron:`; "
                   "`records:` picks the list from the body; incremental date windows, "
                   "pagination, rate limits, Retry-After, ETag; replays cassettes with --replay.",
    .config = http_map,
    .config_size = sizeof(http_conf_t),
    .shorthand = "url",
    .init = http_init,
    .open = http_open,
    .poll = http_poll,
    .close = http_close,
    .free = http_free,
};
