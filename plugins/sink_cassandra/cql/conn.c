/* conn.c - one CQL connection: TCP connect with a timeout, STARTUP with protocol
 * version negotiation, SASL PLAIN authentication, stream ids, buffered non-blocking
 * I/O with a frame size limit.
 *
 * Negotiation: with opts->version == 0 the connection first sends STARTUP as v4.  A
 * server that does not speak v4 (Cassandra 2.1 speaks v1-v3) answers with a
 * PROTOCOL_ERROR (in its own header version) or closes the socket; the connection is
 * then re-opened and STARTUP sent as v3.  Anything older than v3 is refused: sluice's
 * frames use 2-byte stream ids and [int]-counted collections.
 *
 * Threads: a connection belongs to one thread (the job's); nothing here locks. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cql.h"

struct cql_conn {
    int fd;
    char name[300];
    int version;
    int attempts;
    size_t max_frame;
    int64_t timeout_ms;
    sl_buf_t out;
    size_t out_off;
    uint8_t *in;
    size_t in_len, in_cap, in_off;
    int max_streams;
    int *free_streams;
    int nfree;
    void *user;
    void (*free_user)(void *);
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cql_conn_version(const cql_conn_t *c) { return c->version; }
const char *cql_conn_name(const cql_conn_t *c) { return c->name; }
int cql_conn_fd(const cql_conn_t *c) { return c->fd; }
int cql_conn_attempts(const cql_conn_t *c) { return c->attempts; }
void *cql_conn_user(cql_conn_t *c) { return c->user; }
sl_buf_t *cql_conn_outbuf(cql_conn_t *c) { return &c->out; }

void cql_conn_set_user(cql_conn_t *c, void *user, void (*free_user)(void *)) {
    if (c->user && c->free_user) c->free_user(c->user);
    c->user = user;
    c->free_user = free_user;
}

int cql_conn_stream_take(cql_conn_t *c) { return c->nfree ? c->free_streams[--c->nfree] : -1; }
void cql_conn_stream_give(cql_conn_t *c, int stream) {
    if (stream >= 0 && stream < c->max_streams && c->nfree < c->max_streams) c->free_streams[c->nfree++] = stream;
}
int cql_conn_inflight(const cql_conn_t *c) { return c->max_streams - c->nfree; }

void cql_conn_queue(cql_conn_t *c, const void *p, size_t len) { sl_buf_append(&c->out, p, len); }
bool cql_conn_want_write(const cql_conn_t *c) { return c->out_off < c->out.len; }

void cql_conn_close(cql_conn_t *c) {
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    if (c->user && c->free_user) c->free_user(c->user);
    sl_buf_free(&c->out);
    free(c->in);
    free(c->free_streams);
    free(c);
}

int cql_conn_flush(cql_conn_t *c, sl_error_t *err) {
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        return sl_error_set(err, SL_RETRY, "%s: send failed: %s", c->name, n < 0 ? sl_strerror(errno) : "closed");
    }
    c->out.len = 0;
    c->out_off = 0;
    return 0;
}

int cql_conn_recv(cql_conn_t *c, sl_error_t *err) {
    if (c->in_off > 0 && (c->in_off == c->in_len || c->in_off > c->in_cap / 2)) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    for (;;) {
        if (c->in_cap - c->in_len < 16384) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 65536;
            if (cap > c->max_frame + 2 * 65536 && c->in_cap >= c->max_frame + 65536) cap = c->in_cap;
            if (cap == c->in_cap) return 0;   /* full: the parser reports an oversized frame */
            uint8_t *n = realloc(c->in, cap);
            if (!n) return sl_error_set(err, SL_RETRY, "%s: out of memory for the receive buffer", c->name);
            c->in = n;
            c->in_cap = cap;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        return sl_error_set(err, SL_RETRY, "%s: connection %s", c->name, n == 0 ? "closed by the server" : sl_strerror(errno));
    }
}

int cql_conn_next(cql_conn_t *c, cql_frame_t *f, sl_error_t *err) {
    for (;;) {
        int rc = cql_frame_parse(c->in + c->in_off, c->in_len - c->in_off, c->max_frame, f, err);
        if (rc == 1) return 0;
        if (rc < 0) {
            char m[sizeof err->msg];
            memcpy(m, err->msg, sizeof m);
            return sl_error_set(err, SL_PARSE, "%s: %.400s", c->name, m);
        }
        c->in_off += f->total;
        if (f->opcode == CQL_OP_EVENT || f->stream < 0) continue;   /* invariant 3 */
        return 1;
    }
}

/* Wait for events on fd until deadline (monotonic ms).  1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) return 0;
        struct pollfd p = {fd, events, 0};
        int rc = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return -1;
        if (rc > 0) return 1;
    }
}

static int tcp_connect(const cql_conn_opts_t *o, const char *name, int *fd_out, sl_error_t *err) {
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    int g = getaddrinfo(o->host, port, &hints, &res);
    if (g != 0) return sl_error_set(err, SL_RETRY, "%s: cannot resolve host: %s", name, gai_strerror(g));
    int last = 0;
    const char *why = "no address";
    int64_t deadline = mono_ms() + (o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000);
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            int w = wait_fd(fd, POLLOUT, deadline);
            if (w == 0) {
                close(fd);
                freeaddrinfo(res);
                return sl_error_set(err, SL_RETRY, "%s: connect timed out after %lld ms", name,
                                    (long long)(o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000));
            }
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            rc = soerr ? -1 : 0;
            if (soerr) errno = soerr;
        }
        if (rc == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            freeaddrinfo(res);
            *fd_out = fd;
            return 0;
        }
        last = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (last) why = sl_strerror(last);
    return sl_error_set(err, SL_RETRY, "%s: cannot connect: %s", name, why);
}

/* Send everything queued and wait for one whole frame (any stream).  0, or SL_RETRY. */
static int sync_roundtrip(cql_conn_t *c, cql_frame_t *f, int16_t want_stream, sl_error_t *err) {
    int64_t deadline = mono_ms() + (c->timeout_ms > 0 ? c->timeout_ms : 10000);
    while (cql_conn_want_write(c)) {
        int rc = cql_conn_flush(c, err);
        if (rc) return rc;
        if (!cql_conn_want_write(c)) break;
        int w = wait_fd(c->fd, POLLOUT, deadline);
        if (w <= 0) return sl_error_set(err, SL_RETRY, "%s: timed out sending a request", c->name);
    }
    for (;;) {
        int rc = cql_conn_next(c, f, err);
        if (rc < 0) return SL_RETRY;
        if (rc == 1) {
            if (want_stream < 0 || f->stream == want_stream) return 0;
            continue;   /* a late answer to something abandoned */
        }
        int w = wait_fd(c->fd, POLLIN, deadline);
        if (w == 0)
            return sl_error_set(err, SL_RETRY, "%s: no response after %lld ms", c->name,
                                (long long)(c->timeout_ms > 0 ? c->timeout_ms : 10000));
        if (w < 0) return sl_error_set(err, SL_RETRY, "%s: poll: %s", c->name, sl_strerror(errno));
        rc = cql_conn_recv(c, err);
        if (rc) return rc;
    }
}

int cql_conn_call(cql_conn_t *c, sl_buf_t *frame, sl_arena_t *arena, cql_response_t *resp, sl_error_t *err) {
    int stream = cql_conn_stream_take(c);
    if (stream < 0) return sl_error_set(err, SL_RETRY, "%s: no free stream id", c->name);
    cql_frame_patch((uint8_t *)frame->data, c->version, (int16_t)stream);
    cql_conn_queue(c, frame->data, frame->len);
    cql_frame_t f;
    int rc = sync_roundtrip(c, &f, (int16_t)stream, err);
    if (rc) return rc;   /* the stream stays taken: the connection is to be closed */
    cql_conn_stream_give(c, stream);
    return cql_response_decode(&f, arena, resp, err);
}

static cql_conn_t *conn_new(const cql_conn_opts_t *o, const char *name, int fd, int version) {
    cql_conn_t *c = calloc(1, sizeof *c);
    c->fd = fd;
    snprintf(c->name, sizeof c->name, "%s", name);
    c->version = version;
    c->max_frame = o->max_frame && o->max_frame < CQL_MAX_FRAME ? o->max_frame : CQL_MAX_FRAME;
    c->timeout_ms = o->timeout_ms;
    c->max_streams = o->max_streams > 0 && o->max_streams <= 32768 ? o->max_streams : 128;
    c->free_streams = malloc((size_t)c->max_streams * sizeof *c->free_streams);
    for (int i = 0; i < c->max_streams; i++) c->free_streams[i] = c->max_streams - 1 - i;   /* 0 first */
    c->nfree = c->max_streams;
    return c;
}

/* The handshake on an open connection: STARTUP, then authentication if asked.
 * Returns 0, SL_RETRY, SL_FATAL, or 1 = "the server refused this protocol version". */
static int handshake(cql_conn_t *c, const cql_conn_opts_t *o, sl_error_t *err) {
    sl_arena_t arena;
    sl_arena_init(&arena, 4096);
    sl_buf_t b = SL_BUF_INIT;
    cql_enc_startup(&b, c->version, 0, "3.0.0", NULL);
    cql_response_t r;
    int rc = cql_conn_call(c, &b, &arena, &r, err);
    if (rc == SL_RETRY && c->version > 3 && strstr(err->msg, "closed by the server")) rc = 1;
    for (int round = 0; rc == 0 && round < 8; round++) {
        /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): cql_conn_call fills r whenever it returns 0 */
        if (r.opcode == CQL_OP_READY || r.opcode == CQL_OP_AUTH_SUCCESS) break;
        if (r.opcode == CQL_OP_ERROR) {
            char d[400];
            cql_error_describe(&r.error, d, sizeof d);
            /* Cassandra 2.1 answers a v4 STARTUP with a SERVER_ERROR wrapping "Invalid or
             * unsupported protocol version: 4"; later servers with a PROTOCOL_ERROR. */
            bool refused = r.error.code == CQL_ERR_PROTOCOL_ERROR ||
                           (r.error.message && strcasestr(r.error.message, "protocol version"));
            if (refused && c->version > 3 && round == 0) {
                rc = 1;
                sl_error_set(err, SL_RETRY, "%s: protocol v%d refused: %s", c->name, c->version, d);
            } else if (r.error.code == CQL_ERR_BAD_CREDENTIALS) {
                rc = sl_error_set(err, SL_RETRY, "%s: authentication failed for user '%s': %s", c->name,
                                  o->username ? o->username : "", d);
            } else if (r.error.code == CQL_ERR_PROTOCOL_ERROR) {
                rc = sl_error_set(err, SL_FATAL, "%s: the server refused the handshake: %s", c->name, d);
            } else {
                rc = sl_error_set(err, SL_RETRY, "%s: handshake failed: %s", c->name, d);
            }
            break;
        }
        if (r.opcode == CQL_OP_AUTHENTICATE || r.opcode == CQL_OP_AUTH_CHALLENGE) {
            if (!o->username || !*o->username) {
                rc = sl_error_set(err, SL_RETRY,
                                  "%s: the server requires authentication (%s): set username and password",
                                  c->name, r.authenticator ? r.authenticator : "challenge");
                break;
            }
            sl_buf_t tok = SL_BUF_INIT;
            cql_sasl_plain(&tok, o->username, o->password);
            sl_buf_clear(&b);
            cql_enc_auth_response(&b, c->version, 0, tok.data, (int32_t)tok.len);
            sl_buf_free(&tok);
            rc = cql_conn_call(c, &b, &arena, &r, err);
            continue;
        }
        rc = sl_error_set(err, SL_FATAL, "%s: unexpected %s during the handshake", c->name, cql_opcode_name(r.opcode));
    }
    sl_buf_free(&b);
    sl_arena_free(&arena);
    return rc;
}

int cql_conn_open(const cql_conn_opts_t *o, cql_conn_t **out, sl_error_t *err) {
    *out = NULL;
    char name[300];
    if (strchr(o->host, ':')) snprintf(name, sizeof name, "[%s]:%d", o->host, o->port);
    else snprintf(name, sizeof name, "%s:%d", o->host, o->port);
    int versions[2] = {4, 3};
    int nv = 2;
    if (o->version) versions[0] = o->version, nv = 1;
    char first[512] = "";
    for (int i = 0; i < nv; i++) {
        int fd = -1;
        int rc = tcp_connect(o, name, &fd, err);
        if (rc) return rc;
        cql_conn_t *c = conn_new(o, name, fd, versions[i]);
        c->attempts = i + 1;
        rc = handshake(c, o, err);
        if (rc == 0) {
            *out = c;
            return 0;
        }
        cql_conn_close(c);
        if (rc != 1) return rc;
        snprintf(first, sizeof first, "%s", err->msg);
    }
    return sl_error_set(err, SL_FATAL, "%s speaks neither protocol v4 nor v3 (%s)", name, first);
}
