/* mwverify: the command-line entry point. A table of commands; the only place, with the
 * commands it calls, that prints and chooses exit codes (docs/architecture.md §8). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "report.h"
#include "mw_engine.h"
#if defined(MW_HAVE_CUDA) && !defined(MW_CUDA_MODULE_NAME)
#include "mw_cuda.h"
#endif

/* OpenBLAS's own (cblas.h): its thread count for every later call. */
void openblas_set_num_threads(int num_threads);

static const struct command {
    const char *name, *summary;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"grad", "one gradient of one network by the chosen methods, with each method's\n"
             "error against an oracle, memory and time",
     mw_cmd_grad},
    {"gradcheck", "every method against the certified gold oracle on a small grid of\n"
                  "networks, in float32 and float64 (suite gradcheck, printed)",
     mw_cmd_gradcheck},
    {"suite", "sweeps that write HDF5 reports: stability (the main job), gradcheck,\n"
              "memory, timing, layers",
     mw_cmd_suite},
    {"layer", "the layer registry: layer list; layer check NAME... (suite layers, printed)",
     mw_cmd_layer},
    {"report", "read a report back: summary, plot; the schema of the files", mw_cmd_report},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *f)
{
    fprintf(f, "usage: mwverify <command> [options]\n\n"
               "mwverify checks gradient methods for invertible networks: six ways to compute\n"
               "the same gradient (backprop, forward, projforward, revbackprop, moonwalk,\n"
               "mixed), measured against a trusted reference.\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) {
        fprintf(f, "  %-11s ", commands[i].name);
        for (const char *s = commands[i].summary; *s; s++)
            if (*s == '\n')
                fputs("\n              ", f);
            else
                fputc(*s, f);
        fputc('\n', f);
    }
    fprintf(f, "\nEach command explains itself: mwverify <command> --help (or mwverify help\n"
               "<command>).\n\noptions:\n  --help      this text\n  --version   the version\n\n"
               "exit status: 0 ok, 1 checks failed, 2 bad usage or input, 3 runtime failure,\n"
               "128 + signal when SIGINT or SIGTERM stopped it (a suite first commits its report\n"
               "and prints the command that resumes it).\n");
}

static const struct command *find(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int unknown(const char *name)
{
    const char *names[N_COMMANDS];
    for (int i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].name;
    const char *near = mw_nearest(name, names, N_COMMANDS);
    fprintf(stderr, "mwverify: unknown command '%s'%s%s%s (commands: grad, gradcheck, suite, "
                    "layer, report; see mwverify --help)\n", name, near ? "; did you mean " : "",
            near ? near : "", near ? "?" : "");
    return MW_EXIT_USAGE;
}

/* mwverify help [COMMAND [SUBCOMMAND]]: that command's --help. */
static int help(int argc, char **argv)
{
    if (argc < 1) {
        usage(stdout);
        return MW_EXIT_OK;
    }
    const struct command *c = find(argv[0]);
    if (!c)
        return unknown(argv[0]);
    char *words[4] = {NULL, NULL, NULL, NULL};
    int n = 0;
    if (argc > 1)
        words[n++] = argv[1];
    words[n++] = "--help";
    return c->run(n, words);
}

/* SIGINT, SIGTERM: a suite that is running stops at its next safe point, commits and says
 * how to resume; anything else (or a second signal) stops at once, removing this process's
 * lock and temporary files first (a writer never exposes a partial file, so nothing is
 * lost that was written). */
static void on_signal(int sig)
{
    if (mw_interrupt_request(sig)) {
        static const char say[] = "\nmwverify: stopping at the next safe point; the report "
                                  "keeps every finished network (interrupt again to stop at "
                                  "once)\n";
        ssize_t k = write(2, say, sizeof say - 1);
        (void)k;
        return;
    }
    mw_report_abandon_writes();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int main(int argc, char **argv)
{
    catch_signals();
    /* Parallelism is one process per network (--jobs). The engine's matrices are small,
     * and OpenBLAS's threads on top of that only spin: measured on suite gradcheck's revnet
     * cell, the same wall time with one thread as with two, and 13 s of system time less.
     * OPENBLAS_NUM_THREADS, when set, still decides. */
    if (!getenv("OPENBLAS_NUM_THREADS"))
        openblas_set_num_threads(1);
    /* --engine cuda; without a device it says so when asked for */
#if defined(MW_CUDA_MODULE_NAME)
    mw_cli_cuda_module(); /* loaded on first use (cuda_module.c) */
#elif defined(MW_HAVE_CUDA)
    mw_cuda_register(); /* linked in (the emulator's build, for the tests) */
#endif
    if (argc < 2) {
        usage(stderr);
        return MW_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return MW_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0)
        return help(argc - 2, argv + 2);
    if (strcmp(cmd, "--version") == 0) {
        printf("mwverify %s\n", MW_VERSION);
        return fflush(stdout) != 0 ? MW_EXIT_RUNTIME : MW_EXIT_OK;
    }
    const struct command *c = find(cmd);
    return c ? c->run(argc - 2, argv + 2) : unknown(cmd);
}
