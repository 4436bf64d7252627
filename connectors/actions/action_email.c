/* The email step: one message over SMTP through libcurl (smtp:// or smtps://), MIME built with
 * curl_mime (text, html, or both as multipart/alternative; UTF-8, quoted-printable). Every
 * attempt carries the same Message-ID, made from the idempotency key, so a sink that dedups on
 * it (ours, most providers' APIs) drops a repeat. Header values are checked for CR/LF before
 * anything is sent (header injection); non-ASCII names and subjects are RFC 2047 encoded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_action_impl.h"
#include "hs_b64.h"
#include "hs_sigutil.h"

#define MAX_RCPTS 50      /* to + cc */
#define MAX_ADDR 254      /* RFC 5321 path limit */
#define MAX_NAME 200      /* display name bytes */
#define MAX_SUBJECT 2000  /* subject bytes */
#define MAX_KEY_CHARS 128 /* longer idempotency keys are hashed into the Message-ID */
#define WORD_BYTES 45     /* bytes per encoded word: 60 base64 chars, a 72-char word */
#define NO_CTL "control characters (CR, LF) are not allowed in a header"

typedef struct {
    char name[MAX_NAME + 1]; /* display name as given, quotes removed; "" when none */
    char addr[MAX_ADDR + 1];
} mailbox_t;

static void sb_str(action_buf_t *b, const char *s) {
    action_buf_add(b, s, strlen(s));
}

/* ---- addresses and header values ---- */

static void trim(const char **s, const char **e) {
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

static int addr_ok(const char *a) {
    const char *at = strchr(a, '@');
    if (!at || at == a || !at[1] || strchr(at + 1, '@')) return 0;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("<>()[],;:\\\"", *p)) return 0;
    return 1;
}

/* Parses "a@b", "Name <a@b>" or "\"Last, First\" <a@b>"; -1 when malformed or too long. */
static int mailbox_parse(const char *text, mailbox_t *m) {
    const char *s = text, *e = text + strlen(text);
    trim(&s, &e);
    const char *lt = e > s && e[-1] == '>' ? memrchr(s, '<', (size_t)(e - s)) : NULL;
    const char *as = lt ? lt + 1 : s, *ae = lt ? e - 1 : e;
    const char *ns = s, *ne = lt ? lt : s;
    trim(&ns, &ne);
    if (ne - ns >= 2 && *ns == '"' && ne[-1] == '"') {
        ns++;
        ne--;
    }
    if (ae - as > MAX_ADDR || ne - ns > MAX_NAME) return -1;
    snprintf(m->addr, sizeof m->addr, "%.*s", (int)(ae - as), as);
    snprintf(m->name, sizeof m->name, "%.*s", (int)(ne - ns), ns);
    return addr_ok(m->addr) ? 0 : -1;
}

/* Appends s as RFC 2047 encoded words ("=?UTF-8?B?...?="), each at most WORD_BYTES of input
 * cut at a character boundary, folded onto continuation lines. */
static void encode_words(action_buf_t *b, const char *s) {
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        size_t n = len - i < WORD_BYTES ? len - i : WORD_BYTES;
        while (n < len - i && n > 1 && ((unsigned char)s[i + n] & 0xc0) == 0x80)
            n--;
        char word[HS_B64_LEN(WORD_BYTES) + 1];
        hs_b64_encode((const unsigned char *)s + i, n, word, sizeof word);
        sb_str(b, i ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
        sb_str(b, word);
        sb_str(b, "?=");
        i += n;
    }
}

/* 1 when s must be encoded: non-ASCII, or too long for one header line. */
static int needs_encoding(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x80) return 1;
    return strlen(s) > 900;
}

/* Appends a display name: encoded when non-ASCII, quoted when it holds specials. */
static void phrase(action_buf_t *b, const char *name) {
    if (needs_encoding(name)) {
        encode_words(b, name);
        return;
    }
    if (!name[strcspn(name, "()<>[]:;@\\,.\"")]) {
        sb_str(b, name);
        return;
    }
    sb_str(b, "\"");
    for (const char *p = name; *p; p++) {
        if (*p == '"' || *p == '\\') sb_str(b, "\\");
        action_buf_add(b, p, 1);
    }
    sb_str(b, "\"");
}

static void mailbox_fmt(action_buf_t *b, const mailbox_t *m) {
    if (*m->name) {
        phrase(b, m->name);
        sb_str(b, " <");
    }
    sb_str(b, m->addr);
    if (*m->name) sb_str(b, ">");
}

/* ---- one message ---- */

/* What one message is made of. @locality: the calling thread, for one attempt. */
typedef struct {
    const char *url;     /* smtp_url param or ctx default */
    int guarded;         /* the URL came from params: the SSRF guard applies */
    const char *subject; /* checked: no control characters, at most MAX_SUBJECT bytes */
    const char *text, *html;
    mailbox_t from;
    mailbox_t rcpt[MAX_RCPTS]; /* to, then cc */
    size_t nto, nrcpt;
    char message_id[MAX_KEY_CHARS + 16];
} mail_t;

/* Adds the mailboxes of v (a string or a list of strings) named name to m->rcpt. */
static hs_err_t rcpts_add(mail_t *m, const json_t *v, const char *name, char *err, size_t n) {
    size_t count = json_is_string(v) ? 1 : json_array_size(v);
    for (size_t i = 0; i < count; i++) {
        const json_t *item = json_is_string(v) ? v : json_array_get(v, i);
        if (m->nrcpt == MAX_RCPTS)
            return hs_fail(HS_ERR_INVALID, err, n, "more than %d recipients", MAX_RCPTS);
        if (action_has_ctl(item))
            return hs_fail(HS_ERR_INVALID, err, n, "param '%s': %s", name, NO_CTL);
        if (mailbox_parse(json_string_value(item), &m->rcpt[m->nrcpt]))
            return hs_fail(HS_ERR_INVALID, err, n, "param '%s': '%.80s' is not an address", name,
                           json_string_value(item));
        m->nrcpt++;
    }
    return HS_OK;
}

/* "<key@hookstream>" with the key reduced to letters, digits, '-', '_' and single inner dots
 * (':' becomes '.'); a key longer than MAX_KEY_CHARS is replaced by its SHA-256. */
static void message_id(const char *key, char *out, size_t n) {
    char id[MAX_KEY_CHARS + 1];
    size_t k = 0, len = strlen(key);
    if (len > MAX_KEY_CHARS) {
        unsigned char d[32];
        hs_sig_sha256(key, len, d);
        k = hs_sig_hex_encode(d, sizeof d, id, sizeof id);
    }
    for (size_t i = 0; len <= MAX_KEY_CHARS && i < len; i++) {
        char c = key[i];
        if (c == ':' || c == '.')
            c = k && id[k - 1] != '.' && i + 1 < len ? '.' : '-';
        else if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
                 c != '_')
            c = '-';
        id[k++] = c;
    }
    id[k] = 0;
    snprintf(out, n, "<%s@hookstream>", id);
}

static hs_err_t mail_prepare(mail_t *m, const json_t *params, const hs_action_ctx_t *ctx, char *err,
                             size_t n) {
    const json_t *from = json_object_get(params, "from"), *subject;
    subject = json_object_get(params, "subject");
    m->url = action_param_str(params, "smtp_url");
    m->guarded = m->url != NULL;
    if (!m->url) m->url = ctx->smtp_url;
    if (!m->url) return hs_fail(HS_ERR_INVALID, err, n, "no smtp_url and no default SMTP server");
    if (!ctx->idempotency_key) return hs_fail(HS_ERR_INVALID, err, n, "no idempotency key");
    if (action_has_ctl(from) || action_has_ctl(subject))
        return hs_fail(HS_ERR_INVALID, err, n, "param '%s': %s",
                       action_has_ctl(from) ? "from" : "subject", NO_CTL);
    const char *sender = from ? json_string_value(from) : ctx->smtp_from;
    if (!sender) return hs_fail(HS_ERR_INVALID, err, n, "no from and no default sender");
    if (mailbox_parse(sender, &m->from))
        return hs_fail(HS_ERR_INVALID, err, n, "param 'from': '%.80s' is not an address", sender);
    if (json_string_length(subject) > MAX_SUBJECT)
        return hs_fail(HS_ERR_INVALID, err, n, "param 'subject': longer than %d bytes",
                       MAX_SUBJECT);
    m->subject = json_string_value(subject);
    m->text = action_param_str(params, "text");
    m->html = action_param_str(params, "html");
    hs_err_t rc = rcpts_add(m, json_object_get(params, "to"), "to", err, n);
    m->nto = m->nrcpt;
    if (!rc) rc = rcpts_add(m, json_object_get(params, "cc"), "cc", err, n);
    message_id(ctx->idempotency_key, m->message_id, sizeof m->message_id);
    return rc;
}

/* Appends "name: value" with value as built (may be folded over lines). -1 when out of memory. */
static int header_add(struct curl_slist **l, const char *name, action_buf_t *v) {
    action_buf_t line = {0};
    sb_str(&line, name);
    sb_str(&line, ": ");
    sb_str(&line, v->p ? v->p : "");
    struct curl_slist *next = line.oom || v->oom ? NULL : curl_slist_append(*l, line.p);
    free(line.p);
    free(v->p);
    *v = (action_buf_t){0};
    if (next) *l = next;
    return next ? 0 : -1;
}

static void rcpt_list(action_buf_t *b, const mailbox_t *r, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (i) sb_str(b, ",\r\n ");
        mailbox_fmt(b, &r[i]);
    }
}

/* The message headers; curl adds MIME-Version and the content type. NULL when out of memory. */
static struct curl_slist *headers_build(const mail_t *m) {
    struct curl_slist *l = NULL;
    action_buf_t v = {0};
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", gmtime_r(&now, &tm));
    sb_str(&v, date);
    int rc = header_add(&l, "Date", &v);
    mailbox_fmt(&v, &m->from);
    rc = rc ? rc : header_add(&l, "From", &v);
    rcpt_list(&v, m->rcpt, m->nto);
    rc = rc ? rc : header_add(&l, "To", &v);
    if (m->nrcpt > m->nto) {
        rcpt_list(&v, m->rcpt + m->nto, m->nrcpt - m->nto);
        rc = rc ? rc : header_add(&l, "Cc", &v);
    }
    if (needs_encoding(m->subject))
        encode_words(&v, m->subject);
    else
        sb_str(&v, m->subject);
    rc = rc ? rc : header_add(&l, "Subject", &v);
    sb_str(&v, m->message_id);
    rc = rc ? rc : header_add(&l, "Message-ID", &v);
    free(v.p);
    if (rc) curl_slist_free_all(l);
    return rc ? NULL : l;
}

/* ---- MIME and the transfer ---- */

static int text_part(curl_mime *mime, const char *s, const char *type) {
    curl_mimepart *p = curl_mime_addpart(mime);
    return !p || curl_mime_data(p, s, CURL_ZERO_TERMINATED) || curl_mime_type(p, type) ||
                   curl_mime_encoder(p, "quoted-printable")
               ? -1
               : 0;
}

/* The body: the text or html part alone, or both in a multipart/alternative (plain first: the
 * last part is the preferred one). NULL when out of memory. */
static curl_mime *mime_build(CURL *e, const mail_t *m) {
    static const char plain[] = "text/plain; charset=UTF-8", html[] = "text/html; charset=UTF-8";
    curl_mime *mime = curl_mime_init(e);
    if (!mime) return NULL;
    if (!m->text || !m->html) {
        if (!text_part(mime, m->text ? m->text : m->html, m->text ? plain : html)) return mime;
        curl_mime_free(mime);
        return NULL;
    }
    curl_mime *alt = curl_mime_init(e);
    curl_mimepart *part = curl_mime_addpart(mime);
    struct curl_slist *disp = curl_slist_append(NULL, "Content-Disposition: inline");
    int ok = alt && part && disp && !text_part(alt, m->text, plain) &&
             !text_part(alt, m->html, html) && !curl_mime_subparts(part, alt);
    if (ok) alt = NULL; /* owned by part now */
    ok = ok && !curl_mime_type(part, "multipart/alternative") && !curl_mime_headers(part, disp, 1);
    if (ok) disp = NULL;
    curl_mime_free(alt);
    curl_slist_free_all(disp);
    if (ok) return mime;
    curl_mime_free(mime);
    return NULL;
}

/* The last error reply of the server ("451 4.3.0 try again later"), for the error text. */
static size_t on_reply(char *ptr, size_t size, size_t nmemb, void *opaque) {
    char *last = opaque;
    size_t len = size * nmemb, k = 0;
    if (len < 3 || (ptr[0] != '4' && ptr[0] != '5')) return len;
    for (size_t i = 0; i < len && k < 199 && ptr[i] != '\r' && ptr[i] != '\n'; i++)
        last[k++] = ptr[i] >= ' ' && ptr[i] < 0x7f ? ptr[i] : '?';
    last[k] = 0;
    return len;
}

static hs_err_t email_output(const mail_t *m, hs_action_result_t *res) {
    json_t *out = json_pack("{s:s, s:[]}", "message_id", m->message_id, "to");
    json_t *to = json_object_get(out, "to"), *cc = m->nrcpt > m->nto ? json_array() : NULL;
    int ok = out && (cc || m->nrcpt == m->nto);
    for (size_t i = 0; ok && i < m->nrcpt; i++)
        ok = !json_array_append_new(i < m->nto ? to : cc, json_string(m->rcpt[i].addr));
    if (ok && cc) ok = !json_object_set(out, "cc", cc);
    json_decref(cc);
    if (!ok) {
        json_decref(out);
        return action_fail(res, HS_ERR_INTERNAL, 1, "email: out of memory");
    }
    res->output = out;
    return HS_OK;
}

static void transfer_setup(CURL *e, const mail_t *m, const hs_action_ctx_t *ctx,
                           struct curl_slist *hdrs, struct curl_slist *rcpts, curl_mime *mime) {
    curl_easy_setopt(e, CURLOPT_URL, m->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    /* STARTTLS when the server offers it: credentials in the URL never go out in clear text
     * to a server that can do better */
    curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     ctx->timeout_ms > 0 ? (long)ctx->timeout_ms : HS_ACTION_DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, m->from.addr);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_reply);
}

/* SMTP replies: 4xx is temporary (retry), 5xx permanent; no reply at all is the network's
 * failure, classified like any transfer. */
static hs_err_t mail_send(const mail_t *m, const hs_action_ctx_t *ctx, hs_action_result_t *res) {
    char url[256], what[300], cerr[CURL_ERROR_SIZE] = "", reply[200] = "";
    action_url_redact(m->url, 0, url, sizeof url);
    snprintf(what, sizeof what, "SMTP %s", url);
    CURL *e = action_curl();
    struct curl_slist *hdrs = headers_build(m), *rcpts = NULL;
    for (size_t i = 0; i < m->nrcpt; i++) {
        struct curl_slist *next = curl_slist_append(rcpts, m->rcpt[i].addr);
        if (!next) {
            curl_slist_free_all(rcpts);
            rcpts = NULL;
            break;
        }
        rcpts = next;
    }
    curl_mime *mime = e ? mime_build(e, m) : NULL;
    hs_err_t err = HS_OK;
    if (!e || !hdrs || !mime || !rcpts) {
        err = action_fail(res, HS_ERR_INTERNAL, 1, "%s: out of memory", what);
    } else {
        action_guard_t g;
        transfer_setup(e, m, ctx, hdrs, rcpts, mime);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)reply);
        action_guard_set(e, &g, m->guarded ? ctx->ssrf : NULL, m->url);
        CURLcode rc = curl_easy_perform(e);
        long code = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        res->status = (int)code;
        if (rc == CURLE_OK)
            err = email_output(m, res);
        else if (code >= 400 && code < 600)
            err = action_fail(res, code < 500 ? HS_ERR_UNAVAILABLE : HS_ERR_INVALID, code < 500,
                              "%s: %s", what, *reply ? reply : cerr);
        else
            err = action_curl_fail(res, rc, &g, what, cerr);
    }
    if (e) action_curl_release(e);
    curl_mime_free(mime);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(rcpts);
    return err;
}

/* ---- the email step ---- */

static const action_param_t spec[] = {
    {"to", ACTION_P_STRING_OR_LIST, ACTION_REQUIRED},
    {"cc", ACTION_P_STRING_OR_LIST, ACTION_OPTIONAL},
    {"from", ACTION_P_STRING, ACTION_OPTIONAL},
    {"subject", ACTION_P_STRING, ACTION_REQUIRED},
    {"text", ACTION_P_STRING, ACTION_ONE_OF},
    {"html", ACTION_P_STRING, ACTION_ONE_OF},
    {"smtp_url", ACTION_P_STRING, ACTION_OPTIONAL},
};

#define NSPEC (sizeof spec / sizeof spec[0])

static hs_err_t email_validate(const json_t *params, char *errstr, size_t n) {
    return action_params_check(params, spec, NSPEC, 0, errstr, n);
}

static hs_err_t email_run(const json_t *params, const hs_action_ctx_t *ctx,
                          hs_action_result_t *res) {
    hs_err_t rc = action_params_ready(params, spec, NSPEC, "email", res);
    if (rc) return rc;
    mail_t *m = calloc(1, sizeof *m);
    if (!m) return action_fail(res, HS_ERR_INTERNAL, 1, "email: out of memory");
    char err[256];
    rc = mail_prepare(m, params, ctx, err, sizeof err);
    if (rc)
        rc = action_fail(res, rc, 0, "email: %s", err);
    else
        rc = mail_send(m, ctx, res);
    free(m);
    return rc;
}

const hs_action_t hs_action_email = {"email", email_validate, email_run};
