/* libFuzzer harness of the command line (cli/args.c and the option tables of cli/cmd_*.c):
 * the input, split into words at NUL and newline bytes, is a command line whose first word
 * names the command; the command parses and checks its options and, with
 * mw_cli_parse_only set, returns before any work. Errors are fine, crashes are not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "fuzz_util.h"

enum { MAX_WORDS = 128 };

/* The commands of cli/main.c (its table is private to the program). */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"grad", mw_cmd_grad},   {"gradcheck", mw_cmd_gradcheck}, {"suite", mw_cmd_suite},
    {"layer", mw_cmd_layer}, {"report", mw_cmd_report},
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_init();
    mw_cli_parse_only = 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy with a NUL at the end: the words are its pieces, as argv's are the kernel's. */
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *words[MAX_WORDS + 1];
    int n = 0;
    for (size_t i = 0, start = 0; i <= size && n < MAX_WORDS; i++)
        if (buf[i] == '\0' || buf[i] == '\n') {
            buf[i] = '\0';
            words[n++] = buf + start;
            start = i + 1;
        }
    words[n] = NULL; /* argv[argc] is NULL */
    for (size_t k = 0; n > 0 && k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(words[0], commands[k].name) == 0) {
            commands[k].run(n - 1, words + 1);
            break;
        }
    free(buf);
    return 0;
}
