/* cron.c - parse 5-field cron expressions and find their next firing time (UTC or a
 * fixed offset).  Used by the `http` source's `cron:` schedule. */
#include "cron.h"

#include <ctype.h>
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
