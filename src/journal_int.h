/* journal_int.h - private structures of the journal (journal.c, journal_segment.c,
 * journal_meta.c).  The byte formats are in docs/FORMAT.md; the public contract is
 * include/sluice/journal.h.
 *
 * Locks, in the only order they may nest:  j->mu  ->  part->rw.
 * j->own_mu is never held together with another lock.
 *   j->mu      topics list, topic opts, meta.log (fd, size, writes), writer cursors,
 *              groups, counters, part->dirty, the flusher's state.
 *   part->rw   the segment list, every sl_seg_t field, the index arrays, committed,
 *              start.  Readers hold it shared for one sl_topic_read; the appender
 *              takes it exclusively only to publish (a few times per batch).
 *   j->own_mu  part->owner and txn->waiting_for: which transaction owns a partition
 *              (from its first append to commit/abort) and the deadlock check.
 * part->next and the bytes of the active segment beyond `committed` belong to the
 * owner of the partition and are touched by nobody else. */
#ifndef SLUICE_JOURNAL_INT_H
#define SLUICE_JOURNAL_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "sluice/buf.h"
#include "sluice/journal.h"

/* ---- batch format (docs/FORMAT.md, "Batch") ---- */
#define SL_BATCH_MAGIC 0xB1A5C0DEu    /* bytes DE C0 A5 B1: never valid UTF-8 */
#define SL_BATCH_HDR 48
#define SL_BATCH_MAX ((uint32_t)1 << 30)   /* payload bytes */
#define SL_INDEX_EVERY 4096                /* bytes of log per sparse index entry */

typedef struct sl_batch_hdr {
    uint32_t magic, crc;
    int64_t base;
    uint32_t count, len;
    int64_t ingest_base, ingest_max;
    uint64_t txn;
} sl_batch_hdr_t;

/* ---- meta.log record types (docs/FORMAT.md, "meta.log") ---- */
enum { SL_META_COMMIT = 1, SL_META_GROUP = 2, SL_META_SNAPSHOT = 3 };
#define SL_META_HDR 8                       /* len u32, crc u32 */
#define SL_META_MAX ((uint32_t)1 << 30)
#define SL_META_COMPACT_BYTES ((int64_t)4 << 20)

typedef struct sl_idx_entry {
    uint32_t rel;   /* batch base offset - segment base */
    uint32_t pos;   /* file position of the batch header */
} sl_idx_entry_t;

typedef struct sl_seg {
    int64_t base;        /* from the file name: first offset it may hold */
    int64_t end;         /* offset after its last batch */
    int64_t size;        /* bytes of valid batches (the file is cut to this) */
    int64_t max_ingest;  /* newest ingest_ts in it (retention by age), 0 = none */
    int fd;              /* the .log, O_RDWR (O_RDONLY when read-only) */
    int idx_fd;          /* the .idx, -1 when read-only */
    sl_idx_entry_t *idx;
    size_t nidx, capidx;
    int64_t idx_last_pos;  /* pos of the last index entry (-1: none) */
    char *path;          /* .../<base>.log */
} sl_seg_t;

typedef struct sl_part {
    struct sl_topic *topic;
    int id;
    char *dir;
    pthread_rwlock_t rw;
    sl_seg_t **segs;     /* ascending base; never empty once loaded */
    size_t nseg, capseg;
    int64_t start;       /* first readable offset = segs[0]->base */
    int64_t committed;   /* visible end */
    int64_t next;        /* owner: next offset to append (== active end) */
    int64_t data_end;    /* recovery only: end of the valid data found on disk */
    uint64_t tail_txn;   /* recovery only: txn id of the last valid batch ... */
    int64_t tail_txn_from;  /* ... and the first offset of that txn's last run of batches */
    struct sl_load_dmg *ldmg;  /* recovery only: damage found by the scan */
    size_t nldmg, capldmg;
    /* Damaged byte ranges below `committed` that readers step over (found on open, or
     * by a reader later).  hole_mu is a leaf lock: taken under part->rw or alone. */
    pthread_mutex_t hole_mu;
    struct sl_hole *holes;
    size_t nholes, capholes;
    struct sl_txn *owner;/* own_mu */
    bool dirty;          /* j->mu: committed data not yet synced (interval) */
    atomic_bool full;    /* last full state seen (sl_topic_full): logs and the gauge */
} sl_part_t;

struct sl_topic {
    struct sl_journal *journal;
    char *name;
    char *dir;
    sl_topic_opts_t opts;   /* j->mu */
    int nparts;
    sl_part_t *parts;
    atomic_uint rr;         /* round-robin for records without key */
    atomic_uint_fast64_t dropped;  /* records retention deleted unread (drop_oldest) */
    atomic_int nfull;       /* partitions whose `full` is set */
};

typedef struct sl_writer_cur {
    char *name;
    void *cur;
    size_t len;
} sl_writer_cur_t;

typedef struct sl_group_off {
    char *topic;
    int32_t partition;
    int64_t offset;
} sl_group_off_t;

typedef struct sl_group {
    char *name;
    sl_group_off_t *offs;
    size_t n, cap;
    void *state;
    size_t state_len;
} sl_group_t;

struct sl_journal {
    char *dir;
    bool ro;
    int lock_fd;
    sl_journal_opts_t opts;

    pthread_mutex_t mu;
    pthread_cond_t commit_cv, durable_cv, flush_cv;
    sl_topic_t **topics;
    size_t ntopics, captopics;
    int meta_fd;
    int64_t meta_size;
    uint64_t next_txn;
    uint64_t commit_seq, durable_seq, data_commits;
    bool meta_dirty;
    sl_writer_cur_t *writers;
    size_t nwriters, capwriters;
    sl_group_t *groups;
    size_t ngroups, capgroups;

    pthread_mutex_t own_mu;
    pthread_cond_t own_cv;

    bool flusher_on, stop;
    pthread_t flusher;
    int64_t next_retention_ms;

    atomic_int damages;  /* counted during load, and by readers that skip damage */
    bool need_snapshot;  /* load: meta.log disagrees with the data it was cut to */
    bool meta_damaged;   /* load: meta.log is damaged or missing: ends rebuilt from data */
    bool meta_missing;   /* load: there was no meta.log */
    int64_t meta_cut;    /* load: where its torn tail starts, -1: none */
    char *meta_buf;      /* load: its bytes, until sl_meta_settle */
    uint64_t max_batch_txn; /* load: the newest txn id found in a batch */
    char **stale;        /* load: writers whose cursor stays before lost records (M2) */
    size_t nstale;
    size_t meta_buf_len;
    struct sl_txn *txns;   /* j->mu: open transactions (aborted by close) */
    struct sl_txn *retention_owner;  /* the owner retention puts on a partition (J2) */
    struct sl_reader *readers;       /* j->mu: groups declared with sl_journal_reader */
    size_t nreaders, capreaders;
};

typedef struct sl_reader {
    char *group;
    char *topic;
} sl_reader_t;

typedef struct sl_txn_part {
    sl_part_t *part;
    int64_t start_next;  /* to undo on abort */
    size_t start_nseg;
    int64_t start_size, start_max_ingest;
    size_t start_nidx;
    int64_t start_idx_last;
} sl_txn_part_t;

struct sl_txn {
    sl_journal_t *journal;
    char *writer;
    uint64_t id;
    sl_part_t *waiting_for;   /* own_mu */
    sl_txn_part_t *parts;
    size_t nparts, capparts;
    int failed;               /* an append failed: commit refuses */
    struct sl_txn *prev, *next;   /* j->txns */
    sl_buf_t buf, scratch;
};

/* ---- little-endian and varint codec (journal_segment.c) ---- */
static inline void sl_put_u32(char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (char)(v >> (8 * i));
}
static inline void sl_put_u64(char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (char)(v >> (8 * i));
}
static inline uint32_t sl_get_u32(const char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | (unsigned char)p[i];
    return v;
}
static inline uint64_t sl_get_u64(const char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | (unsigned char)p[i];
    return v;
}
void sl_jbuf_varint(sl_buf_t *b, uint64_t v);
void sl_jbuf_u64(sl_buf_t *b, uint64_t v);
void sl_jbuf_bytes(sl_buf_t *b, const void *p, size_t n);   /* varint length + bytes */
/* Bounded reader: every get fails (returns false) past the end, never reads beyond. */
typedef struct sl_jrd {
    const char *p, *end;
} sl_jrd_t;
bool sl_jrd_varint(sl_jrd_t *r, uint64_t *v);
bool sl_jrd_u64(sl_jrd_t *r, uint64_t *v);
bool sl_jrd_bytes(sl_jrd_t *r, const char **p, size_t *n);
static inline uint64_t sl_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63)); }
static inline int64_t sl_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }
uint32_t sl_jcrc(const void *p, size_t n);
uint32_t sl_jcrc_more(uint32_t crc, const void *p, size_t n);

/* ---- batches and segments (journal_segment.c) ---- */
void sl_batch_hdr_decode(const char *p, sl_batch_hdr_t *h);
/* Encode recs[idx[0..n)] as one batch at `base` into txn->buf (cleared first). */
void sl_batch_encode(sl_txn_t *txn, sl_record_t *recs, const size_t *idx, size_t n,
                     int64_t base, int64_t *ingest_max);
/* Check a batch at buf[0..avail): structure and crc.  1 = good, 0 = structure fits
 * but crc bad (len/base trustworthy only for skipping), -1 = not a batch here. */
int sl_batch_check(const char *buf, size_t avail, sl_batch_hdr_t *h);

int sl_seg_open(sl_part_t *part, int64_t base, bool create, bool ro, sl_seg_t **out,
                sl_error_t *err);
void sl_seg_close(sl_seg_t *seg);
void sl_seg_unlink(sl_seg_t *seg);
void sl_seg_index_add(sl_seg_t *seg, int64_t offset, int64_t pos, bool force);
/* Rewrite the .idx file from the in-memory entries. */
int sl_seg_index_write(sl_seg_t *seg);
/* File position of the batch that starts at `offset` (or the end of the data when
 * offset == seg->end); -1 when none starts there. */
int64_t sl_seg_find_batch(sl_seg_t *seg, int64_t offset);

/* A damaged byte range [pos, resync) of the segment starting at seg_base, holding
 * offsets [from, to): readers skip it (the gap is reported, never read as data). */
typedef struct sl_hole {
    int64_t seg_base, pos, resync;
    int64_t from, to;
} sl_hole_t;

/* Damage found by the scan of a segment while loading (open, fsck). */
typedef struct sl_load_dmg {
    size_t seg;            /* index in part->segs */
    int64_t pos;           /* file position of the first bad byte */
    int64_t offset;        /* first offset affected */
    int64_t resync;        /* position of the next good batch, -1: none to EOF,
                              -2: records missing after the segment's end (no bytes) */
    char what[96];
} sl_load_dmg_t;

/* Damage found while loading (open, fsck). */
typedef struct sl_load_ctx {
    sl_journal_t *journal;
    int mode;                  /* SL_LOAD_* */
    sl_journal_report_fn report;
    void *opaque;
    int damages;               /* every report */
    int serious;               /* reports that are not torn tails: skipped, lost, rebuilt */
} sl_load_ctx_t;
enum { SL_LOAD_RO = 0, SL_LOAD_RW = 1, SL_LOAD_FSCK = 2, SL_LOAD_REPAIR = 3 };
void sl_load_report(sl_load_ctx_t *ctx, const char *path, uint64_t file_off, int64_t offset,
                    bool tail, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Path of the quarantine file of bytes at pos of the segment at seg_base (heap). */
char *sl_quarantine_path(const sl_part_t *part, int64_t seg_base, int64_t pos);
/* Scan every segment of part: verify each batch, rebuild indexes, find data_end.
 * Damage below the (later known) committed end is reported by sl_part_cut. */
int sl_part_load(sl_load_ctx_t *ctx, sl_part_t *part, sl_error_t *err);
void sl_part_unload(sl_part_t *part);
/* After meta.log is applied: cut everything at or beyond part->committed (unless
 * read-only) and report mid-log damage. */
int sl_part_settle(sl_load_ctx_t *ctx, sl_part_t *part, sl_error_t *err);
/* A reader found damage at pos of seg (part->rw held shared): step over it.  Sets
 * *pos and *offset past the damaged bytes and records; 0, or SL_CORRUPT/SL_IO. */
int sl_part_skip_damage(sl_part_t *part, sl_seg_t *seg, int64_t *pos, int64_t *offset,
                        const char *what, sl_error_t *err);
/* Append a new empty segment at base (the owner or load only). */
int sl_part_roll(sl_part_t *part, int64_t base, sl_error_t *err);

/* ---- meta.log (journal_meta.c) ---- */
int sl_meta_load(sl_load_ctx_t *ctx, sl_error_t *err);
/* After sl_part_settle of every partition: cut meta.log's torn tail, or keep a copy in
 * quarantine/ when the state was rebuilt (a snapshot then replaces it). */
int sl_meta_settle(sl_load_ctx_t *ctx, sl_error_t *err);
/* Write one framed record (type + body) at the end of meta.log; j->mu held. */
int sl_meta_append(sl_journal_t *journal, int type, const sl_buf_t *body, sl_error_t *err);
/* Replace meta.log by one snapshot record of the current state; j->mu held. */
int sl_meta_compact(sl_journal_t *journal, sl_error_t *err);
void sl_meta_set_cursor(sl_journal_t *journal, const char *writer, const void *cur, size_t len);
sl_group_t *sl_meta_group(sl_journal_t *journal, const char *name, bool create);
void sl_meta_group_set(sl_group_t *group, const char *topic, int32_t partition, int64_t off);

/* ---- journal.c helpers used by the others ---- */
sl_topic_t *sl_journal_find_topic(sl_journal_t *journal, const char *name);
sl_part_t *sl_journal_find_part(sl_journal_t *journal, const char *topic, int64_t partition);
char *sl_jstrdup(const char *s);
char *sl_jstrndup(const char *s, size_t n);
int sl_jfsync_dir(const char *dir);
int sl_jwrite_all(int fd, const void *p, size_t n, int64_t pos);
int sl_jread_all(int fd, void *p, size_t n, int64_t pos);  /* bytes read or -1 */

#endif
