/* libFuzzer target for the schema compatibility checker. The input is two schemas separated by
 * a NUL byte (reader, writer); any text must give a verdict or a parse error, never crash. A
 * schema that parses must be able to read its own data. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hs_compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 2);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = text[size + 1] = 0;
    const char *reader = text, *writer = text + strlen(text) + 1;
    if (writer > text + size) writer = reader;
    char err[512];
    err[0] = 0;
    hs_err_t rc = hs_compat_can_read(reader, writer, err, sizeof err);
    if (rc != HS_OK && !err[0]) abort(); /* a refusal must say why */
    if (hs_compat_can_read(reader, reader, err, sizeof err) == HS_ERR_CONFLICT) abort();
    free(text);
    return 0;
}
