/* Image datasets in memory and the paper's transforms on them (datasets.h): keep the
 * first n, average pooling, per-channel normalisation, a seeded held-out split and the
 * batch gather that pads channels. */
#include "datasets.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_private.h"
#include "philox.h"

/* The split's permutation stream: mw_synth uses 1..3, the synthetic images 5..6 and the
 * epochs of suite stability 0x100 + e. */
static const uint64_t stream_split = ((uint64_t)MW_STREAM_DATA << 56) | 4;

static size_t sample_size(const mw_dataset *d)
{
    return (size_t)d->channels * (size_t)d->height * (size_t)d->width;
}

mw_status mw_data_alloc(mw_dataset *d, const char *name, size_t n, int C, int H, int W,
                        int classes, mw_err *err)
{
    memset(d, 0, sizeof *d);
    if (n == 0 || C < 1 || H < 1 || W < 1 || classes < 1)
        return mw_err_set(err, MW_ERR_ARG,
                          "%s: %zu samples of (%d, %d, %d) in %d classes: every size must be "
                          "positive", name, n, C, H, W, classes);
    size_t per = (size_t)C * (size_t)H * (size_t)W;
    if (per > SIZE_MAX / sizeof(float) / n || n > SIZE_MAX / sizeof(int))
        return mw_err_set(err, MW_ERR_NOMEM,
                          "%s: %zu samples of (%d, %d, %d) exceed the address space", name, n,
                          C, H, W);
    d->x = calloc(n * per, sizeof *d->x);
    d->labels = calloc(n, sizeof *d->labels);
    if (!d->x || !d->labels) {
        mw_dataset_free(d);
        return mw_err_set(err, MW_ERR_NOMEM,
                          "%s: out of memory for %zu samples of (%d, %d, %d)", name, n, C, H, W);
    }
    d->n = n;
    d->channels = C;
    d->height = H;
    d->width = W;
    d->classes = classes;
    snprintf(d->name, sizeof d->name, "%s", name);
    return MW_OK;
}

void mw_dataset_free(mw_dataset *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

mw_status mw_dataset_take(mw_dataset *d, size_t n, mw_err *err)
{
    if (n < 1 || n > d->n)
        return mw_err_set(err, MW_ERR_ARG, "%s: take %zu samples: must be 1..%zu", d->name, n,
                          d->n);
    /* Shrinking cannot need more memory: a failed realloc keeps the larger block. */
    float *x = realloc(d->x, n * sample_size(d) * sizeof *x);
    int *labels = realloc(d->labels, n * sizeof *labels);
    if (x)
        d->x = x;
    if (labels)
        d->labels = labels;
    d->n = n;
    return MW_OK;
}

mw_status mw_dataset_downsample(mw_dataset *d, int H2, int W2, mw_err *err)
{
    const int H = d->height, W = d->width;
    if (H2 < 1 || W2 < 1 || H2 > H || W2 > W || H % H2 != 0 || W % W2 != 0)
        return mw_err_set(err, MW_ERR_ARG,
                          "%s: downsample %dx%d to %dx%d: the target must divide the source",
                          d->name, H, W, H2, W2);
    const int fh = H / H2, fw = W / W2;
    const size_t planes = d->n * (size_t)d->channels;
    float *y = malloc(planes * (size_t)H2 * (size_t)W2 * sizeof *y); /* (n, C, H2, W2) */
    if (!y)
        return mw_err_set(err, MW_ERR_NOMEM, "%s: out of memory to downsample", d->name);
    for (size_t p = 0; p < planes; p++) {
        const float *src = d->x + p * (size_t)H * (size_t)W;
        float *dst = y + p * (size_t)H2 * (size_t)W2;
        for (int h2 = 0; h2 < H2; h2++)
            for (int w2 = 0; w2 < W2; w2++) {
                double sum = 0;
                for (int dh = 0; dh < fh; dh++)
                    for (int dw = 0; dw < fw; dw++)
                        sum += src[(size_t)(h2 * fh + dh) * (size_t)W + (size_t)(w2 * fw + dw)];
                dst[h2 * W2 + w2] = (float)(sum / (fh * fw));
            }
    }
    free(d->x);
    d->x = y;
    d->height = H2;
    d->width = W2;
    return MW_OK;
}

mw_status mw_dataset_channel_stats(const mw_dataset *d, double *mean, double *std,
                                   mw_err *err)
{
    if (d->n == 0 || !d->x)
        return mw_err_set(err, MW_ERR_ARG, "%s: statistics of no samples", d->name);
    const size_t hw = (size_t)d->height * (size_t)d->width, C = (size_t)d->channels;
    const double count = (double)d->n * (double)hw;
    /* Two passes, the second about the mean, so that a large mean costs no accuracy. */
    for (size_t c = 0; c < C; c++) {
        double sum = 0;
        for (size_t i = 0; i < d->n; i++) {
            const float *plane = d->x + (i * C + c) * hw;
            for (size_t p = 0; p < hw; p++)
                sum += plane[p];
        }
        mean[c] = sum / count;
        double ss = 0;
        for (size_t i = 0; i < d->n; i++) {
            const float *plane = d->x + (i * C + c) * hw;
            for (size_t p = 0; p < hw; p++)
                ss += (plane[p] - mean[c]) * (plane[p] - mean[c]);
        }
        std[c] = sqrt(ss / count);
        if (!isfinite(mean[c]) || !isfinite(std[c]))
            return mw_err_set(err, MW_ERR_ARG,
                              "%s: channel %zu: mean %g, std %g are not finite", d->name, c,
                              mean[c], std[c]);
    }
    return MW_OK;
}

/* The normalised value of x in a channel with mean m and scale s (1/std or 1). */
static float normalised(float x, double m, double s)
{
    return (float)((x - m) * s);
}

mw_status mw_dataset_normalise(mw_dataset *d, const double *mean, const double *std,
                               mw_err *err)
{
    const size_t hw = (size_t)d->height * (size_t)d->width, C = (size_t)d->channels;
    for (size_t c = 0; c < C; c++)
        if (!isfinite(mean[c]) || !isfinite(std[c]) || std[c] < 0)
            return mw_err_set(err, MW_ERR_ARG,
                              "%s: channel %zu: mean %g, std %g: need finite, std >= 0",
                              d->name, c, mean[c], std[c]);
    /* Check every result before writing any, so that a failure leaves d unchanged. */
    for (size_t i = 0; i < d->n; i++)
        for (size_t c = 0; c < C; c++) {
            const double s = std[c] > MW_DATA_STD_MIN ? 1 / std[c] : 1;
            const float *plane = d->x + (i * C + c) * hw;
            for (size_t p = 0; p < hw; p++)
                if (!isfinite(normalised(plane[p], mean[c], s)))
                    return mw_err_set(err, MW_ERR_ARG,
                                      "%s: sample %zu channel %zu value %zu: (%g - %g) / %g "
                                      "is not a finite float", d->name, i, c, p,
                                      (double)plane[p], mean[c], std[c]);
        }
    for (size_t i = 0; i < d->n; i++)
        for (size_t c = 0; c < C; c++) {
            const double s = std[c] > MW_DATA_STD_MIN ? 1 / std[c] : 1;
            float *plane = d->x + (i * C + c) * hw;
            for (size_t p = 0; p < hw; p++)
                plane[p] = normalised(plane[p], mean[c], s);
        }
    return MW_OK;
}

/* Copy the samples i of d with held[i] == want, in order, into part (allocated). */
static mw_status copy_part(const mw_dataset *d, const unsigned char *held, int want, size_t n,
                           const char *what, mw_dataset *part, mw_err *err)
{
    char name[sizeof d->name];
    snprintf(name, sizeof name, "%.40s, %s part", d->name, what);
    mw_status st = mw_data_alloc(part, name, n, d->channels, d->height, d->width, d->classes,
                                 err);
    if (st != MW_OK)
        return st;
    const size_t per = sample_size(d);
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++)
        if (held[i] == want) {
            memcpy(part->x + k * per, d->x + i * per, per * sizeof *part->x);
            part->labels[k++] = d->labels[i];
        }
    return MW_OK;
}

mw_status mw_dataset_split(const mw_dataset *d, size_t n_heldout, uint64_t seed,
                           mw_dataset *train, mw_dataset *heldout, mw_err *err)
{
    memset(train, 0, sizeof *train);
    memset(heldout, 0, sizeof *heldout);
    if (n_heldout < 1 || n_heldout >= d->n)
        return mw_err_set(err, MW_ERR_ARG,
                          "%s: hold out %zu of %zu samples: must be 1..%zu", d->name,
                          n_heldout, d->n, d->n > 0 ? d->n - 1 : 0);
    size_t *perm = malloc(d->n * sizeof *perm);
    unsigned char *held = calloc(d->n, 1); /* (n): 1 where the sample is held out */
    if (!perm || !held) {
        free(perm), free(held);
        return mw_err_set(err, MW_ERR_NOMEM, "%s: out of memory to split", d->name);
    }
    mw_permutation(seed, stream_split, d->n, perm);
    for (size_t k = 0; k < n_heldout; k++)
        held[perm[k]] = 1;
    free(perm);
    mw_status st = copy_part(d, held, 0, d->n - n_heldout, "train", train, err);
    if (st == MW_OK)
        st = copy_part(d, held, 1, n_heldout, "held-out", heldout, err);
    free(held);
    if (st != MW_OK)
        mw_dataset_free(train);
    return st;
}

mw_status mw_dataset_gather(const mw_dataset *d, const size_t *idx, int B, int out_channels,
                            double *x, int *labels, mw_err *err)
{
    if (B < 1 || out_channels < d->channels)
        return mw_err_set(err, MW_ERR_ARG,
                          "%s: gather %d samples into %d channels: need B >= 1 and at least "
                          "the dataset's %d channels", d->name, B, out_channels, d->channels);
    for (int b = 0; b < B; b++)
        if (idx[b] >= d->n)
            return mw_err_set(err, MW_ERR_ARG,
                              "%s: gather: index %d is sample %zu of %zu", d->name, b, idx[b],
                              d->n);
    const size_t per = sample_size(d);
    const size_t out_per = (size_t)out_channels * (size_t)d->height * (size_t)d->width;
    for (int b = 0; b < B; b++) {
        const float *src = d->x + idx[b] * per;
        double *dst = x + (size_t)b * out_per;
        for (size_t k = 0; k < per; k++)
            dst[k] = src[k];
        for (size_t k = per; k < out_per; k++)
            dst[k] = 0;
        labels[b] = d->labels[idx[b]];
    }
    return MW_OK;
}
