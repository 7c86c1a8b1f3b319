/* Minimal JSON reader (jsonr.h). Recursive descent; fine for test inputs. */
#include "jsonr.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *p;
    char *err;
    size_t err_len;
    int failed;
} parser;

static void fail(parser *ps, const char *what)
{
    if (!ps->failed)
        snprintf(ps->err, ps->err_len, "%s near '%.20s'", what, ps->p);
    ps->failed = 1;
}

static void skip_ws(parser *ps)
{
    while (isspace((unsigned char)*ps->p))
        ps->p++;
}

static int parse_value(parser *ps, jr_value *v, int depth);

static char *parse_string_text(parser *ps)
{
    /* ps->p at the opening quote */
    ps->p++;
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    while (s && *ps->p && *ps->p != '"') {
        char c = *ps->p++;
        if (c == '\\') {
            char e = *ps->p++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': /* tests never need non-ASCII: keep a placeholder */
                for (int i = 0; i < 4 && *ps->p; i++)
                    ps->p++;
                c = '?';
                break;
            case '\0': fail(ps, "unterminated escape"); free(s); return NULL;
            default: c = e;
            }
        }
        if (n + 1 >= cap) {
            char *t = realloc(s, cap *= 2);
            if (!t) {
                free(s);
                return NULL;
            }
            s = t;
        }
        s[n++] = c;
    }
    if (!s || *ps->p != '"') {
        fail(ps, "unterminated string");
        free(s);
        return NULL;
    }
    ps->p++;
    s[n] = '\0';
    return s;
}

static int push(jr_value *v, char *key, size_t *cap)
{
    if (v->n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        jr_value *it = realloc(v->items, c * sizeof *it);
        if (!it)
            return 1;
        v->items = it;
        if (v->type == JR_OBJECT) {
            char **k = realloc(v->keys, c * sizeof *k);
            if (!k)
                return 1;
            v->keys = k;
        }
        *cap = c;
    }
    memset(&v->items[v->n], 0, sizeof v->items[0]);
    if (v->type == JR_OBJECT)
        v->keys[v->n] = key;
    v->n++;
    return 0;
}

static int parse_container(parser *ps, jr_value *v, int depth, char close)
{
    size_t cap = 0;
    ps->p++;
    skip_ws(ps);
    if (*ps->p == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(ps);
        if (v->type == JR_OBJECT) {
            if (*ps->p != '"') {
                fail(ps, "expected a key");
                return 1;
            }
            if (!(key = parse_string_text(ps)))
                return 1;
            skip_ws(ps);
            if (*ps->p++ != ':') {
                free(key);
                fail(ps, "expected ':'");
                return 1;
            }
        }
        if (push(v, key, &cap)) {
            free(key);
            fail(ps, "out of memory");
            return 1;
        }
        if (parse_value(ps, &v->items[v->n - 1], depth + 1))
            return 1;
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return 0;
        }
        fail(ps, "expected ',' or a closing bracket");
        return 1;
    }
}

static int parse_value(parser *ps, jr_value *v, int depth)
{
    skip_ws(ps);
    if (depth > 64) {
        fail(ps, "nesting too deep");
        return 1;
    }
    const char *p = ps->p;
    if (*p == '{') {
        v->type = JR_OBJECT;
        return parse_container(ps, v, depth, '}');
    }
    if (*p == '[') {
        v->type = JR_ARRAY;
        return parse_container(ps, v, depth, ']');
    }
    if (*p == '"') {
        v->type = JR_STRING;
        return (v->text = parse_string_text(ps)) == NULL;
    }
    if (strncmp(p, "null", 4) == 0) {
        v->type = JR_NULL;
        ps->p += 4;
        return 0;
    }
    if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0) {
        v->type = JR_BOOL;
        size_t n = *p == 't' ? 4 : 5;
        v->text = strndup(p, n);
        ps->p += n;
        return v->text == NULL;
    }
    size_t n = strspn(p, "+-0123456789.eE");
    if (n == 0) {
        fail(ps, "unexpected character");
        return 1;
    }
    v->type = JR_NUMBER;
    v->text = strndup(p, n);
    ps->p += n;
    return v->text == NULL;
}

static void free_inner(jr_value *v)
{
    free(v->text);
    for (size_t i = 0; i < v->n; i++) {
        free_inner(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

void jr_free(jr_value *v)
{
    if (!v)
        return;
    free_inner(v);
    free(v);
}

jr_value *jr_parse(const char *text, char *err, size_t err_len)
{
    parser ps = {text, err, err_len, 0};
    jr_value *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    if (parse_value(&ps, v, 0) == 0) {
        skip_ws(&ps);
        if (*ps.p != '\0')
            fail(&ps, "trailing text");
    } else if (!ps.failed) {
        fail(&ps, "out of memory");
    }
    if (ps.failed) {
        jr_free(v);
        return NULL;
    }
    return v;
}

jr_value *jr_parse_file(const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "cannot open %s", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, err_len, "cannot read %s", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[size] = '\0';
    jr_value *v = jr_parse(buf, err, err_len);
    free(buf);
    return v;
}

const jr_value *jr_get(const jr_value *obj, const char *key)
{
    if (!obj || obj->type != JR_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}

double jr_number(const jr_value *v)
{
    return v && v->text ? strtod(v->text, NULL) : 0.0;
}
