/* sqlite.c - sink `sqlite`: rows into a SQLite table (WAL), created from `columns` or
 * from the first record, upserted by `key`, with the job's offsets stored in the same
 * transaction (table sluice_offsets): each record lands exactly once.
 *
 * Values are always bound as parameters; identifiers are checked ([A-Za-z_][A-Za-z0-9_]*)
 * and quoted.  Column types: text int bigint double float real bool timestamp json
 * (timestamp: epoch ms are stored as ISO-8601 text "2024-01-01T00:00:00.000Z").
 *
 * A declared type means what it means in the PostgreSQL and MariaDB sinks, not what
 * SQLite's type affinity would accept: every value passes sl_sql_value_fit() (int is
 * 32 bits, bigint 64; "x4", 2.5 or 1e20 in an integer column is a rejected row with its
 * reason, dead-lettered) and is stored as the checked value (an int as INTEGER, a
 * float as REAL, a bool as 1/0).
 *
 * Rejected rows are collected during the transaction and sent to the DLQ only after
 * COMMIT succeeded: a write that fails and is retried reports them once. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/fsutil.h"
#include "sluice/json.h"
#include "sluice/plugin.h"
#include "../../src/sql_common.h"

typedef struct sq_conf {
    char *path;
    char *table;
    sl_strlist_t key;
    const sl_cnode_t *columns;
    int synchronous;          /* normal|full|off */
    int64_t busy_timeout_ms;
} sq_conf_t;

static const sl_config_map_t sq_map[] = {
    {"path", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(sq_conf_t, path), NULL,
     "the database file (created if missing)"},
    {"table", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(sq_conf_t, table), NULL, "the table"},
    {"key", SL_CFG_STRLIST, NULL, 0, offsetof(sq_conf_t, key), NULL,
     "columns that identify a row: upsert by them (none = append)"},
    {"columns", SL_CFG_NODE, NULL, 0, offsetof(sq_conf_t, columns), NULL,
     "mapping of column: type (text int bigint double float real bool timestamp json), checked as in every SQL sink "
     "(a value that does not fit is a rejected row); default: inferred from the first record"},
    {"synchronous", SL_CFG_ENUM, "normal", 0, offsetof(sq_conf_t, synchronous), "normal|full|off",
     "SQLite's synchronous pragma (WAL + normal survives a process crash)"},
    {"busy_timeout", SL_CFG_DURATION, "5s", 0, offsetof(sq_conf_t, busy_timeout_ms), NULL,
     "wait this long for a lock held by a reader or another writer"},
    SL_CONFIG_END};

typedef struct sq_state {
    sl_sql_columns_t cols;
    char *group;     /* offsets key: job:table */
    sqlite3 *db;
    sqlite3_stmt *insert, *offsets;
    bool ready;      /* table checked/created */
    sl_sql_rejects_t rej;   /* rows rejected by this write, reported after COMMIT */
} sq_state_t;

static const sl_sql_type_t types[] = {
    {"text", SL_SQL_TEXT, "TEXT"},          {"string", SL_SQL_TEXT, "TEXT"},
    {"int", SL_SQL_INT, "INTEGER"},         {"integer", SL_SQL_INT, "INTEGER"},
    {"bigint", SL_SQL_INT, "INTEGER"},      {"double", SL_SQL_FLOAT, "REAL"},
    {"float", SL_SQL_FLOAT, "REAL"},        {"real", SL_SQL_FLOAT, "REAL"},
    {"bool", SL_SQL_BOOL, "INTEGER"},       {"boolean", SL_SQL_BOOL, "INTEGER"},
    {"timestamp", SL_SQL_TS, "TEXT"},       {"timestamptz", SL_SQL_TS, "TEXT"},
    {"json", SL_SQL_JSON, "TEXT"},          {"jsonb", SL_SQL_JSON, "TEXT"},
    {NULL, 0, NULL}};

static const sl_sql_dialect_t dialect = {
    .types = types,
    .type_list = "text int bigint double float real bool timestamp json",
    .ident_max = 128,
    .infer_max = 120,
    .infer_nocase = true,  /* SQLite's column names are case-insensitive */
    .infer_decl = {[SL_SQL_TEXT] = "TEXT", [SL_SQL_INT] = "INTEGER", [SL_SQL_FLOAT] = "REAL",
                   [SL_SQL_BOOL] = "INTEGER", [SL_SQL_TS] = "TEXT", [SL_SQL_JSON] = "TEXT"},
};

static int sq_init(sl_sink_t *sink, sl_init_ctx_t *ctx) {
    sq_conf_t *c = sink->conf;
    sq_state_t *st = calloc(1, sizeof *st);
    sink->state = st;
    int bad = 0;
    if (c->table && !sl_sql_ident_ok(c->table, dialect.ident_max)) {
        sl_sql_diag(ctx, sl_cnode_get(ctx->node, "table"), "invalid table name '%s' (letters, digits, _)",
                    c->table);
        bad = -1;
    }
    if (sl_sql_columns_parse(&st->cols, ctx, c->columns, &c->key, &dialect)) bad = -1;
    return bad;
}

static int sq_fail(sq_state_t *st, sl_error_t *err, int code, const char *what) {
    return sl_error_set(err, code, "%s: %s", what, st->db ? sqlite3_errmsg(st->db) : "no database");
}

static int exec_sql(sq_state_t *st, const char *sql, sl_error_t *err) {
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_IOERR) ? SL_RETRY : SL_FATAL;
        sl_error_set(err, code, "%s (in: %.200s)", msg ? msg : sqlite3_errstr(rc), sql);
        sqlite3_free(msg);
        return code;
    }
    return 0;
}

static int sq_open(sl_sink_t *sink, sl_error_t *err) {
    sq_conf_t *c = sink->conf;
    sq_state_t *st = sink->state;
    free(st->group);
    st->group = sl_sql_offsets_group(sink->job, c->table);
    sl_mkdir_parent(c->path);
    if (sqlite3_open_v2(c->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        int rc = sq_fail(st, err, SL_RETRY, c->path);
        sqlite3_close(st->db);
        st->db = NULL;
        return rc;
    }
    sqlite3_busy_timeout(st->db, (int)c->busy_timeout_ms);
    static const char *const sync[] = {"NORMAL", "FULL", "OFF"};
    char sql[256];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;", sync[c->synchronous]);
    int rc = exec_sql(st, sql, err);
    if (rc == 0)
        rc = exec_sql(st, "CREATE TABLE IF NOT EXISTS sluice_offsets (grp TEXT NOT NULL, topic TEXT NOT NULL,"
                          " part INTEGER NOT NULL, next_offset INTEGER NOT NULL, PRIMARY KEY (grp, topic, part))",
                      err);
    if (rc == 0 && sqlite3_prepare_v2(st->db,
                                      "INSERT INTO sluice_offsets (grp, topic, part, next_offset) VALUES (?,?,?,?) "
                                      "ON CONFLICT(grp, topic, part) DO UPDATE SET next_offset=excluded.next_offset",
                                      -1, &st->offsets, NULL) != SQLITE_OK)
        rc = sq_fail(st, err, SL_FATAL, "preparing the offsets statement");
    return rc;
}

static int table_columns(sq_state_t *st, const char *table, char ***names, size_t *n) {
    *names = NULL;
    *n = 0;
    char sql[300];
    snprintf(sql, sizeof sql, "PRAGMA table_info(\"%s\")", table);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return -1;
    while (sqlite3_step(s) == SQLITE_ROW) {
        *names = sl_xrealloc(*names, (*n + 1) * sizeof **names);
        (*names)[(*n)++] = strdup((const char *)sqlite3_column_text(s, 1));
    }
    sqlite3_finalize(s);
    return 0;
}

/* Make sure the table exists with every column (inferred mode: add new fields), and
 * (re)prepare the insert statement. */
static int prepare_table(sl_sink_t *sink, const sl_batch_t *batch, sl_error_t *err) {
    sq_conf_t *c = sink->conf;
    sq_state_t *st = sink->state;
    bool changed = !st->ready;
    if (sl_sql_columns_infer(&st->cols, batch, &c->key)) changed = true;
    if (!changed) return 0;
    if (st->cols.n == 0) return 0;
    sl_buf_t sql = SL_BUF_INIT;
    char **have = NULL;
    size_t nhave = 0;
    table_columns(st, c->table, &have, &nhave);
    int rc = 0;
    if (nhave == 0) {
        sl_buf_printf(&sql, "CREATE TABLE IF NOT EXISTS \"%s\" (", c->table);
        for (size_t k = 0; k < st->cols.n; k++)
            sl_buf_printf(&sql, "%s\"%s\" %s", k ? ", " : "", st->cols.v[k].name, st->cols.v[k].decl);
        if (c->key.n) {
            sl_buf_puts(&sql, ", PRIMARY KEY (");
            for (size_t i = 0; i < c->key.n; i++) sl_buf_printf(&sql, "%s\"%s\"", i ? ", " : "", c->key.v[i]);
            sl_buf_puts(&sql, ")");
        }
        sl_buf_puts(&sql, ")");
        rc = exec_sql(st, sql.data, err);
    } else {
        for (size_t k = 0; k < st->cols.n && rc == 0; k++) {
            bool found = false;
            for (size_t h = 0; h < nhave; h++) found |= strcasecmp(have[h], st->cols.v[k].name) == 0;
            if (found) continue;
            sl_buf_clear(&sql);
            sl_buf_printf(&sql, "ALTER TABLE \"%s\" ADD COLUMN \"%s\" %s", c->table, st->cols.v[k].name,
                          st->cols.v[k].decl);
            rc = exec_sql(st, sql.data, err);
        }
        if (rc == 0 && c->key.n) {
            sl_buf_clear(&sql);
            sl_buf_printf(&sql, "CREATE UNIQUE INDEX IF NOT EXISTS \"sluice_%s_key\" ON \"%s\" (", c->table, c->table);
            for (size_t i = 0; i < c->key.n; i++) sl_buf_printf(&sql, "%s\"%s\"", i ? ", " : "", c->key.v[i]);
            sl_buf_puts(&sql, ")");
            rc = exec_sql(st, sql.data, err);
        }
    }
    for (size_t h = 0; h < nhave; h++) free(have[h]);
    free(have);
    if (rc == 0) {
        sl_buf_clear(&sql);
        sl_buf_printf(&sql, "INSERT INTO \"%s\" (", c->table);
        for (size_t k = 0; k < st->cols.n; k++)
            sl_buf_printf(&sql, "%s\"%s\"", k ? ", " : "", st->cols.v[k].name);
        sl_buf_puts(&sql, ") VALUES (");
        for (size_t k = 0; k < st->cols.n; k++) sl_buf_puts(&sql, k ? ", ?" : "?");
        sl_buf_puts(&sql, ")");
        if (c->key.n) {
            sl_buf_puts(&sql, " ON CONFLICT (");
            for (size_t i = 0; i < c->key.n; i++) sl_buf_printf(&sql, "%s\"%s\"", i ? ", " : "", c->key.v[i]);
            sl_buf_puts(&sql, ") DO ");
            size_t nset = 0;
            for (size_t k = 0; k < st->cols.n; k++) {
                if (sl_sql_is_key(&c->key, st->cols.v[k].name)) continue;
                sl_buf_printf(&sql, "%s\"%s\" = excluded.\"%s\"", nset++ ? ", " : "UPDATE SET ",
                              st->cols.v[k].name, st->cols.v[k].name);
            }
            if (!nset) sl_buf_puts(&sql, "NOTHING");
        }
        sqlite3_finalize(st->insert);
        st->insert = NULL;
        if (sqlite3_prepare_v2(st->db, sql.data, -1, &st->insert, NULL) != SQLITE_OK)
            rc = sq_fail(st, err, SL_FATAL, "preparing the insert");
    }
    sl_buf_free(&sql);
    if (rc == 0) st->ready = true;
    return rc;
}

static void bind_value(sqlite3_stmt *s, int i, int type, sl_value_t v, sl_buf_t *tmp) {
    if (type == SL_SQL_TEXT && (v.type == SL_T_INT || v.type == SL_T_DOUBLE || v.type == SL_T_BOOL)) {
        /* as the other SQL sinks: the JSON text (SQLite's own would keep 15 digits, 1/0) */
        sl_buf_clear(tmp);
        sl_json_write(tmp, v);
        sqlite3_bind_text(s, i, tmp->data, (int)tmp->len, SQLITE_TRANSIENT);
        return;
    }
    switch (v.type) {
    case SL_T_NULL: sqlite3_bind_null(s, i); return;
    case SL_T_BOOL: sqlite3_bind_int(s, i, v.u.b); return;
    case SL_T_INT:
        if (type == SL_SQL_TS) {
            char iso[96];
            sl_sql_iso_ms(iso, sizeof iso, v.u.i);
            sqlite3_bind_text(s, i, iso, -1, SQLITE_TRANSIENT);
        } else if (type == SL_SQL_FLOAT) sqlite3_bind_double(s, i, (double)v.u.i);
        else sqlite3_bind_int64(s, i, v.u.i);
        return;
    case SL_T_DOUBLE:
        if (type == SL_SQL_TS) {
            char iso[96];
            sl_sql_iso_ms(iso, sizeof iso, (int64_t)v.u.d);
            sqlite3_bind_text(s, i, iso, -1, SQLITE_TRANSIENT);
        } else sqlite3_bind_double(s, i, v.u.d);
        return;
    case SL_T_STRING: sqlite3_bind_text(s, i, v.u.s, (int)v.len, SQLITE_STATIC); return;
    default:
        sl_buf_clear(tmp);
        sl_json_write(tmp, v);
        sqlite3_bind_text(s, i, tmp->data, (int)tmp->len, SQLITE_TRANSIENT);
        return;
    }
}

static int sq_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto, sl_error_t *err) {
    sq_state_t *st = sink->state;
    sl_sql_rejects_clear(&st->rej);
    int rc = exec_sql(st, "BEGIN IMMEDIATE", err);
    if (rc) return rc == SL_FATAL ? SL_RETRY : rc;
    rc = prepare_table(sink, batch, err);
    sl_buf_t tmp = SL_BUF_INIT;
    for (size_t i = 0; i < batch->n && rc == 0; i++) {
        const sl_record_t *rec = &batch->recs[i];
        static const sl_offsets_t held_none;   /* SQLite never holds part of a batch */
        if (!sl_sql_row_wanted(&held_none, &st->rej, rec, i, st->insert ? st->cols.n : 0)) continue;
        sqlite3_reset(st->insert);
        char why[300];
        bool fits = true;
        for (size_t k = 0; k < st->cols.n && fits; k++) {
            const sl_sql_column_t *col = &st->cols.v[k];
            const sl_value_t *v = sl_value_get(&rec->value, col->field, strlen(col->field));
            sl_value_t as;
            if (sl_sql_value_fit(col, v ? *v : sl_null(), &as, why, sizeof why))
                bind_value(st->insert, (int)k + 1, col->kind, as, &tmp);
            else {
                char m[400];
                snprintf(m, sizeof m, "column '%s': %s", col->name, why);
                sl_sql_rejects_add(&st->rej, i, m);
                fits = false;
            }
        }
        if (!fits) continue;
        int s = sqlite3_step(st->insert);
        if (s == SQLITE_DONE) continue;
        if (s == SQLITE_CONSTRAINT || s == SQLITE_MISMATCH || s == SQLITE_TOOBIG || s == SQLITE_RANGE) {
            char m[600];
            snprintf(m, sizeof m, "sqlite rejected the row: %s", sqlite3_errmsg(st->db));
            sl_sql_rejects_add(&st->rej, i, m);
        } else
            rc = sq_fail(st, err, SL_RETRY, "inserting a row");
    }
    sl_buf_free(&tmp);
    for (size_t i = 0; rc == 0 && upto && i < upto->n; i++) {
        sqlite3_reset(st->offsets);
        sqlite3_bind_text(st->offsets, 1, st->group, -1, SQLITE_STATIC);
        sqlite3_bind_text(st->offsets, 2, upto->v[i].topic, -1, SQLITE_STATIC);
        sqlite3_bind_int(st->offsets, 3, upto->v[i].partition);
        sqlite3_bind_int64(st->offsets, 4, upto->v[i].offset);
        if (sqlite3_step(st->offsets) != SQLITE_DONE) rc = sq_fail(st, err, SL_RETRY, "storing offsets");
    }
    if (st->insert) sqlite3_reset(st->insert);
    sqlite3_reset(st->offsets);
    if (rc == 0) rc = exec_sql(st, "COMMIT", err);
    if (rc != 0) {
        sl_error_t ignore;
        exec_sql(st, "ROLLBACK", &ignore);
        /* the table (declared or inferred) and added columns may have been created by
         * this transaction: after the rollback they are gone, so check them again */
        st->ready = false;
        if (rc == SL_FATAL && err->msg[0] && strstr(err->msg, "locked")) rc = SL_RETRY;
        sl_sql_rejects_clear(&st->rej);   /* the retry finds them again */
        return rc;
    }
    sl_sql_rejects_report(&st->rej, sink, batch);   /* committed: now they are final */
    return 0;
}

static int sq_committed(sl_sink_t *sink, sl_offsets_t *out, sl_error_t *err) {
    sq_state_t *st = sink->state;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT topic, part, next_offset FROM sluice_offsets WHERE grp = ?", -1, &s,
                           NULL) != SQLITE_OK)
        return sq_fail(st, err, SL_FATAL, "reading offsets");
    sqlite3_bind_text(s, 1, st->group, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 8;
            out->v = sl_xrealloc(out->v, cap * sizeof *out->v);
        }
        out->v[out->n].topic = strdup((const char *)sqlite3_column_text(s, 0));
        out->v[out->n].partition = sqlite3_column_int(s, 1);
        out->v[out->n].offset = sqlite3_column_int64(s, 2);
        out->n++;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {   /* e.g. busy past busy_timeout: never report "holds nothing" */
        for (size_t i = 0; i < out->n; i++) free((char *)out->v[i].topic);
        free(out->v);
        memset(out, 0, sizeof *out);
        return sq_fail(st, err, SL_RETRY, "reading offsets");
    }
    return 0;
}

static void sq_close(sl_sink_t *sink) {
    sq_state_t *st = sink->state;
    if (!st) return;
    sqlite3_finalize(st->insert);
    sqlite3_finalize(st->offsets);
    st->insert = st->offsets = NULL;
    sqlite3_close(st->db);
    st->db = NULL;
    st->ready = false;
}

static void sq_free(sl_sink_t *sink) {
    sq_state_t *st = sink->state;
    if (!st) return;
    sq_close(sink);
    sl_sql_columns_free(&st->cols);
    sl_sql_rejects_free(&st->rej);
    free(st->group);
    free(st);
    sink->state = NULL;
}

const sl_sink_plugin_t sl_sink_sqlite = {
    .abi = SL_PLUGIN_ABI,
    .name = "sqlite",
    .description = "Rows into a SQLite table (WAL), created from `columns` or the first record, upserted by `key`.",
    .config = sq_map,
    .config_size = sizeof(sq_conf_t),
    .transactional = true,
    .init = sq_init,
    .open = sq_open,
    .write = sq_write,
    .committed = sq_committed,
    .close = sq_close,
    .free = sq_free,
};
