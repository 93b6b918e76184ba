/* cron.h - 5-field cron expressions (minute hour day-of-month month day-of-week) for
 * scheduling polls of the `http` source.
 *
 * Syntax per field: `*`, `N`, `A-B`, `*\/S`, `A-B/S`, `N/S` (from N to the field's max),
 * and comma lists of those; months may be `jan`..`dec`, weekdays `sun`..`sat` (0 or 7
 * = Sunday).  Macros: @hourly @daily @midnight @weekly @monthly @yearly @annually.
 * As in Vixie cron, when both day-of-month and day-of-week are restricted, a day
 * matches if either matches.  Times are UTC shifted by a fixed offset (`tz:` "+05:30",
 * "-08:00", "UTC"); IANA zone names with DST rules are not supported. */
#ifndef SLUICE_HTTP_CRON_H
#define SLUICE_HTTP_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_cron {
    uint64_t minute;    /* bit i: minute i (0-59) */
    uint32_t hour;      /* 0-23 */
    uint32_t dom;       /* 1-31 */
    uint16_t month;     /* 1-12 */
    uint8_t dow;        /* 0-6, Sunday = 0 */
    bool dom_any, dow_any;
} sl_cron_t;

/* Parse expr.  Returns 0, or -1 with a message (without position) in err[0..errlen). */
int sl_cron_parse(const char *expr, sl_cron_t *out, char *err, size_t errlen);

/* Parse a `tz:` value: "UTC", "Z", "+HH:MM", "-HH:MM", "+HHMM", "+HH".  Returns 0 and
 * the offset east of UTC in minutes, or -1. */
int sl_cron_parse_tz(const char *tz, int *offset_min);

/* The first time (ms since epoch, on a whole minute) strictly after after_ms at which
 * cron fires in the zone offset_min minutes east of UTC; -1 when it never fires within
 * 8 years (e.g. "0 0 31 2 *"). */
int64_t sl_cron_next(const sl_cron_t *cron, int64_t after_ms, int offset_min);

#endif
