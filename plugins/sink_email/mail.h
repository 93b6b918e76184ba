/* mail.h - building an Internet message (RFC 5322 + MIME) for the `email` sink: header
 * fields with RFC 2047 encoded-words for UTF-8, a text/plain part and an optional
 * text/html alternative.  Pure functions (no I/O), unit-tested in tests/unit/test_alert.c. */
#ifndef SLUICE_MAIL_H
#define SLUICE_MAIL_H

#include <stddef.h>
#include <time.h>

#include "sluice/buf.h"

typedef struct sl_mail {
    const char *from;          /* as written in the config: "a@x" or "Name <a@x>" */
    const char *const *to;     /* recipients (addresses or "Name <a@x>") */
    size_t nto;
    const char *subject;       /* UTF-8; CR/LF become spaces */
    size_t subject_len;
    const char *text;          /* UTF-8 body */
    size_t text_len;
    const char *html;          /* NULL = no HTML part */
    size_t html_len;
    const char *message_id;    /* without <>, e.g. "0123abcd@sluice" */
    time_t date;
} sl_mail_t;

/* Append "Name: value\r\n" to out.  The value is written as is when it is printable
 * ASCII; otherwise (UTF-8, control characters) as RFC 2047 "=?UTF-8?B?...?=" words of
 * at most 75 characters, never splitting a UTF-8 sequence, folded with CRLF SP.  CR and
 * LF in the value become spaces (no header injection). */
void sl_mail_header(sl_buf_t *out, const char *name, const char *value, size_t len);

/* The RFC 5322 date of t in UTC: "Tue, 28 May 2024 19:31:00 +0000". */
void sl_mail_date(char *out, size_t cap, time_t t);

/* The addr-spec of "Name <a@x>" (or of "a@x") into out; returns out, or NULL when
 * there is none or it holds CR, LF, NUL, '<' or '>' or spaces. */
const char *sl_mail_addr(const char *s, char *out, size_t cap);

/* The whole message (headers and body, CRLF line ends; lines of the body longer than
 * 998 bytes or holding non-ASCII make the part base64). */
void sl_mail_build(sl_buf_t *out, const sl_mail_t *mail);

#endif
