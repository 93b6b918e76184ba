/* preset.c - expand `preset: NAME` sources from the YAML presets under presets/
 * (search path, params with defaults and checks, placeholder substitution, merging
 * the user's keys over the preset's). */
#include "preset.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/buf.h"
#include "sluice/error.h"

#define PRESET_MAX_DIRS 16

/* The search path (arena strings); returns the count. */
static size_t preset_dirs(sl_arena_t *arena, const char **dirs) {
    size_t n = 0;
    const char *env = getenv("SLUICE_PRESETS");
    if (env && *env) {
        const char *p = env;
        while (*p && n < PRESET_MAX_DIRS - 2) {
            size_t len = strcspn(p, ":");
            if (len) dirs[n++] = sl_arena_strndup(arena, p, len);
            p += len;
            if (*p == ':') p++;
        }
    }
    dirs[n++] = "./presets";
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            dirs[n++] = sl_arena_sprintf(arena, "%s/../presets", exe);
        }
    }
    return n;
}

static bool valid_name(const char *s) {
    if (!*s || strlen(s) > 100) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return false;
    return s[0] != '.';
}

const char *sl_preset_find(sl_arena_t *arena, const char *name) {
    if (!valid_name(name)) return NULL;
    const char *dirs[PRESET_MAX_DIRS];
    size_t n = preset_dirs(arena, dirs);
    for (size_t i = 0; i < n; i++) {
        char *path = sl_arena_sprintf(arena, "%s/%s.yaml", dirs[i], name);
        if (access(path, R_OK) == 0) return path;
    }
    return NULL;
}

/* Every preset name on the search path (arena, NULL-terminated). */
static const char **preset_names(sl_arena_t *arena) {
    const char *dirs[PRESET_MAX_DIRS];
    size_t nd = preset_dirs(arena, dirs), n = 0, cap = 64;
    const char **names = sl_arena_alloc(arena, (cap + 1) * sizeof *names);
    for (size_t i = 0; i < nd; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d) continue;
        struct dirent *de;
        while ((de = readdir(d)) && n < cap) {
            size_t len = strlen(de->d_name);
            if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0 || de->d_name[0] == '.') continue;
            char *nm = sl_arena_strndup(arena, de->d_name, len - 5);
            bool dup = false;
            for (size_t k = 0; k < n; k++)
                if (strcmp(names[k], nm) == 0) dup = true;
            if (!dup) names[n++] = nm;
        }
        closedir(d);
    }
    names[n] = NULL;
    return names;
}

static void diag_node(sl_diags_t *d, const sl_cnode_t *n, const char *fmt, const char *a, const char *b)
    __attribute__((format(printf, 3, 0)));
static void diag_node(sl_diags_t *d, const sl_cnode_t *n, const char *fmt, const char *a, const char *b) {
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, a, b);
    sl_diags_add(d, n ? n->file : NULL, n ? n->line : 0, n ? n->col : 0, "%s", msg);
}

typedef struct param {
    const char *name;
    const char *value;       /* NULL: no value (required and not given) */
    size_t len;
    const sl_cnode_t *node;  /* where the value came from */
} param_t;

/* Replace {{params.NAME}} and {{ params.NAME }} in s; NULL when nothing changed. */
static char *substitute(sl_arena_t *arena, const char *s, size_t len, const param_t *ps, size_t np,
                        size_t *out_len) {
    if (!strstr(s, "params.")) return NULL;
    sl_buf_t b = SL_BUF_INIT;
    bool changed = false;
    size_t i = 0;
    while (i < len) {
        if (s[i] == '{' && i + 1 < len && s[i + 1] == '{') {
            size_t j = i + 2;
            while (j < len && s[j] == ' ') j++;
            if (len - j > 7 && strncmp(s + j, "params.", 7) == 0) {
                size_t nb = j + 7, ne = nb;
                while (ne < len && (s[ne] == '_' || (s[ne] >= 'a' && s[ne] <= 'z') ||
                                    (s[ne] >= 'A' && s[ne] <= 'Z') || (s[ne] >= '0' && s[ne] <= '9')))
                    ne++;
                size_t k = ne;
                while (k < len && s[k] == ' ') k++;
                if (k + 1 < len && s[k] == '}' && s[k + 1] == '}') {
                    for (size_t p = 0; p < np; p++)
                        if (strlen(ps[p].name) == ne - nb && strncmp(ps[p].name, s + nb, ne - nb) == 0 &&
                            ps[p].value) {
                            sl_buf_append(&b, ps[p].value, ps[p].len);
                            i = k + 2;
                            changed = true;
                            goto next;
                        }
                }
            }
        }
        sl_buf_putc(&b, s[i++]);
    next:;
    }
    char *out = NULL;
    if (changed) {
        out = sl_arena_strndup(arena, b.data ? b.data : "", b.len);
        *out_len = b.len;
    }
    sl_buf_free(&b);
    return out;
}

/* Deep copy of n with placeholders substituted (arena). */
static sl_cnode_t *copy_subst(sl_arena_t *arena, const sl_cnode_t *n, const param_t *ps, size_t np) {
    sl_cnode_t *c = sl_arena_alloc(arena, sizeof *c);
    *c = *n;
    if (n->kind == SL_CNODE_SCALAR) {
        size_t len;
        char *s = substitute(arena, n->str, n->len, ps, np, &len);
        if (s) {
            c->str = s;
            c->len = len;
            c->expanded = true;
            c->raw = NULL;   /* positions inside no longer match the file */
        }
    } else if (n->kind == SL_CNODE_MAP) {
        c->pairs = sl_arena_alloc(arena, (n->n ? n->n : 1) * sizeof *c->pairs);
        for (size_t i = 0; i < n->n; i++) {
            c->pairs[i].key = n->pairs[i].key;
            c->pairs[i].val = copy_subst(arena, n->pairs[i].val, ps, np);
        }
    } else {
        c->items = sl_arena_alloc(arena, (n->n ? n->n : 1) * sizeof *c->items);
        for (size_t i = 0; i < n->n; i++) c->items[i] = copy_subst(arena, n->items[i], ps, np);
    }
    return c;
}

/* Set key in map (a fresh mapping of the arena), replacing or appending. */
static void map_put(sl_arena_t *arena, sl_cnode_t *map, sl_cnode_t *key, sl_cnode_t *val) {
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->pairs[i].key->str, key->str) == 0) {
            map->pairs[i].val = val;
            return;
        }
    sl_cpair_t *np = sl_arena_alloc(arena, (map->n + 1) * sizeof *np);
    if (map->n) memcpy(np, map->pairs, map->n * sizeof *np);
    np[map->n].key = key;
    np[map->n].val = val;
    map->pairs = np;
    map->n++;
}

/* Merge user over base: mappings key by key (recursively), anything else replaced. */
static sl_cnode_t *merge(sl_arena_t *arena, sl_cnode_t *base, const sl_cnode_t *user) {
    if (!base || base->kind != SL_CNODE_MAP || user->kind != SL_CNODE_MAP) return (sl_cnode_t *)user;
    sl_cnode_t *m = sl_arena_alloc(arena, sizeof *m);
    *m = *base;
    m->pairs = sl_arena_alloc(arena, (base->n ? base->n : 1) * sizeof *m->pairs);
    memcpy(m->pairs, base->pairs, base->n * sizeof *m->pairs);
    for (size_t i = 0; i < user->n; i++) {
        sl_cnode_t *old = sl_cnode_get(m, user->pairs[i].key->str);
        map_put(arena, m, user->pairs[i].key, merge(arena, old, user->pairs[i].val));
    }
    return m;
}

static sl_cnode_t *scalar_node(sl_arena_t *arena, const sl_cnode_t *at, const char *s, size_t len, char style) {
    sl_cnode_t *n = sl_arena_calloc(arena, sizeof *n);
    n->kind = SL_CNODE_SCALAR;
    n->file = at->file;
    n->line = at->line;
    n->col = at->col;
    n->str = sl_arena_strndup(arena, s, len);
    n->len = len;
    n->style = style;
    return n;
}

sl_cnode_t *sl_preset_expand(sl_arena_t *arena, const sl_cnode_t *src, sl_diags_t *d) {
    size_t before = d->n;
    const sl_cnode_t *pn = sl_cnode_get(src, "preset");
    if (!pn || pn->kind != SL_CNODE_SCALAR || !valid_name(pn->str)) {
        diag_node(d, pn ? pn : src, "'preset' must be a preset name (letters, digits, _ and -)%s%s", "", "");
        return NULL;
    }
    const char *path = sl_preset_find(arena, pn->str);
    if (!path) {
        const char **names = preset_names(arena);
        const char *near = sl_did_you_mean(pn->str, names);
        if (near) diag_node(d, pn, "unknown preset '%s' (did you mean '%s'?)", pn->str, near);
        else {
            sl_buf_t b = SL_BUF_INIT;
            for (size_t i = 0; names[i]; i++) sl_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
            diag_node(d, pn, "unknown preset '%s' (presets: %s; search path: $SLUICE_PRESETS, ./presets, "
                      "<sluice>/../presets)", pn->str, b.data ? b.data : "none found");
            sl_buf_free(&b);
        }
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_node(d, pn, "cannot read preset file %s: %s", path, sl_strerror(errno));
        return NULL;
    }
    sl_buf_t text = SL_BUF_INIT;
    char chunk[16384];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) sl_buf_append(&text, chunk, got);
    fclose(f);
    sl_cnode_t *root = NULL;
    int rc = sl_cnode_parse(arena, path, text.data ? text.data : "", text.len, d, &root);
    sl_buf_free(&text);
    if (rc != 0 || !root) {
        if (d->n == before) diag_node(d, pn, "preset file %s is empty%s", path, "");
        return NULL;
    }
    if (root->kind != SL_CNODE_MAP) {
        diag_node(d, root, "a preset file must be a mapping (a source fragment)%s%s", "", "");
        return NULL;
    }
    /* params: the preset's declarations, then the user's values */
    const sl_cnode_t *decl = sl_cnode_get(root, "params");
    const sl_cnode_t *given = sl_cnode_get(src, "params");
    size_t nd = decl && decl->kind == SL_CNODE_MAP ? decl->n : 0;
    param_t *ps = sl_arena_calloc(arena, (nd ? nd : 1) * sizeof *ps);
    const char **pnames = sl_arena_calloc(arena, (nd + 1) * sizeof *pnames);
    for (size_t i = 0; i < nd; i++) {
        const sl_cnode_t *k = decl->pairs[i].key, *v = decl->pairs[i].val;
        ps[i].name = pnames[i] = k->str;
        const sl_cnode_t *def = v;
        if (v->kind == SL_CNODE_MAP) {
            def = sl_cnode_get(v, "default");
            const sl_cnode_t *req = sl_cnode_get(v, "required");
            if (req && req->kind == SL_CNODE_SCALAR && strcmp(req->str, "true") == 0) def = NULL;
        }
        if (def && def->kind == SL_CNODE_SCALAR) {
            ps[i].value = def->str;
            ps[i].len = def->len;
            ps[i].node = def;
        }
    }
    if (given && !sl_cnode_is_null(given)) {
        if (given->kind != SL_CNODE_MAP) {
            diag_node(d, given, "'params' of a preset source must be a mapping%s%s", "", "");
        } else {
            for (size_t i = 0; i < given->n; i++) {
                const sl_cnode_t *k = given->pairs[i].key, *v = given->pairs[i].val;
                size_t at = nd;
                for (size_t j = 0; j < nd; j++)
                    if (strcmp(ps[j].name, k->str) == 0) at = j;
                if (at == nd) {
                    const char *near = sl_did_you_mean(k->str, pnames);
                    char list[512] = "";
                    for (size_t j = 0; j < nd; j++) {
                        size_t l = strlen(list);
                        snprintf(list + l, sizeof list - l, "%s%s", j ? ", " : "", pnames[j]);
                    }
                    if (near) diag_node(d, k, "unknown param '%s' of this preset (did you mean '%s'?)", k->str, near);
                    else diag_node(d, k, "unknown param '%s' of this preset (params: %s)", k->str, nd ? list : "none");
                    continue;
                }
                if (v->kind != SL_CNODE_SCALAR) {
                    diag_node(d, v, "param '%s' must be a scalar%s", k->str, "");
                    continue;
                }
                ps[at].value = v->str;
                ps[at].len = v->len;
                ps[at].node = v;
            }
        }
    }
    for (size_t i = 0; i < nd; i++)
        if (!ps[i].value) diag_node(d, pn, "preset '%s' needs param '%s'", pn->str, ps[i].name);
    if (d->n > before) return NULL;
    /* the preset's fragment with placeholders filled, minus its params section */
    sl_cnode_t *out = sl_arena_alloc(arena, sizeof *out);
    *out = *root;
    out->pairs = sl_arena_alloc(arena, (root->n + src->n + 1) * sizeof *out->pairs);
    out->n = 0;
    for (size_t i = 0; i < root->n; i++) {
        if (strcmp(root->pairs[i].key->str, "params") == 0) continue;
        out->pairs[out->n].key = root->pairs[i].key;
        out->pairs[out->n].val = copy_subst(arena, root->pairs[i].val, ps, nd);
        out->n++;
    }
    /* the user's keys over it; positions stay those of the user's file */
    sl_cnode_t *merged = out;
    for (size_t i = 0; i < src->n; i++) {
        const char *k = src->pairs[i].key->str;
        if (strcmp(k, "preset") == 0 || strcmp(k, "params") == 0) continue;
        sl_cnode_t *old = sl_cnode_get(merged, k);
        map_put(arena, merged, src->pairs[i].key, merge(arena, old, src->pairs[i].val));
    }
    /* params: the final values, for runtime templates */
    sl_cnode_t *pm = sl_arena_calloc(arena, sizeof *pm);
    pm->kind = SL_CNODE_MAP;
    pm->file = pn->file;
    pm->line = pn->line;
    pm->col = pn->col;
    pm->pairs = sl_arena_alloc(arena, (nd ? nd : 1) * sizeof *pm->pairs);
    for (size_t i = 0; i < nd; i++) {
        pm->pairs[i].key = decl->pairs[i].key;
        pm->pairs[i].val = scalar_node(arena, ps[i].node ? ps[i].node : pn, ps[i].value, ps[i].len,
                                       ps[i].node ? ps[i].node->style : 0);
    }
    pm->n = nd;
    sl_cnode_t *pkey = scalar_node(arena, pn, "params", 6, 0);
    map_put(arena, merged, pkey, pm);
    merged->file = src->file;
    merged->line = src->line;
    merged->col = src->col;
    return merged;
}
