/* The command line: options are the fields of records (mw_record.h) gathered in groups
 * (mw_optgroup), so a command's parser, its --help and its defaults come from the same
 * tables that write its reports. Each option is --name VALUE or --name=VALUE (a flag:
 * --name, and --no-name where the default is on), given at most once; a bad value, an
 * unknown option (with the nearest known one suggested) or a stray word is one line on
 * standard error and exit 2. */
#ifndef MW_ARGS_H
#define MW_ARGS_H

#include <stdio.h>

#include "mw_record.h"
#include "mw_spec.h"

#define MW_EXIT_OK 0
#define MW_EXIT_CHECKS 1
#define MW_EXIT_USAGE 2
#define MW_EXIT_RUNTIME 3

/* A group of options and the state it sets. */
typedef struct mw_optset {
    const mw_optgroup *group;
    void *state;
} mw_optset;

enum { MW_CLI_MAX_SETS = 16, MW_CLI_MAX_GIVEN = 128, MW_CLI_MAX_WORDS = 64 };

/* A field the command line set, in which record, by which option. */
typedef struct mw_given {
    const mw_field *f;
    void *rec;
    const char *opt;
} mw_given;

typedef struct mw_cli {
    const char *cmd;          /* "suite stability": in messages and usage */
    mw_optset sets[MW_CLI_MAX_SETS];
    int n_sets;
    const char *words_meta;   /* positional words accepted ("NAME..."), NULL: none */
    /* what the parse found */
    int help;
    const char *words[MW_CLI_MAX_WORDS];
    int n_words;
    mw_given given[MW_CLI_MAX_GIVEN];
    int n_given;
} mw_cli;

/* Add a group and its state (relative offsets resolved against state). */
void mw_cli_add(mw_cli *cli, const mw_optgroup *g, void *state);

/* When set, every command parses and checks its options and returns MW_EXIT_OK (or its
 * --help, or its usage error) before any work: no file is read or written. For the
 * command-line fuzzer (fuzz/fuzz_cli.c); mwverify never sets it. */
extern int mw_cli_parse_only;

/* Parse the words after the command. MW_EXIT_OK (cli->help set for --help or -h, parsing
 * stopped there), or MW_EXIT_USAGE after one line on stderr. */
int mw_cli_parse(mw_cli *cli, int argc, char **argv);
/* Was the option given? */
int mw_cli_given(const mw_cli *cli, const char *opt);
/* The option of a given field that applies to only one architecture, when that
 * architecture is not among archs (a bit mask of mw_arch): NULL when there is none. */
const char *mw_cli_off_scope(const mw_cli *cli, unsigned archs);

/* The options of every group, under their headings, with their defaults (the state's
 * values now). */
void mw_cli_help(FILE *f, const mw_cli *cli);
/* The options whose values differ between two states of the same sets (a preset against
 * the default), as "opt value, opt value" (lists comma-separated). */
void mw_cli_diff(const mw_cli *cli, const void *base, const void *other, size_t state_size,
                 char *buf, size_t n);
/* Print text word-wrapped to 80 columns from column col, later lines indented by indent
 * (a newline in text is a space), and a newline. */
void mw_cli_wrap(FILE *f, const char *text, int indent, int col);
/* Print an error the way every command does: "mwverify <cmd>: <msg>". */
void mw_cli_error(const char *cmd, const char *msg);

/* "mwverify <cmd> <args...>" in buf, for reports. */
void mw_command_line(const char *cmd, int argc, char **argv, char *buf, size_t len);

/* The exit status of a failure. */
int mw_exit_of(mw_status st);

/* --layer-plugin: the rest of the command runs in a child that loads the plugin (mwverify's
 * own process never runs plugin code). Returns -1 in that child, which goes on with the
 * command; in this process, once the child has ended, its exit status — or, when the
 * plugin's code ended it with a signal, one line saying so and MW_EXIT_RUNTIME. This
 * process ignores SIGINT meanwhile; after_crash ends the line of a crash (what survives it) (the child, in the same process group, stops at a safe
 * point) and passes SIGTERM on. */
int mw_cli_plugin_child(const char *cmd, const char *plugin, const char *after_crash);

#endif
