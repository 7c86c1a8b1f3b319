/* libFuzzer harness of the dataset readers (datasets/readers.c): CIFAR-10 binary batches
 * and Fashion-MNIST idx files, plain or gzipped, must give a valid dataset or an error
 * with its line (datasets.h), never a crash, a leak or a half-filled output.
 *
 * The input: one mode byte, then the files as parts of [length, 2 bytes little-endian]
 * [bytes] (a length past the end takes the rest; a part not there is a file not there).
 * Mode bit 0: train (five CIFAR batches) or test (one), bit 1: Fashion-MNIST (images,
 * labels) or CIFAR-10, bits 2-3 for idx files: 0 written as they are under the plain
 * name, 1 as they are under the .gz name (zlib reads them as gzip or, when they are not,
 * as plain bytes), 2 and 3 gzip-compressed here under the .gz name, so that mutations of
 * the idx bytes still reach the idx parser behind zlib. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "datasets.h"
#include "fuzz_util.h"

enum { MAX_FILES = 5 };

static const char *const cifar_train[MAX_FILES] = {
    "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
    "data_batch_5.bin",
};
static const char *const idx_names[2][2] = {
    {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
    {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
};

/* Every name a run may have written, so that the next run starts from an empty directory
 * (a file left over would stand in for one this input does not have). */
static void clear_dir(void)
{
    char path[4096], gz[4096 + 8];
    unlink(fuzz_path("test_batch.bin", path));
    for (int k = 0; k < MAX_FILES; k++)
        unlink(fuzz_path(cifar_train[k], path));
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 2; k++) {
            unlink(fuzz_path(idx_names[t][k], path));
            snprintf(gz, sizeof gz, "%s.gz", path);
            unlink(gz);
        }
}

/* The next part of the input, or 0 when none is left. */
static int next_part(const uint8_t **data, size_t *size, const uint8_t **part, size_t *len)
{
    if (*size == 0)
        return 0;
    size_t want = *size >= 2 ? (size_t)(*data)[0] | (size_t)(*data)[1] << 8 : *size;
    const size_t skip = *size >= 2 ? 2 : 0;
    *part = *data + skip;
    *len = want < *size - skip ? want : *size - skip;
    *data += skip + *len;
    *size -= skip + *len;
    return 1;
}

static void write_gzip(const char *path, const uint8_t *bytes, size_t len)
{
    gzFile g = gzopen(path, "wb");
    if (!g || (len && gzwrite(g, bytes, (unsigned)len) != (int)len) || gzclose(g) != Z_OK)
        fuzz_fail("cannot write %s", path);
}

static void write_idx(const char *base, int how, const uint8_t *bytes, size_t len)
{
    char path[4096], gz[4096 + 8];
    fuzz_path(base, path);
    snprintf(gz, sizeof gz, "%s.gz", path);
    if (how == 0)
        fuzz_write(path, bytes, len);
    else if (how == 1)
        fuzz_write(gz, bytes, len);
    else
        write_gzip(gz, bytes, len);
}

/* What datasets.h promises of a dataset a reader returned. */
static void check_dataset(const mw_dataset *d, int fashion)
{
    const int side = fashion ? 0 : 32; /* idx sides come from the header */
    if (d->n < 1 || !d->x || !d->labels || d->classes != 10 ||
        d->channels != (fashion ? 1 : 3) || d->height < 1 || d->width < 1 ||
        (side && (d->height != side || d->width != side)))
        fuzz_fail("%s: bad shape: n %zu, (%d, %d, %d), %d classes", d->name, d->n,
                  d->channels, d->height, d->width, d->classes);
    const size_t values = d->n * (size_t)d->channels * (size_t)d->height * (size_t)d->width;
    for (size_t i = 0; i < values; i++)
        if (!(d->x[i] >= 0.0f && d->x[i] <= 1.0f))
            fuzz_fail("%s: value %zu is %g, outside [0, 1]", d->name, i, d->x[i]);
    for (size_t i = 0; i < d->n; i++)
        if (d->labels[i] < 0 || d->labels[i] >= d->classes)
            fuzz_fail("%s: label %zu is %d", d->name, i, d->labels[i]);
}

static void expect_ok(mw_status st, const char *what, const mw_err *err)
{
    if (st != MW_OK && st != MW_ERR_NOMEM)
        fuzz_fail("%s refused a valid dataset: %s", what, err->msg);
}

/* The transforms suite stability applies to what the readers give, on shapes and values
 * only a file can bring: none may refuse a valid dataset or read out of bounds. */
static void transform(mw_dataset *d)
{
    mw_err err;
    double mean[3], std[3];
    mw_status st = mw_dataset_channel_stats(d, mean, std, &err);
    expect_ok(st, "channel stats", &err);
    if (st == MW_OK)
        expect_ok(mw_dataset_normalise(d, mean, std, &err), "normalise", &err);
    const int h2 = d->height % 2 ? 1 : d->height / 2, w2 = d->width % 2 ? 1 : d->width / 2;
    expect_ok(mw_dataset_downsample(d, h2, w2, &err), "downsample", &err);
    if (d->n >= 2) {
        mw_dataset train, held;
        st = mw_dataset_split(d, d->n / 2, 7, &train, &held, &err);
        expect_ok(st, "split", &err);
        if (st == MW_OK && train.n + held.n != d->n)
            fuzz_fail("split of %zu gave %zu + %zu", d->n, train.n, held.n);
        mw_dataset_free(&train);
        mw_dataset_free(&held);
    }
    enum { B = 4 };
    size_t idx[B];
    const int b = d->n < B ? (int)d->n : B;
    for (int i = 0; i < b; i++)
        idx[i] = d->n - 1 - (size_t)i;
    const size_t per = (size_t)(d->channels + 1) * (size_t)d->height * (size_t)d->width;
    double *x = malloc((size_t)b * per * sizeof *x);
    int labels[B];
    if (x)
        expect_ok(mw_dataset_gather(d, idx, b, d->channels + 1, x, labels, &err), "gather",
                  &err);
    free(x);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const int mode = data[0], train = mode & 1, fashion = (mode >> 1) & 1,
              how = (mode >> 2) & 3;
    data++, size--;
    clear_dir();
    const uint8_t *part;
    size_t len;
    for (int k = 0; k < (fashion ? 2 : train ? MAX_FILES : 1); k++) {
        if (!next_part(&data, &size, &part, &len))
            break;
        char path[4096];
        if (fashion)
            write_idx(idx_names[train][k], how, part, len);
        else
            fuzz_write(fuzz_path(train ? cifar_train[k] : "test_batch.bin", path), part, len);
    }
    mw_dataset d;
    mw_err err;
    err.msg[0] = '\0';
    mw_status st = fashion ? mw_fashion_mnist_read(fuzz_dir(), train, &d, &err)
                           : mw_cifar10_read(fuzz_dir(), train, &d, &err);
    if (st == MW_OK) {
        check_dataset(&d, fashion);
        transform(&d);
    } else {
        static const mw_dataset zero; /* static: its padding is zero too */
        if (memcmp(&d, &zero, sizeof d) != 0)
            fuzz_fail("failed read (%s) left its output filled", err.msg);
        if (!err.msg[0] || !strstr(err.msg, fuzz_dir()))
            fuzz_fail("failed read without a line naming the file: \"%s\"", err.msg);
    }
    mw_dataset_free(&d);
    return 0;
}
