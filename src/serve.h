/* serve.h - the embedded HTTP server (libmicrohttpd): /health, /ready, /metrics,
 * /api/pipeline, the query API over SQLite sink tables, the live tail (SSE), and the
 * ingest endpoints of `ingest` sources.
 *
 * Lifecycle: sl_pipeline_load() validates the `serve:` block with sl_serve_conf_parse();
 * sl_run() calls sl_serve_start() once the journal is open and the runner is current,
 * and sl_serve_stop() before the journal closes.  Every handler runs on a server thread
 * (one per connection) and meets the engine only through runner.h (sl_runner_ingest,
 * sl_runner_status_json, sl_runner_journal), metrics.h and read-only SQLite handles. */
#ifndef SLUICE_SERVE_H
#define SLUICE_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/config.h"
#include "pipeline.h"

/* The `serve:` block. */
typedef struct sl_serve_conf {
    char *listen;           /* "127.0.0.1:8080" */
    char *token;            /* bearer token; NULL or "" = none */
    int64_t max_body;       /* request body limit, bytes (1 MiB) */
    int64_t timeout_ms;     /* idle connection timeout (30 s) */
    char *cors;             /* allowed origin; NULL = no CORS headers */
    int64_t max_conns;      /* connections open at once (1024) */
    int64_t max_conns_client; /* served connections per client address (256) */
    int64_t request_timeout_ms; /* a whole request must arrive within this (30 s) */
    int64_t session_ttl_ms; /* lifetime of a /login session (12 h) */
} sl_serve_conf_t;

/* The config of an `ingest` source (plugins/src_ingest); serve.c reads it from every
 * source whose plugin is "ingest" to route POSTs on `path` to it. */
typedef struct sl_serve_ingest_conf {
    char *path;             /* "/ingest/solar" */
    char *token;            /* bearer token for this endpoint (NULL = serve's, if any) */
    int64_t max_bytes;      /* body limit; 0 = serve.max_body */
} sl_serve_ingest_conf_t;

/* The `serve:` block's config table (for docs/CONFIG.md and --help). */
extern const sl_config_map_t *const sl_serve_config_map;

/* Parse and check a `serve:` block (node may be NULL: all defaults) into *out, strings
 * in arena.  Adds a FILE:LINE:COL diagnostic per problem (e.g. a non-loopback listen
 * address without a token).  Returns the number of diagnostics added (0 = ok). */
int sl_serve_conf_parse(const sl_cnode_t *node, sl_arena_t *arena, sl_serve_conf_t *out,
                        sl_diags_t *diags);

/* True when the pipeline needs the server: a `serve:` block or an `ingest` source. */
bool sl_serve_wanted(const sl_pipeline_t *pipe);

/* Start serving pipe (which must outlive sl_serve_stop).  Returns 0, or an error with
 * err filled (bad address, port in use).  Main thread. */
int sl_serve_start(const sl_pipeline_t *pipe, sl_error_t *err);
/* Stop accepting, end live tails, wait for every connection thread.  Safe when not
 * started.  Main thread. */
void sl_serve_stop(void);

#endif
