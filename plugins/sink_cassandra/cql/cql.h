/* cql.h - the CQL native protocol (v3 and v4) in C: frame codec, value serialisation,
 * one connection, and a pool of connections over several hosts.
 *
 * Layers (each only uses the ones above it):
 *   frame.c  encoder/decoder of frames and message bodies: pure functions over
 *            buffers, no I/O, no global state.  Decoded strings are copied into a
 *            caller's arena (NUL-terminated); nothing is ever read past a frame.
 *   types.c  CQL column types ("map<text, text>") and the serialisation of
 *            sl_value_t into CQL values (and back, for tests and checks).
 *   conn.c   one TCP connection: STARTUP with version negotiation (v4, then v3 when
 *            the server refuses v4 with a protocol error), SASL PLAIN authentication,
 *            stream ids for several requests in flight, a frame size limit, events
 *            dropped.  Blocking for the handshake, non-blocking with poll() after.
 *   pool.c   one connection per host over the contact points, reconnection with
 *            backoff, failover of the requests of a broken connection, and a
 *            pipelined "run these N requests" loop.
 *
 * Invariants:
 *  1. Every decoder checks each length against the bytes that remain before it reads;
 *     a truncated or garbled body yields SL_PARSE with a reason, never a crash, and
 *     never an allocation larger than the body could describe.
 *  2. Request bodies are the same in v3 and v4 for everything sluice sends (no
 *     "unset" values, no v4-only types), so a frame encoded for one connection can be
 *     sent on another by patching its version byte and stream id (cql_frame_patch).
 *  3. Stream ids are >= 0 for requests; a response with stream -1 is an EVENT and is
 *     dropped by conn.c (sluice never REGISTERs, but servers may still push). */
#ifndef SLUICE_CQL_H
#define SLUICE_CQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/arena.h"
#include "sluice/buf.h"
#include "sluice/error.h"
#include "sluice/value.h"

/* ================================ constants ================================ */

#define CQL_HEADER_LEN 9            /* v3+; v1/v2 had 8 (1-byte stream) */
#define CQL_MAX_FRAME (256u << 20)  /* the spec's limit on a frame body */
#define CQL_MAX_DEPTH 16            /* nesting of column types we accept */

enum cql_opcode {
    CQL_OP_ERROR = 0x00,
    CQL_OP_STARTUP = 0x01,
    CQL_OP_READY = 0x02,
    CQL_OP_AUTHENTICATE = 0x03,
    CQL_OP_OPTIONS = 0x05,
    CQL_OP_SUPPORTED = 0x06,
    CQL_OP_QUERY = 0x07,
    CQL_OP_RESULT = 0x08,
    CQL_OP_PREPARE = 0x09,
    CQL_OP_EXECUTE = 0x0A,
    CQL_OP_REGISTER = 0x0B,
    CQL_OP_EVENT = 0x0C,
    CQL_OP_BATCH = 0x0D,
    CQL_OP_AUTH_CHALLENGE = 0x0E,
    CQL_OP_AUTH_RESPONSE = 0x0F,
    CQL_OP_AUTH_SUCCESS = 0x10,
};

enum cql_frame_flag {
    CQL_FLAG_COMPRESSION = 0x01,
    CQL_FLAG_TRACING = 0x02,
    CQL_FLAG_CUSTOM_PAYLOAD = 0x04,  /* v4 */
    CQL_FLAG_WARNING = 0x08,         /* v4 */
};

enum cql_consistency {
    CQL_ANY = 0x0000, CQL_ONE = 0x0001, CQL_TWO = 0x0002, CQL_THREE = 0x0003,
    CQL_QUORUM = 0x0004, CQL_ALL = 0x0005, CQL_LOCAL_QUORUM = 0x0006,
    CQL_EACH_QUORUM = 0x0007, CQL_SERIAL = 0x0008, CQL_LOCAL_SERIAL = 0x0009,
    CQL_LOCAL_ONE = 0x000A,
};

/* Query parameter flags (QUERY, EXECUTE; BATCH uses 0x10 0x20 0x40). */
enum cql_query_flag {
    CQL_QF_VALUES = 0x01,
    CQL_QF_SKIP_METADATA = 0x02,
    CQL_QF_PAGE_SIZE = 0x04,
    CQL_QF_PAGING_STATE = 0x08,
    CQL_QF_SERIAL_CONSISTENCY = 0x10,
    CQL_QF_DEFAULT_TIMESTAMP = 0x20,
    CQL_QF_NAMES = 0x40,
};

enum cql_batch_type { CQL_BATCH_LOGGED = 0, CQL_BATCH_UNLOGGED = 1, CQL_BATCH_COUNTER = 2 };

enum cql_result_kind {
    CQL_RESULT_VOID = 0x0001,
    CQL_RESULT_ROWS = 0x0002,
    CQL_RESULT_SET_KEYSPACE = 0x0003,
    CQL_RESULT_PREPARED = 0x0004,
    CQL_RESULT_SCHEMA_CHANGE = 0x0005,
};

/* Error codes (section 9 of the spec). */
#define CQL_ERRORS(X)                                               \
    X(SERVER_ERROR, 0x0000, "Server error")                         \
    X(PROTOCOL_ERROR, 0x000A, "Protocol error")                     \
    X(BAD_CREDENTIALS, 0x0100, "Authentication error")              \
    X(UNAVAILABLE, 0x1000, "Unavailable")                           \
    X(OVERLOADED, 0x1001, "Overloaded")                             \
    X(IS_BOOTSTRAPPING, 0x1002, "Is bootstrapping")                 \
    X(TRUNCATE_ERROR, 0x1003, "Truncate error")                     \
    X(WRITE_TIMEOUT, 0x1100, "Write timeout")                       \
    X(READ_TIMEOUT, 0x1200, "Read timeout")                         \
    X(READ_FAILURE, 0x1300, "Read failure")                         \
    X(FUNCTION_FAILURE, 0x1400, "Function failure")                 \
    X(WRITE_FAILURE, 0x1500, "Write failure")                       \
    X(SYNTAX_ERROR, 0x2000, "Syntax error")                         \
    X(UNAUTHORIZED, 0x2100, "Unauthorized")                         \
    X(INVALID, 0x2200, "Invalid query")                             \
    X(CONFIG_ERROR, 0x2300, "Configuration error")                  \
    X(ALREADY_EXISTS, 0x2400, "Already exists")                     \
    X(UNPREPARED, 0x2500, "Unprepared")

enum cql_error_code {
#define CQL_ERR_ENUM(name, code, text) CQL_ERR_##name = code,
    CQL_ERRORS(CQL_ERR_ENUM)
#undef CQL_ERR_ENUM
};

/* Column type ids ([option] ids). */
enum cql_type_id {
    CQL_T_CUSTOM = 0x0000, CQL_T_ASCII = 0x0001, CQL_T_BIGINT = 0x0002, CQL_T_BLOB = 0x0003,
    CQL_T_BOOLEAN = 0x0004, CQL_T_COUNTER = 0x0005, CQL_T_DECIMAL = 0x0006,
    CQL_T_DOUBLE = 0x0007, CQL_T_FLOAT = 0x0008, CQL_T_INT = 0x0009,
    CQL_T_TIMESTAMP = 0x000B, CQL_T_UUID = 0x000C, CQL_T_VARCHAR = 0x000D,
    CQL_T_VARINT = 0x000E, CQL_T_TIMEUUID = 0x000F, CQL_T_INET = 0x0010,
    CQL_T_DATE = 0x0011, CQL_T_TIME = 0x0012, CQL_T_SMALLINT = 0x0013, CQL_T_TINYINT = 0x0014,
    CQL_T_LIST = 0x0020, CQL_T_MAP = 0x0021, CQL_T_SET = 0x0022, CQL_T_UDT = 0x0030,
    CQL_T_TUPLE = 0x0031,
};

/* "ONE", "LOCAL_QUORUM"... ("?" for unknown codes); names of error codes
 * ("Write timeout"; "Unknown error" for unknown codes). */
const char *cql_consistency_name(int consistency);
/* Parse "one", "QUORUM", "local_quorum"...; -1 when unknown. */
int cql_consistency_parse(const char *name);
const char *cql_error_name(int32_t code);
const char *cql_opcode_name(int opcode);

/* ================================ frames ================================ */

typedef struct cql_frame {
    uint8_t version;          /* without the direction bit */
    bool response;            /* direction bit */
    uint8_t flags;
    int16_t stream;
    uint8_t opcode;
    const uint8_t *body;      /* points into the parsed buffer */
    uint32_t len;             /* body length */
    size_t total;             /* header + body: bytes consumed */
} cql_frame_t;

/* Parse one frame at buf[0..len).  Returns 0 (f filled, f->body points into buf),
 * 1 when more bytes are needed (f->total = bytes needed when known, else 0), or
 * SL_PARSE when the bytes cannot be a frame: a version outside 1..5, a body longer
 * than max_body (which is also capped at CQL_MAX_FRAME), a negative length.  v1/v2
 * headers (8 bytes, 1-byte stream) are understood so a server that answers an
 * unsupported version in its own old format is still read. */
int cql_frame_parse(const uint8_t *buf, size_t len, size_t max_body, cql_frame_t *f,
                    sl_error_t *err);

/* Start a request frame in out (appended at out->len); returns the frame's offset for
 * cql_frame_finish.  Only versions 3 and 4 are encoded. */
size_t cql_frame_begin(sl_buf_t *out, int version, uint8_t flags, int16_t stream, uint8_t opcode);
/* Write the body length of the frame that starts at `at`. */
void cql_frame_finish(sl_buf_t *out, size_t at);
/* Rewrite version and stream of an encoded request frame at frame[0..]. */
void cql_frame_patch(uint8_t *frame, int version, int16_t stream);

/* ---- primitive encoders (big-endian, appended to out) ---- */
void cql_put_byte(sl_buf_t *out, uint8_t v);
void cql_put_short(sl_buf_t *out, uint16_t v);
void cql_put_int(sl_buf_t *out, int32_t v);
void cql_put_long(sl_buf_t *out, int64_t v);
void cql_put_string(sl_buf_t *out, const char *s, size_t len);        /* [string] */
void cql_put_long_string(sl_buf_t *out, const char *s, size_t len);   /* [long string] */
void cql_put_bytes(sl_buf_t *out, const void *p, int32_t len);        /* [bytes]; len<0 = null */
void cql_put_short_bytes(sl_buf_t *out, const void *p, size_t len);   /* [short bytes] */
/* [string map] of n pairs kv[0], kv[1], kv[2]... (NUL-terminated strings). */
void cql_put_string_map(sl_buf_t *out, const char *const *kv, size_t n);
void cql_put_string_list(sl_buf_t *out, const char *const *v, size_t n);

/* A serialised [value]: len >= 0 bytes at p, or len == -1 (null). */
typedef struct cql_bytes {
    const uint8_t *p;
    int32_t len;
} cql_bytes_t;

/* ---- requests (each appends one whole frame to out) ---- */

/* STARTUP with CQL_VERSION (and COMPRESSION when compression != NULL). */
void cql_enc_startup(sl_buf_t *out, int version, int16_t stream, const char *cql_version,
                     const char *compression);
void cql_enc_options(sl_buf_t *out, int version, int16_t stream);
/* AUTH_RESPONSE with a [bytes] token. */
void cql_enc_auth_response(sl_buf_t *out, int version, int16_t stream, const void *token,
                           int32_t len);
/* The SASL PLAIN token for PasswordAuthenticator: "\0user\0password". */
void cql_sasl_plain(sl_buf_t *out, const char *user, const char *password);
void cql_enc_register(sl_buf_t *out, int version, int16_t stream, const char *const *events,
                      size_t n);
void cql_enc_prepare(sl_buf_t *out, int version, int16_t stream, const char *query, size_t len);

/* Query parameters shared by QUERY and EXECUTE.  values may be NULL when n == 0 (then
 * no Values flag is sent).  page_size <= 0: none; timestamp_us < 0: none;
 * serial_consistency < 0: none. */
typedef struct cql_params {
    int consistency;
    const cql_bytes_t *values;
    size_t nvalues;
    bool skip_metadata;
    int32_t page_size;
    cql_bytes_t paging_state;   /* p == NULL: none */
    int serial_consistency;
    int64_t timestamp_us;
} cql_params_t;
/* Defaults: consistency ONE, nothing else. */
cql_params_t cql_params_default(int consistency);

void cql_enc_query(sl_buf_t *out, int version, int16_t stream, const char *query, size_t len,
                   const cql_params_t *params);
void cql_enc_execute(sl_buf_t *out, int version, int16_t stream, const void *id, size_t id_len,
                     const cql_params_t *params);

/* EXECUTE built in place (hot path: values are serialised straight into the frame):
 * begin, then exactly nvalues values with cql_put_value / types.c's cql_value_put,
 * then finish with the same timestamp_us (< 0: none; else the write's timestamp in
 * microseconds, flag 0x20). */
size_t cql_execute_begin(sl_buf_t *out, int version, int16_t stream, const void *id, size_t id_len,
                         int consistency, uint16_t nvalues, int64_t timestamp_us);
void cql_execute_finish(sl_buf_t *out, size_t at, int64_t timestamp_us);
/* BATCH built in place: begin(type, n), n times (cql_batch_add_prepared or _query,
 * followed by its values), then cql_batch_finish. */
size_t cql_batch_begin(sl_buf_t *out, int version, int16_t stream, int type, uint16_t n);
void cql_batch_add_prepared(sl_buf_t *out, const void *id, size_t id_len, uint16_t nvalues);
void cql_batch_add_query(sl_buf_t *out, const char *query, size_t len, uint16_t nvalues);
/* serial_consistency < 0 and timestamp_us < 0: not sent. */
void cql_batch_finish(sl_buf_t *out, size_t at, int consistency, int serial_consistency,
                      int64_t timestamp_us);
/* A [value]: len >= 0 bytes, or -1 for null. */
void cql_put_value(sl_buf_t *out, const void *p, int32_t len);

/* ---- responses ---- */

typedef struct cql_strlist {
    const char **v;
    size_t n;
} cql_strlist_t;

typedef struct cql_type cql_type_t;
struct cql_type {
    uint16_t id;                 /* enum cql_type_id */
    const char *custom;          /* CUSTOM: the Java class; UDT: its name */
    const char *keyspace;        /* UDT */
    uint16_t n;                  /* LIST/SET: 1, MAP: 2, UDT/TUPLE: fields */
    const cql_type_t **sub;      /* element types */
    const char **names;          /* UDT field names */
};

typedef struct cql_colspec {
    const char *keyspace, *table, *name;
    const cql_type_t *type;
} cql_colspec_t;

typedef struct cql_metadata {
    int32_t flags;               /* 1 global spec, 2 more pages, 4 no metadata */
    int32_t ncols;
    cql_bytes_t paging_state;    /* p == NULL: none */
    int32_t pk_count;            /* prepared, v4 */
    const uint16_t *pk_index;
    const char *keyspace, *table;   /* global table spec (or NULL) */
    cql_colspec_t *cols;         /* ncols, or NULL with the No_metadata flag */
} cql_metadata_t;

typedef struct cql_result {
    int32_t kind;
    /* ROWS */
    cql_metadata_t meta;
    int32_t nrows;
    cql_bytes_t *cells;          /* nrows * meta.ncols, row-major; len -1 = null */
    /* SET_KEYSPACE: keyspace; SCHEMA_CHANGE: change, target, keyspace, name, args */
    const char *keyspace;
    const char *change, *target, *name;
    cql_strlist_t args;
    /* PREPARED: id, bind metadata (meta) and result metadata */
    cql_bytes_t id;
    cql_metadata_t result_meta;
} cql_result_t;

typedef struct cql_error {
    int32_t code;
    const char *message;
    int consistency;             /* UNAVAILABLE, *_TIMEOUT, *_FAILURE (-1 otherwise) */
    int32_t required, alive;     /* UNAVAILABLE */
    int32_t received, blockfor;  /* WRITE/READ_TIMEOUT, READ/WRITE_FAILURE */
    int32_t numfailures;         /* READ/WRITE_FAILURE */
    int data_present;            /* READ_TIMEOUT, READ_FAILURE (-1 otherwise) */
    const char *write_type;      /* WRITE_TIMEOUT, WRITE_FAILURE */
    const char *keyspace, *table;   /* ALREADY_EXISTS; FUNCTION_FAILURE: keyspace */
    const char *function;        /* FUNCTION_FAILURE */
    cql_strlist_t arg_types;     /* FUNCTION_FAILURE */
    cql_bytes_t unprepared_id;   /* UNPREPARED */
} cql_error_t;

typedef struct cql_event {
    const char *type;            /* TOPOLOGY_CHANGE STATUS_CHANGE SCHEMA_CHANGE */
    const char *change;          /* NEW_NODE REMOVED_NODE UP DOWN / CREATED UPDATED DROPPED */
    uint8_t addr[16];            /* TOPOLOGY/STATUS */
    uint8_t addr_len;
    int32_t port;
    const char *target, *keyspace, *name;   /* SCHEMA_CHANGE */
    cql_strlist_t args;
} cql_event_t;

typedef struct cql_response {
    uint8_t opcode;
    int16_t stream;
    const uint8_t *tracing_id;   /* 16 bytes, or NULL */
    cql_strlist_t warnings;      /* v4 */
    /* exactly one of these is meaningful, by opcode */
    cql_error_t error;                     /* ERROR */
    const char *authenticator;             /* AUTHENTICATE */
    cql_bytes_t token;                     /* AUTH_CHALLENGE, AUTH_SUCCESS */
    size_t nsupported;                     /* SUPPORTED: keys and their lists */
    const char **supported_keys;
    cql_strlist_t *supported_vals;
    cql_result_t result;                   /* RESULT */
    cql_event_t event;                     /* EVENT */
} cql_response_t;

/* Decode the body of a response frame (READY, ERROR, AUTHENTICATE, SUPPORTED, RESULT,
 * EVENT, AUTH_CHALLENGE, AUTH_SUCCESS) into *out; strings and arrays go into arena.
 * Bytes after what the spec describes are ignored (the spec allows extensions).
 * Returns 0, or SL_PARSE with a reason ("RESULT Rows: truncated column spec 2"). */
int cql_response_decode(const cql_frame_t *f, sl_arena_t *arena, cql_response_t *out,
                        sl_error_t *err);

/* One line for a server error, with its extra fields:
 * "Unavailable (0x1000): Cannot achieve consistency level QUORUM [consistency QUORUM,
 * required 2, alive 1]".  Returns out. */
char *cql_error_describe(const cql_error_t *e, char *out, size_t cap);

/* ================================ types ================================ */

/* Parse a CQL type as written in a schema: "text", "map<text, text>", "list<int>",
 * "frozen<list<text>>" (frozen is kept as its inner type).  Aliases: string -> text,
 * bool -> boolean, long -> bigint, integer -> int, json -> text, real -> double.
 * Returns 0, or SL_PARSE with a reason.  The tree lives in arena. */
int cql_type_parse(sl_arena_t *arena, const char *text, const cql_type_t **out, sl_error_t *err);
/* Append the type's CQL name ("map<text, text>") to out. */
void cql_type_format(sl_buf_t *out, const cql_type_t *t);

/* Serialise v as a [value] of type t (length prefix included), appended to out.
 * Conversions: numbers from numeric strings and between int/double when exact;
 * timestamp from epoch ms (int or double) or an ISO-8601 string; uuid/timeuuid
 * from their text form; decimal from numbers or decimal strings (exact digits);
 * text from any scalar (numbers in their JSON form), and from arrays/objects as
 * JSON; list/set from arrays, map from objects (keys converted to the key type).
 * null -> a null [value].  Returns 0, or SL_PARSE with a reason (out is then left
 * as it was), for a value that does not fit (e.g. "int: 3000000000 is out of range").
 * Collections use [int] counts and [bytes] elements (protocol v3 and v4). */
int cql_value_put(sl_buf_t *out, const cql_type_t *t, sl_value_t v, sl_error_t *err);

/* Decode a cell of type t: text -> string, int/bigint/counter/varint (when it fits) ->
 * int, float/double -> double, boolean -> bool, timestamp -> int (epoch ms),
 * uuid/timeuuid/inet -> string, decimal/varint (large) -> string of digits, blob ->
 * "0x..." string, list/set -> array, map -> object (keys as text).  null cell -> null.
 * Returns 0, or SL_PARSE for malformed bytes. */
int cql_value_decode(sl_arena_t *arena, const cql_type_t *t, cql_bytes_t cell, sl_value_t *out,
                     sl_error_t *err);

/* Helpers exposed for tests. */
/* Parse an ISO-8601 date-time ("2024-10-01T14:41Z", "2024-10-01 14:41:00.250+02:00",
 * "1969-12-31T23:59:59.999Z", "2024-10-01") into epoch ms.  false when malformed. */
bool cql_parse_iso_ms(const char *s, size_t len, int64_t *ms);
/* Parse "123e4567-e89b-12d3-a456-426614174000" (or 32 hex digits) into 16 bytes. */
bool cql_parse_uuid(const char *s, size_t len, uint8_t out[16]);
/* Decimal text ("-12.345", "1e-3", "42") -> scale and two's complement varint bytes
 * appended to out (the unscaled value).  false when malformed or over 4096 digits. */
bool cql_decimal_from_text(const char *s, size_t len, int32_t *scale, sl_buf_t *unscaled);

/* ================================ connection ================================ */

typedef struct cql_conn cql_conn_t;

typedef struct cql_conn_opts {
    const char *host;            /* IPv4/IPv6 literal or a name */
    int port;
    int version;                 /* 0: negotiate (4, then 3); else exactly this */
    const char *username, *password;   /* NULL: no credentials */
    int64_t connect_timeout_ms;
    int64_t timeout_ms;          /* per request */
    size_t max_frame;            /* body limit for responses (<= CQL_MAX_FRAME) */
    int max_streams;             /* requests in flight (1..32768) */
} cql_conn_opts_t;

/* Connect and do the handshake (blocking, bounded by the timeouts).  Returns 0 with
 * *out set, SL_RETRY (unreachable, refused, timed out, bad credentials: an operator
 * can fix these without a restart) or SL_FATAL (the server speaks no version we do),
 * with err->msg naming host:port.  A function that fails leaves *out NULL. */
int cql_conn_open(const cql_conn_opts_t *opts, cql_conn_t **out, sl_error_t *err);
void cql_conn_close(cql_conn_t *c);
int cql_conn_version(const cql_conn_t *c);
const char *cql_conn_name(const cql_conn_t *c);   /* "host:port" */
int cql_conn_fd(const cql_conn_t *c);
/* Tries at negotiation: 2 when v4 was refused and v3 used. */
int cql_conn_attempts(const cql_conn_t *c);

/* One request, synchronously (for DDL, PREPARE): frame is a whole encoded request
 * (its version and stream are patched); waits for its response (other frames, events,
 * are dropped), which is decoded into resp (strings in arena).  Returns 0 (resp may be
 * an ERROR: the caller decides), SL_RETRY on a network error or timeout (then the
 * connection is broken: close it), SL_PARSE on a malformed response. */
int cql_conn_call(cql_conn_t *c, sl_buf_t *frame, sl_arena_t *arena, cql_response_t *resp,
                  sl_error_t *err);

/* ---- pipelined use (pool.c) ---- */
/* A free stream id, or -1 when max_streams are in flight. */
int cql_conn_stream_take(cql_conn_t *c);
void cql_conn_stream_give(cql_conn_t *c, int stream);
int cql_conn_inflight(const cql_conn_t *c);
/* Queue bytes for sending (copied), or encode straight into the send buffer. */
void cql_conn_queue(cql_conn_t *c, const void *p, size_t len);
sl_buf_t *cql_conn_outbuf(cql_conn_t *c);
bool cql_conn_want_write(const cql_conn_t *c);
/* Send what is queued without blocking.  0 or SL_RETRY (broken). */
int cql_conn_flush(cql_conn_t *c, sl_error_t *err);
/* Receive without blocking; then cql_conn_next gives each complete frame.  0 or
 * SL_RETRY (closed by the peer, broken) */
int cql_conn_recv(cql_conn_t *c, sl_error_t *err);
/* The next complete response frame (valid until the next recv/next call): 1 with *f,
 * 0 when none is complete, SL_PARSE when the stream is garbled (connection broken).
 * EVENT frames are skipped here. */
int cql_conn_next(cql_conn_t *c, cql_frame_t *f, sl_error_t *err);
/* Per-connection slot for the user (the sink keeps its prepared id here). */
void *cql_conn_user(cql_conn_t *c);
void cql_conn_set_user(cql_conn_t *c, void *user, void (*free_user)(void *));

/* ================================ pool ================================ */

typedef struct cql_pool cql_pool_t;

/* Called after a connection is opened, before it takes requests (prepare statements,
 * create the schema...).  Returns 0, SL_RETRY (the connection is dropped and the host
 * backs off) or fatal. */
typedef int (*cql_setup_fn)(void *ud, cql_conn_t *c, sl_error_t *err);

typedef struct cql_pool_opts {
    const char *const *hosts;    /* "host" or "host:port" (IPv6: "[::1]:9042") */
    size_t nhosts;
    int default_port;
    cql_conn_opts_t conn;        /* host/port ignored */
    int64_t backoff_min_ms, backoff_max_ms;   /* per host, doubling */
    cql_setup_fn setup;
    void *setup_ud;
    const char *what;            /* log prefix ("sink 'cassandra' of job 'x'"); not copied:
                                    it must outlive the pool.  NULL: "cassandra" */
    const char *metric_labels;   /* e.g. job="x": per host, the gauge sluice_cassandra_host_up
                                    and the counter sluice_cassandra_host_down_total with
                                    these labels and host="h:p" (copied); NULL: none */
} cql_pool_opts_t;

/* Copies opts (strings too).  Connects lazily. */
cql_pool_t *cql_pool_new(const cql_pool_opts_t *opts);
void cql_pool_free(cql_pool_t *p);
/* Connect hosts that are down and whose backoff has passed (all of them if none is
 * up).  Returns the number of connections up; when 0, SL_RETRY with the reason of
 * each host in err.  A host going down ("HOST is down: why (k of n hosts up)") and
 * coming back ("HOST is up again after N ms down") is logged once per transition. */
int cql_pool_connect(cql_pool_t *p, sl_error_t *err);
size_t cql_pool_up(const cql_pool_t *p);
/* The number of hosts (contact points). */
size_t cql_pool_size(const cql_pool_t *p);
/* Mark a connection broken: closed, its host backs off. */
void cql_pool_broken(cql_pool_t *p, cql_conn_t *c, const char *why);

/* The pipelined loop.  Each request i in [0, n) is encoded for the connection that
 * will carry it (encode appends one whole frame with the given stream), sent, and its
 * response handed to done().  done returns 0 (finished), 1 (send it again, e.g. after
 * an error of the coordinator: it goes to another host when one has a free stream) or
 * an error code (stop: the run returns it after
 * the requests in flight are answered or time out).  A request in flight on a
 * connection that breaks is sent again on another one (requests must be idempotent).
 * Returns 0 when every request is done, SL_RETRY when no connection is left or a
 * request timed out, or the error of done(). */
typedef struct cql_pool_ops {
    void (*encode)(void *ud, size_t i, cql_conn_t *c, int16_t stream, sl_buf_t *out);
    int (*done)(void *ud, size_t i, cql_conn_t *c, const cql_frame_t *f, sl_error_t *err);
} cql_pool_ops_t;
int cql_pool_run(cql_pool_t *p, size_t n, const cql_pool_ops_t *ops, void *ud, sl_error_t *err);

#endif
