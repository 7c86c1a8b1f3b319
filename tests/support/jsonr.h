/* A minimal JSON reader for the tests (golden files, --json output): a tree of values
 * whose numbers and strings keep their source text, so hex floats and 30-digit
 * decimals reach strtod or mpfr_set_str untouched. */
#ifndef MW_JSONR_H
#define MW_JSONR_H

#include <stddef.h>

typedef enum { JR_NULL, JR_BOOL, JR_NUMBER, JR_STRING, JR_ARRAY, JR_OBJECT } jr_type;

typedef struct jr_value {
    jr_type type;
    char *text;             /* number or string text (strings unescaped), bool "true"/"false" */
    struct jr_value *items; /* array items or object values */
    char **keys;            /* object keys */
    size_t n;
} jr_value;

/* Parse text; returns NULL and writes err on a syntax error. */
jr_value *jr_parse(const char *text, char *err, size_t err_len);
/* Read and parse a file. */
jr_value *jr_parse_file(const char *path, char *err, size_t err_len);
void jr_free(jr_value *v);

const jr_value *jr_get(const jr_value *obj, const char *key); /* NULL if absent */
double jr_number(const jr_value *v); /* strtod of a number's or string's text */

#endif
