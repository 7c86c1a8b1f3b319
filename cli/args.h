/* Command-line parsing shared by the subcommands: a table of options per command, each
 * --name VALUE or --name=VALUE, with values checked at once and one-line errors that
 * name the option, the value and what is allowed. */
#ifndef MW_ARGS_H
#define MW_ARGS_H

#include <stdint.h>
#include <stdio.h>

#define MW_EXIT_OK 0
#define MW_EXIT_CHECKS 1
#define MW_EXIT_USAGE 2
#define MW_EXIT_RUNTIME 3

typedef struct mw_opt {
    const char *name; /* without the leading -- */
    const char *meta; /* value placeholder in --help; NULL for a flag */
    const char *help; /* one or more lines, already wrapped */
} mw_opt;

/* Called for every option met, value NULL for flags. Returns 0, or nonzero after
 * writing a message to err (which the parser prints as one line and exits 2 on). */
typedef int (*mw_opt_apply)(void *state, const char *name, const char *value, char *err,
                            size_t err_len);

/* Parse argv[0..argc) (the words after the subcommand) against a NULL-terminated list
 * of option tables. Returns MW_EXIT_OK, or MW_EXIT_USAGE after printing
 * "mwverify <cmd>: <what>" to stderr. Sets *help when --help or -h was given (parsing
 * stops there). */
int mw_args_parse(const char *cmd, const mw_opt *const *tables, int argc, char **argv,
                  mw_opt_apply apply, void *state, int *help);

void mw_args_print_options(FILE *f, const mw_opt *opts);

/* "mwverify <cmd> <args...>" in buf, for reports. */
void mw_args_command_line(const char *cmd, int argc, char **argv, char *buf, size_t len);

/* Value parsers: 0 on success, else a message "--name VALUE: ..." in err. */
int mw_parse_int(const char *name, const char *v, long long lo, long long hi, int *out,
                 char *err, size_t err_len);
int mw_parse_u64(const char *name, const char *v, uint64_t *out, char *err, size_t err_len);
int mw_parse_double(const char *name, const char *v, double lo, double hi, double *out,
                    char *err, size_t err_len);

#endif
