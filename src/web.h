/* web.h - the dashboard's embedded files and the `dashboard:` section: the table of
 * pages and browser libraries compiled into the binary (build/gen/web_assets.c, made
 * by scripts/web-assets.sh), the JSON the page reads from GET /api/dashboard, and the
 * validation of the section that `sluice check` reports.
 *
 * Serving a file is a lookup by exact URL path in a table built at compile time: the
 * filesystem is never touched, so no request can reach a file outside the table. */
#ifndef SLUICE_WEB_H
#define SLUICE_WEB_H

#include <stddef.h>

#include "sluice/buf.h"
#include "sluice/config.h"

typedef struct sl_pipeline sl_pipeline_t;

typedef struct sl_web_asset {
    const char *path;          /* URL path: "/", "/pipeline", "/static/app.js" */
    const char *content_type;  /* full header value, e.g. "text/javascript; charset=utf-8" */
    const char *etag;          /* quoted strong validator, e.g. "\"3f2a...\"" */
    const unsigned char *data; /* len bytes (followed by a NUL not counted in len) */
    size_t len;
} sl_web_asset_t;

/* The generated table, ended by an entry whose path is NULL. */
extern const sl_web_asset_t sl_web_assets[];

/* The asset served at exactly `path` (no query string: the caller strips "?..."), or
 * NULL.  The result is static data, valid for the life of the process.  No
 * normalisation is done: "/static/../x", "//", "/static/app.js/" are simply not
 * found.  Thread-safe. */
const sl_web_asset_t *sl_web_asset_find(const char *path);

/* Append to `out` the JSON the page reads from GET /api/dashboard:
 *   {"title":"...","refresh_ms":5000,"panels":[{"type":"map","title":"...","table":..}]}
 * Every panel key is passed on as written (scalars as JSON strings, except `limit`,
 * `height` and `refresh` which become numbers; `columns` an array of strings); each
 * panel gets a `title` (default: its table) and an `id` ("p0", "p1", ...).  A pipeline
 * without a dashboard section gives {"title":"sluice","refresh_ms":5000,"panels":[]}.
 * Returns 0.  Thread-safe (reads the loaded, immutable pipeline). */
int sl_dashboard_json(const sl_pipeline_t *pipe, sl_buf_t *out);

/* Check a `dashboard:` section (NULL or a YAML null = none): a mapping of `title`,
 * `refresh` (duration) and `panels` (a sequence of panel mappings); each panel's
 * `type` is one of map line bar table stat timeline, and the keys that type needs are
 * present (map: table lat lon; line/bar: table x y; table: table; stat: table;
 * timeline: table start end), with no unknown keys.  Each problem is added to `diags`
 * at the offending node's FILE:LINE:COL (with "did you mean" for near misses).
 * Returns the number of problems added (0 = valid). */
int sl_dashboard_check(const sl_cnode_t *dashboard, sl_diags_t *diags);

#endif
