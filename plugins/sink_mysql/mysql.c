/* mysql.c - sink `mysql`: rows into a MySQL/MariaDB table (libmariadb, InnoDB,
 * utf8mb4), created from `columns` or from the first record, upserted by `key` (INSERT
 * ... ON DUPLICATE KEY UPDATE) or appended, with the job's offsets stored in the same
 * transaction (table sluice_offsets, grp = "<job>:<table>"): each record lands exactly
 * once.
 *
 * Invariants:
 *  1. Values are always bound as parameters of prepared statements (mysql_stmt_*, sent
 *     as strings the server converts under STRICT_ALL_TABLES); identifiers are checked
 *     ([A-Za-z_][A-Za-z0-9_]*, <= 64 bytes) and back-quoted.
 *  2. Batching: multi-row INSERT ... VALUES (?,..),(?,..), at most `batch` rows and
 *     65535 placeholders per statement; the full-size statement stays prepared.
 *     (ON DUPLICATE KEY UPDATE applies repeated keys of one statement in order.)
 *  3. A row the server rejects for its data (out of range, NOT NULL, incorrect value,
 *     data too long, invalid JSON...) goes to the job's DLQ with the server's message;
 *     the rest of the batch lands.  A failed statement is redone under a SAVEPOINT,
 *     bisected down to the bad rows.  Rejections are reported only after COMMIT, so a
 *     retried batch never reports a row twice.
 *  4. Connection loss (client errors 2xxx, server shutdown, deadlock, lock wait
 *     timeout) is SL_RETRY: the runner retries the same batch with backoff and write()
 *     reconnects.  After any failed write the sink re-reads its stored offsets and
 *     skips what the database already holds (a COMMIT whose answer was lost).
 *  5. The session runs with time_zone '+00:00' and strict SQL mode; DDL (which commits
 *     implicitly in MySQL) runs before the batch's transaction, never inside it.
 *  6. A batch is never written whose fate in another transaction is unknown: a killed
 *     process's COMMIT may reach the server after the next process read committed()
 *     (issue 12: 100,233 rows for 100,000 ids).  So every batch's transaction starts
 *     with SELECT ... FOR UPDATE on the group's offsets rows: a locking read, which
 *     waits for any transaction holding them (or, for a new group, the gap where they
 *     go) and reads the newest committed values; when they change which records
 *     become rows, the transaction is rolled back and the rows chosen again.  Stored
 *     offsets never go back (GREATEST): a batch read from a stale committed() may end
 *     below them.  A peer stuck in its transaction: lock wait timeout, SL_RETRY.
 *  7. A declared column type means the same check as in the SQLite and PostgreSQL
 *     sinks (sl_sql_value_fit): a value that does not fit (2.5 or "x4" in a bigint,
 *     an int over 32 bits...) is a rejected row with its reason before the server sees
 *     it.
 *
 * Column types: text varchar(n) int bigint smallint double float real bool timestamp
 * timestamptz (DATETIME(3), UTC) json jsonb uuid decimal(p,s).  A text key column is
 * VARCHAR(255) (InnoDB cannot index TEXT whole).  Tables use utf8mb4_bin, so keys
 * compare exactly (case-sensitive).  Timestamps: a number is epoch ms, an ISO-8601
 * string (a zone, 'Z' or none = UTC) is the same instant as a UTC DATETIME(3). */
#include <mariadb/mysql.h>  /* Debian: /usr/include/mariadb */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/json.h"
#include "sluice/plugin.h"
#include "../../src/log.h"
#include "../../src/sql_common.h"

typedef struct my_conf {
    char *dsn;
    char *host, *user, *password, *database, *socket;
    int64_t port;
    char *table;
    sl_strlist_t key;
    const sl_cnode_t *columns;
    int64_t batch;
    int64_t connect_timeout_ms, io_timeout_ms;
} my_conf_t;

static const sl_config_map_t my_map[] = {
    {"dsn", SL_CFG_STR, NULL, 0, offsetof(my_conf_t, dsn), NULL,
     "mysql://user:password@host:port/database (default: $MYSQL_DSN); the keys below override its parts"},
    {"host", SL_CFG_STR, NULL, 0, offsetof(my_conf_t, host), NULL, "server host (default 127.0.0.1)"},
    {"port", SL_CFG_INT, NULL, 0, offsetof(my_conf_t, port), NULL, "server port (default 3306)"},
    {"user", SL_CFG_STR, NULL, 0, offsetof(my_conf_t, user), NULL, "user (default root)"},
    {"password", SL_CFG_STR, NULL, 0, offsetof(my_conf_t, password), NULL, "password"},
    {"database", SL_CFG_STR, NULL, 0, offsetof(my_conf_t, database), NULL,
     "the database (created if missing)"},
    {"socket", SL_CFG_STR, NULL, 0, offsetof(my_conf_t, socket), NULL, "a Unix socket instead of host:port"},
    {"table", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(my_conf_t, table), NULL, "the table"},
    {"key", SL_CFG_STRLIST, NULL, 0, offsetof(my_conf_t, key), NULL,
     "columns that identify a row (the PRIMARY KEY): upsert by them (none = append)"},
    {"columns", SL_CFG_NODE, NULL, 0, offsetof(my_conf_t, columns), NULL,
     "mapping of column: type (text varchar(n) int bigint smallint double float real bool timestamp timestamptz json jsonb uuid decimal(p,s)); default: inferred from the first record"},
    {"batch", SL_CFG_INT, "1000", 0, offsetof(my_conf_t, batch), NULL,
     "rows per INSERT statement (also bounded by 65535 placeholders)"},
    {"connect_timeout", SL_CFG_DURATION, "10s", 0, offsetof(my_conf_t, connect_timeout_ms), NULL,
     "give up a connection attempt after this long (then retried with backoff)"},
    {"io_timeout", SL_CFG_DURATION, "60s", 0, offsetof(my_conf_t, io_timeout_ms), NULL,
     "give up a read or write on the connection after this long"},
    SL_CONFIG_END};

typedef struct my_state {
    sl_sql_columns_t cols;
    char *group;
    /* connection parameters (heap) */
    char *host, *user, *password, *database, *socket;
    unsigned port;
    MYSQL *db;
    MYSQL_STMT *full;          /* the prepared statement of `per` rows */
    size_t full_rows;
    MYSQL_STMT *other;         /* the last statement of another size */
    size_t other_rows;
    bool ready;
    bool recheck;
    sl_offsets_t held;         /* what the database holds (after a failed write, or under the lock) */
    sl_offsets_t opened;       /* read by open(), handed out by the committed() after it */
    bool have_opened;
    sl_buf_t vals;
    size_t *voff, *vlen;       /* [row * ncols + k]; voff == SIZE_MAX: NULL */
    size_t vcap;
    MYSQL_BIND *binds;
    size_t binds_cap;
    sl_buf_t sql;
    sl_sql_rejects_t rej;
} my_state_t;

static const sl_sql_type_t types[] = {
    {"text", SL_SQL_TEXT, "TEXT"},          {"string", SL_SQL_TEXT, "TEXT"},
    {"int", SL_SQL_INT, "INT"},             {"integer", SL_SQL_INT, "INT"},
    {"bigint", SL_SQL_INT, "BIGINT"},       {"smallint", SL_SQL_INT, "SMALLINT"},
    {"double", SL_SQL_FLOAT, "DOUBLE"},     {"float", SL_SQL_FLOAT, "DOUBLE"},
    {"real", SL_SQL_FLOAT, "DOUBLE"},       {"bool", SL_SQL_BOOL, "BOOLEAN"},
    {"boolean", SL_SQL_BOOL, "BOOLEAN"},    {"timestamp", SL_SQL_TS, "DATETIME(3)"},
    {"timestamptz", SL_SQL_TS, "DATETIME(3)"}, {"json", SL_SQL_JSON, "JSON"},
    {"jsonb", SL_SQL_JSON, "JSON"},         {"uuid", SL_SQL_TEXT, "CHAR(36)"},
    {NULL, 0, NULL}};

/* "decimal(9,6)" / "numeric(12)" -> DECIMAL(p,s); "varchar(40)" -> VARCHAR(40). */
static int parse_sized(const char *s, char *decl, size_t cap) {
    int p = 0, sc = 0, used = 0;
    if (strncasecmp(s, "varchar", 7) == 0) {
        if (sscanf(s + 7, " ( %d ) %n", &p, &used) == 1 && s[7 + used] == 0 && p >= 1 && p <= 16383)
            return snprintf(decl, cap, "VARCHAR(%d)", p), SL_SQL_TEXT;
        return -1;
    }
    size_t n = strncasecmp(s, "decimal", 7) == 0 ? 7 : strncasecmp(s, "numeric", 7) == 0 ? 7 : 0;
    if (!n) return -1;
    s += n;
    if (!*s) return snprintf(decl, cap, "DECIMAL(10,0)"), SL_SQL_NUMERIC;
    if (sscanf(s, " ( %d , %d ) %n", &p, &sc, &used) == 2 && s[used] == 0 && p >= 1 && p <= 65 && sc >= 0 &&
        sc <= 30 && sc <= p)
        return snprintf(decl, cap, "DECIMAL(%d,%d)", p, sc), SL_SQL_NUMERIC;
    used = 0;
    if (sscanf(s, " ( %d ) %n", &p, &used) == 1 && s[used] == 0 && p >= 1 && p <= 65)
        return snprintf(decl, cap, "DECIMAL(%d,0)", p), SL_SQL_NUMERIC;
    return -1;
}

static const sl_sql_dialect_t dialect = {
    .types = types,
    .type_list = "text varchar(n) int bigint smallint double float real bool timestamp timestamptz "
                 "json jsonb uuid decimal(p,s)",
    .parse_type = parse_sized,
    .ident_max = 64,
    .infer_max = 64,
    .infer_nocase = true,  /* MySQL's column names are case-insensitive */
    .infer_decl = {[SL_SQL_TEXT] = "TEXT", [SL_SQL_INT] = "BIGINT", [SL_SQL_FLOAT] = "DOUBLE",
                   [SL_SQL_BOOL] = "BOOLEAN", [SL_SQL_JSON] = "JSON"},
    .key_decl = "VARCHAR(255)",  /* InnoDB indexes no whole TEXT/JSON */
};

/* Split mysql://user:password@host:port/database into the state (percent-decoded). */
static char *pct_dup(const char *s, size_t n) {
    char *o = malloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (s[i] == '%' && i + 2 < n + 1 && sscanf(s + i + 1, "%2x", &v) == 1) {
            o[j++] = (char)v;
            i += 2;
        } else o[j++] = s[i];
    }
    o[j] = 0;
    return o;
}

static bool parse_dsn(my_state_t *st, const char *dsn) {
    const char *p = dsn;
    if (strncmp(p, "mysql://", 8) == 0) p += 8;
    else if (strncmp(p, "mariadb://", 10) == 0) p += 10;
    else return false;
    const char *end = p + strcspn(p, "?#");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@') at = q;  /* the last '@': a password may hold one */
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            st->user = pct_dup(p, (size_t)(colon - p));
            st->password = pct_dup(colon + 1, (size_t)(at - colon - 1));
        } else st->user = pct_dup(p, (size_t)(at - p));
        p = at + 1;
    }
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *hend = slash ? slash : end;
    const char *colon = NULL;
    if (*p == '[') {  /* [::1]:3306 */
        const char *rb = memchr(p, ']', (size_t)(hend - p));
        if (!rb) return false;
        st->host = pct_dup(p + 1, (size_t)(rb - p - 1));
        if (rb + 1 < hend && rb[1] == ':') colon = rb + 1;
    } else {
        colon = memchr(p, ':', (size_t)(hend - p));
        size_t hl = (size_t)((colon ? colon : hend) - p);
        if (hl) st->host = pct_dup(p, hl);
    }
    if (colon) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e != hend || port < 1 || port > 65535) return false;
        st->port = (unsigned)port;
    }
    if (slash && slash + 1 < end) st->database = pct_dup(slash + 1, (size_t)(end - slash - 1));
    return true;
}

static void set_str(char **dst, const char *v) {
    if (!v) return;
    free(*dst);
    *dst = strdup(v);
}

static int my_init(sl_sink_t *sink, sl_init_ctx_t *ctx) {
    my_conf_t *c = sink->conf;
    my_state_t *st = calloc(1, sizeof *st);
    sink->state = st;
    int bad = 0;
    const char *dsn = c->dsn && *c->dsn ? c->dsn : getenv("MYSQL_DSN");
    if (dsn && *dsn && !parse_dsn(st, dsn)) {
        sl_sql_diag(ctx, sl_cnode_get(ctx->node, "dsn"), "%s",
                    "invalid dsn (expected mysql://user:password@host:port/database)");
        bad = -1;
    }
    set_str(&st->host, c->host);
    set_str(&st->user, c->user);
    set_str(&st->password, c->password);
    set_str(&st->database, c->database);
    set_str(&st->socket, c->socket);
    if (c->port) st->port = (unsigned)c->port;
    if (!st->host) st->host = strdup("127.0.0.1");
    if (!st->user) st->user = strdup("root");
    if (!st->port) st->port = 3306;
    if (c->port < 0 || c->port > 65535) {
        sl_sql_diag(ctx, sl_cnode_get(ctx->node, "port"), "invalid port");
        bad = -1;
    }
    if (st->database && !sl_sql_ident_ok(st->database, dialect.ident_max)) {
        sl_sql_diag(ctx, sl_cnode_get(ctx->node, c->database ? "database" : "dsn"),
                    "invalid database name '%s' (letters, digits, _)", st->database);
        bad = -1;
    }
    if (c->table && !sl_sql_ident_ok(c->table, dialect.ident_max)) {
        sl_sql_diag(ctx, sl_cnode_get(ctx->node, "table"), "invalid table name '%s' (letters, digits, _)",
                    c->table);
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

enum { E_OK, E_DATA, E_RETRY, E_FATAL };

static int classify_errno(unsigned no) {
    if (no == 0) return E_OK;
    if (no >= 2000 && no < 3000) return E_RETRY;  /* client: gone away, lost, cannot connect */
    switch (no) {
    case 1053: /* server shutdown in progress */
    case 1927: /* connection was killed */
    case 1205: /* lock wait timeout */
    case 1213: /* deadlock: the transaction was rolled back */
    case 1040: /* too many connections */
    case 1152: case 1153: case 1154: case 1155: case 1156: case 1157: case 1158: case 1159:
    case 1160: case 1161: /* network read/write errors */
    case 4031: /* disconnected by the server (idle) */
        return E_RETRY;
    case 1048: /* column cannot be null */
    case 1062: /* duplicate entry */
    case 1264: /* out of range */
    case 1265: /* data truncated */
    case 1292: /* incorrect datetime/truncated value */
    case 1300: /* invalid character string */
    case 1366: /* incorrect integer/string value */
    case 1367: /* illegal value */
    case 1406: /* data too long */
    case 1411: /* incorrect value for function */
    case 1416: /* cannot get geometry */
    case 1451: case 1452: /* foreign keys */
    case 1690: /* value out of range */
    case 3140: /* invalid JSON (MySQL) */
    case 3819: /* check constraint (MySQL) */
    case 4025: /* CONSTRAINT failed (MariaDB, e.g. JSON_VALID) */
    case 4078: /* illegal parameter data type */
    case 1918: /* encountered illegal value */
        return E_DATA;
    default: return E_FATAL;
    }
}

static void drop_stmts(my_state_t *st) {
    if (st->full) mysql_stmt_close(st->full);
    if (st->other) mysql_stmt_close(st->other);
    st->full = st->other = NULL;
    st->full_rows = st->other_rows = 0;
}

static void disconnect(my_state_t *st) {
    drop_stmts(st);
    if (st->db) mysql_close(st->db);
    st->db = NULL;
    st->ready = false;
}

/* Run a statement without parameters; returns E_*, message in msg. */
static int run(my_state_t *st, const char *sql, char *msg, size_t cap) {
    if (mysql_real_query(st->db, sql, (unsigned long)strlen(sql)) == 0) {
        MYSQL_RES *r = mysql_store_result(st->db);
        if (r) mysql_free_result(r);
        return E_OK;
    }
    unsigned no = mysql_errno(st->db);
    snprintf(msg, cap, "%s (error %u; in: %.200s)", mysql_error(st->db), no, sql);
    int e = classify_errno(no);
    if (e == E_RETRY) disconnect(st);
    return e;
}

static int fail(my_state_t *st, sl_error_t *err, int e, const char *msg) {
    (void)st;
    return sl_error_set(err, e == E_RETRY ? SL_RETRY : SL_FATAL, "mysql: %s", msg);
}

static int do_connect(sl_sink_t *sink, sl_error_t *err) {
    my_conf_t *c = sink->conf;
    my_state_t *st = sink->state;
    if (st->db) return 0;
    st->db = mysql_init(NULL);
    if (!st->db) return sl_error_set(err, SL_RETRY, "mysql: out of memory");
    unsigned ct = (unsigned)((c->connect_timeout_ms + 999) / 1000), io = (unsigned)((c->io_timeout_ms + 999) / 1000);
    mysql_options(st->db, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(st->db, MYSQL_OPT_READ_TIMEOUT, &io);
    mysql_options(st->db, MYSQL_OPT_WRITE_TIMEOUT, &io);
    mysql_options(st->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    my_bool no = 0;
    mysql_options(st->db, MYSQL_OPT_RECONNECT, &no);  /* a silent reconnect would lose the transaction */
    if (!mysql_real_connect(st->db, st->socket ? NULL : st->host, st->user, st->password, NULL,
                            st->socket ? 0 : st->port, st->socket, 0)) {
        char msg[400];
        snprintf(msg, sizeof msg, "cannot connect to %s:%u: %s", st->host, st->port, mysql_error(st->db));
        unsigned eno = mysql_errno(st->db);
        disconnect(st);
        st->recheck = true;
        /* access denied (1045) and unknown host are not going to heal by waiting... but a
         * server starting up answers like that too: keep retrying, the log says why */
        (void)eno;
        return sl_error_set(err, SL_RETRY, "mysql: %s", msg);
    }
    char msg[600];
    sl_buf_t sql = SL_BUF_INIT;
    int e = run(st,
                "SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
                "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', autocommit = 0",
                msg, sizeof msg);
    if (e == E_OK && st->database) {
        sl_buf_printf(&sql, "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4", st->database);
        e = run(st, sql.data, msg, sizeof msg);
        if (e == E_OK && mysql_select_db(st->db, st->database) != 0) {
            snprintf(msg, sizeof msg, "selecting database %s: %s", st->database, mysql_error(st->db));
            e = classify_errno(mysql_errno(st->db));
            if (e == E_OK || e == E_DATA) e = E_FATAL;
        }
    }
    if (e == E_OK)
        e = run(st,
                "CREATE TABLE IF NOT EXISTS sluice_offsets (grp VARCHAR(255) NOT NULL, topic VARCHAR(255) NOT NULL,"
                " part INT NOT NULL, next_offset BIGINT NOT NULL, PRIMARY KEY (grp, topic, part))"
                " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                msg, sizeof msg);
    if (e == E_OK) e = run(st, "COMMIT", msg, sizeof msg);
    sl_buf_free(&sql);
    if (e != E_OK) {
        if (e != E_RETRY) disconnect(st);
        st->recheck = true;
        return fail(st, err, e == E_DATA ? E_FATAL : e, msg);
    }
    return 0;
}

static int read_offsets(my_state_t *st, sl_offsets_t *out, bool lock, sl_error_t *err);

static int my_open(sl_sink_t *sink, sl_error_t *err) {
    my_conf_t *c = sink->conf;
    my_state_t *st = sink->state;
    free(st->group);
    st->group = sl_sql_offsets_group(sink->job, c->table);
    st->recheck = false;  /* the runner reads committed() right after open */
    int rc = do_connect(sink, err);
    if (rc) return rc;
    /* ... so read them here: the runner retries a failed open() with backoff, while a
     * failed committed() stops the job (a connection cut at that moment did) */
    sl_sql_held_free(&st->opened);
    rc = read_offsets(st, &st->opened, false, err);
    st->have_opened = rc == 0;
    return rc;
}

/* ---------------------------------------------------------------- the table */

static int prepare_table(sl_sink_t *sink, const sl_batch_t *batch, sl_error_t *err) {
    my_conf_t *c = sink->conf;
    my_state_t *st = sink->state;
    bool changed = !st->ready;
    if (sl_sql_columns_infer(&st->cols, batch, &c->key)) changed = true;
    if (!changed || st->cols.n == 0) return 0;
    drop_stmts(st);  /* their column lists change */
    sl_buf_t sql = SL_BUF_INIT;
    char msg[600];
    /* does the table exist, and has it a primary key? (the name is a checked identifier) */
    sl_buf_printf(&sql,
                  "SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND"
                  " TABLE_NAME = '%s'), (SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA ="
                  " DATABASE() AND TABLE_NAME = '%s' AND INDEX_NAME = 'PRIMARY')",
                  c->table, c->table);
    bool exists = false, has_pk = false;
    int e = E_OK;
    if (mysql_real_query(st->db, sql.data, (unsigned long)sql.len) == 0) {
        MYSQL_RES *r = mysql_store_result(st->db);
        MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
        if (row) {
            exists = row[0] && atoi(row[0]) > 0;
            has_pk = row[1] && atoi(row[1]) > 0;
        }
        if (r) mysql_free_result(r);
    } else {
        unsigned no = mysql_errno(st->db);
        snprintf(msg, sizeof msg, "checking table %s: %s (error %u)", c->table, mysql_error(st->db), no);
        e = classify_errno(no);
        if (e == E_RETRY) disconnect(st);
    }
    sl_buf_clear(&sql);
    if (e == E_OK && !exists) {
        sl_buf_printf(&sql, "CREATE TABLE IF NOT EXISTS `%s` (", c->table);
        for (size_t k = 0; k < st->cols.n; k++)
            sl_buf_printf(&sql, "%s`%s` %s", k ? ", " : "", st->cols.v[k].name, st->cols.v[k].decl);
        if (c->key.n) {
            sl_buf_puts(&sql, ", PRIMARY KEY (");
            for (size_t i = 0; i < c->key.n; i++) sl_buf_printf(&sql, "%s`%s`", i ? ", " : "", c->key.v[i]);
            sl_buf_puts(&sql, ")");
        }
        sl_buf_puts(&sql, ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
        e = run(st, sql.data, msg, sizeof msg);
    } else if (e == E_OK) {
        /* an existing table: add what is missing (and a unique index for the key when
         * it has no primary key) */
        sl_buf_printf(&sql, "ALTER TABLE `%s` ", c->table);
        for (size_t k = 0; k < st->cols.n; k++)
            sl_buf_printf(&sql, "%sADD COLUMN IF NOT EXISTS `%s` %s", k ? ", " : "", st->cols.v[k].name,
                          st->cols.v[k].decl);
        e = run(st, sql.data, msg, sizeof msg);
        if (e == E_OK && c->key.n && !has_pk) {
            sl_buf_clear(&sql);
            sl_buf_printf(&sql, "CREATE UNIQUE INDEX IF NOT EXISTS `sluice_key` ON `%s` (", c->table);
            for (size_t i = 0; i < c->key.n; i++) sl_buf_printf(&sql, "%s`%s`", i ? ", " : "", c->key.v[i]);
            sl_buf_puts(&sql, ")");
            e = run(st, sql.data, msg, sizeof msg);
        }
    }
    sl_buf_free(&sql);
    if (e != E_OK) return fail(st, err, e == E_DATA ? E_FATAL : e, msg);
    st->ready = true;
    return 0;
}

/* ---------------------------------------------------------------- values */

/* Render v for a column into b; false for NULL (nothing written). */
static bool render(sl_buf_t *b, int kind, sl_value_t v) {
    if (v.type == SL_T_NULL) return false;
    if (kind == SL_SQL_JSON) {
        sl_json_write(b, v);
        return true;
    }
    char tmp[96];
    switch (v.type) {
    case SL_T_BOOL:
        if (kind == SL_SQL_TEXT) sl_buf_puts(b, v.u.b ? "true" : "false");
        else sl_buf_puts(b, v.u.b ? "1" : "0");
        break;
    case SL_T_INT:
        if (kind == SL_SQL_TS) {
            sl_sql_datetime_ms(tmp, sizeof tmp, v.u.i);
            sl_buf_puts(b, tmp);
        } else if (kind == SL_SQL_BOOL) sl_buf_puts(b, v.u.i ? "1" : "0");
        else sl_buf_printf(b, "%lld", (long long)v.u.i);
        break;
    case SL_T_DOUBLE:
        if (kind == SL_SQL_TS) {
            sl_sql_datetime_ms(tmp, sizeof tmp, (int64_t)floor(v.u.d));
            sl_buf_puts(b, tmp);
        } else if (kind == SL_SQL_BOOL) sl_buf_puts(b, v.u.d != 0 ? "1" : "0");
        else if (kind == SL_SQL_INT && v.u.d == floor(v.u.d) && fabs(v.u.d) < 9.3e18)
            sl_buf_printf(b, "%.0f", v.u.d);
        else if (kind == SL_SQL_NUMERIC)
            sl_buf_printf(b, "%.15g", v.u.d);  /* 47.2451, not 47.245100000000001 */
        else if (kind == SL_SQL_TEXT || isnan(v.u.d) || isinf(v.u.d)) sl_json_write(b, v);
        else sl_buf_printf(b, "%.17g", v.u.d);
        break;
    case SL_T_STRING: sl_buf_append(b, v.u.s, v.len); break;
    default: sl_json_write(b, v); break;
    }
    return true;
}

/* ---------------------------------------------------------------- statements */

static MYSQL_STMT *stmt_for(sl_sink_t *sink, size_t n, size_t per, char *msg, size_t cap, int *e) {
    my_conf_t *c = sink->conf;
    my_state_t *st = sink->state;
    if (st->full && st->full_rows == n) return st->full;
    if (st->other && st->other_rows == n) return st->other;
    size_t nc = st->cols.n;
    sl_buf_t *sql = &st->sql;
    sl_buf_clear(sql);
    sl_buf_printf(sql, "INSERT INTO `%s` (", c->table);
    for (size_t k = 0; k < nc; k++) sl_buf_printf(sql, "%s`%s`", k ? ", " : "", st->cols.v[k].name);
    sl_buf_puts(sql, ") VALUES ");
    for (size_t r = 0; r < n; r++) {
        sl_buf_puts(sql, r ? ",(" : "(");
        for (size_t k = 0; k < nc; k++) sl_buf_puts(sql, k ? ",?" : "?");
        sl_buf_putc(sql, ')');
    }
    if (c->key.n) {
        size_t nset = 0;
        for (size_t k = 0; k < nc; k++) {
            if (sl_sql_is_key(&c->key, st->cols.v[k].name)) continue;
            sl_buf_printf(sql, "%s`%s` = VALUES(`%s`)", nset++ ? ", " : " ON DUPLICATE KEY UPDATE ",
                          st->cols.v[k].name, st->cols.v[k].name);
        }
        if (!nset)  /* only key columns: a repeat changes nothing */
            sl_buf_printf(sql, " ON DUPLICATE KEY UPDATE `%s` = `%s`", st->cols.v[0].name,
                          st->cols.v[0].name);
    }
    MYSQL_STMT *s = mysql_stmt_init(st->db);
    if (!s || mysql_stmt_prepare(s, sql->data, (unsigned long)sql->len) != 0) {
        unsigned no = s ? mysql_stmt_errno(s) : mysql_errno(st->db);
        snprintf(msg, cap, "preparing the insert: %s (error %u)", s ? mysql_stmt_error(s) : mysql_error(st->db), no);
        if (s) mysql_stmt_close(s);
        *e = classify_errno(no);
        if (*e == E_OK || *e == E_DATA) *e = E_FATAL;
        return NULL;
    }
    if (n == per) {
        if (st->full) mysql_stmt_close(st->full);
        st->full = s;
        st->full_rows = n;
    } else {
        if (st->other) mysql_stmt_close(st->other);
        st->other = s;
        st->other_rows = n;
    }
    return s;
}

static int exec_rows(sl_sink_t *sink, const size_t *rows, size_t n, size_t per, char *msg, size_t cap) {
    my_state_t *st = sink->state;
    int e = E_OK;
    MYSQL_STMT *s = stmt_for(sink, n, per, msg, cap, &e);
    if (!s) {
        if (e == E_RETRY) disconnect(st);
        return e;
    }
    size_t nc = st->cols.n, np = n * nc;
    if (np > st->binds_cap) {
        st->binds_cap = np;
        st->binds = sl_xrealloc(st->binds, np * sizeof *st->binds);
    }
    memset(st->binds, 0, np * sizeof *st->binds);
    for (size_t r = 0; r < n; r++)
        for (size_t k = 0; k < nc; k++) {
            MYSQL_BIND *b = &st->binds[r * nc + k];
            size_t at = rows[r] * nc + k;
            if (st->voff[at] == SIZE_MAX) {
                b->buffer_type = MYSQL_TYPE_NULL;
            } else {
                b->buffer_type = MYSQL_TYPE_STRING;
                b->buffer = st->vals.data + st->voff[at];
                b->buffer_length = (unsigned long)st->vlen[at];
                b->length_value = (unsigned long)st->vlen[at];
            }
        }
    if (mysql_stmt_bind_param(s, st->binds) == 0 && mysql_stmt_execute(s) == 0) return E_OK;
    unsigned no = mysql_stmt_errno(s);
    snprintf(msg, cap, "%s (error %u)", mysql_stmt_error(s), no);
    e = classify_errno(no);
    if (e == E_OK) e = E_FATAL;
    if (e == E_RETRY) disconnect(st);
    return e;
}

static int write_bisect(sl_sink_t *sink, const size_t *rows, size_t n, size_t per, char *msg, size_t cap) {
    my_state_t *st = sink->state;
    int e = run(st, "SAVEPOINT sl", msg, cap);
    if (e != E_OK) return e == E_DATA ? E_FATAL : e;
    e = exec_rows(sink, rows, n, per, msg, cap);
    if (e == E_OK) return run(st, "RELEASE SAVEPOINT sl", msg, cap);
    if (e != E_DATA) return e;
    char tmp[300];
    e = run(st, "ROLLBACK TO SAVEPOINT sl", tmp, sizeof tmp);
    if (e == E_OK) e = run(st, "RELEASE SAVEPOINT sl", tmp, sizeof tmp);
    if (e != E_OK) {
        snprintf(msg, cap, "%s", tmp);
        return e == E_DATA ? E_FATAL : e;
    }
    if (n == 1) {
        char why[700];
        snprintf(why, sizeof why, "mysql rejected the row: %s", msg);
        sl_sql_rejects_add(&st->rej, rows[0], why);
        return E_OK;
    }
    e = write_bisect(sink, rows, n / 2, per, msg, cap);
    if (e == E_OK) e = write_bisect(sink, rows + n / 2, n - n / 2, per, msg, cap);
    return e;
}

/* ---------------------------------------------------------------- offsets */

/* The offsets the database holds for the group.  lock: inside the batch's transaction,
 * a locking read (invariant 6) that waits for any other transaction holding these rows
 * (or the gap where they go) and reads the newest committed values; the transaction
 * stays open.  Without lock, the transaction the SELECT opened is ended. */
static int read_offsets(my_state_t *st, sl_offsets_t *out, bool lock, sl_error_t *err) {
    memset(out, 0, sizeof *out);
    const char *sql = lock ? "SELECT topic, part, next_offset FROM sluice_offsets WHERE grp = ? FOR UPDATE"
                           : "SELECT topic, part, next_offset FROM sluice_offsets WHERE grp = ?";
    MYSQL_STMT *s = mysql_stmt_init(st->db);
    MYSQL_BIND in[1], res[3];
    memset(in, 0, sizeof in);
    memset(res, 0, sizeof res);
    in[0].buffer_type = MYSQL_TYPE_STRING;
    in[0].buffer = st->group;
    in[0].buffer_length = (unsigned long)strlen(st->group);
    char topic[1024];
    unsigned long topic_len = 0;
    int part = 0;
    long long next = 0;
    res[0].buffer_type = MYSQL_TYPE_STRING;
    res[0].buffer = topic;
    res[0].buffer_length = sizeof topic - 1;
    res[0].length = &topic_len;
    res[1].buffer_type = MYSQL_TYPE_LONG;
    res[1].buffer = &part;
    res[2].buffer_type = MYSQL_TYPE_LONGLONG;
    res[2].buffer = &next;
    if (!s || mysql_stmt_prepare(s, sql, (unsigned long)strlen(sql)) || mysql_stmt_bind_param(s, in) ||
        mysql_stmt_execute(s) || mysql_stmt_bind_result(s, res) || mysql_stmt_store_result(s)) {
        unsigned no = s ? mysql_stmt_errno(s) : mysql_errno(st->db);
        int e = classify_errno(no);
        int code = sl_error_set(err, e == E_RETRY ? SL_RETRY : SL_FATAL, "mysql: reading offsets: %s (error %u)",
                                s ? mysql_stmt_error(s) : mysql_error(st->db), no);
        if (s) mysql_stmt_close(s);
        if (e == E_RETRY) disconnect(st);
        return code;
    }
    size_t cap = 0;
    while (mysql_stmt_fetch(s) == 0) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 8;
            out->v = sl_xrealloc(out->v, cap * sizeof *out->v);
        }
        topic[topic_len < sizeof topic ? topic_len : sizeof topic - 1] = 0;
        out->v[out->n].topic = strdup(topic);
        out->v[out->n].partition = part;
        out->v[out->n].offset = next;
        out->n++;
    }
    mysql_stmt_close(s);
    /* a plain SELECT opened a transaction (autocommit is off): end it */
    if (!lock) mysql_commit(st->db);
    return 0;
}

static int write_offsets(my_state_t *st, const sl_offsets_t *upto, char *msg, size_t cap) {
    if (!upto || !upto->n) return E_OK;
    sl_buf_t sql = SL_BUF_INIT;
    sl_buf_puts(&sql, "INSERT INTO sluice_offsets (grp, topic, part, next_offset) VALUES ");
    MYSQL_BIND *b = calloc(upto->n * 4, sizeof *b);
    int *parts = calloc(upto->n, sizeof *parts);
    long long *nexts = calloc(upto->n, sizeof *nexts);
    for (size_t i = 0; i < upto->n; i++) {
        sl_buf_puts(&sql, i ? ",(?,?,?,?)" : "(?,?,?,?)");
        parts[i] = upto->v[i].partition;
        nexts[i] = (long long)upto->v[i].offset;
        b[4 * i].buffer_type = MYSQL_TYPE_STRING;
        b[4 * i].buffer = st->group;
        b[4 * i].buffer_length = (unsigned long)strlen(st->group);
        b[4 * i + 1].buffer_type = MYSQL_TYPE_STRING;
        b[4 * i + 1].buffer = (char *)upto->v[i].topic;
        b[4 * i + 1].buffer_length = (unsigned long)strlen(upto->v[i].topic);
        b[4 * i + 2].buffer_type = MYSQL_TYPE_LONG;
        b[4 * i + 2].buffer = &parts[i];
        b[4 * i + 3].buffer_type = MYSQL_TYPE_LONGLONG;
        b[4 * i + 3].buffer = &nexts[i];
    }
    /* never back (invariant 6): a batch read from a stale committed() may end below
     * what another transaction stored meanwhile */
    sl_buf_puts(&sql, " ON DUPLICATE KEY UPDATE next_offset = GREATEST(next_offset, VALUES(next_offset))");
    MYSQL_STMT *s = mysql_stmt_init(st->db);
    int e = E_OK;
    if (!s || mysql_stmt_prepare(s, sql.data, (unsigned long)sql.len) || mysql_stmt_bind_param(s, b) ||
        mysql_stmt_execute(s)) {
        unsigned no = s ? mysql_stmt_errno(s) : mysql_errno(st->db);
        snprintf(msg, cap, "storing offsets: %s (error %u)", s ? mysql_stmt_error(s) : mysql_error(st->db), no);
        e = classify_errno(no);
        if (e != E_RETRY) e = E_FATAL;
    }
    if (s) mysql_stmt_close(s);
    if (e == E_RETRY) disconnect(st);
    free(b);
    free(parts);
    free(nexts);
    sl_buf_free(&sql);
    return e;
}

/* ---------------------------------------------------------------- write */

/* Does held cover another set of the batch's records than st->held did when the rows
 * were chosen? */
static bool held_moved(const my_state_t *st, const sl_offsets_t *held, const sl_batch_t *batch) {
    for (size_t i = 0; i < batch->n; i++)
        if (sl_sql_held_covers(held, &batch->recs[i]) != sl_sql_held_covers(&st->held, &batch->recs[i]))
            return true;
    return false;
}

/* One attempt at writing the batch: 0, SL_RETRY/SL_FATAL, or 1 when the locked offsets
 * changed which records become rows (rolled back; then again, with them). */
static int write_once(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto, sl_error_t *err) {
    my_conf_t *c = sink->conf;
    my_state_t *st = sink->state;
    sl_sql_rejects_clear(&st->rej);
    int rc = do_connect(sink, err);
    if (rc) return rc;
    if (st->recheck) {  /* invariant 4 */
        sl_offsets_t h;
        rc = read_offsets(st, &h, false, err);
        if (rc) {
            st->recheck = true;
            return rc;
        }
        sl_sql_held_set(&st->held, &h);
    }
    rc = prepare_table(sink, batch, err);
    if (rc) {
        st->recheck = true;
        return rc;
    }
    size_t nc = st->cols.n;
    size_t *rows = malloc((batch->n ? batch->n : 1) * sizeof *rows);
    size_t nrows = 0;
    if (batch->n * (nc ? nc : 1) > st->vcap) {
        st->vcap = batch->n * (nc ? nc : 1);
        st->voff = sl_xrealloc(st->voff, st->vcap * sizeof *st->voff);
        st->vlen = sl_xrealloc(st->vlen, st->vcap * sizeof *st->vlen);
    }
    sl_buf_clear(&st->vals);
    for (size_t i = 0; i < batch->n; i++) {
        const sl_record_t *rec = &batch->recs[i];
        if (!sl_sql_row_wanted(&st->held, &st->rej, rec, i, nc)) continue;
        /* invariant 7: a declared type means what it means in every SQL sink */
        size_t mark = st->vals.len;
        bool fits = true;
        for (size_t k = 0; k < nc && fits; k++) {
            const sl_sql_column_t *col = &st->cols.v[k];
            const sl_value_t *v = sl_value_get(&rec->value, col->field, strlen(col->field));
            sl_value_t as;
            char why[300];
            if (!sl_sql_value_fit(col, v ? *v : sl_null(), &as, why, sizeof why)) {
                char m[400];
                snprintf(m, sizeof m, "column '%s': %s", col->name, why);
                sl_sql_rejects_add(&st->rej, i, m);
                fits = false;
                break;
            }
            int64_t ms;
            if (col->kind == SL_SQL_TS && as.type == SL_T_STRING && sl_sql_parse_iso_ms(as.u.s, as.len, &ms))
                as = sl_int(ms);   /* MariaDB takes no zone: the instant as a UTC datetime */
            size_t at = st->vals.len;
            bool set = render(&st->vals, col->kind, as);
            st->voff[i * nc + k] = set ? at : SIZE_MAX;
            st->vlen[i * nc + k] = st->vals.len - at;
        }
        if (!fits) {
            st->vals.len = mark;
            continue;
        }
        rows[nrows++] = i;
    }
    size_t per = (size_t)c->batch;
    if (nc && per * nc > 65535) per = 65535 / nc;
    if (per < 1) per = 1;
    char msg[600] = "";
    int e = run(st, "START TRANSACTION", msg, sizeof msg);
    if (e == E_OK) {   /* invariant 6: lock the group's offsets, then skip what they hold */
        sl_offsets_t h;
        sl_error_t lerr = {0};
        rc = read_offsets(st, &h, true, &lerr);
        if (rc) {
            e = rc == SL_RETRY ? E_RETRY : E_FATAL;
            snprintf(msg, sizeof msg, "%s", lerr.msg + (strncmp(lerr.msg, "mysql: ", 7) ? 0 : 7));
        } else {
            bool moved = held_moved(st, &h, batch);
            sl_sql_held_set(&st->held, &h);
            if (moved) {
                sl_info("mysql: %s: another transaction of this group committed meanwhile"
                        " (a killed process's?): what it holds is skipped", st->group);
                if (st->db) mysql_rollback(st->db);
                free(rows);
                sl_sql_rejects_clear(&st->rej);
                st->recheck = false;
                return 1;
            }
        }
    }
    bool careful = false;
    for (size_t a = 0; a < nrows && e == E_OK; a += per) {
        size_t n = nrows - a < per ? nrows - a : per;
        e = careful ? write_bisect(sink, rows + a, n, per, msg, sizeof msg)
                    : exec_rows(sink, rows + a, n, per, msg, sizeof msg);
        if (e == E_DATA && !careful) {
            /* invariant 3: this statement was rolled back alone (InnoDB statement
             * atomicity); redo it and the rest under savepoints */
            careful = true;
            e = write_bisect(sink, rows + a, n, per, msg, sizeof msg);
        }
    }
    if (e == E_OK) e = write_offsets(st, upto, msg, sizeof msg);
    if (e == E_OK && mysql_commit(st->db) != 0) {
        unsigned no = mysql_errno(st->db);
        snprintf(msg, sizeof msg, "COMMIT: %s (error %u)", mysql_error(st->db), no);
        e = classify_errno(no);
        if (e == E_RETRY) disconnect(st);
        else e = E_FATAL;
    }
    free(rows);
    if (e != E_OK) {
        if (st->db) mysql_rollback(st->db);
        st->recheck = true;
        sl_sql_rejects_clear(&st->rej);
        if (st->cols.inferred) st->ready = false;
        return fail(st, err, e == E_DATA ? E_FATAL : e, msg);
    }
    sl_sql_rejects_report(&st->rej, sink, batch);
    sl_sql_held_free(&st->held);   /* the batch is in: what was held before it is below it */
    st->recheck = false;
    return 0;
}

static int my_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto, sl_error_t *err) {
    /* another writer's transactions may keep moving the offsets; a few times at most */
    for (int i = 0; i < 8; i++) {
        int rc = write_once(sink, batch, upto, err);
        if (rc != 1) return rc;
    }
    return sl_error_set(err, SL_RETRY, "mysql: the offsets of %s keep moving (another writer?)",
                        ((my_state_t *)sink->state)->group);
}

static int my_committed(sl_sink_t *sink, sl_offsets_t *out, sl_error_t *err) {
    my_state_t *st = sink->state;
    if (st->have_opened) {   /* read by open() a moment ago; out takes them over */
        *out = st->opened;
        memset(&st->opened, 0, sizeof st->opened);
        st->have_opened = false;
        return 0;
    }
    int rc = do_connect(sink, err);
    if (rc) return rc;
    return read_offsets(st, out, false, err);
}

static void my_close(sl_sink_t *sink) {
    my_state_t *st = sink->state;
    if (!st) return;
    disconnect(st);
}

static void my_free(sl_sink_t *sink) {
    my_state_t *st = sink->state;
    if (!st) return;
    my_close(sink);
    sl_sql_columns_free(&st->cols);
    free(st->group);
    free(st->host);
    free(st->user);
    free(st->password);
    free(st->database);
    free(st->socket);
    sl_sql_held_free(&st->held);
    sl_sql_held_free(&st->opened);
    sl_buf_free(&st->vals);
    sl_buf_free(&st->sql);
    free(st->voff);
    free(st->vlen);
    free(st->binds);
    sl_sql_rejects_free(&st->rej);
    free(st);
    sink->state = NULL;
}

const sl_sink_plugin_t sl_sink_mysql = {
    .abi = SL_PLUGIN_ABI,
    .name = "mysql",
    .description = "Rows into a MySQL/MariaDB table (InnoDB, utf8mb4), created from `columns` or the first record, "
                   "upserted by `key`; offsets in the same transaction (exactly-once).",
    .config = my_map,
    .config_size = sizeof(my_conf_t),
    .transactional = true,
    .init = my_init,
    .open = my_open,
    .write = my_write,
    .committed = my_committed,
    .close = my_close,
    .free = my_free,
};
