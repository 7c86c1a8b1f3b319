/* mwverify: the command-line entry point. Dispatches to subcommands; the only place,
 * with the subcommands it calls, that prints and chooses exit codes (DESIGN.md §8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "mw_engine.h"
#ifdef MW_HAVE_CUDA
#include "mw_cuda.h"
#endif

/* OpenBLAS's own (cblas.h): its thread count for every later call. */
void openblas_set_num_threads(int num_threads);

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mwverify <command> [options]\n\n"
            "mwverify checks gradient methods for invertible networks: six ways to compute\n"
            "the same gradient (backprop, forward, projforward, revbackprop, moonwalk,\n"
            "mixed), measured against a trusted reference.\n\n"
            "commands:\n"
            "  grad        one gradient of one network by the chosen methods, with each\n"
            "              method's error against an oracle, memory and time\n"
            "  gradcheck   every method against the certified gold oracle on a small grid\n"
            "              of networks, in float32 and float64\n"
            "  suite       sweeps that write HDF5 reports: suite stability (the main job),\n"
            "              suite gradcheck, suite memory, suite timing, suite layers\n"
            "  layer       the layer registry: layer list; layer check NAME|--all checks a\n"
            "              layer's operations against the MPFR reference\n"
            "  report      read a report back: report summary, report plot\n\n"
            "Each command explains itself: mwverify <command> --help.\n\n"
            "options:\n"
            "  --help      this text\n"
            "  --version   the version\n\n"
            "exit status: 0 ok, 1 checks failed, 2 bad usage or input, 3 runtime failure.\n");
}

int main(int argc, char **argv)
{
    /* Parallelism is one process per network (--jobs). The engine's matrices are small,
     * and OpenBLAS's threads on top of that only spin: measured on suite gradcheck's revnet
     * cell, the same wall time with one thread as with two, and 13 s of system time less.
     * OPENBLAS_NUM_THREADS, when set, still decides. */
    if (!getenv("OPENBLAS_NUM_THREADS"))
        openblas_set_num_threads(1);
#ifdef MW_HAVE_CUDA
    mw_cuda_register(); /* --engine cuda; without a device it says so when asked for */
#endif
    if (argc < 2) {
        usage(stderr);
        return MW_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return MW_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("mwverify %s\n", MW_VERSION);
        return MW_EXIT_OK;
    }
    if (strcmp(cmd, "grad") == 0)
        return mw_cmd_grad(argc - 2, argv + 2);
    if (strcmp(cmd, "gradcheck") == 0)
        return mw_cmd_gradcheck(argc - 2, argv + 2);
    if (strcmp(cmd, "suite") == 0)
        return mw_cmd_suite(argc - 2, argv + 2);
    if (strcmp(cmd, "report") == 0)
        return mw_cmd_report(argc - 2, argv + 2);
    if (strcmp(cmd, "layer") == 0)
        return mw_cmd_layer(argc - 2, argv + 2);
    fprintf(stderr, "mwverify: unknown command '%s' (commands: grad, gradcheck, suite, report, layer; see mwverify "
                    "--help)\n", cmd);
    return MW_EXIT_USAGE;
}
