/* serve_parse.c - the HTTP server's parsers of untrusted input: query strings, path
 * segments, `where=`/`order=`/time values, listen addresses, content types, ingest
 * bodies, and the query plan of the table API (identifiers checked against the
 * table's real columns, every value a bound parameter).  Pure functions: no I/O, no
 * globals, so the fuzzer (tests/fuzz/fuzz_http_query.c) drives them directly. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve_int.h"
#include "sluice/error.h"

#define WHY(...) (why && whylen ? (void)snprintf(why, whylen, __VA_ARGS__) : (void)0)

/* ---------------------------------------------------------------- decoding */

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode s[0..len) into a fresh arena string; plus = '+' means space.  NULL on a bad
 * escape or a NUL byte. */
static char *pct_decode(const char *s, size_t len, bool plus, sl_arena_t *arena) {
    char *out = sl_arena_alloc(arena, len + 1), *o = out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= len) return NULL;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0) return NULL;
            c = (unsigned char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (c == 0) return NULL;
        *o++ = (char)c;
    }
    *o = 0;
    return out;
}

int sl_http_query_parse(const char *q, size_t len, sl_arena_t *arena, sl_qarg_t **out, size_t *n) {
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += q[i] == '&';
    if (cap > 256) return SL_PARSE;
    sl_qarg_t *args = sl_arena_alloc(arena, cap * sizeof *args);
    size_t k = 0, at = 0;
    while (at < len) {
        size_t end = at;
        while (end < len && q[end] != '&') end++;
        if (end > at) {
            size_t eq = at;
            while (eq < end && q[eq] != '=') eq++;
            char *key = pct_decode(q + at, eq - at, true, arena);
            char *val = eq < end ? pct_decode(q + eq + 1, end - eq - 1, true, arena)
                                 : sl_arena_strndup(arena, "", 0);
            if (!key || !val) return SL_PARSE;
            args[k].key = key;
            args[k].val = val;
            k++;
        }
        at = end + 1;
    }
    *out = args;
    *n = k;
    return 0;
}

const char *sl_http_query_get(const sl_qarg_t *args, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(args[i].key, key) == 0) return args[i].val;
    return NULL;
}

char *sl_http_segment_decode(const char *s, size_t len, sl_arena_t *arena) {
    if (len == 0) return NULL;
    char *d = pct_decode(s, len, false, arena);
    if (!d || !*d || strchr(d, '/')) return NULL;
    return d;
}

/* ---------------------------------------------------------------- values */

int sl_http_where_parse(const char *s, sl_arena_t *arena, sl_where_t *out, char *why, size_t whylen) {
    static const char *const ops[] = {"eq", "ne", "lt", "le", "gt", "ge", "like", NULL};
    const char *c1 = strchr(s, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c1 || !c2) {
        WHY("'where' must be COLUMN:OP:VALUE (OP one of eq ne lt le gt ge like)");
        return SL_PARSE;
    }
    if (c1 == s) {
        WHY("'where' needs a column name before the first ':'");
        return SL_PARSE;
    }
    size_t oplen = (size_t)(c2 - c1 - 1);
    out->op = -1;
    for (int i = 0; ops[i]; i++)
        if (strlen(ops[i]) == oplen && strncmp(c1 + 1, ops[i], oplen) == 0) out->op = i;
    if (out->op < 0) {
        char op[24];
        snprintf(op, sizeof op, "%.*s", (int)(oplen > 20 ? 20 : oplen), c1 + 1);
        WHY("unknown operator '%s' in 'where' (use eq ne lt le gt ge like)", op);
        return SL_PARSE;
    }
    out->col = sl_arena_strndup(arena, s, (size_t)(c1 - s));
    out->val = sl_arena_strndup(arena, c2 + 1, strlen(c2 + 1));
    return 0;
}

int sl_http_order_parse(const char *s, sl_arena_t *arena, char **col, bool *desc, char *why,
                        size_t whylen) {
    while (*s == ' ') s++;
    *desc = false;
    if (*s == '-') {
        *desc = true;
        s++;
    }
    const char *end = s;
    while (*end && *end != ' ') end++;
    if (end == s) {
        WHY("'order' needs a column name");
        return SL_PARSE;
    }
    *col = sl_arena_strndup(arena, s, (size_t)(end - s));
    while (*end == ' ') end++;
    if (*end) {
        const char *dir = end;
        const char *e2 = dir;
        while (*e2 && *e2 != ' ') e2++;
        const char *rest = e2;
        while (*rest == ' ') rest++;
        size_t dl = (size_t)(e2 - dir);
        bool asc = dl == 3 && strncasecmp(dir, "asc", 3) == 0;
        bool dsc = dl == 4 && strncasecmp(dir, "desc", 4) == 0;
        if (*rest || (!asc && !dsc) || *desc) {  /* "-col desc" is ambiguous */
            WHY("'order' must be COLUMN, COLUMN asc or COLUMN desc");
            return SL_PARSE;
        }
        *desc = dsc;
    }
    return 0;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int sl_http_time_parse(const char *s, int64_t *ms, bool *date_only) {
    size_t len = strlen(s);
    *date_only = false;
    if (len == 0) return SL_PARSE;
    bool all_digits = true;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9') all_digits = false;
    if (all_digits) {
        if (len > 15) return SL_PARSE;  /* beyond year 33658 */
        *ms = strtoll(s, NULL, 10);
        return 0;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    if (len < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return SL_PARSE;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1) return SL_PARSE;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap)) return SL_PARSE;
    const char *p = s + 10;
    int64_t tz_min = 0;
    if (*p == 0) {
        *date_only = true;
    } else {
        if (*p != 'T' && *p != 't' && *p != ' ') return SL_PARSE;
        p++;
        if (!digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &mi)) return SL_PARSE;
        p += 5;
        if (*p == ':') {
            if (!digits(p + 1, 2, &sec)) return SL_PARSE;
            p += 3;
            if (*p == '.') {
                p++;
                int nd = 0;
                while (*p >= '0' && *p <= '9') {
                    if (nd < 3) frac = frac * 10 + (*p - '0');
                    nd++;
                    p++;
                }
                if (nd == 0 || nd > 9) return SL_PARSE;
                for (int i = nd; i < 3; i++) frac *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 60) return SL_PARSE;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int th, tm;
            if (!digits(p + 1, 2, &th) || p[3] != ':' || !digits(p + 4, 2, &tm) || th > 23 || tm > 59)
                return SL_PARSE;
            tz_min = (th * 60 + tm) * (*p == '+' ? 1 : -1);
            p += 6;
        }
        if (*p) return SL_PARSE;
    }
    int64_t days = days_from_civil(y, mo, d);
    *ms = ((days * 86400 + h * 3600 + mi * 60 + sec) - tz_min * 60) * 1000 + frac;
    return 0;
}

void sl_http_time_iso(int64_t ms, char out[32]) {
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int msec = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, (int)m, (int)d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), msec);
    snprintf(out, 32, "%.31s", tmp);
}

int sl_http_uint_parse(const char *s, int64_t max, int64_t *out) {
    if (!*s || strlen(s) > 18) return SL_PARSE;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return SL_PARSE;
        v = v * 10 + (*p - '0');
    }
    *out = v > max ? max : v;
    return 0;
}

/* ---------------------------------------------------------------- addresses */

int sl_http_listen_parse(const char *s, char *host, size_t hostlen, int *port) {
    const char *colon, *h = s, *he;
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':') return SL_PARSE;
        h = s + 1;
        he = rb;
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon && memchr(s, ':', (size_t)(colon - s))) return SL_PARSE;  /* bare v6 */
        he = colon ? colon : s;
    }
    const char *ps = colon ? colon + 1 : s;
    if (!colon) he = h;  /* "8080": loopback */
    if (!*ps || strlen(ps) > 5) return SL_PARSE;
    int v = 0;
    for (const char *p = ps; *p; p++) {
        if (*p < '0' || *p > '9') return SL_PARSE;
        v = v * 10 + (*p - '0');
    }
    if (v > 65535) return SL_PARSE;
    size_t hl = (size_t)(he - h);
    if (hl + 1 > hostlen) return SL_PARSE;
    for (size_t i = 0; i < hl; i++) {
        char c = h[i];
        if (!(isalnum((unsigned char)c) || c == '.' || c == '-' || (c == ':' && *s == '[')))
            return SL_PARSE;
    }
    if (!colon) {
        snprintf(host, hostlen, "127.0.0.1");
    } else {
        memcpy(host, h, hl);
        host[hl] = 0;
    }
    *port = v;
    return 0;
}

bool sl_http_host_loopback(const char *host) {
    if (strcasecmp(host, "localhost") == 0) return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        static const unsigned char lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a6.s6_addr, lo, 16) == 0) return true;
        return memcmp(a6.s6_addr, mapped, 12) == 0 && a6.s6_addr[12] == 127;
    }
    return false;
}

/* ---------------------------------------------------------------- bodies */

int sl_http_content_kind(const char *ct) {
    if (!ct) return SL_CT_OTHER;
    while (*ct == ' ') ct++;
    size_t n = 0;
    while (ct[n] && ct[n] != ';' && ct[n] != ' ') n++;
    static const struct { const char *name; int kind; } kinds[] = {
        {"application/json", SL_CT_JSON},          {"application/x-ndjson", SL_CT_NDJSON},
        {"application/ndjson", SL_CT_NDJSON},      {"application/jsonl", SL_CT_NDJSON},
        {"application/x-jsonlines", SL_CT_NDJSON}, {"application/jsonlines", SL_CT_NDJSON},
        {"application/x-www-form-urlencoded", SL_CT_FORM}, {NULL, 0}};
    for (size_t i = 0; kinds[i].name; i++)
        if (strlen(kinds[i].name) == n && strncasecmp(ct, kinds[i].name, n) == 0) return kinds[i].kind;
    return SL_CT_OTHER;
}

/* Prefix the JSON reader's reason ("line 3: malformed JSON: ..."). */
static int malformed(sl_json_error_t *err, unsigned long line) {
    char why[sizeof err->reason];
    memcpy(why, err->reason, sizeof why);
    why[sizeof why - 1] = 0;
    int n = line ? snprintf(err->reason, sizeof err->reason, "line %lu: malformed JSON: %.80s", line, why)
                 : snprintf(err->reason, sizeof err->reason, "malformed JSON: %.100s", why);
    (void)n;  /* a long reason is cut, which is fine for a message */
    return SL_PARSE;
}

static void push_value(sl_batch_t *batch, sl_value_t v, size_t bytes) {
    sl_record_t *rec = sl_batch_push(batch);
    rec->value = v;
    batch->bytes += bytes;
}

/* "a number" / "an array" / "null": what a non-object record was, for the 400. */
static const char *kind_phrase(sl_type_t t) {
    switch (t) {
    case SL_T_NULL: return "null";
    case SL_T_BOOL: return "a boolean";
    case SL_T_INT:
    case SL_T_DOUBLE: return "a number";
    case SL_T_STRING: return "a string";
    case SL_T_ARRAY: return "an array";
    default: return "not an object";
    }
}

/* The byte offset of element idx of the JSON array body[0..len) (which parsed whole):
 * the error path only, so the accepted path parses once. */
static size_t element_offset(const char *body, size_t len, uint32_t idx) {
    sl_arena_t scratch;
    sl_arena_init(&scratch, 4096);
    size_t at = 0;
    while (at < len && body[at] != '[') at++;
    at++;
    for (uint32_t i = 0; at < len; i++) {
        while (at < len && (body[at] == ' ' || body[at] == '\t' || body[at] == '\r' || body[at] == '\n'))
            at++;
        if (i == idx) break;
        sl_value_t v;
        size_t used = 0;
        sl_json_error_t e;
        if (sl_json_parse_prefix(&scratch, body + at, len - at, &v, &used, &e) != 0) break;
        at += used;
        while (at < len && body[at] != ',' && body[at] != ']') at++;
        at++;
    }
    sl_arena_free(&scratch);
    return at < len ? at : len;
}

/* Reject a non-object record: one rule for every body (DESIGN 2.9). */
static int not_object(sl_json_error_t *err, size_t offset, const char *what, sl_type_t t) {
    err->offset = offset;
    int n = snprintf(err->reason, sizeof err->reason, "%s is %s: a record must be a JSON object", what,
                     kind_phrase(t));
    (void)n;
    return SL_PARSE;
}

int sl_http_ingest_parse(const char *body, size_t len, int kind, sl_batch_t *batch,
                         sl_json_error_t *err) {
    if (kind == SL_CT_JSON) {
        sl_value_t v;
        if (sl_json_parse(&batch->arena, body, len, &v, err) != 0) return malformed(err, 0);
        if (v.type == SL_T_ARRAY) {
            for (uint32_t i = 0; i < v.len; i++) {
                if (v.u.a[i].type == SL_T_OBJECT) continue;
                char what[64];
                snprintf(what, sizeof what, "element %lu of the array (from 0)", (unsigned long)i);
                return not_object(err, element_offset(body, len, i), what, v.u.a[i].type);
            }
            for (uint32_t i = 0; i < v.len; i++) push_value(batch, v.u.a[i], v.len ? len / v.len : 0);
        } else if (v.type == SL_T_OBJECT) {
            push_value(batch, v, len);
        } else {
            size_t ws = 0;
            while (ws < len && (body[ws] == ' ' || body[ws] == '\t' || body[ws] == '\r' || body[ws] == '\n')) ws++;
            return not_object(err, ws, "the body (neither an object nor an array of objects)", v.type);
        }
        return 0;
    }
    size_t at = 0;
    unsigned long line = 0;
    while (at < len) {
        const char *nl = memchr(body + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - body) : len;
        size_t ws = at;
        line++;
        while (ws < end && (body[ws] == ' ' || body[ws] == '\t' || body[ws] == '\r')) ws++;
        if (ws < end) {
            sl_value_t v;
            if (sl_json_parse(&batch->arena, body + at, end - at, &v, err) != 0) {
                err->offset += at;
                return malformed(err, line);
            }
            if (v.type != SL_T_OBJECT) {
                char what[32];
                snprintf(what, sizeof what, "line %lu", line);
                return not_object(err, ws, what, v.type);
            }
            push_value(batch, v, end - at);
        }
        at = end + 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- query plan */

void sl_sql_ident(sl_buf_t *out, const char *s) {
    sl_buf_putc(out, '"');
    for (; *s; s++) {
        if (*s == '"') sl_buf_putc(out, '"');
        sl_buf_putc(out, *s);
    }
    sl_buf_putc(out, '"');
}

static const sl_qcol_t *find_col(const sl_qcol_t *cols, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(cols[i].name, name) == 0) return &cols[i];
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(cols[i].name, name) == 0) return &cols[i];
    return NULL;
}

/* A short, printable copy of a user-given name for error messages. */
static void shown(char *dst, size_t cap, const char *s) {
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) dst[o++] = (unsigned char)*s < 0x20 ? '?' : *s;
    if (*s) dst[o++] = '.', dst[o++] = '.', dst[o++] = '.';
    dst[o] = 0;
}

static void where_and(sl_qplan_t *plan) {
    sl_buf_puts(&plan->where, plan->where.len ? " AND " : " WHERE ");
}

static sl_qbind_t *new_bind(sl_qplan_t *plan, size_t cap) {
    return plan->nbinds < cap ? &plan->binds[plan->nbinds++] : NULL;
}

static void bind_value(sl_qbind_t *b, const sl_qcol_t *col, const char *val, bool like) {
    b->kind = 0;
    b->s = val;
    if (like || !col->numeric || !*val) return;
    char *end;
    errno = 0;
    long long i = strtoll(val, &end, 10);
    if (*end == 0 && errno == 0) {
        b->kind = 1;
        b->i = i;
        return;
    }
    double d = strtod(val, &end);
    if (*end == 0 && isfinite(d)) {
        b->kind = 2;
        b->d = d;
        return;
    }
    if (strcmp(val, "true") == 0 || strcmp(val, "false") == 0) {
        b->kind = 1;
        b->i = val[0] == 't';
    }
}

void sl_qplan_free(sl_qplan_t *plan) {
    sl_buf_free(&plan->where);
    sl_buf_free(&plan->order);
}

int sl_qplan_build(const sl_qcol_t *cols, size_t ncols, const sl_qarg_t *args, size_t nargs,
                   sl_arena_t *arena, sl_qplan_t *plan, char *why, size_t whylen) {
    memset(plan, 0, sizeof *plan);
    plan->limit = SL_QUERY_LIMIT_DEFAULT;
    size_t cap = nargs + 2;
    plan->binds = sl_arena_calloc(arena, cap * sizeof *plan->binds);
    const char *time = NULL, *from = NULL, *to = NULL, *order = NULL, *limit = NULL, *offset = NULL;
    char name[80];
    for (size_t i = 0; i < nargs; i++) {
        const char *k = args[i].key, *v = args[i].val;
        const char **slot = strcmp(k, "time") == 0 ? &time : strcmp(k, "from") == 0 ? &from
                          : strcmp(k, "to") == 0 ? &to : strcmp(k, "order") == 0 ? &order
                          : strcmp(k, "limit") == 0 ? &limit : strcmp(k, "offset") == 0 ? &offset : NULL;
        if (slot) {
            if (*slot) {
                WHY("parameter '%s' given twice", k);
                return SL_PARSE;
            }
            *slot = v;
            continue;
        }
        if (strcmp(k, "where") == 0) {
            sl_where_t w;
            if (sl_http_where_parse(v, arena, &w, why, whylen) != 0) return SL_PARSE;
            const sl_qcol_t *c = find_col(cols, ncols, w.col);
            if (!c) {
                shown(name, sizeof name, w.col);
                WHY("unknown column '%s' in 'where'", name);
                return SL_PARSE;
            }
            static const char *const sqlops[] = {" = ?", " <> ?", " < ?", " <= ?", " > ?", " >= ?",
                                                 " LIKE ? ESCAPE '\\'"};
            where_and(plan);
            sl_sql_ident(&plan->where, c->name);
            sl_buf_puts(&plan->where, sqlops[w.op]);
            bind_value(new_bind(plan, cap), c, w.val, w.op == SL_WHERE_LIKE);
            continue;
        }
        if (k[0] == '_') continue;  /* cache busters */
        shown(name, sizeof name, k);
        WHY("unknown parameter '%s' (use time from to order limit offset where)", name);
        return SL_PARSE;
    }
    if ((from || to) && !time) {
        WHY("'from' and 'to' need 'time=COLUMN'");
        return SL_PARSE;
    }
    if (time) {
        const sl_qcol_t *c = find_col(cols, ncols, time);
        if (!c) {
            shown(name, sizeof name, time);
            WHY("unknown column '%s' in 'time'", name);
            return SL_PARSE;
        }
        const char *vals[2] = {from, to};
        for (int i = 0; i < 2; i++) {
            if (!vals[i]) continue;
            int64_t ms;
            bool date_only;
            if (sl_http_time_parse(vals[i], &ms, &date_only) != 0) {
                shown(name, sizeof name, vals[i]);
                WHY("malformed date '%s' in '%s' (use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z or epoch ms)",
                    name, i ? "to" : "from");
                return SL_PARSE;
            }
            /* `to` is inclusive: a bare date means the whole day */
            const char *op = i == 0 ? " >= ?" : date_only ? " < ?" : " <= ?";
            if (i == 1 && date_only) ms += 86400000;
            where_and(plan);
            sl_sql_ident(&plan->where, c->name);
            sl_buf_puts(&plan->where, op);
            sl_qbind_t *b = new_bind(plan, cap);
            if (c->numeric) {
                b->kind = 1;
                b->i = ms;
            } else {
                char iso[32];
                sl_http_time_iso(ms, iso);
                b->kind = 0;
                b->s = sl_arena_strndup(arena, iso, strlen(iso));
            }
        }
    }
    if (order) {
        char *col;
        bool desc;
        if (sl_http_order_parse(order, arena, &col, &desc, why, whylen) != 0) return SL_PARSE;
        const sl_qcol_t *c = find_col(cols, ncols, col);
        if (!c) {
            shown(name, sizeof name, col);
            WHY("unknown column '%s' in 'order'", name);
            return SL_PARSE;
        }
        sl_buf_puts(&plan->order, " ORDER BY ");
        sl_sql_ident(&plan->order, c->name);
        sl_buf_puts(&plan->order, desc ? " DESC" : " ASC");
    }
    if (limit && sl_http_uint_parse(limit, SL_QUERY_LIMIT_MAX, &plan->limit) != 0) {
        WHY("'limit' must be a number (at most %d)", SL_QUERY_LIMIT_MAX);
        return SL_PARSE;
    }
    if (offset && sl_http_uint_parse(offset, INT64_C(1000000000000), &plan->offset) != 0) {
        WHY("'offset' must be a number");
        return SL_PARSE;
    }
    return 0;
}
