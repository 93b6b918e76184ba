/* config.c - YAML (libyaml) to the sl_cnode_t tree: FILE:LINE:COL on every node, ${VAR}
 * expansion, merge keys, duplicate keys, and positions inside scalars.
 *
 * Invariants of a loaded tree:
 *  1. every node has a 1-based line:col of its first character (after any &anchor or
 *     !tag, so errors point at the value itself);
 *  2. every key of a mapping is a scalar, and keys of one mapping are distinct;
 *  3. the tree is acyclic (a recursive alias is an error) but may be a DAG: an alias
 *     shares the anchored node;
 *  4. the source text lives in the conf arena, so scalar->raw stays valid as long as
 *     the tree. */
#include "sluice/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "sluice/buf.h"
#include "sluice/error.h"

/* A YAML bomb (aliases of aliases) is a small file whose tree, walked as a tree, is
 * huge; refuse it rather than let every later walk pay for it. */
#define CONF_MAX_NODES 1000000u
/* The conversion recurses; libyaml itself does not limit nesting. */
#define CONF_MAX_DEPTH 512

typedef struct conf_memo {
    sl_cnode_t *node;
    uint64_t size;   /* nodes of the subtree with aliases expanded (saturating) */
    int state;       /* 0 not yet, 1 being converted (an alias now is a cycle), 2 done */
} conf_memo_t;

typedef struct conf_loader {
    sl_arena_t *arena;
    const char *file;
    const char *src;       /* the source text (arena), after a UTF-8 BOM */
    size_t src_len;
    size_t *lines;         /* byte offset where each line starts (heap) */
    size_t nlines;
    sl_diags_t *diags;
    int errors;
    yaml_document_t *doc;
    conf_memo_t *memo;     /* by node id - 1 */
    size_t nmemo;
    int depth;
} conf_loader_t;

/* ---- source positions ---- */

/* Length of the line break at p (libyaml's: CR LF, CR, LF, NEL, LS, PS), 0 if none. */
static size_t conf_brk(const char *p, const char *end) {
    if (p >= end) return 0;
    unsigned char c = (unsigned char)*p;
    if (c == '\r') return (p + 1 < end && p[1] == '\n') ? 2 : 1;
    if (c == '\n') return 1;
    if (c == 0xC2 && p + 1 < end && (unsigned char)p[1] == 0x85) return 2;
    if (c == 0xE2 && p + 2 < end && (unsigned char)p[1] == 0x80 &&
        ((unsigned char)p[2] == 0xA8 || (unsigned char)p[2] == 0xA9))
        return 3;
    return 0;
}

static const char *conf_line_end(const char *p, const char *end) {
    while (p < end && !conf_brk(p, end)) p++;
    return p;
}

/* Characters (code points) in [a, b): libyaml counts columns in characters. */
static int conf_chars(const char *a, const char *b) {
    int n = 0;
    for (; a < b; a++)
        if (((unsigned char)*a & 0xC0) != 0x80) n++;
    return n;
}

static void conf_index_lines(conf_loader_t *L) {
    size_t cap = 64, n = 0;
    size_t *lines = malloc(cap * sizeof *lines);
    if (!lines) abort();
    lines[n++] = 0;
    const char *p = L->src, *end = L->src + L->src_len;
    while (p < end) {
        size_t b = conf_brk(p, end);
        if (!b) { p++; continue; }
        p += b;
        if (n == cap) {
            cap *= 2;
            size_t *nl = realloc(lines, cap * sizeof *lines);
            if (!nl) abort();
            lines = nl;
        }
        lines[n++] = (size_t)(p - L->src);
    }
    L->lines = lines;
    L->nlines = n;
}

/* Byte offset of a libyaml mark (0-based line, column in characters). */
static size_t conf_mark_off(const conf_loader_t *L, const yaml_mark_t *m) {
    if (m->line >= L->nlines) return L->src_len;
    size_t off = L->lines[m->line];
    size_t lim = m->line + 1 < L->nlines ? L->lines[m->line + 1] : L->src_len;
    for (size_t c = 0; c < m->column && off < lim; c++) {
        off++;
        while (off < lim && ((unsigned char)L->src[off] & 0xC0) == 0x80) off++;
    }
    return off;
}

static void conf_off_pos(const conf_loader_t *L, size_t off, int *line, int *col) {
    size_t lo = 0, hi = L->nlines;   /* last line starting at or before off */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (L->lines[mid] <= off) lo = mid;
        else hi = mid;
    }
    *line = (int)lo + 1;
    *col = conf_chars(L->src + L->lines[lo], L->src + off) + 1;
}

/* libyaml's node marks start at a node's &anchor or !tag; step over them (and the
 * blanks and comments after them) to the value. */
static size_t conf_skip_props(const conf_loader_t *L, size_t off, size_t end_off) {
    size_t o = off;
    const char *s = L->src;
    while (o < end_off && (s[o] == '&' || s[o] == '!')) {
        while (o < end_off && s[o] != ' ' && s[o] != '\t' && !conf_brk(s + o, s + end_off)) o++;
        for (;;) {
            size_t b;
            if (o < end_off && (s[o] == ' ' || s[o] == '\t')) o++;
            else if ((b = conf_brk(s + o, s + end_off)) != 0) o += b;
            else if (o < end_off && s[o] == '#') {
                while (o < end_off && !conf_brk(s + o, s + end_off)) o++;
            } else break;
        }
    }
    return o < end_off ? o : off;
}

/* ---- diagnostics ---- */

static void conf_err_at(conf_loader_t *L, int line, int col, const char *msg) {
    sl_diags_add(L->diags, L->file, line, col, "%s", msg);
    L->errors++;
}

static void conf_err(conf_loader_t *L, const sl_cnode_t *n, const char *msg) {
    conf_err_at(L, n->line, n->col, msg);
}

/* ---- ${VAR} expansion ---- */

static bool conf_var_name_ok(const char *s, size_t len) {
    if (len == 0 || len > 255) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

/* Set n->str/len from libyaml's text with ${VAR}, ${VAR:-default} and $${ resolved. */
static void conf_expand(conf_loader_t *L, sl_cnode_t *n, const char *s, size_t len) {
    if (!memchr(s, '$', len)) {
        n->str = sl_arena_strndup(L->arena, s, len);
        n->len = len;
        return;
    }
    sl_buf_t out = SL_BUF_INIT;
    sl_buf_reserve(&out, len);
    size_t i = 0;
    while (i < len) {
        if (s[i] != '$') {
            sl_buf_putc(&out, s[i++]);
            continue;
        }
        if (i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
            sl_buf_puts(&out, "${");
            i += 3;
            n->expanded = true;   /* text offsets no longer match the source */
            continue;
        }
        if (i + 1 >= len || s[i + 1] != '{') {
            sl_buf_putc(&out, s[i++]);
            continue;
        }
        const char *body = s + i + 2;
        const char *close = memchr(body, '}', len - (i + 2));
        if (!close) {
            conf_err(L, n, "unterminated '${' (write '$${' for a literal '${')");
            sl_buf_append(&out, s + i, len - i);
            break;
        }
        size_t blen = (size_t)(close - body), nlen = blen;
        const char *def = NULL;
        size_t dlen = 0;
        for (size_t k = 0; k + 1 < blen; k++) {
            if (body[k] == ':' && body[k + 1] == '-') {
                nlen = k;
                def = body + k + 2;
                dlen = blen - k - 2;
                break;
            }
        }
        n->expanded = true;
        if (!conf_var_name_ok(body, nlen)) {
            char msg[320];
            snprintf(msg, sizeof msg, "invalid environment variable name '%.*s' in '${...}'",
                     (int)(nlen > 255 ? 255 : nlen), body);
            conf_err(L, n, msg);
        } else {
            char name[256];
            memcpy(name, body, nlen);
            name[nlen] = 0;
            const char *v = getenv(name);
            /* Like the shell's ${VAR:-default}: an empty value also takes the default. */
            if (v && (*v || !def)) {
                sl_buf_puts(&out, v);
            } else if (def) {
                sl_buf_append(&out, def, dlen);
            } else {
                char msg[320];
                snprintf(msg, sizeof msg, "environment variable %s is not set", name);
                conf_err(L, n, msg);
            }
        }
        i = (size_t)(close - s) + 1;
    }
    n->str = sl_arena_strndup(L->arena, out.data ? out.data : "", out.len);
    n->len = out.len;
    sl_buf_free(&out);
}

/* ---- yaml_document_t to sl_cnode_t ---- */

static sl_cnode_t *conf_placeholder(conf_loader_t *L, int line, int col) {
    sl_cnode_t *n = sl_arena_calloc(L->arena, sizeof *n);
    n->kind = SL_CNODE_SCALAR;
    n->file = L->file;
    n->line = line;
    n->col = col;
    n->str = sl_arena_strndup(L->arena, "", 0);
    return n;
}

static void conf_scalar(conf_loader_t *L, sl_cnode_t *n, yaml_node_t *y, size_t so, size_t eo) {
    switch (y->data.scalar.style) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE: n->style = '\''; break;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: n->style = '"'; break;
    case YAML_LITERAL_SCALAR_STYLE: n->style = '|'; break;
    case YAML_FOLDED_SCALAR_STYLE: n->style = '>'; break;
    default: n->style = 0; break;
    }
    conf_expand(L, n, (const char *)y->data.scalar.value, y->data.scalar.length);

    if (eo < so) eo = so;
    if (n->style == 0) {
        n->raw = L->src + so;
        n->raw_len = eo - so;
        n->raw_line = n->line;
        n->raw_col = n->col;
    } else if (n->style == '\'' || n->style == '"') {
        n->raw = L->src + (so < eo ? so + 1 : so);
        n->raw_len = eo >= so + 2 ? eo - so - 2 : 0;
        n->raw_line = n->line;
        n->raw_col = n->col + 1;
    } else {
        /* The text starts on the line after the `|` header (which may hold indicators
         * and a comment); the span ends where libyaml's scalar does. */
        const char *p = conf_line_end(L->src + so, L->src + L->src_len);
        p += conf_brk(p, L->src + L->src_len);
        size_t start = (size_t)(p - L->src);
        n->raw = p;
        n->raw_len = eo > start ? eo - start : 0;
        n->raw_line = n->line + 1;
        n->raw_col = 1;
    }
}

static uint64_t conf_sat_add(uint64_t a, uint64_t b) {
    uint64_t s = a + b;
    return (s < a || s > CONF_MAX_NODES + 1u) ? CONF_MAX_NODES + 1u : s;
}

static sl_cnode_t *conf_convert(conf_loader_t *L, int id, uint64_t *size);

/* Hash set of the keys of one mapping under construction (indices into pairs). */
typedef struct conf_keyset {
    uint32_t *slots;   /* index + 1; 0 = empty */
    size_t mask;
    const sl_cpair_t *pairs;
} conf_keyset_t;

static uint64_t conf_hash(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* The index of an equal key, or insert `idx` and return -1. */
static long conf_keyset_put(conf_keyset_t *ks, const sl_cnode_t *key, size_t idx) {
    size_t i = (size_t)conf_hash(key->str, key->len) & ks->mask;
    for (;; i = (i + 1) & ks->mask) {
        uint32_t s = ks->slots[i];
        if (!s) {
            ks->slots[i] = (uint32_t)idx + 1;
            return -1;
        }
        const sl_cnode_t *k = ks->pairs[s - 1].key;
        if (k->len == key->len && memcmp(k->str, key->str, key->len) == 0) return (long)(s - 1);
    }
}

static bool conf_is_merge_key(const sl_cnode_t *k) {
    return k->kind == SL_CNODE_SCALAR && k->style == 0 && k->len == 2 && memcmp(k->str, "<<", 2) == 0;
}

static void conf_mapping(conf_loader_t *L, sl_cnode_t *n, yaml_node_t *y, uint64_t *size) {
    size_t np = (size_t)(y->data.mapping.pairs.top - y->data.mapping.pairs.start);
    sl_cpair_t *tmp = np ? malloc(np * sizeof *tmp) : NULL;
    if (np && !tmp) abort();
    size_t bound = 0;
    for (size_t i = 0; i < np; i++) {
        yaml_node_pair_t *yp = &y->data.mapping.pairs.start[i];
        uint64_t ks = 0, vs = 0;
        tmp[i].key = conf_convert(L, yp->key, &ks);
        tmp[i].val = conf_convert(L, yp->value, &vs);
        *size = conf_sat_add(*size, conf_sat_add(ks, vs));
        bound++;
        if (conf_is_merge_key(tmp[i].key)) {
            const sl_cnode_t *m = tmp[i].val;
            if (m->kind == SL_CNODE_MAP) bound += m->n;
            else if (m->kind == SL_CNODE_SEQ)
                for (size_t j = 0; j < m->n; j++)
                    if (m->items[j]->kind == SL_CNODE_MAP) bound += m->items[j]->n;
        }
    }
    n->pairs = bound ? sl_arena_alloc(L->arena, bound * sizeof *n->pairs) : NULL;
    n->n = 0;
    size_t cap = 8;
    while (cap < bound * 2) cap *= 2;
    conf_keyset_t ks = {calloc(cap, sizeof(uint32_t)), cap - 1, n->pairs};
    if (!ks.slots) abort();

    /* Keys written in the mapping first: they win over merged ones. */
    for (size_t i = 0; i < np; i++) {
        sl_cnode_t *k = tmp[i].key;
        if (conf_is_merge_key(k)) continue;
        if (k->kind != SL_CNODE_SCALAR) {
            char msg[96];
            snprintf(msg, sizeof msg, "a mapping key must be a scalar, got a %s", sl_cnode_kind_name(k->kind));
            conf_err(L, k, msg);
            continue;
        }
        /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): pairs has bound slots, bound counts every non-merge key, so it is non-NULL here */
        n->pairs[n->n] = tmp[i];
        long prev = conf_keyset_put(&ks, k, n->n);
        if (prev >= 0) {
            char msg[360];
            snprintf(msg, sizeof msg, "duplicate key '%.256s' (first defined on line %d)", k->str,
                     n->pairs[prev].key->line);
            conf_err(L, k, msg);
            continue;
        }
        n->n++;
    }
    /* Then `<<: *a` or `<<: [*a, *b]`: earlier sources win over later ones. */
    for (size_t i = 0; i < np; i++) {
        if (!conf_is_merge_key(tmp[i].key)) continue;
        const sl_cnode_t *m = tmp[i].val;
        size_t nsrc = m->kind == SL_CNODE_SEQ ? m->n : 1;
        for (size_t j = 0; j < nsrc; j++) {
            const sl_cnode_t *src = m->kind == SL_CNODE_SEQ ? m->items[j] : m;
            if (src->kind != SL_CNODE_MAP) {
                char msg[128];
                snprintf(msg, sizeof msg, "merge key '<<' needs a mapping or a sequence of mappings, got a %s",
                         sl_cnode_kind_name(src->kind));
                conf_err(L, src, msg);
                continue;
            }
            for (size_t k = 0; k < src->n; k++) {
                n->pairs[n->n] = src->pairs[k];
                if (conf_keyset_put(&ks, src->pairs[k].key, n->n) < 0) n->n++;
            }
        }
    }
    free(ks.slots);
    free(tmp);
}

static sl_cnode_t *conf_convert(conf_loader_t *L, int id, uint64_t *size) {
    yaml_node_t *y = yaml_document_get_node(L->doc, id);
    if (!y || id < 1 || (size_t)id > L->nmemo) {
        *size = 1;
        return conf_placeholder(L, 0, 0);
    }
    conf_memo_t *memo = &L->memo[id - 1];
    if (memo->state == 2) {
        *size = memo->size;
        return memo->node;
    }
    size_t so = conf_mark_off(L, &y->start_mark), eo = conf_mark_off(L, &y->end_mark);
    if (eo < so) eo = so;
    so = conf_skip_props(L, so, eo);
    int line, col;
    conf_off_pos(L, so, &line, &col);
    if (memo->state == 1) {
        /* libyaml registers an anchor before its collection's items, so `&a [*a]`
         * is a node containing itself. */
        conf_err_at(L, line, col, "recursive alias: a node cannot contain itself");
        *size = 1;
        return conf_placeholder(L, line, col);
    }
    if (L->depth >= CONF_MAX_DEPTH) {
        char msg[64];
        snprintf(msg, sizeof msg, "nesting deeper than %d levels", CONF_MAX_DEPTH);
        conf_err_at(L, line, col, msg);
        *size = 1;
        return conf_placeholder(L, line, col);
    }

    sl_cnode_t *n = sl_arena_calloc(L->arena, sizeof *n);
    n->file = L->file;
    n->line = line;
    n->col = col;
    memo->state = 1;
    L->depth++;
    uint64_t sz = 1;
    switch (y->type) {
    case YAML_MAPPING_NODE:
        n->kind = SL_CNODE_MAP;
        conf_mapping(L, n, y, &sz);
        break;
    case YAML_SEQUENCE_NODE: {
        n->kind = SL_CNODE_SEQ;
        size_t ni = (size_t)(y->data.sequence.items.top - y->data.sequence.items.start);
        n->items = ni ? sl_arena_alloc(L->arena, ni * sizeof *n->items) : NULL;
        n->n = ni;
        for (size_t i = 0; i < ni; i++) {
            uint64_t s = 0;
            n->items[i] = conf_convert(L, y->data.sequence.items.start[i], &s);
            sz = conf_sat_add(sz, s);
        }
        break;
    }
    default:
        n->kind = SL_CNODE_SCALAR;
        conf_scalar(L, n, y, so, eo);
        break;
    }
    L->depth--;
    memo->node = n;
    memo->size = sz;
    memo->state = 2;
    *size = sz;
    return n;
}

/* A later document of a multi-document stream adds its keys to the first one's. */
static void conf_join(conf_loader_t *L, sl_cnode_t **root, sl_cnode_t *doc) {
    if (sl_cnode_is_null(doc)) return;
    if (sl_cnode_is_null(*root)) {
        *root = doc;
        return;
    }
    if ((*root)->kind != SL_CNODE_MAP || doc->kind != SL_CNODE_MAP) {
        const sl_cnode_t *bad = doc->kind != SL_CNODE_MAP ? doc : *root;
        char msg[128];
        snprintf(msg, sizeof msg, "each document of a multi-document file must be a mapping, got a %s",
                 sl_cnode_kind_name(bad->kind));
        conf_err(L, bad, msg);
        return;
    }
    sl_cnode_t *r = *root;
    sl_cpair_t *pairs = sl_arena_alloc(L->arena, (r->n + doc->n) * sizeof *pairs);
    if (r->n) memcpy(pairs, r->pairs, r->n * sizeof *pairs);
    size_t n = r->n;
    for (size_t i = 0; i < doc->n; i++) {
        const sl_cnode_t *k = doc->pairs[i].key;
        const sl_cnode_t *prev = NULL;
        for (size_t j = 0; j < n && !prev; j++)
            if (pairs[j].key->len == k->len && memcmp(pairs[j].key->str, k->str, k->len) == 0)
                prev = pairs[j].key;
        if (prev) {
            char msg[360];
            snprintf(msg, sizeof msg, "duplicate key '%.256s' (first defined on line %d)", k->str, prev->line);
            conf_err(L, k, msg);
            continue;
        }
        pairs[n++] = doc->pairs[i];
    }
    r->pairs = pairs;
    r->n = n;
}

/* The loader behind sl_conf_load_string and sl_cnode_parse: nodes, names and the
 * source copy all go to `arena`. */
static int conf_parse(sl_arena_t *arena, const char *name, const char *text, size_t len,
                      sl_diags_t *diags, sl_cnode_t **rootp, const char **filep) {
    *rootp = NULL;
    /* libyaml reads UTF-8 only (set below) and would count a BOM as a column. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    if (!name) name = "<config>";
    conf_loader_t L = {0};
    L.arena = arena;
    L.file = sl_arena_strndup(arena, name, strlen(name));
    if (filep) *filep = L.file;
    L.src = sl_arena_strndup(arena, text, len);
    L.src_len = len;
    L.diags = diags;
    conf_index_lines(&L);

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)L.src, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

    sl_cnode_t *root = NULL;
    uint64_t total = 0;
    int ndocs = 0;
    bool syntax = false;
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            int line = 0, col = 0;
            if (parser.error == YAML_READER_ERROR) {
                conf_off_pos(&L, parser.problem_offset < len ? parser.problem_offset : len, &line, &col);
            } else if (parser.error != YAML_MEMORY_ERROR) {
                line = (int)parser.problem_mark.line + 1;
                col = (int)parser.problem_mark.column + 1;
            }
            const char *problem = parser.error == YAML_MEMORY_ERROR ? "out of memory"
                                  : parser.problem                 ? parser.problem
                                                                   : "invalid YAML";
            sl_diags_add(diags, L.file, line, col, "%s", problem);
            syntax = true;
            break;
        }
        yaml_node_t *yroot = yaml_document_get_root_node(&doc);
        if (!yroot) {   /* the end of the stream */
            yaml_document_delete(&doc);
            break;
        }
        L.doc = &doc;
        L.nmemo = (size_t)(doc.nodes.top - doc.nodes.start);
        L.memo = calloc(L.nmemo, sizeof *L.memo);
        if (!L.memo) abort();
        uint64_t size = 0;
        sl_cnode_t *droot = conf_convert(&L, 1, &size);
        total = conf_sat_add(total, size);
        free(L.memo);
        L.memo = NULL;
        yaml_document_delete(&doc);
        if (ndocs++ == 0) root = droot;
        else conf_join(&L, &root, droot);
    }
    yaml_parser_delete(&parser);
    free(L.lines);

    if (syntax) return SL_CONFIG;
    if (total > CONF_MAX_NODES && root) {
        sl_diags_add(diags, L.file, root->line, root->col,
                     "the document expands to more than %u nodes through aliases", CONF_MAX_NODES);
        return SL_CONFIG;
    }
    *rootp = root;
    return L.errors ? SL_CONFIG : 0;
}

int sl_cnode_parse(sl_arena_t *arena, const char *name, const char *text, size_t len,
                   sl_diags_t *diags, sl_cnode_t **root) {
    return conf_parse(arena, name, text, len, diags, root, NULL);
}

int sl_conf_load_string(sl_conf_t *conf, const char *name, const char *text, size_t len,
                        sl_diags_t *diags) {
    memset(conf, 0, sizeof *conf);
    sl_arena_init(&conf->arena, 16384);
    size_t ndiags = diags->n;
    int rc = conf_parse(&conf->arena, name, text, len, diags, &conf->root, &conf->file);
    if (rc && !conf->root && diags->n > ndiags) {
        /* Nothing of a file that does not parse is worth keeping. */
        sl_arena_free(&conf->arena);
        memset(conf, 0, sizeof *conf);
    }
    return rc;
}

int sl_conf_load(sl_conf_t *conf, const char *path, sl_diags_t *diags) {
    memset(conf, 0, sizeof *conf);
    FILE *f = fopen(path, "rb");
    sl_buf_t text = SL_BUF_INIT;
    if (f) {
        char chunk[65536];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) sl_buf_append(&text, chunk, got);
        if (ferror(f)) {
            fclose(f);
            f = NULL;
        } else {
            fclose(f);
        }
    }
    if (!f) {
        sl_diags_add(diags, NULL, 0, 0, "cannot read configuration file '%s': %s", path, sl_strerror(errno));
        sl_buf_free(&text);
        return SL_CONFIG;
    }
    int rc = sl_conf_load_string(conf, path, text.data ? text.data : "", text.len, diags);
    sl_buf_free(&text);
    return rc;
}

void sl_conf_free(sl_conf_t *conf) {
    sl_arena_free(&conf->arena);
    conf->root = NULL;
    conf->file = NULL;
}

/* ---- queries ---- */

sl_cnode_t *sl_cnode_get(const sl_cnode_t *map, const char *key) {
    if (!map || map->kind != SL_CNODE_MAP) return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i < map->n; i++) {
        const sl_cnode_t *k = map->pairs[i].key;
        if (k->len == klen && memcmp(k->str, key, klen) == 0) return map->pairs[i].val;
    }
    return NULL;
}

const char *sl_cnode_kind_name(sl_cnode_kind_t kind) {
    switch (kind) {
    case SL_CNODE_SCALAR: return "scalar";
    case SL_CNODE_MAP: return "mapping";
    case SL_CNODE_SEQ: return "sequence";
    }
    return "node";
}

bool sl_cnode_is_null(const sl_cnode_t *node) {
    if (!node) return true;
    if (node->kind != SL_CNODE_SCALAR || node->style != 0) return false;
    return node->len == 0 || strcmp(node->str, "~") == 0 || strcmp(node->str, "null") == 0 ||
           strcmp(node->str, "Null") == 0 || strcmp(node->str, "NULL") == 0;
}

/* ---- positions inside a scalar ---- */

static int conf_hexval(const char *p, const char *end, int digits, uint32_t *cp) {
    uint32_t v = 0;
    int i = 0;
    for (; i < digits && p + i < end; i++) {
        char c = p[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0) break;
        v = v * 16 + (uint32_t)d;
    }
    *cp = v;
    return i;
}

static size_t conf_utf8_width(uint32_t cp) {
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* One unit of a scalar's source at q: its length in the source and the bytes it
 * becomes in the text ('' -> ', \u00e9 -> 2 bytes, ...). */
static void conf_token(char style, const char *q, const char *end, size_t *rl, size_t *w) {
    if (style == '\'' && q[0] == '\'' && q + 1 < end && q[1] == '\'') {
        *rl = 2;
        *w = 1;
        return;
    }
    if (style == '"' && q[0] == '\\' && q + 1 < end) {
        uint32_t cp = 0;
        int digits = q[1] == 'x' ? 2 : q[1] == 'u' ? 4 : q[1] == 'U' ? 8 : 0;
        if (digits) {
            *rl = 2 + (size_t)conf_hexval(q + 2, end, digits, &cp);
            *w = conf_utf8_width(cp);
        } else {
            *rl = 2;
            *w = q[1] == 'N' || q[1] == '_' ? 2 : q[1] == 'L' || q[1] == 'P' ? 3 : 1;
        }
        return;
    }
    /* One code point, copied as is. */
    size_t n = 1;
    while (q + n < end && ((unsigned char)q[n] & 0xC0) == 0x80) n++;
    *rl = *w = n;
}

/* The indentation of a block scalar: what its first text line lost. */
static int conf_block_indent(const sl_cnode_t *n) {
    const char *p = n->raw, *end = n->raw + n->raw_len;
    int raw_lead = -1;
    while (p < end) {
        const char *le = conf_line_end(p, end);
        int k = 0;
        while (p + k < le && p[k] == ' ') k++;
        if (p + k < le) {
            raw_lead = k;
            break;
        }
        p = le + conf_brk(le, end);
    }
    if (raw_lead < 0) return 0;
    const char *s = n->str, *send = n->str + n->len;
    while (s < send) {
        const char *le = s;
        while (le < send && *le != '\n') le++;
        int k = 0;
        while (s + k < le && s[k] == ' ') k++;
        if (s + k < le) return raw_lead > k ? raw_lead - k : 0;
        s = le + (le < send);
    }
    return raw_lead;
}

typedef enum { LINE_EMPTY, LINE_NORMAL, LINE_MORE } conf_line_kind_t;

/* Content of a raw line [p, le) of a scalar: flow scalars lose surrounding blanks
 * (except at the ends of the whole scalar), block scalars their indentation. */
static void conf_line_content(const sl_cnode_t *n, int indent, const char *p, const char *le,
                              bool first, bool last, const char **cs, const char **ce) {
    *cs = p;
    *ce = le;
    if (n->style == '|' || n->style == '>') {
        for (int k = 0; k < indent && *cs < le && **cs == ' '; k++) (*cs)++;
        return;
    }
    if (!first)
        while (*cs < *ce && (**cs == ' ' || **cs == '\t')) (*cs)++;
    if (!last)
        while (*ce > *cs && ((*ce)[-1] == ' ' || (*ce)[-1] == '\t')) (*ce)--;
}

static conf_line_kind_t conf_folded_kind(const char *cs, const char *ce) {
    if (cs == ce) return LINE_EMPTY;
    return (*cs == ' ' || *cs == '\t') ? LINE_MORE : LINE_NORMAL;
}

/* Bytes of text the line break after a content line becomes: YAML folds one break
 * between text lines into a space, and drops the first of several. */
static size_t conf_break_width(const sl_cnode_t *n, int indent, const char *next, const char *end,
                               bool cur_normal) {
    if (n->style == '|') return 1;
    if (!cur_normal) return 1;
    int empties = 0;
    const char *p = next;
    for (;;) {
        const char *le = conf_line_end(p, end);
        size_t bl = conf_brk(le, end);
        const char *cs, *ce;
        conf_line_content(n, indent, p, le, false, bl == 0, &cs, &ce);
        if (bl == 0) {   /* the last line: it ends the scalar, it is never "empty" */
            if (n->style == '>') return (empties == 0 && conf_folded_kind(cs, ce) == LINE_NORMAL) ? 1 : 0;
            return empties == 0 ? 1 : 0;
        }
        conf_line_kind_t k = n->style == '>' ? conf_folded_kind(cs, ce) : (cs == ce ? LINE_EMPTY : LINE_NORMAL);
        if (k == LINE_NORMAL) return empties == 0 ? 1 : 0;
        if (k == LINE_MORE) return 1;
        empties++;
        p = le + bl;
    }
}

void sl_cnode_pos_at(const sl_cnode_t *n, size_t offset, int *line, int *col) {
    *line = n->line;
    *col = n->col;
    if (n->kind != SL_CNODE_SCALAR) return;
    if (!n->raw) {
        size_t off = offset < n->len ? offset : n->len;
        if (off > 100000) off = 100000;
        *col = n->col + (int)off + (n->style == '\'' || n->style == '"');
        return;
    }
    const char *p = n->raw, *end = n->raw + n->raw_len;
    bool block = n->style == '|' || n->style == '>';
    int indent = block ? conf_block_indent(n) : 0;
    int ln = n->raw_line;
    size_t t = 0;   /* offset in the text of the unit at q */
    bool first = true;
    for (;;) {
        const char *le = conf_line_end(p, end);
        size_t bl = conf_brk(le, end);
        bool last = bl == 0;
        const char *cs, *ce;
        conf_line_content(n, indent, p, le, first, last, &cs, &ce);
        bool esc_break = false;
        if (n->style == '"' && !last) {
            /* `\` at the end of a line joins it to the next without a space */
            const char *b = ce;
            while (b > cs && b[-1] == '\\') b--;
            if ((ce - b) % 2 == 1) {
                esc_break = true;
                ce--;
            }
        }
        int c = (first ? n->raw_col : 1) + conf_chars(p, cs);
        for (const char *q = cs; q < ce;) {
            size_t rl, w;
            conf_token(n->style, q, ce, &rl, &w);
            if (offset < t + w) {
                *line = ln;
                *col = c;
                return;
            }
            t += w;
            c += conf_chars(q, q + rl);
            q += rl;
        }
        if (last) {   /* at or past the end of the text */
            *line = ln;
            *col = c;
            return;
        }
        bool normal;
        if (n->style == '>') normal = conf_folded_kind(cs, ce) == LINE_NORMAL;
        else normal = first || cs != ce;
        size_t w = esc_break ? 0 : conf_break_width(n, indent, le + bl, end, normal);
        if (offset < t + w) {
            *line = ln;
            *col = c;
            return;
        }
        t += w;
        p = le + bl;
        ln++;
        first = false;
    }
}
