/* The email action against tests/stubs/smtp_sink.py (a child process on port 0): each test
 * checks the action's result and the messages the sink recorded. */
#include "action_stubs.h"

TestSuite(actions_email, .fini = stop_stubs, .timeout = 60);

static stub_t *start_sink(const char *const *args) {
    return start_stub("smtp_sink.py", args);
}

static json_t *mail(const stub_t *s, const char *fields) {
    return params("{\"smtp_url\":\"smtp://127.0.0.1:%d\",%s}", s->port, fields);
}

/* Sends one message that must go through; returns the sink's records (new reference). */
static json_t *mail_ok(const stub_t *s, const char *fields) {
    hs_action_result_t res;
    cr_assert_eq(run("email", mail(s, fields), &res), HS_OK, "%s", res.error);
    hs_action_result_clear(&res);
    return records(s);
}

Test(actions_email, email_text_only) {
    stub_t *s = start_sink(NULL);
    hs_action_result_t res;
    cr_assert_eq(run("email",
                     mail(s, "\"to\":\"ada@example.com\",\"subject\":\"Welcome\","
                             "\"text\":\"Hello Ada,\\nthanks for your order.\\n\""),
                     &res),
                 HS_OK, "%s", res.error);
    cr_assert_eq(res.status, 250);
    cr_assert_str_eq(str_at(res.output, "message_id"), MSGID);
    cr_assert_str_eq(str_at(res.output, "to.0"), "ada@example.com");
    cr_assert_null(json_object_get(res.output, "cc"));
    hs_action_result_clear(&res);
    json_t *r = records(s);
    cr_assert_eq(json_array_size(r), 1);
    cr_assert_str_eq(str_at(r, "0.from"), "noreply@hookstream.test");
    cr_assert_str_eq(str_at(r, "0.header_from"), "Hookstream <noreply@hookstream.test>");
    cr_assert_str_eq(str_at(r, "0.to.0"), "ada@example.com");
    cr_assert_str_eq(str_at(r, "0.subject"), "Welcome");
    cr_assert_str_eq(str_at(r, "0.message_id"), MSGID);
    cr_assert_str_eq(str_at(r, "0.text"), "Hello Ada,\nthanks for your order.\n");
    cr_assert(json_is_null(json_object_get(json_array_get(r, 0), "html")));
    cr_assert_not_null(str_at(r, "0.date"));
    json_decref(r);
}

Test(actions_email, email_text_and_html_alternative) {
    stub_t *s = start_sink(NULL);
    json_t *r = mail_ok(s, "\"to\":[\"ada@example.com\"],\"from\":\"shop@example.com\","
                           "\"subject\":\"Order\",\"text\":\"plain body\","
                           "\"html\":\"<p>html <b>body</b> — été</p>\"");
    cr_assert_str_eq(str_at(r, "0.from"), "shop@example.com");
    cr_assert_str_eq(str_at(r, "0.text"), "plain body");
    cr_assert_str_eq(str_at(r, "0.html"), "<p>html <b>body</b> — été</p>");
    json_decref(r);
}

Test(actions_email, email_two_recipients_and_cc) {
    stub_t *s = start_sink(NULL);
    hs_action_result_t res;
    cr_assert_eq(run("email",
                     mail(s, "\"to\":[\"ada@example.com\",\"Bob Smith <bob@example.com>\"],"
                             "\"cc\":\"\\\"Ops, Team\\\" <ops@example.com>\","
                             "\"subject\":\"Low stock\",\"text\":\"SKU-1: 3 left\""),
                     &res),
                 HS_OK, "%s", res.error);
    cr_assert_str_eq(str_at(res.output, "to.1"), "bob@example.com");
    cr_assert_str_eq(str_at(res.output, "cc.0"), "ops@example.com");
    hs_action_result_clear(&res);
    json_t *r = records(s);
    cr_assert_eq(json_array_size(json_object_get(json_array_get(r, 0), "to")), 3);
    cr_assert_str_eq(str_at(r, "0.to.0"), "ada@example.com");
    cr_assert_str_eq(str_at(r, "0.to.1"), "bob@example.com");
    cr_assert_str_eq(str_at(r, "0.to.2"), "ops@example.com");
    cr_assert_str_eq(str_at(r, "0.header_to"), "ada@example.com, Bob Smith <bob@example.com>");
    cr_assert_str_eq(str_at(r, "0.cc"), "\"Ops, Team\" <ops@example.com>");
    json_decref(r);
}

Test(actions_email, email_non_ascii_subject_and_name) {
    stub_t *s = start_sink(NULL);
    const char *subject = "Commande reçue ✓ — merci José! Votre commande n°1042 est confirmée et "
                          "sera expédiée très bientôt depuis notre entrepôt de Montréal";
    char fields[512];
    snprintf(fields, sizeof fields,
             "\"to\":\"Zoë Ünal <zoe@example.com>\",\"from\":\"Boutique Été "
             "<shop@example.com>\",\"subject\":\"%s\",\"text\":\"ça marche\"",
             subject);
    json_t *r = mail_ok(s, fields);
    cr_assert_str_eq(str_at(r, "0.subject"), subject);
    cr_assert_str_eq(str_at(r, "0.header_from"), "Boutique Été <shop@example.com>");
    cr_assert_str_eq(str_at(r, "0.header_to"), "Zoë Ünal <zoe@example.com>");
    cr_assert_str_eq(str_at(r, "0.text"), "ça marche");
    json_decref(r);
}

Test(actions_email, email_header_injection_refused) {
    stub_t *s = start_sink(NULL);
    const char *bad[] = {
        "\"to\":\"ada@example.com\",\"subject\":\"Hi\\r\\nBcc: evil@example.com\"",
        "\"to\":\"ada@example.com\\r\\nBcc: evil@example.com\",\"subject\":\"Hi\"",
        "\"to\":[\"ada@example.com\",\"b@example.com\\nX: y\"],\"subject\":\"Hi\"",
        "\"to\":\"ada@example.com\",\"from\":\"a@example.com\\r\\nBcc: e@example.com\","
        "\"subject\":\"Hi\"",
        "\"to\":\"ada@example.com\",\"subject\":\"Hi\\u0000there\"",
        "\"to\":\"not an address\",\"subject\":\"Hi\"",
        "\"to\":\"a@b@example.com\",\"subject\":\"Hi\"",
        "\"to\":\"José <josé@example.com>\",\"subject\":\"Hi\"",
        "\"to\":\"ada@example.com\",\"from\":\"nobody\",\"subject\":\"Hi\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char fields[512];
        snprintf(fields, sizeof fields, "%s,\"text\":\"x\"", bad[i]);
        hs_action_result_t res;
        cr_assert_eq(run("email", mail(s, fields), &res), HS_ERR_INVALID, "%s", bad[i]);
        cr_assert_not(res.retryable, "%s", bad[i]);
        hs_action_result_clear(&res);
    }
    json_t *r = records(s);
    cr_assert_eq(json_array_size(r), 0, "nothing was sent");
    json_decref(r);
}

Test(actions_email, email_451_retryable_message_id_stable) {
    const char *const args[] = {"--fail-first", "1", NULL};
    stub_t *s = start_sink(args);
    const char *fields = "\"to\":\"ada@example.com\",\"subject\":\"Hi\",\"text\":\"x\"";
    hs_action_result_t res;
    cr_assert_eq(run("email", mail(s, fields), &res), HS_ERR_UNAVAILABLE);
    cr_assert(res.retryable);
    cr_assert_eq(res.status, 451);
    cr_assert(strstr(res.error, "451"), "%s", res.error);
    hs_action_result_clear(&res);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(run("email", mail(s, fields), &res), HS_OK, "%s", res.error);
        cr_assert_str_eq(str_at(res.output, "message_id"), MSGID);
        hs_action_result_clear(&res);
    }
    json_t *r = records(s);
    cr_assert_eq(json_array_size(r), 2);
    cr_assert_str_eq(str_at(r, "0.message_id"), MSGID);
    cr_assert_str_eq(str_at(r, "1.message_id"), MSGID);
    cr_assert(json_is_false(json_object_get(json_array_get(r, 0), "repeat")));
    cr_assert(json_is_true(json_object_get(json_array_get(r, 1), "repeat")));
    json_decref(r);
}

Test(actions_email, email_550_not_retryable) {
    const char *const args[] = {"--reject", "gone@example.com", NULL};
    stub_t *s = start_sink(args);
    hs_action_result_t res;
    cr_assert_eq(run("email",
                     mail(s, "\"to\":\"gone@example.com\",\"subject\":\"Hi\",\"text\":\"x\""),
                     &res),
                 HS_ERR_INVALID);
    cr_assert_not(res.retryable);
    cr_assert_eq(res.status, 550);
    cr_assert(strstr(res.error, "550 5.1.1 mailbox unavailable"), "%s", res.error);
    hs_action_result_clear(&res);
}

Test(actions_email, email_connect_refused_retryable) {
    hs_action_result_t res;
    cr_assert_eq(
        run("email",
            params("{\"smtp_url\":\"smtp://user:pw@127.0.0.1:%d\",\"to\":\"a@example.com\","
                   "\"subject\":\"Hi\",\"text\":\"x\"}",
                   closed_port()),
            &res),
        HS_ERR_UNAVAILABLE);
    cr_assert(res.retryable);
    cr_assert_null(strstr(res.error, "pw"), "no credentials in errors: %s", res.error);
    hs_action_result_clear(&res);
}

Test(actions_email, email_default_server_and_long_key) {
    stub_t *s = start_sink(NULL);
    char url[64], key[300];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", s->port);
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = 0;
    hs_action_ctx_t saved = ctx;
    ctx.smtp_url = url;
    ctx.idempotency_key = key;
    hs_action_result_t res;
    hs_err_t rc =
        run("email", params("{\"to\":\"a@example.com\",\"subject\":\"s\",\"html\":\"<i>h</i>\"}"),
            &res);
    ctx = saved;
    cr_assert_eq(rc, HS_OK, "%s", res.error);
    const char *id = str_at(res.output, "message_id");
    cr_assert_eq(strlen(id), 64 + strlen("<@hookstream>"), "a long key is hashed: %s", id);
    hs_action_result_clear(&res);
    json_t *r = records(s);
    cr_assert_str_eq(str_at(r, "0.html"), "<i>h</i>");
    cr_assert(json_is_null(json_object_get(json_array_get(r, 0), "text")));
    json_decref(r);
}
