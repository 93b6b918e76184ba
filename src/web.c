/* web.c - the embedded dashboard files (lookup in the generated table), the
 * `dashboard:` section as JSON for GET /api/dashboard, and its validation. */
#include "web.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "sluice/json.h"

/* ---------------------------------------------------------------- assets */

const sl_web_asset_t *sl_web_asset_find(const char *path) {
    if (!path) return NULL;
    for (const sl_web_asset_t *a = sl_web_assets; a->path; a++)
        if (strcmp(a->path, path) == 0) return a;
    return NULL;
}

/* ---------------------------------------------------------------- panel types */

/* Keys every panel may have. */
static const char *const common_keys[] = {"type",  "title",   "table",  "time", "topic", "limit",
                                          "where", "refresh", "height", "span", NULL};

typedef struct panel_type {
    const char *name;
    const char *const required[4]; /* besides `type`; NULL-terminated */
    const char *const extra[6];    /* allowed besides common_keys; NULL-terminated */
} panel_type_t;

static const panel_type_t panel_types[] = {
    {"map", {"table", "lat", "lon", NULL}, {"lat", "lon", "color", "label", "track", NULL}},
    {"line", {"table", "x", "y", NULL}, {"x", "y", "series", NULL}},
    {"bar", {"table", "x", "y", NULL}, {"x", "y", "agg", "color", NULL}},
    {"table", {"table", NULL}, {"order", "columns", NULL}},
    {"stat", {"table", NULL}, {"value", "agg", "unit", NULL}},
    {"timeline", {"table", "start", "end", NULL}, {"start", "end", "label", "color", NULL}},
};
#define NTYPES (sizeof panel_types / sizeof panel_types[0])

static const char *const type_names[] = {"map", "line", "bar", "table", "stat", "timeline", NULL};
static const char *const dash_keys[] = {"title", "refresh", "panels", NULL};
static const char *const aggs[] = {"count", "sum", "avg", "min", "max", "first", "last", NULL};

/* Panel keys written to JSON as numbers. */
static bool numeric_key(const char *k) {
    return strcmp(k, "limit") == 0 || strcmp(k, "height") == 0 || strcmp(k, "span") == 0;
}

static const panel_type_t *find_type(const char *name) {
    for (size_t i = 0; i < NTYPES; i++)
        if (strcmp(panel_types[i].name, name) == 0) return &panel_types[i];
    return NULL;
}

static bool in_list(const char *s, const char *const *list) {
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0) return true;
    return false;
}

/* ---------------------------------------------------------------- check */

static void diag_at(sl_diags_t *d, const sl_cnode_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void diag_at(sl_diags_t *d, const sl_cnode_t *n, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n)
        sl_diags_add(d, n->file, n->line, n->col, "%s", msg);
    else
        sl_diags_add(d, NULL, 0, 0, "%s", msg);
}

static bool scalar_nonempty(const sl_cnode_t *n) {
    return n && n->kind == SL_CNODE_SCALAR && n->len > 0 && !sl_cnode_is_null(n);
}

/* A positive integer no larger than max. */
static bool check_int(const sl_cnode_t *v, long long max) {
    if (v->kind != SL_CNODE_SCALAR || !v->len) return false;
    char *end;
    long long x = strtoll(v->str, &end, 10);
    return *end == 0 && x >= 1 && x <= max;
}

/* "col", "col asc" or "col desc". */
static bool check_order(const char *s) {
    const char *sp = strchr(s, ' ');
    if (sp == s || !*s) return false;
    if (!sp) return true;
    const char *dir = sp;
    while (*dir == ' ') dir++;
    return strcmp(dir, "asc") == 0 || strcmp(dir, "desc") == 0 || strcmp(dir, "ASC") == 0 ||
           strcmp(dir, "DESC") == 0;
}

static int check_panel(const sl_cnode_t *pn, size_t idx, sl_diags_t *d) {
    size_t before = d->n;
    char what[64];
    snprintf(what, sizeof what, "dashboard panel %zu", idx + 1);
    if (pn->kind != SL_CNODE_MAP) {
        diag_at(d, pn, "%s must be a mapping ({ type: ..., table: ... }), got a %s", what,
                sl_cnode_kind_name(pn->kind));
        return 1;
    }
    const sl_cnode_t *tn = sl_cnode_get(pn, "type");
    if (!scalar_nonempty(tn)) {
        diag_at(d, tn ? tn : pn, "%s needs a 'type' (one of map line bar table stat timeline)", what);
        return (int)(d->n - before);
    }
    const panel_type_t *pt = find_type(tn->str);
    if (!pt) {
        const char *near = sl_did_you_mean(tn->str, type_names);
        if (near)
            diag_at(d, tn, "unknown panel type '%s' (did you mean '%s'?)", tn->str, near);
        else
            diag_at(d, tn, "unknown panel type '%s' (one of map line bar table stat timeline)", tn->str);
        return (int)(d->n - before);
    }
    /* unknown keys, shapes */
    const char *known[32];
    size_t nk = 0;
    for (size_t i = 0; common_keys[i]; i++) known[nk++] = common_keys[i];
    for (size_t i = 0; pt->extra[i]; i++)
        if (!in_list(pt->extra[i], common_keys)) known[nk++] = pt->extra[i];
    known[nk] = NULL;
    for (size_t i = 0; i < pn->n; i++) {
        const sl_cnode_t *k = pn->pairs[i].key, *v = pn->pairs[i].val;
        if (!in_list(k->str, known)) {
            const char *near = sl_did_you_mean(k->str, known);
            if (near)
                diag_at(d, k, "unknown key '%s' in %s panel (did you mean '%s'?)", k->str, pt->name, near);
            else
                diag_at(d, k, "unknown key '%s' in %s panel", k->str, pt->name);
            continue;
        }
        if (strcmp(k->str, "columns") == 0) {
            bool ok = v->kind == SL_CNODE_SCALAR || v->kind == SL_CNODE_SEQ;
            for (size_t j = 0; ok && v->kind == SL_CNODE_SEQ && j < v->n; j++)
                ok = scalar_nonempty(v->items[j]);
            if (!ok) diag_at(d, v, "'columns' must be a list of column names");
            continue;
        }
        if (v->kind != SL_CNODE_SCALAR) {
            diag_at(d, v, "'%s' of a %s panel must be a scalar, got a %s", k->str, pt->name,
                    sl_cnode_kind_name(v->kind));
            continue;
        }
        if (sl_cnode_is_null(v)) continue;
        if ((strcmp(k->str, "limit") == 0 && !check_int(v, 100000)) ||
            (strcmp(k->str, "height") == 0 && !check_int(v, 4000)) ||
            (strcmp(k->str, "span") == 0 && !check_int(v, 2)))
            diag_at(d, v, "'%s' must be a whole number from 1 to %s, not '%s'", k->str,
                    strcmp(k->str, "limit") == 0    ? "100000"
                    : strcmp(k->str, "height") == 0 ? "4000"
                                                    : "2",
                    v->str);
        else if (strcmp(k->str, "refresh") == 0) {
            int64_t ms;
            if (!sl_parse_duration(v->str, &ms) || ms < 100)
                diag_at(d, v, "'refresh' must be a duration of at least 100ms (e.g. 5s), not '%s'", v->str);
        } else if (strcmp(k->str, "agg") == 0 && !in_list(v->str, aggs)) {
            const char *near = sl_did_you_mean(v->str, aggs);
            diag_at(d, v, "unknown agg '%s'%s%s%s (one of count sum avg min max first last)", v->str,
                    near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        } else if (strcmp(k->str, "order") == 0 && !check_order(v->str))
            diag_at(d, v, "'order' must be \"COLUMN\", \"COLUMN asc\" or \"COLUMN desc\", not '%s'", v->str);
        else if (strcmp(k->str, "track") == 0) {
            bool b;
            if (!sl_parse_bool(v->str, &b)) diag_at(d, v, "'track' must be true or false");
        }
    }
    /* required keys */
    const sl_cnode_t *title = sl_cnode_get(pn, "title");
    const char *tt = scalar_nonempty(title) ? title->str : NULL;
    for (size_t i = 0; pt->required[i]; i++) {
        const sl_cnode_t *v = sl_cnode_get(pn, pt->required[i]);
        if (!v && tt)
            diag_at(d, pn, "%s panel '%s' needs '%s'", pt->name, tt, pt->required[i]);
        else if (!v)
            diag_at(d, pn, "%s panel needs '%s'", pt->name, pt->required[i]);
        else if (v->kind == SL_CNODE_SCALAR && !scalar_nonempty(v))
            diag_at(d, v, "'%s' of a %s panel must not be empty", pt->required[i], pt->name);
    }
    return (int)(d->n - before);
}

int sl_dashboard_check(const sl_cnode_t *dash, sl_diags_t *d) {
    if (!dash || sl_cnode_is_null(dash)) return 0;
    size_t before = d->n;
    if (dash->kind != SL_CNODE_MAP) {
        diag_at(d, dash, "dashboard must be a mapping (title, panels), got a %s",
                sl_cnode_kind_name(dash->kind));
        return 1;
    }
    for (size_t i = 0; i < dash->n; i++) {
        const sl_cnode_t *k = dash->pairs[i].key, *v = dash->pairs[i].val;
        if (!in_list(k->str, dash_keys)) {
            const char *near = sl_did_you_mean(k->str, dash_keys);
            if (near)
                diag_at(d, k, "unknown key '%s' in dashboard (did you mean '%s'?)", k->str, near);
            else
                diag_at(d, k, "unknown key '%s' in dashboard (title, refresh, panels)", k->str);
        } else if (strcmp(k->str, "title") == 0 && v->kind != SL_CNODE_SCALAR) {
            diag_at(d, v, "dashboard title must be a scalar, got a %s", sl_cnode_kind_name(v->kind));
        } else if (strcmp(k->str, "refresh") == 0) {
            int64_t ms;
            if (v->kind != SL_CNODE_SCALAR || !sl_parse_duration(v->str, &ms) || ms < 100)
                diag_at(d, v, "dashboard refresh must be a duration of at least 100ms (e.g. 5s)");
        } else if (strcmp(k->str, "panels") == 0 && !sl_cnode_is_null(v)) {
            if (v->kind != SL_CNODE_SEQ) {
                diag_at(d, v, "dashboard panels must be a sequence, got a %s", sl_cnode_kind_name(v->kind));
                continue;
            }
            for (size_t j = 0; j < v->n; j++) check_panel(v->items[j], j, d);
        }
    }
    return (int)(d->n - before);
}

/* ---------------------------------------------------------------- JSON */

static void put_str(sl_buf_t *out, const char *s) {
    sl_json_write_string(out, s, strlen(s));
}

/* A scalar as a JSON number when it reads as one, else as a string. */
static void put_number_or_str(sl_buf_t *out, const sl_cnode_t *v) {
    char *end;
    long long x = strtoll(v->str, &end, 10);
    if (v->len && *end == 0)
        sl_buf_printf(out, "%lld", x);
    else
        sl_json_write_string(out, v->str, v->len);
}

/* Any node: scalars become strings (column names such as "1" or "true" stay names). */
static void put_node(sl_buf_t *out, const sl_cnode_t *n) {
    if (!n || (n->kind == SL_CNODE_SCALAR && sl_cnode_is_null(n) && n->style == 0)) {
        sl_buf_puts(out, "null");
    } else if (n->kind == SL_CNODE_SCALAR) {
        sl_json_write_string(out, n->str, n->len);
    } else if (n->kind == SL_CNODE_SEQ) {
        sl_buf_putc(out, '[');
        for (size_t i = 0; i < n->n; i++) {
            if (i) sl_buf_putc(out, ',');
            put_node(out, n->items[i]);
        }
        sl_buf_putc(out, ']');
    } else {
        sl_buf_putc(out, '{');
        for (size_t i = 0; i < n->n; i++) {
            if (i) sl_buf_putc(out, ',');
            sl_json_write_string(out, n->pairs[i].key->str, n->pairs[i].key->len);
            sl_buf_putc(out, ':');
            put_node(out, n->pairs[i].val);
        }
        sl_buf_putc(out, '}');
    }
}

static int64_t refresh_ms(const sl_cnode_t *n, int64_t def) {
    int64_t ms;
    if (n && n->kind == SL_CNODE_SCALAR && sl_parse_duration(n->str, &ms) && ms >= 100) return ms;
    return def;
}

static void put_panel(sl_buf_t *out, const sl_cnode_t *pn, size_t idx) {
    sl_buf_printf(out, "{\"id\":\"p%zu\"", idx);
    bool titled = false;
    for (size_t i = 0; i < pn->n; i++) {
        const sl_cnode_t *k = pn->pairs[i].key, *v = pn->pairs[i].val;
        if (strcmp(k->str, "id") == 0) continue;
        if (strcmp(k->str, "refresh") == 0) {
            sl_buf_printf(out, ",\"refresh_ms\":%lld", (long long)refresh_ms(v, 5000));
            continue;
        }
        sl_buf_putc(out, ',');
        sl_json_write_string(out, k->str, k->len);
        sl_buf_putc(out, ':');
        if (strcmp(k->str, "columns") == 0 && v->kind == SL_CNODE_SCALAR) {
            /* "a, b, c" -> ["a","b","c"] */
            sl_buf_putc(out, '[');
            const char *s = v->str;
            bool first = true;
            while (*s) {
                while (*s == ' ' || *s == ',') s++;
                const char *e = s;
                while (*e && *e != ',') e++;
                const char *t = e;
                while (t > s && t[-1] == ' ') t--;
                if (t > s) {
                    if (!first) sl_buf_putc(out, ',');
                    sl_json_write_string(out, s, (size_t)(t - s));
                    first = false;
                }
                s = e;
            }
            sl_buf_putc(out, ']');
        } else if (numeric_key(k->str) && v->kind == SL_CNODE_SCALAR) {
            put_number_or_str(out, v);
        } else {
            put_node(out, v);
        }
        if (strcmp(k->str, "title") == 0) titled = true;
    }
    if (!titled) {
        const sl_cnode_t *t = sl_cnode_get(pn, "table");
        sl_buf_puts(out, ",\"title\":");
        if (t && t->kind == SL_CNODE_SCALAR)
            sl_json_write_string(out, t->str, t->len);
        else
            sl_buf_printf(out, "\"Panel %zu\"", idx + 1);
    }
    sl_buf_putc(out, '}');
}

int sl_dashboard_json(const sl_pipeline_t *pipe, sl_buf_t *out) {
    const sl_cnode_t *dash = pipe ? pipe->dashboard : NULL;
    if (dash && dash->kind != SL_CNODE_MAP) dash = NULL;
    const sl_cnode_t *title = dash ? sl_cnode_get(dash, "title") : NULL;
    sl_buf_puts(out, "{\"title\":");
    if (title && title->kind == SL_CNODE_SCALAR && !sl_cnode_is_null(title))
        sl_json_write_string(out, title->str, title->len);
    else
        put_str(out, "sluice");
    sl_buf_printf(out, ",\"refresh_ms\":%lld,\"panels\":[",
                  (long long)refresh_ms(dash ? sl_cnode_get(dash, "refresh") : NULL, 5000));
    const sl_cnode_t *panels = dash ? sl_cnode_get(dash, "panels") : NULL;
    size_t np = 0;
    if (panels && panels->kind == SL_CNODE_SEQ)
        for (size_t i = 0; i < panels->n; i++) {
            if (panels->items[i]->kind != SL_CNODE_MAP) continue;
            if (np++) sl_buf_putc(out, ',');
            put_panel(out, panels->items[i], i);
        }
    sl_buf_puts(out, "]}");
    return 0;
}
