/* pipeline.h - a loaded and validated pipeline file: topics, sources, jobs (steps and
 * sinks), and the sections later stages read (serve, dashboard, alerts, tests).
 *
 * sl_pipeline_load() checks everything it can without touching the outside world
 * (no files opened, no connections), reporting every problem as FILE:LINE:COL; this
 * is what `sluice check` runs.  Opening journals, files and databases is the runner's
 * job. */
#ifndef SLUICE_PIPELINE_H
#define SLUICE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/config.h"
#include "sluice/expr.h"
#include "sluice/journal.h"
#include "sluice/plugin.h"

typedef struct sl_topic_cfg {
    const char *name;
    sl_topic_opts_t opts;
    const sl_cnode_t *node;     /* NULL when only referenced */
} sl_topic_cfg_t;

typedef struct sl_source_cfg {
    const char *name;
    const sl_cnode_t *node;
    sl_source_t inst;
    const char *to;
    sl_expr_t *key, *ts;        /* may be NULL */
    int64_t every_ms;           /* 0 = plugin decides */
    int64_t run_for_ms;         /* 0 = forever */
} sl_source_cfg_t;

typedef struct sl_job_cfg {
    const char *name;
    const sl_cnode_t *node;
    const char **from;
    size_t nfrom;
    sl_step_t *steps;
    size_t nsteps;
    sl_sink_t *sinks;
    size_t nsinks;
    int64_t max_batch;          /* records per batch */
    int64_t max_batch_bytes;
    const char *dlq;            /* "<job>.dlq" */
} sl_job_cfg_t;

struct sl_pipeline {
    sl_conf_t *confs;           /* one per file */
    size_t nconfs;
    sl_arena_t arena;           /* everything below */
    const char *file;
    const char *data_dir;
    sl_value_t vars;            /* object */
    sl_topic_cfg_t *topics;
    size_t ntopics;
    sl_source_cfg_t *sources;
    size_t nsources;
    sl_job_cfg_t *jobs;
    size_t njobs;
    const sl_cnode_t *serve, *dashboard, *alerts, *tests, *transport;
    struct sl_kt_conf *kafka;   /* `transport: {kafka: ...}` (src/kafka_transport.h); NULL: journal */
};

/* Load and check FILE.  Returns 0 and *out, or SL_CONFIG with every problem in diags
 * (then *out is NULL).  Free with sl_pipeline_free. */
int sl_pipeline_load(const char *path, sl_pipeline_t **out, sl_diags_t *diags);
/* Load several files as one pipeline (`sluice run a.yaml b.yaml`): topics, sources and
 * jobs are joined (names must be unique across files), vars merged, dashboards' panels
 * and tests concatenated; data_dir, serve and transport come from the first file that
 * sets them, and a different data_dir elsewhere is an error. */
int sl_pipeline_load_files(const char *const *paths, size_t n, sl_pipeline_t **out, sl_diags_t *diags);
void sl_pipeline_free(sl_pipeline_t *pipe);

/* The topic config of name (declared or referenced), or NULL. */
const sl_topic_cfg_t *sl_pipeline_topic(const sl_pipeline_t *pipe, const char *name);
const sl_job_cfg_t *sl_pipeline_job(const sl_pipeline_t *pipe, const char *name);
const sl_source_cfg_t *sl_pipeline_source(const sl_pipeline_t *pipe, const char *name);

/* Convert a YAML node to a value: plain scalars become null/bool/int/double when they
 * look like one, quoted scalars stay strings; maps become objects, sequences arrays. */
sl_value_t sl_cnode_to_value(sl_arena_t *arena, const sl_cnode_t *node);

/* Loaders of a job's parts, for sections that compile to jobs (alerts.c): a step item
 * (`{name: value}`) and a sink item of job j, reporting to diags; a topic referenced by
 * name (added when absent; tcap is the topics array's capacity); topic name rules. */
void sl_pipeline_load_step(sl_pipeline_t *pipe, sl_job_cfg_t *job, sl_step_t *step, const sl_cnode_t *node,
                           sl_diags_t *diags);
void sl_pipeline_load_sink(sl_pipeline_t *pipe, sl_job_cfg_t *job, sl_sink_t *sink, const sl_cnode_t *node,
                           size_t *tcap, sl_diags_t *diags);
sl_topic_cfg_t *sl_pipeline_topic_ref(sl_pipeline_t *pipe, const char *name, size_t *tcap);
bool sl_pipeline_valid_topic_name(const char *name);

/* The docs of every plugin's config table (docs/CONFIG.md). */
void sl_pipeline_doc(FILE *out);

#endif
