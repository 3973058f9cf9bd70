/* internal.h — what the cuda backend (cuda.cu) shares with the kernels of the techniques
 * (impl/core/cuda/rng.cu, impl/optim/cuda/optim.cu, impl/sparse/cuda/sparse.cu): small helpers
 * on top of the instance's context (cuda_ctx.h: stream, cuBLAS handle, multiprocessor count,
 * scratch memory, a device counter of queued work). Compiled by nvcc only (C++ linkage inside libquintet); not a
 * public header. */
#ifndef QUINTET_CUDA_INTERNAL_H
#define QUINTET_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "quintet/backend.h"

#include "cuda_ctx.h" /* the context (stream, cuBLAS, scratch, device counters) and qt_cuda_fail */

/* The launch just queued: its launch error, if any, as the instance's error. */
qt_status_t qt_cuda_launched(qt_backend_t *be, const char *what);
/* Scratch memory of at least `bytes` on the instance's device (ordered: a growth waits for the
 * queued work that may still use the old block). */
qt_status_t qt_cuda_scratch(qt_backend_t *be, size_t bytes, void **ptr);
/* Blocks for a grid-stride loop over `work` items of `threads` each, capped at 32 per SM. */
int qt_cuda_blocks(const qt_backend_t *be, size_t work, int threads);

/* The backend's fill op (impl/core/cuda/rng.cu; backend.h). */
qt_status_t qt_cuda_fill(qt_backend_t *be, void *data, int dtype, size_t n, int kind, uint64_t seed, uint64_t stream,
                         uint64_t offset, double a, double b);

#endif
