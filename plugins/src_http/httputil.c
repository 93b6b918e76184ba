/* httputil.c - parsers of HTTP response metadata (status line, headers, Retry-After,
 * HTTP dates, Link rel=next, cassette sidecars).  Bounded by explicit lengths. */
#include "httputil.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool is_ws(char c) { return c == ' ' || c == '\t'; }

int sl_http_status_line(const char *s, size_t len) {
    if (len < 8 || strncmp(s, "HTTP/", 5) != 0) return -1;
    size_t i = 5;
    while (i < len && !is_ws(s[i])) {
        if (!isdigit((unsigned char)s[i]) && s[i] != '.') return -1;
        i++;
    }
    while (i < len && is_ws(s[i])) i++;
    if (i + 3 > len) return -1;
    int code = 0;
    for (size_t k = 0; k < 3; k++) {
        if (!isdigit((unsigned char)s[i + k])) return -1;
        code = code * 10 + (s[i + k] - '0');
    }
    if (i + 3 < len && !is_ws(s[i + 3]) && s[i + 3] != '\r' && s[i + 3] != '\n') return -1;
    return code >= 100 ? code : -1;
}

const char *sl_http_header(const char *block, size_t len, const char *name, size_t *vlen) {
    size_t nlen = strlen(name);
    size_t at = 0;
    while (at < len) {
        const char *line = block + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t llen = nl ? (size_t)(nl - line) : len - at;
        at += llen + (nl ? 1 : 0);
        if (llen && line[llen - 1] == '\r') llen--;
        if (llen > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            size_t b = nlen + 1, e = llen;
            while (b < e && is_ws(line[b])) b++;
            while (e > b && is_ws(line[e - 1])) e--;
            *vlen = e - b;
            return line + b;
        }
    }
    return NULL;
}

/* Days since the epoch of a civil date. */
static int64_t util_days(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int month_of(const char *s) {
    static const char *const m[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                    "jul", "aug", "sep", "oct", "nov", "dec"};
    for (int i = 0; i < 12; i++)
        if (strncasecmp(s, m[i], 3) == 0) return i + 1;
    return 0;
}

/* Read up to `max` digits at s[*i], within len; -1 when none. */
static int64_t digits(const char *s, size_t len, size_t *i, int max) {
    int64_t v = 0;
    int n = 0;
    while (*i < len && n < max && isdigit((unsigned char)s[*i])) {
        v = v * 10 + (s[(*i)++] - '0');
        n++;
    }
    return n ? v : -1;
}

int64_t sl_http_date(const char *s, size_t len) {
    /* tokens: skip the weekday (up to ',' or ' ') */
    size_t i = 0;
    while (i < len && is_ws(s[i])) i++;
    while (i < len && isalpha((unsigned char)s[i])) i++;
    if (i < len && s[i] == ',') i++;
    while (i < len && is_ws(s[i])) i++;
    int64_t day, year, hh, mm, ss;
    int mon;
    if (i < len && isdigit((unsigned char)s[i])) {
        /* IMF-fixdate "06 Nov 1994 08:49:37 GMT" or RFC 850 "06-Nov-94 08:49:37 GMT" */
        day = digits(s, len, &i, 2);
        if (i >= len || (s[i] != ' ' && s[i] != '-')) return -1;
        i++;
        if (i + 3 > len || !(mon = month_of(s + i))) return -1;
        i += 3;
        if (i >= len || (s[i] != ' ' && s[i] != '-')) return -1;
        i++;
        year = digits(s, len, &i, 4);
        if (year < 0) return -1;
        if (year < 100) year += year < 70 ? 2000 : 1900;
        while (i < len && is_ws(s[i])) i++;
        hh = digits(s, len, &i, 2);
        if (i >= len || s[i++] != ':') return -1;
        mm = digits(s, len, &i, 2);
        if (i >= len || s[i++] != ':') return -1;
        ss = digits(s, len, &i, 2);
    } else {
        /* asctime "Nov  6 08:49:37 1994" */
        if (i + 3 > len || !(mon = month_of(s + i))) return -1;
        i += 3;
        while (i < len && is_ws(s[i])) i++;
        day = digits(s, len, &i, 2);
        while (i < len && is_ws(s[i])) i++;
        hh = digits(s, len, &i, 2);
        if (i >= len || s[i++] != ':') return -1;
        mm = digits(s, len, &i, 2);
        if (i >= len || s[i++] != ':') return -1;
        ss = digits(s, len, &i, 2);
        while (i < len && is_ws(s[i])) i++;
        year = digits(s, len, &i, 4);
    }
    if (day < 1 || day > 31 || year < 1970 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 ||
        ss > 60)
        return -1;
    return ((util_days(year, mon, (int)day) * 24 + hh) * 60 + mm) * 60000 + ss * 1000;
}

int64_t sl_http_retry_after(const char *v, size_t len, int64_t now_ms) {
    size_t i = 0;
    while (i < len && is_ws(v[i])) i++;
    size_t e = len;
    while (e > i && is_ws(v[e - 1])) e--;
    if (i == e) return -1;
    bool all_digits = true;
    for (size_t k = i; k < e; k++)
        if (!isdigit((unsigned char)v[k]) && v[k] != '.') all_digits = false;
    if (all_digits) {
        double secs = 0, scale = 0;
        for (size_t k = i; k < e; k++) {
            if (v[k] == '.') {
                if (scale) return -1;
                scale = 1;
                continue;
            }
            if (scale) secs += (v[k] - '0') * (scale /= 10);
            else secs = secs * 10 + (v[k] - '0');
            if (secs > 1e9) return -1;
        }
        return (int64_t)(secs * 1000);
    }
    int64_t at = sl_http_date(v + i, e - i);
    if (at < 0) return -1;
    return at > now_ms ? at - now_ms : 0;
}

int sl_http_link_next(const char *v, size_t len, char *out, size_t outlen) {
    size_t i = 0;
    while (i < len) {
        while (i < len && (is_ws(v[i]) || v[i] == ',')) i++;
        if (i >= len || v[i] != '<') return -1;
        size_t ub = ++i;
        while (i < len && v[i] != '>') i++;
        if (i >= len) return -1;
        size_t ue = i++;
        bool next = false;
        /* params up to the next ',' that is outside quotes */
        while (i < len && v[i] != ',') {
            while (i < len && (is_ws(v[i]) || v[i] == ';')) i++;
            size_t nb = i;
            while (i < len && v[i] != '=' && v[i] != ';' && v[i] != ',') i++;
            size_t ne = i;
            while (ne > nb && is_ws(v[ne - 1])) ne--;
            if (i >= len || v[i] != '=') continue;
            i++;
            while (i < len && is_ws(v[i])) i++;
            size_t vb, ve;
            if (i < len && v[i] == '"') {
                vb = ++i;
                while (i < len && v[i] != '"') i++;
                ve = i;
                if (i < len) i++;
            } else {
                vb = i;
                while (i < len && v[i] != ';' && v[i] != ',') i++;
                ve = i;
                while (ve > vb && is_ws(v[ve - 1])) ve--;
            }
            if (ne - nb == 3 && strncasecmp(v + nb, "rel", 3) == 0) {
                /* space-separated relation types */
                size_t k = vb;
                while (k < ve) {
                    while (k < ve && is_ws(v[k])) k++;
                    size_t tb = k;
                    while (k < ve && !is_ws(v[k])) k++;
                    if (k - tb == 4 && strncasecmp(v + tb, "next", 4) == 0) next = true;
                }
            }
        }
        if (next) {
            size_t n = ue - ub;
            if (n + 1 > outlen) return -1;
            for (size_t k = ub; k < ue; k++)
                if ((unsigned char)v[k] < 0x20 || v[k] == 0x7f) return -1;   /* not a URL */
            memcpy(out, v + ub, n);
            out[n] = 0;
            return (int)n;
        }
    }
    return -1;
}

int sl_http_sidecar_parse(const char *text, size_t len, int *status, sl_buf_t *headers) {
    size_t at = 0;
    /* skip a UTF-8 BOM and leading blank lines */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) at = 3;
    while (at < len && (text[at] == '\n' || text[at] == '\r')) at++;
    bool first = true;
    while (at < len) {
        const char *line = text + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t llen = nl ? (size_t)(nl - line) : len - at;
        at += llen + (nl ? 1 : 0);
        if (llen && line[llen - 1] == '\r') llen--;
        if (first) {
            *status = sl_http_status_line(line, llen);
            if (*status < 0) return -1;
            first = false;
            continue;
        }
        if (llen == 0) break;
        const char *colon = memchr(line, ':', llen);
        if (!colon || colon == line) continue;  /* not a header: ignore */
        size_t nlen = (size_t)(colon - line);
        size_t vb = nlen + 1;
        while (vb < llen && is_ws(line[vb])) vb++;
        sl_buf_append(headers, line, nlen);
        sl_buf_puts(headers, ": ");
        sl_buf_append(headers, line + vb, llen - vb);
        sl_buf_puts(headers, "\r\n");
    }
    return first ? -1 : 0;
}
