/* Synthetic data (datasets.h): Gaussian-mixture classification, and images of
 * class-dependent stripes with noise for the image pipeline's tests. */
#include "datasets.h"

#include <math.h>
#include <stddef.h>

#include "data_private.h"
#include "philox.h"

/* Three streams of the data seed, so that no two kinds of draw share a Philox block:
 * class centres (classes x features normals), labels (one uniform per sample) and
 * noise (features normals per sample). */
static const uint64_t stream_centres = ((uint64_t)MW_STREAM_DATA << 56) | 1;
static const uint64_t stream_labels = ((uint64_t)MW_STREAM_DATA << 56) | 2;
static const uint64_t stream_noise = ((uint64_t)MW_STREAM_DATA << 56) | 3;
/* The synthetic images' labels and noise (4 is the split's, dataset.c). */
static const uint64_t stream_image_labels = ((uint64_t)MW_STREAM_DATA << 56) | 5;
static const uint64_t stream_image_noise = ((uint64_t)MW_STREAM_DATA << 56) | 6;
static const double image_amplitude = 0.3, image_noise = 0.2;

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

/* Sample `index` of the synthetic images: x (C, H, W) and its label (datasets.h). */
static void image_sample(int C, int H, int W, int classes, uint64_t seed, uint64_t index,
                         float *x, int *label)
{
    const double pi = 3.14159265358979323846;
    int k = (int)(mw_philox_uniform(seed, stream_image_labels, index) * classes);
    if (k >= classes) /* u < 1, but keep the bound explicit */
        k = classes - 1;
    *label = k;
    const double theta = pi * k / classes, phi = pi * (k + 0.5) / classes - pi / 2;
    const uint64_t per = (uint64_t)C * (uint64_t)H * (uint64_t)W;
    uint64_t j = 0; /* (c, h, w) row-major */
    for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++, j++) {
                const double u = (w + 0.5) / W - 0.5, v = (h + 0.5) / H - 0.5;
                const double a = 4 * pi * (u * cos(theta) + v * sin(theta)) + phi + 0.5 * c;
                const double e = mw_philox_normal(seed, stream_image_noise, index * per + j);
                x[j] = (float)(0.5 + image_amplitude * sin(a) + image_noise * e);
            }
}

mw_status mw_dataset_synthetic_images(int C, int H, int W, int classes, size_t n,
                                      uint64_t seed, mw_dataset *out, mw_err *err)
{
    mw_status st = mw_data_alloc(out, "synthetic", n, C, H, W, classes, err);
    if (st != MW_OK)
        return st;
    const size_t per = (size_t)C * (size_t)H * (size_t)W;
    for (size_t i = 0; i < n; i++)
        image_sample(C, H, W, classes, seed, i, out->x + i * per, &out->labels[i]);
    return MW_OK;
}
