/* email.c - sink `email`: one e-mail per record over SMTP with libcurl (smtp:// with
 * STARTTLS required|optional|off, or smtps://), AUTH with a user and password (from the
 * environment: write them as ${SMTP_USER} / ${SMTP_PASSWORD}), several recipients.
 *
 * TLS: the server's certificate is always verified (chain and host name) against the
 * system's CA store, or against `ca_file` (a PEM bundle: a private CA or the server's
 * self-signed certificate).  `insecure: true` turns verification off, for tests only;
 * it is never the default.  A certificate that fails verification is a permanent
 * failure (the notification goes to the dead-letter topic with the reason).
 *
 * Under an alert the records are notifications ({id, alert, key, state, subject,
 * message, record, ...}): the subject and text default to the notification's, and the
 * optional `subject`/`body`/`html` templates see the triggering record as `this` and
 * the notification as `alert`.  For any other record they see the record as `this`.
 *
 * Delivery (src/alerts.h, sl_deliver_*): a transient failure (connection refused, a
 * timeout, a 4xx reply) returns SL_RETRY and the runner backs off and retries the batch
 * from the first message not yet sent, for `give_up_after` (and `retries` when set); then, or
 * at once for a permanent failure (a 5xx reply, wrong credentials, STARTTLS required
 * but not offered), the notification goes to the job's dead-letter topic with the
 * server's reply, and the job goes on.  The password and the URL's userinfo are never
 * logged.  The Message-ID is derived from the notification's id, so a re-sent
 * notification (at-least-once) can be recognised by the receiver. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/alerts.h"
#include "mail.h"
#include "sluice/json.h"

typedef struct em_conf {
    char *smtp;
    int starttls;              /* required|optional|off */
    char *user, *password;
    char *from;
    sl_strlist_t to;
    const sl_cnode_t *subject, *body, *html;
    int64_t timeout_ms;
    int64_t retries;
    int64_t give_up_after_ms;
    char *ca_file;
    bool insecure;
} em_conf_t;

static const sl_config_map_t em_map[] = {
    {"smtp", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(em_conf_t, smtp), NULL,
     "server URL: smtp://host:port (STARTTLS per `starttls`) or smtps://host:port (TLS from the start)"},
    {"starttls", SL_CFG_ENUM, "optional", 0, offsetof(em_conf_t, starttls), "required|optional|off",
     "smtp://: require STARTTLS, use it when offered, or never"},
    {"user", SL_CFG_STR, NULL, 0, offsetof(em_conf_t, user), NULL,
     "AUTH user (write ${SMTP_USER}: from the environment)"},
    {"password", SL_CFG_STR, NULL, 0, offsetof(em_conf_t, password), NULL,
     "AUTH password (write ${SMTP_PASSWORD}; never logged)"},
    {"from", SL_CFG_STR, NULL, SL_CFG_REQUIRED, offsetof(em_conf_t, from), NULL,
     "sender: a@x or \"Name <a@x>\""},
    {"to", SL_CFG_STRLIST, NULL, SL_CFG_REQUIRED, offsetof(em_conf_t, to), NULL, "recipients (one or a list)"},
    {"subject", SL_CFG_NODE, NULL, 0, offsetof(em_conf_t, subject), NULL,
     "template of the subject (default: the notification's subject)"},
    {"body", SL_CFG_NODE, NULL, 0, offsetof(em_conf_t, body), NULL,
     "template of the text/plain body (default: the notification's message)"},
    {"html", SL_CFG_NODE, NULL, 0, offsetof(em_conf_t, html), NULL,
     "template of an optional text/html alternative"},
    {"timeout", SL_CFG_DURATION, "30s", 0, offsetof(em_conf_t, timeout_ms), NULL, "per message"},
    {"give_up_after", SL_CFG_DURATION, "1h", 0, offsetof(em_conf_t, give_up_after_ms), NULL,
     "retry a failed message (exponential backoff, up to 30 s apart) this long before it goes to the "
     "dead-letter topic (0 = one attempt); pending messages survive restarts"},
    {"retries", SL_CFG_INT, NULL, 0, offsetof(em_conf_t, retries), NULL,
     "also give up after this many consecutive failed attempts (default: no limit but give_up_after)"},
    {"ca_file", SL_CFG_STR, NULL, 0, offsetof(em_conf_t, ca_file), NULL,
     "PEM file of the CA(s) (or self-signed certificate) to trust for the server's TLS "
     "certificate instead of the system store; verification stays on"},
    {"insecure", SL_CFG_BOOL, "false", 0, offsetof(em_conf_t, insecure), NULL,
     "do not verify the server's TLS certificate at all (tests only; never the default)"},
    SL_CONFIG_END};

typedef struct em_state {
    sl_template_t *subject, *body, *html;
    char from_addr[320];
    char **rcpt;               /* "<addr>" */
    size_t nrcpt;
    char domain[256];          /* of the From address, for Message-IDs */
    char safe_url[512];        /* without userinfo, for logs */
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
    char reply[512];           /* the server's last reply line */
    sl_deliver_t dl;
} em_state_t;

static void em_diag(sl_init_ctx_t *ctx, const sl_cnode_t *n, const char *msg, const char *arg) {
    if (!n) n = ctx->node;
    sl_diags_add(ctx->diags, n ? n->file : NULL, n ? n->line : 0, n ? n->col : 0, "%s: %s%s", ctx->what, msg, arg);
}

static sl_template_t *em_tpl(sl_init_ctx_t *ctx, const sl_cnode_t *n, int *bad) {
    if (!n || sl_cnode_is_null(n)) return NULL;
    if (n->kind != SL_CNODE_SCALAR) {
        em_diag(ctx, n, "a template must be text", "");
        *bad = -1;
        return NULL;
    }
    sl_template_t *t = sl_template_compile_node(n, ctx->diags);
    if (!t) *bad = -1;
    return t;
}

static int em_init(sl_sink_t *sink, sl_init_ctx_t *ctx) {
    em_conf_t *c = sink->conf;
    em_state_t *st = calloc(1, sizeof *st);
    if (!st) abort();
    sink->state = st;
    int bad = 0;
    if (c->smtp) {
        sl_alerts_redact_url(c->smtp, st->safe_url, sizeof st->safe_url);
        if (strncmp(c->smtp, "smtp://", 7) != 0 && strncmp(c->smtp, "smtps://", 8) != 0) {
            em_diag(ctx, sl_cnode_get(ctx->node, "smtp"), "'smtp' must be an smtp:// or smtps:// URL, got ",
                    st->safe_url);
            bad = -1;
        }
    }
    if (c->from) {
        if (!sl_mail_addr(c->from, st->from_addr, sizeof st->from_addr)) {
            em_diag(ctx, sl_cnode_get(ctx->node, "from"), "'from' is not an address: ", c->from);
            bad = -1;
        } else {
            const char *at = strrchr(st->from_addr, '@');
            snprintf(st->domain, sizeof st->domain, "%s", at && at[1] ? at + 1 : "sluice.invalid");
        }
    }
    if (c->to.n == 0 && sl_cnode_get(ctx->node, "to")) {
        em_diag(ctx, sl_cnode_get(ctx->node, "to"), "'to' needs at least one recipient", "");
        bad = -1;
    }
    st->rcpt = calloc(c->to.n ? c->to.n : 1, sizeof *st->rcpt);
    for (size_t i = 0; i < c->to.n; i++) {
        char a[320];
        if (!sl_mail_addr(c->to.v[i], a, sizeof a)) {
            em_diag(ctx, sl_cnode_get(ctx->node, "to"), "not an address in 'to': ", c->to.v[i]);
            bad = -1;
            continue;
        }
        size_t n = strlen(a) + 3;
        st->rcpt[st->nrcpt] = malloc(n);
        snprintf(st->rcpt[st->nrcpt++], n, "<%s>", a);
    }
    if (c->ca_file && *c->ca_file && access(c->ca_file, R_OK) != 0) {
        em_diag(ctx, sl_cnode_get(ctx->node, "ca_file"), "cannot read 'ca_file' ", c->ca_file);
        bad = -1;
    }
    if (c->retries < 0) {
        em_diag(ctx, sl_cnode_get(ctx->node, "retries"), "'retries' must be 0 or more", "");
        bad = -1;
    }
    st->dl.retries = sl_cnode_get(ctx->node, "retries") ? c->retries : -1;
    if (c->give_up_after_ms < 0) {
        em_diag(ctx, sl_cnode_get(ctx->node, "give_up_after"), "'give_up_after' must be 0 or more", "");
        bad = -1;
    }
    st->dl.give_up_after_ms = c->give_up_after_ms;
    st->subject = em_tpl(ctx, c->subject, &bad);
    st->body = em_tpl(ctx, c->body, &bad);
    st->html = em_tpl(ctx, c->html, &bad);
    return bad;
}

/* Keep what the server said when something failed: its first 4xx/5xx reply line, else
 * its last reply line (not the "221 Bye" that follows a failure: curl QUITs then). */
static int em_debug(CURL *h, curl_infotype type, char *data, size_t size, void *userp) {
    (void)h;
    em_state_t *st = userp;
    if (type != CURLINFO_HEADER_IN) return 0;   /* never what we send: AUTH carries secrets */
    while (size && (data[size - 1] == '\n' || data[size - 1] == '\r')) size--;
    if (!size) return 0;
    if (st->reply[0] == '4' || st->reply[0] == '5') return 0;
    if (size >= sizeof st->reply) size = sizeof st->reply - 1;
    memcpy(st->reply, data, size);
    st->reply[size] = 0;
    return 0;
}

static int em_open(sl_sink_t *sink, sl_error_t *err) {
    em_state_t *st = sink->state;
    if (!st->curl) st->curl = curl_easy_init();
    if (!st->curl) return sl_error_set(err, SL_RETRY, "cannot create a curl handle");
    return 0;
}

typedef struct upload {
    const char *data;
    size_t len, pos;
} upload_t;

static size_t em_read(char *buf, size_t size, size_t nitems, void *userp) {
    upload_t *u = userp;
    size_t room = size * nitems, left = u->len - u->pos;
    size_t n = left < room ? left : room;
    memcpy(buf, u->data + u->pos, n);
    u->pos += n;
    return n;
}

/* Render a template to a heap string (NULL + why on failure). */
static char *em_render(const sl_template_t *t, const sl_expr_ctx_t *ec, size_t *len, char *why, size_t whylen) {
    const char *s;
    size_t n;
    sl_error_t e = {0};
    if (sl_template_render(t, ec, &s, &n, &e) != 0) {
        snprintf(why, whylen, "%s", e.msg);
        return NULL;
    }
    char *o = malloc(n + 1);
    memcpy(o, s, n);
    o[n] = 0;
    *len = n;
    return o;
}

static char *dup_value_text(const sl_value_t *v, size_t *len) {
    if (v && v->type == SL_T_STRING) {
        char *o = malloc(v->len + 1);
        memcpy(o, v->u.s, v->len);
        o[v->len] = 0;
        *len = v->len;
        return o;
    }
    sl_buf_t b = SL_BUF_INIT;
    if (v) sl_json_write(&b, *v);
    else sl_buf_puts(&b, "");
    *len = b.len;
    return b.data ? b.data : calloc(1, 1);
}

/* Build the message of rec into msg.  Returns false with why when a template failed. */
static bool em_compose(sl_sink_t *sink, const sl_record_t *rec, sl_arena_t *arena, sl_buf_t *msg, char *why,
                       size_t whylen) {
    em_conf_t *c = sink->conf;
    em_state_t *st = sink->state;
    const sl_value_t *trig = NULL;
    bool is_note = sl_alerts_notification(&rec->value, &trig);
    sl_record_t view = *rec;
    sl_value_t locals = sl_null();
    if (is_note) {
        view.value = *trig;
        sl_value_t n = rec->value;
        sl_value_set(arena, &n, "name", 4, *sl_value_get(&rec->value, "alert", 5));
        locals = sl_object_new(arena, 1);
        sl_value_set(arena, &locals, "alert", 5, n);
    }
    sl_expr_ctx_t ec = {.rec = &view, .arena = arena, .now_ms = sl_now_ms(), .locals = is_note ? &locals : NULL};
    char *subject = NULL, *body = NULL, *html = NULL;
    size_t slen = 0, blen = 0, hlen = 0;
    bool ok = true;
    if (st->subject) ok = (subject = em_render(st->subject, &ec, &slen, why, whylen)) != NULL;
    else if (is_note) subject = dup_value_text(sl_value_get(&rec->value, "subject", 7), &slen);
    else {
        char s[300];
        snprintf(s, sizeof s, "sluice: a record from job %.200s", sink->job);
        subject = dup_value_text(&(sl_value_t){SL_T_STRING, (uint32_t)strlen(s), {.s = s}}, &slen);
    }
    if (ok && st->body) ok = (body = em_render(st->body, &ec, &blen, why, whylen)) != NULL;
    else if (ok) body = dup_value_text(is_note ? sl_value_get(&rec->value, "message", 7) : &rec->value, &blen);
    if (ok && st->html) ok = (html = em_render(st->html, &ec, &hlen, why, whylen)) != NULL;
    if (ok) {
        /* Message-ID: the notification's id (stable across re-sends), else a hash */
        char mid[400];
        const sl_value_t *id = is_note ? sl_value_get(&rec->value, "id", 2) : NULL;
        if (id && id->type == SL_T_STRING)
            snprintf(mid, sizeof mid, "%.64s.sluice@%.255s", id->u.s, st->domain);
        else {
            unsigned long long h = 1469598103934665603ULL;
            for (size_t i = 0; i < blen; i++) h = (h ^ (unsigned char)body[i]) * 1099511628211ULL;
            snprintf(mid, sizeof mid, "%016llx.%lld.%lld.sluice@%.255s", h, (long long)rec->partition,
                     (long long)rec->offset, st->domain);
        }
        sl_mail_t m = {.from = c->from, .to = (const char *const *)c->to.v, .nto = c->to.n, .subject = subject,
                       .subject_len = slen, .text = body, .text_len = blen, .html = html, .html_len = hlen,
                       .message_id = mid, .date = time(NULL)};
        sl_buf_clear(msg);
        sl_mail_build(msg, &m);
    }
    free(subject);
    free(body);
    free(html);
    return ok;
}

/* Send one message.  Returns 0, or 1 (transient) / 2 (permanent) with why. */
static int em_send(sl_sink_t *sink, const sl_buf_t *msg, char *why, size_t whylen) {
    em_conf_t *c = sink->conf;
    em_state_t *st = sink->state;
    CURL *h = st->curl;
    curl_easy_reset(h);
    struct curl_slist *rcpt = NULL;
    for (size_t i = 0; i < st->nrcpt; i++) rcpt = curl_slist_append(rcpt, st->rcpt[i]);
    char from[340];
    snprintf(from, sizeof from, "<%s>", st->from_addr);
    upload_t up = {msg->data, msg->len, 0};
    st->errbuf[0] = 0;
    st->reply[0] = 0;
    curl_easy_setopt(h, CURLOPT_URL, c->smtp);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, st->errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->timeout_ms < 10000 ? c->timeout_ms : 10000));
    if (strncmp(c->smtp, "smtp://", 7) == 0)
        curl_easy_setopt(h, CURLOPT_USE_SSL,
                         (long)(c->starttls == 0 ? CURLUSESSL_ALL : c->starttls == 1 ? CURLUSESSL_TRY : CURLUSESSL_NONE));
    if (c->ca_file && *c->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->user && *c->user) curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
    if (c->password && *c->password) curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, em_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg->len);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, em_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, st);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpt);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, NULL);
    if (rc == CURLE_OK) return 0;
    const char *detail = st->errbuf[0] ? st->errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
        snprintf(why, whylen, "TLS certificate of the server not trusted: %.300s (%s)", detail,
                 c->ca_file && *c->ca_file ? "check 'ca_file'" : "set 'ca_file' to trust a private CA");
    else if (rc == CURLE_USE_SSL_FAILED)
        snprintf(why, whylen, "STARTTLS required but the server does not offer it: %.300s", detail);
    else if (st->reply[0] && code >= 400)
        snprintf(why, whylen, "server replied: %.400s (%.200s)", st->reply, detail);
    else
        snprintf(why, whylen, "%.400s", detail);
    bool permanent = code >= 500 || rc == CURLE_LOGIN_DENIED || rc == CURLE_USE_SSL_FAILED ||
                     rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ||
                     rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE;
    if (rc == CURLE_LOGIN_DENIED && code < 500) permanent = true;
    return permanent ? 2 : 1;
}

static int em_write(sl_sink_t *sink, const sl_batch_t *batch, const sl_offsets_t *upto, sl_error_t *err) {
    (void)upto;
    em_state_t *st = sink->state;
    if (!st->curl && em_open(sink, err) != 0) return SL_RETRY;
    sl_arena_t arena;
    sl_arena_init(&arena, 4096);
    sl_buf_t msg = SL_BUF_INIT;
    int rc = 0;
    char what[700];
    snprintf(what, sizeof what, "mail via %s", st->safe_url);
    for (size_t i = sl_deliver_begin(&st->dl, batch); i < batch->n; i++) {
        const sl_record_t *rec = &batch->recs[i];
        if (rec->value.type == SL_T_NULL) {
            st->dl.done++;
            continue;
        }
        sl_arena_reset(&arena);
        char why[1024] = "";
        if (!em_compose(sink, rec, &arena, &msg, why, sizeof why)) {
            char w2[1100];
            snprintf(w2, sizeof w2, "a template failed: %s", why);
            sl_deliver_fail(&st->dl, sink, rec, true, "composing the mail", w2, err);
            continue;
        }
        int s = em_send(sink, &msg, why, sizeof why);
        if (s == 0) {
            sl_deliver_ok(&st->dl);
            continue;
        }
        rc = sl_deliver_fail(&st->dl, sink, rec, s == 2, what, why, err);
        if (rc != 0) break;
    }
    if (rc == 0) sl_deliver_end(&st->dl);
    sl_buf_free(&msg);
    sl_arena_free(&arena);
    return rc;
}

static void em_close(sl_sink_t *sink) {
    em_state_t *st = sink->state;
    if (!st || !st->curl) return;
    curl_easy_cleanup(st->curl);
    st->curl = NULL;
}

static void em_free(sl_sink_t *sink) {
    em_state_t *st = sink->state;
    if (!st) return;
    em_close(sink);
    sl_template_free(st->subject);
    sl_template_free(st->body);
    sl_template_free(st->html);
    for (size_t i = 0; i < st->nrcpt; i++) free(st->rcpt[i]);
    free(st->rcpt);
    free(st);
    sink->state = NULL;
}

const sl_sink_plugin_t sl_sink_email = {
    .abi = SL_PLUGIN_ABI,
    .name = "email",
    .description = "One e-mail per record over SMTP (libcurl): smtp:// with STARTTLS required|optional|off or smtps://, AUTH from the environment, several recipients, RFC 2047 UTF-8 subjects, text/plain with an optional HTML part. Failures are retried with exponential backoff for `give_up_after` (default 1h; pending ones survive restarts); then (or at once for a 5xx reply or wrong credentials) the message goes to the job's dead-letter topic with the server's reply.",
    .config = em_map,
    .config_size = sizeof(em_conf_t),
    .init = em_init,
    .open = em_open,
    .write = em_write,
    .close = em_close,
    .free = em_free,
};
