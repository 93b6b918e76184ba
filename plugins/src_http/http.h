/* http.h - what the `http` source offers the command line (src/http_cli.c): blocking
 * fetches for `sluice backfill` and `sluice record`, outside the runner.
 *
 * The source itself (plugins/src_http/http.c) is non-blocking: it runs in the runner's
 * sources thread on one libcurl multi handle shared by every http source.  The
 * functions below use a private easy handle and may sleep (rate limits, Retry-After):
 * call them only from a command's own thread, never from the sources thread. */
#ifndef SLUICE_SRC_HTTP_H
#define SLUICE_SRC_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/plugin.h"

/* True when src is an instance of the http source (after sl_pipeline_load). */
bool sl_http_is_source(const sl_source_t *src);

/* The window size of a windowed http source in days (0 when not windowed). */
int64_t sl_http_window_days(const sl_source_t *src);

/* Fetch every page of the window [from_day, to_day] (days since 1970-01-01, inclusive;
 * both -1 for a source without windows), honouring the source's rate limit by
 * sleeping, and put each record (the `records:` expression's elements) into
 * recs[0..*n) (heap array, values in arena; each record's ts is set when the source
 * has `body_ts`).  What the live source dead-letters goes to dlq[0..*ndlq) (heap array,
 * values {error, raw, source, at} in arena) for `<source>.dlq`: a 2xx body that gives
 * no records (it ends the window's pages) and listed scalars or nulls.  The caller
 * frees both arrays (also on error).  Returns 0, SL_RETRY with *retry_ms (>= 0 when the
 * server said how long to wait, else -1) and err, or a fatal error. */
int sl_http_fetch_window(sl_source_t *src, int64_t from_day, int64_t to_day, sl_arena_t *arena,
                         sl_record_t **recs, size_t *n, sl_record_t **dlq, size_t *ndlq,
                         int64_t *retry_ms, sl_error_t *err);

/* One request as the live source would make it now (first page; the first window of a
 * windowed source, or the window of cursor-less start).  Fills *status, the response
 * headers ("Name: value\r\n" lines of the final response) and the body.  Returns 0
 * (whatever the status) or an error for a failed transfer. */
int sl_http_fetch_raw(sl_source_t *src, int *status, sl_buf_t *headers, sl_buf_t *body,
                      sl_error_t *err);

/* Days since 1970-01-01 of "YYYY-MM-DD", or -1 when malformed; and back. */
int64_t sl_http_parse_day(const char *s);
void sl_http_format_day(int64_t day, char out[11]);

#endif
