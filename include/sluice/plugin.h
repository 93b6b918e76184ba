/* plugin.h - the interfaces of sources, steps and sinks (the plugin-facing API).
 *
 * A plugin is one exported, versioned struct (the class); the engine creates an
 * instance per use in the config.  Plugins are listed in a registry generated at build
 * time from the folders under plugins/ (plugins/src_X exports sl_source_X,
 * plugins/sink_X exports sl_sink_X, plugins/step_X exports sl_step_X).
 *
 * Rules every plugin follows:
 *  - config is parsed by the engine through the plugin's sl_config_map_t into a struct
 *    of config_size bytes (inst->conf); init() checks what the table cannot and
 *    compiles expressions, reporting to diags (FILE:LINE:COL);
 *  - plugins never sleep or retry: they return SL_RETRY and the runner backs off;
 *  - a function that returns an error leaves nothing half-done that close() cannot
 *    free. */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/config.h"
#include "sluice/error.h"
#include "sluice/expr.h"
#include "sluice/journal.h"
#include "sluice/record.h"

#define SL_PLUGIN_ABI 1

typedef struct sl_pipeline sl_pipeline_t;   /* the loaded config (opaque to plugins) */

/* What init() gets: where the block is and what it may use. */
typedef struct sl_init_ctx {
    const char *what;            /* "source 'iss'", "sink 'sqlite' of job 'store'" */
    const sl_cnode_t *node;      /* the plugin's block (for positions) */
    const char *data_dir;        /* relative paths in configs resolve against the cwd */
    const sl_value_t *vars;
    sl_arena_t *arena;           /* lives as long as the pipeline */
    sl_diags_t *diags;
    const char *kafka_brokers;   /* transport kafka's brokers (a Kafka plugin's default), or NULL */
} sl_init_ctx_t;

/* ================================ sources ================================ */

typedef struct sl_source sl_source_t;
typedef struct sl_emit sl_emit_t;

/* Push a record slot into the pending poll (value to be filled by the source; key,
 * ts, source and seq are set by the engine from the source's `key:`/`ts:` settings
 * unless the plugin sets them).  Its arena: sl_emit_arena(). */
sl_record_t *sl_emit_record(sl_emit_t *emit);
sl_arena_t *sl_emit_arena(sl_emit_t *emit);
/* Append the pending records to the source's topic together with the new cursor,
 * atomically (promise 1 of journal.h).  Returns 0 or an error (then nothing of this
 * poll is visible; the source must not advance its in-memory cursor). */
int sl_emit_commit(sl_emit_t *emit, const void *cursor, size_t cursor_len, sl_error_t *err);
/* Input that cannot become a record (a malformed line or body): goes to the topic
 * `<source>.dlq` as {error, raw, source, at} in the same commit as the poll's records. */
void sl_emit_dlq(sl_emit_t *emit, const char *raw, size_t raw_len, const char *at,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* This call of poll() completed no poll: it only advanced a transfer in flight, or
 * nothing was due yet (it returns 0 and *next_ms).  The runner then neither counts a
 * poll nor ends a run of failures, so a failing source keeps backing off while its
 * next attempt is in flight (src/backoff.h). */
void sl_emit_pending(sl_emit_t *emit);
/* Record a failed poll (metrics + log line); the poll returns SL_RETRY after it. */
void sl_emit_fail(sl_emit_t *emit, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct sl_source {
    const struct sl_source_plugin *plugin;
    const char *name;            /* the source's name in the config */
    void *conf;                  /* parsed config struct (plugin's type) */
    void *state;                 /* the plugin's own */
    const void *cursor;          /* restored cursor at open (NULL when none) */
    size_t cursor_len;
    bool replay;                 /* run --replay: read recorded responses */
    const char *replay_dir;      /* DIR/<source>/ when replaying */
    bool once;                   /* run --once */
    int64_t every_ms;            /* the source's `every:` (0 = not set) */
    const sl_value_t *vars;      /* the pipeline's vars */
    /* Set by the plugin (at open, 0 = unknown): the interval of its effective schedule
     * (`every:`, `cron:` or its default); a failing source's backoff grows up to it when
     * that is longer than 5 min (src/backoff.h rule 2). */
    int64_t interval_ms;
};

typedef struct sl_source_plugin {
    unsigned abi;
    const char *name, *description;
    const sl_config_map_t *config;
    size_t config_size;
    /* Config shorthand: a scalar block `file: in.jsonl` fills this key (or NULL). */
    const char *shorthand;
    int (*init)(sl_source_t *src, sl_init_ctx_t *ctx);
    int (*open)(sl_source_t *src, sl_error_t *err);
    /* Do one poll: emit records and commit them.  Returns 0 (set *next_ms, a monotonic
     * time when it wants to poll again; 0 = as soon as possible), SL_EOF (a finite
     * source is done), SL_RETRY (failed; runner backs off, for at least until *next_ms
     * when set: the server's Retry-After), or another error (fatal for this source).
     * A failed commit (a full disk) is SL_RETRY too: the cursor has not moved. */
    int (*poll)(sl_source_t *src, sl_emit_t *emit, int64_t *next_ms, sl_error_t *err);
    void (*close)(sl_source_t *src);
    /* Free what init() made (called once, when the pipeline is freed; may be NULL). */
    void (*free)(sl_source_t *src);
} sl_source_plugin_t;

/* ================================= steps ================================= */

typedef struct sl_step sl_step_t;
typedef struct sl_step_ctx sl_step_ctx_t;

/* Send rec to the job's dead-letter topic with the reason (rec is then dropped from
 * the batch by the step). */
void sl_step_dlq(sl_step_ctx_t *ctx, const sl_record_t *rec, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Evaluation context for rec (this, meta, vars, arena, now) */
void sl_step_expr_ctx(sl_step_ctx_t *ctx, const sl_record_t *rec, sl_expr_ctx_t *out);
sl_arena_t *sl_step_arena(sl_step_ctx_t *ctx);

struct sl_step {
    const struct sl_step_plugin *plugin;
    const char *name;            /* "set", "where"... */
    int index;                   /* position in the job's steps (0-based) */
    const sl_cnode_t *node;      /* the step's value in the config */
    void *state;
};

typedef struct sl_step_plugin {
    unsigned abi;
    const char *name, *description;
    /* Compile the step's value (`set: {...}` -> the mapping).  Report to ctx->diags. */
    int (*compile)(sl_step_t *step, sl_init_ctx_t *ctx);
    /* Transform batch in place: keep, change, add or remove records (compact recs[]). */
    int (*apply)(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err);
    /* Durable state (dedup sets, windows): serialise / restore.  NULL = stateless. */
    int (*snapshot)(sl_step_t *step, sl_buf_t *out);
    int (*restore)(sl_step_t *step, const void *data, size_t len, sl_error_t *err);
    /* At end of input (--once) or shutdown: flush what is pending (windows). May be NULL. */
    int (*flush)(sl_step_t *step, sl_batch_t *batch, sl_step_ctx_t *ctx, sl_error_t *err);
    void (*free)(sl_step_t *step);
} sl_step_plugin_t;

/* ================================= sinks ================================= */

typedef struct sl_sink sl_sink_t;

/* Where a job is in each of its partitions: what the sink holds after this write. */
typedef struct sl_offsets {
    const char *group;           /* the job's consumer group */
    struct sl_offset *v;         /* v[0..n): topic, partition, next offset */
    size_t n;
} sl_offsets_t;

/* A row the destination rejected: goes to the job's DLQ with the reason; the rest of
 * the batch is still written.  A reject is final when it is made: the engine keeps it
 * even if write() then returns SL_RETRY, and the retry would report it again.  So a
 * sink calls this only once the batch can no longer fail (a transactional sink after
 * its COMMIT succeeded; others just before write() returns 0), from write(). */
void sl_sink_reject(sl_sink_t *sink, const sl_record_t *rec, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct sl_sink {
    const struct sl_sink_plugin *plugin;
    const char *job;             /* the job's name (= consumer group) */
    int index;                   /* position in the job's `to:` list */
    void *conf;
    void *state;
    void *job_ctx;               /* engine-private */
};

typedef struct sl_sink_plugin {
    unsigned abi;
    const char *name, *description;
    const sl_config_map_t *config;
    size_t config_size;
    const char *shorthand;       /* `topic: enriched` -> the `name` key */
    bool transactional;          /* stores offsets with rows (committed() is meaningful) */
    int (*init)(sl_sink_t *sink, sl_init_ctx_t *ctx);
    int (*open)(sl_sink_t *sink, sl_error_t *err);
    /* Write the batch's records (recs with a NULL-type value are skipped).  A
     * transactional sink stores `upto` in the same transaction.  Returns 0, SL_RETRY
     * (nothing of this batch is kept; the runner retries the same batch), or fatal. */
    int (*write)(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto,
                 sl_error_t *err);
    /* Transactional sinks: the offsets they hold for group (fill out->v, heap; n). */
    int (*committed)(sl_sink_t *sink, sl_offsets_t *out, sl_error_t *err);
    void (*close)(sl_sink_t *sink);
    /* Free what init() made (called once, when the pipeline is freed; may be NULL). */
    void (*free)(sl_sink_t *sink);
} sl_sink_plugin_t;

/* The registry (generated at build time). */
const sl_source_plugin_t *sl_source_plugin_find(const char *name);
const sl_step_plugin_t *sl_step_plugin_find(const char *name);
const sl_sink_plugin_t *sl_sink_plugin_find(const char *name);
extern const sl_source_plugin_t *const sl_source_plugins[];   /* NULL-terminated */
extern const sl_step_plugin_t *const sl_step_plugins[];
extern const sl_sink_plugin_t *const sl_sink_plugins[];

#endif
