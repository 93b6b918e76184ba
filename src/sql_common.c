/* sql_common.c - pieces the SQL sinks share (see sql_common.h): identifiers, the
 * column list from `columns:` or from the records, timestamps as text, offsets held by
 * the database, and rejected rows. */
#include "sql_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static bool is_alpha_(char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_'; }

static bool is_alnum_(char ch) { return is_alpha_(ch) || (ch >= '0' && ch <= '9'); }

bool sl_sql_ident_ok(const char *s, size_t max) {
    if (!s || !is_alpha_(*s)) return false;
    for (const char *p = s; *p; p++)
        if (!is_alnum_(*p)) return false;
    return strlen(s) <= max;
}

void sl_sql_diag(sl_init_ctx_t *ctx, const sl_cnode_t *n, const char *fmt, ...) {
    if (!n) n = ctx->node;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_diags_add(ctx->diags, n->file, n->line, n->col, "%s: %s", ctx->what, msg);
}

bool sl_sql_is_key(const sl_strlist_t *key, const char *col) {
    for (size_t q = 0; q < key->n; q++)
        if (strcmp(key->v[q], col) == 0) return true;
    return false;
}

/* ---------------------------------------------------------------- columns */

static void add_col(sl_sql_columns_t *cols, const sl_strlist_t *key, const char *name, const char *field,
                    int kind, const char *decl) {
    const sl_sql_dialect_t *d = cols->dialect;
    cols->v = realloc(cols->v, (cols->n + 1) * sizeof *cols->v);
    sl_sql_column_t *col = &cols->v[cols->n++];
    col->name = strdup(name);
    col->field = strdup(field);
    col->kind = kind;
    if (d->key_decl && sl_sql_is_key(key, name) && (strcmp(decl, "TEXT") == 0 || strcmp(decl, "JSON") == 0))
        decl = d->key_decl;
    snprintf(col->decl, sizeof col->decl, "%s", decl);
}

int sl_sql_columns_parse(sl_sql_columns_t *cols, sl_init_ctx_t *ctx, const sl_cnode_t *columns,
                         const sl_strlist_t *key, const sl_sql_dialect_t *d) {
    cols->dialect = d;
    int bad = 0;
    for (size_t i = 0; i < key->n; i++)
        if (!sl_sql_ident_ok(key->v[i], d->ident_max)) {
            sl_sql_diag(ctx, sl_cnode_get(ctx->node, "key"), "invalid key column '%s'", key->v[i]);
            bad = -1;
        }
    if (!columns) {
        cols->inferred = true;
        return bad;
    }
    if (columns->kind != SL_CNODE_MAP) {
        sl_sql_diag(ctx, columns, "'columns' must be a mapping of column: type");
        return -1;
    }
    for (size_t i = 0; i < columns->n; i++) {
        const sl_cnode_t *k = columns->pairs[i].key, *v = columns->pairs[i].val;
        if (!sl_sql_ident_ok(k->str, d->ident_max)) {
            sl_sql_diag(ctx, k, "invalid column name '%s' (letters, digits, _)", k->str);
            bad = -1;
            continue;
        }
        int kind = -1;
        char decl[48] = "";
        if (v->kind == SL_CNODE_SCALAR) {
            for (size_t t = 0; d->types[t].name; t++)
                if (strcasecmp(d->types[t].name, v->str) == 0) {
                    kind = d->types[t].kind;
                    snprintf(decl, sizeof decl, "%s", d->types[t].decl);
                }
            if (kind < 0 && d->parse_type) kind = d->parse_type(v->str, decl, sizeof decl);
        }
        if (kind < 0) {
            sl_sql_diag(ctx, v, "unknown column type '%s' (%s)", v->kind == SL_CNODE_SCALAR ? v->str : "?",
                        d->type_list);
            bad = -1;
            continue;
        }
        add_col(cols, key, k->str, k->str, kind, decl);
    }
    for (size_t i = 0; i < key->n; i++) {
        bool found = false;
        for (size_t k = 0; k < cols->n; k++)
            if (strcmp(cols->v[k].name, key->v[i]) == 0) found = true;
        if (!found && sl_sql_ident_ok(key->v[i], d->ident_max)) {
            sl_sql_diag(ctx, sl_cnode_get(ctx->node, "key"), "key column '%s' is not in 'columns'",
                        key->v[i]);
            bad = -1;
        }
    }
    return bad;
}

/* A field name as an identifier: other characters become '_', a leading digit gets a
 * '_' in front, at most max bytes. */
static void sanitize(char *out, size_t cap, size_t max, const char *in) {
    size_t j = 0;
    if (!is_alpha_(in[0])) out[j++] = '_';
    for (size_t i = 0; in[i] && j + 1 < cap && j < max; i++) out[j++] = is_alnum_(in[i]) ? in[i] : '_';
    out[j] = 0;
}

static int kind_of_value(sl_value_t v) {
    switch (v.type) {
    case SL_T_INT: return SL_SQL_INT;
    case SL_T_DOUBLE: return SL_SQL_FLOAT;
    case SL_T_BOOL: return SL_SQL_BOOL;
    case SL_T_ARRAY:
    case SL_T_OBJECT: return SL_SQL_JSON;
    default: return SL_SQL_TEXT;
    }
}

bool sl_sql_columns_infer(sl_sql_columns_t *cols, const sl_batch_t *batch, const sl_strlist_t *key) {
    if (!cols->inferred) return false;
    const sl_sql_dialect_t *d = cols->dialect;
    bool changed = false;
    for (size_t i = 0; i < batch->n; i++) {
        const sl_value_t *v = &batch->recs[i].value;
        if (v->type != SL_T_OBJECT) continue;
        for (size_t m = 0; m < v->len; m++) {
            const char *field = v->u.o[m].key;
            bool have = false;
            for (size_t k = 0; k < cols->n && !have; k++) have = strcmp(cols->v[k].field, field) == 0;
            if (have) continue;
            char name[256];
            sanitize(name, sizeof name, d->infer_max, field);
            for (size_t k = 0; k < cols->n && !have; k++) {
                const char *old = cols->v[k].name;
                have = (d->infer_nocase ? strcasecmp(old, name) : strcmp(old, name)) == 0;
            }
            if (have) continue;
            int kind = kind_of_value(v->u.o[m].val);
            add_col(cols, key, name, field, kind, d->infer_decl[kind]);
            changed = true;
        }
    }
    for (size_t i = 0; i < key->n; i++) {
        bool have = false;
        for (size_t k = 0; k < cols->n; k++) have |= strcmp(cols->v[k].name, key->v[i]) == 0;
        if (!have) {
            add_col(cols, key, key->v[i], key->v[i], SL_SQL_TEXT, d->infer_decl[SL_SQL_TEXT]);
            changed = true;
        }
    }
    return changed;
}

void sl_sql_columns_free(sl_sql_columns_t *cols) {
    for (size_t k = 0; k < cols->n; k++) {
        free(cols->v[k].name);
        free(cols->v[k].field);
    }
    free(cols->v);
    cols->v = NULL;
    cols->n = 0;
}

/* ---------------------------------------------------------------- values */

/* Floor division: -1 ms is 1969-12-31T23:59:59.999. */
static int utc_ms(struct tm *tm, int64_t ms) {
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    time_t t = (time_t)secs;
    gmtime_r(&t, tm);
    return (int)(ms - secs * 1000);
}

void sl_sql_iso_ms(char *out, size_t cap, int64_t ms) {
    struct tm tm;
    int frac = utc_ms(&tm, ms);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void sl_sql_datetime_ms(char *out, size_t cap, int64_t ms) {
    struct tm tm;
    int frac = utc_ms(&tm, ms);
    snprintf(out, cap, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* ---------------------------------------------------------------- offsets */

char *sl_sql_offsets_group(const char *job, const char *table) {
    size_t gl = strlen(job) + strlen(table) + 2;
    char *group = malloc(gl);
    snprintf(group, gl, "%s:%s", job, table);
    return group;
}

void sl_sql_held_free(sl_offsets_t *held) {
    for (size_t i = 0; i < held->n; i++) free((char *)held->v[i].topic);
    free(held->v);
    held->v = NULL;
    held->n = 0;
}

void sl_sql_held_set(sl_offsets_t *held, sl_offsets_t *from) {
    sl_sql_held_free(held);
    held->v = from->v;
    held->n = from->n;
    from->v = NULL;
    from->n = 0;
}

bool sl_sql_held_covers(const sl_offsets_t *held, const sl_record_t *rec) {
    for (size_t h = 0; h < held->n; h++)
        if (held->v[h].partition == rec->partition && rec->topic &&
            strcmp(held->v[h].topic, rec->topic) == 0 && rec->offset >= 0 && rec->offset < held->v[h].offset)
            return true;
    return false;
}

/* ---------------------------------------------------------------- rejected rows */

void sl_sql_rejects_add(sl_sql_rejects_t *r, size_t row, const char *msg) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n].row = row;
    r->v[r->n].msg = strdup(msg);
    r->n++;
}

void sl_sql_rejects_clear(sl_sql_rejects_t *r) {
    for (size_t i = 0; i < r->n; i++) free(r->v[i].msg);
    r->n = 0;
}

void sl_sql_rejects_report(sl_sql_rejects_t *r, sl_sink_t *sink, const sl_batch_t *batch) {
    for (size_t i = 0; i < r->n; i++) sl_sink_reject(sink, &batch->recs[r->v[i].row], "%s", r->v[i].msg);
    sl_sql_rejects_clear(r);
}

void sl_sql_rejects_free(sl_sql_rejects_t *r) {
    sl_sql_rejects_clear(r);
    free(r->v);
    r->v = NULL;
    r->cap = 0;
}

bool sl_sql_row_wanted(const sl_offsets_t *held, sl_sql_rejects_t *r, const sl_record_t *rec, size_t i,
                       size_t ncols) {
    if (rec->value.type == SL_T_NULL || sl_sql_held_covers(held, rec)) return false;
    if (rec->value.type != SL_T_OBJECT) {
        char why[96];
        snprintf(why, sizeof why, "a row needs an object, got %s", sl_type_name((sl_type_t)rec->value.type));
        sl_sql_rejects_add(r, i, why);
        return false;
    }
    if (!ncols) {
        sl_sql_rejects_add(r, i, "no columns to write");
        return false;
    }
    return true;
}
