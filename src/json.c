/* json.c - strict single-pass JSON reader and compact writer over sl_value_t (json.h).
 *
 * Reader invariants:
 *  1. Never reads at or past `end` (the input is not NUL-terminated): every
 *     dereference is preceded by a bounds check, and wide loads only happen when at
 *     least their width remains.
 *  2. No recursion: nesting is an explicit frame array of SL_JSON_MAX_DEPTH entries;
 *     the items of open arrays/objects sit on two scratch stacks and are copied into
 *     the arena in one allocation when their container closes.
 *  3. Strings without escapes are scanned 16 (SSE2) or 8 (SWAR) bytes at a time and
 *     copied once; UTF-8 is validated only where a byte >= 0x80 shows up.
 *  4. Numbers: integers are accumulated directly; decimals with at most 15 significant
 *     digits and a power of ten within 10^±22 are computed exactly (both operands are
 *     exact doubles, so one IEEE multiply/divide rounds correctly); the rest go to
 *     strtod. */
#include "sluice/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/error.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define JSON_LIKELY(x) __builtin_expect(!!(x), 1)
#define JSON_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Scratch stacks start on the C stack; only big documents move them to the heap. */
#define JSON_SCRATCH_VALS 256
#define JSON_SCRATCH_MEMS 256
#define JSON_SCRATCH_CHARS 1024

typedef struct json_parser {
    sl_arena_t *arena;
    const char *base, *end;
    sl_json_error_t *err;
    sl_value_t *vals;
    size_t nvals, capvals;
    sl_member_t *mems;
    size_t nmems, capmems;
    char *sb;               /* decoded text of a string with escapes */
    size_t sbcap;
    bool vals_heap, mems_heap, sb_heap;
} json_parser_t;

static sl_value_t json_empty_items[1];
static sl_member_t json_empty_members[1];

static int json_fail(json_parser_t *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int json_fail(json_parser_t *ps, const char *at, const char *fmt, ...) {
    if (ps->err) {
        ps->err->offset = (size_t)(at - ps->base);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err->reason, sizeof ps->err->reason, fmt, ap);
        va_end(ap);
    }
    return SL_PARSE;
}

static void *json_grow(void *old, bool *heap, size_t n, size_t *cap, size_t size) {
    size_t ncap = *cap * 2;
    void *p;
    if (*heap) {
        p = realloc(old, ncap * size);
    } else {
        p = malloc(ncap * size);
        if (p) memcpy(p, old, n * size);
    }
    if (!p) {
        fputs("sluice: out of memory\n", stderr);
        abort();
    }
    *heap = true;
    *cap = ncap;
    return p;
}

static inline const char *json_skip_ws(const char *p, const char *end) {
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c > ' ') return p;
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return p;
        p++;
    }
    return p;
}

/* First byte in [p, end) that is '"', '\\', < 0x20 or >= 0x80; end if none. */
static inline const char *json_scan_plain(const char *p, const char *end) {
#ifdef __SSE2__
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* Signed compare: bytes >= 0x80 are negative, so "< 0x20" also catches them. */
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)),
                                 _mm_cmplt_epi8(x, sp));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask) return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t xq = w ^ (ones * '"'), xb = w ^ (ones * '\\');
        /* Per byte: zero after xor (== '"' or '\\'), below 0x20, or high bit set.
         * Borrows only create false positives above a true one, so the byte loop
         * below finds the exact first byte. */
        uint64_t t = ((xq - ones) & ~xq) | ((xb - ones) & ~xb) | (w - ones * 0x20) | w;
        if (t & highs) break;
        p += 8;
    }
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return p;
        p++;
    }
    return p;
}

/* Length of the valid UTF-8 sequence at p (first byte >= 0x80), or 0 if invalid or
 * truncated (Unicode 15, table 3-7: no overlongs, no surrogates, nothing past
 * U+10FFFF). */
static inline int json_utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    size_t left = (size_t)(end - p);
    if (c >= 0xC2 && c <= 0xDF) {
        if (left < 2 || (p[1] & 0xC0) != 0x80) return 0;
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3) return 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xE0) lo = 0xA0;
        else if (c == 0xED) hi = 0x9F;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4) return 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        return 4;
    }
    return 0;
}

static inline int json_hex4(const char *p, const char *end, unsigned *out) {
    if (end - p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)p[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static inline void json_sb_reserve(json_parser_t *ps, size_t used, size_t extra) {
    if (used + extra <= ps->sbcap) return;
    size_t ncap = ps->sbcap * 2;
    while (ncap < used + extra) ncap *= 2;
    char *p = ps->sb_heap ? realloc(ps->sb, ncap) : malloc(ncap);
    if (!p) {
        fputs("sluice: out of memory\n", stderr);
        abort();
    }
    if (!ps->sb_heap) memcpy(p, ps->sb, used);
    ps->sb = p;
    ps->sbcap = ncap;
    ps->sb_heap = true;
}

static int json_bad_byte(json_parser_t *ps, const char *p) {
    unsigned char c = (unsigned char)*p;
    if (c < 0x20)
        return json_fail(ps, p, "unescaped control character 0x%02x in string", c);
    return json_fail(ps, p, "invalid UTF-8 byte 0x%02x in string", c);
}

/* Decode the rest of a string that has escapes, from p (at the first '\\'); the
 * plain prefix [start, p) is copied first.  Sets *pp past the closing quote. */
static int json_string_slow(json_parser_t *ps, const char *start, const char **pp,
                            const char **out, size_t *out_len) {
    const char *p = *pp, *end = ps->end;
    size_t n = (size_t)(p - start);
    json_sb_reserve(ps, 0, n + 16);
    memcpy(ps->sb, start, n);
    for (;;) {
        const char *run = p;
        p = json_scan_plain(p, end);
        if (p > run) {
            json_sb_reserve(ps, n, (size_t)(p - run));
            memcpy(ps->sb + n, run, (size_t)(p - run));
            n += (size_t)(p - run);
        }
        if (JSON_UNLIKELY(p >= end)) return json_fail(ps, end, "unterminated string");
        unsigned char c = (unsigned char)*p;
        if (c == '"') break;
        if (c >= 0x80) {
            int k = json_utf8_len((const unsigned char *)p, (const unsigned char *)end);
            if (!k) return json_bad_byte(ps, p);
            json_sb_reserve(ps, n, 4);
            memcpy(ps->sb + n, p, (size_t)k);
            n += (size_t)k;
            p += k;
            continue;
        }
        if (c != '\\') return json_bad_byte(ps, p);
        const char *esc = p;
        if (end - p < 2) return json_fail(ps, end, "unterminated string");
        json_sb_reserve(ps, n, 4);
        char e = p[1];
        p += 2;
        switch (e) {
        case '"': ps->sb[n++] = '"'; break;
        case '\\': ps->sb[n++] = '\\'; break;
        case '/': ps->sb[n++] = '/'; break;
        case 'b': ps->sb[n++] = '\b'; break;
        case 'f': ps->sb[n++] = '\f'; break;
        case 'n': ps->sb[n++] = '\n'; break;
        case 'r': ps->sb[n++] = '\r'; break;
        case 't': ps->sb[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (json_hex4(p, end, &cp) < 0)
                return json_fail(ps, esc, "invalid \\u escape (needs 4 hex digits)");
            p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return json_fail(ps, esc, "lone low surrogate \\u%04X", cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || json_hex4(p + 2, end, &lo) < 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return json_fail(ps, esc, "lone high surrogate \\u%04X", cp);
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            char *o = ps->sb + n;
            if (cp < 0x80) {
                o[0] = (char)cp;
                n += 1;
            } else if (cp < 0x800) {
                o[0] = (char)(0xC0 | cp >> 6);
                o[1] = (char)(0x80 | (cp & 0x3F));
                n += 2;
            } else if (cp < 0x10000) {
                o[0] = (char)(0xE0 | cp >> 12);
                o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
                o[2] = (char)(0x80 | (cp & 0x3F));
                n += 3;
            } else {
                o[0] = (char)(0xF0 | cp >> 18);
                o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
                o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
                o[3] = (char)(0x80 | (cp & 0x3F));
                n += 4;
            }
            break;
        }
        default:
            return json_fail(ps, esc, "invalid escape '\\%c'",
                             (e >= 0x20 && e < 0x7f) ? e : '?');
        }
    }
    if (n > UINT32_MAX) return json_fail(ps, start, "string longer than 4 GiB");
    *out = sl_arena_strndup(ps->arena, ps->sb, n);
    *out_len = n;
    *pp = p + 1;
    return 0;
}

/* A string starting after its opening quote at *pp; sets *pp past the closing quote
 * and *out to a NUL-terminated arena copy. */
static inline int json_string(json_parser_t *ps, const char **pp, const char **out,
                              size_t *out_len) {
    const char *start = *pp, *p = start, *end = ps->end;
    for (;;) {
        p = json_scan_plain(p, end);
        if (JSON_UNLIKELY(p >= end)) return json_fail(ps, end, "unterminated string");
        unsigned char c = (unsigned char)*p;
        if (JSON_LIKELY(c == '"')) break;
        if (c == '\\') {
            *pp = p;
            return json_string_slow(ps, start, pp, out, out_len);
        }
        if (c < 0x80) return json_bad_byte(ps, p);
        int k = json_utf8_len((const unsigned char *)p, (const unsigned char *)end);
        if (!k) return json_bad_byte(ps, p);
        p += k;
    }
    size_t n = (size_t)(p - start);
    if (JSON_UNLIKELY(n > UINT32_MAX)) return json_fail(ps, start, "string longer than 4 GiB");
    char *s = sl_arena_alloc(ps->arena, n + 1);
    memcpy(s, start, n);
    s[n] = 0;
    *out = s;
    *out_len = n;
    *pp = p + 1;
    return 0;
}

static const double json_pow10[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static inline bool json_is_digit(char c) { return (unsigned char)(c - '0') < 10; }

/* A number at *pp (at '-' or a digit). */
static int json_number(json_parser_t *ps, const char **pp, sl_value_t *out) {
    const char *start = *pp, *p = start, *end = ps->end;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (JSON_UNLIKELY(p >= end)) return json_fail(ps, p, "unexpected end of input in number");
    if (!json_is_digit(*p)) return json_fail(ps, p, "expected a digit after '-'");
    uint64_t m = 0;
    int nd = 0;            /* significant digits accumulated into m */
    int dropped = 0;       /* integer digits beyond those (they scale by 10) */
    if (*p == '0') {
        p++;
        if (p < end && json_is_digit(*p)) return json_fail(ps, p - 1, "leading zeros are not allowed");
    } else {
        while (p < end && json_is_digit(*p)) {
            if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd++;
            } else if (dropped < 1000000) {
                dropped++;   /* capped: only "non-zero" matters, and ints must not overflow */
            }
            p++;
        }
    }
    bool is_int = true;
    int frac = 0;          /* fraction digits accumulated into m */
    bool frac_dropped = false;
    if (p < end && *p == '.') {
        is_int = false;
        p++;
        if (p >= end || !json_is_digit(*p))
            return json_fail(ps, p, "expected a digit after the decimal point");
        while (p < end && json_is_digit(*p)) {
            if (nd < 19) {
                /* Leading zeros of "0.000123" are not significant. */
                m = m * 10 + (uint64_t)(*p - '0');
                if (m) nd++;
                if (++frac > 1000000) frac_dropped = true;   /* strtod decides */
            } else {
                frac_dropped = true;
            }
            p++;
        }
    }
    int exp = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_int = false;
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= end || !json_is_digit(*p)) return json_fail(ps, p, "expected a digit in the exponent");
        while (p < end && json_is_digit(*p)) {
            if (exp < 100000) exp = exp * 10 + (*p - '0');
            p++;
        }
        if (eneg) exp = -exp;
    }
    *pp = p;
    if (is_int && !dropped) {
        if (!neg) {
            if (m <= (uint64_t)INT64_MAX) {
                *out = sl_int((int64_t)m);
                return 0;
            }
        } else if (m == 0) {
            *out = sl_double(-0.0);  /* keeps the sign: "-0" is not the integer 0 */
            return 0;
        } else if (m <= (uint64_t)INT64_MAX + 1) {
            *out = sl_int(m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m);
            return 0;
        }
    }
    if (!dropped && !frac_dropped && nd <= 15) {
        int e10 = exp - frac;
        double d = (double)m;   /* exact: m < 10^15 < 2^53 */
        if (m == 0) {
            *out = sl_double(neg ? -0.0 : 0.0);
            return 0;
        }
        if (e10 >= -22 && e10 <= 22) {
            d = e10 >= 0 ? d * json_pow10[e10] : d / json_pow10[-e10];
            *out = sl_double(neg ? -d : d);
            return 0;
        }
    }
    /* The slow, correctly rounded path.  strtod needs a NUL-terminated copy. */
    size_t n = (size_t)(p - start);
    char tmp[128];
    char *s = n < sizeof tmp ? tmp : malloc(n + 1);
    if (!s) {
        fputs("sluice: out of memory\n", stderr);
        abort();
    }
    memcpy(s, start, n);
    s[n] = 0;
    double d = strtod(s, NULL);
    if (s != tmp) free(s);
    if (isinf(d)) return json_fail(ps, start, "number out of range of a double");
    *out = sl_double(d);
    return 0;
}

static int json_parse_value(json_parser_t *ps, const char *p, sl_value_t *out,
                            const char **stop) {
    struct {
        bool obj;
        uint32_t start;   /* index on vals (arrays) or mems (objects) */
    } frames[SL_JSON_MAX_DEPTH];
    int depth = 0, rc;
    const char *end = ps->end;
    sl_value_t v;

value:
    p = json_skip_ws(p, end);
    if (JSON_UNLIKELY(p >= end)) return json_fail(ps, p, "unexpected end of input, expected a value");
    switch (*p) {
    case '"': {
        const char *s;
        size_t n;
        p++;
        if ((rc = json_string(ps, &p, &s, &n)) < 0) return rc;
        /* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): json_string sets s and n when it returns >= 0 */
        v = sl_str(s, n);
        goto emit;
    }
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if ((rc = json_number(ps, &p, &v)) < 0) return rc;
        goto emit;
    case '{':
        if (JSON_UNLIKELY(depth == SL_JSON_MAX_DEPTH))
            return json_fail(ps, p, "nesting deeper than %d", SL_JSON_MAX_DEPTH);
        p = json_skip_ws(p + 1, end);
        if (p < end && *p == '}') {
            p++;
            v = (sl_value_t){SL_T_OBJECT, 0, {.o = json_empty_members}};
            goto emit;
        }
        frames[depth].obj = true;
        frames[depth].start = (uint32_t)ps->nmems;
        depth++;
        goto key;
    case '[':
        if (JSON_UNLIKELY(depth == SL_JSON_MAX_DEPTH))
            return json_fail(ps, p, "nesting deeper than %d", SL_JSON_MAX_DEPTH);
        p = json_skip_ws(p + 1, end);
        if (p < end && *p == ']') {
            p++;
            v = (sl_value_t){SL_T_ARRAY, 0, {.a = json_empty_items}};
            goto emit;
        }
        frames[depth].obj = false;
        frames[depth].start = (uint32_t)ps->nvals;
        depth++;
        goto value;
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4) != 0) return json_fail(ps, p, "invalid literal (expected 'true')");
        p += 4;
        v = sl_bool(true);
        goto emit;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5) != 0) return json_fail(ps, p, "invalid literal (expected 'false')");
        p += 5;
        v = sl_bool(false);
        goto emit;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4) != 0) return json_fail(ps, p, "invalid literal (expected 'null')");
        p += 4;
        v = sl_null();
        goto emit;
    case ']':
        if (depth > 0 && !frames[depth - 1].obj) return json_fail(ps, p, "trailing comma in array");
        return json_fail(ps, p, "unexpected ']', expected a value");
    default: {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c < 0x7f) return json_fail(ps, p, "unexpected character '%c', expected a value", c);
        return json_fail(ps, p, "unexpected byte 0x%02x, expected a value", c);
    }
    }

key:
    /* p is at the first non-blank after '{' or ','. */
    if (JSON_UNLIKELY(p >= end)) return json_fail(ps, p, "unexpected end of input, expected an object key");
    if (JSON_UNLIKELY(*p != '"')) {
        if (*p == '}') return json_fail(ps, p, "trailing comma in object");
        return json_fail(ps, p, "expected '\"' to begin an object key");
    }
    {
        const char *s;
        size_t n;
        p++;
        if ((rc = json_string(ps, &p, &s, &n)) < 0) return rc;
        if (JSON_UNLIKELY(ps->nmems == ps->capmems))
            ps->mems = json_grow(ps->mems, &ps->mems_heap, ps->nmems, &ps->capmems, sizeof(sl_member_t));
        sl_member_t *m = &ps->mems[ps->nmems++];
        /* NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign): json_string sets s and n when it returns >= 0 */
        m->key = s;
        m->key_len = (uint32_t)n;
    }
    if (JSON_LIKELY(p < end && *p == ':')) {
        p++;
    } else {
        p = json_skip_ws(p, end);
        if (p >= end) return json_fail(ps, p, "unexpected end of input, expected ':'");
        if (*p != ':') return json_fail(ps, p, "expected ':' after object key");
        p++;
    }
    goto value;

emit:
    if (depth == 0) {
        *out = v;
        *stop = p;
        return 0;
    }
    if (frames[depth - 1].obj) {
        ps->mems[ps->nmems - 1].val = v;
        p = json_skip_ws(p, end);
        if (JSON_UNLIKELY(p >= end)) return json_fail(ps, p, "unexpected end of input in object");
        if (*p == ',') {
            p = json_skip_ws(p + 1, end);
            goto key;
        }
        if (*p != '}') return json_fail(ps, p, "expected ',' or '}' in object");
        p++;
        size_t start = frames[--depth].start, n = ps->nmems - start;
        if (JSON_UNLIKELY(n > UINT32_MAX)) return json_fail(ps, p, "object has too many members");
        v.type = SL_T_OBJECT;
        v.len = (uint32_t)n;
        v.u.o = sl_arena_alloc(ps->arena, n * sizeof(sl_member_t));
        memcpy(v.u.o, ps->mems + start, n * sizeof(sl_member_t));
        ps->nmems = start;
        goto emit;
    }
    if (JSON_UNLIKELY(ps->nvals == ps->capvals))
        ps->vals = json_grow(ps->vals, &ps->vals_heap, ps->nvals, &ps->capvals, sizeof(sl_value_t));
    ps->vals[ps->nvals++] = v;
    p = json_skip_ws(p, end);
    if (JSON_UNLIKELY(p >= end)) return json_fail(ps, p, "unexpected end of input in array");
    if (*p == ',') {
        p++;
        goto value;
    }
    if (*p != ']') return json_fail(ps, p, "expected ',' or ']' in array");
    p++;
    {
        size_t start = frames[--depth].start, n = ps->nvals - start;
        if (JSON_UNLIKELY(n > UINT32_MAX)) return json_fail(ps, p, "array has too many items");
        v.type = SL_T_ARRAY;
        v.len = (uint32_t)n;
        v.u.a = sl_arena_alloc(ps->arena, n * sizeof(sl_value_t));
        memcpy(v.u.a, ps->vals + start, n * sizeof(sl_value_t));
        ps->nvals = start;
    }
    goto emit;
}

static int json_parse_common(sl_arena_t *arena, const char *buf, size_t len, sl_value_t *out,
                             size_t *used, sl_json_error_t *err) {
    sl_value_t vals[JSON_SCRATCH_VALS];
    sl_member_t mems[JSON_SCRATCH_MEMS];
    char sb[JSON_SCRATCH_CHARS];
    json_parser_t ps = {
        .arena = arena, .base = buf, .end = buf + len, .err = err,
        .vals = vals, .capvals = JSON_SCRATCH_VALS,
        .mems = mems, .capmems = JSON_SCRATCH_MEMS,
        .sb = sb, .sbcap = JSON_SCRATCH_CHARS,
    };
    if (err) {
        err->offset = 0;
        err->reason[0] = 0;
    }
    sl_value_t v;
    const char *stop = buf;
    int rc = json_parse_value(&ps, buf, &v, &stop);
    if (rc == 0) {
        if (used) {
            *used = (size_t)(stop - buf);
        } else {
            const char *p = json_skip_ws(stop, ps.end);
            if (p < ps.end) rc = json_fail(&ps, p, "unexpected data after the JSON value");
        }
    }
    if (ps.vals_heap) free(ps.vals);
    if (ps.mems_heap) free(ps.mems);
    if (ps.sb_heap) free(ps.sb);
    if (rc == 0) *out = v;
    return rc;
}

int sl_json_parse(sl_arena_t *arena, const char *buf, size_t len, sl_value_t *out,
                  sl_json_error_t *err) {
    return json_parse_common(arena, buf, len, out, NULL, err);
}

int sl_json_parse_prefix(sl_arena_t *arena, const char *buf, size_t len, sl_value_t *out,
                         size_t *used, sl_json_error_t *err) {
    size_t u = 0;
    int rc = json_parse_common(arena, buf, len, out, &u, err);
    if (used) *used = rc == 0 ? u : 0;
    return rc;
}

/* ---- writer ---- */

static const char json_digits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Decimal text of v at o (at most 20 bytes, no NUL); returns its length. */
static size_t json_u64toa(char *o, uint64_t v) {
    char tmp[20];
    char *t = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        memcpy(t, json_digits2 + 2 * r, 2);
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, json_digits2 + 2 * v, 2);
    } else {
        *--t = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof tmp - t);
    memcpy(o, t, n);
    return n;
}

static void json_write_int(sl_buf_t *out, int64_t i) {
    sl_buf_reserve(out, 21);
    char *o = out->data + out->len;
    size_t n = 0;
    uint64_t u = (uint64_t)i;
    if (i < 0) {
        o[n++] = '-';
        u = 0 - u;   /* well-defined for INT64_MIN too */
    }
    n += json_u64toa(o + n, u);
    out->len += n;
}

static void json_write_double(sl_buf_t *out, double d) {
    if (!isfinite(d)) {
        sl_buf_append(out, "null", 4);
        return;
    }
    char tmp[40];
    int n = 0;
    double ad = fabs(d);
    if (ad >= 1e-4 && ad < 1e15) {
        /* Fast path, same text as the %g path below: the fewest fraction digits k
         * whose nearest decimal m/10^k reads back as d.  m < 10^15 < 2^53 and
         * 10^k <= 10^22 are exact doubles, so the division is correctly rounded,
         * i.e. equal to what a reader makes of "m e-k".  At most one decimal of <= 15
         * significant digits lies within half an ulp of d, so this is the text
         * "%.15g" would give; %g prints this range without an exponent. */
        for (int k = 0; k <= 19; k++) {
            double p = ad * json_pow10[k];
            if (p >= 1e15) break;
            double m = nearbyint(p);
            if (m / json_pow10[k] != ad) continue;
            uint64_t um = (uint64_t)m, scale = 1;
            for (int j = 0; j < k; j++) scale *= 10;
            if (d < 0) tmp[n++] = '-';
            n += (int)json_u64toa(tmp + n, um / scale);
            tmp[n++] = '.';
            if (k == 0) {
                tmp[n++] = '0';   /* keep the value a double when read back */
            } else {
                uint64_t frac = um % scale;
                for (int j = k - 1; j >= 0; j--) {
                    tmp[n + j] = (char)('0' + frac % 10);
                    frac /= 10;
                }
                n += k;
            }
            sl_buf_append(out, tmp, (size_t)n);
            return;
        }
    }
    /* The shortest of 15, 16, 17 significant digits that reads back exactly; 17
     * always does. */
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (prec == 17 || strtod(tmp, NULL) == d) break;
    }
    /* Keep the value a double when read back ("5.0", not "5"), so a round trip
     * through the journal preserves its type. */
    bool plain = true;
    for (int k = 0; k < n; k++)
        if (tmp[k] == '.' || tmp[k] == 'e' || tmp[k] == 'E') plain = false;
    if (plain) {
        tmp[n++] = '.';
        tmp[n++] = '0';
    }
    sl_buf_append(out, tmp, (size_t)n);
}

static const char json_hex[] = "0123456789abcdef";

void sl_json_write_string(sl_buf_t *out, const char *s, size_t len) {
    const char *p = s, *end = s + len;
    sl_buf_reserve(out, len + 2);
    out->data[out->len++] = '"';
    for (;;) {
        const char *run = p;
        p = json_scan_plain(p, end);
        /* Bytes >= 0x80 stop the scan; only U+2028/2029 (E2 80 A8/A9) need escaping
         * among them, so skip the rest here and keep the run going. */
        while (p < end && (unsigned char)*p >= 0x80) {
            if ((unsigned char)p[0] == 0xE2 && end - p >= 3 && (unsigned char)p[1] == 0x80 &&
                ((unsigned char)p[2] == 0xA8 || (unsigned char)p[2] == 0xA9))
                break;
            p = json_scan_plain(p + 1, end);
        }
        if (p > run) {
            sl_buf_reserve(out, (size_t)(p - run) + 1);
            memcpy(out->data + out->len, run, (size_t)(p - run));
            out->len += (size_t)(p - run);
        }
        if (p >= end) break;
        unsigned char c = (unsigned char)*p;
        sl_buf_reserve(out, 8);
        char *o = out->data + out->len;
        if (c == 0xE2) {  /* U+2028 / U+2029 */
            memcpy(o, p[2] == (char)0xA8 ? "\\u2028" : "\\u2029", 6);
            out->len += 6;
            p += 3;
            continue;
        }
        p++;
        o[0] = '\\';
        switch (c) {
        case '"': o[1] = '"'; out->len += 2; break;
        case '\\': o[1] = '\\'; out->len += 2; break;
        case '\n': o[1] = 'n'; out->len += 2; break;
        case '\r': o[1] = 'r'; out->len += 2; break;
        case '\t': o[1] = 't'; out->len += 2; break;
        case '\b': o[1] = 'b'; out->len += 2; break;
        case '\f': o[1] = 'f'; out->len += 2; break;
        default:
            memcpy(o + 1, "u00", 3);
            o[4] = json_hex[c >> 4];
            o[5] = json_hex[c & 15];
            out->len += 6;
        }
    }
    sl_buf_reserve(out, 1);
    out->data[out->len++] = '"';
    out->data[out->len] = 0;
}

static void json_write_value(sl_buf_t *out, sl_value_t v) {
    switch ((sl_type_t)v.type) {
    case SL_T_NULL: sl_buf_append(out, "null", 4); return;
    case SL_T_BOOL:
        if (v.u.b) sl_buf_append(out, "true", 4);
        else sl_buf_append(out, "false", 5);
        return;
    case SL_T_INT: json_write_int(out, v.u.i); return;
    case SL_T_DOUBLE: json_write_double(out, v.u.d); return;
    case SL_T_STRING: sl_json_write_string(out, v.u.s, v.len); return;
    case SL_T_ARRAY:
        sl_buf_reserve(out, 2);
        out->data[out->len++] = '[';
        for (uint32_t i = 0; i < v.len; i++) {
            if (i) {
                sl_buf_reserve(out, 1);
                out->data[out->len++] = ',';
            }
            json_write_value(out, v.u.a[i]);
        }
        sl_buf_reserve(out, 1);
        out->data[out->len++] = ']';
        return;
    case SL_T_OBJECT:
        sl_buf_reserve(out, 2);
        out->data[out->len++] = '{';
        for (uint32_t i = 0; i < v.len; i++) {
            if (i) {
                sl_buf_reserve(out, 1);
                out->data[out->len++] = ',';
            }
            const sl_member_t *m = &v.u.o[i];
            sl_json_write_string(out, m->key, m->key_len);
            sl_buf_reserve(out, 1);
            out->data[out->len++] = ':';
            json_write_value(out, m->val);
        }
        sl_buf_reserve(out, 1);
        out->data[out->len++] = '}';
        return;
    }
    sl_buf_append(out, "null", 4);
}

void sl_json_write(sl_buf_t *out, sl_value_t v) {
    json_write_value(out, v);
    sl_buf_reserve(out, 0);
    out->data[out->len] = 0;
}
