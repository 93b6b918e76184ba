/* serve_int.h - the server's private parts shared by serve*.c: the request parsers
 * (pure functions over bytes, fuzzed by tests/fuzz/fuzz_http_query.c), the query plan
 * of the table API, and the route handlers' signatures.
 *
 * Every parser validates untrusted input from the network (STYLE rule 6): it never
 * reads past `len`, allocates only in the caller's arena, and on failure writes a
 * human reason (no SQL, no internals) into why[0..whylen). */
#ifndef SLUICE_SERVE_INT_H
#define SLUICE_SERVE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/arena.h"
#include "sluice/buf.h"
#include "sluice/json.h"
#include "sluice/plugin.h"
#include "sluice/record.h"

/* ---- query strings and paths ---- */

typedef struct sl_qarg {
    char *key, *val;        /* percent-decoded ('+' = space), NUL-terminated, in the arena */
} sl_qarg_t;

/* Split q[0..len) ("a=1&b=x%20y&c") into decoded pairs (a key without '=' gets "").
 * Returns 0, or SL_PARSE for a decoded NUL byte, a bad %-escape or more than 256 pairs. */
int sl_http_query_parse(const char *q, size_t len, sl_arena_t *arena, sl_qarg_t **out, size_t *n);
/* The value of the first pair named key, or NULL. */
const char *sl_http_query_get(const sl_qarg_t *args, size_t n, const char *key);

/* Percent-decode one path segment s[0..len) (no '+' rule).  Returns NULL for a NUL byte,
 * a bad escape, a '/' after decoding, or an empty segment. */
char *sl_http_segment_decode(const char *s, size_t len, sl_arena_t *arena);

/* ---- values of the table API ---- */

enum { SL_WHERE_EQ, SL_WHERE_NE, SL_WHERE_LT, SL_WHERE_LE, SL_WHERE_GT, SL_WHERE_GE,
       SL_WHERE_LIKE };

typedef struct sl_where {
    char *col;              /* the column as written (checked later against the table) */
    int op;                 /* SL_WHERE_* */
    char *val;              /* the rest after the second ':' (may contain ':') */
} sl_where_t;

/* "COL:op:value" -> *out.  Returns 0 or SL_PARSE. */
int sl_http_where_parse(const char *s, sl_arena_t *arena, sl_where_t *out, char *why, size_t whylen);
/* "COL", "COL asc", "COL desc" (also "-COL" = desc) -> *col, *desc.  0 or SL_PARSE. */
int sl_http_order_parse(const char *s, sl_arena_t *arena, char **col, bool *desc, char *why,
                        size_t whylen);
/* ISO-8601 "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fff]](Z|+HH:MM)" or epoch ms digits ->
 * *ms; *date_only set for the first form.  0 or SL_PARSE (a malformed or impossible
 * date such as 2024-02-30). */
int sl_http_time_parse(const char *s, int64_t *ms, bool *date_only);
/* Epoch ms as the sqlite sink stores timestamps: "YYYY-MM-DDTHH:MM:SS.sssZ". */
void sl_http_time_iso(int64_t ms, char out[32]);
/* A non-negative decimal integer <= max (no sign, no spaces).  0 or SL_PARSE. */
int sl_http_uint_parse(const char *s, int64_t max, int64_t *out);

/* ---- addresses ---- */

/* "HOST:PORT", "[V6]:PORT", ":PORT" (every interface), or "PORT" (loopback) -> host
 * ("" = every interface) and port (0..65535).  0 or SL_PARSE. */
int sl_http_listen_parse(const char *s, char *host, size_t hostlen, int *port);
/* 127.0.0.0/8, ::1, ::ffff:127.x and "localhost" are loopback; everything else is not. */
bool sl_http_host_loopback(const char *host);

/* ---- bodies ---- */

enum { SL_CT_OTHER, SL_CT_JSON, SL_CT_NDJSON, SL_CT_FORM };
/* The kind of a Content-Type header value (parameters such as charset ignored). */
int sl_http_content_kind(const char *ct);

/* An ingest body -> one record per JSON object: application/json (an object = one
 * record, an array = one record per element) or JSON lines (blank lines skipped).  A
 * record is a JSON object (DESIGN 2.9): a number, string, boolean, null or array where
 * a record belongs rejects the body.  All or nothing: on SL_PARSE, err->reason is the
 * whole human message (naming the line or array element) and err->offset the byte
 * offset of the problem in body; the batch must be discarded. */
int sl_http_ingest_parse(const char *body, size_t len, int kind, sl_batch_t *batch,
                         sl_json_error_t *err);

/* ---- the table API's plan ---- */

typedef struct sl_qcol {
    const char *name;
    const char *type;       /* declared type */
    bool numeric;           /* INTEGER/REAL/NUMERIC affinity: times compare as epoch ms */
} sl_qcol_t;

typedef struct sl_qbind {
    int kind;               /* 0 text, 1 int64, 2 double */
    const char *s;
    int64_t i;
    double d;
} sl_qbind_t;

typedef struct sl_qplan {
    sl_buf_t where;         /* "" or " WHERE ... ?" */
    sl_buf_t order;         /* "" or " ORDER BY \"col\" DESC" */
    sl_qbind_t *binds;      /* for where's '?'s, in order (arena) */
    size_t nbinds;
    int64_t limit, offset;
} sl_qplan_t;

#define SL_QUERY_LIMIT_MAX 10000
#define SL_QUERY_LIMIT_DEFAULT 1000

/* Plan a GET /api/tables/NAME from its query args against the table's real columns:
 * every identifier must be one of cols (else SL_PARSE naming it), values become binds.
 * Free plan->where/order with sl_qplan_free (also after an error). */
int sl_qplan_build(const sl_qcol_t *cols, size_t ncols, const sl_qarg_t *args, size_t nargs,
                   sl_arena_t *arena, sl_qplan_t *plan, char *why, size_t whylen);
void sl_qplan_free(sl_qplan_t *plan);
/* Append s as a quoted SQL identifier ("a""b"). */
void sl_sql_ident(sl_buf_t *out, const char *s);

/* ---- the /login throttle and sessions (serve.c) ----
 * Plain tables with the clock passed in (unit-tested with a fake one); the server
 * keeps one of each under its lock. */

typedef struct sl_login_fail {
    unsigned char addr[16];    /* client address bytes (4 IPv4, 16 IPv6) */
    unsigned addrlen;          /* 0 = free slot */
    int fails;                 /* wrong tokens since the last success (forgotten after 15 min) */
    int64_t last_ms;           /* mono ms of the last wrong token */
    int64_t blocked_until;     /* mono ms: attempts before it are answered 429, unchecked */
} sl_login_fail_t;

#define SL_LOGIN_FAILS_MAX 256        /* addresses remembered (the least recent is dropped) */
#define SL_LOGIN_FREE_TRIES 5         /* wrong tokens per address before the throttle */
#define SL_LOGIN_BLOCK_MAX_MS 300000  /* 1 s, doubling per further wrong token, at most 5 min */
#define SL_LOGIN_FORGET_MS 900000

/* How long (ms) the address must wait before its next /login attempt; 0 = it may try. */
int64_t sl_login_wait(const sl_login_fail_t *tab, size_t n, const unsigned char *addr, unsigned len,
                      int64_t now);
/* Note an attempt's outcome (ok clears the address).  Returns the block it started (ms),
 * 0 when none. */
int64_t sl_login_note(sl_login_fail_t *tab, size_t n, const unsigned char *addr, unsigned len, bool ok,
                      int64_t now);

typedef struct sl_session {
    char id[65];               /* 64 hex digits of 32 random bytes; "" = free slot */
    int64_t expires;           /* mono ms */
} sl_session_t;

#define SL_SESSIONS_MAX 256           /* when full, the session expiring first is dropped */

/* A new session id (getrandom) into out, valid until now + ttl_ms.  0, or SL_IO when
 * the system has no randomness (then no session is made). */
int sl_session_new(sl_session_t *tab, size_t n, int64_t ttl_ms, int64_t now, char out[65]);
/* True when id is a live session (compared in constant time per slot). */
bool sl_session_valid(sl_session_t *tab, size_t n, const char *id, int64_t now);
/* Forget id (logout).  Unknown ids are ignored. */
void sl_session_end(sl_session_t *tab, size_t n, const char *id);

/* ---- handlers (serve_query.c, serve_tail.c) ---- */

struct MHD_Connection;
struct sl_serve_req;

/* Answer into body with an HTTP status; JSON errors as {"error": ...}. */
int sl_serve_tables_list(const sl_pipeline_t *pipe, sl_buf_t *body);
int sl_serve_table_get(const sl_pipeline_t *pipe, const char *name, const sl_qarg_t *args,
                       size_t nargs, sl_arena_t *arena, sl_buf_t *body);

/* Live tail: a response streaming topic's new records as Server-Sent Events, or NULL
 * with *status and body set (404 no such topic, 400 bad Last-Event-ID).  stop is
 * polled between waits (at least every second); the stream ends when it becomes
 * nonzero.  *live counts open streams: +1 here, -1 when the stream ends or is freed. */
struct MHD_Response *sl_serve_tail_response(const char *topic, const char *last_event_id,
                                            bool from_start, int64_t heartbeat_ms,
                                            volatile int *stop, _Atomic int *live, int *status,
                                            sl_buf_t *body);

/* Append {"error": msg} to body. */
void sl_serve_error_json(sl_buf_t *body, const char *msg);

#endif
