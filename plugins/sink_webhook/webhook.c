/* webhook.c - sink `webhook` (also registered as `http`): one HTTP request per record,
 * by default a POST of the record's JSON (under an alert: the notification {id, alert,
 * key, state, subject, message, ts, since, record}), with the configured headers.
 *
 * Delivery follows src/alerts.h (sl_deliver_*): 2xx = delivered; a connection failure,
 * a timeout, 408, 429 or 5xx = transient (SL_RETRY; the runner backs off and retries
 * from the first record not yet delivered) for `give_up_after` (and `retries` when
 * set); then, or at once for any other status, the record goes to the job's
 * dead-letter topic with the status and the start of the reply.  Header values may
 * hold secrets (${TOKEN}): they are never logged, nor is the URL's userinfo. */
#include "webhook.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/alerts.h"
#include "sluice/json.h"

const sl_config_map_t sl_webhook_config[] = {
    {"url", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(sl_webhook_conf_t, url), NULL, "http:// or https:// URL"},
    {"method", SL_CFG_ENUM, "POST", 0, offsetof(sl_webhook_conf_t, method), "POST|PUT|PATCH", "the request method"},
    {"headers", SL_CFG_NODE, NULL, 0, offsetof(sl_webhook_conf_t, headers), NULL,
     "mapping of header: value (e.g. Authorization: \"Bearer ${HOOK_TOKEN}\")"},
    {"body", SL_CFG_NODE, NULL, 0, offsetof(sl_webhook_conf_t, body), NULL,
     "template of the body (default: the record as JSON, Content-Type: application/json)"},
    {"timeout", SL_CFG_DURATION, "10s", 0, offsetof(sl_webhook_conf_t, timeout_ms), NULL, "per request"},
    {"give_up_after", SL_CFG_DURATION, "1h", 0, offsetof(sl_webhook_conf_t, give_up_after_ms), NULL,
     "retry a failed request (exponential backoff, up to 30 s apart) this long before the record goes to the "
     "dead-letter topic (0 = one attempt); pending records survive restarts"},
    {"retries", SL_CFG_INT, NULL, 0, offsetof(sl_webhook_conf_t, retries), NULL,
     "also give up after this many consecutive failed attempts (default: no limit but give_up_after)"},
    SL_CONFIG_END};

typedef struct wh_state {
    struct curl_slist *headers;
    sl_template_t *body;
    char safe_url[512];
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
    sl_buf_t reply;
    sl_deliver_t dl;
} wh_state_t;

static void wh_diag(sl_init_ctx_t *ctx, const sl_cnode_t *n, const char *msg, const char *arg) {
    if (!n) n = ctx->node;
    sl_diags_add(ctx->diags, n ? n->file : NULL, n ? n->line : 0, n ? n->col : 0, "%s: %s%s", ctx->what, msg, arg);
}

int sl_webhook_init(sl_sink_t *sink, sl_init_ctx_t *ctx) {
    sl_webhook_conf_t *c = sink->conf;
    wh_state_t *st = calloc(1, sizeof *st);
    if (!st) abort();
    sink->state = st;
    int bad = 0;
    if (c->url) {
        sl_alerts_redact_url(c->url, st->safe_url, sizeof st->safe_url);
        if (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0) {
            wh_diag(ctx, sl_cnode_get(ctx->node, "url"), "'url' must be an http:// or https:// URL, got ", st->safe_url);
            bad = -1;
        }
    }
    bool content_type = false;
    if (c->headers && !sl_cnode_is_null(c->headers)) {
        if (c->headers->kind != SL_CNODE_MAP) {
            wh_diag(ctx, c->headers, "'headers' must be a mapping of name: value", "");
            bad = -1;
        } else {
            for (size_t i = 0; i < c->headers->n; i++) {
                const sl_cnode_t *k = c->headers->pairs[i].key, *v = c->headers->pairs[i].val;
                if (v->kind != SL_CNODE_SCALAR || strpbrk(k->str, ": \r\n") || strpbrk(v->str, "\r\n")) {
                    wh_diag(ctx, k, "invalid header ", k->str);
                    bad = -1;
                    continue;
                }
                if (strcasecmp(k->str, "content-type") == 0) content_type = true;
                size_t n = k->len + v->len + 3;
                char *h = malloc(n);
                snprintf(h, n, "%s: %s", k->str, v->str);
                st->headers = curl_slist_append(st->headers, h);
                free(h);
            }
        }
    }
    if (!content_type) st->headers = curl_slist_append(st->headers, "Content-Type: application/json");
    st->headers = curl_slist_append(st->headers, "Expect:");
    if (c->body && !sl_cnode_is_null(c->body)) {
        if (c->body->kind != SL_CNODE_SCALAR) {
            wh_diag(ctx, c->body, "'body' must be a text template", "");
            bad = -1;
        } else if (!(st->body = sl_template_compile_node(c->body, ctx->diags))) bad = -1;
    }
    if (c->retries < 0) {
        wh_diag(ctx, sl_cnode_get(ctx->node, "retries"), "'retries' must be 0 or more", "");
        bad = -1;
    }
    st->dl.retries = sl_cnode_get(ctx->node, "retries") ? c->retries : -1;
    if (c->give_up_after_ms < 0) {
        wh_diag(ctx, sl_cnode_get(ctx->node, "give_up_after"), "'give_up_after' must be 0 or more", "");
        bad = -1;
    }
    st->dl.give_up_after_ms = c->give_up_after_ms;
    return bad;
}

int sl_webhook_open(sl_sink_t *sink, sl_error_t *err) {
    wh_state_t *st = sink->state;
    if (!st->curl) st->curl = curl_easy_init();
    if (!st->curl) return sl_error_set(err, SL_RETRY, "cannot create a curl handle");
    return 0;
}

static size_t wh_collect(char *p, size_t size, size_t n, void *userp) {
    sl_buf_t *b = userp;
    if (b->len < 4096) sl_buf_append(b, p, size * n);
    return size * n;
}

/* Send one body.  Returns 0, 1 (transient) or 2 (permanent) with why. */
static int wh_send(sl_sink_t *sink, const char *body, size_t len, char *why, size_t whylen) {
    sl_webhook_conf_t *c = sink->conf;
    wh_state_t *st = sink->state;
    static const char *const methods[] = {"POST", "PUT", "PATCH"};
    CURL *h = st->curl;
    curl_easy_reset(h);
    sl_buf_clear(&st->reply);
    st->errbuf[0] = 0;
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, st->errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, methods[c->method]);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, st->headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "sluice");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, wh_collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &st->reply);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%.400s", st->errbuf[0] ? st->errbuf : curl_easy_strerror(rc));
        return rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ? 2 : 1;
    }
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) return 0;
    size_t n = st->reply.len > 300 ? 300 : st->reply.len;
    char text[301];
    for (size_t i = 0; i < n; i++) text[i] = (st->reply.data[i] == '\n' || st->reply.data[i] == '\r') ? ' ' : st->reply.data[i];
    text[n] = 0;
    snprintf(why, whylen, "HTTP %ld%s%s", code, n ? ": " : "", text);
    return code == 408 || code == 429 || code >= 500 ? 1 : 2;
}

int sl_webhook_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto, sl_error_t *err) {
    (void)upto;
    wh_state_t *st = sink->state;
    if (!st->curl && sl_webhook_open(sink, err) != 0) return SL_RETRY;
    sl_arena_t arena;
    sl_arena_init(&arena, 4096);
    sl_buf_t body = SL_BUF_INIT;
    char what[700];
    snprintf(what, sizeof what, "request to %s", st->safe_url);
    int rc = 0;
    for (size_t i = sl_deliver_begin(&st->dl, batch); i < batch->n; i++) {
        const sl_record_t *rec = &batch->recs[i];
        if (rec->value.type == SL_T_NULL) {
            st->dl.done++;
            continue;
        }
        char why[1024] = "";
        sl_buf_clear(&body);
        if (st->body) {
            sl_arena_reset(&arena);
            sl_expr_ctx_t ec = {.rec = rec, .arena = &arena, .now_ms = sl_now_ms()};
            const char *s;
            size_t n;
            sl_error_t e = {0};
            if (sl_template_render(st->body, &ec, &s, &n, &e) != 0) {
                snprintf(why, sizeof why, "the body template failed: %s", e.msg);
                sl_deliver_fail(&st->dl, sink, rec, true, "composing the request", why, err);
                continue;
            }
            sl_buf_append(&body, s, n);
        } else sl_json_write(&body, rec->value);
        int s = wh_send(sink, body.data ? body.data : "", body.len, why, sizeof why);
        if (s == 0) {
            sl_deliver_ok(&st->dl);
            continue;
        }
        rc = sl_deliver_fail(&st->dl, sink, rec, s == 2, what, why, err);
        if (rc != 0) break;
    }
    if (rc == 0) sl_deliver_end(&st->dl);
    sl_buf_free(&body);
    sl_arena_free(&arena);
    return rc;
}

void sl_webhook_close(sl_sink_t *sink) {
    wh_state_t *st = sink->state;
    if (!st || !st->curl) return;
    curl_easy_cleanup(st->curl);
    st->curl = NULL;
}

void sl_webhook_free(sl_sink_t *sink) {
    wh_state_t *st = sink->state;
    if (!st) return;
    sl_webhook_close(sink);
    curl_slist_free_all(st->headers);
    sl_template_free(st->body);
    sl_buf_free(&st->reply);
    free(st);
    sink->state = NULL;
}

const sl_sink_plugin_t sl_sink_webhook = {
    .abi = SL_PLUGIN_ABI,
    .name = "webhook",
    .description = SL_WEBHOOK_DESCRIPTION,
    .config = sl_webhook_config,
    .config_size = sizeof(sl_webhook_conf_t),
    .init = sl_webhook_init,
    .open = sl_webhook_open,
    .write = sl_webhook_write,
    .close = sl_webhook_close,
    .free = sl_webhook_free,
};
