/* postgres.c - sink `postgres`: rows into a PostgreSQL table (libpq), created from
 * `columns` or from the first record, upserted by `key` (INSERT ... ON CONFLICT DO
 * UPDATE) or appended, with the job's offsets stored in the same transaction (table
 * sluice_offsets, grp = "<job>:<table>"): each record lands exactly once.
 *
 * Invariants:
 *  1. Values never go into SQL text: they travel as COPY data or as bound parameters
 *     (text format); identifiers are checked
 *     ([A-Za-z_][A-Za-z0-9_]*, <= 63 bytes) and double-quoted.
 *  2. Batching, measured (bench/db.sh, bench/RESULTS.md "Databases", 200k rows): COPY
 *     is the default (`copy: true`), in the binary format, one transaction per batch in
 *     three round trips ("BEGIN; COPY ...", the data and its end, then one pipeline:
 *     [upsert,] [check,] offsets, COMMIT).  Binary, because formatting doubles as text
 *     (printf "%.17g") was a third of the sink's CPU and the server parses them again:
 *     append went from 0.49 s to 0.29 s (40% -> ~70% of psql \copy).  Each value is
 *     encoded as exactly what the server would make of its text rendering (render()),
 *     for the column's actual type, read from pg_attribute with the table; where the
 *     server must convert or may refuse a value (a string into a number or timestamp
 *     column, a number out of the column's range, numeric, uuid, other types) the batch
 *     goes as text COPY instead, so the results and errors stay the server's.  The
 *     types are checked again inside each transaction that sent binary data into the
 *     table (a changed type makes the check fail with a data error: the batch is redone
 *     as text INSERTs, see 3); after the COPY holds its lock a type cannot change.
 *     Append: COPY straight into the table.  Upsert: while the keys are new, COPY
 *     straight into the table too (a plain insert costs half of ON CONFLICT's on the
 *     server); a key already there fails the COPY (23505), the transaction is rolled
 *     back and the batch goes the upsert way, which is then kept for the next 1, 2, 4 ...
 *     64 batches before COPY is tried again.  The upsert way: COPY into a temporary
 *     staging table (created once per connection, outside the batch's transaction, ON
 *     COMMIT DELETE ROWS), then one INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE;
 *     when the batch holds a key twice (same bytes), SELECT DISTINCT ON (key) ... ORDER
 *     BY key, row DESC (the batch's last row of a key wins); equal keys with different
 *     bytes make the server refuse the INSERT (21000), and it is redone with DISTINCT ON.
 *     `copy: false`, and the redo after a data error, use multi-row INSERT ...
 *     VALUES ($1..$n) of at most `batch` rows and 65535 parameters; such a statement
 *     never holds two rows with the same key (ON CONFLICT DO UPDATE cannot touch a row
 *     twice): a repeated key starts the next statement, so rows apply in batch order.
 *  3. A row the server rejects for its data (SQLSTATE class 22 data exception or 23
 *     integrity, e.g. out of range, NOT NULL, invalid input syntax) goes to the job's
 *     DLQ with the server's message; the rest of the batch lands.  On such an error the
 *     transaction is rolled back and redone with multi-row INSERTs, a SAVEPOINT per
 *     statement, bisecting a failing statement down to the bad rows.  Rejections are
 *     reported only after COMMIT succeeded, so a retried batch never reports a row twice.
 *  4. Connection loss (or a server restart, a deadlock, a serialization failure) is
 *     SL_RETRY: the runner retries the same batch with backoff, and write() reconnects.
 *     Because a COMMIT whose answer was lost may have happened, after any failed write
 *     the sink re-reads its stored offsets and skips what the database already holds.
 *  5. DDL (schema, tables, columns added in inferred mode) runs in its own transaction
 *     under a transaction-level advisory lock, so concurrent writers do not race.
 *  6. A batch is never written whose fate in another transaction is unknown.  A killed
 *     process's backend still holds the whole pipelined batch, offsets and COMMIT and
 *     commits them after the next process has read committed() (issue 12: 27,500 rows
 *     for 20,000 ids).  So every batch's transaction first takes a transaction-level
 *     advisory lock per (group, topic, partition) of `upto` (FNV-1a 64 keys, sorted:
 *     no deadlock between writers), and only then, in its own statement (a snapshot
 *     taken after the locks were granted), reads the offsets (tx_begin()).  The other
 *     transaction has committed or aborted by then; when what it committed changes
 *     which records become rows, the transaction is rolled back and the rows chosen
 *     again.  Stored offsets never go back (GREATEST): a batch read from a stale
 *     committed() may end below them.  lock_timeout 60 s: a peer stuck inside its
 *     transaction is SL_RETRY (logged), not a silent hang.
 *
 * Column types: text int bigint smallint double float real bool timestamp timestamptz
 * json jsonb uuid decimal(p,s)/numeric(p,s).  Timestamps: a number is epoch ms (bound as
 * ISO-8601 UTC text), a string is passed as written.  json/jsonb hold the record's
 * value as JSON (a string becomes a JSON string). */
#include <postgresql/libpq-fe.h>  /* Debian: /usr/include/postgresql */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/json.h"
#include "sluice/plugin.h"
#include "../../src/log.h"
#include "../../src/sql_common.h"

typedef struct pg_conf {
    char *dsn;
    char *table;
    char *schema;
    sl_strlist_t key;
    const sl_cnode_t *columns;
    int64_t batch;
    bool copy;
    int64_t connect_timeout_ms;
} pg_conf_t;

static const sl_config_map_t pg_map[] = {
    {"dsn", SL_CFG_STR, NULL, 0, offsetof(pg_conf_t, dsn), NULL,
     "libpq connection string or URI (default: $PG_DSN, then libpq's PG* variables)"},
    {"table", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(pg_conf_t, table), NULL, "the table"},
    {"schema", SL_CFG_STR, NULL, 0, offsetof(pg_conf_t, schema), NULL,
     "the schema (created if missing; default: the search_path's first)"},
    {"key", SL_CFG_STRLIST, NULL, 0, offsetof(pg_conf_t, key), NULL,
     "columns that identify a row (the PRIMARY KEY): upsert by them (none = append)"},
    {"columns", SL_CFG_NODE, NULL, 0, offsetof(pg_conf_t, columns), NULL,
     "mapping of column: type (text int bigint smallint double float real bool timestamp timestamptz json jsonb uuid decimal(p,s)); default: inferred from the first record"},
    {"batch", SL_CFG_INT, "1000", 0, offsetof(pg_conf_t, batch), NULL,
     "rows per INSERT statement (also bounded by 65535 parameters)"},
    {"copy", SL_CFG_BOOL, "true", 0, offsetof(pg_conf_t, copy), NULL,
     "load each batch with COPY (upserts through a temporary staging table); false: multi-row INSERTs"},
    {"connect_timeout", SL_CFG_DURATION, "10s", 0, offsetof(pg_conf_t, connect_timeout_ms), NULL,
     "give up a connection attempt after this long (then retried with backoff)"},
    SL_CONFIG_END};

typedef struct pg_state {
    sl_sql_columns_t cols;
    char *group;      /* offsets key: job:table */
    char *qtable;     /* "schema"."table" or "table" */
    char *qoffsets;   /* "schema".sluice_offsets or sluice_offsets */
    PGconn *conn;
    bool ready;       /* table checked/created on this connection */
    bool recheck;     /* a write failed: re-read the offsets the database holds */
    sl_offsets_t held;        /* what the database holds (after a failed write, or under the lock) */
    sl_offsets_t opened;      /* read by open(), handed out by the committed() after it */
    bool have_opened;
    /* per write (reused) */
    sl_buf_t vals;            /* rendered values, NUL-separated */
    ptrdiff_t *voff;          /* [row * ncols + k] offset into vals, -1 = NULL */
    size_t voff_cap;
    uint64_t *khash;          /* key hash per row */
    size_t khash_cap;
    const char **params;
    size_t params_cap;
    sl_buf_t sql;
    sl_buf_t copybuf;         /* COPY data */
    bool stage_ready;         /* the temp staging table exists on this connection */
    sl_sql_rejects_t rej;
    /* binary COPY (invariant 2): the type of each column, read with the table */
    unsigned *toid;           /* [k] the table's column type (0 = not sent in binary) */
    unsigned *soid;           /* [k] the staging table's (from the declaration) */
    bool bin_table, bin_stage;   /* every column has a type sent in binary */
    bool types_stale;         /* a write failed: read the types again */
    bool same_types;          /* the table's types are the declared ones */
    int direct_wait, direct_backoff;   /* upserts straight into the table (invariant 2) */
    sl_buf_t keys;            /* per row: its key's binary bytes (duplicate check) */
    size_t *koff;             /* [r] start of row r's key in keys, [n] = keys.len */
    size_t koff_cap;
    size_t *slot;             /* hash slots: row + 1, 0 = empty */
    size_t slot_cap;
} pg_state_t;

static const sl_sql_type_t types[] = {
    {"text", SL_SQL_TEXT, "TEXT"},          {"string", SL_SQL_TEXT, "TEXT"},
    {"int", SL_SQL_INT, "INTEGER"},         {"integer", SL_SQL_INT, "INTEGER"},
    {"bigint", SL_SQL_INT, "BIGINT"},       {"smallint", SL_SQL_INT, "SMALLINT"},
    {"double", SL_SQL_FLOAT, "DOUBLE PRECISION"}, {"float", SL_SQL_FLOAT, "DOUBLE PRECISION"},
    {"real", SL_SQL_FLOAT, "REAL"},         {"bool", SL_SQL_BOOL, "BOOLEAN"},
    {"boolean", SL_SQL_BOOL, "BOOLEAN"},    {"timestamp", SL_SQL_TS, "TIMESTAMP"},
    {"timestamptz", SL_SQL_TS, "TIMESTAMPTZ"}, {"json", SL_SQL_JSON, "JSON"},
    {"jsonb", SL_SQL_JSON, "JSONB"},        {"uuid", SL_SQL_TEXT, "UUID"},
    {NULL, 0, NULL}};

/* "decimal(9,6)" / "numeric(12)" / "numeric" -> NUMERIC(p,s); -1 when malformed. */
static int parse_numeric(const char *s, char *decl, size_t cap) {
    size_t n = strncasecmp(s, "decimal", 7) == 0 ? 7 : strncasecmp(s, "numeric", 7) == 0 ? 7 : 0;
    if (!n) return -1;
    s += n;
    if (!*s) return snprintf(decl, cap, "NUMERIC"), SL_SQL_NUMERIC;
    int p = 0, sc = 0, used = 0;
    if (sscanf(s, " ( %d , %d ) %n", &p, &sc, &used) == 2 && s[used] == 0 && p >= 1 && p <= 1000 && sc >= 0 &&
        sc <= p)
        return snprintf(decl, cap, "NUMERIC(%d,%d)", p, sc), SL_SQL_NUMERIC;
    used = 0;
    if (sscanf(s, " ( %d ) %n", &p, &used) == 1 && s[used] == 0 && p >= 1 && p <= 1000)
        return snprintf(decl, cap, "NUMERIC(%d)", p), SL_SQL_NUMERIC;
    return -1;
}

static const sl_sql_dialect_t dialect = {
    .types = types,
    .type_list = "text int bigint smallint double float real bool timestamp timestamptz json jsonb uuid "
                 "decimal(p,s)",
    .parse_type = parse_numeric,
    .ident_max = 63,
    .infer_max = 63,
    .infer_decl = {[SL_SQL_TEXT] = "TEXT", [SL_SQL_INT] = "BIGINT", [SL_SQL_FLOAT] = "DOUBLE PRECISION",
                   [SL_SQL_BOOL] = "BOOLEAN", [SL_SQL_JSON] = "JSONB"},
};

static int pg_init(sl_sink_t *sink, sl_init_ctx_t *ctx) {
    pg_conf_t *c = sink->conf;
    pg_state_t *st = calloc(1, sizeof *st);
    sink->state = st;
    int bad = 0;
    if (c->table && !sl_sql_ident_ok(c->table, dialect.ident_max)) {
        sl_sql_diag(ctx, sl_cnode_get(ctx->node, "table"),
                    "invalid table name '%s' (letters, digits, _; at most 63)", c->table);
        bad = -1;
    }
    if (c->schema && !sl_sql_ident_ok(c->schema, dialect.ident_max)) {
        sl_sql_diag(ctx, sl_cnode_get(ctx->node, "schema"), "invalid schema name '%s' (letters, digits, _)",
                    c->schema);
        bad = -1;
    }
    if (c->batch < 1) {
        sl_sql_diag(ctx, sl_cnode_get(ctx->node, "batch"), "'batch' must be at least 1");
        bad = -1;
    }
    if (sl_sql_columns_parse(&st->cols, ctx, c->columns, &c->key, &dialect)) bad = -1;
    return bad;
}

/* ---------------------------------------------------------------- the connection */

/* What an error means for the batch. */
enum { E_OK, E_DATA, E_RETRY, E_FATAL };

static void disconnect(pg_state_t *st) {
    if (st->conn) PQfinish(st->conn);
    st->conn = NULL;
    st->ready = false;
    st->stage_ready = false;
}

static int classify(pg_state_t *st, PGresult *res) {
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return E_OK;
    const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!st->conn || PQstatus(st->conn) != CONNECTION_OK || !code) return E_RETRY;
    if (code[0] == '2' && (code[1] == '2' || code[1] == '3')) return E_DATA;
    /* connection (08), operator intervention/shutdown (57), transaction rollback
     * (40: serialization, deadlock), resources (53), system (58) */
    if (strcmp(code, "55P03") == 0) return E_RETRY;   /* lock_timeout (tx_begin) */
    if ((code[0] == '0' && code[1] == '8') || (code[0] == '5' && (code[1] == '7' || code[1] == '3' || code[1] == '8')) ||
        (code[0] == '4' && code[1] == '0'))
        return E_RETRY;
    return E_FATAL;
}

static const char *res_msg(pg_state_t *st, PGresult *res) {
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m && st->conn) m = PQerrorMessage(st->conn);
    if (!m || !*m) return "connection lost";
    static _Thread_local char line[300];   /* first line only (libpq's end with a newline) */
    snprintf(line, sizeof line, "%.*s", (int)strcspn(m, "\n"), m);
    return line;
}

/* Run a statement without parameters; on error set err and return SL_RETRY/SL_FATAL
 * (a data error counts as fatal here: used for control statements and DDL). */
static int exec_sql(pg_state_t *st, const char *sql, sl_error_t *err) {
    PGresult *res = PQexec(st->conn, sql);
    int e = classify(st, res);
    int rc = 0;
    if (e != E_OK) {
        const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        /* concurrent CREATE ... IF NOT EXISTS can collide on the catalog: retry */
        rc = e == E_RETRY || (code && strcmp(code, "23505") == 0) ? SL_RETRY : SL_FATAL;
        sl_error_set(err, rc, "postgres: %s (in: %.200s)", res_msg(st, res), sql);
        if (e == E_RETRY && PQstatus(st->conn) != CONNECTION_OK) disconnect(st);
    }
    PQclear(res);
    return rc;
}

static void quiet(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static int do_connect(sl_sink_t *sink, sl_error_t *err) {
    pg_conf_t *c = sink->conf;
    pg_state_t *st = sink->state;
    if (st->conn && PQstatus(st->conn) == CONNECTION_OK) return 0;
    disconnect(st);
    const char *dsn = c->dsn && *c->dsn ? c->dsn : getenv("PG_DSN");
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%lld", (long long)((c->connect_timeout_ms + 999) / 1000));
    /* later keywords override earlier ones: the DSN wins over our defaults */
    const char *keys[] = {"connect_timeout", "application_name", "client_encoding", "dbname", NULL};
    const char *vals[] = {timeout, "sluice", "UTF8", dsn && *dsn ? dsn : NULL, NULL};
    st->conn = PQconnectdbParams(keys, vals, 1);
    if (!st->conn || PQstatus(st->conn) != CONNECTION_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", st->conn ? PQerrorMessage(st->conn) : "out of memory");
        msg[strcspn(msg, "\n")] = 0;
        disconnect(st);
        st->recheck = true;
        return sl_error_set(err, SL_RETRY, "postgres: cannot connect: %s", msg);
    }
    PQsetClientEncoding(st->conn, "UTF8");
    PQsetNoticeProcessor(st->conn, quiet, NULL);  /* "already exists, skipping" */
    /* timestamps bound as UTC text; timestamptz shown in UTC */
    int rc = exec_sql(st, "SET TIME ZONE 'UTC'", err);
    if (rc) return rc;
    sl_buf_t sql = SL_BUF_INIT;
    sl_buf_printf(&sql,
                  "BEGIN; SELECT pg_advisory_xact_lock(7302615, 1); %s%s%s"
                  "CREATE TABLE IF NOT EXISTS %s (grp TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL,"
                  " next_offset BIGINT NOT NULL, PRIMARY KEY (grp, topic, part)); COMMIT",
                  c->schema ? "CREATE SCHEMA IF NOT EXISTS \"" : "", c->schema ? c->schema : "",
                  c->schema ? "\"; " : "", st->qoffsets);
    rc = exec_sql(st, sql.data, err);
    sl_buf_free(&sql);
    if (rc && st->conn) {
        PQclear(PQexec(st->conn, "ROLLBACK"));
    }
    return rc;
}

static int read_offsets(pg_state_t *st, sl_offsets_t *out, sl_error_t *err);

static int pg_open(sl_sink_t *sink, sl_error_t *err) {
    pg_conf_t *c = sink->conf;
    pg_state_t *st = sink->state;
    free(st->group);
    free(st->qtable);
    free(st->qoffsets);
    st->group = sl_sql_offsets_group(sink->job, c->table);
    size_t ql = strlen(c->table) + (c->schema ? strlen(c->schema) : 0) + 32;
    st->qtable = malloc(ql);
    st->qoffsets = malloc(ql);
    if (c->schema) {
        snprintf(st->qtable, ql, "\"%s\".\"%s\"", c->schema, c->table);
        snprintf(st->qoffsets, ql, "\"%s\".sluice_offsets", c->schema);
    } else {
        snprintf(st->qtable, ql, "\"%s\"", c->table);
        snprintf(st->qoffsets, ql, "sluice_offsets");
    }
    st->recheck = false;  /* the runner reads committed() right after open */
    int rc = do_connect(sink, err);
    if (rc) return rc;
    /* ... so read them here: the runner retries a failed open() with backoff, while a
     * failed committed() stops the job (a connection cut at that moment did) */
    sl_sql_held_free(&st->opened);
    rc = read_offsets(st, &st->opened, err);
    st->have_opened = rc == 0;
    return rc;
}

/* ---------------------------------------------------------------- the table */

/* Type OIDs (pg_type.h) of the types sent in binary COPY. */
enum {
    OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25, OID_JSON = 114,
    OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_BPCHAR = 1042, OID_VARCHAR = 1043, OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184, OID_JSONB = 3802
};

static bool oid_binary(unsigned oid) {
    switch (oid) {
    case OID_BOOL: case OID_INT8: case OID_INT2: case OID_INT4: case OID_TEXT: case OID_JSON:
    case OID_FLOAT4: case OID_FLOAT8: case OID_BPCHAR: case OID_VARCHAR: case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ: case OID_JSONB:
        return true;
    default: return false;
    }
}

/* The type of a column this sink declares (the staging table's); 0 for the others
 * (uuid, numeric: sent as text). */
static unsigned decl_oid(const char *decl) {
    static const struct { const char *decl; unsigned oid; } m[] = {
        {"TEXT", OID_TEXT}, {"INTEGER", OID_INT4}, {"BIGINT", OID_INT8}, {"SMALLINT", OID_INT2},
        {"DOUBLE PRECISION", OID_FLOAT8}, {"REAL", OID_FLOAT4}, {"BOOLEAN", OID_BOOL},
        {"TIMESTAMP", OID_TIMESTAMP}, {"TIMESTAMPTZ", OID_TIMESTAMPTZ}, {"JSON", OID_JSON},
        {"JSONB", OID_JSONB}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(m[i].decl, decl) == 0) return m[i].oid;
    return 0;
}

/* Read the table's column types: binary COPY sends bytes of exactly those types. */
static int read_types(sl_sink_t *sink, sl_error_t *err) {
    pg_state_t *st = sink->state;
    size_t nc = st->cols.n;
    st->toid = sl_xrealloc(st->toid, (nc ? nc : 1) * sizeof *st->toid);
    st->soid = sl_xrealloc(st->soid, (nc ? nc : 1) * sizeof *st->soid);
    for (size_t k = 0; k < nc; k++) {
        st->toid[k] = 0;
        st->soid[k] = decl_oid(st->cols.v[k].decl);
    }
    const char *p[1] = {st->qtable};
    PGresult *res = PQexecParams(st->conn,
                                 "SELECT attname, atttypid FROM pg_attribute"
                                 " WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
                                 1, NULL, p, NULL, NULL, 0);
    int e = classify(st, res);
    if (e != E_OK) {
        int rc = sl_error_set(err, e == E_RETRY ? SL_RETRY : SL_FATAL,
                              "postgres: reading the columns of %s: %s", st->qtable, res_msg(st, res));
        PQclear(res);
        if (rc == SL_RETRY && PQstatus(st->conn) != CONNECTION_OK) disconnect(st);
        return rc;
    }
    for (int i = 0; i < PQntuples(res); i++)
        for (size_t k = 0; k < nc; k++)
            if (strcmp(st->cols.v[k].name, PQgetvalue(res, i, 0)) == 0)
                st->toid[k] = (unsigned)strtoul(PQgetvalue(res, i, 1), NULL, 10);
    PQclear(res);
    st->types_stale = false;
    st->bin_table = st->bin_stage = st->same_types = nc > 0;
    for (size_t k = 0; k < nc; k++) {
        st->bin_table &= oid_binary(st->toid[k]);
        st->bin_stage &= oid_binary(st->soid[k]);
        st->same_types &= st->toid[k] == st->soid[k];
    }
    return 0;
}

/* Make sure the table exists with every column (inferred mode: add new fields). */
static int prepare_table(sl_sink_t *sink, const sl_batch_t *batch, sl_error_t *err) {
    pg_conf_t *c = sink->conf;
    pg_state_t *st = sink->state;
    bool changed = !st->ready;
    if (sl_sql_columns_infer(&st->cols, batch, &c->key)) changed = true;
    if (!changed || st->cols.n == 0) return 0;
    st->stage_ready = false;  /* its columns follow the table's */
    int rc = exec_sql(st, "BEGIN; SELECT pg_advisory_xact_lock(7302615, 1)", err);
    if (rc) return rc;
    /* does the table exist, and has it a primary key? */
    const char *p[1] = {st->qtable};
    PGresult *res = PQexecParams(st->conn,
                                 "SELECT to_regclass($1) IS NOT NULL, EXISTS (SELECT 1 FROM pg_index"
                                 " WHERE indrelid = to_regclass($1) AND indisprimary)",
                                 1, NULL, p, NULL, NULL, 0);
    int e = classify(st, res);
    bool exists = false, has_pk = false;
    if (e == E_OK && PQntuples(res) == 1) {
        exists = PQgetvalue(res, 0, 0)[0] == 't';
        has_pk = PQgetvalue(res, 0, 1)[0] == 't';
    } else if (e != E_OK) {
        rc = sl_error_set(err, e == E_RETRY ? SL_RETRY : SL_FATAL, "postgres: checking table %s: %s", st->qtable,
                          res_msg(st, res));
    }
    PQclear(res);
    sl_buf_t sql = SL_BUF_INIT;
    if (rc == 0 && !exists) {
        sl_buf_printf(&sql, "CREATE TABLE IF NOT EXISTS %s (", st->qtable);
        for (size_t k = 0; k < st->cols.n; k++)
            sl_buf_printf(&sql, "%s\"%s\" %s", k ? ", " : "", st->cols.v[k].name, st->cols.v[k].decl);
        if (c->key.n) {
            sl_buf_puts(&sql, ", PRIMARY KEY (");
            for (size_t i = 0; i < c->key.n; i++) sl_buf_printf(&sql, "%s\"%s\"", i ? ", " : "", c->key.v[i]);
            sl_buf_puts(&sql, ")");
        }
        sl_buf_puts(&sql, "); ");
    } else if (rc == 0) {
        /* an existing table: add what is missing (and a unique index for the key when
         * it has no primary key; one that differs from `key` fails at the first insert) */
        sl_buf_printf(&sql, "ALTER TABLE %s ", st->qtable);
        for (size_t k = 0; k < st->cols.n; k++)
            sl_buf_printf(&sql, "%sADD COLUMN IF NOT EXISTS \"%s\" %s", k ? ", " : "", st->cols.v[k].name,
                          st->cols.v[k].decl);
        sl_buf_puts(&sql, "; ");
        if (c->key.n && !has_pk) {
            sl_buf_printf(&sql, "CREATE UNIQUE INDEX IF NOT EXISTS \"sluice_%.40s_key\" ON %s (", c->table,
                          st->qtable);
            for (size_t i = 0; i < c->key.n; i++) sl_buf_printf(&sql, "%s\"%s\"", i ? ", " : "", c->key.v[i]);
            sl_buf_puts(&sql, "); ");
        }
    }
    if (rc == 0) {
        sl_buf_puts(&sql, "COMMIT");
        rc = exec_sql(st, sql.data, err);
    }
    if (rc && st->conn) PQclear(PQexec(st->conn, "ROLLBACK"));
    sl_buf_free(&sql);
    if (rc == 0) rc = read_types(sink, err);
    if (rc == 0) st->ready = true;
    return rc;
}

/* ---------------------------------------------------------------- values */

static void put_double(sl_buf_t *b, double d) {
    if (isnan(d)) sl_buf_puts(b, "NaN");
    else if (isinf(d)) sl_buf_puts(b, d > 0 ? "Infinity" : "-Infinity");
    else sl_buf_printf(b, "%.17g", d);
}

/* Render v for a column into b (NUL-terminated).  Returns false for NULL (nothing
 * written), or sets *why when the value cannot be sent at all. */
static bool render(sl_buf_t *b, int kind, sl_value_t v, const char **why) {
    if (v.type == SL_T_NULL) return false;
    if (kind == SL_SQL_JSON) {
        sl_json_write(b, v);
    } else {
        switch (v.type) {
        case SL_T_BOOL:
            if (kind == SL_SQL_BOOL || kind == SL_SQL_TEXT) sl_buf_puts(b, v.u.b ? "true" : "false");
            else sl_buf_puts(b, v.u.b ? "1" : "0");
            break;
        case SL_T_INT:
            if (kind == SL_SQL_TS) {
                char iso[96];
                sl_sql_iso_ms(iso, sizeof iso, v.u.i);
                sl_buf_puts(b, iso);
            } else if (kind == SL_SQL_BOOL) sl_buf_puts(b, v.u.i ? "true" : "false");
            else sl_buf_printf(b, "%lld", (long long)v.u.i);
            break;
        case SL_T_DOUBLE:
            if (kind == SL_SQL_TS) {
                char iso[96];
                sl_sql_iso_ms(iso, sizeof iso, (int64_t)floor(v.u.d));
                sl_buf_puts(b, iso);
            } else if (kind == SL_SQL_BOOL) sl_buf_puts(b, v.u.d != 0 ? "true" : "false");
            else if (kind == SL_SQL_INT && v.u.d == floor(v.u.d) && fabs(v.u.d) < 9.3e18)
                sl_buf_printf(b, "%.0f", v.u.d);
            else if (kind == SL_SQL_TEXT) sl_json_write(b, v);
            else put_double(b, v.u.d);
            break;
        case SL_T_STRING:
            if (memchr(v.u.s, 0, v.len)) {
                *why = "a string with a NUL byte cannot be stored in PostgreSQL";
                return false;
            }
            sl_buf_append(b, v.u.s, v.len);
            break;
        default: sl_json_write(b, v); break;
        }
    }
    sl_buf_putc(b, 0);
    return true;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

/* ---------------------------------------------------------------- binary COPY */

/* Big-endian integers into b. */
static inline unsigned char *put_room(sl_buf_t *b, size_t n) {
    sl_buf_reserve(b, n);
    unsigned char *p = (unsigned char *)b->data + b->len;
    b->len += n;
    b->data[b->len] = 0;
    return p;
}

static inline void put_u16(sl_buf_t *b, uint16_t v) {
    unsigned char *p = put_room(b, 2);
    p[0] = (unsigned char)(v >> 8), p[1] = (unsigned char)v;
}

static inline void put_u32(sl_buf_t *b, uint32_t v) {
    unsigned char *p = put_room(b, 4);
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static inline void put_u64(sl_buf_t *b, uint64_t v) {
    put_u32(b, (uint32_t)(v >> 32));
    put_u32(b, (uint32_t)v);
}

static inline void patch_u32(sl_buf_t *b, size_t at, uint32_t v) {
    unsigned char *p = (unsigned char *)b->data + at;
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* 0001-01-01 .. 9999-12-31 in epoch ms: rendered as ISO text, the server reads them back
 * unchanged; beyond, the text and its errors are the server's. */
#define TS_MIN_MS (-62135596800000LL)
#define TS_MAX_MS 253402300799999LL
#define PG_EPOCH_MS 946684800000LL   /* 2000-01-01, the origin of binary timestamps */

enum { BIN_OK, BIN_TEXT, BIN_REJECT };

/* Append v as one binary COPY field for a column declared as `kind` whose type is oid:
 * the bytes of exactly the value the server would make of render()'s text (invariant
 * 2).  Returns BIN_OK; BIN_TEXT when the conversion (or its error) must be the server's,
 * nothing appended; BIN_REJECT with *why when the value cannot be sent at all. */
static int bin_field(sl_buf_t *b, unsigned oid, int kind, sl_value_t v, const char **why) {
    if (v.type == SL_T_NULL) {
        put_u32(b, 0xffffffffu);
        return BIN_OK;
    }
    /* render() writes an int as "%lld" for these kinds */
    bool int_text = kind != SL_SQL_TS && kind != SL_SQL_BOOL && kind != SL_SQL_JSON;
    bool dbl_num = kind == SL_SQL_INT || kind == SL_SQL_FLOAT || kind == SL_SQL_NUMERIC;
    switch (oid) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8: {
        int64_t i;
        if (v.type == SL_T_INT && int_text) i = v.u.i;
        else if (v.type == SL_T_DOUBLE && kind == SL_SQL_INT && v.u.d == floor(v.u.d) &&
                 v.u.d >= -9223372036854775808.0 && v.u.d < 9223372036854775808.0)
            i = (int64_t)v.u.d;   /* "%.0f" */
        else return BIN_TEXT;
        if (oid == OID_INT2) {
            if (i < -32768 || i > 32767) return BIN_TEXT;
            put_u32(b, 2), put_u16(b, (uint16_t)i);
        } else if (oid == OID_INT4) {
            if (i < INT32_MIN || i > INT32_MAX) return BIN_TEXT;
            put_u32(b, 4), put_u32(b, (uint32_t)i);
        } else put_u32(b, 8), put_u64(b, (uint64_t)i);
        return BIN_OK;
    }
    case OID_FLOAT8: {
        double d;
        if (v.type == SL_T_INT && int_text) d = (double)v.u.i;   /* both round to nearest */
        else if (v.type == SL_T_DOUBLE && dbl_num) d = v.u.d;    /* "%.17g" reads back exactly */
        else return BIN_TEXT;
        uint64_t u;
        memcpy(&u, &d, 8);
        put_u32(b, 8), put_u64(b, u);
        return BIN_OK;
    }
    case OID_FLOAT4: {  /* as float4in: strtof of the text, out of range is an error */
        char tmp[64];
        if (v.type == SL_T_INT && int_text) snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i);
        else if (v.type == SL_T_DOUBLE && dbl_num) {
            sl_buf_t t = SL_BUF_INIT;
            render(&t, kind, v, why);
            snprintf(tmp, sizeof tmp, "%s", t.data);
            sl_buf_free(&t);
        } else return BIN_TEXT;
        errno = 0;
        char *end;
        float f = strtof(tmp, &end);
        if (end == tmp || *end || (errno == ERANGE && (f == 0 || isinf(f)))) return BIN_TEXT;
        uint32_t u;
        memcpy(&u, &f, 4);
        put_u32(b, 4), put_u32(b, u);
        return BIN_OK;
    }
    case OID_BOOL: {
        bool x;
        if (v.type == SL_T_BOOL) x = v.u.b;   /* "true"/"false" or "1"/"0" */
        else if (v.type == SL_T_INT && kind == SL_SQL_BOOL) x = v.u.i != 0;
        else if (v.type == SL_T_DOUBLE && kind == SL_SQL_BOOL) x = v.u.d != 0;
        else return BIN_TEXT;
        put_u32(b, 1);
        sl_buf_putc(b, x ? 1 : 0);
        return BIN_OK;
    }
    case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ: {  /* an ISO-8601 UTC text: the same instant (timestamp: its UTC wall time) */
        int64_t ms;
        if (kind != SL_SQL_TS) return BIN_TEXT;
        if (v.type == SL_T_INT) ms = v.u.i;
        else if (v.type == SL_T_DOUBLE && v.u.d >= (double)TS_MIN_MS && v.u.d < (double)TS_MAX_MS + 1)
            ms = (int64_t)floor(v.u.d);
        else return BIN_TEXT;
        if (ms < TS_MIN_MS || ms > TS_MAX_MS) return BIN_TEXT;
        put_u32(b, 8), put_u64(b, (uint64_t)((ms - PG_EPOCH_MS) * 1000));
        return BIN_OK;
    }
    case OID_TEXT:
    case OID_VARCHAR:
    case OID_BPCHAR:
    case OID_JSON:
    case OID_JSONB: {  /* the text itself (jsonb: version 1, then the text) */
        size_t at = b->len;
        put_u32(b, 0);
        if (oid == OID_JSONB) sl_buf_putc(b, 1);
        if (!render(b, kind, v, why)) {
            b->len = at;
            return BIN_REJECT;
        }
        b->len--;   /* render's NUL */
        patch_u32(b, at, (uint32_t)(b->len - at - 4));
        return BIN_OK;
    }
    default: return BIN_TEXT;
    }
}

/* ---------------------------------------------------------------- statements */

static int simple(pg_state_t *st, const char *sql, char *msg, size_t cap);

/* " ON CONFLICT (key) DO UPDATE SET c = EXCLUDED.c, ..." (nothing in append mode). */
static void on_conflict(sl_sink_t *sink, sl_buf_t *sql) {
    pg_conf_t *c = sink->conf;
    pg_state_t *st = sink->state;
    if (!c->key.n) return;
    sl_buf_puts(sql, " ON CONFLICT (");
    for (size_t i = 0; i < c->key.n; i++) sl_buf_printf(sql, "%s\"%s\"", i ? ", " : "", c->key.v[i]);
    sl_buf_puts(sql, ") DO ");
    size_t nset = 0;
    for (size_t k = 0; k < st->cols.n; k++) {
        if (sl_sql_is_key(&c->key, st->cols.v[k].name)) continue;
        sl_buf_printf(sql, "%s\"%s\" = EXCLUDED.\"%s\"", nset++ ? ", " : "UPDATE SET ", st->cols.v[k].name,
                      st->cols.v[k].name);
    }
    if (!nset) sl_buf_puts(sql, "NOTHING");
}

/* COPY text format: backslash, tab, newline and CR escaped. */
static void copy_escape(sl_buf_t *b, const char *s) {
    const char *run = s;
    for (; *s; s++) {
        const char *rep = *s == '\\' ? "\\\\" : *s == '\t' ? "\\t" : *s == '\n' ? "\\n" : *s == '\r' ? "\\r" : NULL;
        if (!rep) continue;
        sl_buf_append(b, run, (size_t)(s - run));
        sl_buf_puts(b, rep);
        run = s + 1;
    }
    sl_buf_append(b, run, (size_t)(s - run));
}

/* INSERT ... SELECT from the staging table ... ON CONFLICT DO UPDATE (invariant 2);
 * distinct: the batch may hold a key twice, then its last row wins. */
static void upsert_sql(sl_sink_t *sink, sl_buf_t *sql, bool distinct) {
    pg_conf_t *c = sink->conf;
    pg_state_t *st = sink->state;
    size_t nc = st->cols.n;
    sl_buf_clear(sql);
    sl_buf_printf(sql, "INSERT INTO %s (", st->qtable);
    for (size_t k = 0; k < nc; k++) sl_buf_printf(sql, "%s\"%s\"", k ? ", " : "", st->cols.v[k].name);
    sl_buf_puts(sql, ") SELECT ");
    if (distinct) {
        sl_buf_puts(sql, "DISTINCT ON (");
        for (size_t i = 0; i < c->key.n; i++) sl_buf_printf(sql, "%s\"%s\"", i ? ", " : "", c->key.v[i]);
        sl_buf_puts(sql, ") ");
    }
    for (size_t k = 0; k < nc; k++) sl_buf_printf(sql, "%s\"%s\"", k ? ", " : "", st->cols.v[k].name);
    sl_buf_puts(sql, " FROM sluice_stage");
    if (distinct) {
        sl_buf_puts(sql, " ORDER BY ");
        for (size_t i = 0; i < c->key.n; i++) sl_buf_printf(sql, "\"%s\", ", c->key.v[i]);
        sl_buf_puts(sql, "sluice_row DESC");
    }
    on_conflict(sink, sql);
}

/* The temporary staging table of upserts, once per connection, outside the batch's
 * transaction (a rollback keeps it); emptied by every COMMIT. */
static int stage_create(sl_sink_t *sink, char *msg, size_t cap) {
    pg_state_t *st = sink->state;
    if (st->stage_ready) return E_OK;
    sl_buf_t *sql = &st->sql;
    sl_buf_clear(sql);
    sl_buf_puts(sql, "DROP TABLE IF EXISTS pg_temp.sluice_stage; CREATE TEMP TABLE sluice_stage (");
    for (size_t k = 0; k < st->cols.n; k++)
        sl_buf_printf(sql, "\"%s\" %s, ", st->cols.v[k].name, st->cols.v[k].decl);
    sl_buf_puts(sql, "sluice_row integer) ON COMMIT DELETE ROWS");
    int e = simple(st, sql->data, msg, cap);
    if (e != E_OK) return e == E_DATA ? E_FATAL : e;
    st->stage_ready = true;
    return E_OK;
}

/* What copy_run() and finish() may find besides E_*. */
enum {
    E_UNIQUE = E_FATAL + 1,   /* an upsert straight into the table met a key already there (23505) */
    E_CARD,                   /* the upsert touched a row twice (21000): equal keys with other bytes */
    E_STALE                   /* tx_begin(): the database holds more of the batch than the rows
                               * were chosen by; rolled back, the write starts over */
};

/* COPY st->copybuf (whole rows in the binary or the text format) into the table, or
 * into the staging table (stage: with the rows' numbers), inside the transaction
 * tx_begin() opened.  Returns E_*
 * (E_UNIQUE for an upsert into the table); on an error the transaction is left open
 * (aborted) for the caller's ROLLBACK. */
static int copy_run(sl_sink_t *sink, bool binary, bool stage, char *msg, size_t cap) {
    pg_conf_t *c = sink->conf;
    pg_state_t *st = sink->state;
    size_t nc = st->cols.n;
    sl_buf_t *sql = &st->sql;
    sl_buf_clear(sql);
    sl_buf_printf(sql, "COPY %s (", stage ? "sluice_stage" : st->qtable);
    for (size_t k = 0; k < nc; k++) sl_buf_printf(sql, "%s\"%s\"", k ? ", " : "", st->cols.v[k].name);
    sl_buf_printf(sql, "%s) FROM STDIN%s", stage ? ", sluice_row" : "", binary ? " (FORMAT binary)" : "");
    PGresult *res = PQexec(st->conn, sql->data);
    if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
        int e = classify(st, res);
        snprintf(msg, cap, "%s (in: COPY)", res_msg(st, res));
        PQclear(res);
        return e == E_OK ? E_FATAL : e;
    }
    PQclear(res);
    sl_buf_t *b = &st->copybuf;
    bool sent = true;
    for (size_t at = 0; at < b->len && sent;) {   /* a few large messages */
        size_t n = b->len - at < (1u << 20) ? b->len - at : (1u << 20);
        sent = PQputCopyData(st->conn, b->data + at, (int)n) == 1;
        at += n;
    }
    int e = E_OK;
    if (PQputCopyEnd(st->conn, sent ? NULL : "sluice: sending failed") != 1) e = E_RETRY;
    while ((res = PQgetResult(st->conn)) != NULL) {
        int e2 = classify(st, res);
        if (e2 != E_OK && e == E_OK) {
            const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            e = e2 == E_DATA && c->key.n && !stage && code && strcmp(code, "23505") == 0 ? E_UNIQUE : e2;
            const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
            snprintf(msg, cap, "%s%s%s", res_msg(st, res), detail ? "; " : "", detail ? detail : "");
        }
        PQclear(res);
    }
    if (e == E_OK && !sent) e = E_RETRY;
    if (e == E_RETRY && !msg[0]) snprintf(msg, cap, "COPY: %s", res_msg(st, NULL));
    return e;
}

/* End the transaction in one round trip (pipeline mode): [BEGIN when begin], sql (when
 * not NULL; a data error there is E_DATA, a key twice E_CARD), [check: the table's
 * column types as read when the data went in binary; a change is E_DATA], the offsets,
 * COMMIT.  Returns E_*; on an error the transaction is left for the caller's ROLLBACK. */
static int finish(sl_sink_t *sink, bool begin, const char *sql, bool check, const sl_offsets_t *upto,
                  char *msg, size_t cap) {
    pg_state_t *st = sink->state;
    size_t nc = st->cols.n;
    size_t no = upto ? upto->n : 0;
    /* the offsets statement */
    sl_buf_t osql = SL_BUF_INIT;
    sl_buf_printf(&osql, "INSERT INTO %s (grp, topic, part, next_offset) VALUES ", st->qoffsets);
    const char **p = malloc((no * 4 + 1) * sizeof *p);
    char (*nums)[2][24] = malloc((no + 1) * sizeof *nums);
    for (size_t i = 0; i < no; i++) {
        sl_buf_printf(&osql, "%s($%zu,$%zu,$%zu::integer,$%zu::bigint)", i ? "," : "", 4 * i + 1, 4 * i + 2,
                      4 * i + 3, 4 * i + 4);
        snprintf(nums[i][0], sizeof nums[i][0], "%d", upto->v[i].partition);
        snprintf(nums[i][1], sizeof nums[i][1], "%lld", (long long)upto->v[i].offset);
        p[4 * i] = st->group;
        p[4 * i + 1] = upto->v[i].topic;
        p[4 * i + 2] = nums[i][0];
        p[4 * i + 3] = nums[i][1];
    }
    /* never back (invariant 6): a batch read from a stale committed() may end below
     * what another transaction stored meanwhile */
    sl_buf_puts(&osql, " ON CONFLICT (grp, topic, part) DO UPDATE SET next_offset ="
                       " GREATEST(sluice_offsets.next_offset, EXCLUDED.next_offset)");
    /* the check: 1 / (every column still has the type the data was encoded for) */
    sl_buf_t want = SL_BUF_INIT;
    char ncs[24];
    snprintf(ncs, sizeof ncs, "%zu", nc);
    sl_buf_putc(&want, '{');
    for (size_t k = 0; k < nc && check; k++)
        sl_buf_printf(&want, "%s%s:%u", k ? "," : "", st->cols.v[k].name, st->toid[k]);
    sl_buf_putc(&want, '}');
    const char *cp[3] = {st->qtable, want.data, ncs};
    enum { Q_BEGIN, Q_SQL, Q_CHECK, Q_OFFSETS, Q_COMMIT, Q_N };
    bool on[Q_N] = {begin, sql != NULL, check, no > 0, true};
    int e = E_OK;
    int failed = -1;   /* the statement that failed */
    if (PQenterPipelineMode(st->conn) != 1) e = E_RETRY;
    for (int q = 0; q < Q_N && e == E_OK; q++) {
        if (!on[q]) continue;
        int ok = 0;
        switch (q) {
        case Q_BEGIN: ok = PQsendQueryParams(st->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0); break;
        case Q_SQL: ok = PQsendQueryParams(st->conn, sql, 0, NULL, NULL, NULL, NULL, 0); break;
        case Q_CHECK:
            ok = PQsendQueryParams(st->conn,
                                   "SELECT 1 / (count(*) = $3::int)::int FROM pg_attribute"
                                   " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped"
                                   " AND attname || ':' || atttypid = ANY ($2::text[])",
                                   3, NULL, cp, NULL, NULL, 0);
            break;
        case Q_OFFSETS:
            ok = PQsendQueryParams(st->conn, osql.data, (int)(no * 4), NULL, p, NULL, NULL, 0);
            break;
        case Q_COMMIT: ok = PQsendQueryParams(st->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0); break;
        }
        if (!ok) e = E_RETRY;
    }
    if (e == E_OK && PQpipelineSync(st->conn) != 1) e = E_RETRY;
    for (int q = 0; q < Q_N && e == E_OK; q++) {
        if (!on[q]) continue;
        PGresult *res = PQgetResult(st->conn);
        if (!res) {
            e = E_RETRY;
            break;
        }
        if (PQresultStatus(res) != PGRES_PIPELINE_ABORTED && failed < 0) {
            int eq = classify(st, res);
            if (eq != E_OK) {
                failed = q;
                const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
                const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
                if (q == Q_SQL && eq == E_FATAL && code && strcmp(code, "21000") == 0) eq = E_CARD;
                if (eq == E_DATA && q != Q_SQL && q != Q_CHECK) eq = E_FATAL;
                e = eq;
                snprintf(msg, cap, "%s%s%s%s", q == Q_OFFSETS ? "storing offsets: " : "", res_msg(st, res),
                         detail ? "; " : "", detail ? detail : "");
            }
        }
        PQclear(res);
        while ((res = PQgetResult(st->conn)) != NULL) PQclear(res);   /* the end of this statement */
        if (PQstatus(st->conn) != CONNECTION_OK) e = E_RETRY;
    }
    if (PQstatus(st->conn) == CONNECTION_OK && PQpipelineStatus(st->conn) != PQ_PIPELINE_OFF) {
        PGresult *res;
        while ((res = PQgetResult(st->conn)) != NULL) {   /* the sync */
            ExecStatusType s = PQresultStatus(res);
            PQclear(res);
            if (s == PGRES_PIPELINE_SYNC) break;
        }
        if (PQexitPipelineMode(st->conn) != 1) e = e == E_OK ? E_RETRY : e;
    }
    if (e == E_RETRY && !msg[0]) snprintf(msg, cap, "%s", res_msg(st, NULL));
    free(p);
    free(nums);
    sl_buf_free(&osql);
    sl_buf_free(&want);
    return e;
}

/* Execute one multi-row INSERT of rows[0..n).  Returns E_* and the result's message
 * in msg (for a single row's rejection). */
static int exec_rows(sl_sink_t *sink, const size_t *rows, size_t n, char *msg, size_t msg_cap) {
    pg_state_t *st = sink->state;
    size_t nc = st->cols.n;
    sl_buf_t *sql = &st->sql;
    sl_buf_clear(sql);
    sl_buf_printf(sql, "INSERT INTO %s (", st->qtable);
    for (size_t k = 0; k < nc; k++) sl_buf_printf(sql, "%s\"%s\"", k ? ", " : "", st->cols.v[k].name);
    sl_buf_puts(sql, ") VALUES ");
    size_t p = 1;
    for (size_t r = 0; r < n; r++) {
        sl_buf_puts(sql, r ? ",(" : "(");
        for (size_t k = 0; k < nc; k++) sl_buf_printf(sql, k ? ",$%zu" : "$%zu", p++);
        sl_buf_putc(sql, ')');
    }
    on_conflict(sink, sql);
    size_t np = n * nc;
    if (np > st->params_cap) {
        st->params_cap = np;
        st->params = sl_xrealloc(st->params, np * sizeof *st->params);
    }
    for (size_t r = 0; r < n; r++)
        for (size_t k = 0; k < nc; k++) {
            ptrdiff_t o = st->voff[rows[r] * nc + k];
            st->params[r * nc + k] = o < 0 ? NULL : st->vals.data + o;
        }
    PGresult *res = PQexecParams(st->conn, sql->data, (int)np, NULL, st->params, NULL, NULL, 0);
    int e = classify(st, res);
    if (e != E_OK) {
        const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
        snprintf(msg, msg_cap, "%s%s%s (SQLSTATE %s)", res_msg(st, res), detail ? "; " : "", detail ? detail : "",
                 code ? code : "none");
        for (char *q = msg; *q; q++)
            if (*q == '\n') *q = ' ';
    }
    PQclear(res);
    return e;
}

static int simple(pg_state_t *st, const char *sql, char *msg, size_t cap) {
    PGresult *res = PQexec(st->conn, sql);
    int e = classify(st, res);
    if (e != E_OK) snprintf(msg, cap, "%s (in: %s)", res_msg(st, res), sql);
    PQclear(res);
    return e;
}

/* Write rows[0..n) under a savepoint; a data error splits the range in two until the
 * bad rows are alone (they are then rejected).  Returns E_OK, E_RETRY or E_FATAL. */
static int write_bisect(sl_sink_t *sink, const size_t *rows, size_t n, char *msg, size_t cap) {
    pg_state_t *st = sink->state;
    int e = simple(st, "SAVEPOINT sl", msg, cap);
    if (e != E_OK) return e == E_DATA ? E_FATAL : e;
    e = exec_rows(sink, rows, n, msg, cap);
    if (e == E_OK) return simple(st, "RELEASE SAVEPOINT sl", msg, cap);
    if (e != E_DATA) return e;
    char tmp[64];
    e = simple(st, "ROLLBACK TO SAVEPOINT sl", tmp, sizeof tmp);
    if (e == E_OK) e = simple(st, "RELEASE SAVEPOINT sl", tmp, sizeof tmp);
    if (e != E_OK) return e == E_DATA ? E_FATAL : e;
    if (n == 1) {
        char why[700];
        snprintf(why, sizeof why, "postgres rejected the row: %s", msg);
        sl_sql_rejects_add(&st->rej, rows[0], why);
        return E_OK;
    }
    e = write_bisect(sink, rows, n / 2, msg, cap);
    if (e == E_OK) e = write_bisect(sink, rows + n / 2, n - n / 2, msg, cap);
    return e;
}

/* ---------------------------------------------------------------- offsets */

static int read_offsets(pg_state_t *st, sl_offsets_t *out, sl_error_t *err) {
    memset(out, 0, sizeof *out);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT topic, part, next_offset FROM %s WHERE grp = $1", st->qoffsets);
    const char *p[1] = {st->group};
    PGresult *res = PQexecParams(st->conn, sql, 1, NULL, p, NULL, NULL, 0);
    int e = classify(st, res);
    if (e != E_OK) {
        int code = e == E_RETRY ? SL_RETRY : SL_FATAL;
        sl_error_set(err, code, "postgres: reading offsets: %s", res_msg(st, res));
        PQclear(res);
        if (code == SL_RETRY && PQstatus(st->conn) != CONNECTION_OK) disconnect(st);
        return code;
    }
    int n = PQntuples(res);
    out->v = calloc(n ? (size_t)n : 1, sizeof *out->v);
    for (int i = 0; i < n; i++) {
        out->v[i].topic = strdup(PQgetvalue(res, i, 0));
        out->v[i].partition = atoi(PQgetvalue(res, i, 1));
        out->v[i].offset = strtoll(PQgetvalue(res, i, 2), NULL, 10);
    }
    out->n = (size_t)n;
    PQclear(res);
    return 0;
}

/* The advisory lock key of (group, topic, partition): FNV-1a 64 of the three. */
static int64_t lock_key(const char *group, const char *topic, int part) {
    uint64_t h = fnv(1469598103934665603ULL, group, strlen(group) + 1);
    h = fnv(h, topic, strlen(topic) + 1);
    h = fnv(h, &part, sizeof part);
    return (int64_t)h;
}

static int cmp_key(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Does held cover another set of the batch's records than st->held did when the rows
 * were chosen? */
static bool held_moved(const pg_state_t *st, const sl_offsets_t *held, const sl_batch_t *batch) {
    for (size_t i = 0; i < batch->n; i++)
        if (sl_sql_held_covers(held, &batch->recs[i]) != sl_sql_held_covers(&st->held, &batch->recs[i]))
            return true;
    return false;
}

/* Open the batch's transaction (invariant 6): BEGIN, take the transaction-level
 * advisory lock of every (group, topic, partition) of upto (sorted, so two writers
 * cannot deadlock), then, in a later statement (a fresh snapshot, taken after the
 * locks were granted), read the offsets the database holds.  A transaction of
 * another process over these partitions (a killed process's, still committing on
 * the server) has ended by then, so what it committed is seen.  When that covers
 * other records of the batch than the rows were chosen by, the transaction is rolled
 * back, st->held takes the new offsets and E_STALE asks the caller to start over.
 * Returns E_OK with the transaction open, E_STALE, or an error (the transaction is
 * left for the caller's ROLLBACK). */
static int tx_begin(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto, char *msg,
                    size_t cap) {
    pg_state_t *st = sink->state;
    size_t no = upto ? upto->n : 0;
    int64_t *keys = malloc((no + 1) * sizeof *keys);
    size_t nk = 0;
    for (size_t i = 0; i < no; i++) keys[nk++] = lock_key(st->group, upto->v[i].topic, upto->v[i].partition);
    if (!nk) keys[nk++] = lock_key(st->group, "", -1);
    qsort(keys, nk, sizeof *keys, cmp_key);
    char *lit = PQescapeLiteral(st->conn, st->group, strlen(st->group));
    sl_buf_t *sql = &st->sql;
    sl_buf_clear(sql);
    /* a lock held longer than this (a peer stuck mid-transaction) is SL_RETRY, logged */
    sl_buf_puts(sql, "BEGIN; SET LOCAL lock_timeout = '60s'; SELECT ");
    for (size_t i = 0; i < nk; i++)
        if (i == 0 || keys[i] != keys[i - 1])
            sl_buf_printf(sql, "%spg_advisory_xact_lock(%lld)", i ? ", " : "", (long long)keys[i]);
    sl_buf_printf(sql, "; SELECT topic, part, next_offset FROM %s WHERE grp = %s", st->qoffsets,
                  lit ? lit : "NULL");
    if (lit) PQfreemem(lit);
    free(keys);
    PGresult *res = PQexec(st->conn, sql->data);   /* the last statement's result */
    int e = classify(st, res);
    if (e != E_OK) {
        snprintf(msg, cap, "locking the offsets of %s: %s", st->group, res_msg(st, res));
        PQclear(res);
        return e == E_DATA ? E_FATAL : e;
    }
    int n = PQntuples(res);
    sl_offsets_t h = {.v = calloc(n ? (size_t)n : 1, sizeof *h.v), .n = (size_t)n};
    for (int i = 0; i < n; i++) {
        h.v[i].topic = strdup(PQgetvalue(res, i, 0));
        h.v[i].partition = atoi(PQgetvalue(res, i, 1));
        h.v[i].offset = strtoll(PQgetvalue(res, i, 2), NULL, 10);
    }
    PQclear(res);
    bool moved = held_moved(st, &h, batch);
    sl_sql_held_set(&st->held, &h);
    if (!moved) return E_OK;
    sl_info("postgres: %s: another transaction of this group committed meanwhile (a killed process's?): "
            "what it holds is skipped", st->group);
    e = simple(st, "ROLLBACK", msg, cap);
    return e == E_OK ? E_STALE : e == E_DATA ? E_FATAL : e;
}

/* ---------------------------------------------------------------- write */

static void push_seg(size_t **seg, size_t *n, size_t *cap, size_t start) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *seg = sl_xrealloc(*seg, *cap * sizeof **seg);
    }
    (*seg)[(*n)++] = start;
}

/* Is row i's key already among the rows in slot[] (the current statement)? */
static bool find_key(const pg_state_t *st, const pg_conf_t *c, const size_t *slot, size_t hcap, const size_t *rows,
                     size_t i) {
    size_t nc = st->cols.n;
    uint64_t h = st->khash[i];
    for (size_t s = (size_t)h & (hcap - 1); slot[s]; s = (s + 1) & (hcap - 1)) {
        size_t o = rows[slot[s] - 1];
        if (st->khash[o] != h) continue;
        bool same = true;
        for (size_t k = 0; k < nc && same; k++) {
            if (!sl_sql_is_key(&c->key, st->cols.v[k].name)) continue;
            ptrdiff_t a = st->voff[o * nc + k], b = st->voff[i * nc + k];
            same = (a < 0 && b < 0) || (a >= 0 && b >= 0 && strcmp(st->vals.data + a, st->vals.data + b) == 0);
        }
        if (same) return true;
    }
    return false;
}

/* Forget the rejections from rej.n = mark on (a pass over the rows starts over). */
static void rejects_cut(sl_sql_rejects_t *r, size_t mark) {
    for (size_t i = mark; i < r->n; i++) free(r->v[i].msg);
    r->n = mark;
}

/* The statements of the multi-row INSERT path (invariant 2). */
typedef struct pg_plan {
    size_t *rows;     /* batch indexes of the rows written */
    size_t nrows;
    size_t *seg;      /* statements: start indexes into rows[] */
    size_t nseg, seg_cap;
} pg_plan_t;

/* Render the values of the rows cand[0..n) as text into st->vals (rows that cannot be
 * sent are rejected) and cut them into statements: at most `batch` rows and 65535
 * parameters, no key twice. */
static void render_rows(sl_sink_t *sink, const sl_batch_t *batch, const size_t *cand, size_t n,
                        pg_plan_t *pl) {
    pg_conf_t *c = sink->conf;
    pg_state_t *st = sink->state;
    size_t nc = st->cols.n;
    if (batch->n * nc > st->voff_cap) {
        st->voff_cap = batch->n * nc;
        st->voff = sl_xrealloc(st->voff, st->voff_cap * sizeof *st->voff);
    }
    if (batch->n > st->khash_cap) {
        st->khash_cap = batch->n;
        st->khash = sl_xrealloc(st->khash, st->khash_cap * sizeof *st->khash);
    }
    sl_buf_clear(&st->vals);
    pl->nrows = 0;
    for (size_t r = 0; r < n; r++) {
        size_t i = cand[r];
        const sl_record_t *rec = &batch->recs[i];
        size_t mark = st->vals.len;
        const char *why = NULL;
        uint64_t kh = 1469598103934665603ULL;
        for (size_t k = 0; k < nc && !why; k++) {
            const sl_value_t *v = sl_value_get(&rec->value, st->cols.v[k].field, strlen(st->cols.v[k].field));
            size_t at = st->vals.len;
            bool set = render(&st->vals, st->cols.v[k].kind, v ? *v : sl_null(), &why);
            st->voff[i * nc + k] = set ? (ptrdiff_t)at : -1;
            for (size_t q = 0; q < c->key.n; q++)
                if (strcmp(c->key.v[q], st->cols.v[k].name) == 0)
                    kh = set ? fnv(kh, st->vals.data + at, st->vals.len - at) : fnv(kh, "\xff", 1);
        }
        if (why) {
            st->vals.len = mark;
            sl_sql_rejects_add(&st->rej, i, why);
            continue;
        }
        st->khash[i] = kh;
        pl->rows[pl->nrows++] = i;
    }
    size_t per = (size_t)c->batch;
    if (nc && per * nc > 65535) per = 65535 / nc;
    if (per < 1) per = 1;
    size_t hcap = 1;
    while (hcap < per * 2) hcap <<= 1;
    size_t *slot = c->key.n ? malloc(hcap * sizeof *slot) : NULL;  /* rows[] index + 1, 0 = empty */
    size_t start = 0;
    pl->nseg = 0;
    if (slot) memset(slot, 0, hcap * sizeof *slot);
    for (size_t r = 0; r < pl->nrows; r++) {
        bool cut = r - start == per;
        if (!cut && slot && find_key(st, c, slot, hcap, pl->rows, pl->rows[r])) cut = true;
        if (cut) {
            push_seg(&pl->seg, &pl->nseg, &pl->seg_cap, start);
            start = r;
            if (slot) memset(slot, 0, hcap * sizeof *slot);
        }
        if (slot) {
            size_t s = (size_t)st->khash[pl->rows[r]] & (hcap - 1);
            while (slot[s]) s = (s + 1) & (hcap - 1);
            slot[s] = r + 1;
        }
    }
    if (pl->nrows > start) push_seg(&pl->seg, &pl->nseg, &pl->seg_cap, start);
    free(slot);
}

/* The rendered rows as COPY text into st->copybuf (with their number in the batch
 * after them when there is a key). */
static void text_rows(sl_sink_t *sink, const pg_plan_t *pl) {
    pg_conf_t *c = sink->conf;
    pg_state_t *st = sink->state;
    size_t nc = st->cols.n;
    sl_buf_t *b = &st->copybuf;
    sl_buf_clear(b);
    for (size_t r = 0; r < pl->nrows; r++) {
        for (size_t k = 0; k < nc; k++) {
            if (k) sl_buf_putc(b, '\t');
            ptrdiff_t o = st->voff[pl->rows[r] * nc + k];
            if (o < 0) sl_buf_puts(b, "\\N");
            else copy_escape(b, st->vals.data + o);
        }
        if (c->key.n) sl_buf_printf(b, "\t%zu", r);
        sl_buf_putc(b, '\n');
    }
}

/* The rows cand[0..n) as binary COPY data into st->copybuf, for the table's column
 * types or the staging table's (stage: with the rows' numbers); rows that cannot be
 * sent are rejected.
 * Returns false when a value must reach the server as text (then nothing is kept and
 * the caller renders the batch).  *sent: rows in the data; *dups: some key is there
 * twice (same bytes). */
static bool bin_rows(sl_sink_t *sink, const sl_batch_t *batch, const size_t *cand, size_t n, bool stage,
                     size_t *sent, bool *dups) {
    pg_conf_t *c = sink->conf;
    pg_state_t *st = sink->state;
    size_t nc = st->cols.n;
    const unsigned *oid = stage ? st->soid : st->toid;
    sl_buf_t *b = &st->copybuf;
    sl_buf_clear(b);
    sl_buf_append(b, "PGCOPY\n\377\r\n\0", 11);
    put_u32(b, 0);   /* flags */
    put_u32(b, 0);   /* header extension */
    if (c->key.n && n + 1 > st->koff_cap) {
        st->koff_cap = n + 1;
        st->koff = sl_xrealloc(st->koff, st->koff_cap * sizeof *st->koff);
    }
    sl_buf_clear(&st->keys);
    size_t flen[nc ? nc : 1];
    bool key[nc ? nc : 1];
    for (size_t k = 0; k < nc; k++) {
        flen[k] = strlen(st->cols.v[k].field);
        key[k] = sl_sql_is_key(&c->key, st->cols.v[k].name);
    }
    size_t m = 0;
    for (size_t r = 0; r < n; r++) {
        size_t i = cand[r];
        const sl_record_t *rec = &batch->recs[i];
        size_t mark = b->len, kmark = st->keys.len;
        put_u16(b, (uint16_t)(nc + (stage ? 1 : 0)));
        const char *why = NULL;
        int rc = BIN_OK;
        for (size_t k = 0; k < nc && rc == BIN_OK; k++) {
            const sl_value_t *v = sl_value_get(&rec->value, st->cols.v[k].field, flen[k]);
            size_t at = b->len;
            rc = bin_field(b, oid[k], st->cols.v[k].kind, v ? *v : sl_null(), &why);
            if (rc == BIN_OK && key[k]) sl_buf_append(&st->keys, b->data + at, b->len - at);
        }
        if (rc == BIN_TEXT) return false;
        if (rc == BIN_REJECT) {
            b->len = mark;
            st->keys.len = kmark;
            sl_sql_rejects_add(&st->rej, i, why);
            continue;
        }
        if (stage) put_u32(b, 4), put_u32(b, (uint32_t)m);   /* sluice_row */
        if (c->key.n) st->koff[m] = kmark;
        m++;
    }
    put_u16(b, 0xffff);   /* trailer */
    *sent = m;
    *dups = false;
    if (!c->key.n || m < 2) return true;
    st->koff[m] = st->keys.len;
    size_t hcap = 1;
    while (hcap < m * 2) hcap <<= 1;
    if (hcap > st->slot_cap) {
        st->slot_cap = hcap;
        st->slot = sl_xrealloc(st->slot, hcap * sizeof *st->slot);
    }
    memset(st->slot, 0, hcap * sizeof *st->slot);
    for (size_t r = 0; r < m && !*dups; r++) {
        const char *kp = st->keys.data + st->koff[r];
        size_t kl = st->koff[r + 1] - st->koff[r];
        size_t s = (size_t)fnv(1469598103934665603ULL, kp, kl) & (hcap - 1);
        for (; st->slot[s]; s = (s + 1) & (hcap - 1)) {
            size_t o = st->slot[s] - 1;
            if (st->koff[o + 1] - st->koff[o] == kl && memcmp(st->keys.data + st->koff[o], kp, kl) == 0) {
                *dups = true;
                break;
            }
        }
        st->slot[s] = r + 1;
    }
    return true;
}

/* One attempt at writing the batch: 0, SL_RETRY/SL_FATAL, or 1 when tx_begin() found
 * offsets that changed which records become rows (then again, with them). */
static int write_once(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto, sl_error_t *err) {
    pg_conf_t *c = sink->conf;
    pg_state_t *st = sink->state;
    sl_sql_rejects_clear(&st->rej);
    int rc = do_connect(sink, err);
    if (rc) {
        st->recheck = true;
        return rc;
    }
    if (st->recheck) {  /* invariant 4: a lost COMMIT answer may have been a success */
        sl_offsets_t h;
        rc = read_offsets(st, &h, err);
        if (rc) return rc;
        sl_sql_held_set(&st->held, &h);
    }
    rc = prepare_table(sink, batch, err);
    if (rc == 0 && st->types_stale) rc = read_types(sink, err);
    if (rc) {
        st->recheck = true;
        return rc;
    }
    size_t nc = st->cols.n;
    /* the records that become rows */
    size_t *cand = malloc((batch->n ? batch->n : 1) * sizeof *cand);
    size_t ncand = 0;
    for (size_t i = 0; i < batch->n; i++) {
        const sl_record_t *rec = &batch->recs[i];
        if (!sl_sql_row_wanted(&st->held, &st->rej, rec, i, nc)) continue;
        cand[ncand++] = i;
    }
    size_t rej_mark = st->rej.n;
    pg_plan_t pl = {.rows = malloc((ncand ? ncand : 1) * sizeof *pl.rows)};
    bool rendered = false, done = false, redo = false;
    char msg[600] = "";
    int e = E_OK;
    if (c->copy && ncand) {
        /* the fast path (invariant 2): COPY, binary when every value allows; upserts
         * straight into the table while their keys are new */
        size_t sent = 0;
        bool dups = true;
        bool stage = c->key.n > 0;
        bool direct = stage && st->same_types && st->bin_table && st->direct_wait == 0;
        if (st->direct_wait > 0) st->direct_wait--;
        bool binary = (direct ? st->bin_table : stage ? st->bin_stage : st->bin_table) &&
                      bin_rows(sink, batch, cand, ncand, stage && !direct, &sent, &dups);
        if (binary && direct && !dups) stage = false;
        else if (binary && direct) {   /* a key twice: through the staging table */
            rejects_cut(&st->rej, rej_mark);
            binary = bin_rows(sink, batch, cand, ncand, true, &sent, &dups);
        }
        if (!binary) {
            rejects_cut(&st->rej, rej_mark);
            render_rows(sink, batch, cand, ncand, &pl);
            rendered = true;
            text_rows(sink, &pl);
            sent = pl.nrows;
            dups = true;
        }
        for (int attempt = 0; e == E_OK && sent && !done; attempt++) {
            if (stage) e = stage_create(sink, msg, sizeof msg);
            if (e == E_OK) e = tx_begin(sink, batch, upto, msg, sizeof msg);
            if (e == E_OK) e = copy_run(sink, binary, stage, msg, sizeof msg);
            if (e == E_OK && stage) upsert_sql(sink, &st->sql, dups);
            if (e == E_OK)
                e = finish(sink, false, stage ? st->sql.data : NULL, binary && !stage, upto, msg, sizeof msg);
            if (e == E_OK) {
                done = true;
                if (c->key.n && !stage) st->direct_backoff = 0;
            } else if (e == E_UNIQUE) {
                /* a key already there: through the staging table, and so for the next
                 * 1, 2, 4 ... 64 batches before trying again */
                st->direct_backoff = st->direct_backoff ? st->direct_backoff * 2 : 1;
                if (st->direct_backoff > 64) st->direct_backoff = 64;
                st->direct_wait = st->direct_backoff;
                e = simple(st, "ROLLBACK", msg, sizeof msg);
                if (e == E_DATA) e = E_FATAL;
                msg[0] = 0;
                stage = true;
                rejects_cut(&st->rej, rej_mark);
                if (e == E_OK && !bin_rows(sink, batch, cand, ncand, true, &sent, &dups)) {
                    rejects_cut(&st->rej, rej_mark);   /* (not with the same types; as text then) */
                    render_rows(sink, batch, cand, ncand, &pl);
                    rendered = true;
                    text_rows(sink, &pl);
                    sent = pl.nrows;
                    binary = false;
                    dups = true;
                }
            } else if (e == E_CARD && !dups && attempt < 2) {
                /* equal keys whose bytes differ: again, with the last of each key */
                e = simple(st, "ROLLBACK", msg, sizeof msg);
                if (e == E_DATA) e = E_FATAL;
                dups = true;
                msg[0] = 0;
            }
        }
        if (e == E_CARD || e == E_UNIQUE) e = E_FATAL;
        if (e == E_DATA) {
            /* invariant 3: start over, statement by statement under savepoints */
            st->types_stale = true;   /* and read the column types again */
            e = simple(st, "ROLLBACK", msg, sizeof msg);
            if (e == E_DATA) e = E_FATAL;
            redo = true;
        }
    }
    if (e == E_OK && !done) {
        /* multi-row INSERTs (copy: false, the redo after a data error), or no rows */
        if (!rendered) {
            rejects_cut(&st->rej, rej_mark);
            render_rows(sink, batch, cand, ncand, &pl);
        }
        e = tx_begin(sink, batch, upto, msg, sizeof msg);
        for (size_t s = 0; s < pl.nseg && e == E_OK; s++) {
            size_t a = pl.seg[s], b = s + 1 < pl.nseg ? pl.seg[s + 1] : pl.nrows;
            if (redo) {
                e = write_bisect(sink, pl.rows + a, b - a, msg, sizeof msg);
                continue;
            }
            e = exec_rows(sink, pl.rows + a, b - a, msg, sizeof msg);
            if (e == E_DATA) {  /* the first data error: start over under savepoints */
                e = simple(st, "ROLLBACK", msg, sizeof msg);
                if (e == E_DATA) e = E_FATAL;
                if (e == E_OK) e = tx_begin(sink, batch, upto, msg, sizeof msg);
                redo = true;
                s = (size_t)-1;
            }
        }
        if (e == E_OK) e = finish(sink, false, NULL, false, upto, msg, sizeof msg);
        if (e > E_RETRY && e != E_STALE) e = E_FATAL;
    }
    free(pl.seg);
    free(pl.rows);
    free(cand);
    if (e == E_STALE) {   /* rolled back; st->held is what the database holds now */
        sl_sql_rejects_clear(&st->rej);
        st->recheck = false;
        return 1;
    }
    if (e != E_OK) {
        if (st->conn && PQstatus(st->conn) == CONNECTION_OK) PQclear(PQexec(st->conn, "ROLLBACK"));
        else disconnect(st);
        st->recheck = true;
        sl_sql_rejects_clear(&st->rej);
        if (st->cols.inferred) st->ready = false;
        st->types_stale = true;
        return sl_error_set(err, e == E_RETRY ? SL_RETRY : SL_FATAL, "postgres: %s", msg);
    }
    /* committed: only now report the rejected rows (invariant 3) */
    sl_sql_rejects_report(&st->rej, sink, batch);
    sl_sql_held_free(&st->held);   /* the batch is in: what was held before it is below it */
    st->recheck = false;
    return 0;
}

static int pg_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto, sl_error_t *err) {
    /* another writer's transactions may keep moving the offsets; a few times at most */
    for (int i = 0; i < 8; i++) {
        int rc = write_once(sink, batch, upto, err);
        if (rc != 1) return rc;
    }
    return sl_error_set(err, SL_RETRY, "postgres: the offsets of %s keep moving (another writer?)",
                        ((pg_state_t *)sink->state)->group);
}

static int pg_committed(sl_sink_t *sink, sl_offsets_t *out, sl_error_t *err) {
    pg_state_t *st = sink->state;
    if (st->have_opened) {   /* read by open() a moment ago; out takes them over */
        *out = st->opened;
        memset(&st->opened, 0, sizeof st->opened);
        st->have_opened = false;
        return 0;
    }
    int rc = do_connect(sink, err);
    if (rc) return rc;
    return read_offsets(st, out, err);
}

static void pg_close(sl_sink_t *sink) {
    pg_state_t *st = sink->state;
    if (!st) return;
    disconnect(st);
}

static void pg_free(sl_sink_t *sink) {
    pg_state_t *st = sink->state;
    if (!st) return;
    pg_close(sink);
    sl_sql_columns_free(&st->cols);
    free(st->group);
    free(st->qtable);
    free(st->qoffsets);
    sl_sql_held_free(&st->held);
    sl_sql_held_free(&st->opened);
    sl_buf_free(&st->vals);
    sl_buf_free(&st->sql);
    sl_buf_free(&st->copybuf);
    free(st->voff);
    free(st->khash);
    free(st->params);
    free(st->toid);
    free(st->soid);
    sl_buf_free(&st->keys);
    free(st->koff);
    free(st->slot);
    sl_sql_rejects_free(&st->rej);
    free(st);
    sink->state = NULL;
}

const sl_sink_plugin_t sl_sink_postgres = {
    .abi = SL_PLUGIN_ABI,
    .name = "postgres",
    .description = "Rows into a PostgreSQL table, created from `columns` or the first record, upserted by `key`; "
                   "offsets in the same transaction (exactly-once).",
    .config = pg_map,
    .config_size = sizeof(pg_conf_t),
    .transactional = true,
    .init = pg_init,
    .open = pg_open,
    .write = pg_write,
    .committed = pg_committed,
    .close = pg_close,
    .free = pg_free,
};
