/* t.h - the unit-test harness: CHECK macros that count, and a main that runs every
 * test registered with TEST() and ends with "N passed, N failed". */
#ifndef SLUICE_T_H
#define SLUICE_T_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*t_fn)(void);
static struct { const char *name; t_fn fn; } t_tests[512];
static int t_ntests, t_failed_checks, t_cur_failed;
static const char *t_cur;

#define TEST(t_fn_)                                                             \
    static void t_fn_(void);                                                    \
    __attribute__((constructor)) static void t_reg_##t_fn_(void) {              \
        t_tests[t_ntests].name = #t_fn_;                                        \
        t_tests[t_ntests++].fn = t_fn_;                                         \
    }                                                                           \
    static void t_fn_(void)

#define T_FAIL(...)                                                             \
    do {                                                                        \
        fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, t_cur);             \
        fprintf(stderr, __VA_ARGS__);                                           \
        fputc('\n', stderr);                                                    \
        t_cur_failed++;                                                         \
        t_failed_checks++;                                                      \
    } while (0)

#define CHECK(cond)                                                             \
    do { if (!(cond)) T_FAIL("CHECK(%s) failed", #cond); } while (0)
#define CHECK_INT(a, b)                                                         \
    do { long long t_a = (long long)(a), t_b = (long long)(b);                  \
         if (t_a != t_b) T_FAIL("%s == %lld, expected %lld", #a, t_a, t_b); } while (0)
#define CHECK_STR(a, b)                                                         \
    do { const char *t_a = (a), *t_b = (b);                                     \
         if (!t_a || !t_b || strcmp(t_a, t_b) != 0)                             \
             T_FAIL("%s == \"%s\", expected \"%s\"", #a, t_a ? t_a : "(null)",  \
                    t_b ? t_b : "(null)"); } while (0)
#define CHECK_NEAR(a, b, eps)                                                   \
    do { double t_a = (a), t_b = (b);                                           \
         if (!(fabs(t_a - t_b) <= (eps)))                                       \
             T_FAIL("%s == %.10g, expected %.10g (+-%g)", #a, t_a, t_b, (double)(eps)); } while (0)

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    for (int i = 0; i < t_ntests; i++) {
        if (argc > 1 && !strstr(t_tests[i].name, argv[1])) continue;
        t_cur = t_tests[i].name;
        t_cur_failed = 0;
        t_tests[i].fn();
        if (t_cur_failed) { failed++; fprintf(stderr, "FAIL %s\n", t_cur); }
        else passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
