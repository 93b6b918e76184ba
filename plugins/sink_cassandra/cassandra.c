/* cassandra.c - sink `cassandra`: rows into a Cassandra table over the CQL native
 * protocol (cql/, written here in C: no driver library), at least once with idempotent
 * upserts.
 *
 * The keyspace and table are created from `replication`, `columns`, `primary_key` and
 * `clustering_order` (or the columns are inferred from the first batch).  Each
 * connection PREPAREs the INSERT once; rows are EXECUTEd with bound values, grouped
 * into UNLOGGED BATCHes of rows of one partition (batch_size > 1) or sent as single
 * EXECUTEs (batch_size: 1), many in flight over several stream ids and hosts.
 *
 * Invariants:
 *  1. Upserts are idempotent: a batch retried after SL_RETRY writes the same rows again.
 *  2. Later records win: every request carries a client timestamp (µs, increasing
 *     across writes), and within one write only the last record of each primary key
 *     is sent (two writes to a cell with the same timestamp would be resolved by
 *     value, not by order).
 *  3. A row Cassandra rejects as Invalid (or that does not fit its column types) goes
 *     to the job's DLQ and the rest is written; a rejected BATCH is re-sent row by row
 *     to find the culprit.  Rejections are reported only when write() succeeds, so a
 *     retried batch does not report them twice.
 *  4. No offsets are stored in Cassandra (committed() is NULL): the runner commits
 *     offsets after write() returned 0.
 *  5. An error of the coordinator, not of the row (Unavailable, Overloaded, Is
 *     bootstrapping, Write timeout, Write failure, Server error: e.g. a node just
 *     restarted that does not yet see its peers), sends that request again on another
 *     host, at most once per host; only then does the write fail with SL_RETRY (the
 *     runner backs off and retries the batch).  A host whose connection breaks is
 *     logged down, its requests in flight go to the others, and it is tried again
 *     (0.2 s doubling to 5 s apart) until it is logged up again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "../../src/log.h"
#include "../../src/metrics.h"
#include "cql/cql.h"
#include "sluice/plugin.h"

typedef struct cs_conf {
    sl_strlist_t hosts;
    int64_t port;
    char *keyspace, *table;
    const sl_cnode_t *primary_key;
    char *clustering_order;
    const sl_cnode_t *columns;
    const sl_cnode_t *replication;
    int consistency;
    char *username, *password;
    int64_t batch_size;
    int64_t batch_bytes;
    int64_t concurrency;
    int64_t timeout_ms, connect_timeout_ms;
    int64_t max_frame;
    int64_t protocol_version;
    bool create;
} cs_conf_t;

static const int cl_codes[] = {CQL_ONE, CQL_QUORUM, CQL_LOCAL_QUORUM, CQL_ALL, CQL_ANY,
                               CQL_TWO, CQL_THREE, CQL_EACH_QUORUM, CQL_LOCAL_ONE};

static const sl_config_map_t cs_map[] = {
    {"hosts", SL_CFG_STRLIST, "127.0.0.1", 0, offsetof(cs_conf_t, hosts), NULL,
     "contact points: host or host:port (a comma-separated string is split, for ${CASSANDRA_HOSTS})"},
    {"port", SL_CFG_INT, "9042", 0, offsetof(cs_conf_t, port), NULL, "native protocol port of hosts without one"},
    {"keyspace", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(cs_conf_t, keyspace), NULL,
     "the keyspace (created if missing)"},
    {"table", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(cs_conf_t, table), NULL, "the table (created if missing)"},
    {"primary_key", SL_CFG_NODE, NULL, SL_CFG_REQUIRED, offsetof(cs_conf_t, primary_key), NULL,
     "\"id\", \"(id, ts)\" or \"((a, b), ts)\" (partition key in the inner parentheses), or a list [id, ts]"},
    {"clustering_order", SL_CFG_STR, NULL, 0, offsetof(cs_conf_t, clustering_order), NULL,
     "\"ts desc\" (or \"ts desc, seq asc\"): WITH CLUSTERING ORDER BY of a created table"},
    {"columns", SL_CFG_NODE, NULL, 0, offsetof(cs_conf_t, columns), NULL,
     "mapping of column: CQL type (text int bigint float double boolean timestamp uuid timeuuid decimal varint "
     "blob inet list<T> set<T> map<K,V>); default: inferred from the first batch"},
    {"replication", SL_CFG_NODE, "{class: SimpleStrategy, replication_factor: 1}", 0,
     offsetof(cs_conf_t, replication), NULL, "replication of a created keyspace"},
    {"consistency", SL_CFG_ENUM, "one", 0, offsetof(cs_conf_t, consistency),
     "one|quorum|local_quorum|all|any|two|three|each_quorum|local_one", "consistency level of the writes"},
    {"username", SL_CFG_STR, NULL, 0, offsetof(cs_conf_t, username), NULL,
     "user for PasswordAuthenticator (SASL PLAIN)"},
    {"password", SL_CFG_STR, NULL, 0, offsetof(cs_conf_t, password), NULL,
     "its password (write \"${CASSANDRA_PASSWORD}\"; never logged)"},
    {"batch_size", SL_CFG_INT, "50", 0, offsetof(cs_conf_t, batch_size), NULL,
     "rows of one partition per UNLOGGED BATCH (measured 3-4x faster than single EXECUTEs when partitions "
     "repeat, see bench/RESULTS.md); 1 = single EXECUTEs only"},
    {"batch_bytes", SL_CFG_SIZE, "40KiB", 0, offsetof(cs_conf_t, batch_bytes), NULL,
     "cap on the values of one BATCH (Cassandra warns above 5KiB and, from 2.2, fails above 50KiB)"},
    {"concurrency", SL_CFG_INT, "128", 0, offsetof(cs_conf_t, concurrency), NULL,
     "requests in flight per connection (stream ids)"},
    {"timeout", SL_CFG_DURATION, "10s", 0, offsetof(cs_conf_t, timeout_ms), NULL, "per request"},
    {"connect_timeout", SL_CFG_DURATION, "5s", 0, offsetof(cs_conf_t, connect_timeout_ms), NULL,
     "TCP connect and handshake"},
    {"max_frame", SL_CFG_SIZE, "256MB", 0, offsetof(cs_conf_t, max_frame), NULL,
     "largest response frame accepted (the protocol's limit is 256MB)"},
    {"protocol_version", SL_CFG_INT, "0", 0, offsetof(cs_conf_t, protocol_version), NULL,
     "0 = negotiate (v4, then v3), or 3 or 4"},
    {"create", SL_CFG_BOOL, "true", 0, offsetof(cs_conf_t, create), NULL,
     "create the keyspace and table when missing"},
    SL_CONFIG_END};

enum { ROLE_PART, ROLE_CLUST, ROLE_REG };

typedef struct cs_col {
    const char *name;
    const cql_type_t *type;
    int role;
    bool desc;              /* clustering order */
} cs_col_t;

typedef struct cs_row {
    size_t rec;             /* index in the batch */
    size_t off, len;        /* serialised [value]s in vals */
    size_t part_len, key_len;   /* prefix lengths: partition key, full primary key */
} cs_row_t;

typedef struct cs_unit {
    size_t first, n;        /* into order[] */
    int64_t ts;
} cs_unit_t;

typedef struct cs_prep {
    uint8_t id[256];
    size_t len;
} cs_prep_t;

typedef struct cs_state {
    const char *what;
    cs_col_t *cols;         /* partition, clustering, then regular columns */
    size_t ncols, npart, nclust;
    char **pk_names;        /* from primary_key (partition first), before columns are known */
    size_t npk_names, npart_names;
    char **desc_names;
    size_t ndesc;
    bool inferred, schema_done;
    sl_arena_t types;       /* inferred column types */
    sl_buf_t insert;        /* the INSERT statement */
    cql_pool_t *pool;
    const char **hosts;
    size_t nhosts;
    int consistency;
    int64_t last_ts;
    /* per write */
    const sl_batch_t *batch;
    sl_buf_t vals;
    cs_row_t *rows;
    size_t nrows, caprows;
    size_t *order;
    cs_unit_t *units;
    size_t nunits;
    size_t *split;          /* rows (order[] positions) to send alone in round 2 */
    size_t nsplit;
    bool round2;
    sl_buf_t rejects;       /* "rec\0message\0"... */
    size_t nrejects;
    sl_arena_t scratch;
    cql_conn_t *unprepared;
    int64_t n_requests;
    uint8_t *tries;         /* per request of a run: coordinator errors so far (invariant 5) */
    size_t ntries;
    size_t nfailover;       /* requests of this write sent again elsewhere */
    char failover_why[300]; /* the first reason */
    sl_metric_t *m_resent;
} cs_state_t;

/* ================================ config ================================ */

static bool ident_ok(const char *s) {
    if (!s || !*s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return strlen(s) <= 48;   /* Cassandra's limit on keyspace and table names */
}

static void diag(sl_init_ctx_t *ctx, const sl_cnode_t *n, const char *fmt, const char *a) {
    if (!n) n = ctx->node;
    char msg[600];
    snprintf(msg, sizeof msg, fmt, a);
    sl_diags_add(ctx->diags, n->file, n->line, n->col, "%s: %s", ctx->what, msg);
}

static char *trim_dup(const char *s, size_t n) {
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    return strndup(s, n);
}

static void add_name(char ***v, size_t *n, char *name) {
    *v = sl_xrealloc(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = name;
}

/* Split s at top-level commas into parts (each trimmed). */
static size_t split_top(const char *s, char **parts, size_t max) {
    size_t n = 0, start = 0;
    int depth = 0;
    for (size_t i = 0;; i++) {
        char ch = s[i];
        if (ch == '(') depth++;
        if (ch == ')') depth--;
        if ((ch == ',' && depth == 0) || ch == 0) {
            if (n < max) parts[n++] = trim_dup(s + start, i - start);
            start = i + 1;
        }
        if (!ch) break;
    }
    return n;
}

static bool strip_parens(char *s) {
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '(' && s[n - 1] == ')') {
        int depth = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '(') depth++;
            if (s[i] == ')' && --depth == 0 && i != n - 1) return false;   /* "(a), (b)" */
        }
        memmove(s, s + 1, n - 2);
        s[n - 2] = 0;
        return true;
    }
    return false;
}

/* primary_key: "id" | "id, ts" | "(id, ts)" | "((a, b), ts)" | [id, ts] | [[a, b], ts] */
static int parse_pk(cs_state_t *st, sl_init_ctx_t *ctx, const sl_cnode_t *node) {
    char *parts[64];
    size_t n = 0;
    if (node->kind == SL_CNODE_SCALAR) {
        char *s = trim_dup(node->str, node->len);
        char *t = s;
        strip_parens(t);
        char *c = trim_dup(t, strlen(t));
        n = split_top(c, parts, 64);
        free(c);
        free(s);
    } else if (node->kind == SL_CNODE_SEQ) {
        for (size_t i = 0; i < node->n && n < 64; i++) {
            const sl_cnode_t *it = node->items[i];
            if (it->kind == SL_CNODE_SCALAR) parts[n++] = trim_dup(it->str, it->len);
            else if (it->kind == SL_CNODE_SEQ && i == 0) {
                sl_buf_t b = SL_BUF_INIT;
                sl_buf_putc(&b, '(');
                for (size_t k = 0; k < it->n; k++)
                    sl_buf_printf(&b, "%s%s", k ? "," : "", it->items[k]->kind == SL_CNODE_SCALAR ? it->items[k]->str : "?");
                sl_buf_putc(&b, ')');
                parts[n++] = strdup(b.data);
                sl_buf_free(&b);
            } else {
                diag(ctx, it, "%s", "primary_key: a list of column names (the first may be a list: the partition key)");
                while (n) free(parts[--n]);   /* the names read before this item */
                return -1;
            }
        }
    } else {
        diag(ctx, node, "%s", "primary_key must be a string like \"((id), ts)\" or a list of columns");
        return -1;
    }
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = parts[i];
        if (i == 0 && p[0] == '(') {
            if (!strip_parens(p)) bad = -1;
            char *inner[32];
            size_t k = split_top(p, inner, 32);
            for (size_t j = 0; j < k; j++) add_name(&st->pk_names, &st->npk_names, inner[j]);
            st->npart_names = st->npk_names;
            free(p);
            continue;
        }
        add_name(&st->pk_names, &st->npk_names, p);
        if (i == 0) st->npart_names = 1;
    }
    if (st->npk_names == 0) bad = -1;
    for (size_t i = 0; i < st->npk_names && !bad; i++)
        if (!ident_ok(st->pk_names[i])) {
            diag(ctx, node, "invalid primary key column '%s' (letters, digits, _)", st->pk_names[i]);
            return -1;
        }
    for (size_t i = 0; i < st->npk_names; i++)
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(st->pk_names[i], st->pk_names[j]) == 0) {
                diag(ctx, node, "column '%s' appears twice in primary_key", st->pk_names[i]);
                return -1;
            }
    if (bad) diag(ctx, node, "cannot read primary_key '%s' (write \"id\", \"(id, ts)\" or \"((a, b), ts)\")",
                  node->kind == SL_CNODE_SCALAR ? node->str : "...");
    return bad;
}

static int parse_order(cs_state_t *st, sl_init_ctx_t *ctx, const char *text) {
    char *parts[32];
    char *t = trim_dup(text, strlen(text));
    strip_parens(t);
    size_t n = split_top(t, parts, 32);
    free(t);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char name[128], dir[16] = "asc";
        int k = sscanf(parts[i], "%127s %15s", name, dir);
        if (k < 1 || (strcasecmp(dir, "asc") != 0 && strcasecmp(dir, "desc") != 0)) {
            diag(ctx, sl_cnode_get(ctx->node, "clustering_order"), "bad clustering_order entry '%s' (\"ts desc\")", parts[i]);
            bad = -1;
        } else {
            bool clust = false;
            for (size_t j = st->npart_names; j < st->npk_names; j++) clust |= strcasecmp(st->pk_names[j], name) == 0;
            if (!clust) {
                diag(ctx, sl_cnode_get(ctx->node, "clustering_order"),
                     "clustering_order names '%s', which is not a clustering column of primary_key", name);
                bad = -1;
            } else if (strcasecmp(dir, "desc") == 0) {
                add_name(&st->desc_names, &st->ndesc, strdup(name));
            }
        }
        free(parts[i]);
    }
    return bad;
}

static void add_col(cs_state_t *st, const char *name, const cql_type_t *type) {
    st->cols = sl_xrealloc(st->cols, (st->ncols + 1) * sizeof *st->cols);
    cs_col_t *c = &st->cols[st->ncols++];
    c->name = name;
    c->type = type;
    c->role = ROLE_REG;
    c->desc = false;
}

/* Order the columns: partition key, clustering columns (in primary_key order), rest. */
static int order_cols(cs_state_t *st, char *why, size_t cap) {
    cs_col_t *sorted = calloc(st->ncols + 1, sizeof *sorted);
    size_t k = 0;
    for (size_t i = 0; i < st->npk_names; i++) {
        size_t j = 0;
        while (j < st->ncols && strcmp(st->cols[j].name, st->pk_names[i]) != 0) j++;
        if (j == st->ncols) {
            snprintf(why, cap, "primary key column '%s' is not in 'columns'", st->pk_names[i]);
            free(sorted);
            return -1;
        }
        sorted[k] = st->cols[j];
        sorted[k].role = i < st->npart_names ? ROLE_PART : ROLE_CLUST;
        for (size_t d = 0; d < st->ndesc; d++) sorted[k].desc |= strcasecmp(st->desc_names[d], sorted[k].name) == 0;
        if (sorted[k].type->id == CQL_T_LIST || sorted[k].type->id == CQL_T_SET || sorted[k].type->id == CQL_T_MAP) {
            snprintf(why, cap, "primary key column '%s' cannot be a collection", st->pk_names[i]);
            free(sorted);
            return -1;
        }
        k++;
    }
    for (size_t j = 0; j < st->ncols; j++) {
        bool pk = false;
        for (size_t i = 0; i < st->npk_names; i++) pk |= strcmp(st->cols[j].name, st->pk_names[i]) == 0;
        if (!pk) sorted[k++] = st->cols[j];
    }
    free(st->cols);
    st->cols = sorted;
    st->npart = st->npart_names;
    st->nclust = st->npk_names - st->npart_names;
    return 0;
}

static void quote_ident(sl_buf_t *b, const char *s) { sl_buf_printf(b, "\"%s\"", s); }

static void build_insert(cs_state_t *st, const cs_conf_t *c) {
    sl_buf_clear(&st->insert);
    sl_buf_puts(&st->insert, "INSERT INTO ");
    quote_ident(&st->insert, c->keyspace);
    sl_buf_putc(&st->insert, '.');
    quote_ident(&st->insert, c->table);
    sl_buf_puts(&st->insert, " (");
    for (size_t i = 0; i < st->ncols; i++) {
        if (i) sl_buf_puts(&st->insert, ", ");
        quote_ident(&st->insert, st->cols[i].name);
    }
    sl_buf_puts(&st->insert, ") VALUES (");
    for (size_t i = 0; i < st->ncols; i++) sl_buf_puts(&st->insert, i ? ", ?" : "?");
    sl_buf_putc(&st->insert, ')');
}

static int cs_init(sl_sink_t *sink, sl_init_ctx_t *ctx) {
    cs_conf_t *c = sink->conf;
    cs_state_t *st = calloc(1, sizeof *st);
    sink->state = st;
    sl_arena_init(&st->types, 1024);
    sl_arena_init(&st->scratch, 16384);
    st->what = ctx->what;
    int bad = 0;
    if (c->keyspace && !ident_ok(c->keyspace)) {
        diag(ctx, sl_cnode_get(ctx->node, "keyspace"), "invalid keyspace name '%s' (letters, digits, _; at most 48)", c->keyspace);
        bad = -1;
    }
    if (c->table && !ident_ok(c->table)) {
        diag(ctx, sl_cnode_get(ctx->node, "table"), "invalid table name '%s' (letters, digits, _; at most 48)", c->table);
        bad = -1;
    }
    st->consistency = cl_codes[c->consistency];
    if (c->batch_size < 1 || c->batch_size > 65535) {
        diag(ctx, sl_cnode_get(ctx->node, "batch_size"), "%s", "batch_size must be 1..65535");
        bad = -1;
    }
    if (c->concurrency < 1 || c->concurrency > 32768) {
        diag(ctx, sl_cnode_get(ctx->node, "concurrency"), "%s", "concurrency must be 1..32768");
        bad = -1;
    }
    if (c->protocol_version != 0 && c->protocol_version != 3 && c->protocol_version != 4) {
        diag(ctx, sl_cnode_get(ctx->node, "protocol_version"), "%s", "protocol_version must be 0 (negotiate), 3 or 4");
        bad = -1;
    }
    if (c->port < 1 || c->port > 65535) {
        diag(ctx, sl_cnode_get(ctx->node, "port"), "%s", "port must be 1..65535");
        bad = -1;
    }
    /* hosts: entries may hold comma-separated lists (from ${CASSANDRA_HOSTS}) */
    for (size_t i = 0; i < c->hosts.n; i++) {
        char *parts[64];
        size_t n = split_top(c->hosts.v[i], parts, 64);
        for (size_t k = 0; k < n; k++) {
            if (!*parts[k]) {
                free(parts[k]);
                continue;
            }
            st->hosts = sl_xrealloc(st->hosts, (st->nhosts + 1) * sizeof *st->hosts);
            st->hosts[st->nhosts++] = parts[k];
        }
    }
    if (st->nhosts == 0) {
        diag(ctx, sl_cnode_get(ctx->node, "hosts"), "%s", "no hosts given");
        bad = -1;
    }
    if (c->primary_key && parse_pk(st, ctx, c->primary_key) != 0) return -1;
    if (c->clustering_order && parse_order(st, ctx, c->clustering_order) != 0) bad = -1;
    if (c->replication) {
        const sl_cnode_t *r = c->replication;
        bool ok = r->kind == SL_CNODE_MAP && sl_cnode_get(r, "class");
        for (size_t i = 0; ok && i < r->n; i++) ok = r->pairs[i].val->kind == SL_CNODE_SCALAR;
        if (!ok) {
            diag(ctx, r, "%s", "replication must be a mapping with 'class' (e.g. {class: SimpleStrategy, replication_factor: 1})");
            bad = -1;
        }
    }
    if (c->columns) {
        if (c->columns->kind != SL_CNODE_MAP) {
            diag(ctx, c->columns, "%s", "'columns' must be a mapping of column: CQL type");
            return -1;
        }
        for (size_t i = 0; i < c->columns->n; i++) {
            const sl_cnode_t *k = c->columns->pairs[i].key, *v = c->columns->pairs[i].val;
            if (!ident_ok(k->str)) {
                diag(ctx, k, "invalid column name '%s' (letters, digits, _)", k->str);
                bad = -1;
                continue;
            }
            const cql_type_t *t = NULL;
            sl_error_t e = {0};
            if (v->kind != SL_CNODE_SCALAR || cql_type_parse(ctx->arena, v->str, &t, &e) != 0) {
                diag(ctx, v, "%s", v->kind == SL_CNODE_SCALAR ? e.msg : "a column type must be a string such as text or map<text, text>");
                bad = -1;
                continue;
            }
            if (t->id == CQL_T_COUNTER) {
                diag(ctx, v, "%s", "counter columns cannot be written with INSERT");
                bad = -1;
                continue;
            }
            add_col(st, sl_arena_strndup(ctx->arena, k->str, k->len), t);
        }
        if (!bad) {
            char why[300];
            if (order_cols(st, why, sizeof why) != 0) {
                diag(ctx, sl_cnode_get(ctx->node, "primary_key"), "%s", why);
                bad = -1;
            } else {
                build_insert(st, c);
            }
        }
    } else {
        st->inferred = true;
    }
    return bad;
}

/* ================================ schema and setup ================================ */

static int error_rc(const cql_error_t *e) {
    switch (e->code) {
    case CQL_ERR_SYNTAX_ERROR:
    case CQL_ERR_CONFIG_ERROR:
    case CQL_ERR_PROTOCOL_ERROR: return SL_FATAL;
    case CQL_ERR_INVALID:
        /* a table created on another node may not have reached this one yet */
        return (e->message && (strstr(e->message, "unconfigured") || strstr(e->message, "does not exist") ||
                               strstr(e->message, "Keyspace")))
                   ? SL_RETRY
                   : SL_FATAL;
    default: return SL_RETRY;
    }
}

static int simple_query(cs_state_t *st, cql_conn_t *c, const char *cql, bool ignore_invalid, sl_error_t *err) {
    sl_buf_t b = SL_BUF_INIT;
    cql_params_t p = cql_params_default(CQL_ONE);
    cql_enc_query(&b, cql_conn_version(c), 0, cql, strlen(cql), &p);
    sl_arena_reset(&st->scratch);
    cql_response_t r;
    int rc = cql_conn_call(c, &b, &st->scratch, &r, err);
    sl_buf_free(&b);
    if (rc) return rc == SL_PARSE ? SL_RETRY : rc;
    if (r.opcode == CQL_OP_ERROR) {
        if (r.error.code == CQL_ERR_ALREADY_EXISTS) return 0;
        if (ignore_invalid && r.error.code == CQL_ERR_INVALID) return 0;
        char d[400];
        cql_error_describe(&r.error, d, sizeof d);
        return sl_error_set(err, error_rc(&r.error), "%s: %s (in: %.200s)", cql_conn_name(c), d, cql);
    }
    return 0;
}

static int create_schema(sl_sink_t *sink, cql_conn_t *c, sl_error_t *err) {
    cs_conf_t *cf = sink->conf;
    cs_state_t *st = sink->state;
    sl_buf_t q = SL_BUF_INIT;
    sl_buf_puts(&q, "CREATE KEYSPACE IF NOT EXISTS ");
    quote_ident(&q, cf->keyspace);
    sl_buf_puts(&q, " WITH replication = {");
    const sl_cnode_t *r = cf->replication;
    for (size_t i = 0; r && i < r->n; i++) {
        sl_buf_puts(&q, i ? ", '" : "'");
        for (const char *p = r->pairs[i].key->str; *p; p++) sl_buf_puts(&q, *p == '\'' ? "''" : (char[2]){*p, 0});
        sl_buf_puts(&q, "': '");
        for (const char *p = r->pairs[i].val->str; *p; p++) sl_buf_puts(&q, *p == '\'' ? "''" : (char[2]){*p, 0});
        sl_buf_putc(&q, '\'');
    }
    if (!r) sl_buf_puts(&q, "'class': 'SimpleStrategy', 'replication_factor': '1'");
    sl_buf_putc(&q, '}');
    int rc = simple_query(st, c, q.data, false, err);
    if (rc == 0) {
        sl_buf_clear(&q);
        sl_buf_puts(&q, "CREATE TABLE IF NOT EXISTS ");
        quote_ident(&q, cf->keyspace);
        sl_buf_putc(&q, '.');
        quote_ident(&q, cf->table);
        sl_buf_puts(&q, " (");
        for (size_t i = 0; i < st->ncols; i++) {
            quote_ident(&q, st->cols[i].name);
            sl_buf_putc(&q, ' ');
            cql_type_format(&q, st->cols[i].type);
            sl_buf_puts(&q, ", ");
        }
        sl_buf_puts(&q, "PRIMARY KEY ((");
        for (size_t i = 0; i < st->npart; i++) {
            if (i) sl_buf_puts(&q, ", ");
            quote_ident(&q, st->cols[i].name);
        }
        sl_buf_putc(&q, ')');
        for (size_t i = st->npart; i < st->npart + st->nclust; i++) {
            sl_buf_puts(&q, ", ");
            quote_ident(&q, st->cols[i].name);
        }
        sl_buf_puts(&q, "))");
        bool any_desc = false;
        for (size_t i = st->npart; i < st->npart + st->nclust; i++) any_desc |= st->cols[i].desc;
        if (any_desc) {
            sl_buf_puts(&q, " WITH CLUSTERING ORDER BY (");
            for (size_t i = st->npart; i < st->npart + st->nclust; i++) {
                if (i > st->npart) sl_buf_puts(&q, ", ");
                quote_ident(&q, st->cols[i].name);
                sl_buf_puts(&q, st->cols[i].desc ? " DESC" : " ASC");
            }
            sl_buf_putc(&q, ')');
        }
        rc = simple_query(st, c, q.data, false, err);
    }
    sl_buf_free(&q);
    return rc;
}

/* Columns of `columns` that an existing table lacks: ALTER TABLE ADD (errors for the
 * ones it has are ignored).  Used when PREPARE says a column is unknown. */
static int add_missing_columns(sl_sink_t *sink, cql_conn_t *c, sl_error_t *err) {
    cs_conf_t *cf = sink->conf;
    cs_state_t *st = sink->state;
    sl_buf_t q = SL_BUF_INIT;
    int rc = 0;
    for (size_t i = st->npart + st->nclust; i < st->ncols && rc == 0; i++) {
        sl_buf_clear(&q);
        sl_buf_puts(&q, "ALTER TABLE ");
        quote_ident(&q, cf->keyspace);
        sl_buf_putc(&q, '.');
        quote_ident(&q, cf->table);
        sl_buf_puts(&q, " ADD ");
        quote_ident(&q, st->cols[i].name);
        sl_buf_putc(&q, ' ');
        cql_type_format(&q, st->cols[i].type);
        rc = simple_query(st, c, q.data, true, err);
    }
    sl_buf_free(&q);
    return rc;
}

static const cql_type_t *type_copy(sl_arena_t *a, const cql_type_t *t) {
    cql_type_t *n = sl_arena_calloc(a, sizeof *n);
    *n = *t;
    if (t->custom) n->custom = sl_arena_strndup(a, t->custom, strlen(t->custom));
    if (t->keyspace) n->keyspace = sl_arena_strndup(a, t->keyspace, strlen(t->keyspace));
    if (t->n) {
        const cql_type_t **sub = sl_arena_alloc(a, t->n * sizeof *sub);
        for (uint16_t i = 0; i < t->n; i++) sub[i] = type_copy(a, t->sub[i]);
        n->sub = sub;
    }
    if (t->names) {
        const char **names = sl_arena_alloc(a, t->n * sizeof *names);
        for (uint16_t i = 0; i < t->n; i++) names[i] = t->names[i] ? sl_arena_strndup(a, t->names[i], strlen(t->names[i])) : NULL;
        n->names = names;
    }
    return n;
}

static bool type_same(const cql_type_t *a, const cql_type_t *b) {
    uint16_t ia = a->id == CQL_T_ASCII ? CQL_T_VARCHAR : a->id, ib = b->id == CQL_T_ASCII ? CQL_T_VARCHAR : b->id;
    if (ia != ib || a->n != b->n) return false;
    for (uint16_t i = 0; i < a->n; i++)
        if (!type_same(a->sub[i], b->sub[i])) return false;
    return true;
}

/* An existing table is the truth: when a column's type differs from `columns`, values
 * are serialised as the server expects (the PREPARE result says how), with a warning. */
static void adopt_server_types(cs_state_t *st, const cql_metadata_t *m, const char *host) {
    for (int32_t i = 0; m->cols && i < m->ncols && (size_t)i < st->ncols; i++) {
        const cql_type_t *srv = m->cols[i].type;
        if (!srv || type_same(srv, st->cols[i].type)) continue;
        sl_buf_t a = SL_BUF_INIT, b = SL_BUF_INIT;
        cql_type_format(&a, st->cols[i].type);
        cql_type_format(&b, srv);
        sl_warn("%s: %s: column '%s' is %s in the existing table, not %s: writing it as %s", st->what, host,
                st->cols[i].name, b.data, a.data, b.data);
        sl_buf_free(&a);
        sl_buf_free(&b);
        st->cols[i].type = type_copy(&st->types, srv);
    }
}

static int prepare_insert(sl_sink_t *sink, cql_conn_t *c, sl_error_t *err) {
    cs_state_t *st = sink->state;
    for (int attempt = 0; attempt < 2; attempt++) {
        sl_buf_t b = SL_BUF_INIT;
        cql_enc_prepare(&b, cql_conn_version(c), 0, st->insert.data, st->insert.len);
        sl_arena_reset(&st->scratch);
        cql_response_t r;
        int rc = cql_conn_call(c, &b, &st->scratch, &r, err);
        sl_buf_free(&b);
        if (rc) return rc == SL_PARSE ? SL_RETRY : rc;
        if (r.opcode == CQL_OP_RESULT && r.result.kind == CQL_RESULT_PREPARED && r.result.id.len > 0 &&
            (size_t)r.result.id.len <= sizeof ((cs_prep_t *)0)->id) {
            if (r.result.meta.ncols != (int32_t)st->ncols)
                return sl_error_set(err, SL_FATAL, "%s: the INSERT has %d bind markers, expected %zu", cql_conn_name(c),
                                    r.result.meta.ncols, st->ncols);
            adopt_server_types(st, &r.result.meta, cql_conn_name(c));
            cs_prep_t *p = calloc(1, sizeof *p);
            memcpy(p->id, r.result.id.p, (size_t)r.result.id.len);
            p->len = (size_t)r.result.id.len;
            cql_conn_set_user(c, p, free);
            return 0;
        }
        if (r.opcode != CQL_OP_ERROR)
            return sl_error_set(err, SL_RETRY, "%s: unexpected %s to PREPARE", cql_conn_name(c), cql_opcode_name(r.opcode));
        const char *m = r.error.message ? r.error.message : "";
        cs_conf_t *cf = sink->conf;
        if (attempt == 0 && r.error.code == CQL_ERR_INVALID && cf->create &&
            (strstr(m, "Unknown identifier") || strstr(m, "Undefined column") || strstr(m, "Undefined name"))) {
            int arc = add_missing_columns(sink, c, err);
            if (arc) return arc;
            continue;
        }
        char d[400];
        cql_error_describe(&r.error, d, sizeof d);
        return sl_error_set(err, error_rc(&r.error), "%s: cannot prepare %.200s: %s", cql_conn_name(c), st->insert.data, d);
    }
    return sl_error_set(err, SL_FATAL, "%s: cannot prepare the INSERT", cql_conn_name(c));
}

static int cs_setup(void *ud, cql_conn_t *c, sl_error_t *err) {
    sl_sink_t *sink = ud;
    cs_state_t *st = sink->state;
    cs_conf_t *cf = sink->conf;
    if (!st->schema_done) {
        if (cf->create) {
            int rc = create_schema(sink, c, err);
            if (rc) return rc;
        }
        st->schema_done = true;
    }
    int rc = prepare_insert(sink, c, err);
    if (rc == 0)
        sl_info("%s: connected to %s (CQL protocol v%d%s)", st->what, cql_conn_name(c), cql_conn_version(c),
                cql_conn_attempts(c) > 1 ? ", after the server refused v4" : "");
    return rc;
}

static int ensure_pool(sl_sink_t *sink, sl_error_t *err) {
    cs_state_t *st = sink->state;
    cs_conf_t *c = sink->conf;
    if (!st->pool) {
        cql_pool_opts_t o;
        memset(&o, 0, sizeof o);
        o.hosts = st->hosts;
        o.nhosts = st->nhosts;
        o.default_port = (int)c->port;
        o.conn.version = (int)c->protocol_version;
        o.conn.username = c->username && *c->username ? c->username : NULL;
        o.conn.password = c->password;
        o.conn.connect_timeout_ms = c->connect_timeout_ms;
        o.conn.timeout_ms = c->timeout_ms;
        o.conn.max_frame = (size_t)c->max_frame;
        o.conn.max_streams = (int)c->concurrency;
        o.backoff_min_ms = 200;
        o.backoff_max_ms = 5000;   /* a refused connect is cheap: a host back is used within 5 s */
        o.setup = cs_setup;
        o.setup_ud = sink;
        o.what = st->what;
        sl_buf_t l = SL_BUF_INIT;
        sl_metrics_label(&l, "job", sink->job);
        o.metric_labels = l.data;
        st->pool = cql_pool_new(&o);
        if (!st->m_resent)
            st->m_resent = sl_metric_counter("sluice_cassandra_requests_resent_total",
                                             "writes sent again on another host after a coordinator's error", l.data);
        sl_buf_free(&l);
    }
    int rc = cql_pool_connect(st->pool, err);
    return rc < 0 ? rc : 0;
}

static int cs_open(sl_sink_t *sink, sl_error_t *err) {
    cs_state_t *st = sink->state;
    if (st->inferred && st->ncols == 0) return 0;   /* wait for the first batch */
    return ensure_pool(sink, err);
}

/* ================================ inference ================================ */

static const char *infer_type(sl_value_t v) {
    switch (v.type) {
    case SL_T_INT: return "bigint";
    case SL_T_DOUBLE: return "double";
    case SL_T_BOOL: return "boolean";
    case SL_T_ARRAY: return "list<text>";
    case SL_T_OBJECT: return "map<text, text>";
    default: return "text";
    }
}

static int infer_columns(sl_sink_t *sink, const sl_batch_t *batch, sl_error_t *err) {
    cs_state_t *st = sink->state;
    for (size_t i = 0; i < batch->n; i++) {
        const sl_value_t *v = &batch->recs[i].value;
        if (v->type != SL_T_OBJECT) continue;
        for (uint32_t m = 0; m < v->len; m++) {
            const char *k = v->u.o[m].key;
            if (!ident_ok(k)) continue;
            bool have = false;
            for (size_t j = 0; j < st->ncols && !have; j++) have = strcmp(st->cols[j].name, k) == 0;
            if (have || v->u.o[m].val.type == SL_T_NULL) continue;
            const cql_type_t *t;
            cql_type_parse(&st->types, infer_type(v->u.o[m].val), &t, err);
            add_col(st, sl_arena_strndup(&st->types, k, strlen(k)), t);
        }
    }
    for (size_t i = 0; i < st->npk_names; i++) {
        bool have = false;
        for (size_t j = 0; j < st->ncols && !have; j++) have = strcmp(st->cols[j].name, st->pk_names[i]) == 0;
        if (!have) {
            const cql_type_t *t;
            cql_type_parse(&st->types, "text", &t, err);
            add_col(st, st->pk_names[i], t);
        }
    }
    char why[300];
    if (order_cols(st, why, sizeof why) != 0) return sl_error_set(err, SL_FATAL, "%s", why);
    build_insert(st, sink->conf);
    return 0;
}

/* ================================ write ================================ */

static void reject_later(cs_state_t *st, size_t rec, const char *fmt, const char *a, const char *b) {
    char m[700];
    snprintf(m, sizeof m, fmt, a, b);
    sl_buf_printf(&st->rejects, "%zu", rec);
    sl_buf_putc(&st->rejects, 0);
    sl_buf_append(&st->rejects, m, strlen(m) + 1);
    st->nrejects++;
}

static int cmp_rows(const void *a, const void *b, void *arg) {
    const cs_state_t *sort_st = arg;
    const cs_row_t *x = &sort_st->rows[*(const size_t *)a], *y = &sort_st->rows[*(const size_t *)b];
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(sort_st->vals.data + x->off, sort_st->vals.data + y->off, n);
    if (c) return c;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return x->rec < y->rec ? -1 : x->rec > y->rec;
}

static bool same_prefix(const cs_state_t *st, const cs_row_t *x, const cs_row_t *y, bool full) {
    size_t lx = full ? x->key_len : x->part_len, ly = full ? y->key_len : y->part_len;
    return lx == ly && memcmp(st->vals.data + x->off, st->vals.data + y->off, lx) == 0;
}

/* Serialise every row of the batch into st->vals; rows that do not fit are rejected. */
static void build_rows(cs_state_t *st, const sl_batch_t *batch) {
    sl_buf_clear(&st->vals);
    st->nrows = 0;
    sl_error_t e = {0};
    for (size_t i = 0; i < batch->n; i++) {
        const sl_record_t *rec = &batch->recs[i];
        if (rec->value.type == SL_T_NULL) continue;
        if (rec->value.type != SL_T_OBJECT) {
            reject_later(st, i, "a row needs an object, got %s%s", sl_type_name((sl_type_t)rec->value.type), "");
            continue;
        }
        size_t off = st->vals.len, part_len = 0, key_len = 0;
        bool ok = true;
        for (size_t k = 0; k < st->ncols && ok; k++) {
            const cs_col_t *c = &st->cols[k];
            const sl_value_t *v = sl_value_get(&rec->value, c->name, strlen(c->name));
            if (c->role != ROLE_REG && (!v || v->type == SL_T_NULL)) {
                reject_later(st, i, "primary key column '%s' is %s", c->name, "null or missing");
                ok = false;
                break;
            }
            if (cql_value_put(&st->vals, c->type, v ? *v : sl_null(), &e) != 0) {
                reject_later(st, i, "column '%s': %s", c->name, e.msg);
                ok = false;
                break;
            }
            if (k + 1 == st->npart) part_len = st->vals.len - off;
            if (k + 1 == st->npart + st->nclust) key_len = st->vals.len - off;
        }
        if (!ok) {
            st->vals.len = off;
            continue;
        }
        if (st->nrows == st->caprows) {
            st->caprows = st->caprows ? st->caprows * 2 : 256;
            st->rows = sl_xrealloc(st->rows, st->caprows * sizeof *st->rows);
        }
        st->rows[st->nrows++] = (cs_row_t){i, off, st->vals.len - off, part_len, key_len};
    }
}

/* Order rows by primary key, keep the last record of each key (invariant 2), and cut
 * runs of one partition into units of at most batch_size rows. */
static void build_units(cs_state_t *st, size_t batch_size, size_t batch_bytes, int64_t base_ts) {
    st->order = sl_xrealloc(st->order, (st->nrows ? st->nrows : 1) * sizeof *st->order);
    for (size_t i = 0; i < st->nrows; i++) st->order[i] = i;
    qsort_r(st->order, st->nrows, sizeof *st->order, cmp_rows, st);
    size_t n = 0;
    for (size_t i = 0; i < st->nrows; i++) {
        if (i + 1 < st->nrows && same_prefix(st, &st->rows[st->order[i]], &st->rows[st->order[i + 1]], true)) continue;
        st->order[n++] = st->order[i];
    }
    st->units = sl_xrealloc(st->units, (n ? n : 1) * sizeof *st->units);
    st->nunits = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1, bytes = st->rows[st->order[i]].len;
        while (j < n && j - i < batch_size && bytes + st->rows[st->order[j]].len <= batch_bytes &&
               same_prefix(st, &st->rows[st->order[i]], &st->rows[st->order[j]], false))
            bytes += st->rows[st->order[j++]].len;
        size_t last_rec = 0;
        for (size_t k = i; k < j; k++)
            if (st->rows[st->order[k]].rec > last_rec) last_rec = st->rows[st->order[k]].rec;
        st->units[st->nunits++] = (cs_unit_t){i, j - i, base_ts + (int64_t)last_rec};
        i = j;
    }
}

static void encode_rows(cs_state_t *st, cql_conn_t *c, int16_t stream, sl_buf_t *out, size_t first, size_t n, int64_t ts) {
    const cs_prep_t *p = cql_conn_user(c);
    static const cs_prep_t none = {{0}, 0};
    if (!p) p = &none;
    size_t at;
    if (n == 1) {
        const cs_row_t *r = &st->rows[st->order[first]];
        at = cql_execute_begin(out, cql_conn_version(c), stream, p->id, p->len, st->consistency, (uint16_t)st->ncols, ts);
        sl_buf_append(out, st->vals.data + r->off, r->len);
        cql_execute_finish(out, at, ts);
        return;
    }
    at = cql_batch_begin(out, cql_conn_version(c), stream, CQL_BATCH_UNLOGGED, (uint16_t)n);
    for (size_t k = first; k < first + n; k++) {
        const cs_row_t *r = &st->rows[st->order[k]];
        cql_batch_add_prepared(out, p->id, p->len, (uint16_t)st->ncols);
        sl_buf_append(out, st->vals.data + r->off, r->len);
    }
    cql_batch_finish(out, at, st->consistency, -1, ts);
}

static void op_encode(void *ud, size_t i, cql_conn_t *c, int16_t stream, sl_buf_t *out) {
    cs_state_t *st = ud;
    st->n_requests++;
    if (st->round2) {
        size_t pos = st->split[i];
        const cs_row_t *r = &st->rows[st->order[pos]];
        encode_rows(st, c, stream, out, pos, 1, st->last_ts - (int64_t)st->batch->n + (int64_t)r->rec);
    } else {
        const cs_unit_t *u = &st->units[i];
        encode_rows(st, c, stream, out, u->first, u->n, u->ts);
    }
}

/* Errors a coordinator answers about itself or the cluster, not about the row. */
static bool coordinator_error(int code) {
    return code == CQL_ERR_UNAVAILABLE || code == CQL_ERR_OVERLOADED || code == CQL_ERR_IS_BOOTSTRAPPING ||
           code == CQL_ERR_WRITE_TIMEOUT || code == CQL_ERR_WRITE_FAILURE || code == CQL_ERR_SERVER_ERROR;
}

/* A fresh count of tries for the n requests of a run. */
static void tries_reset(cs_state_t *st, size_t n) {
    if (n > st->ntries) {
        st->tries = sl_xrealloc(st->tries, n);
        st->ntries = n;
    }
    if (n) memset(st->tries, 0, n);
}

static int op_done(void *ud, size_t i, cql_conn_t *c, const cql_frame_t *f, sl_error_t *err) {
    cs_state_t *st = ud;
    if (f->opcode == CQL_OP_RESULT) return 0;
    if (f->opcode != CQL_OP_ERROR)
        return sl_error_set(err, SL_RETRY, "%s: unexpected %s to a write", cql_conn_name(c), cql_opcode_name(f->opcode));
    cql_response_t r;
    if (cql_response_decode(f, &st->scratch, &r, err) != 0) return SL_RETRY;
    char d[500];
    cql_error_describe(&r.error, d, sizeof d);
    if (r.error.code == CQL_ERR_INVALID && r.error.message &&
        (strstr(r.error.message, "unconfigured") || strstr(r.error.message, "does not exist"))) {
        /* the table (or keyspace) went away: not the row's fault; re-create and retry */
        st->schema_done = false;
        st->unprepared = c;
        return sl_error_set(err, SL_RETRY, "%s: %s (re-creating the table)", cql_conn_name(c), d);
    }
    if (r.error.code == CQL_ERR_INVALID) {
        if (!st->round2 && st->units[i].n > 1) {   /* find the culprit: row by row */
            for (size_t k = 0; k < st->units[i].n; k++) st->split[st->nsplit++] = st->units[i].first + k;
            return 0;
        }
        size_t pos = st->round2 ? st->split[i] : st->units[i].first;
        reject_later(st, st->rows[st->order[pos]].rec, "cassandra rejected the row: %s%s", d, "");
        return 0;
    }
    if (coordinator_error(r.error.code) && (size_t)st->tries[i] + 1 < cql_pool_size(st->pool)) {
        st->tries[i]++;
        if (!st->nfailover++) snprintf(st->failover_why, sizeof st->failover_why, "%.80s: %.200s", cql_conn_name(c), d);
        return 1;   /* invariant 5 */
    }
    if (r.error.code == CQL_ERR_UNPREPARED) {
        st->unprepared = c;
        return sl_error_set(err, SL_RETRY, "%s: the prepared INSERT is unknown to the server (re-preparing)",
                            cql_conn_name(c));
    }
    return sl_error_set(err, error_rc(&r.error), "%s: %s", cql_conn_name(c), d);
}

static int cs_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto, sl_error_t *err) {
    (void)upto;
    cs_conf_t *c = sink->conf;
    cs_state_t *st = sink->state;
    if (st->inferred && st->ncols == 0) {
        int rc = infer_columns(sink, batch, err);
        if (rc) return rc;
    }
    int rc = ensure_pool(sink, err);
    if (rc) return rc;
    st->batch = batch;
    sl_buf_clear(&st->rejects);
    st->nrejects = 0;
    sl_arena_reset(&st->scratch);
    build_rows(st, batch);
    /* client timestamps in µs, increasing across writes; record i gets base + i */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int64_t base = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
    if (base <= st->last_ts) base = st->last_ts + 1;
    st->last_ts = base + (int64_t)batch->n;
    build_units(st, (size_t)c->batch_size, (size_t)c->batch_bytes, base);
    st->split = sl_xrealloc(st->split, (st->nrows ? st->nrows : 1) * sizeof *st->split);
    st->nsplit = 0;
    st->round2 = false;
    st->unprepared = NULL;
    st->nfailover = 0;
    cql_pool_ops_t ops = {op_encode, op_done};
    tries_reset(st, st->nunits);
    rc = cql_pool_run(st->pool, st->nunits, &ops, st, err);
    if (rc == 0 && st->nsplit) {
        st->round2 = true;
        tries_reset(st, st->nsplit);
        rc = cql_pool_run(st->pool, st->nsplit, &ops, st, err);
    }
    if (st->nfailover && st->m_resent) sl_metric_add(st->m_resent, (double)st->nfailover);
    if (st->nfailover)
        sl_warn("%s: %zu request(s) sent again on another host (first: %s)", st->what, st->nfailover,
                st->failover_why);
    if (st->unprepared) {
        cql_pool_broken(st->pool, st->unprepared, "prepared statement unknown to the server");
        st->unprepared = NULL;
    }
    if (rc) return rc == SL_PARSE ? SL_RETRY : rc;
    const char *p = st->rejects.data;
    for (size_t k = 0; k < st->nrejects; k++) {
        size_t rec = (size_t)strtoull(p, NULL, 10);
        p += strlen(p) + 1;
        sl_sink_reject(sink, &batch->recs[rec], "%s", p);
        p += strlen(p) + 1;
    }
    return 0;
}

static void cs_close(sl_sink_t *sink) {
    cs_state_t *st = sink->state;
    if (!st) return;
    cql_pool_free(st->pool);
    st->pool = NULL;
}

static void cs_free(sl_sink_t *sink) {
    cs_state_t *st = sink->state;
    if (!st) return;
    cs_close(sink);
    free(st->cols);
    for (size_t i = 0; i < st->npk_names; i++) free(st->pk_names[i]);
    free(st->pk_names);
    for (size_t i = 0; i < st->ndesc; i++) free(st->desc_names[i]);
    free(st->desc_names);
    for (size_t i = 0; i < st->nhosts; i++) free((char *)st->hosts[i]);
    free(st->hosts);
    sl_buf_free(&st->insert);
    sl_buf_free(&st->vals);
    sl_buf_free(&st->rejects);
    free(st->rows);
    free(st->order);
    free(st->units);
    free(st->split);
    free(st->tries);
    sl_arena_free(&st->types);
    sl_arena_free(&st->scratch);
    free(st);
    sink->state = NULL;
}

const sl_sink_plugin_t sl_sink_cassandra = {
    .abi = SL_PLUGIN_ABI,
    .name = "cassandra",
    .description = "Rows into a Cassandra table over the CQL native protocol (v4/v3): keyspace and table created, "
                   "prepared INSERTs, idempotent upserts (at least once).",
    .config = cs_map,
    .config_size = sizeof(cs_conf_t),
    .transactional = false,
    .init = cs_init,
    .open = cs_open,
    .write = cs_write,
    .committed = NULL,
    .close = cs_close,
    .free = cs_free,
};
