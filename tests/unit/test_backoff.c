/* test_backoff.c - the sources' retry delays (src/backoff.h): doubling from 1 s, the
 * cap that is never shorter than the schedule, jitter bounds, Retry-After. */
#include "t.h"

#include <stdint.h>

#include "../../src/backoff.h"

/* the delays of n failures in a row with a fixed random number */
static void run(int64_t every, uint32_t rnd, int n, int64_t *out) {
    int64_t nominal = 0;
    for (int i = 0; i < n; i++) out[i] = sl_backoff_next(&nominal, every, -1, rnd);
}

TEST(backoff_first_retry_waits_about_a_second) {
    int64_t nominal = 0;
    int64_t d = sl_backoff_next(&nominal, 60000, -1, 0);
    CHECK_INT(d, 500);
    CHECK_INT(nominal, 1000);
    nominal = 0;
    CHECK_INT(sl_backoff_next(&nominal, 60000, -1, 500), 1000);   /* the top of [d/2, d] */
}

TEST(backoff_doubles_to_the_cap) {
    int64_t d[12];
    run(60000, 0xffffffffu, 12, d);
    /* rnd % (nominal/2+1) with rnd = 2^32-1: within [nominal/2, nominal] each time */
    int64_t nominal = 1000;
    for (int i = 0; i < 12; i++) {
        int64_t want = nominal > 300000 ? 300000 : nominal;
        CHECK(d[i] >= want / 2 && d[i] <= want);
        nominal *= 2;
    }
    run(60000, 0, 12, d);
    CHECK_INT(d[0], 500);
    CHECK_INT(d[1], 1000);
    CHECK_INT(d[2], 2000);
    CHECK_INT(d[8], 128000);
    CHECK_INT(d[9], 150000);   /* nominal capped at 300 s */
    CHECK_INT(d[11], 150000);
}

TEST(backoff_cap_is_never_shorter_than_the_schedule) {
    int64_t d[20];
    run(3600000, 0, 20, d);     /* every: 1h */
    CHECK_INT(d[19], 1800000);  /* nominal capped at the hour, not at 5 min */
    int64_t nominal = 0;
    for (int i = 0; i < 30; i++) sl_backoff_next(&nominal, 3600000, -1, 7);
    CHECK_INT(nominal, 3600000);
    nominal = 0;
    for (int i = 0; i < 30; i++) sl_backoff_next(&nominal, 5000, -1, 7);   /* every: 5s */
    CHECK_INT(nominal, 300000);
}

TEST(backoff_no_tight_loop_in_ten_seconds) {
    /* the worst case of the jitter: attempts at 0, 0.5, 1.5, 3.5, 7.5 s: 5 in 10 s */
    int64_t nominal = 0, t = 0;
    int attempts = 1;
    for (;;) {
        t += sl_backoff_next(&nominal, 60000, -1, 0);
        if (t > 10000) break;
        attempts++;
    }
    CHECK_INT(attempts, 5);
}

TEST(backoff_honours_retry_after) {
    int64_t nominal = 0;
    CHECK_INT(sl_backoff_next(&nominal, 60000, 3600000, 0), 3600000);   /* past the cap */
    CHECK_INT(nominal, 300000);
    nominal = 0;
    CHECK_INT(sl_backoff_next(&nominal, 60000, 2000, 0), 2000);
    CHECK_INT(nominal, 2000);
    CHECK_INT(sl_backoff_next(&nominal, 60000, -1, 0), 2000);           /* doubles from it */
    CHECK_INT(nominal, 4000);
    nominal = 0;
    CHECK_INT(sl_backoff_next(&nominal, 60000, 10, 0), 500);            /* never shorter than the backoff */
}

TEST(backoff_huge_schedules_do_not_overflow) {
    int64_t nominal = INT64_MAX / 2 + 1;
    int64_t d = sl_backoff_next(&nominal, 400LL * 86400000, -1, 0xffffffffu);
    CHECK(d > 0);
    CHECK_INT(nominal, 400LL * 86400000);
}
