/* Real data for suite stability (stability.h): the dataset read and checked once, before
 * the workers start, and the networks fitted to it. */
#include "stability.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "philox.h"

static void free_data(struct mw_stability_data *d)
{
    if (!d)
        return;
    mw_dataset_free(&d->train);
    mw_dataset_free(&d->test);
    free(d->train_idx);
    free(d->test_idx);
    free(d);
}

void mw_stability_free_data(mw_suite_config *c)
{
    free_data((struct mw_stability_data *)c->data);
    c->data = NULL;
}

/* A dataset that cannot be read as asked is bad input (exit 2), whatever the reader said. */
static mw_status bad_input(mw_err *err, const char *fmt, const char *arg)
{
    mw_err_prefix(err, fmt, arg);
    return mw_err_set_status(err, MW_ERR_ARG);
}

/* Read, pool and normalise the training and test parts. */
static mw_status read_parts(const mw_train_config *t, struct mw_stability_data *d, mw_err *err)
{
    mw_status st;
    double mean[64], std[64];
    if ((st = mw_dataset_load(t->dataset, 1, &d->train, err)) != MW_OK ||
        (st = mw_dataset_load(t->dataset, 0, &d->test, err)) != MW_OK)
        return bad_input(err, "--dataset %s", t->dataset);
    if (d->train.channels != d->test.channels || d->train.height != d->test.height ||
        d->train.width != d->test.width || d->train.classes != d->test.classes)
        return mw_err_set(err, MW_ERR_ARG, "--dataset %s: its training images are %dx%d with %d "
                          "channel(s) and %d classes, its test images %dx%d with %d and %d: one "
                          "network cannot take both", t->dataset, d->train.height,
                          d->train.width, d->train.channels, d->train.classes, d->test.height,
                          d->test.width, d->test.channels, d->test.classes);
    if (t->image_h > 0 && (t->image_h != d->train.height || t->image_w != d->train.width) &&
        ((st = mw_dataset_downsample(&d->train, t->image_h, t->image_w, err)) != MW_OK ||
         (st = mw_dataset_downsample(&d->test, t->image_h, t->image_w, err)) != MW_OK)) {
        char sizes[160];
        snprintf(sizes, sizeof sizes, "--image %dx%d", t->image_h, t->image_w);
        mw_err_prefix(err, "%s", sizes);
        mw_err_append(err, " (%s images are %dx%d; give a size that divides them)", t->dataset,
                      d->train.height, d->train.width);
        return mw_err_set_status(err, MW_ERR_ARG);
    }
    const int short_train = (size_t)t->n_train > d->train.n;
    if (short_train || (size_t)t->n_test > d->test.n)
        return mw_err_set(err, MW_ERR_ARG, "--%s %d: %s has %zu %s samples",
                          short_train ? "train-samples" : "test-samples",
                          short_train ? t->n_train : t->n_test, t->dataset,
                          short_train ? d->train.n : d->test.n, short_train ? "training" : "test");
    if (d->train.channels > 64)
        return mw_err_set(err, MW_ERR_ARG, "--dataset %s: more than 64 channels", t->dataset);
    if ((st = mw_dataset_channel_stats(&d->train, mean, std, err)) != MW_OK ||
        (st = mw_dataset_normalise(&d->train, mean, std, err)) != MW_OK ||
        (st = mw_dataset_normalise(&d->test, mean, std, err)) != MW_OK)
        return bad_input(err, "--dataset %s", t->dataset);
    return MW_OK;
}

mw_status mw_stability_load_data(mw_suite_config *c, mw_err *err)
{
    mw_train_config *t = &c->train;
    if (strcmp(t->dataset, "synthetic") == 0) {
        int revnet = 0;
        for (int a = 0; a < c->grid.n_archs; a++)
            revnet |= c->grid.archs[a] == MW_ARCH_REVNET;
        if (t->image_h > 0 && !revnet)
            return mw_err_set(err, MW_ERR_ARG, "--image %dx%d: the synthetic data are not "
                              "images; --image sizes real data (--dataset) or the revnet's input",
                              t->image_h, t->image_w);
        return MW_OK;
    }
    if (t->dataset[0] == '\0')
        return mw_err_set(err, MW_ERR_ARG, "--dataset: the %s preset trains on real data; give "
                          "--dataset cifar10:DIR (a directory with data_batch_1.bin .. "
                          "data_batch_5.bin and test_batch.bin) or fashion-mnist[:DIR]",
                          c->preset);
    struct mw_stability_data *d = calloc(1, sizeof *d);
    if (!d)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory for the dataset");
    mw_status st = read_parts(t, d, err);
    if (st != MW_OK) {
        free_data(d);
        return st;
    }
    /* the training samples: a draw of the suite's seed, the same for every network */
    d->train_idx = malloc(d->train.n * sizeof *d->train_idx);
    d->test_idx = malloc((size_t)t->n_test * sizeof *d->test_idx);
    if (!d->train_idx || !d->test_idx) {
        free_data(d);
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory for the dataset");
    }
    mw_permutation(c->grid.suite_seed, ((uint64_t)MW_STREAM_DATA << 56) | 0x200u, d->train.n,
                   d->train_idx);
    for (int i = 0; i < t->n_test; i++)
        d->test_idx[i] = (size_t)i;
    /* fit the networks to the data: the classes, the mlp's width, the revnet's image and
     * its channels, zero-padded up to the grid's (at least the data's, rounded up to even) */
    const int C = d->train.channels, H = d->train.height, W = d->train.width;
    mw_spec *m = &c->mlp, *r = &c->revnet;
    m->classes = r->classes = d->train.classes;
    m->width = (C * H * W) % 2 ? 2 * H * W : C * H * W;
    for (int i = 0; i < c->grid.n_channels; i++)
        if (c->grid.channels[i] < C)
            c->grid.channels[i] = C + C % 2;
    r->image_h = H, r->image_w = W;
    mw_spec_complete(r);
    c->data = d;
    return MW_OK;
}
