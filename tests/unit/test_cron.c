/* test_cron.c - the http source's cron parser and next-firing computation, and the
 * HTTP metadata parsers (Retry-After, dates, Link, sidecars). */
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
