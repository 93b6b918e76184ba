/* cron.h - 5-field cron expressions (minute hour day-of-month month day-of-week) for
 * scheduling polls of the `http` source.
 *
 * Syntax per field: `*`, `N`, `A-B`, `*\/S`, `A-B/S`, `N/S` (from N to the field's max),
 * and comma lists of those; months may be `jan`..`dec`, weekdays `sun`..`sat` (0 or 7
 * = Sunday).  Macros: @hourly @daily @midnight @weekly @monthly @yearly @annually.
 * As in Vixie cron, when both day-of-month and day-of-week are restricted, a day
 * matches if either matches.
 *
 * Time zones (`tz:`): "UTC", a fixed offset ("+05:30", "-08:00"), or an IANA name
 * ("Europe/Paris") read from the TZif file /usr/share/zoneinfo/NAME (RFC 8536, versions
 * 1-4; the 64-bit section when present, and the footer's POSIX TZ rule
 * "STD off DST[off],start[/time],end[/time]" with Mm.w.d, Jn or n dates for instants
 * after the last transition).  No setenv("TZ")/tzset/localtime: a zone is an immutable
 * object, safe to share between threads once loaded.
 *
 * Cron across DST changes: a local time that does not exist (spring forward) is
 * skipped; a local time that occurs twice (fall back) fires once, at its first
 * occurrence -- except when the hour field is `*`: such a job runs every hour anyway,
 * so it runs in both copies of the repeated hour (as Vixie cron and cronie do). */
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

/* A time zone: a fixed offset or a zone's transitions and rule.  Opaque, immutable after
 * creation (share it between threads freely), freed with sl_cron_tz_free. */
typedef struct sl_cron_tz sl_cron_tz_t;

/* The zone of a `tz:` value: anything sl_cron_parse_tz accepts, else an IANA name
 * looked up as /usr/share/zoneinfo/NAME (letters, digits, '/', '_', '-', '+'; no "..").
 * Returns a zone the caller frees with sl_cron_tz_free, or NULL with a message naming
 * the zone in err[0..errlen) (unknown zone, unreadable or invalid file). */
sl_cron_tz_t *sl_cron_tz_new(const char *tz, char *err, size_t errlen);

/* A zone from the bytes of a TZif file (data is not kept).  NULL with err when the data
 * is not a valid TZif file (or its offsets exceed +-26 h).  Used by sl_cron_tz_new, the
 * unit tests and the fuzzer. */
sl_cron_tz_t *sl_cron_tz_from_tzif(const void *data, size_t len, char *err, size_t errlen);

/* A zone from a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3" (the form of a
 * TZif footer); NULL when it does not parse. */
sl_cron_tz_t *sl_cron_tz_from_posix(const char *posix);

/* Frees tz (NULL is fine). */
void sl_cron_tz_free(sl_cron_tz_t *tz);

/* The zone's offset east of UTC, in seconds, at t_sec seconds since the epoch. */
int32_t sl_cron_tz_offset(const sl_cron_tz_t *tz, int64_t t_sec);

/* As sl_cron_next, in the zone tz, with the DST rules above: the first instant strictly
 * after after_ms (a whole minute) at which the local time matches cron; -1 when it
 * never fires within 8 years. */
int64_t sl_cron_next_tz(const sl_cron_t *cron, int64_t after_ms, const sl_cron_tz_t *tz);

#endif
