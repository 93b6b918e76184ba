/* serve.c - the embedded HTTP server: configuration, the libmicrohttpd daemon, routing,
 * authentication (bearer token, /login sessions and their throttle), connection limits
 * against slow and greedy clients, CORS, the small JSON routes (/health, /ready,
 * /metrics, /api/pipeline) and the ingest endpoints.  The table API lives in
 * serve_query.c, the live tail in serve_tail.c, the parsers in serve_parse.c.
 *
 * Threads: libmicrohttpd's internal listener plus one thread per connection
 * (MHD_USE_THREAD_PER_CONNECTION), and the watchdog.  Handlers block by design: an
 * ingest answers only after sl_runner_ingest() saw the records durable (group commit:
 * up to the fsync interval), a table query runs SQLite, a live tail waits on the
 * journal.  In a shared polling pool each of those would stall every other connection
 * of its thread, so a connection owns its thread.  Connection states (sl_serve_conn_t):
 *
 *    STARTED --(request line, headers, body arrive)--> ANSWERING --(response sent)--+
 *       |  deadline: request_timeout (2 s when `over`)    no deadline (ingest,       |
 *       |                                                 query, live tail)          |
 *       +<----------------- keep-alive: a new deadline ----------------------------+
 *       +--(deadline passed)--> cut by the watchdog (shutdown) --> CLOSED
 *
 * Invariants:
 *  1. A 2xx on an ingest path means sl_runner_ingest() returned 0 (durable); any parse
 *     error, or a record that is not a JSON object, rejects the whole body before
 *     anything is appended.
 *  2. Every route but /health (and /login, /logout, and CORS preflights) requires the
 *     token when one is configured; tokens and session ids are compared in constant
 *     time and never logged.  A session is 32 random bytes, lives session_ttl, and ends
 *     on logout or restart; after SL_LOGIN_FREE_TRIES wrong tokens an address's /login
 *     attempts are answered 429 unchecked until its block has passed.
 *  3. Error bodies are {"error": "..."} and never carry SQL or internal error text.
 *  4. sl_serve_stop() returns only after every connection thread ended (MHD joins them),
 *     so nothing of the server touches the journal after it.
 *  5. Every request that arrives whole is answered: past max_connections_per_client for
 *     its address or past 7/8 of max_connections, with 503 + Retry-After (its body read
 *     and dropped, so the client sees it) and the connection closed; /health and /ready
 *     are answered regardless.  Only connections past max_connections, or past half of
 *     it from one address, are closed at accept unanswered (counted).
 *  6. No connection waits longer than request_timeout for a whole request: the watchdog
 *     shuts down its socket, under srv->lock, which CLOSED also takes before MHD closes
 *     the fd (so the fd it shuts down is never another's). */
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
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "runner.h"
#include "alerts.h"
#include "serve_int.h"
#include "sluice/json.h"
#include "web.h"

/* ---------------------------------------------------------------- config */

static const sl_config_map_t serve_map[] = {
    {"listen", SL_CFG_STR, "127.0.0.1:8080", 0, offsetof(sl_serve_conf_t, listen), NULL,
     "HOST:PORT to listen on; loopback by default (any other address requires `token`)"},
    {"token", SL_CFG_STR, NULL, 0, offsetof(sl_serve_conf_t, token), NULL,
     "bearer token required on every route but /health (`Authorization: Bearer TOKEN`, or the session cookie set by POST /login; POST /logout ends it)"},
    {"max_body", SL_CFG_SIZE, "1MiB", 0, offsetof(sl_serve_conf_t, max_body), NULL,
     "largest request body (413 beyond)"},
    {"timeout", SL_CFG_DURATION, "30s", 0, offsetof(sl_serve_conf_t, timeout_ms), NULL,
     "close a connection idle this long; also the longest an ingest waits for durability"},
    {"cors", SL_CFG_STR, NULL, 0, offsetof(sl_serve_conf_t, cors), NULL,
     "origin allowed to call the API from a browser (Access-Control-Allow-Origin); default: no CORS headers"},
    {"max_connections", SL_CFG_INT, "1024", 0, offsetof(sl_serve_conf_t, max_conns), NULL,
     "connections open at once; past 7/8 of it (or past max_connections_per_client) a request is answered "
     "503 with Retry-After (/health and /ready are still answered); one address never holds more than half"},
    {"max_connections_per_client", SL_CFG_INT, "256", 0, offsetof(sl_serve_conf_t, max_conns_client), NULL,
     "connections one client address may have served at once; more are answered 503 with Retry-After and "
     "closed, and get 2 s to send their request"},
    {"request_timeout", SL_CFG_DURATION, "30s", 0, offsetof(sl_serve_conf_t, request_timeout_ms), NULL,
     "a whole request (line, headers and body) must arrive within this time of the connection opening or "
     "of its previous answer, or the connection is closed (slow clients; idle keep-alive connections)"},
    {"session_ttl", SL_CFG_DURATION, "12h", 0, offsetof(sl_serve_conf_t, session_ttl_ms), NULL,
     "lifetime of a /login session (a random id, forgotten on restart and on POST /logout)"},
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
    static const struct { const char *key; int64_t min, max; size_t off; const char *unit; } lim[] = {
        {"max_connections", 16, 60000, offsetof(sl_serve_conf_t, max_conns), ""},
        {"max_connections_per_client", 1, 60000, offsetof(sl_serve_conf_t, max_conns_client), ""},
        {"request_timeout", 1000, 3600000, offsetof(sl_serve_conf_t, request_timeout_ms), " ms"},
        {"session_ttl", 1000, 366LL * 86400000, offsetof(sl_serve_conf_t, session_ttl_ms), " ms"},
    };
    for (size_t i = 0; block && i < sizeof lim / sizeof lim[0]; i++) {
        int64_t v = *(int64_t *)((char *)out + lim[i].off);
        const sl_cnode_t *at_k = sl_cnode_get(block, lim[i].key);
        if (at_k && (v < lim[i].min || v > lim[i].max))
            sl_diags_add(d, at_k->file, at_k->line, at_k->col, "'%s' of 'serve' must be %lld..%lld%s",
                         lim[i].key, (long long)lim[i].min, (long long)lim[i].max, lim[i].unit);
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

/* One open connection, from MHD's NOTIFY_CONNECTION STARTED to CLOSED (its socket
 * context).  Owned by the server; on srv->conns under conns_lock, where the watchdog
 * reads it. */
typedef struct sl_serve_conn {
    struct sl_serve_conn *prev, *next;
    int fd;                    /* valid until CLOSED (MHD closes it after notifying) */
    unsigned char addr[16];    /* the client address (4 bytes IPv4, 16 IPv6) */
    unsigned addrlen;
    int64_t deadline;          /* mono ms by which a whole request must have arrived; 0 = a
                                * request is being answered (or streamed): no deadline */
    bool over;                 /* opened past a limit: 503 + close (but /health, /ready) */
    bool cut;                  /* shut down by the watchdog */
} sl_serve_conn_t;

#define SL_OVER_GRACE_MS 2000        /* time an over-limit connection gets to send its request */

typedef struct sl_server {
    struct MHD_Daemon *daemon;
    const sl_pipeline_t *pipe;
    sl_arena_t arena;
    sl_serve_conf_t conf;
    ingest_ep_t *eps;
    size_t neps;
    pthread_mutex_t lock;      /* conns, nconns, fails, sessions */
    pthread_cond_t wake;       /* wakes the watchdog to stop */
    pthread_t watchdog;
    bool watchdog_on, watchdog_stop;
    sl_serve_conn_t *conns;    /* open connections */
    int nconns;
    int soft_max;              /* past this many open connections, new ones are `over` */
    int64_t over_logged;       /* mono ms of the last "busy" warning */
    sl_login_fail_t fails[SL_LOGIN_FAILS_MAX];  /* the /login throttle */
    sl_session_t sessions[SL_SESSIONS_MAX];     /* /login sessions: gone on restart */
    volatile int stopping;     /* set by sl_serve_stop: tails end, new requests get 503 */
    _Atomic int inflight;      /* requests between first call and completion (not tails) */
    _Atomic int tails;         /* live tails not yet ended (they end within 1 s of stopping) */
    int port;
} sl_server_t;

static sl_server_t *server;    /* the running server (start/stop only; handlers get cls) */

enum { R_NONE, R_HEALTH, R_READY, R_METRICS, R_PIPELINE, R_TABLES, R_TABLE, R_TAIL, R_LOGIN, R_LOGOUT,
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
        if (cookie) {
            pthread_mutex_lock(&srv->lock);
            bool ok = sl_session_valid(srv->sessions, SL_SESSIONS_MAX, cookie, sl_mono_ms());
            pthread_mutex_unlock(&srv->lock);
            if (ok) return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------- connections */

/* The client address of c as bytes (IPv4-mapped IPv6 folded to IPv4).  0 = unknown. */
static unsigned client_addr(struct MHD_Connection *c, unsigned char out[16]) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return 0;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 4;
    }
    if (sa->sa_family == AF_INET6) {
        const unsigned char *a6 = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a6, mapped, 12) == 0) {
            memcpy(out, a6 + 12, 4);
            return 4;
        }
        memcpy(out, a6, 16);
        return 16;
    }
    return 0;
}

static sl_serve_conn_t *conn_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* A whole request must now arrive by now + the limit (0: a request is being answered). */
static void conn_expect_request(sl_server_t *srv, sl_serve_conn_t *conn, bool expect) {
    if (!conn) return;
    pthread_mutex_lock(&srv->lock);
    conn->deadline = !expect ? 0
                     : sl_mono_ms() + (conn->over && srv->conf.request_timeout_ms > SL_OVER_GRACE_MS
                                           ? SL_OVER_GRACE_MS
                                           : srv->conf.request_timeout_ms);
    pthread_mutex_unlock(&srv->lock);
}

/* Thread: MHD's listener (STARTED) or the connection's (CLOSED). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    sl_server_t *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        sl_serve_conn_t *conn = calloc(1, sizeof *conn);
        if (!conn) return;  /* unguarded but served: limits are best effort without memory */
        const union MHD_ConnectionInfo *fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn->fd = fi ? fi->connect_fd : -1;
        conn->addrlen = client_addr(c, conn->addr);
        pthread_mutex_lock(&srv->lock);
        int same = 0;
        for (sl_serve_conn_t *o = srv->conns; o; o = o->next)
            if (o->addrlen == conn->addrlen && memcmp(o->addr, conn->addr, conn->addrlen) == 0) same++;
        conn->over = same >= srv->conf.max_conns_client || srv->nconns >= srv->soft_max;
        conn->next = srv->conns;
        if (srv->conns) srv->conns->prev = conn;
        srv->conns = conn;
        int open = ++srv->nconns;
        bool say = conn->over && sl_mono_ms() >= srv->over_logged + 10000;
        if (say) srv->over_logged = sl_mono_ms();
        pthread_mutex_unlock(&srv->lock);
        if (say) {  /* at most every 10 s: a flood must not flood the log too */
            char ip[INET6_ADDRSTRLEN] = "?";
            if (conn->addrlen) inet_ntop(conn->addrlen == 4 ? AF_INET : AF_INET6, conn->addr, ip, sizeof ip);
            sl_warn("serve: busy: %d connections open, %d from %s (limits: %lld in all, %lld per address): "
                    "requests on new connections are answered 503",
                    open, same + 1, ip, (long long)srv->conf.max_conns, (long long)srv->conf.max_conns_client);
        }
        conn_expect_request(srv, conn, true);
        *socket_context = conn;
        sl_metric_set(sl_metric_gauge("sluice_http_connections", "HTTP connections open.", NULL), open);
        return;
    }
    sl_serve_conn_t *conn = *socket_context;
    if (!conn) return;
    *socket_context = NULL;
    pthread_mutex_lock(&srv->lock);
    if (conn->prev) conn->prev->next = conn->next;
    else srv->conns = conn->next;
    if (conn->next) conn->next->prev = conn->prev;
    int open = --srv->nconns;
    pthread_mutex_unlock(&srv->lock);
    free(conn);
    sl_metric_set(sl_metric_gauge("sluice_http_connections", "HTTP connections open.", NULL), open);
}

/* Thread: the server's watchdog.  Shuts down every connection whose request has not
 * arrived whole by its deadline (a slowloris trickling bytes is never idle, so MHD's
 * idle timeout alone does not end it).  shutdown() wakes the connection's thread, which
 * reads EOF and closes it through MHD as usual; the fd is still open because CLOSED
 * (which unlinks the connection under the same lock) comes before MHD closes it. */
static void *watchdog_main(void *arg) {
    sl_server_t *srv = arg;
    sl_metric_t *cut_m = sl_metric_counter(
        "sluice_http_connections_cut_total",
        "Connections closed because a whole request did not arrive within serve.request_timeout "
        "(2 s for connections past a limit): slow or stalled clients.",
        NULL);
    pthread_mutex_lock(&srv->lock);
    while (!srv->watchdog_stop) {
        int64_t now = sl_mono_ms();
        int cut = 0;
        for (sl_serve_conn_t *conn = srv->conns; conn; conn = conn->next) {
            if (conn->cut || !conn->deadline || now < conn->deadline || conn->fd < 0) continue;
            conn->cut = true;
            shutdown(conn->fd, SHUT_RDWR);
            cut++;
        }
        if (cut) {
            sl_metric_add(cut_m, cut);
            sl_info("serve: closed %d connection%s that sent no whole request in time (slow clients)", cut,
                    cut == 1 ? "" : "s");
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&srv->wake, &srv->lock, &ts);
    }
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

/* The answer to a request on an `over` connection: 503, try again later, and close. */
static enum MHD_Result reply_busy(struct MHD_Connection *c, sl_serve_req_t *rq) {
    sl_buf_t b = SL_BUF_INIT;
    sl_serve_error_json(&b, "busy: too many connections (from this address or in all); retry later");
    const char *const h[] = {"Retry-After", "1", "Connection", "close", NULL};
    enum MHD_Result r = reply_h(c, rq, 503, "application/json", &b, h);
    sl_buf_free(&b);
    sl_metric_add(sl_metric_counter("sluice_http_busy_total",
                                    "Requests answered 503 (Retry-After) because their connection was past "
                                    "max_connections_per_client or 7/8 of max_connections.",
                                    NULL),
                  1);
    return r;
}

/* ---------------------------------------------------------------- login throttle, sessions */

static sl_login_fail_t *login_find(const sl_login_fail_t *tab, size_t n, const unsigned char *addr,
                                   unsigned len) {
    for (size_t i = 0; len && i < n; i++)
        if (tab[i].addrlen == len && memcmp(tab[i].addr, addr, len) == 0) return (sl_login_fail_t *)&tab[i];
    return NULL;
}

int64_t sl_login_wait(const sl_login_fail_t *tab, size_t n, const unsigned char *addr, unsigned len,
                      int64_t now) {
    const sl_login_fail_t *f = login_find(tab, n, addr, len);
    return f && f->blocked_until > now ? f->blocked_until - now : 0;
}

int64_t sl_login_note(sl_login_fail_t *tab, size_t n, const unsigned char *addr, unsigned len, bool ok,
                      int64_t now) {
    sl_login_fail_t *f = login_find(tab, n, addr, len);
    if (ok || !len) {
        if (f) memset(f, 0, sizeof *f);
        return 0;
    }
    if (!f) {  /* a free slot, else the least recent address */
        f = &tab[0];
        for (size_t i = 0; i < n; i++) {
            if (!tab[i].addrlen) {
                f = &tab[i];
                break;
            }
            if (tab[i].last_ms < f->last_ms) f = &tab[i];
        }
        memset(f, 0, sizeof *f);
        memcpy(f->addr, addr, len);
        f->addrlen = len;
    }
    if (f->fails && now - f->last_ms > SL_LOGIN_FORGET_MS) f->fails = 0;
    f->fails++;
    f->last_ms = now;
    if (f->fails < SL_LOGIN_FREE_TRIES) return 0;
    int shift = f->fails - SL_LOGIN_FREE_TRIES;
    int64_t block = shift >= 9 ? SL_LOGIN_BLOCK_MAX_MS : (int64_t)1000 << shift;
    if (block > SL_LOGIN_BLOCK_MAX_MS) block = SL_LOGIN_BLOCK_MAX_MS;
    f->blocked_until = now + block;
    return block;
}

int sl_session_new(sl_session_t *tab, size_t n, int64_t ttl_ms, int64_t now, char out[65]) {
    unsigned char rnd[32];
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t r = getrandom(rnd + got, sizeof rnd - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return SL_IO;
        got += (size_t)r;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof rnd; i++) {
        out[2 * i] = hex[rnd[i] >> 4];
        out[2 * i + 1] = hex[rnd[i] & 15];
    }
    out[64] = 0;
    sl_session_t *slot = &tab[0];  /* a free or expired slot, else the one expiring first */
    for (size_t i = 0; i < n; i++) {
        if (!tab[i].id[0] || tab[i].expires <= now) {
            slot = &tab[i];
            break;
        }
        if (tab[i].expires < slot->expires) slot = &tab[i];
    }
    memcpy(slot->id, out, 65);
    slot->expires = now + ttl_ms;
    return 0;
}

bool sl_session_valid(sl_session_t *tab, size_t n, const char *id, int64_t now) {
    if (!id || strlen(id) != 64) return false;
    bool ok = false;
    for (size_t i = 0; i < n; i++) {
        if (!tab[i].id[0] || !ct_equal(id, tab[i].id)) continue;
        if (tab[i].expires > now) ok = true;
        else memset(&tab[i], 0, sizeof tab[i]);
    }
    return ok;
}

void sl_session_end(sl_session_t *tab, size_t n, const char *id) {
    if (!id || strlen(id) != 64) return;
    for (size_t i = 0; i < n; i++)
        if (tab[i].id[0] && ct_equal(id, tab[i].id)) memset(&tab[i], 0, sizeof tab[i]);
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

/* Content-Security-Policy as a header (a <meta> cannot say frame-ancestors): the
 * dashboard's pages load only their own files; the sign-in form has one inline style. */
static const char csp_pages[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
static const char csp_login[] =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

static const char login_form[] =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>sluice: sign in</title></head>"
    "<body style=\"font-family:sans-serif;max-width:24em;margin:4em auto\"><h1>sluice</h1>"
    "<form method=\"post\" action=\"/login\"><label>Token <input type=\"password\" name=\"token\" "
    "autofocus required></label> <button type=\"submit\">Sign in</button></form></body></html>";

/* Thread: a connection's.  Wrong tokens are throttled per client address: after
 * SL_LOGIN_FREE_TRIES, attempts are answered 429 (Retry-After) without being checked
 * until the block (1 s, doubling, at most 5 min) has passed. */
static enum MHD_Result do_login_post(struct MHD_Connection *c, sl_serve_req_t *rq) {
    sl_server_t *srv = rq->srv;
    unsigned char addr[16];
    unsigned alen = client_addr(c, addr);
    pthread_mutex_lock(&srv->lock);
    int64_t wait = sl_login_wait(srv->fails, SL_LOGIN_FAILS_MAX, addr, alen, sl_mono_ms());
    pthread_mutex_unlock(&srv->lock);
    if (wait > 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%lld", (long long)((wait + 999) / 1000));
        sl_buf_t b = SL_BUF_INIT;
        sl_serve_error_json(&b, "too many wrong tokens from this address: retry later");
        const char *const h[] = {"Retry-After", ra, NULL};
        enum MHD_Result r = reply_h(c, rq, 429, "application/json", &b, h);
        sl_buf_free(&b);
        sl_metric_add(sl_metric_counter("sluice_http_login_throttled_total",
                                        "/login attempts answered 429 (too many wrong tokens from the address).",
                                        NULL),
                      1);
        return r;
    }
    sl_qarg_t *args;
    size_t n;
    if (sl_http_query_parse(rq->body.data ? rq->body.data : "", rq->body.len, &rq->arena, &args, &n) != 0)
        return reply_error(c, rq, 400, "malformed form body");
    const char *tok = sl_http_query_get(args, n, "token");
    bool ok = tok && ct_equal(tok, srv->conf.token);
    char sid[65];
    int64_t now = sl_mono_ms();
    pthread_mutex_lock(&srv->lock);
    int64_t block = sl_login_note(srv->fails, SL_LOGIN_FAILS_MAX, addr, alen, ok, now);
    int made = ok ? sl_session_new(srv->sessions, SL_SESSIONS_MAX, srv->conf.session_ttl_ms, now, sid) : 0;
    pthread_mutex_unlock(&srv->lock);
    if (!ok) {
        if (block) {
            char ip[INET6_ADDRSTRLEN] = "?";
            if (alen) inet_ntop(alen == 4 ? AF_INET : AF_INET6, addr, ip, sizeof ip);
            sl_warn("serve: /login: too many wrong tokens from %s: its next attempt in %lld s", ip,
                    (long long)((block + 999) / 1000));
        }
        return reply_error(c, rq, 401, "wrong token");
    }
    if (made != 0) return reply_error(c, rq, 500, "cannot make a session (no system randomness)");
    const char *next = sl_http_query_get(args, n, "next");
    /* only a local path: never an open redirect */
    if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' || strpbrk(next, "\r\n"))
        next = "/";
    char cookie[200];
    snprintf(cookie, sizeof cookie, "sluice_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld", sid,
             (long long)(srv->conf.session_ttl_ms / 1000));
    const char *const h[] = {"Set-Cookie", cookie, "Location", next, NULL};
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_puts(&b, "{\"status\":\"ok\"}");
    enum MHD_Result r = reply_h(c, rq, 303, "application/json", &b, h);
    sl_buf_free(&b);
    return r;
}

/* POST /logout: the presented session ends at once (the cookie is also cleared). */
static enum MHD_Result do_logout(struct MHD_Connection *c, sl_serve_req_t *rq) {
    sl_server_t *srv = rq->srv;
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "sluice_session");
    if (cookie) {
        pthread_mutex_lock(&srv->lock);
        sl_session_end(srv->sessions, SL_SESSIONS_MAX, cookie);
        pthread_mutex_unlock(&srv->lock);
    }
    const char *const h[] = {"Set-Cookie", "sluice_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                             "Location", "/login", NULL};
    sl_buf_t b = SL_BUF_INIT;
    sl_buf_puts(&b, "{\"status\":\"signed out\"}");
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
        sl_buf_puts(&b, "{\"error\":");  /* the parser's message names the line or element */
        sl_json_write_string(&b, jerr.reason, strnlen(jerr.reason, sizeof jerr.reason));
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
            const char *const h[] = {"Content-Security-Policy", csp_login, "X-Frame-Options", "DENY", NULL};
            enum MHD_Result r = reply_h(c, rq, 200, "text/html; charset=utf-8", &b, h);
            sl_buf_free(&b);
            return r;
        }
        if (!post) return reply_405(c, rq, "GET, POST");
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (sl_http_content_kind(ct) != SL_CT_FORM)
            return reply_error(c, rq, 415, "Content-Type must be application/x-www-form-urlencoded");
        rq->limit = 4096;
    } else if (path_is(uri, plen, "/logout")) {
        rq->route = R_LOGOUT;
        rq->label = "/logout";
        if (!srv->conf.token) return reply_error(c, rq, 404, "no token is configured: nothing to sign out of");
        if (!post) return reply_405(c, rq, "POST");
        return do_logout(c, rq);
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
    sl_serve_conn_t *conn = conn_of(c);
    if (conn && conn->over && rq->route != R_HEALTH && rq->route != R_READY)
        return reply_busy(c, rq);  /* a body is read and dropped first: the client sees the 503 */
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
    case R_HEALTH:   /* 200 while alive ("degraded" names what needs a look); 503 unhealthy */
        return reply_json(c, rq, sl_runner_health_json(&b), &b);
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
        if (strncmp(asset->content_type, "text/html", 9) == 0)
            MHD_add_response_header(resp, "Content-Security-Policy", csp_pages);
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
    conn_expect_request(rq->srv, conn_of(c), false);  /* received whole: answering now */
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
    conn_expect_request(srv, conn_of(c), true);  /* keep-alive: the next request's clock */
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
    if (strstr(msg, "connection limit")) {
        /* past max_connections (or half of it from one address): closed unanswered */
        sl_metric_add(sl_metric_counter("sluice_http_connections_refused_total",
                                        "Connections closed unanswered at accept: past serve.max_connections, "
                                        "or past half of it from one address.",
                                        NULL),
                      1);
    }
    sl_debug("serve: %s", msg);
}

/* ---------------------------------------------------------------- start/stop */

static const char *const reserved[] = {"/health", "/ready", "/metrics", "/login", "/logout", "/api", NULL};

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
    /* a connection is a socket and a thread: make room under the process's fd limit */
    struct rlimit rl;
    rlim_t want = (rlim_t)srv->conf.max_conns + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
            int64_t fit = (int64_t)rl.rlim_cur > 16 + 256 ? (int64_t)rl.rlim_cur - 256 : 16;
            sl_warn("serve: max_connections %lld lowered to %lld by the open-files limit (ulimit -n %llu)",
                    (long long)srv->conf.max_conns, (long long)fit, (unsigned long long)rl.rlim_cur);
            srv->conf.max_conns = fit;
        }
    }
    srv->soft_max = (int)(srv->conf.max_conns - srv->conf.max_conns / 8);
    unsigned per_ip = (unsigned)(srv->conf.max_conns / 2);  /* one address never fills the server */
    pthread_mutex_init(&srv->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->wake, &ca);
    pthread_condattr_destroy(&ca);
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
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)srv->conf.max_conns,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1 << 20),
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        sa ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, sa,
        MHD_OPTION_END);
    if (!srv->daemon) {
        int e = errno;
        sl_error_set(err, SL_IO, "cannot listen on %s: %s", srv->conf.listen,
                     e ? sl_strerror(e) : "address in use or not available");
        pthread_cond_destroy(&srv->wake);
        pthread_mutex_destroy(&srv->lock);
        sl_arena_free(&srv->arena);
        free(srv);
        return SL_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : port;
    if (pthread_create(&srv->watchdog, NULL, watchdog_main, srv) == 0) srv->watchdog_on = true;
    else sl_warn("serve: cannot start the request-timeout watchdog: slow clients are cut only when idle");
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
    MHD_stop_daemon(srv->daemon);  /* every connection CLOSED: the list is empty */
    if (ls != MHD_INVALID_SOCKET) close(ls);
    if (srv->watchdog_on) {
        pthread_mutex_lock(&srv->lock);
        srv->watchdog_stop = true;
        pthread_cond_signal(&srv->wake);
        pthread_mutex_unlock(&srv->lock);
        pthread_join(srv->watchdog, NULL);
    }
    pthread_cond_destroy(&srv->wake);
    pthread_mutex_destroy(&srv->lock);
    server = NULL;
    sl_arena_free(&srv->arena);
    free(srv);
    sl_info("serve: stopped");
}

