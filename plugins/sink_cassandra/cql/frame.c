/* frame.c - CQL native protocol v3/v4 frames: request encoders and response decoders,
 * pure functions over buffers (no I/O).  See cql.h for the invariants; the layouts
 * follow native_protocol_v3.spec and native_protocol_v4.spec section by section. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cql.h"

/* ================================ names ================================ */

static const char *const cl_names[] = {"ANY",    "ONE",         "TWO",          "THREE",
                                       "QUORUM", "ALL",         "LOCAL_QUORUM", "EACH_QUORUM",
                                       "SERIAL", "LOCAL_SERIAL", "LOCAL_ONE"};

const char *cql_consistency_name(int consistency) {
    if (consistency < 0 || consistency > CQL_LOCAL_ONE) return "?";
    return cl_names[consistency];
}

int cql_consistency_parse(const char *name) {
    if (!name) return -1;
    for (int i = 0; i <= CQL_LOCAL_ONE; i++)
        if (strcasecmp(cl_names[i], name) == 0) return i;
    return -1;
}

const char *cql_error_name(int32_t code) {
    switch (code) {
#define CQL_ERR_CASE(name, c, text) case c: return text;
        CQL_ERRORS(CQL_ERR_CASE)
#undef CQL_ERR_CASE
    default: return "Unknown error";
    }
}

const char *cql_opcode_name(int opcode) {
    static const char *const n[] = {"ERROR",    "STARTUP", "READY",  "AUTHENTICATE", "?",
                                    "OPTIONS",  "SUPPORTED", "QUERY", "RESULT",      "PREPARE",
                                    "EXECUTE",  "REGISTER", "EVENT", "BATCH",        "AUTH_CHALLENGE",
                                    "AUTH_RESPONSE", "AUTH_SUCCESS"};
    if (opcode < 0 || opcode > CQL_OP_AUTH_SUCCESS) return "?";
    return n[opcode];
}

/* ================================ encoding ================================ */

void cql_put_byte(sl_buf_t *out, uint8_t v) { sl_buf_append(out, &v, 1); }

void cql_put_short(sl_buf_t *out, uint16_t v) {
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    sl_buf_append(out, b, 2);
}

void cql_put_int(sl_buf_t *out, int32_t v) {
    uint32_t u = (uint32_t)v;
    uint8_t b[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    sl_buf_append(out, b, 4);
}

void cql_put_long(sl_buf_t *out, int64_t v) {
    uint64_t u = (uint64_t)v;
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(u >> (56 - 8 * i));
    sl_buf_append(out, b, 8);
}

void cql_put_string(sl_buf_t *out, const char *s, size_t len) {
    if (len > 0xFFFF) len = 0xFFFF;  /* callers keep [string]s short (names, options) */
    cql_put_short(out, (uint16_t)len);
    sl_buf_append(out, s, len);
}

void cql_put_long_string(sl_buf_t *out, const char *s, size_t len) {
    cql_put_int(out, (int32_t)len);
    sl_buf_append(out, s, len);
}

void cql_put_bytes(sl_buf_t *out, const void *p, int32_t len) {
    cql_put_int(out, len < 0 ? -1 : len);
    if (len > 0) sl_buf_append(out, p, (size_t)len);
}

void cql_put_value(sl_buf_t *out, const void *p, int32_t len) { cql_put_bytes(out, p, len); }

void cql_put_short_bytes(sl_buf_t *out, const void *p, size_t len) {
    if (len > 0xFFFF) len = 0xFFFF;
    cql_put_short(out, (uint16_t)len);
    sl_buf_append(out, p, len);
}

void cql_put_string_map(sl_buf_t *out, const char *const *kv, size_t n) {
    cql_put_short(out, (uint16_t)n);
    for (size_t i = 0; i < 2 * n; i++) cql_put_string(out, kv[i], strlen(kv[i]));
}

void cql_put_string_list(sl_buf_t *out, const char *const *v, size_t n) {
    cql_put_short(out, (uint16_t)n);
    for (size_t i = 0; i < n; i++) cql_put_string(out, v[i], strlen(v[i]));
}

size_t cql_frame_begin(sl_buf_t *out, int version, uint8_t flags, int16_t stream, uint8_t opcode) {
    size_t at = out->len;
    uint8_t h[CQL_HEADER_LEN] = {(uint8_t)(version & 0x7F), flags, (uint8_t)((uint16_t)stream >> 8),
                                 (uint8_t)stream, opcode, 0, 0, 0, 0};
    sl_buf_append(out, h, sizeof h);
    return at;
}

void cql_frame_finish(sl_buf_t *out, size_t at) {
    uint32_t len = (uint32_t)(out->len - at - CQL_HEADER_LEN);
    uint8_t *p = (uint8_t *)out->data + at + 5;
    p[0] = (uint8_t)(len >> 24);
    p[1] = (uint8_t)(len >> 16);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
}

void cql_frame_patch(uint8_t *frame, int version, int16_t stream) {
    frame[0] = (uint8_t)(version & 0x7F);
    frame[2] = (uint8_t)((uint16_t)stream >> 8);
    frame[3] = (uint8_t)stream;
}

void cql_enc_startup(sl_buf_t *out, int version, int16_t stream, const char *cql_version,
                     const char *compression) {
    size_t at = cql_frame_begin(out, version, 0, stream, CQL_OP_STARTUP);
    const char *kv[4] = {"CQL_VERSION", cql_version ? cql_version : "3.0.0", "COMPRESSION", compression};
    cql_put_string_map(out, kv, compression ? 2 : 1);
    cql_frame_finish(out, at);
}

void cql_enc_options(sl_buf_t *out, int version, int16_t stream) {
    size_t at = cql_frame_begin(out, version, 0, stream, CQL_OP_OPTIONS);
    cql_frame_finish(out, at);
}

void cql_enc_auth_response(sl_buf_t *out, int version, int16_t stream, const void *token, int32_t len) {
    size_t at = cql_frame_begin(out, version, 0, stream, CQL_OP_AUTH_RESPONSE);
    cql_put_bytes(out, token, len);
    cql_frame_finish(out, at);
}

void cql_sasl_plain(sl_buf_t *out, const char *user, const char *password) {
    sl_buf_putc(out, 0);
    sl_buf_puts(out, user ? user : "");
    sl_buf_putc(out, 0);
    sl_buf_puts(out, password ? password : "");
}

void cql_enc_register(sl_buf_t *out, int version, int16_t stream, const char *const *events, size_t n) {
    size_t at = cql_frame_begin(out, version, 0, stream, CQL_OP_REGISTER);
    cql_put_string_list(out, events, n);
    cql_frame_finish(out, at);
}

void cql_enc_prepare(sl_buf_t *out, int version, int16_t stream, const char *query, size_t len) {
    size_t at = cql_frame_begin(out, version, 0, stream, CQL_OP_PREPARE);
    cql_put_long_string(out, query, len);
    cql_frame_finish(out, at);
}

cql_params_t cql_params_default(int consistency) {
    cql_params_t p;
    memset(&p, 0, sizeof p);
    p.consistency = consistency;
    p.serial_consistency = -1;
    p.timestamp_us = -1;
    return p;
}

static void put_params(sl_buf_t *out, const cql_params_t *p) {
    uint8_t flags = 0;
    if (p->nvalues) flags |= CQL_QF_VALUES;
    if (p->skip_metadata) flags |= CQL_QF_SKIP_METADATA;
    if (p->page_size > 0) flags |= CQL_QF_PAGE_SIZE;
    if (p->paging_state.p) flags |= CQL_QF_PAGING_STATE;
    if (p->serial_consistency >= 0) flags |= CQL_QF_SERIAL_CONSISTENCY;
    if (p->timestamp_us >= 0) flags |= CQL_QF_DEFAULT_TIMESTAMP;
    cql_put_short(out, (uint16_t)p->consistency);
    cql_put_byte(out, flags);
    if (p->nvalues) {
        cql_put_short(out, (uint16_t)p->nvalues);
        for (size_t i = 0; i < p->nvalues; i++) cql_put_value(out, p->values[i].p, p->values[i].len);
    }
    if (p->page_size > 0) cql_put_int(out, p->page_size);
    if (p->paging_state.p) cql_put_bytes(out, p->paging_state.p, p->paging_state.len);
    if (p->serial_consistency >= 0) cql_put_short(out, (uint16_t)p->serial_consistency);
    if (p->timestamp_us >= 0) cql_put_long(out, p->timestamp_us);
}

void cql_enc_query(sl_buf_t *out, int version, int16_t stream, const char *query, size_t len,
                   const cql_params_t *params) {
    size_t at = cql_frame_begin(out, version, 0, stream, CQL_OP_QUERY);
    cql_put_long_string(out, query, len);
    put_params(out, params);
    cql_frame_finish(out, at);
}

void cql_enc_execute(sl_buf_t *out, int version, int16_t stream, const void *id, size_t id_len,
                     const cql_params_t *params) {
    size_t at = cql_frame_begin(out, version, 0, stream, CQL_OP_EXECUTE);
    cql_put_short_bytes(out, id, id_len);
    put_params(out, params);
    cql_frame_finish(out, at);
}

size_t cql_execute_begin(sl_buf_t *out, int version, int16_t stream, const void *id, size_t id_len,
                         int consistency, uint16_t nvalues, int64_t timestamp_us) {
    size_t at = cql_frame_begin(out, version, 0, stream, CQL_OP_EXECUTE);
    cql_put_short_bytes(out, id, id_len);
    cql_put_short(out, (uint16_t)consistency);
    cql_put_byte(out, (uint8_t)((nvalues ? CQL_QF_VALUES : 0) | (timestamp_us >= 0 ? CQL_QF_DEFAULT_TIMESTAMP : 0)));
    if (nvalues) cql_put_short(out, nvalues);
    return at;
}

void cql_execute_finish(sl_buf_t *out, size_t at, int64_t timestamp_us) {
    if (timestamp_us >= 0) cql_put_long(out, timestamp_us);
    cql_frame_finish(out, at);
}

size_t cql_batch_begin(sl_buf_t *out, int version, int16_t stream, int type, uint16_t n) {
    size_t at = cql_frame_begin(out, version, 0, stream, CQL_OP_BATCH);
    cql_put_byte(out, (uint8_t)type);
    cql_put_short(out, n);
    return at;
}

void cql_batch_add_prepared(sl_buf_t *out, const void *id, size_t id_len, uint16_t nvalues) {
    cql_put_byte(out, 1);
    cql_put_short_bytes(out, id, id_len);
    cql_put_short(out, nvalues);
}

void cql_batch_add_query(sl_buf_t *out, const char *query, size_t len, uint16_t nvalues) {
    cql_put_byte(out, 0);
    cql_put_long_string(out, query, len);
    cql_put_short(out, nvalues);
}

void cql_batch_finish(sl_buf_t *out, size_t at, int consistency, int serial_consistency,
                      int64_t timestamp_us) {
    uint8_t flags = 0;
    if (serial_consistency >= 0) flags |= CQL_QF_SERIAL_CONSISTENCY;
    if (timestamp_us >= 0) flags |= CQL_QF_DEFAULT_TIMESTAMP;
    cql_put_short(out, (uint16_t)consistency);
    cql_put_byte(out, flags);
    if (serial_consistency >= 0) cql_put_short(out, (uint16_t)serial_consistency);
    if (timestamp_us >= 0) cql_put_long(out, timestamp_us);
    cql_frame_finish(out, at);
}

/* ================================ frame header ================================ */

int cql_frame_parse(const uint8_t *buf, size_t len, size_t max_body, cql_frame_t *f, sl_error_t *err) {
    memset(f, 0, sizeof *f);
    if (len < 1) return 1;
    int version = buf[0] & 0x7F;
    if (version < 1 || version > 5)
        return sl_error_set(err, SL_PARSE, "not a CQL frame: version byte 0x%02x", buf[0]);
    size_t hl = version >= 3 ? 9 : 8;
    if (len < hl) return 1;
    f->version = (uint8_t)version;
    f->response = (buf[0] & 0x80) != 0;
    f->flags = buf[1];
    size_t o;
    if (version >= 3) {
        f->stream = (int16_t)(uint16_t)((buf[2] << 8) | buf[3]);
        o = 4;
    } else {
        f->stream = (int8_t)buf[2];
        o = 3;
    }
    f->opcode = buf[o];
    uint32_t blen = ((uint32_t)buf[o + 1] << 24) | ((uint32_t)buf[o + 2] << 16) |
                    ((uint32_t)buf[o + 3] << 8) | buf[o + 4];
    if (blen & 0x80000000u)
        return sl_error_set(err, SL_PARSE, "CQL frame with a negative body length (0x%08x)", blen);
    if (max_body == 0 || max_body > CQL_MAX_FRAME) max_body = CQL_MAX_FRAME;
    if (blen > max_body)
        return sl_error_set(err, SL_PARSE, "CQL frame body of %u bytes exceeds the limit of %zu bytes", blen,
                            max_body);
    f->len = blen;
    f->total = hl + blen;
    if (len < f->total) return 1;
    f->body = buf + hl;
    return 0;
}

/* ================================ decoding ================================ */

typedef struct rd {
    const uint8_t *p;
    size_t len, pos;
    sl_arena_t *arena;
    sl_error_t *err;
    const char *what;     /* "RESULT Rows" for messages */
    bool failed;
} rd_t;

static bool rd_fail(rd_t *r, const char *fmt, const char *detail) {
    if (!r->failed) {
        char m[256];
        snprintf(m, sizeof m, fmt, detail);
        sl_error_set(r->err, SL_PARSE, "%s: %s (at byte %zu of %zu)", r->what, m, r->pos, r->len);
    }
    r->failed = true;
    return false;
}

static bool rd_need(rd_t *r, size_t n, const char *what) {
    if (r->failed) return false;
    if (r->len - r->pos < n) return rd_fail(r, "truncated %s", what);
    return true;
}

static uint8_t rd_byte(rd_t *r, const char *what) {
    if (!rd_need(r, 1, what)) return 0;
    return r->p[r->pos++];
}

static uint16_t rd_short(rd_t *r, const char *what) {
    if (!rd_need(r, 2, what)) return 0;
    uint16_t v = (uint16_t)((r->p[r->pos] << 8) | r->p[r->pos + 1]);
    r->pos += 2;
    return v;
}

static int32_t rd_int(rd_t *r, const char *what) {
    if (!rd_need(r, 4, what)) return 0;
    const uint8_t *b = r->p + r->pos;
    r->pos += 4;
    return (int32_t)(((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3]);
}

static const char *rd_string(rd_t *r, const char *what) {
    uint16_t n = rd_short(r, what);
    if (!rd_need(r, n, what)) return NULL;
    const char *s = sl_arena_strndup(r->arena, (const char *)r->p + r->pos, n);
    r->pos += n;
    return s;
}

static cql_bytes_t rd_bytes(rd_t *r, const char *what) {
    cql_bytes_t b = {NULL, -1};
    int32_t n = rd_int(r, what);
    if (r->failed) return b;
    if (n < 0) return b;   /* null ([value] -2 "not set" is also "no value" here) */
    if (!rd_need(r, (size_t)n, what)) return b;
    b.p = r->p + r->pos;
    b.len = n;
    r->pos += (size_t)n;
    return b;
}

static cql_bytes_t rd_short_bytes(rd_t *r, const char *what) {
    cql_bytes_t b = {NULL, -1};
    uint16_t n = rd_short(r, what);
    if (!rd_need(r, n, what)) return b;
    b.p = r->p + r->pos;
    b.len = n;
    r->pos += n;
    return b;
}

static cql_strlist_t rd_string_list(rd_t *r, const char *what) {
    cql_strlist_t l = {NULL, 0};
    uint16_t n = rd_short(r, what);
    if (r->failed) return l;
    if ((size_t)n * 2 > r->len - r->pos) {   /* each [string] takes >= 2 bytes */
        rd_fail(r, "truncated %s", what);
        return l;
    }
    l.v = sl_arena_alloc(r->arena, (n ? n : 1) * sizeof *l.v);
    for (uint16_t i = 0; i < n && !r->failed; i++) l.v[i] = rd_string(r, what);
    l.n = r->failed ? 0 : n;
    return l;
}

static const cql_type_t *rd_option(rd_t *r, int depth) {
    if (depth > CQL_MAX_DEPTH) {
        rd_fail(r, "%s", "column type nested too deeply");
        return NULL;
    }
    uint16_t id = rd_short(r, "type option");
    if (r->failed) return NULL;
    cql_type_t *t = sl_arena_calloc(r->arena, sizeof *t);
    t->id = id;
    switch (id) {
    case CQL_T_CUSTOM: t->custom = rd_string(r, "custom type class"); break;
    case CQL_T_LIST:
    case CQL_T_SET:
    case CQL_T_MAP: {
        t->n = id == CQL_T_MAP ? 2 : 1;
        t->sub = sl_arena_alloc(r->arena, t->n * sizeof *t->sub);
        for (uint16_t i = 0; i < t->n; i++) t->sub[i] = rd_option(r, depth + 1);
        break;
    }
    case CQL_T_UDT:
    case CQL_T_TUPLE: {
        if (id == CQL_T_UDT) {
            t->keyspace = rd_string(r, "UDT keyspace");
            t->custom = rd_string(r, "UDT name");
        }
        uint16_t n = rd_short(r, "field count");
        if (r->failed) return NULL;
        if ((size_t)n * 2 > r->len - r->pos) {
            rd_fail(r, "truncated %s", "field list");
            return NULL;
        }
        t->n = n;
        t->sub = sl_arena_alloc(r->arena, (n ? n : 1) * sizeof *t->sub);
        if (id == CQL_T_UDT) t->names = sl_arena_alloc(r->arena, (n ? n : 1) * sizeof *t->names);
        for (uint16_t i = 0; i < n && !r->failed; i++) {
            if (id == CQL_T_UDT) t->names[i] = rd_string(r, "UDT field name");
            t->sub[i] = rd_option(r, depth + 1);
        }
        break;
    }
    default:
        if (id < CQL_T_ASCII || id > CQL_T_TINYINT) {
            char m[32];
            snprintf(m, sizeof m, "0x%04x", id);
            rd_fail(r, "unknown column type id %s", m);
            return NULL;
        }
    }
    return r->failed ? NULL : t;
}

/* <flags><columns_count>[<paging_state>][<pk_count><pk_index>...][<global_table_spec>?<col_spec>...]
 * prepared: the bind metadata (pk indexes in v4, no paging state). */
static void rd_metadata(rd_t *r, cql_metadata_t *m, bool prepared, int version) {
    memset(m, 0, sizeof *m);
    m->flags = rd_int(r, "metadata flags");
    m->ncols = rd_int(r, "column count");
    if (r->failed) return;
    if (m->ncols < 0) {
        rd_fail(r, "%s", "negative column count");
        return;
    }
    if (!prepared && (m->flags & 0x0002)) {
        m->paging_state = rd_bytes(r, "paging state");
        if (!m->paging_state.p && !r->failed) m->paging_state.p = (const uint8_t *)"";
    }
    if (prepared && version >= 4) {
        m->pk_count = rd_int(r, "partition key count");
        if (r->failed) return;
        if (m->pk_count < 0 || (size_t)m->pk_count * 2 > r->len - r->pos) {
            rd_fail(r, "%s", "bad partition key count");
            return;
        }
        uint16_t *ix = sl_arena_alloc(r->arena, ((size_t)m->pk_count + 1) * sizeof *ix);
        for (int32_t i = 0; i < m->pk_count; i++) ix[i] = rd_short(r, "partition key index");
        m->pk_index = ix;
    }
    if (r->failed) return;
    if (!prepared && (m->flags & 0x0004)) return;   /* No_metadata */
    bool global = (m->flags & 0x0001) != 0;
    if (global) {
        m->keyspace = rd_string(r, "global keyspace");
        m->table = rd_string(r, "global table");
    }
    /* each column spec needs at least a name [string] and an [option] id: 4 bytes */
    if (r->failed || (size_t)m->ncols * 4 > r->len - r->pos) {
        rd_fail(r, "%s", "truncated column specs");
        return;
    }
    m->cols = sl_arena_calloc(r->arena, ((size_t)m->ncols + 1) * sizeof *m->cols);
    for (int32_t i = 0; i < m->ncols && !r->failed; i++) {
        cql_colspec_t *c = &m->cols[i];
        if (!global) {
            c->keyspace = rd_string(r, "column keyspace");
            c->table = rd_string(r, "column table");
        } else {
            c->keyspace = m->keyspace;
            c->table = m->table;
        }
        c->name = rd_string(r, "column name");
        c->type = rd_option(r, 0);
    }
}

static void rd_schema_change(rd_t *r, const char **change, const char **target, const char **keyspace,
                             const char **name, cql_strlist_t *args, int version) {
    *change = rd_string(r, "change type");
    *target = rd_string(r, "change target");
    if (r->failed) return;
    if (version < 3) {   /* v1/v2: <change><keyspace><table> */
        *keyspace = *target;
        *target = NULL;
        *name = rd_string(r, "table");
        return;
    }
    *keyspace = rd_string(r, "keyspace");
    if (strcmp(*target, "KEYSPACE") == 0) return;
    *name = rd_string(r, "name");
    if (strcmp(*target, "FUNCTION") == 0 || strcmp(*target, "AGGREGATE") == 0)
        *args = rd_string_list(r, "argument types");
}

static void rd_result(rd_t *r, cql_result_t *res, int version) {
    res->kind = rd_int(r, "result kind");
    if (r->failed) return;
    switch (res->kind) {
    case CQL_RESULT_VOID: r->what = "RESULT Void"; return;
    case CQL_RESULT_ROWS: {
        r->what = "RESULT Rows";
        rd_metadata(r, &res->meta, false, version);
        res->nrows = rd_int(r, "row count");
        if (r->failed) return;
        if (res->nrows < 0 || (res->nrows > 0 && res->meta.ncols == 0)) {
            rd_fail(r, "%s", res->nrows < 0 ? "negative row count" : "rows without columns");
            return;
        }
        uint64_t ncells = (uint64_t)res->nrows * (uint64_t)res->meta.ncols;
        if (ncells * 4 > r->len - r->pos) {   /* every cell is at least an [int] */
            rd_fail(r, "%s", "truncated rows");
            return;
        }
        res->cells = sl_arena_alloc(r->arena, (size_t)(ncells ? ncells : 1) * sizeof *res->cells);
        for (uint64_t i = 0; i < ncells && !r->failed; i++) res->cells[i] = rd_bytes(r, "cell");
        return;
    }
    case CQL_RESULT_SET_KEYSPACE:
        r->what = "RESULT Set_keyspace";
        res->keyspace = rd_string(r, "keyspace");
        return;
    case CQL_RESULT_PREPARED:
        r->what = "RESULT Prepared";
        res->id = rd_short_bytes(r, "prepared id");
        rd_metadata(r, &res->meta, true, version);
        if (version >= 2) rd_metadata(r, &res->result_meta, false, version);   /* since v2 */
        return;
    case CQL_RESULT_SCHEMA_CHANGE:
        r->what = "RESULT Schema_change";
        rd_schema_change(r, &res->change, &res->target, &res->keyspace, &res->name, &res->args, version);
        return;
    default: {
        char m[32];
        snprintf(m, sizeof m, "0x%04x", (unsigned)res->kind);
        rd_fail(r, "unknown result kind %s", m);
    }
    }
}

static void rd_error(rd_t *r, cql_error_t *e) {
    memset(e, 0, sizeof *e);
    e->consistency = -1;
    e->data_present = -1;
    e->code = rd_int(r, "error code");
    e->message = rd_string(r, "error message");
    if (r->failed) return;
    switch (e->code) {
    case CQL_ERR_UNAVAILABLE:
        e->consistency = rd_short(r, "consistency");
        e->required = rd_int(r, "required");
        e->alive = rd_int(r, "alive");
        break;
    case CQL_ERR_WRITE_TIMEOUT:
        e->consistency = rd_short(r, "consistency");
        e->received = rd_int(r, "received");
        e->blockfor = rd_int(r, "blockfor");
        e->write_type = rd_string(r, "write type");
        break;
    case CQL_ERR_READ_TIMEOUT:
        e->consistency = rd_short(r, "consistency");
        e->received = rd_int(r, "received");
        e->blockfor = rd_int(r, "blockfor");
        e->data_present = rd_byte(r, "data_present");
        break;
    case CQL_ERR_READ_FAILURE:
        e->consistency = rd_short(r, "consistency");
        e->received = rd_int(r, "received");
        e->blockfor = rd_int(r, "blockfor");
        e->numfailures = rd_int(r, "numfailures");
        e->data_present = rd_byte(r, "data_present");
        break;
    case CQL_ERR_WRITE_FAILURE:
        e->consistency = rd_short(r, "consistency");
        e->received = rd_int(r, "received");
        e->blockfor = rd_int(r, "blockfor");
        e->numfailures = rd_int(r, "numfailures");
        e->write_type = rd_string(r, "write type");
        break;
    case CQL_ERR_FUNCTION_FAILURE:
        e->keyspace = rd_string(r, "keyspace");
        e->function = rd_string(r, "function");
        e->arg_types = rd_string_list(r, "argument types");
        break;
    case CQL_ERR_ALREADY_EXISTS:
        e->keyspace = rd_string(r, "keyspace");
        e->table = rd_string(r, "table");
        break;
    case CQL_ERR_UNPREPARED: e->unprepared_id = rd_short_bytes(r, "unprepared id"); break;
    default: break;
    }
}

static void rd_event(rd_t *r, cql_event_t *ev, int version) {
    ev->type = rd_string(r, "event type");
    if (r->failed) return;
    if (strcmp(ev->type, "TOPOLOGY_CHANGE") == 0 || strcmp(ev->type, "STATUS_CHANGE") == 0) {
        ev->change = rd_string(r, "change");
        uint8_t n = rd_byte(r, "inet size");
        if (r->failed) return;
        if (n != 4 && n != 16) {
            rd_fail(r, "%s", "inet address size is not 4 or 16");
            return;
        }
        if (!rd_need(r, n, "inet address")) return;
        memcpy(ev->addr, r->p + r->pos, n);
        ev->addr_len = n;
        r->pos += n;
        ev->port = rd_int(r, "inet port");
    } else if (strcmp(ev->type, "SCHEMA_CHANGE") == 0) {
        rd_schema_change(r, &ev->change, &ev->target, &ev->keyspace, &ev->name, &ev->args, version);
    } else {
        rd_fail(r, "unknown event type '%.64s'", ev->type);
    }
}

int cql_response_decode(const cql_frame_t *f, sl_arena_t *arena, cql_response_t *out, sl_error_t *err) {
    memset(out, 0, sizeof *out);
    out->opcode = f->opcode;
    out->stream = f->stream;
    rd_t r = {f->body, f->len, 0, arena, err, cql_opcode_name(f->opcode), false};
    if (!f->response) return sl_error_set(err, SL_PARSE, "%s: a request frame where a response was expected", r.what);
    if (f->flags & CQL_FLAG_COMPRESSION)
        return sl_error_set(err, SL_PARSE, "%s: compressed frame (compression was not negotiated)", r.what);
    if (f->flags & CQL_FLAG_TRACING) {
        if (rd_need(&r, 16, "tracing id")) {
            out->tracing_id = r.p;
            r.pos += 16;
        }
    }
    if (f->version >= 4 && (f->flags & CQL_FLAG_WARNING)) out->warnings = rd_string_list(&r, "warnings");
    if (f->version >= 4 && (f->flags & CQL_FLAG_CUSTOM_PAYLOAD)) {
        uint16_t n = rd_short(&r, "custom payload");
        for (uint16_t i = 0; i < n && !r.failed; i++) {
            rd_string(&r, "custom payload key");
            rd_bytes(&r, "custom payload value");
        }
    }
    if (r.failed) return SL_PARSE;
    switch (f->opcode) {
    case CQL_OP_READY: break;
    case CQL_OP_ERROR: rd_error(&r, &out->error); break;
    case CQL_OP_AUTHENTICATE: out->authenticator = rd_string(&r, "authenticator"); break;
    case CQL_OP_AUTH_CHALLENGE:
    case CQL_OP_AUTH_SUCCESS: out->token = rd_bytes(&r, "token"); break;
    case CQL_OP_SUPPORTED: {
        uint16_t n = rd_short(&r, "multimap size");
        if (r.failed) break;
        if ((size_t)n * 4 > r.len - r.pos) {
            rd_fail(&r, "%s", "truncated multimap");
            break;
        }
        out->supported_keys = sl_arena_alloc(arena, (n ? n : 1) * sizeof *out->supported_keys);
        out->supported_vals = sl_arena_alloc(arena, (n ? n : 1) * sizeof *out->supported_vals);
        for (uint16_t i = 0; i < n && !r.failed; i++) {
            out->supported_keys[i] = rd_string(&r, "option name");
            out->supported_vals[i] = rd_string_list(&r, "option values");
        }
        if (!r.failed) out->nsupported = n;
        break;
    }
    case CQL_OP_RESULT: rd_result(&r, &out->result, f->version); break;
    case CQL_OP_EVENT: rd_event(&r, &out->event, f->version); break;
    default: {
        char m[16];
        snprintf(m, sizeof m, "0x%02x", f->opcode);
        rd_fail(&r, "unexpected opcode %s in a response", m);
    }
    }
    return r.failed ? SL_PARSE : 0;
}

char *cql_error_describe(const cql_error_t *e, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s (0x%04x): %s", cql_error_name(e->code), (unsigned)e->code,
                     e->message ? e->message : "");
    if (n < 0 || (size_t)n >= cap) return out;
    size_t at = (size_t)n;
    switch (e->code) {
    case CQL_ERR_UNAVAILABLE:
        snprintf(out + at, cap - at, " [consistency %s, required %d, alive %d]", cql_consistency_name(e->consistency),
                 e->required, e->alive);
        break;
    case CQL_ERR_WRITE_TIMEOUT:
        snprintf(out + at, cap - at, " [consistency %s, received %d of %d, write type %s]",
                 cql_consistency_name(e->consistency), e->received, e->blockfor, e->write_type ? e->write_type : "?");
        break;
    case CQL_ERR_READ_TIMEOUT:
        snprintf(out + at, cap - at, " [consistency %s, received %d of %d, data %s]",
                 cql_consistency_name(e->consistency), e->received, e->blockfor,
                 e->data_present > 0 ? "present" : "not present");
        break;
    case CQL_ERR_READ_FAILURE:
        snprintf(out + at, cap - at, " [consistency %s, received %d of %d, %d failed, data %s]",
                 cql_consistency_name(e->consistency), e->received, e->blockfor, e->numfailures,
                 e->data_present > 0 ? "present" : "not present");
        break;
    case CQL_ERR_WRITE_FAILURE:
        snprintf(out + at, cap - at, " [consistency %s, received %d of %d, %d failed, write type %s]",
                 cql_consistency_name(e->consistency), e->received, e->blockfor, e->numfailures,
                 e->write_type ? e->write_type : "?");
        break;
    case CQL_ERR_FUNCTION_FAILURE:
        snprintf(out + at, cap - at, " [function %s.%s, %zu argument(s)]", e->keyspace ? e->keyspace : "?",
                 e->function ? e->function : "?", e->arg_types.n);
        break;
    case CQL_ERR_ALREADY_EXISTS:
        if (e->table && *e->table)
            snprintf(out + at, cap - at, " [table %s.%s]", e->keyspace ? e->keyspace : "?", e->table);
        else
            snprintf(out + at, cap - at, " [keyspace %s]", e->keyspace ? e->keyspace : "?");
        break;
    case CQL_ERR_UNPREPARED:
        snprintf(out + at, cap - at, " [statement id of %d bytes]", e->unprepared_id.len);
        break;
    default: break;
    }
    return out;
}
