/* hs_httpc: URL validation, escaping, and errors that name the URL (no server needed). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hs_httpc.h"

Test(httpc, refuses_non_http_urls) {
    char err[256];
    cr_expect_null(hs_httpc_new("ftp://x", 1000, NULL, err, sizeof err));
    cr_expect(strstr(err, "'ftp://x' is not an http:// or https:// URL"), "%s", err);
    cr_expect_null(hs_httpc_new(NULL, 1000, NULL, err, sizeof err));
    hs_httpc_t *c = hs_httpc_new("http://127.0.0.1:1//", 1000, NULL, err, sizeof err);
    cr_assert(c, "%s", err);
    cr_expect_str_eq(hs_httpc_base_url(c), "http://127.0.0.1:1");
    hs_httpc_destroy(c);
    hs_httpc_destroy(NULL);
}

Test(httpc, escapes_path_segments) {
    char *e = hs_httpc_escape("hs.events.orders-a/b c%~_");
    cr_expect_str_eq(e, "hs.events.orders-a%2Fb%20c%25~_");
    free(e);
    e = hs_httpc_escape("");
    cr_expect_str_eq(e, "");
    free(e);
}

Test(httpc, unreachable_server_is_named) {
    char err[512];
    hs_httpc_t *c = hs_httpc_new("http://127.0.0.1:1", 2000, NULL, err, sizeof err);
    cr_assert(c);
    long status = 0;
    json_t *out = NULL;
    cr_expect_eq(hs_httpc_json(c, "GET", "/subjects", NULL, &status, &out, err, sizeof err),
                 HS_ERR_UNAVAILABLE);
    cr_expect(strstr(err, "GET http://127.0.0.1:1/subjects: "), "%s", err);
    hs_httpc_destroy(c);
}

/* A listening socket that never answers: the request must end at the timeout. */
Test(httpc, silent_server_times_out) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 4), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    char url[64], err[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    hs_httpc_t *c = hs_httpc_new(url, 200, NULL, err, sizeof err);
    hs_httpc_resp_t resp;
    cr_expect_eq(hs_httpc_request(c, "GET", "/x", NULL, NULL, 0, &resp, err, sizeof err),
                 HS_ERR_TIMEOUT, "%s", err);
    cr_expect(strstr(err, url), "%s", err);
    hs_httpc_destroy(c);
    close(fd);
}
