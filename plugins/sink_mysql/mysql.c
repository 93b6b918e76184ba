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
 *
 * Column types: text varchar(n) int bigint smallint double float real bool timestamp
 * timestamptz (DATETIME(3), UTC) json jsonb uuid decimal(p,s).  A text key column is
 * VARCHAR(255) (InnoDB cannot index TEXT whole).  Tables use utf8mb4_bin, so keys
 * compare exactly (case-sensitive).  Timestamps: a number is epoch ms, a string is
 * passed as written ("YYYY-MM-DD HH:MM:SS[.fff]"). */
#include <mariadb/mysql.h>  /* Debian: /usr/include/mariadb */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sluice/json.h"
#include "sluice/plugin.h"

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

enum { K_TEXT, K_INT, K_FLOAT, K_NUMERIC, K_BOOL, K_TS, K_JSON };

typedef struct column {
    char *name;
    char *field;
    int kind;
    char decl[48];
} column_t;

typedef struct reject {
    size_t row;
    char *msg;
} reject_t;

typedef struct held {
    char *topic;
    int part;
    int64_t next;
} held_t;

typedef struct my_state {
    column_t *cols;
    size_t ncols;
    bool inferred;
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
    held_t *held;
    size_t nheld;
    sl_buf_t vals;
    size_t *voff, *vlen;       /* [row * ncols + k]; voff == SIZE_MAX: NULL */
    size_t vcap;
    MYSQL_BIND *binds;
    size_t binds_cap;
    sl_buf_t sql;
    reject_t *rej;
    size_t nrej, rej_cap;
} my_state_t;

static const struct { const char *name; int kind; const char *decl; } types[] = {
    {"text", K_TEXT, "TEXT"},          {"string", K_TEXT, "TEXT"},
    {"int", K_INT, "INT"},             {"integer", K_INT, "INT"},
    {"bigint", K_INT, "BIGINT"},       {"smallint", K_INT, "SMALLINT"},
    {"double", K_FLOAT, "DOUBLE"},     {"float", K_FLOAT, "DOUBLE"},
    {"real", K_FLOAT, "DOUBLE"},       {"bool", K_BOOL, "BOOLEAN"},
    {"boolean", K_BOOL, "BOOLEAN"},    {"timestamp", K_TS, "DATETIME(3)"},
    {"timestamptz", K_TS, "DATETIME(3)"}, {"json", K_JSON, "JSON"},
    {"jsonb", K_JSON, "JSON"},         {"uuid", K_TEXT, "CHAR(36)"},
    {NULL, 0, NULL}};

static bool ident_ok(const char *s) {
    if (!s || !*s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return strlen(s) <= 64;
}

/* "decimal(9,6)" / "numeric(12)" -> DECIMAL(p,s); "varchar(40)" -> VARCHAR(40). */
static int parse_sized(const char *s, char *decl, size_t cap) {
    int p = 0, sc = 0, used = 0;
    if (strncasecmp(s, "varchar", 7) == 0) {
        if (sscanf(s + 7, " ( %d ) %n", &p, &used) == 1 && s[7 + used] == 0 && p >= 1 && p <= 16383)
            return snprintf(decl, cap, "VARCHAR(%d)", p), K_TEXT;
        return -1;
    }
    size_t n = strncasecmp(s, "decimal", 7) == 0 ? 7 : strncasecmp(s, "numeric", 7) == 0 ? 7 : 0;
    if (!n) return -1;
    s += n;
    if (!*s) return snprintf(decl, cap, "DECIMAL(10,0)"), K_NUMERIC;
    if (sscanf(s, " ( %d , %d ) %n", &p, &sc, &used) == 2 && s[used] == 0 && p >= 1 && p <= 65 && sc >= 0 &&
        sc <= 30 && sc <= p)
        return snprintf(decl, cap, "DECIMAL(%d,%d)", p, sc), K_NUMERIC;
    used = 0;
    if (sscanf(s, " ( %d ) %n", &p, &used) == 1 && s[used] == 0 && p >= 1 && p <= 65)
        return snprintf(decl, cap, "DECIMAL(%d,0)", p), K_NUMERIC;
    return -1;
}

static void diag(sl_init_ctx_t *ctx, const sl_cnode_t *n, const char *fmt, const char *a) {
    if (!n) n = ctx->node;
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a);
    sl_diags_add(ctx->diags, n->file, n->line, n->col, "%s: %s", ctx->what, msg);
}

static bool is_key(const my_conf_t *c, const char *col) {
    for (size_t q = 0; q < c->key.n; q++)
        if (strcmp(c->key.v[q], col) == 0) return true;
    return false;
}

static void add_col(my_state_t *st, const my_conf_t *c, const char *name, const char *field, int kind,
                    const char *decl) {
    st->cols = realloc(st->cols, (st->ncols + 1) * sizeof *st->cols);
    column_t *col = &st->cols[st->ncols++];
    col->name = strdup(name);
    col->field = strdup(field);
    col->kind = kind;
    /* InnoDB indexes no whole TEXT/JSON: a key column of text is a VARCHAR(255) */
    if (is_key(c, name) && (strcmp(decl, "TEXT") == 0 || strcmp(decl, "JSON") == 0)) decl = "VARCHAR(255)";
    snprintf(col->decl, sizeof col->decl, "%s", decl);
}

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
        diag(ctx, sl_cnode_get(ctx->node, "dsn"), "%s",
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
        diag(ctx, sl_cnode_get(ctx->node, "port"), "invalid port%s", "");
        bad = -1;
    }
    if (st->database && !ident_ok(st->database)) {
        diag(ctx, sl_cnode_get(ctx->node, c->database ? "database" : "dsn"),
             "invalid database name '%s' (letters, digits, _)", st->database);
        bad = -1;
    }
    if (c->table && !ident_ok(c->table)) {
        diag(ctx, sl_cnode_get(ctx->node, "table"), "invalid table name '%s' (letters, digits, _)", c->table);
        bad = -1;
    }
    if (c->batch < 1) {
        diag(ctx, sl_cnode_get(ctx->node, "batch"), "'batch' must be at least 1%s", "");
        bad = -1;
    }
    for (size_t i = 0; i < c->key.n; i++)
        if (!ident_ok(c->key.v[i])) {
            diag(ctx, sl_cnode_get(ctx->node, "key"), "invalid key column '%s'", c->key.v[i]);
            bad = -1;
        }
    if (c->columns) {
        if (c->columns->kind != SL_CNODE_MAP) {
            diag(ctx, c->columns, "'columns' must be a mapping of column: type%s", "");
            return -1;
        }
        for (size_t i = 0; i < c->columns->n; i++) {
            const sl_cnode_t *k = c->columns->pairs[i].key, *v = c->columns->pairs[i].val;
            if (!ident_ok(k->str)) {
                diag(ctx, k, "invalid column name '%s' (letters, digits, _)", k->str);
                bad = -1;
                continue;
            }
            int kind = -1;
            char decl[48] = "";
            if (v->kind == SL_CNODE_SCALAR) {
                for (size_t t = 0; types[t].name; t++)
                    if (strcasecmp(types[t].name, v->str) == 0) {
                        kind = types[t].kind;
                        snprintf(decl, sizeof decl, "%s", types[t].decl);
                    }
                if (kind < 0) kind = parse_sized(v->str, decl, sizeof decl);
            }
            if (kind < 0) {
                diag(ctx, v,
                     "unknown column type '%s' (text varchar(n) int bigint smallint double float real bool "
                     "timestamp timestamptz json jsonb uuid decimal(p,s))",
                     v->kind == SL_CNODE_SCALAR ? v->str : "?");
                bad = -1;
                continue;
            }
            add_col(st, c, k->str, k->str, kind, decl);
        }
        for (size_t i = 0; i < c->key.n; i++) {
            bool found = false;
            for (size_t k = 0; k < st->ncols; k++)
                if (strcmp(st->cols[k].name, c->key.v[i]) == 0) found = true;
            if (!found && ident_ok(c->key.v[i])) {
                diag(ctx, sl_cnode_get(ctx->node, "key"), "key column '%s' is not in 'columns'", c->key.v[i]);
                bad = -1;
            }
        }
    } else {
        st->inferred = true;
    }
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

static int my_open(sl_sink_t *sink, sl_error_t *err) {
    my_conf_t *c = sink->conf;
    my_state_t *st = sink->state;
    free(st->group);
    size_t gl = strlen(sink->job) + strlen(c->table) + 2;
    st->group = malloc(gl);
    snprintf(st->group, gl, "%s:%s", sink->job, c->table);
    st->recheck = false;
    return do_connect(sink, err);
}

/* ---------------------------------------------------------------- the table */

static int kind_of_value(sl_value_t v, const char **decl) {
    switch (v.type) {
    case SL_T_INT: *decl = "BIGINT"; return K_INT;
    case SL_T_DOUBLE: *decl = "DOUBLE"; return K_FLOAT;
    case SL_T_BOOL: *decl = "BOOLEAN"; return K_BOOL;
    case SL_T_ARRAY:
    case SL_T_OBJECT: *decl = "JSON"; return K_JSON;
    default: *decl = "TEXT"; return K_TEXT;
    }
}

static void sanitize(char *out, size_t cap, const char *in) {
    size_t j = 0;
    if (!((in[0] >= 'A' && in[0] <= 'Z') || (in[0] >= 'a' && in[0] <= 'z') || in[0] == '_')) out[j++] = '_';
    for (size_t i = 0; in[i] && j + 1 < cap && j < 64; i++) {
        char ch = in[i];
        out[j++] = ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) ? ch : '_';
    }
    out[j] = 0;
}

static int prepare_table(sl_sink_t *sink, const sl_batch_t *batch, sl_error_t *err) {
    my_conf_t *c = sink->conf;
    my_state_t *st = sink->state;
    bool changed = !st->ready;
    if (st->inferred) {
        for (size_t i = 0; i < batch->n; i++) {
            const sl_value_t *v = &batch->recs[i].value;
            if (v->type != SL_T_OBJECT) continue;
            for (size_t m = 0; m < v->len; m++) {
                const char *field = v->u.o[m].key;
                bool have = false;
                for (size_t k = 0; k < st->ncols && !have; k++) have = strcmp(st->cols[k].field, field) == 0;
                if (have) continue;
                char name[72];
                sanitize(name, sizeof name, field);
                for (size_t k = 0; k < st->ncols; k++)
                    if (strcasecmp(st->cols[k].name, name) == 0) { have = true; break; }
                if (have) continue;
                const char *decl;
                int kind = kind_of_value(v->u.o[m].val, &decl);
                add_col(st, c, name, field, kind, decl);
                changed = true;
            }
        }
        for (size_t i = 0; i < c->key.n; i++) {
            bool have = false;
            for (size_t k = 0; k < st->ncols; k++) have |= strcmp(st->cols[k].name, c->key.v[i]) == 0;
            if (!have) add_col(st, c, c->key.v[i], c->key.v[i], K_TEXT, "TEXT"), changed = true;
        }
    }
    if (!changed || st->ncols == 0) return 0;
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
        for (size_t k = 0; k < st->ncols; k++)
            sl_buf_printf(&sql, "%s`%s` %s", k ? ", " : "", st->cols[k].name, st->cols[k].decl);
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
        for (size_t k = 0; k < st->ncols; k++)
            sl_buf_printf(&sql, "%sADD COLUMN IF NOT EXISTS `%s` %s", k ? ", " : "", st->cols[k].name,
                          st->cols[k].decl);
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

static void dt_ms(char *out, size_t cap, int64_t ms) {
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* Render v for a column into b; false for NULL (nothing written). */
static bool render(sl_buf_t *b, int kind, sl_value_t v) {
    if (v.type == SL_T_NULL) return false;
    if (kind == K_JSON) {
        sl_json_write(b, v);
        return true;
    }
    char tmp[96];
    switch (v.type) {
    case SL_T_BOOL:
        if (kind == K_TEXT) sl_buf_puts(b, v.u.b ? "true" : "false");
        else sl_buf_puts(b, v.u.b ? "1" : "0");
        break;
    case SL_T_INT:
        if (kind == K_TS) {
            dt_ms(tmp, sizeof tmp, v.u.i);
            sl_buf_puts(b, tmp);
        } else if (kind == K_BOOL) sl_buf_puts(b, v.u.i ? "1" : "0");
        else sl_buf_printf(b, "%lld", (long long)v.u.i);
        break;
    case SL_T_DOUBLE:
        if (kind == K_TS) {
            dt_ms(tmp, sizeof tmp, (int64_t)floor(v.u.d));
            sl_buf_puts(b, tmp);
        } else if (kind == K_BOOL) sl_buf_puts(b, v.u.d != 0 ? "1" : "0");
        else if (kind == K_INT && v.u.d == floor(v.u.d) && fabs(v.u.d) < 9.3e18) sl_buf_printf(b, "%.0f", v.u.d);
        else if (kind == K_NUMERIC) sl_buf_printf(b, "%.15g", v.u.d);  /* 47.2451, not 47.245100000000001 */
        else if (kind == K_TEXT || isnan(v.u.d) || isinf(v.u.d)) sl_json_write(b, v);
        else sl_buf_printf(b, "%.17g", v.u.d);
        break;
    case SL_T_STRING: sl_buf_append(b, v.u.s, v.len); break;
    default: sl_json_write(b, v); break;
    }
    return true;
}

static void add_reject(my_state_t *st, size_t row, const char *msg) {
    if (st->nrej == st->rej_cap) {
        st->rej_cap = st->rej_cap ? st->rej_cap * 2 : 16;
        st->rej = realloc(st->rej, st->rej_cap * sizeof *st->rej);
    }
    st->rej[st->nrej].row = row;
    st->rej[st->nrej].msg = strdup(msg);
    st->nrej++;
}

static void clear_rejects(my_state_t *st) {
    for (size_t i = 0; i < st->nrej; i++) free(st->rej[i].msg);
    st->nrej = 0;
}

/* ---------------------------------------------------------------- statements */

static MYSQL_STMT *stmt_for(sl_sink_t *sink, size_t n, size_t per, char *msg, size_t cap, int *e) {
    my_conf_t *c = sink->conf;
    my_state_t *st = sink->state;
    if (st->full && st->full_rows == n) return st->full;
    if (st->other && st->other_rows == n) return st->other;
    size_t nc = st->ncols;
    sl_buf_t *sql = &st->sql;
    sl_buf_clear(sql);
    sl_buf_printf(sql, "INSERT INTO `%s` (", c->table);
    for (size_t k = 0; k < nc; k++) sl_buf_printf(sql, "%s`%s`", k ? ", " : "", st->cols[k].name);
    sl_buf_puts(sql, ") VALUES ");
    for (size_t r = 0; r < n; r++) {
        sl_buf_puts(sql, r ? ",(" : "(");
        for (size_t k = 0; k < nc; k++) sl_buf_puts(sql, k ? ",?" : "?");
        sl_buf_putc(sql, ')');
    }
    if (c->key.n) {
        size_t nset = 0;
        for (size_t k = 0; k < nc; k++) {
            if (is_key(c, st->cols[k].name)) continue;
            sl_buf_printf(sql, "%s`%s` = VALUES(`%s`)", nset++ ? ", " : " ON DUPLICATE KEY UPDATE ",
                          st->cols[k].name, st->cols[k].name);
        }
        if (!nset)  /* only key columns: a repeat changes nothing */
            sl_buf_printf(sql, " ON DUPLICATE KEY UPDATE `%s` = `%s`", st->cols[0].name, st->cols[0].name);
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
    size_t nc = st->ncols, np = n * nc;
    if (np > st->binds_cap) {
        st->binds_cap = np;
        st->binds = realloc(st->binds, np * sizeof *st->binds);
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
        add_reject(st, rows[0], why);
        return E_OK;
    }
    e = write_bisect(sink, rows, n / 2, per, msg, cap);
    if (e == E_OK) e = write_bisect(sink, rows + n / 2, n - n / 2, per, msg, cap);
    return e;
}

/* ---------------------------------------------------------------- offsets */

static void free_held(my_state_t *st) {
    for (size_t i = 0; i < st->nheld; i++) free(st->held[i].topic);
    free(st->held);
    st->held = NULL;
    st->nheld = 0;
}

static int read_offsets(my_state_t *st, sl_offsets_t *out, sl_error_t *err) {
    memset(out, 0, sizeof *out);
    const char *sql = "SELECT topic, part, next_offset FROM sluice_offsets WHERE grp = ?";
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
            out->v = realloc(out->v, cap * sizeof *out->v);
        }
        topic[topic_len < sizeof topic ? topic_len : sizeof topic - 1] = 0;
        out->v[out->n].topic = strdup(topic);
        out->v[out->n].partition = part;
        out->v[out->n].offset = next;
        out->n++;
    }
    mysql_stmt_close(s);
    /* a plain SELECT opened a transaction (autocommit is off): end it */
    mysql_commit(st->db);
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
    sl_buf_puts(&sql, " ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset)");
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

static int my_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto, sl_error_t *err) {
    my_conf_t *c = sink->conf;
    my_state_t *st = sink->state;
    clear_rejects(st);
    int rc = do_connect(sink, err);
    if (rc) return rc;
    if (st->recheck) {  /* invariant 4 */
        sl_offsets_t h;
        rc = read_offsets(st, &h, err);
        if (rc) {
            st->recheck = true;
            return rc;
        }
        free_held(st);
        st->held = calloc(h.n ? h.n : 1, sizeof *st->held);
        for (size_t i = 0; i < h.n; i++) {
            st->held[i].topic = (char *)h.v[i].topic;
            st->held[i].part = h.v[i].partition;
            st->held[i].next = h.v[i].offset;
        }
        st->nheld = h.n;
        free(h.v);
    }
    rc = prepare_table(sink, batch, err);
    if (rc) {
        st->recheck = true;
        return rc;
    }
    size_t nc = st->ncols;
    size_t *rows = malloc((batch->n ? batch->n : 1) * sizeof *rows);
    size_t nrows = 0;
    if (batch->n * (nc ? nc : 1) > st->vcap) {
        st->vcap = batch->n * (nc ? nc : 1);
        st->voff = realloc(st->voff, st->vcap * sizeof *st->voff);
        st->vlen = realloc(st->vlen, st->vcap * sizeof *st->vlen);
    }
    sl_buf_clear(&st->vals);
    for (size_t i = 0; i < batch->n; i++) {
        const sl_record_t *rec = &batch->recs[i];
        if (rec->value.type == SL_T_NULL) continue;
        bool held = false;
        for (size_t h = 0; h < st->nheld && !held; h++)
            held = st->held[h].part == rec->partition && rec->topic && strcmp(st->held[h].topic, rec->topic) == 0 &&
                   rec->offset >= 0 && rec->offset < st->held[h].next;
        if (held) continue;
        if (rec->value.type != SL_T_OBJECT) {
            char why[96];
            snprintf(why, sizeof why, "a row needs an object, got %s", sl_type_name((sl_type_t)rec->value.type));
            add_reject(st, i, why);
            continue;
        }
        if (!nc) {
            add_reject(st, i, "no columns to write");
            continue;
        }
        for (size_t k = 0; k < nc; k++) {
            const sl_value_t *v = sl_value_get(&rec->value, st->cols[k].field, strlen(st->cols[k].field));
            size_t at = st->vals.len;
            bool set = render(&st->vals, st->cols[k].kind, v ? *v : sl_null());
            st->voff[i * nc + k] = set ? at : SIZE_MAX;
            st->vlen[i * nc + k] = st->vals.len - at;
        }
        rows[nrows++] = i;
    }
    size_t per = (size_t)c->batch;
    if (nc && per * nc > 65535) per = 65535 / nc;
    if (per < 1) per = 1;
    char msg[600] = "";
    int e = run(st, "START TRANSACTION", msg, sizeof msg);
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
        clear_rejects(st);
        if (st->inferred) st->ready = false;
        return fail(st, err, e == E_DATA ? E_FATAL : e, msg);
    }
    for (size_t i = 0; i < st->nrej; i++) sl_sink_reject(sink, &batch->recs[st->rej[i].row], "%s", st->rej[i].msg);
    clear_rejects(st);
    if (st->recheck) {
        free_held(st);
        st->recheck = false;
    }
    return 0;
}

static int my_committed(sl_sink_t *sink, sl_offsets_t *out, sl_error_t *err) {
    my_state_t *st = sink->state;
    int rc = do_connect(sink, err);
    if (rc) return rc;
    return read_offsets(st, out, err);
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
    for (size_t k = 0; k < st->ncols; k++) {
        free(st->cols[k].name);
        free(st->cols[k].field);
    }
    free(st->cols);
    free(st->group);
    free(st->host);
    free(st->user);
    free(st->password);
    free(st->database);
    free(st->socket);
    free_held(st);
    sl_buf_free(&st->vals);
    sl_buf_free(&st->sql);
    free(st->voff);
    free(st->vlen);
    free(st->binds);
    clear_rejects(st);
    free(st->rej);
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
