/* cron.c - parse 5-field cron expressions and find their next firing time in UTC, a
 * fixed offset or an IANA zone (TZif files parsed here, see cron.h).  Used by the `http`
 * source's `cron:` schedule. */
#include "cron.h"
#include "sluice/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

typedef struct field {
    const char *name;
    int lo, hi;
    const char *const *names;   /* names[i] = lo + i */
} field_t;

static const field_t fields[5] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},
    {"month", 1, 12, months},
    {"day of week", 0, 7, days},
};

/* A number or a name at *p; advances *p.  -1 when neither. */
static int cron_atom(const char **p, const field_t *f) {
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        int v = 0;
        while (isdigit((unsigned char)*s) && v < 1000) v = v * 10 + (*s++ - '0');
        if (isdigit((unsigned char)*s)) return -1;
        *p = s;
        return v;
    }
    if (f->names && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) &&
        isalpha((unsigned char)s[2])) {
        for (int i = 0; f->names[i]; i++)
            if (strncasecmp(s, f->names[i], 3) == 0) {
                *p = s + 3;
                return f->lo + i;
            }
    }
    return -1;
}

/* Parse one field s[0..len) into bits.  Returns 0 or -1 with err. */
static int cron_field(const char *s, size_t len, const field_t *f, uint64_t *bits, bool *any,
                      char *err, size_t errlen) {
    char buf[128];
    if (len == 0 || len >= sizeof buf) {
        snprintf(err, errlen, "bad %s field", f->name);
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = 0;
    *bits = 0;
    if (buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,")) goto bad;
    *any = strcmp(buf, "*") == 0 || strcmp(buf, "?") == 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        const char *p = item;
        int a, b, step = 1;
        bool star = false;
        if (*p == '*' || *p == '?') {
            star = true;
            a = f->lo;
            b = f->hi;
            p++;
        } else {
            a = cron_atom(&p, f);
            if (a < 0) goto bad;
            b = a;
            if (*p == '-') {
                p++;
                b = cron_atom(&p, f);
                if (b < 0) goto bad;
            }
        }
        if (*p == '/') {
            p++;
            if (!isdigit((unsigned char)*p)) goto bad;
            step = 0;
            while (isdigit((unsigned char)*p) && step < 1000) step = step * 10 + (*p++ - '0');
            if (step < 1 || step > f->hi - f->lo + 1) goto bad;
            if (!star && b == a && item[strcspn(item, "-")] == 0) b = f->hi;  /* "N/S" */
        }
        if (*p) goto bad;
        if (a < f->lo || b > f->hi || a > b) {
            snprintf(err, errlen, "%s value out of range %d-%d in '%s'", f->name, f->lo, f->hi, item);
            return -1;
        }
        for (int v = a; v <= b; v += step) *bits |= 1ull << v;
    }
    if (!*bits) goto bad;
    return 0;
bad:
    snprintf(err, errlen, "bad %s field '%.*s'", f->name, (int)len, s);
    return -1;
}

int sl_cron_parse(const char *expr, sl_cron_t *out, char *err, size_t errlen) {
    static const struct { const char *macro, *expansion; } macros[] = {
        {"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
        {"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
        {"@annually", "0 0 1 1 *"}};
    memset(out, 0, sizeof *out);
    if (!expr) expr = "";
    while (isspace((unsigned char)*expr)) expr++;
    if (*expr == '@') {
        size_t n = strcspn(expr, " \t");
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strlen(macros[i].macro) == n && strncmp(expr, macros[i].macro, n) == 0)
                return sl_cron_parse(macros[i].expansion, out, err, errlen);
        snprintf(err, errlen, "unknown cron macro '%.*s'", (int)(n > 40 ? 40 : n), expr);
        return -1;
    }
    const char *p = expr;
    uint64_t bits[5];
    bool any[5];
    for (int i = 0; i < 5; i++) {
        while (isspace((unsigned char)*p)) p++;
        size_t n = strcspn(p, " \t\r\n");
        if (n == 0) {
            snprintf(err, errlen, "a cron expression has 5 fields (minute hour day month weekday), "
                     "found %d", i);
            return -1;
        }
        if (cron_field(p, n, &fields[i], &bits[i], &any[i], err, errlen) != 0) return -1;
        p += n;
    }
    while (isspace((unsigned char)*p)) p++;
    if (*p) {
        snprintf(err, errlen, "a cron expression has 5 fields; unexpected '%.20s'", p);
        return -1;
    }
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    uint64_t dow = bits[4];
    if (dow & (1u << 7)) dow |= 1u;  /* 7 = Sunday */
    out->dow = (uint8_t)(dow & 0x7f);
    out->dom_any = any[2];
    out->dow_any = any[4];
    return 0;
}

int sl_cron_parse_tz(const char *tz, int *offset_min) {
    *offset_min = 0;
    if (!tz || !*tz || strcasecmp(tz, "UTC") == 0 || strcasecmp(tz, "Z") == 0 ||
        strcasecmp(tz, "GMT") == 0 || strcasecmp(tz, "Etc/UTC") == 0)
        return 0;
    const char *p = tz;
    if (strncasecmp(p, "UTC", 3) == 0) p += 3;
    int sign = *p == '-' ? -1 : *p == '+' ? 1 : 0;
    if (!sign) return -1;
    p++;
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1])) return -1;
    int h = (p[0] - '0') * 10 + (p[1] - '0'), m = 0;
    p += 2;
    if (*p == ':') p++;
    if (*p) {
        if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[2]) return -1;
        m = (p[0] - '0') * 10 + (p[1] - '0');
    }
    if (h > 14 || m > 59) return -1;
    *offset_min = sign * (h * 60 + m);
    return 0;
}

/* Days since 1970-01-01 of a civil date, and back (proleptic Gregorian). */
static int64_t cron_days(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void cron_civil(int64_t z, int64_t *y, int *m, int *d) {
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

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int64_t sl_cron_next(const sl_cron_t *c, int64_t after_ms, int offset_min) {
    if (offset_min < -2000 || offset_min > 2000) return -1;
    /* local minutes since the epoch */
    int64_t t = floor_div(after_ms, 60000) + 1 + offset_min;
    int64_t limit = t + 8LL * 366 * 1440;
    while (t < limit) {
        int64_t day = floor_div(t, 1440);
        int mod = (int)(t - day * 1440);
        int64_t y;
        int m, d;
        cron_civil(day, &y, &m, &d);
        if (!(c->month & (1u << m))) {
            int ny = (int)y + (m == 12), nm = m == 12 ? 1 : m + 1;
            t = cron_days(ny, nm, 1) * 1440;
            continue;
        }
        int wd = (int)((day % 7 + 7 + 4) % 7);  /* 1970-01-01 was a Thursday */
        bool dom_ok = (c->dom >> d) & 1u, dow_ok = (c->dow >> wd) & 1u;
        bool day_ok = c->dom_any && c->dow_any ? true
                    : c->dom_any ? dow_ok
                    : c->dow_any ? dom_ok
                    : (dom_ok || dow_ok);
        if (!day_ok) {
            t = (day + 1) * 1440;
            continue;
        }
        int h = mod / 60, mi = mod % 60;
        if (!((c->hour >> h) & 1u)) {
            t = day * 1440 + (h + 1) * 60;
            continue;
        }
        if (!((c->minute >> mi) & 1ull)) {
            t++;
            continue;
        }
        return (t - offset_min) * 60000;
    }
    return -1;
}

/* ------------------------------------------------------------------ time zones
 *
 * Invariants of a zone:
 *   1. times[] is strictly ascending; idx[i] < ntypes; ntypes >= 1.
 *   2. Before times[0] (or always, when ntimes == 0 and there is no rule) the offset
 *      is utoff[0]; from times[i] on it is utoff[idx[i]] until times[i + 1].
 *   3. From times[ntimes - 1] on (or always when ntimes == 0), a rule, when present,
 *      gives the offset: std_off, or dst_off inside the DST period of the year.
 *   4. Every offset is within +-26 h, so local minute arithmetic cannot overflow. */

#define TZ_MAX_OFF (26 * 3600)
#define TZ_MAX_FILE (1 << 20)
#define TZ_T_LIM 100000000000000LL   /* +-3 million years: rule arithmetic stays in range */

typedef struct tz_date {
    char kind;        /* 'M' (Mm.w.d), 'J' (Jn, 1-365, no Feb 29), 'n' (0-365) */
    int m, w, d, n;
    int32_t time;     /* seconds after local midnight, -167 h .. 167 h */
} tz_date_t;

struct sl_cron_tz {
    int64_t *times;   /* transitions, seconds since the epoch */
    uint8_t *idx;     /* the type from each transition on */
    size_t ntimes;
    int32_t *utoff;   /* per type, seconds east of UTC */
    size_t ntypes;
    bool has_rule, rule_dst;
    int32_t std_off, dst_off;
    tz_date_t start, end;
};

void sl_cron_tz_free(sl_cron_tz_t *tz) {
    if (!tz) return;
    free(tz->times);
    free(tz->idx);
    free(tz->utoff);
    free(tz);
}

static sl_cron_tz_t *tz_fixed(int32_t off) {
    sl_cron_tz_t *tz = calloc(1, sizeof *tz);
    if (!tz) return NULL;
    tz->utoff = malloc(sizeof *tz->utoff);
    if (!tz->utoff) {
        free(tz);
        return NULL;
    }
    tz->utoff[0] = off;
    tz->ntypes = 1;
    tz->has_rule = true;
    tz->std_off = tz->dst_off = off;
    return tz;
}

/* --- POSIX TZ strings (RFC 8536 section 3.3, POSIX.1 TZ with the v3 extensions) */

/* A zone abbreviation: "<...>" or 3+ letters. */
static bool posix_name(const char **p) {
    const char *s = *p;
    if (*s == '<') {
        s++;
        const char *b = s;
        while (*s && *s != '>') {
            if (!isalnum((unsigned char)*s) && *s != '+' && *s != '-') return false;
            s++;
        }
        if (*s != '>' || s - b < 1) return false;
        *p = s + 1;
        return true;
    }
    const char *b = s;
    while (isalpha((unsigned char)*s)) s++;
    if (s - b < 3) return false;
    *p = s;
    return true;
}

/* [+-]h[hh][:mm[:ss]] with hours <= maxh; seconds (positive = the sign as written). */
static bool posix_hms(const char **p, int maxh, int32_t *out) {
    const char *s = *p;
    int sign = 1;
    if (*s == '+' || *s == '-') sign = *s++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*s)) return false;
    int h = 0, m = 0, sec = 0, nd = 0;
    while (isdigit((unsigned char)*s) && nd < 3) h = h * 10 + (*s++ - '0'), nd++;
    if (isdigit((unsigned char)*s) || h > maxh) return false;
    if (*s == ':') {
        s++;
        if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1])) return false;
        m = (s[0] - '0') * 10 + (s[1] - '0');
        s += 2;
        if (*s == ':') {
            s++;
            if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1])) return false;
            sec = (s[0] - '0') * 10 + (s[1] - '0');
            s += 2;
        }
        if (m > 59 || sec > 59) return false;
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    *p = s;
    return true;
}

static bool posix_num(const char **p, int lo, int hi, int *out) {
    const char *s = *p;
    int v = 0, nd = 0;
    while (isdigit((unsigned char)*s) && nd < 4) v = v * 10 + (*s++ - '0'), nd++;
    if (nd == 0 || isdigit((unsigned char)*s) || v < lo || v > hi) return false;
    *out = v;
    *p = s;
    return true;
}

static bool posix_date(const char **p, tz_date_t *d) {
    const char *s = *p;
    memset(d, 0, sizeof *d);
    d->time = 7200;
    if (*s == 'M') {
        s++;
        d->kind = 'M';
        if (!posix_num(&s, 1, 12, &d->m) || *s++ != '.' || !posix_num(&s, 1, 5, &d->w) || *s++ != '.' ||
            !posix_num(&s, 0, 6, &d->d))
            return false;
    } else if (*s == 'J') {
        s++;
        d->kind = 'J';
        if (!posix_num(&s, 1, 365, &d->n)) return false;
    } else {
        d->kind = 'n';
        if (!posix_num(&s, 0, 365, &d->n)) return false;
    }
    if (*s == '/' && (s++, !posix_hms(&s, 167, &d->time))) return false;
    *p = s;
    return true;
}

/* Parse a POSIX TZ string into tz's rule.  Returns false when it does not parse. */
static bool posix_parse(const char *s, sl_cron_tz_t *tz) {
    int32_t off, doff;
    if (!posix_name(&s) || !posix_hms(&s, 24, &off)) return false;
    tz->has_rule = true;
    tz->rule_dst = false;
    tz->std_off = tz->dst_off = -off;   /* POSIX offsets are west of Greenwich */
    if (!*s) return true;
    if (!posix_name(&s)) return false;
    tz->rule_dst = true;
    tz->dst_off = tz->std_off + 3600;
    if (*s && *s != ',') {
        if (!posix_hms(&s, 24, &doff)) return false;
        tz->dst_off = -doff;
    }
    if (!*s) {   /* no rule: the US rule, as glibc assumes */
        tz->start = (tz_date_t){'M', 3, 2, 0, 0, 7200};
        tz->end = (tz_date_t){'M', 11, 1, 0, 0, 7200};
        return true;
    }
    if (*s++ != ',' || !posix_date(&s, &tz->start) || *s++ != ',' || !posix_date(&s, &tz->end)) return false;
    return *s == 0;
}

sl_cron_tz_t *sl_cron_tz_from_posix(const char *posix) {
    sl_cron_tz_t *tz = tz_fixed(0);
    if (!tz) return NULL;
    if (!posix || !posix_parse(posix, tz) || tz->std_off < -TZ_MAX_OFF || tz->std_off > TZ_MAX_OFF ||
        tz->dst_off < -TZ_MAX_OFF || tz->dst_off > TZ_MAX_OFF) {
        sl_cron_tz_free(tz);
        return NULL;
    }
    tz->utoff[0] = tz->std_off;
    return tz;
}

static bool leap_year(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* The instant (seconds since the epoch) of date d of year y, whose time is local time
 * at offset off. */
static int64_t rule_instant(int64_t y, const tz_date_t *d, int32_t off) {
    int64_t day;
    if (d->kind == 'J') day = cron_days(y, 1, 1) + d->n - 1 + (leap_year(y) && d->n >= 60);
    else if (d->kind == 'n') day = cron_days(y, 1, 1) + d->n;
    else {
        static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int64_t first = cron_days(y, d->m, 1);
        int wd1 = (int)(((first % 7) + 7 + 4) % 7);
        int dom = 1 + (d->d - wd1 + 7) % 7 + (d->w - 1) * 7;
        int len = mdays[d->m - 1] + (d->m == 2 && leap_year(y));
        while (dom > len) dom -= 7;
        day = first + dom - 1;
    }
    return day * 86400 + d->time - off;
}

static int64_t year_of(int64_t t) {
    int64_t y;
    int m, d;
    cron_civil(floor_div(t, 86400), &y, &m, &d);
    return y;
}

static int32_t rule_offset(const sl_cron_tz_t *tz, int64_t t) {
    if (!tz->rule_dst) return tz->std_off;
    int64_t y = year_of(t);
    int64_t s = rule_instant(y, &tz->start, tz->std_off), e = rule_instant(y, &tz->end, tz->dst_off);
    bool dst = s < e ? (t >= s && t < e) : !(t >= e && t < s);
    return dst ? tz->dst_off : tz->std_off;
}

/* The first rule change strictly after t, or INT64_MAX. */
static int64_t rule_next(const sl_cron_tz_t *tz, int64_t t) {
    if (!tz->rule_dst) return INT64_MAX;
    int64_t y = year_of(t), best = INT64_MAX;
    for (int64_t k = y - 1; k <= y + 1; k++) {
        int64_t s = rule_instant(k, &tz->start, tz->std_off), e = rule_instant(k, &tz->end, tz->dst_off);
        if (s > t && s < best) best = s;
        if (e > t && e < best) best = e;
    }
    return best;
}

/* Index of the last transition <= t, or -1. */
static ptrdiff_t tz_find(const sl_cron_tz_t *tz, int64_t t) {
    size_t lo = 0, hi = tz->ntimes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->times[mid] <= t) lo = mid + 1;
        else hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

int32_t sl_cron_tz_offset(const sl_cron_tz_t *tz, int64_t t) {
    t = t < -TZ_T_LIM ? -TZ_T_LIM : t > TZ_T_LIM ? TZ_T_LIM : t;
    if (tz->ntimes == 0) return tz->has_rule ? rule_offset(tz, t) : tz->utoff[0];
    ptrdiff_t i = tz_find(tz, t);
    if (i < 0) return tz->utoff[0];
    if ((size_t)i == tz->ntimes - 1 && tz->has_rule) return rule_offset(tz, t);
    return tz->utoff[tz->idx[i]];
}

/* The first instant strictly after t at which the offset may change, or INT64_MAX. */
static int64_t tz_next_change(const sl_cron_tz_t *tz, int64_t t) {
    if (t >= TZ_T_LIM) return INT64_MAX;
    if (tz->ntimes && t < tz->times[tz->ntimes - 1]) return tz->times[tz_find(tz, t) + 1];
    return tz->has_rule ? rule_next(tz, t) : INT64_MAX;
}

/* --- TZif (RFC 8536) */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int tzif_err(char *err, size_t errlen, const char *why) {
    snprintf(err, errlen, "%s", why);
    return -1;
}

sl_cron_tz_t *sl_cron_tz_from_tzif(const void *data, size_t len, char *err, size_t errlen) {
    const unsigned char *p = data, *end = p + len;
    if (len < 44 || memcmp(p, "TZif", 4) != 0) {
        tzif_err(err, errlen, "not a TZif file");
        return NULL;
    }
    int version = p[4] == 0 ? 1 : p[4] >= '2' && p[4] <= '9' ? p[4] - '0' : 0;
    if (!version) {
        tzif_err(err, errlen, "unknown TZif version");
        return NULL;
    }
    int tsize = 4;
    uint64_t cnt[6];   /* isutcnt isstdcnt leapcnt timecnt typecnt charcnt */
    for (;;) {
        if ((size_t)(end - p) < 44 || memcmp(p, "TZif", 4) != 0) {
            tzif_err(err, errlen, "truncated TZif header");
            return NULL;
        }
        for (int i = 0; i < 6; i++) cnt[i] = be32(p + 20 + 4 * i);
        p += 44;
        uint64_t body = cnt[3] * (uint64_t)(tsize + 1) + cnt[4] * 6 + cnt[5] + cnt[2] * (uint64_t)(tsize + 4) +
                        cnt[1] + cnt[0];
        if (body > (uint64_t)(end - p)) {
            tzif_err(err, errlen, "truncated TZif data");
            return NULL;
        }
        if (version == 1 || tsize == 8) break;
        p += body;   /* skip the 32-bit block: the 64-bit one follows */
        tsize = 8;
    }
    uint64_t isutcnt = cnt[0], isstdcnt = cnt[1], timecnt = cnt[3], typecnt = cnt[4], charcnt = cnt[5];
    if (typecnt == 0 || typecnt > 256 || charcnt == 0 || (isutcnt && isutcnt != typecnt) ||
        (isstdcnt && isstdcnt != typecnt)) {
        tzif_err(err, errlen, "inconsistent TZif counts");
        return NULL;
    }
    sl_cron_tz_t *tz = calloc(1, sizeof *tz);
    if (!tz) return NULL;
    tz->ntimes = (size_t)timecnt;
    tz->ntypes = (size_t)typecnt;
    tz->times = malloc((tz->ntimes ? tz->ntimes : 1) * sizeof *tz->times);
    tz->idx = malloc(tz->ntimes ? tz->ntimes : 1);
    tz->utoff = malloc(tz->ntypes * sizeof *tz->utoff);
    if (!tz->times || !tz->idx || !tz->utoff) goto oom;
    for (size_t i = 0; i < tz->ntimes; i++) {
        const unsigned char *q = p + i * (size_t)tsize;
        int64_t t = tsize == 8 ? (int64_t)((uint64_t)be32(q) << 32 | be32(q + 4)) : (int64_t)(int32_t)be32(q);
        if (i && t <= tz->times[i - 1]) {
            tzif_err(err, errlen, "TZif transition times are not ascending");
            goto bad;
        }
        tz->times[i] = t;
    }
    p += tz->ntimes * (size_t)tsize;
    for (size_t i = 0; i < tz->ntimes; i++) {
        if (p[i] >= typecnt) {
            tzif_err(err, errlen, "TZif transition to an undefined type");
            goto bad;
        }
        tz->idx[i] = p[i];
    }
    p += tz->ntimes;
    for (size_t i = 0; i < tz->ntypes; i++, p += 6) {
        int32_t off = (int32_t)be32(p);
        if (off < -TZ_MAX_OFF || off > TZ_MAX_OFF || p[5] >= charcnt) {
            tzif_err(err, errlen, "TZif time type out of range");
            goto bad;
        }
        tz->utoff[i] = off;
    }
    p += charcnt + cnt[2] * (uint64_t)(tsize + 4) + isstdcnt + isutcnt;
    if (version >= 2) {   /* the footer: "\nPOSIX-TZ\n" (empty: no rule) */
        if (p >= end || *p != '\n') {
            tzif_err(err, errlen, "TZif footer missing");
            goto bad;
        }
        const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
        if (!nl || nl - p - 1 > 255) {
            tzif_err(err, errlen, "TZif footer not terminated");
            goto bad;
        }
        char rule[256];
        memcpy(rule, p + 1, (size_t)(nl - p - 1));
        rule[nl - p - 1] = 0;
        if (rule[0]) {
            if (memchr(rule, 0, (size_t)(nl - p - 1)) || !posix_parse(rule, tz) || tz->std_off < -TZ_MAX_OFF ||
                tz->std_off > TZ_MAX_OFF || tz->dst_off < -TZ_MAX_OFF || tz->dst_off > TZ_MAX_OFF) {
                tzif_err(err, errlen, "TZif footer is not a valid POSIX TZ string");
                goto bad;
            }
        }
    }
    return tz;
oom:
    tzif_err(err, errlen, "out of memory");
bad:
    sl_cron_tz_free(tz);
    return NULL;
}

sl_cron_tz_t *sl_cron_tz_new(const char *name, char *err, size_t errlen) {
    int off_min;
    if (sl_cron_parse_tz(name, &off_min) == 0) {
        sl_cron_tz_t *tz = tz_fixed(off_min * 60);
        if (!tz) tzif_err(err, errlen, "out of memory");
        return tz;
    }
    size_t n = strlen(name);
    bool ok = n > 0 && n < 200 && name[0] != '/' && name[0] != '.' && !strstr(name, "..");
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)name[i]) || strchr("/_-+", name[i]) != NULL;
    if (!ok) {
        snprintf(err, errlen, "unknown time zone '%.100s' (not UTC, an offset like +05:30 or an IANA name)", name);
        return NULL;
    }
    char path[256];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "unknown time zone '%s' (%s: %s)", name, path, sl_strerror(errno));
        return NULL;
    }
    unsigned char *buf = malloc(TZ_MAX_FILE);
    size_t len = buf ? fread(buf, 1, TZ_MAX_FILE, f) : 0;
    bool rd_err = !buf || ferror(f);
    fclose(f);
    sl_cron_tz_t *tz = NULL;
    char why[120] = "";
    if (rd_err) snprintf(why, sizeof why, "cannot read it");
    else if (len == TZ_MAX_FILE) snprintf(why, sizeof why, "larger than 1 MiB");
    else tz = sl_cron_tz_from_tzif(buf, len, why, sizeof why);
    free(buf);
    if (!tz) snprintf(err, errlen, "time zone '%s': %s: %s", name, path, why);
    return tz;
}

/* --- cron in a zone, in minutes: local = utc + offset (floored to whole minutes) */

static int64_t tz_off_min(const sl_cron_tz_t *tz, int64_t utc_min) {
    return floor_div(sl_cron_tz_offset(tz, utc_min * 60), 60);
}

/* The earliest UTC minute whose local time is local_min, or INT64_MAX (a gap). */
static int64_t tz_first_instant(const sl_cron_tz_t *tz, int64_t local_min) {
    int64_t best = INT64_MAX;
    const int64_t probes[3] = {local_min - 1560, local_min, local_min + 1560};
    for (int i = 0; i < 3; i++) {
        int64_t o = tz_off_min(tz, probes[i]);
        for (int k = 0; k < 2; k++) {
            int64_t u = local_min - o, ou = tz_off_min(tz, u);
            if (ou == o) {
                if (u < best) best = u;
                break;
            }
            o = ou;   /* try the offset found at the first guess */
        }
    }
    return best;
}

int64_t sl_cron_next_tz(const sl_cron_t *c, int64_t after_ms, const sl_cron_tz_t *tz) {
    bool every_hour = (c->hour & 0xffffffu) == 0xffffffu;
    int64_t cur = floor_div(after_ms, 60000) + 1;   /* UTC minutes */
    int64_t limit = cur + 8LL * 366 * 1440;
    /* Walk the stretches of constant offset; in each, the fixed-offset search. */
    for (int guard = 0; cur < limit && guard < 100000; guard++) {
        int64_t off = tz_off_min(tz, cur);
        int64_t change = tz_next_change(tz, cur * 60);
        int64_t seg_end = change >= TZ_T_LIM ? INT64_MAX : floor_div(change + 59, 60);
        int64_t at = sl_cron_next(c, (cur - 1) * 60000, (int)off);
        if (at < 0) return -1;
        int64_t u = at / 60000;
        if (u >= seg_end) {
            cur = seg_end;
            continue;
        }
        /* a local time seen before (the repeated hour of a fall back) fires once */
        if (!every_hour && tz_first_instant(tz, u + off) < u) {
            cur = u + 1;
            continue;
        }
        return at;
    }
    return -1;
}
