/* Functions that invite buffer overflows or silent parse errors; use snprintf, strtol with
 * checks, and explicit lengths instead. Included in every translation unit by the build. */
#ifndef HS_BANNED_H
#define HS_BANNED_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define HS_BANNED(f) sorry_##f##_is_banned
#undef strcpy
#define strcpy(a, b) HS_BANNED(strcpy)
#undef strcat
#define strcat(a, b) HS_BANNED(strcat)
#undef sprintf
#define sprintf(...) HS_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) HS_BANNED(vsprintf)
#undef gets
#define gets(a) HS_BANNED(gets)
#undef atoi
#define atoi(a) HS_BANNED(atoi)
#endif
