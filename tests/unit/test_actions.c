/* Workflow actions http and slack against tests/stubs/http_stub.py (a child process on port 0):
 * each test checks the action's result and what the stub recorded. Then the params checks of
 * every action. The email action: test_actions_email.c. */
#include <pthread.h>
#include <time.h>

#include "action_stubs.h"

TestSuite(actions, .fini = stop_stubs, .timeout = 60);

/* ---- http ---- */

Test(actions, http_json_response_saved) {
    const char *const args[] = {"--respond", "/api/profiles=201:{\"id\":\"p_123\"}", NULL};
    stub_t *s = start_stub("http_stub.py", args);
    hs_action_result_t res;
    cr_assert_eq(run("http",
                     params("{\"method\":\"post\",\"url\":\"http://127.0.0.1:%d/api/profiles\","
                            "\"headers\":{\"Authorization\":\"Klaviyo-API-Key k1\"},"
                            "\"body\":{\"email\":\"ada@example.com\",\"n\":2}}",
                            s->port),
                     &res),
                 HS_OK, "%s", res.error);
    cr_assert_eq(res.status, 201);
    cr_assert_eq(json_integer_value(json_object_get(res.output, "status")), 201);
    cr_assert_str_eq(str_at(res.output, "response.id"), "p_123");
    cr_assert_str_eq(str_at(res.output, "headers.content-type"), "application/json");
    json_t *r = records(s);
    cr_assert_eq(json_array_size(r), 1);
    cr_assert_str_eq(str_at(r, "0.method"), "POST");
    cr_assert_str_eq(str_at(r, "0.path"), "/api/profiles");
    cr_assert_str_eq(str_at(r, "0.body.email"), "ada@example.com");
    cr_assert_str_eq(str_at(r, "0.idempotency_key"), KEY);
    cr_assert_str_eq(str_at(r, "0.headers.content-type"), "application/json");
    cr_assert_str_eq(str_at(r, "0.headers.authorization"), "Klaviyo-API-Key k1");
    cr_assert(!strncmp(str_at(r, "0.headers.user-agent"), "hookstream/", 11));
    cr_assert_null(str_at(r, "0.headers.traceparent"));
    json_decref(r);
    hs_action_result_clear(&res);
    cr_assert_null(res.output);
}

Test(actions, http_get_default_and_traceparent) {
    stub_t *s = start_stub("http_stub.py", NULL);
    hs_action_result_t res;
    hs_action_ctx_t saved = ctx;
    ctx.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    hs_err_t rc =
        run("http", params("{\"url\":\"http://127.0.0.1:%d/items?id=7\"}", s->port), &res);
    ctx = saved;
    cr_assert_eq(rc, HS_OK, "%s", res.error);
    json_t *r = records(s);
    cr_assert_str_eq(str_at(r, "0.method"), "GET");
    cr_assert_str_eq(str_at(r, "0.query"), "id=7");
    cr_assert(json_is_null(json_object_get(json_array_get(r, 0), "body")));
    cr_assert_null(str_at(r, "0.headers.content-type"));
    cr_assert_str_eq(str_at(r, "0.headers.traceparent"),
                     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    json_decref(r);
    hs_action_result_clear(&res);
}

Test(actions, http_expect_list) {
    const char *const args[] = {"--respond", "/created=201:{}", "--respond", "/moved=302:moved",
                                NULL};
    stub_t *s = start_stub("http_stub.py", args);
    hs_action_result_t res;
    cr_assert_eq(run("http",
                     params("{\"url\":\"http://127.0.0.1:%d/created\",\"expect\":[200]}", s->port),
                     &res),
                 HS_ERR_INVALID);
    cr_assert_eq(res.status, 201);
    cr_assert_not(res.retryable);
    cr_assert(strstr(res.error, "201") && strstr(res.error, "not in expect [200]"), "%s",
              res.error);
    hs_action_result_clear(&res);
    cr_assert_eq(
        run("http",
            params("{\"url\":\"http://127.0.0.1:%d/created\",\"expect\":[200,201]}", s->port),
            &res),
        HS_OK, "%s", res.error);
    hs_action_result_clear(&res);
    cr_assert_neq(run("http", params("{\"url\":\"http://127.0.0.1:%d/moved\"}", s->port), &res),
                  HS_OK);
    cr_assert_not(res.retryable);
    cr_assert(strstr(res.error, "redirects are not followed"), "%s", res.error);
    hs_action_result_clear(&res);
}

Test(actions, http_text_response_is_a_string) {
    const char *const args[] = {"--respond", "/text=200:hello, world", NULL};
    stub_t *s = start_stub("http_stub.py", args);
    hs_action_result_t res;
    cr_assert_eq(run("http", params("{\"url\":\"http://127.0.0.1:%d/text\"}", s->port), &res),
                 HS_OK, "%s", res.error);
    cr_assert_str_eq(str_at(res.output, "response"), "hello, world");
    hs_action_result_clear(&res);
}

Test(actions, http_503_retryable_with_retry_after) {
    const char *const args[] = {"--fail", "/flaky=503:1:7", NULL};
    stub_t *s = start_stub("http_stub.py", args);
    hs_action_result_t res;
    char body[128];
    snprintf(body, sizeof body,
             "{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%d/flaky\",\"body\":[1]}", s->port);
    cr_assert_eq(run("http", params("%s", body), &res), HS_ERR_UNAVAILABLE);
    cr_assert_eq(res.status, 503);
    cr_assert(res.retryable);
    cr_assert_eq(res.retry_after_ms, 7000);
    cr_assert(strstr(res.error, "POST http://127.0.0.1:") && strstr(res.error, "/flaky: 503"), "%s",
              res.error);
    cr_assert(strstr(res.error, "stub failure 503"), "the body is quoted: %s", res.error);
    hs_action_result_clear(&res);
    cr_assert_eq(run("http", params("%s", body), &res), HS_OK, "%s", res.error);
    hs_action_result_clear(&res);
    /* the same idempotency key on both attempts */
    json_t *r = records(s);
    cr_assert_eq(json_array_size(r), 2);
    cr_assert_str_eq(str_at(r, "0.idempotency_key"), KEY);
    cr_assert_str_eq(str_at(r, "1.idempotency_key"), KEY);
    json_decref(r);
}

Test(actions, http_429_retry_after_http_date) {
    char date[64], arg[128];
    time_t t = time(NULL) + 30;
    struct tm tm;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&t, &tm));
    snprintf(arg, sizeof arg, "/limited=429:1:%s", date);
    const char *const args[] = {"--fail", arg, NULL};
    stub_t *s = start_stub("http_stub.py", args);
    hs_action_result_t res;
    cr_assert_eq(run("http", params("{\"url\":\"http://127.0.0.1:%d/limited\"}", s->port), &res),
                 HS_ERR_UNAVAILABLE);
    cr_assert(res.retryable);
    cr_assert(res.retry_after_ms > 25000 && res.retry_after_ms <= 30000, "%lld",
              (long long)res.retry_after_ms);
    hs_action_result_clear(&res);
}

Test(actions, http_400_not_retryable) {
    const char *const args[] = {"--respond", "/bad=400:{\"error\":\"email is invalid\"}",
                                "--respond", "/gone=404:no such list", NULL};
    stub_t *s = start_stub("http_stub.py", args);
    hs_action_result_t res;
    cr_assert_eq(run("http", params("{\"url\":\"http://127.0.0.1:%d/bad\"}", s->port), &res),
                 HS_ERR_INVALID);
    cr_assert_eq(res.status, 400);
    cr_assert_not(res.retryable);
    cr_assert_eq(res.retry_after_ms, 0);
    cr_assert(strstr(res.error, "400 Bad Request: {\"error\":\"email is invalid\"}"), "%s",
              res.error);
    hs_action_result_clear(&res);
    cr_assert_eq(run("http", params("{\"url\":\"http://127.0.0.1:%d/gone\"}", s->port), &res),
                 HS_ERR_NOT_FOUND);
    cr_assert_not(res.retryable);
    hs_action_result_clear(&res);
}

Test(actions, http_connect_refused_retryable) {
    hs_action_result_t res;
    cr_assert_eq(run("http", params("{\"url\":\"http://127.0.0.1:%d/x\"}", closed_port()), &res),
                 HS_ERR_UNAVAILABLE);
    cr_assert_eq(res.status, 0);
    cr_assert(res.retryable);
    hs_action_result_clear(&res);
}

Test(actions, http_timeout_retryable) {
    const char *const args[] = {"--sleep", "/slow=3", NULL};
    stub_t *s = start_stub("http_stub.py", args);
    hs_action_result_t res;
    hs_action_ctx_t saved = ctx;
    ctx.timeout_ms = 300;
    time_t t0 = time(NULL);
    hs_err_t rc = run("http", params("{\"url\":\"http://127.0.0.1:%d/slow\"}", s->port), &res);
    ctx = saved;
    cr_assert_eq(rc, HS_ERR_TIMEOUT, "%s", res.error);
    cr_assert(res.retryable);
    cr_assert_lt(time(NULL) - t0, 3);
    hs_action_result_clear(&res);
}

Test(actions, http_ssrf_guard) {
    stub_t *s = start_stub("http_stub.py", NULL);
    char err[256];
    hs_ssrf_t *none = hs_ssrf_new(NULL, err, sizeof err);
    hs_ssrf_t *local = hs_ssrf_new("127.0.0.1/32", err, sizeof err);
    cr_assert(none && local, "%s", err);
    hs_action_result_t res;
    hs_action_ctx_t saved = ctx;
    ctx.ssrf = none;
    hs_err_t rc = run("http", params("{\"url\":\"http://127.0.0.1:%d/x\"}", s->port), &res);
    cr_assert_eq(rc, HS_ERR_FORBIDDEN, "%s", res.error);
    cr_assert_not(res.retryable);
    cr_assert(strstr(res.error, "address 127.0.0.1 is not allowed"), "%s", res.error);
    hs_action_result_clear(&res);
    json_t *r = records(s);
    cr_assert_eq(json_array_size(r), 0, "nothing reached the stub");
    json_decref(r);
    ctx.ssrf = local;
    rc = run("http", params("{\"url\":\"http://127.0.0.1:%d/x\"}", s->port), &res);
    ctx = saved;
    cr_assert_eq(rc, HS_OK, "%s", res.error);
    hs_action_result_clear(&res);
    hs_ssrf_destroy(none);
    hs_ssrf_destroy(local);
}

Test(actions, http_idempotency_dedup_on_the_receiver) {
    const char *const args[] = {"--dedup", "--respond", "/charge=201:{\"id\":\"ch_1\"}", NULL};
    stub_t *s = start_stub("http_stub.py", args);
    hs_action_result_t res;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(
            run("http",
                params("{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%d/charge\"}", s->port),
                &res),
            HS_OK, "%s", res.error);
        cr_assert_str_eq(str_at(res.output, "response.id"), "ch_1");
        hs_action_result_clear(&res);
    }
    json_t *r = records(s);
    cr_assert_eq(json_array_size(r), 2);
    cr_assert(json_is_false(json_object_get(json_array_get(r, 0), "repeat")));
    cr_assert(json_is_true(json_object_get(json_array_get(r, 1), "repeat")));
    cr_assert_str_eq(str_at(r, "1.idempotency_key"), KEY);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(r, 0), "client_port")),
                 json_integer_value(json_object_get(json_array_get(r, 1), "client_port")),
                 "the second attempt reuses the connection");
    /* a POST without a body still sends no form type */
    cr_assert_null(str_at(r, "0.headers.content-type"));
    json_decref(r);
}

Test(actions, http_string_body_with_own_type_sent_as_is) {
    stub_t *s = start_stub("http_stub.py", NULL);
    hs_action_result_t res;
    cr_assert_eq(run("http",
                     params("{\"method\":\"PUT\",\"url\":\"http://127.0.0.1:%d/form\","
                            "\"headers\":{\"content-type\":\"application/x-www-form-urlencoded\","
                            "\"Idempotency-Key\":\"mine\"},\"body\":\"a=1&b=2\"}",
                            s->port),
                     &res),
                 HS_OK, "%s", res.error);
    hs_action_result_clear(&res);
    cr_assert_eq(run("http",
                     params("{\"method\":\"PATCH\",\"url\":\"http://127.0.0.1:%d/json\","
                            "\"body\":\"a=1\"}",
                            s->port),
                     &res),
                 HS_OK, "%s", res.error);
    hs_action_result_clear(&res);
    json_t *r = records(s);
    cr_assert_str_eq(str_at(r, "0.body"), "a=1&b=2");
    cr_assert_str_eq(str_at(r, "0.headers.content-type"), "application/x-www-form-urlencoded");
    cr_assert_str_eq(str_at(r, "0.idempotency_key"), "mine", "a header given replaces ours");
    cr_assert_str_eq(str_at(r, "1.method"), "PATCH");
    cr_assert_str_eq(str_at(r, "1.body"), "a=1", "a JSON string");
    cr_assert_str_eq(str_at(r, "1.headers.content-type"), "application/json");
    json_decref(r);
}

Test(actions, http_header_injection_refused) {
    stub_t *s = start_stub("http_stub.py", NULL);
    const char *bad[] = {"{\"X-A\":\"v\\r\\nX-B: evil\"}", "{\"X-A\":\"v\\u0000x\"}",
                         "{\"Bad Name\":\"v\"}", "{\"X:Y\":\"v\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hs_action_result_t res;
        cr_assert_eq(
            run("http",
                params("{\"url\":\"http://127.0.0.1:%d/x\",\"headers\":%s}", s->port, bad[i]),
                &res),
            HS_ERR_INVALID, "%s", bad[i]);
        cr_assert_not(res.retryable);
        hs_action_result_clear(&res);
    }
    hs_action_result_t res;
    hs_action_ctx_t saved = ctx;
    ctx.traceparent = "00-x\r\nX-Evil: 1";
    hs_err_t rc = run("http", params("{\"url\":\"http://127.0.0.1:%d/x\"}", s->port), &res);
    ctx = saved;
    cr_assert_eq(rc, HS_ERR_INVALID);
    hs_action_result_clear(&res);
    json_t *r = records(s);
    cr_assert_eq(json_array_size(r), 0);
    json_decref(r);
}

Test(actions, http_response_too_large) {
    char path[64] = "/tmp/hs-actions-big-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputc('"', f);
    for (int i = 0; i < (2 << 20); i++)
        fputc('x', f);
    fputc('"', f);
    fclose(f);
    char ok[128], big[128];
    snprintf(ok, sizeof ok, "/big=200:@%s", path);
    snprintf(big, sizeof big, "/bigerr=500:@%s", path);
    const char *const args[] = {"--respond", ok, "--respond", big, NULL};
    stub_t *s = start_stub("http_stub.py", args);
    unlink(path);
    hs_action_result_t res;
    cr_assert_eq(run("http", params("{\"url\":\"http://127.0.0.1:%d/big\"}", s->port), &res),
                 HS_ERR_TOO_LARGE);
    cr_assert_not(res.retryable);
    cr_assert_eq(res.status, 200);
    cr_assert(strstr(res.error, "larger than 1048576"), "%s", res.error);
    hs_action_result_clear(&res);
    /* a failure status still decides, whatever the size of its page */
    cr_assert_eq(run("http", params("{\"url\":\"http://127.0.0.1:%d/bigerr\"}", s->port), &res),
                 HS_ERR_UNAVAILABLE);
    cr_assert(res.retryable);
    cr_assert_lt(strlen(res.error), 400);
    hs_action_result_clear(&res);
}

Test(actions, http_bad_rendered_params) {
    const char *bad[] = {
        "{\"url\":\"http://127.0.0.1:1/x\",\"method\":\"BREW\"}",
        "{\"url\":\"http://127.0.0.1:1/x\",\"headers\":\"{{ x }}\"}",
        "{\"url\":\"http://127.0.0.1:1/x\",\"expect\":\"{{ x }}\"}",
        "{\"url\":\"ftp://127.0.0.1:1/x\"}",
        "{\"url\":\"not a url\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hs_action_result_t res = {0};
        json_t *p = params("%s", bad[i]);
        hs_err_t rc = hs_action_find("http")->run(p, &ctx, &res);
        json_decref(p);
        cr_assert_eq(rc, HS_ERR_INVALID, "%s: %s", bad[i], res.error);
        cr_assert_not(res.retryable, "%s", bad[i]);
        hs_action_result_clear(&res);
    }
}

/* Many worker threads, each with its own keep-alive handle. */
static void *hammer(void *arg) {
    const stub_t *s = arg;
    for (int i = 0; i < 20; i++) {
        hs_action_result_t res = {0};
        json_t *p = params("{\"url\":\"http://127.0.0.1:%d/t\",\"body\":{\"i\":%d}}", s->port, i);
        hs_err_t rc = hs_action_find("http")->run(p, &ctx, &res);
        json_decref(p);
        hs_action_result_clear(&res);
        if (rc) return (void *)1;
    }
    return NULL;
}

Test(actions, http_many_threads) {
    stub_t *s = start_stub("http_stub.py", NULL);
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, hammer, s), 0);
    for (int i = 0; i < 8; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        cr_assert_null(ret);
    }
    json_t *r = records(s);
    cr_assert_eq(json_array_size(r), 160);
    json_decref(r);
}

/* ---- slack ---- */

Test(actions, slack_ok) {
    const char *const args[] = {"--respond", "/services/T1/B1/secret=200:ok", NULL};
    stub_t *s = start_stub("http_stub.py", args);
    hs_action_result_t res;
    cr_assert_eq(run("slack",
                     params("{\"url\":\"http://127.0.0.1:%d/services/T1/B1/secret\","
                            "\"text\":\"SLA breached on #42\",\"username\":\"hookstream\","
                            "\"icon_emoji\":\":rotating_light:\",\"channel\":\"#support\","
                            "\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\","
                            "\"text\":\"*SLA*\"}}]}",
                            s->port),
                     &res),
                 HS_OK, "%s", res.error);
    cr_assert_eq(res.status, 200);
    cr_assert_str_eq(str_at(res.output, "response"), "ok");
    hs_action_result_clear(&res);
    json_t *r = records(s);
    cr_assert_str_eq(str_at(r, "0.method"), "POST");
    cr_assert_str_eq(str_at(r, "0.body.text"), "SLA breached on #42");
    cr_assert_str_eq(str_at(r, "0.body.username"), "hookstream");
    cr_assert_str_eq(str_at(r, "0.body.icon_emoji"), ":rotating_light:");
    cr_assert_str_eq(str_at(r, "0.body.channel"), "#support");
    cr_assert_str_eq(str_at(r, "0.body.blocks.0.type"), "section");
    cr_assert_null(str_at(r, "0.body.url"), "the URL is not part of the message");
    cr_assert_str_eq(str_at(r, "0.headers.content-type"), "application/json");
    cr_assert_str_eq(str_at(r, "0.idempotency_key"), KEY);
    json_decref(r);
}

Test(actions, slack_errors) {
    const char *const args[] = {"--respond", "/services/bad=400:invalid_payload",
                                "--fail",    "/services/busy=429:1:3",
                                "--fail",    "/services/down=500:1",
                                NULL};
    stub_t *s = start_stub("http_stub.py", args);
    hs_action_result_t res;
    cr_assert_eq(
        run("slack",
            params("{\"url\":\"http://127.0.0.1:%d/services/bad\",\"text\":\"x\"}", s->port), &res),
        HS_ERR_INVALID);
    cr_assert_not(res.retryable);
    cr_assert(strstr(res.error, ": 400 Bad Request: invalid_payload"), "%s", res.error);
    cr_assert_null(strstr(res.error, "/services/bad"), "the webhook path is a secret: %s",
                   res.error);
    hs_action_result_clear(&res);
    cr_assert_eq(
        run("slack",
            params("{\"url\":\"http://127.0.0.1:%d/services/busy\",\"text\":\"x\"}", s->port),
            &res),
        HS_ERR_UNAVAILABLE);
    cr_assert(res.retryable);
    cr_assert_eq(res.retry_after_ms, 3000);
    hs_action_result_clear(&res);
    cr_assert_eq(
        run("slack",
            params("{\"url\":\"http://127.0.0.1:%d/services/down\",\"text\":\"x\"}", s->port),
            &res),
        HS_ERR_UNAVAILABLE);
    cr_assert(res.retryable);
    hs_action_result_clear(&res);
}

/* ---- validate ---- */

/* Params a definition may not hold, and a piece of the error each one gets. */
static const struct {
    const char *action, *params, *error;
} invalid[] = {
    {"http", "{}", "missing param 'url'"},
    {"http", "[]", "params must be an object"},
    {"http", "{\"url\":1}", "param 'url' must be a string"},
    {"http", "{\"url\":\"u\",\"method\":[]}", "'method' must be a string"},
    {"http", "{\"url\":\"u\",\"headers\":{\"a\":1}}", "an object of strings"},
    {"http", "{\"url\":\"u\",\"headers\":\"x\"}", "an object of strings"},
    {"http", "{\"url\":\"u\",\"expect\":[]}", "list of status codes"},
    {"http", "{\"url\":\"u\",\"expect\":[200,99]}", "list of status codes"},
    {"http", "{\"url\":\"u\",\"expect\":200}", "list of status codes"},
    {"http", "{\"url\":\"u\",\"bdy\":{}}", "unknown param 'bdy'"},
    {"slack", "{\"text\":\"x\"}", "missing param 'url'"},
    {"slack", "{\"url\":\"u\"}", "missing param 'text' (or 'blocks')"},
    {"slack", "{\"url\":\"u\",\"text\":5}", "'text' must be a string"},
    {"slack", "{\"url\":\"u\",\"blocks\":{}}", "'blocks' must be a list"},
    {"slack", "{\"url\":\"u\",\"text\":\"x\",\"emoji\":\"y\"}", "unknown param"},
    {"email", "{\"subject\":\"s\",\"text\":\"t\"}", "missing param 'to'"},
    {"email", "{\"to\":\"a@b\",\"text\":\"t\"}", "missing param 'subject'"},
    {"email", "{\"to\":\"a@b\",\"subject\":\"s\"}", "missing param 'text' (or 'html')"},
    {"email", "{\"to\":[],\"subject\":\"s\",\"text\":\"t\"}", "non-empty list"},
    {"email", "{\"to\":[1],\"subject\":\"s\",\"text\":\"t\"}", "list of strings"},
    {"email", "{\"to\":\"a@b\",\"cc\":{},\"subject\":\"s\",\"text\":\"t\"}", "param 'cc'"},
    {"email", "{\"to\":\"a@b\",\"subject\":1,\"text\":\"t\"}", "param 'subject'"},
    {"email", "{\"to\":\"a@b\",\"subject\":\"s\",\"html\":[]}", "param 'html'"},
    {"email", "{\"to\":\"a@b\",\"subject\":\"s\",\"text\":\"t\",\"smtp_url\":1}", "'smtp_url'"},
    {"email", "{\"to\":\"a@b\",\"subject\":\"s\",\"text\":\"t\",\"bcc\":\"x\"}", "param 'bcc'"},
};

/* Params that load: templates may stand for any type. */
static const struct {
    const char *action, *params;
} valid[] = {
    {"http", "{\"url\":\"{{ event.data.url }}\",\"method\":\"POST\",\"headers\":{\"X\":"
             "\"{{ flags.x }}\"},\"body\":[1,{\"a\":null}],\"expect\":[200,201]}"},
    {"http", "{\"url\":\"u\",\"headers\":\"{{ steps.a.response.headers }}\","
             "\"expect\":\"{{ run.expect }}\"}"},
    {"slack", "{\"url\":\"u\",\"blocks\":[]}"},
    {"slack", "{\"url\":\"u\",\"text\":\"t\",\"blocks\":\"{{ steps.b.blocks }}\","
              "\"username\":\"u\",\"icon_emoji\":\":x:\",\"channel\":\"#c\"}"},
    {"email", "{\"to\":[\"a@b\",\"{{ event.data.email }}\"],\"cc\":\"c@d\",\"from\":\"f@g\","
              "\"subject\":\"s\",\"text\":\"t\",\"html\":\"h\","
              "\"smtp_url\":\"smtps://smtp.example.com\"}"},
};

Test(actions, validate) {
    char err[256];
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        json_t *p = params("%s", invalid[i].params);
        err[0] = 0;
        cr_assert_eq(hs_action_find(invalid[i].action)->validate(p, err, sizeof err),
                     HS_ERR_INVALID, "%s %s", invalid[i].action, invalid[i].params);
        cr_assert(strstr(err, invalid[i].error), "%s %s: '%s' lacks '%s'", invalid[i].action,
                  invalid[i].params, err, invalid[i].error);
        json_decref(p);
    }
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        json_t *p = params("%s", valid[i].params);
        cr_assert_eq(hs_action_find(valid[i].action)->validate(p, err, sizeof err), HS_OK,
                     "%s %s: %s", valid[i].action, valid[i].params, err);
        json_decref(p);
    }
}

Test(actions, table) {
    cr_assert_str_eq(hs_action_find("http")->name, "http");
    cr_assert_str_eq(hs_action_find("slack")->name, "slack");
    cr_assert_str_eq(hs_action_find("email")->name, "email");
    cr_assert_null(hs_action_find("emit"));
    cr_assert_null(hs_action_find(NULL));
    hs_action_result_clear(NULL);
}
