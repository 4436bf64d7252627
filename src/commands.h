/* Entry points of the subcommands listed in main.c. Each takes the argv that starts at the
 * command name and returns the process exit code (0 ok, 1 failure, 2 usage). */
#ifndef HS_COMMANDS_H
#define HS_COMMANDS_H

int cmd_version(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_broker(int argc, char **argv);
int cmd_dev(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_topics(int argc, char **argv);
int cmd_groups(int argc, char **argv);
int cmd_schemas(int argc, char **argv);
int cmd_registry(int argc, char **argv);
int cmd_produce(int argc, char **argv);
int cmd_consume(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_deliver(int argc, char **argv);
int cmd_endpoints(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_workflows(int argc, char **argv);
int cmd_invalidator(int argc, char **argv);
int cmd_analytics(int argc, char **argv);
int cmd_flags(int argc, char **argv);
int cmd_cache_proxy(int argc, char **argv);

#endif
