/* Streaming JSON writer (json.h). */
#include "mw_json.h"

#include <math.h>

void mw_json_init(mw_json *j, FILE *f)
{
    j->f = f;
    j->depth = 0;
    j->first[0] = 1;
}

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* The separator and key before a value. */
static void member(mw_json *j, const char *key)
{
    if (!j->first[j->depth])
        fputs(", ", j->f);
    j->first[j->depth] = 0;
    if (key) {
        put_string(j->f, key);
        fputs(": ", j->f);
    }
}

static void open(mw_json *j, const char *key, char c)
{
    member(j, key);
    fputc(c, j->f);
    if (j->depth + 1 < MW_JSON_MAX_DEPTH)
        j->depth++;
    j->first[j->depth] = 1;
}

static void close_(mw_json *j, char c)
{
    fputc(c, j->f);
    if (j->depth > 0)
        j->depth--;
}

void mw_json_object_begin(mw_json *j, const char *key) { open(j, key, '{'); }
void mw_json_object_end(mw_json *j) { close_(j, '}'); }
void mw_json_array_begin(mw_json *j, const char *key) { open(j, key, '['); }
void mw_json_array_end(mw_json *j) { close_(j, ']'); }

void mw_json_number(mw_json *j, const char *key, double v)
{
    member(j, key);
    if (isfinite(v))
        fprintf(j->f, "%.17g", v);
    else
        fputs("null", j->f);
}

void mw_json_integer(mw_json *j, const char *key, long long v)
{
    member(j, key);
    fprintf(j->f, "%lld", v);
}

void mw_json_unsigned(mw_json *j, const char *key, unsigned long long v)
{
    member(j, key);
    /* above 2^53 a JSON number is rounded by most readers (JavaScript, pandas, jq): a seed
     * must come back as it was, so it is a string there */
    fprintf(j->f, v > (1ull << 53) ? "\"%llu\"" : "%llu", v);
}

void mw_json_string(mw_json *j, const char *key, const char *v)
{
    member(j, key);
    if (v)
        put_string(j->f, v);
    else
        fputs("null", j->f);
}

void mw_json_bool(mw_json *j, const char *key, int v)
{
    member(j, key);
    fputs(v ? "true" : "false", j->f);
}

void mw_json_null(mw_json *j, const char *key)
{
    member(j, key);
    fputs("null", j->f);
}

int mw_json_finish(mw_json *j)
{
    fputc('\n', j->f);
    return fflush(j->f) != 0 || ferror(j->f);
}
