/* types.c - CQL column types and the serialisation of sl_value_t into CQL values
 * (section 6 of native_protocol_v3/v4.spec), and back.  Pure functions, no I/O. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cql.h"
#include "sluice/json.h"

/* ================================ type names ================================ */

static const struct { const char *name; uint16_t id; } type_names[] = {
    {"ascii", CQL_T_ASCII},         {"bigint", CQL_T_BIGINT},     {"blob", CQL_T_BLOB},
    {"boolean", CQL_T_BOOLEAN},     {"counter", CQL_T_COUNTER},   {"decimal", CQL_T_DECIMAL},
    {"double", CQL_T_DOUBLE},       {"float", CQL_T_FLOAT},       {"int", CQL_T_INT},
    {"timestamp", CQL_T_TIMESTAMP}, {"uuid", CQL_T_UUID},         {"text", CQL_T_VARCHAR},
    {"varint", CQL_T_VARINT},       {"timeuuid", CQL_T_TIMEUUID}, {"inet", CQL_T_INET},
    {"date", CQL_T_DATE},           {"time", CQL_T_TIME},         {"smallint", CQL_T_SMALLINT},
    {"tinyint", CQL_T_TINYINT},
    /* aliases (parsed, never formatted: the first name of an id is its CQL name) */
    {"varchar", CQL_T_VARCHAR},     {"string", CQL_T_VARCHAR},    {"json", CQL_T_VARCHAR},
    {"bool", CQL_T_BOOLEAN},        {"long", CQL_T_BIGINT},       {"integer", CQL_T_INT},
    {"real", CQL_T_DOUBLE},         {NULL, 0}};

typedef struct tp {
    const char *s;
    size_t pos;
    sl_arena_t *arena;
    sl_error_t *err;
    bool failed;
} tp_t;

static void tp_ws(tp_t *p) {
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t') p->pos++;
}

static const cql_type_t *tp_fail(tp_t *p, const char *why) {
    if (!p->failed) sl_error_set(p->err, SL_PARSE, "bad CQL type '%s': %s at offset %zu", p->s, why, p->pos);
    p->failed = true;
    return NULL;
}

static const cql_type_t *tp_type(tp_t *p, int depth) {
    if (depth > CQL_MAX_DEPTH) return tp_fail(p, "nested too deeply");
    tp_ws(p);
    size_t start = p->pos;
    while (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '_') p->pos++;
    size_t n = p->pos - start;
    if (n == 0) return tp_fail(p, "expected a type name");
    char name[32];
    if (n >= sizeof name) return tp_fail(p, "unknown type");
    memcpy(name, p->s + start, n);
    name[n] = 0;
    tp_ws(p);
    cql_type_t *t = sl_arena_calloc(p->arena, sizeof *t);
    int nsub = 0;
    bool variadic = false;
    if (strcasecmp(name, "frozen") == 0) {
        if (p->s[p->pos] != '<') return tp_fail(p, "expected '<' after frozen");
        p->pos++;
        const cql_type_t *inner = tp_type(p, depth + 1);
        tp_ws(p);
        if (!inner || p->s[p->pos] != '>') return tp_fail(p, "expected '>'");
        p->pos++;
        return inner;
    } else if (strcasecmp(name, "list") == 0) {
        t->id = CQL_T_LIST, nsub = 1;
    } else if (strcasecmp(name, "set") == 0) {
        t->id = CQL_T_SET, nsub = 1;
    } else if (strcasecmp(name, "map") == 0) {
        t->id = CQL_T_MAP, nsub = 2;
    } else if (strcasecmp(name, "tuple") == 0) {
        t->id = CQL_T_TUPLE, variadic = true;
    } else {
        bool found = false;
        for (size_t i = 0; type_names[i].name; i++)
            if (strcasecmp(type_names[i].name, name) == 0) {
                t->id = type_names[i].id;
                found = true;
                break;
            }
        if (!found) {
            p->pos = start;
            return tp_fail(p, "unknown type");
        }
        return t;
    }
    if (p->s[p->pos] != '<') return tp_fail(p, "expected '<'");
    p->pos++;
    const cql_type_t *subs[64];
    int k = 0;
    for (;;) {
        if (k == 64) return tp_fail(p, "too many element types");
        subs[k] = tp_type(p, depth + 1);
        if (!subs[k]) return NULL;
        k++;
        tp_ws(p);
        if (p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->s[p->pos] == '>') {
            p->pos++;
            break;
        }
        return tp_fail(p, "expected ',' or '>'");
    }
    if (!variadic && k != nsub) return tp_fail(p, nsub == 1 ? "expected one element type" : "expected two types");
    t->n = (uint16_t)k;
    t->sub = sl_arena_alloc(p->arena, (size_t)k * sizeof *t->sub);
    memcpy(t->sub, subs, (size_t)k * sizeof *subs);
    return t;
}

int cql_type_parse(sl_arena_t *arena, const char *text, const cql_type_t **out, sl_error_t *err) {
    tp_t p = {text ? text : "", 0, arena, err, false};
    const cql_type_t *t = tp_type(&p, 0);
    if (t) {
        tp_ws(&p);
        if (p.s[p.pos]) t = tp_fail(&p, "unexpected text after the type");
    }
    *out = t;
    return t ? 0 : SL_PARSE;
}

void cql_type_format(sl_buf_t *out, const cql_type_t *t) {
    switch (t->id) {
    case CQL_T_LIST: sl_buf_puts(out, "list<"); break;
    case CQL_T_SET: sl_buf_puts(out, "set<"); break;
    case CQL_T_MAP: sl_buf_puts(out, "map<"); break;
    case CQL_T_TUPLE: sl_buf_puts(out, "frozen<tuple<"); break;
    case CQL_T_CUSTOM: sl_buf_printf(out, "'%s'", t->custom ? t->custom : ""); return;
    case CQL_T_UDT: sl_buf_printf(out, "frozen<%s>", t->custom ? t->custom : "?"); return;
    default:
        for (size_t i = 0; type_names[i].name; i++)
            if (type_names[i].id == t->id) {
                sl_buf_puts(out, type_names[i].name);
                return;
            }
        sl_buf_puts(out, "blob");
        return;
    }
    for (uint16_t i = 0; i < t->n; i++) {
        if (i) sl_buf_puts(out, ", ");
        const cql_type_t *s = t->sub[i];
        bool frz = s->id == CQL_T_LIST || s->id == CQL_T_SET || s->id == CQL_T_MAP;
        if (frz) sl_buf_puts(out, "frozen<");   /* nested collections must be frozen */
        cql_type_format(out, s);
        if (frz) sl_buf_puts(out, ">");
    }
    sl_buf_puts(out, t->id == CQL_T_TUPLE ? ">>" : ">");
}

/* ================================ helpers ================================ */

static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool digits(const char *s, size_t len, size_t *i, int n, int *out) {
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (*i >= len || !isdigit((unsigned char)s[*i])) return false;
        v = v * 10 + (s[(*i)++] - '0');
    }
    *out = v;
    return true;
}

bool cql_parse_iso_ms(const char *s, size_t len, int64_t *ms) {
    size_t i = 0;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (!digits(s, len, &i, 4, &y) || i >= len || s[i++] != '-' || !digits(s, len, &i, 2, &mo) || i >= len ||
        s[i++] != '-' || !digits(s, len, &i, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
    int64_t frac_ms = 0;
    int64_t off_min = 0;
    if (i < len && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        if (!digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' || !digits(s, len, &i, 2, &mi)) return false;
        if (i < len && s[i] == ':') {
            i++;
            if (!digits(s, len, &i, 2, &sec)) return false;
            if (i < len && (s[i] == '.' || s[i] == ',')) {
                i++;
                int nd = 0;
                int64_t scale = 100;
                while (i < len && isdigit((unsigned char)s[i])) {
                    if (nd < 3) frac_ms += (s[i] - '0') * scale, scale /= 10;
                    nd++, i++;
                }
                if (nd == 0) return false;
            }
        }
        if (h > 23 || mi > 59 || sec > 60) return false;
        if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < len && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
            if (!digits(s, len, &i, 2, &oh)) return false;
            if (i < len && s[i] == ':') i++;
            if (i < len && !digits(s, len, &i, 2, &om)) return false;
            if (oh > 23 || om > 59) return false;
            off_min = sign * (oh * 60 + om);
        }
    }
    if (i != len) return false;
    int64_t days = days_from_civil(y, mo, d);
    *ms = ((days * 86400 + h * 3600 + mi * 60 + sec) - off_min * 60) * 1000 + frac_ms;
    return true;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool cql_parse_uuid(const char *s, size_t len, uint8_t out[16]) {
    int k = 0;
    bool dashed = len == 36;
    if (len != 36 && len != 32) return false;
    for (size_t i = 0; i < len; i++) {
        if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-') return false;
            continue;
        }
        int a = hexval((unsigned char)s[i]), b = i + 1 < len ? hexval((unsigned char)s[i + 1]) : -1;
        if (a < 0 || b < 0) return false;
        out[k++] = (uint8_t)(a << 4 | b);
        i++;
    }
    return k == 16;
}

/* Minimal two's complement of v, big-endian, appended. */
static void varint_from_i64(sl_buf_t *out, int64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
    int s = 0;
    while (s < 7 && ((b[s] == 0x00 && !(b[s + 1] & 0x80)) || (b[s] == 0xFF && (b[s + 1] & 0x80)))) s++;
    sl_buf_append(out, b + s, (size_t)(8 - s));
}

bool cql_decimal_from_text(const char *s, size_t len, int32_t *scale, sl_buf_t *unscaled) {
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    /* magnitude in little-endian base 256 */
    uint8_t mag[2048];
    size_t mlen = 0;
    int ndig = 0, nfrac = 0;
    bool dot = false;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.' && !dot) {
            dot = true;
            continue;
        }
        if (!isdigit((unsigned char)c)) break;
        if (++ndig > 4096) return false;
        if (dot) nfrac++;
        unsigned carry = (unsigned)(c - '0');
        for (size_t k = 0; k < mlen; k++) {
            unsigned v = mag[k] * 10u + carry;
            mag[k] = (uint8_t)v;
            carry = v >> 8;
        }
        if (carry) {
            if (mlen == sizeof mag) return false;
            mag[mlen++] = (uint8_t)carry;
        }
    }
    if (ndig == 0) return false;
    int64_t exp = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
        size_t st = i;
        while (i < len && isdigit((unsigned char)s[i])) {
            exp = exp * 10 + (s[i] - '0');
            if (exp > 100000000) return false;
            i++;
        }
        if (i == st) return false;
        if (eneg) exp = -exp;
    }
    if (i != len) return false;
    int64_t sc = (int64_t)nfrac - exp;
    if (sc > INT32_MAX || sc < INT32_MIN) return false;
    *scale = (int32_t)sc;
    /* big-endian two's complement, minimal */
    uint8_t be[2050];
    size_t n = 0;
    be[n++] = 0;   /* room for the sign */
    for (size_t k = mlen; k > 0; k--) be[n++] = mag[k - 1];
    if (neg) {
        unsigned carry = 1;
        for (size_t k = n; k > 0; k--) {
            unsigned v = (uint8_t)~be[k - 1] + carry;
            be[k - 1] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    size_t st = 0;
    while (st + 1 < n && ((be[st] == 0x00 && !(be[st + 1] & 0x80)) || (be[st] == 0xFF && (be[st + 1] & 0x80)))) st++;
    sl_buf_append(unscaled, be + st, n - st);
    return true;
}

/* Two's complement big-endian bytes -> decimal digits (with '-'), appended. */
static bool varint_to_text(sl_buf_t *out, const uint8_t *p, size_t n) {
    if (n == 0) {
        sl_buf_putc(out, '0');
        return true;
    }
    if (n > 4096) return false;
    uint8_t mag[4096];
    bool neg = p[0] & 0x80;
    memcpy(mag, p, n);
    if (neg) {
        unsigned carry = 1;
        for (size_t k = n; k > 0; k--) {
            unsigned v = (uint8_t)~mag[k - 1] + carry;
            mag[k - 1] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    char dig[10000];
    size_t nd = 0;
    size_t start = 0;
    for (;;) {
        while (start < n && mag[start] == 0) start++;
        if (start == n) break;
        unsigned rem = 0;
        for (size_t k = start; k < n; k++) {
            unsigned v = (rem << 8) | mag[k];
            mag[k] = (uint8_t)(v / 10);
            rem = v % 10;
        }
        dig[nd++] = (char)('0' + rem);
    }
    if (nd == 0) dig[nd++] = '0';
    if (neg) sl_buf_putc(out, '-');
    for (size_t k = nd; k > 0; k--) sl_buf_putc(out, dig[k - 1]);
    return true;
}

/* The shortest "%.*g" text that reads back to d. */
static void double_text(char *out, size_t cap, double d) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, d);
        if (strtod(out, NULL) == d) return;
    }
}

static bool utf8_ok(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned cp;
        if ((c & 0xE0) == 0xC0) k = 1, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0) k = 2, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0) k = 3, cp = c & 0x07;
        else return false;
        if (i + k >= n) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

/* ================================ serialise ================================ */

static const char *type_label(const cql_type_t *t, char *buf, size_t cap) {
    sl_buf_t b = SL_BUF_INIT;
    cql_type_format(&b, t);
    snprintf(buf, cap, "%s", b.data ? b.data : "?");
    sl_buf_free(&b);
    return buf;
}

static int put_fail(sl_error_t *err, const cql_type_t *t, sl_value_t v, const char *why) {
    char tl[64];
    sl_buf_t shown = SL_BUF_INIT;
    sl_json_write(&shown, v);
    int rc = sl_error_set(err, SL_PARSE, "%s: %s (%.80s%s)", type_label(t, tl, sizeof tl), why, shown.data,
                          shown.len > 80 ? "..." : "");
    sl_buf_free(&shown);
    return rc;
}

/* An integer from v: int, integral double, or integer text. */
static bool as_i64(sl_value_t v, int64_t *out) {
    if (v.type == SL_T_INT) {
        *out = v.u.i;
        return true;
    }
    if (v.type == SL_T_DOUBLE) {
        double d = v.u.d;
        if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0) return false;
        *out = (int64_t)d;
        return true;
    }
    if (v.type == SL_T_STRING && v.len > 0 && v.len < 64) {
        char tmp[64];
        memcpy(tmp, v.u.s, v.len);
        tmp[v.len] = 0;
        char *end;
        errno = 0;
        long long x = strtoll(tmp, &end, 10);
        if (!errno && *end == 0 && !isspace((unsigned char)tmp[0])) {
            *out = x;
            return true;
        }
        return as_i64(sl_double(strtod(tmp, &end)), out) && *end == 0 && !isspace((unsigned char)tmp[0]);
    }
    return false;
}

static bool as_double(sl_value_t v, double *out) {
    if (v.type == SL_T_INT) {
        *out = (double)v.u.i;
        return true;
    }
    if (v.type == SL_T_DOUBLE) {
        *out = v.u.d;
        return true;
    }
    if (v.type == SL_T_STRING && v.len > 0 && v.len < 128 && !isspace((unsigned char)v.u.s[0])) {
        char tmp[128];
        memcpy(tmp, v.u.s, v.len);
        tmp[v.len] = 0;
        char *end;
        double d = strtod(tmp, &end);
        if (*end == 0) {
            *out = d;
            return true;
        }
    }
    return false;
}

static int put_body(sl_buf_t *out, const cql_type_t *t, sl_value_t v, sl_error_t *err, int depth);

/* [bytes] of v: length, then the body. */
static int put_sized(sl_buf_t *out, const cql_type_t *t, sl_value_t v, sl_error_t *err, int depth) {
    if (v.type == SL_T_NULL) {
        cql_put_int(out, -1);
        return 0;
    }
    size_t at = out->len;
    cql_put_int(out, 0);
    int rc = put_body(out, t, v, err, depth);
    if (rc) {
        out->len = at;
        return rc;
    }
    size_t n = out->len - at - 4;
    if (n > INT32_MAX) {
        out->len = at;
        return put_fail(err, t, v, "value larger than 2 GiB");
    }
    uint8_t *p = (uint8_t *)out->data + at;
    p[0] = (uint8_t)(n >> 24), p[1] = (uint8_t)(n >> 16), p[2] = (uint8_t)(n >> 8), p[3] = (uint8_t)n;
    return 0;
}

static int put_body(sl_buf_t *out, const cql_type_t *t, sl_value_t v, sl_error_t *err, int depth) {
    if (depth > CQL_MAX_DEPTH) return put_fail(err, t, v, "nested too deeply");
    int64_t i;
    double d;
    switch (t->id) {
    case CQL_T_VARCHAR:
    case CQL_T_ASCII:
        if (v.type == SL_T_STRING) {
            if (t->id == CQL_T_ASCII) {
                for (uint32_t k = 0; k < v.len; k++)
                    if ((unsigned char)v.u.s[k] > 127) return put_fail(err, t, v, "not ASCII");
            } else if (!utf8_ok((const unsigned char *)v.u.s, v.len)) {
                return put_fail(err, t, v, "not valid UTF-8");
            }
            sl_buf_append(out, v.u.s, v.len);
        } else if (v.type == SL_T_BOOL) {
            sl_buf_puts(out, v.u.b ? "true" : "false");
        } else if (v.type == SL_T_INT) {
            sl_buf_printf(out, "%lld", (long long)v.u.i);
        } else {
            sl_json_write(out, v);   /* doubles in their JSON form; arrays and objects as JSON */
        }
        return 0;
    case CQL_T_INT:
    case CQL_T_SMALLINT:
    case CQL_T_TINYINT: {
        if (!as_i64(v, &i)) return put_fail(err, t, v, "not an integer");
        int64_t lo = t->id == CQL_T_INT ? INT32_MIN : t->id == CQL_T_SMALLINT ? INT16_MIN : INT8_MIN;
        int64_t hi = t->id == CQL_T_INT ? INT32_MAX : t->id == CQL_T_SMALLINT ? INT16_MAX : INT8_MAX;
        if (i < lo || i > hi) return put_fail(err, t, v, "out of range");
        if (t->id == CQL_T_INT) cql_put_int(out, (int32_t)i);
        else if (t->id == CQL_T_SMALLINT) cql_put_short(out, (uint16_t)(int16_t)i);
        else cql_put_byte(out, (uint8_t)(int8_t)i);
        return 0;
    }
    case CQL_T_BIGINT:
    case CQL_T_COUNTER:
        if (!as_i64(v, &i)) return put_fail(err, t, v, "not an integer (or out of range)");
        cql_put_long(out, i);
        return 0;
    case CQL_T_VARINT:
        if (v.type == SL_T_STRING) {
            int32_t scale;
            size_t at = out->len;
            if (!cql_decimal_from_text(v.u.s, v.len, &scale, out) || scale != 0) {
                out->len = at;
                return put_fail(err, t, v, "not an integer");
            }
            return 0;
        }
        if (!as_i64(v, &i)) return put_fail(err, t, v, "not an integer");
        varint_from_i64(out, i);
        return 0;
    case CQL_T_FLOAT:
    case CQL_T_DOUBLE: {
        if (!as_double(v, &d)) return put_fail(err, t, v, "not a number");
        if (t->id == CQL_T_FLOAT) {
            float f = (float)d;
            uint32_t u;
            memcpy(&u, &f, 4);
            cql_put_int(out, (int32_t)u);
        } else {
            uint64_t u;
            memcpy(&u, &d, 8);
            cql_put_long(out, (int64_t)u);
        }
        return 0;
    }
    case CQL_T_BOOLEAN: {
        int b = -1;
        if (v.type == SL_T_BOOL) b = v.u.b;
        else if (v.type == SL_T_INT && (v.u.i == 0 || v.u.i == 1)) b = (int)v.u.i;
        else if (v.type == SL_T_STRING) {
            if ((v.len == 4 && strncasecmp(v.u.s, "true", 4) == 0) || (v.len == 1 && v.u.s[0] == '1')) b = 1;
            if ((v.len == 5 && strncasecmp(v.u.s, "false", 5) == 0) || (v.len == 1 && v.u.s[0] == '0')) b = 0;
        }
        if (b < 0) return put_fail(err, t, v, "not a boolean");
        cql_put_byte(out, (uint8_t)b);
        return 0;
    }
    case CQL_T_TIMESTAMP: {
        int64_t ms;
        if (v.type == SL_T_INT) ms = v.u.i;
        else if (v.type == SL_T_DOUBLE && isfinite(v.u.d) && fabs(v.u.d) < 9.2e18) ms = (int64_t)floor(v.u.d);
        else if (v.type == SL_T_STRING && cql_parse_iso_ms(v.u.s, v.len, &ms)) {
        } else if (v.type == SL_T_STRING && as_i64(v, &ms)) {
        } else return put_fail(err, t, v, "not a time (epoch ms or ISO-8601 text)");
        cql_put_long(out, ms);
        return 0;
    }
    case CQL_T_DATE: {
        int64_t ms;
        if (v.type == SL_T_STRING && cql_parse_iso_ms(v.u.s, v.len, &ms)) {
        } else if (!as_i64(v, &ms)) return put_fail(err, t, v, "not a date");
        int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
        cql_put_int(out, (int32_t)(uint32_t)(days + 2147483648LL));
        return 0;
    }
    case CQL_T_TIME: {
        if (!as_i64(v, &i) || i < 0 || i > 86399999999999LL) return put_fail(err, t, v, "not a time of day (ns)");
        cql_put_long(out, i);
        return 0;
    }
    case CQL_T_UUID:
    case CQL_T_TIMEUUID: {
        uint8_t u[16];
        if (v.type != SL_T_STRING || !cql_parse_uuid(v.u.s, v.len, u)) return put_fail(err, t, v, "not a UUID");
        if (t->id == CQL_T_TIMEUUID && (u[6] >> 4) != 1) return put_fail(err, t, v, "not a version 1 (time) UUID");
        sl_buf_append(out, u, 16);
        return 0;
    }
    case CQL_T_INET: {
        uint8_t a[16];
        char tmp[64];
        if (v.type != SL_T_STRING || v.len >= sizeof tmp) return put_fail(err, t, v, "not an IP address");
        memcpy(tmp, v.u.s, v.len);
        tmp[v.len] = 0;
        if (inet_pton(AF_INET, tmp, a) == 1) sl_buf_append(out, a, 4);
        else if (inet_pton(AF_INET6, tmp, a) == 1) sl_buf_append(out, a, 16);
        else return put_fail(err, t, v, "not an IP address");
        return 0;
    }
    case CQL_T_DECIMAL: {
        char tmp[40];
        const char *s;
        size_t n;
        if (v.type == SL_T_INT) {
            snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i);
            s = tmp, n = strlen(tmp);
        } else if (v.type == SL_T_DOUBLE) {
            if (!isfinite(v.u.d)) return put_fail(err, t, v, "not a finite number");
            double_text(tmp, sizeof tmp, v.u.d);
            s = tmp, n = strlen(tmp);
        } else if (v.type == SL_T_STRING) {
            s = v.u.s, n = v.len;
        } else {
            return put_fail(err, t, v, "not a number");
        }
        size_t at = out->len;
        cql_put_int(out, 0);
        int32_t scale;
        if (!cql_decimal_from_text(s, n, &scale, out)) {
            out->len = at;
            return put_fail(err, t, v, "not a decimal number");
        }
        uint8_t *p = (uint8_t *)out->data + at;
        uint32_t u = (uint32_t)scale;
        p[0] = (uint8_t)(u >> 24), p[1] = (uint8_t)(u >> 16), p[2] = (uint8_t)(u >> 8), p[3] = (uint8_t)u;
        return 0;
    }
    case CQL_T_BLOB:
        if (v.type != SL_T_STRING) return put_fail(err, t, v, "not a string");
        if (v.len >= 2 && v.u.s[0] == '0' && (v.u.s[1] == 'x' || v.u.s[1] == 'X') && v.len % 2 == 0) {
            size_t at = out->len;
            for (uint32_t k = 2; k < v.len; k += 2) {
                int a = hexval((unsigned char)v.u.s[k]), b = hexval((unsigned char)v.u.s[k + 1]);
                if (a < 0 || b < 0) {
                    out->len = at;
                    return put_fail(err, t, v, "bad hex digits");
                }
                cql_put_byte(out, (uint8_t)(a << 4 | b));
            }
        } else {
            sl_buf_append(out, v.u.s, v.len);
        }
        return 0;
    case CQL_T_LIST:
    case CQL_T_SET:
        if (v.type != SL_T_ARRAY) return put_fail(err, t, v, "not an array");
        cql_put_int(out, (int32_t)v.len);
        for (uint32_t k = 0; k < v.len; k++) {
            if (v.u.a[k].type == SL_T_NULL) return put_fail(err, t, v, "null element (collections cannot hold null)");
            int rc = put_sized(out, t->sub[0], v.u.a[k], err, depth + 1);
            if (rc) return rc;
        }
        return 0;
    case CQL_T_MAP:
        if (v.type != SL_T_OBJECT) return put_fail(err, t, v, "not an object");
        cql_put_int(out, (int32_t)v.len);
        for (uint32_t k = 0; k < v.len; k++) {
            if (v.u.o[k].val.type == SL_T_NULL) return put_fail(err, t, v, "null value (maps cannot hold null)");
            int rc = put_sized(out, t->sub[0], sl_str(v.u.o[k].key, v.u.o[k].key_len), err, depth + 1);
            if (!rc) rc = put_sized(out, t->sub[1], v.u.o[k].val, err, depth + 1);
            if (rc) return rc;
        }
        return 0;
    case CQL_T_TUPLE:
        if (v.type != SL_T_ARRAY || v.len > t->n) return put_fail(err, t, v, "not an array of the tuple's size");
        for (uint32_t k = 0; k < v.len; k++) {
            int rc = put_sized(out, t->sub[k], v.u.a[k], err, depth + 1);
            if (rc) return rc;
        }
        return 0;
    default: return put_fail(err, t, v, "type not supported by sluice");
    }
}

int cql_value_put(sl_buf_t *out, const cql_type_t *t, sl_value_t v, sl_error_t *err) {
    return put_sized(out, t, v, err, 0);
}

/* ================================ decode ================================ */

static int dec_fail(sl_error_t *err, const cql_type_t *t, const char *why) {
    char tl[64];
    return sl_error_set(err, SL_PARSE, "%s cell: %s", type_label(t, tl, sizeof tl), why);
}

static int64_t be_int(const uint8_t *p, int n) {
    uint64_t u = (p[0] & 0x80) ? ~(uint64_t)0 : 0;
    for (int i = 0; i < n; i++) u = (u << 8) | p[i];
    return (int64_t)u;
}

static int dec(sl_arena_t *arena, const cql_type_t *t, cql_bytes_t c, sl_value_t *out, sl_error_t *err, int depth) {
    if (c.len < 0 || !c.p) {
        *out = sl_null();
        return 0;
    }
    if (depth > CQL_MAX_DEPTH) return dec_fail(err, t, "nested too deeply");
    const uint8_t *p = c.p;
    size_t n = (size_t)c.len;
    switch (t->id) {
    case CQL_T_VARCHAR:
    case CQL_T_ASCII:
    case 0x000A:
    case CQL_T_CUSTOM:
        *out = sl_str_dup(arena, (const char *)p, n);
        return 0;
    case CQL_T_INT:
        if (n != 4) return dec_fail(err, t, "not 4 bytes");
        *out = sl_int(be_int(p, 4));
        return 0;
    case CQL_T_SMALLINT:
        if (n != 2) return dec_fail(err, t, "not 2 bytes");
        *out = sl_int(be_int(p, 2));
        return 0;
    case CQL_T_TINYINT:
        if (n != 1) return dec_fail(err, t, "not 1 byte");
        *out = sl_int(be_int(p, 1));
        return 0;
    case CQL_T_BIGINT:
    case CQL_T_COUNTER:
    case CQL_T_TIMESTAMP:
    case CQL_T_TIME:
        if (n != 8) return dec_fail(err, t, "not 8 bytes");
        *out = sl_int(be_int(p, 8));
        return 0;
    case CQL_T_DATE: {
        if (n != 4) return dec_fail(err, t, "not 4 bytes");
        int64_t days = (int64_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]) -
                       2147483648LL;
        int64_t y;
        int m, d;
        civil_from_days(days, &y, &m, &d);
        char tmp[48];
        snprintf(tmp, sizeof tmp, "%04lld-%02d-%02d", (long long)y, m, d);
        *out = sl_str_dup(arena, tmp, strlen(tmp));
        return 0;
    }
    case CQL_T_VARINT: {
        if (n >= 1 && n <= 8) {
            *out = sl_int(be_int(p, (int)n));
            return 0;
        }
        sl_buf_t b = SL_BUF_INIT;
        bool ok = varint_to_text(&b, p, n);
        if (ok) *out = sl_str_dup(arena, b.data, b.len);
        sl_buf_free(&b);
        return ok ? 0 : dec_fail(err, t, "too long");
    }
    case CQL_T_DECIMAL: {
        if (n < 4) return dec_fail(err, t, "shorter than its scale");
        int32_t scale = (int32_t)be_int(p, 4);
        sl_buf_t b = SL_BUF_INIT;
        if (!varint_to_text(&b, p + 4, n - 4)) {
            sl_buf_free(&b);
            return dec_fail(err, t, "too long");
        }
        /* place the point: digits * 10^-scale */
        sl_buf_t o = SL_BUF_INIT;
        const char *dg = b.data;
        bool neg = dg[0] == '-';
        if (neg) dg++, sl_buf_putc(&o, '-');
        size_t nd = strlen(dg);
        if (scale <= 0) {
            sl_buf_puts(&o, dg);
            if (scale < 0 && !(nd == 1 && dg[0] == '0')) {
                if (scale >= -4096)
                    for (int32_t k = 0; k < -scale; k++) sl_buf_putc(&o, '0');
                else
                    sl_buf_printf(&o, "E+%lld", -(long long)scale);
            }
        } else if ((size_t)scale < nd) {
            sl_buf_append(&o, dg, nd - (size_t)scale);
            sl_buf_putc(&o, '.');
            sl_buf_puts(&o, dg + nd - (size_t)scale);
        } else if (scale <= 4096) {
            sl_buf_puts(&o, "0.");
            for (size_t k = nd; k < (size_t)scale; k++) sl_buf_putc(&o, '0');
            sl_buf_puts(&o, dg);
        } else {
            sl_buf_printf(&o, "%sE-%d", dg, scale);
        }
        *out = sl_str_dup(arena, o.data, o.len);
        sl_buf_free(&b);
        sl_buf_free(&o);
        return 0;
    }
    case CQL_T_FLOAT: {
        if (n != 4) return dec_fail(err, t, "not 4 bytes");
        uint32_t u = (uint32_t)be_int(p, 4);
        float f;
        memcpy(&f, &u, 4);
        *out = sl_double(f);
        return 0;
    }
    case CQL_T_DOUBLE: {
        if (n != 8) return dec_fail(err, t, "not 8 bytes");
        uint64_t u = (uint64_t)be_int(p, 8);
        double dv;
        memcpy(&dv, &u, 8);
        *out = sl_double(dv);
        return 0;
    }
    case CQL_T_BOOLEAN:
        if (n != 1) return dec_fail(err, t, "not 1 byte");
        *out = sl_bool(p[0] != 0);
        return 0;
    case CQL_T_UUID:
    case CQL_T_TIMEUUID: {
        if (n != 16) return dec_fail(err, t, "not 16 bytes");
        char s[37];
        snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", p[0], p[1],
                 p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]);
        *out = sl_str_dup(arena, s, 36);
        return 0;
    }
    case CQL_T_INET: {
        char s[64];
        if (n == 4) inet_ntop(AF_INET, p, s, sizeof s);
        else if (n == 16) inet_ntop(AF_INET6, p, s, sizeof s);
        else return dec_fail(err, t, "not 4 or 16 bytes");
        *out = sl_str_dup(arena, s, strlen(s));
        return 0;
    }
    case CQL_T_BLOB: {
        char *s = sl_arena_alloc(arena, 2 * n + 3);
        s[0] = '0', s[1] = 'x';
        for (size_t k = 0; k < n; k++) snprintf(s + 2 + 2 * k, 3, "%02x", p[k]);
        s[2 + 2 * n] = 0;
        *out = sl_str(s, 2 + 2 * n);
        return 0;
    }
    case CQL_T_LIST:
    case CQL_T_SET:
    case CQL_T_MAP:
    case CQL_T_TUPLE:
    case CQL_T_UDT: {
        size_t pos = 0;
        int64_t cnt;
        bool is_map = t->id == CQL_T_MAP;
        if (t->id == CQL_T_TUPLE || t->id == CQL_T_UDT) {
            cnt = t->n;
        } else {
            if (n < 4) return dec_fail(err, t, "truncated element count");
            cnt = be_int(p, 4);
            pos = 4;
            if (cnt < 0 || (uint64_t)cnt * (is_map ? 8u : 4u) > n - pos) return dec_fail(err, t, "bad element count");
        }
        sl_value_t res = is_map || t->id == CQL_T_UDT ? sl_object_new(arena, (size_t)cnt) : sl_array_new(arena, (size_t)cnt);
        for (int64_t k = 0; k < cnt; k++) {
            cql_bytes_t e[2];
            int parts = is_map ? 2 : 1;
            if ((t->id == CQL_T_TUPLE || t->id == CQL_T_UDT) && pos == n) break;   /* fewer fields */
            for (int q = 0; q < parts; q++) {
                if (n - pos < 4) return dec_fail(err, t, "truncated element");
                int32_t len = (int32_t)be_int(p + pos, 4);
                pos += 4;
                if (len < 0) {
                    e[q].p = NULL, e[q].len = -1;
                    continue;
                }
                if ((size_t)len > n - pos) return dec_fail(err, t, "element longer than the cell");
                e[q].p = p + pos, e[q].len = len;
                pos += (size_t)len;
            }
            const cql_type_t *et = t->id == CQL_T_TUPLE || t->id == CQL_T_UDT ? t->sub[k] : t->sub[is_map ? 1 : 0];
            sl_value_t ev;
            int rc = dec(arena, et, is_map ? e[1] : e[0], &ev, err, depth + 1);
            if (rc) return rc;
            if (is_map) {
                sl_value_t kv;
                rc = dec(arena, t->sub[0], e[0], &kv, err, depth + 1);
                if (rc) return rc;
                sl_buf_t kb = SL_BUF_INIT;
                if (kv.type == SL_T_STRING) sl_buf_append(&kb, kv.u.s, kv.len);
                else sl_json_write(&kb, kv);
                res.u.o[res.len].key = sl_arena_strndup(arena, kb.data ? kb.data : "", kb.len);
                res.u.o[res.len].key_len = (uint32_t)kb.len;
                res.u.o[res.len].val = ev;
                sl_buf_free(&kb);
            } else if (t->id == CQL_T_UDT) {
                const char *nm = t->names && t->names[k] ? t->names[k] : "?";
                res.u.o[res.len].key = nm;
                res.u.o[res.len].key_len = (uint32_t)strlen(nm);
                res.u.o[res.len].val = ev;
            } else {
                res.u.a[res.len] = ev;
            }
            res.len++;
        }
        *out = res;
        return 0;
    }
    default: return dec_fail(err, t, "unsupported type");
    }
}

int cql_value_decode(sl_arena_t *arena, const cql_type_t *t, cql_bytes_t cell, sl_value_t *out, sl_error_t *err) {
    return dec(arena, t, cell, out, err, 0);
}
