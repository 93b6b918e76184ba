/* expr_func.c - the functions of the expression language: one table (name, arity,
 * implementation, signature, null behaviour, example) that drives the compiler's
 * lookup and arity checks, "did you mean", and the generated reference
 * (sl_expr_doc -> docs/EXPRESSIONS.md).  The unit tests evaluate every example of the
 * table and compare it with its documented result, so the docs cannot drift.
 *
 * General rules (printed at the top of the reference):
 *  - a function of null is null unless its row says otherwise;
 *  - a wrong type (e.g. upper(5)) or a conversion that fails (number("abc")) is an
 *    evaluation error: the record goes to the job's dead-letter topic;
 *  - functions documented to "return null when malformed" (parse_time, flare_rank,
 *    flare_flux) never fail, so `where` can filter on them. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expr_int.h"
#include "sha1.h"

/* every implementation has the ex_impl_t signature; not all use every parameter */
#define U __attribute__((unused))
#define FN(name) static int fn_##name(U const ex_node_t *call, U const sl_expr_ctx_t *ctx, \
                                      U sl_value_t *argv, U int argc, sl_value_t *out, U sl_error_t *err)

#define NULL_IF_ANY()                                                   \
    do {                                                                \
        for (int i_ = 0; i_ < argc; i_++)                               \
            if (argv[i_].type == SL_T_NULL) { *out = sl_null(); return 0; } \
    } while (0)

static const char *tname(sl_value_t v) { return sl_type_name((sl_type_t)v.type); }

static int bad_arg(const ex_node_t *call, int i, const char *want, sl_value_t got, sl_error_t *err) {
    return sl_error_set(err, SL_EVAL, "%s: argument %d must be %s, got %s", call->fn->name, i + 1,
                        want, tname(got));
}

static int need_str(const ex_node_t *call, sl_value_t *argv, int i, sl_error_t *err) {
    return argv[i].type == SL_T_STRING ? 0 : bad_arg(call, i, "a string", argv[i], err);
}

static int need_num(const ex_node_t *call, sl_value_t *argv, int i, double *d, sl_error_t *err) {
    *d = 0;
    if (!sl_is_number(argv[i])) return bad_arg(call, i, "a number", argv[i], err);
    *d = argv[i].type == SL_T_INT ? (double)argv[i].u.i : argv[i].u.d;
    return 0;
}

/* An integer argument (an int, or a double without fraction). */
static int need_int(const ex_node_t *call, sl_value_t *argv, int i, int64_t *v, sl_error_t *err) {
    sl_value_t a = argv[i];
    *v = 0;
    if (a.type == SL_T_INT) { *v = a.u.i; return 0; }
    if (a.type == SL_T_DOUBLE && a.u.d == floor(a.u.d) && fabs(a.u.d) < 9.2e18) {
        *v = (int64_t)a.u.d;
        return 0;
    }
    return bad_arg(call, i, "an integer", a, err);
}

static sl_value_t arena_str(sl_arena_t *arena, const char *s, size_t n) {
    return sl_str(sl_arena_strndup(arena, s, n), n);
}

/* ---- UTF-8 ---- */

static size_t utf8_count(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Byte offset of code point number k (or n when past the end). */
static size_t utf8_offset(const char *s, size_t n, size_t k) {
    size_t i = 0;
    while (i < n && k) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
        k--;
    }
    return i;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static void trim(const char **s, size_t *n) {
    while (*n && is_space(**s)) { (*s)++; (*n)--; }
    while (*n && is_space((*s)[*n - 1])) (*n)--;
}

/* ======================================================================
 * types
 * ====================================================================== */

/* Decimal number syntax: [+-] digits [. digits] [e [+-] digits] (".5" and "5." too). */
static bool parse_decimal(const char *s, size_t n, sl_value_t *out) {
    size_t i = 0, digits = 0;
    bool frac = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t int_start = i;
    while (i < n && isdigit((unsigned char)s[i])) { i++; digits++; }
    size_t int_end = i;
    if (i < n && s[i] == '.') {
        frac = true;
        i++;
        while (i < n && isdigit((unsigned char)s[i])) { i++; digits++; }
    }
    if (!digits) return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        frac = true;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || !isdigit((unsigned char)s[i])) return false;
        while (i < n && isdigit((unsigned char)s[i])) i++;
    }
    if (i != n) return false;
    char tmp[128];
    if (n >= sizeof tmp) return false;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    if (!frac && int_end - int_start <= 18) {
        *out = sl_int(strtoll(tmp, NULL, 10));
        return true;
    }
    if (!frac) {
        errno = 0;
        long long v = strtoll(tmp, NULL, 10);
        if (errno == 0) { *out = sl_int(v); return true; }
    }
    double d = strtod(tmp, NULL);
    if (!(d - d == 0)) return false;
    *out = sl_double(d);
    return true;
}

FN(number) {
    sl_value_t a = argv[0];
    switch (a.type) {
    case SL_T_NULL: case SL_T_INT: case SL_T_DOUBLE: *out = a; return 0;
    case SL_T_BOOL: *out = sl_int(a.u.b); return 0;
    case SL_T_STRING: {
        const char *s = a.u.s;
        size_t n = a.len;
        trim(&s, &n);
        if (n == 0) { *out = sl_null(); return 0; }
        if (parse_decimal(s, n, out)) return 0;
        return sl_error_set(err, SL_EVAL, "number: not a number: \"%.*s\"", (int)(n > 60 ? 60 : n), s);
    }
    }
    return bad_arg(call, 0, "a string or a number", a, err);
}

FN(int) {
    sl_value_t v;
    if (fn_number(call, ctx, argv, argc, &v, err)) return SL_EVAL;
    /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): fn_number sets v whenever it returns 0 */
    if (v.type == SL_T_DOUBLE) {
        double t = trunc(v.u.d);
        if (!(t >= -9223372036854775808.0 && t < 9223372036854775808.0))
            return sl_error_set(err, SL_EVAL, "int: %g is out of range", v.u.d);
        v = sl_int((int64_t)t);
    }
    *out = v;
    return 0;
}

FN(string) {
    *out = argv[0].type == SL_T_NULL ? sl_null() : ex_to_text(ctx->arena, argv[0]);
    return 0;
}

static bool word_eq(const char *s, size_t n, const char *w) {
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

FN(bool) {
    sl_value_t a = argv[0];
    switch (a.type) {
    case SL_T_NULL: case SL_T_BOOL: *out = a; return 0;
    case SL_T_INT: *out = sl_bool(a.u.i != 0); return 0;
    case SL_T_DOUBLE: *out = sl_bool(a.u.d != 0); return 0;
    case SL_T_STRING: {
        const char *s = a.u.s;
        size_t n = a.len;
        trim(&s, &n);
        if (n == 0) { *out = sl_null(); return 0; }
        static const char *const yes[] = {"true", "yes", "on", "1", "y", "t"};
        static const char *const no[] = {"false", "no", "off", "0", "n", "f"};
        for (int i = 0; i < 6; i++) {
            if (word_eq(s, n, yes[i])) { *out = sl_bool(true); return 0; }
            if (word_eq(s, n, no[i])) { *out = sl_bool(false); return 0; }
        }
        return sl_error_set(err, SL_EVAL, "bool: not a boolean: \"%.*s\"", (int)(n > 60 ? 60 : n), s);
    }
    }
    return bad_arg(call, 0, "a string, number or bool", a, err);
}

FN(type) {
    const char *t = tname(argv[0]);
    *out = sl_str(t, strlen(t));
    return 0;
}

FN(is_null) {
    *out = sl_bool(argv[0].type == SL_T_NULL);
    return 0;
}

/* ======================================================================
 * text
 * ====================================================================== */

static int map_case(const ex_node_t *call, const sl_expr_ctx_t *ctx, sl_value_t *argv,
                    sl_value_t *out, sl_error_t *err, bool up) {
    if (argv[0].type == SL_T_NULL) { *out = sl_null(); return 0; }
    if (need_str(call, argv, 0, err)) return SL_EVAL;
    const char *s = argv[0].u.s;
    size_t n = argv[0].len, i = 0;
    /* return the input itself when nothing changes (no allocation) */
    for (; i < n; i++) {
        char c = s[i];
        if (up ? (c >= 'a' && c <= 'z') : (c >= 'A' && c <= 'Z')) break;
    }
    if (i == n) { *out = argv[0]; return 0; }
    char *o = sl_arena_alloc(ctx->arena, n + 1);
    memcpy(o, s, n);
    o[n] = 0;
    for (; i < n; i++) {
        char c = o[i];
        if (up && c >= 'a' && c <= 'z') o[i] = (char)(c - 32);
        else if (!up && c >= 'A' && c <= 'Z') o[i] = (char)(c + 32);
    }
    *out = sl_str(o, n);
    return 0;
}

FN(lower) { return map_case(call, ctx, argv, out, err, false); }
FN(upper) { return map_case(call, ctx, argv, out, err, true); }

FN(trim) {
    if (argv[0].type == SL_T_NULL) { *out = sl_null(); return 0; }
    if (need_str(call, argv, 0, err)) return SL_EVAL;
    const char *s = argv[0].u.s;
    size_t n = argv[0].len;
    trim(&s, &n);
    if (n == argv[0].len) *out = argv[0];
    else *out = arena_str(ctx->arena, s, n);
    return 0;
}

FN(length) {
    sl_value_t a = argv[0];
    switch (a.type) {
    case SL_T_NULL: *out = a; return 0;
    case SL_T_STRING: *out = sl_int((int64_t)utf8_count(a.u.s, a.len)); return 0;
    case SL_T_ARRAY: case SL_T_OBJECT: *out = sl_int(a.len); return 0;
    }
    return bad_arg(call, 0, "a string, array or object", a, err);
}

FN(substr) {
    NULL_IF_ANY();
    if (need_str(call, argv, 0, err)) return SL_EVAL;
    int64_t start, cnt = INT64_MAX;
    if (need_int(call, argv, 1, &start, err)) return SL_EVAL;
    if (argc > 2 && need_int(call, argv, 2, &cnt, err)) return SL_EVAL;
    const char *s = argv[0].u.s;
    size_t n = argv[0].len;
    int64_t total = (int64_t)utf8_count(s, n);
    if (start < 0) start = start + total < 0 ? 0 : start + total;
    if (start > total) start = total;
    if (cnt < 0) cnt = 0;
    if (cnt > total - start) cnt = total - start;
    size_t b = utf8_offset(s, n, (size_t)start);
    size_t e = b + utf8_offset(s + b, n - b, (size_t)cnt);
    *out = (b == 0 && e == n) ? argv[0] : arena_str(ctx->arena, s + b, e - b);
    return 0;
}

FN(contains) {
    NULL_IF_ANY();
    if (argv[0].type == SL_T_ARRAY) {
        for (uint32_t i = 0; i < argv[0].len; i++)
            if (ex_equal(argv[0].u.a[i], argv[1])) { *out = sl_bool(true); return 0; }
        *out = sl_bool(false);
        return 0;
    }
    if (argv[0].type != SL_T_STRING) return bad_arg(call, 0, "a string or an array", argv[0], err);
    if (need_str(call, argv, 1, err)) return SL_EVAL;
    *out = sl_bool(argv[1].len == 0 ||
                   memmem(argv[0].u.s, argv[0].len, argv[1].u.s, argv[1].len) != NULL);
    return 0;
}

FN(starts_with) {
    NULL_IF_ANY();
    if (need_str(call, argv, 0, err) || need_str(call, argv, 1, err)) return SL_EVAL;
    *out = sl_bool(argv[1].len <= argv[0].len && memcmp(argv[0].u.s, argv[1].u.s, argv[1].len) == 0);
    return 0;
}

FN(ends_with) {
    NULL_IF_ANY();
    if (need_str(call, argv, 0, err) || need_str(call, argv, 1, err)) return SL_EVAL;
    *out = sl_bool(argv[1].len <= argv[0].len &&
                   memcmp(argv[0].u.s + argv[0].len - argv[1].len, argv[1].u.s, argv[1].len) == 0);
    return 0;
}

FN(replace) {
    NULL_IF_ANY();
    for (int i = 0; i < 3; i++)
        if (need_str(call, argv, i, err)) return SL_EVAL;
    const char *s = argv[0].u.s, *old = argv[1].u.s, *rep = argv[2].u.s;
    size_t n = argv[0].len, on = argv[1].len, rn = argv[2].len;
    if (on == 0) { *out = argv[0]; return 0; }
    size_t count = 0;
    for (const char *p = s; (p = memmem(p, n - (size_t)(p - s), old, on)); p += on) count++;
    if (!count) { *out = argv[0]; return 0; }
    size_t total = n - count * on + count * rn;
    char *o = sl_arena_alloc(ctx->arena, total + 1), *w = o;
    const char *p = s, *q;
    while ((q = memmem(p, n - (size_t)(p - s), old, on))) {
        memcpy(w, p, (size_t)(q - p));
        w += q - p;
        memcpy(w, rep, rn);
        w += rn;
        p = q + on;
    }
    memcpy(w, p, n - (size_t)(p - s));
    o[total] = 0;
    *out = sl_str(o, total);
    return 0;
}

FN(split) {
    NULL_IF_ANY();
    if (need_str(call, argv, 0, err) || need_str(call, argv, 1, err)) return SL_EVAL;
    const char *s = argv[0].u.s, *sep = argv[1].u.s;
    size_t n = argv[0].len, sn = argv[1].len;
    if (sn == 0) {   /* into code points */
        size_t cnt = utf8_count(s, n);
        sl_value_t r = sl_array_new(ctx->arena, cnt);
        size_t i = 0;
        for (size_t k = 0; k < cnt; k++) {
            size_t e = i + utf8_offset(s + i, n - i, 1);
            r.u.a[k] = arena_str(ctx->arena, s + i, e - i);
            i = e;
        }
        r.len = (uint32_t)cnt;
        *out = r;
        return 0;
    }
    size_t cnt = 1;
    for (const char *p = s; (p = memmem(p, n - (size_t)(p - s), sep, sn)); p += sn) cnt++;
    sl_value_t r = sl_array_new(ctx->arena, cnt);
    const char *p = s, *q;
    size_t k = 0;
    while ((q = memmem(p, n - (size_t)(p - s), sep, sn))) {
        r.u.a[k++] = arena_str(ctx->arena, p, (size_t)(q - p));
        p = q + sn;
    }
    r.u.a[k++] = arena_str(ctx->arena, p, n - (size_t)(p - s));
    r.len = (uint32_t)k;
    *out = r;
    return 0;
}

FN(join) {
    if (argv[0].type == SL_T_NULL) { *out = sl_null(); return 0; }
    if (argv[0].type != SL_T_ARRAY) return bad_arg(call, 0, "an array", argv[0], err);
    sl_value_t sep = sl_str("", 0);
    if (argc > 1 && argv[1].type != SL_T_NULL) {
        if (need_str(call, argv, 1, err)) return SL_EVAL;
        sep = argv[1];
    }
    uint32_t n = argv[0].len;
    sl_value_t *parts = sl_arena_alloc(ctx->arena, (n ? n : 1) * sizeof *parts);
    size_t total = n ? (size_t)(n - 1) * sep.len : 0;
    for (uint32_t i = 0; i < n; i++) {
        sl_value_t v = argv[0].u.a[i];
        parts[i] = v.type == SL_T_NULL ? sl_str("", 0) : ex_to_text(ctx->arena, v);
        total += parts[i].len;
    }
    char *o = sl_arena_alloc(ctx->arena, total + 1), *w = o;
    for (uint32_t i = 0; i < n; i++) {
        if (i && sep.len) { memcpy(w, sep.u.s, sep.len); w += sep.len; }
        if (parts[i].len) { memcpy(w, parts[i].u.s, parts[i].len); w += parts[i].len; }
    }
    *w = 0;
    *out = sl_str(o, total);
    return 0;
}

FN(between) {
    if (argv[0].type == SL_T_NULL || argv[1].type == SL_T_NULL) { *out = sl_null(); return 0; }
    if (need_str(call, argv, 0, err) || need_str(call, argv, 1, err)) return SL_EVAL;
    if (argv[2].type != SL_T_NULL && need_str(call, argv, 2, err)) return SL_EVAL;
    const char *s = argv[0].u.s;
    size_t n = argv[0].len;
    const char *a = memmem(s, n, argv[1].u.s, argv[1].len);
    if (!a) { *out = sl_null(); return 0; }
    const char *from = a + argv[1].len, *end = s + n;
    if (argv[2].type == SL_T_STRING && argv[2].len) {
        const char *b = memmem(from, (size_t)(end - from), argv[2].u.s, argv[2].len);
        if (b) end = b;
    }
    size_t len = (size_t)(end - from);
    trim(&from, &len);
    *out = arena_str(ctx->arena, from, len);
    return 0;
}

/* ---- regex (POSIX extended) ---- */

static void regex_release(void *p) {
    regfree(p);
    free(p);
}

static int regex_prepare(sl_expr_t *expr, ex_node_t *call, char *errbuf, size_t errlen, size_t *err_pos) {
    ex_node_t *pat = call->kids[1];
    if (pat->kind != EX_LIT || pat->lit.type != SL_T_STRING) return 0;
    regex_t *re = malloc(sizeof *re);
    if (!re) abort();
    int rc = regcomp(re, pat->lit.u.s, REG_EXTENDED);
    if (rc != 0) {
        char msg[160];
        regerror(rc, re, msg, sizeof msg);
        free(re);
        snprintf(errbuf, errlen, "%s: invalid regular expression: %s", call->fn->name, msg);
        *err_pos = pat->pos;
        return -1;
    }
    call->cache = re;
    ex_add_cleanup(expr, regex_release, re);
    return 0;
}

/* Run the regex of argv[1] (the cached one when the pattern is a literal). */
static int regex_run(const ex_node_t *call, sl_value_t *argv, regmatch_t *m, size_t nm,
                     size_t *nsub, int *matched, sl_error_t *err) {
    regex_t local, *re = call->cache;
    if (!re) {
        int rc = regcomp(&local, argv[1].u.s, REG_EXTENDED);
        if (rc != 0) {
            char msg[160];
            regerror(rc, &local, msg, sizeof msg);
            return sl_error_set(err, SL_EVAL, "%s: invalid regular expression: %s", call->fn->name, msg);
        }
        re = &local;
    }
    *nsub = re->re_nsub;
#ifdef REG_STARTEND
    m[0].rm_so = 0;
    m[0].rm_eo = (regoff_t)argv[0].len;
    *matched = regexec(re, argv[0].u.s, nm, m, REG_STARTEND) == 0;
#else
    *matched = regexec(re, argv[0].u.s, nm, m, 0) == 0;
#endif
    if (re == &local) regfree(&local);
    return 0;
}

FN(regex_match) {
    NULL_IF_ANY();
    if (need_str(call, argv, 0, err) || need_str(call, argv, 1, err)) return SL_EVAL;
    regmatch_t m[1];
    size_t nsub = 0;   /* set by regex_run on success; 0 for the analyzer */
    int ok = 0;
    if (regex_run(call, argv, m, 1, &nsub, &ok, err)) return SL_EVAL;
    *out = sl_bool(ok);
    return 0;
}

FN(regex_extract) {
    NULL_IF_ANY();
    if (need_str(call, argv, 0, err) || need_str(call, argv, 1, err)) return SL_EVAL;
    int64_t group = -1;
    if (argc > 2 && need_int(call, argv, 2, &group, err)) return SL_EVAL;
    regmatch_t m[10];
    size_t nsub = 0;   /* set by regex_run on success; 0 for the analyzer */
    int ok = 0;
    if (regex_run(call, argv, m, 10, &nsub, &ok, err)) return SL_EVAL;
    if (group < 0 && argc > 2) return sl_error_set(err, SL_EVAL, "regex_extract: group must be >= 0");
    if (group < 0) group = nsub ? 1 : 0;
    if (group > 9 || (size_t)group > nsub)
        return sl_error_set(err, SL_EVAL, "regex_extract: no group %lld (the pattern has %zu)",
                            (long long)group, nsub);
    if (!ok || m[group].rm_so < 0) { *out = sl_null(); return 0; }
    *out = arena_str(ctx->arena, argv[0].u.s + m[group].rm_so, (size_t)(m[group].rm_eo - m[group].rm_so));
    return 0;
}

/* ======================================================================
 * time
 * ====================================================================== */

int64_t ex_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void ex_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static bool digits(const char *s, size_t n, size_t at, size_t k, int *v) {
    if (at + k > n) return false;
    int r = 0;
    for (size_t i = 0; i < k; i++) {
        if (!isdigit((unsigned char)s[at + i])) return false;
        r = r * 10 + (s[at + i] - '0');
    }
    *v = r;
    return true;
}

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* ISO-8601 / RFC 3339 and "YYYY-MM-DD HH:MM:SS"; see the table for the forms. */
static bool parse_iso(const char *s, size_t n, int64_t *ms) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h = 0, mi = 0, sec = 0, frac_ms = 0, off = 0;
    if (!digits(s, n, 0, 4, &y) || n < 10 || s[4] != '-' || !digits(s, n, 5, 2, &mo) ||
        s[7] != '-' || !digits(s, n, 8, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y))) return false;
    size_t i = 10;
    if (i < n) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return false;
        i++;
        if (!digits(s, n, i, 2, &h) || i + 2 >= n || s[i + 2] != ':' || !digits(s, n, i + 3, 2, &mi))
            return false;
        i += 5;
        if (h > 23 || mi > 59) return false;
        if (i < n && s[i] == ':') {
            if (!digits(s, n, i + 1, 2, &sec) || sec > 60) return false;
            i += 3;
            if (i < n && (s[i] == '.' || s[i] == ',')) {
                i++;
                size_t f0 = i;
                int scale = 100;
                while (i < n && isdigit((unsigned char)s[i])) {
                    frac_ms += (s[i] - '0') * scale;
                    scale /= 10;
                    i++;
                }
                if (i == f0) return false;
            }
        }
        if (i < n) {
            if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
                i++;
            } else if (s[i] == '+' || s[i] == '-') {
                int oh, om = 0, sign = s[i] == '-' ? -1 : 1;
                if (!digits(s, n, i + 1, 2, &oh)) return false;
                i += 3;
                if (i < n && s[i] == ':') i++;
                if (i < n) {
                    if (!digits(s, n, i, 2, &om)) return false;
                    i += 2;
                }
                if (oh > 23 || om > 59 || i != n) return false;
                off = sign * (oh * 60 + om);
            } else {
                return false;
            }
        }
    }
    if (i != n) return false;
    int64_t days = ex_days_from_civil(y, (unsigned)mo, (unsigned)d);
    *ms = ((days * 24 + h) * 60 + mi - off) * 60000 + (int64_t)sec * 1000 + frac_ms;
    return true;
}

/* Epoch seconds or milliseconds: |n| < 1e11 is seconds (1e11 s is the year 5138). */
static bool epoch_ms(double v, int64_t *ms) {
    if (!(v - v == 0)) return false;
    double r = fabs(v) < 1e11 ? v * 1000.0 : v;
    r = floor(r + 0.5);
    if (!(r > -9.2e18 && r < 9.2e18)) return false;
    *ms = (int64_t)r;
    return true;
}

FN(parse_time) {
    sl_value_t a = argv[0];
    int64_t ms;
    *out = sl_null();
    if (a.type == SL_T_INT) {
        if (a.u.i > -100000000000LL && a.u.i < 100000000000LL) *out = sl_int(a.u.i * 1000);
        else *out = a;
        return 0;
    }
    if (a.type == SL_T_DOUBLE) {
        if (epoch_ms(a.u.d, &ms)) *out = sl_int(ms);
        return 0;
    }
    if (a.type != SL_T_STRING) return 0;
    const char *s = a.u.s;
    size_t n = a.len;
    trim(&s, &n);
    sl_value_t num;
    if (n && parse_decimal(s, n, &num)) {
        if (num.type == SL_T_INT) {
            argv[0] = num;
            return fn_parse_time(call, ctx, argv, argc, out, err);
        }
        if (epoch_ms(num.u.d, &ms)) *out = sl_int(ms);
        return 0;
    }
    if (parse_iso(s, n, &ms)) *out = sl_int(ms);
    return 0;
}

FN(now) {
    *out = sl_int(ctx->now_ms);
    return 0;
}

FN(format_time) {
    if (argv[0].type == SL_T_NULL || (argc > 1 && argv[1].type == SL_T_NULL)) { *out = sl_null(); return 0; }
    double t;
    if (need_num(call, argv, 0, &t, err)) return SL_EVAL;
    const char *fmt = "%Y-%m-%dT%H:%M:%SZ";
    if (argc > 1) {
        if (need_str(call, argv, 1, err)) return SL_EVAL;
        fmt = argv[1].u.s;
    }
    if (!(t > -9.2e18 && t < 9.2e18)) { *out = sl_null(); return 0; }
    int64_t ms = argv[0].type == SL_T_INT ? argv[0].u.i : (int64_t)floor(t);
    int64_t days = floor_div(ms, 86400000);
    int64_t rem = ms - days * 86400000;
    int64_t y;
    unsigned m, d;
    ex_civil_from_days(days, &y, &m, &d);
    if (y < -2000000000LL || y > 2000000000LL) { *out = sl_null(); return 0; }
    struct tm tm = {0};
    tm.tm_year = (int)(y - 1900);
    tm.tm_mon = (int)m - 1;
    tm.tm_mday = (int)d;
    tm.tm_hour = (int)(rem / 3600000);
    tm.tm_min = (int)(rem / 60000 % 60);
    tm.tm_sec = (int)(rem / 1000 % 60);
    tm.tm_wday = (int)(((days % 7) + 11) % 7);   /* 1970-01-01 was a Thursday */
    tm.tm_yday = (int)(days - ex_days_from_civil(y, 1, 1));
    char buf[512];
    if (fmt[0] == 0) { *out = sl_str("", 0); return 0; }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    size_t n = strftime(buf, sizeof buf, fmt, &tm);
#pragma GCC diagnostic pop
    if (n == 0) return sl_error_set(err, SL_EVAL, "format_time: the result is empty or longer than %zu bytes", sizeof buf - 1);
    *out = arena_str(ctx->arena, buf, n);
    return 0;
}

/* ======================================================================
 * math
 * ====================================================================== */

/* A double result as int when integral and in range. */
static sl_value_t int_if_fits(double r) {
    if (r >= -9223372036854775808.0 && r < 9223372036854775808.0) return sl_int((int64_t)r);
    return ex_num(r);
}

FN(abs) {
    NULL_IF_ANY();
    double d;
    if (need_num(call, argv, 0, &d, err)) return SL_EVAL;
    if (argv[0].type == SL_T_INT) *out = argv[0].u.i == INT64_MIN ? sl_double(-d) : sl_int(argv[0].u.i < 0 ? -argv[0].u.i : argv[0].u.i);
    else *out = sl_double(fabs(d));
    return 0;
}

FN(round) {
    NULL_IF_ANY();
    double x;
    int64_t digs = 0;
    if (need_num(call, argv, 0, &x, err)) return SL_EVAL;
    if (argc > 1 && need_int(call, argv, 1, &digs, err)) return SL_EVAL;
    if (digs > 15) digs = 15;
    if (digs < -18) digs = -18;
    if (argv[0].type == SL_T_INT && digs >= 0) { *out = argv[0]; return 0; }
    if (digs == 0) { *out = int_if_fits(round(x)); return 0; }
    double p = pow(10.0, (double)(digs < 0 ? -digs : digs));
    double r = digs > 0 ? round(x * p) / p : round(x / p) * p;
    *out = digs > 0 ? ex_num(r) : int_if_fits(r);
    return 0;
}

FN(floor) {
    NULL_IF_ANY();
    double x;
    if (need_num(call, argv, 0, &x, err)) return SL_EVAL;
    *out = argv[0].type == SL_T_INT ? argv[0] : int_if_fits(floor(x));
    return 0;
}

FN(ceil) {
    NULL_IF_ANY();
    double x;
    if (need_num(call, argv, 0, &x, err)) return SL_EVAL;
    *out = argv[0].type == SL_T_INT ? argv[0] : int_if_fits(ceil(x));
    return 0;
}

static int minmax(const ex_node_t *call, sl_value_t *argv, int argc, sl_value_t *out,
                  sl_error_t *err, int sign) {
    const sl_value_t *v = argv;
    size_t n = (size_t)argc;
    if (argc == 1 && argv[0].type == SL_T_ARRAY) { v = argv[0].u.a; n = argv[0].len; }
    *out = sl_null();
    for (size_t i = 0; i < n; i++) {
        if (v[i].type == SL_T_NULL) continue;
        if (!sl_is_number(v[i]) && v[i].type != SL_T_STRING)
            return sl_error_set(err, SL_EVAL, "%s: cannot compare %s", call->fn->name, tname(v[i]));
        if (out->type == SL_T_NULL) { *out = v[i]; continue; }
        int c;
        if (!ex_order(v[i], *out, &c)) {
            if (sl_is_number(v[i])) continue;   /* NaN */
            return sl_error_set(err, SL_EVAL, "%s: cannot compare %s with %s", call->fn->name,
                                tname(v[i]), tname(*out));
        }
        if (c * sign > 0) *out = v[i];
    }
    return 0;
}

FN(min) { return minmax(call, argv, argc, out, err, -1); }
FN(max) { return minmax(call, argv, argc, out, err, 1); }

FN(pow) {
    NULL_IF_ANY();
    double x, y;
    if (need_num(call, argv, 0, &x, err) || need_num(call, argv, 1, &y, err)) return SL_EVAL;
    if (argv[0].type == SL_T_INT && argv[1].type == SL_T_INT && argv[1].u.i >= 0) {
        int64_t b = argv[0].u.i, e = argv[1].u.i, r = 1;
        bool over = false;
        while (e > 0 && !over) {
            if (e & 1) over |= __builtin_mul_overflow(r, b, &r);
            e >>= 1;
            if (e) over |= __builtin_mul_overflow(b, b, &b);
        }
        if (!over) { *out = sl_int(r); return 0; }
    }
    *out = ex_num(pow(x, y));
    return 0;
}

FN(sqrt) {
    NULL_IF_ANY();
    double x;
    if (need_num(call, argv, 0, &x, err)) return SL_EVAL;
    *out = ex_num(sqrt(x));
    return 0;
}

/* ======================================================================
 * arrays and objects
 * ====================================================================== */

FN(first) {
    sl_value_t a = argv[0];
    if (a.type == SL_T_NULL) { *out = a; return 0; }
    if (a.type == SL_T_ARRAY) { *out = a.len ? a.u.a[0] : sl_null(); return 0; }
    if (a.type == SL_T_STRING) {
        *out = a.len ? arena_str(ctx->arena, a.u.s, utf8_offset(a.u.s, a.len, 1)) : sl_null();
        return 0;
    }
    return bad_arg(call, 0, "an array or a string", a, err);
}

FN(last) {
    sl_value_t a = argv[0];
    if (a.type == SL_T_NULL) { *out = a; return 0; }
    if (a.type == SL_T_ARRAY) { *out = a.len ? a.u.a[a.len - 1] : sl_null(); return 0; }
    if (a.type == SL_T_STRING) {
        if (!a.len) { *out = sl_null(); return 0; }
        size_t i = a.len - 1;
        while (i > 0 && ((unsigned char)a.u.s[i] & 0xC0) == 0x80) i--;
        *out = arena_str(ctx->arena, a.u.s + i, a.len - i);
        return 0;
    }
    return bad_arg(call, 0, "an array or a string", a, err);
}

FN(get) {
    sl_value_t c = argv[0], k = argv[1];
    *out = argc > 2 ? argv[2] : sl_null();
    if (c.type == SL_T_OBJECT && k.type == SL_T_STRING) {
        for (uint32_t i = c.len; i-- > 0;)
            if (c.u.o[i].key_len == k.len && memcmp(c.u.o[i].key, k.u.s, k.len) == 0) {
                *out = c.u.o[i].val;
                break;
            }
    } else if (c.type == SL_T_ARRAY && sl_is_number(k)) {
        int64_t i;
        if (need_int(call, argv, 1, &i, err)) return SL_EVAL;
        if (i < 0) i += c.len;
        if (i >= 0 && i < (int64_t)c.len) *out = c.u.a[i];
    }
    return 0;
}

FN(zip_object) {
    NULL_IF_ANY();
    if (argv[0].type != SL_T_ARRAY) return bad_arg(call, 0, "an array", argv[0], err);
    if (argv[1].type != SL_T_ARRAY) return bad_arg(call, 1, "an array", argv[1], err);
    sl_value_t ks = argv[0], vs = argv[1];
    sl_value_t o = sl_object_new(ctx->arena, ks.len);
    uint32_t m = 0;
    for (uint32_t i = 0; i < ks.len; i++) {
        sl_value_t k = ks.u.a[i];
        if (k.type == SL_T_NULL) continue;
        if (k.type != SL_T_STRING) {
            if (k.type == SL_T_ARRAY || k.type == SL_T_OBJECT)
                return sl_error_set(err, SL_EVAL, "zip_object: key %u is %s", i, tname(k));
            k = ex_to_text(ctx->arena, k);
        }
        o.u.o[m].key = k.u.s;
        o.u.o[m].key_len = k.len;
        o.u.o[m].val = i < vs.len ? vs.u.a[i] : sl_null();
        m++;
    }
    o.len = m;
    *out = o;
    return 0;
}

FN(keys) {
    if (argv[0].type == SL_T_NULL) { *out = sl_null(); return 0; }
    if (argv[0].type != SL_T_OBJECT) return bad_arg(call, 0, "an object", argv[0], err);
    sl_value_t r = sl_array_new(ctx->arena, argv[0].len);
    for (uint32_t i = 0; i < argv[0].len; i++)
        r.u.a[i] = sl_str(argv[0].u.o[i].key, argv[0].u.o[i].key_len);
    r.len = argv[0].len;
    *out = r;
    return 0;
}

FN(values) {
    if (argv[0].type == SL_T_NULL) { *out = sl_null(); return 0; }
    if (argv[0].type != SL_T_OBJECT) return bad_arg(call, 0, "an object", argv[0], err);
    sl_value_t r = sl_array_new(ctx->arena, argv[0].len);
    for (uint32_t i = 0; i < argv[0].len; i++) r.u.a[i] = argv[0].u.o[i].val;
    r.len = argv[0].len;
    *out = r;
    return 0;
}

/* ======================================================================
 * geo and astro
 * ====================================================================== */

#define DEG (M_PI / 180.0)

static int nums(const ex_node_t *call, sl_value_t *argv, int argc, double *d, sl_error_t *err) {
    for (int i = 0; i < argc; i++)
        if (need_num(call, argv, i, &d[i], err)) return SL_EVAL;
    return 0;
}

/* Central angle (radians) between two points, haversine form (stable for small
 * distances; the clamp keeps antipodes finite). */
static double central_angle(double lat1, double lon1, double lat2, double lon2) {
    double dlat = (lat2 - lat1) * DEG, dlon = (lon2 - lon1) * DEG;
    double h = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * DEG) * cos(lat2 * DEG) * sin(dlon / 2) * sin(dlon / 2);
    if (h > 1) h = 1;
    return 2 * asin(sqrt(h));
}

FN(distance_km) {
    NULL_IF_ANY();
    double d[4];
    if (nums(call, argv, 4, d, err)) return SL_EVAL;
    *out = ex_num(6371.0088 * central_angle(d[0], d[1], d[2], d[3]));
    return 0;
}

FN(elevation_deg) {
    NULL_IF_ANY();
    double d[5];
    if (nums(call, argv, 5, d, err)) return SL_EVAL;
    const double R = 6371.0;
    double g = central_angle(d[0], d[1], d[2], d[3]);
    double r = R + d[4];
    if (!(r > 0)) { *out = sl_null(); return 0; }
    *out = ex_num(atan2(cos(g) - R / r, sin(g)) / DEG);
    return 0;
}

FN(azimuth_deg) {
    NULL_IF_ANY();
    double d[4];
    if (nums(call, argv, 4, d, err)) return SL_EVAL;
    double p1 = d[0] * DEG, p2 = d[2] * DEG, dl = (d[3] - d[1]) * DEG;
    double th = atan2(sin(dl) * cos(p2), cos(p1) * sin(p2) - sin(p1) * cos(p2) * cos(dl)) / DEG;
    th = fmod(th + 360.0, 360.0);
    *out = ex_num(th);
    return 0;
}

/* The NOAA Solar Calculator spreadsheet (Meeus, "Astronomical Algorithms"), with its
 * atmospheric refraction correction; `ms` is UTC epoch milliseconds. */
static double noaa_sun_elevation(double lat, double lon, double ms) {
    double jd = ms / 86400000.0 + 2440587.5;
    double jc = (jd - 2451545.0) / 36525.0;
    double l0 = fmod(280.46646 + jc * (36000.76983 + jc * 0.0003032), 360.0);
    if (l0 < 0) l0 += 360.0;
    double m = 357.52911 + jc * (35999.05029 - 0.0001537 * jc);
    double e = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc);
    double c = sin(m * DEG) * (1.914602 - jc * (0.004817 + 0.000014 * jc)) +
               sin(2 * m * DEG) * (0.019993 - 0.000101 * jc) + sin(3 * m * DEG) * 0.000289;
    double true_long = l0 + c;
    double omega = 125.04 - 1934.136 * jc;
    double app_long = true_long - 0.00569 - 0.00478 * sin(omega * DEG);
    double obliq0 = 23 + (26 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60) / 60;
    double obliq = obliq0 + 0.00256 * cos(omega * DEG);
    double decl = asin(sin(obliq * DEG) * sin(app_long * DEG)) / DEG;
    double vy = tan(obliq / 2 * DEG);
    vy *= vy;
    double eqt = 4 / DEG * (vy * sin(2 * l0 * DEG) - 2 * e * sin(m * DEG) +
                            4 * e * vy * sin(m * DEG) * cos(2 * l0 * DEG) -
                            0.5 * vy * vy * sin(4 * l0 * DEG) - 1.25 * e * e * sin(2 * m * DEG));
    double day_min = fmod(ms / 60000.0, 1440.0);
    if (day_min < 0) day_min += 1440.0;
    double tst = fmod(day_min + eqt + 4 * lon, 1440.0);
    if (tst < 0) tst += 1440.0;
    double ha = tst / 4 < 0 ? tst / 4 + 180 : tst / 4 - 180;
    double cz = sin(lat * DEG) * sin(decl * DEG) + cos(lat * DEG) * cos(decl * DEG) * cos(ha * DEG);
    if (cz > 1) cz = 1;
    if (cz < -1) cz = -1;
    double elev = 90 - acos(cz) / DEG;
    double refr;
    if (elev > 85) refr = 0;
    else {
        double te = tan(elev * DEG);
        if (elev > 5) refr = 58.1 / te - 0.07 / (te * te * te) + 0.000086 / pow(te, 5);
        else if (elev > -0.575) refr = 1735 + elev * (-518.2 + elev * (103.4 + elev * (-12.79 + elev * 0.711)));
        else refr = -20.772 / te;
        refr /= 3600;
    }
    return elev + refr;
}

FN(sun_elevation) {
    NULL_IF_ANY();
    double d[3];
    if (nums(call, argv, 3, d, err)) return SL_EVAL;
    *out = ex_num(noaa_sun_elevation(d[0], d[1], d[2]));
    return 0;
}

/* ======================================================================
 * domain: GOES X-ray flare classes
 * ====================================================================== */

/* "M5.2" -> letter index 0..4 (A B C M X), integer part text, fraction text. */
static bool flare_parse(sl_value_t v, int *cls, const char **ip, size_t *ipn, const char **fp, size_t *fpn) {
    if (v.type != SL_T_STRING) return false;
    const char *s = v.u.s;
    size_t n = v.len;
    trim(&s, &n);
    if (n < 2) return false;
    static const char letters[] = "ABCMX";
    const char *l = strchr(letters, toupper((unsigned char)s[0]));
    if (!l || !*l) return false;
    *cls = (int)(l - letters);
    size_t i = 1;
    *ip = s + i;
    while (i < n && isdigit((unsigned char)s[i])) i++;
    *ipn = (size_t)(s + i - *ip);
    if (*ipn == 0 || *ipn > 15) return false;
    *fp = NULL;
    *fpn = 0;
    if (i < n && s[i] == '.') {
        i++;
        *fp = s + i;
        while (i < n && isdigit((unsigned char)s[i])) i++;
        *fpn = (size_t)(s + i - *fp);
        if (*fpn == 0 || *fpn > 30) return false;
    }
    return i == n;
}

FN(flare_rank) {
    int cls;
    const char *ip, *fp;
    size_t ipn, fpn;
    *out = sl_null();
    if (!flare_parse(argv[0], &cls, &ip, &ipn, &fp, &fpn)) return 0;
    /* decimal text then strtod: flare_rank("M5.2") is exactly the double 45.2 */
    long long whole = strtoll(ip, NULL, 10) + 10LL * (cls + 1);
    char buf[64];
    snprintf(buf, sizeof buf, "%lld%s%.*s", whole, fpn ? "." : "", (int)fpn, fpn ? fp : "");
    *out = sl_double(strtod(buf, NULL));
    return 0;
}

FN(flare_flux) {
    int cls;
    const char *ip, *fp;
    size_t ipn, fpn;
    *out = sl_null();
    if (!flare_parse(argv[0], &cls, &ip, &ipn, &fp, &fpn)) return 0;
    char buf[80];
    snprintf(buf, sizeof buf, "%.*s%s%.*se%d", (int)ipn, ip, fpn ? "." : "", (int)fpn, fpn ? fp : "", cls - 8);
    *out = sl_double(strtod(buf, NULL));
    return 0;
}

/* ======================================================================
 * ids
 * ====================================================================== */

typedef struct fnv { uint64_t h; } fnv_t;

static inline void fnv_put(fnv_t *f, const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = f->h;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ULL; }
    f->h = h;
}

static void canon_string(fnv_t *f, const char *s, size_t n) {
    fnv_put(f, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        fnv_put(f, s + run, i - run);
        char esc[8];
        const char *sh = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                       : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
        if (sh) fnv_put(f, sh, 2);
        else { snprintf(esc, sizeof esc, "\\u%04x", c); fnv_put(f, esc, 6); }
        run = i + 1;
    }
    fnv_put(f, s + run, n - run);
    fnv_put(f, "\"", 1);
}

static int member_cmp(const void *a, const void *b) {
    const sl_member_t *x = *(const sl_member_t *const *)a, *y = *(const sl_member_t *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int r = memcmp(x->key, y->key, n);
    return r ? r : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Canonical JSON: object members sorted by key bytes, integral doubles written as
 * integers (so hash(1) == hash(1.0), as 1 == 1.0), other doubles shortest-exact. */
static void canon(fnv_t *f, sl_value_t v, sl_arena_t *arena, int depth) {
    char tmp[40];
    int n;
    switch (v.type) {
    case SL_T_NULL: fnv_put(f, "null", 4); return;
    case SL_T_BOOL: if (v.u.b) fnv_put(f, "true", 4); else fnv_put(f, "false", 5); return;
    case SL_T_INT: n = snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i); fnv_put(f, tmp, (size_t)n); return;
    case SL_T_DOUBLE:
        if (v.u.d == floor(v.u.d) && fabs(v.u.d) < 9.2e18) n = snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.d);
        else n = ex_fmt_double(tmp, sizeof tmp, v.u.d);
        fnv_put(f, tmp, (size_t)n);
        return;
    case SL_T_STRING: canon_string(f, v.u.s, v.len); return;
    case SL_T_ARRAY:
        fnv_put(f, "[", 1);
        for (uint32_t i = 0; i < v.len; i++) {
            if (i) fnv_put(f, ",", 1);
            canon(f, v.u.a[i], arena, depth + 1);
        }
        fnv_put(f, "]", 1);
        return;
    case SL_T_OBJECT: {
        const sl_member_t **ms = sl_arena_alloc(arena, (v.len ? v.len : 1) * sizeof *ms);
        for (uint32_t i = 0; i < v.len; i++) ms[i] = &v.u.o[i];
        qsort(ms, v.len, sizeof *ms, member_cmp);
        fnv_put(f, "{", 1);
        for (uint32_t i = 0; i < v.len; i++) {
            if (i) fnv_put(f, ",", 1);
            canon_string(f, ms[i]->key, ms[i]->key_len);
            fnv_put(f, ":", 1);
            canon(f, ms[i]->val, arena, depth + 1);
        }
        fnv_put(f, "}", 1);
        return;
    }
    }
}

FN(hash) {
    fnv_t f = {0xcbf29ce484222325ULL};
    fnv_put(&f, "[", 1);
    for (int i = 0; i < argc; i++) {
        if (i) fnv_put(&f, ",", 1);
        canon(&f, argv[i], ctx->arena, 0);
    }
    fnv_put(&f, "]", 1);
    char *o = sl_arena_alloc(ctx->arena, 17);
    snprintf(o, 17, "%016llx", (unsigned long long)f.h);
    *out = sl_str(o, 16);
    return 0;
}

static bool parse_uuid(const char *s, size_t n, unsigned char out[16]) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-' && (n == 36 ? (i == 8 || i == 13 || i == 18 || i == 23) : false)) continue;
        int h = isxdigit((unsigned char)s[i]) ? (isdigit((unsigned char)s[i]) ? s[i] - '0' : (tolower((unsigned char)s[i]) - 'a' + 10)) : -1;
        if (h < 0 || k >= 32) return false;
        if (k % 2 == 0) out[k / 2] = (unsigned char)(h << 4);
        else out[k / 2] |= (unsigned char)h;
        k++;
    }
    return k == 32 && (n == 32 || n == 36);
}

FN(uuid5) {
    NULL_IF_ANY();
    if (need_str(call, argv, 0, err)) return SL_EVAL;
    static const struct { const char *name; const char *uuid; } ns[] = {
        {"dns", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
        {"url", "6ba7b811-9dad-11d1-80b4-00c04fd430c8"},
        {"oid", "6ba7b812-9dad-11d1-80b4-00c04fd430c8"},
        {"x500", "6ba7b814-9dad-11d1-80b4-00c04fd430c8"},
    };
    unsigned char nsb[16];
    const char *nsp = argv[0].u.s;
    size_t nsn = argv[0].len;
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        if (word_eq(nsp, nsn, ns[i].name)) { nsp = ns[i].uuid; nsn = 36; break; }
    if (!parse_uuid(nsp, nsn, nsb))
        return sl_error_set(err, SL_EVAL, "uuid5: namespace must be a UUID or dns, url, oid, x500");
    if (argv[1].type == SL_T_ARRAY || argv[1].type == SL_T_OBJECT)
        return bad_arg(call, 1, "a string or a number", argv[1], err);
    sl_value_t name = ex_to_text(ctx->arena, argv[1]);
    sl_sha1_t sh;
    unsigned char dg[20];
    sl_sha1_init(&sh);
    sl_sha1_update(&sh, nsb, 16);
    sl_sha1_update(&sh, name.u.s, name.len);
    sl_sha1_final(&sh, dg);
    dg[6] = (unsigned char)((dg[6] & 0x0F) | 0x50);
    dg[8] = (unsigned char)((dg[8] & 0x3F) | 0x80);
    char *o = sl_arena_alloc(ctx->arena, 37);
    static const char hx[] = "0123456789abcdef";
    size_t w = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) o[w++] = '-';
        o[w++] = hx[dg[i] >> 4];
        o[w++] = hx[dg[i] & 15];
    }
    o[w] = 0;
    *out = sl_str(o, 36);
    return 0;
}

/* ======================================================================
 * the table
 * ====================================================================== */

#define P EX_F_PURE
#define NUL "null if any argument is null"

const ex_func_t ex_funcs[] = {
    /* types */
    {"number", "types", 1, 1, P, fn_number, NULL, "number(x)",
     "Number from a string (decimal syntax, surrounding spaces ignored; integers that fit "
     "int64 stay int) or a number; true/false give 1/0.",
     "null for null and for \"\" (only spaces); error when the text is not a number",
     "number(\"1.5e-3\")", "0.0015"},
    {"int", "types", 1, 1, P, fn_int, NULL, "int(x)",
     "Integer: like number(), then truncated toward zero.",
     "null for null and \"\"; error when not a number or out of int64 range",
     "int(\"-7.9\")", "-7"},
    {"string", "types", 1, 1, P, fn_string, NULL, "string(x)",
     "Text of a value: strings as is, numbers, bools, arrays and objects as JSON.",
     "null for null", "string(42) + \"!\"", "\"42!\""},
    {"bool", "types", 1, 1, P, fn_bool, NULL, "bool(x)",
     "Bool from true/false/yes/no/on/off/1/0/y/n/t/f (any case) or a number (non-zero is true).",
     "null for null and \"\"; error for other text, arrays and objects",
     "bool(\"Yes\")", "true"},
    {"type", "types", 1, 1, P, fn_type, NULL, "type(x)",
     "Type name: \"null\" \"bool\" \"int\" \"double\" \"string\" \"array\" \"object\".",
     "type(null) is \"null\"", "type(1.5)", "\"double\""},
    {"is_null", "types", 1, 1, P, fn_is_null, NULL, "is_null(x)", "True when x is null (or missing).",
     "is_null(null) is true", "is_null(no_such_field)", "true"},
    /* text */
    {"lower", "text", 1, 1, P, fn_lower, NULL, "lower(s)",
     "Lower case (ASCII letters only; other UTF-8 passes through).", NUL, "lower(\"ÀB\")", "\"Àb\""},
    {"upper", "text", 1, 1, P, fn_upper, NULL, "upper(s)",
     "Upper case (ASCII letters only; other UTF-8 passes through).", NUL, "upper(\"m5.2\")", "\"M5.2\""},
    {"trim", "text", 1, 1, P, fn_trim, NULL, "trim(s)",
     "Without leading and trailing ASCII white space.", NUL, "trim(\"  UAL123 \")", "\"UAL123\""},
    {"length", "text", 1, 1, P, fn_length, NULL, "length(x)",
     "Code points of a string, items of an array, members of an object.",
     "null for null; error for numbers and bools", "length(\"Sørensen\")", "8"},
    {"substr", "text", 2, 3, P, fn_substr, NULL, "substr(s, start, len?)",
     "Code points from start (0-based; negative counts from the end), at most len of them "
     "(all when omitted). Out of range gives \"\".", NUL, "substr(\"X1.2\", 0, 1)", "\"X\""},
    {"contains", "text", 2, 2, P, fn_contains, NULL, "contains(s, sub)",
     "True when sub occurs in the string s, or (s an array) when an element equals sub.", NUL,
     "contains(\"Sørensen\", \"ren\")", "true"},
    {"starts_with", "text", 2, 2, P, fn_starts_with, NULL, "starts_with(s, prefix)",
     "True when s begins with prefix.", NUL, "starts_with(\"FLR-001\", \"FLR\")", "true"},
    {"ends_with", "text", 2, 2, P, fn_ends_with, NULL, "ends_with(s, suffix)",
     "True when s ends with suffix.", NUL, "ends_with(\"file.json\", \".json\")", "true"},
    {"replace", "text", 3, 3, P, fn_replace, NULL, "replace(s, old, new)",
     "Every occurrence of old replaced by new (old \"\" changes nothing).", NUL,
     "replace(\"a-b-c\", \"-\", \"+\")", "\"a+b+c\""},
    {"split", "text", 2, 2, P, fn_split, NULL, "split(s, sep)",
     "Array of the parts between separators (sep \"\" splits into code points).", NUL,
     "split(\"a,b,,c\", \",\")", "[\"a\",\"b\",\"\",\"c\"]"},
    {"join", "text", 1, 2, P, fn_join, NULL, "join(array, sep?)",
     "Elements joined with sep (default \"\"): strings as is, null as \"\", others as JSON.",
     "null when the array is null", "join([\"a\", 1, null, true], \"/\")", "\"a/1//true\""},
    {"between", "text", 3, 3, P, fn_between, NULL, "between(s, after, before)",
     "The text after the first `after` and before the next `before` (searched after "
     "`after`), trimmed; the rest of s when `before` is absent or null. Works on bytes, so "
     "any UTF-8 (C1 controls too) passes through.",
     "null when s or after is null, or when `after` does not occur",
     "between(\"## Summary: Big flare. ## Notes: none\", \"## Summary:\", \"##\")", "\"Big flare.\""},
    {"regex_match", "text", 2, 2, P, fn_regex_match, regex_prepare, "regex_match(s, re)",
     "True when the POSIX extended regular expression re matches somewhere in s. A literal "
     "pattern is compiled once (a bad one is a load error); a computed one on every call.",
     NUL "; error for a bad computed pattern", "regex_match(\"X1.2\", \"^[MX][0-9]\")", "true"},
    {"regex_extract", "text", 2, 3, P, fn_regex_extract, regex_prepare, "regex_extract(s, re, group?)",
     "The text of capture group `group` (0 = whole match; default 1 when the pattern has a "
     "group, else 0) of the first match of re in s.",
     NUL "; null when there is no match or the group did not take part",
     "regex_extract(\"FLR/9963\", \"FLR/([0-9]+)\", 1)", "\"9963\""},
    /* time */
    {"now", "time", 0, 0, 0, fn_now, NULL, "now()",
     "The current time in epoch ms, fixed for a whole batch.", "never null", "now() > 0", "true"},
    {"parse_time", "time", 1, 1, P, fn_parse_time, NULL, "parse_time(s)",
     "Epoch ms (UTC) of: ISO-8601/RFC 3339 `YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|±HH:MM|±HHMM|±HH]` "
     "(no offset means UTC; years 0000-9999), or an epoch number (or numeric string) in "
     "seconds when |n| < 1e11, else milliseconds.",
     "null for null and for anything malformed (never an error, so `where` can filter)",
     "parse_time(\"2024-10-01T14:41Z\")", "1727793660000"},
    {"format_time", "time", 1, 2, P, fn_format_time, NULL, "format_time(ms, fmt?)",
     "strftime(fmt) of epoch ms in UTC (default \"%Y-%m-%dT%H:%M:%SZ\"); times before 1970 work.",
     NUL "; error when the result would exceed 511 bytes",
     "format_time(-1000, \"%Y-%m-%d %H:%M:%S\")", "\"1969-12-31 23:59:59\""},
    /* math */
    {"abs", "math", 1, 1, P, fn_abs, NULL, "abs(x)", "Absolute value (int stays int).", NUL, "abs(-3)", "3"},
    {"round", "math", 1, 2, P, fn_round, NULL, "round(x, digits?)",
     "Rounded half away from zero to `digits` decimals (default 0; negative rounds to tens, "
     "hundreds...). An int when digits <= 0, else a double.", NUL, "round(45.2567, 2)", "45.26"},
    {"floor", "math", 1, 1, P, fn_floor, NULL, "floor(x)", "Largest integer <= x (an int).", NUL,
     "floor(-1.5)", "-2"},
    {"ceil", "math", 1, 1, P, fn_ceil, NULL, "ceil(x)", "Smallest integer >= x (an int).", NUL,
     "ceil(1.2)", "2"},
    {"min", "math", 1, -1, P, fn_min, NULL, "min(a, b, ...) or min(array)",
     "Smallest of numbers (or of strings, bytewise).",
     "null arguments are skipped; null when nothing is left; error on mixed numbers and strings",
     "min(3, null, 1.5)", "1.5"},
    {"max", "math", 1, -1, P, fn_max, NULL, "max(a, b, ...) or max(array)",
     "Largest of numbers (or of strings, bytewise).",
     "null arguments are skipped; null when nothing is left; error on mixed numbers and strings",
     "max([3, 7, 5])", "7"},
    {"pow", "math", 2, 2, P, fn_pow, NULL, "pow(x, y)",
     "x to the power y (int when both are ints, y >= 0 and it fits).",
     NUL "; null when the result is not a finite number", "pow(2, 10)", "1024"},
    {"sqrt", "math", 1, 1, P, fn_sqrt, NULL, "sqrt(x)", "Square root (a double).",
     NUL "; null for negative x", "sqrt(2.25)", "1.5"},
    /* arrays and objects */
    {"len", "arrays", 1, 1, P, fn_length, NULL, "len(x)", "Alias of length().",
     "null for null; error for numbers and bools", "len([1, 2, 3])", "3"},
    {"first", "arrays", 1, 1, P, fn_first, NULL, "first(x)",
     "First element of an array (or first code point of a string).", "null for null and when empty",
     "first([4, 5])", "4"},
    {"last", "arrays", 1, 1, P, fn_last, NULL, "last(x)",
     "Last element of an array (or last code point of a string).", "null for null and when empty",
     "last([4, 5])", "5"},
    {"get", "arrays", 2, 3, P, fn_get, NULL, "get(container, key, default?)",
     "obj[key] for an object and a string key, arr[index] for an array and an integer index "
     "(negative counts from the end).",
     "default (or null) when the container is null, the key is missing or of the other kind",
     "get({\"a\": 1}, \"b\", 0)", "0"},
    {"zip_object", "arrays", 2, 2, P, fn_zip_object, NULL, "zip_object(keys, values)",
     "Object of keys[i]: values[i]. Extra values are ignored, missing ones are null, null keys "
     "are skipped, number keys become text.", NUL,
     "zip_object([\"icao24\", \"callsign\"], [\"4b1815\", \"SWR5GR\", 1])",
     "{\"icao24\":\"4b1815\",\"callsign\":\"SWR5GR\"}"},
    {"keys", "arrays", 1, 1, P, fn_keys, NULL, "keys(obj)", "Array of the member names, in order.",
     "null for null; error for non-objects", "keys({\"a\": 1, \"b\": 2})", "[\"a\",\"b\"]"},
    {"values", "arrays", 1, 1, P, fn_values, NULL, "values(obj)", "Array of the member values, in order.",
     "null for null; error for non-objects", "values({\"a\": 1, \"b\": 2})", "[1,2]"},
    /* geo and astro */
    {"distance_km", "geo", 4, 4, P, fn_distance_km, NULL, "distance_km(lat1, lon1, lat2, lon2)",
     "Great-circle distance in km (haversine, mean Earth radius 6371.0088 km).", NUL,
     "round(distance_km(0, 179.9, 0, -179.9), 2)", "22.24"},
    {"sun_elevation", "geo", 3, 3, P, fn_sun_elevation, NULL, "sun_elevation(lat, lon, ms)",
     "Elevation of the Sun's centre in degrees at epoch ms, by the NOAA Solar Calculator "
     "formulas, including its atmospheric refraction correction (so about +0.57 at the "
     "geometric horizon; -6 is civil twilight).", NUL,
     "round(sun_elevation(0, 0, parse_time(\"2024-03-20T12:00Z\")))", "88"},
    {"elevation_deg", "geo", 5, 5, P, fn_elevation_deg, NULL,
     "elevation_deg(obs_lat, obs_lon, sat_lat, sat_lon, sat_alt_km)",
     "Look angle above the horizon of a satellite from an observer at sea level on a "
     "spherical Earth (R = 6371.0 km): atan2(cos g - R/(R+alt), sin g), g the central angle.",
     NUL, "elevation_deg(10, 20, 10, 20, 420)", "90.0"},
    {"azimuth_deg", "geo", 4, 4, P, fn_azimuth_deg, NULL, "azimuth_deg(lat1, lon1, lat2, lon2)",
     "Initial great-circle bearing from point 1 to point 2, degrees clockwise from north in [0, 360).",
     NUL, "round(azimuth_deg(0, 0, 0, 10))", "90"},
    /* domain */
    {"flare_rank", "domain", 1, 1, P, fn_flare_rank, NULL, "flare_rank(class)",
     "GOES class as a number: A=10 B=20 C=30 M=40 X=50 plus the magnitude (letter in any case).",
     "null for null and for anything malformed (\"\", \"Z3.0\", \"X\", \"M1.0e\")",
     "flare_rank(\"X1.2\")", "51.2"},
    {"flare_flux", "domain", 1, 1, P, fn_flare_flux, NULL, "flare_flux(class)",
     "Peak X-ray flux in W/m²: magnitude × A 1e-8, B 1e-7, C 1e-6, M 1e-5, X 1e-4.",
     "null for null and for anything malformed", "flare_flux(\"M5.2\")", "5.2e-05"},
    /* ids */
    {"hash", "ids", 1, -1, P, fn_hash, NULL, "hash(x, ...)",
     "16 hex digits: 64-bit FNV-1a of the canonical JSON of the argument list (RFC 8785 style: object keys "
     "sorted, short escapes, integral doubles written as integers). Stable across runs and machines; not "
     "cryptographic.", "null arguments are hashed like any value",
     "hash(\"a\")", "\"2b288c997252f102\""},
    {"uuid5", "ids", 2, 2, P, fn_uuid5, NULL, "uuid5(namespace, name)",
     "RFC 4122 version 5 (SHA-1) UUID of name (a number uses its text) in namespace: a UUID, "
     "or dns, url, oid, x500.", NUL,
     "uuid5(\"dns\", \"python.org\")", "\"886313e1-3b8a-5372-9b90-0c9aee199e5d\""},
    {NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

#undef P
#undef NUL

const ex_func_t *ex_func_find(const char *name, size_t len) {
    for (const ex_func_t *f = ex_funcs; f->name; f++)
        if (strncmp(f->name, name, len) == 0 && f->name[len] == 0) return f;
    return NULL;
}

const char *const *sl_expr_function_names(void) {
    static const char *names[sizeof ex_funcs / sizeof ex_funcs[0]];
    /* filled once; the table is constant so concurrent first calls write the same */
    if (!names[0])
        for (size_t i = 0; ex_funcs[i].name; i++) names[i] = ex_funcs[i].name;
    return names;
}

static void md_cell(FILE *out, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", out);
        else fputc(*s, out);
    }
}

void sl_expr_doc(FILE *out) {
    fputs("# Expressions\n\n"
          "<!-- generated by `sluice` from src/expr_func.c (sl_expr_doc); do not edit -->\n\n"
          "Expressions are compiled once when the configuration loads and evaluated per record.\n"
          "A load error names FILE:LINE:COL inside the YAML string. An evaluation error sends\n"
          "the record to the job's dead-letter topic with the message; it never stops the job.\n\n"
          "## Names and literals\n\n"
          "| form | meaning |\n|---|---|\n"
          "| `a.b`, `a[0]`, `a[-1]`, `a[\"odd key\"]` | fields of the record (a bare `x` is `this.x`); a missing field, an index out of range or a field of a non-object is null |\n"
          "| `this` | the whole record value |\n"
          "| `meta.key` `meta.ts` `meta.ingest_ts` `meta.topic` `meta.partition` `meta.offset` `meta.source` `meta.seq` | record metadata (`meta` alone: all as an object) |\n"
          "| `vars.x` | constants from the configuration's `vars:` |\n"
          "| `window.start` ... | extra names a step provides (checked before record fields) |\n"
          "| `12` `-3` `1.5` `2e-3` | numbers: integers that fit int64 are ints, others doubles |\n"
          "| `'text'` `\"text\"` | strings, escapes `\\n \\t \\r \\b \\f \\0 \\\\ \\' \\\" \\/ \\uXXXX` |\n"
          "| `true` `false` `null` | |\n"
          "| `[1, x]`, `{\"k\": expr, k2: expr}` | arrays and objects (a trailing comma is allowed) |\n\n"
          "## Operators, loosest first\n\n"
          "| operators | notes |\n|---|---|\n"
          "| `if c then a else b` | c must be bool or null (null takes the else branch) |\n"
          "| `a ?? b` | a unless a is null, then b (b is evaluated only when needed) |\n"
          "| `or`, `and`, `not` | operands bool or null, three-valued: `null and false` = false, "
          "`null or true` = true, otherwise null stays null; short-circuit; other types are an error |\n"
          "| `== != < <= > >= in` `not in` | `==` is deep equality, numbers by value (`1 == 1.0`); "
          "ordering compares numbers by value, strings bytewise, bools false < true; null on either "
          "side of an ordering gives null; other mixes are an error. `x in array` (element), "
          "`s in string` (substring), `k in object` (key) |\n"
          "| `+ -` | `+` joins strings when either side is a string (the other as JSON text) and "
          "concatenates two arrays |\n"
          "| `* / %` | int op int stays int unless it overflows or `/` leaves a remainder (then "
          "double); `%` of ints has the sign of the dividend |\n"
          "| `-x` | |\n"
          "| `x.f`, `x[i]`, `f(...)` | postfix |\n\n"
          "Arithmetic with null is null. Division or remainder by zero is null, and so is any\n"
          "result that is not a finite number (JSON has no NaN or infinity).\n\n"
          "## Templates\n\n"
          "Text with `{{expression}}` placeholders (`\"The ISS is {{round(d)}} km away\"`): a string\n"
          "is inserted as is, null as nothing, other values as JSON. A `{{` without a `}}` is a\n"
          "load error at its position.\n\n"
          "## Functions\n\n"
          "A function of null is null unless its row says otherwise. A wrong argument type or\n"
          "a failed conversion is an evaluation error (the record goes to the dead-letter topic).\n",
          out);
    const char *cat = NULL;
    for (const ex_func_t *f = ex_funcs; f->name; f++) {
        if (!cat || strcmp(cat, f->category) != 0) {
            cat = f->category;
            fprintf(out, "\n### %s\n\n| function | description | null | example |\n|---|---|---|---|\n", cat);
        }
        fputs("| `", out);
        md_cell(out, f->signature);
        fputs("` | ", out);
        md_cell(out, f->desc);
        fputs(" | ", out);
        md_cell(out, f->nulls);
        fputs(" | `", out);
        md_cell(out, f->example);
        fputs("` → `", out);
        md_cell(out, f->result);
        fputs("` |\n", out);
    }
}
