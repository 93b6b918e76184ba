/* buf.c - growable byte buffer (see buf.h). */
#include "sluice/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_buf_free(sl_buf_t *buf) {
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

void *sl_xrealloc(void *p, size_t size) {
    void *n = realloc(p, size ? size : 1);
    if (!n) {
        fputs("sluice: out of memory\n", stderr);
        abort();
    }
    return n;
}

void sl_buf_grow(sl_buf_t *buf, size_t extra) {
    if (buf->len + extra + 1 <= buf->cap) return;
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < buf->len + extra + 1) cap *= 2;
    char *p = realloc(buf->data, cap);
    if (!p) {
        fputs("sluice: out of memory\n", stderr);
        abort();
    }
    buf->data = p;
    buf->cap = cap;
}

void sl_buf_append(sl_buf_t *buf, const void *data, size_t len) {
    sl_buf_reserve(buf, len);
    if (len) memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = 0;
}

void sl_buf_puts(sl_buf_t *buf, const char *s) { sl_buf_append(buf, s, strlen(s)); }

void sl_buf_putc(sl_buf_t *buf, char c) {
    sl_buf_reserve(buf, 1);
    buf->data[buf->len++] = c;
    buf->data[buf->len] = 0;
}

void sl_buf_printf(sl_buf_t *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        sl_buf_append(buf, tmp, (size_t)n);
        return;
    }
    sl_buf_reserve(buf, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
}
