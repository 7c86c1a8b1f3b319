/* Tests of datasets/: the synthetic Gaussian mixture. */
#include <math.h>
#include <stdlib.h>

#include "datasets.h"
#include "testutil.h"

/* Sample i is the same whichever batch it is drawn in, and is made of float32 values. */
START_TEST(samples_are_addressable)
{
    mw_synth s = mw_synth_default(5, 3, tu_seed());
    double a[5 * 10], b[5 * 4], one[5];
    int la[10], lb[4], l1;
    mw_synth_batch(&s, 0, 10, a, la);
    mw_synth_batch(&s, 6, 4, b, lb);
    mw_synth_sample(&s, 7, one, &l1);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(lb[i], la[6 + i]);
        for (int f = 0; f < 5; f++)
            ck_assert(b[i * 5 + f] == a[(6 + i) * 5 + f]);
    }
    ck_assert_int_eq(l1, la[7]);
    for (int i = 0; i < 50; i++)
        ck_assert(a[i] == (double)(float)a[i] && isfinite(a[i]));
    mw_synth other = mw_synth_default(5, 3, tu_seed() + 1);
    mw_synth_sample(&other, 7, one, &l1);
    ck_assert(one[0] != a[7 * 5]);
}
END_TEST

/* Labels cover every class; a class's samples lie around its centre: the mean of n
 * samples of one class is within 5 noise/sqrt(n) of the mean of another n of it. */
START_TEST(classes_are_a_mixture)
{
    enum { F = 4, C = 3, N = 3000 };
    mw_synth s = mw_synth_default(F, C, tu_seed());
    double *x = malloc((size_t)N * F * sizeof *x), mean[2][C][F] = {{{0}}};
    int *y = malloc(N * sizeof *y), count[2][C] = {{0}};
    mw_synth_batch(&s, 0, N, x, y);
    for (int i = 0; i < N; i++) {
        ck_assert(y[i] >= 0 && y[i] < C);
        count[i % 2][y[i]]++;
        for (int f = 0; f < F; f++)
            mean[i % 2][y[i]][f] += x[i * F + f];
    }
    for (int c = 0; c < C; c++) {
        ck_assert_msg(count[0][c] > N / (4 * C), "class %d has %d samples", c, count[0][c]);
        for (int f = 0; f < F; f++) {
            double m0 = mean[0][c][f] / count[0][c], m1 = mean[1][c][f] / count[1][c];
            ck_assert_msg(fabs(m0 - m1) < 5 * s.noise * sqrt(2.0 / count[0][c]),
                          "class %d feature %d: halves have means %g and %g", c, f, m0, m1);
        }
    }
    free(x), free(y);
}
END_TEST

/* A permutation holds every index once, depends on its seed and stream, and moves most
 * elements. */
START_TEST(permutations)
{
    enum { N = 1000 };
    size_t a[N], b[N], c[N];
    int seen[N] = {0};
    mw_permutation(tu_seed(), 5, N, a);
    mw_permutation(tu_seed(), 5, N, b);
    mw_permutation(tu_seed(), 6, N, c);
    int fixed = 0, same = 0;
    for (size_t i = 0; i < N; i++) {
        ck_assert(a[i] < N && !seen[a[i]]);
        seen[a[i]] = 1;
        ck_assert(a[i] == b[i]);
        fixed += a[i] == i;
        same += a[i] == c[i];
    }
    ck_assert_msg(fixed < 10 && same < 10, "%d fixed points, %d agreements", fixed, same);
    mw_permutation(tu_seed(), 5, 1, a);
    ck_assert(a[0] == 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("datasets");
    TCase *tc = tcase_create("synthetic");
    tcase_add_test(tc, samples_are_addressable);
    tcase_add_test(tc, classes_are_a_mixture);
    tcase_add_test(tc, permutations);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
