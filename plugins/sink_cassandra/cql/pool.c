/* pool.c - one CQL connection per host over the contact points: lazy connection,
 * reconnection with per-host exponential backoff, failover of the requests of a
 * broken connection, and the pipelined request loop (cql_pool_run).
 *
 * The pool never sleeps: a host that is down is skipped until its backoff has passed
 * (unless no host is up, then every host is tried at once); when nothing is reachable
 * the caller gets SL_RETRY and the runner owns the waiting.
 *
 * Invariants:
 *  1. A host's transitions are visible once each: "is down" (a connection that was
 *     taking requests broke) and "is up again", in the log and, with metric labels,
 *     in sluice_cassandra_host_up / sluice_cassandra_host_down_total.
 *  2. A request in flight on a connection that breaks goes back to the queue; a
 *     request done() wants sent again goes to another host than the one that
 *     answered it whenever another host has a free stream. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../../src/log.h"
#include "../../../src/metrics.h"
#include "cql.h"

typedef struct host {
    char *addr;            /* without port or brackets */
    int port;
    char name[300];
    cql_conn_t *conn;
    int64_t next_try, backoff;
    bool up;               /* connected and set up: taking requests */
    sl_metric_t *m_up, *m_downs;   /* NULL without opts.metric_labels */
    int64_t down_since;    /* monotonic ms when it stopped being up; 0: up or never up */
    char why[400];         /* the last failure */
    size_t *slot_req;      /* per stream: request index in flight, or SIZE_MAX */
    int64_t *slot_deadline;
    int nslots;
} host_t;

struct cql_pool {
    host_t *h;
    size_t n;
    size_t rr;
    cql_pool_opts_t o;     /* strings below are owned copies */
    char *username, *password;
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void parse_host(host_t *h, const char *s, int def_port) {
    h->port = def_port;
    const char *colon = strrchr(s, ':');
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        size_t n = end ? (size_t)(end - s - 1) : strlen(s + 1);
        h->addr = strndup(s + 1, n);
        if (end && end[1] == ':') h->port = atoi(end + 2);
    } else if (colon && strchr(s, ':') == colon) {
        h->addr = strndup(s, (size_t)(colon - s));
        h->port = atoi(colon + 1);
    } else {
        h->addr = strdup(s);
    }
    if (h->port <= 0 || h->port > 65535) h->port = def_port;
    if (strchr(h->addr, ':')) snprintf(h->name, sizeof h->name, "[%s]:%d", h->addr, h->port);
    else snprintf(h->name, sizeof h->name, "%s:%d", h->addr, h->port);
}

cql_pool_t *cql_pool_new(const cql_pool_opts_t *opts) {
    cql_pool_t *p = calloc(1, sizeof *p);
    p->o = *opts;
    p->n = opts->nhosts;
    p->h = calloc(p->n ? p->n : 1, sizeof *p->h);
    for (size_t i = 0; i < p->n; i++) {
        host_t *h = &p->h[i];
        parse_host(h, opts->hosts[i], opts->default_port > 0 ? opts->default_port : 9042);
        if (!opts->metric_labels) continue;
        sl_buf_t l = SL_BUF_INIT;
        sl_buf_puts(&l, opts->metric_labels);
        sl_metrics_label(&l, "host", h->name);
        h->m_up = sl_metric_gauge("sluice_cassandra_host_up", "1 while the sink's connection to the host is up", l.data);
        h->m_downs = sl_metric_counter("sluice_cassandra_host_down_total",
                                       "times the sink's connection to the host went down", l.data);
        sl_buf_free(&l);
    }
    p->o.metric_labels = NULL;
    p->o.hosts = NULL;
    p->username = opts->conn.username ? strdup(opts->conn.username) : NULL;
    p->password = opts->conn.password ? strdup(opts->conn.password) : NULL;
    p->o.conn.username = p->username;
    p->o.conn.password = p->password;
    if (p->o.backoff_min_ms <= 0) p->o.backoff_min_ms = 100;
    if (p->o.backoff_max_ms < p->o.backoff_min_ms) p->o.backoff_max_ms = 30000;
    if (p->o.conn.max_streams <= 0 || p->o.conn.max_streams > 32768) p->o.conn.max_streams = 128;
    return p;
}

static void host_close(host_t *h) {
    cql_conn_close(h->conn);
    h->conn = NULL;
    free(h->slot_req);
    free(h->slot_deadline);
    h->slot_req = NULL;
    h->slot_deadline = NULL;
    h->nslots = 0;
}

void cql_pool_free(cql_pool_t *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        host_close(&p->h[i]);
        free(p->h[i].addr);
    }
    free(p->h);
    free(p->username);
    if (p->password) memset(p->password, 0, strlen(p->password));
    free(p->password);
    free(p);
}

static const char *what(const cql_pool_t *p) { return p->o.what ? p->o.what : "cassandra"; }

static void host_down(cql_pool_t *p, host_t *h, const char *why) {
    if (h->up) {   /* the transition: logged once, not at every failed reconnect */
        host_close(h);
        h->up = false;
        h->down_since = mono_ms();
        if (h->m_up) sl_metric_set(h->m_up, 0), sl_metric_add(h->m_downs, 1);
        sl_warn("%s: %s is down: %s (%zu of %zu hosts up)", what(p), h->name, why, cql_pool_up(p), p->n);
    }
    host_close(h);
    h->backoff = h->backoff ? h->backoff * 2 : p->o.backoff_min_ms;
    if (h->backoff > p->o.backoff_max_ms) h->backoff = p->o.backoff_max_ms;
    h->next_try = mono_ms() + h->backoff;
    snprintf(h->why, sizeof h->why, "%s", why);
}

size_t cql_pool_up(const cql_pool_t *p) {
    size_t up = 0;
    for (size_t i = 0; i < p->n; i++) up += p->h[i].conn != NULL;
    return up;
}

size_t cql_pool_size(const cql_pool_t *p) { return p->n; }

int cql_pool_connect(cql_pool_t *p, sl_error_t *err) {
    int64_t now = mono_ms();
    bool none_up = cql_pool_up(p) == 0;
    int fatal = 0;
    for (size_t i = 0; i < p->n; i++) {
        host_t *h = &p->h[i];
        if (h->conn || (!none_up && now < h->next_try)) continue;
        cql_conn_opts_t o = p->o.conn;
        o.host = h->addr;
        o.port = h->port;
        sl_error_t e = {0};
        int rc = cql_conn_open(&o, &h->conn, &e);
        if (rc == 0 && p->o.setup) {
            rc = p->o.setup(p->o.setup_ud, h->conn, &e);
            if (rc && !strstr(e.msg, h->name)) {
                char m[sizeof e.msg];
                memcpy(m, e.msg, sizeof m);
                sl_error_set(&e, rc, "%.200s: %.300s", h->name, m);
            }
        }
        if (rc == 0) {
            h->up = true;
            if (h->m_up) sl_metric_set(h->m_up, 1);
            if (h->down_since)
                sl_info("%s: %s is up again after %lld ms down (%zu of %zu hosts up)", what(p), h->name,
                        (long long)(mono_ms() - h->down_since), cql_pool_up(p), p->n);
            h->down_since = 0;
            h->backoff = 0;
            h->why[0] = 0;
            h->nslots = p->o.conn.max_streams;
            h->slot_req = malloc((size_t)h->nslots * sizeof *h->slot_req);
            h->slot_deadline = calloc((size_t)h->nslots, sizeof *h->slot_deadline);
            for (int s = 0; s < h->nslots; s++) h->slot_req[s] = SIZE_MAX;
            continue;
        }
        host_down(p, h, e.msg);
        if (rc != SL_RETRY && !fatal) {
            fatal = rc;
            sl_error_set(err, rc, "%s", e.msg);
        }
    }
    if (fatal) return fatal;
    size_t up = cql_pool_up(p);
    if (up) return (int)up;
    sl_buf_t m = SL_BUF_INIT;
    for (size_t i = 0; i < p->n; i++) sl_buf_printf(&m, "%s%s", i ? "; " : "", p->h[i].why[0] ? p->h[i].why : p->h[i].name);
    sl_error_set(err, SL_RETRY, "no Cassandra host reachable: %s", m.data ? m.data : "no hosts configured");
    sl_buf_free(&m);
    return SL_RETRY;
}

void cql_pool_broken(cql_pool_t *p, cql_conn_t *c, const char *why) {
    for (size_t i = 0; i < p->n; i++)
        if (p->h[i].conn == c) host_down(p, &p->h[i], why);
}

/* ================================ the request loop ================================ */

typedef struct run {
    size_t *queue;         /* ring of pending request indexes */
    size_t qhead, qlen, qcap;
    size_t ndone;
} run_t;

static void q_push(run_t *r, size_t i) {
    r->queue[(r->qhead + r->qlen) % r->qcap] = i;
    r->qlen++;
}

static size_t q_pop(run_t *r) {
    size_t i = r->queue[r->qhead];
    r->qhead = (r->qhead + 1) % r->qcap;
    r->qlen--;
    return i;
}

/* Break host h during a run: its requests in flight go back to the queue (when
 * requeue) or count as abandoned. */
static void run_broken(cql_pool_t *p, run_t *r, host_t *h, const char *why, bool requeue) {
    for (int s = 0; s < h->nslots; s++)
        if (h->slot_req[s] != SIZE_MAX) {
            if (requeue) q_push(r, h->slot_req[s]);
            h->slot_req[s] = SIZE_MAX;
        }
    host_down(p, h, why);
}

static size_t total_inflight(cql_pool_t *p) {
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->h[i].conn) n += (size_t)cql_conn_inflight(p->h[i].conn);
    return n;
}

int cql_pool_run(cql_pool_t *p, size_t n, const cql_pool_ops_t *ops, void *ud, sl_error_t *err) {
    if (n == 0) return 0;
    run_t r = {malloc(n * sizeof(size_t)), 0, 0, n, 0};
    for (size_t i = 0; i < n; i++) q_push(&r, i);
    size_t *last = malloc(n * sizeof *last);   /* per request: the host it was last sent to */
    for (size_t i = 0; i < n; i++) last[i] = SIZE_MAX;
    int stop = 0;
    sl_error_t stop_err = {0};
    struct pollfd *pf = calloc(p->n, sizeof *pf);
    size_t *pf_host = calloc(p->n, sizeof *pf_host);
    int64_t timeout = p->o.conn.timeout_ms > 0 ? p->o.conn.timeout_ms : 10000;
    for (;;) {
        if (!stop && r.ndone == n) break;
        if (stop && total_inflight(p) == 0) break;
        int64_t now = mono_ms();
        /* dispatch pending requests over connections with free streams, round robin */
        while (!stop && r.qlen) {
            host_t *h = NULL;
            for (size_t k = 0; k < p->n; k++) {
                host_t *c = &p->h[(p->rr + k) % p->n];
                if (c->conn && cql_conn_inflight(c->conn) < c->nslots) {
                    h = c;
                    p->rr = (p->rr + k + 1) % p->n;
                    break;
                }
            }
            if (!h) break;
            size_t i = r.queue[r.qhead];
            if (last[i] == (size_t)(h - p->h))   /* sent again: another host if one can take it */
                for (size_t k = 0; k < p->n; k++) {
                    host_t *c = &p->h[k];
                    if (k != last[i] && c->conn && cql_conn_inflight(c->conn) < c->nslots) {
                        h = c;
                        break;
                    }
                }
            int s = cql_conn_stream_take(h->conn);
            if (s < 0) break;
            q_pop(&r);
            last[i] = (size_t)(h - p->h);
            ops->encode(ud, i, h->conn, (int16_t)s, cql_conn_outbuf(h->conn));
            h->slot_req[s] = i;
            h->slot_deadline[s] = now + timeout;
        }
        if (!stop && r.qlen && cql_pool_up(p) == 0) {
            stop = SL_RETRY;
            sl_buf_t m = SL_BUF_INIT;
            for (size_t i = 0; i < p->n; i++) sl_buf_printf(&m, "%s%s", i ? "; " : "", p->h[i].why);
            sl_error_set(&stop_err, SL_RETRY, "lost every Cassandra connection: %s", m.data ? m.data : "");
            sl_buf_free(&m);
            continue;
        }
        /* flush, then wait for something to read or write */
        size_t npf = 0;
        int64_t next_deadline = now + 1000;
        for (size_t i = 0; i < p->n; i++) {
            host_t *h = &p->h[i];
            if (!h->conn) continue;
            sl_error_t e = {0};
            if (cql_conn_want_write(h->conn) && cql_conn_flush(h->conn, &e) != 0) {
                run_broken(p, &r, h, e.msg, !stop);
                continue;
            }
            if (cql_conn_inflight(h->conn) == 0 && !cql_conn_want_write(h->conn)) continue;
            for (int s = 0; s < h->nslots; s++)
                if (h->slot_req[s] != SIZE_MAX && h->slot_deadline[s] < next_deadline) next_deadline = h->slot_deadline[s];
            pf[npf].fd = cql_conn_fd(h->conn);
            pf[npf].events = (short)(POLLIN | (cql_conn_want_write(h->conn) ? POLLOUT : 0));
            pf[npf].revents = 0;
            pf_host[npf++] = i;
        }
        if (npf == 0) continue;   /* everything broke: the checks above decide */
        int wait = (int)(next_deadline - now);
        if (wait < 0) wait = 0;
        int pr = poll(pf, npf, wait);
        if (pr < 0 && errno != EINTR) {
            if (!stop) stop = sl_error_set(&stop_err, SL_RETRY, "poll: %s", sl_strerror(errno));
            for (size_t k = 0; k < npf; k++) run_broken(p, &r, &p->h[pf_host[k]], "poll failed", false);
            continue;
        }
        for (size_t k = 0; pr > 0 && k < npf; k++) {
            host_t *h = &p->h[pf_host[k]];
            if (!h->conn || !(pf[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            sl_error_t e = {0};
            int rc = cql_conn_recv(h->conn, &e);
            cql_frame_t f;
            int got = 0;
            while (h->conn && (got = cql_conn_next(h->conn, &f, &e)) == 1) {
                if (f.stream < 0 || f.stream >= h->nslots || h->slot_req[f.stream] == SIZE_MAX) continue;
                size_t i = h->slot_req[f.stream];
                h->slot_req[f.stream] = SIZE_MAX;
                cql_conn_stream_give(h->conn, f.stream);
                sl_error_t de = {0};
                int d = ops->done(ud, i, h->conn, &f, &de);
                if (d == 1 && !stop) q_push(&r, i);
                else r.ndone++;
                if (d < 0 && !stop) {
                    stop = d;
                    stop_err = de;
                }
            }
            if (h->conn && got < 0) rc = got;
            if (h->conn && rc) run_broken(p, &r, h, e.msg, !stop);
        }
        /* requests past their deadline: the connection cannot reuse their streams */
        now = mono_ms();
        for (size_t i = 0; i < p->n; i++) {
            host_t *h = &p->h[i];
            if (!h->conn) continue;
            for (int s = 0; s < h->nslots; s++)
                if (h->slot_req[s] != SIZE_MAX && h->slot_deadline[s] <= now) {
                    char m[400];
                    snprintf(m, sizeof m, "%s: no response within %lld ms", h->name, (long long)timeout);
                    if (!stop) stop = sl_error_set(&stop_err, SL_RETRY, "%s", m);
                    run_broken(p, &r, h, m, false);
                    break;
                }
        }
    }
    free(pf);
    free(pf_host);
    free(r.queue);
    free(last);
    if (stop) {
        if (err) *err = stop_err;
        return stop;
    }
    return 0;
}
