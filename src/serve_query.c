/* serve_query.c - the query API over the tables the pipeline's SQLite sinks write:
 * GET /api/tables and GET /api/tables/NAME?time=&from=&to=&order=&limit=&offset=&where=.
 *
 * Each request opens its database read-only (WAL lets it read while the sink writes;
 * opening costs ~100 us, less than a pool's bookkeeping at dashboard rates).  Only
 * tables named by a `sqlite` sink are reachable; identifiers are checked against the
 * table's real columns (pragma_table_info) and every value is bound (serve_parse.c),
 * so no request text ever becomes SQL.  SQLite's own messages go to the log, never to
 * the client.  Thread: a connection's. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "pipeline.h"
#include "serve_int.h"
#include "sluice/json.h"

#define QUERY_MAX_MS 10000   /* a query running longer is interrupted (500) */

typedef struct table_ref {
    const char *name, *path;
} table_ref_t;

/* The sqlite sinks' tables (first writer of a name wins). */
static size_t find_tables(const sl_pipeline_t *p, table_ref_t *out, size_t cap) {
    size_t n = 0;
    for (size_t j = 0; j < p->njobs; j++)
        for (size_t k = 0; k < p->jobs[j].nsinks; k++) {
            const sl_sink_t *s = &p->jobs[j].sinks[k];
            if (!s->plugin || strcmp(s->plugin->name, "sqlite") != 0 || !s->conf) continue;
            /* sq_conf_t of plugins/sink_sqlite starts with: char *path; char *table; */
            char *const *f = s->conf;
            if (!f[0] || !f[1]) continue;
            bool dup = false;
            for (size_t i = 0; i < n; i++)
                if (strcmp(out[i].name, f[1]) == 0) dup = true;
            if (dup || n == cap) continue;
            out[n].path = f[0];
            out[n].name = f[1];
            n++;
        }
    return n;
}

static int deadline_cb(void *arg) { return sl_mono_ms() > *(int64_t *)arg; }

/* NULL when the database does not exist yet (the sink has not opened it). */
static sqlite3 *open_ro(const char *path, int64_t *deadline) {
    if (access(path, R_OK) != 0) return NULL;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        sl_warn("serve: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 2000);
    *deadline = sl_mono_ms() + QUERY_MAX_MS;
    sqlite3_progress_handler(db, 10000, deadline_cb, deadline);
    return db;
}

static bool numeric_affinity(const char *type) {
    char up[64];
    size_t i = 0;
    for (; i < sizeof up - 1 && type[i]; i++) up[i] = (char)(type[i] >= 'a' && type[i] <= 'z' ? type[i] - 32 : type[i]);
    up[i] = 0;
    if (strstr(up, "INT")) return true;
    if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT")) return false;
    if (!*up || strstr(up, "BLOB")) return false;
    return true;  /* REAL, FLOA, DOUB, NUMERIC, anything else */
}

/* Columns of table (empty when it does not exist).  0, or -1 on an SQLite error. */
static int table_columns(sqlite3 *db, const char *table, sl_arena_t *arena, sl_qcol_t **cols, size_t *n) {
    *cols = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT name, type FROM pragma_table_info(?) ORDER BY cid", -1, &st, NULL) != SQLITE_OK) {
        sl_warn("serve: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    size_t cap = 16;
    sl_qcol_t *v = sl_arena_alloc(arena, cap * sizeof *v);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            sl_qcol_t *nv = sl_arena_alloc(arena, cap * 2 * sizeof *nv);
            memcpy(nv, v, cap * sizeof *v);
            v = nv;
            cap *= 2;
        }
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        v[*n].name = sl_arena_strndup(arena, name ? name : "", name ? strlen(name) : 0);
        v[*n].type = sl_arena_strndup(arena, type ? type : "", type ? strlen(type) : 0);
        v[*n].numeric = numeric_affinity(v[*n].type);
        (*n)++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        sl_warn("serve: reading the columns of %s: %s", table, sqlite3_errmsg(db));
        return -1;
    }
    *cols = v;
    return 0;
}

static void write_columns(sl_buf_t *b, const sl_qcol_t *cols, size_t n) {
    sl_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        sl_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        sl_json_write_string(b, cols[i].name, strlen(cols[i].name));
        sl_buf_puts(b, ",\"type\":");
        sl_json_write_string(b, cols[i].type, strlen(cols[i].type));
        sl_buf_putc(b, '}');
    }
    sl_buf_putc(b, ']');
}

static int64_t count_rows(sqlite3 *db, const char *table, const sl_qplan_t *plan, bool *ok);

int sl_serve_tables_list(const sl_pipeline_t *p, sl_buf_t *body) {
    table_ref_t refs[256];
    size_t n = find_tables(p, refs, 256);
    sl_arena_t arena;
    sl_arena_init(&arena, 4096);
    sl_buf_putc(body, '[');
    for (size_t i = 0; i < n; i++) {
        sl_qcol_t *cols = NULL;
        size_t ncols = 0;
        int64_t rows = 0, deadline;
        sqlite3 *db = open_ro(refs[i].path, &deadline);
        if (db && table_columns(db, refs[i].name, &arena, &cols, &ncols) == 0 && ncols) {
            bool ok;
            rows = count_rows(db, refs[i].name, NULL, &ok);
        }
        sqlite3_close(db);
        sl_buf_puts(body, i ? ",{\"name\":" : "{\"name\":");
        sl_json_write_string(body, refs[i].name, strlen(refs[i].name));
        sl_buf_puts(body, ",\"columns\":");
        write_columns(body, cols, ncols);
        sl_buf_printf(body, ",\"rows\":%lld}", (long long)rows);
    }
    sl_buf_putc(body, ']');
    sl_arena_free(&arena);
    return 200;
}

static void bind_all(sqlite3_stmt *st, const sl_qplan_t *plan) {
    for (size_t i = 0; i < plan->nbinds; i++) {
        const sl_qbind_t *b = &plan->binds[i];
        int at = (int)i + 1;
        if (b->kind == 1) sqlite3_bind_int64(st, at, b->i);
        else if (b->kind == 2) sqlite3_bind_double(st, at, b->d);
        else sqlite3_bind_text(st, at, b->s, -1, SQLITE_STATIC);
    }
}

static int64_t count_rows(sqlite3 *db, const char *table, const sl_qplan_t *plan, bool *ok) {
    sl_buf_t sql = SL_BUF_INIT;
    sl_buf_puts(&sql, "SELECT count(*) FROM ");
    sl_sql_ident(&sql, table);
    if (plan && plan->where.len) sl_buf_append(&sql, plan->where.data, plan->where.len);
    sqlite3_stmt *st = NULL;
    int64_t n = 0;
    *ok = false;
    if (sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) == SQLITE_OK) {
        if (plan) bind_all(st, plan);
        if (sqlite3_step(st) == SQLITE_ROW) {
            n = sqlite3_column_int64(st, 0);
            *ok = true;
        }
    }
    if (!*ok) sl_warn("serve: counting %s: %s", table, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sl_buf_free(&sql);
    return n;
}

int sl_serve_table_get(const sl_pipeline_t *p, const char *name, const sl_qarg_t *args, size_t nargs,
                       sl_arena_t *arena, sl_buf_t *body) {
    table_ref_t refs[256];
    size_t n = find_tables(p, refs, 256);
    const table_ref_t *ref = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(refs[i].name, name) == 0) ref = &refs[i];
    if (!ref) {
        char msg[200];
        snprintf(msg, sizeof msg, "no table '%.100s' (GET /api/tables lists them)", name);
        sl_serve_error_json(body, msg);
        return 404;
    }
    int64_t deadline;
    sqlite3 *db = open_ro(ref->path, &deadline);
    sl_qcol_t *cols = NULL;
    size_t ncols = 0;
    if (db && table_columns(db, ref->name, arena, &cols, &ncols) != 0) {
        sqlite3_close(db);
        sl_serve_error_json(body, "query failed");
        return 500;
    }
    /* checked even when the table does not exist yet: a bad request stays a 400 */
    sl_qplan_t plan;
    char why[256] = "";
    if (sl_qplan_build(cols, ncols, args, nargs, arena, &plan, why, sizeof why) != 0) {
        sl_qplan_free(&plan);
        sqlite3_close(db);
        sl_serve_error_json(body, why[0] ? why : "bad query");
        return 400;
    }
    if (!db || !ncols) {
        sl_qplan_free(&plan);
        sqlite3_close(db);
        sl_buf_puts(body, "{\"columns\":[],\"rows\":[],\"total\":0}");
        return 200;
    }
    bool ok;
    int64_t total = count_rows(db, ref->name, &plan, &ok);
    sl_buf_t sql = SL_BUF_INIT;
    sl_buf_puts(&sql, "SELECT ");
    for (size_t i = 0; i < ncols; i++) {
        if (i) sl_buf_putc(&sql, ',');
        sl_sql_ident(&sql, cols[i].name);
    }
    sl_buf_puts(&sql, " FROM ");
    sl_sql_ident(&sql, ref->name);
    if (plan.where.len) sl_buf_append(&sql, plan.where.data, plan.where.len);
    if (plan.order.len) sl_buf_append(&sql, plan.order.data, plan.order.len);
    sl_buf_puts(&sql, " LIMIT ? OFFSET ?");
    sqlite3_stmt *st = NULL;
    int status = 200;
    if (!ok || sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        if (ok) sl_warn("serve: query on %s: %s", ref->name, sqlite3_errmsg(db));
        status = 500;
    } else {
        bind_all(st, &plan);
        sqlite3_bind_int64(st, (int)plan.nbinds + 1, plan.limit);
        sqlite3_bind_int64(st, (int)plan.nbinds + 2, plan.offset);
        sl_buf_puts(body, "{\"columns\":");
        write_columns(body, cols, ncols);
        sl_buf_puts(body, ",\"rows\":[");
        int rc;
        size_t row = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            sl_buf_puts(body, row++ ? ",[" : "[");
            for (size_t i = 0; i < ncols; i++) {
                if (i) sl_buf_putc(body, ',');
                switch (sqlite3_column_type(st, (int)i)) {
                case SQLITE_INTEGER:
                    sl_buf_printf(body, "%lld", (long long)sqlite3_column_int64(st, (int)i));
                    break;
                case SQLITE_FLOAT:
                    sl_json_write(body, sl_double(sqlite3_column_double(st, (int)i)));
                    break;
                case SQLITE_TEXT:
                    sl_json_write_string(body, (const char *)sqlite3_column_text(st, (int)i),
                                         (size_t)sqlite3_column_bytes(st, (int)i));
                    break;
                default:
                    sl_buf_puts(body, "null");
                }
            }
            sl_buf_putc(body, ']');
        }
        if (rc != SQLITE_DONE) {
            sl_warn("serve: query on %s: %s", ref->name, sqlite3_errmsg(db));
            status = 500;
        } else {
            sl_buf_printf(body, "],\"total\":%lld}", (long long)total);
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    sl_buf_free(&sql);
    sl_qplan_free(&plan);
    if (status != 200) {
        sl_buf_clear(body);
        sl_serve_error_json(body, "query failed");
    }
    return status;
}
