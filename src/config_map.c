/* config_map.c - scalar conversions (durations, sizes, booleans) and the declarative
 * config maps that parse, default, validate and document every plugin block. */
#include "sluice/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- scalar conversions ---- */

static bool cfg_mul_add(int64_t *acc, int64_t v, int64_t unit) {
    if (v > INT64_MAX / unit) return false;
    v *= unit;
    if (*acc > INT64_MAX - v) return false;
    *acc += v;
    return true;
}

/* Digits at *p into *v; false when there are none or they overflow. */
static bool cfg_digits(const char **p, int64_t *v) {
    const char *s = *p;
    int64_t n = 0;
    if (!isdigit((unsigned char)*s)) return false;
    for (; isdigit((unsigned char)*s); s++) {
        int d = *s - '0';
        if (n > (INT64_MAX - d) / 10) return false;
        n = n * 10 + d;
    }
    *p = s;
    *v = n;
    return true;
}

bool sl_parse_duration(const char *s, int64_t *ms) {
    if (!s || !*s) return false;
    const char *p = s;
    int64_t v, total = 0;
    if (!cfg_digits(&p, &v)) return false;
    if (*p == 0) {   /* a bare integer is seconds */
        if (!cfg_mul_add(&total, v, 1000)) return false;
        *ms = total;
        return true;
    }
    p = s;
    /* One or more <digits><unit>, in any order ("1h30m"). */
    while (*p) {
        if (!cfg_digits(&p, &v)) return false;
        int64_t unit;
        if (p[0] == 'm' && p[1] == 's') unit = 1, p += 2;
        else if (*p == 's') unit = 1000, p++;
        else if (*p == 'm') unit = 60 * 1000, p++;
        else if (*p == 'h') unit = 3600 * 1000, p++;
        else if (*p == 'd') unit = 86400 * 1000, p++;
        else return false;
        if (!cfg_mul_add(&total, v, unit)) return false;
    }
    *ms = total;
    return true;
}

bool sl_parse_size(const char *s, int64_t *bytes) {
    if (!s) return false;
    const char *p = s;
    int64_t v, total = 0, unit = 1;
    if (!cfg_digits(&p, &v)) return false;
    const char *q = p;   /* "16 MB", but not "16 " */
    while (*q == ' ') q++;
    if (*q) p = q;
    switch (tolower((unsigned char)*p)) {
    case 'k': unit = (int64_t)1 << 10; p++; break;
    case 'm': unit = (int64_t)1 << 20; p++; break;
    case 'g': unit = (int64_t)1 << 30; p++; break;
    case 't': unit = (int64_t)1 << 40; p++; break;
    default: break;
    }
    /* 1024 either way: "16MB" and "16MiB" both mean what people expect of a buffer. */
    if (unit > 1 && *p == 'i') p++;
    if (*p == 'B' || (unit > 1 && *p == 'b')) p++;
    if (*p) return false;
    if (!cfg_mul_add(&total, v, unit)) return false;
    *bytes = total;
    return true;
}

bool sl_parse_bool(const char *s, bool *out) {
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    if (!s) return false;
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = true; return true; }
        if (strcasecmp(s, no[i]) == 0) { *out = false; return true; }
    }
    return false;
}

#define CFG_MAX_WORD 256

static size_t cfg_levenshtein(const char *a, size_t la, const char *b, size_t lb) {
    size_t row[CFG_MAX_WORD + 1];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *sl_did_you_mean(const char *word, const char *const *candidates) {
    if (!word || !candidates) return NULL;
    size_t lw = strlen(word);
    if (lw > CFG_MAX_WORD) return NULL;
    size_t limit = lw / 3 > 2 ? lw / 3 : 2;
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (const char *const *c = candidates; *c; c++) {
        size_t lc = strlen(*c);
        if (lc > CFG_MAX_WORD) continue;
        size_t d = cfg_levenshtein(word, lw, *c, lc);
        if (d < best_d) {
            best_d = d;
            best = *c;
        }
    }
    return best_d <= limit ? best : NULL;
}

/* ---- config maps ---- */

static const char *cfg_type_name(sl_cfg_type_t type) {
    switch (type) {
    case SL_CFG_STR: return "string";
    case SL_CFG_INT: return "integer";
    case SL_CFG_DOUBLE: return "number";
    case SL_CFG_BOOL: return "boolean";
    case SL_CFG_DURATION: return "duration";
    case SL_CFG_SIZE: return "size";
    case SL_CFG_ENUM: return "enum";
    case SL_CFG_STRLIST: return "string list";
    case SL_CFG_NODE: return "any";
    case SL_CFG_EXPR: return "expression";
    }
    return "?";
}

/* "always|interval|off" -> "always, interval, off" (caller frees). */
static char *cfg_choices_list(const char *choices) {
    size_t n = strlen(choices ? choices : "");
    char *s = malloc(n * 2 + 1), *o = s;
    if (!s) abort();
    for (const char *p = choices ? choices : ""; *p; p++) {
        if (*p == '|') { *o++ = ','; *o++ = ' '; }
        else *o++ = *p;
    }
    *o = 0;
    return s;
}

/* Index of `s` among "a|b|c", or -1. */
static int cfg_choice_index(const char *choices, const char *s, size_t len) {
    int idx = 0;
    const char *p = choices ? choices : "";
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == len && memcmp(p, s, len) == 0) return idx;
        if (!bar) return -1;
        p = bar + 1;
        idx++;
    }
}

static void cfg_diag(sl_diags_t *diags, const sl_cnode_t *at, const char *fmt, const char *a,
                     const char *b, const char *c) {
    if (at && at->file && at->line > 0)
        sl_diags_add(diags, at->file, at->line, at->col, fmt, a, b, c);
    else
        sl_diags_add(diags, NULL, 0, 0, fmt, a, b, c);
}

static void cfg_shape(const sl_config_map_t *e, const sl_cnode_t *v, const char *what, sl_diags_t *diags) {
    const char *want;
    char *choices = NULL;
    char buf[512];
    switch (e->type) {
    case SL_CFG_STR: want = "a string"; break;
    case SL_CFG_INT: want = "an integer"; break;
    case SL_CFG_DOUBLE: want = "a number"; break;
    case SL_CFG_BOOL: want = "a boolean"; break;
    case SL_CFG_DURATION: want = "a duration"; break;
    case SL_CFG_SIZE: want = "a size"; break;
    case SL_CFG_ENUM:
        choices = cfg_choices_list(e->choices);
        snprintf(buf, sizeof buf, "one of %s", choices);
        want = buf;
        break;
    case SL_CFG_STRLIST: want = "a string or a list of strings"; break;
    case SL_CFG_EXPR: want = "an expression (a string)"; break;
    default: want = "a value"; break;
    }
    if (v->file && v->line > 0)
        sl_diags_add(diags, v->file, v->line, v->col, "'%s' of %s must be %s, got a %s", e->name, what, want,
                     sl_cnode_kind_name(v->kind));
    else
        sl_diags_add(diags, NULL, 0, 0, "'%s' of %s must be %s, got a %s", e->name, what, want,
                     sl_cnode_kind_name(v->kind));
    free(choices);
}

/* Store node `v` (a value from the block, or a default) into the field of `e`.
 * Returns false after adding a diagnostic. */
static bool cfg_store(const sl_config_map_t *e, const sl_cnode_t *v, void *out, const char *what,
                      sl_arena_t *arena, sl_diags_t *diags) {
    char *field = (char *)out + e->offset;
    if (e->type == SL_CFG_NODE) {
        *(const sl_cnode_t **)field = v;
        return true;
    }
    if (e->type == SL_CFG_STRLIST) {
        sl_strlist_t list = {NULL, 0};
        if (v->kind == SL_CNODE_SCALAR) {
            list.v = sl_arena_alloc(arena, sizeof *list.v);
            list.v[list.n++] = sl_arena_strndup(arena, v->str, v->len);
        } else if (v->kind == SL_CNODE_SEQ) {
            list.v = sl_arena_alloc(arena, (v->n ? v->n : 1) * sizeof *list.v);
            for (size_t i = 0; i < v->n; i++) {
                const sl_cnode_t *it = v->items[i];
                if (it->kind != SL_CNODE_SCALAR) {
                    char got[64];
                    snprintf(got, sizeof got, "a sequence holding a %s", sl_cnode_kind_name(it->kind));
                    cfg_diag(diags, it, "'%s' of %s must be a string or a list of strings, got %s", e->name,
                             what, got);
                    return false;
                }
                list.v[list.n++] = sl_arena_strndup(arena, it->str, it->len);
            }
        } else {
            cfg_shape(e, v, what, diags);
            return false;
        }
        *(sl_strlist_t *)field = list;
        return true;
    }
    if (v->kind != SL_CNODE_SCALAR) {
        cfg_shape(e, v, what, diags);
        return false;
    }
    const char *s = v->str;
    switch (e->type) {
    case SL_CFG_STR:
        *(char **)field = sl_arena_strndup(arena, v->str, v->len);
        return true;
    case SL_CFG_EXPR:
        *(const sl_cnode_t **)field = v;
        return true;
    case SL_CFG_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (!*s || isspace((unsigned char)*s) || *end || errno || strlen(s) != v->len) {
            cfg_diag(diags, v, "invalid integer '%.100s' for '%s'%s", s, e->name, "");
            return false;
        }
        *(int64_t *)field = x;
        return true;
    }
    case SL_CFG_DOUBLE: {
        char *end;
        errno = 0;
        double x = strtod(s, &end);
        if (!*s || isspace((unsigned char)*s) || *end || errno == ERANGE || !isfinite(x) ||
            strlen(s) != v->len) {
            cfg_diag(diags, v, "invalid number '%.100s' for '%s'%s", s, e->name, "");
            return false;
        }
        /* cppcheck-suppress invalidPointerCast ; field is the address of a double member (the map's offsetof) */
        *(double *)field = x;
        return true;
    }
    case SL_CFG_BOOL: {
        bool b;
        if (!sl_parse_bool(s, &b)) {
            cfg_diag(diags, v, "invalid boolean '%.100s' for '%s'%s", s, e->name, " (use true or false)");
            return false;
        }
        *(bool *)field = b;
        return true;
    }
    case SL_CFG_DURATION: {
        int64_t ms;
        if (strlen(s) != v->len || !sl_parse_duration(s, &ms)) {
            cfg_diag(diags, v, "invalid duration '%.100s' for '%s'%s", s, e->name,
                     " (use e.g. 250ms, 5s, 10m, 2h, 7d)");
            return false;
        }
        *(int64_t *)field = ms;
        return true;
    }
    case SL_CFG_SIZE: {
        int64_t n;
        if (strlen(s) != v->len || !sl_parse_size(s, &n)) {
            cfg_diag(diags, v, "invalid size '%.100s' for '%s'%s", s, e->name,
                     " (use e.g. 512, 4k, 64KiB, 16MB, 1GiB)");
            return false;
        }
        *(int64_t *)field = n;
        return true;
    }
    case SL_CFG_ENUM: {
        int idx = cfg_choice_index(e->choices, s, v->len);
        if (idx < 0) {
            char *choices = cfg_choices_list(e->choices);
            cfg_diag(diags, v, "'%s' must be one of %s%s", e->name, choices, "");
            free(choices);
            return false;
        }
        *(int *)field = idx;
        return true;
    }
    default:
        return true;
    }
}

/* Apply the default of `e`: scalar types read the string directly; the types that
 * keep nodes (or lists) parse it as YAML so "[a, b]" means a list. */
static bool cfg_default(const sl_config_map_t *e, void *out, const char *what, sl_arena_t *arena,
                        sl_diags_t *diags) {
    if (e->type == SL_CFG_NODE || e->type == SL_CFG_EXPR || e->type == SL_CFG_STRLIST) {
        sl_cnode_t *root = NULL;
        char name[160];
        snprintf(name, sizeof name, "default of '%.100s'", e->name);
        if (sl_cnode_parse(arena, name, e->def, strlen(e->def), diags, &root) != 0) return false;
        if (!root) {   /* empty default: an empty string */
            sl_cnode_parse(arena, name, "''", 2, diags, &root);
            if (!root) return false;
        }
        return cfg_store(e, root, out, what, arena, diags);
    }
    sl_cnode_t tmp = {0};
    tmp.kind = SL_CNODE_SCALAR;
    tmp.str = (char *)e->def;
    tmp.len = strlen(e->def);
    tmp.style = '\'';
    return cfg_store(e, &tmp, out, what, arena, diags);
}

int sl_config_apply(const sl_config_map_t *map, const sl_cnode_t *block, void *out,
                    const char *what, sl_arena_t *arena, sl_diags_t *diags) {
    size_t before = diags->n;
    if (!what) what = "block";
    const sl_cnode_t *blk = block;
    bool shape_ok = true;
    if (blk && blk->kind != SL_CNODE_MAP) {
        if (!sl_cnode_is_null(blk)) {
            char got[16];
            snprintf(got, sizeof got, "%s", sl_cnode_kind_name(blk->kind));
            cfg_diag(diags, blk, "%s must be a mapping, got a %s%s", what, got, "");
            shape_ok = false;
        }
        blk = NULL;
    }

    /* Unknown keys, with the nearest known one as a hint. */
    if (blk) {
        size_t n = 0;
        while (map[n].name) n++;
        const char **names = malloc((n + 1) * sizeof *names);
        if (!names) abort();
        for (size_t i = 0; i < n; i++) names[i] = map[i].name;
        names[n] = NULL;
        for (size_t i = 0; i < blk->n; i++) {
            const sl_cnode_t *k = blk->pairs[i].key;
            bool known = false;
            for (size_t j = 0; j < n && !known; j++) known = strlen(map[j].name) == k->len && strcmp(map[j].name, k->str) == 0;
            if (known) continue;
            const char *hint = sl_did_you_mean(k->str, names);
            if (hint) {
                char tail[300];
                snprintf(tail, sizeof tail, " (did you mean '%s'?)", hint);
                cfg_diag(diags, k, "unknown key '%.100s' in %s%s", k->str, what, tail);
            } else {
                cfg_diag(diags, k, "unknown key '%.100s' in %s%s", k->str, what, "");
            }
        }
        free(names);
    }

    for (const sl_config_map_t *e = map; e->name; e++) {
        const sl_cnode_t *v = blk ? sl_cnode_get(blk, e->name) : NULL;
        /* `key:` with nothing after it means "not given"; a NODE still sees it, so a
         * plugin can tell `stdout:` from no stdout at all. */
        if (v && sl_cnode_is_null(v) && e->type != SL_CFG_NODE) v = NULL;
        if (v) {
            cfg_store(e, v, out, what, arena, diags);
            continue;
        }
        if ((e->flags & SL_CFG_REQUIRED) && shape_ok) {
            const sl_cnode_t *at = block;
            if (at && at->file && at->line > 0)
                sl_diags_add(diags, at->file, at->line, at->col, "%s: missing required key '%s'", what, e->name);
            else
                sl_diags_add(diags, NULL, 0, 0, "%s: missing required key '%s'", what, e->name);
            continue;
        }
        if (e->def) cfg_default(e, out, what, arena, diags);
    }
    return (int)(diags->n - before);
}

/* Markdown cell text: a `|` would end the cell. */
static void cfg_md(FILE *out, const char *s) {
    for (; s && *s; s++) {
        if (*s == '|') fputs("\\|", out);
        else if (*s == '\n') fputc(' ', out);
        else fputc(*s, out);
    }
}

void sl_config_map_doc(const sl_config_map_t *map, FILE *out) {
    fputs("| key | type | default | required | description |\n", out);
    fputs("|---|---|---|---|---|\n", out);
    for (const sl_config_map_t *e = map; e->name; e++) {
        fputs("| `", out);
        cfg_md(out, e->name);
        fputs("` | ", out);
        if (e->type == SL_CFG_ENUM) {
            fputs("one of ", out);
            const char *p = e->choices ? e->choices : "";
            for (bool first = true;; first = false) {
                const char *bar = strchr(p, '|');
                size_t l = bar ? (size_t)(bar - p) : strlen(p);
                fprintf(out, "%s`%.*s`", first ? "" : ", ", (int)l, p);
                if (!bar) break;
                p = bar + 1;
            }
        } else {
            fputs(cfg_type_name(e->type), out);
        }
        fputs(" | ", out);
        if (e->def) {
            fputc('`', out);
            cfg_md(out, e->def);
            fputc('`', out);
        }
        fputs(" | ", out);
        fputs(e->flags & SL_CFG_REQUIRED ? "yes" : "no", out);
        fputs(" | ", out);
        cfg_md(out, e->desc);
        fputs(" |\n", out);
    }
}
