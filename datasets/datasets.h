/* datasets: where batches come from (DESIGN.md §1). For now the synthetic Gaussian-
 * mixture classification data every suite can have without files. */
#ifndef MW_DATASETS_H
#define MW_DATASETS_H

#include <stddef.h>
#include <stdint.h>

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

#endif
