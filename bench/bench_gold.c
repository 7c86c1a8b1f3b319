/* bench_gold: what the gold oracle costs, next to what MPFR can do on this machine.
 * For a few networks and precisions: gold's wall time (two reference gradients at p and
 * p+64 bits, and the finite-difference witness), its estimate, the MPFR operations of its
 * gradient passes per second; and raw mpfr_fma and mpfr_tanh throughput at the same
 * precision. A benchmark, never a test.
 *
 *   bench_gold [--bits P ...] [depth ...] */
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datasets.h"
#include "oracles.h"

/* Operations per second of fma (which = 0) or tanh (which = 1) at p bits. */
static double raw_rate(long p, int which)
{
    mpfr_t a, b, c;
    mpfr_inits2(p, a, b, c, (mpfr_ptr)0);
    mpfr_set_d(a, 0.7390851332151607, MPFR_RNDN);
    mpfr_set_d(b, 0.9999999, MPFR_RNDN);
    mpfr_set_d(c, 0.1, MPFR_RNDN);
    long n = which ? 20000 : 2000000;
    double t0 = mw_now();
    for (long i = 0; i < n; i++) {
        if (which)
            mpfr_tanh(c, a, MPFR_RNDN), mpfr_add(a, a, b, MPFR_RNDN), mpfr_sub(a, a, b, MPFR_RNDN);
        else
            mpfr_fma(c, a, b, c, MPFR_RNDN);
    }
    double dt = mw_now() - t0;
    mpfr_clears(a, b, c, (mpfr_ptr)0);
    return (double)n / dt;
}

/* Seconds of one gold computation with these witness coordinates and threads. */
static mw_status timed_gold(const mw_spec *s, const double *x, const int *y, mw_gold_opts *o,
                            long fd_coords, int threads, double *seconds, mw_err *err)
{
    mw_gold g;
    o->fd_coords = fd_coords, o->threads = threads;
    const double t0 = mw_now();
    mw_status st = mw_gold_compute(s, NULL, x, y, o, &g, err);
    *seconds = mw_now() - t0;
    if (st == MW_OK)
        mw_gold_free(&g);
    o->fd_coords = -1, o->threads = 1;
    return st;
}

int main(int argc, char **argv)
{
    long bits[8];
    int nb = 0, depths[16], nd = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc && nb < 8)
            bits[nb++] = atol(argv[++i]);
        else if (atoi(argv[i]) > 0 && nd < 16)
            depths[nd++] = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: bench_gold [--bits P ...] [depth ...]\n");
            return 2;
        }
    }
    if (!nb)
        bits[nb++] = 128, bits[nb++] = 256, bits[nb++] = 512;
    if (!nd)
        depths[nd++] = 2, depths[nd++] = 8;
    printf("raw MPFR throughput on one core\n%6s %14s %14s\n", "bits", "fma/s", "tanh/s");
    double fma_rate[8], tanh_rate[8];
    for (int b = 0; b < nb; b++) {
        fma_rate[b] = raw_rate(bits[b], 0);
        tanh_rate[b] = raw_rate(bits[b], 1);
        printf("%6ld %14.3e %14.3e\n", bits[b], fma_rate[b], tanh_rate[b]);
    }
    printf("\ngold on mwverify grad's default mlp (width 16, hidden 32, units 2, batch 8), out-act "
           "tanh, F-act tanh; seconds on one thread and on two (2t)\n"
           "%5s %6s %10s %10s %10s %10s %10s %12s %12s %10s\n",
           "depth", "bits", "seconds", "estimate", "no-witness", "2t", "2t no-wit.", "grad ops",
           "ops/s", "of fma/s");
    for (int d = 0; d < nd; d++)
        for (int b = 0; b < nb; b++) {
            mw_spec s = mw_spec_default();
            s.depth = depths[d];
            s.f_act = MW_ACT_TANH;
            s.out_act = MW_ACT_TANH;
            size_t N = (size_t)s.batch * (size_t)s.width;
            double *x = malloc(N * sizeof *x);
            int *y = malloc((size_t)s.batch * sizeof *y);
            mw_synth data = mw_synth_default(s.width, s.classes, s.seed);
            mw_synth_batch(&data, 0, s.batch, x, y);
            mw_gold_opts o = mw_gold_opts_default();
            o.prove = 0; /* gold's MPFR work alone (bench/proof.sh sets the proof against it) */
            o.bits = bits[b];
            mw_err err;
            /* with and without the witness, on one thread and on two */
            double full, bare, full2, bare2;
            mw_status st = timed_gold(&s, x, y, &o, -1, 1, &full, &err);
            st = st == MW_OK ? timed_gold(&s, x, y, &o, 0, 1, &bare, &err) : st;
            st = st == MW_OK ? timed_gold(&s, x, y, &o, -1, 2, &full2, &err) : st;
            st = st == MW_OK ? timed_gold(&s, x, y, &o, 0, 2, &bare2, &err) : st;
            if (st != MW_OK) {
                fprintf(stderr, "bench_gold: %s\n", err.msg);
                free(x), free(y);
                return 3;
            }
            /* a gradient pass: forward plus about twice its operations backward, at p and
             * p+64 bits */
            double fma, trans;
            mw_gold_forward_ops(&s, &fma, &trans);
            double ops = 2.0 * 3.0 * (fma + trans);
            printf("%5d %6ld %10.3f %10.3f %10.3f %10.3f %10.3f %12.3e %12.3e %9.1f%%\n", s.depth,
                   bits[b], full, mw_gold_cost_seconds(&s, &o), bare, full2, bare2, ops,
                   ops / bare, 100.0 * ops / bare / fma_rate[b]);
            free(x), free(y);
        }
    return 0;
}
