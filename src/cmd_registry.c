/* `hookstream registry`: a Confluent-compatible Schema Registry REST API over hs_http, backed
 * by the Postgres store (hs_regstore). Request and response shapes and error codes follow
 * Confluent's, so stock Kafka clients and serializers work against it. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "commands.h"
#include "hs_http.h"
#include "hs_log.h"
#include "hs_metrics.h"
#include "hs_regstore.h"

#define SR_MEDIA_TYPE "application/vnd.schemaregistry.v1+json"

static const char usage[] =
    "usage: hookstream registry [options]\n\n"
    "Serves the Confluent Schema Registry API (subjects, versions, ids, compatibility, config)\n"
    "backed by Postgres, plus /metrics, /healthz and /readyz. Applies migrations at start.\n"
    "Prints its URL on stdout once listening; stops on SIGTERM or SIGINT.\n\n"
    "options:\n"
    "  -l, --listen ADDR     host:port to serve on (registry.listen; port 0 picks one)\n"
    "  -d, --dsn DSN         Postgres connection string (postgres.dsn)\n" CLI_COMMON_HELP;

/* @locality: shared by the HTTP server threads; the store has its own lock. */
typedef struct {
    hs_regstore_t *store;
    hs_metric_t *schemas; /* hs_registry_schemas_total */
} registry_t;

static void reply(hs_http_req_t *req, int status, json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!text) {
        static const char oom[] = "{\"error_code\":50001,\"message\":\"out of memory\"}";
        hs_http_respond(req, 500, SR_MEDIA_TYPE, oom, sizeof oom - 1);
        return;
    }
    hs_http_respond(req, status, SR_MEDIA_TYPE, text, strlen(text));
    free(text);
}

/* Confluent error: HTTP status is the first three digits of the code (40401 → 404). */
static void reply_error(hs_http_req_t *req, int code, const char *message) {
    int status = code >= 1000 ? code / 100 : code;
    if (code >= 50000) hs_log(HS_LOG_ERROR, "registry store error", "{s:s}", "error", message);
    reply(req, status, json_pack("{s:i, s:s}", "error_code", code, "message", message));
}

/* The server's own errors (unknown path, 405, 413, ...) in Confluent's shape too, because stock
 * clients parse error_code from every error answer. */
static void server_error(hs_http_req_t *req, int status, const char *title, const char *detail) {
    char msg[300];
    snprintf(msg, sizeof msg, "HTTP %d %s: %s", status, title, detail ? detail : "");
    reply_error(req, status, msg);
}

static int query_bool(const hs_http_req_t *req, const char *name) {
    const char *v = hs_http_req_query(req, name);
    return v && !strcasecmp(v, "true");
}

/* Parses the JSON body; answers 415/400 and returns NULL when it is not acceptable. */
static json_t *body_json(hs_http_req_t *req) {
    static const char *const types[] = {SR_MEDIA_TYPE, "application/vnd.schemaregistry+json",
                                        "application/json", "application/octet-stream", NULL};
    const char *ct = hs_http_req_header(req, "Content-Type");
    int ok = !ct;
    for (size_t i = 0; !ok && types[i]; i++)
        ok = !strncasecmp(ct, types[i], strlen(types[i])) &&
             (ct[strlen(types[i])] == 0 || ct[strlen(types[i])] == ';');
    if (!ok) {
        reply_error(req, 415,
                    "Unsupported Media Type: send application/vnd.schemaregistry.v1+json"
                    " or application/json");
        return NULL;
    }
    size_t len = 0;
    const char *body = hs_http_req_body(req, &len);
    json_error_t jerr;
    json_t *j = json_loadb(body, len, 0, &jerr);
    if (!j) {
        char msg[256];
        snprintf(msg, sizeof msg, "Request body is not a JSON object: %s", jerr.text);
        reply_error(req, 400, msg);
    }
    return j;
}

/* The "schema" of a registration/lookup/compatibility body (borrowed from *body, which the
 * caller frees); NULL after answering 4xx. Only AVRO without references is supported. */
static const char *schema_of(hs_http_req_t *req, json_t **body) {
    *body = body_json(req);
    if (!*body) return NULL;
    const char *schema = json_string_value(json_object_get(*body, "schema"));
    const char *type = json_string_value(json_object_get(*body, "schemaType"));
    json_t *refs = json_object_get(*body, "references");
    if (!schema)
        reply_error(req, 42201, "Invalid schema: the body has no \"schema\" string");
    else if (type && strcmp(type, "AVRO"))
        reply_error(req, 42201, "Invalid schema: only schemaType AVRO is supported");
    else if (json_array_size(refs))
        reply_error(req, 42201, "Invalid schema: schema references are not supported");
    else
        return schema;
    json_decref(*body);
    *body = NULL;
    return NULL;
}

static int version_param(hs_http_req_t *req, int32_t *version) {
    char err[256];
    int code = 0;
    if (!hs_regstore_parse_version(hs_http_req_param(req, "version"), version, &code, err,
                                   sizeof err))
        return 0;
    reply_error(req, code, err);
    return -1;
}

static void update_gauge(registry_t *reg) {
    long count = 0;
    char err[256];
    if (!hs_regstore_count(reg->store, &count, err, sizeof err))
        hs_metric_set(reg->schemas, NULL, (double)count);
}

static void on_register(hs_http_req_t *req, void *opaque) {
    registry_t *reg = opaque;
    json_t *body;
    const char *schema = schema_of(req, &body);
    if (!schema) return;
    char err[2048];
    int code = 0;
    int32_t id = 0;
    const char *subject = hs_http_req_param(req, "subject");
    if (hs_regstore_register(reg->store, subject, schema, &id, &code, err, sizeof err)) {
        reply_error(req, code, err);
    } else {
        reply(req, 200, json_pack("{s:i}", "id", id));
        update_gauge(reg);
    }
    json_decref(body);
}

static void on_lookup(hs_http_req_t *req, void *opaque) {
    registry_t *reg = opaque;
    json_t *body, *out = NULL;
    const char *schema = schema_of(req, &body);
    if (!schema) return;
    char err[1024];
    int code = 0;
    if (hs_regstore_lookup(reg->store, hs_http_req_param(req, "subject"), schema,
                           query_bool(req, "deleted"), &out, &code, err, sizeof err))
        reply_error(req, code, err);
    else
        reply(req, 200, out);
    json_decref(body);
}

static void on_subjects(hs_http_req_t *req, void *opaque) {
    registry_t *reg = opaque;
    json_t *out = NULL;
    char err[1024];
    int code = 0;
    if (hs_regstore_subjects(reg->store, query_bool(req, "deleted"), &out, &code, err, sizeof err))
        reply_error(req, code, err);
    else
        reply(req, 200, out);
}

static void on_versions(hs_http_req_t *req, void *opaque) {
    registry_t *reg = opaque;
    json_t *out = NULL;
    char err[1024];
    int code = 0;
    if (hs_regstore_versions(reg->store, hs_http_req_param(req, "subject"),
                             query_bool(req, "deleted"), &out, &code, err, sizeof err))
        reply_error(req, code, err);
    else
        reply(req, 200, out);
}

/* GET /subjects/{subject}/versions/{version}[/schema] */
static void get_version(hs_http_req_t *req, registry_t *reg, int raw) {
    int32_t version;
    json_t *out = NULL;
    char err[1024];
    int code = 0;
    if (version_param(req, &version)) return;
    if (hs_regstore_get_version(reg->store, hs_http_req_param(req, "subject"), version,
                                query_bool(req, "deleted"), &out, &code, err, sizeof err)) {
        reply_error(req, code, err);
        return;
    }
    if (!raw) {
        reply(req, 200, out);
        return;
    }
    const char *schema = json_string_value(json_object_get(out, "schema"));
    hs_http_respond(req, 200, SR_MEDIA_TYPE, schema, strlen(schema));
    json_decref(out);
}

static void on_version(hs_http_req_t *req, void *opaque) {
    get_version(req, opaque, 0);
}
static void on_version_schema(hs_http_req_t *req, void *opaque) {
    get_version(req, opaque, 1);
}

static void on_delete_subject(hs_http_req_t *req, void *opaque) {
    registry_t *reg = opaque;
    json_t *out = NULL;
    char err[1024];
    int code = 0;
    if (hs_regstore_delete_subject(reg->store, hs_http_req_param(req, "subject"),
                                   query_bool(req, "permanent"), &out, &code, err, sizeof err))
        reply_error(req, code, err);
    else
        reply(req, 200, out);
}

static void on_delete_version(hs_http_req_t *req, void *opaque) {
    registry_t *reg = opaque;
    int32_t version, deleted = 0;
    char err[1024];
    int code = 0;
    if (version_param(req, &version)) return;
    if (hs_regstore_delete_version(reg->store, hs_http_req_param(req, "subject"), version,
                                   query_bool(req, "permanent"), &deleted, &code, err, sizeof err))
        reply_error(req, code, err);
    else
        reply(req, 200, json_integer(deleted));
}

/* The {id} path parameter; answers 40403 (Confluent treats a non-numeric id as unknown). */
static int id_param(hs_http_req_t *req, int32_t *id) {
    const char *text = hs_http_req_param(req, "id");
    char *end;
    long v = strtol(text, &end, 10);
    if (*text && !*end && v >= 0 && v <= INT32_MAX) {
        *id = (int32_t)v;
        return 0;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "Schema %.64s not found", text);
    reply_error(req, 40403, msg);
    return -1;
}

/* GET /schemas/ids/{id}[/schema] */
static void get_by_id(hs_http_req_t *req, registry_t *reg, int raw) {
    int32_t id;
    char *schema = NULL, err[1024];
    int code = 0;
    if (id_param(req, &id)) return;
    if (hs_regstore_schema_by_id(reg->store, id, &schema, &code, err, sizeof err))
        reply_error(req, code, err);
    else if (raw)
        hs_http_respond(req, 200, SR_MEDIA_TYPE, schema, strlen(schema));
    else
        reply(req, 200, json_pack("{s:s}", "schema", schema));
    free(schema);
}

static void on_id(hs_http_req_t *req, void *opaque) {
    get_by_id(req, opaque, 0);
}
static void on_id_schema(hs_http_req_t *req, void *opaque) {
    get_by_id(req, opaque, 1);
}

static void on_id_versions(hs_http_req_t *req, void *opaque) {
    registry_t *reg = opaque;
    int32_t id;
    json_t *out = NULL;
    char err[1024];
    int code = 0;
    if (id_param(req, &id)) return;
    if (hs_regstore_id_versions(reg->store, id, &out, &code, err, sizeof err))
        reply_error(req, code, err);
    else
        reply(req, 200, out);
}

static void on_types(hs_http_req_t *req, void *opaque) {
    (void)opaque;
    reply(req, 200, json_pack("[s]", "AVRO"));
}

static void on_root(hs_http_req_t *req, void *opaque) {
    (void)opaque;
    reply(req, 200, json_object());
}

/* POST /compatibility/subjects/{subject}/versions[/{version}] */
static void on_compatibility(hs_http_req_t *req, void *opaque) {
    registry_t *reg = opaque;
    int32_t version = HS_REG_LATEST;
    if (hs_http_req_param(req, "version") && version_param(req, &version)) return;
    json_t *body, *messages = NULL;
    const char *schema = schema_of(req, &body);
    if (!schema) return;
    char err[1024];
    int code = 0, compatible = 0;
    if (hs_regstore_check(reg->store, hs_http_req_param(req, "subject"), version, schema,
                          &compatible, &messages, &code, err, sizeof err)) {
        reply_error(req, code, err);
    } else {
        json_t *out = json_pack("{s:b}", "is_compatible", compatible);
        if (query_bool(req, "verbose")) json_object_set(out, "messages", messages);
        reply(req, 200, out);
    }
    json_decref(messages);
    json_decref(body);
}

static const char invalid_level[] =
    "Invalid compatibility level. Valid values are none, backward, forward, full, "
    "backward_transitive, forward_transitive, and full_transitive";

static void on_get_config(hs_http_req_t *req, void *opaque) {
    registry_t *reg = opaque;
    hs_compat_mode_t mode;
    char err[1024];
    int code = 0;
    const char *subject = hs_http_req_param(req, "subject");
    if (hs_regstore_get_config(reg->store, subject, !subject || query_bool(req, "defaultToGlobal"),
                               &mode, &code, err, sizeof err))
        reply_error(req, code, err);
    else
        reply(req, 200, json_pack("{s:s}", "compatibilityLevel", hs_compat_mode_name(mode)));
}

static void on_put_config(hs_http_req_t *req, void *opaque) {
    registry_t *reg = opaque;
    json_t *body = body_json(req);
    if (!body) return;
    int mode = hs_compat_mode_parse(json_string_value(json_object_get(body, "compatibility")));
    char err[1024];
    int code = 0;
    if (mode < 0)
        reply_error(req, 42203, invalid_level);
    else if (hs_regstore_set_config(reg->store, hs_http_req_param(req, "subject"),
                                    (hs_compat_mode_t)mode, &code, err, sizeof err))
        reply_error(req, code, err);
    else
        reply(req, 200,
              json_pack("{s:s}", "compatibility", hs_compat_mode_name((hs_compat_mode_t)mode)));
    json_decref(body);
}

static void on_delete_config(hs_http_req_t *req, void *opaque) {
    registry_t *reg = opaque;
    hs_compat_mode_t previous;
    char err[1024];
    int code = 0;
    if (hs_regstore_delete_config(reg->store, hs_http_req_param(req, "subject"), &previous, &code,
                                  err, sizeof err))
        reply_error(req, code, err);
    else
        reply(req, 200, json_pack("{s:s}", "compatibilityLevel", hs_compat_mode_name(previous)));
}

static const struct {
    const char *method, *pattern;
    hs_http_handler_fn fn;
} routes[] = {
    {"GET", "/", on_root},
    {"GET", "/subjects", on_subjects},
    {"POST", "/subjects/{subject}", on_lookup},
    {"DELETE", "/subjects/{subject}", on_delete_subject},
    {"GET", "/subjects/{subject}/versions", on_versions},
    {"POST", "/subjects/{subject}/versions", on_register},
    {"GET", "/subjects/{subject}/versions/{version}", on_version},
    {"DELETE", "/subjects/{subject}/versions/{version}", on_delete_version},
    {"GET", "/subjects/{subject}/versions/{version}/schema", on_version_schema},
    {"GET", "/schemas/types", on_types},
    {"GET", "/schemas/ids/{id}", on_id},
    {"GET", "/schemas/ids/{id}/schema", on_id_schema},
    {"GET", "/schemas/ids/{id}/versions", on_id_versions},
    {"POST", "/compatibility/subjects/{subject}/versions", on_compatibility},
    {"POST", "/compatibility/subjects/{subject}/versions/{version}", on_compatibility},
    {"GET", "/config", on_get_config},
    {"PUT", "/config", on_put_config},
    {"DELETE", "/config", on_delete_config},
    {"GET", "/config/{subject}", on_get_config},
    {"PUT", "/config/{subject}", on_put_config},
    {"DELETE", "/config/{subject}", on_delete_config},
};

static int ready(void *opaque, char *why, size_t why_size) {
    registry_t *reg = opaque;
    return hs_regstore_ping(reg->store, why, why_size) == HS_OK;
}

/* Starts the server on cfg's registry.listen; NULL after printing why. */
static hs_http_server_t *serve(const hs_config_t *cfg, registry_t *reg) {
    char err[512];
    hs_http_opts_t opts = {
        .listen = hs_config_str(cfg, "registry.listen"),
        .service = "registry",
        .max_body_bytes = (size_t)hs_config_int(cfg, "http.max_body_bytes"),
        .threads = (int)hs_config_int(cfg, "http.threads"),
    };
    hs_http_server_t *srv = hs_http_server_new(&opts, err, sizeof err);
    for (size_t i = 0; srv && i < sizeof routes / sizeof routes[0]; i++)
        hs_http_route(srv, routes[i].method, routes[i].pattern, routes[i].fn, reg);
    if (srv) hs_http_set_ready(srv, ready, reg);
    if (srv) hs_http_set_error_fn(srv, server_error);
    if (srv && hs_http_server_start(srv, err, sizeof err)) {
        hs_http_server_destroy(srv);
        srv = NULL;
    }
    if (!srv) fprintf(stderr, "hookstream registry: %s\n", err);
    return srv;
}

static int run(const hs_config_t *cfg) {
    char err[512];
    /* Block the stop signals before any thread starts so sigwait is where they arrive. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    int mode = hs_compat_mode_parse(hs_config_str(cfg, "registry.compatibility"));
    registry_t reg = {.schemas = hs_metrics_gauge("hs_registry_schemas_total",
                                                  "Distinct schemas (ids) in the registry", NULL)};
    reg.store = hs_regstore_new(
        hs_config_str(cfg, "postgres.dsn"), (int)hs_config_int(cfg, "postgres.connect_timeout_s"),
        mode < 0 ? HS_COMPAT_BACKWARD : (hs_compat_mode_t)mode, err, sizeof err);
    if (!reg.store) {
        fprintf(stderr, "hookstream registry: %s\n", err);
        return 1;
    }
    update_gauge(&reg);
    hs_http_server_t *srv = serve(cfg, &reg);
    if (!srv) {
        hs_regstore_destroy(reg.store);
        return 1;
    }
    const char *listen = hs_config_str(cfg, "registry.listen");
    const char *colon = strrchr(listen, ':');
    int port = hs_http_server_port(srv);
    printf("http://%.*s:%d\n", (int)(colon ? colon - listen : 0), listen, port);
    fflush(stdout);
    hs_log(HS_LOG_INFO, "registry ready", "{s:s, s:i, s:s}", "listen", listen, "port", port,
           "store", hs_regstore_describe(reg.store));
    int sig = 0;
    sigwait(&stop, &sig);
    hs_log(HS_LOG_INFO, "registry stopping", "{s:s}", "signal",
           sig == SIGINT ? "SIGINT" : "SIGTERM");
    hs_http_server_destroy(srv);
    hs_regstore_destroy(reg.store);
    return 0;
}

int cmd_registry(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"listen", required_argument, 0, 'l'},
                                         {"dsn", required_argument, 0, 'd'},
                                         {0, 0, 0, 0}};
    cli_common_t common = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "l:d:", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        if (opt == 'h') return fputs(usage, stdout), 0;
        if (opt == 'l')
            cli_set(&common, "registry.listen", optarg);
        else if (opt == 'd')
            cli_set(&common, "postgres.dsn", optarg);
        else
            return cli_usage_error("registry");
    }
    if (optind < argc) {
        fprintf(stderr, "hookstream registry: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    hs_config_t *cfg = cli_config_load(&common, "registry");
    int rc = run(cfg);
    hs_config_destroy(cfg);
    return rc;
}
