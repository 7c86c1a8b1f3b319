/* The command line, driven by the records' field tables (args.h). */
#include "args.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Spellings of earlier versions, and what each is now. */
static const struct {
    const char *old, *now;
} renamed[] = {
    {"depths", "depth"},  {"archs", "arch"},          {"f-acts", "f-act"},
    {"out-acts", "out-act"}, {"dtypes", "dtype"},     {"seeds", "seed"},
    {"channels-list", "channels"}, {"dump", "out"},  {"report", "out"},
    {"all", NULL}, /* layer check --all: no names now means every layer */
};

int mw_cli_parse_only = 0;

void mw_cli_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "mwverify %s: %s\n", cmd, msg);
}

int mw_exit_of(mw_status st)
{
    if (st == MW_ERR_INTERRUPTED) /* as a shell reports a command a signal stopped */
        return 128 + (mw_interrupted() ? mw_interrupted() : 2);
    return st == MW_OK ? MW_EXIT_OK
           : st == MW_ERR_ARG || st == MW_ERR_FORMAT ? MW_EXIT_USAGE
                                                     : MW_EXIT_RUNTIME;
}

void mw_command_line(const char *cmd, int argc, char **argv, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "mwverify %s", cmd);
    for (int i = 0; i < argc && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, " %s", argv[i]);
}

void mw_cli_add(mw_cli *cli, const mw_optgroup *g, void *state)
{
    if (cli->n_sets < MW_CLI_MAX_SETS)
        cli->sets[cli->n_sets++] = (mw_optset){g, state};
}

/* Is f an option of its group? */
static int is_option(const mw_optgroup *g, const mw_field *f)
{
    return f->opt && !(f->flags & g->skip);
}

/* The records of a set that a field applies to: the first, the second, or both. */
static int targets(const mw_optset *s, const mw_field *f, void *out[2])
{
    const mw_optgroup *g = s->group;
    int n = 0;
    if (!g->offset2 || !(f->flags & MW_F_REVNET))
        out[n++] = (char *)s->state + g->offset;
    if (g->offset2 && !(f->flags & MW_F_MLP))
        out[n++] = (char *)s->state + g->offset2;
    return n;
}

/* Does a boolean's default (any of its records) say yes? Then --no-<name> is shown. */
static int default_on(const mw_optset *s, const mw_field *f)
{
    void *recs[2];
    int n = targets(s, f, recs);
    for (int i = 0; i < n; i++)
        if (*(const int *)mw_field_at_c(f, recs[i]))
            return 1;
    return 0;
}

/* Every option name of the command, for suggestions. */
static size_t option_names(const mw_cli *cli, const char **out, size_t max)
{
    size_t n = 0;
    for (int s = 0; s < cli->n_sets; s++)
        for (const mw_field *f = cli->sets[s].group->record->fields; f->name && n < max; f++)
            if (is_option(cli->sets[s].group, f))
                out[n++] = f->opt;
    return n;
}

static int unknown_option(const mw_cli *cli, const char *name, size_t len)
{
    char word[128];
    snprintf(word, sizeof word, "%.*s", (int)len, name);
    for (size_t i = 0; i < sizeof renamed / sizeof renamed[0]; i++)
        if (strcmp(word, renamed[i].old) == 0 && !renamed[i].now && cli->words_meta) {
            fprintf(stderr, "mwverify %s: --%s is gone: give no %s to take them all\n",
                    cli->cmd, word, cli->words_meta);
            return MW_EXIT_USAGE;
        } else if (strcmp(word, renamed[i].old) == 0 && renamed[i].now) {
            fprintf(stderr, "mwverify %s: --%s is now --%s (one spelling on every command; a "
                            "grid takes a comma list)\n", cli->cmd, word, renamed[i].now);
            return MW_EXIT_USAGE;
        }
    const char *names[256];
    size_t n = option_names(cli, names, 256);
    const char *near = mw_nearest(word, names, n);
    if (!near && strncmp(word, "no-", 3) == 0)
        near = mw_nearest(word + 3, names, n);
    fprintf(stderr, "mwverify %s: unknown option --%s%s%s%s (see mwverify %s --help)\n", cli->cmd,
            word, near ? "; did you mean --" : "", near ? near : "", near ? "?" : "", cli->cmd);
    return MW_EXIT_USAGE;
}

/* Record that a field of a record was set; refuse it set twice. */
static int note_given(mw_cli *cli, const mw_field *f, void *rec, const char *opt)
{
    for (int i = 0; i < cli->n_given; i++)
        if (cli->given[i].f == f && cli->given[i].rec == rec) {
            if (strcmp(cli->given[i].opt, opt) == 0)
                fprintf(stderr, "mwverify %s: --%s given twice\n", cli->cmd, opt);
            else
                fprintf(stderr, "mwverify %s: --%s and --%s: give one\n", cli->cmd,
                        cli->given[i].opt, opt);
            return 1;
        }
    if (cli->n_given < MW_CLI_MAX_GIVEN)
        cli->given[cli->n_given++] = (mw_given){f, rec, opt};
    return 0;
}

/* Apply one option to every field that has it. Returns the number of fields it set, or
 * -1 after an error line. */
static int apply(mw_cli *cli, const char *name, size_t len, const char *value, int *i, int argc,
                 char **argv)
{
    int hits = 0;
    for (int s = 0; s < cli->n_sets; s++) {
        const mw_optgroup *g = cli->sets[s].group;
        for (const mw_field *f = g->record->fields; f->name; f++) {
            if (!is_option(g, f))
                continue;
            const int negated = f->kind == MW_FK_BOOL && len == strlen(f->opt) + 3 &&
                                strncmp(name, "no-", 3) == 0 &&
                                strncmp(name + 3, f->opt, len - 3) == 0;
            if (!negated && (strlen(f->opt) != len || strncmp(f->opt, name, len) != 0))
                continue;
            const char *opt = negated ? name : f->opt;
            if (f->kind == MW_FK_BOOL) {
                if (value) {
                    fprintf(stderr, "mwverify %s: --%.*s takes no value\n", cli->cmd, (int)len, name);
                    return -1;
                }
            } else if (!value) {
                if (*i + 1 >= argc) {
                    fprintf(stderr, "mwverify %s: --%s needs a value (%s)\n", cli->cmd, f->opt,
                            f->meta ? f->meta : "a value");
                    return -1;
                }
                value = argv[++*i];
            }
            void *recs[2];
            int n = targets(&cli->sets[s], f, recs);
            for (int k = 0; k < n; k++) {
                mw_err err;
                if (note_given(cli, f, recs[k], negated ? name : f->opt))
                    return -1;
                if (mw_field_parse(f, recs[k], f->kind == MW_FK_BOOL ? (negated ? "0" : "1") : value,
                                   &err) != MW_OK) {
                    mw_cli_error(cli->cmd, err.msg);
                    return -1;
                }
            }
            (void)opt;
            hits++;
        }
    }
    return hits;
}

int mw_cli_parse(mw_cli *cli, int argc, char **argv)
{
    cli->help = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli->help = 1;
            return MW_EXIT_OK;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (cli->words_meta && cli->n_words < MW_CLI_MAX_WORDS && a[0] != '-') {
                cli->words[cli->n_words++] = a;
                continue;
            }
            fprintf(stderr, "mwverify %s: unexpected argument '%s' (options start with --; see "
                            "mwverify %s --help)\n", cli->cmd, a, cli->cmd);
            return MW_EXIT_USAGE;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int hits = apply(cli, name, len, eq ? eq + 1 : NULL, &i, argc, argv);
        if (hits < 0)
            return MW_EXIT_USAGE;
        if (hits == 0)
            return unknown_option(cli, name, len);
    }
    return MW_EXIT_OK;
}

int mw_cli_given(const mw_cli *cli, const char *opt)
{
    for (int i = 0; i < cli->n_given; i++)
        if (strcmp(cli->given[i].f->opt, opt) == 0)
            return 1;
    return 0;
}

static int in_scope(const mw_field *f, unsigned archs)
{
    return !((f->flags & MW_F_MLP) && !(archs & (1u << MW_ARCH_MLP))) &&
           !((f->flags & MW_F_REVNET) && !(archs & (1u << MW_ARCH_REVNET)));
}

const char *mw_cli_off_scope(const mw_cli *cli, unsigned archs)
{
    for (int i = 0; i < cli->n_given; i++) {
        if (in_scope(cli->given[i].f, archs))
            continue;
        int used = 0; /* the same option may set another field that applies (--image) */
        for (int k = 0; k < cli->n_given && !used; k++)
            used = strcmp(cli->given[k].f->opt, cli->given[i].f->opt) == 0 &&
                   in_scope(cli->given[k].f, archs);
        if (!used)
            return cli->given[i].f->opt;
    }
    return NULL;
}

/* ---- help ---- */

/* A field's value for --help: numbers as %g, the rest as text. */
static const char *value_text(const mw_field *f, const void *rec, char *buf, size_t n)
{
    if (f->parse == mw_parse_hxw) {
        const int *hw = mw_field_at_c(f, rec);
        snprintf(buf, n, "%dx%d", hw[0], hw[1]);
        return buf;
    }
    if (f->kind == MW_FK_F64 && f->unit == MW_UNIT_NONE) {
        snprintf(buf, n, "%g", *(const double *)mw_field_at_c(f, rec));
        return buf;
    }
    return mw_field_text(f, rec, buf, n);
}

/* "(default X)", or "(default mlp X, revnet Y)" when the two records differ. */
static void default_text(const mw_optset *s, const mw_field *f, char *buf, size_t n)
{
    buf[0] = '\0';
    if ((f->flags & MW_F_NO_DEFAULT) || f->kind == MW_FK_BOOL)
        return;
    void *recs[2];
    int k = targets(s, f, recs);
    char a[256], b[256];
    value_text(f, recs[0], a, sizeof a);
    if (k == 2 && strcmp(a, value_text(f, recs[1], b, sizeof b)) != 0)
        snprintf(buf, n, "(default mlp %s, revnet %s)", a, b);
    else if (a[0])
        snprintf(buf, n, "(default %s)", a);
}

void mw_cli_wrap(FILE *f, const char *text, int indent, int col)
{
    const int width = 80;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\n')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " \n"), chars = 0; /* characters, not bytes (UTF-8) */
        for (size_t k = 0; k < len; k++)
            chars += ((unsigned char)p[k] & 0xC0) != 0x80;
        if (col > indent && col + 1 + (int)chars > width) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", (int)len, p);
        col += (int)chars;
        p += len;
    }
    fputc('\n', f);
}

static void print_option(FILE *out, const mw_optset *s, const mw_field *f)
{
    char head[80], def[600], text[2048];
    if (f->kind == MW_FK_BOOL)
        snprintf(head, sizeof head, "--%s%s", default_on(s, f) ? "[no-]" : "", f->opt);
    else
        snprintf(head, sizeof head, "--%s %s", f->opt, f->meta ? f->meta : "VALUE");
    default_text(s, f, def, sizeof def);
    snprintf(text, sizeof text, "%s%s%s", f->help ? f->help : "", def[0] ? " " : "", def);
    int chars = 0; /* the head's width on a terminal: UTF-8 characters, not bytes */
    for (const char *c = head; *c; c++)
        chars += ((unsigned char)*c & 0xC0) != 0x80;
    if (chars > 24) /* a long option on a line of its own */
        fprintf(out, "  %s\n%27s", head, "");
    else
        fprintf(out, "  %s%*s", head, 25 - chars, "");
    mw_cli_wrap(out, text, 27, 27);
}

void mw_cli_help(FILE *f, const mw_cli *cli)
{
    for (int s = 0; s < cli->n_sets; s++) {
        const mw_optgroup *g = cli->sets[s].group;
        int any = 0;
        for (const mw_field *fd = g->record->fields; fd->name; fd++)
            any |= is_option(g, fd);
        if (!any)
            continue;
        fprintf(f, "\n%s:\n", g->heading);
        for (const mw_field *fd = g->record->fields; fd->name; fd++)
            if (is_option(g, fd))
                print_option(f, &cli->sets[s], fd);
    }
}

void mw_cli_diff(const mw_cli *cli, const void *base, const void *other, size_t state_size,
                 char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int s = 0; s < cli->n_sets; s++) {
        const mw_optset *set = &cli->sets[s];
        const size_t rel = (size_t)((const char *)set->state - (const char *)base);
        if ((const char *)set->state < (const char *)base || rel >= state_size)
            continue; /* a group of another state (the command's own) */
        const mw_optset twin = {set->group, (char *)other + rel};
        for (const mw_field *f = set->group->record->fields; f->name && used < n; f++) {
            if (!is_option(set->group, f) || f->kind == MW_FK_BOOL)
                continue;
            char a[300], b[300];
            default_text(set, f, a, sizeof a);
            default_text(&twin, f, b, sizeof b);
            if (strcmp(a, b) == 0 || !b[0])
                continue;
            /* "(default X)" -> "X" */
            b[strlen(b) - 1] = '\0';
            used += (size_t)snprintf(buf + used, n - used, "%s%s %s", used ? "; " : "", f->opt,
                                     b + strlen("(default "));
        }
    }
}
