/* httputil.h - small parsers of HTTP response metadata used by the `http` source, its
 * replay cassettes and `sluice record`: status lines, header blocks, Retry-After
 * (seconds or HTTP date), Link rel="next", and cassette sidecars (NAME.http).
 *
 * All of them take untrusted bytes with an explicit length (no NUL needed), never read
 * past it, and allocate nothing but what the caller passes (fuzzed by
 * tests/fuzz/fuzz_http.c). */
#ifndef SLUICE_HTTPUTIL_H
#define SLUICE_HTTPUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"

/* "HTTP/1.1 429 Too Many Requests" (also "HTTP/2 200") -> 429; -1 when not a status
 * line. */
int sl_http_status_line(const char *line, size_t len);

/* The value of the first header `name` (case-insensitive) in a block of
 * "Name: value" lines (CRLF or LF), trimmed; *vlen its length.  NULL when absent. */
const char *sl_http_header(const char *block, size_t len, const char *name, size_t *vlen);

/* Retry-After: delta-seconds or an HTTP date (IMF-fixdate, RFC 850, asctime) -> the
 * delay in ms from now_ms (0 for a date in the past); -1 when malformed. */
int64_t sl_http_retry_after(const char *value, size_t len, int64_t now_ms);

/* Parse an HTTP date (the three forms above) -> ms since epoch, or -1. */
int64_t sl_http_date(const char *value, size_t len);

/* From a Link header value, copy the URL of the link with rel="next" (rel may hold
 * several space-separated relations) into out (NUL-terminated).  Returns its length,
 * or -1 when there is none or it does not fit in outlen. */
int sl_http_link_next(const char *value, size_t len, char *out, size_t outlen);

/* A cassette sidecar: a status line, then header lines, until a blank line or the end.
 * Sets *status and appends the headers to `headers` as "Name: value\r\n" lines.
 * Returns 0, or -1 when the first line is not a status line. */
int sl_http_sidecar_parse(const char *text, size_t len, int *status, sl_buf_t *headers);

#endif
