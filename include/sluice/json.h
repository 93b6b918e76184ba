/* json.h - JSON reader and writer over sl_value_t (RFC 8259).
 *
 * The reader is strict: one value, optional surrounding whitespace; UTF-8 is checked
 * (overlong forms, surrogates and bytes > F4 rejected); control characters U+0000-001F
 * must be escaped in strings, while C1 characters (U+0080-009F) are ordinary UTF-8.
 * Integers that fit int64 become SL_T_INT, other numbers SL_T_DOUBLE.  Nesting is
 * limited to SL_JSON_MAX_DEPTH.  On error nothing is returned but the byte offset and
 * the reason; the arena may hold partial garbage (freed with it). */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <stddef.h>

#include "sluice/arena.h"
#include "sluice/buf.h"
#include "sluice/value.h"

#define SL_JSON_MAX_DEPTH 512

typedef struct sl_json_error {
    size_t offset;      /* byte offset of the problem in the input */
    char reason[128];   /* e.g. "expected ':' after object key" */
} sl_json_error_t;

/* Parse buf[0..len) into *out.  Returns 0, or SL_PARSE with *err filled. */
int sl_json_parse(sl_arena_t *arena, const char *buf, size_t len, sl_value_t *out,
                  sl_json_error_t *err);

/* Parse the first value of buf[0..len) and set *used to the bytes consumed (including
 * leading whitespace, excluding what follows).  For JSON lines and streams. */
int sl_json_parse_prefix(sl_arena_t *arena, const char *buf, size_t len, sl_value_t *out,
                         size_t *used, sl_json_error_t *err);

/* Append compact JSON of v to out.  Strings are written as UTF-8 with only the
 * mandatory escapes (", \, and U+0000-001F; also U+2028/2029 as \u2028/\u2029).
 * Doubles use the shortest text that reads back to the same double ("%.17g" fallback);
 * non-finite doubles are written as null. */
void sl_json_write(sl_buf_t *out, sl_value_t v);
/* Append a JSON string literal of s[0..len). */
void sl_json_write_string(sl_buf_t *out, const char *s, size_t len);

#endif
