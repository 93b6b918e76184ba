/* journal_bench.c - journal append throughput (group commit) against raw sequential
 * write() + fdatasync every 64 KiB of the same bytes, in one run on the same disk.
 *
 * usage: journal_bench [DIR] [RECORDS] [PER_TXN]   (defaults: mkdtemp, 1000000, 1000) */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sluice/journal.h"
#include "sluice/json.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

int main(int argc, char **argv) {
    char tmpl[] = "/tmp/sluice-jbench-XXXXXX";
    const char *root = argc > 1 ? argv[1] : mkdtemp(tmpl);
    long total = argc > 2 ? atol(argv[2]) : 1000000;
    long per = argc > 3 ? atol(argv[3]) : 1000;
    if (!root || total <= 0 || per <= 0) {
        fprintf(stderr, "usage: journal_bench [DIR] [RECORDS] [PER_TXN]\n");
        return 2;
    }
    char dir[512], raw[512];
    snprintf(dir, sizeof dir, "%s/journal", root);
    snprintf(raw, sizeof raw, "%s/raw.bin", root);

    /* PER_TXN records shaped like a CoinLore ticker, ~200 bytes each in the log. */
    sl_arena_t arena;
    sl_arena_init(&arena, 1 << 20);
    sl_record_t *recs = calloc((size_t)per, sizeof *recs);
    for (long i = 0; i < per; i++) {
        char *json = sl_arena_sprintf(&arena,
            "{\"id\":\"%ld\",\"symbol\":\"C%04ld\",\"name\":\"Coin %ld\",\"rank\":%ld,"
            "\"price_usd\":\"%ld.%04ld\",\"percent_change_24h\":\"-1.27\",\"volume24\":%ld.5,"
            "\"csupply\":\"19783450.00\",\"tsupply\":\"19783450\"}", 90 + i, i, i, i + 1, 1000 + i, i, 100000 + i);
        sl_json_error_t jerr;
        if (sl_json_parse(&arena, json, strlen(json), &recs[i].value, &jerr) != 0) return 3;
        recs[i].key = sl_arena_sprintf(&arena, "%ld", 90 + i);
        recs[i].key_len = (uint32_t)strlen(recs[i].key);
        recs[i].source = "coinlore";
    }

    sl_journal_t *j;
    sl_error_t err;
    if (sl_journal_open(dir, NULL, &j, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 3;
    }
    sl_topic_opts_t o;
    sl_topic_opts_default(&o);
    o.fsync = SL_FSYNC_INTERVAL;
    o.fsync_interval_ms = 50;
    sl_topic_t *t;
    if (sl_journal_topic(j, "crypto.prices", &o, &t, &err) != 0) {
        fprintf(stderr, "topic: %s\n", err.msg);
        return 3;
    }
    double t0 = now_s();
    uint64_t seq = 0;
    long done = 0;
    for (long x = 0; done < total; x++) {
        long n = total - done < per ? total - done : per;
        for (long i = 0; i < n; i++) {
            recs[i].partition = -1;
            recs[i].seq = (uint64_t)(done + i);
            recs[i].ingest_ts = recs[i].ts = 0;
        }
        sl_txn_t *txn = sl_txn_begin(j, "bench");
        char cur[32];
        int cl = snprintf(cur, sizeof cur, "%ld", x);
        if (sl_txn_append(txn, t, recs, (size_t)n, &err) != 0 ||
            sl_txn_commit(txn, cur, (size_t)cl, &seq, &err) != 0) {
            fprintf(stderr, "append: %s\n", err.msg);
            return 3;
        }
        done += n;
    }
    if (sl_journal_wait_durable(j, seq, 60000) != 0) {
        fprintf(stderr, "wait_durable timed out\n");
        return 3;
    }
    double tj = now_s() - t0;
    int64_t bytes = sl_topic_bytes(t, 0);
    sl_journal_close(j);

    /* The peer: the same number of bytes, write() + fdatasync every 64 KiB. */
    char *chunk = malloc(65536);
    memset(chunk, 'x', 65536);
    int fd = open(raw, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    double t1 = now_s();
    for (int64_t left = bytes; left > 0;) {
        size_t n = left < 65536 ? (size_t)left : 65536;
        if (write(fd, chunk, n) != (ssize_t)n || fdatasync(fd) != 0) {
            perror("raw write");
            return 3;
        }
        left -= (int64_t)n;
    }
    double tr = now_s() - t1;
    close(fd);

    double jrps = (double)total / tj, jmbs = (double)bytes / tj / 1e6;
    double rrps = (double)total / tr, rmbs = (double)bytes / tr / 1e6;
    printf("records %ld, %ld per txn, %.1f bytes/record in the log\n", total, per, (double)bytes / (double)total);
    printf("journal append (group commit 50 ms): %.0f records/s, %.1f MB/s, %.3f s\n", jrps, jmbs, tj);
    printf("raw write + fdatasync per 64 KiB:    %.0f records/s, %.1f MB/s, %.3f s\n", rrps, rmbs, tr);
    printf("ratio journal/raw: %.2f\n", jmbs / rmbs);
    free(chunk);
    free(recs);
    sl_arena_free(&arena);
    if (argc <= 1) nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
