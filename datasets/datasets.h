/* datasets: where batches come from (docs/architecture.md §1): the synthetic Gaussian-mixture
 * classification data every suite can have without files, and image datasets in memory
 * (CIFAR-10, Fashion-MNIST, synthetic images) with the transforms the paper applies. */
#ifndef MW_DATASETS_H
#define MW_DATASETS_H

#include <stddef.h>
#include <stdint.h>

#include "mw_common.h"

/* Class c has centre μ_c ~ separation · N(0, I); a sample of class c is μ_c + noise ·
 * N(0, I). Every sample is addressed by its index, so any batch can be regenerated on
 * its own (Philox, stream MW_STREAM_DATA). Values are rounded to float32 so that f32
 * and f64 runs see the same data. */
typedef struct mw_synth {
    int features;
    int classes;
    double separation;
    double noise;
    uint64_t seed;
} mw_synth;

mw_synth mw_synth_default(int features, int classes, uint64_t seed);

/* Sample `index`: x (features values) and its label. */
void mw_synth_sample(const mw_synth *s, uint64_t index, double *x, int *label);

/* Samples first .. first+B-1: x (B x features, row-major) and labels (B). */
void mw_synth_batch(const mw_synth *s, uint64_t first, int B, double *x, int *labels);

/* A permutation of 0..n-1 (Fisher-Yates with Philox draws of the seed's stream
 * `stream`): the shuffled order of an epoch, the same for every method that trains on it. */
void mw_permutation(uint64_t seed, uint64_t stream, size_t n, size_t *out);

/* ---- image datasets in memory ---------------------------------------------------------
 *
 * Every function below that can fail returns an mw_status (mw_common.h): MW_OK, or
 * MW_ERR_ARG (an argument is out of range: the caller's mistake), MW_ERR_IO (a file is
 * missing or could not be read), MW_ERR_FORMAT (a file's contents are not what its format
 * says) or MW_ERR_NOMEM. On failure it leaves one line in err (when err is not NULL) that
 * names the file and, where there is one, the record and byte offset (records and bytes
 * counted from 0, bytes in the uncompressed stream), and what was wrong; on success err is
 * untouched. Nothing prints, nothing exits, and a failed call leaves its outputs as they
 * were (those of readers, generators and the split: zeroed), with nothing allocated. */

/* n samples of (C, H, W) float32 values (flat features are (1, 1, F)) with a label in
 * 0..classes-1 each. A zeroed mw_dataset is empty and may be freed. */
typedef struct mw_dataset {
    size_t n;                      /* samples */
    int channels, height, width;   /* C, H, W of each sample */
    int classes;
    float *x;                      /* (n, C, H, W), row-major */
    int *labels;                   /* (n) */
    char name[64];                 /* "fashion-mnist train", "cifar10 test", "synthetic" */
} mw_dataset;

void mw_dataset_free(mw_dataset *d); /* frees and zeroes; NULL and empty are fine */

/* CIFAR-10 binary version: dir holds data_batch_1.bin .. data_batch_5.bin (train = 1)
 * or test_batch.bin (train = 0), each a whole, positive number of 3073-byte records
 * (label byte 0..9, then the R, G, B planes of 32x32 bytes, row-major). Values v/255,
 * (3, 32, 32), classes 10, samples in file order. */
mw_status mw_cifar10_read(const char *dir, int train, mw_dataset *out, mw_err *err);

/* Fashion-MNIST idx files, gzipped (train = 1: train-images-idx3-ubyte.gz and
 * train-labels-idx1-ubyte.gz; train = 0: t10k-...), read with zlib; where the .gz file
 * is absent the same name without .gz is read instead (zlib reads plain files too).
 * Checks the magic numbers (0x00000803 images, 0x00000801 labels), 1 <= rows, cols <=
 * 4096, n >= 1, equal counts, no truncation, no trailing data, labels 0..9. Values
 * v/255, (1, rows, cols), classes 10. */
mw_status mw_fashion_mnist_read(const char *dir, int train, mw_dataset *out, mw_err *err);

/* Where Debian's dataset-fashion-mnist installs the files. */
const char *mw_fashion_mnist_default_dir(void);

/* A command-line dataset name: "fashion-mnist" (the default dir), "fashion-mnist:DIR" or
 * "cifar10:DIR". Synthetic data is not read but made: mw_dataset_synthetic_images. */
mw_status mw_dataset_load(const char *arg, int train, mw_dataset *out, mw_err *err);

/* Synthetic images for tests: sample i has label floor(u_i · classes) (u_i a Philox
 * uniform) and values pattern(label, c, h, w) + 0.2 · N(0, 1) (Philox normals), rounded to
 * float32. The pattern is 0.5 + 0.3 sin(4π (u cos θ + v sin θ) + φ + c/2) over the
 * centred pixel position (u, v) in (-1/2, 1/2)², with θ = π·label/classes and φ =
 * π (label + 1/2)/classes - π/2, so class means differ even at 1x1. Sample i is the same
 * for every n; streams of MW_STREAM_DATA distinct from mw_synth's and the split's. */
mw_status mw_dataset_synthetic_images(int C, int H, int W, int classes, size_t n,
                                      uint64_t seed, mw_dataset *out, mw_err *err);

/* Keep the first n samples (1 <= n <= d->n). */
mw_status mw_dataset_take(mw_dataset *d, size_t n, mw_err *err);

/* Average pooling to (C, H2, W2): H2 and W2 must divide H and W (28x28 -> 14x14 or 7x7,
 * 32x32 -> 16x16 or 8x8). In place; on failure d is unchanged. */
mw_status mw_dataset_downsample(mw_dataset *d, int H2, int W2, mw_err *err);

/* Per-channel mean and (population) standard deviation over all samples and pixels:
 * mean and std hold d->channels values each. Compute them on the training part and
 * normalise every part with them. */
mw_status mw_dataset_channel_stats(const mw_dataset *d, double *mean, double *std,
                                   mw_err *err);

/* x <- (x - mean[c]) / std[c] per channel c (d->channels values each). A channel whose
 * std is at most MW_DATA_STD_MIN (a constant channel) is only centred, never divided. A
 * non-finite mean or std, a negative std or a non-finite result is MW_ERR_ARG and
 * leaves d unchanged. */
#define MW_DATA_STD_MIN 1e-12
mw_status mw_dataset_normalise(mw_dataset *d, const double *mean, const double *std,
                               mw_err *err);

/* A seeded split into n_heldout held-out samples (1 <= n_heldout < d->n; for a fraction
 * f, n_heldout = llround(f · n)) and the rest: the held-out samples are the first
 * n_heldout of mw_permutation(seed, MW_STREAM_DATA split stream, n); both parts keep d's
 * order. d is untouched; train and heldout get their own copies. */
mw_status mw_dataset_split(const mw_dataset *d, size_t n_heldout, uint64_t seed,
                           mw_dataset *train, mw_dataset *heldout, mw_err *err);

/* Samples idx[0..B-1] as float32-representable doubles, x (B, out_channels, H, W) and
 * labels (B). Channels C..out_channels-1 are zero: this is where the paper's channel
 * padding (CIFAR's 3 to 8 or 18) happens, so the dataset itself never holds padding and
 * the padded channels are zero after normalisation too. An mlp uses the same layout as B
 * rows of out_channels·H·W features. */
mw_status mw_dataset_gather(const mw_dataset *d, const size_t *idx, int B, int out_channels,
                            double *x, int *labels, mw_err *err);

#endif
