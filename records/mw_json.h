/* A small streaming JSON writer for machine-readable output (`--json`). Numbers are
 * written with 17 significant digits (round-trip exact for doubles); a non-finite
 * number is written as null, since JSON has no NaN, and callers say why beside it. */
#ifndef MW_JSON_H
#define MW_JSON_H

#include <stdio.h>

#define MW_JSON_MAX_DEPTH 16

typedef struct mw_json {
    FILE *f;
    int depth;
    int first[MW_JSON_MAX_DEPTH]; /* no member written yet at this depth */
} mw_json;

void mw_json_init(mw_json *j, FILE *f);
void mw_json_object_begin(mw_json *j, const char *key); /* key NULL at top level/in arrays */
void mw_json_object_end(mw_json *j);
void mw_json_array_begin(mw_json *j, const char *key);
void mw_json_array_end(mw_json *j);
void mw_json_number(mw_json *j, const char *key, double v);
void mw_json_integer(mw_json *j, const char *key, long long v);
/* above 2^53, where readers that hold numbers as doubles would round it, a string of digits */
void mw_json_unsigned(mw_json *j, const char *key, unsigned long long v);
void mw_json_string(mw_json *j, const char *key, const char *v); /* v NULL: null */
void mw_json_bool(mw_json *j, const char *key, int v);
void mw_json_null(mw_json *j, const char *key);
/* Ends the document with a newline; nonzero if writing failed. */
int mw_json_finish(mw_json *j);

#endif
