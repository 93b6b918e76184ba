/* mail.c - building an Internet message for the `email` sink (see mail.h). */
#include "mail.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(sl_buf_t *out, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < n ? b64[v >> 6 & 63] : '=',
                     i + 2 < n ? b64[v & 63] : '='};
        sl_buf_append(out, q, 4);
    }
}

static bool plain_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
}

/* Length of the UTF-8 sequence starting with byte c (1 for stray bytes). */
static size_t u8len(unsigned char c) {
    if (c >= 0xf0 && c <= 0xf4) return 4;
    if (c >= 0xe0) return c <= 0xef ? 3 : 1;
    if (c >= 0xc2) return 2;
    return 1;
}

void sl_mail_header(sl_buf_t *out, const char *name, const char *value, size_t len) {
    sl_buf_puts(out, name);
    sl_buf_puts(out, ": ");
    /* CR/LF/TAB -> spaces first (a header value is one line) */
    char small[512];
    char *v = len < sizeof small ? small : NULL;
    sl_buf_t big = SL_BUF_INIT;
    if (!v) {
        sl_buf_reserve(&big, len + 1);
        v = big.data;
    }
    /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): v is small or big.data, which sl_buf_reserve allocated (it aborts, never fails) */
    for (size_t i = 0; i < len; i++) v[i] = (value[i] == '\r' || value[i] == '\n' || value[i] == '\t') ? ' ' : value[i];
    size_t linelen = strlen(name) + 2;
    if (plain_ascii(v, len) && linelen + len <= 998) {
        sl_buf_append(out, v, len);
    } else {
        /* encoded-words: "=?UTF-8?B?" + base64 + "?=" <= 75 chars -> <= 45 bytes each */
        size_t i = 0;
        bool first = true;
        while (i < len || first) {
            size_t take = 0;
            while (i + take < len) {
                size_t l = u8len((unsigned char)v[i + take]);
                if (i + take + l > len) l = len - i - take;
                if (take + l > 45) break;
                take += l;
            }
            if (!first) sl_buf_puts(out, "\r\n ");
            sl_buf_puts(out, "=?UTF-8?B?");
            base64(out, (const unsigned char *)v + i, take);
            sl_buf_puts(out, "?=");
            i += take;
            first = false;
            if (take == 0) break;
        }
    }
    sl_buf_puts(out, "\r\n");
    sl_buf_free(&big);
}

void sl_mail_date(char *out, size_t cap, time_t t) {
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

const char *sl_mail_addr(const char *s, char *out, size_t cap) {
    if (!s || strpbrk(s, "\r\n")) return NULL;
    const char *lt = strrchr(s, '<'), *a = s, *e;
    if (lt) {
        a = lt + 1;
        e = strchr(a, '>');
        if (!e) return NULL;
    } else {
        while (*a == ' ') a++;
        e = a + strlen(a);
        while (e > a && e[-1] == ' ') e--;
    }
    size_t n = (size_t)(e - a);
    if (n == 0 || n + 1 > cap || !memchr(a, '@', n)) return NULL;
    for (size_t i = 0; i < n; i++)
        if (a[i] == '\r' || a[i] == '\n' || a[i] == '<' || a[i] == '>' || a[i] == ' ' || a[i] == 0) return NULL;
    memcpy(out, a, n);
    out[n] = 0;
    return out;
}

/* An address field ("Name <a@x>"): the display name is encoded when not ASCII. */
static void addr_value(sl_buf_t *out, const char *s) {
    const char *lt = strrchr(s, '<');
    if (!lt || plain_ascii(s, strlen(s))) {
        for (const char *p = s; *p; p++) sl_buf_putc(out, (*p == '\r' || *p == '\n') ? ' ' : *p);
        return;
    }
    size_t n = (size_t)(lt - s);
    while (n && s[n - 1] == ' ') n--;
    sl_buf_t w = SL_BUF_INIT;
    sl_mail_header(&w, "X", s, n);   /* "X: =?UTF-8?B?...?=\r\n" */
    sl_buf_append(out, w.data + 3, w.len - 5);
    sl_buf_free(&w);
    sl_buf_putc(out, ' ');
    for (const char *p = lt; *p; p++) sl_buf_putc(out, (*p == '\r' || *p == '\n') ? ' ' : *p);
}

/* A body part: 7bit text with CRLF line ends when it can be, else base64. */
static void body_part(sl_buf_t *out, const char *type, const char *s, size_t n) {
    bool ascii = true;
    size_t line = 0;
    for (size_t i = 0; i < n && ascii; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') line = 0;
        else if (++line > 900 || c >= 0x80 || (c < 0x20 && c != '\r' && c != '\t') || c == 0x7f) ascii = false;
    }
    sl_buf_printf(out, "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: %s\r\n\r\n", type,
                  ascii ? "7bit" : "base64");
    if (ascii) {
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '\r') continue;
            if (s[i] == '\n') sl_buf_puts(out, "\r\n");
            else sl_buf_putc(out, s[i]);
        }
        sl_buf_puts(out, "\r\n");
    } else {
        for (size_t i = 0; i < n; i += 57) {
            base64(out, (const unsigned char *)s + i, n - i < 57 ? n - i : 57);
            sl_buf_puts(out, "\r\n");
        }
    }
}

void sl_mail_build(sl_buf_t *out, const sl_mail_t *m) {
    char date[64];
    sl_mail_date(date, sizeof date, m->date);
    sl_buf_printf(out, "Date: %s\r\n", date);
    sl_buf_printf(out, "Message-ID: <%s>\r\n", m->message_id);
    sl_buf_puts(out, "From: ");
    addr_value(out, m->from);
    sl_buf_puts(out, "\r\nTo: ");
    for (size_t i = 0; i < m->nto; i++) {
        if (i) sl_buf_puts(out, ",\r\n ");
        addr_value(out, m->to[i]);
    }
    sl_buf_puts(out, "\r\n");
    sl_mail_header(out, "Subject", m->subject, m->subject_len);
    sl_buf_puts(out, "MIME-Version: 1.0\r\nX-Mailer: sluice\r\n");
    if (!m->html) {
        body_part(out, "text/plain", m->text, m->text_len);
        return;
    }
    char boundary[80];
    snprintf(boundary, sizeof boundary, "=_sluice_%.40s", m->message_id);
    for (char *p = boundary; *p; p++)
        if (*p == '@') *p = '_';
    sl_buf_printf(out, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
    sl_buf_puts(out, "This is a multi-part message in MIME format.\r\n");
    sl_buf_printf(out, "--%s\r\n", boundary);
    body_part(out, "text/plain", m->text, m->text_len);
    sl_buf_printf(out, "--%s\r\n", boundary);
    body_part(out, "text/html", m->html, m->html_len);
    sl_buf_printf(out, "--%s--\r\n", boundary);
}
