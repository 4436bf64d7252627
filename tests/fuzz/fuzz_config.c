/* libFuzzer target for the YAML configuration loader: any bytes must either load or fail with
 * a message, never crash or leak. Values that load must read back through the typed accessors. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hs_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz_config", 0);
    if (fd < 0) abort();
    if (size && write(fd, data, size) != (ssize_t)size) abort();
    char path[64], err[512];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    hs_config_t *cfg = hs_config_new();
    if (hs_config_load_file(cfg, path, err, sizeof err) == HS_OK) {
        for (const hs_config_key_t *k = hs_config_keys; k->key; k++) {
            if (!hs_config_str(cfg, k->key)) abort();
            if (k->type == HS_CFG_INT) (void)hs_config_int(cfg, k->key);
        }
        for (size_t i = 0; hs_config_trees[i]; i++)
            (void)hs_config_tree(cfg, hs_config_trees[i]);
    } else if (!err[0]) {
        abort(); /* a failure must say why */
    }
    hs_config_destroy(cfg);
    close(fd);
    return 0;
}
