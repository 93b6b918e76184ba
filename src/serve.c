/* serve.c - the embedded HTTP server: configuration, the libmicrohttpd daemon, routing,
 * authentication (bearer token, /login cookie), CORS, the small JSON routes (/health,
 * /ready, /metrics, /api/pipeline) and the ingest endpoints.  The table API lives in
 * serve_query.c, the live tail in serve_tail.c, the parsers in serve_parse.c.
 *
 * Threads: libmicrohttpd's internal listener plus one thread per connection
 * (MHD_USE_THREAD_PER_CONNECTION).  Handlers block by design: an ingest answers only
 * after sl_runner_ingest() saw the records durable (group commit: up to the fsync
 * interval), a table query runs SQLite, a live tail waits on the journal.  In a shared
 * polling pool each of those would stall every other connection of its thread, so a
 * connection owns its thread; the count is bounded by CONNECTION_LIMIT and the idle
 * timeout.  Invariants:
 *  1. A 2xx on an ingest path means sl_runner_ingest() returned 0 (durable); any parse
 *     error rejects the whole body before anything is appended.
 *  2. Every route but /health (and /login, and CORS preflights) requires the token when
 *     one is configured; tokens are compared in constant time and never logged.
 *  3. Error bodies are {"error": "..."} and never carry SQL or internal error text.
 *  4. sl_serve_stop() returns only after every connection thread ended (MHD joins them),
 *     so nothing of the server touches the journal after it. */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "runner.h"
#include "alerts.h"
#include "serve_int.h"
#include "sha1.h"
#include "sluice/json.h"
#include "web.h"

/* ---------------------------------------------------------------- config */

static const sl_config_map_t serve_map[] = {
    {"listen", SL_CFG_STR, "127.0.0.1:8080", 0, offsetof(sl_serve_conf_t, listen), NULL,
     "HOST:PORT to listen on; loopback by default (any other address requires `token`)"},
    {"token", SL_CFG_STR, NULL, 0, offsetof(sl_serve_conf_t, token), NULL,
     "bearer token required on every route but /health (`Authorization: Bearer TOKEN`, or the cookie set by /login)"},
    {"max_body", SL_CFG_SIZE, "1MiB", 0, offsetof(sl_serve_conf_t, max_body), NULL,
     "largest request body (413 beyond)"},
    {"timeout", SL_CFG_DURATION, "30s", 0, offsetof(sl_serve_conf_t, timeout_ms), NULL,
     "close a connection idle this long; also the longest an ingest waits for durability"},
    {"cors", SL_CFG_STR, NULL, 0, offsetof(sl_serve_conf_t, cors), NULL,
     "origin allowed to call the API from a browser (Access-Control-Allow-Origin); default: no CORS headers"},
    SL_CONFIG_END};

const sl_config_map_t *const sl_serve_config_map = serve_map;

int sl_serve_conf_parse(const sl_cnode_t *node, sl_arena_t *arena, sl_serve_conf_t *out,
                        sl_diags_t *d) {
    memset(out, 0, sizeof *out);
    size_t before = d->n;
    if (node && node->kind != SL_CNODE_MAP && !sl_cnode_is_null(node)) {
        sl_diags_add(d, node->file, node->line, node->col, "'serve' must be a mapping, got a %s",
                     sl_cnode_kind_name(node->kind));
        return (int)(d->n - before);
    }
    const sl_cnode_t *block = sl_cnode_is_null(node) ? NULL : node;
    sl_config_apply(serve_map, block, out, "'serve'", arena, d);
    if (out->token && !*out->token) out->token = NULL;
    if (out->cors && !*out->cors) out->cors = NULL;
    const sl_cnode_t *at = block ? sl_cnode_get(block, "listen") : NULL;
    if (!at) at = node;
    char host[256];
    int port;
    if (out->listen && sl_http_listen_parse(out->listen, host, sizeof host, &port) != 0) {
        if (at) sl_diags_add(d, at->file, at->line, at->col,
                             "'listen' of 'serve' must be HOST:PORT (e.g. 127.0.0.1:8080), got '%s'",
                             out->listen);
    } else if (out->listen && !sl_http_host_loopback(host) && !out->token) {
        if (at) sl_diags_add(d, at->file, at->line, at->col,
                             "'serve' listens on %s, which is not a loopback address: set 'token' "
                             "(Authorization: Bearer) or listen on 127.0.0.1",
                             out->listen);
    }
    if (out->max_body <= 0 && block) {
        const sl_cnode_t *mb = sl_cnode_get(block, "max_body");
        if (mb) sl_diags_add(d, mb->file, mb->line, mb->col, "'max_body' of 'serve' must be > 0");
    }
    if (out->timeout_ms < 1000 && block) {
        const sl_cnode_t *to = sl_cnode_get(block, "timeout");
        if (to) sl_diags_add(d, to->file, to->line, to->col, "'timeout' of 'serve' must be at least 1s");
    }
    return (int)(d->n - before);
}

static bool is_ingest(const sl_source_cfg_t *s) {
    return s->inst.plugin && strcmp(s->inst.plugin->name, "ingest") == 0 && s->inst.conf;
}

bool sl_serve_wanted(const sl_pipeline_t *p) {
    if (p->serve) return true;
    for (size_t i = 0; i < p->nsources; i++)
        if (is_ingest(&p->sources[i])) return true;
    return false;
}

/* ---------------------------------------------------------------- state */

typedef struct ingest_ep {
    const char *path, *source, *token;
    int64_t max_bytes;
} ingest_ep_t;

typedef struct sl_server {
    struct MHD_Daemon *daemon;
    const sl_pipeline_t *pipe;
    sl_arena_t arena;
    sl_serve_conf_t conf;
    ingest_ep_t *eps;
    size_t neps;
    char session[41];          /* cookie value: hex sha1 of the token (never the token) */
    volatile int stopping;     /* set by sl_serve_stop: tails end, new requests get 503 */
    _Atomic int inflight;      /* requests between first call and completion (not tails) */
    _Atomic int tails;         /* live tails not yet ended (they end within 1 s of stopping) */
    int port;
} sl_server_t;

static sl_server_t *server;    /* the running server (start/stop only; handlers get cls) */

enum { R_NONE, R_HEALTH, R_READY, R_METRICS, R_PIPELINE, R_TABLES, R_TABLE, R_TAIL, R_LOGIN,
       R_INGEST, R_PREFLIGHT, R_DASHBOARD, R_ASSET, R_ALERTS };

typedef struct sl_serve_req {
    sl_server_t *srv;
    char *uri;                 /* raw request target, as received */
    sl_arena_t arena;
    sl_buf_t body;
    bool started, responded, too_big, counted, streaming;
    int route;
    const char *label;         /* route label of the metrics */
    const ingest_ep_t *ep;
    int64_t limit;
    struct MHD_Response *pending;  /* the answer, queued on the request's last call */
    bool queue_now;            /* answer before reading the body (413 by Content-Length) */
    int status;
    int64_t t0;
} sl_serve_req_t;

/* ---------------------------------------------------------------- helpers */

void sl_serve_error_json(sl_buf_t *body, const char *msg) {
    sl_buf_puts(body, "{\"error\":");
    sl_json_write_string(body, msg, strlen(msg));
    sl_buf_puts(body, "}");
}

static bool ct_equal(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < lb; i++) diff |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
    return diff == 0;
}

static void session_of(const char *token, char out[41]) {
    sl_sha1_t h;
    unsigned char dig[20];
    sl_sha1_init(&h);
    sl_sha1_update(&h, "sluice-session\n", 15);
    sl_sha1_update(&h, token, strlen(token));
    sl_sha1_final(&h, dig);
    for (int i = 0; i < 20; i++) snprintf(out + 2 * i, 3, "%02x", dig[i]);
}

static void add_common_headers(sl_server_t *srv, struct MHD_Response *resp) {
    if (srv->conf.cors) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", srv->conf.cors);
        MHD_add_response_header(resp, "Vary", "Origin");
    }
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
}

/* Keep resp as the request's answer.  It is queued on the request's last call (after
 * its body was read): an answer queued on the first call makes libmicrohttpd close
 * the connection, which would defeat keep-alive. */
static enum MHD_Result settle(sl_serve_req_t *rq, int status, struct MHD_Response *resp) {
    if (rq->pending) MHD_destroy_response(rq->pending);
    rq->pending = resp;
    rq->status = status;
    rq->responded = true;
    return MHD_YES;
}

static enum MHD_Result flush(struct MHD_Connection *c, sl_serve_req_t *rq) {
    if (!rq->pending) return MHD_NO;
    enum MHD_Result r = MHD_queue_response(c, (unsigned)rq->status, rq->pending);
    MHD_destroy_response(rq->pending);
    rq->pending = NULL;
    return r;
}

/* Answer body (copied) with status; headers: NULL-terminated name/value pairs. */
static enum MHD_Result reply_h(struct MHD_Connection *c, sl_serve_req_t *rq, int status,
                               const char *ctype, const sl_buf_t *body, const char *const *headers) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(body ? body->len : 0,
                                                                body && body->data ? body->data : (void *)"",
                                                                MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    if (ctype) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    add_common_headers(rq->srv, resp);
    for (size_t i = 0; headers && headers[i]; i += 2) MHD_add_response_header(resp, headers[i], headers[i + 1]);
    return settle(rq, status, resp);
}

static enum MHD_Result reply_json(struct MHD_Connection *c, sl_serve_req_t *rq, int status,
                                  sl_buf_t *body) {
    enum MHD_Result r = reply_h(c, rq, status, "application/json", body, NULL);
    sl_buf_free(body);
    return r;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, sl_serve_req_t *rq, int status,
                                   const char *msg) {
    sl_buf_t b = SL_BUF_INIT;
    sl_serve_error_json(&b, msg);
    const char *const unauth[] = {"WWW-Authenticate", "Bearer realm=\"sluice\"", NULL};
    const char *const retry[] = {"Retry-After", "1", NULL};
    enum MHD_Result r = reply_h(c, rq, status, "application/json", &b,
                                status == 401 ? unauth : status == 503 ? retry : NULL);
    sl_buf_free(&b);
    return r;
}

static enum MHD_Result reply_405(struct MHD_Connection *c, sl_serve_req_t *rq, const char *allow) {
    sl_buf_t b = SL_BUF_INIT;
    char msg[96];
    snprintf(msg, sizeof msg, "method not allowed (allowed: %s)", allow);
    sl_serve_error_json(&b, msg);
    const char *const h[] = {"Allow", allow, NULL};
    enum MHD_Result r = reply_h(c, rq, 405, "application/json", &b, h);
    sl_buf_free(&b);
    return r;
}

/* Bearer token or session cookie.  extra: an ingest endpoint's own token (or NULL). */
static bool authorized(sl_server_t *srv, struct MHD_Connection *c, const char *extra) {
    const char *tok = srv->conf.token;
    if (!tok && !extra) return true;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *given = auth + 7;
        while (*given == ' ') given++;
        bool ok = false;
        if (tok && ct_equal(given, tok)) ok = true;
        if (extra && ct_equal(given, extra)) ok = true;
        if (ok) return true;
    }
    if (tok) {
        const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "sluice_session");
        if (cookie && ct_equal(cookie, srv->session)) return true;
    }
    return false;
}

/* ---------------------------------------------------------------- small routes */

static enum MHD_Result do_ready(struct MHD_Connection *c, sl_serve_req_t *rq) {
    sl_buf_t st = SL_BUF_INIT, out = SL_BUF_INIT;
    if (sl_runner_status_json(&st) != 0) {
        sl_buf_free(&st);
        sl_buf_puts(&out, "{\"status\":\"starting\",\"ready\":false,\"sources\":[],\"jobs\":[]}");
        return reply_json(c, rq, 503, &out);
    }
    sl_value_t v;
    sl_json_error_t jerr;
    if (sl_json_parse(&rq->arena, st.data, st.len, &v, &jerr) != 0) {
        sl_buf_free(&st);
        return reply_error(c, rq, 500, "status unavailable");
    }
    sl_buf_free(&st);
    bool ready = true;
    sl_buf_puts(&out, ",\"sources\":[");
    const sl_value_t *srcs = sl_value_get(&v, "sources", 7);
    for (uint32_t i = 0; srcs && srcs->type == SL_T_ARRAY && i < srcs->len; i++) {
        const sl_value_t *s = &srcs->u.a[i];
        const sl_value_t *state = sl_value_get(s, "state", 5);
        if (state && state->type == SL_T_STRING && strcmp(state->u.s, "failing") == 0) ready = false;
        sl_buf_puts(&out, i ? ",{\"name\":" : "{\"name\":");
        const sl_value_t *f = sl_value_get(s, "name", 4);
        sl_json_write(&out, f ? *f : sl_null());
        sl_buf_puts(&out, ",\"type\":");
        f = sl_value_get(s, "type", 4);
        sl_json_write(&out, f ? *f : sl_null());
        sl_buf_puts(&out, ",\"state\":");
        sl_json_write(&out, state ? *state : sl_null());
        sl_buf_puts(&out, ",\"last_error\":");
        f = sl_value_get(s, "last_error", 10);
        sl_json_write(&out, f ? *f : sl_null());
        sl_buf_putc(&out, '}');
    }
    sl_buf_puts(&out, "],\"jobs\":[");
    const sl_value_t *jobs = sl_value_get(&v, "jobs", 4);
    for (uint32_t i = 0; jobs && jobs->type == SL_T_ARRAY && i < jobs->len; i++) {
        const sl_value_t *j = &jobs->u.a[i];
        const sl_value_t *state = sl_value_get(j, "state", 5);
        if (state && state->type == SL_T_STRING && strcmp(state->u.s, "retrying") == 0) ready = false;
        sl_buf_puts(&out, i ? ",{\"name\":" : "{\"name\":");
        const sl_value_t *f = sl_value_get(j, "name", 4);
        sl_json_write(&out, f ? *f : sl_null());
        sl_buf_puts(&out, ",\"state\":");
        sl_json_write(&out, state ? *state : sl_null());
        sl_buf_puts(&out, ",\"sinks\":");
        f = sl_value_get(j, "sinks", 5);
        sl_json_write(&out, f ? *f : sl_null());
        sl_buf_putc(&out, '}');
    }
    sl_buf_puts(&out, "]}");
    sl_buf_t full = SL_BUF_INIT;
    sl_buf_printf(&full, "{\"status\":\"%s\",\"ready\":%s", ready ? "ready" : "not ready",
                  ready ? "true" : "false");
    sl_buf_append(&full, out.data, out.len);
    sl_buf_free(&out);
    return reply_json(c, rq, ready ? 200 : 503, &full);
}

static const char login_form[] =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>sluice: sign in</title></head>"
    "<body style=\"font-family:sans-serif;max-width:24em;margin:4em auto\"><h1>sluice</h1>"
    "<form method=\"post\" action=\"/login\"><label>Token <input type=\"password\" name=\"token\" "
    "autofocus required></label> <button type=\"submit\">Sign in</button></form></body></html>";

static enum MHD_Result do_login_post(struct MHD_Connection *c, sl_serve_req_t *rq) {
    sl_server_t *srv = rq->srv;
    sl_qarg_t *args;
    size_t n;
    if (sl_http_query_parse(rq->body.data ? rq->body.data : "", rq->body.len, &rq->arena, &args, &n) != 0)
        return reply_error(c, rq, 400, "malformed form body");
    const char *tok = sl_http_query_get(args, n, "token");
    if (!tok || !ct_equal(tok, srv->conf.token)) return reply_error(c, rq, 401, "wrong token");
    const char *next = sl_http_query_get(args, n, "next");
    /* only a local path: never an open redirect */
    if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' || strpbrk(next, "\r\n"))
        next = "/";
    char cookie[160];
    snprintf(cookie, sizeof cookie, "sluice_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000",
             srv->session);
    const char *const h[] = {"Set-Cookie", cookie, "Location", next, NULL};
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_puts(&b, "{\"status\":\"ok\"}");
    enum MHD_Result r = reply_h(c, rq, 303, "application/json", &b, h);
    sl_buf_free(&b);
    return r;
}

/* ---------------------------------------------------------------- ingest */

static enum MHD_Result do_ingest(struct MHD_Connection *c, sl_serve_req_t *rq) {
    sl_server_t *srv = rq->srv;
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int kind = sl_http_content_kind(ct);
    sl_batch_t batch;
    sl_batch_init(&batch);
    sl_json_error_t jerr;
    memset(&jerr, 0, sizeof jerr);
    if (sl_http_ingest_parse(rq->body.data ? rq->body.data : "", rq->body.len, kind, &batch, &jerr) != 0) {
        sl_batch_free(&batch);
        sl_buf_t b = SL_BUF_INIT;
        char msg[200];
        snprintf(msg, sizeof msg, "malformed JSON: %s", jerr.reason);
        sl_buf_puts(&b, "{\"error\":");
        sl_json_write_string(&b, msg, strlen(msg));
        sl_buf_printf(&b, ",\"offset\":%zu}", jerr.offset);
        return reply_json(c, rq, 400, &b);
    }
    size_t n = batch.n;
    sl_error_t err = {0};
    int rc = n ? sl_runner_ingest(rq->ep->source, &batch, srv->conf.timeout_ms, &err) : 0;
    sl_batch_free(&batch);
    if (rc == 0) {
        sl_buf_t b = SL_BUF_INIT;
        sl_buf_printf(&b, "{\"accepted\":%zu}", n);
        return reply_json(c, rq, 202, &b);
    }
    sl_warn("serve: ingest %s (source %s): %s", rq->ep->path, rq->ep->source, err.msg);
    if (rc == SL_EVAL) return reply_error(c, rq, 400, err.msg);  /* key/ts expression vs the record */
    if (rc == SL_NOTFOUND) return reply_error(c, rq, 404, "no such ingest source");
    if (rc == SL_RETRY) return reply_error(c, rq, 503, "not durable yet: retry");
    return reply_error(c, rq, 500, "the record could not be stored");
}

/* ---------------------------------------------------------------- routing */

static const ingest_ep_t *find_ep(sl_server_t *srv, const char *path, size_t len) {
    for (size_t i = 0; i < srv->neps; i++)
        if (strlen(srv->eps[i].path) == len && memcmp(srv->eps[i].path, path, len) == 0) return &srv->eps[i];
    return NULL;
}

static bool path_is(const char *path, size_t len, const char *lit) {
    return strlen(lit) == len && memcmp(path, lit, len) == 0;
}

/* First call of a request: route, check method and auth.  Returns MHD_YES having
 * either answered (rq->responded) or prepared to read a body. */
static enum MHD_Result start_request(struct MHD_Connection *c, sl_serve_req_t *rq, const char *method) {
    sl_server_t *srv = rq->srv;
    const char *uri = rq->uri ? rq->uri : "/";
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    const char *query = q ? q + 1 : "";
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    rq->label = "other";
    if (srv->stopping) return reply_error(c, rq, 503, "shutting down");
    if (strcmp(method, "OPTIONS") == 0 && srv->conf.cors) {
        rq->route = R_PREFLIGHT;
        rq->label = "preflight";
        const char *const h[] = {"Access-Control-Allow-Methods", "GET, POST, OPTIONS",
                                 "Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID",
                                 "Access-Control-Max-Age", "600", NULL};
        return reply_h(c, rq, 204, NULL, NULL, h);
    }
    const ingest_ep_t *ep = find_ep(srv, uri, plen);
    const sl_web_asset_t *asset = NULL;
    if (ep) {
        rq->route = R_INGEST;
        rq->label = ep->path;
        rq->ep = ep;
        if (!post) return reply_405(c, rq, "POST");
        if (!authorized(srv, c, ep->token)) return reply_error(c, rq, 401, "missing or wrong bearer token");
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        int kind = sl_http_content_kind(ct);
        if (kind != SL_CT_JSON && kind != SL_CT_NDJSON)
            return reply_error(c, rq, 415, "Content-Type must be application/json or application/x-ndjson");
        rq->limit = ep->max_bytes > 0 ? ep->max_bytes : srv->conf.max_body;
    } else if (path_is(uri, plen, "/health")) {
        rq->route = R_HEALTH;
        rq->label = "/health";
    } else if (path_is(uri, plen, "/login")) {
        rq->route = R_LOGIN;
        rq->label = "/login";
        if (!srv->conf.token) return reply_error(c, rq, 404, "no token is configured: nothing to sign in to");
        if (get) {
            sl_buf_t b = SL_BUF_INIT;
            sl_buf_puts(&b, login_form);
            enum MHD_Result r = reply_h(c, rq, 200, "text/html; charset=utf-8", &b, NULL);
            sl_buf_free(&b);
            return r;
        }
        if (!post) return reply_405(c, rq, "GET, POST");
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (sl_http_content_kind(ct) != SL_CT_FORM)
            return reply_error(c, rq, 415, "Content-Type must be application/x-www-form-urlencoded");
        rq->limit = 4096;
    } else if (path_is(uri, plen, "/ready")) {
        rq->route = R_READY;
        rq->label = "/ready";
    } else if (path_is(uri, plen, "/metrics")) {
        rq->route = R_METRICS;
        rq->label = "/metrics";
    } else if (path_is(uri, plen, "/api/pipeline")) {
        rq->route = R_PIPELINE;
        rq->label = "/api/pipeline";
    } else if (path_is(uri, plen, "/api/tables")) {
        rq->route = R_TABLES;
        rq->label = "/api/tables";
    } else if (plen > 12 && strncmp(uri, "/api/tables/", 12) == 0) {
        rq->route = R_TABLE;
        rq->label = "/api/tables/:name";
    } else if (plen > 10 && strncmp(uri, "/api/tail/", 10) == 0) {
        rq->route = R_TAIL;
        rq->label = "/api/tail/:topic";
    } else if (path_is(uri, plen, "/api/dashboard")) {
        rq->route = R_DASHBOARD;
        rq->label = "/api/dashboard";
    } else if (path_is(uri, plen, "/api/alerts")) {
        rq->route = R_ALERTS;
        rq->label = "/api/alerts";
    } else if ((asset = sl_web_asset_find(sl_arena_strndup(&rq->arena, uri, plen))) != NULL) {
        rq->route = R_ASSET;
        rq->label = "asset";
    } else {
        return reply_error(c, rq, 404, "no such route");
    }
    if (rq->route == R_INGEST || rq->route == R_LOGIN) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno == 0 && *end == 0 && v > (unsigned long long)rq->limit) {
                rq->queue_now = true;  /* do not read what will be refused */
                return reply_error(c, rq, 413, "request body too large");
            }
        }
        return MHD_YES;  /* read the body */
    }
    if (!get) return reply_405(c, rq, "GET");
    if (rq->route != R_HEALTH && !authorized(srv, c, NULL)) {
        const char *ct = asset ? asset->content_type : "";
        if (strncmp(ct, "text/html", 9) == 0) {
            /* a browser opening the dashboard: to the sign-in form */
            const char *const h[] = {"Location", "/login", NULL};
            return reply_h(c, rq, 303, NULL, NULL, h);
        }
        return reply_error(c, rq, 401, "missing or wrong bearer token");
    }
    sl_buf_t b = SL_BUF_INIT;
    switch (rq->route) {
    case R_HEALTH: {
        /* still serving (200), but say so when the journal lost or skipped data */
        int dmg = sl_runner_journal ? sl_journal_damages(sl_runner_journal) : 0;
        if (dmg) sl_buf_printf(&b, "{\"status\":\"degraded\",\"journal_damages\":%d}", dmg);
        else sl_buf_puts(&b, "{\"status\":\"ok\"}");
        return reply_json(c, rq, 200, &b);
    }
    case R_READY:
        return do_ready(c, rq);
    case R_METRICS: {
        sl_metrics_write(&b);
        enum MHD_Result r = reply_h(c, rq, 200, "text/plain; version=0.0.4; charset=utf-8", &b, NULL);
        sl_buf_free(&b);
        return r;
    }
    case R_DASHBOARD:
        sl_dashboard_json(srv->pipe, &b);
        return reply_json(c, rq, 200, &b);
    case R_ASSET: {
        const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
        const char *const h[] = {"ETag", asset->etag, NULL};
        if (inm && asset->etag && strcmp(inm, asset->etag) == 0) return reply_h(c, rq, 304, NULL, NULL, h);
        struct MHD_Response *resp = MHD_create_response_from_buffer(asset->len, (void *)asset->data,
                                                                    MHD_RESPMEM_PERSISTENT);
        if (!resp) return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, asset->content_type);
        if (asset->etag) MHD_add_response_header(resp, "ETag", asset->etag);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        return settle(rq, 200, resp);
    }
    case R_ALERTS:
        if (sl_alerts_history_json(srv->pipe, &b) != 0) {
            sl_buf_free(&b);
            return reply_error(c, rq, 500, "cannot read the alert history");
        }
        return reply_json(c, rq, 200, &b);
    case R_PIPELINE:
        if (sl_runner_status_json(&b) != 0) {
            sl_buf_free(&b);
            return reply_error(c, rq, 503, "the pipeline is not running");
        }
        return reply_json(c, rq, 200, &b);
    case R_TABLES: {
        int status = sl_serve_tables_list(srv->pipe, &b);
        return reply_json(c, rq, status, &b);
    }
    case R_TABLE: {
        char *name = sl_http_segment_decode(uri + 12, plen - 12, &rq->arena);
        if (!name) return reply_error(c, rq, 400, "malformed table name");
        sl_qarg_t *args;
        size_t n;
        if (sl_http_query_parse(query, strlen(query), &rq->arena, &args, &n) != 0)
            return reply_error(c, rq, 400, "malformed query string");
        int status = sl_serve_table_get(srv->pipe, name, args, n, &rq->arena, &b);
        return reply_json(c, rq, status, &b);
    }
    case R_TAIL: {
        char *topic = sl_http_segment_decode(uri + 10, plen - 10, &rq->arena);
        if (!topic) return reply_error(c, rq, 400, "malformed topic name");
        sl_qarg_t *args;
        size_t n;
        if (sl_http_query_parse(query, strlen(query), &rq->arena, &args, &n) != 0)
            return reply_error(c, rq, 400, "malformed query string");
        const char *from = sl_http_query_get(args, n, "from");
        if (from && strcmp(from, "start") != 0 && strcmp(from, "end") != 0)
            return reply_error(c, rq, 400, "'from' must be start or end");
        const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_LAST_EVENT_ID);
        int64_t hb = srv->conf.timeout_ms / 2 < 15000 ? srv->conf.timeout_ms / 2 : 15000;
        int status = 0;
        struct MHD_Response *resp = sl_serve_tail_response(topic, last, from && strcmp(from, "start") == 0,
                                                           hb, &srv->stopping, &srv->tails, &status, &b);
        if (!resp) return reply_json(c, rq, status, &b);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
        add_common_headers(srv, resp);
        rq->streaming = true;
        atomic_fetch_sub(&srv->inflight, 1);  /* a tail does not hold up shutdown */
        return settle(rq, 200, resp);
    }
    default:
        sl_buf_free(&b);
        return reply_error(c, rq, 404, "no such route");
    }
}

/* Thread: a connection's. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    (void)url;
    (void)version;
    sl_serve_req_t *rq = *con_cls;
    if (!rq) return MHD_NO;
    if (!rq->started) {
        rq->started = true;
        rq->srv = cls;
        atomic_fetch_add(&rq->srv->inflight, 1);
        enum MHD_Result r = start_request(c, rq, method);
        if (rq->pending && rq->queue_now) return flush(c, rq);
        return r;
    }
    if (*upload_size) {
        if (!rq->responded) {
            if (rq->body.len + *upload_size > (size_t)rq->limit) rq->too_big = true;
            else sl_buf_append(&rq->body, upload, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (!rq->responded) {
        if (rq->too_big) reply_error(c, rq, 413, "request body too large");
        else if (rq->route == R_INGEST) do_ingest(c, rq);
        else if (rq->route == R_LOGIN) do_login_post(c, rq);
        else reply_error(c, rq, 404, "no such route");
    }
    return flush(c, rq);
}

/* Thread: the connection's.  Called once per request with the raw target, before its
 * headers are parsed: the request's state starts here. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls;
    (void)c;
    sl_serve_req_t *rq = calloc(1, sizeof *rq);
    if (!rq) return NULL;
    rq->uri = strdup(uri ? uri : "/");
    sl_arena_init(&rq->arena, 4096);
    rq->t0 = sl_mono_ms();
    return rq;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    (void)toe;
    sl_server_t *srv = cls;
    sl_serve_req_t *rq = *con_cls;
    if (!rq) return;
    *con_cls = NULL;
    if (rq->started && !rq->streaming) atomic_fetch_sub(&srv->inflight, 1);
    if (rq->pending) MHD_destroy_response(rq->pending);
    if (rq->started && rq->status) {
        sl_buf_t l = SL_BUF_INIT;
        char code[16];
        snprintf(code, sizeof code, "%d", rq->status);
        sl_metrics_label(&l, "route", rq->label ? rq->label : "other");
        sl_metric_t *h = sl_metric_histogram("sluice_http_request_duration_seconds",
                                             "Time to answer an HTTP request (a live tail: its whole life).",
                                             l.data);
        sl_metric_observe(h, (double)(sl_mono_ms() - rq->t0) / 1000.0);
        sl_metrics_label(&l, "code", code);
        sl_metric_add(sl_metric_counter("sluice_http_requests_total", "HTTP requests answered, per route and status.",
                                        l.data), 1);
        sl_buf_free(&l);
    }
    free(rq->uri);
    sl_buf_free(&rq->body);
    sl_arena_free(&rq->arena);
    free(rq);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    sl_debug("serve: %s", msg);
}

/* ---------------------------------------------------------------- start/stop */

static const char *const reserved[] = {"/health", "/ready", "/metrics", "/login", "/api", NULL};

static int collect_eps(sl_server_t *srv, sl_error_t *err) {
    const sl_pipeline_t *p = srv->pipe;
    srv->eps = sl_arena_calloc(&srv->arena, (p->nsources ? p->nsources : 1) * sizeof *srv->eps);
    for (size_t i = 0; i < p->nsources; i++) {
        if (!is_ingest(&p->sources[i])) continue;
        const sl_serve_ingest_conf_t *ic = p->sources[i].inst.conf;
        if (!ic->path) continue;
        for (size_t k = 0; k < srv->neps; k++)
            if (strcmp(srv->eps[k].path, ic->path) == 0)
                return sl_error_set(err, SL_CONFIG, "sources '%s' and '%s' both ingest on %s",
                                    srv->eps[k].source, p->sources[i].name, ic->path);
        for (size_t k = 0; reserved[k]; k++) {
            size_t rl = strlen(reserved[k]);
            if (strncmp(ic->path, reserved[k], rl) == 0 && (ic->path[rl] == 0 || ic->path[rl] == '/'))
                return sl_error_set(err, SL_CONFIG, "source '%s': ingest path %s is a built-in route",
                                    p->sources[i].name, ic->path);
        }
        ingest_ep_t *ep = &srv->eps[srv->neps++];
        ep->path = ic->path;
        ep->source = p->sources[i].name;
        ep->token = ic->token && *ic->token ? ic->token : NULL;
        ep->max_bytes = ic->max_bytes;
    }
    return 0;
}

int sl_serve_start(const sl_pipeline_t *p, sl_error_t *err) {
    if (server) return sl_error_set(err, SL_USAGE, "the HTTP server is already running");
    sl_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) return sl_error_set(err, SL_NOMEM, "out of memory");
    srv->pipe = p;
    atomic_init(&srv->inflight, 0);
    atomic_init(&srv->tails, 0);
    sl_arena_init(&srv->arena, 4096);
    sl_diags_t d = {0};
    int bad = sl_serve_conf_parse(p->serve, &srv->arena, &srv->conf, &d);
    if (bad) sl_error_set(err, SL_CONFIG, "%s", d.items[0].msg);
    sl_diags_free(&d);
    if (!bad && collect_eps(srv, err) != 0) bad = 1;
    char host[256];
    int port = 0;
    if (!bad && sl_http_listen_parse(srv->conf.listen, host, sizeof host, &port) != 0) {
        sl_error_set(err, SL_CONFIG, "bad listen address '%s'", srv->conf.listen);
        bad = 1;
    }
    if (bad) {
        sl_arena_free(&srv->arena);
        free(srv);
        return SL_CONFIG;
    }
    if (srv->conf.token) session_of(srv->conf.token, srv->session);
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr *sa = NULL;
    {
        /* ":PORT" = every IPv4 interface ("[::]:PORT" for IPv6): predictable on hosts
         * without IPv6, where a dual-stack socket cannot be made */
        const char *h = !*host ? "0.0.0.0" : strcasecmp(host, "localhost") == 0 ? "127.0.0.1" : host;
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        int grc = getaddrinfo(h, NULL, &hints, &res);
        if (grc != 0 || !res) {
            sl_error_set(err, SL_CONFIG, "cannot resolve listen host '%s': %s", host, gai_strerror(grc));
            sl_arena_free(&srv->arena);
            free(srv);
            return SL_CONFIG;
        }
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        freeaddrinfo(res);
        if (ss.ss_family == AF_INET6) {
            flags |= MHD_USE_IPv6;
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        } else {
            ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        }
        sa = (struct sockaddr *)&ss;
    }
    unsigned timeout_s = (unsigned)(srv->conf.timeout_ms / 1000);
    if (timeout_s < 1) timeout_s = 1;
    errno = 0;
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, srv,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)128,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1 << 20),
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        sa ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, sa,
        MHD_OPTION_END);
    if (!srv->daemon) {
        int e = errno;
        sl_error_set(err, SL_IO, "cannot listen on %s: %s", srv->conf.listen,
                     e ? strerror(e) : "address in use or not available");
        sl_arena_free(&srv->arena);
        free(srv);
        return SL_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : port;
    server = srv;
    sl_info("serve: listening on http://%s%s%s:%d/%s%s", strchr(host, ':') ? "[" : "", *host ? host : "0.0.0.0",
            strchr(host, ':') ? "]" : "", srv->port, srv->conf.token ? " (token required)" : "",
            srv->neps ? " with ingest endpoints" : "");
    return 0;
}

void sl_serve_stop(void) {
    sl_server_t *srv = server;
    if (!srv) return;
    srv->stopping = 1;
    /* stop accepting, then let requests in flight finish and tails send their last
     * chunk (a few seconds at most) */
    MHD_socket ls = MHD_quiesce_daemon(srv->daemon);
    int64_t until = sl_mono_ms() + 5000;
    while ((atomic_load(&srv->inflight) > 0 || atomic_load(&srv->tails) > 0) && sl_mono_ms() < until) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&srv->tails) == 0) {
        struct timespec ts = {0, 50 * 1000000L};  /* let the last chunks go out */
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(srv->daemon);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    server = NULL;
    sl_arena_free(&srv->arena);
    free(srv);
    sl_info("serve: stopped");
}

int sl_serve_port(void) { return server ? server->port : 0; }
