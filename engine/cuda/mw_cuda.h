/* The CUDA side of the engine, built only when a CUDA compiler is found: finding a
 * device (with a clear reason when there is none), Philox draws on the device, which
 * must equal the CPU's (engine/philox.h is the one source of both), and the CUDA backend
 * (backend.cu), which a program makes available to mw_ctx_open by calling
 * mw_cuda_register once. Never prints, never exits. */
#ifndef MW_CUDA_H
#define MW_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "mw_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mw_cuda_info {
    int devices;
    char name[256];
    int cc_major, cc_minor;
    int driver_version, runtime_version; /* as cudaDriverGetVersion: 1000 major + 10 minor */
} mw_cuda_info;

/* 0 when a usable device exists (info filled for device 0); otherwise nonzero with a
 * one-line reason in msg ("no CUDA driver", "no CUDA device", ...). */
int mw_cuda_probe(mw_cuda_info *info, char *msg, size_t msg_len);

/* On device 0: out[i] = uniform (normal = 0) or standard normal (normal = 1) draw
 * index0 + i of (seed, stream), copied back to the host. 0 on success. */
int mw_cuda_philox(double *out, size_t n, uint64_t seed, uint64_t stream, uint64_t index0,
                   int normal, char *msg, size_t msg_len);

/* Make MW_BACKEND_CUDA available to mw_ctx_open. */
void mw_cuda_register(void);

/* Wait for everything queued on the context's stream (for timing); MW_OK on the CPU. */
mw_status mw_cuda_sync(mw_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
