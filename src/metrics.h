/* metrics.h - the process's metrics (counters, gauges, histograms with labels) and
 * their Prometheus text exposition (served at /metrics).
 *
 * Registration takes a lock and returns a handle that stays valid until exit; updates
 * through a handle are lock-free atomics, so the hot path never blocks.  Names follow
 * Prometheus conventions (sluice_<thing>_<unit>_total). */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"

typedef struct sl_metric sl_metric_t;

/* Get or create the series `name{labels}`; labels is the inside of the braces, e.g.
 * "job=\"store\",sink=\"sqlite\"" (caller escapes values with sl_metrics_label), or "".
 * help is kept from the first registration of name.  Never NULL. */
sl_metric_t *sl_metric_counter(const char *name, const char *help, const char *labels);
sl_metric_t *sl_metric_gauge(const char *name, const char *help, const char *labels);
/* Histogram with the default latency buckets in seconds (0.001 .. 30). */
sl_metric_t *sl_metric_histogram(const char *name, const char *help, const char *labels);

void sl_metric_add(sl_metric_t *m, double v);   /* counters and gauges */
void sl_metric_set(sl_metric_t *m, double v);   /* gauges */
void sl_metric_observe(sl_metric_t *m, double v);  /* histograms */
double sl_metric_value(const sl_metric_t *m);   /* counters/gauges; histogram: count */
double sl_metric_sum(const sl_metric_t *m);     /* histograms: the sum of observations */

/* Append `key="value"` (value escaped per the exposition format) to out, with a
 * leading comma when out is not empty. */
void sl_metrics_label(sl_buf_t *out, const char *key, const char *value);

/* Append every metric in the Prometheus text format (version 0.0.4). */
void sl_metrics_write(sl_buf_t *out);

#endif
