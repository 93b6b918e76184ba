/* journal_segment.c - the journal's partition files: batch codec, segments and their
 * sparse indexes, the recovery scan, and sl_topic_read.  Formats: docs/FORMAT.md.
 *
 * Invariants (numbers as in docs/FORMAT.md):
 *  S1. A batch is used only after its crc matched; a batch that fails is reported with
 *      its file and byte position and never decoded.
 *  S2. Readers never look at offsets >= part->committed; only the owner of a partition
 *      writes at or beyond it, so readers and the appender never touch the same bytes.
 *  S3. The .idx file is a cache: rebuilt from the scan on open whenever it differs.
 *  S4. Damage below the committed end is never cut by open: it becomes a hole that
 *      readers step over (reported, counted in sl_journal_damages, its bytes copied to
 *      DIR/quarantine/); only fsck --repair moves bytes.  A header that disagrees with
 *      the walk is trusted only after its crc matched (S1). */
#include "journal_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "sluice/json.h"

/* ---- codec ---- */

uint32_t sl_jcrc(const void *p, size_t n) { return sl_jcrc_more(0, p, n); }

uint32_t sl_jcrc_more(uint32_t crc, const void *p, size_t n) {
    const unsigned char *b = p;
    /* zlib takes uInt lengths: feed in chunks so huge buffers stay correct. */
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, b, chunk);
        b += chunk;
        n -= chunk;
    }
    return crc;
}

void sl_jbuf_varint(sl_buf_t *b, uint64_t v) {
    char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (char)v;
    sl_buf_append(b, tmp, n);
}

void sl_jbuf_u64(sl_buf_t *b, uint64_t v) {
    char tmp[8];
    sl_put_u64(tmp, v);
    sl_buf_append(b, tmp, 8);
}

void sl_jbuf_bytes(sl_buf_t *b, const void *p, size_t n) {
    sl_jbuf_varint(b, n);
    sl_buf_append(b, p, n);
}

bool sl_jrd_varint(sl_jrd_t *r, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return false;
        unsigned char c = (unsigned char)*r->p++;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

bool sl_jrd_u64(sl_jrd_t *r, uint64_t *v) {
    if (r->end - r->p < 8) return false;
    *v = sl_get_u64(r->p);
    r->p += 8;
    return true;
}

bool sl_jrd_bytes(sl_jrd_t *r, const char **p, size_t *n) {
    uint64_t len;
    if (!sl_jrd_varint(r, &len) || len > (uint64_t)(r->end - r->p)) return false;
    *p = r->p;
    *n = (size_t)len;
    r->p += len;
    return true;
}

void sl_batch_hdr_decode(const char *p, sl_batch_hdr_t *h) {
    h->magic = sl_get_u32(p);
    h->crc = sl_get_u32(p + 4);
    h->base = (int64_t)sl_get_u64(p + 8);
    h->count = sl_get_u32(p + 16);
    h->len = sl_get_u32(p + 20);
    h->ingest_base = (int64_t)sl_get_u64(p + 24);
    h->ingest_max = (int64_t)sl_get_u64(p + 32);
    h->txn = sl_get_u64(p + 40);
}

int sl_batch_check(const char *buf, size_t avail, sl_batch_hdr_t *h) {
    if (avail < SL_BATCH_HDR) return -1;
    sl_batch_hdr_decode(buf, h);
    if (h->magic != SL_BATCH_MAGIC || h->len > SL_BATCH_MAX || h->base < 0 ||
        (size_t)h->len > avail - SL_BATCH_HDR)
        return -1;
    uint32_t crc = sl_jcrc(buf + 8, SL_BATCH_HDR - 8 + (size_t)h->len);
    if (crc != h->crc) return 0;
    /* A record takes at least 2 bytes: a count the payload cannot hold is a bug. */
    if (h->count == 0 || h->count > h->len / 2 + 1) return 0;
    return 1;
}

/* Why a separate scratch buffer: the record length prefix is a varint of the body's
 * size, known only after the JSON is written. */
void sl_batch_encode(sl_txn_t *txn, sl_record_t *recs, const size_t *idx, size_t n,
                     int64_t base, int64_t *ingest_max) {
    sl_buf_t *b = &txn->buf, *s = &txn->scratch;
    sl_buf_clear(b);
    sl_buf_reserve(b, SL_BATCH_HDR + n * 64);
    b->len = SL_BATCH_HDR;
    int64_t ibase = recs[idx[0]].ingest_ts, imax = ibase;
    for (size_t k = 0; k < n; k++) {
        sl_record_t *rec = &recs[idx[k]];
        if (rec->ingest_ts > imax) imax = rec->ingest_ts;
        sl_buf_clear(s);
        if (rec->key) {
            sl_jbuf_varint(s, (uint64_t)rec->key_len + 1);
            sl_buf_append(s, rec->key, rec->key_len);
        } else {
            sl_jbuf_varint(s, 0);
        }
        sl_jbuf_varint(s, sl_zigzag(rec->ts - ibase));
        sl_jbuf_varint(s, sl_zigzag(rec->ingest_ts - ibase));
        sl_jbuf_varint(s, rec->seq);
        if (rec->source) {
            size_t sl = strlen(rec->source);
            sl_jbuf_varint(s, (uint64_t)sl + 1);
            sl_buf_append(s, rec->source, sl);
        } else {
            sl_jbuf_varint(s, 0);
        }
        if (rec->raw) sl_buf_append(s, rec->raw, rec->raw_len);  /* the source's own text */
        else sl_json_write(s, rec->value);
        sl_jbuf_varint(b, s->len);
        sl_buf_append(b, s->data, s->len);
    }
    char *h = b->data;
    sl_put_u32(h, SL_BATCH_MAGIC);
    sl_put_u64(h + 8, (uint64_t)base);
    sl_put_u32(h + 16, (uint32_t)n);
    sl_put_u32(h + 20, (uint32_t)(b->len - SL_BATCH_HDR));
    sl_put_u64(h + 24, (uint64_t)ibase);
    sl_put_u64(h + 32, (uint64_t)imax);
    sl_put_u64(h + 40, txn->id);
    sl_put_u32(h + 4, sl_jcrc(h + 8, b->len - 8));
    *ingest_max = imax;
}

/* ---- segments ---- */

static char *seg_path(const char *dir, int64_t base, const char *ext) {
    size_t n = strlen(dir) + 40;
    char *p = malloc(n);
    if (!p) abort();
    snprintf(p, n, "%s/%020" PRId64 ".%s", dir, base, ext);
    return p;
}

int sl_seg_open(sl_part_t *part, int64_t base, bool create, bool ro, sl_seg_t **out,
                sl_error_t *err) {
    sl_seg_t *seg = calloc(1, sizeof *seg);
    if (!seg) return sl_error_set(err, SL_NOMEM, "out of memory");
    seg->base = seg->end = base;
    seg->idx_fd = -1;
    seg->idx_last_pos = -1;
    seg->path = seg_path(part->dir, base, "log");
    int flags = ro ? O_RDONLY : O_RDWR | (create ? O_CREAT : 0);
    seg->fd = open(seg->path, flags | O_CLOEXEC, 0644);
    if (seg->fd < 0) {
        int e = errno;
        sl_error_set(err, SL_IO, "%s: %s", seg->path, sl_strerror(e));
        free(seg->path);
        free(seg);
        return SL_IO;
    }
    if (!ro) {
        char *ip = seg_path(part->dir, base, "idx");
        seg->idx_fd = open(ip, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        free(ip);
        if (seg->idx_fd < 0) {
            int e = errno;
            sl_error_set(err, SL_IO, "%s: index: %s", seg->path, sl_strerror(e));
            close(seg->fd);
            free(seg->path);
            free(seg);
            return SL_IO;
        }
    }
    *out = seg;
    return 0;
}

void sl_seg_close(sl_seg_t *seg) {
    if (!seg) return;
    if (seg->fd >= 0) close(seg->fd);
    if (seg->idx_fd >= 0) close(seg->idx_fd);
    free(seg->idx);
    free(seg->path);
    free(seg);
}

void sl_seg_unlink(sl_seg_t *seg) {
    unlink(seg->path);
    size_t n = strlen(seg->path);
    char *ip = sl_jstrdup(seg->path);
    memcpy(ip + n - 3, "idx", 3);
    unlink(ip);
    free(ip);
}

void sl_seg_index_add(sl_seg_t *seg, int64_t offset, int64_t pos, bool force) {
    if (!force && seg->nidx > 0 && pos - seg->idx_last_pos < SL_INDEX_EVERY) return;
    if (pos > UINT32_MAX || offset - seg->base > UINT32_MAX) return;
    if (seg->nidx == seg->capidx) {
        size_t cap = seg->capidx ? seg->capidx * 2 : 64;
        sl_idx_entry_t *e = realloc(seg->idx, cap * sizeof *e);
        if (!e) abort();
        seg->idx = e;
        seg->capidx = cap;
    }
    seg->idx[seg->nidx].rel = (uint32_t)(offset - seg->base);
    seg->idx[seg->nidx].pos = (uint32_t)pos;
    seg->nidx++;
    seg->idx_last_pos = pos;
}

static void index_encode(const sl_seg_t *seg, size_t from, char *out) {
    for (size_t i = from; i < seg->nidx; i++) {
        sl_put_u32(out + (i - from) * 8, seg->idx[i].rel);
        sl_put_u32(out + (i - from) * 8 + 4, seg->idx[i].pos);
    }
}

int sl_seg_index_write(sl_seg_t *seg) {
    if (seg->idx_fd < 0) return 0;
    size_t n = seg->nidx * 8;
    char *b = malloc(n ? n : 1);
    if (!b) abort();
    index_encode(seg, 0, b);
    int rc = 0;
    if (ftruncate(seg->idx_fd, 0) != 0 || (n && sl_jwrite_all(seg->idx_fd, b, n, 0) != 0)) rc = SL_IO;
    free(b);
    return rc;
}

/* Does the .idx on disk equal the entries rebuilt by the scan? */
static bool index_matches(sl_seg_t *seg) {
    struct stat st;
    if (fstat(seg->idx_fd, &st) != 0 || (size_t)st.st_size != seg->nidx * 8) return false;
    if (seg->nidx == 0) return true;
    size_t n = seg->nidx * 8;
    char *a = malloc(n), *b = malloc(n);
    if (!a || !b) abort();
    index_encode(seg, 0, a);
    bool same = sl_jread_all(seg->idx_fd, b, n, 0) == (int)n && memcmp(a, b, n) == 0;
    free(a);
    free(b);
    return same;
}

/* Start position for reading `offset`: the last index entry at or before it, and *base:
 * the first offset of the batch there (-1: unknown, the segment's start). */
static int64_t index_lookup_base(const sl_seg_t *seg, int64_t offset, int64_t *base) {
    int64_t rel = offset - seg->base;
    size_t lo = 0, hi = seg->nidx;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((int64_t)seg->idx[mid].rel <= rel) lo = mid + 1;
        else hi = mid;
    }
    *base = lo == 0 ? -1 : seg->base + (int64_t)seg->idx[lo - 1].rel;
    return lo == 0 ? 0 : seg->idx[lo - 1].pos;
}

static int64_t index_lookup(const sl_seg_t *seg, int64_t offset) {
    int64_t base;
    return index_lookup_base(seg, offset, &base);
}

int64_t sl_seg_find_batch(sl_seg_t *seg, int64_t offset) {
    int64_t pos = index_lookup(seg, offset);
    char hb[SL_BATCH_HDR];
    for (;;) {
        if (pos >= seg->size) return offset == seg->end ? seg->size : -1;
        if (sl_jread_all(seg->fd, hb, SL_BATCH_HDR, pos) != SL_BATCH_HDR) return -1;
        sl_batch_hdr_t h;
        sl_batch_hdr_decode(hb, &h);
        if (h.magic != SL_BATCH_MAGIC) return -1;
        if (h.base == offset) return pos;
        if (h.base > offset) return -1;
        pos += SL_BATCH_HDR + (int64_t)h.len;
    }
}

/* File position of the batch holding `offset` (*bbase: its first offset); the data
 * end when none does. */
static int64_t seg_find_cover(sl_seg_t *seg, int64_t offset, int64_t *bbase) {
    int64_t pos = index_lookup(seg, offset);
    char hb[SL_BATCH_HDR];
    while (pos < seg->size) {
        if (sl_jread_all(seg->fd, hb, SL_BATCH_HDR, pos) != SL_BATCH_HDR) break;
        sl_batch_hdr_t h;
        sl_batch_hdr_decode(hb, &h);
        if (h.magic != SL_BATCH_MAGIC) break;
        if (h.base <= offset && offset < h.base + (int64_t)h.count) {
            *bbase = h.base;
            return pos;
        }
        if (h.base > offset) break;
        *bbase = h.base + (int64_t)h.count;
        pos += SL_BATCH_HDR + (int64_t)h.len;
    }
    return pos < seg->size ? pos : seg->size;
}

/* ---- partitions: loading and recovery ---- */

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void seg_push(sl_part_t *part, sl_seg_t *seg) {
    if (part->nseg == part->capseg) {
        size_t cap = part->capseg ? part->capseg * 2 : 8;
        sl_seg_t **s = realloc(part->segs, cap * sizeof *s);
        if (!s) abort();
        part->segs = s;
        part->capseg = cap;
    }
    part->segs[part->nseg++] = seg;
}

static void ldmg_add(sl_part_t *part, size_t seg, int64_t pos, int64_t offset, int64_t resync,
                     const char *what) {
    if (part->nldmg == part->capldmg) {
        size_t cap = part->capldmg ? part->capldmg * 2 : 4;
        sl_load_dmg_t *d = realloc(part->ldmg, cap * sizeof *d);
        if (!d) abort();
        part->ldmg = d;
        part->capldmg = cap;
    }
    sl_load_dmg_t *d = &part->ldmg[part->nldmg++];
    d->seg = seg;
    d->pos = pos;
    d->offset = offset;
    d->resync = resync;
    snprintf(d->what, sizeof d->what, "%s", what);
}

/* The next position >= from holding a good batch with base >= expect, or -1. */
static int64_t resync(const char *buf, size_t size, size_t from, int64_t expect) {
    static const char magic[4] = {(char)0xDE, (char)0xC0, (char)0xA5, (char)0xB1};
    size_t pos = from;
    while (pos + SL_BATCH_HDR <= size) {
        const char *m = memmem(buf + pos, size - pos, magic, 4);
        if (!m) return -1;
        pos = (size_t)(m - buf);
        sl_batch_hdr_t h;
        if (sl_batch_check(buf + pos, size - pos, &h) == 1 && h.base >= expect) return (int64_t)pos;
        pos++;
    }
    return -1;
}

/* Scan one segment file: rebuild its index, find its end and its damage. */
static int seg_scan(sl_load_ctx_t *ctx, sl_part_t *part, size_t si, sl_error_t *err) {
    sl_seg_t *seg = part->segs[si];
    struct stat st;
    if (fstat(seg->fd, &st) != 0) return sl_error_set(err, SL_IO, "%s: %s", seg->path, sl_strerror(errno));
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size ? size : 1);
    if (!buf) return sl_error_set(err, SL_NOMEM, "%s: out of memory", seg->path);
    if (size && sl_jread_all(seg->fd, buf, size, 0) != (int)size) {
        free(buf);
        return sl_error_set(err, SL_IO, "%s: short read", seg->path);
    }
    size_t pos = 0;
    int64_t expect = seg->base;
    bool force = true;   /* index the first batch and every batch after damage */
    while (pos < size) {
        sl_batch_hdr_t h;
        int r = sl_batch_check(buf + pos, size - pos, &h);
        if (r == 1 && h.base >= expect) {
            if (h.base > expect) {
                ldmg_add(part, si, (int64_t)pos, expect, (int64_t)pos, "offsets missing before this batch");
                force = true;
            }
            sl_seg_index_add(seg, h.base, (int64_t)pos, force);
            force = false;
            if (h.txn > part->topic->journal->max_batch_txn) part->topic->journal->max_batch_txn = h.txn;
            if (h.txn != part->tail_txn) {   /* J1: one txn's batches are consecutive */
                part->tail_txn = h.txn;
                part->tail_txn_from = h.base;
            }
            if (h.ingest_max > seg->max_ingest) seg->max_ingest = h.ingest_max;
            expect = h.base + h.count;
            pos += SL_BATCH_HDR + h.len;
            continue;
        }
        /* Damage.  A batch whose header still frames it (only its crc fails) is
         * skipped by its length; anything else: look for the next good batch. */
        int64_t q;
        if (r == 0 && h.base == expect) {
            q = (int64_t)(pos + SL_BATCH_HDR + h.len);
            sl_batch_hdr_t h2;
            if ((size_t)q < size && sl_batch_check(buf + q, size - (size_t)q, &h2) != 1)
                q = resync(buf, size, pos + 1, expect);
            ldmg_add(part, si, (int64_t)pos, expect, q, "checksum mismatch");
        } else {
            q = resync(buf, size, pos + 1, expect);
            ldmg_add(part, si, (int64_t)pos, expect, q,
                     r < 0 && size - pos < SL_BATCH_HDR ? "torn batch header"
                     : r < 0 && h.magic == SL_BATCH_MAGIC ? "torn or damaged batch"
                     : r < 0 ? "not a batch (bad magic)" : "checksum mismatch");
        }
        if (q < 0 || (size_t)q >= size) {
            if (q >= 0 && r == 0) expect = h.base + h.count;  /* framed, at EOF */
            pos = q < 0 ? pos : (size_t)q;
            break;
        }
        sl_batch_hdr_t hq;
        sl_batch_hdr_decode(buf + q, &hq);
        expect = hq.base;
        pos = (size_t)q;
        force = true;
    }
    free(buf);
    seg->end = expect;
    seg->size = (int64_t)pos;
    (void)ctx;
    return 0;
}

int sl_part_load(sl_load_ctx_t *ctx, sl_part_t *part, sl_error_t *err) {
    bool ro = ctx->mode == SL_LOAD_RO || ctx->mode == SL_LOAD_FSCK;
    part->tail_txn = 0;
    part->tail_txn_from = -1;
    DIR *d = opendir(part->dir);
    if (!d) {
        if (errno == ENOENT && !ro) {
            if (mkdir(part->dir, 0755) != 0 && errno != EEXIST)
                return sl_error_set(err, SL_IO, "%s: %s", part->dir, sl_strerror(errno));
            d = opendir(part->dir);
        }
        if (!d) {
            if (errno == ENOENT) {
                part->data_end = 0;
                return 0;
            }
            return sl_error_set(err, SL_IO, "%s: %s", part->dir, sl_strerror(errno));
        }
    }
    int64_t *bases = NULL;
    size_t nb = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        if (strlen(n) != 24 || strcmp(n + 20, ".log") != 0) continue;
        bool digits = true;
        for (int i = 0; i < 20; i++) digits = digits && n[i] >= '0' && n[i] <= '9';
        if (!digits) continue;
        if (nb == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *b = realloc(bases, cap * sizeof *b);
            if (!b) abort();
            bases = b;
        }
        bases[nb++] = strtoll(n, NULL, 10);
    }
    closedir(d);
    if (nb > 1) qsort(bases, nb, sizeof *bases, cmp_i64);   /* bases is NULL when nb == 0 */
    int rc = 0;
    for (size_t i = 0; i < nb && rc == 0; i++) {
        sl_seg_t *seg;
        rc = sl_seg_open(part, bases[i], false, ro, &seg, err);
        if (rc) break;
        seg_push(part, seg);
        rc = seg_scan(ctx, part, part->nseg - 1, err);
        if (rc == 0 && i > 0 && seg->base < part->segs[i - 1]->end)
            ldmg_add(part, i, 0, seg->base, 0, "segment overlaps the previous one");
        if (rc == 0 && i > 0 && seg->base > part->segs[i - 1]->end) {
            /* Records between two segments are missing (a segment cut short): loss,
             * unless fsck --repair left this gap (its quarantine file says so) or the
             * scan already reported damage running to the end of that segment. */
            sl_seg_t *prev = part->segs[i - 1];
            bool known = false;
            for (size_t k = 0; k < part->nldmg; k++)
                known |= part->ldmg[k].seg == i - 1 && part->ldmg[k].resync < 0;
            char *qp = sl_quarantine_path(part, prev->base, prev->size);
            struct stat qst;
            known |= stat(qp, &qst) == 0;
            free(qp);
            if (!known) {
                char what[96];
                snprintf(what, sizeof what, "records [%" PRId64 ", %" PRId64 ") missing: segment ends early",
                         prev->end, seg->base);
                ldmg_add(part, i - 1, prev->size, prev->end, -2, what);
            }
        }
    }
    free(bases);
    if (rc) return rc;
    part->data_end = part->nseg ? part->segs[part->nseg - 1]->end : 0;
    return 0;
}

int sl_part_roll(sl_part_t *part, int64_t base, sl_error_t *err) {
    sl_seg_t *seg;
    int rc = sl_seg_open(part, base, true, false, &seg, err);
    if (rc) return rc;
    /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): sl_seg_open sets seg whenever it returns 0 */
    if (ftruncate(seg->fd, 0) != 0 || ftruncate(seg->idx_fd, 0) != 0) {
        sl_seg_close(seg);
        return sl_error_set(err, SL_IO, "%s: %s", part->dir, sl_strerror(errno));
    }
    pthread_rwlock_wrlock(&part->rw);
    seg_push(part, seg);
    pthread_rwlock_unlock(&part->rw);
    sl_jfsync_dir(part->dir);
    return 0;
}

char *sl_quarantine_path(const sl_part_t *part, int64_t seg_base, int64_t pos) {
    const sl_journal_t *j = part->topic->journal;
    size_t n = strlen(j->dir) + strlen(part->topic->name) + 96;
    char *q = malloc(n);
    if (!q) abort();
    snprintf(q, n, "%s/quarantine/%s.%d.%020" PRId64 ".%" PRId64 ".bad", j->dir, part->topic->name,
             part->id, seg_base, pos);
    return q;
}

/* Copy [from, to) of a file into a new file (quarantine, split). */
static int copy_range(int fd, int64_t from, int64_t to, const char *path) {
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) return SL_IO;
    char *b = malloc(1 << 16);
    if (!b) abort();
    int rc = 0;
    for (int64_t p = from; p < to && rc == 0;) {
        size_t n = (size_t)(to - p < (1 << 16) ? to - p : (1 << 16));
        if (sl_jread_all(fd, b, n, p) != (int)n || sl_jwrite_all(out, b, n, p - from) != 0) rc = SL_IO;
        p += (int64_t)n;
    }
    free(b);
    if (rc == 0 && fsync(out) != 0) rc = SL_IO;
    close(out);
    return rc;
}

/* Repair one mid-log damage (fsck --repair): the bad bytes go to DIR/quarantine/, the
 * good batches after them become a new segment named by their first offset, and the
 * damaged segment is cut at the bad batch.  Offsets are never reused: when nothing
 * follows in the partition, an empty segment starting at the old end keeps them. */
static int part_repair(sl_load_ctx_t *ctx, sl_part_t *part, const sl_load_dmg_t *d,
                       sl_error_t *err) {
    sl_journal_t *j = ctx->journal;
    sl_seg_t *seg = part->segs[d->seg];
    struct stat st;
    if (fstat(seg->fd, &st) != 0) return sl_error_set(err, SL_IO, "%s: %s", seg->path, sl_strerror(errno));
    int64_t fsize = st.st_size;
    /* resync -1: bad to the end of the file; -2: records missing after the segment's
     * end (an empty quarantine file records that the gap is known). */
    int64_t q = d->resync < 0 ? fsize : d->resync;
    if (d->resync == -2) q = d->pos;
    size_t n = strlen(j->dir) + 16;
    char *qdir = malloc(n), *qpath = sl_quarantine_path(part, seg->base, d->pos);
    if (!qdir) abort();
    snprintf(qdir, n, "%s/quarantine", j->dir);
    mkdir(qdir, 0755);
    int rc = copy_range(seg->fd, d->pos, q, qpath);
    if (rc == 0 && d->resync == -2) {
        /* nothing to move */
    } else if (rc == 0 && q < fsize) {
        char hb[SL_BATCH_HDR];
        sl_batch_hdr_t h;
        if (sl_jread_all(seg->fd, hb, SL_BATCH_HDR, q) != SL_BATCH_HDR) rc = SL_IO;
        sl_batch_hdr_decode(hb, &h);
        char *np = seg_path(part->dir, h.base, "log");
        if (rc == 0) rc = copy_range(seg->fd, q, fsize, np);
        free(np);
    } else if (rc == 0 && d->seg + 1 == part->nseg && seg->end > d->offset) {
        char *np = seg_path(part->dir, seg->end, "log");
        int fd = open(np, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) rc = SL_IO;
        else close(fd);
        free(np);
    }
    if (rc == 0 && d->resync != -2 && (ftruncate(seg->fd, d->pos) != 0 || fsync(seg->fd) != 0)) rc = SL_IO;
    if (rc == 0) sl_jfsync_dir(part->dir);
    free(qdir);
    free(qpath);
    if (rc) return sl_error_set(err, SL_IO, "%s: repair failed: %s", seg->path, sl_strerror(errno));
    return 0;
}

void sl_part_unload(sl_part_t *part) {
    for (size_t i = 0; i < part->nseg; i++) sl_seg_close(part->segs[i]);
    part->nseg = 0;
    part->nldmg = 0;
}

static int corrupt(sl_error_t *err, const sl_seg_t *seg, int64_t pos, const char *what) {
    return sl_error_set(err, SL_CORRUPT, "%s: %s at byte %" PRId64, seg->path, what, pos);
}

/* The first offset after a damage: the base of the good batch it resyncs to, else
 * the next segment's base, else the committed end. */
static int64_t dmg_to(sl_part_t *part, const sl_load_dmg_t *d, int64_t committed) {
    sl_seg_t *seg = part->segs[d->seg];
    if (d->resync >= 0) {
        char hb[SL_BATCH_HDR];
        if (sl_jread_all(seg->fd, hb, SL_BATCH_HDR, d->resync) == SL_BATCH_HDR) {
            sl_batch_hdr_t h;
            sl_batch_hdr_decode(hb, &h);
            if (h.magic == SL_BATCH_MAGIC && h.base >= d->offset) return h.base;
        }
    }
    if (d->seg + 1 < part->nseg) return part->segs[d->seg + 1]->base;
    return committed > d->offset ? committed : d->offset;
}

/* The end of the damaged bytes: the next good batch, or the end of the file. */
static int64_t dmg_qend(sl_part_t *part, const sl_load_dmg_t *d) {
    if (d->resync >= 0) return d->resync;
    if (d->resync == -2) return d->pos;
    struct stat st;
    return fstat(part->segs[d->seg]->fd, &st) == 0 ? st.st_size : d->pos;
}

static void part_hole_add(sl_part_t *part, int64_t seg_base, int64_t pos, int64_t resync, int64_t from,
                          int64_t to) {
    pthread_mutex_lock(&part->hole_mu);
    for (size_t i = 0; i < part->nholes; i++)
        if (part->holes[i].seg_base == seg_base && part->holes[i].pos == pos) {
            pthread_mutex_unlock(&part->hole_mu);
            return;
        }
    if (part->nholes == part->capholes) {
        size_t cap = part->capholes ? part->capholes * 2 : 4;
        sl_hole_t *h = realloc(part->holes, cap * sizeof *h);
        if (!h) abort();
        part->holes = h;
        part->capholes = cap;
    }
    part->holes[part->nholes++] = (sl_hole_t){seg_base, pos, resync, from, to};
    pthread_mutex_unlock(&part->hole_mu);
}

/* A known hole at *pos of seg: step over it (true). */
static bool part_hole_at(sl_part_t *part, const sl_seg_t *seg, int64_t *pos, int64_t *offset) {
    bool found = false;
    pthread_mutex_lock(&part->hole_mu);
    for (size_t i = 0; i < part->nholes && !found; i++) {
        sl_hole_t *h = &part->holes[i];
        if (h->seg_base == seg->base && h->pos == *pos) {
            *pos = h->resync < 0 ? seg->size : h->resync;
            if (h->to > *offset) *offset = h->to;
            found = true;
        }
    }
    pthread_mutex_unlock(&part->hole_mu);
    return found;
}

int sl_part_skip_damage(sl_part_t *part, sl_seg_t *seg, int64_t *pos, int64_t *offset, const char *what,
                        sl_error_t *err) {
    if (part_hole_at(part, seg, pos, offset)) return 0;
    /* Damage that appeared since open: find the next good batch in the rest of the
     * segment, remember the hole, count and report it. */
    int64_t n = seg->size - *pos;
    if (n <= 0) return corrupt(err, seg, *pos, what);
    char *buf = malloc((size_t)n);
    if (!buf) return sl_error_set(err, SL_NOMEM, "%s: out of memory", seg->path);
    if (sl_jread_all(seg->fd, buf, (size_t)n, *pos) != (int)n) {
        free(buf);
        return corrupt(err, seg, *pos, what);
    }
    int64_t q = resync(buf, (size_t)n, 1, *offset), to = seg->end;
    if (q >= 0) {
        sl_batch_hdr_t h;
        sl_batch_hdr_decode(buf + q, &h);
        to = h.base;
        q += *pos;
    }
    free(buf);
    if (to < *offset) to = *offset;
    part_hole_add(part, seg->base, *pos, q, *offset, to);
    sl_journal_t *j = part->topic->journal;
    atomic_fetch_add(&j->damages, 1);
    if (j->opts.report) {
        sl_journal_damage_t d;
        memset(&d, 0, sizeof d);
        snprintf(d.path, sizeof d.path, "%s", seg->path);
        d.file_offset = (uint64_t)*pos;
        d.offset = *offset;
        snprintf(d.what, sizeof d.what, "%s: records [%" PRId64 ", %" PRId64 ") skipped by readers", what,
                 *offset, to);
        j->opts.report(j->opts.report_opaque, &d);
    }
    *pos = q < 0 ? seg->size : q;
    *offset = to;
    return 0;
}

int sl_part_settle(sl_load_ctx_t *ctx, sl_part_t *part, sl_error_t *err) {
    bool cut = ctx->mode == SL_LOAD_RW || ctx->mode == SL_LOAD_REPAIR;
    int64_t committed = part->committed;
    /* fsck --repair: fix mid-log damage one at a time, rescanning after each. */
    for (int round = 0; ctx->mode == SL_LOAD_REPAIR && round < 1000; round++) {
        const sl_load_dmg_t *mid = NULL;
        for (size_t i = 0; i < part->nldmg && !mid; i++)
            if (part->ldmg[i].offset < committed) mid = &part->ldmg[i];
        if (!mid) break;
        sl_load_dmg_t d = *mid;
        sl_seg_t *seg = part->segs[d.seg];
        int64_t to = dmg_to(part, &d, committed), qend = dmg_qend(part, &d);
        char *qp = sl_quarantine_path(part, seg->base, d.pos);
        if (d.resync == -2)
            sl_load_report(ctx, seg->path, (uint64_t)d.pos, d.offset, false,
                           "%s (repaired: the gap is recorded by the empty %s; the records are lost)",
                           d.what, qp);
        else
            sl_load_report(ctx, seg->path, (uint64_t)d.pos, d.offset, false,
                           "%s (repaired: bytes [%" PRId64 ", %" PRId64 ") holding records [%" PRId64
                           ", %" PRId64 ") moved to %s)",
                           d.what, d.pos, qend, d.offset, to, qp);
        free(qp);
        int rc = part_repair(ctx, part, &d, err);
        if (rc) return rc;
        sl_part_unload(part);
        sl_load_ctx_t quiet = *ctx;
        rc = sl_part_load(&quiet, part, err);
        if (rc) return rc;
    }
    bool eof_dmg = false;   /* damage below committed runs to the end of the last segment */
    for (size_t i = 0; i < part->nldmg; i++) {
        const sl_load_dmg_t *d = &part->ldmg[i];
        bool tail = d->offset >= committed;
        sl_seg_t *seg = part->segs[d->seg];
        if (tail) {
            sl_load_report(ctx, seg->path, (uint64_t)d->pos, d->offset, true, "%s%s", d->what,
                           cut ? " (cut)" : " (tail, cut on open)");
            continue;
        }
        /* Mid-log damage: kept on disk, stepped over by readers (a hole), reported.
         * Open copies the bad bytes to quarantine/ (nothing is removed: that is
         * fsck --repair's job). */
        int64_t to = dmg_to(part, d, committed), qend = dmg_qend(part, d);
        if (d->resync < 0 && d->seg + 1 == part->nseg) eof_dmg = true;
        if (d->resync != d->pos && d->resync != -2) part_hole_add(part, seg->base, d->pos, d->resync, d->offset, to);
        char *qp = sl_quarantine_path(part, seg->base, d->pos);
        struct stat qst;
        bool copied = false;
        if (ctx->mode == SL_LOAD_RW && d->resync != -2 && qend > d->pos && stat(qp, &qst) != 0) {
            char *qdir = sl_jstrndup(qp, (size_t)(strrchr(qp, '/') - qp));
            mkdir(qdir, 0755);
            free(qdir);
            copied = copy_range(seg->fd, d->pos, qend, qp) == 0;
        }
        if (d->resync == -2)
            sl_load_report(ctx, seg->path, (uint64_t)d->pos, d->offset, false, "%s (lost)", d->what);
        else
            sl_load_report(ctx, seg->path, (uint64_t)d->pos, d->offset, false,
                           "%s: records [%" PRId64 ", %" PRId64 ") skipped by readers%s%s", d->what,
                           d->offset, to, copied ? "; bytes copied to " : "", copied ? qp : "");
        free(qp);
    }
    if (part->nseg == 0) {
        if (ctx->mode == SL_LOAD_RW || ctx->mode == SL_LOAD_REPAIR) {
            int rc = sl_part_roll(part, committed, err);
            if (rc) return rc;
        }
        part->start = part->committed = part->next = committed;
        return 0;
    }
    /* Uncommitted batches beyond the committed end (a transaction that never
     * committed, or a commit record lost with meta.log's torn tail). */
    int64_t first_tail = part->data_end;
    for (size_t i = 0; i < part->nldmg; i++)
        if (part->ldmg[i].offset >= committed && part->ldmg[i].offset < first_tail)
            first_tail = part->ldmg[i].offset;
    if (first_tail > committed) {
        sl_seg_t *last = part->segs[part->nseg - 1];
        int64_t at = committed <= last->base ? 0 : sl_seg_find_batch(last, committed);
        sl_load_report(ctx, last->path, (uint64_t)(at < 0 ? 0 : at), committed, true,
                       "uncommitted records [%" PRId64 ", %" PRId64 ")%s", committed, first_tail,
                       cut ? " (cut)" : " (cut on open)");
    }
    sl_seg_t *lastseg = part->segs[part->nseg - 1];
    if (lastseg->base <= committed && lastseg->end < committed && !eof_dmg)
        sl_load_report(ctx, lastseg->path, (uint64_t)lastseg->size, lastseg->end, false,
                       "records [%" PRId64 ", %" PRId64 ") missing: the partition's data ends before "
                       "its committed end (lost)",
                       lastseg->end, committed);
    if (cut && lastseg->base <= committed && lastseg->end < committed) {
        /* The committed end lies beyond the data (damage to the end of the last
         * segment, or records lost): keep the bytes and the numbering (J5) and
         * append in a new segment.  fsck --repair records the gap as known. */
        if (ctx->mode == SL_LOAD_REPAIR) {
            char *qp = sl_quarantine_path(part, lastseg->base, lastseg->size);
            char *qdir = sl_jstrndup(qp, (size_t)(strrchr(qp, '/') - qp));
            mkdir(qdir, 0755);
            int qfd = open(qp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (qfd >= 0) close(qfd);
            free(qdir);
            free(qp);
        }
        int rc = sl_part_roll(part, committed, err);
        if (rc) return rc;
    } else if (cut) {
        while (part->nseg > 1 && part->segs[part->nseg - 1]->base > committed) {
            sl_seg_t *s = part->segs[--part->nseg];
            sl_seg_unlink(s);
            sl_seg_close(s);
        }
        sl_seg_t *seg = part->segs[part->nseg - 1];
        struct stat st;
        int64_t fsize = fstat(seg->fd, &st) == 0 ? st.st_size : -1;
        if (committed < seg->base) committed = seg->base;
        bool tail_dmg = false;
        for (size_t i = 0; i < part->nldmg; i++)
            tail_dmg |= part->ldmg[i].seg == part->nseg - 1 && part->ldmg[i].offset >= committed;
        if (seg->end != committed || seg->size != fsize || tail_dmg) {
            int64_t pos = committed == seg->base ? 0 : sl_seg_find_batch(seg, committed);
            if (pos < 0) {
                /* Only a forged or damaged meta.log names an end inside a batch: keep
                 * the batches before it, and rewrite meta.log (journal_load) so the
                 * next open agrees with the data. */
                int64_t bbase = seg->base;
                pos = seg_find_cover(seg, committed, &bbase);
                sl_load_report(ctx, seg->path, (uint64_t)pos, committed, false,
                               "committed end %" PRId64 " is inside a batch: cut to %" PRId64,
                               committed, bbase);
                committed = bbase;
                ctx->journal->need_snapshot = true;
            }
            if (ftruncate(seg->fd, pos) != 0)
                return sl_error_set(err, SL_IO, "%s: %s", seg->path, sl_strerror(errno));
            seg->size = pos;
            seg->end = committed;
            while (seg->nidx > 0 && seg->idx[seg->nidx - 1].pos >= pos) seg->nidx--;
            seg->idx_last_pos = seg->nidx ? (int64_t)seg->idx[seg->nidx - 1].pos : -1;
            seg->max_ingest = 0;
        }
        for (size_t i = 0; i < part->nseg; i++)
            if (!index_matches(part->segs[i])) sl_seg_index_write(part->segs[i]);
    }
    part->start = part->segs[0]->base;
    part->committed = committed;
    part->next = committed;
    if (cut && part->segs[part->nseg - 1]->max_ingest == 0) {
        /* Recompute the newest ingest time of the cut segment (retention by age). */
        sl_seg_t *seg = part->segs[part->nseg - 1];
        char hb[SL_BATCH_HDR];
        for (int64_t pos = 0; pos < seg->size;) {
            if (sl_jread_all(seg->fd, hb, SL_BATCH_HDR, pos) != SL_BATCH_HDR) break;
            sl_batch_hdr_t h;
            sl_batch_hdr_decode(hb, &h);
            if (h.ingest_max > seg->max_ingest) seg->max_ingest = h.ingest_max;
            pos += SL_BATCH_HDR + (int64_t)h.len;
        }
    }
    return 0;
}

/* ---- reading ---- */

static sl_seg_t *seg_for(const sl_part_t *part, int64_t offset, size_t *at) {
    size_t lo = 0, hi = part->nseg;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (part->segs[mid]->base <= offset) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return NULL;
    *at = lo - 1;
    return part->segs[lo - 1];
}

/* Decode the records of one verified batch into `batch`, from `*offset` on. */
static int batch_decode(sl_topic_t *topic, int partition, const sl_seg_t *seg, int64_t pos,
                        const sl_batch_hdr_t *h, const char *payload, int64_t end, int64_t *offset,
                        size_t max_records, size_t max_bytes, sl_batch_t *batch, size_t *nread,
                        size_t *bytes, sl_error_t *err) {
    sl_jrd_t r = {payload, payload + h->len};
    const char *last_src = NULL, *last_src_copy = NULL;
    size_t last_src_len = 0;
    for (uint32_t i = 0; i < h->count; i++) {
        const char *body;
        size_t blen;
        if (!sl_jrd_bytes(&r, &body, &blen)) return corrupt(err, seg, pos, "malformed record");
        int64_t off = h->base + i;
        if (off < *offset) continue;
        if (off >= end || *nread >= max_records || (max_bytes && *bytes >= max_bytes)) return 0;
        sl_jrd_t b = {body, body + blen};
        uint64_t keyl, tsz, igz, seq, srcl;
        if (!sl_jrd_varint(&b, &keyl) || keyl > (uint64_t)(b.end - b.p) + 1)
            return corrupt(err, seg, pos, "malformed record key");
        const char *key = b.p;
        if (keyl) b.p += keyl - 1;
        if (!sl_jrd_varint(&b, &tsz) || !sl_jrd_varint(&b, &igz) || !sl_jrd_varint(&b, &seq) ||
            !sl_jrd_varint(&b, &srcl) || srcl > (uint64_t)(b.end - b.p) + 1)
            return corrupt(err, seg, pos, "malformed record header");
        const char *src = b.p;
        if (srcl) b.p += srcl - 1;
        sl_record_t *rec = sl_batch_push(batch);
        sl_json_error_t jerr;
        if (sl_json_parse(&batch->arena, b.p, (size_t)(b.end - b.p), &rec->value, &jerr) != 0) {
            batch->n--;
            return corrupt(err, seg, pos, "malformed record value");
        }
        rec->orig = rec->value;
        if (keyl) {
            char *k = sl_arena_alloc(&batch->arena, keyl);
            memcpy(k, key, keyl - 1);
            k[keyl - 1] = 0;
            rec->key = k;
            rec->key_len = (uint32_t)(keyl - 1);
        }
        if (srcl) {
            if (!last_src || last_src_len != srcl - 1 || memcmp(last_src, src, srcl - 1) != 0) {
                last_src = src;
                last_src_len = srcl - 1;
                last_src_copy = sl_arena_strndup(&batch->arena, src, srcl - 1);
            }
            rec->source = last_src_copy;
        }
        rec->ts = h->ingest_base + sl_unzigzag(tsz);
        rec->ingest_ts = h->ingest_base + sl_unzigzag(igz);
        rec->seq = seq;
        rec->topic = topic->name;
        rec->partition = partition;
        rec->offset = off;
        batch->bytes += blen;
        *bytes += blen;
        (*nread)++;
        *offset = off + 1;
    }
    return 0;
}

int sl_topic_read(sl_topic_t *topic, int partition, int64_t offset, size_t max_records,
                  size_t max_bytes, sl_batch_t *batch, int64_t *next, sl_error_t *err) {
    if (partition < 0 || partition >= topic->nparts) {
        *next = offset;
        return sl_error_set(err, SL_USAGE, "topic %s has no partition %d", topic->name, partition);
    }
    sl_part_t *part = &topic->parts[partition];
    int rc = 0;
    size_t nread = 0, bytes = 0;
    char hb[SL_BATCH_HDR];
    char *payload = NULL;
    size_t cap = 0;
    pthread_rwlock_rdlock(&part->rw);
    if (offset < part->start) offset = part->start;
    int64_t end = part->committed;
    while (rc == 0 && offset < end && nread < max_records && !(max_bytes && bytes >= max_bytes)) {
        size_t si;
        sl_seg_t *seg = seg_for(part, offset, &si);
        if (!seg) break;
        if (offset >= seg->end) {
            /* A gap (left by fsck --repair): continue at the next segment. */
            if (si + 1 < part->nseg) {
                offset = part->segs[si + 1]->base;
                continue;
            }
            break;
        }
        /* expect: where the next batch must start (-1: not known).  A header that
         * disagrees is believed only after its crc matched (S1): a damaged base or
         * count must not make the walk skip or stop. */
        int64_t expect;
        int64_t pos = index_lookup_base(seg, offset, &expect);
        while (rc == 0 && pos < seg->size && offset < end && nread < max_records &&
               !(max_bytes && bytes >= max_bytes)) {
            if (part_hole_at(part, seg, &pos, &offset)) {
                expect = -1;
                continue;
            }
            if (sl_jread_all(seg->fd, hb, SL_BATCH_HDR, pos) != SL_BATCH_HDR) {
                rc = sl_part_skip_damage(part, seg, &pos, &offset, "short batch header", err);
                expect = -1;
                continue;
            }
            sl_batch_hdr_t h;
            sl_batch_hdr_decode(hb, &h);
            if (h.magic != SL_BATCH_MAGIC || h.len > SL_BATCH_MAX ||
                pos + SL_BATCH_HDR + (int64_t)h.len > seg->size) {
                rc = sl_part_skip_damage(part, seg, &pos, &offset, "damaged batch header", err);
                expect = -1;
                continue;
            }
            bool want = h.base < end && h.base + (int64_t)h.count > offset;
            if (want || h.base != expect) {
                if (h.len > cap) {
                    free(payload);
                    cap = h.len;
                    payload = malloc(cap ? cap : 1);
                    if (!payload) abort();
                }
                if (sl_jread_all(seg->fd, payload, h.len, pos + SL_BATCH_HDR) != (int)h.len) {
                    rc = sl_part_skip_damage(part, seg, &pos, &offset, "short batch", err);
                    expect = -1;
                    continue;
                }
                uint32_t crc = sl_jcrc_more(sl_jcrc(hb + 8, SL_BATCH_HDR - 8), payload, h.len);
                if (crc != h.crc) {
                    rc = sl_part_skip_damage(part, seg, &pos, &offset, "checksum mismatch", err);
                    expect = -1;
                    continue;
                }
            }
            if (h.base >= end) break;
            expect = h.base + (int64_t)h.count;
            if (!want) {
                pos += SL_BATCH_HDR + (int64_t)h.len;
                continue;
            }
            if (h.base > offset) offset = h.base;  /* a gap inside the segment */
            rc = batch_decode(topic, partition, seg, pos, &h, payload, end, &offset, max_records,
                              max_bytes, batch, &nread, &bytes, err);
            pos += SL_BATCH_HDR + (int64_t)h.len;
        }
        if (rc || nread >= max_records || (max_bytes && bytes >= max_bytes)) break;
        if (pos < seg->size || offset >= end) break;
        /* Walked the whole segment: whatever is left lives in the next one. */
        if (offset < seg->end) {
            rc = corrupt(err, seg, pos, "segment ends before its last offset");
            break;
        }
        if (si + 1 >= part->nseg) break;
        if (part->segs[si + 1]->base > offset) offset = part->segs[si + 1]->base;
    }
    pthread_rwlock_unlock(&part->rw);
    free(payload);
    *next = offset;
    return rc;
}
