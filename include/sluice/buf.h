/* buf.h - growable byte buffer on the heap (for output: JSON text, SQL, frames). */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_buf {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len, cap;
} sl_buf_t;

#define SL_BUF_INIT {NULL, 0, 0}

void sl_buf_free(sl_buf_t *buf);
/* realloc(p, size) that never returns NULL: on out-of-memory it prints "sluice: out of
 * memory" and aborts (as sl_buf_grow and the arena do), so `p = sl_xrealloc(p, n)` can
 * neither leak p nor go on with NULL.  Ownership of p passes to the result. */
void *sl_xrealloc(void *p, size_t size);
/* Grow so that `extra` more bytes (and the NUL) fit; aborts on out-of-memory. */
void sl_buf_grow(sl_buf_t *buf, size_t extra);
static inline void sl_buf_reserve(sl_buf_t *buf, size_t extra) {
    if (buf->len + extra + 1 > buf->cap) sl_buf_grow(buf, extra);
}
void sl_buf_append(sl_buf_t *buf, const void *data, size_t len);
void sl_buf_puts(sl_buf_t *buf, const char *s);
void sl_buf_putc(sl_buf_t *buf, char c);
void sl_buf_printf(sl_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void sl_buf_clear(sl_buf_t *buf) { buf->len = 0; if (buf->data) buf->data[0] = 0; }

#endif
