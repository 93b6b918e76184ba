/* sql_common.c - pieces the SQL sinks share (see sql_common.h): identifiers, the
 * column list from `columns:` or from the records, the one meaning of a declared
 * column type (sl_sql_value_fit: a check of outside input, fuzzed by
 * tests/fuzz/fuzz_sql_value.c), timestamps as text, offsets held by the database, and
 * rejected rows. */
#include "sql_common.h"

#include <math.h>
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

/* The range of an integer type by its name in `columns:` (NULL: inferred, 64 bits). */
static void int_range(sl_sql_column_t *col, const char *tname) {
    col->imin = INT64_MIN, col->imax = INT64_MAX, col->iname = "bigint";
    if (!tname) return;
    if (strcasecmp(tname, "smallint") == 0) col->imin = INT16_MIN, col->imax = INT16_MAX, col->iname = "smallint";
    else if (strcasecmp(tname, "int") == 0 || strcasecmp(tname, "integer") == 0)
        col->imin = INT32_MIN, col->imax = INT32_MAX, col->iname = "int";
}

static void add_col(sl_sql_columns_t *cols, const sl_strlist_t *key, const char *name, const char *field,
                    int kind, const char *decl, const char *tname) {
    const sl_sql_dialect_t *d = cols->dialect;
    cols->v = sl_xrealloc(cols->v, (cols->n + 1) * sizeof *cols->v);
    sl_sql_column_t *col = &cols->v[cols->n++];
    col->name = strdup(name);
    col->field = strdup(field);
    col->kind = kind;
    int_range(col, tname);
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
        add_col(cols, key, k->str, k->str, kind, decl, v->str);
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
            add_col(cols, key, name, field, kind, d->infer_decl[kind], NULL);
            changed = true;
        }
    }
    for (size_t i = 0; i < key->n; i++) {
        bool have = false;
        for (size_t k = 0; k < cols->n; k++) have |= strcmp(cols->v[k].name, key->v[i]) == 0;
        if (!have) {
            add_col(cols, key, key->v[i], key->v[i], SL_SQL_TEXT, d->infer_decl[SL_SQL_TEXT], NULL);
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

/* ASCII whitespace, as PostgreSQL's input functions skip it around a value */
static bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v'; }

/* s[0..n) without surrounding whitespace: sets *b, returns the length */
static size_t trim(const char *s, size_t n, const char **b) {
    while (n && is_space(*s)) s++, n--;
    while (n && is_space(s[n - 1])) n--;
    *b = s;
    return n;
}

/* [+-]digits, no overflow past int64: 1 ok, 0 not an integer, -1 out of range */
static int parse_int(const char *s, size_t n, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i == n) return 0;
    uint64_t m = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    bool over = false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned dg = (unsigned)(s[i] - '0');
        if (m > (lim - dg) / 10) over = true;
        else m = m * 10 + dg;
    }
    if (over) return -1;
    *out = neg ? (int64_t)(0 - m) : (int64_t)m;
    return 1;
}

/* a decimal number: [+-](digits[.digits]|.digits)[(e|E)[+-]digits] */
static bool is_decimal(const char *s, size_t n) {
    size_t i = 0, d = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, d++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, d++;
    }
    if (!d) return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t e = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, e++;
        if (!e) return false;
    }
    return i == n;
}

/* k digits at s[*i] */
static bool digits(const char *s, size_t n, size_t *i, size_t k) {
    for (size_t j = 0; j < k; j++, (*i)++)
        if (*i >= n || s[*i] < '0' || s[*i] > '9') return false;
    return true;
}

static bool want(const char *s, size_t n, size_t *i, char ch) {
    if (*i < n && s[*i] == ch) return ++*i, true;
    return false;
}

/* Days from 1970-01-01 to a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int num2(const char *s) { return (s[0] - '0') * 10 + s[1] - '0'; }

/* YYYY-MM-DD[(T| )HH:MM[:SS[.f+]]][Z|(+|-)HH[[:]MM]] with months, days, hours and
 * minutes in range; *ms (may be NULL) = the instant in epoch ms, a time without a
 * zone read as UTC */
bool sl_sql_parse_iso_ms(const char *s, size_t n, int64_t *ms) {
    size_t i = 0;
    if (!digits(s, n, &i, 4) || !want(s, n, &i, '-') || !digits(s, n, &i, 2) || !want(s, n, &i, '-') ||
        !digits(s, n, &i, 2))
        return false;
    int mon = num2(s + 5), day = num2(s + 8);
    if (mon < 1 || mon > 12 || day < 1 || day > 31) return false;
    int64_t year = num2(s) * 100 + num2(s + 2);
    int hh = 0, mi = 0, ss = 0, frac = 0, off = 0;
    if (i < n) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return false;
        i++;
        size_t h = i;
        if (!digits(s, n, &i, 2) || !want(s, n, &i, ':') || !digits(s, n, &i, 2)) return false;
        hh = num2(s + h);
        mi = num2(s + h + 3);
        if (hh > 23 || mi > 59) return false;
        if (want(s, n, &i, ':')) {
            if (!digits(s, n, &i, 2) || (ss = num2(s + i - 2)) > 60) return false;
            if (want(s, n, &i, '.')) {
                size_t f = i;
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                    if (i - f < 3) frac = frac * 10 + s[i] - '0';
                    i++;
                }
                if (i == f) return false;
                for (size_t k = i - f; k < 3; k++) frac *= 10;
            }
        }
        if (i < n) {
            if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
                i++;
            } else {
                if (s[i] != '+' && s[i] != '-') return false;
                int sign = s[i] == '-' ? -1 : 1;
                i++;
                size_t z = i;
                if (!digits(s, n, &i, 2)) return false;
                off = num2(s + z) * 60;
                if (i < n) {
                    want(s, n, &i, ':');
                    if (!digits(s, n, &i, 2) || i != n) return false;
                    off += num2(s + i - 2);
                }
                off *= sign;
            }
        }
    }
    if (ms)
        *ms = ((days_from_civil(year, mon, day) * 24 + hh) * 60 + mi - off) * 60000 + (int64_t)ss * 1000 + frac;
    return true;
}

static bool is_iso_time(const char *s, size_t n) { return sl_sql_parse_iso_ms(s, n, NULL); }

/* 0001-01-01 .. 9999-12-31 in epoch ms */
#define SQL_TS_MIN_MS (-62135596800000LL)
#define SQL_TS_MAX_MS 253402300799999LL

/* A short quoted excerpt of a string for messages: 'abc' or 'abcdef...' */
static void excerpt(char *out, size_t cap, const char *s, size_t n) {
    snprintf(out, cap, "'%.*s%s'", (int)(n > 40 ? 40 : n), s, n > 40 ? "..." : "");
}

bool sl_sql_value_fit(const sl_sql_column_t *col, sl_value_t v, sl_value_t *out, char *why, size_t cap) {
    *out = v;
    if (v.type == SL_T_NULL || col->kind == SL_SQL_JSON || col->kind == SL_SQL_TEXT) return true;
    const char *what = col->kind == SL_SQL_INT     ? col->iname
                       : col->kind == SL_SQL_FLOAT ? "float"
                       : col->kind == SL_SQL_NUMERIC ? "numeric"
                       : col->kind == SL_SQL_BOOL  ? "bool"
                                                   : "timestamp";
    char ex[64];
    if (v.type == SL_T_ARRAY || v.type == SL_T_OBJECT) {
        snprintf(why, cap, "an %s does not fit a %s column", v.type == SL_T_ARRAY ? "array" : "object", what);
        return false;
    }
    const char *s = NULL;
    size_t n = 0;
    if (v.type == SL_T_STRING) n = trim(v.u.s, v.len, &s);
    switch (col->kind) {
    case SL_SQL_INT: {
        int64_t i = 0;
        if (v.type == SL_T_BOOL) i = v.u.b;
        else if (v.type == SL_T_INT) i = v.u.i;
        else if (v.type == SL_T_DOUBLE) {
            double d = v.u.d;
            if (!isfinite(d) || d != floor(d)) {
                snprintf(why, cap, "%.17g is not an integer (%s)", d, what);
                return false;
            }
            if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
                snprintf(why, cap,
                         "%.17g is out of range for %s (a JSON integer of more than 19 digits is read as a float)",
                         d, what);
                return false;
            }
            i = (int64_t)d;
        } else {
            int r = parse_int(s, n, &i);
            excerpt(ex, sizeof ex, v.u.s, v.len);
            if (r == 0) {
                snprintf(why, cap, "%s is not an integer (%s)", ex, what);
                return false;
            }
            if (r < 0) {
                snprintf(why, cap, "%s is out of range for %s", ex, what);
                return false;
            }
        }
        if (i < col->imin || i > col->imax) {
            snprintf(why, cap, "%lld is out of range for %s", (long long)i, what);
            return false;
        }
        *out = sl_int(i);
        return true;
    }
    case SL_SQL_FLOAT:
    case SL_SQL_NUMERIC:
        if (v.type == SL_T_BOOL) *out = sl_int(v.u.b);
        if (v.type != SL_T_STRING) return true;
        if (!is_decimal(s, n)) {
            excerpt(ex, sizeof ex, v.u.s, v.len);
            snprintf(why, cap, "%s is not a number (%s)", ex, what);
            return false;
        }
        if (col->kind == SL_SQL_FLOAT) {
            char buf[512];
            if (n >= sizeof buf) {
                snprintf(why, cap, "a number of %zu characters does not fit float", n);
                return false;
            }
            memcpy(buf, s, n);
            buf[n] = 0;
            double d = strtod(buf, NULL);
            if (!isfinite(d)) {
                excerpt(ex, sizeof ex, v.u.s, v.len);
                snprintf(why, cap, "%s is out of range for float", ex);
                return false;
            }
            *out = sl_double(d);
        }
        return true;
    case SL_SQL_BOOL:
        if (v.type == SL_T_BOOL) return true;
        if (v.type == SL_T_INT) {
            *out = sl_bool(v.u.i != 0);
            return true;
        }
        if (v.type == SL_T_DOUBLE) {
            *out = sl_bool(v.u.d != 0);
            return true;
        }
        {
            static const char *const yes[] = {"true", "t", "yes", "y", "on", "1"};
            static const char *const no[] = {"false", "f", "no", "n", "off", "0"};
            for (size_t k = 0; k < 6; k++) {
                if (strlen(yes[k]) == n && strncasecmp(s, yes[k], n) == 0) return *out = sl_bool(true), true;
                if (strlen(no[k]) == n && strncasecmp(s, no[k], n) == 0) return *out = sl_bool(false), true;
            }
        }
        excerpt(ex, sizeof ex, v.u.s, v.len);
        snprintf(why, cap, "%s is not a bool (true/false, t/f, yes/no, on/off, 1/0)", ex);
        return false;
    default: /* SL_SQL_TS */
        if (v.type == SL_T_BOOL) {
            snprintf(why, cap, "a bool is not a timestamp");
            return false;
        }
        if (v.type == SL_T_STRING) {
            if (is_iso_time(s, n)) return true;
            excerpt(ex, sizeof ex, v.u.s, v.len);
            snprintf(why, cap, "%s is not a timestamp (epoch ms, or YYYY-MM-DD[THH:MM:SS[.fff]][Z|+HH:MM])", ex);
            return false;
        }
        {
            double ms = v.type == SL_T_INT ? (double)v.u.i : v.u.d;
            if (!(ms >= (double)SQL_TS_MIN_MS && ms < (double)SQL_TS_MAX_MS + 1)) {
                snprintf(why, cap, "%.17g ms is out of range for timestamp (years 1..9999)", ms);
                return false;
            }
            *out = sl_int(v.type == SL_T_INT ? v.u.i : (int64_t)floor(v.u.d));
        }
        return true;
    }
}

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
        r->v = sl_xrealloc(r->v, r->cap * sizeof *r->v);
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
