/* json_bench.c - JSON parse and parse+serialise throughput, sluice vs jansson, over the
 * recorded API fixtures (repeated in memory to ~100 MB of work; best of 3 runs).
 *
 * usage: json_bench [FIXTURE_DIR...] [--mb N]   (default ../shared/fixtures/api and
 * ../shared/fixtures/donki-months).  Prints a Markdown table on stdout. */
#include <dirent.h>
#include <stdint.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/arena.h"
#include "sluice/buf.h"
#include "sluice/json.h"

typedef struct doc {
    char *data;
    size_t len;
} doc_t;

typedef struct docset {
    doc_t docs[256];
    int ndocs;
    size_t total_bytes;
} docset_t;

static docset_t fixtures, numeric;

static void load_dir(docset_t *set, const char *dir_path) {
    DIR *dir = opendir(dir_path);
    if (!dir) {
        fprintf(stderr, "json_bench: cannot open %s\n", dir_path);
        return;
    }
    struct dirent *de;
    while ((de = readdir(dir)) && set->ndocs < 256) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0) continue;
        if (strstr(de->d_name, "truncated")) continue;   /* not valid JSON */
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir_path, de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        rewind(f);
        char *b = malloc((size_t)len + 1);
        if (fread(b, 1, (size_t)len, f) != (size_t)len) {
            free(b);
            fclose(f);
            continue;
        }
        fclose(f);
        set->docs[set->ndocs].data = b;
        set->docs[set->ndocs].len = (size_t)len;
        set->ndocs++;
        set->total_bytes += (size_t)len;
    }
    closedir(dir);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { SLUICE_PARSE, SLUICE_ROUNDTRIP, JANSSON_PARSE, JANSSON_ROUNDTRIP };

/* A number-heavy document the fixtures lack: 3000 CoinLore-shaped tickers with
 * full-precision doubles, ints and numeric strings (deterministic). */
static void make_numeric(docset_t *set) {
    sl_buf_t b = SL_BUF_INIT;
    uint64_t x = 88172645463325252ull;
    sl_buf_putc(&b, '[');
    for (int i = 0; i < 3000; i++) {
        double r[4];
        for (int k = 0; k < 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            r[k] = (double)(x >> 11) / 9007199254740992.0;
        }
        sl_buf_printf(&b,
                      "%s{\"id\":\"%d\",\"symbol\":\"BTC\",\"rank\":%d,\"price_usd\":\"%.2f\","
                      "\"percent_change_24h\":\"%.2f\",\"volume24\":%.17g,\"lat\":%.17g,"
                      "\"lon\":%.6f,\"ts\":%lld}",
                      i ? "," : "", i, i + 1, r[0] * 70000, r[1] * 18 - 9, r[2] * 1e10,
                      r[3] * 180 - 90, r[0] * 360 - 180, 1720107182000LL + i);
    }
    sl_buf_putc(&b, ']');
    set->docs[0].data = b.data;
    set->docs[0].len = b.len;
    set->ndocs = 1;
    set->total_bytes = b.len;
}

/* One run: every document `reps` times; returns the seconds taken. */
static double run(const docset_t *set, int mode, int reps) {
    sl_arena_t arena;
    sl_arena_init(&arena, 256 * 1024);
    sl_buf_t out = SL_BUF_INIT;
    size_t sink = 0;
    double t0 = now_s();
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < set->ndocs; i++) {
            const doc_t *d = &set->docs[i];
            if (mode == SLUICE_PARSE || mode == SLUICE_ROUNDTRIP) {
                sl_value_t v;
                sl_json_error_t err;
                if (sl_json_parse(&arena, d->data, d->len, &v, &err) != 0) {
                    fprintf(stderr, "json_bench: sluice rejected doc %d: %s\n", i, err.reason);
                    exit(1);
                }
                if (mode == SLUICE_ROUNDTRIP) {
                    sl_buf_clear(&out);
                    sl_json_write(&out, v);
                    sink += out.len;
                }
                sink += v.len;
                sl_arena_reset(&arena);
            } else {
                json_error_t jerr;
                json_t *j = json_loadb(d->data, d->len, 0, &jerr);
                if (!j) {
                    fprintf(stderr, "json_bench: jansson rejected doc %d: %s\n", i, jerr.text);
                    exit(1);
                }
                if (mode == JANSSON_ROUNDTRIP) {
                    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
                    sink += strlen(s);
                    free(s);
                }
                json_decref(j);
            }
        }
    }
    double t = now_s() - t0;
    sl_buf_free(&out);
    sl_arena_free(&arena);
    if (sink == 42) fputc(' ', stderr);   /* keep the work observable */
    return t;
}

static double best_mbs(const docset_t *set, int mode, int reps) {
    double best = 1e30;
    for (int k = 0; k < 3; k++) {
        double t = run(set, mode, reps);
        if (t < best) best = t;
    }
    return (double)set->total_bytes * reps / best / 1e6;
}

static void report(const char *name, const docset_t *set, double target_mb) {
    int reps = (int)(target_mb * 1e6 / (double)set->total_bytes) + 1;
    double sp = best_mbs(set, SLUICE_PARSE, reps), jp = best_mbs(set, JANSSON_PARSE, reps);
    double sr = best_mbs(set, SLUICE_ROUNDTRIP, reps), jr = best_mbs(set, JANSSON_ROUNDTRIP, reps);
    printf("| %s: %d docs, %zu B x %d | parse | %.0f | %.0f | %.1fx |\n", name, set->ndocs,
           set->total_bytes, reps, sp, jp, sp / jp);
    printf("| | parse + serialise | %.0f | %.0f | %.1fx |\n", sr, jr, sr / jr);
    fflush(stdout);
}

int main(int argc, char **argv) {
    double target_mb = 100;
    int ndirs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc) target_mb = atof(argv[++i]);
        else {
            load_dir(&fixtures, argv[i]);
            ndirs++;
        }
    }
    if (!ndirs) {
        load_dir(&fixtures, "../shared/fixtures/api");
        load_dir(&fixtures, "../shared/fixtures/donki-months");
    }
    make_numeric(&numeric);
    printf("~%.0f MB of work per run, best of 3 runs, one thread\n\n", target_mb);
    printf("| input | what | sluice MB/s | jansson %s MB/s | ratio |\n", JANSSON_VERSION);
    printf("|---|---|---:|---:|---:|\n");
    if (fixtures.ndocs) report("fixtures", &fixtures, target_mb);
    else fprintf(stderr, "json_bench: no fixtures found, numeric input only\n");
    report("numeric (synthetic tickers)", &numeric, target_mb);
    return 0;
}
