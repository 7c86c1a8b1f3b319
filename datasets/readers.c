/* Readers of the image datasets on disk (datasets.h): CIFAR-10's binary batches,
 * Fashion-MNIST's gzipped idx files, and the table behind mw_dataset_load. A bad file is
 * a status and one line naming it, the record and what was wrong, never a crash. */
#include "datasets.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data_private.h"

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

enum {
    PATH_BYTES = 4096,
    CIFAR_PIXELS = 3 * 32 * 32,
    CIFAR_RECORD_BYTES = 1 + CIFAR_PIXELS,
    CIFAR_TRAIN_FILES = 5,
    IMAGE_CLASSES = 10, /* CIFAR-10 and Fashion-MNIST alike */
    IDX_MAX_SIDE = 4096,
    IDX_CHUNK_BYTES = 1 << 24, /* one gzread; the buffer grows as data arrives */
};

/* ---- CIFAR-10 ---------------------------------------------------------------------- */

static mw_status cifar_path(const char *dir, int train, int k, char *path, mw_err *err)
{
    int len = train ? snprintf(path, PATH_BYTES, "%s/data_batch_%d.bin", dir, k + 1)
                    : snprintf(path, PATH_BYTES, "%s/test_batch.bin", dir);
    if (len < 0 || len >= PATH_BYTES)
        return mw_err_set(err, MW_ERR_ARG, "cifar10: %.200s...: path too long", dir);
    return MW_OK;
}

/* The number of records of path, from its size: a whole, positive number. */
static mw_status cifar_count(const char *path, size_t *count, mw_err *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return mw_err_set(err, MW_ERR_IO, "cifar10: %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return mw_err_set(err, MW_ERR_IO, "cifar10: %s: not a regular file", path);
    const size_t size = (size_t)sb.st_size, whole = size / CIFAR_RECORD_BYTES;
    if (size == 0)
        return mw_err_set(err, MW_ERR_FORMAT, "cifar10: %s: empty, no records", path);
    if (size % CIFAR_RECORD_BYTES != 0)
        return mw_err_set(err, MW_ERR_FORMAT,
                          "cifar10: %s: truncated: record %zu (byte %zu) has %zu of %d bytes",
                          path, whole, whole * CIFAR_RECORD_BYTES, size % CIFAR_RECORD_BYTES,
                          CIFAR_RECORD_BYTES);
    *count = whole;
    return MW_OK;
}

/* Record r of path, got bytes in rec, into x (3072 values) and *label. */
static mw_status cifar_record(const char *path, size_t r, const unsigned char *rec, size_t got,
                              float *x, int *label, mw_err *err)
{
    const size_t at = r * CIFAR_RECORD_BYTES;
    if (got != CIFAR_RECORD_BYTES)
        return mw_err_set(err, MW_ERR_IO,
                          "cifar10: %s: record %zu (byte %zu): read %zu of %d bytes (read "
                          "error, or the file changed while read)", path, r, at, got,
                          CIFAR_RECORD_BYTES);
    if (rec[0] >= IMAGE_CLASSES)
        return mw_err_set(err, MW_ERR_FORMAT,
                          "cifar10: %s: record %zu (byte %zu): label %d outside 0..%d", path,
                          r, at, rec[0], IMAGE_CLASSES - 1);
    *label = rec[0];
    for (int j = 0; j < CIFAR_PIXELS; j++)
        x[j] = rec[1 + j] / 255.0f;
    return MW_OK;
}

static mw_status cifar_read_file(const char *path, size_t count, float *x, int *labels,
                                 mw_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mw_err_set(err, MW_ERR_IO, "cifar10: %s: %s", path, strerror(errno));
    unsigned char rec[CIFAR_RECORD_BYTES];
    mw_status st = MW_OK;
    for (size_t r = 0; r < count && st == MW_OK; r++) {
        size_t got = fread(rec, 1, sizeof rec, f);
        st = cifar_record(path, r, rec, got, x + r * CIFAR_PIXELS, &labels[r], err);
    }
    fclose(f);
    return st;
}

mw_status mw_cifar10_read(const char *dir, int train, mw_dataset *out, mw_err *err)
{
    memset(out, 0, sizeof *out);
    if (!dir || !*dir)
        return mw_err_set(err, MW_ERR_ARG, "cifar10: no directory given");
    const int files = train ? CIFAR_TRAIN_FILES : 1;
    char path[CIFAR_TRAIN_FILES][PATH_BYTES];
    size_t count[CIFAR_TRAIN_FILES], total = 0;
    /* Sizes first, so that a short file fails before anything is read. */
    for (int k = 0; k < files; k++) {
        mw_status st = cifar_path(dir, train, k, path[k], err);
        if (st == MW_OK)
            st = cifar_count(path[k], &count[k], err);
        if (st != MW_OK)
            return st;
        total += count[k];
    }
    mw_status st = mw_data_alloc(out, train ? "cifar10 train" : "cifar10 test", total, 3, 32,
                                 32, IMAGE_CLASSES, err);
    size_t first = 0;
    for (int k = 0; k < files && st == MW_OK; k++) {
        st = cifar_read_file(path[k], count[k], out->x + first * CIFAR_PIXELS,
                             out->labels + first, err);
        first += count[k];
    }
    if (st != MW_OK)
        mw_dataset_free(out);
    return st;
}

/* ---- idx (Fashion-MNIST) -------------------------------------------------------------- */

typedef struct idx_file {
    char path[PATH_BYTES];
    gzFile g;
    size_t n;            /* records, from the header */
    size_t header_bytes; /* 8 for idx1, 16 for idx3 */
    size_t record_bytes; /* rows·cols for images, 1 for labels */
    int rows, cols;
    unsigned char *data; /* (n, record_bytes) once read */
} idx_file;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* zlib's message for f's last error without the path zlib puts first, or NULL for none;
 * *truncated says whether it is the compressed stream's end arriving early. */
static const char *gz_message(const idx_file *f, int *truncated)
{
    int code;
    const char *m = gzerror(f->g, &code);
    *truncated = code == Z_BUF_ERROR;
    if (code == Z_OK || code == Z_STREAM_END)
        return NULL;
    const size_t len = strlen(f->path);
    if (strncmp(m, f->path, len) == 0 && strncmp(m + len, ": ", 2) == 0)
        m += len + 2;
    return m;
}

/* Open dir/base.gz, or dir/base where only that exists. */
static mw_status idx_open(idx_file *f, const char *set, const char *dir, const char *base,
                          mw_err *err)
{
    int len = snprintf(f->path, sizeof f->path, "%s/%s.gz", dir, base);
    if (len < 0 || len >= (int)sizeof f->path)
        return mw_err_set(err, MW_ERR_ARG, "%s: %.200s...: path too long", set, dir);
    struct stat sb;
    char plain[PATH_BYTES];
    snprintf(plain, sizeof plain, "%s/%s", dir, base);
    if (stat(f->path, &sb) != 0 && errno == ENOENT && stat(plain, &sb) == 0)
        memcpy(f->path, plain, sizeof plain);
    if (stat(f->path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return mw_err_set(err, MW_ERR_IO, "%s: %s: not a regular file", set, f->path);
    errno = 0;
    f->g = gzopen(f->path, "rb");
    if (!f->g)
        return mw_err_set(err, MW_ERR_IO, "%s: %s: %s", set, f->path,
                          errno ? strerror(errno) : "cannot open");
    (void)gzbuffer(f->g, 1u << 18); /* fewer reads than the 8 KiB default; failing is harmless */
    return MW_OK;
}

/* Read and check the header: magic, then n (and rows, cols for idx3). */
static mw_status idx_header(idx_file *f, const char *set, uint32_t magic, const char *what,
                            mw_err *err)
{
    const int dims = magic == 0x00000803 ? 3 : 1, want = 4 + 4 * dims;
    unsigned char h[16];
    int got = gzread(f->g, h, (unsigned)want), truncated;
    const char *gz = gz_message(f, &truncated);
    if (got < want && gz && !truncated)
        return mw_err_set(err, MW_ERR_FORMAT, "%s: %s: header: gzip: %s", set, f->path,
                          gz);
    if (got < want)
        return mw_err_set(err, MW_ERR_FORMAT,
                          "%s: %s: truncated header: %d of %d bytes", set, f->path,
                          got < 0 ? 0 : got, want);
    if (be32(h) != magic)
        return mw_err_set(err, MW_ERR_FORMAT,
                          "%s: %s: bad magic 0x%08x (expected 0x%08x for %s)", set, f->path,
                          (unsigned)be32(h), (unsigned)magic, what);
    f->header_bytes = (size_t)want;
    f->n = be32(h + 4);
    f->rows = f->cols = 1;
    if (f->n < 1)
        return mw_err_set(err, MW_ERR_FORMAT, "%s: %s: header says 0 records", set,
                          f->path);
    if (dims == 3 && (be32(h + 8) < 1 || be32(h + 8) > IDX_MAX_SIDE || be32(h + 12) < 1 ||
                      be32(h + 12) > IDX_MAX_SIDE))
        return mw_err_set(err, MW_ERR_FORMAT,
                          "%s: %s: images of %ux%u: rows and cols must be 1..%d", set,
                          f->path, (unsigned)be32(h + 8), (unsigned)be32(h + 12),
                          IDX_MAX_SIDE);
    if (dims == 3) {
        f->rows = (int)be32(h + 8);
        f->cols = (int)be32(h + 12);
    }
    f->record_bytes = (size_t)f->rows * (size_t)f->cols;
    return MW_OK;
}

/* Read the n records after the header into f->data, growing it only as data arrives (a
 * header claiming billions of records costs nothing), then make sure nothing follows. */
static mw_status idx_records(idx_file *f, const char *set, const char *what, mw_err *err)
{
    if (f->n > SIZE_MAX / f->record_bytes)
        return mw_err_set(err, MW_ERR_FORMAT,
                          "%s: %s: %zu %s exceed the address space", set, f->path, f->n, what);
    const size_t total = f->n * f->record_bytes;
    size_t have = 0, cap = 0;
    int got = 0, truncated;
    while (have < total && got >= 0) {
        const size_t want = total - have < IDX_CHUNK_BYTES ? total - have : IDX_CHUNK_BYTES;
        if (have + want > cap) {
            size_t grow = cap ? 2 * cap : IDX_CHUNK_BYTES;
            grow = grow > total ? total : grow;
            grow = grow < have + want ? have + want : grow;
            unsigned char *p = realloc(f->data, grow);
            if (!p)
                return mw_err_set(err, MW_ERR_NOMEM,
                                  "%s: %s: out of memory after %zu of %zu %s", set, f->path,
                                  have / f->record_bytes, f->n, what);
            f->data = p;
            cap = grow;
        }
        got = gzread(f->g, f->data + have, (unsigned)want);
        have += got > 0 ? (size_t)got : 0;
        if (got >= 0 && (size_t)got < want)
            break;
    }
    const char *gz = gz_message(f, &truncated);
    if (have < total && (truncated || !gz))
        return mw_err_set(err, MW_ERR_FORMAT, "%s: %s: truncated: %zu of %zu %s", set,
                          f->path, have / f->record_bytes, f->n, what);
    if (have < total)
        return mw_err_set(err, MW_ERR_FORMAT,
                          "%s: %s: byte %zu, after %zu of %zu %s: gzip: %s", set, f->path,
                          f->header_bytes + have, have / f->record_bytes, f->n, what, gz);
    unsigned char extra;
    got = gzread(f->g, &extra, 1); /* also where zlib checks the gzip trailer's CRC */
    gz = gz_message(f, &truncated);
    if (got > 0)
        return mw_err_set(err, MW_ERR_FORMAT,
                          "%s: %s: trailing data at byte %zu, after the %zu %s the header "
                          "announces", set, f->path, f->header_bytes + total, f->n, what);
    if (gz && truncated)
        return mw_err_set(err, MW_ERR_FORMAT,
                          "%s: %s: truncated: the gzip stream ends after the %zu %s, before "
                          "its trailer", set, f->path, f->n, what);
    if (gz)
        return mw_err_set(err, MW_ERR_FORMAT, "%s: %s: after the %zu %s: gzip: %s", set,
                          f->path, f->n, what, gz);
    return MW_OK;
}

static mw_status idx_check_labels(const idx_file *f, const char *set, mw_err *err)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->data[i] >= IMAGE_CLASSES)
            return mw_err_set(err, MW_ERR_FORMAT,
                              "%s: %s: record %zu (byte %zu): label %d outside 0..%d", set,
                              f->path, i, f->header_bytes + i, f->data[i],
                              IMAGE_CLASSES - 1);
    return MW_OK;
}

static void idx_close(idx_file *f)
{
    if (f->g)
        gzclose(f->g);
    free(f->data);
    memset(f, 0, sizeof *f);
}

/* Both files of one part, headers before bulk so that a mismatch fails early. */
static mw_status idx_load(const char *set, const char *dir, int train, idx_file *img,
                          idx_file *lab, mw_dataset *out, mw_err *err)
{
    const char *part = train ? "train" : "t10k";
    char base[64], name[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", part);
    mw_status st = idx_open(img, set, dir, base, err);
    if (st == MW_OK)
        st = idx_header(img, set, 0x00000803, "idx3 unsigned-byte images", err);
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", part);
    if (st == MW_OK)
        st = idx_open(lab, set, dir, base, err);
    if (st == MW_OK)
        st = idx_header(lab, set, 0x00000801, "idx1 unsigned-byte labels", err);
    if (st == MW_OK && img->n != lab->n)
        st = mw_err_set(err, MW_ERR_FORMAT,
                        "%s: %s holds %zu images but %s holds %zu labels", set, img->path,
                        img->n, lab->path, lab->n);
    if (st == MW_OK)
        st = idx_records(lab, set, "labels", err);
    if (st == MW_OK)
        st = idx_check_labels(lab, set, err);
    if (st == MW_OK)
        st = idx_records(img, set, "images", err);
    snprintf(name, sizeof name, "%s %s", set, train ? "train" : "test");
    if (st == MW_OK)
        st = mw_data_alloc(out, name, img->n, 1, img->rows, img->cols, IMAGE_CLASSES, err);
    if (st != MW_OK)
        return st;
    for (size_t i = 0; i < img->n * img->record_bytes; i++)
        out->x[i] = img->data[i] / 255.0f;
    for (size_t i = 0; i < lab->n; i++)
        out->labels[i] = lab->data[i];
    return MW_OK;
}

mw_status mw_fashion_mnist_read(const char *dir, int train, mw_dataset *out, mw_err *err)
{
    memset(out, 0, sizeof *out);
    if (!dir || !*dir)
        return mw_err_set(err, MW_ERR_ARG, "fashion-mnist: no directory given");
    idx_file *f = calloc(2, sizeof *f); /* images, labels: too large for the stack */
    if (!f)
        return mw_err_set(err, MW_ERR_NOMEM, "fashion-mnist: out of memory");
    mw_status st = idx_load("fashion-mnist", dir, train, &f[0], &f[1], out, err);
    idx_close(&f[0]);
    idx_close(&f[1]);
    free(f);
    if (st != MW_OK)
        mw_dataset_free(out);
    return st;
}

const char *mw_fashion_mnist_default_dir(void)
{
    return FASHION_MNIST_DIR;
}

/* ---- names on the command line --------------------------------------------------------- */

static const struct {
    const char *name;
    mw_status (*read)(const char *dir, int train, mw_dataset *out, mw_err *err);
    const char *default_dir; /* NULL: the name needs :DIR */
} readers[] = {
    {"fashion-mnist", mw_fashion_mnist_read, FASHION_MNIST_DIR},
    {"cifar10", mw_cifar10_read, NULL},
};

mw_status mw_dataset_load(const char *arg, int train, mw_dataset *out, mw_err *err)
{
    memset(out, 0, sizeof *out);
    if (!arg)
        return mw_err_set(err, MW_ERR_ARG, "no dataset named");
    const char *colon = strchr(arg, ':');
    const size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
    for (size_t k = 0; k < sizeof readers / sizeof readers[0]; k++) {
        if (strlen(readers[k].name) != len || strncmp(arg, readers[k].name, len) != 0)
            continue;
        const char *dir = colon ? colon + 1 : readers[k].default_dir;
        if (!dir || !*dir)
            return mw_err_set(err, MW_ERR_ARG, "%s: needs a directory: %s:DIR", readers[k].name,
                              readers[k].name);
        return readers[k].read(dir, train, out, err);
    }
    return mw_err_set(err, MW_ERR_ARG,
                      "unknown dataset \"%s\" (fashion-mnist[:DIR], cifar10:DIR)", arg);
}
