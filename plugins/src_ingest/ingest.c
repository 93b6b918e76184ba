/* ingest.c - source `ingest`: records POSTed to an HTTP endpoint of the embedded
 * server (`ingest: {path: /ingest/solar}`).
 *
 * The work happens on the server's threads (src/serve.c): it finds every source of this
 * plugin, routes POSTs on `path` to it, parses the body (a JSON object, an array, or
 * JSON lines) and appends it with sl_runner_ingest(), answering 202 only once the
 * records are durable.  poll() therefore has nothing to do: it asks to be called again
 * in an hour, and ends at once under --once (an endpoint cannot be "drained"). */
#include <string.h>

#include "../../src/serve.h"
#include "sluice/plugin.h"

static const sl_config_map_t ingest_map[] = {
    {"path", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(sl_serve_ingest_conf_t, path), NULL,
     "URL path that accepts POSTs (application/json: an object or an array of records; application/x-ndjson: JSON lines)"},
    {"token", SL_CFG_STR, NULL, 0, offsetof(sl_serve_ingest_conf_t, token), NULL,
     "bearer token for this endpoint (`Authorization: Bearer TOKEN`); serve's token is also accepted"},
    {"max_bytes", SL_CFG_SIZE, NULL, 0, offsetof(sl_serve_ingest_conf_t, max_bytes), NULL,
     "largest request body (413 beyond); default: serve's max_body"},
    SL_CONFIG_END};

static bool path_ok(const char *p) {
    if (p[0] != '/' || strlen(p) > 200) return false;
    for (const char *c = p; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                  *c == '/' || *c == '-' || *c == '_' || *c == '.';
        if (!ok) return false;
        if (c[0] == '/' && c[1] == '/') return false;
        if (c[0] == '/' && c[1] == '.') return false;  /* no "." or ".." segments */
    }
    return strlen(p) > 1;
}

static int ingest_init(sl_source_t *src, sl_init_ctx_t *ctx) {
    sl_serve_ingest_conf_t *c = src->conf;
    const sl_cnode_t *n = ctx->node;
    if (c->path && !path_ok(c->path)) {
        sl_diags_add(ctx->diags, n->file, n->line, n->col,
                     "%s: 'path' must be a URL path like /ingest/name (letters, digits, / - _ .), got '%s'",
                     ctx->what, c->path);
        return -1;
    }
    static const char *const reserved[] = {"/health", "/ready", "/metrics", "/login", "/logout", "/api", NULL};
    for (size_t i = 0; c->path && reserved[i]; i++) {
        size_t rl = strlen(reserved[i]);
        if (strncmp(c->path, reserved[i], rl) == 0 && (c->path[rl] == 0 || c->path[rl] == '/')) {
            sl_diags_add(ctx->diags, n->file, n->line, n->col,
                         "%s: 'path' %s is taken by the server's own routes", ctx->what, c->path);
            return -1;
        }
    }
    if (c->max_bytes < 0) {
        sl_diags_add(ctx->diags, n->file, n->line, n->col, "%s: 'max_bytes' must be > 0", ctx->what);
        return -1;
    }
    if (c->token && !*c->token) c->token = NULL;
    return 0;
}

static int ingest_poll(sl_source_t *src, sl_emit_t *emit, int64_t *next_ms, sl_error_t *err) {
    (void)emit;
    (void)err;
    if (src->once) return SL_EOF;
    *next_ms = sl_mono_ms() + 3600 * 1000;
    return 0;
}

const sl_source_plugin_t sl_source_ingest = {
    .abi = SL_PLUGIN_ABI,
    .name = "ingest",
    .description = "Records POSTed to an endpoint of the embedded server (202 once durable).",
    .config = ingest_map,
    .config_size = sizeof(sl_serve_ingest_conf_t),
    .init = ingest_init,
    .poll = ingest_poll,
};
