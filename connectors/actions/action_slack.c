/* The slack step: one message to a Slack incoming webhook through the http transport. Slack
 * answers 200 "ok", or a status with a one-word reason as the body (400 invalid_payload, 403
 * action_prohibited, 404 channel_not_found, 410 channel_is_archived, 429, 500 rollup_error), which
 * the transport quotes in the error. The webhook URL is a credential: errors name its host only. */
#include <stdlib.h>
#include <string.h>

#include "hs_action_impl.h"

static const action_param_t spec[] = {
    {"url", ACTION_P_STRING, ACTION_REQUIRED},
    {"text", ACTION_P_STRING, ACTION_ONE_OF},
    {"blocks", ACTION_P_LIST, ACTION_ONE_OF},
    {"username", ACTION_P_STRING, ACTION_OPTIONAL},
    {"icon_emoji", ACTION_P_STRING, ACTION_OPTIONAL},
    {"channel", ACTION_P_STRING, ACTION_OPTIONAL},
};

#define NSPEC (sizeof spec / sizeof spec[0])

static hs_err_t slack_validate(const json_t *params, char *errstr, size_t n) {
    return action_params_check(params, spec, NSPEC, 0, errstr, n);
}

static hs_err_t slack_run(const json_t *params, const hs_action_ctx_t *ctx,
                          hs_action_result_t *res) {
    hs_err_t rc = action_params_ready(params, spec, NSPEC, "slack", res);
    if (rc) return rc;
    /* the message is params without the url, in the order Slack documents */
    json_t *msg = json_object(), *expect = json_pack("[i]", 200);
    int ok = msg && expect;
    for (size_t i = 1; ok && i < NSPEC; i++) {
        json_t *v = json_object_get(params, spec[i].name);
        if (v) ok = !json_object_set(msg, spec[i].name, v);
    }
    char *body = ok ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!body) {
        rc = action_fail(res, HS_ERR_INTERNAL, 1, "slack: out of memory");
    } else {
        action_http_req_t req = {.method = "POST",
                                 .url = action_param_str(params, "url"),
                                 .hide_path = 1,
                                 .content_type = "application/json",
                                 .body = body,
                                 .len = strlen(body),
                                 .expect = expect};
        rc = action_http_send(&req, ctx, res);
    }
    free(body);
    json_decref(expect);
    return rc;
}

const hs_action_t hs_action_slack = {"slack", slack_validate, slack_run};
