#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_config.h"

static char err[512];

static const char *write_tmp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/hs_cfg_XXXXXX.yaml");
    int fd = mkstemps(path, 5);
    cr_assert(fd >= 0);
    cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(config, defaults_come_from_the_table) {
    hs_config_t *cfg = hs_config_new();
    cr_assert_str_eq(hs_config_str(cfg, "kafka.brokers"), "127.0.0.1:9092");
    cr_assert_eq(hs_config_int(cfg, "kafka.partitions"), 6);
    cr_assert_str_eq(hs_config_origin(cfg, "kafka.partitions"), "default");
    hs_config_destroy(cfg);
}

Test(config, file_then_env_then_flags) {
    hs_config_t *cfg = hs_config_new();
    const char *p = write_tmp("kafka:\n  brokers: a:1\n  partitions: 3\nlog:\n  level: warn\n");
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_OK, "%s", err);
    char *env[] = {"HS_KAFKA_PARTITIONS=4", "HS_CONFIG=x", "PATH=/bin", NULL};
    cr_assert_eq(hs_config_load_env(cfg, env, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(hs_config_set(cfg, "kafka.brokers", "b:2", "--set", err, sizeof err), HS_OK);
    cr_assert_str_eq(hs_config_str(cfg, "kafka.brokers"), "b:2");
    cr_assert_eq(hs_config_int(cfg, "kafka.partitions"), 4);
    cr_assert_str_eq(hs_config_origin(cfg, "kafka.partitions"), "env HS_KAFKA_PARTITIONS");
    cr_assert_str_eq(hs_config_str(cfg, "log.level"), "warn");
    unlink(p);
    hs_config_destroy(cfg);
}

Test(config, unknown_key_names_file_line_and_key) {
    hs_config_t *cfg = hs_config_new();
    const char *p = write_tmp("log:\n  level: info\npostgres:\n  dns: x\n");
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_ERR_INVALID);
    char want[128];
    snprintf(want, sizeof want, "%s:4: postgres.dns: unknown key", p);
    cr_assert_str_eq(err, want);
    unlink(p);
    hs_config_destroy(cfg);
}

Test(config, unknown_section_and_bad_values_are_refused) {
    hs_config_t *cfg = hs_config_new();
    const char *p = write_tmp("kafak:\n  brokers: x\n");
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, ":1: kafak: unknown section"), "%s", err);
    unlink(p);
    p = write_tmp("kafka:\n\n  partitions: many\n");
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, ":3: kafka.partitions: 'many' is not an integer"), "%s", err);
    unlink(p);
    p = write_tmp("kafka:\n  partitions: 0\n");
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, "kafka.partitions: 0 is outside 1..1000"), "%s", err);
    unlink(p);
    p = write_tmp("log:\n  level: loud\n");
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, "'loud' is not one of debug|info|warn|error"), "%s", err);
    unlink(p);
    hs_config_destroy(cfg);
}

Test(config, malformed_yaml_names_the_line) {
    hs_config_t *cfg = hs_config_new();
    const char *p = write_tmp("kafka:\n  brokers: [a\n  x: y\n");
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, p), "%s", err);
    unlink(p);
    p = write_tmp("kafka:\n  brokers:\n    nested: 1\n");
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, ":2: kafka.brokers: expected a scalar value"), "%s", err);
    unlink(p);
    hs_config_destroy(cfg);
}

Test(config, missing_file_is_an_io_error) {
    hs_config_t *cfg = hs_config_new();
    cr_assert_eq(hs_config_load_file(cfg, "/nonexistent/h.yaml", err, sizeof err), HS_ERR_IO);
    cr_assert(strstr(err, "/nonexistent/h.yaml: No such file"), "%s", err);
    hs_config_destroy(cfg);
}

static hs_err_t collect(const char *name, const char *value, const char *origin, void *opaque) {
    char *buf = opaque;
    size_t n = strlen(buf);
    snprintf(buf + n, 256 - n, "%s=%s@%s;", name, value, origin);
    return HS_OK;
}

Test(config, kafka_properties_pass_through_from_file_and_env) {
    hs_config_t *cfg = hs_config_new();
    const char *p = write_tmp("kafka:\n  linger.ms: 2\n  brokers: h:1\n");
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_OK, "%s", err);
    char *env[] = {"HS_KAFKA_ENABLE_IDEMPOTENCE=true", NULL};
    cr_assert_eq(hs_config_load_env(cfg, env, err, sizeof err), HS_OK, "%s", err);
    char buf[256] = "";
    hs_config_kafka_each(cfg, collect, buf);
    char want[256];
    snprintf(want, sizeof want,
             "linger.ms=2@%s:2;enable.idempotence=true@env HS_KAFKA_ENABLE_IDEMPOTENCE;", p);
    cr_assert_str_eq(buf, want);
    unlink(p);
    hs_config_destroy(cfg);
}

Test(config, unknown_env_key_of_known_section_fails) {
    hs_config_t *cfg = hs_config_new();
    char *env[] = {"HS_LOG_LEVL=debug", NULL};
    cr_assert_eq(hs_config_load_env(cfg, env, err, sizeof err), HS_ERR_INVALID);
    cr_assert_str_eq(err, "environment HS_LOG_LEVL: log.levl: unknown key");
    hs_config_destroy(cfg);
}

Test(config, docs_config_md_is_current) {
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    hs_config_doc_write(mem);
    fclose(mem);
    FILE *fp = fopen(HS_SOURCE_DIR "/docs/config.md", "r");
    cr_assert(fp, "docs/config.md missing: run hookstream config doc > docs/config.md");
    char *doc = calloc(1, len + 2);
    size_t got = fread(doc, 1, len + 1, fp);
    fclose(fp);
    cr_assert(got == len && memcmp(doc, text, len) == 0,
              "docs/config.md is stale: run hookstream config doc > docs/config.md");
    free(doc);
    free(text);
}

Test(config, structured_sections_become_json_with_origins) {
    hs_config_t *cfg = hs_config_new();
    const char *p = write_tmp("sources:\n  shop1:\n    type: shopify\n    secrets: [a, 'b']\n"
                              "    tolerance_s: 300\n    verify: false\n    note: \"42\"\n"
                              "kafka:\n  brokers: x:1\n");
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_OK, "%s", err);
    const json_t *src = json_object_get(hs_config_tree(cfg, "sources"), "shop1");
    cr_assert_str_eq(json_string_value(json_object_get(src, "type")), "shopify");
    cr_assert_eq(json_array_size(json_object_get(src, "secrets")), 2);
    cr_assert_eq(json_integer_value(json_object_get(src, "tolerance_s")), 300);
    cr_assert(json_is_false(json_object_get(src, "verify")));
    cr_assert_str_eq(json_string_value(json_object_get(src, "note")), "42");
    char want[128];
    snprintf(want, sizeof want, "%s:3", p);
    cr_assert_str_eq(hs_config_tree_origin(cfg, "sources.shop1.type"), want);
    snprintf(want, sizeof want, "%s:4", p);
    cr_assert_str_eq(hs_config_tree_origin(cfg, "sources.shop1.secrets.1"), want);
    cr_assert_str_eq(hs_config_tree_origin(cfg, "sources.nope"), "");
    hs_config_t *empty = hs_config_new();
    cr_assert_null(hs_config_tree(empty, "sources"));
    hs_config_destroy(empty);
    unlink(p);
    hs_config_destroy(cfg);
}

Test(config, binary_and_malformed_utf8_are_refused_before_parsing) {
    hs_config_t *cfg = hs_config_new();
    /* malformed UTF-8 inside a YAML directive made libfyaml loop forever */
    const char *p = write_tmp("log:\n  level: info\n% u\xf8\xff\n");
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_ERR_INVALID);
    char want[128];
    snprintf(want, sizeof want, "%s:3: not UTF-8 text", p);
    cr_assert_str_eq(err, want);
    unlink(p);
    p = write_tmp("log:\n  level: \x01info\n");
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, ":2: not UTF-8 text"), "%s", err);
    unlink(p);
    p = write_tmp("log:\n  level: \xc0\xaf\n"); /* overlong '/' */
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_ERR_INVALID);
    unlink(p);
    p = write_tmp("registry:\n  url: \"http://h\xc3\xa9:1\"\n"); /* valid UTF-8 is fine */
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_OK, "%s", err);
    unlink(p);
    hs_config_destroy(cfg);
}

Test(config, files_over_one_mib_are_refused) {
    hs_config_t *cfg = hs_config_new();
    char *big = malloc((1 << 20) + 16);
    memset(big, '#', (1 << 20) + 15);
    big[(1 << 20) + 15] = 0;
    const char *p = write_tmp(big);
    free(big);
    cr_assert_eq(hs_config_load_file(cfg, p, err, sizeof err), HS_ERR_TOO_LARGE);
    cr_assert(strstr(err, "larger than 1048576 bytes"), "%s", err);
    unlink(p);
    hs_config_destroy(cfg);
}
