/* Tests of datasets/: the synthetic Gaussian mixture; the CIFAR-10 and idx readers on
 * small files written here in the real formats, and on the installed Fashion-MNIST; the
 * transforms (take, downsample, normalise, split, gather with channel padding); the
 * synthetic images. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

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

/* ---- readers ------------------------------------------------------------------------- */

/* A temporary directory for the readers' TCase: made and removed by an unchecked fixture,
 * which runs in Check's parent process, so a failed test still leaves nothing behind. */
static char tmp_dir[128];

static void tmp_dir_make(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/mw-test-datasets-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        perror(tmp_dir);
        exit(1);
    }
}

static void tmp_dir_remove(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp_dir);
}

/* A fresh subdirectory of tmp_dir for one test; its path in dir (256 bytes). */
static void subdir(const char *name, char *dir)
{
    snprintf(dir, 256, "%s/%s", tmp_dir, name);
    ck_assert_msg(mkdir(dir, 0700) == 0, "mkdir %s", dir);
}

/* The message is one line that contains every needle, and err holds the status returned;
 * the dataset is left empty. */
static void assert_failed(mw_status st, const mw_err *e, const mw_dataset *d,
                          const char *needle1, const char *needle2, const char *needle3)
{
    const char *needles[3] = {needle1, needle2, needle3};
    ck_assert_msg(st != MW_OK, "succeeded, expected an error containing \"%s\"", needle1);
    ck_assert_msg(e->status == st, "returned %s but err says %s", mw_status_name(st),
                  mw_status_name(e->status));
    ck_assert_msg(!strchr(e->msg, '\n'), "message has several lines: %s", e->msg);
    for (int k = 0; k < 3; k++)
        ck_assert_msg(!needles[k] || strstr(e->msg, needles[k]), "\"%s\" not in the message: %s",
                      needles[k], e->msg);
    ck_assert(d->n == 0 && d->x == NULL && d->labels == NULL);
}

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f && fwrite(b, 1, n, f) == n && fclose(f) == 0, "writing %s", path);
}

/* Byte j of record r of CIFAR file k (label byte first): a pattern that tells the file,
 * the record, the channel and the pixel apart. */
static unsigned char cifar_byte(int k, int r, int j)
{
    if (j == 0)
        return (unsigned char)((3 * k + r) % 10);
    return (unsigned char)((31 * k + 7 * r + 13 * j) % 256);
}

enum { CIFAR_REC = 3073, CIFAR_N = 3 };

/* File k (0..4 data_batch_{k+1}.bin, 5 test_batch.bin) of CIFAR_N records, + extra bytes
 * of a partial record. */
static void cifar_write(const char *dir, int k, int extra)
{
    char path[320];
    if (k < 5)
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, k + 1);
    else
        snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    size_t n = (size_t)CIFAR_N * CIFAR_REC + (size_t)extra;
    unsigned char *b = malloc(n);
    ck_assert(b);
    for (size_t i = 0; i < n; i++)
        b[i] = cifar_byte(k, (int)(i / CIFAR_REC), (int)(i % CIFAR_REC));
    write_bytes(path, b, n);
    free(b);
}

static void cifar_write_all(const char *dir)
{
    for (int k = 0; k < 6; k++)
        cifar_write(dir, k, 0);
}

/* Train is the five batches in order, test the test batch; values are byte/255 with the
 * R, G, B planes of each record in that order, row-major. */
START_TEST(cifar_reader_values)
{
    char dir[256];
    mw_err e = {0};
    subdir("cifar", dir);
    cifar_write_all(dir);
    for (int train = 1; train >= 0; train--) {
        mw_dataset d;
        mw_status st = mw_cifar10_read(dir, train, &d, &e);
        ck_assert_msg(st == MW_OK, "%s", e.msg);
        ck_assert_uint_eq(d.n, train ? 5 * CIFAR_N : CIFAR_N);
        ck_assert(d.channels == 3 && d.height == 32 && d.width == 32 && d.classes == 10);
        ck_assert_str_eq(d.name, train ? "cifar10 train" : "cifar10 test");
        for (size_t i = 0; i < d.n; i++) {
            int k = train ? (int)i / CIFAR_N : 5, r = (int)i % CIFAR_N;
            ck_assert_int_eq(d.labels[i], cifar_byte(k, r, 0));
            for (int c = 0; c < 3; c++)
                for (int h = 0; h < 32; h++)
                    for (int w = 0; w < 32; w++) {
                        float got = d.x[i * 3072 + (size_t)(c * 1024 + h * 32 + w)];
                        float want = cifar_byte(k, r, 1 + c * 1024 + h * 32 + w) / 255.0f;
                        ck_assert_msg(got == want, "sample %zu (c %d, h %d, w %d): %g, not %g",
                                      i, c, h, w, got, want);
                    }
        }
        mw_dataset_free(&d);
    }
}
END_TEST

/* A partial trailing record, a label of 10 or 255 and a missing file each fail with one
 * line naming the file and (but for the missing file) the record. */
START_TEST(cifar_reader_errors)
{
    char dir[256];
    mw_err e = {0};
    mw_dataset d;
    subdir("cifar-truncated", dir);
    cifar_write_all(dir);
    cifar_write(dir, 2, 100);
    mw_status st = mw_cifar10_read(dir, 1, &d, &e);
    assert_failed(st, &e, &d, "data_batch_3.bin", "truncated: record 3 (byte 9219)",
                  "100 of 3073");

    subdir("cifar-label", dir);
    cifar_write_all(dir);
    char path[320];
    snprintf(path, sizeof path, "%s/data_batch_2.bin", dir);
    FILE *f = fopen(path, "r+b");
    ck_assert(f && fseek(f, CIFAR_REC, SEEK_SET) == 0 && fputc(10, f) == 10 && fclose(f) == 0);
    st = mw_cifar10_read(dir, 1, &d, &e);
    assert_failed(st, &e, &d, "data_batch_2.bin", "record 1 (byte 3073)", "label 10 outside 0..9");
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    f = fopen(path, "r+b");
    ck_assert(f && fseek(f, 2 * CIFAR_REC, SEEK_SET) == 0 && fputc(255, f) == 255);
    ck_assert(fclose(f) == 0);
    st = mw_cifar10_read(dir, 0, &d, &e);
    assert_failed(st, &e, &d, "test_batch.bin", "record 2", "label 255");

    subdir("cifar-missing", dir);
    cifar_write_all(dir);
    snprintf(path, sizeof path, "%s/data_batch_4.bin", dir);
    ck_assert(unlink(path) == 0);
    st = mw_cifar10_read(dir, 1, &d, &e);
    assert_failed(st, &e, &d, path, "No such file", NULL);
    st = mw_cifar10_read(dir, 0, &d, &e); /* the test part needs only its file */
    ck_assert_msg(st == MW_OK, "%s", e.msg);
    mw_dataset_free(&d);
}
END_TEST

/* An idx file: magic, the dims (big-endian), then `bytes` bytes of data; gzipped unless
 * the name does not end in .gz. */
static void idx_write(const char *path, uint32_t magic, const uint32_t *dims, int ndims,
                      const unsigned char *data, size_t bytes)
{
    unsigned char h[16];
    uint32_t words[4] = {magic, 0, 0, 0};
    for (int k = 0; k < ndims; k++)
        words[1 + k] = dims[k];
    for (int k = 0; k < 1 + ndims; k++)
        for (int b = 0; b < 4; b++)
            h[4 * k + b] = (unsigned char)(words[k] >> (24 - 8 * b));
    const size_t len = strlen(path), hb = 4 + 4 * (size_t)ndims;
    if (len > 3 && strcmp(path + len - 3, ".gz") == 0) {
        gzFile g = gzopen(path, "wb");
        ck_assert_msg(g, "gzopen %s", path);
        ck_assert(gzwrite(g, h, (unsigned)hb) == (int)hb);
        ck_assert(bytes == 0 || gzwrite(g, data, (unsigned)bytes) == (int)bytes);
        ck_assert(gzclose(g) == Z_OK);
        return;
    }
    FILE *f = fopen(path, "wb");
    ck_assert(f && fwrite(h, 1, hb, f) == hb && fwrite(data, 1, bytes, f) == bytes);
    ck_assert(fclose(f) == 0);
}

static unsigned char idx_pixel(size_t i, size_t j)
{
    return (unsigned char)((31 * i + 7 * j + 3) % 256);
}

/* Images file `part` ("train" or "t10k") in dir: header n, rows x cols, `records` images
 * of data, then `extra` bytes; suffix ".gz" or "". */
static void idx_write_images(const char *dir, const char *part, const char *suffix,
                             uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols,
                             size_t records, size_t extra)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir, part, suffix);
    const size_t bytes = records * rows * cols + extra;
    unsigned char *b = malloc(bytes + 1);
    ck_assert(b);
    for (size_t k = 0; k < bytes; k++)
        b[k] = idx_pixel(k / (rows * cols), k % (rows * cols));
    uint32_t dims[3] = {n, rows, cols};
    idx_write(path, magic, dims, 3, b, bytes);
    free(b);
}

/* Labels file: header n, labels i % 10 for i < records, but label `bad` at record bad_at. */
static void idx_write_labels(const char *dir, const char *part, const char *suffix, uint32_t n,
                             size_t records, size_t bad_at, int bad)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, part, suffix);
    unsigned char *b = malloc(records + 1);
    ck_assert(b);
    for (size_t i = 0; i < records; i++)
        b[i] = (unsigned char)(i == bad_at ? bad : (int)(i % 10));
    idx_write(path, 0x00000801, &n, 1, b, records);
    free(b);
}

enum { IDX_N = 13, IDX_ROWS = 4, IDX_COLS = 3 };

/* A good train part: IDX_N images of 4 rows x 3 cols, gzipped. */
static void idx_write_good(const char *dir)
{
    idx_write_images(dir, "train", ".gz", 0x00000803, IDX_N, IDX_ROWS, IDX_COLS, IDX_N, 0);
    idx_write_labels(dir, "train", ".gz", IDX_N, IDX_N, (size_t)-1, 0);
}

/* Values byte/255 as (1, rows, cols), labels, the name; the test part read from plain
 * (not gzipped) files where no .gz exists. */
START_TEST(idx_reader_values)
{
    char dir[256];
    mw_err e = {0};
    subdir("idx", dir);
    idx_write_good(dir);
    idx_write_images(dir, "t10k", "", 0x00000803, 5, 2, 6, 5, 0);
    idx_write_labels(dir, "t10k", "", 5, 5, (size_t)-1, 0);
    for (int train = 1; train >= 0; train--) {
        mw_dataset d;
        mw_status st = mw_fashion_mnist_read(dir, train, &d, &e);
        ck_assert_msg(st == MW_OK, "%s", e.msg);
        const int H = train ? IDX_ROWS : 2, W = train ? IDX_COLS : 6;
        ck_assert_uint_eq(d.n, train ? IDX_N : 5);
        ck_assert(d.channels == 1 && d.height == H && d.width == W && d.classes == 10);
        ck_assert_str_eq(d.name, train ? "fashion-mnist train" : "fashion-mnist test");
        for (size_t i = 0; i < d.n; i++) {
            ck_assert_int_eq(d.labels[i], (int)(i % 10));
            for (size_t j = 0; j < (size_t)(H * W); j++)
                ck_assert_msg(d.x[i * (size_t)(H * W) + j] == idx_pixel(i, j) / 255.0f,
                              "image %zu value %zu: %g", i, j, d.x[i * (size_t)(H * W) + j]);
        }
        mw_dataset_free(&d);
    }
}
END_TEST

/* Truncated data (short content, and a gzip stream cut short), a bad magic, counts that
 * disagree, a label of 10, trailing data and bad dims: one line each, naming the file. */
START_TEST(idx_reader_errors)
{
    char dir[256], path[320];
    mw_err e = {0};
    mw_dataset d;
    mw_status st;
    subdir("idx-short", dir);
    idx_write_good(dir);
    idx_write_images(dir, "train", ".gz", 0x00000803, IDX_N, IDX_ROWS, IDX_COLS, 7, 5);
    st = mw_fashion_mnist_read(dir, 1, &d, &e);
    assert_failed(st, &e, &d, "train-images-idx3-ubyte.gz", "truncated: 7 of 13 images", NULL);

    subdir("idx-cut", dir);
    idx_write_good(dir);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    struct stat sb;
    ck_assert(stat(path, &sb) == 0 && truncate(path, sb.st_size - 12) == 0);
    st = mw_fashion_mnist_read(dir, 1, &d, &e);
    assert_failed(st, &e, &d, path, "truncated", NULL);
    idx_write_good(dir); /* cut in the 8-byte trailer: every image there, the CRC not */
    ck_assert(stat(path, &sb) == 0 && truncate(path, sb.st_size - 4) == 0);
    st = mw_fashion_mnist_read(dir, 1, &d, &e);
    assert_failed(st, &e, &d, path, "truncated", NULL);

    subdir("idx-corrupt", dir);
    idx_write_good(dir);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    FILE *f = fopen(path, "r+b"); /* a flipped CRC byte */
    ck_assert(f && fseek(f, -6, SEEK_END) == 0);
    int byte = fgetc(f);
    ck_assert(byte != EOF && fseek(f, -6, SEEK_END) == 0 && fputc(byte ^ 0x5a, f) != EOF);
    ck_assert(fclose(f) == 0);
    st = mw_fashion_mnist_read(dir, 1, &d, &e);
    assert_failed(st, &e, &d, path, "gzip: ", NULL);

    subdir("idx-magic", dir);
    idx_write_good(dir);
    idx_write_images(dir, "train", ".gz", 0x00000801, IDX_N, IDX_ROWS, IDX_COLS, IDX_N, 0);
    st = mw_fashion_mnist_read(dir, 1, &d, &e);
    assert_failed(st, &e, &d, "train-images-idx3-ubyte.gz",
                  "bad magic 0x00000801 (expected 0x00000803 for idx3 unsigned-byte images)",
                  NULL);

    subdir("idx-counts", dir);
    idx_write_good(dir);
    idx_write_labels(dir, "train", ".gz", IDX_N - 1, IDX_N - 1, (size_t)-1, 0);
    st = mw_fashion_mnist_read(dir, 1, &d, &e);
    assert_failed(st, &e, &d, "holds 13 images but", "train-labels-idx1-ubyte.gz holds 12 labels",
                  NULL);

    subdir("idx-label", dir);
    idx_write_good(dir);
    idx_write_labels(dir, "train", ".gz", IDX_N, IDX_N, 2, 10);
    st = mw_fashion_mnist_read(dir, 1, &d, &e);
    assert_failed(st, &e, &d, "train-labels-idx1-ubyte.gz", "record 2 (byte 10)",
                  "label 10 outside 0..9");

    subdir("idx-trailing", dir);
    idx_write_good(dir);
    idx_write_images(dir, "train", ".gz", 0x00000803, IDX_N, IDX_ROWS, IDX_COLS, IDX_N, 1);
    st = mw_fashion_mnist_read(dir, 1, &d, &e);
    assert_failed(st, &e, &d, "train-images-idx3-ubyte.gz", "trailing data at byte 172", NULL);

    subdir("idx-dims", dir);
    idx_write_good(dir);
    idx_write_images(dir, "train", ".gz", 0x00000803, IDX_N, 0, IDX_COLS, 0, 0);
    st = mw_fashion_mnist_read(dir, 1, &d, &e);
    assert_failed(st, &e, &d, "train-images-idx3-ubyte.gz", "images of 0x3", "1..4096");

    subdir("idx-missing", dir);
    st = mw_fashion_mnist_read(dir, 0, &d, &e);
    assert_failed(st, &e, &d, "t10k-images-idx3-ubyte.gz", "No such file", NULL);
}
END_TEST

/* mw_dataset_load reads NAME:DIR through the reader of NAME; cifar10 needs a directory;
 * an unknown name fails. */
START_TEST(load_by_name)
{
    char dir[256], arg[300];
    mw_err e = {0};
    mw_dataset d;
    subdir("load", dir);
    cifar_write_all(dir);
    snprintf(arg, sizeof arg, "cifar10:%s", dir);
    mw_status st = mw_dataset_load(arg, 0, &d, &e);
    ck_assert_msg(st == MW_OK && d.n == CIFAR_N, "%s", e.msg);
    mw_dataset_free(&d);
    st = mw_dataset_load("cifar10", 0, &d, &e);
    assert_failed(st, &e, &d, "cifar10: needs a directory", NULL, NULL);
    st = mw_dataset_load("imagenet:/x", 0, &d, &e);
    assert_failed(st, &e, &d, "unknown dataset \"imagenet:/x\"", NULL, NULL);
    snprintf(arg, sizeof arg, "fashion-mnist:%s", dir);
    st = mw_dataset_load(arg, 1, &d, &e);
    assert_failed(st, &e, &d, "fashion-mnist: ", "train-images-idx3-ubyte.gz", NULL);
}
END_TEST

/* The installed Fashion-MNIST: 60000 train and 10000 test images of 28x28, values in
 * [0, 1], every class 6000 times in train and 1000 times in test. */
START_TEST(fashion_mnist_installed)
{
    char path[512];
    mw_err e = {0};
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", mw_fashion_mnist_default_dir());
    if (access(path, R_OK) != 0) {
        printf("note: %s not installed (Debian package dataset-fashion-mnist): not checked\n",
               path);
        return;
    }
    for (int train = 1; train >= 0; train--) {
        mw_dataset d;
        mw_status st = mw_dataset_load("fashion-mnist", train, &d, &e);
        ck_assert_msg(st == MW_OK, "%s", e.msg);
        const size_t n = train ? 60000 : 10000;
        ck_assert_uint_eq(d.n, n);
        ck_assert(d.channels == 1 && d.height == 28 && d.width == 28 && d.classes == 10);
        size_t count[10] = {0};
        for (size_t i = 0; i < d.n; i++) {
            ck_assert(d.labels[i] >= 0 && d.labels[i] < 10);
            count[d.labels[i]]++;
        }
        for (int c = 0; c < 10; c++)
            ck_assert_msg(count[c] == n / 10, "class %d: %zu samples", c, count[c]);
        float lo = 1, hi = 0;
        for (size_t k = 0; k < d.n * 784; k++) {
            lo = d.x[k] < lo ? d.x[k] : lo;
            hi = d.x[k] > hi ? d.x[k] : hi;
        }
        ck_assert_msg(lo == 0 && hi == 1, "values in [%g, %g]", lo, hi);
        mw_dataset_free(&d);
    }
}
END_TEST

/* ---- transforms ------------------------------------------------------------------------ */

/* A dataset of n samples of (C, H, W) with value i·1000 + c·100 + h·W + w (exact in
 * float32) and label i % classes. */
static void ramp(mw_dataset *d, size_t n, int C, int H, int W, int classes)
{
    mw_err e = {0};
    mw_status st = mw_dataset_synthetic_images(C, H, W, classes, n, 1, d, &e);
    ck_assert_msg(st == MW_OK, "%s", e.msg);
    for (size_t i = 0; i < n; i++) {
        d->labels[i] = (int)(i % (size_t)classes);
        for (int c = 0; c < C; c++)
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++)
                    d->x[((i * (size_t)C + (size_t)c) * (size_t)H + (size_t)h) * (size_t)W +
                         (size_t)w] = (float)(i * 1000 + (size_t)(c * 100 + h * W + w));
    }
}

/* Taking the first n keeps them; n outside 1..d.n fails. */
START_TEST(take_first)
{
    mw_dataset d;
    mw_err e = {0};
    ramp(&d, 10, 2, 3, 3, 4);
    ck_assert(mw_dataset_take(&d, 11, &e) != MW_OK && strstr(e.msg, "1..10"));
    ck_assert(mw_dataset_take(&d, 0, &e) != MW_OK && d.n == 10);
    ck_assert(mw_dataset_take(&d, 4, &e) == MW_OK && d.n == 4);
    for (size_t k = 0; k < 4 * 18; k++)
        ck_assert(d.x[k] == (float)((k / 18) * 1000 + (k % 18) / 9 * 100 + k % 9));
    ck_assert(d.labels[3] == 3);
    mw_dataset_free(&d);
}
END_TEST

/* Average pooling of the ramp: the mean of a block of a linear ramp is its value at the
 * block's centre, exact in float32. Factors that do not divide, or enlarge, fail and
 * leave the dataset as it was. */
START_TEST(downsample_averages)
{
    enum { N = 3, C = 2, H = 6, W = 8 };
    const int targets[][2] = {{3, 4}, {2, 2}, {1, 1}, {6, 8}};
    for (int t = 0; t < 4; t++) {
        mw_dataset d;
        mw_err e = {0};
        ramp(&d, N, C, H, W, 3);
        const int H2 = targets[t][0], W2 = targets[t][1], fh = H / H2, fw = W / W2;
        ck_assert_msg(mw_dataset_downsample(&d, H2, W2, &e) == MW_OK, "%s", e.msg);
        ck_assert(d.height == H2 && d.width == W2 && d.channels == C && d.n == N);
        for (int i = 0; i < N; i++)
            for (int c = 0; c < C; c++)
                for (int h = 0; h < H2; h++)
                    for (int w = 0; w < W2; w++) {
                        double want = i * 1000 + c * 100 + (h * fh + (fh - 1) / 2.0) * W +
                                      (w * fw + (fw - 1) / 2.0);
                        float got = d.x[((i * C + c) * H2 + h) * W2 + w];
                        ck_assert_msg(got == want,
                                      "%dx%d: sample %d (c %d, h %d, w %d): %g, not %g", H2, W2,
                                      i, c, h, w, got, want);
                    }
        mw_dataset_free(&d);
    }
    mw_dataset d;
    mw_err e = {0};
    ramp(&d, N, C, H, W, 3);
    const int bad[][2] = {{4, 4}, {3, 3}, {12, 8}, {0, 4}};
    for (int t = 0; t < 4; t++) {
        mw_status st = mw_dataset_downsample(&d, bad[t][0], bad[t][1], &e);
        ck_assert_msg(st == MW_ERR_ARG && strstr(e.msg, "must divide"), "%dx%d: %s", bad[t][0],
                      bad[t][1], e.msg);
        ck_assert(d.height == H && d.width == W && d.x[N * C * H * W - 1] == 2000 + 100 + 47);
    }
    mw_dataset_free(&d);
}
END_TEST

/* After normalising with its own statistics every channel has mean 0 and std 1 (to the
 * float32 rounding of the values); a constant channel is only centred (no NaN); the
 * held-out part is normalised with the training statistics; bad statistics fail and
 * leave the data as it was. */
START_TEST(normalise_channels)
{
    enum { C = 3, H = 5, W = 4, N = 300 };
    mw_dataset train, test;
    mw_err e = {0};
    mw_status st = mw_dataset_synthetic_images(C, H, W, 4, N, tu_seed(), &train, &e);
    ck_assert(st == MW_OK && mw_dataset_synthetic_images(C, H, W, 4, N, tu_seed() + 1, &test,
                                                         &e) == MW_OK);
    for (size_t i = 0; i < N; i++) /* channel 1: constant, as a padded or blank channel */
        for (int p = 0; p < H * W; p++)
            train.x[(i * C + 1) * H * W + (size_t)p] = 0.25f,
            test.x[(i * C + 1) * H * W + (size_t)p] = 0.25f;
    double mean[C], std[C], m2[C], s2[C];
    ck_assert_msg(mw_dataset_channel_stats(&train, mean, std, &e) == MW_OK, "%s", e.msg);
    ck_assert(mean[1] == 0.25 && std[1] == 0 && std[0] > 0.1 && std[2] > 0.1);
    ck_assert_msg(mw_dataset_normalise(&train, mean, std, &e) == MW_OK, "%s", e.msg);
    ck_assert_msg(mw_dataset_normalise(&test, mean, std, &e) == MW_OK, "%s", e.msg);
    ck_assert(mw_dataset_channel_stats(&train, m2, s2, &e) == MW_OK);
    /* each value carries one float32 rounding of at most |x|·eps/2, |x| < 8 */
    const double tol = 8 * FLT_EPSILON;
    for (int c = 0; c < C; c++) {
        const double want_std = c == 1 ? 0 : 1;
        ck_assert_msg(fabs(m2[c]) <= tol && fabs(s2[c] - want_std) <= tol,
                      "channel %d: mean %.3g, std %.9g (seed %llu)", c, m2[c], s2[c],
                      (unsigned long long)tu_seed());
    }
    for (size_t k = 0; k < (size_t)N * C * H * W; k++)
        ck_assert(isfinite(test.x[k]));
    ck_assert(mw_dataset_channel_stats(&test, m2, s2, &e) == MW_OK);
    ck_assert(fabs(m2[0]) < 0.2 && fabs(s2[0] - 1) < 0.2 && m2[1] == 0 && s2[1] == 0);
    const size_t at = 2 * H * W + 7; /* sample 0, channel 2 */
    const float before = train.x[at];
    double m3[C] = {0, 0, 0.5}, s3[C] = {1, 1, NAN};
    ck_assert(mw_dataset_normalise(&train, m3, s3, &e) == MW_ERR_ARG);
    ck_assert_msg(strstr(e.msg, "channel 2"), "%s", e.msg);
    s3[2] = -1;
    ck_assert(mw_dataset_normalise(&train, m3, s3, &e) == MW_ERR_ARG);
    ck_assert(train.x[at] == before);
    s3[2] = MW_DATA_STD_MIN / 2; /* as good as constant: centred, not divided */
    ck_assert(mw_dataset_normalise(&train, m3, s3, &e) == MW_OK);
    ck_assert(train.x[at] == (float)(before - 0.5));
    mw_dataset_free(&train);
    mw_dataset_free(&test);
}
END_TEST

/* The split is a function of the seed: held-out and train are disjoint, together every
 * sample once, each in the original order; another seed holds out other samples. */
START_TEST(split_seeded)
{
    enum { N = 100, HELD = 30, PER = 2 };
    mw_dataset d, tr[2], ho[2];
    mw_err e = {0};
    ramp(&d, N, 1, 1, PER, 7);
    for (int k = 0; k < 2; k++) {
        mw_status st = mw_dataset_split(&d, HELD, tu_seed(), &tr[k], &ho[k], &e);
        ck_assert_msg(st == MW_OK, "%s", e.msg);
    }
    ck_assert(tr[0].n == N - HELD && ho[0].n == HELD);
    ck_assert(tr[0].height == 1 && tr[0].width == PER && ho[0].classes == 7);
    int seen[N] = {0};
    const mw_dataset *parts[2] = {&tr[0], &ho[0]};
    for (int p = 0; p < 2; p++)
        for (size_t k = 0; k < parts[p]->n; k++) {
            size_t i = (size_t)parts[p]->x[k * PER] / 1000; /* the ramp's sample number */
            ck_assert(i < N && !seen[i]);
            seen[i] = 1;
            ck_assert(k == 0 || parts[p]->x[k * PER] > parts[p]->x[(k - 1) * PER]);
            ck_assert(parts[p]->labels[k] == (int)(i % 7));
            ck_assert(parts[p]->x[k * PER + 1] == i * 1000 + 1);
            ck_assert(tr[1].n == tr[0].n);
            ck_assert(parts[p]->x[k * PER] == (p ? ho[1] : tr[1]).x[k * PER]);
        }
    mw_dataset other_tr, other_ho;
    mw_status st = mw_dataset_split(&d, HELD, tu_seed() + 1, &other_tr, &other_ho, &e);
    ck_assert_msg(st == MW_OK, "%s", e.msg);
    int same = 0;
    for (size_t k = 0; k < HELD; k++)
        same += other_ho.x[k * PER] == ho[0].x[k * PER];
    ck_assert_msg(same < HELD, "seeds %llu and +1 hold out the same samples",
                  (unsigned long long)tu_seed());
    for (int k = 0; k < 2; k++)
        mw_dataset_free(&tr[k]), mw_dataset_free(&ho[k]);
    mw_dataset_free(&other_tr);
    mw_dataset_free(&other_ho);
    ck_assert(mw_dataset_split(&d, 0, 1, &tr[0], &ho[0], &e) == MW_ERR_ARG);
    ck_assert(mw_dataset_split(&d, N, 1, &tr[0], &ho[0], &e) == MW_ERR_ARG);
    ck_assert(tr[0].x == NULL && ho[0].x == NULL);
    mw_dataset_free(&d);
}
END_TEST

/* Gather writes (B, C_out, H, W) doubles: the samples' channels first, zeros after; a
 * sample may repeat; too few channels or an index past the end fail. */
START_TEST(gather_pads_channels)
{
    enum { N = 5, C = 3, H = 2, W = 3, CO = 8, B = 3 };
    mw_dataset d;
    mw_err e = {0};
    ramp(&d, N, C, H, W, 4);
    const size_t idx[B] = {4, 0, 4};
    double x[B * CO * H * W];
    int labels[B];
    ck_assert(mw_dataset_gather(&d, idx, B, CO, x, labels, &e) == MW_OK);
    for (int b = 0; b < B; b++) {
        ck_assert_int_eq(labels[b], (int)idx[b] % 4);
        for (int c = 0; c < CO; c++)
            for (int p = 0; p < H * W; p++) {
                double want = c < C ? (double)(idx[b] * 1000 + (size_t)(c * 100 + p)) : 0;
                ck_assert_msg(x[(b * CO + c) * H * W + p] == want, "b %d c %d p %d: %g, not %g",
                              b, c, p, x[(b * CO + c) * H * W + p], want);
            }
    }
    ck_assert(mw_dataset_gather(&d, idx, B, C, x, labels, &e) == MW_OK);
    ck_assert(x[H * W * C - 1] == 4000 + 200 + 5 && x[H * W * C] == 0);
    ck_assert(mw_dataset_gather(&d, idx, B, C - 1, x, labels, &e) == MW_ERR_ARG);
    const size_t past[2] = {1, N};
    ck_assert(mw_dataset_gather(&d, past, 2, C, x, labels, &e) == MW_ERR_ARG);
    ck_assert_msg(strstr(e.msg, "index 1 is sample 5 of 5"), "%s", e.msg);
    mw_dataset_free(&d);
}
END_TEST

/* ---- synthetic images ------------------------------------------------------------------- */

/* Sample i is the same for every n and depends on the seed; values are finite float32. */
START_TEST(images_addressable)
{
    mw_dataset a, b, c;
    mw_err e = {0};
    ck_assert(mw_dataset_synthetic_images(2, 3, 4, 5, 5, tu_seed(), &a, &e) == MW_OK);
    ck_assert(mw_dataset_synthetic_images(2, 3, 4, 5, 12, tu_seed(), &b, &e) == MW_OK);
    ck_assert(mw_dataset_synthetic_images(2, 3, 4, 5, 5, tu_seed() + 1, &c, &e) == MW_OK);
    ck_assert(a.n == 5 && b.n == 12 && a.channels == 2 && a.height == 3 && a.width == 4);
    ck_assert_str_eq(a.name, "synthetic");
    int differ = 0;
    for (size_t k = 0; k < 5 * 24; k++) {
        ck_assert(a.x[k] == b.x[k] && isfinite(a.x[k]));
        differ += a.x[k] != c.x[k];
    }
    for (int i = 0; i < 5; i++)
        ck_assert(a.labels[i] == b.labels[i] && a.labels[i] >= 0 && a.labels[i] < 5);
    ck_assert_msg(differ > 100, "seeds %llu and +1 agree on %d of 120 values",
                  (unsigned long long)tu_seed(), 120 - differ);
    mw_dataset_free(&a);
    mw_dataset_free(&b);
    mw_dataset_free(&c);
    mw_status st = mw_dataset_synthetic_images(0, 3, 4, 5, 5, 1, &c, &e);
    ck_assert(st == MW_ERR_ARG);
    ck_assert(c.x == NULL);
}
END_TEST

/* The classes are learnable: every class occurs, and the nearest class mean (from the
 * first half) labels at least 95% of the second half right; at 1x1 the class means
 * still differ by many standard errors. */
START_TEST(images_class_dependent)
{
    enum { C = 2, H = 8, W = 8, K = 4, N = 800, P = C * H * W };
    mw_dataset d;
    mw_err e = {0};
    ck_assert(mw_dataset_synthetic_images(C, H, W, K, N, tu_seed(), &d, &e) == MW_OK);
    static double mean[K][P];
    int count[K] = {0}, right = 0;
    memset(mean, 0, sizeof mean);
    for (int i = 0; i < N / 2; i++) {
        count[d.labels[i]]++;
        for (int p = 0; p < P; p++)
            mean[d.labels[i]][p] += d.x[i * P + p];
    }
    for (int k = 0; k < K; k++) {
        ck_assert_msg(count[k] > N / (4 * K), "class %d: %d samples (seed %llu)", k, count[k],
                      (unsigned long long)tu_seed());
        for (int p = 0; p < P; p++)
            mean[k][p] /= count[k];
    }
    for (int i = N / 2; i < N; i++) {
        int best = 0;
        double best_d = INFINITY;
        for (int k = 0; k < K; k++) {
            double dist = 0;
            for (int p = 0; p < P; p++)
                dist += (d.x[i * P + p] - mean[k][p]) * (d.x[i * P + p] - mean[k][p]);
            if (dist < best_d)
                best = k, best_d = dist;
        }
        right += best == d.labels[i];
    }
    ck_assert_msg(right >= 0.95 * (N / 2), "nearest mean: %d of %d right (seed %llu)", right,
                  N / 2, (unsigned long long)tu_seed());
    mw_dataset_free(&d);

    ck_assert(mw_dataset_synthetic_images(1, 1, 1, 3, 3000, tu_seed(), &d, &e) == MW_OK);
    double m[3] = {0};
    int n[3] = {0};
    for (size_t i = 0; i < d.n; i++)
        m[d.labels[i]] += d.x[i], n[d.labels[i]]++;
    for (int k = 0; k < 3; k++)
        m[k] /= n[k];
    for (int k = 0; k < 2; k++)
        ck_assert_msg(fabs(m[k + 1] - m[k]) > 10 * 0.2 * sqrt(2.0 / n[k]),
                      "1x1 classes %d, %d: means %g, %g", k, k + 1, m[k], m[k + 1]);
    mw_dataset_free(&d);
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
    tc = tcase_create("readers");
    tcase_add_unchecked_fixture(tc, tmp_dir_make, tmp_dir_remove);
    tcase_add_test(tc, cifar_reader_values);
    tcase_add_test(tc, cifar_reader_errors);
    tcase_add_test(tc, idx_reader_values);
    tcase_add_test(tc, idx_reader_errors);
    tcase_add_test(tc, load_by_name);
    suite_add_tcase(s, tc);
    tc = tcase_create("fashion");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fashion_mnist_installed);
    suite_add_tcase(s, tc);
    tc = tcase_create("transforms");
    tcase_add_test(tc, take_first);
    tcase_add_test(tc, downsample_averages);
    tcase_add_test(tc, normalise_channels);
    tcase_add_test(tc, split_seeded);
    tcase_add_test(tc, gather_pads_channels);
    suite_add_tcase(s, tc);
    tc = tcase_create("images");
    tcase_add_test(tc, images_addressable);
    tcase_add_test(tc, images_class_dependent);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
