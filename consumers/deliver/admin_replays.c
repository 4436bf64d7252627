/* Admin API routes over the attempt log, replays and the audit trail: GET .../attempts,
 * POST /v1/replays (kind event | range | recover, given or inferred from the fields sent),
 * GET /v1/replays/{id}, POST /v1/replays/{id}/cancel, GET /v1/audit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_internal.h"

static const char *const attempt_statuses[] = {"succeeded", "failed", "retrying", "skipped",
                                               "dead"};

/* 400 naming a query parameter. */
static void bad_query(hs_http_req_t *req, const char *name, const char *reason) {
    char detail[256];
    snprintf(detail, sizeof detail, "query parameter %s: %s", name, reason);
    hs_admin_problem(req, 400, detail, name);
}

void admin_ep_attempts(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who) {
    (void)who;
    const char *id = hs_http_req_param(req, "id");
    const char *status = hs_http_req_query(req, "status");
    const char *since = hs_http_req_query(req, "since");
    int64_t since_ms = 0;
    int limit = hs_admin_limit(hs_http_req_query(req, "limit"));
    int status_ok = !status || !*status;
    for (size_t i = 0; i < sizeof attempt_statuses / sizeof attempt_statuses[0]; i++)
        if (status && !strcmp(status, attempt_statuses[i])) status_ok = 1;
    if (!status_ok) {
        bad_query(req, "status", "expected succeeded, failed, retrying, skipped or dead");
        return;
    }
    if (since && *since && hs_admin_time_text(since, &since_ms)) {
        bad_query(req, "since", "expected RFC 3339 or unix milliseconds");
        return;
    }
    if (limit < 0) {
        bad_query(req, "limit", "expected an integer from 1 to 1000");
        return;
    }
    deliver_endpoint_t e = {0};
    char err[512];
    hs_err_t rc = deliver_store_endpoint_get(a->store, id, &e, err, sizeof err);
    deliver_endpoint_clear(&e);
    json_t *out = NULL;
    if (!rc)
        rc = deliver_store_attempts(a->store, id, status && *status ? status : NULL, since_ms,
                                    limit, &out, err, sizeof err);
    if (rc)
        hs_admin_fail(req, rc, err);
    else
        hs_http_respond_json(req, 200, out);
}

/* ---- POST /v1/replays -------------------------------------------------------------------- */

/* The kind the body asks for: its "kind", else inferred from which fields are there. */
static const char *replay_kind(const json_t *body) {
    const char *kind = json_string_value(json_object_get(body, "kind"));
    if (kind) return kind;
    if (json_object_get(body, "event_id")) return "event";
    if (json_object_get(body, "topic")) return "range";
    if (json_object_get(body, "since")) return "recover";
    return NULL;
}

/* Fills r from body after checking it; 0, or -1 after answering 422. */
static int replay_fields(hs_http_req_t *req, const json_t *body, deliver_replay_t *r) {
    static const char *const known[] = {"kind", "endpoint_id", "event_id", "topic",
                                        "from", "to",          "since"};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v) {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(known[i], key))
            i++;
        if (i == sizeof known / sizeof known[0])
            return hs_admin_invalid(req, key, "unknown field"), -1;
    }
    const char *ep = json_string_value(json_object_get(body, "endpoint_id"));
    if (!ep || !*ep || strlen(ep) >= sizeof r->endpoint_id)
        return hs_admin_invalid(req, "endpoint_id", "required: the id of an endpoint"), -1;
    snprintf(r->endpoint_id, sizeof r->endpoint_id, "%s", ep);
    const char *kind = replay_kind(body);
    if (!kind)
        return hs_admin_invalid(req, "kind", "give event_id, topic with from and to, or since"), -1;
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    if (!strcmp(kind, "event")) {
        const char *ev = json_string_value(json_object_get(body, "event_id"));
        if (!ev || !*ev || strlen(ev) >= sizeof r->event_id)
            return hs_admin_invalid(req, "event_id", "required: a non-empty string"), -1;
        snprintf(r->event_id, sizeof r->event_id, "%s", ev);
    } else if (!strcmp(kind, "range")) {
        const char *topic = json_string_value(json_object_get(body, "topic"));
        if (!topic || !*topic || strlen(topic) >= sizeof r->topic)
            return hs_admin_invalid(req, "topic", "required: a topic name"), -1;
        snprintf(r->topic, sizeof r->topic, "%s", topic);
        if (hs_admin_time(json_object_get(body, "from"), &r->from_ms))
            return hs_admin_invalid(req, "from", "required: RFC 3339 or unix milliseconds"), -1;
        if (hs_admin_time(json_object_get(body, "to"), &r->to_ms))
            return hs_admin_invalid(req, "to", "required: RFC 3339 or unix milliseconds"), -1;
        if (r->to_ms <= r->from_ms) return hs_admin_invalid(req, "to", "must be after from"), -1;
    } else if (!strcmp(kind, "recover")) {
        if (hs_admin_time(json_object_get(body, "since"), &r->since_ms))
            return hs_admin_invalid(req, "since", "required: RFC 3339 or unix milliseconds"), -1;
    } else {
        return hs_admin_invalid(req, "kind", "expected event, range or recover"), -1;
    }
    return 0;
}

/* 404 when the endpoint or (kind event) the event is unknown; 0 when both exist. */
static int replay_targets_exist(deliver_admin_t *a, hs_http_req_t *req, const deliver_replay_t *r) {
    char err[512], topic[256];
    deliver_endpoint_t e = {0};
    hs_err_t rc = deliver_store_endpoint_get(a->store, r->endpoint_id, &e, err, sizeof err);
    deliver_endpoint_clear(&e);
    if (!rc && !strcmp(r->kind, "event")) {
        int32_t partition;
        int64_t offset;
        rc = deliver_store_event_locate(a->store, r->event_id, topic, sizeof topic, &partition,
                                        &offset, err, sizeof err);
        if (rc == HS_ERR_NOT_FOUND)
            snprintf(err, sizeof err, "event %.128s was never delivered here", r->event_id);
    }
    if (rc) hs_admin_fail(req, rc, err);
    return rc ? -1 : 0;
}

void admin_replay_create(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who) {
    json_t *body;
    if (hs_admin_body(req, 0, &body)) return;
    deliver_replay_t r = {0};
    char err[512];
    if (!replay_fields(req, body, &r) && !replay_targets_exist(a, req, &r)) {
        hs_err_t rc = deliver_store_replay_create(a->store, &r, err, sizeof err);
        if (rc) {
            hs_admin_fail(req, rc, err);
        } else {
            json_t *view = deliver_replay_json(&r);
            admin_audit(a, who, "replay.create", r.id, view);
            char location[128];
            snprintf(location, sizeof location, "/v1/replays/%s", r.id);
            hs_http_add_header(req, "Location", location);
            hs_http_respond_json(req, 202, view);
        }
    }
    json_decref(body);
}

static void answer_replay(deliver_admin_t *a, hs_http_req_t *req) {
    deliver_replay_t r;
    char err[512];
    hs_err_t rc =
        deliver_store_replay_get(a->store, hs_http_req_param(req, "id"), &r, err, sizeof err);
    if (rc)
        hs_admin_fail(req, rc, err);
    else
        hs_http_respond_json(req, 200, deliver_replay_json(&r));
}

void admin_replay_get(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who) {
    (void)who;
    answer_replay(a, req);
}

void admin_replay_cancel(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who) {
    const char *id = hs_http_req_param(req, "id");
    char err[512];
    hs_err_t rc = deliver_store_replay_cancel(a->store, id, err, sizeof err);
    if (rc) {
        hs_admin_fail(req, rc, err);
        return;
    }
    admin_audit(a, who, "replay.cancel", id, NULL);
    answer_replay(a, req);
}

void admin_audit_list(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who) {
    (void)who;
    int limit = hs_admin_limit(hs_http_req_query(req, "limit"));
    if (limit < 0) {
        bad_query(req, "limit", "expected an integer from 1 to 1000");
        return;
    }
    json_t *out = NULL;
    char err[512];
    hs_err_t rc = deliver_store_audit_list(a->store, limit, &out, err, sizeof err);
    if (rc)
        hs_admin_fail(req, rc, err);
    else
        hs_http_respond_json(req, 200, out);
}
