/* Synthetic Gaussian-mixture classification (datasets.h). */
#include "datasets.h"

#include <stddef.h>

#include "philox.h"

/* Three streams of the data seed, so that no two kinds of draw share a Philox block:
 * class centres (classes x features normals), labels (one uniform per sample) and
 * noise (features normals per sample). */
static const uint64_t stream_centres = ((uint64_t)MW_STREAM_DATA << 56) | 1;
static const uint64_t stream_labels = ((uint64_t)MW_STREAM_DATA << 56) | 2;
static const uint64_t stream_noise = ((uint64_t)MW_STREAM_DATA << 56) | 3;

mw_synth mw_synth_default(int features, int classes, uint64_t seed)
{
    mw_synth s = {features, classes, 1.0, 0.5, seed};
    return s;
}

void mw_synth_sample(const mw_synth *s, uint64_t index, double *x, int *label)
{
    const uint64_t nf = (uint64_t)s->features;
    double u = mw_philox_uniform(s->seed, stream_labels, index);
    int c = (int)(u * s->classes);
    if (c >= s->classes) /* u < 1, but keep the bound explicit */
        c = s->classes - 1;
    *label = c;
    for (uint64_t f = 0; f < nf; f++) {
        double mu = s->separation * mw_philox_normal(s->seed, stream_centres, (uint64_t)c * nf + f);
        double e = s->noise * mw_philox_normal(s->seed, stream_noise, index * nf + f);
        x[f] = (double)(float)(mu + e);
    }
}

void mw_synth_batch(const mw_synth *s, uint64_t first, int B, double *x, int *labels)
{
    for (int b = 0; b < B; b++)
        mw_synth_sample(s, first + (uint64_t)b, x + (size_t)b * (size_t)s->features, &labels[b]);
}

void mw_permutation(uint64_t seed, uint64_t stream, size_t n, size_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(mw_philox_uniform(seed, stream, i) * (double)i);
        if (j >= i) /* u < 1, but keep the bound explicit */
            j = i - 1;
        size_t t = out[i - 1];
        out[i - 1] = out[j];
        out[j] = t;
    }
}
