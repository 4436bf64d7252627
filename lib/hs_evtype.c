#include "hs_evtype.h"

#include <string.h>

int hs_evtype_match(const char *pattern, const char *type) {
    if (!pattern || !type) return 0;
    if (strcmp(pattern, "*") == 0) return 1;
    size_t plen = strlen(pattern);
    if (plen >= 2 && pattern[plen - 1] == '*' && pattern[plen - 2] == '.') {
        /* "support.*" needs at least one segment after the dot: "support." alone is not a type,
         * and "support" itself is the parent, not a child. */
        return strncmp(pattern, type, plen - 1) == 0 && type[plen - 1] != '\0';
    }
    return strcmp(pattern, type) == 0;
}

static int seg_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

int hs_evtype_pattern_ok(const char *pattern) {
    if (!pattern || !*pattern) return 0;
    const char *p = pattern;
    for (;;) {
        if (p[0] == '*' && p[1] == '\0') return 1;
        size_t n = 0;
        while (seg_char(p[n]))
            n++;
        if (n == 0) return 0;
        p += n;
        if (*p == '\0') return 1;
        if (*p != '.') return 0;
        p++;
    }
}
