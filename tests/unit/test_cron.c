/* test_cron.c - the http source's cron parser and next-firing computation (UTC, fixed
 * offsets, IANA zones from TZif files with DST), and the HTTP metadata parsers
 * (Retry-After, dates, Link, sidecars).  Expected instants of the zone tests were
 * computed with Python's zoneinfo (tzdata 2025b) and are written here literally. */
#include "t.h"

#include "../../plugins/src_http/cron.h"
#include "../../plugins/src_http/httputil.h"

/* 2024-01-01T00:00:00Z (a Monday) in ms */
#define T2024 1704067200000LL
#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL

static int64_t next_of(const char *expr, int64_t after) {
    sl_cron_t c;
    char err[200];
    if (sl_cron_parse(expr, &c, err, sizeof err) != 0) return -2;
    return sl_cron_next(&c, after, 0);
}

TEST(cron_every_five_minutes) {
    CHECK_INT(next_of("*/5 * * * *", T2024), T2024 + 5 * MIN);
    CHECK_INT(next_of("*/5 * * * *", T2024 + 5 * MIN - 1), T2024 + 5 * MIN);
    CHECK_INT(next_of("*/5 * * * *", T2024 + 7 * MIN + 30000), T2024 + 10 * MIN);
}

TEST(cron_strictly_after) {
    CHECK_INT(next_of("* * * * *", T2024), T2024 + MIN);
    CHECK_INT(next_of("0 * * * *", T2024), T2024 + HOUR);
}

TEST(cron_fields_and_lists) {
    CHECK_INT(next_of("30 6 * * *", T2024), T2024 + 6 * HOUR + 30 * MIN);
    CHECK_INT(next_of("0 0,12 * * *", T2024), T2024 + 12 * HOUR);
    CHECK_INT(next_of("15-17 3 * * *", T2024 + 3 * HOUR + 15 * MIN), T2024 + 3 * HOUR + 16 * MIN);
    CHECK_INT(next_of("0 0 1 * *", T2024), T2024 + 31 * DAY);           /* Feb 1 */
    CHECK_INT(next_of("0 0 * feb *", T2024), T2024 + 31 * DAY);
    CHECK_INT(next_of("0 0 29 2 *", T2024), T2024 + (31 + 28) * DAY);   /* 2024 is leap */
}

TEST(cron_weekdays) {
    /* 2024-01-01 is a Monday: next Sunday 2024-01-07 */
    CHECK_INT(next_of("0 9 * * 0", T2024), T2024 + 6 * DAY + 9 * HOUR);
    CHECK_INT(next_of("0 9 * * 7", T2024), T2024 + 6 * DAY + 9 * HOUR);
    CHECK_INT(next_of("0 9 * * sun", T2024), T2024 + 6 * DAY + 9 * HOUR);
    CHECK_INT(next_of("0 9 * * mon-fri", T2024 + 10 * HOUR), T2024 + DAY + 9 * HOUR);
    /* dom and dow both restricted: either matches (Vixie) -> the 5th or a Sunday */
    CHECK_INT(next_of("0 0 5 * 0", T2024), T2024 + 4 * DAY);
}

TEST(cron_macros_and_steps) {
    CHECK_INT(next_of("@hourly", T2024), T2024 + HOUR);
    CHECK_INT(next_of("@daily", T2024), T2024 + DAY);
    CHECK_INT(next_of("10/20 * * * *", T2024), T2024 + 10 * MIN);
    CHECK_INT(next_of("10/20 * * * *", T2024 + 10 * MIN), T2024 + 30 * MIN);
    CHECK_INT(next_of("0-30/15 * * * *", T2024 + 31 * MIN), T2024 + HOUR);
}

TEST(cron_never) {
    CHECK_INT(next_of("0 0 31 2 *", T2024), -1);
    CHECK_INT(next_of("0 0 30 2 *", T2024), -1);
}

TEST(cron_errors) {
    sl_cron_t c;
    char err[200];
    const char *bad[] = {"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
                         "* * * 13 *", "* * * * 8", "*/0 * * * *", "a * * * *", "5-1 * * * *",
                         "1,,2 * * * *", "@weird", "*/ * * * *", "1-* * * * *", NULL};
    for (int i = 0; bad[i]; i++)
        if (sl_cron_parse(bad[i], &c, err, sizeof err) == 0) T_FAIL("'%s' parsed", bad[i]);
    CHECK(sl_cron_parse("61 * * * *", &c, err, sizeof err) != 0 && strstr(err, "minute"));
}

TEST(cron_tz_offsets) {
    int off;
    CHECK_INT(sl_cron_parse_tz("UTC", &off), 0);
    CHECK_INT(off, 0);
    CHECK_INT(sl_cron_parse_tz("+05:30", &off), 0);
    CHECK_INT(off, 330);
    CHECK_INT(sl_cron_parse_tz("-0800", &off), 0);
    CHECK_INT(off, -480);
    CHECK(sl_cron_parse_tz("Europe/Paris", &off) != 0);
    CHECK(sl_cron_parse_tz("+25:00", &off) != 0);
    /* 06:00 at +05:30 is 00:30 UTC */
    sl_cron_t c;
    char err[100];
    CHECK_INT(sl_cron_parse("0 6 * * *", &c, err, sizeof err), 0);
    CHECK_INT(sl_cron_next(&c, T2024, 330), T2024 + 30 * MIN);
    /* 06:00 at -08:00 is 14:00 UTC */
    CHECK_INT(sl_cron_next(&c, T2024, -480), T2024 + 14 * HOUR);
}

/* ------------------------------------------------------------------ IANA zones */

#define S 1000LL   /* seconds -> ms */

static sl_cron_tz_t *zone(const char *name) {
    char err[300] = "";
    sl_cron_tz_t *tz = sl_cron_tz_new(name, err, sizeof err);
    if (!tz) T_FAIL("zone %s: %s", name, err);
    return tz;
}

/* The next firing of expr in tz strictly after after_s, in seconds (-2: bad input). */
static int64_t next_tz(const char *expr, const sl_cron_tz_t *tz, int64_t after_s) {
    sl_cron_t c;
    char err[200];
    if (!tz || sl_cron_parse(expr, &c, err, sizeof err) != 0) return -2;
    int64_t at = sl_cron_next_tz(&c, after_s * S, tz);
    return at < 0 ? at : at / S;
}

TEST(tz_offsets_at_transitions) {
    sl_cron_tz_t *paris = zone("Europe/Paris"), *ny = zone("America/New_York");
    if (!paris || !ny) goto out;
    /* Europe/Paris 2024-03-31 02:00 CET -> 03:00 CEST, 2024-10-27 03:00 CEST -> 02:00 CET */
    CHECK_INT(sl_cron_tz_offset(paris, 1711846799), 3600);
    CHECK_INT(sl_cron_tz_offset(paris, 1711846800), 7200);
    CHECK_INT(sl_cron_tz_offset(paris, 1729990799), 7200);
    CHECK_INT(sl_cron_tz_offset(paris, 1729990800), 3600);
    /* America/New_York 2024-03-10 and 2024-11-03 */
    CHECK_INT(sl_cron_tz_offset(ny, 1710053999), -18000);
    CHECK_INT(sl_cron_tz_offset(ny, 1710054000), -14400);
    CHECK_INT(sl_cron_tz_offset(ny, 1730613599), -14400);
    CHECK_INT(sl_cron_tz_offset(ny, 1730613600), -18000);
    /* 2040: after the file's table, from the footer rule CET-1CEST,M3.5.0,M10.5.0/3 */
    CHECK_INT(sl_cron_tz_offset(paris, 2216249999), 3600);
    CHECK_INT(sl_cron_tz_offset(paris, 2216250000), 7200);
    CHECK_INT(sl_cron_tz_offset(paris, 2234998799), 7200);
    CHECK_INT(sl_cron_tz_offset(paris, 2234998800), 3600);
out:
    sl_cron_tz_free(paris);
    sl_cron_tz_free(ny);
}

TEST(tz_southern_rule) {
    /* Australia/Sydney in 2050 (footer rule, DST across the new year) */
    sl_cron_tz_t *syd = zone("Australia/Sydney");
    if (!syd) return;
    CHECK_INT(sl_cron_tz_offset(syd, 2525817600), 39600);   /* 2050-01-15 */
    CHECK_INT(sl_cron_tz_offset(syd, 2541456000), 36000);   /* 2050-07-15 */
    CHECK_INT(sl_cron_tz_offset(syd, 2532527999), 39600);   /* 2050-04-02T15:59:59Z */
    CHECK_INT(sl_cron_tz_offset(syd, 2532528000), 36000);
    CHECK_INT(sl_cron_tz_offset(syd, 2548252799), 36000);   /* 2050-10-01T15:59:59Z */
    CHECK_INT(sl_cron_tz_offset(syd, 2548252800), 39600);
    sl_cron_tz_free(syd);
}

TEST(tz_cron_paris_dst) {
    sl_cron_tz_t *tz = zone("Europe/Paris");
    /* winter 09:00 CET = 08:00Z, summer 09:00 CEST = 07:00Z */
    CHECK_INT(next_tz("0 9 * * *", tz, 1705276800), 1705305600);   /* after 2024-01-15T00:00Z */
    CHECK_INT(next_tz("0 9 * * *", tz, 1720994400), 1721026800);   /* after 2024-07-14T22:00Z */
    /* spring forward: 02:30 does not exist on 2024-03-31 -> skipped, next is 04-01 00:30Z */
    CHECK_INT(next_tz("30 2 * * *", tz, 1711800000), 1711931400);
    /* 03:00 exists on the day of the change: 01:00Z */
    CHECK_INT(next_tz("0 3 * * *", tz, 1711800000), 1711846800);
    /* hourly across the gap: 01:00 CET (00:00Z), then 03:00 CEST (01:00Z) */
    CHECK_INT(next_tz("0 * * * *", tz, 1711845000), 1711846800);
    /* fall back: 02:30 happens twice on 2024-10-27, fires once (the first, 00:30Z) */
    CHECK_INT(next_tz("30 2 * * *", tz, 1729944000), 1729989000);
    CHECK_INT(next_tz("30 2 * * *", tz, 1729989000), 1730079000);   /* then 10-28 01:30Z */
    CHECK_INT(next_tz("30 2 * * *", tz, 1729989000 + 1800), 1730079000);   /* from inside the repeat */
    CHECK_INT(next_tz("* 2 * * *", tz, 1729990740), 1730077200);   /* 02:59 CEST -> 10-28 02:00 CET */
    CHECK_INT(next_tz("0 3 * * *", tz, 1729944000), 1729994400);
    /* an hour field of `*` runs in both copies of the repeated hour */
    CHECK_INT(next_tz("0 * * * *", tz, 1729985400), 1729987200);   /* 02:00 CEST */
    CHECK_INT(next_tz("0 * * * *", tz, 1729987200), 1729990800);   /* 02:00 CET */
    CHECK_INT(next_tz("0 * * * *", tz, 1729990800), 1729994400);   /* 03:00 CET */
    /* 2040, from the footer rule: 02:30 is skipped on 2040-03-25 */
    CHECK_INT(next_tz("30 2 * * *", tz, 2216203200), 2216334600);
    sl_cron_tz_free(tz);
}

TEST(tz_cron_new_york_dst) {
    sl_cron_tz_t *tz = zone("America/New_York");
    CHECK_INT(next_tz("30 2 * * *", tz, 1709985600), 1710138600);   /* 03-10 02:30 skipped */
    CHECK_INT(next_tz("0 3 * * *", tz, 1709985600), 1710054000);
    CHECK_INT(next_tz("30 1 * * *", tz, 1730548800), 1730611800);   /* 11-03 01:30 EDT */
    CHECK_INT(next_tz("30 1 * * *", tz, 1730611800), 1730701800);   /* not 01:30 EST */
    /* every 30 minutes runs through both copies of 01:xx */
    CHECK_INT(next_tz("*/30 * * * *", tz, 1730610900), 1730611800);
    CHECK_INT(next_tz("*/30 * * * *", tz, 1730611800), 1730613600);
    CHECK_INT(next_tz("*/30 * * * *", tz, 1730613600), 1730615400);
    CHECK_INT(next_tz("*/30 * * * *", tz, 1730615400), 1730617200);
    sl_cron_tz_free(tz);
}

TEST(tz_cron_kolkata_and_fixed) {
    sl_cron_tz_t *tz = zone("Asia/Kolkata");
    CHECK_INT(next_tz("0 6 * * *", tz, 1704067200), 1704069000);   /* 00:30Z in winter */
    CHECK_INT(next_tz("0 6 * * *", tz, 1719792000), 1719793800);   /* and in summer */
    sl_cron_tz_free(tz);
    tz = zone("+05:30");
    CHECK_INT(next_tz("0 6 * * *", tz, 1704067200), 1704069000);
    sl_cron_tz_free(tz);
    tz = zone("UTC");
    CHECK_INT(next_tz("0 6 * * *", tz, 1704067200), 1704067200 + 6 * 3600);
    CHECK_INT(next_tz("0 0 31 2 *", tz, 1704067200), -1);
    sl_cron_tz_free(tz);
    tz = zone("Etc/GMT+5");   /* POSIX sign: 5 h west */
    if (tz) CHECK_INT(sl_cron_tz_offset(tz, 1704067200), -18000);
    sl_cron_tz_free(tz);
}

TEST(tz_posix_strings) {
    sl_cron_tz_t *tz = sl_cron_tz_from_posix("CET-1CEST,M3.5.0,M10.5.0/3");
    CHECK(tz != NULL);
    if (tz) {
        CHECK_INT(sl_cron_tz_offset(tz, 1711846799), 3600);
        CHECK_INT(sl_cron_tz_offset(tz, 1711846800), 7200);
        CHECK_INT(sl_cron_tz_offset(tz, 1729990800), 3600);
    }
    sl_cron_tz_free(tz);
    /* Jn: March 1 (day 60 without Feb 29) at 02:00 EST = 07:00Z */
    tz = sl_cron_tz_from_posix("EST5EDT,J60/2,J300/2");
    CHECK(tz != NULL);
    if (tz) {
        CHECK_INT(sl_cron_tz_offset(tz, 1709276399), -18000);   /* 2024-03-01T06:59:59Z */
        CHECK_INT(sl_cron_tz_offset(tz, 1709276400), -14400);
    }
    sl_cron_tz_free(tz);
    tz = sl_cron_tz_from_posix("<+0530>-5:30");
    CHECK(tz != NULL);
    if (tz) CHECK_INT(sl_cron_tz_offset(tz, 0), 19800);
    sl_cron_tz_free(tz);
    const char *bad[] = {"", "CE-1", "CET", "CET-1CEST,M13.1.0,M10.5.0", "CET-1CEST,M3.5.0", "CET-1CEST,M3.5.0,",
                         "CET-1CEST,J0,J10", "CET-99", "<abc-1", "CET-1CEST,M3.5.0/200,M10.5.0", NULL};
    for (int i = 0; bad[i]; i++) {
        tz = sl_cron_tz_from_posix(bad[i]);
        if (tz) T_FAIL("'%s' parsed", bad[i]);
        sl_cron_tz_free(tz);
    }
}

TEST(tz_unknown_and_invalid) {
    char err[300];
    const char *bad[] = {"Europe/Pariss", "../../etc/passwd", "/etc/passwd", "Europe/../../etc/passwd",
                         "Mars/Olympus_Mons", "zoneinfo.default", "Europe/Paris ", NULL};
    for (int i = 0; bad[i]; i++) {
        err[0] = 0;
        sl_cron_tz_t *tz = sl_cron_tz_new(bad[i], err, sizeof err);
        if (tz) T_FAIL("'%s' loaded", bad[i]);
        else if (bad[i][0] && !strstr(err, bad[i])) T_FAIL("the error does not name '%s': %s", bad[i], err);
        sl_cron_tz_free(tz);
    }
    /* not a TZif file */
    err[0] = 0;
    CHECK(sl_cron_tz_from_tzif("hello", 5, err, sizeof err) == NULL && strstr(err, "TZif"));
}

/* Every truncation of a real file is rejected without reading past its end (each is an
 * exact-size heap copy for ASan); the whole file loads. */
TEST(tz_tzif_truncated) {
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Paris", "rb");
    if (!f) {
        T_FAIL("no /usr/share/zoneinfo/Europe/Paris (tzdata)");
        return;
    }
    unsigned char data[8192];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    char err[200];
    for (size_t len = 0; len < n; len++) {
        unsigned char *copy = malloc(len ? len : 1);
        memcpy(copy, data, len);
        sl_cron_tz_t *tz = sl_cron_tz_from_tzif(copy, len, err, sizeof err);
        if (tz) T_FAIL("a truncation to %zu bytes of %zu loaded", len, n);
        sl_cron_tz_free(tz);
        free(copy);
    }
    sl_cron_tz_t *tz = sl_cron_tz_from_tzif(data, n, err, sizeof err);
    CHECK(tz != NULL);
    if (tz) CHECK_INT(sl_cron_tz_offset(tz, 1711846800), 7200);
    sl_cron_tz_free(tz);
    /* as a version 1 file: only the 32-bit block is read (no footer) */
    uint32_t c[6];
    for (int i = 0; i < 6; i++)
        c[i] = (uint32_t)data[20 + 4 * i] << 24 | (uint32_t)data[21 + 4 * i] << 16 |
               (uint32_t)data[22 + 4 * i] << 8 | data[23 + 4 * i];
    size_t v1 = 44 + c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    data[4] = 0;
    tz = sl_cron_tz_from_tzif(data, v1, err, sizeof err);
    CHECK(tz != NULL);
    if (tz) {
        CHECK_INT(sl_cron_tz_offset(tz, 1729990799), 7200);
        CHECK_INT(sl_cron_tz_offset(tz, 1729990800), 3600);
    }
    sl_cron_tz_free(tz);
}

TEST(http_retry_after) {
    CHECK_INT(sl_http_retry_after("2", 1, T2024), 2000);
    CHECK_INT(sl_http_retry_after(" 120 ", 5, T2024), 120000);
    CHECK_INT(sl_http_retry_after("1.5", 3, T2024), 1500);
    const char *d = "Mon, 01 Jan 2024 00:00:30 GMT";
    CHECK_INT(sl_http_retry_after(d, strlen(d), T2024), 30000);
    CHECK_INT(sl_http_retry_after(d, strlen(d), T2024 + HOUR), 0);
    CHECK_INT(sl_http_retry_after("soon", 4, T2024), -1);
    CHECK_INT(sl_http_retry_after("", 0, T2024), -1);
    const char *rfc850 = "Monday, 01-Jan-24 00:01:00 GMT", *asct = "Mon Jan  1 00:02:00 2024";
    CHECK_INT(sl_http_date(rfc850, strlen(rfc850)), T2024 + MIN);
    CHECK_INT(sl_http_date(asct, strlen(asct)), T2024 + 2 * MIN);
}

TEST(http_status_and_headers) {
    CHECK_INT(sl_http_status_line("HTTP/1.1 429 Too Many Requests", 30), 429);
    CHECK_INT(sl_http_status_line("HTTP/2 200", 10), 200);
    CHECK_INT(sl_http_status_line("HTTP/1.1 20", 11), -1);
    CHECK_INT(sl_http_status_line("Retry-After: 2", 14), -1);
    const char *h = "Content-Type: application/json\r\nretry-after:  7 \r\nX-RateLimit-Remaining: 0\r\n";
    size_t vl;
    const char *v = sl_http_header(h, strlen(h), "Retry-After", &vl);
    CHECK(v && vl == 1 && v[0] == '7');
    CHECK(sl_http_header(h, strlen(h), "ETag", &vl) == NULL);
    CHECK(sl_http_header(h, strlen(h), "Content", &vl) == NULL);
}

TEST(http_link_next) {
    char out[256];
    const char *l = "<https://a.example/x?page=1>; rel=\"prev\", <https://a.example/x?page=3>; rel=\"next\"";
    CHECK_INT(sl_http_link_next(l, strlen(l), out, sizeof out), 26);
    CHECK_STR(out, "https://a.example/x?page=3");
    const char *l2 = "<https://b/y>; title=\"a, b\"; rel=\"last next\"";
    CHECK(sl_http_link_next(l2, strlen(l2), out, sizeof out) > 0);
    CHECK_STR(out, "https://b/y");
    const char *l3 = "<https://b/y>; rel=prev";
    CHECK_INT(sl_http_link_next(l3, strlen(l3), out, sizeof out), -1);
    CHECK_INT(sl_http_link_next("<unterminated", 13, out, sizeof out), -1);
    CHECK_INT(sl_http_link_next(l, strlen(l), out, 5), -1);
}

TEST(http_sidecar) {
    const char *s = "HTTP/1.1 429 Too Many Requests\nRetry-After: 2\r\nContent-Type:text/html\n\nignored: yes\n";
    int status = 0;
    sl_buf_t b = SL_BUF_INIT;
    CHECK_INT(sl_http_sidecar_parse(s, strlen(s), &status, &b), 0);
    CHECK_INT(status, 429);
    size_t vl;
    const char *v = sl_http_header(b.data, b.len, "Retry-After", &vl);
    CHECK(v && vl == 1 && *v == '2');
    v = sl_http_header(b.data, b.len, "Content-Type", &vl);
    CHECK(v && vl == 9 && strncmp(v, "text/html", 9) == 0);
    CHECK(sl_http_header(b.data, b.len, "ignored", &vl) == NULL);
    sl_buf_free(&b);
    sl_buf_t c = SL_BUF_INIT;
    CHECK_INT(sl_http_sidecar_parse("Retry-After: 2\n", 15, &status, &c), -1);
    CHECK_INT(sl_http_sidecar_parse("", 0, &status, &c), -1);
    sl_buf_free(&c);
}
