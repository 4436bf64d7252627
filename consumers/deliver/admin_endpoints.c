/* Endpoint routes of the admin API: create, list, get, patch, delete, enable, disable, rotate
 * secret. Every field a caller sends is checked by one entry of the fields table, which names
 * the field in its 422. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_internal.h"
#include "hs_backoff.h"
#include "hs_catalog.h"
#include "hs_evtype.h"
#include "hs_jsonlogic.h"
#include "hs_whsig.h"

#define MAX_URL 2048
#define MAX_DESCRIPTION 1024
#define MAX_EVENT_TYPES 64
#define MAX_RATE 1000000.0
#define MAX_IN_FLIGHT 10000

/* Checks v and stores it into e; on failure returns HS_ERR_INVALID with the reason in err. */
typedef hs_err_t (*field_fn)(const deliver_admin_t *a, const json_t *v, deliver_endpoint_t *e,
                             char *err, size_t n);

static hs_err_t f_url(const deliver_admin_t *a, const json_t *v, deliver_endpoint_t *e, char *err,
                      size_t n) {
    const char *url = json_string_value(v);
    if (!url || !*url) return hs_fail(HS_ERR_INVALID, err, n, "must be a non-empty string");
    if (strlen(url) > MAX_URL)
        return hs_fail(HS_ERR_INVALID, err, n, "longer than %d bytes", MAX_URL);
    if (hs_ssrf_check_url(a->ssrf, url, err, n)) return HS_ERR_INVALID;
    char *copy = strdup(url);
    if (!copy) return hs_fail(HS_ERR_INTERNAL, err, n, "out of memory");
    free(e->url);
    e->url = copy;
    return HS_OK;
}

/* A known type, or a pattern that matches at least one known type. */
static int type_known(const char *t) {
    if (!strchr(t, '*')) return hs_catalog_find(t) != NULL;
    for (size_t i = 0; i < hs_catalog_count(); i++)
        if (hs_evtype_match(t, hs_catalog_at(i)->type)) return 1;
    return 0;
}

static void free_types(char **types, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(types[i]);
    free(types);
}

static hs_err_t check_types(const json_t *v, char *err, size_t n) {
    if (!json_is_array(v) || !json_array_size(v))
        return hs_fail(HS_ERR_INVALID, err, n, "must be a non-empty array of event types");
    if (json_array_size(v) > MAX_EVENT_TYPES)
        return hs_fail(HS_ERR_INVALID, err, n, "more than %d entries", MAX_EVENT_TYPES);
    size_t i;
    json_t *t;
    json_array_foreach(v, i, t) {
        const char *s = json_string_value(t);
        if (!s) return hs_fail(HS_ERR_INVALID, err, n, "entry %zu is not a string", i);
        if (!hs_evtype_pattern_ok(s) || strlen(s) >= 64)
            return hs_fail(HS_ERR_INVALID, err, n, "'%.64s' is not an event type or pattern", s);
        if (!type_known(s)) return hs_fail(HS_ERR_INVALID, err, n, "unknown event type '%s'", s);
    }
    return HS_OK;
}

static hs_err_t f_types(const deliver_admin_t *a, const json_t *v, deliver_endpoint_t *e, char *err,
                        size_t n) {
    (void)a;
    if (check_types(v, err, n)) return HS_ERR_INVALID;
    size_t count = json_array_size(v);
    char **types = calloc(count, sizeof *types);
    for (size_t i = 0; types && i < count; i++)
        if (!(types[i] = strdup(json_string_value(json_array_get(v, i))))) {
            free_types(types, i);
            types = NULL;
        }
    if (!types) return hs_fail(HS_ERR_INTERNAL, err, n, "out of memory");
    free_types(e->event_types, e->n_event_types);
    e->event_types = types;
    e->n_event_types = count;
    return HS_OK;
}

static hs_err_t f_description(const deliver_admin_t *a, const json_t *v, deliver_endpoint_t *e,
                              char *err, size_t n) {
    (void)a;
    const char *s = json_string_value(v);
    if (!s) return hs_fail(HS_ERR_INVALID, err, n, "must be a string");
    if (strlen(s) > MAX_DESCRIPTION)
        return hs_fail(HS_ERR_INVALID, err, n, "longer than %d bytes", MAX_DESCRIPTION);
    char *copy = strdup(s);
    if (!copy) return hs_fail(HS_ERR_INTERNAL, err, n, "out of memory");
    free(e->description);
    e->description = copy;
    return HS_OK;
}

static hs_err_t f_rate(const deliver_admin_t *a, const json_t *v, deliver_endpoint_t *e, char *err,
                       size_t n) {
    (void)a;
    double r = json_number_value(v);
    if (!json_is_number(v) || r < 0 || r > MAX_RATE)
        return hs_fail(HS_ERR_INVALID, err, n, "must be a number from 0 (unlimited) to %.0f",
                       MAX_RATE);
    e->rate_limit = r;
    return HS_OK;
}

static hs_err_t f_in_flight(const deliver_admin_t *a, const json_t *v, deliver_endpoint_t *e,
                            char *err, size_t n) {
    (void)a;
    json_int_t m = json_integer_value(v);
    if (!json_is_integer(v) || m < 0 || m > MAX_IN_FLIGHT)
        return hs_fail(HS_ERR_INVALID, err, n,
                       "must be an integer from 0 (deliver.max_in_flight) to %d", MAX_IN_FLIGHT);
    e->max_in_flight = (int)m;
    return HS_OK;
}

static hs_err_t f_ordered(const deliver_admin_t *a, const json_t *v, deliver_endpoint_t *e,
                          char *err, size_t n) {
    (void)a;
    if (!json_is_boolean(v)) return hs_fail(HS_ERR_INVALID, err, n, "must be true or false");
    e->ordered = json_is_true(v);
    return HS_OK;
}

static hs_err_t f_filter(const deliver_admin_t *a, const json_t *v, deliver_endpoint_t *e,
                         char *err, size_t n) {
    (void)a;
    if (!json_is_null(v) && hs_jsonlogic_check(v, err, n)) return HS_ERR_INVALID;
    json_decref(e->filter);
    e->filter = json_is_null(v) ? NULL : json_incref((json_t *)v);
    return HS_OK;
}

static hs_err_t f_policy(const deliver_admin_t *a, const json_t *v, deliver_endpoint_t *e,
                         char *err, size_t n) {
    (void)a;
    const char *s = json_string_value(v);
    hs_backoff_t b;
    if (!s) return hs_fail(HS_ERR_INVALID, err, n, "must be a string (\"\": the default)");
    if (strlen(s) >= sizeof e->policy)
        return hs_fail(HS_ERR_INVALID, err, n, "longer than %zu bytes", sizeof e->policy - 1);
    if (*s && hs_backoff_parse(s, &b, err, n)) return HS_ERR_INVALID;
    snprintf(e->policy, sizeof e->policy, "%s", s);
    return HS_OK;
}

static hs_err_t f_integration(const deliver_admin_t *a, const json_t *v, deliver_endpoint_t *e,
                              char *err, size_t n) {
    (void)a;
    const char *s = json_string_value(v);
    size_t len = s ? strlen(s) : 0;
    if (!s || len >= sizeof e->integration || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != len)
        return hs_fail(HS_ERR_INVALID, err, n,
                       "must be a name of at most %zu characters a-z, 0-9, '_', '.', '-' "
                       "(\"\": none)", sizeof e->integration - 1);
    snprintf(e->integration, sizeof e->integration, "%s", s);
    return HS_OK;
}

static const struct {
    const char *name;
    field_fn fn;
} fields[] = {
    {"url", f_url},         {"event_types", f_types},       {"description", f_description},
    {"rate_limit", f_rate}, {"max_in_flight", f_in_flight}, {"ordered", f_ordered},
    {"filter", f_filter},   {"policy", f_policy},           {"integration", f_integration},
};

/* Applies every member of body to e. "secret" is skipped when secret_ok (create reads it
 * itself), refused otherwise. On failure answers 422 (or 500) and returns -1. */
static int apply(const deliver_admin_t *a, hs_http_req_t *req, const json_t *body,
                 deliver_endpoint_t *e, int secret_ok) {
    const char *key;
    json_t *v;
    char err[512];
    json_object_foreach((json_t *)body, key, v) {
        if (secret_ok && !strcmp(key, "secret")) continue;
        field_fn fn = NULL;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            if (!strcmp(fields[i].name, key)) fn = fields[i].fn;
        if (!fn) {
            hs_admin_invalid(
                req, key, strcmp(key, "secret") ? "unknown field" : "use POST .../rotate-secret");
            return -1;
        }
        hs_err_t rc = fn(a, v, e, err, sizeof err);
        if (rc == HS_ERR_INTERNAL) return hs_admin_fail(req, rc, err), -1;
        if (rc) return hs_admin_invalid(req, key, err), -1;
    }
    return 0;
}

/* The secret a create or rotate body names (checked), or a new one. 0, or -1 after answering. */
static int take_secret(hs_http_req_t *req, const json_t *body, char *out, size_t n) {
    char err[256];
    const json_t *v = json_object_get(body, "secret");
    if (!v || json_is_null(v)) {
        if (!hs_whsig_secret_new(out, n, err, sizeof err)) return 0;
        return hs_admin_fail(req, HS_ERR_INTERNAL, err), -1;
    }
    const char *s = json_string_value(v);
    if (!s) return hs_admin_invalid(req, "secret", "must be a string"), -1;
    if (hs_whsig_secret_check(s, err, sizeof err)) return hs_admin_invalid(req, "secret", err), -1;
    if (strlen(s) >= n) return hs_admin_invalid(req, "secret", "too long"), -1;
    snprintf(out, n, "%s", s);
    return 0;
}

void admin_ep_create(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who) {
    json_t *body;
    if (hs_admin_body(req, 0, &body)) return;
    deliver_endpoint_t e = {.enabled = 1};
    char secret[128], err[512];
    if (!json_object_get(body, "url")) {
        hs_admin_invalid(req, "url", "required");
    } else if (!json_object_get(body, "event_types")) {
        hs_admin_invalid(req, "event_types", "required");
    } else if (!apply(a, req, body, &e, 1) && !take_secret(req, body, secret, sizeof secret)) {
        if (!e.description) e.description = strdup("");
        hs_err_t rc = deliver_store_endpoint_create(a->store, &e, secret, err, sizeof err);
        if (rc) {
            hs_admin_fail(req, rc, err);
        } else {
            json_t *view = deliver_endpoint_json(&e);
            json_object_set_new(view, "secret_generated",
                                json_boolean(!json_is_string(json_object_get(body, "secret"))));
            admin_audit(a, who, "endpoint.create", e.id, view);
            json_object_del(view, "secret_generated");
            json_object_set_new(view, "secret", json_string(secret));
            hs_http_respond_json(req, 201, view);
            admin_changed(a);
        }
    }
    memset(secret, 0, sizeof secret);
    deliver_endpoint_clear(&e);
    json_decref(body);
}

void admin_ep_list(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who) {
    (void)who;
    deliver_endpoint_t *eps = NULL;
    size_t count = 0;
    char err[512];
    hs_err_t rc = deliver_store_endpoint_list(a->store, &eps, &count, err, sizeof err);
    if (rc) {
        hs_admin_fail(req, rc, err);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < count; i++) {
        json_array_append_new(arr, deliver_endpoint_json(&eps[i]));
        deliver_endpoint_clear(&eps[i]);
    }
    free(eps);
    hs_http_respond_json(req, 200, arr);
}

/* Loads {id} into *e; answers 404 (or the store error) and returns -1 when it cannot. */
static int load(deliver_admin_t *a, hs_http_req_t *req, deliver_endpoint_t *e) {
    char err[512];
    hs_err_t rc =
        deliver_store_endpoint_get(a->store, hs_http_req_param(req, "id"), e, err, sizeof err);
    if (rc) hs_admin_fail(req, rc, err);
    return rc ? -1 : 0;
}

/* Answers 200 with the current state of {id}. */
static void answer_endpoint(deliver_admin_t *a, hs_http_req_t *req) {
    deliver_endpoint_t e = {0};
    if (load(a, req, &e)) return;
    hs_http_respond_json(req, 200, deliver_endpoint_json(&e));
    deliver_endpoint_clear(&e);
}

void admin_ep_get(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who) {
    (void)who;
    answer_endpoint(a, req);
}

void admin_ep_patch(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who) {
    json_t *body;
    if (hs_admin_body(req, 0, &body)) return;
    deliver_endpoint_t e = {0};
    char err[512];
    if (!load(a, req, &e) && !apply(a, req, body, &e, 0)) {
        hs_err_t rc = deliver_store_endpoint_update(a->store, &e, err, sizeof err);
        if (rc) {
            hs_admin_fail(req, rc, err);
        } else {
            json_t *detail = json_pack("{s:O}", "changes", body);
            admin_audit(a, who, "endpoint.update", e.id, detail);
            json_decref(detail);
            admin_changed(a);
            answer_endpoint(a, req);
        }
    }
    deliver_endpoint_clear(&e);
    json_decref(body);
}

void admin_ep_delete(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who) {
    const char *id = hs_http_req_param(req, "id");
    char err[512];
    hs_err_t rc = deliver_store_endpoint_delete(a->store, id, err, sizeof err);
    if (rc) {
        hs_admin_fail(req, rc, err);
        return;
    }
    admin_audit(a, who, "endpoint.delete", id, NULL);
    admin_changed(a);
    hs_http_respond(req, 204, NULL, "", 0);
}

static void set_enabled(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who,
                        int enabled) {
    const char *id = hs_http_req_param(req, "id");
    char err[512], reason[128];
    snprintf(reason, sizeof reason, "disabled by %s", who->name);
    hs_err_t rc = deliver_store_endpoint_set_enabled(a->store, id, enabled, enabled ? NULL : reason,
                                                     err, sizeof err);
    if (rc) {
        hs_admin_fail(req, rc, err);
        return;
    }
    admin_audit(a, who, enabled ? "endpoint.enable" : "endpoint.disable", id, NULL);
    admin_changed(a);
    answer_endpoint(a, req);
}

void admin_ep_enable(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who) {
    set_enabled(a, req, who, 1);
}

void admin_ep_disable(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who) {
    set_enabled(a, req, who, 0);
}

void admin_ep_rotate(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who) {
    json_t *body;
    if (hs_admin_body(req, 1, &body)) return;
    const char *id = hs_http_req_param(req, "id");
    const char *key;
    json_t *v;
    char secret[128] = "", err[512];
    json_object_foreach(body, key, v) {
        if (strcmp(key, "secret")) {
            hs_admin_invalid(req, key, "unknown field");
            json_decref(body);
            return;
        }
    }
    if (!take_secret(req, body, secret, sizeof secret)) {
        hs_err_t rc =
            deliver_store_secret_rotate(a->store, id, secret, a->grace_s, err, sizeof err);
        if (rc) {
            hs_admin_fail(req, rc, err);
        } else {
            json_t *detail =
                json_pack("{s:I, s:b}", "grace_s", (json_int_t)a->grace_s, "secret_generated",
                          !json_is_string(json_object_get(body, "secret")));
            admin_audit(a, who, "endpoint.rotate_secret", id, detail);
            json_decref(detail);
            admin_changed(a);
            hs_http_respond_json(req, 200,
                                 json_pack("{s:s, s:s, s:I}", "id", id, "secret", secret, "grace_s",
                                           (json_int_t)a->grace_s));
        }
    }
    memset(secret, 0, sizeof secret);
    json_decref(body);
}
