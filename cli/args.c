/* Command-line parsing (args.h). */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const mw_opt *find(const mw_opt *const *tables, const char *name, size_t len)
{
    for (; *tables; tables++)
        for (const mw_opt *o = *tables; o->name; o++)
            if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                return o;
    return NULL;
}

void mw_args_command_line(const char *cmd, int argc, char **argv, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "mwverify %s", cmd);
    for (int i = 0; i < argc && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, " %s", argv[i]);
}

int mw_args_parse(const char *cmd, const mw_opt *const *tables, int argc, char **argv,
                  mw_opt_apply apply, void *state, int *help)
{
    char err[512];
    *help = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = 1;
            return MW_EXIT_OK;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "mwverify %s: unexpected argument '%s' (options start with --; "
                            "see mwverify %s --help)\n", cmd, a, cmd);
            return MW_EXIT_USAGE;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const mw_opt *o = find(tables, name, len);
        if (!o) {
            fprintf(stderr, "mwverify %s: unknown option --%.*s (see mwverify %s --help)\n",
                    cmd, (int)len, name, cmd);
            return MW_EXIT_USAGE;
        }
        const char *value = NULL;
        if (o->meta) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                fprintf(stderr, "mwverify %s: --%s needs a value (%s)\n", cmd, o->name, o->meta);
                return MW_EXIT_USAGE;
            }
        } else if (eq) {
            fprintf(stderr, "mwverify %s: --%s takes no value\n", cmd, o->name);
            return MW_EXIT_USAGE;
        }
        if (apply(state, o->name, value, err, sizeof err) != 0) {
            fprintf(stderr, "mwverify %s: %s\n", cmd, err);
            return MW_EXIT_USAGE;
        }
    }
    return MW_EXIT_OK;
}

void mw_args_print_options(FILE *f, const mw_opt *opts)
{
    for (const mw_opt *o = opts; o->name; o++) {
        char head[64];
        snprintf(head, sizeof head, "--%s%s%s", o->name, o->meta ? " " : "",
                 o->meta ? o->meta : "");
        fprintf(f, "  %-24s ", head);
        const char *h = o->help;
        /* continuation lines of the help text are indented under the first */
        while (*h) {
            const char *nl = strchr(h, '\n');
            size_t n = nl ? (size_t)(nl - h) : strlen(h);
            fprintf(f, "%.*s\n", (int)n, h);
            h += n + (nl ? 1 : 0);
            if (*h)
                fprintf(f, "  %-24s ", "");
        }
    }
}

int mw_parse_int(const char *name, const char *v, long long lo, long long hi, int *out,
                 char *err, size_t err_len)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno == ERANGE || x < lo || x > hi) {
        snprintf(err, err_len, "--%s %s: allowed an integer %lld..%lld", name, v, lo, hi);
        return 1;
    }
    *out = (int)x;
    return 0;
}

int mw_parse_u64(const char *name, const char *v, uint64_t *out, char *err, size_t err_len)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (*v == '\0' || *v == '-' || *v == '+' || *end != '\0' || errno == ERANGE) {
        snprintf(err, err_len, "--%s %s: allowed an integer 0..18446744073709551615", name, v);
        return 1;
    }
    *out = (uint64_t)x;
    return 0;
}

int mw_parse_double(const char *name, const char *v, double lo, double hi, double *out,
                    char *err, size_t err_len)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || !isfinite(x) || x < lo || x > hi) {
        snprintf(err, err_len, "--%s %s: allowed a number in [%g, %g]", name, v, lo, hi);
        return 1;
    }
    *out = x;
    return 0;
}
