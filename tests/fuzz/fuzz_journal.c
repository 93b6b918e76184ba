/* fuzz_journal.c - libFuzzer target for the journal's readers of disk bytes: segment
 * scan and recovery, meta.log replay, sl_topic_read, fsck and fsck --repair.  Whatever
 * the bytes, nothing may crash, leak or read out of bounds.
 *
 * Input: byte 0 picks what the rest is (low 2 bits):
 *   0  segment 00000000000000000000.log of topic t, partition 0; meta.log holds commits
 *      with ends 1, 2, 4, ... 2^20 (recovery keeps those the data covers)
 *   1  meta.log; the segments are valid ones written by the journal at start-up
 *   2  both: bytes 1-2 (little-endian) give the segment's length, then segment, meta.log
 *   3  the topic's meta file ("key value" lines); segments and meta.log valid (a meta
 *      that does not account for the data must make open refuse, never cut)
 * Bit 2 of byte 0: also open read-write (recovery cuts) and fsck --repair.
 *
 * clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -pthread -Iinclude \
 *   tests/fuzz/fuzz_journal.c src/journal*.c src/json.c src/value.c src/arena.c src/buf.c \
 *   src/error.c src/record.c -lz -lm -o build/fuzz_journal \
 *   && build/fuzz_journal tests/fuzz/corpus/fuzz_journal -max_total_time=60 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];
static char *good_seg[2], *good_meta, *topic_meta;
static size_t good_seg_len[2], good_meta_len, topic_meta_len;

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir) { nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void spit(const char *path, const void *b, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (len) fwrite(b, 1, len, f);
    fclose(f);
}

static void cleanup(void) { rm_rf(root); }

/* Once per process: a valid journal to borrow segments, meta.log and topic meta from. */
static void setup(void) {
    if (root[0]) return;
    snprintf(root, sizeof root, "/tmp/sluice-fuzzj-XXXXXX");
    if (!mkdtemp(root)) abort();
    atexit(cleanup);
    char dir[128], p[256];
    snprintf(dir, sizeof dir, "%s/seed", root);
    sl_journal_t *j;
    sl_error_t err;
    if (sl_journal_open(dir, NULL, &j, &err)) abort();
    sl_topic_opts_t o;
    sl_topic_opts_default(&o);
    o.partitions = 2;
    sl_topic_t *t;
    if (sl_journal_topic(j, "t", &o, &t, &err)) abort();
    for (int x = 0; x < 3; x++) {
        sl_record_t r[4];
        memset(r, 0, sizeof r);
        for (int i = 0; i < 4; i++) {
            r[i].value = sl_int(x * 4 + i);
            r[i].partition = i % 2;
            r[i].key = i % 2 ? "k" : NULL;
            r[i].key_len = 1;
            r[i].source = "fuzz";
        }
        sl_txn_t *txn = sl_txn_begin(j, "w");
        if (sl_txn_append(txn, t, r, 4, &err) || sl_txn_commit(txn, "cur", 3, NULL, &err)) abort();
    }
    sl_offset_t off = {"t", 0, 2};
    sl_journal_group_commit(j, "g", &off, 1, "st", 2, &err);
    sl_journal_close(j);
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/topics/t/%d/%020d.log", dir, i, 0);
        good_seg[i] = slurp(p, &good_seg_len[i]);
    }
    snprintf(p, sizeof p, "%s/meta.log", dir);
    good_meta = slurp(p, &good_meta_len);
    snprintf(p, sizeof p, "%s/topics/t/meta", dir);
    topic_meta = slurp(p, &topic_meta_len);
    rm_rf(dir);
}

/* meta.log with commits of t/0 at ends 1, 2, 4, ... */
static char *pow2_meta(size_t *len) {
    static char buf[64 * 24];
    size_t n = 0;
    for (int k = 0; k <= 20; k++) {
        char body[40];
        size_t b = 0;
        body[b++] = 1;                                  /* SL_META_COMMIT */
        for (int i = 0; i < 8; i++) body[b++] = (char)(i == 0 ? k + 1 : 0);   /* txn id */
        body[b++] = 1; body[b++] = 'w';                 /* writer */
        body[b++] = 0;                                  /* no cursor */
        body[b++] = 1;                                  /* one end */
        body[b++] = 1; body[b++] = 't';
        body[b++] = 0;                                  /* partition */
        uint64_t end = (uint64_t)1 << k;
        while (end >= 0x80) { body[b++] = (char)(end | 0x80); end >>= 7; }
        body[b++] = (char)end;
        uint32_t crc = 0;
        {
            /* crc32 (zlib polynomial), bitwise: the fuzzer needs no zlib header */
            crc = 0xffffffffu;
            for (size_t i = 0; i < b; i++) {
                crc ^= (unsigned char)body[i];
                for (int r = 0; r < 8; r++) crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
            }
            crc ^= 0xffffffffu;
        }
        uint32_t l = (uint32_t)b;
        for (int i = 0; i < 4; i++) buf[n++] = (char)(l >> (8 * i));
        for (int i = 0; i < 4; i++) buf[n++] = (char)(crc >> (8 * i));
        memcpy(buf + n, body, b);
        n += b;
    }
    *len = n;
    return buf;
}

static void read_everything(sl_journal_t *j) {
    char **names;
    size_t n;
    sl_journal_list(j, &names, &n);
    for (size_t i = 0; i < n; i++) {
        sl_topic_t *t;
        sl_error_t err;
        if (sl_journal_topic(j, names[i], NULL, &t, &err)) continue;
        for (int p = 0; p < sl_topic_partitions(t); p++) {
            int64_t off = sl_topic_start(t, p);
            for (int guard = 0; guard < 10000; guard++) {
                sl_batch_t b;
                sl_batch_init(&b);
                int64_t next;
                int rc = sl_topic_read(t, p, off, 16, 1 << 16, &b, &next, &err);
                sl_batch_free(&b);
                if (rc == SL_CORRUPT) {
                    next = off + 1;   /* skip it, like a consumer that gives up on a record */
                } else if (rc || next == off) {
                    break;
                }
                off = next;
                if (off >= sl_topic_end(t, p)) break;
            }
        }
    }
    sl_journal_names_free(names, n);
    void *c;
    size_t cl;
    sl_journal_cursor(j, "w", &c, &cl);
    free(c);
    sl_journal_group_state(j, "g", &c, &cl);
    free(c);
}

static void print_damage(void *opaque, const sl_journal_damage_t *d) {
    fprintf(stderr, "  %s: %s at byte %llu offset %lld%s: %s\n", (const char *)opaque, d->path,
            (unsigned long long)d->file_offset, (long long)d->offset, d->tail ? " (tail)" : "", d->what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    bool verbose = getenv("FUZZ_JOURNAL_VERBOSE") != NULL;
    if (size < 1) return 0;
    int mode = data[0] & 3;
    bool rw = data[0] & 4;
    const char *seg = NULL, *meta = NULL, *tmeta = topic_meta;
    size_t seg_len = 0, meta_len = 0, tmeta_len = topic_meta_len;
    if (mode == 3) {
        seg = good_seg[0];
        seg_len = good_seg_len[0];
        meta = good_meta;
        meta_len = good_meta_len;
        tmeta = (const char *)data + 1;
        tmeta_len = size - 1;
    } else if (mode == 0) {
        seg = (const char *)data + 1;
        seg_len = size - 1;
        meta = pow2_meta(&meta_len);
    } else if (mode == 1) {
        seg = good_seg[0];
        seg_len = good_seg_len[0];
        meta = (const char *)data + 1;
        meta_len = size - 1;
    } else {
        if (size < 3) return 0;
        size_t l = (size_t)data[1] | (size_t)data[2] << 8;
        if (l > size - 3) l = size - 3;
        seg = (const char *)data + 3;
        seg_len = l;
        meta = (const char *)data + 3 + l;
        meta_len = size - 3 - l;
    }
    char dir[128], p[256];
    snprintf(dir, sizeof dir, "%s/j", root);
    rm_rf(dir);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/topics", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/topics/t", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/topics/t/meta", dir);
    spit(p, tmeta, tmeta_len);
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/topics/t/%d", dir, i);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/topics/t/%d/%020d.log", dir, i, 0);
        if (i == 0) spit(p, seg, seg_len);
        else spit(p, good_seg[1], good_seg_len[1]);
    }
    snprintf(p, sizeof p, "%s/meta.log", dir);
    spit(p, meta, meta_len);

    sl_error_t err;
    sl_journal_opts_t ro = {true, NULL, NULL};
    sl_journal_t *j;
    if (sl_journal_open(dir, &ro, &j, &err) == 0) {
        read_everything(j);
        sl_journal_close(j);
    }
    int damages = sl_journal_fsck(dir, false, verbose ? print_damage : NULL, "fsck", &err);
    if (rw) {
        sl_journal_opts_t rwo = {false, verbose ? print_damage : NULL, "open"};
        if (sl_journal_open(dir, &rwo, &j, &err) == 0) {
            read_everything(j);
            sl_journal_close(j);
        }
        int repaired = sl_journal_fsck(dir, true, verbose ? print_damage : NULL, "repair", &err);
        if (sl_journal_open(dir, NULL, &j, &err) == 0) {
            read_everything(j);
            sl_journal_close(j);
        }
        /* After open + repair, nothing may be left to repair (unless --repair refused:
         * a topic meta that disagrees with the data is for a human to fix). */
        int again = sl_journal_fsck(dir, false, verbose ? print_damage : NULL, "after", &err);
        if (repaired >= 0 && again != 0) {
            fprintf(stderr, "fuzz_journal: %d damages left after repair (first fsck: %d)\n", again, damages);
            abort();
        }
    }
    return 0;
}
