/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11),
 * header only, for C and CUDA alike, so that CPU and GPU draw the same numbers.
 *
 * A draw is addressed by (seed, stream, index): the 64-bit seed is the key, and the
 * 128-bit counter holds the index (words 0, 1) and the stream (words 2, 3). Uniforms
 * take 53 bits from two words; normals come in Box-Muller pairs from one block, so
 * normal i uses block i/2. Nothing is stateful: any draw can be recomputed on its own,
 * which lets projforward regenerate its tangent instead of storing it. */
#ifndef MW_PHILOX_H
#define MW_PHILOX_H

#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define MW_HOSTDEV __host__ __device__
#else
#define MW_HOSTDEV
#endif

/* Streams used by the engine and its callers: one per purpose. */
enum {
    MW_STREAM_INIT = 1,   /* initial parameters */
    MW_STREAM_DATA = 2,   /* synthetic inputs and labels */
    MW_STREAM_PROJ = 3,   /* projforward tangents (combined with the step number) */
};

typedef struct mw_philox_block {
    uint32_t v[4];
} mw_philox_block;

static MW_HOSTDEV inline void mw_philox_mulhilo(uint32_t a, uint32_t b, uint32_t *hi,
                                                uint32_t *lo)
{
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

/* One block of four words for counter ctr and key key (the Random123 definition). */
static MW_HOSTDEV inline mw_philox_block mw_philox4x32_10(const uint32_t ctr[4],
                                                          const uint32_t key[2])
{
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
    const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, lo0, hi1, lo1;
        mw_philox_mulhilo(M0, c0, &hi0, &lo0);
        mw_philox_mulhilo(M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += W0;
        k1 += W1;
    }
    mw_philox_block b = {{c0, c1, c2, c3}};
    return b;
}

static MW_HOSTDEV inline mw_philox_block mw_philox_at(uint64_t seed, uint64_t stream,
                                                      uint64_t block)
{
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream,
                       (uint32_t)(stream >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    return mw_philox4x32_10(ctr, key);
}

/* Uniform in [0, 1) with 53 random bits from words hi, lo. */
static MW_HOSTDEV inline double mw_philox_u53(uint32_t hi, uint32_t lo)
{
    uint64_t bits = ((uint64_t)(hi >> 5) << 26) | (uint64_t)(lo >> 6);
    return (double)bits * (1.0 / 9007199254740992.0);
}

/* Uniform draw number index in [0, 1): one block per pair of uniforms. */
static MW_HOSTDEV inline double mw_philox_uniform(uint64_t seed, uint64_t stream, uint64_t index)
{
    mw_philox_block b = mw_philox_at(seed, stream, index >> 1);
    return (index & 1) ? mw_philox_u53(b.v[2], b.v[3]) : mw_philox_u53(b.v[0], b.v[1]);
}

/* Standard normal draws number 2·block and 2·block + 1 (Box-Muller on the block's two
 * uniforms): z0 = r cos(a), z1 = r sin(a). */
static MW_HOSTDEV inline void mw_philox_normal_pair(uint64_t seed, uint64_t stream,
                                                   uint64_t block, double *z0, double *z1)
{
    mw_philox_block b = mw_philox_at(seed, stream, block);
    double u1 = 1.0 - mw_philox_u53(b.v[0], b.v[1]); /* (0, 1]: log is finite */
    double u2 = mw_philox_u53(b.v[2], b.v[3]);
    double r = sqrt(-2.0 * log(u1));
    double a = 6.283185307179586476925286766559 * u2;
    *z0 = r * cos(a);
    *z1 = r * sin(a);
}

/* Standard normal draw number index. */
static MW_HOSTDEV inline double mw_philox_normal(uint64_t seed, uint64_t stream, uint64_t index)
{
    double z0, z1;
    mw_philox_normal_pair(seed, stream, index >> 1, &z0, &z1);
    return (index & 1) ? z1 : z0;
}

/* The stream of projforward's tangents at training step `step`. */
static MW_HOSTDEV inline uint64_t mw_stream_proj(uint64_t step)
{
    return ((uint64_t)MW_STREAM_PROJ << 56) ^ step;
}

#endif
