/* runner.h - runs a loaded pipeline: one thread for the sources, one per job, the
 * journal's flusher; drains and exits on SIGINT/SIGTERM or, with --once, when every
 * source is done and every job reached the end of its topics. */
#ifndef SLUICE_RUNNER_H
#define SLUICE_RUNNER_H

#include <signal.h>
#include <stdbool.h>

#include "pipeline.h"

typedef struct sl_run_opts {
    bool once;
    const char *replay_dir;     /* --replay DIR */
} sl_run_opts_t;

/* Set by the signal handler; every loop of the runner checks it. */
extern volatile sig_atomic_t sl_stop_requested;
/* Install SIGINT/SIGTERM handlers that set sl_stop_requested. */
void sl_runner_install_signals(void);

/* Run until stopped.  Returns the process exit code: 0 ok, 3 fatal runtime error. */
int sl_run(sl_pipeline_t *pipe, const sl_run_opts_t *opts);

/* Open the pipeline's journal (data_dir), creating its topics.  For the CLI's tail,
 * produce and topics. */
int sl_runner_open_journal(const sl_pipeline_t *pipe, bool read_only, sl_journal_t **out,
                           sl_error_t *err);

/* The journal of the running pipeline, for sinks that write to its other topics (the
 * `topic` sink); NULL when nothing runs. */
extern sl_journal_t *sl_runner_journal;

#endif
